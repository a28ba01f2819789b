/*
 * mc-bclient.c - the plumbing of exitleft-mc-bench's own memcached clients: sockets, request
 * ids, slots, and a GET's reply read
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mc-bclient.h"
#include "udp-common.h"

/* A UDP socket connected to server, with the receive timeout MCB_POLL_MS; -errno. */
static int mcb_socket(const struct sockaddr_in *server)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)server, sizeof(*server)) < 0)
		rc = -errno;
	else
		rc = udp_socket_rcvtimeo(fd, MCB_POLL_MS);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* A condvar whose timed waits run on CLOCK_MONOTONIC, the clock of every deadline here. */
static void mcb_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* The sockets of c, and the dispatcher's reader; -errno. */
static int mcb_connect(struct mcb_client *c, const struct sockaddr_in *server)
{
	if (c->impl == IMPL_PER_THREAD) {
		for (unsigned i = 0; i < c->nslots; i++) {
			c->slots[i].fd = mcb_socket(server);
			if (c->slots[i].fd < 0)
				return c->slots[i].fd;
		}
		return 0;
	}
	c->fd = mcb_socket(server);
	if (c->fd < 0)
		return c->fd;
	return c->impl == IMPL_DISPATCHER ? mcb_dispatcher_start(c) : 0;
}

int mcb_open(struct mcb_client *c, enum impl impl, const struct sockaddr_in *server,
	     unsigned requesters)
{
	int rc;

	if (requesters < 1 || requesters > MCB_MAX_REQUESTERS ||
	    (impl != IMPL_DISPATCHER && impl != IMPL_PER_THREAD && impl != IMPL_BROADCAST))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->impl = impl;
	c->fd = -1;
	c->nslots = requesters;
	c->range = MCB_IDS / requesters;
	c->slots = calloc(requesters, sizeof(*c->slots));
	if (!c->slots)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	mcb_cond_init(&c->cond);
	atomic_init(&c->stop, false);
	for (unsigned i = 0; i < requesters; i++) {
		struct mcb_slot *s = &c->slots[i];

		pthread_mutex_init(&s->lock, NULL);
		mcb_cond_init(&s->cond);
		s->base = i * c->range;
		s->fd = -1;
	}
	rc = mcb_connect(c, server);
	if (rc)
		mcb_close(c);	/* it undoes whatever was made */
	return rc;
}

void mcb_close(struct mcb_client *c)
{
	if (c->reader_running)
		mcb_dispatcher_stop(c);
	if (c->fd >= 0)
		close(c->fd);
	for (unsigned i = 0; i < c->nslots; i++) {
		struct mcb_slot *s = &c->slots[i];

		if (s->fd >= 0)
			close(s->fd);
		c->stray += s->stray;
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
	}
	free(c->slots);
	c->slots = NULL;
	c->nslots = 0;
	c->fd = -1;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

/* The value in the reply to "get key", as mc_get() gives it. */
static int mcb_take(const struct mcb_slot *s, const char *key, void *buf, size_t cap,
		    size_t *len)
{
	const uint8_t *val;
	size_t vlen;
	int rc = mc_parse_get(s->reply, s->len, key, &val, &vlen);

	if (rc != 1)
		return rc;
	if (vlen > cap)
		return -EMSGSIZE;
	memcpy(buf, val, vlen);
	*len = vlen;
	return 1;
}

int mcb_get(struct mcb_client *c, unsigned who, const char *key, void *buf, size_t cap,
	    size_t *len, unsigned timeout_ms)
{
	struct mcb_slot *s = &c->slots[who];
	uint8_t req[MC_DGRAM_MAX];
	uint16_t id = (uint16_t)(s->base + s->seq++ % c->range);
	size_t n = mc_build_get(req, sizeof(req), id, key);
	struct timespec deadline;
	int rc;

	if (!n)
		return -EINVAL;
	udp_deadline_ms(&deadline, timeout_ms);
	switch (c->impl) {
	case IMPL_DISPATCHER:
		rc = mcb_dispatcher_exchange(c, s, id, req, n, &deadline);
		break;
	case IMPL_PER_THREAD:
		rc = mcb_per_thread_exchange(c, s, id, req, n, &deadline);
		break;
	default:
		rc = mcb_broadcast_exchange(c, s, id, req, n, &deadline);
		break;
	}
	return rc ? rc : mcb_take(s, key, buf, cap, len);
}

void mcb_slot_arm(struct mcb_slot *s, uint16_t id)
{
	s->want = id;
	s->filled = false;
	s->waiting = true;
}

struct mcb_slot *mcb_slot_of(struct mcb_client *c, const uint8_t *d, size_t n, uint16_t *id)
{
	unsigned who;

	if (!mc_reply_id(d, n, id))
		return NULL;
	who = *id / c->range;
	return who < c->nslots ? &c->slots[who] : NULL;
}

bool mcb_slot_fill(struct mcb_slot *s, uint16_t id, const uint8_t *d, size_t n)
{
	if (!s->waiting || s->filled || s->want != id || n > sizeof(s->reply))
		return false;
	memcpy(s->reply, d, n);
	s->len = n;
	s->filled = true;
	return true;
}

bool mcb_past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}
