/*
 * contention.c - handoff and notify latency: the stage, the floor and the naive peers
 *
 * Every case runs its threads through run_threads() (meter.c). Latency samples are the
 * receiver's clock when it learns its turn came minus the sender's clock just before it
 * gave the turn away, both CLOCK_MONOTONIC; the data that carries the sender's stamp is
 * always ordered by the lock of the mechanism under test (the stage's, or the peer's).
 */
#define _GNU_SOURCE	/* gettid() */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <exitleft.h>

#include "bench.h"

/* The naive peer: one mutex, one condvar for every waiter, woken with a broadcast. */

/*
 * A broadcast peer. Guarded by mutex: head is the thread heading (-1: none); line[] holds
 * the waiting ids in a ring, oldest at first, len of them; flag[i] is a notification for
 * thread i. Every change is followed by a broadcast after the unlock (cond lives as long
 * as the struct, so the late broadcast is safe); each woken thread checks its own state.
 */
struct bcast {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	int head;
	int *line;
	int first, len, cap;
	bool *flag;
};

static void bcast_init(struct bcast *b, int n)
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

static void bcast_fini(struct bcast *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->mutex);
	free(b->line);
	free(b->flag);
}

/* Heads the peer, waiting in line (FIFO) if someone heads it; counts futile wakes. */
static void bcast_enter(struct bcast *b, int id, unsigned long *futile)
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

static void bcast_exit(struct bcast *b)
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

/* Handoff */

/*
 * The threads of one handoff run. last_id and last_stamp are written by the head (the
 * mutex holder, for the mutex peer) before it lets go and read by the next one, so the
 * mechanism under test orders them. heads counts headships; only the head writes it, but
 * threads about to ask for their turn read it, hence atomic.
 */
struct handoff {
	struct meter m;
	enum impl impl;
	exitleft_stage *stage;
	struct bcast bc;
	pthread_mutex_t mutex;
	int last_id;
	uint64_t last_stamp;
	atomic_ulong heads;
};

/* One handoff thread: its id and, for the stage, its ticket for the whole run. */
struct handoff_arg {
	struct handoff *h;
	int id;
	exitleft_ticket *ticket;
	unsigned long handoffs, futile;		/* its own counts, added to the meter at the end */
};

/*
 * The calling thread became head at `now`, having read `asked` from heads just before it
 * asked. Takes the sample (unless it follows itself) and the fairness figure: headships
 * granted since it asked. Head only.
 */
static void handoff_took(struct handoff_arg *a, uint64_t now, unsigned long asked)
{
	struct handoff *h = a->h;
	unsigned long heads = atomic_load_explicit(&h->heads, memory_order_relaxed);

	atomic_store_explicit(&h->heads, heads + 1, memory_order_relaxed);
	if (h->last_id == a->id) {
		if (meter_measuring(&h->m))
			atomic_fetch_add_explicit(&h->m.self_follows, 1, memory_order_relaxed);
		return;
	}
	a->handoffs++;
	if (!meter_measuring(&h->m))
		return;
	atomic_fetch_add_explicit(&h->m.ops, 1, memory_order_relaxed);
	meter_sample(&h->m, now - h->last_stamp);
	meter_fair(&h->m, heads - asked);
}

/* Waits for the turn as the run's impl does; returns the clock when it came. */
static uint64_t handoff_acquire(struct handoff_arg *a)
{
	struct handoff *h = a->h;
	uint64_t now;
	int rc;

	switch (h->impl) {
	case IMPL_STAGE:
		rc = exitleft_enter(a->ticket, NULL);
		now = now_ns();
		if (rc != EXITLEFT_HEAD)
			die("handoff: enter returned %s", exitleft_strerror(rc));
		return now;
	case IMPL_BROADCAST:
		bcast_enter(&h->bc, a->id, &a->futile);
		return now_ns();
	default:	/* IMPL_MUTEX */
		pthread_mutex_lock(&h->mutex);
		return now_ns();
	}
}

/* The head lets go, leaving the stamp the next head measures from. Head only. */
static void handoff_release(struct handoff_arg *a)
{
	struct handoff *h = a->h;

	h->last_id = a->id;
	h->last_stamp = now_ns();
	switch (h->impl) {
	case IMPL_STAGE:
		exitleft_exit(a->ticket);
		break;
	case IMPL_BROADCAST:
		bcast_exit(&h->bc);
		break;
	default:	/* IMPL_MUTEX */
		pthread_mutex_unlock(&h->mutex);
		break;
	}
}

/* One handoff thread, for every impl: the switches above are the only difference. */
static void *handoff_thread(void *p)
{
	struct handoff_arg *a = p;
	struct handoff *h = a->h;

	pthread_barrier_wait(&h->m.start);
	struct thread_usage u = thread_usage_now();
	for (;;) {
		unsigned long asked = atomic_load_explicit(&h->heads, memory_order_relaxed);

		handoff_took(a, handoff_acquire(a), asked);
		/* Each head sees stop in turn and still hands on, so the line drains. */
		bool stop = meter_stopped(&h->m);
		handoff_release(a);
		if (stop)
			break;
	}
	meter_add_usage(&h->m, u);
	atomic_fetch_add(&h->m.ops_all, a->handoffs);
	atomic_fetch_add(&h->m.futile, a->futile);
	return NULL;
}

void bench_handoff(enum impl impl, int threads, const struct run_cfg *cfg, struct row *r)
{
	struct handoff h = { .impl = impl, .last_id = -1 };
	struct handoff_arg *args = calloc((size_t)threads, sizeof(*args));

	if (!args)
		die("out of memory");
	meter_init(&h.m, threads);
	atomic_init(&h.heads, 0);
	if (impl == IMPL_STAGE) {
		if (exitleft_stage_new(&h.stage))
			die("exitleft_stage_new");
	} else if (impl == IMPL_BROADCAST) {
		bcast_init(&h.bc, threads);
	} else {
		pthread_mutex_init(&h.mutex, NULL);
	}
	for (int i = 0; i < threads; i++) {
		args[i].h = &h;
		args[i].id = i;
		if (h.stage && exitleft_ticket_new(h.stage, &i, sizeof(i), &args[i].ticket))
			die("exitleft_ticket_new");
	}

	*r = (struct row){ .bench = "handoff", .impl = impl, .threads = threads };
	run_threads(threads, handoff_thread, args, sizeof(*args), &h.m, cfg, r);
	r->fair_max = (double)atomic_load(&h.m.fair_max);
	r->self_follows = (double)atomic_load(&h.m.self_follows) /
			  (double)(atomic_load(&h.m.ops) ? atomic_load(&h.m.ops) : 1);

	if (h.stage) {
		for (int i = 0; i < threads; i++)
			exitleft_ticket_free(args[i].ticket);
		if (exitleft_stage_free(h.stage))
			die("exitleft_stage_free");
	} else if (impl == IMPL_BROADCAST) {
		bcast_fini(&h.bc);
	} else {
		pthread_mutex_destroy(&h.mutex);
	}
	meter_fini(&h.m);
	free(args);
}

/* Notify */

struct notify;

/*
 * One waiter of a notify run. in_line is raised by the waiter just before it waits again
 * and dropped by the head when it notifies it; owed and stamp are written by the head
 * before it notifies and read by the waiter once woken (the notification orders them).
 * stat_fd reads the waiter thread's /proc state, so the head can tell it is asleep.
 */
struct notify_waiter {
	_Alignas(64) struct notify *n;
	int id;
	exitleft_ticket *ticket;
	int stat_fd;
	atomic_bool in_line;
	atomic_bool owed;
	_Atomic uint64_t stamp;
	unsigned long futile;
	void *(*fn)(void *);
};

/*
 * A notify run: the head thread and nwaiters waiters (w[0] is the head's own slot, unused
 * for waiting). head_cpu_ns is the head's CPU time inside its notify calls.
 */
struct notify {
	struct meter m;
	exitleft_stage *stage;
	struct bcast bc;
	bool use_stage;
	int nthreads;
	struct notify_waiter *w;
	uint64_t head_cpu_ns;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the thread whose /proc/self/task/TID/stat is open on fd is asleep ('S'). */
static bool thread_sleeping(int fd)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *paren;

	if (n <= 0)
		return true;	/* cannot tell: do not hold the head up */
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

/*
 * Waits until waiter w is back in line: its in_line flag is up (it is about to wait) and
 * its thread sleeps, in exitleft_enter() or the peer's wait. Returns false on stop.
 */
static bool notify_wait_in_line(struct notify *n, struct notify_waiter *w)
{
	for (unsigned spins = 0; !atomic_load_explicit(&w->in_line, memory_order_acquire);
	     spins++) {
		if (meter_stopped(&n->m))
			return false;
		if (spins < 1000)
			cpu_relax();
		else
			sched_yield();
	}
	for (unsigned tries = 0; !thread_sleeping(w->stat_fd) && tries < 100000; tries++) {
		if (meter_stopped(&n->m))
			return false;
		if (tries > 10)
			sched_yield();
	}
	return true;
}

static void notify_send(struct notify *n, struct notify_waiter *w)
{
	if (n->use_stage) {
		exitleft_notify(n->stage, &w->id, sizeof(w->id));
	} else {
		pthread_mutex_lock(&n->bc.mutex);
		n->bc.flag[w->id] = true;
		pthread_mutex_unlock(&n->bc.mutex);
		pthread_cond_broadcast(&n->bc.cond);
	}
}

static void *notify_head_thread(void *p)
{
	struct notify_waiter *self = p;
	struct notify *n = self->n;
	unsigned long sent = 0;

	if (n->use_stage && exitleft_enter(self->ticket, NULL) != EXITLEFT_HEAD)
		die("notify: the head could not head the stage");
	pthread_barrier_wait(&n->m.start);
	struct thread_usage u = thread_usage_now();
	for (int i = 1;; i = i + 1 < n->nthreads ? i + 1 : 1) {
		struct notify_waiter *w = &n->w[i];

		if (!notify_wait_in_line(n, w))
			break;
		atomic_store_explicit(&w->in_line, false, memory_order_relaxed);
		atomic_store_explicit(&w->owed, true, memory_order_relaxed);
		uint64_t cpu = thread_cpu_ns();
		atomic_store_explicit(&w->stamp, now_ns(), memory_order_relaxed);
		notify_send(n, w);
		n->head_cpu_ns += thread_cpu_ns() - cpu;
		sent++;
		if (meter_measuring(&n->m))
			atomic_fetch_add_explicit(&n->m.ops, 1, memory_order_relaxed);
	}
	/* Stop: wake everyone once more; a waiter that already left finds it recorded. */
	for (int i = 1; i < n->nthreads; i++)
		notify_send(n, &n->w[i]);
	if (n->use_stage)
		exitleft_exit(self->ticket);
	struct thread_usage end = thread_usage_now();
	atomic_fetch_add(&n->m.nvcsw, end.nvcsw - u.nvcsw);
	atomic_fetch_add(&n->m.cpu_ns, n->head_cpu_ns);
	atomic_fetch_add(&n->m.ops_all, sent);
	return NULL;
}

/* Waits for the waiter's own notification: true if it was one, false if futile. */
static bool notify_wait(struct notify *n, struct notify_waiter *w)
{
	if (n->use_stage) {
		int rc = exitleft_enter(w->ticket, NULL);

		if (rc != EXITLEFT_TOKEN)
			die("notify: enter returned %s", exitleft_strerror(rc));
	} else {
		pthread_mutex_lock(&n->bc.mutex);
		while (!n->bc.flag[w->id]) {
			pthread_cond_wait(&n->bc.cond, &n->bc.mutex);
			if (!n->bc.flag[w->id] && !meter_stopped(&n->m))
				w->futile++;
		}
		n->bc.flag[w->id] = false;
		pthread_mutex_unlock(&n->bc.mutex);
	}
	return true;
}

static void *notify_waiter_thread(void *p)
{
	struct notify_waiter *w = p;
	struct notify *n = w->n;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)gettid());
	w->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	pthread_barrier_wait(&n->m.start);
	struct thread_usage u = thread_usage_now();
	for (;;) {
		atomic_store_explicit(&w->in_line, true, memory_order_release);
		notify_wait(n, w);
		uint64_t now = now_ns();
		bool stop = meter_stopped(&n->m);

		if (atomic_exchange_explicit(&w->owed, false, memory_order_relaxed)) {
			uint64_t stamp = atomic_load_explicit(&w->stamp, memory_order_relaxed);

			if (meter_measuring(&n->m))
				meter_sample(&n->m, now - stamp);
		} else if (!stop) {
			w->futile++;	/* the stage woke us with nothing for us */
		}
		if (stop)
			break;
	}
	meter_add_usage(&n->m, u);
	atomic_fetch_add(&n->m.futile, w->futile);
	return NULL;
}

static void *notify_thread(void *p)
{
	struct notify_waiter *w = p;

	return w->fn(p);
}

void bench_notify(enum impl impl, int threads, const struct run_cfg *cfg, struct row *r)
{
	struct notify n = { .use_stage = impl == IMPL_STAGE, .nthreads = threads };

	n.w = aligned_alloc(64, (size_t)threads * sizeof(*n.w));
	if (!n.w)
		die("out of memory");
	memset(n.w, 0, (size_t)threads * sizeof(*n.w));
	meter_init(&n.m, threads);
	if (n.use_stage) {
		if (exitleft_stage_new(&n.stage))
			die("exitleft_stage_new");
	} else {
		bcast_init(&n.bc, threads);
	}
	for (int i = 0; i < threads; i++) {
		struct notify_waiter *w = &n.w[i];

		w->n = &n;
		w->id = i;
		w->stat_fd = -1;
		w->fn = i ? notify_waiter_thread : notify_head_thread;
		if (n.use_stage && exitleft_ticket_new(n.stage, &w->id, sizeof(w->id), &w->ticket))
			die("exitleft_ticket_new");
	}

	*r = (struct row){ .bench = "notify", .impl = impl, .threads = threads };
	run_threads(threads, notify_thread, n.w, sizeof(*n.w), &n.m, cfg, r);
	r->fair_max = NAN;

	for (int i = 0; i < threads; i++) {
		if (n.w[i].stat_fd >= 0)
			close(n.w[i].stat_fd);
		if (n.use_stage)
			exitleft_ticket_free(n.w[i].ticket);
	}
	if (n.use_stage) {
		if (exitleft_stage_free(n.stage))
			die("exitleft_stage_free");
	} else {
		bcast_fini(&n.bc);
	}
	meter_fini(&n.m);
	free(n.w);
}

/* The floor */

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
