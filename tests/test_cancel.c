/* test_cancel.c - S18: a thread cancelled inside exitleft_enter() leaves the stage whole */
#include <stdatomic.h>

#include "fixture.h"

static void s18_cancelled_waiter_leaves_the_line(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w"), *x = line_ticket(l, "x");

	line_queue(l, w);
	line_queue(l, x);
	assert_ptr_equal(entrant_cancel(line_entrant(l, w)), PTHREAD_CANCELED);
	/* w is out of line and idle; x moved up and is promoted next. */
	assert_int_equal(queue_len(l->s), 1);
	assert_ptr_equal(queue_at(l->s, 0), x);
	assert_true(is_idle(w));
	check_stage(l->s);
	assert_int_equal(exitleft_exit(l->head), 0);
	assert_int_equal(line_result(l, x), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(x), 0);
	/* The cancelled ticket can be used again. */
	assert_int_equal(exitleft_enter(w, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(w), 0);
}

/*
 * The waiter is made head, then cancelled before it wakes for it: its cleanup handler must
 * pass headship on to the next in line, or the stage would be headed by a dead thread.
 */
static void s18_cancelled_after_promotion_passes_headship_on(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w"), *x = line_ticket(l, "x");

	line_queue(l, w);
	line_queue(l, x);
	assert_ptr_equal(exit_unsignalled(l->head), w);	/* promoted, not woken */
	/* The cancellation is the only thing that can wake w now. */
	assert_ptr_equal(entrant_cancel(line_entrant(l, w)), PTHREAD_CANCELED);
	assert_int_equal(line_result(l, x), EXITLEFT_HEAD);
	assert_ptr_equal(head_of(l->s), x);
	check_stage(l->s);
	assert_int_equal(exitleft_exit(x), 0);
	assert_null(head_of(l->s));
}

/* A notification that reached a waiter before its cancellation stays recorded. */
static void s18_cancel_keeps_a_notification(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w");

	line_queue(l, w);
	notify_unsignalled(w);	/* as if the notifier's signal were late */
	entrant_cancel(line_entrant(l, w));
	check_stage(l->s);
	assert_int_equal(exitleft_enter(w, NULL), EXITLEFT_TOKEN);
}

/*
 * Bounded stress of S18: threads loop on enter (no deadline, so only headship, a
 * notification or the cancellation ends a wait); the main thread cancels random threads,
 * some while they wait, some just after it made them head (it exits as head itself and
 * cancels the thread it promoted before waking it). After each cancellation the stage must
 * be consistent and never stuck: with anyone in line there is a live head.
 * EXITLEFT_CANCEL_ROUNDS (default 300) sets the number of rounds.
 */
#define CANCEL_THREADS 8

struct canceller {
	exitleft_ticket *t;
	pthread_t thread;
	atomic_int alive;
};

static void canceller_cleanup(void *arg)
{
	atomic_store(&((struct canceller *)arg)->alive, 0);
}

static void *canceller_main(void *arg)
{
	struct canceller *c = arg;
	int rc;

	pthread_cleanup_push(canceller_cleanup, c);
	for (;;) {
		rc = exitleft_enter(c->t, NULL);
		if (rc == EXITLEFT_HEAD) {
			sched_yield();
			assert_int_equal(exitleft_exit(c->t), 0);
		} else if (rc != EXITLEFT_TOKEN) {
			break;
		}
	}
	pthread_cleanup_pop(1);
	return NULL;
}

static void s18_cancel_stress(void **state)
{
	struct line *l = *state;
	exitleft_ticket *me = line_ticket(l, "main");
	struct canceller c[CANCEL_THREADS];
	unsigned seed = 11;
	int rounds = 300, cancelled_waiting = 0, cancelled_promoted = 0;
	const char *env = getenv("EXITLEFT_CANCEL_ROUNDS");

	if (env && *env)
		rounds = atoi(env);
	for (uint32_t i = 0; i < CANCEL_THREADS; i++) {
		c[i].t = line_ticket_bytes(l, &i, sizeof(i));
		atomic_init(&c[i].alive, 1);
		assert_int_equal(pthread_create(&c[i].thread, NULL, canceller_main, &c[i]), 0);
	}
	for (int r = 0; r < rounds; r++) {
		int i = rand_r(&seed) % CANCEL_THREADS;

		if (rand_r(&seed) % 2) {
			/* Head the stage, promote the first waiter and cancel it at once. */
			int rc = exitleft_enter(me, NULL);
			if (rc == EXITLEFT_TOKEN)
				continue;
			assert_int_equal(rc, EXITLEFT_HEAD);
			exitleft_ticket *next = exit_unsignalled(me);
			if (!next)
				continue;
			for (i = 0; c[i].t != next; i++)
				;
			pthread_cancel(c[i].thread);
			late_signal(next);
			cancelled_promoted++;
		} else {
			pthread_cancel(c[i].thread);
			cancelled_waiting++;
		}
		pthread_join(c[i].thread, NULL);
		assert_int_equal(atomic_load(&c[i].alive), 0);
		check_stage(l->s);
		/* The cancelled thread holds nothing; someone heads while anyone waits. */
		assert_true(head_of(l->s) != c[i].t);
		assert_true(someone_heads_if_anyone_waits(l->s));
		atomic_store(&c[i].alive, 1);
		assert_int_equal(pthread_create(&c[i].thread, NULL, canceller_main, &c[i]), 0);
		if (r % 16 == 0) {
			uint32_t tok = (uint32_t)(rand_r(&seed) % CANCEL_THREADS);
			assert_true(exitleft_notify(l->s, &tok, sizeof(tok)) == 1);
		}
	}
	assert_int_equal(exitleft_stage_close(l->s), 0);
	for (int i = 0; i < CANCEL_THREADS; i++) {
		void *item;

		pthread_join(c[i].thread, NULL);
		assert_int_equal(exitleft_take(c[i].t, &item), 0);
	}
	check_stage(l->s);
	assert_null(head_of(l->s));
	print_message("cancel stress: %d rounds, %d waiters cancelled, %d fresh heads cancelled\n",
		      rounds, cancelled_waiting, cancelled_promoted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LINE_TEST(s18_cancelled_waiter_leaves_the_line),
		LINE_TEST(s18_cancelled_after_promotion_passes_headship_on),
		LINE_TEST(s18_cancel_keeps_a_notification),
		STAGE_TEST(s18_cancel_stress),
	};
	return cmocka_run_group_tests_name("cancel", tests, NULL, NULL);
}
