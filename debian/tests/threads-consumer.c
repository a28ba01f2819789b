/*
 * threads-consumer.c - built with `pkg-config --cflags --libs exitleft` against the installed
 * libexitleft-dev and run against the installed libexitleft1 (debian/tests/pkg-config-consumer).
 *
 * Two threads share one stage. The main thread heads; a second thread waits in line with its
 * own ticket. First the head delivers an item to the waiter's token: the waiter wakes with
 * TOKEN and takes that item. Then the waiter gets in line again and the head exits: the
 * waiter is promoted and comes back with HEAD. The head acts only once the stage's counters
 * show the waiter in line, so nothing is left to timing.
 */
#define _POSIX_C_SOURCE 200809L
#include <exitleft.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static exitleft_stage *stage;
static exitleft_ticket *head, *waiter;

/* What the waiting thread saw; written by it alone until it is joined. */
struct round {
	int outcome;	/* exitleft_enter()'s result */
	void *item;	/* what it took, after TOKEN */
	int exit_rc;	/* exitleft_exit()'s result, after HEAD */
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "threads-consumer: %s: %d (%s)\n", what, rc, exitleft_strerror(rc));
	return 1;
}

static void *waiter_main(void *arg)
{
	struct round *r = arg;

	r->outcome = exitleft_enter(waiter, NULL);
	if (r->outcome == EXITLEFT_TOKEN && exitleft_take(waiter, &r->item) != 1)
		r->item = NULL;
	if (r->outcome == EXITLEFT_HEAD)
		r->exit_rc = exitleft_exit(waiter);
	return NULL;
}

/* Whether the stage has `n` waiters within 20 s: the waiter thread is in line. */
static int waiters_reach(uint64_t n)
{
	const struct timespec pause = { 0, 1000000 };
	struct exitleft_stats st;

	for (int i = 0; i < 20000; i++) {
		if (exitleft_stage_stats(stage, &st, sizeof(st)) < 0)
			return 0;
		if (st.waiters == n)
			return 1;
		nanosleep(&pause, NULL);
	}
	return 0;
}

/* Starts the waiter thread and returns once it is in line. */
static int start_waiter(pthread_t *t, struct round *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = pthread_create(t, NULL, waiter_main, r);
	if (rc != 0)
		return fail("pthread_create", -rc);
	if (!waiters_reach(1))
		return fail("the waiter never got in line", 0);
	return 0;
}

int main(void)
{
	static char hello[] = "hello from the head";
	struct exitleft_stats st;
	struct round r;
	pthread_t t;
	char headers[32];
	int rc;

	snprintf(headers, sizeof(headers), "%d.%d.%d", EXITLEFT_VERSION_MAJOR,
		 EXITLEFT_VERSION_MINOR, EXITLEFT_VERSION_MICRO);
	if (strcmp(headers, exitleft_version()) != 0) {
		fprintf(stderr, "threads-consumer: header %s, library %s\n", headers,
			exitleft_version());
		return 1;
	}
	if ((rc = exitleft_stage_new(&stage)) ||
	    (rc = exitleft_ticket_new(stage, "head", 4, &head)) ||
	    (rc = exitleft_ticket_new(stage, "waiter", 6, &waiter)))
		return fail("setup", rc);
	if ((rc = exitleft_enter(head, NULL)) != EXITLEFT_HEAD)
		return fail("the first enter on a headless stage", rc);

	/* The head routes an item to the waiter's token: the waiter wakes with it. */
	if (start_waiter(&t, &r))
		return 1;
	if ((rc = exitleft_deliver(stage, "waiter", 6, hello)) != 1)
		return fail("deliver to the waiter", rc);
	pthread_join(t, NULL);
	if (r.outcome != EXITLEFT_TOKEN || r.item != hello)
		return fail("the waiter's wake by its token", r.outcome);

	/* The head exits while the waiter is in line: the waiter is promoted. */
	if (start_waiter(&t, &r))
		return 1;
	if ((rc = exitleft_exit(head)) != 0)
		return fail("the head's exit", rc);
	pthread_join(t, NULL);
	if (r.outcome != EXITLEFT_HEAD || r.exit_rc != 0)
		return fail("the waiter's promotion", r.outcome != EXITLEFT_HEAD ? r.outcome :
			    r.exit_rc);

	if ((rc = exitleft_stage_stats(stage, &st, sizeof(st))) < 0)
		return fail("stats", rc);
	if (st.heads != 2 || st.notify_delivered != 1 || st.waiters != 0) {
		fprintf(stderr, "threads-consumer: heads %llu (want 2), notifications delivered "
			"%llu (want 1), waiters %llu (want 0)\n", (unsigned long long)st.heads,
			(unsigned long long)st.notify_delivered, (unsigned long long)st.waiters);
		return 1;
	}
	if ((rc = exitleft_ticket_free(waiter)) || (rc = exitleft_ticket_free(head)) ||
	    (rc = exitleft_stage_free(stage)))
		return fail("free", rc);
	printf("threads-consumer: libexitleft %s: a waiter woken by its token, then promoted\n",
	       exitleft_version());
	return 0;
}
