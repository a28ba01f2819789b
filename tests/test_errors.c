/* test_errors.c - S15: bad input returns -EINVAL and changes nothing; names and version */
#include "helpers.h"

static const struct timespec bad_deadlines[] = {
	{ 0, -1 }, { 0, 1000000000L }, { -1, 0 }, { 5, 2000000000L },
};

static void s15_bad_input_is_refused(void **state)
{
	exitleft_stage *s;
	exitleft_ticket *a, *t = NULL;
	unsigned char big[EXITLEFT_TOKEN_MAX + 1] = { 0 };
	void *item = &item;

	(void)state;
	assert_int_equal(exitleft_stage_new(NULL), -EINVAL);
	assert_int_equal(exitleft_stage_new(&s), 0);
	a = ticket_named(s, "a");

	assert_int_equal(exitleft_stage_close(NULL), -EINVAL);
	assert_int_equal(exitleft_stage_free(NULL), -EINVAL);

	assert_int_equal(exitleft_ticket_new(NULL, "b", 1, &t), -EINVAL);
	assert_int_equal(exitleft_ticket_new(s, NULL, 1, &t), -EINVAL);
	assert_int_equal(exitleft_ticket_new(s, "b", 0, &t), -EINVAL);
	assert_int_equal(exitleft_ticket_new(s, big, sizeof(big), &t), -EINVAL);
	assert_int_equal(exitleft_ticket_new(s, "b", 1, NULL), -EINVAL);
	assert_null(t);
	assert_int_equal(exitleft_ticket_free(NULL), -EINVAL);

	assert_int_equal(exitleft_enter(NULL, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_deadlines) / sizeof(bad_deadlines[0]); i++)
		assert_int_equal(exitleft_enter(a, &bad_deadlines[i]), -EINVAL);
	assert_int_equal(exitleft_exit(NULL), -EINVAL);

	assert_int_equal(exitleft_notify(NULL, "a", 1), -EINVAL);
	assert_int_equal(exitleft_notify(s, NULL, 1), -EINVAL);
	assert_int_equal(exitleft_notify(s, "a", 0), -EINVAL);
	assert_int_equal(exitleft_notify(s, big, sizeof(big)), -EINVAL);

	assert_int_equal(exitleft_deliver(NULL, "a", 1, item), -EINVAL);
	assert_int_equal(exitleft_deliver(s, NULL, 1, item), -EINVAL);
	assert_int_equal(exitleft_deliver(s, "a", 0, item), -EINVAL);
	assert_int_equal(exitleft_deliver(s, big, sizeof(big), item), -EINVAL);
	assert_int_equal(exitleft_deliver(s, "a", 1, NULL), -EINVAL);

	assert_int_equal(exitleft_take(NULL, &item), -EINVAL);
	assert_int_equal(exitleft_take(a, NULL), -EINVAL);

	/* Nothing changed: one ticket, idle, nothing recorded, empty mailbox, headless. */
	assert_int_equal(live_tickets(s), 1);
	assert_false(is_notified(a));
	assert_true(mailbox_empty(a));
	assert_true(is_idle(a));
	check_stage(s);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	/* A bad deadline is refused even from the head, before any other check. */
	assert_int_equal(exitleft_enter(a, &bad_deadlines[0]), -EINVAL);
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_ticket_free(a), 0);
	assert_int_equal(exitleft_stage_free(s), 0);
}

static void strerror_names_everything(void **state)
{
	const int codes[] = {
		0, EXITLEFT_HEAD, EXITLEFT_TOKEN, EXITLEFT_TIMEOUT, EXITLEFT_CLOSED,
		-EINVAL, -ENOMEM, -EEXIST, -ECANCELED, -EPERM, -EDEADLK, -EBUSY, -ENOTEMPTY,
	};
	const size_t n = sizeof(codes) / sizeof(codes[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const char *name = exitleft_strerror(codes[i]);
		assert_non_null(name);
		assert_true(strlen(name) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(name, exitleft_strerror(codes[j]));
	}
	assert_non_null(exitleft_strerror(-12345));
	assert_non_null(exitleft_strerror(12345));
	assert_non_null(exitleft_strerror(-2147483647 - 1));
}

/* The library's version is the headers' (both come from meson.build's). */
static void version_matches_the_headers(void **state)
{
	char headers[32];

	(void)state;
	snprintf(headers, sizeof(headers), "%d.%d.%d", EXITLEFT_VERSION_MAJOR,
		 EXITLEFT_VERSION_MINOR, EXITLEFT_VERSION_MICRO);
	assert_string_equal(exitleft_version(), headers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s15_bad_input_is_refused),
		cmocka_unit_test(strerror_names_everything),
		cmocka_unit_test(version_matches_the_headers),
	};
	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
