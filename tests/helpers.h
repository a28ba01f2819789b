/*
 * helpers.h - what the unit tests share: clocks and deadlines, threads that enter in the
 * background, waiting (bounded) for a state, and the few views of a stage's insides that
 * the tests need.
 *
 * Tests link the library's objects directly, so they may read the private structures under
 * the stage's lock to order threads deterministically ("W1 is in line before W2 enters").
 * Every such access is in the section "The library's insides" below, behind a function
 * named after what it tells or does: test bodies call those and never touch a field.
 *
 * No test depends on timing: a thread is never given N milliseconds to reach a state. The
 * tests wait for the state itself (AWAIT, bounded by TEST_PATIENCE_S), or rerun a scenario
 * until the race went the way they need (queue_and_hold_past_deadline).
 */
#ifndef EXITLEFT_TEST_HELPERS_H
#define EXITLEFT_TEST_HELPERS_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <utlist.h>

#include "exitleft-private.h"

/* How long any one wait of a test may take before the test fails instead of hanging. */
#define TEST_PATIENCE_S 20

/* ---- Clocks ------------------------------------------------------------------------- */

static inline struct timespec mono_in_ns(int64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += ts.tv_nsec;
	ts.tv_sec += ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	return ts;
}

static inline struct timespec mono_in_ms(int64_t ms)
{
	return mono_in_ns(ms * 1000000);
}

static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Polls `cond` until it holds; fails the test with the message if it does not within
 * TEST_PATIENCE_S. The polling interval only sets how soon the state is seen. */
#define AWAIT(cond, ...) do {								\
	int64_t give_up_ = mono_ns() + (int64_t)TEST_PATIENCE_S * 1000000000;		\
	while (!(cond)) {								\
		if (mono_ns() > give_up_)						\
			fail_msg(__VA_ARGS__);						\
		sleep_us(200);								\
	}										\
} while (0)

/* ---- Tickets ------------------------------------------------------------------------ */

/* A ticket for the NUL-terminated `name` (the terminator not included). */
static inline exitleft_ticket *ticket_named(exitleft_stage *s, const char *name)
{
	exitleft_ticket *t = NULL;

	assert_int_equal(exitleft_ticket_new(s, name, strlen(name), &t), 0);
	assert_non_null(t);
	return t;
}

/* ---- The library's insides: the only code here that reads or writes private fields --- */

static inline exitleft_stage *stage_of(exitleft_ticket *t)
{
	return t->stage;
}

static inline size_t queue_len(exitleft_stage *s)
{
	struct exitleft_ticket *t;
	size_t n;

	pthread_mutex_lock(&s->lock);
	DL_COUNT(s->queue, t, n);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The i-th waiter in line (0: the longest waiting), or NULL. */
static inline struct exitleft_ticket *queue_at(exitleft_stage *s, size_t i)
{
	struct exitleft_ticket *t, *found = NULL;

	pthread_mutex_lock(&s->lock);
	DL_FOREACH(s->queue, t)
		if (i-- == 0) {
			found = t;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* The most tickets that share one bucket of the stage's token table. Lock held. */
static inline size_t hash_longest_chain(const exitleft_stage *s)
{
	size_t longest = 0;

	if (!s->table)
		return 0;
	const UT_hash_table *tbl = s->table->hh.tbl;
	for (unsigned i = 0; i < tbl->num_buckets; i++)
		if (tbl->buckets[i].count > longest)
			longest = tbl->buckets[i].count;
	return longest;
}

/* How often the ticket's thread came back from a condvar wait. */
static inline unsigned wakes_of(exitleft_ticket *t)
{
	unsigned n;

	pthread_mutex_lock(&t->stage->lock);
	n = t->wakes;
	pthread_mutex_unlock(&t->stage->lock);
	return n;
}

static inline exitleft_ticket *head_of(exitleft_stage *s)
{
	exitleft_ticket *h;

	pthread_mutex_lock(&s->lock);
	h = s->head;
	pthread_mutex_unlock(&s->lock);
	return h;
}

static inline size_t live_tickets(exitleft_stage *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nlive;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Idle: neither in line nor heading, nor on its way out of exitleft_enter(). */
static inline bool is_idle(exitleft_ticket *t)
{
	bool idle;

	pthread_mutex_lock(&t->stage->lock);
	idle = t->state == TICKET_IDLE;
	pthread_mutex_unlock(&t->stage->lock);
	return idle;
}

/* A notification is recorded (a mailbox's items are not counted). */
static inline bool is_notified(exitleft_ticket *t)
{
	bool n;

	pthread_mutex_lock(&t->stage->lock);
	n = t->notified;
	pthread_mutex_unlock(&t->stage->lock);
	return n;
}

static inline bool mailbox_empty(exitleft_ticket *t)
{
	bool empty;

	pthread_mutex_lock(&t->stage->lock);
	empty = t->mail_first == NULL;
	pthread_mutex_unlock(&t->stage->lock);
	return empty;
}

/* The longest chain of the stage's token table (lock taken inside). */
static inline size_t longest_chain(exitleft_stage *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = hash_longest_chain(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The stage's uthash table, to measure its buckets; NULL while it holds no ticket. Only
 * for a stage no other thread uses. */
static inline const UT_hash_table *stage_hash_table(exitleft_stage *s)
{
	return s->table ? s->table->hh.tbl : NULL;
}

static inline bool hash_keys_differ(exitleft_stage *a, exitleft_stage *b)
{
	return memcmp(a->hash_key, b->hash_key, sizeof(a->hash_key)) != 0;
}

/* Spare records the stage keeps for reuse. */
static inline size_t spares_of(exitleft_stage *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nspare;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Wakes issued after an unlock and not finished yet (stage_unlock_wake()). */
static inline unsigned wakes_in_flight(exitleft_stage *s)
{
	return atomic_load(&s->in_flight);
}

/* A wake in flight, as a waker between its unlock and the end of its wake has one; until
 * fake_wake_end(), no record may be handed back to the allocator. */
static inline void fake_wake_begin(exitleft_stage *s)
{
	atomic_fetch_add(&s->in_flight, 1);
}

static inline void fake_wake_end(exitleft_stage *s)
{
	atomic_fetch_sub(&s->in_flight, 1);
}

/* Callers of exitleft_enter() not yet through the stage's lock. */
static inline unsigned arrivals(exitleft_stage *s)
{
	return atomic_load(&s->arriving);
}

/* Takes the stage's lock, as a notifier or a head about to act would, and keeps it until
 * the caller lets go with unlock_stage(), notify_held() or exit_held(). */
static inline void lock_stage(exitleft_stage *s)
{
	pthread_mutex_lock(&s->lock);
}

static inline void unlock_stage(exitleft_stage *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* Whether t[0..n-1] are exactly the line, in that order. Lock held. */
static inline bool line_is_locked(exitleft_stage *s, exitleft_ticket *const *t, size_t n)
{
	exitleft_ticket *w;
	size_t i = 0;

	DL_FOREACH(s->queue, w)
		if (i >= n || w != t[i++] || w->state != TICKET_WAITING)
			return false;
	return i == n;
}

/* Notifies the waiting `w` exactly as exitleft_notify() does, but leaves the signal out.
 * Lock held. */
static inline void notify_quietly_locked(exitleft_ticket *w)
{
	assert_int_equal(w->state, TICKET_WAITING);
	w->notified = true;
	DL_DELETE(w->stage->queue, w);
	w->state = TICKET_WOKEN;
}

/* Notifies the waiting `w` without waking its thread: it is taken out of line, but still
 * inside exitleft_enter() until late_signal(). */
static inline void notify_unsignalled(exitleft_ticket *w)
{
	lock_stage(w->stage);
	notify_quietly_locked(w);
	unlock_stage(w->stage);
}

/* With the lock held by lock_stage(): notifies the waiting `w` as exitleft_notify() does,
 * releasing the lock and waking it. */
static inline void notify_held(exitleft_ticket *w)
{
	notify_quietly_locked(w);
	stage_unlock_wake(w->stage, w);
}

/* The head `h` exits as exitleft_exit() does but does not wake the ticket it promotes,
 * which is returned (NULL: nobody waited): its thread still sleeps until late_signal(). */
static inline exitleft_ticket *exit_unsignalled(exitleft_ticket *h)
{
	exitleft_ticket *next;

	lock_stage(h->stage);
	next = wait_exit_locked(h);
	unlock_stage(h->stage);
	return next;
}

/* With the lock held by lock_stage(): the head `h` exits as exitleft_exit() does,
 * releasing the lock and waking the ticket it promotes, which is returned. */
static inline exitleft_ticket *exit_held(exitleft_ticket *h)
{
	exitleft_ticket *next = wait_exit_locked(h);

	stage_unlock_wake(h->stage, next);
	return next;
}

/* The wake-up that notify_unsignalled() or exit_unsignalled() left out, arriving late. */
static inline void late_signal(exitleft_ticket *t)
{
	lock_stage(t->stage);
	pthread_cond_signal(&t->cond);
	unlock_stage(t->stage);
}

/* Not stuck: whenever anyone waits in line, someone heads. */
static inline bool someone_heads_if_anyone_waits(exitleft_stage *s)
{
	bool ok;

	lock_stage(s);
	ok = !s->queue || s->head;
	unlock_stage(s);
	return ok;
}

/* Whether `fd` is readable now (poll with no wait). */
static inline bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The descriptor of `t` as the library keeps it: -1 until exitleft_ticket_fd(). */
static inline int fd_of(exitleft_ticket *t)
{
	int fd;

	pthread_mutex_lock(&t->stage->lock);
	fd = t->fd;
	pthread_mutex_unlock(&t->stage->lock);
	return fd;
}

/* Checks every invariant stated above struct exitleft_stage; lock taken inside. */
static inline void check_stage(exitleft_stage *s)
{
	struct exitleft_ticket *t, *tmp;
	size_t live = 0, heads = 0, waiting = 0, queued = 0;

	pthread_mutex_lock(&s->lock);
	HASH_ITER(hh, s->table, t, tmp) {
		live++;
		assert_ptr_equal(t->stage, s);
		heads += t->state == TICKET_HEAD || t->state == TICKET_PROMOTED;
		waiting += t->state == TICKET_WAITING;
		if (t->state == TICKET_HEAD || t->state == TICKET_PROMOTED)
			assert_ptr_equal(s->head, t);
		/* S26: pending only while in enter, its descriptor readable only while the
		 * pending enter is decided and not collected. A decided one may not be readable
		 * yet: its waker writes just after its unlock, and a collector waits for that. */
		assert_true(!t->pending || t->state >= TICKET_WAITING);
		if (t->fd >= 0 && fd_readable(t->fd))
			assert_true(t->pending && t->state != TICKET_WAITING);
	}
	DL_FOREACH(s->queue, t) {
		queued++;
		assert_int_equal(t->state, TICKET_WAITING);
	}
	assert_int_equal(live, s->nlive);
	assert_true(heads <= 1);
	assert_int_equal(heads, s->head != NULL);
	assert_int_equal(waiting, queued);
	/* A waiter on a headless stage: the last head deferring to callers before the lock. */
	assert_true(queued == 0 || s->head != NULL ||
		    (queued == 1 && s->queue == s->last_head && atomic_load(&s->arriving) > 0));
	assert_true(queued == 0 || !s->closed);
	pthread_mutex_unlock(&s->lock);
}

/* ---- Waiting for a state ------------------------------------------------------------ */

static inline void await_queue_len(exitleft_stage *s, size_t n)
{
	AWAIT(queue_len(s) == n, "line never reached %zu waiters (has %zu)", n, queue_len(s));
}

/* Until `n` callers of exitleft_enter() are blocked before the stage's lock. */
static inline void await_arrivals(exitleft_stage *s, unsigned n)
{
	AWAIT(arrivals(s) == n, "never %u callers at the lock (has %u)", n, arrivals(s));
}

/* ---- Threads that enter in the background ------------------------------------------- */

/* A thread that calls exitleft_enter() once in the background. */
struct entrant {
	exitleft_ticket *ticket;
	struct timespec deadline;
	int has_deadline;
	int rc;
	bool started;		/* started and not yet collected */
	pthread_t thread;
	sem_t done;
};

static void *entrant_main(void *arg)
{
	struct entrant *e = arg;

	e->rc = exitleft_enter(e->ticket, e->has_deadline ? &e->deadline : NULL);
	sem_post(&e->done);
	return NULL;
}

static inline void entrant_start(struct entrant *e, exitleft_ticket *t,
				 const struct timespec *deadline)
{
	e->ticket = t;
	e->has_deadline = deadline != NULL;
	if (deadline)
		e->deadline = *deadline;
	e->rc = 0;
	assert_int_equal(sem_init(&e->done, 0, 0), 0);
	assert_int_equal(pthread_create(&e->thread, NULL, entrant_main, e), 0);
	e->started = true;
}

/* Starts an entrant without a deadline and waits until it is in line as the `pos`-th
 * waiter. */
static inline void entrant_queue(struct entrant *e, exitleft_ticket *t, size_t pos)
{
	entrant_start(e, t, NULL);
	await_queue_len(stage_of(t), pos + 1);
	assert_ptr_equal(queue_at(stage_of(t), pos), t);
}

static inline int entrant_finished(struct entrant *e)
{
	if (sem_trywait(&e->done) == 0) {
		sem_post(&e->done);
		return 1;
	}
	return 0;
}

/* The entrant's outcome, waiting (bounded) for it. */
static inline int entrant_result(struct entrant *e)
{
	struct timespec limit;

	assert_true(e->started);
	clock_gettime(CLOCK_REALTIME, &limit);	/* sem_timedwait counts on the wall clock */
	limit.tv_sec += TEST_PATIENCE_S;
	while (sem_timedwait(&e->done, &limit) != 0)
		if (errno != EINTR)
			fail_msg("entrant did not return");
	pthread_join(e->thread, NULL);
	sem_destroy(&e->done);
	e->started = false;
	return e->rc;
}

/* Cancels the entrant's thread wherever it is and joins it: PTHREAD_CANCELED, or NULL if
 * it had returned already. */
static inline void *entrant_cancel(struct entrant *e)
{
	void *ret;

	assert_true(e->started);
	assert_int_equal(pthread_cancel(e->thread), 0);
	pthread_join(e->thread, &ret);
	sem_destroy(&e->done);
	e->started = false;
	return ret;
}

/*
 * Puts t[0..n-1] in line behind the head, in that order, each entering (in e[i]) with the
 * same deadline, then takes the stage's lock and keeps it until that deadline has passed:
 * every timed wait has timed out, yet none of the waiters can act on it before the caller
 * lets go of the lock (unlock_stage, notify_held, exit_held).
 *
 * A loaded machine may keep a thread from reaching the line before its deadline. Then the
 * round is collected (every entrant times out: nobody else acts on the stage) and run again
 * with a deadline twice as far, so the test never depends on how soon a thread gets in
 * line. Only a thread that never gets in line within many seconds fails the test.
 */
static inline void queue_and_hold_past_deadline(exitleft_stage *s, exitleft_ticket *const *t,
						struct entrant *e, size_t n)
{
	int64_t budget_ms = 50;

	for (int round = 0; round < 9; round++, budget_ms *= 2) {
		struct timespec d = mono_in_ms(budget_ms);
		size_t i;

		for (i = 0; i < n; i++) {
			entrant_start(&e[i], t[i], &d);
			AWAIT(queue_len(s) >= i + 1 || entrant_finished(&e[i]),
			      "waiter %zu neither got in line nor returned", i);
			if (entrant_finished(&e[i]))
				break;
		}
		if (i == n) {
			lock_stage(s);
			while (mono_ns() < ns_of(d) + 20000000)
				sleep_us(1000);
			if (line_is_locked(s, t, n))
				return;
			unlock_stage(s);
		}
		for (size_t j = 0; j < n && j <= i; j++)	/* the ones started */
			assert_int_equal(entrant_result(&e[j]), EXITLEFT_TIMEOUT);
		print_message("%zu waiters were not all in line within %lld ms: again\n", n,
			      (long long)budget_ms);
	}
	fail_msg("%zu waiters never all got in line before a deadline", n);
}

#endif
