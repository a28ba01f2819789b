/*
 * exitleft-mc-bench - T threads GET from one memcached over UDP through four clients
 *
 *   stage       the library: the examples' client (examples/memcached/mc-client.c), one
 *               socket whose waiting threads take turns heading the stage
 *   dispatcher  one socket and a thread that only reads it, waking each reply's requester
 *               alone (mc-dispatcher.c)
 *   per-thread  a socket per thread: the kernel sorts the replies; the floor
 *               (mc-per-thread.c)
 *   broadcast   one socket, the stage's leader/followers turns on one mutex and one condvar
 *               that the reader broadcasts on for every reply (mc-broadcast.c)
 *
 * One private memcached (examples/memcached/mc-server.c) holds NKEYS keys, preloaded. In a
 * run, T requester threads share one client and GET the keys in turn, one request in
 * flight each, for a fixed time; every reply is checked, key and value, and a wrong,
 * malformed or missing one (TIMEOUT_MS) is an error. The figures are the client's side
 * only: the GETs that returned (errors among them) and each one's latency, the CPU time
 * and context switches of this process per GET (memcached is a child, not counted). Every
 * figure is the median of --runs runs, but errors, which add up over the runs; the runs of
 * the four clients interleave, so drift on a shared machine hits all alike. With --csv,
 * stdout holds exactly the CSV and stderr the table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common.h"
#include "mc-bclient.h"
#include "mc-client.h"
#include "mc-proto.h"
#include "mc-server.h"
#include "stats.h"
#include "udp-common.h"

#define MAX_RUNS 15
#define MAX_SWEEP 16		/* thread counts in one sweep */
/*
 * Most requester threads in a run. memcached's UDP socket has the kernel's default buffer
 * (net.core.rmem_default, 208 KiB: about 190 requests); more requests at once than it
 * holds, and it drops some, each a timeout here whatever the client.
 */
#define MAX_THREADS 128
#define NKEYS 1000		/* "key:0" to "key:999" */
#define KEY_MAX 16
#define VALUE_LEN 64
#define TIMEOUT_MS 1000		/* a GET with no reply by then is an error */
#define SERVER_THREADS 2	/* memcached's worker threads */
#define EXIT_SKIP 77		/* meson's "skipped" */
/* A run's length: the default sweep, 6 T x 4 clients x 3 runs, in about 1 min 45 s. */
#define DEFAULT_MS 1400

/* The clients compared, in the order of the output's rows. */
static const enum impl mc_impls[] = { IMPL_STAGE, IMPL_DISPATCHER, IMPL_PER_THREAD,
				      IMPL_BROADCAST };
#define NMC_IMPL (int)(sizeof(mc_impls) / sizeof(mc_impls[0]))

/* The keys and their values, made once: the GET loop only compares. */
struct dataset {
	char key[NKEYS][KEY_MAX];
	uint8_t value[NKEYS][VALUE_LEN];
};

/*
 * One run: the client under test, shared by its requesters. Set up before the requesters
 * start and torn down after they are joined; stop is raised once, by the main thread.
 */
struct run {
	enum impl impl;
	const struct dataset *data;
	struct mc_client *stage;	/* IMPL_STAGE */
	struct mcb_client peer;		/* the others */
	unsigned threads;
	atomic_bool stop;
	pthread_barrier_t start, end;	/* the measured time is between the two */
};

/* A requester thread's GETs: their latencies (ns) and errors. Its own until joined. */
struct requester {
	struct run *run;
	unsigned who;
	pthread_t thread;
	uint32_t *lat_ns;
	size_t n, cap;
	uint64_t errors;
	int first_rc;		/* the first error: -errno, 0 (not stored), 1 (wrong value) */
	unsigned first_key;
};

/* One run's figures. */
struct sample {
	double requests, p50_us, p99_us, rate, cpu_us, csw, errors, stray;
};

struct options {
	unsigned runs, ms;
	bool csv;
	unsigned threads[MAX_SWEEP];
	unsigned nthreads;
};

/* Value n: its number, then letters that depend on it, so a value of another key differs. */
static void make_dataset(struct dataset *d)
{
	for (unsigned n = 0; n < NKEYS; n++) {
		int h = snprintf((char *)d->value[n], VALUE_LEN, "%u:", n);

		snprintf(d->key[n], KEY_MAX, "key:%u", n);
		for (size_t i = (size_t)h; i < VALUE_LEN; i++)
			d->value[n][i] = (uint8_t)('a' + (n * 31 + i) % 26);
	}
}

static void preload(const struct mc_server *srv, const struct dataset *d)
{
	struct mc_client *c;
	int rc = mc_client_new((const struct sockaddr *)&srv->addr, sizeof(srv->addr), &c);

	if (rc)
		die("client: %s", strerror(-rc));
	for (unsigned n = 0; n < NKEYS; n++) {
		rc = mc_set(c, d->key[n], d->value[n], VALUE_LEN, TIMEOUT_MS);
		if (rc)
			die("set %s: %s", d->key[n], strerror(-rc));
	}
	mc_client_free(c);
}

static int run_get(struct run *run, unsigned who, const char *key, void *buf, size_t cap,
		   size_t *len)
{
	if (run->impl == IMPL_STAGE)
		return mc_get(run->stage, key, buf, cap, len, TIMEOUT_MS);
	return mcb_get(&run->peer, who, key, buf, cap, len, TIMEOUT_MS);
}

static void record(struct requester *q, uint64_t ns)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 4096;
		uint32_t *p = realloc(q->lat_ns, cap * sizeof(*p));

		if (!p)
			die("out of memory");
		q->lat_ns = p;
		q->cap = cap;
	}
	q->lat_ns[q->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void *requester_main(void *arg)
{
	struct requester *q = arg;
	struct run *run = q->run;
	const struct dataset *d = run->data;
	unsigned k = q->who * NKEYS / run->threads;	/* each starts elsewhere in the keys */

	pthread_barrier_wait(&run->start);
	while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
		uint8_t buf[MC_DGRAM_MAX];
		size_t len = 0;
		uint64_t t0 = udp_now_ns();
		int rc = run_get(run, q->who, d->key[k], buf, sizeof(buf), &len);
		uint64_t ns = udp_now_ns() - t0;
		bool right = rc == 1 && len == VALUE_LEN && !memcmp(buf, d->value[k], VALUE_LEN);

		record(q, ns);
		if (!right && !q->errors++) {
			q->first_rc = rc;
			q->first_key = k;
		}
		k = (k + 1) % NKEYS;
	}
	pthread_barrier_wait(&run->end);
	return NULL;
}

/* What went wrong with a GET, from its requester's first_rc. */
static const char *error_text(int rc)
{
	return rc < 0 ? strerror(-rc) : rc == 0 ? "not stored" : "wrong value";
}

static double cpu_us(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec * 1e6 + (double)r->ru_utime.tv_usec +
	       (double)r->ru_stime.tv_sec * 1e6 + (double)r->ru_stime.tv_usec;
}

/* Opens the run's client; 0 or -errno. */
static int run_open(struct run *run, const struct mc_server *srv)
{
	if (run->impl == IMPL_STAGE)
		return mc_client_new((const struct sockaddr *)&srv->addr, sizeof(srv->addr),
				     &run->stage);
	return mcb_open(&run->peer, run->impl, &srv->addr, run->threads);
}

/* Closes the run's client; returns the replies it dropped as strays. */
static uint64_t run_close(struct run *run)
{
	struct mc_client_stats st;

	if (run->impl != IMPL_STAGE) {
		mcb_close(&run->peer);
		return run->peer.stray;
	}
	mc_client_stats(run->stage, &st);
	mc_client_free(run->stage);
	return st.stray;
}

/*
 * The latencies of every requester's GETs into out: p50 and p99 in us, NAN when there were
 * none. Frees the requesters' arrays.
 */
static void latencies(struct requester *q, unsigned threads, struct sample *out)
{
	size_t total = 0, k = 0;
	uint32_t *all;

	for (unsigned i = 0; i < threads; i++)
		total += q[i].n;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		die("out of memory");
	for (unsigned i = 0; i < threads; i++) {
		if (q[i].n)
			memcpy(all + k, q[i].lat_ns, q[i].n * sizeof(*all));
		k += q[i].n;
		free(q[i].lat_ns);
	}
	stats_sort_u32(all, total);
	out->requests = (double)total;
	out->p50_us = total ? all[stats_rank(total, 0.50)] / 1e3 : NAN;
	out->p99_us = total ? all[stats_rank(total, 0.99)] / 1e3 : NAN;
	free(all);
}

/*
 * Runs one case once: `threads` requesters on a new client of `impl` for o->ms. Returns 0
 * (its errors in out), or -1 if it could not run (printed).
 */
static int run_once(const struct options *o, const struct mc_server *srv,
		    const struct dataset *d, enum impl impl, unsigned threads, struct sample *out)
{
	struct run run = { .impl = impl, .data = d, .threads = threads };
	struct requester *q = calloc(threads, sizeof(*q)), *first = NULL;
	struct rusage r0, r1;
	struct timespec until;
	uint64_t t0, t1, errors = 0;
	int rc;

	if (!q)
		die("out of memory");
	rc = run_open(&run, srv);
	if (rc) {
		fprintf(stderr, "exitleft-mc-bench: %s client: %s\n", impl_name(impl),
			strerror(-rc));
		free(q);
		return -1;
	}
	atomic_init(&run.stop, false);
	pthread_barrier_init(&run.start, NULL, threads + 1);
	pthread_barrier_init(&run.end, NULL, threads + 1);
	for (unsigned i = 0; i < threads; i++) {
		q[i].run = &run;
		q[i].who = i;
		rc = pthread_create(&q[i].thread, NULL, requester_main, &q[i]);
		if (rc)
			die("%s x %u: thread: %s", impl_name(impl), threads, strerror(rc));
	}
	/* Every requester is ready at the start barrier: the window holds the GETs only. */
	getrusage(RUSAGE_SELF, &r0);
	t0 = udp_now_ns();
	pthread_barrier_wait(&run.start);
	udp_deadline_ms(&until, o->ms);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	atomic_store(&run.stop, true);
	pthread_barrier_wait(&run.end);		/* every GET in flight has returned */
	t1 = udp_now_ns();
	getrusage(RUSAGE_SELF, &r1);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(q[i].thread, NULL);
	pthread_barrier_destroy(&run.start);
	pthread_barrier_destroy(&run.end);
	out->stray = (double)run_close(&run);

	for (unsigned i = 0; i < threads; i++) {
		if (q[i].errors && !first)
			first = &q[i];
		errors += q[i].errors;
	}
	if (first)
		fprintf(stderr, "exitleft-mc-bench: %s x %u: %llu GETs wrong, the first %s: %s\n",
			impl_name(impl), threads, (unsigned long long)errors,
			d->key[first->first_key], error_text(first->first_rc));
	latencies(q, threads, out);
	free(q);
	out->errors = (double)errors;
	out->rate = out->requests / ((double)(t1 - t0) / 1e9);
	{
		double n = out->requests ? out->requests : 1;

		out->cpu_us = (cpu_us(&r1) - cpu_us(&r0)) / n;
		out->csw = (double)(r1.ru_nvcsw - r0.ru_nvcsw + r1.ru_nivcsw - r0.ru_nivcsw) / n;
	}
	return 0;
}

/* Folds n runs of one case into one: the median of each figure, the sum of the errors. */
static struct sample sample_median(const struct sample *s, unsigned n)
{
	double errors = 0;

	for (unsigned i = 0; i < n; i++)
		errors += s[i].errors;
	return (struct sample){
		.requests = STATS_MEDIAN_OF(s, n, requests),
		.p50_us = STATS_MEDIAN_OF(s, n, p50_us),
		.p99_us = STATS_MEDIAN_OF(s, n, p99_us),
		.rate = STATS_MEDIAN_OF(s, n, rate),
		.cpu_us = STATS_MEDIAN_OF(s, n, cpu_us),
		.csw = STATS_MEDIAN_OF(s, n, csw),
		.errors = errors,
		.stray = STATS_MEDIAN_OF(s, n, stray),
	};
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: exitleft-mc-bench [--csv] [--quick] [--runs N] [--ms MS]"
		" [--threads LIST]\n"
		"\n"
		"T threads GET %u keys of %u-byte values from one private memcached over UDP\n"
		"(one request in flight each) through four clients: stage (this library's,\n"
		"examples/memcached), dispatcher (one socket + a reading thread that wakes each\n"
		"reply's requester), per-thread (a socket per thread, the floor), broadcast (one\n"
		"socket, one mutex + one broadcast condvar). Every reply is checked; a wrong or\n"
		"missing one (%u ms) is an error. CPU time and context switches are the client's\n"
		"(this process), per GET. Each case is the median of N runs of MS milliseconds,\n"
		"its errors the sum. Exits 1 if any run had errors or could not run, 77 if\n"
		"memcached is not installed.\n"
		"\n"
		"  --csv            CSV on stdout (bench,impl,threads,requests,p50_us,p99_us,\n"
		"                   gets_per_s,cpu_us_per_get,csw_per_get,errors); table on stderr\n"
		"  --quick          smoke test: threads 1 and 4, 1 run of 100 ms\n"
		"  --runs N         runs per case (default 3, at most %d)\n"
		"  --ms MS          length of a run (default %u)\n"
		"  --threads LIST   comma-separated thread counts (default 1,2,4,8,16,64; at most\n"
		"                   %u of them, each at most %u)\n"
		"  -h, --help       this text\n",
		NKEYS, VALUE_LEN, TIMEOUT_MS, MAX_RUNS, DEFAULT_MS, MAX_SWEEP, MAX_THREADS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "quick", no_argument, NULL, 'q' },
		{ "runs", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = {
		.runs = 3, .ms = DEFAULT_MS, .threads = { 1, 2, 4, 8, 16, 64 }, .nthreads = 6,
	};
	struct dataset *d;
	struct mc_server srv;
	FILE *table;
	int c, rc, failed = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.csv = true; break;
		case 'q':
			o.runs = 1;
			o.ms = 100;
			o.threads[0] = 1;
			o.threads[1] = 4;
			o.nthreads = 2;
			break;
		case 'r':
			if (udp_parse_uint(optarg, MAX_RUNS, &o.runs) || !o.runs) {
				usage(stderr);
				return 2;
			}
			break;
		case 'm':
			if (udp_parse_uint(optarg, 3600000, &o.ms) || o.ms < 10) {
				usage(stderr);
				return 2;
			}
			break;
		case 't':
			rc = parse_count_list(optarg, MAX_THREADS, o.threads, MAX_SWEEP);
			if (rc < 0) {
				usage(stderr);
				return 2;
			}
			o.nthreads = (unsigned)rc;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	d = malloc(sizeof(*d));
	if (!d)
		die("out of memory");
	make_dataset(d);
	/* From the main thread, which lives as long as the bench: memcached dies with it. */
	rc = mc_server_start(&srv, SERVER_THREADS);
	if (rc == -ENOENT) {
		fprintf(stderr, "exitleft-mc-bench: memcached is not installed (Debian package"
			" memcached): skipped\n");
		return EXIT_SKIP;
	}
	if (rc)
		die("memcached: %s", strerror(-rc));
	preload(&srv, d);

	table = o.csv ? stderr : stdout;
	if (o.csv)
		printf("bench,impl,threads,requests,p50_us,p99_us,gets_per_s,cpu_us_per_get,"
		       "csw_per_get,errors\n");
	fprintf(table, "%-10s %7s %9s %9s %9s %9s %8s %8s %6s %6s\n", "impl", "threads",
		"requests", "p50_us", "p99_us", "gets/s", "cpu_us", "csw", "errors", "stray");
	for (unsigned k = 0; k < o.nthreads; k++) {
		struct sample s[NMC_IMPL][MAX_RUNS];
		bool ok[NMC_IMPL] = { true, true, true, true };

		/* Runs interleave: run r of every client before run r + 1 of any. */
		for (unsigned r = 0; r < o.runs; r++)
			for (int i = 0; i < NMC_IMPL; i++)
				if (ok[i] && run_once(&o, &srv, d, mc_impls[i], o.threads[k],
						      &s[i][r]))
					ok[i] = false;
		for (int i = 0; i < NMC_IMPL; i++) {
			if (!ok[i]) {
				failed = 1;
				continue;
			}
			struct sample m = sample_median(s[i], o.runs);
			const char *name = impl_name(mc_impls[i]);

			if (m.errors > 0)
				failed = 1;
			if (o.csv)
				printf("mc,%s,%u,%.0f,%.1f,%.1f,%.0f,%.2f,%.3f,%.0f\n", name,
				       o.threads[k], m.requests, m.p50_us, m.p99_us, m.rate,
				       m.cpu_us, m.csw, m.errors);
			fprintf(table, "%-10s %7u %9.0f %9.1f %9.1f %9.0f %8.2f %8.3f %6.0f %6.0f\n",
				name, o.threads[k], m.requests, m.p50_us, m.p99_us, m.rate,
				m.cpu_us, m.csw, m.errors, m.stray);
			fflush(NULL);
		}
	}
	mc_server_stop(&srv);
	free(d);
	return failed;
}
