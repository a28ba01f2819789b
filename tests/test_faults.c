/*
 * test_faults.c - faults a caller can meet: timeouts at the very moment of a notification or
 * a promotion, cancellation of waiters and of fresh heads under load, a head that frees its
 * ticket instead of exiting, freeing a stage with live tickets, and misuse in the window
 * between a wake and the woken thread's return.
 */
#include <stdatomic.h>

#include "helpers.h"

/* Makes `w` (waiting) notified exactly as exitleft_notify() does, without the signal. */
static void notify_unsignalled(exitleft_stage *s, exitleft_ticket *w)
{
	pthread_mutex_lock(&s->lock);
	assert_int_equal(w->state, TICKET_WAITING);
	w->notified = true;
	DL_DELETE(s->queue, w);
	w->state = TICKET_WOKEN;
	pthread_mutex_unlock(&s->lock);
}

/* Holds the stage's lock until `d` is 20 ms past, so a timed wait on it has timed out. */
static void hold_lock_past(exitleft_stage *s, struct timespec d)
{
	pthread_mutex_lock(&s->lock);
	while (mono_ns() < (int64_t)d.tv_sec * 1000000000 + d.tv_nsec + 20000000)
		sleep_us(1000);
}

/* The deadline passes as the notification arrives: the notification wins, TOKEN. */
static void timeout_at_the_moment_of_notification(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w;
	struct entrant e;
	struct timespec d;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	d = mono_in_ms(30);
	entrant_start(&e, w, &d);
	await_queue_len(s, 1);
	hold_lock_past(s, d);
	w->notified = true;		/* notify, under the lock, after the deadline */
	DL_DELETE(s->queue, w);
	w->state = TICKET_WOKEN;
	stage_unlock_wake(s, w);
	assert_int_equal(entrant_result(&e), EXITLEFT_TOKEN);
	assert_false(w->notified);	/* seen once, not left behind */
	check_stage(s);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* The deadline passes as headship arrives through a freed head (S12): HEAD, not TIMEOUT. */
static void timeout_at_the_moment_of_promotion_by_free(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *x;
	struct entrant e, f;
	struct timespec d;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	x = ticket_named(s, "x");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	d = mono_in_ms(30);
	entrant_start(&e, w, &d);
	await_queue_len(s, 1);
	entrant_start(&f, x, &d);	/* same deadline, second in line */
	await_queue_len(s, 2);
	hold_lock_past(s, d);
	pthread_mutex_unlock(&s->lock);
	/* Both waits have timed out by now, or are about to; whoever retakes the lock first
	 * leaves. Free the head: if w is still in line it is promoted and must return HEAD. */
	assert_int_equal(exitleft_ticket_free(h), 0);
	int rw = entrant_result(&e), rx = entrant_result(&f);
	assert_true(rw == EXITLEFT_HEAD || rw == EXITLEFT_TIMEOUT);
	assert_true(rx == EXITLEFT_HEAD || rx == EXITLEFT_TIMEOUT);
	assert_false(rw == EXITLEFT_HEAD && rx == EXITLEFT_HEAD);
	check_stage(s);
	if (rw == EXITLEFT_HEAD)
		assert_int_equal(exitleft_exit(w), 0);
	if (rx == EXITLEFT_HEAD)
		assert_int_equal(exitleft_exit(x), 0);
	assert_null(s->head);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(x), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* A head thread frees its ticket instead of exiting: the next waiter heads, the token is
 * free again, and a notification to the old token reaches nobody. */
static void head_frees_its_ticket_instead_of_exiting(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w;
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	assert_int_equal(exitleft_notify(s, "head", 4), 1);	/* recorded on the head */
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	assert_int_equal(exitleft_notify(s, "head", 4), 0);
	h = ticket_named(s, "head");
	assert_int_equal(exitleft_enter(h, &(struct timespec){ 0, 0 }), EXITLEFT_TIMEOUT);
	assert_int_equal(exitleft_ticket_free(w), 0);	/* the head again: headless now */
	assert_null(s->head);
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_stage_free(s), -EBUSY);	/* S14, tickets alive */
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* S14 with threads waiting, heading and notified: -EBUSY, and everything still works. */
static void stage_free_while_tickets_live(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *x;
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	x = ticket_named(s, "x");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	assert_int_equal(exitleft_notify(s, "x", 1), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(exitleft_stage_free(s), -EBUSY);
	check_stage(s);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	assert_int_equal(exitleft_enter(x, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_stage_free(s), -EBUSY);
	assert_int_equal(exitleft_ticket_free(x), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * S11 in the window between a wake and the woken thread's return. The notifier has taken w
 * out of line (w's state is idle) but w's thread has not retaken the lock yet: it is still
 * waiting in exitleft_enter(). Another thread's enter or free of w must be -EBUSY; before
 * the fix, the free succeeded and recycled the record under the waking thread, and an enter
 * took the notification, so that the woken thread's enter returned 0, no outcome at all.
 */
static void s11_busy_until_the_woken_thread_returns(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w;
	struct entrant e;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	notify_unsignalled(s, w);
	assert_int_equal(exitleft_enter(w, &(struct timespec){ 0, 0 }), -EBUSY);
	assert_int_equal(exitleft_ticket_free(w), -EBUSY);
	pthread_mutex_lock(&s->lock);	/* the notifier's late signal */
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(entrant_result(&e), EXITLEFT_TOKEN);
	check_stage(s);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * S11 for exit, in the window between a promotion and the promoted thread's return. The
 * head has handed headship to w (w's state is head) but w's thread has not retaken the lock
 * yet. Another thread's exit of w must be -EPERM: w heads for nobody yet. Before the fix it
 * passed headship on to x, and w's thread, waking idle behind a head, returned 0 from
 * exitleft_enter(), no outcome at all.
 */
static void s11_exit_refused_until_the_promoted_thread_returns(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *x;
	struct entrant ew, ex;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	x = ticket_named(s, "x");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&ew, w, 0);
	entrant_queue(&ex, x, 1);
	pthread_mutex_lock(&s->lock);	/* h exits as exitleft_exit() does, without the signal */
	h->state = TICKET_IDLE;
	DL_DELETE(s->queue, w);
	w->state = TICKET_PROMOTED;
	s->head = w;
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(exitleft_exit(w), -EPERM);
	assert_int_equal(exitleft_ticket_free(w), -EBUSY);
	pthread_mutex_lock(&s->lock);	/* the late signal */
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(entrant_result(&ew), EXITLEFT_HEAD);
	assert_false(entrant_finished(&ex));
	check_stage(s);
	assert_int_equal(exitleft_exit(w), 0);
	assert_int_equal(entrant_result(&ex), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(x), 0);
	assert_int_equal(exitleft_ticket_free(x), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * Bounded stress of S18: threads loop on enter (no deadline, so only headship, a
 * notification or the cancellation ends a wait); the main thread cancels random threads,
 * some while they wait, some just after it made them head (it exits as head itself and
 * cancels the thread it promoted before that thread can run). After each cancellation the
 * stage must be consistent and never stuck: with anyone in line there is a live head.
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
	exitleft_stage *s;
	exitleft_ticket *me;
	struct canceller c[CANCEL_THREADS];
	unsigned seed = 11;
	int rounds = 300, cancelled_waiting = 0, cancelled_promoted = 0;
	const char *env = getenv("EXITLEFT_CANCEL_ROUNDS");

	(void)state;
	if (env && *env)
		rounds = atoi(env);
	assert_int_equal(exitleft_stage_new(&s), 0);
	me = ticket_named(s, "main");
	for (int i = 0; i < CANCEL_THREADS; i++) {
		uint32_t tok = (uint32_t)i;
		assert_int_equal(exitleft_ticket_new(s, &tok, sizeof(tok), &c[i].t), 0);
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
			pthread_mutex_lock(&s->lock);
			struct exitleft_ticket *next = wait_exit_locked(me);
			pthread_mutex_unlock(&s->lock);
			if (next) {
				for (i = 0; c[i].t != next; i++)
					;
				pthread_cancel(c[i].thread);
				pthread_mutex_lock(&s->lock);
				pthread_cond_signal(&next->cond);
				pthread_mutex_unlock(&s->lock);
				cancelled_promoted++;
			} else {
				continue;
			}
		} else {
			pthread_cancel(c[i].thread);
			cancelled_waiting++;
		}
		pthread_join(c[i].thread, NULL);
		assert_int_equal(atomic_load(&c[i].alive), 0);
		check_stage(s);
		/* The cancelled thread holds nothing; someone heads while anyone waits. */
		pthread_mutex_lock(&s->lock);
		assert_true(s->head != c[i].t);
		assert_true(!s->queue || s->head);
		pthread_mutex_unlock(&s->lock);
		atomic_store(&c[i].alive, 1);
		assert_int_equal(pthread_create(&c[i].thread, NULL, canceller_main, &c[i]), 0);
		if (r % 16 == 0) {
			uint32_t tok = (uint32_t)(rand_r(&seed) % CANCEL_THREADS);
			assert_true(exitleft_notify(s, &tok, sizeof(tok)) == 1);
		}
	}
	assert_int_equal(exitleft_stage_close(s), 0);
	for (int i = 0; i < CANCEL_THREADS; i++) {
		pthread_join(c[i].thread, NULL);
		void *item;
		assert_int_equal(exitleft_take(c[i].t, &item), 0);
		assert_int_equal(exitleft_ticket_free(c[i].t), 0);
	}
	check_stage(s);
	assert_null(s->head);
	assert_int_equal(exitleft_ticket_free(me), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
	print_message("cancel stress: %d rounds, %d waiters cancelled, %d fresh heads cancelled\n",
		      rounds, cancelled_waiting, cancelled_promoted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timeout_at_the_moment_of_notification),
		cmocka_unit_test(timeout_at_the_moment_of_promotion_by_free),
		cmocka_unit_test(head_frees_its_ticket_instead_of_exiting),
		cmocka_unit_test(stage_free_while_tickets_live),
		cmocka_unit_test(s11_busy_until_the_woken_thread_returns),
		cmocka_unit_test(s11_exit_refused_until_the_promoted_thread_returns),
		cmocka_unit_test(s18_cancel_stress),
	};
	return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
