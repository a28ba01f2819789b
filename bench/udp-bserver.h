/*
 * udp-bserver.h - the servers exitleft-udp-bench measures the stage against, and what they
 * share
 *
 * Four ways to serve the UDP echo protocol (examples/udp-common.h) with a thread per peer
 * and no stage: broadcast (udp-broadcast.c), dispatcher and dispatcher-mmsg
 * (udp-dispatcher.c) and connected (udp-connected.c). udp-bserver.c holds their plumbing:
 * reading and answering a datagram, and the table of peers with a queue each. The stage's
 * server is the examples' own, udp-server-core.c. "Peer" means a UDP peer here, as in the
 * examples: one client socket, served by one server thread.
 */
#ifndef EXITLEFT_BENCH_UDP_BSERVER_H
#define EXITLEFT_BENCH_UDP_BSERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "udp-common.h"

/* Every reader's receive timeout: how often a thread blocked on a socket sees the stop. */
#define BSERVER_POLL_MS 20

/*
 * A peer of the broadcast, dispatcher or connected server, keyed by its address in a uthash
 * table. broadcast: queue and counters guarded by the server's one mutex; dispatcher: by the
 * peer's own mutex; connected: no queue, the thread owns everything. The table itself is
 * touched by the reader only (dispatcher, connected) or under the mutex (broadcast).
 * recv_calls counts the reads of the peer's own socket (connected): the listener's before
 * it starts the thread, then the thread's.
 */
struct bpeer {
	struct udp_addr addr;
	pthread_t thread;
	pthread_mutex_t lock;	/* dispatcher only */
	pthread_cond_t cond;	/* dispatcher only */
	struct udp_dgram *first, *last;
	int fd;			/* connected only */
	uint64_t answered, wakes, recv_calls;
	bool joined;		/* bserver_join_free()'s, the server's own thread's */
	struct bserver *srv;
	UT_hash_handle hh;
};

/*
 * A broadcast, dispatcher or connected server. For broadcast, lock guards every field but
 * fd, stop and recv_calls; for the others peers belongs to the reading thread and wakes are
 * summed after joins. recv_calls counts the calls that read fd, made by one thread at a time
 * (broadcast: the one that set reading, under lock); the peers' own (connected) are added
 * once every thread is joined. *stop is raised once, from outside (a signal handler), and
 * only read here.
 */
struct bserver {
	int fd;
	atomic_bool *stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* broadcast: the one condvar everybody waits on */
	bool reading;		/* broadcast: a thread is reading the socket */
	struct bpeer *peers;
	uint64_t received, wakes, misrouted, recv_calls;
};

/* Readies s to serve fd, with BSERVER_POLL_MS as the socket's receive timeout; -errno. */
int bserver_init(struct bserver *s, int fd, atomic_bool *stop);
void bserver_fini(struct bserver *s);

static inline bool bserver_stopping(const struct bserver *s)
{
	return atomic_load_explicit(s->stop, memory_order_relaxed);
}

/*
 * Each serves s->fd until *s->stop is raised, then joins and frees its threads and leaves
 * its counts in s: datagrams received, thread wakes, datagrams the kernel gave the wrong
 * socket (connected only), receive system calls. The dispatcher reads one datagram a call,
 * or with `batch` up to UDP_BATCH_MAX (recvmmsg(), as the stage's head does).
 */
void bserver_run_broadcast(struct bserver *s);
void bserver_run_dispatcher(struct bserver *s, bool batch);
void bserver_run_connected(struct bserver *s);

/*
 * Reads one datagram (recvfrom() flags), or NULL on timeout, stop or error. Every call adds
 * one to *calls.
 */
struct udp_dgram *bserver_read(int fd, int flags, uint64_t *calls);

/* A datagram of len bytes from `from` (as recvfrom() gives it), unlinked; NULL if out of
 * memory or from another family. */

/* Answers d as the n-th datagram of its peer, on fd (connected if `connected`); frees d. */
void bserver_answer(int fd, struct udp_dgram *d, uint64_t n, bool connected);

/* The peer's queue: its owner's lock held (see struct bpeer). */
void bpeer_push(struct bpeer *p, struct udp_dgram *d);
struct udp_dgram *bpeer_pop(struct bpeer *p);

struct bpeer *bserver_peer_find(struct bserver *s, const struct udp_addr *a);
/* A new peer in the table, no thread yet; NULL when out of memory. */
struct bpeer *bserver_peer_add(struct bserver *s, const struct udp_addr *a);
/* Joins every peer's thread (the caller has woken them), adds up its wakes and receive
 * calls, frees it. */
void bserver_join_free(struct bserver *s);

#endif /* EXITLEFT_BENCH_UDP_BSERVER_H */
