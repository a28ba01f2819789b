/*
 * udp-dispatcher.c - exitleft-udp-bench's dispatcher servers: a thread that only reads the
 * socket and hands each datagram to its peer's queue, waking that peer's thread alone
 *
 * The usual design without a stage: targeted wakes like the stage's, at the cost of one
 * more hop (and one more thread) for every datagram. dispatcher reads one datagram a
 * system call; dispatcher-mmsg reads as the stage's head does (udp_batch_recv(): wait for
 * one, take what else is queued, up to UDP_BATCH_MAX), so that the stage's batches are
 * measured against a dispatcher that batches too.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "udp-bserver.h"

static void *dp_peer_main(void *arg)
{
	struct bpeer *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!bserver_stopping(p->srv)) {
		struct udp_dgram *d = bpeer_pop(p);

		if (d) {
			pthread_mutex_unlock(&p->lock);
			bserver_answer(p->srv->fd, d, ++p->answered, false);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		pthread_cond_wait(&p->cond, &p->lock);
		p->wakes++;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Queues d for its peer, starting the peer's thread if it is new, and wakes that thread. */
static void dp_file(struct bserver *s, struct udp_dgram *d)
{
	struct bpeer *p = bserver_peer_find(s, &d->from);

	s->received++;
	if (!p) {
		p = bserver_peer_add(s, &d->from);
		if (!p || pthread_create(&p->thread, NULL, dp_peer_main, p))
			abort();	/* the bench cannot go on with a peer missing */
	}
	pthread_mutex_lock(&p->lock);
	bpeer_push(p, d);
	pthread_mutex_unlock(&p->lock);
	pthread_cond_signal(&p->cond);
}

/* Files what one recvmmsg() reads: every datagram of the batch, in the order received. */
static void dp_read_batch(struct bserver *s, struct udp_batch *b)
{
	int n = udp_batch_recv(b, s->fd);

	s->recv_calls++;
	for (int i = 0; i < n; i++) {
		const struct sockaddr_storage *from;
		size_t len;
		const char *data = udp_batch_get(b, i, &len, &from);
		struct udp_dgram *d = udp_dgram_new(from, data, len);

		if (d)
			dp_file(s, d);
	}
}

void bserver_run_dispatcher(struct bserver *s, bool batch)
{
	struct udp_batch *b = batch ? udp_batch_new() : NULL;
	struct bpeer *p, *tmp;

	if (batch && !b)
		abort();
	while (!bserver_stopping(s)) {
		if (b) {
			dp_read_batch(s, b);
		} else {
			struct udp_dgram *d = bserver_read(s->fd, 0, &s->recv_calls);

			if (d)
				dp_file(s, d);
		}
	}
	udp_batch_free(b);
	HASH_ITER(hh, s->peers, p, tmp) {
		pthread_mutex_lock(&p->lock);
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	bserver_join_free(s);
}
