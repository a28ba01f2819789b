/*
 * wait.c - entering the stage, waiting in line, and passing headship on
 *
 * Every change of a ticket's state is made by one thread under stage->lock, and a waiting
 * thread decides why it woke only by reading its state under that lock, never from what
 * pthread_cond_timedwait() returned. So a timeout racing a promotion or a notification has
 * one winner, whoever took the lock first, and the loser sees the result:
 *
 *   idle --enter--> head                   (stage headless)
 *   idle --enter--> waiting                (stage headed)
 *   waiting --exit of the head--> head     (wait_exit_locked, by the old head)
 *   waiting --notify/deliver--> idle       (notify.c, by the notifier; notified/mail set)
 *   waiting --close--> idle                (stage.c, by the closer; stage closed)
 *   waiting --deadline--> idle             (by the waiter itself, only if still waiting)
 *   waiting --cancel--> idle               (by the waiter's cleanup handler)
 *   head --exit/free/cancel--> idle        (wait_exit_locked)
 *
 * tests/model/exitleft.pml models this protocol with the same names; the comments
 * "model: ..." below name the step of the model each transition is.
 */
#include <errno.h>
#include <stdbool.h>

#include <utlist.h>

#include "exitleft-private.h"

#ifdef EXITLEFT_TEST_HOOKS	/* test builds only: nonzero fakes a spurious wake */
int wait_hook_spurious(pthread_mutex_t *lock);
#define WAIT_HOOK_SPURIOUS(lock) wait_hook_spurious(lock)
#else
#define WAIT_HOOK_SPURIOUS(lock) 0
#endif

/*
 * Takes headship from `head` and hands it straight to the longest waiter, which is out of
 * the line and already head when it wakes, so no newcomer can barge in between. Returns the
 * ticket to wake (after the unlock, with stage_unlock_wake()), or NULL if the stage is now
 * headless. Lock held. Every way out of headship comes here: exit, free, cancellation.
 */
struct exitleft_ticket *wait_exit_locked(struct exitleft_ticket *head)
{
	struct exitleft_stage *stage = head->stage;
	struct exitleft_ticket *next = stage->queue;	/* empty once closed: S13 */

	head->state = TICKET_IDLE;	/* model: wait_exit_locked */
	stage->head = next;
	if (next) {
		DL_DELETE(stage->queue, next);
		next->state = TICKET_HEAD;
	}
	return next;
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
	if (!stage->head) {
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

	t->entered = false;
	if (t->state == TICKET_WAITING) {	/* model: cancelled, waiting --cancel--> idle */
		DL_DELETE(stage->queue, t);
		t->state = TICKET_IDLE;
	} else if (t->state == TICKET_HEAD) {	/* model: cancelled, promoted meanwhile */
		next = wait_exit_locked(t);
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

int exitleft_enter(exitleft_ticket *t, const struct timespec *deadline)
{
	struct exitleft_stage *stage;
	int outcome;

	if (!t || !deadline_ok(deadline))
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);	/* model: step enter */
	if (t->entered || t->state != TICKET_IDLE) {	/* S11 */
		outcome = t->entered ? -EBUSY : -EDEADLK;
		goto out;
	}
	outcome = outcome_idle(t);
	if (outcome)
		goto out;
	if (deadline && deadline_passed(deadline)) {
		outcome = EXITLEFT_TIMEOUT;
		goto out;
	}

	t->state = TICKET_WAITING;	/* model: idle --enter--> waiting */
	t->entered = true;
	DL_APPEND(stage->queue, t);
	pthread_cleanup_push(wait_cancelled, t);
	while (t->state == TICKET_WAITING) {
		/* model: step cond_wait, then cond_woken (signal, deadline, spurious, cancel),
		 * then wait_recheck once the lock is ours again */
		int rc = WAIT_HOOK_SPURIOUS(&stage->lock) ? 0
			 : deadline ? pthread_cond_timedwait(&t->cond, &stage->lock, deadline)
			 : pthread_cond_wait(&t->cond, &stage->lock);
		t->wakes++;
		/* Still waiting after the deadline: nobody changed our state before we took the
		 * lock back, so the timeout wins and we leave the line ourselves. Had a promotion
		 * won, we are head and return HEAD below (S10). Spurious wakes loop. */
		if (rc == ETIMEDOUT && t->state == TICKET_WAITING) {
			DL_DELETE(stage->queue, t);
			t->state = TICKET_IDLE;
			outcome = EXITLEFT_TIMEOUT;
		}
	}
	pthread_cleanup_pop(0);
	t->entered = false;
	if (!outcome)
		outcome = t->state == TICKET_HEAD ? EXITLEFT_HEAD : outcome_idle(t);
out:
	pthread_mutex_unlock(&stage->lock);
	return outcome;
}

int exitleft_exit(exitleft_ticket *t)
{
	struct exitleft_stage *stage;

	if (!t)
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);	/* model: step exit */
	if (t->state != TICKET_HEAD) {
		pthread_mutex_unlock(&stage->lock);
		return -EPERM;
	}
	stage_unlock_wake(stage, wait_exit_locked(t));
	return 0;
}
