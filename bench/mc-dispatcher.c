/*
 * mc-dispatcher.c - exitleft-mc-bench's dispatcher client: a thread that only reads the
 * socket and files each reply in its requester's slot, waking that requester alone
 *
 * The usual design without a stage: targeted wakes like the stage's, at the cost of one
 * more hop (and one more thread) for every reply: the kernel wakes the reader, the reader
 * wakes the requester.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>

#include "mc-bclient.h"

static void *dp_reader_main(void *arg)
{
	struct mcb_client *c = arg;
	uint8_t buf[MC_DGRAM_MAX];

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		struct mcb_slot *s;
		bool filed = false;
		uint16_t id;

		if (n < 0)
			continue;	/* the receive timeout: look at the stop */
		s = mcb_slot_of(c, buf, (size_t)n, &id);
		if (s) {
			pthread_mutex_lock(&s->lock);
			filed = mcb_slot_fill(s, id, buf, (size_t)n);
			pthread_mutex_unlock(&s->lock);
		}
		/* After the unlock, so the requester does not wake to a held lock; the slot
		 * outlives this thread (mcb_close() joins it first). */
		if (filed)
			pthread_cond_signal(&s->cond);
		else
			c->stray++;
	}
	return NULL;
}

int mcb_dispatcher_start(struct mcb_client *c)
{
	int rc = pthread_create(&c->reader, NULL, dp_reader_main, c);

	c->reader_running = rc == 0;
	return -rc;
}

void mcb_dispatcher_stop(struct mcb_client *c)
{
	atomic_store(&c->stop, true);
	pthread_join(c->reader, NULL);
	c->reader_running = false;
}

int mcb_dispatcher_exchange(struct mcb_client *c, struct mcb_slot *s, uint16_t id,
			    const uint8_t *req, size_t n, const struct timespec *deadline)
{
	int rc = 0;

	/* Armed before the send: the reply may reach the reader before send() returns. */
	pthread_mutex_lock(&s->lock);
	mcb_slot_arm(s, id);
	pthread_mutex_unlock(&s->lock);
	if (send(c->fd, req, n, 0) < 0)
		rc = -errno;
	pthread_mutex_lock(&s->lock);
	while (!rc && !s->filled)
		if (pthread_cond_timedwait(&s->cond, &s->lock, deadline) == ETIMEDOUT &&
		    !s->filled)
			rc = -ETIMEDOUT;
	/* From here a late reply is a stray. */
	s->waiting = false;
	pthread_mutex_unlock(&s->lock);
	return rc;
}
