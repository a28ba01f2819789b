/* test_notify.c - S5, S6, S7: a notification wakes its one waiter, or is recorded, and is
 * never lost */
#include "fixture.h"

static void s5_notify_wakes_that_waiter_alone(void **state)
{
	enum { N = 16, TARGET = 5 };
	struct line *l = *state;
	exitleft_ticket *w[N];

	for (uint32_t i = 0; i < N; i++) {
		w[i] = line_ticket_bytes(l, &i, sizeof(i));
		line_queue(l, w[i]);
	}
	uint32_t target = TARGET;
	assert_int_equal(exitleft_notify(l->s, &target, sizeof(target)), 1);
	assert_int_equal(line_result(l, w[TARGET]), EXITLEFT_TOKEN);
	/* Exactly one thread woke: every other waiter is still in line, in order, and its
	 * condvar wait never returned. */
	assert_int_equal(queue_len(l->s), N - 1);
	for (uint32_t i = 0, pos = 0; i < N; i++) {
		if (i == TARGET)
			continue;
		assert_ptr_equal(queue_at(l->s, pos++), w[i]);
		assert_int_equal(wakes_of(w[i]), 0);
		assert_false(line_finished(l, w[i]));
	}
	assert_true(wakes_of(w[TARGET]) >= 1);
	check_stage(l->s);
	/* A woken ticket was taken out of the line: the head's exit promotes the next one. */
	line_free(l, l->head);
	assert_int_equal(line_result(l, w[0]), EXITLEFT_HEAD);
	assert_int_equal(exitleft_stage_close(l->s), 0);
	for (uint32_t i = 1; i < N; i++)
		if (i != TARGET)
			assert_int_equal(line_result(l, w[i]), EXITLEFT_CLOSED);
	assert_int_equal(exitleft_exit(w[0]), 0);
}

static void s6_notify_idle_is_recorded_once(void **state)
{
	struct line *l = *state;
	exitleft_ticket *h = l->head, *a = line_ticket(l, "a");
	const struct timespec past = { 0, 0 };

	/* Three notifications of an idle ticket coalesce into one TOKEN. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(exitleft_notify(l->s, "a", 1), 1);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_enter(a, &past), EXITLEFT_TIMEOUT);
	/* A heading ticket records its notification too, for its next enter. */
	assert_int_equal(exitleft_notify(l->s, "head", 4), 1);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_notify(l->s, "nobody", 6), 0);
}

/* Notify between taking a ticket and entering: the enter, in another thread, still sees it. */
static void s6_notify_between_ticket_and_enter(void **state)
{
	struct line *l = *state;
	exitleft_ticket *a = line_ticket(l, "a");

	assert_int_equal(exitleft_notify(l->s, "a", 1), 1);
	assert_int_equal(entrant_result(line_enter(l, a, NULL)), EXITLEFT_TOKEN);
}

/*
 * A notifier racing the waiter's check-then-sleep: whatever the interleaving, every round's
 * notification ends that round's enter with TOKEN. A lost one would leave the waiter
 * asleep forever (the test's patience turns that into a failure).
 */
struct racer {
	exitleft_ticket *t;
	sem_t go, back;
	int rounds, tokens;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < r->rounds; i++) {
		sem_wait(&r->go);
		if (exitleft_enter(r->t, NULL) == EXITLEFT_TOKEN)
			r->tokens++;
		sem_post(&r->back);
	}
	return NULL;
}

static void s6_no_notification_lost_in_races(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	struct racer r = { .rounds = 3000 };
	pthread_t th;
	unsigned seed = 1;

	r.t = line_ticket(l, "racer");
	sem_init(&r.go, 0, 0);
	sem_init(&r.back, 0, 0);
	assert_int_equal(pthread_create(&th, NULL, racer_main, &r), 0);
	for (int i = 0; i < r.rounds; i++) {
		sem_post(&r.go);
		for (int spin = rand_r(&seed) % 2000; spin > 0; spin--)
			__asm__ __volatile__("" ::: "memory");
		assert_int_equal(exitleft_notify(s, "racer", 5), 1);
		sem_wait(&r.back);
	}
	pthread_join(th, NULL);
	assert_int_equal(r.tokens, r.rounds);
	check_stage(s);
	sem_destroy(&r.go);
	sem_destroy(&r.back);
}

static void s7_notification_wins_over_head_and_closed(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a"), *b = line_ticket(l, "b");

	assert_int_equal(exitleft_notify(s, "a", 1), 1);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_TOKEN);	/* not HEAD */
	assert_null(head_of(s));
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_notify(s, "b", 1), 1);
	assert_int_equal(exitleft_stage_close(s), 0);
	assert_int_equal(exitleft_enter(b, NULL), EXITLEFT_TOKEN);	/* not CLOSED */
	assert_int_equal(exitleft_enter(b, NULL), EXITLEFT_CLOSED);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_CLOSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LINE_TEST(s5_notify_wakes_that_waiter_alone),
		LINE_TEST(s6_notify_idle_is_recorded_once),
		LINE_TEST(s6_notify_between_ticket_and_enter),
		LINE_TEST(s6_no_notification_lost_in_races),
		STAGE_TEST(s7_notification_wins_over_head_and_closed),
	};
	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
