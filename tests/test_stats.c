/*
 * test_stats.c - exitleft_stage_stats() (since 1.1): each counter moves when its event
 * happens and at no other time, and the size-versioned struct serves older and newer
 * callers alike.
 */
#include <inttypes.h>

#include "fixture.h"

/* A snapshot through a const pointer, as a monitor holding one would take it. */
static struct exitleft_stats stats_of(const exitleft_stage *s)
{
	struct exitleft_stats st;

	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(exitleft_stage_stats(s, &st, sizeof(st)), (int)sizeof(st));
	return st;
}

/* Every field of `got` equals `want`'s; names the field that does not. */
#define assert_stats_equal(got, want) do {						\
	assert_int_equal((got).tickets, (want).tickets);				\
	assert_int_equal((got).waiters, (want).waiters);				\
	assert_int_equal((got).heads, (want).heads);					\
	assert_int_equal((got).notify_delivered, (want).notify_delivered);		\
	assert_int_equal((got).notify_recorded, (want).notify_recorded);		\
	assert_int_equal((got).notify_unowned, (want).notify_unowned);			\
	assert_int_equal((got).timeouts, (want).timeouts);				\
	assert_int_equal((got).closes, (want).closes);					\
} while (0)

static void new_stage_counts_nothing(void **state)
{
	struct line *l = *state;
	struct exitleft_stats zero = { 0 }, st;

	st = stats_of(l->s);
	assert_stats_equal(st, zero);
}

static void tickets_count_live_tickets(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a"), *refused = NULL;
	struct exitleft_stats want = { 0 }, st;

	line_ticket(l, "b");
	want.tickets = 2;
	st = stats_of(s);
	assert_stats_equal(st, want);
	/* A refused ticket is not counted. */
	assert_int_equal(exitleft_ticket_new(s, "a", 1, &refused), -EEXIST);
	st = stats_of(s);
	assert_stats_equal(st, want);
	line_free(l, a);
	want.tickets = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
}

static void heads_and_waiters(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a"), *b = line_ticket(l, "b");
	exitleft_ticket *c = line_ticket(l, "c");
	struct exitleft_stats want = { .tickets = 3 }, st;

	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);	/* headless: heads */
	want.heads = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
	/* Misuse changes no counter. */
	assert_int_equal(exitleft_enter(a, NULL), -EDEADLK);
	assert_int_equal(exitleft_exit(b), -EPERM);
	st = stats_of(s);
	assert_stats_equal(st, want);

	line_queue(l, b);
	line_queue(l, c);
	want.waiters = 2;
	st = stats_of(s);
	assert_stats_equal(st, want);

	assert_int_equal(exitleft_exit(a), 0);			/* promotes b */
	assert_int_equal(line_result(l, b), EXITLEFT_HEAD);
	want.waiters = 1;
	want.heads = 2;
	st = stats_of(s);
	assert_stats_equal(st, want);

	line_free(l, b);					/* a freed head promotes c */
	assert_int_equal(line_result(l, c), EXITLEFT_HEAD);
	want.tickets = 2;
	want.waiters = 0;
	want.heads = 3;
	st = stats_of(s);
	assert_stats_equal(st, want);

	assert_int_equal(exitleft_exit(c), 0);			/* nobody waits: headless */
	st = stats_of(s);
	assert_stats_equal(st, want);
}

static void notifications_delivered_recorded_unowned(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a"), *b = line_ticket(l, "b");
	struct exitleft_stats want = { .tickets = 2 }, st;
	void *item;
	int one = 1, two = 2;

	/* Idle holder: recorded, by notify and by deliver alike. */
	assert_int_equal(exitleft_notify(s, "b", 1), 1);
	want.notify_recorded = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
	assert_int_equal(exitleft_deliver(s, "b", 1, &one), 1);
	want.notify_recorded = 2;
	st = stats_of(s);
	assert_stats_equal(st, want);
	assert_int_equal(exitleft_enter(b, NULL), EXITLEFT_TOKEN);	/* TOKEN: no counter */
	assert_int_equal(exitleft_take(b, &item), 1);
	assert_ptr_equal(item, &one);
	st = stats_of(s);
	assert_stats_equal(st, want);

	/* Heading holder: recorded too. */
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	want.heads = 1;
	assert_int_equal(exitleft_notify(s, "a", 1), 1);
	want.notify_recorded = 3;
	st = stats_of(s);
	assert_stats_equal(st, want);

	/* Waiting holder: delivered straight to it, which wakes. */
	line_queue(l, b);
	want.waiters = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
	assert_int_equal(exitleft_notify(s, "b", 1), 1);
	assert_int_equal(line_result(l, b), EXITLEFT_TOKEN);
	want.waiters = 0;
	want.notify_delivered = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
	line_queue(l, b);
	assert_int_equal(exitleft_deliver(s, "b", 1, &two), 1);
	assert_int_equal(line_result(l, b), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_take(b, &item), 1);
	want.notify_delivered = 2;
	st = stats_of(s);
	assert_stats_equal(st, want);

	/* Nobody holds the token. */
	assert_int_equal(exitleft_notify(s, "nobody", 6), 0);
	assert_int_equal(exitleft_deliver(s, "nobody", 6, &one), 0);
	want.notify_unowned = 2;
	/* Refused input counts nowhere. */
	assert_int_equal(exitleft_notify(s, "b", 0), -EINVAL);
	assert_int_equal(exitleft_deliver(s, "b", 1, NULL), -EINVAL);
	st = stats_of(s);
	assert_stats_equal(st, want);
	assert_int_equal(exitleft_exit(a), 0);
}

static void timeouts_and_closes(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a"), *b = line_ticket(l, "b");
	exitleft_ticket *c = line_ticket(l, "c");
	struct timespec past = mono_in_ns(0), soon = mono_in_ms(5);
	struct exitleft_stats want = { .tickets = 3 }, st;
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	want.heads = 1;

	/* A past deadline: a non-blocking try that times out at once. */
	assert_int_equal(exitleft_enter(b, &past), EXITLEFT_TIMEOUT);
	want.timeouts = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
	/* A deadline that passes while in line (or has passed already on a slow machine:
	 * TIMEOUT and its count all the same). */
	assert_int_equal(exitleft_enter(b, &soon), EXITLEFT_TIMEOUT);
	want.timeouts = 2;
	st = stats_of(s);
	assert_stats_equal(st, want);

	/* Close wakes the waiter with CLOSED; a later enter is CLOSED too. The head's exit
	 * and the close itself count nothing. */
	line_queue(l, b);
	assert_int_equal(exitleft_stage_close(s), 0);
	assert_int_equal(line_result(l, b), EXITLEFT_CLOSED);
	want.closes = 1;
	st = stats_of(s);
	assert_stats_equal(st, want);
	assert_int_equal(exitleft_enter(c, NULL), EXITLEFT_CLOSED);
	want.closes = 2;
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_stage_close(s), 0);
	st = stats_of(s);
	assert_stats_equal(st, want);
}

/* A caller built against an older header passes a shorter size: it gets that prefix and
 * nothing past it is touched. One built against a longer struct gets zeroes beyond ours. */
static void size_versioned_struct(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a");
	struct exitleft_stats st;
	const size_t old = offsetof(struct exitleft_stats, heads) + sizeof(st.heads);
	unsigned char buf[sizeof(struct exitleft_stats) + 24];
	unsigned char pattern[sizeof(buf)];

	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);

	memset(buf, 0xa5, sizeof(buf));
	memset(pattern, 0xa5, sizeof(pattern));
	assert_int_equal(exitleft_stage_stats(s, (struct exitleft_stats *)buf, old), (int)old);
	memcpy(&st, buf, old);
	assert_int_equal(st.tickets, 1);
	assert_int_equal(st.waiters, 0);
	assert_int_equal(st.heads, 1);
	assert_memory_equal(buf + old, pattern + old, sizeof(buf) - old);

	/* Half a field: the caller's business, but still no byte past `size`. */
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(exitleft_stage_stats(s, (struct exitleft_stats *)buf, 3), 3);
	assert_memory_equal(buf + 3, pattern + 3, sizeof(buf) - 3);

	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(exitleft_stage_stats(s, (struct exitleft_stats *)buf, sizeof(buf)),
			 (int)sizeof(st));
	memcpy(&st, buf, sizeof(st));
	assert_int_equal(st.tickets, 1);
	assert_int_equal(st.heads, 1);
	for (size_t i = sizeof(st); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	assert_int_equal(exitleft_stage_stats(NULL, &st, sizeof(st)), -EINVAL);
	assert_int_equal(exitleft_stage_stats(s, NULL, sizeof(st)), -EINVAL);
	assert_int_equal(exitleft_stage_stats(s, &st, 0), -EINVAL);
	assert_int_equal(exitleft_exit(a), 0);
}

/* Snapshots taken while other threads enter, notify and time out: each is consistent (the
 * line never holds more waiters than there are tickets) and counters never go back. */
struct churn {
	exitleft_stage *stage;
	exitleft_ticket *ticket;
	atomic_int stop;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		/* Any outcome will do: the deadline only varies the mix. */
		struct timespec d = mono_in_ns(100000);
		int rc = exitleft_enter(c->ticket, &d);

		if (rc == EXITLEFT_HEAD) {
			exitleft_notify(c->stage, "w0", 2);
			exitleft_exit(c->ticket);
		}
	}
	return NULL;
}

static void snapshots_under_load(void **state)
{
	enum { N = 4 };
	struct line *l = *state;
	exitleft_stage *s = l->s;
	struct churn c[N];
	pthread_t th[N];
	struct exitleft_stats prev = { 0 }, st;

	for (int i = 0; i < N; i++) {
		char name[3] = { 'w', (char)('0' + i), 0 };

		c[i].stage = s;
		c[i].ticket = line_ticket(l, name);
		atomic_init(&c[i].stop, 0);
		assert_int_equal(pthread_create(&th[i], NULL, churn_main, &c[i]), 0);
	}
	/* At least 2000 snapshots, and on until the threads have headed a while. */
	for (int64_t k = 0, give_up = mono_ns() + (int64_t)TEST_PATIENCE_S * 1000000000;
	     k < 2000 || prev.heads < 100; k++) {
		if (mono_ns() > give_up)
			fail_msg("the threads headed %" PRIu64 " times only", prev.heads);
		st = stats_of(s);
		assert_int_equal(st.tickets, N);
		assert_true(st.waiters < N);	/* one of them heads, or nobody waits */
		assert_true(st.heads >= prev.heads);
		assert_true(st.notify_delivered >= prev.notify_delivered);
		assert_true(st.notify_recorded >= prev.notify_recorded);
		assert_true(st.timeouts >= prev.timeouts);
		prev = st;
	}
	for (int i = 0; i < N; i++)
		atomic_store(&c[i].stop, 1);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	st = stats_of(s);
	assert_true(st.heads > 0);
	assert_int_equal(st.waiters, 0);
	assert_int_equal(st.closes, 0);
	assert_int_equal(st.notify_unowned, 0);
	for (int i = 0; i < N; i++) {
		void *item;

		assert_int_equal(exitleft_take(c[i].ticket, &item), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		STAGE_TEST(new_stage_counts_nothing),
		STAGE_TEST(tickets_count_live_tickets),
		STAGE_TEST(heads_and_waiters),
		STAGE_TEST(notifications_delivered_recorded_unowned),
		STAGE_TEST(timeouts_and_closes),
		STAGE_TEST(size_versioned_struct),
		STAGE_TEST(snapshots_under_load),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
