/*
 * helpers.h - what the unit tests share: threads that enter in the background, waiting for
 * the line to reach a length, deadlines, and a consistency check of a stage's insides.
 *
 * Tests link the library's objects directly, so they may read the private structures under
 * the stage's lock to order threads deterministically ("W1 is in line before W2 enters").
 */
#ifndef EXITLEFT_TEST_HELPERS_H
#define EXITLEFT_TEST_HELPERS_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
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

static inline void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* A ticket for the NUL-terminated `name` (the terminator not included). */
static inline exitleft_ticket *ticket_named(exitleft_stage *s, const char *name)
{
	exitleft_ticket *t = NULL;

	assert_int_equal(exitleft_ticket_new(s, name, strlen(name), &t), 0);
	assert_non_null(t);
	return t;
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

static inline unsigned wakes_of(exitleft_ticket *t)
{
	unsigned n;

	pthread_mutex_lock(&t->stage->lock);
	n = t->wakes;
	pthread_mutex_unlock(&t->stage->lock);
	return n;
}

/* Waits (bounded) until `n` tickets are in line. */
static inline void await_queue_len(exitleft_stage *s, size_t n)
{
	int64_t give_up = mono_ns() + (int64_t)TEST_PATIENCE_S * 1000000000;

	while (queue_len(s) != n) {
		if (mono_ns() > give_up)
			fail_msg("line never reached %zu waiters (has %zu)", n, queue_len(s));
		sleep_us(200);
	}
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

/* A thread that calls exitleft_enter() once in the background. */
struct entrant {
	exitleft_ticket *ticket;
	struct timespec deadline;
	int has_deadline;
	int rc;
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
}

/* Starts an entrant and waits until it is in line as the `pos`-th waiter. */
static inline void entrant_queue(struct entrant *e, exitleft_ticket *t, size_t pos)
{
	entrant_start(e, t, NULL);
	await_queue_len(t->stage, pos + 1);
	assert_ptr_equal(queue_at(t->stage, pos), t);
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

	clock_gettime(CLOCK_REALTIME, &limit);	/* sem_timedwait counts on the wall clock */
	limit.tv_sec += TEST_PATIENCE_S;
	while (sem_timedwait(&e->done, &limit) != 0)
		if (errno != EINTR)
			fail_msg("entrant did not return");
	pthread_join(e->thread, NULL);
	sem_destroy(&e->done);
	return e->rc;
}

#endif
