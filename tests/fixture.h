/*
 * fixture.h - the set-up most tests share, as CMocka setup and teardown: a stage, a ticket
 * "head" heading it (line_setup; stage_setup leaves the stage headless), and the tickets a
 * test adds with line_ticket(), each with an entrant of its own to wait in line.
 *
 * The teardown ends whatever the test left running: it checks the stage, closes it (every
 * wait ends), collects every entrant, exits the head, empties the mailboxes and frees every
 * ticket and the stage, each of which must succeed. A test frees a ticket itself only with
 * line_free().
 *
 *	static void some_test(void **state)
 *	{
 *		struct line *l = *state;
 *		exitleft_ticket *w = line_ticket(l, "w");
 *
 *		line_queue(l, w);		// w waits in line, first
 *		...
 *	}
 *	LINE_TEST(some_test),
 */
#ifndef EXITLEFT_TEST_FIXTURE_H
#define EXITLEFT_TEST_FIXTURE_H

#include "helpers.h"

#define LINE_TICKETS 32

struct line {
	exitleft_stage *s;
	exitleft_ticket *head;			/* heads after line_setup, else NULL */
	exitleft_ticket *t[LINE_TICKETS];	/* the test's tickets; NULL once freed */
	struct entrant e[LINE_TICKETS];		/* e[i] enters with t[i] */
	size_t n;
};

/* The index of `t` among the line's tickets. */
static inline size_t line_index(struct line *l, exitleft_ticket *t)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->t[i] == t)
			return i;
	fail_msg("not a ticket of this line");
	return 0;
}

static inline exitleft_ticket *line_ticket_bytes(struct line *l, const void *token, size_t len)
{
	assert_true(l->n < LINE_TICKETS);
	assert_int_equal(exitleft_ticket_new(l->s, token, len, &l->t[l->n]), 0);
	return l->t[l->n++];
}

static inline exitleft_ticket *line_ticket(struct line *l, const char *name)
{
	return line_ticket_bytes(l, name, strlen(name));
}

/* The entrant that enters with `t`. */
static inline struct entrant *line_entrant(struct line *l, exitleft_ticket *t)
{
	return &l->e[line_index(l, t)];
}

/* Starts `t`'s entrant (deadline NULL: none) without waiting for anything. */
static inline struct entrant *line_enter(struct line *l, exitleft_ticket *t,
					 const struct timespec *deadline)
{
	struct entrant *e = line_entrant(l, t);

	entrant_start(e, t, deadline);
	return e;
}

/* Starts `t`'s entrant without a deadline and waits until it is last in line. */
static inline struct entrant *line_queue(struct line *l, exitleft_ticket *t)
{
	struct entrant *e = line_entrant(l, t);

	entrant_queue(e, t, queue_len(l->s));
	return e;
}

/* The outcome of `t`'s entrant, waiting (bounded) for it. */
static inline int line_result(struct line *l, exitleft_ticket *t)
{
	return entrant_result(line_entrant(l, t));
}

static inline bool line_finished(struct line *l, exitleft_ticket *t)
{
	return entrant_finished(line_entrant(l, t));
}

/* Frees `t`, which must succeed, and forgets it. */
static inline void line_free(struct line *l, exitleft_ticket *t)
{
	size_t i = line_index(l, t);

	assert_false(l->e[i].started);
	assert_int_equal(exitleft_ticket_free(t), 0);
	l->t[i] = NULL;
	if (l->head == t)
		l->head = NULL;
}

static inline int stage_setup(void **state)
{
	struct line *l = calloc(1, sizeof(*l));

	if (!l || exitleft_stage_new(&l->s) != 0)
		return -1;
	*state = l;
	return 0;
}

static inline int line_setup(void **state)
{
	struct line *l;

	if (stage_setup(state) != 0)
		return -1;
	l = *state;
	l->head = line_ticket(l, "head");
	return exitleft_enter(l->head, NULL) == EXITLEFT_HEAD ? 0 : -1;
}

static inline int line_teardown(void **state)
{
	struct line *l = *state;
	exitleft_ticket *h;
	void *item;

	check_stage(l->s);
	assert_int_equal(exitleft_stage_close(l->s), 0);
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].started)
			entrant_result(&l->e[i]);
	/* Pending enters are collected (S24): a ticket promoted while pending heads. */
	for (size_t i = 0; i < l->n; i++)
		if (l->t[i] && exitleft_enter_cancel(l->t[i]) == EXITLEFT_HEAD)
			assert_int_equal(exitleft_exit(l->t[i]), 0);
	if ((h = head_of(l->s)))
		assert_int_equal(exitleft_exit(h), 0);
	check_stage(l->s);
	for (size_t i = 0; i < l->n; i++) {
		if (!l->t[i])
			continue;
		while (exitleft_take(l->t[i], &item) == 1)
			;
		assert_int_equal(exitleft_ticket_free(l->t[i]), 0);
	}
	assert_int_equal(exitleft_stage_free(l->s), 0);
	free(l);
	return 0;
}

/* A test run with a stage whose "head" heads (LINE_TEST), or with a headless one. */
#define LINE_TEST(test) cmocka_unit_test_setup_teardown(test, line_setup, line_teardown)
#define STAGE_TEST(test) cmocka_unit_test_setup_teardown(test, stage_setup, line_teardown)

#endif
