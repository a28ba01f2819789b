/* test_timeout.c - S10, S17: deadlines on CLOCK_MONOTONIC, and no promotion lost to one */
#include "helpers.h"

static void s10_timed_out_waiter_leaves_the_line(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *x;
	struct timespec d = mono_in_ms(30);

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	x = ticket_named(s, "x");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_enter(w, &d), EXITLEFT_TIMEOUT);
	assert_int_equal(queue_len(s), 0);
	check_stage(s);
	/* Nobody left in line: the exit makes the stage headless. */
	assert_int_equal(exitleft_exit(h), 0);
	assert_null(s->head);
	assert_int_equal(exitleft_enter(x, &(struct timespec){ 0, 0 }), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(x), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(x), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * The deadline passes while headship is on its way: the waiter's timed wait has returned
 * ETIMEDOUT but cannot take the lock back before the head, holding the lock, promotes it.
 * The waiter must come back as head, not swallow the promotion.
 */
static void s10_deadline_passes_as_headship_arrives(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *next;
	struct entrant e;
	struct timespec d;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	d = mono_in_ms(50);
	entrant_start(&e, w, &d);
	await_queue_len(s, 1);
	pthread_mutex_lock(&s->lock);
	/* Let the deadline pass while we hold the lock: the wait has timed out. */
	while (mono_ns() < (int64_t)d.tv_sec * 1000000000 + d.tv_nsec + 20000000)
		sleep_us(1000);
	next = wait_exit_locked(h);
	assert_ptr_equal(next, w);
	stage_unlock_wake(s, next);
	assert_int_equal(entrant_result(&e), EXITLEFT_HEAD);
	check_stage(s);
	assert_int_equal(exitleft_exit(w), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * The same race left to the scheduler: the head exits about when the waiter's deadline
 * passes. Whatever wins, headship is never lost: the stage is headed by the waiter (which
 * then exits) or headless, never stuck with nobody heading and someone in line.
 */
static void s10_timeout_racing_exit_never_loses_headship(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w, *probe;
	unsigned seed = 7;
	int heads = 0, timeouts = 0;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	probe = ticket_named(s, "probe");
	for (int i = 0; i < 400; i++) {
		struct entrant e;
		struct timespec d = mono_in_ns(200000);

		assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
		entrant_start(&e, w, &d);
		sleep_us(100 + rand_r(&seed) % 200);
		assert_int_equal(exitleft_exit(h), 0);
		int rc = entrant_result(&e);
		if (rc == EXITLEFT_HEAD) {
			heads++;
			assert_int_equal(exitleft_exit(w), 0);
		} else {
			assert_int_equal(rc, EXITLEFT_TIMEOUT);
			timeouts++;
		}
		check_stage(s);
		assert_null(s->head);
		assert_int_equal(exitleft_enter(probe, &(struct timespec){ 0, 0 }),
				 EXITLEFT_HEAD);
		assert_int_equal(exitleft_exit(probe), 0);
	}
	print_message("heads %d, timeouts %d\n", heads, timeouts);
	assert_int_equal(heads + timeouts, 400);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_ticket_free(probe), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/*
 * S17: the deadline is read on CLOCK_MONOTONIC. The two clocks differ by decades here (the
 * monotonic clock counts from boot), so a deadline 100 ms ahead on the monotonic clock would
 * be long past on the wall clock: a wrong clock returns at once, the right one waits.
 */
static void s17_deadline_follows_the_monotonic_clock(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w;
	struct timespec real, mono;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	assert_true(real.tv_sec - mono.tv_sec > 3600);
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w = ticket_named(s, "w");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	int64_t start = mono_ns();
	struct timespec d = mono_in_ms(100);
	assert_int_equal(exitleft_enter(w, &d), EXITLEFT_TIMEOUT);
	int64_t waited = mono_ns() - start;
	assert_true(waited >= 100000000);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_ticket_free(w), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s10_timed_out_waiter_leaves_the_line),
		cmocka_unit_test(s10_deadline_passes_as_headship_arrives),
		cmocka_unit_test(s10_timeout_racing_exit_never_loses_headship),
		cmocka_unit_test(s17_deadline_follows_the_monotonic_clock),
	};
	return cmocka_run_group_tests_name("timeout", tests, NULL, NULL);
}
