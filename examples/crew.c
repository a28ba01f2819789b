/*
 * crew.c - the threads of a server on a stage and its listener
 *
 * Every count moves under the crew's lock, and a thread is joined without it: a member still
 * running at shutdown needs the lock to say it is done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "crew.h"

int crew_init(struct crew *c, unsigned max, crew_reaped_fn *reaped, void *ctx)
{
	pthread_condattr_t cattr;
	int rc;

	memset(c, 0, sizeof(*c));
	c->max = max;
	c->reaped = reaped;
	c->ctx = ctx;
	rc = pthread_condattr_init(&cattr);
	if (rc)
		return -rc;
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);	/* udp_deadline_ms() */
	rc = pthread_cond_init(&c->nobody_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	if (rc)
		return -rc;
	rc = pthread_mutex_init(&c->lock, NULL);
	if (rc) {
		pthread_cond_destroy(&c->nobody_cond);
		return -rc;
	}
	return 0;
}

void crew_fini(struct crew *c)
{
	pthread_cond_destroy(&c->nobody_cond);
	pthread_mutex_destroy(&c->lock);
}

bool crew_reserve(struct crew *c)
{
	bool room;

	pthread_mutex_lock(&c->lock);
	room = c->nlive < c->max;
	if (room) {
		c->nlive++;
		c->npending++;
		if (c->nlive > c->most)
			c->most = c->nlive;
	}
	pthread_mutex_unlock(&c->lock);
	return room;
}

/* A member is no longer alive; lock held. */
static void crew_leave(struct crew *c)
{
	if (--c->nlive == 0)
		pthread_cond_signal(&c->nobody_cond);
}

void crew_unreserve(struct crew *c)
{
	pthread_mutex_lock(&c->lock);
	crew_leave(c);
	c->npending--;
	pthread_mutex_unlock(&c->lock);
}

int crew_start(struct crew *c, struct crew_member *m, size_t stack_size,
	       void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int rc;

	m->done = false;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, stack_size);
	rc = pthread_create(&m->thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (rc)
		return -rc;
	/* Listed only once m->thread is set: a shutdown joins whatever is on the list. The
	 * thread may be done already; npending keeps crew_join_all() waiting until then. */
	pthread_mutex_lock(&c->lock);
	m->next = c->members;
	c->members = m;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void crew_done(struct crew *c, struct crew_member *m)
{
	pthread_mutex_lock(&c->lock);
	crew_leave(c);
	m->done = true;
	pthread_mutex_unlock(&c->lock);
}

bool crew_alive(struct crew *c)
{
	bool alive;

	pthread_mutex_lock(&c->lock);
	alive = c->nlive > 0;
	pthread_mutex_unlock(&c->lock);
	return alive;
}

unsigned crew_reap(struct crew *c, bool all)
{
	struct crew_member **pp, *m, *ready = NULL;
	unsigned left, joined = 0;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->members; (m = *pp);) {
		if (m->done || all) {
			*pp = m->next;
			m->next = ready;
			ready = m;
		} else {
			pp = &m->next;
		}
	}
	pthread_mutex_unlock(&c->lock);
	while ((m = ready)) {
		ready = m->next;	/* before `reaped` frees m */
		pthread_join(m->thread, NULL);
		c->reaped(c->ctx, m);
		joined++;
	}
	pthread_mutex_lock(&c->lock);
	c->npending -= joined;
	left = c->npending;
	pthread_mutex_unlock(&c->lock);
	return left;
}

/* Waits (at most nap_ms) while members are alive to head the stage themselves. */
static void crew_nap(struct crew *c, unsigned nap_ms, struct udp_stop *stop)
{
	struct timespec deadline;

	udp_deadline_ms(&deadline, nap_ms);
	pthread_mutex_lock(&c->lock);
	while (c->nlive > 0 && !udp_stopping(stop)) {
		if (pthread_cond_timedwait(&c->nobody_cond, &c->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&c->lock);
}

void crew_listen(struct crew *c, exitleft_ticket *listener, unsigned nap_ms,
		 struct udp_stop *stop, void (*head)(void *ctx))
{
	while (!udp_stopping(stop)) {
		struct timespec deadline;
		int rc;

		crew_nap(c, nap_ms, stop);
		crew_reap(c, false);
		if (crew_alive(c))
			continue;
		udp_deadline_ms(&deadline, nap_ms);
		rc = exitleft_enter(listener, &deadline);
		if (rc == EXITLEFT_HEAD) {
			head(c->ctx);
			exitleft_exit(listener);
		} else if (rc == EXITLEFT_CLOSED || rc < 0) {
			break;
		}
	}
}

void crew_join_all(struct crew *c)
{
	while (crew_reap(c, true) > 0) {
		struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000L };

		/* A head may be starting a thread right now; it is on the list in a moment. */
		nanosleep(&ms, NULL);
	}
}
