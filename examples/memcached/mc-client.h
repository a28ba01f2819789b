/*
 * mc-client.h - a memcached client over UDP that many threads share: one socket, requests
 * multiplexed by request id on a stage
 *
 * Every call sends its request on the client's one socket and waits for its own reply, which
 * carries the request's id. Whichever waiting thread heads the stage reads the socket; a
 * reply of its own it keeps, any other it delivers to the ticket its id belongs to, which
 * wakes that thread alone. So a thread that heads usually reads its own reply (one wake per request),
 * where a client with a reading thread of its own costs two (the kernel wakes the reader, the
 * reader wakes the requester).
 *
 * Request ids are recycled safely. A call borrows a slot: a ticket whose token is the slot's
 * number, and the slot's own MC_SLOT_IDS request ids, used in turn, one per request. A head
 * delivers a reply to the slot its id belongs to, and the requester takes it only if the id
 * is the one it waits for now: a duplicate, or a reply to an earlier request of the slot, is
 * dropped and counted (stray). A slot whose request timed out is kept out of use for
 * MC_ID_QUARANTINE_MS, so that its late reply is not taken for a newer request's; the
 * quarantined slot refuses it at once. Slots are made as calls need them, up to 65 536 /
 * MC_SLOT_IDS calls at once, and reused.
 *
 * Values and requests fit in one datagram (MC_DGRAM_MAX, mc-proto.h): about 1 300 bytes of
 * value. All calls are thread-safe; mc_client_free() needs every other call to have returned.
 */
#ifndef EXITLEFT_MC_CLIENT_H
#define EXITLEFT_MC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Request ids per slot; 65 536 / MC_SLOT_IDS calls can wait at once. */
#define MC_SLOT_IDS 64

/* How long the ids of a timed-out request's slot stay out of use. */
#define MC_ID_QUARANTINE_MS 2000

struct mc_client;

struct mc_client_stats {
	uint64_t requests;	/* requests sent */
	uint64_t timeouts;	/* requests whose reply did not come in time */
	uint64_t reads;		/* datagrams read from the socket, by heads */
	uint64_t handoffs;	/* of those, replies delivered to another thread's ticket */
	uint64_t stray;		/* replies no request waited for (late or duplicate): dropped */
	uint64_t malformed;	/* datagrams too short to carry a request id: dropped */
	uint64_t quarantined;	/* slots out of use now, after a timeout */
};

/*
 * A client of the memcached at `server` (IPv4 or IPv6, UDP port). Returns 0 with *out set, or
 * a negative errno (the socket's, the stage's, -ENOMEM).
 */
int mc_client_new(const struct sockaddr *server, socklen_t len, struct mc_client **out);

/* Frees the client: every call on it has returned, none is made later. */
void mc_client_free(struct mc_client *c);

/*
 * Gets the value of `key` into buf (cap bytes), its length into *len. Gives up timeout_ms
 * after the call. Returns 1 (found), 0 (not stored) or a negative errno: -EINVAL (a key
 * memcached does not take), -ETIMEDOUT, -EMSGSIZE (the value is longer than cap, or its reply
 * spans several datagrams), -EPROTO (the server answered something else: an error line),
 * -EAGAIN (65 536 / MC_SLOT_IDS calls waiting already), or the socket's error (e.g. -ECONNREFUSED when
 * nothing listens on the server's port).
 */
int mc_get(struct mc_client *c, const char *key, void *buf, size_t cap, size_t *len,
	   unsigned timeout_ms);

/*
 * Stores the len bytes at val under `key` (flags 0, no expiry). Returns 0 or a negative
 * errno: as mc_get(), -EMSGSIZE when the request does not fit in one datagram, -EPROTO when
 * the server did not store it.
 */
int mc_set(struct mc_client *c, const char *key, const void *val, size_t len,
	   unsigned timeout_ms);

/* The client's counters so far. */
void mc_client_stats(struct mc_client *c, struct mc_client_stats *out);

#endif /* EXITLEFT_MC_CLIENT_H */
