/*
 * stage.c - a stage's life: creation, close, destruction, the one way to wake a waiter, and
 * its counters
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "exitleft-private.h"

int exitleft_stage_new(exitleft_stage **stagep)
{
	struct exitleft_stage *stage;
	int rc;

	if (!stagep)
		return -EINVAL;
	stage = calloc(1, sizeof(*stage));
	if (!stage)
		return -ENOMEM;
	rc = pthread_condattr_init(&stage->condattr);
	if (rc)
		goto fail_free;
	/* S17: deadlines are on CLOCK_MONOTONIC; setting the wall clock changes no wait. */
	rc = pthread_condattr_setclock(&stage->condattr, CLOCK_MONOTONIC);
	if (rc)
		goto fail_attr;
	rc = pthread_cond_init(&stage->drained, NULL);
	if (rc)
		goto fail_attr;
	rc = pthread_mutex_init(&stage->lock, NULL);
	if (rc)
		goto fail_cond;
	atomic_init(&stage->in_flight, 0);
	atomic_init(&stage->arriving, 0);
	hash_seed(stage->hash_key);
	*stagep = stage;
	return 0;

fail_cond:
	pthread_cond_destroy(&stage->drained);
fail_attr:
	pthread_condattr_destroy(&stage->condattr);
fail_free:
	free(stage);
	return -rc;
}

/*
 * Releases the stage's lock, then wakes `wake` (if not NULL): a thread through its condvar,
 * a pending ticket through its descriptor, if it has one. Both after the unlock, so that
 * the woken thread takes the lock at once instead of blocking on it.
 *
 * But the waker then acts without the lock. By the time it signals, the woken thread may
 * have returned and freed its ticket. in_flight, raised while the lock is still held, tells
 * exitleft_ticket_free() and exitleft_stage_free() that a record may still be touched; they
 * keep records (and the stage) alive until it drops. A descriptor needs no such count: its
 * number is read under the lock, and the outcome it announces is collected only once the
 * write has landed (enter_settle() waits for it), so the ticket, and with it the
 * descriptor, cannot be freed before the write is made (S26).
 */
void stage_unlock_wake(struct exitleft_stage *stage, struct exitleft_ticket *wake)
{
	unsigned n;

	if (wake && wake->pending) {
		int fd = wake->fd;	/* model: wake_raise, for a pending ticket */

		pthread_mutex_unlock(&stage->lock);
		ticket_fd_signal(fd);	/* model: step wake_fd */
		return;
	}
	if (!wake) {
		pthread_mutex_unlock(&stage->lock);
		return;
	}
	/* Relaxed is enough: whoever reads in_flight takes the lock first, and our unlock
	 * below publishes this increment to it. model: wake_raise */
	atomic_fetch_add_explicit(&stage->in_flight, 1, memory_order_relaxed);
	pthread_mutex_unlock(&stage->lock);
	pthread_cond_signal(&wake->cond);	/* model: step wake_signal */
	/* Release: our use of wake->cond happens before a reader that sees the drop
	 * (acquire) destroys it. The compare-and-swap fails, and we go on below, once
	 * exitleft_stage_free() has marked the count: it may be asleep waiting for our drop.
	 * model: wake_done */
	n = atomic_load_explicit(&stage->in_flight, memory_order_relaxed);
	while (!(n & IN_FLIGHT_DRAINING))
		if (atomic_compare_exchange_weak_explicit(&stage->in_flight, &n, n - 1,
							  memory_order_release,
							  memory_order_relaxed))
			return;
	/* The freer reads the count under the lock, so it cannot see our drop before we
	 * have signalled it; it frees the stage only after taking the lock from us. */
	pthread_mutex_lock(&stage->lock);
	if (atomic_fetch_sub_explicit(&stage->in_flight, 1, memory_order_relaxed) ==
	    (IN_FLIGHT_DRAINING | 1))
		pthread_cond_signal(&stage->drained);
	pthread_mutex_unlock(&stage->lock);
}

/* Whether a waker that left the lock may still touch a record's condvar. Lock held. */
bool stage_wakes_in_flight(struct exitleft_stage *stage)
{
	/* Acquire pairs with the release in stage_unlock_wake(): a zero means every waker
	 * that left the lock has finished with its record's condvar. */
	return atomic_load_explicit(&stage->in_flight, memory_order_acquire) &
	       ~IN_FLIGHT_DRAINING;
}

int exitleft_stage_close(exitleft_stage *stage)
{
	struct exitleft_ticket *t, *tmp;

	if (!stage)
		return -EINVAL;
	pthread_mutex_lock(&stage->lock);	/* model: closer */
	stage->closed = true;
	/* Close is rare and wakes everyone: signal under the lock, which keeps every record
	 * alive without the in_flight dance. Each woken thread (or pending enter) finds its
	 * ticket woken on a closed stage: EXITLEFT_CLOSED, or EXITLEFT_TOKEN if notified. */
	DL_FOREACH_SAFE(stage->queue, t, tmp) {
		DL_DELETE(stage->queue, t);
		t->state = TICKET_WOKEN;
		if (t->pending)
			ticket_fd_signal(t->fd);
		else
			pthread_cond_signal(&t->cond);
	}
	pthread_mutex_unlock(&stage->lock);
	return 0;
}

int exitleft_stage_free(exitleft_stage *stage)
{
	int cancel_state;

	if (!stage)
		return -EINVAL;
	pthread_mutex_lock(&stage->lock);
	if (stage->nlive) {
		pthread_mutex_unlock(&stage->lock);
		return -EBUSY;
	}
	/* A notifier may still be between its unlock and its signal (stage_unlock_wake): sleep
	 * until the last one signals `drained`. Never spin here: under SCHED_FIFO a freer of
	 * higher priority than that notifier would never let it run. model: stage_free */
	atomic_fetch_or_explicit(&stage->in_flight, IN_FLIGHT_DRAINING, memory_order_acq_rel);
	/* Not a cancellation point: a cancelled freer would leave with the lock held. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	while (atomic_load_explicit(&stage->in_flight, memory_order_acquire) != IN_FLIGHT_DRAINING)
		pthread_cond_wait(&stage->drained, &stage->lock);
	pthread_setcancelstate(cancel_state, NULL);
	ticket_trim_spares(stage, 0);
	pthread_mutex_unlock(&stage->lock);
	/* The last waker released the lock to us and touches the stage no more: destroying
	 * the mutex now is the pattern POSIX allows (pthread_mutex_destroy's rationale). */
	pthread_mutex_destroy(&stage->lock);
	pthread_cond_destroy(&stage->drained);
	pthread_condattr_destroy(&stage->condattr);
	free(stage);
	return 0;
}

int exitleft_stage_stats(const exitleft_stage *stage, struct exitleft_stats *stats, size_t size)
{
	pthread_mutex_t *lock;
	struct exitleft_stats now;
	struct exitleft_ticket *t;
	size_t n;

	if (!stage || !stats || !size)
		return -EINVAL;
	/* The lock is the only thing a snapshot writes to. Casting const away from it is
	 * sound: every stage comes from exitleft_stage_new()'s calloc, never from an object
	 * defined const. The const in the signature tells callers, such as a monitor that
	 * holds a const pointer, that the stage is not changed. */
	lock = (pthread_mutex_t *)&stage->lock;
	pthread_mutex_lock(lock);
	/* Counting the line walks it, but only here: keeping a count would cost every enter,
	 * notify, timeout and close one more update for a figure only this call reads. */
	DL_COUNT(stage->queue, t, n);
	now = (struct exitleft_stats){
		.tickets = stage->nlive,
		.waiters = n,
		.heads = stage->counts.heads,
		.notify_delivered = stage->counts.notify_delivered,
		.notify_recorded = stage->counts.notify_recorded,
		.notify_unowned = stage->counts.notify_unowned,
		.timeouts = stage->counts.timeouts,
		.closes = stage->counts.closes,
	};
	pthread_mutex_unlock(lock);
	/* Size-versioned: a caller built against an older, shorter struct gets its prefix; one
	 * built against a longer one gets zeroes for the fields this library does not know. */
	n = size < sizeof(now) ? size : sizeof(now);
	memcpy(stats, &now, n);
	memset((unsigned char *)stats + n, 0, size - n);
	return (int)n;
}
