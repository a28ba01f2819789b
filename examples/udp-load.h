/*
 * udp-load.h - the load generator shared by exitleft-udp-client and the bench: N peers, each
 * its own socket, each sending datagrams with a window of W outstanding (W = 1: ping-pong)
 * and checking every answer against the protocol of udp-common.h.
 */
#ifndef EXITLEFT_UDP_LOAD_H
#define EXITLEFT_UDP_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "udp-common.h"

struct load_config {
	struct udp_addr server;
	unsigned peers;		/* sockets, one peer each */
	unsigned count;		/* round trips per peer (0: until max_ms) */
	unsigned window;	/* datagrams outstanding per peer; 1 is ping-pong */
	unsigned threads;	/* client threads; peers are dealt among them */
	unsigned slow_peers;	/* the first slow_peers peers ask for slow_ms per answer */
	unsigned slow_ms;
	unsigned slow_count;	/* round trips of a slow peer (0: count) */
	unsigned pause_ms;	/* each peer goes silent this long halfway through */
	unsigned stagger_ms;	/* peer i starts i * stagger_ms after peer 0 */
	unsigned strays;	/* extra sockets that each send one datagram, expecting none back */
	unsigned max_ms;	/* stop sending new datagrams after this long (0: never) */
	unsigned reply_timeout_ms;	/* an answer later than this counts as lost */
	unsigned pad;		/* extra payload bytes per datagram */
	bool warmup;		/* one unmeasured round trip per peer before the clock starts */
};

struct load_result {
	uint64_t sent, received, lost;
	uint64_t mismatches;	/* wrong content, wrong order, wrong counter */
	uint64_t restarts;	/* the server's counter began again at 1: a fresh peer thread */
	uint64_t stray_answers;	/* answers to stray datagrams (expected: none) */
	double seconds;		/* from the start (after warm-up) to the last answer */
	uint64_t p50_ns, p99_ns, max_ns;	/* round trips of every peer but the slow ones */
	uint64_t slow_p50_ns;
	uint64_t slow_done_ns;	/* when the last slow peer finished, from the start */
	uint64_t fast_done_ns;	/* when the last other peer finished */
};

/* Runs the load; returns 0 (check the result's counters) or a negative errno on setup. */
int load_run(const struct load_config *cfg, struct load_result *res);

#endif /* EXITLEFT_UDP_LOAD_H */
