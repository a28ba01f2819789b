/*
 * mc-proto.c - memcached's UDP frame and the text protocol of get and set
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mc-proto.h"

bool mc_key_valid(const char *key)
{
	size_t n = 0;

	for (; key[n]; n++)
		if ((unsigned char)key[n] <= ' ' || key[n] == 0x7f || n == MC_KEY_MAX)
			return false;
	return n > 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The header of the only datagram of a request. */
static void put_header(uint8_t *out, uint16_t id)
{
	put16(out, id);
	put16(out + 2, 0);	/* sequence number */
	put16(out + 4, 1);	/* datagrams in the message */
	put16(out + 6, 0);	/* reserved */
}

void mc_set_id(uint8_t *dgram, uint16_t id)
{
	put16(dgram, id);
}

size_t mc_build_get(uint8_t *out, size_t cap, uint16_t id, const char *key)
{
	int n;

	if (cap > MC_DGRAM_MAX)
		cap = MC_DGRAM_MAX;
	if (!mc_key_valid(key) || cap < MC_FRAME_HDR)
		return 0;
	n = snprintf((char *)out + MC_FRAME_HDR, cap - MC_FRAME_HDR, "get %s\r\n", key);
	if (n < 0 || (size_t)n >= cap - MC_FRAME_HDR)
		return 0;
	put_header(out, id);
	return MC_FRAME_HDR + (size_t)n;
}

size_t mc_build_set(uint8_t *out, size_t cap, uint16_t id, const char *key,
		    const void *val, size_t len)
{
	size_t room;
	int n;

	if (cap > MC_DGRAM_MAX)
		cap = MC_DGRAM_MAX;
	if (!mc_key_valid(key) || cap < MC_FRAME_HDR)
		return 0;
	room = cap - MC_FRAME_HDR;
	n = snprintf((char *)out + MC_FRAME_HDR, room, "set %s 0 0 %zu\r\n", key, len);
	if (n < 0 || (size_t)n >= room || room - (size_t)n < len + 2)
		return 0;
	memcpy(out + MC_FRAME_HDR + n, val, len);
	memcpy(out + MC_FRAME_HDR + (size_t)n + len, "\r\n", 2);
	put_header(out, id);
	return MC_FRAME_HDR + (size_t)n + len + 2;
}

bool mc_reply_id(const uint8_t *dgram, size_t len, uint16_t *id)
{
	if (len < MC_FRAME_HDR)
		return false;
	*id = get16(dgram);
	return true;
}

/* The text of a one-datagram reply, or NULL; -EMSGSIZE in *err for one of several. */
static const char *reply_text(const uint8_t *dgram, size_t len, size_t *tlen, int *err)
{
	*err = -EPROTO;
	if (len < MC_FRAME_HDR || get16(dgram + 2) != 0)
		return NULL;
	if (get16(dgram + 4) != 1) {
		*err = -EMSGSIZE;
		return NULL;
	}
	*tlen = len - MC_FRAME_HDR;
	return (const char *)dgram + MC_FRAME_HDR;
}

/* Whether the n bytes at s are exactly lit. */
static bool is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

int mc_parse_get(const uint8_t *dgram, size_t len, const char *key,
		 const uint8_t **val, size_t *vlen)
{
	size_t tlen, klen = strlen(key), hlen, bytes = 0;
	const char *t, *p, *eol;
	int err;

	t = reply_text(dgram, len, &tlen, &err);
	if (!t)
		return err;
	if (is(t, tlen, "END\r\n"))
		return 0;
	/* "VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n" */
	eol = memchr(t, '\n', tlen);
	if (!eol || tlen < 6 + klen + 1 || memcmp(t, "VALUE ", 6) != 0 ||
	    memcmp(t + 6, key, klen) != 0 || t[6 + klen] != ' ')
		return -EPROTO;
	p = t + 6 + klen + 1;
	while (p < eol && *p >= '0' && *p <= '9')	/* flags */
		p++;
	if (p == eol || *p++ != ' ' || !(*p >= '0' && *p <= '9'))
		return -EPROTO;
	while (p < eol && *p >= '0' && *p <= '9') {
		if (bytes > MC_DGRAM_MAX)
			return -EPROTO;
		bytes = bytes * 10 + (size_t)(*p++ - '0');
	}
	if (p + 1 != eol || *p != '\r')
		return -EPROTO;
	hlen = (size_t)(eol + 1 - t);
	if (tlen != hlen + bytes + 7 || !is(t + hlen + bytes, 7, "\r\nEND\r\n"))
		return -EPROTO;
	*val = (const uint8_t *)t + hlen;
	*vlen = bytes;
	return 1;
}

int mc_parse_set(const uint8_t *dgram, size_t len)
{
	size_t tlen;
	const char *t;
	int err;

	t = reply_text(dgram, len, &tlen, &err);
	if (!t)
		return err;
	return is(t, tlen, "STORED\r\n") ? 0 : -EPROTO;
}
