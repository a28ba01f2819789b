/*
 * fuzz_tftp.c - libFuzzer target: the packet parser and the transfer state machine
 *
 * The input is a script: a byte of configuration, then records of [kind][length, 2 bytes]
 * [bytes]. The first record is the request (parsed as the server parses one; if it is
 * refused, the script ends); each later one is a datagram from the client (kind even) or a
 * deadline passing (kind odd). The file read is 3000 bytes of a fixed pattern; uploads go
 * to memory. Every call must keep the transfer's invariants, every packet sent must fit
 * the negotiated block size, and netascii must decode back to what was encoded.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tftp-proto.h"
#include "tftp-xfer.h"

#define FILE_LEN 3000
#define UPLOAD_MAX 5000

struct mem {
	uint8_t file[FILE_LEN];
	uint8_t up[UPLOAD_MAX];
	size_t uplen;
	unsigned blksize;
	int committed;
};

static ssize_t mem_pread(void *ctx, uint8_t *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (off >= FILE_LEN)
		return 0;
	if (len > FILE_LEN - off)
		len = FILE_LEN - (size_t)off;
	memcpy(buf, m->file + off, len);
	return (ssize_t)len;
}

static int mem_append(void *ctx, const uint8_t *buf, size_t len)
{
	struct mem *m = ctx;

	assert(!m->committed);
	if (len > UPLOAD_MAX - m->uplen)
		return -28;	/* ENOSPC */
	memcpy(m->up + m->uplen, buf, len);
	m->uplen += len;
	return 0;
}

static int mem_commit(void *ctx)
{
	((struct mem *)ctx)->committed++;
	return 0;
}

static void mem_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct mem *m = ctx;

	assert(len >= 4 || (len >= 2 && buf[1] == TFTP_OACK));
	if (buf[1] == TFTP_DATA)
		assert(len <= 4 + (size_t)m->blksize);
}

static void check_invariants(const struct xfer *x)
{
	if (x->op == TFTP_RRQ && x->state == XFER_SENDING) {
		assert(x->base <= x->sent);
		assert(x->sent <= x->base + x->windowsize);
		assert(!x->last || x->last >= x->base);
	}
	if (x->op == TFTP_WRQ)
		assert(x->bytes <= x->upload_max);
	assert(x->blksize >= TFTP_BLKSIZE_MIN && x->blksize <= TFTP_BLKSIZE_MAX);
}

/* netascii: decoding what was encoded gives it back, whatever the block cuts. */
static void check_netascii(const uint8_t *in, size_t len, size_t cut)
{
	uint8_t enc[2 * 256 + 2], dec[2 * 256 + 4];
	struct tftp_ascii_enc e = { 0 };
	struct tftp_ascii_dec d = { 0 };
	size_t used, n = 0, m = 0, i = 0;

	if (len > 256)
		len = 256;
	cut = cut % 7 + 1;
	while (i < len || e.has_pending) {
		size_t got = tftp_ascii_encode(&e, in + i, len - i, &used, enc + n, cut);

		i += used;
		n += got;
		if (!got)
			break;
	}
	m = tftp_ascii_decode(&d, enc, n, dec);
	m += tftp_ascii_decode_end(&d, dec + m);
	assert(m == len && memcmp(dec, in, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mem m;
	struct xfer_config cfg;
	struct tftp_request req;
	struct tftp_refusal why;
	struct tftp_oack oack;
	struct xfer_io io = { mem_pread, mem_append, mem_commit, mem_send, &m };
	struct xfer x;
	uint8_t *first = NULL;
	uint64_t now = 1000000000u;
	size_t i;
	int started = 0;

	if (size < 1)
		return 0;
	for (i = 0; i < FILE_LEN; i++)
		m.file[i] = (uint8_t)(i * 7 + (i % 13 == 0 ? '\n' : 0) + (i % 17 == 0 ? '\r' : 0));
	m.uplen = 0;
	m.committed = 0;
	cfg.blksize_max = 8u + (data[0] & 0x3f) * 16u;
	cfg.windowsize_max = 1u + (data[0] >> 6) * 3u;
	cfg.timeout_ms = 100;
	cfg.retries = data[0] & 3;
	cfg.upload_max = UPLOAD_MAX / 2;
	check_netascii(data, size, data[0]);
	for (i = 1; i + 3 <= size;) {
		unsigned kind = data[i];
		size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
		uint8_t *pkt;

		i += 3;
		if (len > size - i)
			len = size - i;
		/* A copy of exactly len bytes: ASan sees any read past the datagram. */
		pkt = malloc(len ? len : 1);
		memcpy(pkt, data + i, len);
		i += len;
		now += 50000000u;
		(void)tftp_parse_oack(pkt, len, &oack);
		if (!started) {
			if (!tftp_parse_request(pkt, len, &req, &why)) {
				assert(why.msg && why.code <= TFTP_EOPTNEG);
				free(pkt);
				break;
			}
			first = pkt;	/* req.filename points into it */
			m.blksize = req.opts & TFTP_OPT_BLKSIZE ? req.blksize : TFTP_BLKSIZE_DEFAULT;
			xfer_start(&x, &req, &cfg, &io, kind & 1 ? UINT64_MAX : FILE_LEN, now);
			m.blksize = x.blksize;
			started = 1;
			check_invariants(&x);
			continue;
		}
		if (kind & 1) {
			if (now < x.deadline_ns)
				now = x.deadline_ns;
			xfer_timeout(&x, now);
		} else if (xfer_packet(&x, pkt, len, now)) {
			/* The peer's next request: it has ended this transfer, if it dallied. */
			assert(xfer_over(&x));
		}
		free(pkt);
		check_invariants(&x);
		if (xfer_over(&x))
			break;
	}
	if (started) {
		if (x.op == TFTP_RRQ && x.state == XFER_DONE && x.mode == TFTP_MODE_OCTET)
			assert(x.bytes == FILE_LEN);
		if (x.op == TFTP_WRQ && x.failure == XFER_OK && x.state != XFER_RECEIVING)
			assert(m.committed == 1);
		xfer_abort(&x, TFTP_EUNDEF, "fuzz over");
		xfer_free(&x);
	}
	free(first);
	return 0;
}
