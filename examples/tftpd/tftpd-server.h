/*
 * tftpd-server.h - the TFTP server on a stage: one unconnected UDP socket for every transfer,
 * a thread per transfer waiting for its own datagrams, one thread at a time reading.
 */
#ifndef EXITLEFT_TFTPD_SERVER_H
#define EXITLEFT_TFTPD_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tftp-files.h"
#include "tftp-xfer.h"

struct tftpd_config {
	int fd;				/* bound, unconnected; the caller closes it */
	const struct tftp_root *root;
	struct xfer_config xfer;
	unsigned max_transfers;		/* live transfers in all */
	unsigned per_client;		/* live transfers from one IP address */
	unsigned mailbox;		/* datagrams queued for one transfer at most */
	unsigned poll_ms;		/* how often a reading thread looks at the stop flag */
	uint64_t duration_ms;		/* stop by itself after this long; 0: only on *stop */
	bool verbose;			/* a line on stderr for every transfer */
};

/* What a run counted; read once tftpd_run() has returned. */
struct tftpd_stats {
	uint64_t datagrams;		/* read from the socket */
	uint64_t delivered;		/* routed to another transfer's thread */
	uint64_t kept;			/* read by the head for its own transfer */
	uint64_t started;		/* transfers started for a request: a thread, or the
					 * thread of the client's transfer just over */
	uint64_t rrq, wrq;		/* requests served (transfers started), by kind */
	uint64_t done;			/* transfers that completed */
	uint64_t failed;		/* ... that did not; the reasons follow */
	uint64_t failed_refused;	/* no such file, access, exists, too large */
	uint64_t failed_timeout;	/* retries ran out */
	uint64_t failed_peer;		/* the client sent ERROR */
	uint64_t failed_io;
	uint64_t aborted;		/* ended by the stop */
	uint64_t busy;			/* requests refused: too many transfers */
	uint64_t bad_requests;		/* requests refused before a thread: malformed, options */
	uint64_t stray;			/* DATA/ACK of no transfer, answered ERROR 5 */
	uint64_t ignored;		/* too short, unknown opcode, stray ERROR, bad address */
	uint64_t mailbox_full;		/* dropped: the transfer's mailbox was full */
	uint64_t bytes_sent, bytes_received;
	uint64_t retransmits, duplicates, send_errors;
	uint64_t transfers_max;		/* most transfers alive at once */
};

/*
 * Serves cfg->fd until *stop becomes true (from any thread or a signal handler) or the
 * duration passes; then ends every transfer with an ERROR, joins every thread and fills
 * *stats. The calling thread takes part: it reads the socket while no transfer is alive.
 * Returns 0 or a negative errno.
 */
int tftpd_run(const struct tftpd_config *cfg, atomic_bool *stop, struct tftpd_stats *stats);

#endif /* EXITLEFT_TFTPD_SERVER_H */
