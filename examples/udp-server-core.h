/*
 * udp-server-core.h - the UDP echo server on a stage: one unconnected socket, a thread per
 * peer, each waiting for its own datagrams while one of them, the head, reads the socket in
 * batches of up to UDP_BATCH_MAX. Used by exitleft-udp-server and by the bench.
 */
#ifndef EXITLEFT_UDP_SERVER_CORE_H
#define EXITLEFT_UDP_SERVER_CORE_H

#include <stdatomic.h>
#include <stdint.h>

/* Datagrams a peer's mailbox holds when the config says 0. */
#define UDP_SERVER_MAILBOX_DEFAULT 64

struct udp_server_config {
	int fd;			/* a bound, unconnected datagram socket; the caller closes it */
	unsigned max_peers;	/* peer threads alive at once; datagrams past it are dropped */
	unsigned mailbox;	/* datagrams waiting for one peer's thread at most; past it they
				 * are dropped (0: UDP_SERVER_MAILBOX_DEFAULT; never unlimited) */
	unsigned idle_ms;	/* a peer silent this long is retired */
	unsigned poll_ms;	/* the head's receive timeout: how often it rotates when idle */
	unsigned duration_ms;	/* stop by itself after this long; 0: only on *stop */
};

/* What a run counted; read once udp_server_run() has returned. */
struct udp_server_stats {
	uint64_t received;	/* datagrams read from the socket */
	uint64_t answered;	/* answers sent */
	uint64_t delivered;	/* datagrams handed to another peer's mailbox */
	uint64_t kept;		/* datagrams the head read for its own peer */
	uint64_t dropped_limit;	/* from unknown peers past max_peers */
	uint64_t dropped_other;	/* unreadable address, no memory, stage closed, shutdown */
	uint64_t peers_started;
	uint64_t peers_retired;	/* idle peers whose tickets were freed */
	uint64_t peers_max;	/* most peer threads alive at once */
	uint64_t wakes_token;	/* returns from exitleft_enter() with EXITLEFT_TOKEN */
	uint64_t wakes_head;	/* ... with EXITLEFT_HEAD (peer threads and the listener) */
	uint64_t head_timeouts;	/* heads that found the socket quiet for poll_ms */
	uint64_t retire_races;	/* retirements undone: mail arrived as the ticket was freed */
	uint64_t send_errors;
	/* since the mailbox bound and the prompt shutdown */
	uint64_t dropped_full;	/* for a peer whose mailbox held `mailbox` datagrams */
	uint64_t dropped_shutdown;	/* of dropped_other: queued, or a slow answer cut short,
					 * when the server stopped */
	uint64_t shutdown_ns;	/* from the listener seeing the stop to every thread joined */
	/* since reading in batches */
	uint64_t recv_calls;	/* receive system calls by heads, each of up to UDP_BATCH_MAX
				 * datagrams; those that timed out (head_timeouts) included */
};

/*
 * Serves cfg->fd until *stop becomes true (from any thread or a signal handler) or the
 * duration passes, then closes the stage, wakes and joins every thread, frees everything and
 * fills *stats. Stopping does not wait for what is queued: every peer thread drops what is in
 * its mailbox, and one sleeping for a slow answer stops sleeping and drops it (both counted
 * in dropped_shutdown), so the call returns within about a tenth of a second (the
 * listener's nap, in which it sees the flag) plus a scheduling round, whatever the peers had
 * queued. The calling thread takes part as the listener: with no peer at all, someone
 * must head the stage to hear the first datagram. Returns 0 or a negative errno.
 */
int udp_server_run(const struct udp_server_config *cfg, atomic_bool *stop,
		   struct udp_server_stats *stats);

#endif /* EXITLEFT_UDP_SERVER_CORE_H */
