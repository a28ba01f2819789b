/*
 * scale.c - what one operation costs with many live tickets, and what a live ticket weighs
 *
 * Single-threaded and uncontended: the point is how the costs grow with the number of live
 * tickets (the token table), not contention. Each figure is the cost of one operation,
 * timed over batches of BATCH operations; p50/p99/max are over the batches.
 */
#define _GNU_SOURCE	/* mallinfo2() */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <exitleft.h>

#include "bench.h"
#include "stats.h"

#define BATCH 100
/* The notify working set: tickets spread over the table, notified round robin. */
#define NOTIFY_SET 16

/* A 16-byte token: the ticket's index and a constant, like a small request id. */
struct scale_token {
	uint64_t index;
	uint64_t salt;
};

static struct scale_token token_of(uint64_t i)
{
	return (struct scale_token){ .index = i, .salt = 0x5ca1ab1e5ca1ab1eULL };
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;	/* small chunks plus mmap()ed ones (big tables) */
}

/* Fills the latency and rate figures of r from per-operation batch costs. */
static void scale_row(struct row *r, double *per_op, int batches, uint64_t cpu_ns)
{
	double sum = 0;

	for (int i = 0; i < batches; i++)
		sum += per_op[i];
	stats_sort_double(per_op, (size_t)batches);
	r->p50_ns = per_op[stats_rank((size_t)batches, 0.50)];
	r->p99_ns = per_op[stats_rank((size_t)batches, 0.99)];
	r->max_ns = per_op[batches - 1];
	r->ops_per_s = 1e9 * batches / sum;
	r->cpu_ns_per_op = (double)cpu_ns / ((double)batches * BATCH);
}

static struct row scale_blank(const char *bench, long tickets)
{
	return (struct row){ .bench = bench, .impl = IMPL_STAGE, .threads = 1, .tickets = tickets,
			     .p50_ns = NAN, .p99_ns = NAN, .max_ns = NAN, .ops_per_s = NAN,
			     .cpu_ns_per_op = NAN, .csw_per_op = NAN, .futile_per_op = NAN,
			     .fair_max = NAN };
}

static void ticket_take(exitleft_stage *s, uint64_t i, exitleft_ticket **t)
{
	struct scale_token tok = token_of(i);
	int rc = exitleft_ticket_new(s, &tok, sizeof(tok), t);

	if (rc)
		die("exitleft_ticket_new: %s", exitleft_strerror(rc));
}

void bench_scale(long tickets, bool quick, struct row rows[SCALE_ROWS])
{
	int batches = quick ? 100 : 1000;
	exitleft_ticket **t = malloc(((size_t)tickets + 1) * sizeof(*t));
	double *per_op = malloc((size_t)batches * sizeof(*per_op));
	exitleft_stage *s;
	struct thread_usage u;

	if (!t || !per_op || exitleft_stage_new(&s))
		die("out of memory");

	/* Bytes per live ticket: what the allocator hands out for them, table included. */
	size_t before = heap_in_use();
	for (long i = 0; i < tickets; i++)
		ticket_take(s, (uint64_t)i, &t[i]);
	rows[3] = scale_blank("scale_bytes", tickets);
	rows[3].p50_ns = (double)(heap_in_use() - before) / (double)tickets;

	/* A new ticket and its free, for tokens nobody holds. */
	u = thread_usage_now();
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();
		for (int k = 0; k < BATCH; k++) {
			exitleft_ticket *x;

			ticket_take(s, (uint64_t)tickets + 1 + (uint64_t)k, &x);
			exitleft_ticket_free(x);
		}
		per_op[b] = (double)(now_ns() - t0) / BATCH;
	}
	rows[0] = scale_blank("scale_new_free", tickets);
	scale_row(&rows[0], per_op, batches, thread_usage_now().cpu_ns - u.cpu_ns);

	/* An uncontended enter (heads at once) and exit, with one more live ticket. */
	ticket_take(s, (uint64_t)tickets, &t[tickets]);
	u = thread_usage_now();
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();
		for (int k = 0; k < BATCH; k++) {
			if (exitleft_enter(t[tickets], NULL) != EXITLEFT_HEAD)
				die("scale: enter did not head");
			exitleft_exit(t[tickets]);
		}
		per_op[b] = (double)(now_ns() - t0) / BATCH;
	}
	rows[2] = scale_blank("scale_enter_exit", tickets);
	scale_row(&rows[2], per_op, batches, thread_usage_now().cpu_ns - u.cpu_ns);

	/* Notifying idle tickets (recorded, nobody to wake): the token lookup under the lock. */
	struct scale_token set[NOTIFY_SET];
	for (int i = 0; i < NOTIFY_SET; i++)
		set[i] = token_of((uint64_t)i * (uint64_t)tickets / NOTIFY_SET);
	u = thread_usage_now();
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();
		for (int k = 0; k < BATCH; k++)
			if (exitleft_notify(s, &set[k % NOTIFY_SET], sizeof(set[0])) != 1)
				die("scale: notify found no ticket");
		per_op[b] = (double)(now_ns() - t0) / BATCH;
	}
	rows[1] = scale_blank("scale_notify", tickets);
	scale_row(&rows[1], per_op, batches, thread_usage_now().cpu_ns - u.cpu_ns);

	for (long i = 0; i <= tickets; i++)
		exitleft_ticket_free(t[i]);
	if (exitleft_stage_free(s))
		die("exitleft_stage_free");
	free(per_op);
	free(t);
}
