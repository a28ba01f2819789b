/*
 * tftp-xfer.c - one TFTP transfer as a state machine; see tftp-xfer.h
 *
 * Retransmission is the server's only clock: a sender that does not hear an ACK before its
 * deadline sends its unacknowledged window again, a receiver that hears no DATA sends its
 * last ACK again, each up to `retries` times in a row with the wait doubling each time, and
 * then ends with an ERROR so that the client knows. Nothing is sent again because a packet came twice, except what the
 * duplicate shows the peer has lost: the ACK of a block it sent again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tftp-xfer.h"

static void send_error(struct xfer *x, enum tftp_error code, const char *msg,
		       enum xfer_failure why)
{
	uint8_t out[128];
	size_t n = tftp_build_error(out, sizeof(out), code, msg);

	if (n)
		x->io->send(x->io->ctx, out, n);
	x->state = XFER_FAILED;
	x->failure = why;
}

static void send_ack(struct xfer *x, uint64_t block)
{
	uint8_t out[4];

	x->io->send(x->io->ctx, out, tftp_build_ack(out, sizeof(out), (uint16_t)block));
	x->acked = block;
}

static void send_oack(struct xfer *x)
{
	uint8_t out[128];
	size_t n = tftp_build_oack(out, sizeof(out), &x->oack);

	x->io->send(x->io->ctx, out, n);
}

/*
 * Sets the deadline: the timeout, doubled for every retransmission in a row, up to
 * BACKOFF_MAX_NS (or the timeout, if longer). Curl and atftp ignore a repeated DATA without
 * answering and restart their own timer (whole seconds) on it: a sender that repeated itself
 * at a shorter, constant interval would keep them from ever sending the ACK that was lost.
 */
#define BACKOFF_MAX_NS 8000000000u

static void arm(struct xfer *x, uint64_t now_ns)
{
	unsigned again = x->retries_max - x->retries_left;
	uint64_t wait = x->timeout_ns << (again < 16 ? again : 16);
	uint64_t cap = x->timeout_ns > BACKOFF_MAX_NS ? x->timeout_ns : BACKOFF_MAX_NS;

	x->deadline_ns = now_ns + (wait < cap ? wait : cap);
}

static struct xfer_enc *enc_slot(struct xfer *x, uint64_t block)
{
	return &x->enc[block % (x->windowsize + 1u)];
}

/* Reads up to len bytes at off, short only at the end of the file; -errno on error. */
static ssize_t read_full(struct xfer *x, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = x->io->pread(x->io->ctx, buf + got, len - got, off + got);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Netascii block `block` into out; records where the next block starts. */
static ssize_t read_ascii(struct xfer *x, uint64_t block, uint8_t *out)
{
	struct xfer_enc st = *enc_slot(x, block);
	size_t o = 0;

	while (o < x->blksize) {
		size_t used;
		ssize_t n = read_full(x, x->raw, x->blksize - o, st.off);

		if (n < 0)
			return n;
		o += tftp_ascii_encode(&st.enc, x->raw, (size_t)n, &used, out + o,
				       x->blksize - o);
		st.off += used;
		if (n == 0)
			break;	/* the call above flushed a pending byte, if any */
	}
	*enc_slot(x, block + 1) = st;
	return (ssize_t)o;
}

/* Builds and sends DATA `block`; false if the file failed us (ERROR sent). */
static bool send_block(struct xfer *x, uint64_t block)
{
	uint8_t *data = x->pkt + 4;
	ssize_t n;

	if (x->mode == TFTP_MODE_NETASCII)
		n = read_ascii(x, block, data);
	else
		n = read_full(x, data, x->blksize, (block - 1) * x->blksize);
	if (n < 0) {
		send_error(x, TFTP_EUNDEF, "read error", XFER_FAIL_IO);
		return false;
	}
	tftp_build_data_header(x->pkt, 4, (uint16_t)block);
	x->io->send(x->io->ctx, x->pkt, 4 + (size_t)n);
	if (block > x->sent) {
		x->sent = block;
		x->bytes += (uint64_t)n;
	}
	if ((size_t)n < x->blksize)
		x->last = block;
	return true;
}

/* Sends blocks base+1 up to the window's end or the last block. */
static void send_window(struct xfer *x, uint64_t now_ns)
{
	uint64_t k;

	for (k = x->base + 1; k <= x->base + x->windowsize; k++) {
		if (!send_block(x, k))
			return;
		if (x->last == k)
			break;
	}
	arm(x, now_ns);
}

/* What the transfer answers first: OACK, DATA 1 or ACK 0. */
static void send_first(struct xfer *x, uint64_t now_ns)
{
	if (x->oack.opts) {
		send_oack(x);
		arm(x, now_ns);
	} else if (x->op == TFTP_RRQ) {
		send_window(x, now_ns);
	} else {
		send_ack(x, 0);
		arm(x, now_ns);
	}
}

static void negotiate(struct xfer *x, const struct tftp_request *req,
		      const struct xfer_config *cfg, uint64_t size)
{
	struct tftp_oack *o = &x->oack;

	if (req->opts & TFTP_OPT_BLKSIZE) {
		o->opts |= TFTP_OPT_BLKSIZE;
		o->blksize = req->blksize < cfg->blksize_max ? req->blksize : cfg->blksize_max;
		x->blksize = o->blksize;
	}
	if (req->opts & TFTP_OPT_TIMEOUT) {
		o->opts |= TFTP_OPT_TIMEOUT;
		o->timeout_s = req->timeout_s;
		x->timeout_ns = (uint64_t)req->timeout_s * 1000000000u;
	}
	/* A size of 0 is left out: curl refuses an OACK offering tsize 0. A netascii file's
	 * size on the wire is unknown without reading it all, so it is left out too. */
	if (req->opts & TFTP_OPT_TSIZE) {
		if (req->op == TFTP_WRQ) {
			o->opts |= TFTP_OPT_TSIZE;
			o->tsize = req->tsize;
		} else if (req->mode == TFTP_MODE_OCTET && size != UINT64_MAX && size > 0) {
			o->opts |= TFTP_OPT_TSIZE;
			o->tsize = size;
		}
	}
	if (req->opts & TFTP_OPT_WINDOWSIZE) {
		o->opts |= TFTP_OPT_WINDOWSIZE;
		o->windowsize = req->windowsize < cfg->windowsize_max ? req->windowsize :
									 cfg->windowsize_max;
		x->windowsize = o->windowsize;
	}
}

void xfer_start(struct xfer *x, const struct tftp_request *req, const struct xfer_config *cfg,
		const struct xfer_io *io, uint64_t size, uint64_t now_ns)
{
	memset(x, 0, sizeof(*x));
	x->op = req->op;
	x->mode = req->mode;
	x->io = io;
	x->blksize = TFTP_BLKSIZE_DEFAULT;
	x->windowsize = 1;
	x->timeout_ns = (uint64_t)cfg->timeout_ms * 1000000u;
	x->retries_max = x->retries_left = cfg->retries;
	x->upload_max = cfg->upload_max;
	negotiate(x, req, cfg, size);
	x->pkt = malloc(4 + (size_t)x->blksize);
	x->raw = malloc((size_t)x->blksize + 1);
	if (x->op == TFTP_RRQ && x->mode == TFTP_MODE_NETASCII)
		x->enc = calloc(x->windowsize + 1u, sizeof(*x->enc));
	if (!x->pkt || !x->raw || (x->op == TFTP_RRQ && x->mode == TFTP_MODE_NETASCII && !x->enc)) {
		send_error(x, TFTP_EUNDEF, "out of memory", XFER_FAIL_MEMORY);
		return;
	}
	if (x->op == TFTP_WRQ && (req->opts & TFTP_OPT_TSIZE) && req->tsize > x->upload_max) {
		send_error(x, TFTP_ENOSPACE, "file too large", XFER_FAIL_REFUSED);
		return;
	}
	if (x->op == TFTP_RRQ) {
		if (x->enc)
			enc_slot(x, 1)->off = 0;
		x->state = x->oack.opts ? XFER_OACK_WAIT : XFER_SENDING;
	} else {
		x->state = XFER_RECEIVING;
	}
	send_first(x, now_ns);
}

/* An ACK while sending. */
static void on_ack(struct xfer *x, uint16_t wire, uint64_t now_ns)
{
	uint64_t delta = (uint16_t)(wire - (uint16_t)x->base);

	if (x->state == XFER_OACK_WAIT) {
		if (wire != 0)
			return;
		x->state = XFER_SENDING;
		x->retries_left = x->retries_max;
		send_window(x, now_ns);
		return;
	}
	if (delta == 0 || delta > x->sent - x->base) {
		x->duplicates++;	/* no answer: see the comment on struct xfer */
		return;
	}
	x->base += delta;
	x->retries_left = x->retries_max;
	if (x->last && x->base == x->last) {
		x->state = XFER_DONE;
		return;
	}
	send_window(x, now_ns);
}

/* The block that ends the upload is in: make the file visible, then say so. */
static void finish_upload(struct xfer *x, uint64_t now_ns)
{
	size_t n = tftp_ascii_decode_end(&x->dec, x->raw);

	if ((n && x->io->append(x->io->ctx, x->raw, n) < 0) || x->io->commit(x->io->ctx) < 0) {
		send_error(x, TFTP_ENOSPACE, "cannot store the file", XFER_FAIL_IO);
		return;
	}
	send_ack(x, x->received);
	x->state = XFER_DALLY;
	arm(x, now_ns);
}

/* A DATA while receiving. */
static void on_data(struct xfer *x, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
	uint16_t delta = (uint16_t)(tftp_block(pkt) - (uint16_t)x->received);
	const uint8_t *data = pkt + 4;
	size_t n = len - 4;

	if (x->state == XFER_DALLY) {
		if (delta == 0) {
			x->duplicates++;
			send_ack(x, x->received);	/* our last ACK was lost */
		}
		return;
	}
	if (n > x->blksize) {
		send_error(x, TFTP_EBADOP, "block larger than negotiated", XFER_FAIL_REFUSED);
		return;
	}
	if (delta != 1) {
		/* Behind: the client sent again what we had, so it lost our ACK. Ahead: a block
		 * of this window was lost; the ACK of the last one in order says where to
		 * resume (RFC 7440), once per window so that a burst does not become one. */
		x->duplicates++;
		if (delta == 0 || delta > 0x8000 || !x->gap_acked) {
			x->gap_acked = delta != 0 && delta <= 0x8000;
			send_ack(x, x->received);
		}
		return;
	}
	if (x->bytes + n > x->upload_max) {
		send_error(x, TFTP_ENOSPACE, "upload too large", XFER_FAIL_REFUSED);
		return;
	}
	if (x->mode == TFTP_MODE_NETASCII) {
		size_t m = tftp_ascii_decode(&x->dec, data, n, x->raw);

		if (m && x->io->append(x->io->ctx, x->raw, m) < 0) {
			send_error(x, TFTP_ENOSPACE, "write error", XFER_FAIL_IO);
			return;
		}
	} else if (n && x->io->append(x->io->ctx, data, n) < 0) {
		{
			send_error(x, TFTP_ENOSPACE, "write error", XFER_FAIL_IO);
			return;
		}
	}
	x->bytes += n;
	x->received++;
	x->gap_acked = false;
	x->retries_left = x->retries_max;
	if (n < x->blksize) {
		finish_upload(x, now_ns);
		return;
	}
	if (x->received - x->acked >= x->windowsize)
		send_ack(x, x->received);
	arm(x, now_ns);
}

bool xfer_packet(struct xfer *x, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
	unsigned op = tftp_opcode(pkt, len);
	bool request = op == TFTP_RRQ || op == TFTP_WRQ;

	if (request && (x->state == XFER_DALLY || xfer_over(x))) {
		/* The client has moved on to its next transfer, from the same port (tftp-hpa's
		 * client keeps one socket for a session): it has our last ACK, or has given up
		 * waiting for it. Either way it will not send the last block again, so the dally
		 * has nothing left to wait for. */
		if (x->state == XFER_DALLY)
			x->state = XFER_DONE;
		return true;
	}
	if (xfer_over(x))
		return false;
	if (op == TFTP_ERROR) {
		x->state = XFER_FAILED;
		x->failure = XFER_FAIL_PEER;
		return false;
	}
	if (request && op == x->op && x->base == 0 && x->received == 0) {
		/* The client asked again: our first answer was lost. Only that one goes out
		 * again, so a repeated request cannot draw a whole window each time. */
		x->duplicates++;
		if (x->oack.opts)
			send_oack(x);
		else if (x->op == TFTP_RRQ)
			send_block(x, 1);
		else
			send_ack(x, 0);
		return false;
	}
	if (len < 4)
		return false;
	if (op == TFTP_ACK && x->op == TFTP_RRQ)
		on_ack(x, tftp_block(pkt), now_ns);
	else if (op == TFTP_DATA && x->op == TFTP_WRQ)
		on_data(x, pkt, len, now_ns);
	/* Anything else is ignored: the client may be confused, but not by us. */
	return false;
}

void xfer_timeout(struct xfer *x, uint64_t now_ns)
{
	uint64_t k;

	if (xfer_over(x))
		return;
	if (x->state == XFER_DALLY) {
		x->state = XFER_DONE;
		return;
	}
	if (x->retries_left-- == 0) {
		send_error(x, TFTP_EUNDEF, "timed out", XFER_FAIL_TIMEOUT);
		return;
	}
	if ((x->state == XFER_OACK_WAIT) || (x->op == TFTP_WRQ && x->received == 0 &&
					    x->oack.opts)) {
		send_oack(x);
		x->retransmits++;
	} else if (x->op == TFTP_RRQ) {
		for (k = x->base + 1; k <= x->sent; k++) {
			if (!send_block(x, k))
				return;
			x->retransmits++;
		}
	} else {
		send_ack(x, x->received);
		x->retransmits++;
	}
	arm(x, now_ns);
}

void xfer_abort(struct xfer *x, enum tftp_error code, const char *msg)
{
	if (!xfer_over(x) && x->state != XFER_DALLY)
		send_error(x, code, msg, XFER_FAIL_ABORTED);
}

bool xfer_over(const struct xfer *x)
{
	return x->state == XFER_DONE || x->state == XFER_FAILED;
}

void xfer_free(struct xfer *x)
{
	free(x->pkt);
	free(x->raw);
	free(x->enc);
	x->pkt = x->raw = NULL;
	x->enc = NULL;
}
