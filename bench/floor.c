/*
 * floor.c - the floor of handoff and notify: two threads ping-ponging, each sleeping on its
 * own condvar, one blocking wake per sample
 *
 * Run through run_threads() (meter.c) like every case. A sample is the woken thread's clock
 * minus the clock its partner took just before handing the turn over, under the mutex.
 */
#define _GNU_SOURCE	/* CPU_SET, pthread_setaffinity_np() */
#include <pthread.h>
#include <sched.h>

#include "bench.h"

/*
 * The floor: two threads ping-ponging, each sleeping on its own condvar. Guarded by mutex:
 * turn is whose go it is, stamp the clock of the thread that handed it over, taken just
 * before it did. The hand-over signals after the unlock, the fastest plain-condvar way.
 */
struct floor {
	struct meter m;
	pthread_mutex_t mutex;
	pthread_cond_t cond[2];
	int turn;
	uint64_t stamp;
};

struct floor_arg {
	struct floor *f;
	int id;
	enum floor_cpus cpus;
};

/* Pins the calling floor thread as asked: CPU 0 for both, or CPU `id` for each. */
static void floor_pin(const struct floor_arg *a)
{
	cpu_set_t set;

	if (a->cpus == FLOOR_FREE)
		return;
	CPU_ZERO(&set);
	CPU_SET(a->cpus == FLOOR_SAME ? 0 : a->id, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		die("pthread_setaffinity_np: cannot pin the floor's threads");
}

static void *floor_thread(void *p)
{
	struct floor_arg *a = p;
	struct floor *f = a->f;
	unsigned long turns = 0, futile = 0;
	int me = a->id, other = 1 - a->id;

	floor_pin(a);
	pthread_barrier_wait(&f->m.start);
	struct thread_usage u = thread_usage_now();
	pthread_mutex_lock(&f->mutex);
	for (;;) {
		while (f->turn != me) {
			pthread_cond_wait(&f->cond[me], &f->mutex);
			if (f->turn != me)
				futile++;
		}
		uint64_t now = now_ns();

		turns++;
		if (meter_measuring(&f->m)) {
			atomic_fetch_add_explicit(&f->m.ops, 1, memory_order_relaxed);
			meter_sample(&f->m, now - f->stamp);
		}
		bool stop = meter_stopped(&f->m);
		pthread_mutex_unlock(&f->mutex);
		uint64_t stamp = now_ns();
		pthread_mutex_lock(&f->mutex);
		f->stamp = stamp;
		f->turn = other;
		pthread_mutex_unlock(&f->mutex);
		pthread_cond_signal(&f->cond[other]);
		if (stop)
			break;
		pthread_mutex_lock(&f->mutex);
	}
	meter_add_usage(&f->m, u);
	atomic_fetch_add(&f->m.ops_all, turns);
	atomic_fetch_add(&f->m.futile, futile);
	return NULL;
}

void bench_floor(const char *bench, const struct run_cfg *cfg, struct row *r)
{
	struct floor f = { .turn = 0 };
	struct floor_arg args[2] = { { &f, 0, cfg->floor_cpus }, { &f, 1, cfg->floor_cpus } };

	meter_init(&f.m, 2);
	pthread_mutex_init(&f.mutex, NULL);
	pthread_cond_init(&f.cond[0], NULL);
	pthread_cond_init(&f.cond[1], NULL);
	f.stamp = now_ns();

	*r = (struct row){ .bench = bench, .impl = IMPL_FLOOR, .threads = 2 };
	run_threads(2, floor_thread, args, sizeof(args[0]), &f.m, cfg, r);
	r->fair_max = NAN;

	pthread_cond_destroy(&f.cond[0]);
	pthread_cond_destroy(&f.cond[1]);
	pthread_mutex_destroy(&f.mutex);
	meter_fini(&f.m);
}
