/*
 * mc-client.c - memcached over UDP, one socket shared by every thread on a stage
 *
 * A call borrows a slot (below), sends its request with the slot's next request id, and
 * enters the stage with the slot's ticket until its reply is there:
 *
 *   EXITLEFT_TOKEN  another thread read the reply and delivered it: take it. What else is
 *                   in the mailbox (a duplicate, a reply to an earlier request of the slot)
 *                   has another id: dropped, counted stray.
 *   EXITLEFT_HEAD   this thread reads the socket, up to MC_BATCH datagrams a call: a reply
 *                   with its own id it keeps; any other it delivers to the ticket of the
 *                   slot its id belongs to, which wakes that thread alone; a reply for its
 *                   own slot but an older id, or for a slot with no ticket, is stray. Once
 *                   its own reply is in and the batch routed, it exits.
 *   EXITLEFT_TIMEOUT
 *                   the slot goes into quarantine.
 *
 * Only heads deliver, and a head never delivers to its own slot: so a thread made head
 * never finds its own reply in its mailbox; it is still in the socket.
 *
 * Slots. Slot k owns the request ids k * MC_SLOT_IDS to k * MC_SLOT_IDS + MC_SLOT_IDS - 1,
 * used in turn; its ticket's token is k. A slot is made the first time no free one is left
 * and is never freed before the client: after a call it goes back on the free list (last
 * in, first out, so a few slots stay warm), or, if the call timed out, into quarantine for
 * MC_ID_QUARANTINE_MS, so that no newer request reuses its ids while the late reply may
 * still come. A quarantined slot's mailbox is kept full (limit 1, one mark in it): a head's
 * delivery of the late reply is refused, and the head drops it and counts it at once. Every
 * slot's mailbox is bounded (MAILBOX): a server that repeats itself cannot grow memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exitleft.h"
#include "mc-client.h"
#include "mc-proto.h"

#define MC_SLOTS (65536 / MC_SLOT_IDS)
#define MAILBOX 4	/* replies a slot's ticket holds: its own and a duplicate or two */
#define MC_BATCH 32	/* datagrams a head takes from the socket in one call */

/* A reply as a head read it; owned by whoever holds the pointer (head, mailbox, caller). */
struct mc_dgram {
	size_t len;
	uint8_t data[];
};

/*
 * A slot. number and ticket are fixed from its making to the client's end; seq belongs to
 * the call that has borrowed the slot; until_ns and next to the client's lock.
 */
struct mc_slot {
	exitleft_ticket *ticket;	/* token: number, 2 bytes */
	uint16_t number;
	uint16_t seq;			/* the next request's id: number * MC_SLOT_IDS + seq */
	uint64_t until_ns;		/* in quarantine until then */
	struct mc_slot *next;		/* on the free list or in quarantine */
};

/*
 * A client. fd and stage are fixed from mc_client_new() to mc_client_free(). lock guards
 * the slots, the free list and the quarantine (oldest first: every entry lives equally long,
 * so appending keeps the order), and is taken before the stage's lock, never after it. The
 * counters are relaxed atomics: each is exact, a set of them read together is not a
 * snapshot. The batch belongs to the thread heading the stage: headship passes under the
 * stage's lock, which orders each head's use of it before the next head's.
 */
struct mc_client {
	int fd;				/* connected to the server: nobody else's datagrams */
	exitleft_stage *stage;
	pthread_mutex_t lock;
	struct mc_slot *slots[MC_SLOTS];
	unsigned nslots;
	struct mc_slot *free_slots;
	struct mc_slot *quarantine, **quarantine_tail;
	atomic_uint_fast64_t requests, timeouts, reads, handoffs, stray, malformed, quarantined;
	struct {
		struct mmsghdr msgs[MC_BATCH];
		struct iovec iov[MC_BATCH];
		uint8_t buf[MC_BATCH][MC_DGRAM_MAX];
	} batch;
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

/* What fills a quarantined slot's mailbox; not a reply, never freed. */
static char quarantine_mark;

/* Drops what a slot nobody waits with holds: replies (counted stray) and the mark. */
static void slot_empty(struct mc_client *c, struct mc_slot *s)
{
	void *item;

	while (exitleft_take(s->ticket, &item) == 1) {
		if (item != &quarantine_mark) {
			free(item);
			count(&c->stray);
		}
	}
}

/* Ends the quarantines that are over, the slots free again. Lock held. */
static void quarantine_expire(struct mc_client *c, uint64_t now)
{
	struct mc_slot *s;

	while ((s = c->quarantine) && s->until_ns <= now) {
		c->quarantine = s->next;
		if (!c->quarantine)
			c->quarantine_tail = &c->quarantine;
		slot_empty(c, s);
		exitleft_ticket_limit(s->ticket, MAILBOX);
		s->next = c->free_slots;
		c->free_slots = s;
		atomic_fetch_sub_explicit(&c->quarantined, 1, memory_order_relaxed);
	}
}

/* A new slot, its ticket made. Lock held. */
static int slot_make(struct mc_client *c, struct mc_slot **out)
{
	struct mc_slot *s;
	int rc;

	if (c->nslots == MC_SLOTS)
		return -EAGAIN;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->number = (uint16_t)c->nslots;
	rc = exitleft_ticket_new(c->stage, &s->number, sizeof(s->number), &s->ticket);
	if (rc) {
		free(s);
		return rc;
	}
	exitleft_ticket_limit(s->ticket, MAILBOX);
	c->slots[c->nslots++] = s;
	*out = s;
	return 0;
}

/* Borrows a slot for a call: 0, -EAGAIN if MC_SLOTS calls have them, -errno. */
static int slot_take(struct mc_client *c, struct mc_slot **out)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (c->quarantine)
		quarantine_expire(c, now_ns());
	if (c->free_slots) {
		*out = c->free_slots;
		c->free_slots = (*out)->next;
	} else {
		rc = slot_make(c, out);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Gives a slot back after a call; into quarantine if the call timed out. */
static void slot_put(struct mc_client *c, struct mc_slot *s, bool timed_out)
{
	if (timed_out) {
		/* Full from now on. A head may deliver the late reply between the empty and
		 * the mark: then that reply fills the mailbox instead. */
		exitleft_ticket_limit(s->ticket, 1);
		slot_empty(c, s);
		(void)exitleft_deliver(c->stage, &s->number, sizeof(s->number), &quarantine_mark);
		s->until_ns = now_ns() + (uint64_t)MC_ID_QUARANTINE_MS * 1000000u;
		count(&c->quarantined);
	}
	pthread_mutex_lock(&c->lock);
	s->next = NULL;
	if (timed_out) {
		*c->quarantine_tail = s;
		c->quarantine_tail = &s->next;
	} else {
		s->next = c->free_slots;
		c->free_slots = s;
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * Takes what the mailbox holds until the reply with id `want` (0, in *reply); -EAGAIN when
 * it is not there. Anything else is stray.
 */
static int slot_collect(struct mc_client *c, struct mc_slot *s, uint16_t want,
			struct mc_dgram **reply)
{
	struct mc_dgram *d;
	uint16_t id;

	while (exitleft_take(s->ticket, (void **)&d) == 1) {
		if (mc_reply_id(d->data, d->len, &id) && id == want) {
			*reply = d;
			return 0;
		}
		free(d);
		count(&c->stray);
	}
	return -EAGAIN;
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

/* Routes one datagram a head read: its own reply into *reply, any other to its slot. */
static void head_route(struct mc_client *c, const uint8_t *data, size_t len, uint16_t own,
		       struct mc_dgram **reply)
{
	uint16_t id, slot;
	struct mc_dgram *d;

	count(&c->reads);
	if (!mc_reply_id(data, len, &id)) {
		count(&c->malformed);
		return;
	}
	slot = id / MC_SLOT_IDS;
	if (slot == own / MC_SLOT_IDS && (id != own || *reply)) {
		count(&c->stray);	/* an older reply of our slot, or a duplicate */
		return;
	}
	d = malloc(sizeof(*d) + len);
	if (!d) {
		count(&c->stray);	/* no memory: as if lost; its requester times out */
		return;
	}
	d->len = len;
	memcpy(d->data, data, len);
	if (id == own) {
		*reply = d;
	} else if (exitleft_deliver(c->stage, &slot, sizeof(slot), d) == 1) {
		count(&c->handoffs);
	} else {
		free(d);	/* no ticket for the slot, or its mailbox is full */
		count(&c->stray);
	}
}

/*
 * The head's work: reads the socket, delivering every other reply to its slot, until the
 * reply with id `own` arrives (0, in *reply) or the deadline passes (-ETIMEDOUT).
 */
static int head_read(struct mc_client *c, uint16_t own, uint64_t deadline_ns,
		     struct mc_dgram **reply)
{
	bool queued = false;	/* the last read filled its batch: more may be waiting */

	*reply = NULL;
	for (;;) {
		int n, rc;

		/* Our request has only just left: ask for readiness first rather than try a
		 * read that would fail; with a full batch just read, read on without asking. */
		rc = queued ? (now_ns() < deadline_ns ? 0 : -ETIMEDOUT)
			    : wait_readable(c->fd, deadline_ns);
		if (rc)
			return rc;
		n = recvmmsg(c->fd, c->batch.msgs, MC_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			queued = false;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return -errno;	/* ECONNREFUSED: nothing listens there */
		}
		for (int i = 0; i < n; i++)
			head_route(c, c->batch.buf[i], c->batch.msgs[i].msg_len, own, reply);
		if (*reply)
			return 0;
		queued = n == MC_BATCH;
	}
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
	struct mc_slot *s;
	uint16_t id;
	int rc;

	rc = slot_take(c, &s);
	if (rc)
		return rc;
	id = (uint16_t)(s->number * MC_SLOT_IDS + s->seq);
	s->seq = (uint16_t)((s->seq + 1) % MC_SLOT_IDS);
	mc_set_id(req, id);
	count(&c->requests);
	/* The slot's ticket exists before the request leaves: a head that reads the reply at
	 * once finds a ticket to deliver it to. */
	if (send(c->fd, req, len, 0) < 0) {
		rc = -errno;
		slot_put(c, s, false);
		return rc;
	}
	for (;;) {
		rc = exitleft_enter(s->ticket, &deadline);
		if (rc == EXITLEFT_TOKEN) {
			rc = slot_collect(c, s, id, reply);
			if (rc == 0)
				break;
			continue;	/* only stray replies: wait on */
		}
		if (rc == EXITLEFT_HEAD) {
			rc = head_read(c, id, deadline_ns, reply);
			exitleft_exit(s->ticket);
			break;
		}
		rc = rc == EXITLEFT_TIMEOUT ? -ETIMEDOUT : rc < 0 ? rc : -EIO;	/* CLOSED: never */
		break;
	}
	if (rc == -ETIMEDOUT)
		count(&c->timeouts);
	slot_put(c, s, rc == -ETIMEDOUT);
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
	c->quarantine_tail = &c->quarantine;
	for (int i = 0; i < MC_BATCH; i++) {
		c->batch.iov[i] = (struct iovec){ c->batch.buf[i], MC_DGRAM_MAX };
		c->batch.msgs[i].msg_hdr.msg_iov = &c->batch.iov[i];
		c->batch.msgs[i].msg_hdr.msg_iovlen = 1;
	}
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
	for (unsigned i = 0; i < c->nslots; i++) {
		struct mc_slot *s = c->slots[i];

		/* A head may no longer deliver (no call is in progress): one pass empties it. */
		slot_empty(c, s);
		exitleft_ticket_free(s->ticket);
		free(s);
	}
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
