/*
 * udp-common.c - addresses, sockets, reading in batches, stopping on a signal, clocks, the
 * echo protocol and percentiles for the UDP examples
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "udp-common.h"

/* Socket buffers: 256 peers in flight at once must never overflow the server's queue. */
#define UDP_SOCKBUF (4 << 20)

int udp_addr_parse(const char *host, unsigned port, struct udp_addr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	if (port > 65535)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

bool udp_addr_normalise(const struct sockaddr_storage *in, struct udp_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (in->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)in;
		struct sockaddr_in *b = (struct sockaddr_in *)&out->ss;

		b->sin_family = AF_INET;
		b->sin_port = a->sin_port;
		b->sin_addr = a->sin_addr;
		out->len = sizeof(*b);
		return true;
	}
	if (in->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)in;
		struct sockaddr_in6 *b = (struct sockaddr_in6 *)&out->ss;

		b->sin6_family = AF_INET6;
		b->sin6_port = a->sin6_port;
		b->sin6_addr = a->sin6_addr;
		/* The scope tells link-local peers apart; flowinfo is per-packet, not identity. */
		b->sin6_scope_id = a->sin6_scope_id;
		out->len = sizeof(*b);
		return true;
	}
	return false;
}

bool udp_addr_equal(const struct udp_addr *a, const struct udp_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

unsigned udp_addr_port(const struct udp_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

void udp_addr_format(const struct udp_addr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, host,
			  sizeof(host));
		snprintf(buf, cap, "%s:%u", host, udp_addr_port(a));
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, host,
			  sizeof(host));
		snprintf(buf, cap, "[%s]:%u", host, udp_addr_port(a));
	}
}

/* Asks for `bytes` of buffer; as root, past net.core.[rw]mem_max too. Best effort. */
static void socket_grow_buffer(int fd, int opt, int force_opt, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

int udp_socket_bind(const struct udp_addr *a, bool reuseaddr)
{
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	if (reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	socket_grow_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, UDP_SOCKBUF);
	socket_grow_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, UDP_SOCKBUF);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

int udp_socket_rcvtimeo(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

/* msg[i] reads datagram i into data[i] through iov[i], and its sender into from[i]; every
 * udp_batch_recv() sets them afresh. */
struct udp_batch {
	struct mmsghdr msg[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	struct sockaddr_storage from[UDP_BATCH_MAX];
	char data[UDP_BATCH_MAX][UDP_DGRAM_MAX];
};

struct udp_batch *udp_batch_new(void)
{
	return malloc(sizeof(struct udp_batch));
}

void udp_batch_free(struct udp_batch *b)
{
	free(b);
}

int udp_batch_recv(struct udp_batch *b, int fd)
{
	int n;

	for (int i = 0; i < UDP_BATCH_MAX; i++) {
		b->iov[i] = (struct iovec){ .iov_base = b->data[i], .iov_len = UDP_DGRAM_MAX };
		/* Every call: the kernel writes each message's name length back. */
		b->msg[i].msg_hdr = (struct msghdr){
			.msg_name = &b->from[i], .msg_namelen = sizeof(b->from[i]),
			.msg_iov = &b->iov[i], .msg_iovlen = 1,
		};
	}
	/* No timeout argument: recvmmsg() checks it only after each datagram; SO_RCVTIMEO
	 * bounds the wait for the first, and MSG_WAITFORONE makes the others not wait. */
	n = recvmmsg(fd, b->msg, UDP_BATCH_MAX, MSG_WAITFORONE, NULL);
	if (n < 0)
		return -errno;
	/* A socket whose reading side is shut down yields an empty message with no sender
	 * (where recvfrom() returns 0); a real datagram, even an empty one, has a sender. */
	for (int i = 0; i < n; i++)
		if (b->msg[i].msg_hdr.msg_namelen == 0)
			return i;
	return n;
}

const char *udp_batch_get(const struct udp_batch *b, int i, size_t *len,
			  const struct sockaddr_storage **from)
{
	*len = b->msg[i].msg_len;
	*from = &b->from[i];
	return b->data[i];
}

int udp_parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* A signal handler may store only to a lock-free atomic (C11 7.14.1.1). */
_Static_assert(ATOMIC_BOOL_LOCK_FREE == 2, "atomic_bool is not lock-free");

static atomic_bool udp_stop_flag;

static void udp_stop_handler(int sig)
{
	(void)sig;
	atomic_store(&udp_stop_flag, true);
}

atomic_bool *udp_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = udp_stop_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &udp_stop_flag;
}

void udp_stop_init(struct udp_stop *s, atomic_bool *flag, uint64_t duration_ms)
{
	s->flag = flag;
	s->end_ns = duration_ms ? udp_now_ns() + duration_ms * 1000000u : 0;
}

bool udp_stopping(struct udp_stop *s)
{
	if (atomic_load_explicit(s->flag, memory_order_relaxed))
		return true;
	if (s->end_ns && udp_now_ns() >= s->end_ns) {
		atomic_store(s->flag, true);
		return true;
	}
	return false;
}

uint64_t udp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void udp_deadline_ms(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

unsigned udp_echo_sleep_ms(const char *in, size_t len)
{
	unsigned ms = 0;
	size_t i = 6;

	if (len < 8 || memcmp(in, "sleep:", 6) != 0)
		return 0;
	for (; i < len && in[i] >= '0' && in[i] <= '9' && ms <= UDP_SLEEP_MAX_MS; i++)
		ms = ms * 10 + (unsigned)(in[i] - '0');
	if (i == len || in[i] != ':')
		return 0;
	return ms < UDP_SLEEP_MAX_MS ? ms : UDP_SLEEP_MAX_MS;
}

bool udp_echo_slow(const char *in, size_t len)
{
	return udp_echo_sleep_ms(in, len) > 0;
}

size_t udp_echo_answer(uint64_t n, const char *in, size_t len, char *out, size_t cap)
{
	unsigned ms = udp_echo_sleep_ms(in, len);

	if (ms) {
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return udp_echo_format(n, in, len, out, cap);
}

size_t udp_echo_format(uint64_t n, const char *in, size_t len, char *out, size_t cap)
{
	int head = snprintf(out, cap, "%llu ", (unsigned long long)n);

	if (head < 0 || (size_t)head >= cap)
		return 0;
	if (len > cap - (size_t)head)
		len = cap - (size_t)head;
	memcpy(out + head, in, len);
	return (size_t)head + len;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void udp_sort_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t udp_percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

struct udp_dgram *udp_dgram_new(const struct sockaddr_storage *from, const char *data,
				size_t len)
{
	struct udp_dgram *d = malloc(sizeof(*d) + len);

	if (!d || !udp_addr_normalise(from, &d->from)) {
		free(d);
		return NULL;
	}
	d->len = len;
	d->next = NULL;
	memcpy(d->data, data, len);
	return d;
}
