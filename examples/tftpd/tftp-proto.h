/*
 * tftp-proto.h - TFTP packets: parsing and building (RFC 1350), option negotiation (RFC 2347,
 * 2348, 2349, 7440) and the netascii encoding. Pure functions on byte buffers: no socket, no
 * file, no clock, so that the server, the bench's client and the fuzzer share them.
 */
#ifndef EXITLEFT_TFTP_PROTO_H
#define EXITLEFT_TFTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tftp_opcode {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

enum tftp_error {
	TFTP_EUNDEF = 0,	/* not defined, see the message */
	TFTP_ENOTFOUND = 1,
	TFTP_EACCESS = 2,
	TFTP_ENOSPACE = 3,	/* disk full or allocation exceeded */
	TFTP_EBADOP = 4,	/* illegal TFTP operation */
	TFTP_EBADID = 5,	/* unknown transfer ID */
	TFTP_EEXISTS = 6,
	TFTP_ENOUSER = 7,
	TFTP_EOPTNEG = 8,	/* option negotiation refused (RFC 2347) */
};

#define TFTP_BLKSIZE_DEFAULT 512
#define TFTP_BLKSIZE_MIN 8		/* RFC 2348 */
#define TFTP_BLKSIZE_MAX 65464		/* RFC 2348: the largest an IPv4 datagram carries */
#define TFTP_WINDOW_MAX 65535		/* RFC 7440 */
#define TFTP_TIMEOUT_MIN_S 1		/* RFC 2349 */
#define TFTP_TIMEOUT_MAX_S 255
#define TFTP_PACKET_MAX (4 + TFTP_BLKSIZE_MAX)
#define TFTP_NAME_MAX 1024		/* longest file name accepted in a request */

enum tftp_mode { TFTP_MODE_OCTET, TFTP_MODE_NETASCII };

/* Which options a request carried, and their values as asked (not yet negotiated). */
enum tftp_opt_bit {
	TFTP_OPT_BLKSIZE = 1u << 0,
	TFTP_OPT_TIMEOUT = 1u << 1,
	TFTP_OPT_TSIZE = 1u << 2,
	TFTP_OPT_WINDOWSIZE = 1u << 3,
};

/*
 * A parsed RRQ or WRQ. filename points into the parsed packet (NUL-terminated there), so
 * the packet must outlive it. Only the options above are kept; others are ignored, as RFC
 * 2347 asks of a server that does not know them.
 */
struct tftp_request {
	enum tftp_opcode op;		/* TFTP_RRQ or TFTP_WRQ */
	const char *filename;
	enum tftp_mode mode;
	unsigned opts;			/* enum tftp_opt_bit */
	unsigned blksize;
	unsigned timeout_s;
	uint64_t tsize;
	unsigned windowsize;
};

/* Why a request was refused: what to send back in the ERROR. */
struct tftp_refusal {
	enum tftp_error code;
	const char *msg;
};

/* The opcode of a datagram, or 0 if it is shorter than an opcode. */
unsigned tftp_opcode(const uint8_t *pkt, size_t len);

/*
 * Parses an RRQ or WRQ in place: pkt is modified only in that nothing is. Returns true and
 * fills *req, or false and fills *why (truncated, a missing NUL, an unknown mode, a
 * malformed, absurd or repeated option).
 */
bool tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *req,
			struct tftp_refusal *why);

/* Block number of a DATA or ACK packet of at least 4 bytes. */
uint16_t tftp_block(const uint8_t *pkt);

/* Packet builders: each writes into out (cap bytes) and returns the length, 0 if it does not
 * fit. */
size_t tftp_build_ack(uint8_t *out, size_t cap, uint16_t block);
size_t tftp_build_data_header(uint8_t *out, size_t cap, uint16_t block);
size_t tftp_build_error(uint8_t *out, size_t cap, enum tftp_error code, const char *msg);
size_t tftp_build_request(uint8_t *out, size_t cap, enum tftp_opcode op, const char *name,
			  const char *mode, const struct tftp_request *opts);

/* The options an OACK acknowledges, as a request's fields. */
struct tftp_oack {
	unsigned opts;
	unsigned blksize;
	unsigned timeout_s;
	uint64_t tsize;
	unsigned windowsize;
};

size_t tftp_build_oack(uint8_t *out, size_t cap, const struct tftp_oack *o);

/* Parses an OACK (for clients). Returns false if malformed. */
bool tftp_parse_oack(const uint8_t *pkt, size_t len, struct tftp_oack *o);

/*
 * Netascii (RFC 764 as RFC 1350 uses it): on the wire, a line ends CR LF and a bare CR is
 * CR NUL. The encoder carries one byte across calls (the second byte of a pair cut by the
 * end of a block), the decoder one CR.
 */
struct tftp_ascii_enc {
	uint8_t pending;	/* second byte of a pair still to send, when has_pending */
	bool has_pending;
};

/*
 * Encodes from in[0..inlen) into out[0..cap): returns the bytes written and sets *used to
 * the input bytes consumed. Writes until out is full or in is exhausted.
 */
size_t tftp_ascii_encode(struct tftp_ascii_enc *e, const uint8_t *in, size_t inlen,
			 size_t *used, uint8_t *out, size_t cap);

struct tftp_ascii_dec {
	bool cr;		/* the last byte seen was a CR, not yet resolved */
};

/* Decodes in[0..len) into out (at least len + 1 bytes); returns the bytes written. */
size_t tftp_ascii_decode(struct tftp_ascii_dec *d, const uint8_t *in, size_t len, uint8_t *out);

/* What is left at the end of a netascii stream (a lone CR): 0 or 1 byte into out. */
size_t tftp_ascii_decode_end(struct tftp_ascii_dec *d, uint8_t *out);

#endif /* EXITLEFT_TFTP_PROTO_H */
