/*
 * tftp-xfer.h - one TFTP transfer as a state machine: the server's side of a read (RRQ) or
 * write (WRQ) request, driven by the packets its peer sends and by its own deadline.
 *
 * It owns no socket, file or clock: packets go out through xfer_io.send, file bytes come and
 * go through xfer_io, and every call is given the time. The server runs one per thread; the
 * fuzzer runs it on memory.
 */
#ifndef EXITLEFT_TFTP_XFER_H
#define EXITLEFT_TFTP_XFER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tftp-proto.h"

/* Where a transfer's bytes come from and go to; ctx is passed back to every call. */
struct xfer_io {
	/* Up to len bytes at offset off of the file read (RRQ); bytes read, 0 at its end, or
	 * -errno. */
	ssize_t (*pread)(void *ctx, uint8_t *buf, size_t len, uint64_t off);
	/* Appends len bytes to the file written (WRQ); 0 or -errno. */
	int (*append)(void *ctx, const uint8_t *buf, size_t len);
	/* Makes the file written visible, once its last block is in; 0 or -errno. */
	int (*commit)(void *ctx);
	/* Sends one datagram to the peer; a lost one is the protocol's business. */
	void (*send)(void *ctx, const uint8_t *buf, size_t len);
	void *ctx;
};

/* The server's limits on what a client may negotiate. */
struct xfer_config {
	unsigned blksize_max;		/* TFTP_BLKSIZE_MIN to TFTP_BLKSIZE_MAX */
	unsigned windowsize_max;	/* 1 to TFTP_WINDOW_MAX */
	unsigned timeout_ms;		/* retransmission, unless the client asks (RFC 2349) */
	unsigned retries;		/* retransmissions in a row before giving up */
	uint64_t upload_max;		/* bytes a WRQ may write */
};

enum xfer_state {
	XFER_OACK_WAIT,		/* RRQ: OACK sent, waiting for ACK 0 */
	XFER_SENDING,		/* RRQ: DATA out, waiting for ACKs */
	XFER_RECEIVING,		/* WRQ: waiting for DATA */
	XFER_DALLY,		/* WRQ: all in and acknowledged; re-ACKs a repeated last block,
				 * until the deadline or the peer's next request */
	XFER_DONE,		/* succeeded */
	XFER_FAILED,		/* ended with an ERROR, sent or received */
};

enum xfer_failure {
	XFER_OK,
	XFER_FAIL_TIMEOUT,	/* retries ran out; ERROR sent */
	XFER_FAIL_PEER,		/* the client sent ERROR */
	XFER_FAIL_REFUSED,	/* too large an upload; ERROR sent */
	XFER_FAIL_IO,		/* the file could not be read or written; ERROR sent */
	XFER_FAIL_ABORTED,	/* the server stopped; ERROR sent */
	XFER_FAIL_MEMORY,	/* no buffer; ERROR sent */
};

/*
 * A transfer. Block numbers are counted in 64 bits and only their low 16 bits go on the
 * wire, so a transfer runs past block 65 535 (the wire number rolls over to 0).
 *
 * Sending (RRQ): base is the highest block acknowledged, base <= sent <= base + windowsize,
 *   last is the final (short) block once it has been read, else 0. An ACK outside
 *   (base, sent] is a duplicate or a stray and changes nothing: nothing is sent for it, so
 *   a duplicated ACK never doubles the DATA in flight (Sorcerer's Apprentice).
 *   Netascii blocks cannot be located by arithmetic; enc[] holds, for blocks base+1 to
 *   base+windowsize+1, the file offset and encoder state each starts with (slot k mod
 *   windowsize+1), so a window can be sent again.
 * Receiving (WRQ): received is the highest block written, in order; acked the highest
 *   acknowledged.
 * Every field belongs to the one thread driving the transfer.
 */
struct xfer {
	enum tftp_opcode op;
	enum tftp_mode mode;
	enum xfer_state state;
	enum xfer_failure failure;
	const struct xfer_io *io;
	unsigned blksize, windowsize, retries_max, retries_left;
	uint64_t timeout_ns;
	uint64_t deadline_ns;		/* when xfer_timeout() is due */
	struct tftp_oack oack;		/* what was negotiated; opts 0 if no OACK */
	uint64_t base, sent, last;
	uint64_t received, acked;
	bool gap_acked;			/* a gap in this window was already reported */
	uint64_t upload_max;
	uint64_t bytes;			/* file bytes sent (every block once) or written */
	uint64_t retransmits;		/* packets sent again after a timeout */
	uint64_t duplicates;		/* ACKs or DATA seen again, answered with nothing new */
	struct xfer_enc {
		uint64_t off;
		struct tftp_ascii_enc enc;
	} *enc;
	struct tftp_ascii_dec dec;
	uint8_t *pkt;			/* 4 + blksize: the packet being built */
	uint8_t *raw;			/* blksize + 1: file bytes before or after netascii */
};

/*
 * Starts serving a request: negotiates its options against cfg, then sends the OACK, the
 * first window of DATA (RRQ) or ACK 0 (WRQ), or an ERROR. size is the file's size for a RRQ
 * (UINT64_MAX if unknown). Ends in XFER_FAILED if refused; always leaves x valid for
 * xfer_free().
 */
void xfer_start(struct xfer *x, const struct tftp_request *req, const struct xfer_config *cfg,
		const struct xfer_io *io, uint64_t size, uint64_t now_ns);

/*
 * Handles one datagram from the transfer's peer. Returns true if it is the peer's next
 * request (RRQ or WRQ): one that comes once the transfer is over, or while it dallies, which
 * it ends (XFER_DONE). The caller starts that request as a new transfer. During a transfer
 * a request is no new one: a repeat of the transfer's own is answered again, once, and any
 * other is ignored; false.
 */
bool xfer_packet(struct xfer *x, const uint8_t *pkt, size_t len, uint64_t now_ns);

/* Handles the deadline: retransmits, or gives up with an ERROR. Call when now >= deadline. */
void xfer_timeout(struct xfer *x, uint64_t now_ns);

/* Ends the transfer with ERROR code/msg (the server is stopping). */
void xfer_abort(struct xfer *x, enum tftp_error code, const char *msg);

/* Whether the transfer has ended (XFER_DONE or XFER_FAILED). */
bool xfer_over(const struct xfer *x);

/* Frees the transfer's buffers (not x itself). */
void xfer_free(struct xfer *x);

#endif /* EXITLEFT_TFTP_XFER_H */
