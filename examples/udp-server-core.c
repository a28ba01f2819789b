/*
 * udp-server-core.c - the UDP echo server on a stage
 *
 * Every peer (a remote address) is served by a thread of its own holding a ticket whose token
 * is the peer's normalised address. A peer thread enters the stage; woken for its token, it
 * answers one datagram from its mailbox and enters again (which returns at once while more
 * are there). As head it reads the socket in batches: one recvmmsg() waits for a
 * datagram and takes what else is queued, up to UDP_BATCH_MAX. Every datagram of another
 * peer in the batch it delivers first, to the mailbox of that peer's ticket, which wakes that
 * thread and no other; then it answers its own peer's at once, in order, still heading. A
 * datagram from an unknown peer makes the head start a thread for it, unless max_peers
 * threads are alive. Every peer's mailbox holds at most cfg->mailbox datagrams
 * (exitleft_ticket_limit()): a peer sending faster than its thread answers has the rest
 * dropped and counted (dropped_full), so no peer grows the server's memory without bound,
 * and max_peers bounds the number of mailboxes. Headship rotates when the socket is quiet
 * for poll_ms, when the head's own peer has been idle too long, and before a slow answer
 * ("sleep:"): the head routes the rest of its batch, exits, and only then answers the slow
 * one and the datagrams of its own behind it, so that another thread reads while it works.
 *
 * Why answer in place: promotion is first in, first out, and under ping-pong load the
 * longest waiter is the peer whose next datagram is first in the socket. A head that exited
 * for every datagram of its own would make every datagram wait for a thread to wake before
 * the socket is read again (measured: throughput below the dispatcher's at 64 peers).
 *
 * Why batches, and the others' datagrams first: one system call takes all that a burst left
 * queued, and the threads it wakes answer while the head answers its own peer, not after.
 *
 * A peer idle for idle_ms frees its ticket. exitleft_ticket_free() refuses (-ENOTEMPTY) while
 * the mailbox holds items, so a datagram delivered as the peer retires is answered, not lost;
 * one arriving after the ticket is gone finds no holder and starts a fresh peer thread.
 *
 * Nobody heads an empty stage, so the calling thread is the listener: while no peer is
 * alive it enters the stage itself and reads until it has started one, then steps aside.
 * The peer threads and the listener's loop are a crew (crew.h), as exitleft-tftpd's are.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crew.h"
#include "exitleft.h"
#include "udp-common.h"
#include "udp-server-core.h"

#define PEER_STACK (256 * 1024)
#define LISTENER_NAP_MS 100	/* how often the listener looks at the stop flag and reaps */

/* Datagrams (struct udp_dgram) are owned by whoever holds the pointer: head, mailbox,
 * peer. next links only the head's own datagrams of one batch, on their way to being
 * answered. */
struct server;

/*
 * One peer thread. addr, ticket and the counters belong to the thread (the head that starts
 * it sets them before crew_start()); the server's thread reads the counters after joining.
 * member is the crew's (crew.h).
 */
struct peer {
	struct server *srv;
	struct udp_addr addr;		/* the token; fixed for the peer's life */
	exitleft_ticket *ticket;	/* freed by the thread itself before crew_done() */
	uint64_t answered, wakes_token, wakes_head, retire_races, send_errors, dropped;
	uint64_t last_ns;		/* when the thread last answered its peer */
	bool retired;			/* left because idle, not because of the stop */
	struct crew_member member;
};

/*
 * A running server.
 *
 * crew holds the peer threads: which are alive (what max_peers bounds, and peers_max
 *   records) and which are not joined yet, under its own lock (crew.h).
 * lock guards closing and is the mutex of closing_cond. closing is raised once, by
 *   server_shutdown(), with a broadcast of closing_cond: a peer sleeping for a slow answer
 *   stops at once. It is not the crew's lock: the two guard nothing in common and are
 *   never held together.
 * by_head holds the counters of the read path and batch the buffers it reads into; only the
 *   head touches them, and headship passes under the stage's lock, so headship itself orders
 *   every access. So one batch serves every head, and no peer's small stack holds one.
 * totals and the listener's counters belong to the server's own thread.
 */
struct server {
	const struct udp_server_config *cfg;
	struct udp_stop stop;
	exitleft_stage *stage;
	struct crew crew;
	pthread_mutex_t lock;
	pthread_cond_t closing_cond;	/* broadcast when closing is raised */
	bool closing;
	struct udp_server_stats by_head;
	struct udp_batch *batch;
	struct udp_server_stats totals;
};

static void *peer_main(void *arg);

/*
 * Starts a thread for the unknown sender of d, with d in its mailbox. Returns true if d was
 * handed over; false if it stays the caller's (limit reached, stage closed, no memory).
 * Called by the head only: no other thread can take the token meanwhile.
 */
static bool peer_spawn(struct server *srv, struct udp_dgram *d)
{
	struct peer *p;
	void *back;

	if (!crew_reserve(&srv->crew)) {
		srv->by_head.dropped_limit++;
		return false;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->srv = srv;
	p->addr = d->from;
	if (exitleft_ticket_new(srv->stage, &p->addr.ss, p->addr.len, &p->ticket) < 0)
		goto fail_peer;
	/* Before the first delivery: no datagram ever reaches an unbounded mailbox. */
	exitleft_ticket_limit(p->ticket, srv->cfg->mailbox ? srv->cfg->mailbox
							   : UDP_SERVER_MAILBOX_DEFAULT);
	if (exitleft_deliver(srv->stage, &p->addr.ss, p->addr.len, d) != 1)
		goto fail_ticket;
	if (crew_start(&srv->crew, &p->member, PEER_STACK, peer_main, p) < 0) {
		(void)exitleft_take(p->ticket, &back);	/* d, given back to the caller */
		goto fail_ticket;
	}
	srv->by_head.peers_started++;
	return true;

fail_ticket:
	exitleft_ticket_free(p->ticket);
fail_peer:
	free(p);
fail:
	crew_unreserve(&srv->crew);
	srv->by_head.dropped_other++;
	return false;
}

/*
 * Sleeps `ms` for a slow answer, or less if the server stops meanwhile: returns false then.
 * A signal only raises the stop flag; the listener sees it within LISTENER_NAP_MS and
 * raises closing, which ends this wait.
 */
static bool peer_nap(struct server *srv, unsigned ms)
{
	struct timespec deadline;
	bool closing;

	udp_deadline_ms(&deadline, ms);
	pthread_mutex_lock(&srv->lock);
	while (!srv->closing) {
		if (pthread_cond_timedwait(&srv->closing_cond, &srv->lock, &deadline) == ETIMEDOUT)
			break;
	}
	closing = srv->closing;
	pthread_mutex_unlock(&srv->lock);
	return !closing;
}

/* Answers one datagram of the peer's own and frees it; drops it if the server stops during
 * a slow answer's sleep. */
static void peer_answer(struct peer *p, struct udp_dgram *d)
{
	char out[UDP_DGRAM_MAX + 24];
	unsigned ms = udp_echo_sleep_ms(d->data, d->len);
	size_t len;

	if (ms && !peer_nap(p->srv, ms)) {
		free(d);
		p->dropped++;
		return;
	}
	p->last_ns = udp_now_ns();
	len = udp_echo_format(p->answered + 1, d->data, d->len, out, sizeof(out));

	if (sendto(p->srv->cfg->fd, out, len, 0, (const struct sockaddr *)&d->from.ss,
		   d->from.len) < 0)
		p->send_errors++;
	else
		p->answered++;
	free(d);
}

/* Datagram i of the head's batch, as a dgram of its own; NULL if out of memory or from an
 * address of another family. */
static struct udp_dgram *dgram_from_batch(struct server *srv, int i)
{
	const struct sockaddr_storage *from;
	size_t len;
	const char *data = udp_batch_get(srv->batch, i, &len, &from);

	return udp_dgram_new(from, data, len);
}

/* Hands d, another peer's, to its ticket, or to a thread started for it; else drops it. */
static void head_route(struct server *srv, struct udp_dgram *d)
{
	struct udp_server_stats *st = &srv->by_head;
	int rc = exitleft_deliver(srv->stage, &d->from.ss, d->from.len, d);

	if (rc == 1) {
		st->delivered++;
	} else if (rc == -ENOBUFS) {
		st->dropped_full++;	/* its thread is behind by a whole mailbox */
		free(d);
	} else if (rc < 0 || !peer_spawn(srv, d)) {
		if (rc < 0)
			st->dropped_other++;
		free(d);
	}
}

/*
 * The head's work: reads the socket a batch at a time and routes every datagram, answering
 * its own peer's quick ones in place, until a slow one of its own arrives, the socket stays
 * quiet for poll_ms, its own peer has been idle for idle_ms, or the server stops (NULL). The
 * slow one is returned, with the head's own datagrams of the batch behind it, for the caller
 * to answer in order once it has exited. The listener (self NULL) also returns as soon as a
 * peer thread is alive to take over the reading.
 */
static struct udp_dgram *head_serve(struct server *srv, struct peer *self)
{
	const struct udp_addr *own = self ? &self->addr : NULL;
	uint64_t idle_ns = (uint64_t)srv->cfg->idle_ms * 1000000u;
	struct udp_server_stats *st = &srv->by_head;

	while (!udp_stopping(&srv->stop)) {
		struct udp_dgram *mine = NULL, **tail = &mine;
		int n = udp_batch_recv(srv->batch, srv->cfg->fd);

		st->recv_calls++;
		if (n == -EINTR)
			continue;
		if (n < 0) {
			st->head_timeouts++;	/* EAGAIN: quiet for poll_ms; rotate */
			return NULL;
		}
		if (n == 0)
			return NULL;	/* shut down for reading: the server is stopping */
		for (int i = 0; i < n; i++) {
			struct udp_dgram *d = dgram_from_batch(srv, i);

			if (!d) {
				st->dropped_other++;
				continue;
			}
			st->received++;
			if (own && udp_addr_equal(own, &d->from)) {
				st->kept++;
				*tail = d;
				tail = &d->next;
			} else {
				head_route(srv, d);
			}
		}
		/* Its own in the order sent: none may overtake a slow one, so a slow one ends
		 * the answers in place, and what follows it waits with it. */
		while (mine && !udp_echo_slow(mine->data, mine->len)) {
			struct udp_dgram *d = mine;

			mine = d->next;
			peer_answer(self, d);
		}
		if (mine)
			return mine;
		if (own && udp_now_ns() - self->last_ns >= idle_ns)
			return NULL;	/* step down, to retire */
		if (!own && crew_alive(&srv->crew))
			return NULL;
	}
	return NULL;
}

/* Answers, in order, what head_serve() returned; once the server stops, drops the rest
 * instead, as peer_main() does with the mailbox's. */
static void peer_answer_held(struct peer *p, struct udp_dgram *d)
{
	while (d) {
		struct udp_dgram *next = d->next;

		if (udp_stopping(&p->srv->stop)) {
			free(d);
			p->dropped++;
		} else {
			peer_answer(p, d);
		}
		d = next;
	}
}

/* Frees the ticket at shutdown, dropping what is still in (or still arriving in) the mailbox. */
static void peer_close(struct peer *p)
{
	void *item;

	for (;;) {
		while (exitleft_take(p->ticket, &item) == 1) {
			free(item);
			p->dropped++;
		}
		if (exitleft_ticket_free(p->ticket) != -ENOTEMPTY)
			break;
	}
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct server *srv = p->srv;
	uint64_t idle_ns = (uint64_t)srv->cfg->idle_ms * 1000000u;

	p->last_ns = udp_now_ns();
	for (;;) {
		struct timespec deadline;
		struct udp_dgram *d;
		uint64_t until;
		int rc;

		/* Stopping ends the answers too, not only the waits: a mailbox of slow
		 * datagrams would otherwise hold the shutdown a second per datagram. */
		if (udp_stopping(&srv->stop))
			break;
		if (udp_now_ns() - p->last_ns >= idle_ns) {
			rc = exitleft_ticket_free(p->ticket);
			if (rc == 0) {
				p->retired = true;
				break;
			}
			/* -ENOTEMPTY: a datagram came in as we retired; answer it, stay. */
			p->retire_races++;
			continue;
		}
		until = p->last_ns + idle_ns;
		deadline.tv_sec = (time_t)(until / 1000000000u);
		deadline.tv_nsec = (long)(until % 1000000000u);
		rc = exitleft_enter(p->ticket, &deadline);
		if (rc == EXITLEFT_TOKEN) {
			/* One datagram, then enter again: with more in the mailbox the enter
			 * returns at once, and with none it waits, without a take in between
			 * that finds the mailbox empty (one trip less through the stage's lock
			 * per datagram, which the head's deliveries contend for). */
			p->wakes_token++;
			if (exitleft_take(p->ticket, (void **)&d) == 1)
				peer_answer(p, d);
		} else if (rc == EXITLEFT_HEAD) {
			p->wakes_head++;
			d = head_serve(srv, p);
			exitleft_exit(p->ticket);
			/* A slow one and its own behind it: someone else reads meanwhile. */
			peer_answer_held(p, d);
		} else if (rc != EXITLEFT_TIMEOUT) {
			break;		/* EXITLEFT_CLOSED */
		}
	}
	if (!p->retired)
		peer_close(p);
	crew_done(&srv->crew, &p->member);
	return NULL;
}

static void stats_add(struct udp_server_stats *to, const struct peer *p)
{
	to->answered += p->answered;
	to->wakes_token += p->wakes_token;
	to->wakes_head += p->wakes_head;
	to->retire_races += p->retire_races;
	to->send_errors += p->send_errors;
	to->dropped_other += p->dropped;
	to->dropped_shutdown += p->dropped;
	to->peers_retired += p->retired;
}

/* The crew's `reaped`: folds a joined peer's counters into the totals and frees it. */
static void peer_reaped(void *ctx, struct crew_member *m)
{
	struct server *srv = ctx;
	struct peer *p = (struct peer *)((char *)m - offsetof(struct peer, member));

	stats_add(&srv->totals, p);
	free(p);
}

/* The listener's turn as head, while no peer is alive to read the socket. */
static void listener_head(void *ctx)
{
	struct server *srv = ctx;

	srv->totals.wakes_head++;
	head_serve(srv, NULL);
}

/* Stops everything: close the stage, wake the head and the sleepers, join every peer. */
static void server_shutdown(struct server *srv)
{
	uint64_t begin = udp_now_ns();

	atomic_store(srv->stop.flag, true);
	pthread_mutex_lock(&srv->lock);
	srv->closing = true;
	pthread_cond_broadcast(&srv->closing_cond);
	pthread_mutex_unlock(&srv->lock);
	exitleft_stage_close(srv->stage);
	/* Wakes a head blocked in recvfrom() at once instead of after poll_ms. On an
	 * unconnected socket Linux says ENOTCONN yet still shuts the reading side. */
	(void)shutdown(srv->cfg->fd, SHUT_RD);
	crew_join_all(&srv->crew);
	srv->totals.shutdown_ns = udp_now_ns() - begin;
}

int udp_server_run(const struct udp_server_config *cfg, atomic_bool *stop,
		   struct udp_server_stats *stats)
{
	static const char listener_token[] = "listener";	/* no sockaddr is 9 bytes */
	exitleft_ticket *listener;
	pthread_condattr_t cattr;
	struct server srv;
	int rc;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	udp_stop_init(&srv.stop, stop, cfg->duration_ms);
	rc = udp_socket_rcvtimeo(cfg->fd, cfg->poll_ms ? cfg->poll_ms : 1);
	if (rc)
		return rc;
	rc = crew_init(&srv.crew, cfg->max_peers, peer_reaped, &srv);
	if (rc)
		return rc;
	srv.batch = udp_batch_new();
	if (!srv.batch) {
		rc = -ENOMEM;
		goto out_crew;
	}
	rc = exitleft_stage_new(&srv.stage);
	if (rc)
		goto out_batch;
	rc = exitleft_ticket_new(srv.stage, listener_token, sizeof(listener_token), &listener);
	if (rc) {
		exitleft_stage_free(srv.stage);
		goto out_batch;
	}
	pthread_mutex_init(&srv.lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);	/* udp_deadline_ms() */
	pthread_cond_init(&srv.closing_cond, &cattr);	/* peer_nap() */
	pthread_condattr_destroy(&cattr);

	crew_listen(&srv.crew, listener, LISTENER_NAP_MS, &srv.stop, listener_head);
	server_shutdown(&srv);

	rc = exitleft_ticket_free(listener);
	if (rc == 0)
		rc = exitleft_stage_free(srv.stage);
	pthread_cond_destroy(&srv.closing_cond);
	pthread_mutex_destroy(&srv.lock);

	*stats = srv.totals;
	stats->received = srv.by_head.received;
	stats->delivered = srv.by_head.delivered;
	stats->kept = srv.by_head.kept;
	stats->dropped_limit = srv.by_head.dropped_limit;
	stats->dropped_full = srv.by_head.dropped_full;
	stats->dropped_other += srv.by_head.dropped_other;
	stats->peers_started = srv.by_head.peers_started;
	stats->head_timeouts = srv.by_head.head_timeouts;
	stats->recv_calls = srv.by_head.recv_calls;
	stats->peers_max = srv.crew.most;
out_batch:
	udp_batch_free(srv.batch);
out_crew:
	crew_fini(&srv.crew);
	return rc;
}
