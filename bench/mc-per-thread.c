/*
 * mc-per-thread.c - exitleft-mc-bench's per-thread client, the floor: every requester has a
 * socket of its own, connected to the server, so the kernel sorts the replies and each
 * thread sleeps on its own socket (one wake per reply, no lock, no other thread)
 *
 * What it costs instead is a socket and a port per thread, which is what a client shared
 * through one socket saves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>

#include "mc-bclient.h"

int mcb_per_thread_exchange(struct mcb_client *c, struct mcb_slot *s, uint16_t id,
			    const uint8_t *req, size_t n, const struct timespec *deadline)
{
	(void)c;
	if (send(s->fd, req, n, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t len = recv(s->fd, s->reply, sizeof(s->reply), 0);
		uint16_t got;

		if (len >= 0 && mc_reply_id(s->reply, (size_t)len, &got) && got == id) {
			s->len = (size_t)len;
			return 0;
		}
		if (len >= 0)
			s->stray++;	/* the reply to a request that timed out */
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (mcb_past(deadline))
			return -ETIMEDOUT;
	}
}
