/*
 * mc-bclient.h - the memcached clients exitleft-mc-bench measures the stage's against, and
 * what they share
 *
 * Three ways for T requester threads to GET from one memcached over UDP without a stage,
 * each in its own file: dispatcher (mc-dispatcher.c), per-thread (mc-per-thread.c) and
 * broadcast (mc-broadcast.c). mc-bclient.c holds their plumbing: the sockets, the request
 * ids, a reply filed in its requester's slot, the reply read. The stage's client is the
 * examples' own (examples/memcached/mc-client.c). A requester is one thread, numbered `who`
 * from 0 to T - 1, with one request in flight at a time.
 *
 * Request ids: requester who owns the ids who * range to (who + 1) * range - 1, range being
 * 65 536 / T, and takes the next of them, in turn, for every request. A reply is taken only
 * if its id is the one its requester waits for now, so a reply that comes after its request
 * timed out is never taken for the reply to a newer request (unless its requester has sent
 * `range` more in the meantime, 64 at the least); it is dropped and counted as stray, as is
 * a reply with an id nobody owns.
 */
#ifndef EXITLEFT_BENCH_MC_BCLIENT_H
#define EXITLEFT_BENCH_MC_BCLIENT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "mc-proto.h"

/* Most requesters a client serves: each keeps 64 ids (MCB_IDS / MCB_MAX_REQUESTERS). */
#define MCB_IDS 65536u
#define MCB_MAX_REQUESTERS 1024u

/*
 * How long a thread blocked on a socket waits before it looks again at its deadline or at
 * the stop: the receive timeout of every socket here.
 */
#define MCB_POLL_MS 20

/*
 * A requester's slot. The dispatcher guards want, waiting and filled with the slot's lock,
 * broadcast with the client's; the per-thread client uses none of them (its requester's
 * socket is the slot). While waiting, a reply with id want may be filed once: reply and len
 * are written by that filing alone, under the lock, and read by the requester once it has
 * seen filled under the lock. seq belongs to the requester.
 */
struct mcb_slot {
	pthread_mutex_t lock;	/* dispatcher */
	pthread_cond_t cond;	/* dispatcher: the requester's own, signalled by the reader */
	int fd;			/* per-thread: the requester's own socket, connected */
	unsigned base, seq;	/* the request's id is base + seq % range */
	uint16_t want;
	bool waiting, filled;
	size_t len;
	uint8_t reply[MC_DGRAM_MAX];
	uint64_t stray;		/* per-thread: replies its requester dropped */
};

/*
 * A client of one memcached for `nslots` requesters. For broadcast, lock guards reading,
 * stray and every slot's want, waiting and filled; for the dispatcher, stray belongs to the
 * reader thread until it is joined. stop is raised once, by mcb_close().
 */
struct mcb_client {
	enum impl impl;
	int fd;			/* dispatcher, broadcast: the one socket, connected */
	unsigned nslots, range;
	struct mcb_slot *slots;
	pthread_mutex_t lock;	/* broadcast */
	pthread_cond_t cond;	/* broadcast: the one condvar every requester waits on */
	bool reading;		/* broadcast: a requester is reading the socket */
	pthread_t reader;	/* dispatcher */
	bool reader_running;	/* dispatcher: reader is to be stopped and joined */
	atomic_bool stop;	/* dispatcher: the reader's */
	uint64_t stray;
};

/*
 * Readies c as `impl` (dispatcher, per-thread or broadcast) for `requesters` threads (1 to
 * MCB_MAX_REQUESTERS) of the memcached at server: its sockets, and the dispatcher's reader.
 * Returns 0 or a negative errno.
 */
int mcb_open(struct mcb_client *c, enum impl impl, const struct sockaddr_in *server,
	     unsigned requesters);

/*
 * Stops the reader, closes and frees what mcb_open() made, and leaves in c->stray the
 * replies dropped. Every mcb_get() has returned.
 */
void mcb_close(struct mcb_client *c);

/*
 * Requester `who` gets the value of `key`, as mc_get() does (mc-client.h): 1 with the value
 * in buf (cap bytes) and its length in *len, 0 when it is not stored, or a negative errno
 * (-ETIMEDOUT timeout_ms after the call, -EPROTO for a malformed reply or one of another
 * key, -EMSGSIZE, the socket's error).
 */
int mcb_get(struct mcb_client *c, unsigned who, const char *key, void *buf, size_t cap,
	    size_t *len, unsigned timeout_ms);

/*
 * Each sends the request `req` (n bytes, id `id`) for requester s and waits until its reply
 * is in s->reply and s->len (0) or the deadline (CLOCK_MONOTONIC) passes (-ETIMEDOUT), or
 * the send fails (-errno).
 */
int mcb_dispatcher_exchange(struct mcb_client *c, struct mcb_slot *s, uint16_t id,
			    const uint8_t *req, size_t n, const struct timespec *deadline);
int mcb_per_thread_exchange(struct mcb_client *c, struct mcb_slot *s, uint16_t id,
			    const uint8_t *req, size_t n, const struct timespec *deadline);
int mcb_broadcast_exchange(struct mcb_client *c, struct mcb_slot *s, uint16_t id,
			   const uint8_t *req, size_t n, const struct timespec *deadline);

/* The dispatcher's reader thread: started by mcb_open(), stopped by mcb_close(). */
int mcb_dispatcher_start(struct mcb_client *c);
void mcb_dispatcher_stop(struct mcb_client *c);

/* Opens the slot for a reply with id `id`: the slot's owner's lock held. */
void mcb_slot_arm(struct mcb_slot *s, uint16_t id);

/*
 * The slot the reply d (n bytes) is for, with its id in *id: NULL if no requester owns the
 * id, or the datagram has no header.
 */
struct mcb_slot *mcb_slot_of(struct mcb_client *c, const uint8_t *d, size_t n, uint16_t *id);

/*
 * Files the reply d (n bytes, id `id`) in s if s waits for it; false if not (a stray). The
 * slot's owner's lock held.
 */
bool mcb_slot_fill(struct mcb_slot *s, uint16_t id, const uint8_t *d, size_t n);

/* Whether the CLOCK_MONOTONIC deadline has passed. */
bool mcb_past(const struct timespec *deadline);

#endif /* EXITLEFT_BENCH_MC_BCLIENT_H */
