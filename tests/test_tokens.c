/* test_tokens.c - S1, S2: tokens are exclusive and compared by length and bytes; the keyed
 * hash is SipHash-2-4 and keeps the table usable for any number of tokens. */
#include "helpers.h"

static void s1_exclusive_tokens(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *a, *again = NULL;

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	a = ticket_named(s, "peer");
	assert_int_equal(exitleft_ticket_new(s, "peer", 4, &again), -EEXIST);
	assert_null(again);
	assert_int_equal(live_tickets(s), 1);
	assert_int_equal(exitleft_ticket_free(a), 0);
	a = ticket_named(s, "peer");
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void s2_equal_length_and_bytes(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *ab, *ab0, *dup;
	const char bytes[] = { 'a', 'b', 0 };

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	assert_int_equal(exitleft_ticket_new(s, bytes, 2, &ab), 0);
	/* Same first bytes, other length: another token. */
	assert_int_equal(exitleft_ticket_new(s, bytes, 3, &ab0), 0);
	/* Same length and bytes from another buffer: the same token. */
	assert_int_equal(exitleft_ticket_new(s, "abc", 2, &dup), -EEXIST);
	/* The token was copied: the caller's buffer does not matter any more. */
	char buf[2] = { 'a', 'b' };
	assert_int_equal(exitleft_notify(s, buf, 2), 1);
	buf[1] = 'x';
	assert_int_equal(exitleft_notify(s, buf, 2), 0);
	/* The notification reached "ab", not "ab\0". */
	assert_int_equal(exitleft_enter(ab, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_enter(ab0, NULL), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(ab0), 0);
	assert_int_equal(exitleft_ticket_free(ab), 0);
	assert_int_equal(exitleft_ticket_free(ab0), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void tokens_of_every_length(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *t[EXITLEFT_TOKEN_MAX + 1];
	unsigned char tok[EXITLEFT_TOKEN_MAX];

	(void)state;
	memset(tok, 0x5a, sizeof(tok));
	assert_int_equal(exitleft_stage_new(&s), 0);
	for (size_t len = 1; len <= EXITLEFT_TOKEN_MAX; len++)
		assert_int_equal(exitleft_ticket_new(s, tok, len, &t[len]), 0);
	for (size_t len = 1; len <= EXITLEFT_TOKEN_MAX; len++) {
		assert_int_equal(exitleft_notify(s, tok, len), 1);
		assert_int_equal(exitleft_enter(t[len], &(struct timespec){ 0, 0 }),
				 EXITLEFT_TOKEN);
	}
	for (size_t len = 1; len <= EXITLEFT_TOKEN_MAX; len++)
		assert_int_equal(exitleft_ticket_free(t[len]), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void many_tokens_found_and_freed(void **state)
{
	enum { N = 20000 };
	exitleft_stage *s;
	static exitleft_ticket *t[N];

	(void)state;
	assert_int_equal(exitleft_stage_new(&s), 0);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(exitleft_ticket_new(s, &i, sizeof(i), &t[i]), 0);
	for (uint32_t i = 0; i < N; i += 7)
		assert_int_equal(exitleft_notify(s, &i, sizeof(i)), 1);
	uint32_t absent = N;
	assert_int_equal(exitleft_notify(s, &absent, sizeof(absent)), 0);
	/* A keyed hash spreads sequential tokens: no long chains. */
	assert_true(longest_chain(s) < 20);
	check_stage(s);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(exitleft_ticket_free(t[i]), 0);
	assert_int_equal(live_tickets(s), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

/* The reference vectors of the SipHash paper: key 00..0f, messages 00..(n-1). */
static void siphash24_reference_vectors(void **state)
{
	uint64_t key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	unsigned char msg[16];

	(void)state;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	assert_int_equal(hash_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
	assert_int_equal(hash_siphash24(key, msg, 1), 0x74f839c593dc67fdULL);
	assert_int_equal(hash_siphash24(key, msg, 8), 0x93f5f5799a932462ULL);
	assert_int_equal(hash_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}

static void stages_have_their_own_keys(void **state)
{
	exitleft_stage *a, *b;

	(void)state;
	assert_int_equal(exitleft_stage_new(&a), 0);
	assert_int_equal(exitleft_stage_new(&b), 0);
	assert_true(hash_keys_differ(a, b));
	assert_int_equal(exitleft_stage_free(a), 0);
	assert_int_equal(exitleft_stage_free(b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s1_exclusive_tokens),
		cmocka_unit_test(s2_equal_length_and_bytes),
		cmocka_unit_test(tokens_of_every_length),
		cmocka_unit_test(many_tokens_found_and_freed),
		cmocka_unit_test(siphash24_reference_vectors),
		cmocka_unit_test(stages_have_their_own_keys),
	};
	return cmocka_run_group_tests_name("tokens", tests, NULL, NULL);
}
