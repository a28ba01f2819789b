/* test_close.c - S13, S14: closing a stage with threads waiting, freeing a busy stage */
#include "fixture.h"

static void s13_close_ends_every_wait(void **state)
{
	enum { N = 8 };
	struct line *l = *state;
	exitleft_ticket *w[N], *late = NULL;
	/* Far beyond any test's patience: these waits can only end by the close. */
	struct timespec far = mono_in_ms(60000);

	for (uint32_t i = 0; i < N; i++) {
		w[i] = line_ticket_bytes(l, &i, sizeof(i));
		entrant_start(line_entrant(l, w[i]), w[i], i % 2 ? &far : NULL);
		await_queue_len(l->s, i + 1);	/* timed and untimed waits */
	}
	assert_int_equal(exitleft_stage_close(l->s), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(line_result(l, w[i]), EXITLEFT_CLOSED);
	check_stage(l->s);
	/* Later enters are CLOSED, new tickets refused, and closing again changes nothing. */
	assert_int_equal(exitleft_enter(w[0], NULL), EXITLEFT_CLOSED);
	assert_int_equal(exitleft_ticket_new(l->s, "late", 4, &late), -ECANCELED);
	assert_null(late);
	assert_int_equal(exitleft_stage_close(l->s), 0);
	/* The head keeps heading until it exits, and its exit promotes nobody. */
	assert_ptr_equal(head_of(l->s), l->head);
	assert_int_equal(exitleft_enter(l->head, NULL), -EDEADLK);
	assert_int_equal(exitleft_exit(l->head), 0);
	assert_null(head_of(l->s));
	assert_int_equal(exitleft_enter(l->head, NULL), EXITLEFT_CLOSED);
	/* Notifications still reach live tickets, and win over CLOSED once (S7). */
	assert_int_equal(exitleft_notify(l->s, "head", 4), 1);
	assert_int_equal(exitleft_enter(l->head, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_enter(l->head, NULL), EXITLEFT_CLOSED);
}

static void s13_close_on_a_headless_stage(void **state)
{
	struct line *l = *state;
	exitleft_ticket *a = line_ticket(l, "a");

	assert_int_equal(exitleft_stage_close(l->s), 0);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_CLOSED);	/* not HEAD */
	assert_null(head_of(l->s));
}

static void s14_free_with_live_tickets_is_refused(void **state)
{
	struct line *l = *state;
	exitleft_ticket *a = line_ticket(l, "a"), *b = line_ticket(l, "b");

	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_stage_free(l->s), -EBUSY);
	/* Nothing was freed: the stage works as before. */
	assert_int_equal(exitleft_notify(l->s, "b", 1), 1);
	assert_int_equal(exitleft_enter(b, NULL), EXITLEFT_TOKEN);
	check_stage(l->s);
	line_free(l, a);
	assert_int_equal(exitleft_stage_free(l->s), -EBUSY);
}

/* S14 with threads waiting, heading and notified: -EBUSY, and everything still works. */
static void stage_free_while_tickets_live(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w"), *x = line_ticket(l, "x");

	line_queue(l, w);
	assert_int_equal(exitleft_notify(l->s, "x", 1), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(exitleft_stage_free(l->s), -EBUSY);
	check_stage(l->s);
	assert_int_equal(exitleft_exit(l->head), 0);
	assert_int_equal(line_result(l, w), EXITLEFT_HEAD);
	assert_int_equal(exitleft_enter(x, NULL), EXITLEFT_TOKEN);
	line_free(l, w);
	assert_int_equal(exitleft_stage_free(l->s), -EBUSY);
}

/* A thread woken by a promotion frees its ticket and the stage at once, while the waker
 * may still be signalling: the stage waits for it (run under TSan/ASan/valgrind). */
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
		LINE_TEST(s13_close_ends_every_wait),
		STAGE_TEST(s13_close_on_a_headless_stage),
		STAGE_TEST(s14_free_with_live_tickets_is_refused),
		LINE_TEST(stage_free_while_tickets_live),
		cmocka_unit_test(stage_freed_right_after_a_wake),
	};
	return cmocka_run_group_tests_name("close", tests, NULL, NULL);
}
