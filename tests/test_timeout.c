/* test_timeout.c - S10, S17: deadlines on CLOCK_MONOTONIC, and no promotion or notification
 * lost to one */
#include "fixture.h"

/* Only the deadline has to fire here, and nothing before it: a short one is fine. */
static void s10_timed_out_waiter_leaves_the_line(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w"), *x = line_ticket(l, "x");
	struct timespec d = mono_in_ms(30);

	assert_int_equal(exitleft_enter(w, &d), EXITLEFT_TIMEOUT);
	assert_int_equal(queue_len(l->s), 0);
	check_stage(l->s);
	/* Nobody left in line: the exit makes the stage headless. */
	assert_int_equal(exitleft_exit(l->head), 0);
	assert_null(head_of(l->s));
	assert_int_equal(exitleft_enter(x, &(struct timespec){ 0, 0 }), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(x), 0);
}

/*
 * The deadline passes while headship is on its way: the waiter's timed wait has returned
 * ETIMEDOUT but cannot take the lock back before the head, holding the lock, promotes it.
 * The waiter must come back as head, not swallow the promotion.
 *
 * Regression: this test gave the waiter 50 ms to get in line, and under valgrind on a
 * loaded machine it did not ("line never reached 1 waiters (has 0)"). The waiter is now
 * put in line with a deadline that is retried further out until it got in line in time.
 */
static void s10_deadline_passes_as_headship_arrives(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w");

	queue_and_hold_past_deadline(l->s, &w, line_entrant(l, w), 1);
	assert_ptr_equal(exit_held(l->head), w);
	assert_int_equal(line_result(l, w), EXITLEFT_HEAD);
	check_stage(l->s);
	assert_int_equal(exitleft_exit(w), 0);
}

/* The deadline passes as the notification arrives: the notification wins, TOKEN. */
static void timeout_at_the_moment_of_notification(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w");

	queue_and_hold_past_deadline(l->s, &w, line_entrant(l, w), 1);
	notify_held(w);
	assert_int_equal(line_result(l, w), EXITLEFT_TOKEN);
	assert_false(is_notified(w));	/* seen once, not left behind */
	check_stage(l->s);
}

/* The deadline passes as headship arrives through a freed head (S12), with two waiters:
 * whoever of them is promoted returns HEAD, never both, and headship is not lost. */
static void timeout_at_the_moment_of_promotion_by_free(void **state)
{
	struct line *l = *state;
	exitleft_ticket *t[2] = { line_ticket(l, "w"), line_ticket(l, "x") };

	/* t[0] and t[1] were made one after the other: their entrants are side by side. */
	queue_and_hold_past_deadline(l->s, t, line_entrant(l, t[0]), 2);
	unlock_stage(l->s);
	/* Both waits have timed out; whoever retakes the lock first leaves. Free the head: if
	 * w is still in line it is promoted and must return HEAD. */
	line_free(l, l->head);
	int rw = line_result(l, t[0]), rx = line_result(l, t[1]);
	assert_true(rw == EXITLEFT_HEAD || rw == EXITLEFT_TIMEOUT);
	assert_true(rx == EXITLEFT_HEAD || rx == EXITLEFT_TIMEOUT);
	assert_false(rw == EXITLEFT_HEAD && rx == EXITLEFT_HEAD);
	check_stage(l->s);
	if (rw == EXITLEFT_HEAD)
		assert_int_equal(exitleft_exit(t[0]), 0);
	if (rx == EXITLEFT_HEAD)
		assert_int_equal(exitleft_exit(t[1]), 0);
	assert_null(head_of(l->s));
}

/*
 * The same race left to the scheduler: the head exits about when the waiter's deadline
 * passes. Whatever wins, headship is never lost: the stage is headed by the waiter (which
 * then exits) or headless, never stuck with nobody heading and someone in line. The
 * deadline and the sleep only vary the interleaving; the assertions hold for every one.
 */
static void s10_timeout_racing_exit_never_loses_headship(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w"), *probe = line_ticket(l, "probe");
	unsigned seed = 7;
	int heads = 0, timeouts = 0;

	assert_int_equal(exitleft_exit(l->head), 0);
	for (int i = 0; i < 400; i++) {
		struct timespec d = mono_in_ns(200000);

		assert_int_equal(exitleft_enter(l->head, NULL), EXITLEFT_HEAD);
		line_enter(l, w, &d);
		sleep_us(100 + rand_r(&seed) % 200);
		assert_int_equal(exitleft_exit(l->head), 0);
		int rc = line_result(l, w);
		if (rc == EXITLEFT_HEAD) {
			heads++;
			assert_int_equal(exitleft_exit(w), 0);
		} else {
			assert_int_equal(rc, EXITLEFT_TIMEOUT);
			timeouts++;
		}
		check_stage(l->s);
		assert_null(head_of(l->s));
		assert_int_equal(exitleft_enter(probe, &(struct timespec){ 0, 0 }),
				 EXITLEFT_HEAD);
		assert_int_equal(exitleft_exit(probe), 0);
	}
	print_message("heads %d, timeouts %d\n", heads, timeouts);
	assert_int_equal(heads + timeouts, 400);
}

/*
 * S17: the deadline is read on CLOCK_MONOTONIC. The two clocks differ by decades here (the
 * monotonic clock counts from boot), so a deadline 100 ms ahead on the monotonic clock would
 * be long past on the wall clock: a wrong clock returns at once, the right one waits. Only a
 * lower bound is checked, which a loaded machine cannot break.
 */
static void s17_deadline_follows_the_monotonic_clock(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w");
	struct timespec real, mono;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	assert_true(real.tv_sec - mono.tv_sec > 3600);
	int64_t start = mono_ns();
	struct timespec d = mono_in_ms(100);
	assert_int_equal(exitleft_enter(w, &d), EXITLEFT_TIMEOUT);
	assert_true(mono_ns() - start >= 100000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LINE_TEST(s10_timed_out_waiter_leaves_the_line),
		LINE_TEST(s10_deadline_passes_as_headship_arrives),
		LINE_TEST(timeout_at_the_moment_of_notification),
		LINE_TEST(timeout_at_the_moment_of_promotion_by_free),
		LINE_TEST(s10_timeout_racing_exit_never_loses_headship),
		LINE_TEST(s17_deadline_follows_the_monotonic_clock),
	};
	return cmocka_run_group_tests_name("timeout", tests, NULL, NULL);
}
