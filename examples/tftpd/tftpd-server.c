/*
 * tftpd-server.c - the TFTP server on a stage
 *
 * Every transfer is a thread holding a ticket whose token is its client's normalised address
 * (the client's transfer ID). All of them share the one listening socket: its port is the
 * server's transfer ID for every transfer, so a client behind a firewall that lets in only
 * what comes from the port it wrote to is served, and the server holds one port however many
 * transfers run.
 *
 * The thread that heads the stage reads the socket. A datagram from its own client it
 * handles in place, still heading (sending the next block costs less than waking a thread
 * for it); any other it delivers to the mailbox of the ticket holding the sender's address,
 * which wakes that thread and no other. A datagram of no transfer is answered without a
 * thread: a request starts one (within the limits), a DATA or ACK gets ERROR 5 (unknown
 * transfer ID), anything else an ERROR 4 or nothing. The head also keeps its own transfer's
 * deadline. It stops heading when its transfer is over, and the longest-waiting thread is
 * promoted.
 *
 * A client's next request may come from the address of a transfer whose ticket is still
 * alive: tftp-hpa's client keeps one socket for a session and asks for its next file as soon
 * as its upload is acknowledged, while the server still dallies, ready to acknowledge a
 * repeated last block. It reaches that transfer like any datagram of its client; it ends the
 * dally (xfer_packet()), and the thread starts it as a new transfer on the same ticket
 * (transfer_next()).
 *
 * A waiting thread sleeps in exitleft_enter() until its retransmission deadline: the stage's
 * deadlines are the server's only timers. Each mailbox is bounded (exitleft_ticket_limit),
 * so a client that floods its transfer loses datagrams, counted, and grows nothing.
 *
 * Nobody heads an empty stage, so the calling thread is the listener: while no transfer is
 * alive it heads the stage itself and reads until it has started one, then steps aside.
 * The transfer threads and the listener's loop are a crew (crew.h), as the UDP server's are.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "crew.h"
#include "exitleft.h"
#include "tftpd-server.h"
#include "udp-common.h"

#define TRANSFER_STACK (256 * 1024)
#define LISTENER_NAP_MS 100	/* how often the listener looks at the stop flag and reaps */
#define CLIENT_KEY_LEN 17	/* address family, then 16 bytes of address */

/* A datagram as received, owned by whoever holds the pointer (head, mailbox, thread). */
struct dgram {
	size_t len;
	uint8_t data[];
};

/* A client address and its live transfers, so that one host cannot take every thread.
 * Guarded by server.lock; removed when live drops to 0. */
struct client {
	uint8_t key[CLIENT_KEY_LEN];
	unsigned live;
	UT_hash_handle hh;
};

struct server;

/*
 * One transfer, and then each next request of its client that its thread serves on the same
 * ticket (transfer_next()). The head that starts it sets srv, addr, key, ticket and request
 * before crew_start(); from then on everything but `member` (the crew's, crew.h) belongs to
 * its thread, and the server's thread reads it only after joining.
 */
struct transfer {
	struct server *srv;
	struct udp_addr addr;		/* the token; fixed for the transfer's life */
	uint8_t key[CLIENT_KEY_LEN];
	exitleft_ticket *ticket;
	struct dgram *request;		/* the RRQ or WRQ; its file name points into it */
	struct dgram *next;		/* the client's next request, met as this one ended */
	struct tftp_request req;
	struct xfer x;
	struct xfer_io io;
	int fd;				/* RRQ: the file, or -1 */
	uint64_t size;
	struct tftp_upload up;		/* WRQ */
	bool refused;			/* answered ERROR before a transfer began */
	uint64_t send_errors;
	struct crew_member member;
};

/*
 * A running server.
 *
 * crew holds the transfer threads: which are alive (what max_transfers bounds, and
 *   transfers_max records) and which are not joined yet, under its own lock (crew.h).
 * lock guards clients (the per-client limit) and totals. It is not the crew's lock, and the
 *   two are never held together: transfer_spawn() takes the client's place, then the
 *   crew's, and gives the client's back if the crew is full.
 * by_head and rxbuf belong to whichever thread heads the stage: headship passes under the
 *   stage's lock, so it orders every access.
 */
struct server {
	const struct tftpd_config *cfg;
	struct udp_stop stop;
	exitleft_stage *stage;
	uint8_t *rxbuf;			/* TFTP_PACKET_MAX + 1 */
	struct crew crew;
	pthread_mutex_t lock;
	struct client *clients;
	struct tftpd_stats by_head;
	struct tftpd_stats totals;
};

static void deadline_of(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

/* A copy of the n bytes at buf, or NULL if out of memory. */
static struct dgram *dgram_new(const uint8_t *buf, size_t n)
{
	struct dgram *d = malloc(sizeof(*d) + n);

	if (d) {
		d->len = n;
		memcpy(d->data, buf, n);
	}
	return d;
}

static void send_error_to(struct server *srv, const struct udp_addr *to, enum tftp_error code,
			  const char *msg)
{
	uint8_t out[128];
	size_t n = tftp_build_error(out, sizeof(out), code, msg);

	(void)sendto(srv->cfg->fd, out, n, 0, (const struct sockaddr *)&to->ss, to->len);
}

static void client_key(const struct udp_addr *a, uint8_t key[CLIENT_KEY_LEN])
{
	memset(key, 0, CLIENT_KEY_LEN);
	key[0] = (uint8_t)a->ss.ss_family;
	if (a->ss.ss_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
	else
		memcpy(key + 1, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
}

/* Counts a new transfer for key if its client's limit allows; lock held. */
static bool client_take(struct server *srv, const uint8_t key[CLIENT_KEY_LEN])
{
	struct client *c;

	HASH_FIND(hh, srv->clients, key, CLIENT_KEY_LEN, c);
	if (c && c->live >= srv->cfg->per_client)
		return false;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return false;
		memcpy(c->key, key, CLIENT_KEY_LEN);
		HASH_ADD(hh, srv->clients, key, CLIENT_KEY_LEN, c);
	}
	c->live++;
	return true;
}

/* Gives back what client_take() counted; lock held. */
static void client_give(struct server *srv, const uint8_t key[CLIENT_KEY_LEN])
{
	struct client *c;

	HASH_FIND(hh, srv->clients, key, CLIENT_KEY_LEN, c);
	if (c && --c->live == 0) {
		HASH_DEL(srv->clients, c);
		free(c);
	}
}

static ssize_t io_pread(void *ctx, uint8_t *buf, size_t len, uint64_t off)
{
	struct transfer *t = ctx;
	ssize_t n;

	do
		n = pread(t->fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int io_append(void *ctx, const uint8_t *buf, size_t len)
{
	return tftp_upload_write(&((struct transfer *)ctx)->up, buf, len);
}

static int io_commit(void *ctx)
{
	return tftp_upload_commit(&((struct transfer *)ctx)->up);
}

static void io_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct transfer *t = ctx;

	if (sendto(t->srv->cfg->fd, buf, len, 0, (const struct sockaddr *)&t->addr.ss,
		   t->addr.len) < 0)
		t->send_errors++;
}

static void head_serve(struct server *srv, struct transfer *self);

/* Opens the file and answers the request; false if refused (ERROR sent). */
static bool transfer_begin(struct transfer *t)
{
	const struct tftpd_config *cfg = t->srv->cfg;
	struct tftp_refusal why;
	int rc;

	/* The head or transfer_renew() parsed this very datagram already; it cannot fail. */
	if (!tftp_parse_request(t->request->data, t->request->len, &t->req, &why))
		rc = -1;
	else if (t->req.op == TFTP_RRQ)
		rc = tftp_open_read(cfg->root, t->req.filename, &t->fd, &t->size, &why);
	else
		rc = tftp_upload_open(cfg->root, t->req.filename, &t->up, &why);
	if (rc < 0) {
		send_error_to(t->srv, &t->addr, why.code, why.msg);
		t->refused = true;
		return false;
	}
	xfer_start(&t->x, &t->req, &cfg->xfer, &t->io,
		   t->req.op == TFTP_RRQ ? t->size : UINT64_MAX, udp_now_ns());
	return true;
}

/*
 * Handles what is in the mailbox; false once the transfer is over. The client's next request,
 * which ends it, is kept in t->next; what comes after it stays in the mailbox, for the
 * transfer it starts.
 */
static bool transfer_take(struct transfer *t)
{
	struct dgram *d;

	while (!xfer_over(&t->x) && exitleft_take(t->ticket, (void **)&d) == 1) {
		if (xfer_packet(&t->x, d->data, d->len, udp_now_ns()))
			t->next = d;
		else
			free(d);
	}
	return !xfer_over(&t->x);
}

/* The transfer's life between its first answer and its end. */
static void transfer_serve(struct transfer *t)
{
	struct server *srv = t->srv;
	struct xfer *x = &t->x;

	while (transfer_take(t)) {
		struct timespec deadline;
		uint64_t now = udp_now_ns();
		int rc;

		if (udp_stopping(&srv->stop)) {
			xfer_abort(x, TFTP_EUNDEF, "server shutting down");
			return;
		}
		if (now >= x->deadline_ns) {
			xfer_timeout(x, now);
			continue;
		}
		deadline_of(x->deadline_ns, &deadline);
		rc = exitleft_enter(t->ticket, &deadline);
		if (rc == EXITLEFT_HEAD) {
			head_serve(srv, t);
			exitleft_exit(t->ticket);
		} else if (rc == EXITLEFT_CLOSED || rc < 0) {
			transfer_take(t);
			xfer_abort(x, TFTP_EUNDEF, "server shutting down");
			return;
		}
		/* EXITLEFT_TOKEN: the mailbox, at the top; EXITLEFT_TIMEOUT: the deadline. */
	}
}

static const char *transfer_outcome(const struct transfer *t)
{
	static const char *const why[] = {
		[XFER_OK] = "done",
		[XFER_FAIL_TIMEOUT] = "timed out",
		[XFER_FAIL_PEER] = "client sent ERROR",
		[XFER_FAIL_REFUSED] = "refused",
		[XFER_FAIL_IO] = "file error",
		[XFER_FAIL_ABORTED] = "aborted",
		[XFER_FAIL_MEMORY] = "out of memory",
	};

	if (t->refused)
		return "refused";
	return why[t->x.failure];
}

/* Counts the transfer's outcome into the totals; lock held. */
static void transfer_count(struct server *srv, const struct transfer *t)
{
	struct tftpd_stats *st = &srv->totals;
	const struct xfer *x = &t->x;

	st->send_errors += t->send_errors;
	if (t->refused) {
		st->failed++;
		st->failed_refused++;
		return;
	}
	if (x->op == TFTP_RRQ)
		st->bytes_sent += x->bytes;
	else
		st->bytes_received += x->bytes;
	st->retransmits += x->retransmits;
	st->duplicates += x->duplicates;
	if (x->failure == XFER_OK) {
		st->done++;
		return;
	}
	st->failed++;
	switch (x->failure) {
	case XFER_FAIL_TIMEOUT:
		st->failed_timeout++;
		break;
	case XFER_FAIL_PEER:
		st->failed_peer++;
		break;
	case XFER_FAIL_REFUSED:
		st->failed_refused++;
		break;
	case XFER_FAIL_ABORTED:
		st->aborted++;
		break;
	default:
		st->failed_io++;
		break;
	}
}

/* Closes what the transfer just over had open, says how it went and counts it. The ticket
 * stays: transfer_next() decides. */
static void transfer_finish(struct transfer *t)
{
	struct server *srv = t->srv;

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	tftp_upload_close(&t->up);
	if (srv->cfg->verbose) {
		char who[80];

		udp_addr_format(&t->addr, who, sizeof(who));
		fprintf(stderr, "exitleft-tftpd: %s %s from %s: %s, %llu bytes\n",
			t->req.op == TFTP_WRQ ? "WRQ" : "RRQ",
			t->req.filename ? t->req.filename : "?", who, transfer_outcome(t),
			(unsigned long long)t->x.bytes);
	}
	pthread_mutex_lock(&srv->lock);
	transfer_count(srv, t);
	pthread_mutex_unlock(&srv->lock);
	xfer_free(&t->x);
}

/*
 * Sets t up to serve d, on the same ticket, if d is a request the head would start a
 * transfer for: true, and d is t's. A malformed request is answered and counted as the head
 * would (transfer_spawn()). Anything else (a datagram of the transfer just over), or any
 * request once the server is stopping: false, and d stays the caller's.
 */
static bool transfer_renew(struct transfer *t, struct dgram *d)
{
	struct server *srv = t->srv;
	unsigned op = tftp_opcode(d->data, d->len);
	struct tftp_request req;
	struct tftp_refusal why;

	if ((op != TFTP_RRQ && op != TFTP_WRQ) || udp_stopping(&srv->stop))
		return false;
	if (!tftp_parse_request(d->data, d->len, &req, &why)) {
		send_error_to(srv, &t->addr, why.code, why.msg);
		pthread_mutex_lock(&srv->lock);
		srv->totals.bad_requests++;
		pthread_mutex_unlock(&srv->lock);
		return false;
	}
	free(t->request);
	t->request = d;
	memset(&t->req, 0, sizeof(t->req));
	memset(&t->x, 0, sizeof(t->x));
	t->fd = -1;
	t->size = 0;
	t->up = (struct tftp_upload){ .fd = -1, .dirfd = -1 };
	t->refused = false;
	t->send_errors = 0;
	pthread_mutex_lock(&srv->lock);
	srv->totals.started++;
	if (op == TFTP_RRQ)
		srv->totals.rrq++;
	else
		srv->totals.wrq++;
	pthread_mutex_unlock(&srv->lock);
	return true;
}

/*
 * After a transfer: whether its client's next request came before the ticket was freed, in
 * t->next (it ended the transfer) or in the mailbox, behind datagrams of the transfer just
 * over, which are dropped. If so, t is set up for it on the same ticket (transfer_renew()),
 * and true: the token is the same client address. Freeing the ticket to take the token again
 * would leave it free in between, for the head to start another transfer on if the client
 * sent again, and this one's ticket would then be refused (-EEXIST). Otherwise frees the
 * ticket, dropping what is still in (or still arriving in) the mailbox, and false.
 */
static bool transfer_next(struct transfer *t)
{
	struct dgram *d = t->next;

	t->next = NULL;
	for (;;) {
		if (!d && exitleft_take(t->ticket, (void **)&d) != 1) {
			if (exitleft_ticket_free(t->ticket) != -ENOTEMPTY)
				return false;
			continue;	/* a datagram came in between: it may be a request */
		}
		if (transfer_renew(t, d))
			return true;
		free(d);
		d = NULL;
	}
}

/* The thread's end, its ticket freed: its client's place and its crew's are given back. */
static void transfer_end(struct transfer *t)
{
	struct server *srv = t->srv;

	pthread_mutex_lock(&srv->lock);
	client_give(srv, t->key);
	pthread_mutex_unlock(&srv->lock);
	crew_done(&srv->crew, &t->member);
}

/* A transfer's thread: its request, then each next request its client sends before the
 * ticket is freed. */
static void *transfer_main(void *arg)
{
	struct transfer *t = arg;

	do {
		if (transfer_begin(t))
			transfer_serve(t);
		transfer_finish(t);
	} while (transfer_next(t));
	transfer_end(t);
	return NULL;
}

/*
 * Starts a thread for a request d from an address no transfer holds; true if d was handed
 * over, false if it stays the caller's (refused: an ERROR went back). Called by the head
 * only, so no other thread can take the token meanwhile.
 */
static bool transfer_spawn(struct server *srv, const struct udp_addr *from, struct dgram *d)
{
	struct tftpd_stats *st = &srv->by_head;
	struct tftp_request req;
	struct tftp_refusal why;
	uint8_t key[CLIENT_KEY_LEN];
	struct transfer *t;
	bool room;

	if (!tftp_parse_request(d->data, d->len, &req, &why)) {
		st->bad_requests++;
		send_error_to(srv, from, why.code, why.msg);
		return false;
	}
	client_key(from, key);
	pthread_mutex_lock(&srv->lock);
	room = client_take(srv, key);
	pthread_mutex_unlock(&srv->lock);
	/* The client's limit first: a crew place reserved and given back would still count
	 * in transfers_max. */
	if (room && !crew_reserve(&srv->crew)) {
		pthread_mutex_lock(&srv->lock);
		client_give(srv, key);
		pthread_mutex_unlock(&srv->lock);
		room = false;
	}
	if (!room) {
		st->busy++;
		send_error_to(srv, from, TFTP_EUNDEF, "too many transfers, try again later");
		return false;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	t->srv = srv;
	t->addr = *from;
	t->fd = -1;
	t->up.fd = t->up.dirfd = -1;
	memcpy(t->key, key, sizeof(key));
	t->request = d;
	t->io = (struct xfer_io){ io_pread, io_append, io_commit, io_send, t };
	if (exitleft_ticket_new(srv->stage, &t->addr.ss, t->addr.len, &t->ticket) < 0)
		goto fail_transfer;
	exitleft_ticket_limit(t->ticket, srv->cfg->mailbox);
	if (crew_start(&srv->crew, &t->member, TRANSFER_STACK, transfer_main, t) < 0) {
		exitleft_ticket_free(t->ticket);
		goto fail_transfer;
	}
	st->started++;
	if (req.op == TFTP_RRQ)
		st->rrq++;
	else
		st->wrq++;
	return true;

fail_transfer:
	free(t);
fail:
	pthread_mutex_lock(&srv->lock);
	client_give(srv, key);
	pthread_mutex_unlock(&srv->lock);
	crew_unreserve(&srv->crew);
	st->busy++;
	send_error_to(srv, from, TFTP_EUNDEF, "server out of resources");
	return false;
}

/* Routes one datagram that is not the head's own. */
static void head_route(struct server *srv, const uint8_t *buf, size_t n,
		       const struct udp_addr *from)
{
	struct tftpd_stats *st = &srv->by_head;
	unsigned op = tftp_opcode(buf, n);
	struct dgram *d = dgram_new(buf, n);
	int rc;

	if (!d) {
		st->ignored++;
		return;
	}
	rc = exitleft_deliver(srv->stage, &from->ss, from->len, d);
	if (rc == 1) {
		st->delivered++;
		return;
	}
	if (rc == 0 && (op == TFTP_RRQ || op == TFTP_WRQ) && transfer_spawn(srv, from, d))
		return;
	free(d);
	if (rc == -ENOBUFS) {
		st->mailbox_full++;
	} else if (rc < 0 || op == TFTP_RRQ || op == TFTP_WRQ) {
		/* counted by transfer_spawn(), or the stage refused (closed: shutting down) */
	} else if (op == TFTP_DATA || op == TFTP_ACK || op == TFTP_OACK) {
		st->stray++;
		send_error_to(srv, from, TFTP_EBADID, "unknown transfer ID");
	} else if (op != 0 && op != TFTP_ERROR) {
		st->ignored++;
		send_error_to(srv, from, TFTP_EBADOP, "illegal TFTP operation");
	} else {
		st->ignored++;	/* never answer an ERROR, nor a byte */
	}
}

/* How long the head may wait for the socket: its poll period, or less if its own
 * transfer's deadline comes first. */
static int head_wait_ms(struct server *srv, struct transfer *self, uint64_t now)
{
	uint64_t ms = srv->cfg->poll_ms;

	if (self && self->x.deadline_ns > now && (self->x.deadline_ns - now) / 1000000u < ms)
		ms = (self->x.deadline_ns - now + 999999u) / 1000000u;
	return (int)ms;
}

/*
 * The head's work: reads and routes until its own transfer is over or the server stops.
 * The listener (self NULL) returns as soon as a transfer is alive to take over the reading.
 */
static void head_serve(struct server *srv, struct transfer *self)
{
	struct tftpd_stats *st = &srv->by_head;

	while (!udp_stopping(&srv->stop)) {
		struct pollfd pfd = { .fd = srv->cfg->fd, .events = POLLIN };
		uint64_t now = udp_now_ns();

		if (self && now >= self->x.deadline_ns) {
			xfer_timeout(&self->x, now);
			if (xfer_over(&self->x))
				return;
			continue;
		}
		if (poll(&pfd, 1, head_wait_ms(srv, self, now)) <= 0)
			continue;	/* quiet, or EINTR: look at the clock and the flag */
		for (;;) {
			struct sockaddr_storage ss;
			socklen_t sslen = sizeof(ss);
			struct udp_addr from;
			ssize_t n;

			memset(&ss, 0, sizeof(ss));
			n = recvfrom(srv->cfg->fd, srv->rxbuf, TFTP_PACKET_MAX + 1, MSG_DONTWAIT,
				     (struct sockaddr *)&ss, &sslen);
			if (n < 0)
				break;
			st->datagrams++;
			if (!udp_addr_normalise(&ss, &from) || n > TFTP_PACKET_MAX) {
				st->ignored++;
				continue;
			}
			if (self && udp_addr_equal(&self->addr, &from)) {
				st->kept++;
				/* The client's next request, kept for transfer_next(); without
				 * memory it is lost, as to the network, and the client asks
				 * again. */
				if (xfer_packet(&self->x, srv->rxbuf, (size_t)n, udp_now_ns()))
					self->next = dgram_new(srv->rxbuf, (size_t)n);
				if (xfer_over(&self->x))
					return;
				continue;
			}
			head_route(srv, srv->rxbuf, (size_t)n, &from);
		}
		if (!self && crew_alive(&srv->crew))
			return;
	}
}

/* The crew's `reaped`: frees a joined transfer (transfer_end() counted it). */
static void transfer_reaped(void *ctx, struct crew_member *m)
{
	struct transfer *t = (struct transfer *)((char *)m - offsetof(struct transfer, member));

	(void)ctx;
	free(t->request);
	free(t);
}

/* The listener's turn as head, while no transfer is alive to read the socket. */
static void listener_head(void *ctx)
{
	head_serve(ctx, NULL);
}

/* Stops everything: close the stage, so every waiting thread ends its transfer with an
 * ERROR; the head sees the flag within poll_ms. Then join every thread. */
static void server_shutdown(struct server *srv)
{
	atomic_store(srv->stop.flag, true);
	exitleft_stage_close(srv->stage);
	crew_join_all(&srv->crew);
}

/* Adds the heads' counters to the transfers' totals (which count the requests a thread met
 * after its transfer as well: started, rrq, wrq, bad_requests). */
static void stats_fold(struct tftpd_stats *to, const struct tftpd_stats *head)
{
	to->datagrams += head->datagrams;
	to->delivered += head->delivered;
	to->kept += head->kept;
	to->started += head->started;
	to->rrq += head->rrq;
	to->wrq += head->wrq;
	to->busy += head->busy;
	to->bad_requests += head->bad_requests;
	to->stray += head->stray;
	to->ignored += head->ignored;
	to->mailbox_full += head->mailbox_full;
}

int tftpd_run(const struct tftpd_config *cfg, atomic_bool *stop, struct tftpd_stats *stats)
{
	static const char listener_token[] = "listener";	/* no sockaddr is 9 bytes */
	exitleft_ticket *listener;
	struct server srv;
	struct client *c, *tmp;
	int rc;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	udp_stop_init(&srv.stop, stop, cfg->duration_ms);
	rc = crew_init(&srv.crew, cfg->max_transfers, transfer_reaped, &srv);
	if (rc)
		return rc;
	srv.rxbuf = malloc(TFTP_PACKET_MAX + 1);
	if (!srv.rxbuf) {
		rc = -ENOMEM;
		goto out_crew;
	}
	rc = exitleft_stage_new(&srv.stage);
	if (rc)
		goto out_buf;
	rc = exitleft_ticket_new(srv.stage, listener_token, sizeof(listener_token), &listener);
	if (rc) {
		exitleft_stage_free(srv.stage);
		goto out_buf;
	}
	pthread_mutex_init(&srv.lock, NULL);

	crew_listen(&srv.crew, listener, LISTENER_NAP_MS, &srv.stop, listener_head);
	server_shutdown(&srv);

	rc = exitleft_ticket_free(listener);
	if (rc == 0)
		rc = exitleft_stage_free(srv.stage);
	HASH_ITER(hh, srv.clients, c, tmp) {
		HASH_DEL(srv.clients, c);
		free(c);
	}
	pthread_mutex_destroy(&srv.lock);
	*stats = srv.totals;
	stats_fold(stats, &srv.by_head);
	stats->transfers_max = srv.crew.most;
out_buf:
	free(srv.rxbuf);
out_crew:
	crew_fini(&srv.crew);
	return rc;
}
