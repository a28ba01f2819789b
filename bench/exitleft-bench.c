/*
 * exitleft-bench - handoff and notify latency under contention, against the floor and the
 * naive peers, and the cost of operations against the number of live tickets
 *
 * Usage: exitleft-bench [--csv] [--quick] [--reps N] [--only handoff|notify|scale]
 *
 * Every case runs --reps times (at least 3); rows are the median of each figure over the
 * runs (fair_max: the largest). The whole sweep is repeated rather than each case back to
 * back, so drift on a shared machine spreads over every case alike. See doc/performance.md for
 * what each column means.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <exitleft.h>

#include "bench.h"
#include "stats.h"

#define CSV_HEADER "bench,impl,threads,tickets,p50_ns,p99_ns,max_ns,ops_per_s,cpu_ns_per_op," \
		   "csw_per_op,futile_per_op,fair_max"

static const int thread_counts[] = { 2, 4, 8, 16, 64 };
#define NTHREADS (int)(sizeof(thread_counts) / sizeof(thread_counts[0]))
static const long ticket_counts[] = { 10, 1000, 100000, 1000000 };
#define NTICKETS (int)(sizeof(ticket_counts) / sizeof(ticket_counts[0]))
#define NTICKETS_QUICK 2
static const enum impl handoff_impls[] = { IMPL_STAGE, IMPL_STAGE_FD, IMPL_BROADCAST,
					    IMPL_MUTEX };
static const enum impl notify_impls[] = { IMPL_STAGE, IMPL_STAGE_FD, IMPL_STAGE_FD_EPOLL,
					   IMPL_BROADCAST };
#define NELEM(a) (int)(sizeof(a) / sizeof((a)[0]))

/* What the command line asked for. */
struct options {
	bool csv, quick, progress;
	bool runs;	/* also print every run's row, to stderr */
	int reps;
	int threads;		/* only this T (0: all) */
	int impl;		/* only this impl besides the floor (-1: all) */
	const char *only;
	enum floor_cpus floor_cpus;
};

/* Folds runs[0..n) of one case into one row: the median of each figure, the worst fairness. */
static struct row row_median(const struct options *o, const struct row *runs, int n)
{
	struct row r = runs[0];

	if (o->runs) {
		for (int i = 0; i < n; i++)
			fprintf(stderr, "run %d: %s %s T=%d tickets=%ld p50=%.0f p99=%.0f cpu=%.0f"
				" fair=%.0f self_follows=%.2f\n", i + 1, runs[i].bench,
				impl_name(runs[i].impl), runs[i].threads, runs[i].tickets,
				runs[i].p50_ns, runs[i].p99_ns, runs[i].cpu_ns_per_op,
				runs[i].fair_max, runs[i].self_follows);
	}
	r.p50_ns = STATS_MEDIAN_OF(runs, (size_t)n, p50_ns);
	r.p99_ns = STATS_MEDIAN_OF(runs, (size_t)n, p99_ns);
	r.max_ns = STATS_MEDIAN_OF(runs, (size_t)n, max_ns);
	r.ops_per_s = STATS_MEDIAN_OF(runs, (size_t)n, ops_per_s);
	r.cpu_ns_per_op = STATS_MEDIAN_OF(runs, (size_t)n, cpu_ns_per_op);
	r.csw_per_op = STATS_MEDIAN_OF(runs, (size_t)n, csw_per_op);
	r.futile_per_op = STATS_MEDIAN_OF(runs, (size_t)n, futile_per_op);
	for (int i = 1; i < n; i++)
		if (runs[i].fair_max > r.fair_max)
			r.fair_max = runs[i].fair_max;
	return r;
}

static void put_field(double v, const char *fmt)
{
	putchar(',');
	if (!isnan(v))
		printf(fmt, v);
}

static void print_csv(const struct row *r)
{
	printf("%s,%s,", r->bench, impl_name(r->impl));
	if (r->threads)
		printf("%d", r->threads);
	putchar(',');
	if (r->tickets)
		printf("%ld", r->tickets);
	put_field(r->p50_ns, "%.0f");
	put_field(r->p99_ns, "%.0f");
	put_field(r->max_ns, "%.0f");
	put_field(r->ops_per_s, "%.0f");
	put_field(r->cpu_ns_per_op, "%.0f");
	put_field(r->csw_per_op, "%.3f");
	put_field(r->futile_per_op, "%.3f");
	put_field(r->fair_max, "%.0f");
	putchar('\n');
}

static void put_cell(double v, int width, const char *fmt)
{
	if (isnan(v))
		printf(" %*s", width, "-");
	else
		printf(" %*.*f", width, fmt[0] == '3' ? 3 : 0, v);
}

static void print_table_header(void)
{
	printf("%-17s %-14s %3s %8s %9s %9s %9s %10s %8s %7s %7s %5s %7s\n", "bench", "impl", "T",
	       "tickets", "p50_ns", "p99_ns", "max_ns", "ops/s", "cpu/op", "csw/op", "futile",
	       "fair", "ratio");
}

/* One human-readable line; ratio is p50 over the reference row's p50 (the floor, or the
 * same operation at the fewest tickets). */
static void print_table(const struct row *r, const struct row *ref)
{
	printf("%-17s %-14s %3d %8ld", r->bench, impl_name(r->impl), r->threads, r->tickets);
	put_cell(r->p50_ns, 9, "0");
	put_cell(r->p99_ns, 9, "0");
	put_cell(r->max_ns, 9, "0");
	put_cell(r->ops_per_s, 10, "0");
	put_cell(r->cpu_ns_per_op, 8, "0");
	put_cell(r->csw_per_op, 7, "3");
	put_cell(r->futile_per_op, 7, "3");
	put_cell(r->fair_max, 5, "0");
	if (ref && ref != r && ref->p50_ns > 0)
		printf(" %6.2fx", r->p50_ns / ref->p50_ns);
	putchar('\n');
}

static void progress(const struct options *o, const char *what)
{
	if (o->progress) {
		fprintf(stderr, "\r%-60s", what);
		fflush(stderr);
	}
}

static void emit(const struct options *o, const struct row *r, const struct row *ref)
{
	if (o->csv)
		print_csv(r);
	else
		print_table(r, ref);
}

/* The handoff and notify sweeps: the floor first, then every impl at every T, rep-major. */
static void sweep_contention(const struct options *o, const struct run_cfg *cfg,
			     const char *bench, const enum impl *impls, int nimpl)
{
	int ncase = 1 + NTHREADS * nimpl;
	struct row (*runs)[o->reps] = calloc((size_t)ncase, sizeof(*runs));
	char what[80];

	if (!runs)
		die("out of memory");
	for (int rep = 0; rep < o->reps; rep++) {
		snprintf(what, sizeof(what), "%s: floor, run %d", bench, rep + 1);
		progress(o, what);
		bench_floor(bench, cfg, &runs[0][rep]);
		for (int t = 0; t < NTHREADS; t++) {
			if (o->threads && o->threads != thread_counts[t])
				continue;
			for (int i = 0; i < nimpl; i++) {
				struct row *r = &runs[1 + t * nimpl + i][rep];

				if (o->impl >= 0 && o->impl != (int)impls[i])
					continue;
				snprintf(what, sizeof(what), "%s: %s T=%d, run %d", bench,
					 impl_name(impls[i]), thread_counts[t], rep + 1);
				progress(o, what);
				if (!strcmp(bench, "handoff"))
					bench_handoff(impls[i], thread_counts[t], cfg, r);
				else
					bench_notify(impls[i], thread_counts[t], cfg, r);
			}
		}
	}
	progress(o, "");
	struct row floor = row_median(o, runs[0], o->reps);
	emit(o, &floor, NULL);
	for (int c = 1; c < ncase; c++) {
		if (!runs[c][0].bench)
			continue;	/* a T that --threads left out */
		struct row r = row_median(o, runs[c], o->reps);
		emit(o, &r, &floor);
	}
	free(runs);
}

static void sweep_scale(const struct options *o)
{
	int nt = o->quick ? NTICKETS_QUICK : NTICKETS;
	struct row (*runs)[SCALE_ROWS][o->reps] = calloc((size_t)nt, sizeof(*runs));
	struct row ref[SCALE_ROWS];
	char what[80];

	if (!runs)
		die("out of memory");
	for (int rep = 0; rep < o->reps; rep++) {
		for (int t = 0; t < nt; t++) {
			struct row rows[SCALE_ROWS];

			snprintf(what, sizeof(what), "scale: %ld tickets, run %d",
				 ticket_counts[t], rep + 1);
			progress(o, what);
			bench_scale(ticket_counts[t], o->quick, rows);
			for (int k = 0; k < SCALE_ROWS; k++)
				runs[t][k][rep] = rows[k];
		}
	}
	progress(o, "");
	for (int t = 0; t < nt; t++) {
		for (int k = 0; k < SCALE_ROWS; k++) {
			struct row r = row_median(o, runs[t][k], o->reps);

			if (t == 0)
				ref[k] = r;
			emit(o, &r, &ref[k]);
		}
	}
	free(runs);
}

static void usage(FILE *f)
{
	fputs("usage: exitleft-bench [--csv] [--quick] [--reps N] [--only handoff|notify|scale]"
	      "\n                      [--runs] [--threads T] [--impl I]"
	      " [--floor-cpus free|apart|same]\n"
	      "  --csv     print CSV (" CSV_HEADER ")\n"
	      "  --quick   short runs and small scale sizes: a smoke test, not figures\n"
	      "  --reps N  runs per case, the median is reported (default and minimum 3)\n"
	      "  --only B  run one of the three benches\n"
	      "  --runs    also print each run's figures to stderr\n"
	      "  --threads T         handoff and notify at this T only (for profiles)\n"
	      "  --impl I            handoff and notify of this impl only, and the floor\n"
	      "  --floor-cpus WHERE  free (default: the scheduler places the floor's threads),\n"
	      "                      apart (pinned to CPUs 0 and 1) or same (both on CPU 0)\n", f);
}

static struct options parse_options(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "quick", no_argument, NULL, 'q' },
		{ "reps", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "runs", no_argument, NULL, 'v' },
		{ "threads", required_argument, NULL, 't' },
		{ "impl", required_argument, NULL, 'i' },
		{ "floor-cpus", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .reps = 3, .impl = -1, .progress = isatty(STDERR_FILENO) };
	bool bad = false;
	int c;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'c': o.csv = true; break;
		case 'q': o.quick = true; break;
		case 'r': o.reps = atoi(optarg); break;
		case 'o': o.only = optarg; break;
		case 'v': o.runs = true; break;
		case 't': o.threads = atoi(optarg); break;
		case 'i':
			o.impl = impl_parse(optarg);
			bad = bad || o.impl < 0;
			break;
		case 'f':
			if (!strcmp(optarg, "apart"))
				o.floor_cpus = FLOOR_APART;
			else if (!strcmp(optarg, "same"))
				o.floor_cpus = FLOOR_SAME;
			else if (strcmp(optarg, "free"))
				bad = true;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (bad || optind != argc || o.reps < 3 ||
	    (o.only && strcmp(o.only, "handoff") && strcmp(o.only, "notify") &&
	     strcmp(o.only, "scale"))) {
		usage(stderr);
		exit(2);
	}
	return o;
}

static bool selected(const struct options *o, const char *bench)
{
	return !o->only || !strcmp(o->only, bench);
}

int main(int argc, char **argv)
{
	struct options o = parse_options(argc, argv);
	struct run_cfg cfg = o.quick ? (struct run_cfg){ 5000000, 25000000, o.floor_cpus }
				     : (struct run_cfg){ 20000000, 300000000, o.floor_cpus };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.csv) {
		puts(CSV_HEADER);
	} else {
		printf("libexitleft %s, %ld CPUs online, median of %d runs per case\n",
		       exitleft_version(), sysconf(_SC_NPROCESSORS_ONLN), o.reps);
		print_table_header();
	}
	if (selected(&o, "handoff"))
		sweep_contention(&o, &cfg, "handoff", handoff_impls, NELEM(handoff_impls));
	if (selected(&o, "notify"))
		sweep_contention(&o, &cfg, "notify", notify_impls, NELEM(notify_impls));
	if (selected(&o, "scale"))
		sweep_scale(&o);
	if (!o.csv)
		puts("ratio: p50 over the floor's (handoff, notify) or over the same operation at"
		     " the fewest tickets (scale).\nscale_bytes rows give bytes per live ticket"
		     " in the p50_ns column.");
	return 0;
}
