/*
 * meter.c - running the threads of one measured case and turning what they report into a row
 */
#define _GNU_SOURCE	/* RUSAGE_THREAD */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "stats.h"

/* Room for this many latency samples per run: more than the fastest case takes. */
#define SAMPLE_CAP (1u << 22)

/*
 * CPU time comes from CLOCK_THREAD_CPUTIME_ID, the scheduler's exact runtime: getrusage()'s
 * per-thread user and system times are tick-sampled on some kernels (on the machine of
 * doc/performance.md they read 30% low). Switches come from getrusage(RUSAGE_THREAD).
 */
struct thread_usage thread_usage_now(void)
{
	struct rusage ru;
	struct timespec ts;

	if (getrusage(RUSAGE_THREAD, &ru) || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		die("getrusage: %s", strerror(errno));
	return (struct thread_usage){
		.cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
		.nvcsw = (uint64_t)ru.ru_nvcsw,
	};
}

void meter_add_usage(struct meter *m, struct thread_usage since)
{
	struct thread_usage now = thread_usage_now();

	atomic_fetch_add(&m->cpu_ns, now.cpu_ns - since.cpu_ns);
	atomic_fetch_add(&m->nvcsw, now.nvcsw - since.nvcsw);
}

void meter_sample(struct meter *m, uint64_t ns)
{
	size_t i = atomic_fetch_add_explicit(&m->nsamples, 1, memory_order_relaxed);

	if (i < m->cap)
		m->samples[i] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

void meter_fair(struct meter *m, unsigned long passed)
{
	unsigned long cur = atomic_load_explicit(&m->fair_max, memory_order_relaxed);

	while (passed > cur &&
	       !atomic_compare_exchange_weak_explicit(&m->fair_max, &cur, passed,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void meter_init(struct meter *m, int nthreads)
{
	memset(m, 0, sizeof(*m));
	m->cap = SAMPLE_CAP;
	m->samples = malloc(m->cap * sizeof(*m->samples));
	if (!m->samples)
		die("out of memory for samples");
	if (pthread_barrier_init(&m->start, NULL, (unsigned)nthreads + 1))
		die("pthread_barrier_init");
}

void meter_fini(struct meter *m)
{
	pthread_barrier_destroy(&m->start);
	free(m->samples);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void run_threads(int n, void *(*fn)(void *), void *args, size_t size, struct meter *m,
		 const struct run_cfg *cfg, struct row *r)
{
	pthread_t *tids = calloc((size_t)n, sizeof(*tids));

	if (!tids)
		die("out of memory");
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, fn, (char *)args + (size_t)i * size))
			die("pthread_create");
	pthread_barrier_wait(&m->start);
	sleep_ns(cfg->warm_ns);
	m->t_begin = now_ns();
	atomic_store(&m->measuring, true);
	sleep_ns(cfg->measure_ns);
	atomic_store(&m->measuring, false);
	m->t_end = now_ns();
	atomic_store_explicit(&m->stop, true, memory_order_release);
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	free(tids);

	size_t ns = atomic_load(&m->nsamples);
	unsigned long all = atomic_load(&m->ops_all);

	if (ns > m->cap)
		ns = m->cap;
	r->threads = r->threads ? r->threads : n;
	r->p50_ns = r->p99_ns = r->max_ns = NAN;
	if (ns) {
		stats_sort_u32(m->samples, ns);
		r->p50_ns = m->samples[stats_rank(ns, 0.50)];
		r->p99_ns = m->samples[stats_rank(ns, 0.99)];
		r->max_ns = m->samples[ns - 1];
	}
	r->ops_per_s = (double)atomic_load(&m->ops) * 1e9 / (double)(m->t_end - m->t_begin);
	r->cpu_ns_per_op = all ? (double)atomic_load(&m->cpu_ns) / (double)all : NAN;
	r->csw_per_op = all ? (double)atomic_load(&m->nvcsw) / (double)all : NAN;
	r->futile_per_op = all ? (double)atomic_load(&m->futile) / (double)all : NAN;
}
