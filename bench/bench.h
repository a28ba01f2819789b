/*
 * bench.h - what the parts of exitleft-bench share: one result row, the meter that the
 * threads of one measured run report into, and the clock and rusage helpers.
 *
 * A measured run goes: the runner starts the threads, they meet at a barrier, run for a
 * warm-up, then `measuring` is raised for the measured window and `stop` ends the run. Only
 * latency samples taken while `measuring` is up count; every thread adds its own
 * CPU time and voluntary switches, from the barrier to its end, to the meter.
 */
#ifndef EXITLEFT_BENCH_H
#define EXITLEFT_BENCH_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"

/*
 * One row of output: one case, one run or the median of several. A figure that does not
 * apply to the case is NAN and prints as an empty CSV field; threads or tickets 0 likewise.
 */
struct row {
	const char *bench;	/* handoff, notify, scale_new_free, scale_notify, ... */
	enum impl impl;
	int threads;
	long tickets;
	double p50_ns, p99_ns, max_ns;
	double ops_per_s;
	double cpu_ns_per_op;	/* user + system time of the case's threads, per operation */
	double csw_per_op;	/* voluntary context switches of the case's threads, per op */
	double futile_per_op;	/* wakes with nothing for the woken thread, per operation */
	double fair_max;	/* most handoffs that passed a waiter before its turn */
	double self_follows;	/* handoff: headships taken by the previous head again, per
				 * handoff (not in the CSV; printed by --runs) */
};

/* Where the floor's two threads run: where the scheduler puts them (the default), pinned
 * to two different CPUs, or both pinned to one CPU. */
enum floor_cpus {
	FLOOR_FREE,
	FLOOR_APART,
	FLOOR_SAME,
};

/* How long the threads of one run warm up and are then measured, and the floor's CPUs. */
struct run_cfg {
	uint64_t warm_ns;
	uint64_t measure_ns;
	enum floor_cpus floor_cpus;
};

/*
 * What the threads of one run report. measuring and stop are raised once each, by the
 * runner, in that order; the counters are only added to. samples[0..cap) holds latency
 * samples in ns, claimed with an atomic index; samples beyond cap are dropped (counted in
 * nsamples all the same, so dropped = nsamples - cap when positive).
 */
struct meter {
	atomic_bool measuring;
	atomic_bool stop;
	uint32_t *samples;
	size_t cap;
	atomic_size_t nsamples;
	atomic_ulong ops;		/* operations inside the measured window */
	atomic_ulong ops_all;		/* operations over the threads' whole run */
	atomic_ulong futile;		/* over the whole run, like ops_all */
	atomic_ulong cpu_ns;		/* CLOCK_THREAD_CPUTIME_ID, whole run */
	atomic_ulong nvcsw;		/* from RUSAGE_THREAD, whole run */
	atomic_ulong fair_max;
	atomic_ulong self_follows;	/* handoff, measured window */
	pthread_barrier_t start;
	uint64_t t_begin, t_end;	/* the measured window, set by the runner */
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* A thread's own CPU time (CLOCK_THREAD_CPUTIME_ID) and voluntary switches (getrusage). */
struct thread_usage {
	uint64_t cpu_ns;
	uint64_t nvcsw;
};

struct thread_usage thread_usage_now(void);
/* Adds what the calling thread used since `since` to the meter. */
void meter_add_usage(struct meter *m, struct thread_usage since);
void meter_sample(struct meter *m, uint64_t ns);
void meter_fair(struct meter *m, unsigned long passed);
static inline bool meter_measuring(struct meter *m)
{
	return atomic_load_explicit(&m->measuring, memory_order_relaxed);
}
static inline bool meter_stopped(struct meter *m)
{
	return atomic_load_explicit(&m->stop, memory_order_acquire);
}

/*
 * Runs `n` threads of `fn` (argument args + i * size), each of which must wait at
 * m->start first, through a warm-up and a measured window, raises stop, joins them, and
 * fills `r`'s latency and throughput figures from the meter.
 */
void run_threads(int n, void *(*fn)(void *), void *args, size_t size, struct meter *m,
		 const struct run_cfg *cfg, struct row *r);
void meter_init(struct meter *m, int nthreads);
void meter_fini(struct meter *m);

/*
 * bcast.c: the naive peer, one mutex with one condvar for every waiter, woken with a
 * broadcast. Guarded by mutex: head is the thread heading (-1: none); line[] holds the
 * waiting ids in a ring, oldest at first, len of them; flag[i] is a notification for
 * thread i (notify.c sets and clears it). Every change is followed by a broadcast after the
 * unlock (cond lives as long as the struct, so the late broadcast is safe); each woken
 * thread checks its own state.
 */
struct bcast {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	int head;
	int *line;
	int first, len, cap;
	bool *flag;
};

void bcast_init(struct bcast *b, int n);
void bcast_fini(struct bcast *b);
/* Heads the peer, waiting in line (FIFO) if someone heads it; counts futile wakes. */
void bcast_enter(struct bcast *b, int id, unsigned long *futile);
void bcast_exit(struct bcast *b);

/* handoff.c, notify.c, floor.c: one run of one case, the figures into *r */
void bench_handoff(enum impl impl, int threads, const struct run_cfg *cfg, struct row *r);
void bench_notify(enum impl impl, int threads, const struct run_cfg *cfg, struct row *r);
void bench_floor(const char *bench, const struct run_cfg *cfg, struct row *r);

/* scale.c: single-threaded costs against the number of live tickets */
/* Fills rows[0..SCALE_ROWS) for one ticket count. */
#define SCALE_ROWS 4
void bench_scale(long tickets, bool quick, struct row rows[SCALE_ROWS]);

#endif /* EXITLEFT_BENCH_H */
