/* test_handoff.c - S3, S4, S8, S9, S11, S12: headship, the line, and passing it on */
#include "helpers.h"

static exitleft_stage *stage_new(void)
{
	exitleft_stage *s = NULL;

	assert_int_equal(exitleft_stage_new(&s), 0);
	return s;
}

static void s3_headless_enter_heads_at_once(void **state)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *a = ticket_named(s, "a");

	(void)state;
	/* A deadline already past still heads a headless stage: nothing to wait for. */
	assert_int_equal(exitleft_enter(a, &(struct timespec){ 0, 0 }), EXITLEFT_HEAD);
	check_stage(s);
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(a), 0);
	assert_null(s->head);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s4_enter_blocks_while_headed(void **state)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *h = ticket_named(s, "head"), *w = ticket_named(s, "waiter");
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	sleep_us(20000);
	assert_false(entrant_finished(&e));	/* still blocked: nothing happened for it */
	check_stage(s);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	check_stage(s);
	assert_int_equal(exitleft_exit(w), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s8_exit_promotes_longest_waiter(void **state)
{
	enum { N = 6 };
	exitleft_stage *s = stage_new();
	exitleft_ticket *h = ticket_named(s, "head"), *w[N];
	struct entrant e[N];
	char name[16];

	(void)state;
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		w[i] = ticket_named(s, name);
		entrant_queue(&e[i], w[i], (size_t)i);
	}
	/* A newcomer with a deadline already past may not barge in. */
	exitleft_ticket *late = ticket_named(s, "late");
	assert_int_equal(exitleft_enter(late, &(struct timespec){ 0, 0 }), EXITLEFT_TIMEOUT);

	exitleft_ticket *prev = h;
	for (int i = 0; i < N; i++) {
		assert_int_equal(exitleft_exit(prev), 0);
		assert_int_equal(entrant_result(&e[i]), EXITLEFT_HEAD);
		/* Only the first in line moved; the rest still wait, in order. */
		assert_int_equal(queue_len(s), (size_t)(N - 1 - i));
		for (int j = i + 1; j < N; j++)
			assert_false(entrant_finished(&e[j]));
		assert_ptr_equal(s->head, w[i]);
		check_stage(s);
		prev = w[i];
	}
	assert_int_equal(exitleft_exit(prev), 0);
	assert_null(s->head);	/* nobody waited: headless, and the next enter heads */
	assert_int_equal(exitleft_enter(late, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(late), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(exitleft_ticket_free(w[i]), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(late), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s9_never_two_heads(void **state)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *a = ticket_named(s, "a"), *b = ticket_named(s, "b");
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_enter(b, &(struct timespec){ 0, 0 }), EXITLEFT_TIMEOUT);
	struct timespec soon = mono_in_ms(30);
	assert_int_equal(exitleft_enter(b, &soon), EXITLEFT_TIMEOUT);
	entrant_queue(&e, b, 0);
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	/* b heads now; a, no longer head, waits like anyone else. */
	assert_int_equal(exitleft_exit(a), -EPERM);
	assert_int_equal(exitleft_enter(a, &(struct timespec){ 0, 0 }), EXITLEFT_TIMEOUT);
	check_stage(s);
	assert_int_equal(exitleft_exit(b), 0);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_ticket_free(b), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s11_misuse_is_refused(void **state)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *h = ticket_named(s, "head"), *w = ticket_named(s, "waiter");
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_exit(h), -EPERM);	/* idle, not head */
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_enter(h, NULL), -EDEADLK);
	entrant_queue(&e, w, 0);
	assert_int_equal(exitleft_exit(w), -EPERM);	/* waiting, not head */
	assert_int_equal(exitleft_enter(w, NULL), -EBUSY);
	assert_int_equal(exitleft_ticket_free(w), -EBUSY);
	check_stage(s);				/* and nothing changed */
	assert_ptr_equal(queue_at(s, 0), w);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(w), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s12_freeing_the_head_promotes(void **state)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *h = ticket_named(s, "head"), *w = ticket_named(s, "waiter");
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	check_stage(s);
	assert_int_equal(exitleft_ticket_free(w), 0);	/* no waiter: headless */
	assert_null(s->head);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s12_tickets_are_reusable(void **state)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *a = ticket_named(s, "a"), *b = ticket_named(s, "b");

	(void)state;
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
		assert_int_equal(exitleft_notify(s, "b", 1), 1);
		assert_int_equal(exitleft_exit(a), 0);
		assert_int_equal(exitleft_enter(b, NULL), EXITLEFT_TOKEN);
	}
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_ticket_free(b), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* Two threads pass headship back and forth many times through the line. */
struct pingpong {
	exitleft_ticket *t;
	atomic_int *heads;
	int rounds;
	int overlaps;
};

static void *pingpong_main(void *arg)
{
	struct pingpong *p = arg;

	for (int i = 0; i < p->rounds; i++) {
		if (exitleft_enter(p->t, NULL) != EXITLEFT_HEAD)
			return (void *)1;
		if (atomic_fetch_add(p->heads, 1) != 0)
			p->overlaps++;
		atomic_fetch_sub(p->heads, 1);
		exitleft_exit(p->t);
	}
	return NULL;
}

static void handoff_between_threads(void **state)
{
	enum { T = 4 };
	exitleft_stage *s = stage_new();
	atomic_int heads = 0;
	struct pingpong p[T];
	pthread_t th[T];
	char name[8];

	(void)state;
	for (int i = 0; i < T; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		p[i] = (struct pingpong){ ticket_named(s, name), &heads, 5000, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, pingpong_main, &p[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		assert_null(ret);
		assert_int_equal(p[i].overlaps, 0);
	}
	check_stage(s);
	assert_null(s->head);
	for (int i = 0; i < T; i++)
		assert_int_equal(exitleft_ticket_free(p[i].t), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* Waits (bounded) until `n` callers of exitleft_enter() are blocked before the stage lock. */
static void await_arriving(exitleft_stage *s, unsigned n)
{
	int64_t give_up = mono_ns() + (int64_t)TEST_PATIENCE_S * 1000000000;

	while (atomic_load(&s->arriving) != n) {
		if (mono_ns() > give_up)
			fail_msg("never %u callers at the lock (has %u)", n, atomic_load(&s->arriving));
		sleep_us(200);
	}
}

/*
 * The last head, entering again, and another caller both wait for the stage lock (held
 * here). Whichever of them gets it first, the other caller is the next head: the last head
 * may not take headship back from a thread that asked before it got through the lock, or a
 * head looping exit/enter would starve everybody (the bench measured one handoff in 65 000).
 * With `notified`, the other caller has a recorded notification and does not head: then the
 * last head, if it deferred, must be promoted by it, not stranded on a headless stage.
 */
static void last_head_lets_an_arrival_go_first(bool notified, bool last_blocks_first)
{
	exitleft_stage *s = stage_new();
	exitleft_ticket *last = ticket_named(s, "last"), *other = ticket_named(s, "other");
	struct entrant e_other, e_last;

	assert_int_equal(exitleft_enter(last, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(last), 0);
	if (notified)
		assert_int_equal(exitleft_notify(s, "other", strlen("other")), 1);
	/* The lock's waiters are woken in the order they blocked, so this picks, in practice,
	 * which of the two gets the lock first. */
	pthread_mutex_lock(&s->lock);
	entrant_start(last_blocks_first ? &e_last : &e_other, last_blocks_first ? last : other,
		      NULL);
	await_arriving(s, 1);
	entrant_start(last_blocks_first ? &e_other : &e_last, last_blocks_first ? other : last,
		      NULL);
	await_arriving(s, 2);
	pthread_mutex_unlock(&s->lock);
	if (notified) {
		assert_int_equal(entrant_result(&e_other), EXITLEFT_TOKEN);
		assert_int_equal(entrant_result(&e_last), EXITLEFT_HEAD);
		check_stage(s);
		assert_int_equal(exitleft_exit(last), 0);
	} else {
		assert_int_equal(entrant_result(&e_other), EXITLEFT_HEAD);
		await_queue_len(s, 1);
		assert_false(entrant_finished(&e_last));
		check_stage(s);
		assert_int_equal(exitleft_exit(other), 0);
		assert_int_equal(entrant_result(&e_last), EXITLEFT_HEAD);
		assert_int_equal(exitleft_exit(last), 0);
	}
	assert_null(s->head);
	assert_int_equal(exitleft_ticket_free(last), 0);
	assert_int_equal(exitleft_ticket_free(other), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s8_returning_head_lets_an_arrival_head_first(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++)
		last_head_lets_an_arrival_go_first(false, i % 2);
}

static void s8_arrival_that_does_not_head_promotes_the_last_head(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++)
		last_head_lets_an_arrival_go_first(true, i % 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s3_headless_enter_heads_at_once),
		cmocka_unit_test(s4_enter_blocks_while_headed),
		cmocka_unit_test(s8_exit_promotes_longest_waiter),
		cmocka_unit_test(s9_never_two_heads),
		cmocka_unit_test(s11_misuse_is_refused),
		cmocka_unit_test(s12_freeing_the_head_promotes),
		cmocka_unit_test(s12_tickets_are_reusable),
		cmocka_unit_test(s8_returning_head_lets_an_arrival_head_first),
		cmocka_unit_test(s8_arrival_that_does_not_head_promotes_the_last_head),
		cmocka_unit_test(handoff_between_threads),
	};
	return cmocka_run_group_tests_name("handoff", tests, NULL, NULL);
}
