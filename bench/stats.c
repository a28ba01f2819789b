/*
 * stats.c - sorting, quantiles and medians for the bench programs
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

void stats_sort_double(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}

void stats_sort_u32(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
}

size_t stats_rank(size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);

	if (i > n)
		i = n;
	return i ? i - 1 : 0;
}

double stats_median(double *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[k++] = v[i];
	if (!k)
		return NAN;
	stats_sort_double(v, k);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

double stats_median_field(const void *base, size_t n, size_t size, size_t offset)
{
	double v[n ? n : 1];

	for (size_t i = 0; i < n; i++)
		memcpy(&v[i], (const char *)base + i * size + offset, sizeof(v[i]));
	return stats_median(v, n);
}
