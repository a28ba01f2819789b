/*
 * test_lifetime.c - records outlive every wake that may touch them, and no longer: the spare
 * records parked while wakes were in flight are trimmed back once none is.
 */
#include "helpers.h"

#define BURST (4 * SPARE_KEEP)

/* Takes and frees BURST tickets at once. */
static void ticket_burst(exitleft_stage *s)
{
	exitleft_ticket *t[BURST];

	for (int i = 0; i < BURST; i++)
		assert_int_equal(exitleft_ticket_new(s, &i, sizeof(i), &t[i]), 0);
	for (int i = 0; i < BURST; i++)
		assert_int_equal(exitleft_ticket_free(t[i]), 0);
}

/*
 * Tickets freed while a wake is in flight are parked (a waker may still signal their
 * condvars); the first free after the last wake ended trims the spares to SPARE_KEEP.
 */
static void spares_parked_in_a_burst_are_trimmed(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *t;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	ticket_burst(s);
	assert_int_equal(spares_of(s), SPARE_KEEP);	/* nothing in flight: none parked */

	/* A waker between its unlock and the end of its wake, as stage_unlock_wake() has. */
	fake_wake_begin(s);
	ticket_burst(s);
	assert_true(spares_of(s) >= BURST);		/* parked: a signal may still come */
	fake_wake_end(s);			/* the wake ends */

	t = ticket_named(s, "next");
	assert_int_equal(exitleft_ticket_free(t), 0);
	assert_int_equal(spares_of(s), SPARE_KEEP);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* A notifier that keeps wakes in flight while tickets come and go. */
struct churn {
	exitleft_stage *s;
	atomic_bool stop;
	atomic_ulong notifies;
};

static void *notifier_main(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		exitleft_notify(c->s, "waiter", 6);
		atomic_fetch_add(&c->notifies, 1);
	}
	return NULL;
}

static void *waiter_main(void *arg)
{
	struct churn *c = arg;
	exitleft_ticket *t = ticket_named(c->s, "waiter");

	while (!atomic_load(&c->stop))
		exitleft_enter(t, NULL);	/* TOKEN, again and again */
	exitleft_ticket_free(t);	/* a failure shows as the stage's -EBUSY at the end */
	return NULL;
}

/*
 * The same with real wakes: a waiter notified in a loop, while this thread takes and frees
 * tickets, so that some frees find a wake in flight. Once the churn stops, one more free
 * leaves at most SPARE_KEEP spares, however many were parked.
 */
static void spares_stay_bounded_under_churning_wakes(void **state)
{
	struct churn c = { 0 };
	exitleft_ticket *head, *t;
	pthread_t notifier, waiter;

	(void)state;
	assert_int_equal(exitleft_stage_new(&c.s), 0);
	head = ticket_named(c.s, "head");
	assert_int_equal(exitleft_enter(head, NULL), EXITLEFT_HEAD);	/* the waiter waits */
	assert_int_equal(pthread_create(&waiter, NULL, waiter_main, &c), 0);
	assert_int_equal(pthread_create(&notifier, NULL, notifier_main, &c), 0);
	for (int round = 0; round < 200 || atomic_load(&c.notifies) < 1000; round++)
		ticket_burst(c.s);
	atomic_store(&c.stop, true);
	pthread_join(notifier, NULL);
	exitleft_notify(c.s, "waiter", 6);	/* the waiter may be back in line */
	pthread_join(waiter, NULL);

	t = ticket_named(c.s, "last");
	assert_int_equal(exitleft_ticket_free(t), 0);
	assert_true(spares_of(c.s) <= SPARE_KEEP);
	assert_int_equal(exitleft_exit(head), 0);
	assert_int_equal(exitleft_ticket_free(head), 0);
	assert_int_equal(exitleft_stage_free(c.s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spares_parked_in_a_burst_are_trimmed),
		cmocka_unit_test(spares_stay_bounded_under_churning_wakes),
	};
	return cmocka_run_group_tests_name("lifetime", tests, NULL, NULL);
}
