/*
 * notify.c - notify-to-wake latency: one head notifying waiters round robin, through the
 * stage or the broadcast peer
 *
 * The stage's waiters wait three ways: a thread each, blocked in exitleft_enter() (stage);
 * a thread each, its ticket pending and the thread in poll() on the ticket's descriptor
 * (stage-fd); or one thread for all of them, every ticket pending in one epoll set
 * (stage-fd-epoll: the head and that one thread are the only threads of the run).
 *
 * Every case runs its threads through run_threads() (meter.c). A sample is the waiter's
 * clock once woken minus the head's clock just before it notified; the head's stamp is
 * ordered by the notification (the stage's lock, or the peer's).
 */
#define _GNU_SOURCE	/* gettid() */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <exitleft.h>

#include "bench.h"

struct notify;

/*
 * One waiter of a notify run. in_line is raised by the waiter just before it waits again
 * and dropped by the head when it notifies it; owed and stamp are written by the head
 * before it notifies and read by the waiter once woken (the notification orders them).
 * stat_fd reads the waiter thread's /proc state, so the head can tell it is asleep.
 * fd is the ticket's descriptor (stage-fd and stage-fd-epoll only), asked for before the run.
 */
struct notify_waiter {
	_Alignas(64) struct notify *n;
	int id;
	exitleft_ticket *ticket;
	int fd;
	int stat_fd;
	atomic_bool in_line;
	atomic_bool owed;
	_Atomic uint64_t stamp;
	unsigned long futile;
	void *(*fn)(void *);
};

/*
 * A notify run: the head thread and nthreads - 1 waiters (w[0] is the head's own slot,
 * unused for waiting). head_cpu_ns is the head's CPU time inside its notify calls.
 * stage-fd-epoll runs one thread for every waiter, in w[1]'s slot.
 */
struct notify {
	struct meter m;
	enum impl impl;
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
 *
 * stage-fd-epoll raises in_line once the ticket is pending, and the head does not wait for
 * the loop's thread to sleep: that one thread serves every ticket, so waiting for it to
 * sleep would turn the run into one ticket's ping-pong. The loop collects what is readable
 * when it gets to it, as an event loop does; its rows measure how many notifies one thread
 * sustains, and their latency includes the wait for the loop to get to the ticket.
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
	if (n->impl == IMPL_STAGE_FD_EPOLL)
		return true;
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

/*
 * A waiter's enter returned TOKEN: takes the sample if one was owed, counts a futile wake
 * if none was. Returns whether the run is stopping (the waiter then waits no more).
 */
static bool notify_woken(struct notify *n, struct notify_waiter *w)
{
	uint64_t now = now_ns();
	bool stop = meter_stopped(&n->m);

	if (atomic_exchange_explicit(&w->owed, false, memory_order_relaxed)) {
		uint64_t stamp = atomic_load_explicit(&w->stamp, memory_order_relaxed);

		if (meter_measuring(&n->m))
			meter_sample(&n->m, now - stamp);
	} else if (!stop) {
		w->futile++;	/* the stage woke us with nothing for us */
	}
	return stop;
}

/*
 * stage-fd: starts the enter, sleeps in poll() on the ticket's descriptor, collects. A
 * readable descriptor whose enter is still undecided is a futile wake.
 */
static int notify_enter_fd(struct notify_waiter *w)
{
	int rc = exitleft_enter_start(w->ticket);

	while (rc == EXITLEFT_PENDING) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			die("notify: poll: %s", strerror(errno));
		rc = exitleft_enter_poll(w->ticket);
		if (rc == EXITLEFT_PENDING)
			w->futile++;
	}
	return rc;
}

/* Waits for the waiter's own notification: true if it was one, false if futile. */
static bool notify_wait(struct notify *n, struct notify_waiter *w)
{
	if (n->use_stage) {
		int rc = n->impl == IMPL_STAGE ? exitleft_enter(w->ticket, NULL)
					       : notify_enter_fd(w);

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
		if (notify_woken(n, w))
			break;
	}
	meter_add_usage(&n->m, u);
	atomic_fetch_add(&n->m.futile, w->futile);
	return NULL;
}

/*
 * stage-fd-epoll: puts waiter w's ticket back in line. A notification recorded meanwhile
 * (only the head's last round, at stop) decides the enter at once; then it is collected
 * here. Returns false once the waiter is done.
 */
static bool notify_loop_arm(struct notify *n, struct notify_waiter *w)
{
	for (;;) {
		int rc = exitleft_enter_start(w->ticket);

		if (rc == EXITLEFT_PENDING) {
			atomic_store_explicit(&w->in_line, true, memory_order_release);
			return true;
		}
		if (rc != EXITLEFT_TOKEN)
			die("notify: enter_start returned %s", exitleft_strerror(rc));
		if (notify_woken(n, w))
			return false;
	}
}

/*
 * stage-fd-epoll: one thread holding every waiter's ticket pending in one epoll set, as an
 * event loop would. It sleeps in epoll_wait() and collects each ticket that the epoll set
 * reports readable; a readable ticket whose enter is still undecided is a futile wake.
 */
static void *notify_loop_thread(void *p)
{
	struct notify *n = ((struct notify_waiter *)p)->n;
	struct epoll_event evs[64];
	int nwaiters = n->nthreads - 1, live = 0;
	unsigned long futile = 0;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	for (int i = 1; i <= nwaiters; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &n->w[i] };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, n->w[i].fd, &ev))
			die("epoll_ctl: %s", strerror(errno));
	}
	pthread_barrier_wait(&n->m.start);
	struct thread_usage u = thread_usage_now();
	for (int i = 1; i <= nwaiters; i++)
		live += notify_loop_arm(n, &n->w[i]);
	while (live > 0) {
		int nev = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), -1);

		if (nev < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int e = 0; e < nev; e++) {
			struct notify_waiter *w = evs[e].data.ptr;
			int rc = exitleft_enter_poll(w->ticket);

			if (rc == EXITLEFT_PENDING) {
				futile++;
				continue;
			}
			if (rc != EXITLEFT_TOKEN)
				die("notify: enter_poll returned %s", exitleft_strerror(rc));
			if (notify_woken(n, w) || !notify_loop_arm(n, w))
				live--;		/* done: its descriptor stays quiet from now on */
		}
	}
	close(ep);
	for (int i = 1; i <= nwaiters; i++)
		futile += n->w[i].futile;
	meter_add_usage(&n->m, u);
	atomic_fetch_add(&n->m.futile, futile);
	return NULL;
}

static void *notify_thread(void *p)
{
	struct notify_waiter *w = p;

	return w->fn(p);
}

void bench_notify(enum impl impl, int threads, const struct run_cfg *cfg, struct row *r)
{
	struct notify n = { .impl = impl, .use_stage = impl != IMPL_BROADCAST, .nthreads = threads };
	bool loop = impl == IMPL_STAGE_FD_EPOLL;

	n.w = aligned_alloc(64, (size_t)threads * sizeof(*n.w));
	if (!n.w)
		die("out of memory");
	memset(n.w, 0, (size_t)threads * sizeof(*n.w));
	meter_init(&n.m, loop ? 2 : threads);
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
		w->fd = -1;
		w->stat_fd = -1;
		w->fn = !i ? notify_head_thread : loop ? notify_loop_thread : notify_waiter_thread;
		if (n.use_stage && exitleft_ticket_new(n.stage, &w->id, sizeof(w->id), &w->ticket))
			die("exitleft_ticket_new");
		/* stage: the tickets never ask for a descriptor, and so have none (S26). */
		if (i && impl != IMPL_STAGE && n.use_stage &&
		    (w->fd = exitleft_ticket_fd(w->ticket)) < 0)
			die("exitleft_ticket_fd: %s", exitleft_strerror(w->fd));
	}

	/* stage-fd-epoll: the row's T is the condvar rows' T it compares with (the head and
	 * T - 1 waiters' tickets), its tickets the T - 1 in the epoll set; 2 threads run. */
	*r = (struct row){ .bench = "notify", .impl = impl, .threads = threads,
			   .tickets = loop ? threads - 1 : 0 };
	run_threads(loop ? 2 : threads, notify_thread, n.w, sizeof(*n.w), &n.m, cfg, r);
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
