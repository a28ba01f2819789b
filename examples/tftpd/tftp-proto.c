/*
 * tftp-proto.c - TFTP packets, options and netascii; see tftp-proto.h
 *
 * Everything here reads bytes a remote peer chose: every length is checked against the
 * packet's end before a byte is read, every string must end with a NUL inside the packet,
 * and numbers are parsed digit by digit with their range checked before they can overflow.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tftp-proto.h"

unsigned tftp_opcode(const uint8_t *pkt, size_t len)
{
	return len < 2 ? 0 : (unsigned)pkt[0] << 8 | pkt[1];
}

uint16_t tftp_block(const uint8_t *pkt)
{
	return (uint16_t)(pkt[2] << 8 | pkt[3]);
}

/* The NUL-terminated string at *p, advancing *p past its NUL; NULL if no NUL before end. */
static const char *take_string(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p, *nul = memchr(s, 0, (size_t)(end - s));

	if (!nul)
		return NULL;
	*p = nul + 1;
	return (const char *)s;
}

/* A decimal number of 1 to 20 digits, nothing else, at most max; false otherwise. */
static bool parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!*s)
		return false;
	for (i = 0; s[i]; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9' || i >= 20)
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool refuse(struct tftp_refusal *why, enum tftp_error code, const char *msg)
{
	why->code = code;
	why->msg = msg;
	return false;
}

/* One option of a request; unknown names are ignored. */
static bool parse_option(struct tftp_request *req, const char *name, const char *value,
			 struct tftp_refusal *why)
{
	static const struct {
		const char *name;
		unsigned bit;
		uint64_t min, max;
	} known[] = {
		{ "blksize", TFTP_OPT_BLKSIZE, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX },
		{ "timeout", TFTP_OPT_TIMEOUT, TFTP_TIMEOUT_MIN_S, TFTP_TIMEOUT_MAX_S },
		{ "tsize", TFTP_OPT_TSIZE, 0, INT64_MAX },
		{ "windowsize", TFTP_OPT_WINDOWSIZE, 1, TFTP_WINDOW_MAX },
	};
	size_t i;
	uint64_t v;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcasecmp(name, known[i].name) != 0)
			continue;
		if (req->opts & known[i].bit)
			return refuse(why, TFTP_EOPTNEG, "option given twice");
		if (!parse_decimal(value, known[i].max, &v) || v < known[i].min)
			return refuse(why, TFTP_EOPTNEG, "option value out of range");
		req->opts |= known[i].bit;
		switch (known[i].bit) {
		case TFTP_OPT_BLKSIZE:
			req->blksize = (unsigned)v;
			break;
		case TFTP_OPT_TIMEOUT:
			req->timeout_s = (unsigned)v;
			break;
		case TFTP_OPT_TSIZE:
			req->tsize = v;
			break;
		default:
			req->windowsize = (unsigned)v;
			break;
		}
		return true;
	}
	return true;
}

bool tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *req,
			struct tftp_refusal *why)
{
	const uint8_t *p = pkt + 2, *end = pkt + len;
	const char *mode, *name, *value;
	unsigned op = tftp_opcode(pkt, len);

	memset(req, 0, sizeof(*req));
	if (op != TFTP_RRQ && op != TFTP_WRQ)
		return refuse(why, TFTP_EBADOP, "not a request");
	req->op = (enum tftp_opcode)op;
	req->filename = take_string(&p, end);
	if (!req->filename)
		return refuse(why, TFTP_EBADOP, "file name not terminated");
	if (!req->filename[0])
		return refuse(why, TFTP_EBADOP, "empty file name");
	if (strlen(req->filename) > TFTP_NAME_MAX)
		return refuse(why, TFTP_EBADOP, "file name too long");
	mode = take_string(&p, end);
	if (!mode)
		return refuse(why, TFTP_EBADOP, "mode not terminated");
	if (strcasecmp(mode, "octet") == 0)
		req->mode = TFTP_MODE_OCTET;
	else if (strcasecmp(mode, "netascii") == 0)
		req->mode = TFTP_MODE_NETASCII;
	else
		return refuse(why, TFTP_EBADOP, "mode not supported");
	while (p < end) {
		name = take_string(&p, end);
		/* Some clients pad requests with NULs: an empty name ends the options. */
		if (name && !name[0])
			break;
		value = name ? take_string(&p, end) : NULL;
		if (!value)
			return refuse(why, TFTP_EBADOP, "option not terminated");
		if (!parse_option(req, name, value, why))
			return false;
	}
	return true;
}

size_t tftp_build_ack(uint8_t *out, size_t cap, uint16_t block)
{
	if (cap < 4)
		return 0;
	out[0] = 0;
	out[1] = TFTP_ACK;
	out[2] = (uint8_t)(block >> 8);
	out[3] = (uint8_t)block;
	return 4;
}

size_t tftp_build_data_header(uint8_t *out, size_t cap, uint16_t block)
{
	if (tftp_build_ack(out, cap, block) == 0)
		return 0;
	out[1] = TFTP_DATA;
	return 4;
}

size_t tftp_build_error(uint8_t *out, size_t cap, enum tftp_error code, const char *msg)
{
	size_t n = strlen(msg);

	if (cap < 5 + n)
		return 0;
	out[0] = 0;
	out[1] = TFTP_ERROR;
	out[2] = 0;
	out[3] = (uint8_t)code;
	memcpy(out + 4, msg, n + 1);
	return 5 + n;
}

/* Appends "name\0value\0" at out+*len; false if it does not fit. */
static bool put_option(uint8_t *out, size_t cap, size_t *len, const char *name, uint64_t v)
{
	char num[24];
	size_t nl = strlen(name) + 1, vl;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	vl = strlen(num) + 1;
	if (cap - *len < nl + vl)
		return false;
	memcpy(out + *len, name, nl);
	memcpy(out + *len + nl, num, vl);
	*len += nl + vl;
	return true;
}

static size_t put_options(uint8_t *out, size_t cap, size_t len, const struct tftp_oack *o)
{
	if ((o->opts & TFTP_OPT_BLKSIZE) && !put_option(out, cap, &len, "blksize", o->blksize))
		return 0;
	if ((o->opts & TFTP_OPT_TIMEOUT) && !put_option(out, cap, &len, "timeout", o->timeout_s))
		return 0;
	if ((o->opts & TFTP_OPT_TSIZE) && !put_option(out, cap, &len, "tsize", o->tsize))
		return 0;
	if ((o->opts & TFTP_OPT_WINDOWSIZE) &&
	    !put_option(out, cap, &len, "windowsize", o->windowsize))
		return 0;
	return len;
}

size_t tftp_build_oack(uint8_t *out, size_t cap, const struct tftp_oack *o)
{
	if (cap < 2)
		return 0;
	out[0] = 0;
	out[1] = TFTP_OACK;
	return put_options(out, cap, 2, o);
}

size_t tftp_build_request(uint8_t *out, size_t cap, enum tftp_opcode op, const char *name,
			  const char *mode, const struct tftp_request *opts)
{
	size_t nl = strlen(name) + 1, ml = strlen(mode) + 1;
	struct tftp_oack o = { 0 };

	if (cap < 2 + nl + ml)
		return 0;
	out[0] = 0;
	out[1] = (uint8_t)op;
	memcpy(out + 2, name, nl);
	memcpy(out + 2 + nl, mode, ml);
	if (opts) {
		o.opts = opts->opts;
		o.blksize = opts->blksize;
		o.timeout_s = opts->timeout_s;
		o.tsize = opts->tsize;
		o.windowsize = opts->windowsize;
	}
	return put_options(out, cap, 2 + nl + ml, &o);
}

bool tftp_parse_oack(const uint8_t *pkt, size_t len, struct tftp_oack *o)
{
	struct tftp_request req;
	struct tftp_refusal why;
	const uint8_t *p = pkt + 2, *end = pkt + len;

	memset(o, 0, sizeof(*o));
	if (tftp_opcode(pkt, len) != TFTP_OACK)
		return false;
	memset(&req, 0, sizeof(req));
	while (p < end) {
		const char *name = take_string(&p, end);
		const char *value = name ? take_string(&p, end) : NULL;

		if (!value || !parse_option(&req, name, value, &why))
			return false;
	}
	o->opts = req.opts;
	o->blksize = req.blksize;
	o->timeout_s = req.timeout_s;
	o->tsize = req.tsize;
	o->windowsize = req.windowsize;
	return true;
}

size_t tftp_ascii_encode(struct tftp_ascii_enc *e, const uint8_t *in, size_t inlen,
			 size_t *used, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (o < cap) {
		uint8_t c;

		if (e->has_pending) {
			out[o++] = e->pending;
			e->has_pending = false;
			continue;
		}
		if (i == inlen)
			break;
		c = in[i++];
		if (c == '\n' || c == '\r') {
			out[o++] = '\r';
			e->pending = c == '\n' ? '\n' : '\0';
			e->has_pending = true;
		} else {
			out[o++] = c;
		}
	}
	*used = i;
	return o;
}

size_t tftp_ascii_decode(struct tftp_ascii_dec *d, const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (d->cr) {
			d->cr = false;
			if (c == '\n' || c == '\0') {
				out[o++] = c == '\n' ? '\n' : '\r';
				continue;
			}
			out[o++] = '\r';	/* a bare CR from a sloppy sender: keep it */
		}
		if (c == '\r')
			d->cr = true;
		else
			out[o++] = c;
	}
	return o;
}

size_t tftp_ascii_decode_end(struct tftp_ascii_dec *d, uint8_t *out)
{
	if (!d->cr)
		return 0;
	d->cr = false;
	out[0] = '\r';
	return 1;
}
