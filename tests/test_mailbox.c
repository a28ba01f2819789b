/* test_mailbox.c - S19, S20, S21: items delivered to a token's mailbox, taken in order,
 * never lost */
#include "fixture.h"

static int items[100];

static void s19_deliver_wakes_the_waiter(void **state)
{
	struct line *l = *state;
	exitleft_ticket *w = line_ticket(l, "w"), *other = line_ticket(l, "other");
	void *item = NULL;

	line_queue(l, w);
	line_queue(l, other);
	assert_int_equal(exitleft_deliver(l->s, "w", 1, &items[0]), 1);
	assert_int_equal(line_result(l, w), EXITLEFT_TOKEN);
	assert_false(line_finished(l, other));
	assert_int_equal(wakes_of(other), 0);
	assert_int_equal(exitleft_take(w, &item), 1);
	assert_ptr_equal(item, &items[0]);
	assert_int_equal(exitleft_take(w, &item), 0);
	assert_ptr_equal(item, &items[0]);	/* left alone when empty */
	assert_int_equal(exitleft_exit(l->head), 0);
	assert_int_equal(line_result(l, other), EXITLEFT_HEAD);
	assert_int_equal(exitleft_exit(other), 0);
}

static void s19_deliver_to_idle_and_to_nobody(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a");
	void *item;

	assert_int_equal(exitleft_deliver(s, "nobody", 6, &items[1]), 0);
	assert_int_equal(exitleft_deliver(s, "a", 1, &items[2]), 1);
	/* Recorded like a notification: the next enter returns TOKEN, not HEAD. */
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_take(a, &item), 1);
	assert_ptr_equal(item, &items[2]);
	/* Taken: nothing more to report. */
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_HEAD);
	/* The head gets deliveries too, for after its exit. */
	assert_int_equal(exitleft_deliver(s, "a", 1, &items[3]), 1);
	assert_int_equal(exitleft_exit(a), 0);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_take(a, &item), 1);
	assert_ptr_equal(item, &items[3]);
}

static void s20_items_come_out_in_delivery_order(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a");
	void *item;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++)
			assert_int_equal(exitleft_deliver(s, "a", 1, &items[i]), 1);
		for (int i = 0; i < 100; i++) {
			assert_int_equal(exitleft_take(a, &item), 1);
			assert_ptr_equal(item, &items[i]);
		}
		assert_int_equal(exitleft_take(a, &item), 0);
	}
}

static void s21_full_mailbox_keeps_its_ticket(void **state)
{
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *a = line_ticket(l, "a");
	void *item;

	assert_int_equal(exitleft_deliver(s, "a", 1, &items[0]), 1);
	assert_int_equal(exitleft_deliver(s, "a", 1, &items[1]), 1);
	for (int i = 0; i < 3; i++)	/* as long as items are there, TOKEN at once */
		assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_TOKEN);
	assert_int_equal(exitleft_ticket_free(a), -ENOTEMPTY);
	assert_int_equal(exitleft_stage_free(s), -EBUSY);
	assert_int_equal(exitleft_stage_close(s), 0);
	/* Closing leaves mailboxes as they are; delivery to live tickets goes on. */
	assert_int_equal(exitleft_deliver(s, "a", 1, &items[2]), 1);
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_TOKEN);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(exitleft_take(a, &item), 1);
		assert_ptr_equal(item, &items[i]);
	}
	assert_int_equal(exitleft_enter(a, NULL), EXITLEFT_CLOSED);
}

/* Several producers deliver numbered items to one consumer: every item arrives once, and
 * each producer's items in its order. */
struct producer {
	exitleft_stage *s;
	int id, count;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < p->count; i++) {
		intptr_t v = (intptr_t)p->id << 32 | (intptr_t)i;
		if (exitleft_deliver(p->s, "consumer", 8, (void *)(v + 1)) != 1)
			return (void *)1;
	}
	return NULL;
}

static void s20_concurrent_deliveries_arrive_once_in_order(void **state)
{
	enum { P = 4, COUNT = 20000 };
	struct line *l = *state;
	exitleft_stage *s = l->s;
	exitleft_ticket *c = line_ticket(l, "consumer");
	struct producer p[P];
	pthread_t th[P];
	int next[P] = { 0 };
	int got = 0;

	for (int i = 0; i < P; i++) {
		p[i] = (struct producer){ s, i, COUNT };
		assert_int_equal(pthread_create(&th[i], NULL, producer_main, &p[i]), 0);
	}
	while (got < P * COUNT) {
		void *item;
		struct timespec d = mono_in_ms(TEST_PATIENCE_S * 1000);
		int rc = exitleft_enter(c, &d);
		if (rc == EXITLEFT_HEAD) {
			/* Nothing yet: give the producers a moment instead of spinning. Only
			 * the pace depends on it; every item is counted whenever it comes. */
			exitleft_exit(c);
			sleep_us(50);
			continue;
		}
		assert_int_equal(rc, EXITLEFT_TOKEN);
		while (exitleft_take(c, &item) == 1) {
			intptr_t v = (intptr_t)item - 1;
			int id = (int)(v >> 32), seq = (int)(v & 0xffffffff);
			assert_int_equal(seq, next[id]);
			next[id]++;
			got++;
		}
	}
	for (int i = 0; i < P; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LINE_TEST(s19_deliver_wakes_the_waiter),
		STAGE_TEST(s19_deliver_to_idle_and_to_nobody),
		STAGE_TEST(s20_items_come_out_in_delivery_order),
		STAGE_TEST(s20_concurrent_deliveries_arrive_once_in_order),
		STAGE_TEST(s21_full_mailbox_keeps_its_ticket),
	};
	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
