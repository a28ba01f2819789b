/*
 * stats.h - the statistics every bench program computes: sorting, nearest-rank quantiles,
 * and the median of a figure over repeated runs.
 */
#ifndef EXITLEFT_BENCH_STATS_H
#define EXITLEFT_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Sort v[0..n) ascending. */
void stats_sort_double(double *v, size_t n);
void stats_sort_u32(uint32_t *v, size_t n);

/*
 * The index of the q-quantile (0 < q <= 1) among n > 0 sorted values, by nearest rank: the
 * smallest value with at least q * n values at or below it. One rule for every percentile
 * the benches print, so that their p50 and p99 columns mean the same thing.
 */
size_t stats_rank(size_t n, double q);

/*
 * The median of the non-NAN values among v[0..n), NAN if there are none; for an even count,
 * the mean of the middle two. Reorders v. A figure that does not apply to a run is NAN.
 */
double stats_median(double *v, size_t n);

/* The median, as stats_median(), of one double field across n structs of `size` bytes. */
double stats_median_field(const void *base, size_t n, size_t size, size_t offset);

/* The median of arr[0..n).field, a double. */
#define STATS_MEDIAN_OF(arr, n, field) \
	stats_median_field((arr), (n), sizeof((arr)[0]), \
			   (size_t)((const char *)&(arr)[0].field - (const char *)&(arr)[0]))

#endif /* EXITLEFT_BENCH_STATS_H */
