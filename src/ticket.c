/*
 * ticket.c - a ticket's life: taking a token, giving it back, and the records behind tickets
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "exitleft-private.h"

#ifdef EXITLEFT_TEST_HOOKS
/* Test builds only: called before a descriptor's write and before a collector's wait. */
void (*ticket_hook_fd)(const char *where);
#define TICKET_HOOK_FD(where) (ticket_hook_fd ? ticket_hook_fd(where) : (void)0)
#else
#define TICKET_HOOK_FD(where) ((void)0)
#endif

/* A record from the spares, or a new one with its condvar initialised; NULL without memory. */
static struct exitleft_ticket *record_get(struct exitleft_stage *stage)
{
	struct exitleft_ticket *t = stage->spares;

	if (t) {
		stage->spares = t->next;
		stage->nspare--;
		return t;
	}
	t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	if (pthread_cond_init(&t->cond, &stage->condattr)) {
		free(t);
		return NULL;
	}
	return t;
}

/*
 * Frees spare records until `keep` are left. Only while no wake is in flight: a waker that
 * left the lock may still signal any record's condvar. Lock held.
 */
void ticket_trim_spares(struct exitleft_stage *stage, size_t keep)
{
	struct exitleft_ticket *t;

	while (stage->nspare > keep) {	/* model: trim */
		t = stage->spares;
		stage->spares = t->next;
		stage->nspare--;
		pthread_cond_destroy(&t->cond);
		free(t);
	}
}

/*
 * Gives a record back to the spares, and trims them back to SPARE_KEEP when no wake is in
 * flight: records parked during a burst of wakes go then. model: record_put
 */
static void record_put(struct exitleft_stage *stage, struct exitleft_ticket *t)
{
	free(t->token_heap);
	t->token_heap = NULL;
	if (stage->last_head == t)
		stage->last_head = NULL;	/* the record may come back as another ticket */
	t->next = stage->spares;
	stage->spares = t;
	stage->nspare++;
	if (stage->nspare > SPARE_KEEP && !stage_wakes_in_flight(stage))
		ticket_trim_spares(stage, SPARE_KEEP);
}

int exitleft_ticket_new(exitleft_stage *stage, const void *token, size_t len,
			exitleft_ticket **ticketp)
{
	struct exitleft_ticket *t;
	unsigned char *key;
	int rc;

	if (!stage || !ticketp || !hash_token_ok(token, len))
		return -EINVAL;
	pthread_mutex_lock(&stage->lock);
	if (stage->closed) {
		rc = -ECANCELED;
		goto out;
	}
	if (hash_find(stage, token, len)) {
		rc = -EEXIST;
		goto out;
	}
	t = record_get(stage);
	if (!t) {
		rc = -ENOMEM;
		goto out;
	}
	t->stage = stage;
	t->prev = t->next = NULL;
	t->mail_first = t->mail_last = NULL;
	t->mail_count = t->mail_limit = 0;
	t->state = TICKET_IDLE;
	t->notified = false;
	t->pending = false;
	t->fd = -1;
#ifdef EXITLEFT_TEST_HOOKS
	t->wakes = 0;
#endif
	t->token_heap = NULL;
	key = t->token_inline;
	if (len > TOKEN_INLINE) {
		key = t->token_heap = malloc(len);
		if (!key) {
			record_put(stage, t);
			rc = -ENOMEM;
			goto out;
		}
	}
	memcpy(key, token, len);
	rc = hash_add(stage, t, key, len);
	if (rc) {
		record_put(stage, t);
		goto out;
	}
	stage->nlive++;
	*ticketp = t;
out:
	pthread_mutex_unlock(&stage->lock);
	return rc;
}

int exitleft_ticket_free(exitleft_ticket *t)
{
	struct exitleft_stage *stage;
	struct exitleft_ticket *next = NULL;

	if (!t)
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);
	if (ticket_busy(t)) {	/* waiting, or woken and not returned yet (S11) */
		pthread_mutex_unlock(&stage->lock);
		return -EBUSY;
	}
	if (t->mail_first) {
		pthread_mutex_unlock(&stage->lock);
		return -ENOTEMPTY;
	}
	/* model: ticket_free */
	if (t->state == TICKET_HEAD)	/* S12: a freed head exits first */
		next = wait_exit_locked(t);
	/* No write to the descriptor can follow: the ticket is not pending, so its last
	 * decision was collected, and that waited for its write (ticket_fd_await(), S26). */
	if (t->fd >= 0) {
		int cancel_state;

		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
		close(t->fd);	/* model: fd_close */
		pthread_setcancelstate(cancel_state, NULL);
		t->fd = -1;
	}
	hash_del(stage, t);
	stage->nlive--;
	record_put(stage, t);
	stage_unlock_wake(stage, next);
	return 0;
}

/*
 * The descriptor of a pending ticket is an eventfd, whose counter goes to 1 when the enter
 * is decided and back to 0 when the outcome is collected, so "readable" and "decided, not
 * collected" are one fact (S26). The decider writes it after the stage's unlock, as the
 * condvars are signalled (stage_unlock_wake()), or under the lock where nothing is gained by
 * waiting (close, a descriptor asked for late); the collector reads it under the lock, and if
 * the write has not landed yet it waits for it (ticket_fd_await()). Systems without eventfd
 * get -ENOSYS from exitleft_ticket_fd(); exitleft_enter_poll() works there all the same.
 *
 * Every system call on the descriptor is a cancellation point, and none may act here: under
 * the lock the thread would die holding it, and a decider cancelled before its write would
 * leave the decision unannounced. So cancellation is off around each of them.
 */
#ifdef __linux__
static int ticket_fd_open(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd >= 0 ? fd : -errno;
}
#else
static int ticket_fd_open(void)
{
	return -ENOSYS;
}
#endif

/* Makes the descriptor `fd` readable, if it is one (fd >= 0). */
void ticket_fd_signal(int fd)
{
	uint64_t one = 1;
	int cancel_state;
	ssize_t n;

	if (fd < 0)
		return;
	TICKET_HOOK_FD("write");
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	/* Cannot fail: the counter is 0 or 1, far from overflowing. */
	n = write(fd, &one, sizeof(one));
	(void)n;
	pthread_setcancelstate(cancel_state, NULL);
}

/*
 * Makes the ticket's descriptor unreadable again. Returns false if it was not readable: the
 * decision's write has not landed yet. Lock held.
 */
bool ticket_fd_drain(struct exitleft_ticket *t)
{
	uint64_t count;
	int cancel_state;
	ssize_t n;

	if (t->fd < 0)
		return true;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	n = read(t->fd, &count, sizeof(count));	/* EAGAIN: not readable */
	pthread_setcancelstate(cancel_state, NULL);
	return n == (ssize_t)sizeof(count);
}

/*
 * Waits, without the lock, until the ticket's descriptor is readable: its enter is decided
 * and the decider, past the stage's unlock, is about to write (stage_unlock_wake()). The
 * ticket stays decided and pending meanwhile, so nobody can free it (S25) and the descriptor
 * stays open. The wait sleeps in poll(), never spins: the decider needs no lock to finish.
 * Lock held on entry and on return. model: the guard of steps poll and cancel
 */
void ticket_fd_await(struct exitleft_ticket *t)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	int cancel_state;

	pthread_mutex_unlock(&t->stage->lock);
	TICKET_HOOK_FD("await");
	/* Not a cancellation point: exitleft_enter_poll() and exitleft_enter_cancel() are not. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	pthread_setcancelstate(cancel_state, NULL);
	pthread_mutex_lock(&t->stage->lock);
}

int exitleft_ticket_fd(exitleft_ticket *t)
{
	struct exitleft_stage *stage;
	int fd;

	if (!t)
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);
	if (t->fd < 0) {
		fd = ticket_fd_open();
		if (fd < 0) {
			pthread_mutex_unlock(&stage->lock);
			return fd;
		}
		t->fd = fd;
		/* Asked for after its pending enter was decided: readable at once (S26). */
		if (t->pending && (t->state == TICKET_WOKEN || t->state == TICKET_PROMOTED))
			ticket_fd_signal(fd);
	}
	fd = t->fd;
	pthread_mutex_unlock(&stage->lock);
	return fd;
}

int exitleft_ticket_limit(exitleft_ticket *t, size_t max_items)
{
	if (!t)
		return -EINVAL;
	pthread_mutex_lock(&t->stage->lock);
	t->mail_limit = max_items;	/* items beyond it stay: S27 */
	pthread_mutex_unlock(&t->stage->lock);
	return 0;
}
