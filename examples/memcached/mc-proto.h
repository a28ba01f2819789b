/*
 * mc-proto.h - memcached's UDP protocol, as much of it as a get/set client needs
 *
 * Every datagram starts with an 8-byte frame header: the request id, the datagram's sequence
 * number within the message, the message's number of datagrams and two reserved zero bytes,
 * each 16 bits in network order. The server copies the request id into every datagram of
 * its reply, which is what lets many requests share one socket: the id says whose reply a
 * datagram is. A request must fit in one datagram; a reply longer than MC_DGRAM_MAX comes in
 * several, which this client does not reassemble (it says -EMSGSIZE). The rest of each
 * datagram is memcached's text protocol ("get KEY\r\n", "VALUE KEY FLAGS BYTES\r\n...").
 *
 * Nothing here does I/O or needs the stage: the client of mc-client.c and the bench's other
 * clients build and check their datagrams with the same functions.
 */
#ifndef EXITLEFT_MC_PROTO_H
#define EXITLEFT_MC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_FRAME_HDR 8		/* bytes of the frame header */
#define MC_DGRAM_MAX 1400	/* memcached's largest UDP datagram, header included */
#define MC_KEY_MAX 250		/* memcached's longest key */

/* Whether key is a key memcached takes: 1 to MC_KEY_MAX bytes, no space or control. */
bool mc_key_valid(const char *key);

/*
 * A one-datagram request for `key` with request id `id` into out (cap bytes): "get" when
 * val is NULL, else "set" of the len bytes at val (flags 0, no expiry). Returns its length;
 * 0 if the key is invalid or the request does not fit in cap or in one datagram.
 */
size_t mc_build_get(uint8_t *out, size_t cap, uint16_t id, const char *key);
size_t mc_build_set(uint8_t *out, size_t cap, uint16_t id, const char *key,
		    const void *val, size_t len);

/* Rewrites the request id of a datagram built above (a retry with a fresh id). */
void mc_set_id(uint8_t *dgram, uint16_t id);

/* The request id of a received datagram; false if it is too short to have a header. */
bool mc_reply_id(const uint8_t *dgram, size_t len, uint16_t *id);

/*
 * Reads the reply to "get key": 1 with the value at *val (pointing into dgram) and its
 * length in *vlen; 0 when the key is not stored ("END"); -EMSGSIZE when the reply spans
 * several datagrams; -EPROTO when it is anything else (an error line, a value for another
 * key, a malformed or truncated reply).
 */
int mc_parse_get(const uint8_t *dgram, size_t len, const char *key,
		 const uint8_t **val, size_t *vlen);

/* Reads the reply to a set: 0 for "STORED", -EPROTO for anything else. */
int mc_parse_set(const uint8_t *dgram, size_t len);

#endif /* EXITLEFT_MC_PROTO_H */
