/*
 * udp-bserver.c - the plumbing of exitleft-udp-bench's own servers: datagrams in and out,
 * and the table of peers with a queue each
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-bserver.h"

int bserver_init(struct bserver *s, int fd, atomic_bool *stop)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->stop = stop;
	pthread_mutex_init(&s->lock, NULL);
	return udp_socket_rcvtimeo(fd, BSERVER_POLL_MS);
}

void bserver_fini(struct bserver *s)
{
	pthread_mutex_destroy(&s->lock);
}

struct udp_dgram *bserver_read(int fd, int flags, uint64_t *calls)
{
	char buf[UDP_DGRAM_MAX];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n;

	memset(&ss, 0, sizeof(ss));
	n = recvfrom(fd, buf, sizeof(buf), flags, (struct sockaddr *)&ss, &sl);
	(*calls)++;
	return n < 0 ? NULL : udp_dgram_new(&ss, buf, (size_t)n);
}

void bserver_answer(int fd, struct udp_dgram *d, uint64_t n, bool connected)
{
	char out[UDP_DGRAM_MAX + 24];
	size_t len = udp_echo_answer(n, d->data, d->len, out, sizeof(out));

	if (connected)
		(void)send(fd, out, len, 0);
	else
		(void)sendto(fd, out, len, 0, (const struct sockaddr *)&d->from.ss, d->from.len);
	free(d);
}

void bpeer_push(struct bpeer *p, struct udp_dgram *d)
{
	if (p->first)
		p->last->next = d;
	else
		p->first = d;
	p->last = d;
}

struct udp_dgram *bpeer_pop(struct bpeer *p)
{
	struct udp_dgram *d = p->first;

	if (d)
		p->first = d->next;
	return d;
}

struct bpeer *bserver_peer_find(struct bserver *s, const struct udp_addr *a)
{
	struct bpeer *p;

	HASH_FIND(hh, s->peers, &a->ss, a->len, p);
	return p;
}

struct bpeer *bserver_peer_add(struct bserver *s, const struct udp_addr *a)
{
	struct bpeer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->addr = *a;
	p->srv = s;
	p->fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	HASH_ADD_KEYPTR(hh, s->peers, &p->addr.ss, p->addr.len, p);
	return p;
}

void bserver_join_free(struct bserver *s)
{
	struct bpeer *p, *tmp;
	uint64_t recv_calls = 0;

	/* Join every thread before the table is changed, and walk it under the lock while any
	 * runs: until then a broadcast peer may still file a datagram, and even add a peer
	 * (under the lock), which this loop then joins too. */
	for (;;) {
		struct bpeer *next = NULL;

		pthread_mutex_lock(&s->lock);
		HASH_ITER(hh, s->peers, p, tmp) {
			if (!p->joined) {
				next = p;
				break;
			}
		}
		pthread_mutex_unlock(&s->lock);
		if (!next)
			break;
		pthread_join(next->thread, NULL);
		next->joined = true;
	}
	HASH_ITER(hh, s->peers, p, tmp) {
		HASH_DEL(s->peers, p);
		s->wakes += p->wakes;
		recv_calls += p->recv_calls;
		while (p->first)
			free(bpeer_pop(p));
		if (p->fd >= 0)
			close(p->fd);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
	}
	s->recv_calls += recv_calls;
}
