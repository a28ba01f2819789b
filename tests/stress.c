/*
 * stress.c - many threads, a random mix of everything, bounded in time and count
 *
 * Each worker owns one ticket (token: its index and a generation that changes when it
 * frees and retakes its ticket) and loops: take its mail, enter with a random deadline
 * (already past, up to 100 us, or a few ms: any outcome is fine, they only vary the mix),
 * and as head notify or deliver to random workers before exiting (or freeing its ticket
 * instead). Any worker notifies at times. The run's time starts once every worker runs.
 * Odd workers enter as an event loop would (since 1.2): exitleft_enter_start(), poll() on
 * the ticket's descriptor until the deadline, then exitleft_enter_poll(), or
 * exitleft_enter_cancel() when poll() timed out.
 *
 * What it asserts:
 *   - never two heads: a counter raised at HEAD and lowered before exit never exceeds 1;
 *   - no notification lost: a notifier raises the target's `sent` before notifying (and
 *     lowers it if nobody held the token); the target sets `acked` to `sent` on TOKEN or
 *     when it gives its ticket up. Once everything stops, a ticket with acked < sent must
 *     return EXITLEFT_TOKEN at once;
 *   - every delivered item is taken exactly once;
 *   - a descriptor that poll() finds readable always has a decided enter behind it;
 *   - the stage's invariants hold whenever the main thread looks, and every thread ends.
 * Then the same again with the stage closed in the middle of the run, then the mix again with
 * 2, 8 and 64 threads (a quarter of the time each).
 *
 * EXITLEFT_STRESS_MS (default 1500), EXITLEFT_STRESS_THREADS (default 16) and
 * EXITLEFT_STRESS_COUNTS (default "2,8,64") scale it; the detectors' runs and the soak set
 * them. Built with STRESS_SPURIOUS, half of all condvar waits also wake spuriously.
 */
#include <stdatomic.h>

#include "helpers.h"
#ifdef STRESS_SPURIOUS
#include "spurious.h"
#endif

#define MAX_ITEMS (1 << 20)

struct worker {
	struct shared *sh;
	unsigned idx;
	unsigned seed;
	exitleft_ticket *ticket;
	atomic_uint generation;
	atomic_long sent;
	long acked;
	long heads, tokens, timeouts, closed, churns, notifies, delivered;
	pthread_t thread;
};

struct shared {
	exitleft_stage *stage;
	struct worker *w;
	unsigned nworkers;
	atomic_int heads_now;
	atomic_int overlaps;
	atomic_bool stop;
	atomic_uint next_item;
	atomic_uchar *taken;	/* per item id: times taken */
	pthread_barrier_t start;	/* the clock starts once every worker runs */
	int64_t end_ns;
};

struct token {
	uint32_t idx, generation;
};

static struct token token_of(struct worker *w)
{
	return (struct token){ w->idx, atomic_load(&w->generation) };
}

static void take_all(struct worker *w)
{
	void *item;

	while (exitleft_take(w->ticket, &item) == 1) {
		unsigned id = *(unsigned *)item;
		atomic_fetch_add(&w->sh->taken[id], 1);
		free(item);
	}
}

static void retake_ticket(struct worker *w)
{
	struct token tok;
	int rc;

	atomic_fetch_add(&w->generation, 1);
	tok = token_of(w);
	rc = exitleft_ticket_new(w->sh->stage, &tok, sizeof(tok), &w->ticket);
	if (rc == -ECANCELED)
		w->ticket = NULL;
	else
		assert_int_equal(rc, 0);
}

/* Gives the ticket up (exiting first if heading) and takes a new one for a new token. */
static void churn(struct worker *w)
{
	int rc;

	for (;;) {
		take_all(w);
		rc = exitleft_ticket_free(w->ticket);
		if (rc != -ENOTEMPTY)	/* a delivery slipped in: take it and retry */
			break;
	}
	assert_int_equal(rc, 0);
	/* Notifications recorded on the old ticket went with it: settle them, after the free.
	 * Settled before it, a notification recorded between the two would count as sent and
	 * never seen. One to the old token still on its way finds no holder and takes its
	 * count back (notify_someone()). */
	w->acked = atomic_load(&w->sent);
	w->churns++;
	retake_ticket(w);
}

static void notify_someone(struct worker *w, int with_item)
{
	struct shared *sh = w->sh;
	struct worker *target = &sh->w[rand_r(&w->seed) % sh->nworkers];
	struct token tok = token_of(target);
	int rc;

	if (!with_item) {
		atomic_fetch_add(&target->sent, 1);
		rc = exitleft_notify(sh->stage, &tok, sizeof(tok));
		assert_true(rc == 0 || rc == 1);
		if (rc == 0)
			atomic_fetch_sub(&target->sent, 1);
		w->notifies++;
		return;
	}
	unsigned id = atomic_fetch_add(&sh->next_item, 1);
	if (id >= MAX_ITEMS)
		return;
	unsigned *item = malloc(sizeof(*item));
	assert_non_null(item);
	*item = id;
	rc = exitleft_deliver(sh->stage, &tok, sizeof(tok), item);
	assert_true(rc == 0 || rc == 1);
	if (rc == 0) {
		atomic_fetch_add(&sh->taken[id], 1);	/* never delivered: ours to account */
		free(item);
	} else {
		w->delivered++;
	}
}

/* The pending way in: start, wait for the descriptor until `d`, collect or cancel. */
static int enter_pending(struct worker *w, const struct timespec *d)
{
	int rc = exitleft_enter_start(w->ticket);
	int fd = exitleft_ticket_fd(w->ticket);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_true(fd >= 0);
	if (rc != EXITLEFT_PENDING)
		return rc;
	for (;;) {
		int64_t left_ns = ns_of(*d) - mono_ns();
		int ms = left_ns <= 0 ? 0 : (int)(left_ns / 1000000) + 1;
		int n = poll(&p, 1, ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1) {
			rc = exitleft_enter_poll(w->ticket);
			assert_int_not_equal(rc, EXITLEFT_PENDING);	/* no futile wake */
			return rc;
		}
		assert_int_equal(n, 0);
		return exitleft_enter_cancel(w->ticket);	/* a decision may still win */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;

	/* Every worker makes one round at least, however late a loaded machine starts it:
	 * the first enter on the fresh stage heads, so heads > 0 holds whatever the timing. */
	pthread_barrier_wait(&sh->start);
	do {
		int r = rand_r(&w->seed) % 100;
		struct timespec d;

		take_all(w);
		if (r < 30)
			d = (struct timespec){ 0, 0 };
		else if (r < 90)
			d = mono_in_ns(rand_r(&w->seed) % 100000);
		else
			d = mono_in_ms(2);
		switch (w->idx % 2 ? enter_pending(w, &d) : exitleft_enter(w->ticket, &d)) {
		case EXITLEFT_HEAD:
			w->heads++;
			if (atomic_fetch_add(&sh->heads_now, 1) != 0)
				atomic_fetch_add(&sh->overlaps, 1);
			for (int k = rand_r(&w->seed) % 5; k > 0; k--)
				notify_someone(w, rand_r(&w->seed) % 2);
			atomic_fetch_sub(&sh->heads_now, 1);
			if (rand_r(&w->seed) % 20 == 0)
				churn(w);	/* S12: freeing the head exits first */
			else
				assert_int_equal(exitleft_exit(w->ticket), 0);
			break;
		case EXITLEFT_TOKEN:
			w->tokens++;
			w->acked = atomic_load(&w->sent);
			break;
		case EXITLEFT_TIMEOUT:
			w->timeouts++;
			break;
		case EXITLEFT_CLOSED:
			w->closed++;
			take_all(w);
			return NULL;
		default:
			fail_msg("unexpected outcome");
		}
		if (r < 5)
			notify_someone(w, 0);
		else if (r == 5)
			churn(w);
	} while (!atomic_load(&sh->stop) && mono_ns() < sh->end_ns && w->ticket);
	return NULL;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : fallback;
}

static unsigned env_threads(void)
{
	return (unsigned)env_int("EXITLEFT_STRESS_THREADS", 16);
}

static void run(int close_midway, unsigned nthreads, int ms)
{
	struct shared sh = { 0 };
	long heads = 0, tokens = 0, timeouts = 0, closed = 0, churns = 0, notifies = 0;
	long delivered = 0, recorded_at_end = 0, checks = 0;
	int was_closed = close_midway;

	sh.nworkers = nthreads;
	sh.w = calloc(sh.nworkers, sizeof(*sh.w));
	sh.taken = calloc(MAX_ITEMS, 1);
	assert_non_null(sh.w);
	assert_non_null(sh.taken);
	assert_int_equal(exitleft_stage_new(&sh.stage), 0);
	assert_int_equal(pthread_barrier_init(&sh.start, NULL, nthreads + 1), 0);
	for (unsigned i = 0; i < sh.nworkers; i++) {
		struct worker *w = &sh.w[i];
		w->sh = &sh;
		w->idx = i;
		w->seed = i * 7919 + 1;
		retake_ticket(w);
	}
	for (unsigned i = 0; i < sh.nworkers; i++)
		assert_int_equal(pthread_create(&sh.w[i].thread, NULL, worker_main, &sh.w[i]), 0);
	sh.end_ns = mono_ns() + (int64_t)ms * 1000000;
	pthread_barrier_wait(&sh.start);
	while (mono_ns() < sh.end_ns) {
		check_stage(sh.stage);
		checks++;
		sleep_us(2000);	/* only spaces the checks out: each holds whenever it runs */
		if (close_midway && mono_ns() > sh.end_ns - (int64_t)ms * 500000) {
			assert_int_equal(exitleft_stage_close(sh.stage), 0);
			close_midway = 0;
		}
	}
	atomic_store(&sh.stop, true);
	for (unsigned i = 0; i < sh.nworkers; i++)
		pthread_join(sh.w[i].thread, NULL);
	check_stage(sh.stage);
	assert_null(head_of(sh.stage));
	assert_int_equal(atomic_load(&sh.overlaps), 0);

	for (unsigned i = 0; i < sh.nworkers; i++) {
		struct worker *w = &sh.w[i];
		heads += w->heads;
		tokens += w->tokens;
		timeouts += w->timeouts;
		closed += w->closed;
		churns += w->churns;
		notifies += w->notifies;
		delivered += w->delivered;
		if (!w->ticket)
			continue;
		take_all(w);
		if (w->acked < atomic_load(&w->sent)) {
			/* Sent, not yet seen: it must be recorded. */
			assert_int_equal(exitleft_enter(w->ticket, &(struct timespec){ 0, 0 }),
					 EXITLEFT_TOKEN);
			recorded_at_end++;
		}
		assert_int_equal(exitleft_ticket_free(w->ticket), 0);
	}
	unsigned items = atomic_load(&sh.next_item);
	if (items > MAX_ITEMS)
		items = MAX_ITEMS;
	for (unsigned id = 0; id < items; id++)
		if (sh.taken[id] != 1)
			fail_msg("item %u taken %u times", id, sh.taken[id]);
	assert_int_equal(exitleft_stage_free(sh.stage), 0);
	print_message("stress%s: %u threads, %d ms: %ld enters (%ld heads, %ld tokens, "
		      "%ld timeouts, %ld closed), %ld churns, %ld notifies (%ld left recorded), "
		      "%ld items delivered and taken once, %ld invariant checks; 0 lost, "
		      "0 duplicated, 0 double heads\n", was_closed ? " (closed midway)" : "",
		      sh.nworkers, ms, heads + tokens + timeouts + closed, heads, tokens,
		      timeouts, closed, churns, notifies, recorded_at_end, delivered, checks);
#ifdef STRESS_SPURIOUS
	print_message("stress: %lu spurious wakes injected\n", atomic_load(&spurious_injected));
#endif
	assert_true(heads > 0);
	pthread_barrier_destroy(&sh.start);
	free(sh.w);
	free(sh.taken);
}

static void stress_mixed(void **state)
{
	(void)state;
	run(0, env_threads(), env_int("EXITLEFT_STRESS_MS", 1500));
}

static void stress_closed_midway(void **state)
{
	(void)state;
	run(1, env_threads(), env_int("EXITLEFT_STRESS_MS", 1500));
}

/* The mix with few and many threads: 2 threads hand over at every exit, 64 queue deep. */
static void stress_thread_counts(void **state)
{
	const char *counts = getenv("EXITLEFT_STRESS_COUNTS");
	int ms = env_int("EXITLEFT_STRESS_MS", 1500) / 4;

	(void)state;
	if (!counts || !*counts)
		counts = "2,8,64";
	for (const char *p = counts; *p;) {
		char *end;
		long n = strtol(p, &end, 10);
		assert_true(end != p && n >= 1 && n <= 1024);
		run(0, (unsigned)n, ms > 0 ? ms : 1);
		p = *end ? end + 1 : end;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stress_mixed),
		cmocka_unit_test(stress_closed_midway),
		cmocka_unit_test(stress_thread_counts),
	};
	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
