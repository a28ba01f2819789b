/*
 * mc-broadcast.c - exitleft-mc-bench's broadcast client: the stage's leader/followers turns,
 * built on one mutex and one condvar
 *
 * One waiting requester at a time reads the socket (reading is its flag), with the lock
 * dropped while it reads. It files every reply it reads in its requester's slot, its own
 * included, and broadcasts, so every waiting requester wakes to look at its slot, and one
 * of them takes over the reading if the reader has its own reply: the herd the stage
 * avoids. A read that ends in the socket's receive timeout broadcasts as well: every read
 * ends with the reading free and every waiter told, so the reading never stops while
 * somebody waits, and a reader whose own deadline passed can leave.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>

#include "mc-bclient.h"

/*
 * Reads one datagram (or waits out the receive timeout) as the reader, files it, and wakes
 * everybody. Lock held; dropped while reading.
 */
static void bc_read(struct mcb_client *c)
{
	uint8_t buf[MC_DGRAM_MAX];
	struct mcb_slot *s;
	ssize_t n;
	uint16_t id;

	c->reading = true;
	pthread_mutex_unlock(&c->lock);
	n = recv(c->fd, buf, sizeof(buf), 0);
	pthread_mutex_lock(&c->lock);
	c->reading = false;
	if (n >= 0) {
		s = mcb_slot_of(c, buf, (size_t)n, &id);
		if (!s || !mcb_slot_fill(s, id, buf, (size_t)n))
			c->stray++;
	}
	/* Whoever's reply it was, and whoever reads next: every waiter looks. */
	pthread_cond_broadcast(&c->cond);
}

int mcb_broadcast_exchange(struct mcb_client *c, struct mcb_slot *s, uint16_t id,
			   const uint8_t *req, size_t n, const struct timespec *deadline)
{
	int rc = 0;

	/* Armed before the send: the reply may reach the reader before send() returns. */
	pthread_mutex_lock(&c->lock);
	mcb_slot_arm(s, id);
	pthread_mutex_unlock(&c->lock);
	if (send(c->fd, req, n, 0) < 0)
		rc = -errno;
	pthread_mutex_lock(&c->lock);
	while (!rc && !s->filled) {
		if (mcb_past(deadline))
			rc = -ETIMEDOUT;
		else if (!c->reading)
			bc_read(c);
		else
			pthread_cond_timedwait(&c->cond, &c->lock, deadline);
	}
	/* From here a late reply is a stray. */
	s->waiting = false;
	pthread_mutex_unlock(&c->lock);
	return rc;
}
