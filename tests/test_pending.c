/*
 * test_pending.c - S22 to S27: pollable tickets wait in line without a thread, their
 * descriptors become readable exactly when decided, and mailboxes can be bounded.
 */
#include <dirent.h>
#include <fcntl.h>
#include <semaphore.h>
#include <string.h>

#include "fixture.h"

/* Starts a pending enter on `t`, which must go in line. */
static void pend(exitleft_ticket *t)
{
	assert_int_equal(exitleft_enter_start(t), EXITLEFT_PENDING);
}

/* The outcome of `t`'s pending enter, which its descriptor says is decided. */
static int collect(exitleft_ticket *t)
{
	int fd = exitleft_ticket_fd(t);

	assert_true(fd >= 0);
	assert_true(fd_readable(fd));
	int rc = exitleft_enter_poll(t);
	assert_false(fd_readable(fd));	/* collected: no longer readable (S26) */
	return rc;
}

static size_t open_descriptors(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* S22: start returns at once exactly when enter would (S3, S6, S7, S13, S21). */
static void s22_start_returns_at_once_where_enter_would(void **state)
{
	struct line *l = *state;
	exitleft_ticket *a = line_ticket(l, "a");
	void *item;

	assert_int_equal(exitleft_enter_start(a), EXITLEFT_HEAD);	/* S3: headless */
	assert_int_equal(exitleft_enter_start(a), -EDEADLK);		/* S11 */
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_notify(l->s, "a", 1), 1);
	assert_int_equal(exitleft_enter_start(a), EXITLEFT_TOKEN);	/* S6 */
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &item), 1);
	assert_int_equal(exitleft_enter_start(a), EXITLEFT_TOKEN);	/* S21 */
	assert_int_equal(exitleft_take(a, &item), 1);
	assert_int_equal(exitleft_stage_close(l->s), 0);
	assert_int_equal(exitleft_notify(l->s, "a", 1), 1);
	assert_int_equal(exitleft_enter_start(a), EXITLEFT_TOKEN);	/* S7 */
	assert_int_equal(exitleft_enter_start(a), EXITLEFT_CLOSED);	/* S13 */
	assert_int_equal(exitleft_enter_poll(a), -EPERM);		/* nothing pending */
}

/* S22: pending tickets and blocked threads share one FIFO line; stats count them all. */
static void s22_pending_tickets_wait_in_the_same_line(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w1 = line_ticket(l, "w1"), *p = line_ticket(l, "p");
	exitleft_ticket *w2 = line_ticket(l, "w2");
	struct exitleft_stats st;

	line_queue(l, w1);
	pend(p);
	line_queue(l, w2);
	exitleft_ticket *const order[] = { w1, p, w2 };
	lock_stage(l->s);
	assert_true(line_is_locked(l->s, order, 3));
	unlock_stage(l->s);
	assert_true(exitleft_stage_stats(l->s, &st, sizeof(st)) > 0);
	assert_int_equal(st.waiters, 3);
	check_stage(l->s);

	assert_int_equal(exitleft_exit(l->head), 0);		/* to w1, the longest waiter */
	assert_int_equal(line_result(l, w1), EXITLEFT_HEAD);
	assert_false(fd_readable(exitleft_ticket_fd(p)));
	assert_int_equal(exitleft_enter_poll(p), EXITLEFT_PENDING);
	assert_int_equal(exitleft_exit(w1), 0);			/* to p */
	assert_int_equal(collect(p), EXITLEFT_HEAD);
	assert_false(line_finished(l, w2));
	check_stage(l->s);
	assert_int_equal(exitleft_exit(p), 0);			/* to w2 */
	assert_int_equal(line_result(l, w2), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(w2), 0);
}

/* S22, S5: notify, deliver and close decide a pending enter; one descriptor wakes. */
static void s22_notify_deliver_and_close_decide_a_pending_enter(void **state)
{
	enum { N = 8 };
	struct line *l = *state;
	exitleft_ticket *p[N];
	int fd[N];
	void *item;

	for (uint32_t i = 0; i < N; i++) {
		p[i] = line_ticket_bytes(l, &i, sizeof(i));
		fd[i] = exitleft_ticket_fd(p[i]);
		pend(p[i]);
	}
	uint32_t three = 3, five = 5;
	assert_int_equal(exitleft_notify(l->s, &three, sizeof(three)), 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(fd_readable(fd[i]), i == 3);	/* S5: no herd */
	assert_int_equal(exitleft_deliver(l->s, &five, sizeof(five), &five), 1);
	check_stage(l->s);
	assert_int_equal(collect(p[3]), EXITLEFT_TOKEN);
	assert_int_equal(collect(p[5]), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_take(p[5], &item), 1);
	assert_ptr_equal(item, &five);
	assert_int_equal(queue_len(l->s), N - 2);
	assert_int_equal(exitleft_stage_close(l->s), 0);
	for (int i = 0; i < N; i++)
		if (i != 3 && i != 5)
			assert_int_equal(collect(p[i]), EXITLEFT_CLOSED);
}

/* S22, S3: a last head coming back pending defers to a caller still before the lock, which
 * heads; its exit then promotes the pending last head. */
static void s22_pending_last_head_defers_to_a_caller_at_the_lock(void **state)
{
	struct line *l = *state;
	exitleft_ticket *h = l->head, *o = line_ticket(l, "other");

	assert_int_equal(exitleft_exit(h), 0);		/* h is the last head */
	lock_stage(l->s);
	line_enter(l, o, NULL);
	await_arrivals(l->s, 1);
	unlock_stage(l->s);
	/* o may have got through the lock already: then the stage is headed and h waits
	 * in line all the same. Either way o heads first. */
	pend(h);
	assert_int_equal(line_result(l, o), EXITLEFT_HEAD);
	assert_int_equal(exitleft_enter_poll(h), EXITLEFT_PENDING);
	check_stage(l->s);
	assert_int_equal(exitleft_exit(o), 0);
	assert_int_equal(collect(h), EXITLEFT_HEAD);
}

/* A pending ticket decided by a delivery stays TOKEN when its owner takes the item before
 * it polls: the decision is never turned into headship of the headless stage. */
static void s23_items_taken_before_the_poll_leave_it_token(void **state)
{
	struct line *l = *state;
	exitleft_ticket *p = line_ticket(l, "p");
	void *item;

	pend(p);
	assert_int_equal(exitleft_deliver(l->s, "p", 1, &item), 1);
	assert_int_equal(exitleft_take(p, &item), 1);
	line_free(l, l->head);				/* the stage is headless now */
	assert_int_equal(collect(p), EXITLEFT_TOKEN);
	assert_null(head_of(l->s));
}

/* S23: the outcome comes once; then the ticket is idle or heads, no longer pending. */
static void s23_poll_gives_the_outcome_exactly_once(void **state)
{
	struct line *l = *state;
	exitleft_ticket *p = line_ticket(l, "p"), *w = line_ticket(l, "w");

	assert_int_equal(exitleft_enter_poll(p), -EPERM);
	pend(p);
	assert_int_equal(exitleft_enter_poll(p), EXITLEFT_PENDING);
	assert_int_equal(exitleft_enter_poll(p), EXITLEFT_PENDING);
	assert_int_equal(exitleft_notify(l->s, "p", 1), 1);
	assert_int_equal(exitleft_enter_poll(p), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_enter_poll(p), -EPERM);
	assert_true(is_idle(p));
	/* A thread blocked in exitleft_enter() has no pending enter. */
	line_queue(l, w);
	assert_int_equal(exitleft_enter_poll(w), -EPERM);
	assert_int_equal(exitleft_enter_cancel(w), -EPERM);
}

/* S24: cancel takes an undecided enter out of line; a decision made first wins. */
static void s24_cancel_never_swallows_a_decision(void **state)
{
	struct line *l = *state;
	exitleft_ticket *p = line_ticket(l, "p"), *q = line_ticket(l, "q");

	assert_int_equal(exitleft_enter_cancel(p), -EPERM);
	pend(p);
	pend(q);
	assert_int_equal(exitleft_enter_cancel(p), EXITLEFT_TIMEOUT);
	assert_int_equal(queue_len(l->s), 1);
	assert_true(is_idle(p));
	assert_int_equal(exitleft_enter_cancel(p), -EPERM);
	/* q is promoted; its cancel comes too late and returns the headship. */
	assert_int_equal(exitleft_exit(l->head), 0);
	assert_int_equal(exitleft_enter_cancel(q), EXITLEFT_HEAD);
	assert_ptr_equal(head_of(l->s), q);
	assert_int_equal(exitleft_exit(q), 0);
	/* A notification, the same. */
	assert_int_equal(exitleft_enter_start(q), EXITLEFT_HEAD);	/* headless: at once */
	assert_int_equal(exitleft_enter_poll(q), -EPERM);
	assert_int_equal(exitleft_enter_start(p), EXITLEFT_PENDING);
	assert_int_equal(exitleft_notify(l->s, "p", 1), 1);
	assert_int_equal(exitleft_enter_cancel(p), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_exit(q), 0);
}

static void *cancel_main(void *arg)
{
	return (void *)(intptr_t)exitleft_enter_cancel(arg);
}

/* S25: while pending (decided or not), the ticket refuses enter, start, free and exit; any
 * thread may poll or cancel it. */
static void s25_a_pending_ticket_is_busy(void **state)
{
	struct line *l = *state;
	exitleft_ticket *p = line_ticket(l, "p");
	pthread_t other;
	void *rc;

	pend(p);
	assert_int_equal(exitleft_enter(p, NULL), -EBUSY);
	assert_int_equal(exitleft_enter_start(p), -EBUSY);
	assert_int_equal(exitleft_ticket_free(p), -EBUSY);
	assert_int_equal(exitleft_exit(p), -EPERM);
	assert_int_equal(exitleft_exit(l->head), 0);		/* p promoted, not collected */
	assert_int_equal(exitleft_exit(p), -EPERM);
	assert_int_equal(exitleft_ticket_free(p), -EBUSY);
	assert_int_equal(exitleft_enter(p, NULL), -EBUSY);
	assert_int_equal(pthread_create(&other, NULL, cancel_main, p), 0);
	pthread_join(other, &rc);
	assert_int_equal((intptr_t)rc, EXITLEFT_HEAD);		/* collected by another thread */
	assert_int_equal(exitleft_exit(p), 0);
}

/* S26: one descriptor per ticket, made on request, close-on-exec, non-blocking, readable
 * exactly while decided and not collected, closed at free. */
static void s26_the_descriptor_is_the_tickets_own(void **state)
{
	struct line *l = *state;
	exitleft_ticket *p = line_ticket(l, "p");
	int fd;

	assert_int_equal(fd_of(p), -1);			/* none until asked for */
	pend(p);
	assert_int_equal(exitleft_notify(l->s, "p", 1), 1);
	fd = exitleft_ticket_fd(p);				/* asked for after the decision */
	assert_true(fd >= 0);
	assert_int_equal(exitleft_ticket_fd(p), fd);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fd_readable(fd));			/* readable at once */
	assert_int_equal(exitleft_enter_poll(p), EXITLEFT_TOKEN);
	assert_false(fd_readable(fd));
	pend(p);
	assert_false(fd_readable(fd));
	assert_int_equal(exitleft_enter_cancel(p), EXITLEFT_TIMEOUT);
	assert_false(fd_readable(fd));
	line_free(l, p);
	assert_int_equal(fcntl(fd, F_GETFD), -1);		/* closed with the ticket */
	assert_int_equal(errno, EBADF);
}

/*
 * The hook of src/ticket.c (EXITLEFT_TEST_HOOKS): the notifier's write waits until the
 * collector, finding the enter decided but the descriptor not written, waits for it.
 */
extern void (*ticket_hook_fd)(const char *where);
static sem_t hook_decided, hook_awaiting;
static atomic_bool hook_awaited;

static void hold_the_write(const char *where)
{
	if (strcmp(where, "write") == 0) {
		sem_post(&hook_decided);
		while (sem_wait(&hook_awaiting))
			;
	} else {
		atomic_store(&hook_awaited, true);
		sem_post(&hook_awaiting);
	}
}

static void *notify_p_main(void *arg)
{
	return (void *)(intptr_t)exitleft_notify(arg, "p", 1);
}

/* S24, S26: a decision whose write is still on its way after the unlock is collected only
 * once written, so the descriptor is never left readable after its outcome is gone. */
static void s26_a_collector_waits_for_the_write(void **state)
{
	struct line *l = *state;
	exitleft_ticket *p = line_ticket(l, "p");
	int fd = exitleft_ticket_fd(p);
	pthread_t notifier;
	void *rc;

	assert_true(fd >= 0);
	assert_int_equal(sem_init(&hook_decided, 0, 0), 0);
	assert_int_equal(sem_init(&hook_awaiting, 0, 0), 0);
	pend(p);
	ticket_hook_fd = hold_the_write;
	assert_int_equal(pthread_create(&notifier, NULL, notify_p_main, l->s), 0);
	while (sem_wait(&hook_decided))
		;
	assert_false(fd_readable(fd));		/* decided, not written yet */
	assert_int_equal(exitleft_enter_cancel(p), EXITLEFT_TOKEN);	/* the decision won */
	if (!atomic_load(&hook_awaited))
		sem_post(&hook_awaiting);	/* it did not wait: let the write go, then fail */
	pthread_join(notifier, &rc);
	ticket_hook_fd = NULL;
	assert_int_equal((intptr_t)rc, 1);
	assert_true(atomic_load(&hook_awaited));
	assert_false(fd_readable(fd));		/* the write was the one collected */
	assert_true(is_idle(p));
	sem_destroy(&hook_decided);
	sem_destroy(&hook_awaiting);
}

/* S26: tickets that never ask cost no descriptor; each one asked for is closed at free. */
static void s26_descriptors_are_counted(void **state)
{
	enum { N = 64, ASK = 16 };
	struct line *l = *state;
	exitleft_ticket *t[N];
	size_t before = open_descriptors();

	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(exitleft_ticket_new(l->s, &i, sizeof(i), &t[i]), 0);
	for (int i = 0; i < N; i++)
		pend(t[i]);					/* pending, never asking */
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(exitleft_notify(l->s, &i, sizeof(i)), 1);
	assert_int_equal(open_descriptors(), before);
	for (int i = 0; i < ASK; i++)
		assert_true(exitleft_ticket_fd(t[i]) >= 0);
	assert_int_equal(open_descriptors(), before + ASK);
	for (int i = 0; i < N; i++) {
		assert_int_equal(exitleft_enter_poll(t[i]), EXITLEFT_TOKEN);
		assert_int_equal(exitleft_ticket_free(t[i]), 0);
	}
	assert_int_equal(open_descriptors(), before);
}

/* S27: a bounded mailbox refuses past its limit and keeps what it holds. */
static void s27_limit_bounds_the_mailbox(void **state)
{
	struct line *l = *state;
	exitleft_ticket *a = line_ticket(l, "a");
	int items[4];
	void *item;

	assert_int_equal(exitleft_ticket_limit(NULL, 1), -EINVAL);
	assert_int_equal(exitleft_ticket_limit(a, 2), 0);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[0]), 1);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[1]), 1);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[2]), -ENOBUFS);
	assert_int_equal(exitleft_take(a, &item), 1);
	assert_ptr_equal(item, &items[0]);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[2]), 1);
	/* Lowered below what it holds: everything stays, nothing new until drained. */
	assert_int_equal(exitleft_ticket_limit(a, 1), 0);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[3]), -ENOBUFS);
	assert_int_equal(exitleft_take(a, &item), 1);
	assert_ptr_equal(item, &items[1]);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[3]), -ENOBUFS);
	assert_int_equal(exitleft_take(a, &item), 1);
	assert_ptr_equal(item, &items[2]);
	assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[3]), 1);
	assert_int_equal(exitleft_ticket_limit(a, 0), 0);	/* unlimited again */
	for (int i = 0; i < 3; i++)
		assert_int_equal(exitleft_deliver(l->s, "a", 1, &items[i]), 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(exitleft_take(a, &item), 1);
	assert_int_equal(exitleft_take(a, &item), 0);
}

/* S15 for the new calls, and their names. */
static void s15_bad_input_and_names(void **state)
{
	(void)state;
	assert_int_equal(exitleft_enter_start(NULL), -EINVAL);
	assert_int_equal(exitleft_enter_poll(NULL), -EINVAL);
	assert_int_equal(exitleft_enter_cancel(NULL), -EINVAL);
	assert_int_equal(exitleft_ticket_fd(NULL), -EINVAL);
	assert_string_equal(exitleft_strerror(EXITLEFT_PENDING), "pending: in line, not decided yet");
	assert_string_equal(exitleft_strerror(-ENOBUFS),
			    "mailbox full: the ticket's limit is reached");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		STAGE_TEST(s22_start_returns_at_once_where_enter_would),
		LINE_TEST(s22_pending_tickets_wait_in_the_same_line),
		LINE_TEST(s22_notify_deliver_and_close_decide_a_pending_enter),
		LINE_TEST(s22_pending_last_head_defers_to_a_caller_at_the_lock),
		LINE_TEST(s23_poll_gives_the_outcome_exactly_once),
		LINE_TEST(s23_items_taken_before_the_poll_leave_it_token),
		LINE_TEST(s24_cancel_never_swallows_a_decision),
		LINE_TEST(s25_a_pending_ticket_is_busy),
		LINE_TEST(s26_the_descriptor_is_the_tickets_own),
		LINE_TEST(s26_descriptors_are_counted),
		LINE_TEST(s26_a_collector_waits_for_the_write),
		STAGE_TEST(s27_limit_bounds_the_mailbox),
		cmocka_unit_test(s15_bad_input_and_names),
	};
	return cmocka_run_group_tests_name("pending", tests, NULL, NULL);
}
