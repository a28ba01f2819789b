/*
 * udp-dispatcher.c - exitleft-udp-bench's dispatcher server: a thread that only reads the
 * socket and hands each datagram to its peer's queue, waking that peer's thread alone
 *
 * The usual design without a stage: targeted wakes like the stage's, at the cost of one
 * more hop (and one more thread) for every datagram.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "udp-bserver.h"

static void *dp_peer_main(void *arg)
{
	struct bpeer *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!bserver_stopping(p->srv)) {
		struct bdgram *d = bpeer_pop(p);

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

void bserver_run_dispatcher(struct bserver *s)
{
	struct bpeer *p, *tmp;

	while (!bserver_stopping(s)) {
		struct bdgram *d = bserver_read(s->fd, 0, &s->recv_calls);

		if (!d)
			continue;
		s->received++;
		p = bserver_peer_find(s, &d->from);
		if (!p) {
			p = bserver_peer_add(s, &d->from);
			if (!p || pthread_create(&p->thread, NULL, dp_peer_main, p))
				abort();
		}
		pthread_mutex_lock(&p->lock);
		bpeer_push(p, d);
		pthread_mutex_unlock(&p->lock);
		pthread_cond_signal(&p->cond);
	}
	HASH_ITER(hh, s->peers, p, tmp) {
		pthread_mutex_lock(&p->lock);
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	bserver_join_free(s);
}
