/*
 * bcast.c - the naive peer of the stage in exitleft-bench: one mutex and one condvar for
 * every waiter, woken with a broadcast (struct bcast, bench.h)
 */
#include <stdlib.h>

#include "bench.h"

void bcast_init(struct bcast *b, int n)
{
	pthread_mutex_init(&b->mutex, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->head = -1;
	b->first = b->len = 0;
	b->cap = n;
	b->line = calloc((size_t)n, sizeof(*b->line));
	b->flag = calloc((size_t)n, sizeof(*b->flag));
	if (!b->line || !b->flag)
		die("out of memory");
}

void bcast_fini(struct bcast *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->mutex);
	free(b->line);
	free(b->flag);
}

void bcast_enter(struct bcast *b, int id, unsigned long *futile)
{
	pthread_mutex_lock(&b->mutex);
	if (b->head < 0) {
		b->head = id;
	} else {
		b->line[(b->first + b->len++) % b->cap] = id;
		while (b->head != id) {
			pthread_cond_wait(&b->cond, &b->mutex);
			if (b->head != id)
				++*futile;
		}
	}
	pthread_mutex_unlock(&b->mutex);
}

void bcast_exit(struct bcast *b)
{
	pthread_mutex_lock(&b->mutex);
	if (b->len) {
		b->head = b->line[b->first];
		b->first = (b->first + 1) % b->cap;
		b->len--;
	} else {
		b->head = -1;
	}
	pthread_mutex_unlock(&b->mutex);
	pthread_cond_broadcast(&b->cond);
}
