/*
 * test_flood.c - hash flooding: tokens crafted to collide under uthash's default hash stay
 * harmless in a stage, whose table is hashed with SipHash under a key of its own.
 *
 * uthash's default, HASH_JEN (Bob Jenkins' lookup2), is unkeyed and adds each 12-byte block
 * of the key into its state before an invertible mix. So for 24-byte tokens X || Y, the
 * state before the second mix is mix(init + X) + Y: choosing Y = T - mix(init + X) for a
 * fixed T gives every token the same 32-bit hash, whatever X. No search needed: FLOOD
 * tokens, all distinct, all in one bucket of an unkeyed table, where a lookup walks the
 * whole chain and uthash gives up expanding. The test builds such a table, measures its
 * longest chain and the key comparisons its lookups make, then does the same through a
 * stage (its longest chain and the comparisons implied by its bucket sizes).
 */
#include "helpers.h"

#define FLOOD 8000
#define TOKEN_LEN 24

/* A plain uthash table with the default hash: this file does not define HASH_FUNCTION. */
struct plain {
	unsigned char key[TOKEN_LEN];
	UT_hash_handle hh;
};

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The colliding token number n: the first block is free, the second cancels its effect. */
static void craft(uint32_t n, unsigned char tok[TOKEN_LEN])
{
	unsigned a = 0x9e3779b9u, b = 0x9e3779b9u, c = 0xfeedbeefu;
	static const unsigned target[3] = { 0x01234567u, 0x89abcdefu, 0x0badf00du };

	memset(tok, 0, TOKEN_LEN);
	put_le32(tok, n);
	put_le32(tok + 4, n * 2654435761u);
	put_le32(tok + 8, ~n);
	a += le32(tok);
	b += le32(tok + 4);
	c += le32(tok + 8);
	HASH_JEN_MIX(a, b, c);
	put_le32(tok + 12, target[0] - a);
	put_le32(tok + 16, target[1] - b);
	put_le32(tok + 20, target[2] - c);
}

static unsigned jen(const unsigned char *tok)
{
	unsigned h;

	HASH_JEN(tok, TOKEN_LEN, h);
	return h;
}

/* Key comparisons a successful lookup of every item makes, given the bucket sizes: an item
 * k-th in its chain costs k comparisons, so a chain of n costs n(n+1)/2 for all its items. */
static uint64_t lookup_cost(const UT_hash_table *tbl)
{
	uint64_t cost = 0;

	for (unsigned i = 0; i < tbl->num_buckets; i++) {
		uint64_t n = tbl->buckets[i].count;
		cost += n * (n + 1) / 2;
	}
	return cost;
}

static size_t longest(const UT_hash_table *tbl)
{
	size_t m = 0;

	for (unsigned i = 0; i < tbl->num_buckets; i++)
		if (tbl->buckets[i].count > m)
			m = tbl->buckets[i].count;
	return m;
}

static void flood_collides_unkeyed_not_in_a_stage(void **state)
{
	static struct plain items[FLOOD];
	struct plain *table = NULL, *found;
	exitleft_stage *s;
	static exitleft_ticket *t[FLOOD];
	unsigned char tok[TOKEN_LEN];

	(void)state;
	/* Every crafted token has the same default hash, and they are all different. */
	for (uint32_t n = 0; n < FLOOD; n++) {
		craft(n, items[n].key);
		assert_int_equal(jen(items[n].key), jen(items[0].key));
		HASH_FIND(hh, table, items[n].key, TOKEN_LEN, found);
		assert_null(found);
		HASH_ADD(hh, table, key, TOKEN_LEN, &items[n]);
	}
	assert_int_equal(HASH_COUNT(table), FLOOD);
	size_t plain_chain = longest(table->hh.tbl);
	uint64_t plain_cost = lookup_cost(table->hh.tbl);
	unsigned plain_buckets = table->hh.tbl->num_buckets;

	assert_int_equal(exitleft_stage_new(&s), 0);
	for (uint32_t n = 0; n < FLOOD; n++) {
		craft(n, tok);
		assert_int_equal(exitleft_ticket_new(s, tok, TOKEN_LEN, &t[n]), 0);
	}
	size_t stage_chain = longest_chain(s);
	const UT_hash_table *stage_table = stage_hash_table(s);
	uint64_t stage_cost = lookup_cost(stage_table);

	print_message("flood: %d tokens with one HASH_JEN value: unkeyed table %u buckets, "
		      "longest chain %zu, %.1f comparisons per lookup; stage (keyed SipHash) "
		      "%u buckets, longest chain %zu, %.2f comparisons per lookup\n",
		      FLOOD, plain_buckets, plain_chain, (double)plain_cost / FLOOD,
		      stage_table->num_buckets, stage_chain,
		      (double)stage_cost / FLOOD);
	assert_int_equal(plain_chain, FLOOD);	/* one bucket: every lookup a linear scan */
	assert_true(stage_chain <= 16);
	assert_true(stage_cost < 3 * FLOOD);
	assert_true(plain_cost > 1000 * stage_cost);

	/* The tokens still work as tokens: found, notified, freed. */
	for (uint32_t n = 0; n < FLOOD; n += 97) {
		craft(n, tok);
		assert_int_equal(exitleft_notify(s, tok, TOKEN_LEN), 1);
		assert_int_equal(exitleft_enter(t[n], NULL), EXITLEFT_TOKEN);
	}
	for (uint32_t n = 0; n < FLOOD; n++)
		assert_int_equal(exitleft_ticket_free(t[n]), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
	HASH_CLEAR(hh, table);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flood_collides_unkeyed_not_in_a_stage),
	};
	return cmocka_run_group_tests_name("flood", tests, NULL, NULL);
}
