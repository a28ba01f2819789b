/* test_cancel.c - S18: a thread cancelled inside exitleft_enter() leaves the stage whole */
#include "helpers.h"

static void s18_cancelled_waiter_leaves_the_line(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *x;
	struct entrant e, f;
	void *ret;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	x = ticket_named(s, "x");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	entrant_queue(&f, x, 1);
	assert_int_equal(pthread_cancel(e.thread), 0);
	pthread_join(e.thread, &ret);
	assert_ptr_equal(ret, PTHREAD_CANCELED);
	sem_destroy(&e.done);
	/* w is out of line and idle; x moved up and is promoted next. */
	assert_int_equal(queue_len(s), 1);
	assert_ptr_equal(queue_at(s, 0), x);
	check_stage(s);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(entrant_result(&f), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(x), 0);
	/* The cancelled ticket can be used again, or freed. */
	assert_int_equal(exitleft_enter(w, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(w), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(x), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * The waiter is made head, then cancelled before it wakes for it: its cleanup handler must
 * pass headship on to the next in line, or the stage would be headed by a dead thread.
 */
static void s18_cancelled_after_promotion_passes_headship_on(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *x;
	struct entrant e, f;
	void *ret;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	x = ticket_named(s, "x");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	entrant_queue(&e, w, 0);
	entrant_queue(&f, x, 1);
	pthread_mutex_lock(&s->lock);
	assert_ptr_equal(wait_exit_locked(h), w);	/* promoted, not signalled yet */
	pthread_mutex_unlock(&s->lock);
	/* The cancellation is the only thing that can wake w now. */
	assert_int_equal(pthread_cancel(e.thread), 0);
	pthread_join(e.thread, &ret);
	assert_ptr_equal(ret, PTHREAD_CANCELED);
	sem_destroy(&e.done);
	assert_int_equal(entrant_result(&f), EXITLEFT_HEAD);
	assert_ptr_equal(s->head, x);
	check_stage(s);
	assert_int_equal(exitleft_exit(x), 0);
	assert_null(s->head);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(x), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* A notification that reached a waiter before its cancellation stays recorded. */
static void s18_cancel_keeps_a_notification(void **state)
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
	pthread_mutex_lock(&s->lock);	/* notify without waking, as if the signal were late */
	w->notified = true;
	DL_DELETE(s->queue, w);
	w->state = TICKET_WOKEN;
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(pthread_cancel(e.thread), 0);
	pthread_join(e.thread, NULL);
	sem_destroy(&e.done);
	check_stage(s);
	assert_int_equal(exitleft_enter(w, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s18_cancelled_waiter_leaves_the_line),
		cmocka_unit_test(s18_cancelled_after_promotion_passes_headship_on),
		cmocka_unit_test(s18_cancel_keeps_a_notification),
	};
	return cmocka_run_group_tests_name("cancel", tests, NULL, NULL);
}
