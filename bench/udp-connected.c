/*
 * udp-connected.c - exitleft-udp-bench's connected server, the floor: a socket per peer,
 * bound to the listener's address and connected to the peer, so the kernel sorts the
 * datagrams and each thread sleeps on its own socket
 *
 * The listener reads a new peer's first datagram and makes the peer's socket; from then on
 * the kernel delivers that peer's datagrams to it (one wake each). A datagram the kernel
 * still gives the listener for a connected peer is counted as misrouted and answered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-bserver.h"

static void *cn_peer_main(void *arg)
{
	struct bpeer *p = arg;
	struct udp_dgram *d;

	/* The first datagram, read by the listener (and any queued before the connect). */
	while ((d = bpeer_pop(p)))
		bserver_answer(p->fd, d, ++p->answered, true);
	while (!bserver_stopping(p->srv)) {
		char buf[UDP_DGRAM_MAX], out[UDP_DGRAM_MAX + 24];
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
		size_t len;

		p->recv_calls++;
		if (n < 0)
			continue;	/* the receive timeout: look at the stop flag */
		p->wakes++;
		len = udp_echo_answer(++p->answered, buf, (size_t)n, out, sizeof(out));
		(void)send(p->fd, out, len, 0);
	}
	return NULL;
}

/*
 * A socket on the listener's own address, connected to the peer. Between its bind() and its
 * connect() it was as good a match as the listener for any sender, so it may already hold
 * datagrams of other new peers: those go back on *pending for the listener to handle.
 */
static int cn_socket(const struct udp_addr *local, struct bpeer *p, struct udp_dgram **pending)
{
	int fd = udp_socket_bind(local, true);
	struct udp_dgram *d;

	if (fd < 0)
		return fd;
	if (connect(fd, (const struct sockaddr *)&p->addr.ss, p->addr.len) < 0) {
		close(fd);
		return -errno;
	}
	while ((d = bserver_read(fd, MSG_DONTWAIT, &p->recv_calls))) {
		if (udp_addr_equal(&d->from, &p->addr)) {
			bpeer_push(p, d);
		} else {
			d->next = *pending;
			*pending = d;
		}
	}
	if (udp_socket_rcvtimeo(fd, BSERVER_POLL_MS)) {
		close(fd);
		return -errno;
	}
	return fd;
}

void bserver_run_connected(struct bserver *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct udp_addr local;
	struct udp_dgram *pending = NULL;

	getsockname(s->fd, (struct sockaddr *)&ss, &sl);
	udp_addr_normalise(&ss, &local);
	while (!bserver_stopping(s)) {
		struct udp_dgram *d = pending;
		struct bpeer *p;

		if (d)
			pending = d->next;
		else
			d = bserver_read(s->fd, 0, &s->recv_calls);
		if (!d)
			continue;
		d->next = NULL;
		s->received++;
		p = bserver_peer_find(s, &d->from);
		if (p) {
			/* The kernel gave a connected peer's datagram to the listener. */
			s->misrouted++;
			bserver_answer(s->fd, d, 0, false);
			continue;
		}
		p = bserver_peer_add(s, &d->from);
		if (!p)
			abort();
		bpeer_push(p, d);
		p->fd = cn_socket(&local, p, &pending);
		if (p->fd < 0 || pthread_create(&p->thread, NULL, cn_peer_main, p))
			abort();
	}
	while (pending) {
		struct udp_dgram *d = pending;

		pending = d->next;
		free(d);
	}
	bserver_join_free(s);
	/* Every datagram a connected socket read was one wake of its thread. */
	s->received += s->wakes;
}
