/*
 * udp-common.h - what the UDP server, client and bench share: addresses, sockets, reading in
 * batches, stopping on a signal, clocks, the echo protocol and percentiles.
 *
 * The protocol: every datagram a peer sends is answered with one datagram, "<n> <payload>",
 * where <payload> is the datagram as received and <n> counts the datagrams the server's thread
 * for that peer has answered, from 1. A payload starting "sleep:<ms>:" makes the peer's thread
 * sleep that long (at most UDP_SLEEP_MAX_MS) before answering, to play a slow peer.
 */
#ifndef EXITLEFT_UDP_COMMON_H
#define EXITLEFT_UDP_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define UDP_DGRAM_MAX 2048	/* longest datagram the examples handle; longer ones truncate */
#define UDP_SLEEP_MAX_MS 1000

/*
 * A peer's address as a token: the struct zeroed, then family, address and port copied in,
 * so that padding bytes (sin_zero, sin6_flowinfo) never make equal peers differ.
 */
struct udp_addr {
	struct sockaddr_storage ss;
	socklen_t len;		/* sizeof(struct sockaddr_in) or sizeof(struct sockaddr_in6) */
};

/* Parses host (numeric IPv4 or IPv6) and port into *out. Returns 0 or -EINVAL. */
int udp_addr_parse(const char *host, unsigned port, struct udp_addr *out);

/* Normalises a recvfrom() address; returns false for a family other than INET/INET6. */
bool udp_addr_normalise(const struct sockaddr_storage *in, struct udp_addr *out);

/* Whether two normalised addresses are the same peer. */
bool udp_addr_equal(const struct udp_addr *a, const struct udp_addr *b);

/* "127.0.0.1:4242" or "[::1]:4242" into buf. */
void udp_addr_format(const struct udp_addr *a, char *buf, size_t cap);

/* The port of a normalised address. */
unsigned udp_addr_port(const struct udp_addr *a);

/* A datagram socket of the address's family bound to it, with large buffers; -errno. */
int udp_socket_bind(const struct udp_addr *a, bool reuseaddr);

/* Sets a socket's receive timeout; 0 on success, -errno. */
int udp_socket_rcvtimeo(int fd, unsigned ms);

/*
 * A datagram as received, on its way to the thread that answers it; owned by whoever holds
 * the pointer. next is the holder's to link a queue with.
 */
struct udp_dgram {
	struct udp_addr from;
	size_t len;
	struct udp_dgram *next;
	char data[];
};

/* A udp_dgram holding a copy of the len bytes at data from `from` (a recvfrom() address,
 * normalised here); NULL if out of memory or not an INET/INET6 address. */
struct udp_dgram *udp_dgram_new(const struct sockaddr_storage *from, const char *data,
				size_t len);

/* Datagrams one udp_batch_recv() reads at most. */
#define UDP_BATCH_MAX 32

/*
 * Room for the datagrams of one recvmmsg() and their senders: UDP_BATCH_MAX datagrams of
 * UDP_DGRAM_MAX bytes, about 70 KiB, so it lives on the heap and a reader keeps one. Only
 * one thread at a time may use a batch; what it holds is valid until its next read.
 */
struct udp_batch;

/* A batch, or NULL when out of memory. udp_batch_free(NULL) does nothing. */
struct udp_batch *udp_batch_new(void);
void udp_batch_free(struct udp_batch *b);

/*
 * Reads fd into b with one system call: blocks for the first datagram (as long as the
 * socket's receive timeout allows), then takes what else is queued, up to UDP_BATCH_MAX,
 * without waiting. Returns the number of datagrams read; 0 if fd's reading side is shut
 * down; or -errno if none was read (-EAGAIN: the timeout passed; -EINTR: a signal).
 */
int udp_batch_recv(struct udp_batch *b, int fd);

/*
 * Datagram i of the last udp_batch_recv(): returns its bytes, truncated to UDP_DGRAM_MAX,
 * and sets *len to their number and *from to its sender as recvfrom() gives it.
 */
const char *udp_batch_get(const struct udp_batch *b, int i, size_t *len,
			  const struct sockaddr_storage **from);

/* A whole decimal number from 0 to max, the whole of s, into *out; 0, or -1 if it is not. */
int udp_parse_uint(const char *s, unsigned max, unsigned *out);

/*
 * Makes SIGINT and SIGTERM raise a flag instead of ending the process, and returns the flag,
 * for a server's `stop`. There is one flag per process, as there is one disposition per
 * signal: every call returns the same one.
 */
atomic_bool *udp_stop_on_signals(void);

/* When a server stops: once *flag is raised, or once its duration has passed. */
struct udp_stop {
	atomic_bool *flag;
	uint64_t end_ns;	/* when the duration passes (udp_now_ns()), or 0: never */
};

/* A stop on *flag or, unless duration_ms is 0, after that long. */
void udp_stop_init(struct udp_stop *s, atomic_bool *flag, uint64_t duration_ms);

/*
 * Whether to stop. Once the duration has passed it raises the flag as well: from then on the
 * server stops as if told to. Any thread; it takes no lock.
 */
bool udp_stopping(struct udp_stop *s);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t udp_now_ns(void);

/* An absolute CLOCK_MONOTONIC deadline `ms` from now. */
void udp_deadline_ms(struct timespec *ts, unsigned ms);

/*
 * The server side of the protocol: writes the answer to `in` as the `n`-th datagram of its
 * peer into out (cap bytes), after sleeping if asked to. Returns the answer's length.
 */
size_t udp_echo_answer(uint64_t n, const char *in, size_t len, char *out, size_t cap);

/* Whether answering `in` takes a while (a "sleep:" request): a head should step down first. */
bool udp_echo_slow(const char *in, size_t len);

/* How long answering `in` asks to sleep, in ms (at most UDP_SLEEP_MAX_MS; 0: not at all). */
unsigned udp_echo_sleep_ms(const char *in, size_t len);

/*
 * udp_echo_answer() without the sleep, for a server that sleeps its own way (one that a
 * shutdown can cut short): writes the answer into out and returns its length.
 */
size_t udp_echo_format(uint64_t n, const char *in, size_t len, char *out, size_t cap);

/* Sorts v in place, ascending. */
void udp_sort_u64(uint64_t *v, size_t n);

/* The p-th percentile (0 < p <= 100, nearest rank) of sorted values; 0 when n is 0. */
uint64_t udp_percentile(const uint64_t *sorted, size_t n, double p);

#endif /* EXITLEFT_UDP_COMMON_H */
