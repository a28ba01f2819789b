/*
 * wait.c - entering the stage, waiting in line, and passing headship on
 *
 * Every change of a ticket's state is made by one thread under stage->lock, and a waiting
 * thread decides why it woke only by reading its state under that lock, never from what
 * pthread_cond_timedwait() returned. So a timeout racing a promotion or a notification has
 * one winner, whoever took the lock first, and the loser sees the result. The states and
 * their transitions are listed above enum ticket_state (exitleft-private.h); who makes each:
 *
 *   idle -> head, idle -> waiting      the entering thread (outcome_idle, exitleft_enter)
 *   waiting -> promoted                whoever makes the stage headless: the old head
 *                                      (wait_exit_locked), or for a deferring last head the
 *                                      first caller through the lock that did not head
 *   waiting -> woken                   the notifier (notify.c) or the closer (stage.c)
 *   waiting -> idle                    the waiting thread: its deadline, or its cancellation
 *   woken -> idle, promoted -> head    the woken thread, on its way out of exitleft_enter()
 *   promoted -> idle, head -> idle     wait_exit_locked: exit, free, or cancellation
 *
 * tests/model/exitleft.pml models this protocol with the same names; the comments
 * "model: ..." below name the step of the model each transition is.
 */
#include <errno.h>
#include <stdbool.h>

#include <utlist.h>

#include "exitleft-private.h"

#ifdef EXITLEFT_TEST_HOOKS
/* Test builds only: a hook that, returning nonzero, fakes a spurious wake. */
int (*wait_hook_spurious)(pthread_mutex_t *lock);
#define WAIT_HOOK_SPURIOUS(lock) (wait_hook_spurious && wait_hook_spurious(lock))
#define WAIT_COUNT_WAKE(t) ((t)->wakes++)
#else
#define WAIT_HOOK_SPURIOUS(lock) 0
#define WAIT_COUNT_WAKE(t) ((void)0)
#endif

/*
 * Takes the longest waiter out of the line and makes it head, so that it is head already
 * when it wakes and no newcomer can barge in between. Returns it, to be woken after the
 * unlock with stage_unlock_wake(), or NULL (line empty: the stage is headless). Lock held.
 */
struct exitleft_ticket *wait_promote_first(struct exitleft_stage *stage)
{
	struct exitleft_ticket *next = stage->queue;	/* empty once closed: S13 */

	/* model: wait_promote_first */
	stage->head = next;
	if (next) {
		DL_DELETE(stage->queue, next);
		next->state = TICKET_PROMOTED;
	}
	return next;
}

/*
 * Takes headship from `head` (heading, or promoted and cancelled before it returned) and
 * hands it straight to the longest waiter (S8). Returns the ticket to wake, or NULL. Lock
 * held. Every way out of headship comes here: exit, free, cancellation.
 */
struct exitleft_ticket *wait_exit_locked(struct exitleft_ticket *head)
{
	head->state = TICKET_IDLE;	/* model: wait_exit_locked */
	head->stage->last_head = head;
	return wait_promote_first(head->stage);
}

/*
 * Whether `t`, finding the stage headless, should let others go first. A head that exits
 * and comes straight back would otherwise head again and again while the threads it
 * should hand over to are still blocked on the stage's lock, which does not queue fairly
 * (measured: one handoff per 65 000 headships at T=2). So the last head waits in line
 * instead, asleep, when another caller of exitleft_enter() has not got through the lock
 * yet; that caller is bound to take the lock after us, and on its way out it heads or
 * promotes the first waiter (the end of exitleft_enter()). Lock held.
 */
static bool wait_defers(struct exitleft_ticket *t)
{
	struct exitleft_stage *stage = t->stage;

	/* Relaxed: the lock orders everything. A count read as non-zero here belongs to a
	 * thread that has not taken the lock yet, so it takes it after we release it. */
	return stage->last_head == t &&
	       atomic_load_explicit(&stage->arriving, memory_order_relaxed) > 0;
}

/*
 * The outcome for an idle ticket, or 0 to wait: a recorded notification or mail first (S7),
 * then a closed stage, then headship of a headless stage (S3). Lock held.
 */
static int outcome_idle(struct exitleft_ticket *t)
{
	struct exitleft_stage *stage = t->stage;

	/* model: outcome_idle */
	if (t->notified || t->mail_first) {
		t->notified = false;	/* S6: notifications since the last enter are one */
		return EXITLEFT_TOKEN;
	}
	if (stage->closed)
		return EXITLEFT_CLOSED;
	if (!stage->head && !wait_defers(t)) {
		stage->head = t;
		t->state = TICKET_HEAD;
		return EXITLEFT_HEAD;
	}
	return 0;
}

/*
 * Cleanup handler for a thread cancelled in pthread_cond_(timed)wait(), which runs it with
 * the lock re-acquired. Leaves the line, or passes on headship handed over meanwhile (S18).
 */
static void wait_cancelled(void *arg)
{
	struct exitleft_ticket *t = arg;
	struct exitleft_stage *stage = t->stage;
	struct exitleft_ticket *next = NULL;

	switch (t->state) {	/* model: cancelled */
	case TICKET_WAITING:
		DL_DELETE(stage->queue, t);
		t->state = TICKET_IDLE;
		break;
	case TICKET_PROMOTED:	/* headship handed over meanwhile: pass it on */
		next = wait_exit_locked(t);
		break;
	case TICKET_WOKEN:	/* a recorded notification or mail stays for the next enter */
		t->state = TICKET_IDLE;
		break;
	case TICKET_IDLE:
	case TICKET_HEAD:	/* not a state of a thread inside the wait */
		break;
	}
	stage_unlock_wake(stage, next);
}

static bool deadline_ok(const struct timespec *d)
{
	return !d || (d->tv_sec >= 0 && d->tv_nsec >= 0 && d->tv_nsec < 1000000000L);
}

static bool deadline_passed(const struct timespec *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

/*
 * The start of every enter, blocking or pending: takes the lock, counting the caller among
 * those before it meanwhile (wait_defers()), and returns the outcome at once (S11's errors,
 * S3, S6, S7, S13, S21), or 0 to get in line. Returns with the lock held.
 */
static int enter_begin(struct exitleft_ticket *t)
{
	struct exitleft_stage *stage = t->stage;

	atomic_fetch_add_explicit(&stage->arriving, 1, memory_order_relaxed);	/* model: arrive */
	pthread_mutex_lock(&stage->lock);	/* model: step enter */
	atomic_fetch_sub_explicit(&stage->arriving, 1, memory_order_relaxed);
	if (t->state != TICKET_IDLE)	/* S11, S25 */
		return t->state == TICKET_HEAD ? -EDEADLK : -EBUSY;
	return outcome_idle(t);
}

/* Gets `t` in line. Lock held. model: idle --enter--> waiting */
static void enter_line(struct exitleft_ticket *t, bool pending)
{
	t->state = TICKET_WAITING;
	t->pending = pending;
	DL_APPEND(t->stage->queue, t);
}

/*
 * The outcome of a decided enter (woken or promoted), now taken: the ticket is idle or
 * heads. A woken ticket was notified, delivered to or closed on: TOKEN or CLOSED, in the
 * order of S7. Its owner may have taken the delivered items while its enter was pending;
 * the decision was TOKEN all the same (never headship: a woken ticket is out of line).
 * Lock held.
 */
static int enter_collect(struct exitleft_ticket *t)
{
	t->pending = false;
	if (t->state == TICKET_PROMOTED) {	/* model: promoted --return--> head */
		t->state = TICKET_HEAD;
		return EXITLEFT_HEAD;
	}
	t->state = TICKET_IDLE;			/* model: woken --return--> idle */
	if (!t->notified && !t->mail_first && t->stage->closed)
		return EXITLEFT_CLOSED;
	t->notified = false;			/* S6 */
	return EXITLEFT_TOKEN;
}

/* Counts an outcome where it is final: a promotion that a cancelled waiter passed on never
 * gets here, so heads counts the heads callers actually saw. Lock held. */
static void enter_count(struct exitleft_stage *stage, int outcome)
{
	if (outcome == EXITLEFT_HEAD)
		stage->counts.heads++;
	else if (outcome == EXITLEFT_TIMEOUT)
		stage->counts.timeouts++;
	else if (outcome == EXITLEFT_CLOSED)
		stage->counts.closes++;
}

/*
 * The end of an enter that went through the lock: a last head that deferred to us
 * (wait_defers) waits in line on a headless stage; unless we took headship, or are that
 * last head getting in line pending, it is promoted now. Releases the lock.
 * model: enter_out
 */
static int enter_end(struct exitleft_ticket *t, int outcome)
{
	struct exitleft_stage *stage = t->stage;
	struct exitleft_ticket *next = NULL;

	if (!stage->head && outcome != EXITLEFT_PENDING)
		next = wait_promote_first(stage);
	enter_count(stage, outcome);
	stage_unlock_wake(stage, next);
	return outcome;
}

int exitleft_enter(exitleft_ticket *t, const struct timespec *deadline)
{
	struct exitleft_stage *stage;
	int outcome;

	if (!t || !deadline_ok(deadline))
		return -EINVAL;
	stage = t->stage;
	outcome = enter_begin(t);
	if (outcome)
		return enter_end(t, outcome);
	if (deadline && deadline_passed(deadline))
		return enter_end(t, EXITLEFT_TIMEOUT);

	enter_line(t, false);
	pthread_cleanup_push(wait_cancelled, t);
	while (t->state == TICKET_WAITING) {
		/* model: step cond_wait, then cond_woken (signal, deadline, spurious, cancel),
		 * then wait_recheck once the lock is ours again */
		int rc = WAIT_HOOK_SPURIOUS(&stage->lock) ? 0
			 : deadline ? pthread_cond_timedwait(&t->cond, &stage->lock, deadline)
			 : pthread_cond_wait(&t->cond, &stage->lock);
		WAIT_COUNT_WAKE(t);
		/* Still waiting after the deadline: nobody changed our state before we took the
		 * lock back, so the timeout wins and we leave the line ourselves. Had a promotion
		 * or a notification won, our state says so (S10). Spurious wakes loop. */
		if (rc == ETIMEDOUT && t->state == TICKET_WAITING) {
			DL_DELETE(stage->queue, t);
			t->state = TICKET_IDLE;
			outcome = EXITLEFT_TIMEOUT;
		}
	}
	pthread_cleanup_pop(0);
	return enter_end(t, outcome ? outcome : enter_collect(t));
}

int exitleft_enter_start(exitleft_ticket *t)
{
	int outcome;

	if (!t)
		return -EINVAL;
	outcome = enter_begin(t);
	if (!outcome) {		/* S22: in line like a blocked thread, without one */
		enter_line(t, true);
		outcome = EXITLEFT_PENDING;
	}
	return enter_end(t, outcome);
}

/*
 * What exitleft_enter_poll() and exitleft_enter_cancel() share: -EPERM without a pending
 * enter (S23, S24), the outcome once decided, else PENDING or (cancel) TIMEOUT.
 */
static int enter_settle(struct exitleft_ticket *t, bool cancel)
{
	struct exitleft_stage *stage;
	int outcome;

	if (!t)
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);	/* model: step poll, step cancel */
	/* Decided, but its descriptor not written yet: the decider is between the unlock
	 * and its write. Collecting now would leave the descriptor readable after the
	 * outcome is gone (S26), so wait for the write; the decision stands meanwhile. */
	while (t->pending && t->state != TICKET_WAITING && !ticket_fd_drain(t))
		ticket_fd_await(t);
	if (!t->pending) {
		outcome = -EPERM;
	} else if (t->state != TICKET_WAITING) {	/* decided first: it wins (S24) */
		outcome = enter_collect(t);
	} else if (cancel) {			/* model: waiting --cancel--> idle */
		DL_DELETE(stage->queue, t);
		t->state = TICKET_IDLE;
		t->pending = false;
		outcome = EXITLEFT_TIMEOUT;
	} else {
		outcome = EXITLEFT_PENDING;
	}
	enter_count(stage, outcome);
	pthread_mutex_unlock(&stage->lock);
	return outcome;
}

int exitleft_enter_poll(exitleft_ticket *t)
{
	return enter_settle(t, false);
}

int exitleft_enter_cancel(exitleft_ticket *t)
{
	return enter_settle(t, true);
}

int exitleft_exit(exitleft_ticket *t)
{
	struct exitleft_stage *stage;

	if (!t)
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);	/* model: step exit */
	/* Only a head whose thread has returned: a promoted ticket's thread has not, and
	 * taking headship from it would leave that thread with no outcome to return (S11). */
	if (t->state != TICKET_HEAD) {
		pthread_mutex_unlock(&stage->lock);
		return -EPERM;
	}
	stage_unlock_wake(stage, wait_exit_locked(t));
	return 0;
}
