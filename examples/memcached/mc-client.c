/*
 * mc-client.c - memcached over UDP, one socket shared by every thread on a stage
 *
 * A call takes a free request id and a ticket for it (the token is the id), sends its
 * request, and enters the stage until its reply is there:
 *
 *   EXITLEFT_TOKEN  another thread read the reply and delivered it: take it.
 *   EXITLEFT_HEAD   this thread reads the socket: a reply of its own it keeps (and exits);
 *                   any other it delivers to the ticket of its id, which wakes that thread
 *                   alone; a reply whose id no ticket holds is stray and dropped.
 *   EXITLEFT_TIMEOUT
 *                   the id goes into quarantine (below).
 *
 * Only heads deliver, and a head delivers only to other ids: so a thread made head never has
 * its own reply waiting in its mailbox; it is still in the socket.
 *
 * Ids. next_id walks the 65 536 ids; an id is taken only if exitleft_ticket_new() accepts it,
 * i.e. no live ticket holds it. A request that times out leaves its ticket alive in the
 * quarantine list for MC_ID_QUARANTINE_MS, so no newer request can take the id meanwhile and
 * mistake a late reply to the old one for its own. A quarantined ticket's mailbox is kept
 * full (limit 1, one item in it): a head's delivery of a late reply is refused, and the head
 * drops it and counts it stray at once. Every other ticket's mailbox is bounded too
 * (MAILBOX), so duplicates cannot grow memory; past the bound they are dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitleft.h"
#include "mc-client.h"
#include "mc-proto.h"

#define MAILBOX 4	/* replies a request's ticket holds: its own and a duplicate or two */

/* A datagram as a head read it; owned by whoever holds the pointer (head, mailbox, caller). */
struct mc_dgram {
	size_t len;
	uint8_t data[MC_DGRAM_MAX];
};

/* The ticket of a request that timed out, holding its id until until_ns. */
struct mc_zombie {
	exitleft_ticket *ticket;
	uint64_t until_ns;
	struct mc_zombie *next;
};

/*
 * A client. fd and stage are fixed from mc_client_new() to mc_client_free(). lock guards
 * next_id and the quarantine list (oldest first: every entry lives equally long, so
 * appending keeps the order), and is taken before the stage's lock, never after it. The
 * counters are relaxed atomics: each is exact, a set of them read together is not a snapshot.
 */
struct mc_client {
	int fd;				/* connected to the server: nobody else's datagrams */
	exitleft_stage *stage;
	pthread_mutex_t lock;
	uint16_t next_id;
	struct mc_zombie *zombies, **zombies_tail;
	atomic_uint_fast64_t requests, timeouts, reads, handoffs, stray, malformed, quarantined;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void count(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* What fills a quarantined ticket's mailbox; not a datagram, never freed. */
static char quarantine_mark;

/* Drops (as stray) every reply a ticket nobody waits with holds. */
static void ticket_empty(struct mc_client *c, exitleft_ticket *t)
{
	void *item;

	while (exitleft_take(t, &item) == 1) {
		if (item != &quarantine_mark) {
			free(item);
			count(&c->stray);
		}
	}
}

/* Frees a ticket nobody waits with any more, dropping (as stray) what it still holds. */
static void ticket_drop(struct mc_client *c, exitleft_ticket *t)
{
	/* A head may deliver between the last take and the free: the free refuses then. */
	do
		ticket_empty(c, t);
	while (exitleft_ticket_free(t) == -ENOTEMPTY);
}

/* Ends the quarantines that are over. Lock held. */
static void quarantine_expire(struct mc_client *c, uint64_t now)
{
	struct mc_zombie *z;

	while ((z = c->zombies) && (z->until_ns <= now)) {
		c->zombies = z->next;
		if (!c->zombies)
			c->zombies_tail = &c->zombies;
		ticket_drop(c, z->ticket);
		free(z);
		atomic_fetch_sub_explicit(&c->quarantined, 1, memory_order_relaxed);
	}
}

/* Keeps a timed-out request's ticket, and so its id, out of use for a while. */
static void quarantine_add(struct mc_client *c, exitleft_ticket *t, uint16_t id)
{
	struct mc_zombie *z = malloc(sizeof(*z));

	if (!z) {	/* no memory: give the id back now, late replies may then mislead */
		ticket_drop(c, t);
		return;
	}
	/* Full from now on. A head may deliver the late reply between the empty and the mark:
	 * then that reply fills the mailbox instead, and is dropped when the quarantine ends. */
	exitleft_ticket_limit(t, 1);
	ticket_empty(c, t);
	(void)exitleft_deliver(c->stage, &id, sizeof(id), &quarantine_mark);
	z->ticket = t;
	z->until_ns = now_ns() + (uint64_t)MC_ID_QUARANTINE_MS * 1000000u;
	z->next = NULL;
	pthread_mutex_lock(&c->lock);
	*c->zombies_tail = z;
	c->zombies_tail = &z->next;
	pthread_mutex_unlock(&c->lock);
	count(&c->quarantined);
}

/* Takes a free request id with a ticket for it; 0, -EAGAIN if all are taken, -errno. */
static int id_take(struct mc_client *c, exitleft_ticket **t, uint16_t *id)
{
	int rc = -EEXIST;

	pthread_mutex_lock(&c->lock);
	quarantine_expire(c, now_ns());
	for (unsigned n = 0; n <= UINT16_MAX && rc == -EEXIST; n++) {
		*id = c->next_id++;
		rc = exitleft_ticket_new(c->stage, id, sizeof(*id), t);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		exitleft_ticket_limit(*t, MAILBOX);
	return rc == -EEXIST ? -EAGAIN : rc;
}

/* Waits until the socket is readable or the deadline passes: 0, -ETIMEDOUT, -errno. */
static int wait_readable(int fd, uint64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		uint64_t now = now_ns();
		struct timespec left;
		int n;

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		left.tv_sec = (time_t)((deadline_ns - now) / 1000000000u);
		left.tv_nsec = (long)((deadline_ns - now) % 1000000000u);
		n = ppoll(&pfd, 1, &left, NULL);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * The head's work: reads the socket, delivering every reply to its request's ticket, until
 * the reply with id `own` arrives (0, in *reply) or the deadline passes (-ETIMEDOUT).
 */
static int head_read(struct mc_client *c, uint16_t own, uint64_t deadline_ns,
		     struct mc_dgram **reply)
{
	struct mc_dgram *d = NULL;
	bool queued = false;	/* the last read found a datagram: maybe more are queued */
	int rc = 0;

	for (;;) {
		uint16_t id;
		ssize_t n;

		/* Our request has only just left: ask for readiness first, rather than try a
		 * read that would fail. While datagrams come, read on without asking. */
		if (!queued)
			rc = wait_readable(c->fd, deadline_ns);
		else if (now_ns() >= deadline_ns)
			rc = -ETIMEDOUT;
		if (rc)
			break;
		if (!d && !(d = malloc(sizeof(*d)))) {
			rc = -ENOMEM;
			break;
		}
		n = recv(c->fd, d->data, sizeof(d->data), MSG_DONTWAIT);
		if (n < 0) {
			queued = false;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			rc = -errno;	/* ECONNREFUSED: nothing listens there */
			break;
		}
		queued = true;
		count(&c->reads);
		if (!mc_reply_id(d->data, (size_t)n, &id)) {
			count(&c->malformed);
			continue;
		}
		d->len = (size_t)n;
		if (id == own) {
			*reply = d;
			return 0;
		}
		if (exitleft_deliver(c->stage, &id, sizeof(id), d) == 1) {
			count(&c->handoffs);
			d = NULL;
		} else {
			count(&c->stray);	/* no ticket holds the id, or its mailbox is full */
		}
	}
	free(d);
	return rc;
}

/*
 * Sends the request in req (its id set here) and waits for its reply until timeout_ms
 * from now. Returns 0 with the reply in *reply (the caller frees it), or -errno.
 */
static int mc_call(struct mc_client *c, uint8_t *req, size_t len, unsigned timeout_ms,
		   struct mc_dgram **reply)
{
	uint64_t deadline_ns = now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct timespec deadline = {
		.tv_sec = (time_t)(deadline_ns / 1000000000u),
		.tv_nsec = (long)(deadline_ns % 1000000000u),
	};
	exitleft_ticket *t;
	uint16_t id;
	int rc;

	rc = id_take(c, &t, &id);
	if (rc)
		return rc;
	mc_set_id(req, id);
	count(&c->requests);
	/* The ticket exists before the request leaves: a head that reads the reply at once
	 * finds a ticket to deliver it to. */
	if (send(c->fd, req, len, 0) < 0) {
		rc = -errno;
		ticket_drop(c, t);
		return rc;
	}
	for (;;) {
		rc = exitleft_enter(t, &deadline);
		if (rc == EXITLEFT_TOKEN) {
			if (exitleft_take(t, (void **)reply) == 1) {
				rc = 0;
				break;
			}
			continue;	/* not reached: nobody notifies without delivering */
		}
		if (rc == EXITLEFT_HEAD) {
			rc = head_read(c, id, deadline_ns, reply);
			exitleft_exit(t);
			break;
		}
		rc = rc == EXITLEFT_TIMEOUT ? -ETIMEDOUT : rc < 0 ? rc : -EIO;	/* CLOSED: never */
		break;
	}
	if (rc == -ETIMEDOUT) {
		count(&c->timeouts);
		quarantine_add(c, t, id);
	} else {
		ticket_drop(c, t);
	}
	return rc;
}

int mc_get(struct mc_client *c, const char *key, void *buf, size_t cap, size_t *len,
	   unsigned timeout_ms)
{
	uint8_t req[MC_DGRAM_MAX];
	size_t n = mc_build_get(req, sizeof(req), 0, key);
	struct mc_dgram *reply;
	const uint8_t *val;
	int rc;

	if (!n)
		return -EINVAL;
	rc = mc_call(c, req, n, timeout_ms, &reply);
	if (rc)
		return rc;
	rc = mc_parse_get(reply->data, reply->len, key, &val, len);
	if (rc == 1) {
		if (*len <= cap)
			memcpy(buf, val, *len);
		else
			rc = -EMSGSIZE;
	}
	free(reply);
	return rc;
}

int mc_set(struct mc_client *c, const char *key, const void *val, size_t len,
	   unsigned timeout_ms)
{
	uint8_t req[MC_DGRAM_MAX];
	size_t n = mc_build_set(req, sizeof(req), 0, key, val, len);
	struct mc_dgram *reply;
	int rc;

	if (!n)
		return mc_key_valid(key) ? -EMSGSIZE : -EINVAL;
	rc = mc_call(c, req, n, timeout_ms, &reply);
	if (rc)
		return rc;
	rc = mc_parse_set(reply->data, reply->len);
	free(reply);
	return rc;
}

int mc_client_new(const struct sockaddr *server, socklen_t len, struct mc_client **out)
{
	struct mc_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->fd = socket(server->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, server, len) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = exitleft_stage_new(&c->stage);
	if (rc)
		goto fail;
	pthread_mutex_init(&c->lock, NULL);
	c->zombies_tail = &c->zombies;
	c->next_id = (uint16_t)now_ns();	/* not 0 after every restart, for a server's logs */
	*out = c;
	return 0;
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return rc;
}

void mc_client_free(struct mc_client *c)
{
	pthread_mutex_lock(&c->lock);
	quarantine_expire(c, UINT64_MAX);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
	exitleft_stage_free(c->stage);
	close(c->fd);
	free(c);
}

void mc_client_stats(struct mc_client *c, struct mc_client_stats *out)
{
	out->requests = atomic_load_explicit(&c->requests, memory_order_relaxed);
	out->timeouts = atomic_load_explicit(&c->timeouts, memory_order_relaxed);
	out->reads = atomic_load_explicit(&c->reads, memory_order_relaxed);
	out->handoffs = atomic_load_explicit(&c->handoffs, memory_order_relaxed);
	out->stray = atomic_load_explicit(&c->stray, memory_order_relaxed);
	out->malformed = atomic_load_explicit(&c->malformed, memory_order_relaxed);
	out->quarantined = atomic_load_explicit(&c->quarantined, memory_order_relaxed);
}
