/*
 * hash.c - the token table: uthash keyed by the token bytes, hashed with SipHash-2-4 under
 * a key of the stage's own
 *
 * Tokens usually come from the network (a peer's address), so an attacker chooses them.
 * uthash's default hash is unkeyed: crafted tokens would share a bucket and turn every lookup
 * into a scan. SipHash with a per-stage random key makes collisions unpredictable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* uthash calls these; HASH_NONFATAL_OOM makes it report a failed allocation (the added
 * record's hh.tbl is left NULL) instead of calling exit(). */
#define HASH_NONFATAL_OOM 1
/* The hook sees only the key bytes, so every function below that uses the table names its
 * stage's key `hash_key`. */
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = hash_fold(hash_siphash24(hash_key, (keyptr), (keylen))))

#include "exitleft-private.h"

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

uint64_t hash_siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v[4] = {
		0x736f6d6570736575ULL ^ key[0], 0x646f72616e646f6dULL ^ key[1],
		0x6c7967656e657261ULL ^ key[0], 0x7465646279746573ULL ^ key[1],
	};
	size_t whole = len & ~(size_t)7;

	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = load_le64(p + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = whole; i < len; i++)
		b |= (uint64_t)p[i] << (8 * (i - whole));
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* uthash keeps a 32-bit hash; both halves of SipHash's output count. */
static inline unsigned hash_fold(uint64_t h)
{
	return (unsigned)(h ^ (h >> 32));
}

void hash_seed(uint64_t key[2])
{
	/* GRND_NONBLOCK: never stall stage creation early at boot. Without the kernel's
	 * entropy the key still differs per stage and per run, which is all the table needs
	 * against an attacker who cannot read this process's memory. */
	if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) == 2 * sizeof(key[0]))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t fallback[2] = { (uint64_t)(uintptr_t)key, (uint64_t)ts.tv_nsec };
	key[0] = hash_siphash24(fallback, &ts, sizeof(ts));
	key[1] = hash_siphash24(fallback, key, sizeof(key[0]));
}

struct exitleft_ticket *hash_find(struct exitleft_stage *stage, const void *token, size_t len)
{
	const uint64_t *hash_key = stage->hash_key;
	struct exitleft_ticket *found;

	HASH_FIND(hh, stage->table, token, len, found);
	return found;
}

int hash_add(struct exitleft_stage *stage, struct exitleft_ticket *ticket, const void *token,
	     size_t len)
{
	const uint64_t *hash_key = stage->hash_key;

	HASH_ADD_KEYPTR(hh, stage->table, token, len, ticket);
	/* With HASH_NONFATAL_OOM uthash undoes a failed add and leaves hh.tbl NULL. */
	return ticket->hh.tbl ? 0 : -ENOMEM;
}

void hash_del(struct exitleft_stage *stage, struct exitleft_ticket *ticket)
{
	HASH_DELETE(hh, stage->table, ticket);
}

bool hash_token_ok(const void *token, size_t len)
{
	return token && len > 0 && len <= EXITLEFT_TOKEN_MAX;
}
