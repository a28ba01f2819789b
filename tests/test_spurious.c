/*
 * test_spurious.c - spurious condvar wakes never give a wrong outcome (failure mode 7)
 *
 * Linked with the library built with EXITLEFT_TEST_HOOKS: half of all waits return at once
 * (tests/spurious.h). A waiter must keep waiting through them and return only what
 * happened to it: HEAD when promoted, TOKEN when notified, TIMEOUT at its deadline, CLOSED.
 */
#include "helpers.h"
#include "spurious.h"

static void spurious_wakes_change_no_outcome(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *h, *w[3];
	struct entrant e[3];
	struct timespec d;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	w[0] = ticket_named(s, "promoted");
	w[1] = ticket_named(s, "notified");
	w[2] = ticket_named(s, "closed");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	for (int i = 0; i < 3; i++)
		entrant_queue(&e[i], w[i], (size_t)i);
	unsigned long before = atomic_load(&spurious_injected);
	/* Nothing happens meanwhile, only spurious wakes: gives a wrong return the time to
	 * show; a right library passes however long the sleep is. */
	sleep_us(20000);
	for (int i = 0; i < 3; i++)
		assert_false(entrant_finished(&e[i]));
	assert_int_equal(exitleft_notify(s, "notified", 8), 1);
	assert_int_equal(entrant_result(&e[1]), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_exit(h), 0);
	assert_int_equal(entrant_result(&e[0]), EXITLEFT_HEAD);
	assert_int_equal(exitleft_stage_close(s), 0);
	assert_int_equal(entrant_result(&e[2]), EXITLEFT_CLOSED);
	assert_int_equal(exitleft_exit(w[0]), 0);
	check_stage(s);
	/* A timed wait through spurious wakes ends at its deadline, not before (a lower
	 * bound, which a loaded machine cannot break). */
	exitleft_stage *s2;
	exitleft_ticket *a, *b;
	assert_int_equal(exitleft_stage_new(&s2), 0);
	a = ticket_named(s2, "a");
	b = ticket_named(s2, "b");
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	int64_t start = mono_ns();
	d = mono_in_ms(30);
	assert_int_equal(exitleft_enter(b, &d), EXITLEFT_TIMEOUT);
	assert_true(mono_ns() - start >= 30000000);
	assert_true(atomic_load(&spurious_injected) > before);
	print_message("spurious wakes injected: %lu\n", atomic_load(&spurious_injected));
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_ticket_free(b), 0);
	assert_int_equal(exitleft_stage_free(s2), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(exitleft_ticket_free(w[i]), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spurious_wakes_change_no_outcome),
	};
	return cmocka_run_group_tests_name("spurious", tests, NULL, NULL);
}
