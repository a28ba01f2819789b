/* test_close.c - S13, S14: closing a stage with threads waiting, freeing a busy stage */
#include "helpers.h"

static void s13_close_ends_every_wait(void **state)
{
	enum { N = 8 };
	exitleft_stage *s;
	exitleft_ticket *h, *w[N], *late = NULL;
	struct entrant e[N];

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	h = ticket_named(s, "head");
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(exitleft_ticket_new(s, &i, sizeof(i), &w[i]), 0);
		struct timespec far = mono_in_ms(60000);
		if (i % 2)
			entrant_start(&e[i], w[i], &far);	/* timed and untimed waits */
		else
			entrant_start(&e[i], w[i], NULL);
		await_queue_len(s, i + 1);
	}
	assert_int_equal(exitleft_stage_close(s), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(entrant_result(&e[i]), EXITLEFT_CLOSED);
	check_stage(s);
	/* Later enters are CLOSED, new tickets refused, and closing again changes nothing. */
	assert_int_equal(exitleft_enter(w[0], NULL), EXITLEFT_CLOSED);
	assert_int_equal(exitleft_ticket_new(s, "late", 4, &late), -ECANCELED);
	assert_null(late);
	assert_int_equal(exitleft_stage_close(s), 0);
	/* The head keeps heading until it exits, and its exit promotes nobody. */
	assert_ptr_equal(s->head, h);
	assert_int_equal(exitleft_enter(h, NULL), -EDEADLK);
	assert_int_equal(exitleft_exit(h), 0);
	assert_null(s->head);
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_CLOSED);
	/* Notifications still reach live tickets, and win over CLOSED once (S7). */
	assert_int_equal(exitleft_notify(s, "head", 4), 1);
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_CLOSED);
	for (int i = 0; i < N; i++)
		assert_int_equal(exitleft_ticket_free(w[i]), 0);
	assert_int_equal(exitleft_ticket_free(h), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s13_close_on_a_headless_stage(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *a;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	a = ticket_named(s, "a");
	assert_int_equal(exitleft_stage_close(s), 0);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_CLOSED);	/* not HEAD */
	assert_null(s->head);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s14_free_with_live_tickets_is_refused(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *a, *b;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	a = ticket_named(s, "a");
	b = ticket_named(s, "b");
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_stage_free(s), -EBUSY);
	/* Nothing was freed: the stage works as before. */
	assert_int_equal(exitleft_notify(s, "b", 1), 1);
	assert_int_equal(exitleft_enter(b, NULL), EXITLEFT_TOKEN);
	check_stage(s);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_stage_free(s), -EBUSY);
	assert_int_equal(exitleft_ticket_free(b), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* A thread woken by a notification frees its ticket and the stage at once, while the
 * notifier may still be signalling: the stage waits for it (run under TSan/ASan/valgrind). */
struct freer {
	exitleft_stage *s;
	exitleft_ticket *t;
	int rc;
};

static void *freer_main(void *arg)
{
	struct freer *f = arg;

	f->rc = exitleft_enter(f->t, NULL);
	if (exitleft_ticket_free(f->t) || exitleft_stage_free(f->s))
		f->rc = -1;
	return NULL;
}

static void stage_freed_right_after_a_wake(void **state)
{
	(void)state;
	for (int i = 0; i < 300; i++) {
		struct freer f;
		exitleft_ticket *h;
		pthread_t th;

		assert_int_equal(exitleft_stage_new(&f.s), 0);
		h = ticket_named(f.s, "head");
		f.t = ticket_named(f.s, "w");
		assert_int_equal(exitleft_enter(h, NULL), EXITLEFT_HEAD);
		assert_int_equal(pthread_create(&th, NULL, freer_main, &f), 0);
		await_queue_len(f.s, 1);
		assert_int_equal(exitleft_ticket_free(h), 0);	/* promotes w */
		pthread_join(th, NULL);
		assert_int_equal(f.rc, EXITLEFT_HEAD);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s13_close_ends_every_wait),
		cmocka_unit_test(s13_close_on_a_headless_stage),
		cmocka_unit_test(s14_free_with_live_tickets_is_refused),
		cmocka_unit_test(stage_freed_right_after_a_wake),
	};
	return cmocka_run_group_tests_name("close", tests, NULL, NULL);
}
