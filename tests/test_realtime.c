/*
 * test_realtime.c - no call busy-waits on another thread's progress, so nothing livelocks
 * under SCHED_FIFO.
 *
 * The scenario: a waker (notify, or a ticket free that promotes) at real-time priority 10
 * and the thread it wakes at priority 20 share one CPU. The wake makes the woken thread
 * runnable, and the kernel hands it the CPU at once: the waker is preempted between its
 * signal and the end of its wake (stage_unlock_wake()). The woken thread then frees its
 * ticket and the stage. A free that yields the CPU until the wake ends never ends: the
 * scheduler only yields to equal priority, and the waker never runs again. A free that
 * sleeps lets it run.
 *
 * The scenario needs the right to use SCHED_FIFO (root, or CAP_SYS_NICE): without it the
 * program says so and exits 77, which meson reports as a skip. A watchdog turns a livelock
 * into a failure: if the free has not returned after TEST_PATIENCE_S, it drops the freer
 * to SCHED_OTHER, which lets the waker finish, and fails.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "helpers.h"

enum waker_kind { WAKE_BY_NOTIFY, WAKE_BY_FREE };

/* A scenario that never went the way it needs: the program then reports a skip. */
static const char *not_tested;

struct scenario {
	enum waker_kind kind;
	exitleft_stage *s;
	exitleft_ticket *h, *w;
	int waiter_rc;
	bool preempted;		/* a wake was in flight when the waiter freed the stage */
	sem_t freed;
};

/* Priority 20: waits, wakes while the waker is preempted, frees everything. */
static void *waiter_main(void *arg)
{
	struct scenario *sc = arg;
	int rc = exitleft_enter(sc->w, NULL);

	sc->waiter_rc = rc;
	if (rc == EXITLEFT_TOKEN) {
		/* The waker still heads through h; it is idle in our hands now. */
		exitleft_ticket_free(sc->w);
		exitleft_ticket_free(sc->h);
	} else if (rc == EXITLEFT_HEAD) {
		exitleft_ticket_free(sc->w);	/* exits: nobody to promote */
	}
	sc->preempted = wakes_in_flight(sc->s) != 0;
	if (exitleft_stage_free(sc->s) != 0)
		sc->waiter_rc = -1;
	sem_post(&sc->freed);
	return NULL;
}

/* Priority 10: the waker. */
static void *waker_main(void *arg)
{
	struct scenario *sc = arg;

	if (sc->kind == WAKE_BY_NOTIFY)
		exitleft_notify(sc->s, "w", 1);
	else
		exitleft_ticket_free(sc->h);	/* the head's ticket: promotes w */
	return NULL;
}

/* Creates a SCHED_FIFO thread at `prio` on `cpu`; an errno value on failure. */
static int fifo_thread(pthread_t *thread, int prio, int cpu, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	struct sched_param param = { .sched_priority = prio };
	cpu_set_t cpus;
	int rc;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &param);
	pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	rc = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc;
}

static int first_cpu(void)
{
	cpu_set_t cpus;

	assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &cpus))
			return cpu;
	fail_msg("no CPU to run on");
	return -1;
}

/* Runs the scenario once; returns whether the waker was preempted inside its wake. */
static bool run_scenario(enum waker_kind kind)
{
	struct scenario sc = { .kind = kind };
	pthread_t waiter, waker;
	struct timespec limit;
	int cpu = first_cpu();

	assert_int_equal(exitleft_stage_new(&sc.s), 0);
	sc.h = ticket_named(sc.s, "h");
	sc.w = ticket_named(sc.s, "w");
	assert_int_equal(sem_init(&sc.freed, 0, 0), 0);
	assert_int_equal(exitleft_enter(sc.h, NULL), EXITLEFT_HEAD);
	assert_int_equal(fifo_thread(&waiter, 20, cpu, waiter_main, &sc), 0);
	await_queue_len(sc.s, 1);
	assert_int_equal(fifo_thread(&waker, 10, cpu, waker_main, &sc), 0);

	clock_gettime(CLOCK_REALTIME, &limit);	/* sem_timedwait counts on the wall clock */
	limit.tv_sec += TEST_PATIENCE_S;
	while (sem_timedwait(&sc.freed, &limit) != 0) {
		if (errno == EINTR)
			continue;
		struct sched_param other = { .sched_priority = 0 };

		/* Livelocked: let the waker run so that the program can end, then fail. */
		pthread_setschedparam(waiter, SCHED_OTHER, &other);
		sem_wait(&sc.freed);
		pthread_join(waiter, NULL);
		pthread_join(waker, NULL);
		fail_msg("exitleft_stage_free() spun for %d s under SCHED_FIFO", TEST_PATIENCE_S);
	}
	pthread_join(waiter, NULL);
	pthread_join(waker, NULL);
	sem_destroy(&sc.freed);
	assert_int_equal(sc.waiter_rc, kind == WAKE_BY_NOTIFY ? EXITLEFT_TOKEN : EXITLEFT_HEAD);
	return sc.preempted;
}

/* Runs the scenario until the waker was preempted inside its wake (bounded). */
static void run_until_preempted(enum waker_kind kind)
{
	for (int round = 0; round < 50; round++)
		if (run_scenario(kind))
			return;
	not_tested = "the scheduler never preempted the waker inside its wake";
}

static void stage_free_sleeps_for_a_preempted_notifier(void **state)
{
	(void)state;
	run_until_preempted(WAKE_BY_NOTIFY);
}

static void stage_free_sleeps_for_a_preempted_promoter(void **state)
{
	(void)state;
	run_until_preempted(WAKE_BY_FREE);
}

static bool fifo_allowed(void)
{
	struct sched_param param = { .sched_priority = 1 };
	int policy;
	struct sched_param old;

	pthread_getschedparam(pthread_self(), &policy, &old);
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) != 0)
		return false;
	pthread_setschedparam(pthread_self(), policy, &old);
	return true;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stage_free_sleeps_for_a_preempted_notifier),
		cmocka_unit_test(stage_free_sleeps_for_a_preempted_promoter),
	};

	if (!fifo_allowed()) {
		printf("realtime: SKIP: SCHED_FIFO is not allowed here (needs root or "
		       "CAP_SYS_NICE); the scenario was not run\n");
		return 77;
	}
	int failed = cmocka_run_group_tests_name("realtime", tests, NULL, NULL);

	if (!failed && not_tested) {
		printf("realtime: SKIP: %s: not tested here\n", not_tested);
		return 77;
	}
	return failed;
}
