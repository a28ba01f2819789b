/*
 * test_alloc.c - S16: an allocation failure returns -ENOMEM and changes nothing
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc: every allocation of the library's objects
 * (uthash's included) goes through the wrappers below, which fail the n-th call once armed.
 * Each operation is retried with n = 0, 1, 2, ... until it succeeds, so every allocation
 * site it reaches fails once.
 */
#include "helpers.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);

static int fail_countdown = -1;	/* -1: never fail; otherwise fail when it reaches 0 */
static int failures;

static int should_fail(void)
{
	if (fail_countdown < 0)
		return 0;
	if (fail_countdown-- == 0) {
		failures++;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t size)
{
	return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

static void arm(int n)
{
	fail_countdown = n;
}

static void disarm(void)
{
	fail_countdown = -1;
}

static void s16_stage_new(void **state)
{
	exitleft_stage *s = NULL;
	int n, rc;

	(void)state;
	for (n = 0;; n++) {
		arm(n);
		rc = exitleft_stage_new(&s);
		disarm();
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		assert_null(s);
	}
	assert_true(n >= 1);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* Fills a stage with tickets, short and long tokens, failing every allocation on the way:
 * the table's creation and its bucket doublings included. */
static void s16_ticket_new(void **state)
{
	enum { N = 300 };
	exitleft_stage *s;
	static exitleft_ticket *t[N];
	unsigned char tok[64];
	int total_failures = 0;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	memset(tok, 0xab, sizeof(tok));
	for (uint32_t i = 0; i < N; i++) {
		size_t len = i % 2 ? sizeof(tok) : sizeof(i);	/* inline and heap tokens */
		memcpy(tok, &i, sizeof(i));
		for (int n = 0;; n++) {
			exitleft_ticket *got = NULL;
			size_t before = live_tickets(s);
			failures = 0;
			arm(n);
			int rc = exitleft_ticket_new(s, tok, len, &got);
			disarm();
			if (rc == 0) {
				t[i] = got;
				break;
			}
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(failures, 1);
			total_failures++;
			assert_null(got);
			assert_int_equal(live_tickets(s), before);
			/* The token is not held: nothing was half added. */
			assert_int_equal(exitleft_notify(s, tok, len), 0);
			check_stage(s);
		}
	}
	print_message("ticket_new: %d allocation failures injected\n", total_failures);
	assert_true(total_failures >= N);
	/* Every ticket is there and works. */
	for (uint32_t i = 0; i < N; i++) {
		size_t len = i % 2 ? sizeof(tok) : sizeof(i);
		memcpy(tok, &i, sizeof(i));
		assert_int_equal(exitleft_notify(s, tok, len), 1);
		assert_int_equal(exitleft_enter(t[i], NULL), EXITLEFT_TOKEN);
	}
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(exitleft_ticket_free(t[i]), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s16_deliver(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *a;
	int item;
	void *got;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	a = ticket_named(s, "a");
	arm(0);
	assert_int_equal(exitleft_deliver(s, "a", 1, &item), -ENOMEM);
	disarm();
	/* Nothing delivered, nothing recorded. */
	assert_int_equal(exitleft_take(a, &got), 0);
	assert_false(is_notified(a));
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_deliver(s, "a", 1, &item), 1);
	assert_int_equal(exitleft_take(a, &got), 1);
	assert_ptr_equal(got, &item);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* The library never calls exit() or abort(), whatever fails (uthash's fatal path is off). */
static void s16_no_allocation_path_exits(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *t;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	for (int n = 0; n < 8; n++) {
		arm(0);
		assert_int_equal(exitleft_ticket_new(s, &n, sizeof(n), &t), -ENOMEM);
		disarm();
	}
	check_stage(s);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * Every operation, each retried with the n-th allocation failing for n = 0, 1, ... until it
 * succeeds: each failure is -ENOMEM and leaves the stage usable (checked by the next
 * operation and by check_stage), and the operations that need no memory never fail.
 */
#define EVERY_OP(call, expect)							\
	do {									\
		int n_, rc_;							\
		for (n_ = 0;; n_++) {						\
			failures = 0;						\
			arm(n_);						\
			rc_ = (call);						\
			disarm();						\
			if (rc_ != -ENOMEM)					\
				break;						\
			assert_int_equal(failures, 1);				\
			injected++;						\
			if (s)							\
				check_stage(s);					\
		}								\
		assert_int_equal(rc_, (expect));				\
		sites += n_ > 0;						\
	} while (0)

static void s16_every_operation(void **state)
{
	exitleft_stage *s = NULL;
	exitleft_ticket *a, *b, *c;
	unsigned char long_token[EXITLEFT_TOKEN_MAX];
	int injected = 0, sites = 0, item;
	void *got;

	(void)state;
	memset(long_token, 0x5a, sizeof(long_token));
	EVERY_OP(exitleft_stage_new(&s), 0);
	EVERY_OP(exitleft_ticket_new(s, "a", 1, &a), 0);
	EVERY_OP(exitleft_ticket_new(s, long_token, sizeof(long_token), &b), 0);
	EVERY_OP(exitleft_ticket_new(s, "c", 1, &c), 0);
	EVERY_OP(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	EVERY_OP(exitleft_notify(s, "c", 1), 1);
	EVERY_OP(exitleft_deliver(s, long_token, sizeof(long_token), &item), 1);
	EVERY_OP(exitleft_enter(b, NULL), EXITLEFT_TOKEN);
	EVERY_OP(exitleft_take(b, &got), 1);
	assert_ptr_equal(got, &item);
	EVERY_OP(exitleft_enter(c, NULL), EXITLEFT_TOKEN);
	EVERY_OP(exitleft_enter(c, &(struct timespec){ 0, 0 }), EXITLEFT_TIMEOUT);
	EVERY_OP(exitleft_exit(a), 0);
	EVERY_OP(exitleft_stage_close(s), 0);
	EVERY_OP(exitleft_enter(c, NULL), EXITLEFT_CLOSED);
	EVERY_OP(exitleft_ticket_new(s, "d", 1, &a), -ECANCELED);
	EVERY_OP(exitleft_ticket_free(a), 0);
	EVERY_OP(exitleft_ticket_free(b), 0);
	EVERY_OP(exitleft_stage_free(s), -EBUSY);
	EVERY_OP(exitleft_ticket_free(c), 0);
	EVERY_OP(exitleft_stage_free(s), 0);
	print_message("every operation: %d allocation failures injected at %d operations "
		      "that allocate\n", injected, sites);
	assert_true(sites >= 5);	/* stage, table, record, long token, mail */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s16_stage_new),
		cmocka_unit_test(s16_ticket_new),
		cmocka_unit_test(s16_deliver),
		cmocka_unit_test(s16_no_allocation_path_exits),
		cmocka_unit_test(s16_every_operation),
	};
	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
