/*
 * udp-broadcast.c - exitleft-udp-bench's broadcast server: the stage's leader/followers
 * turns, built on one mutex and one condvar
 *
 * One thread at a time reads the socket (reading is its flag). A datagram for the reader's
 * own peer is answered at once; any other is filed in its peer's queue and the reader
 * broadcasts, so every waiting thread wakes to look for its own: the herd the stage avoids.
 * When the reader stops reading, it broadcasts again so that one waiter takes over.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include "udp-bserver.h"

static void *bc_peer_main(void *arg);

/* Files d with its peer (starting a thread for a new one) and wakes everybody. Lock held. */
static void bc_file(struct bserver *s, struct udp_dgram *d)
{
	struct bpeer *p = bserver_peer_find(s, &d->from);

	s->received++;
	if (!p) {
		p = bserver_peer_add(s, &d->from);
		if (!p || pthread_create(&p->thread, NULL, bc_peer_main, p)) {
			abort();	/* the bench cannot go on with a peer missing */
		}
	}
	bpeer_push(p, d);
	pthread_cond_broadcast(&s->cond);
}

/* Reads as the reader until a datagram of `own` arrives (returned) or the socket is quiet. */
static struct udp_dgram *bc_read(struct bserver *s, const struct udp_addr *own)
{
	struct udp_dgram *d;

	while (!bserver_stopping(s) && (d = bserver_read(s->fd, 0, &s->recv_calls))) {
		if (own && udp_addr_equal(own, &d->from)) {
			pthread_mutex_lock(&s->lock);
			s->received++;
			pthread_mutex_unlock(&s->lock);
			return d;
		}
		pthread_mutex_lock(&s->lock);
		bc_file(s, d);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void *bc_peer_main(void *arg)
{
	struct bpeer *p = arg;
	struct bserver *s = p->srv;

	pthread_mutex_lock(&s->lock);
	while (!bserver_stopping(s)) {
		struct udp_dgram *d = bpeer_pop(p);

		if (!d && !s->reading) {
			s->reading = true;
			pthread_mutex_unlock(&s->lock);
			d = bc_read(s, &p->addr);
			pthread_mutex_lock(&s->lock);
			s->reading = false;
			pthread_cond_broadcast(&s->cond);	/* somebody else read now */
		}
		if (d) {
			pthread_mutex_unlock(&s->lock);
			bserver_answer(s->fd, d, ++p->answered, false);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (s->reading) {
			struct timespec deadline;

			udp_deadline_ms(&deadline, BSERVER_POLL_MS);
			pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
			p->wakes++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void bserver_run_broadcast(struct bserver *s)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The calling thread reads until the first peer thread exists to take turns. */
	while (!bserver_stopping(s)) {
		struct udp_dgram *d;
		bool anyone;

		pthread_mutex_lock(&s->lock);
		anyone = s->peers != NULL;
		if (!anyone)
			s->reading = true;
		pthread_mutex_unlock(&s->lock);
		if (anyone) {
			struct timespec ms = { .tv_nsec = BSERVER_POLL_MS * 1000000L };

			nanosleep(&ms, NULL);
			continue;
		}
		d = bserver_read(s->fd, 0, &s->recv_calls);
		pthread_mutex_lock(&s->lock);
		if (d)
			bc_file(s, d);
		s->reading = false;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	bserver_join_free(s);
	pthread_cond_destroy(&s->cond);
}
