/*
 * handoff.c - handoff latency: threads taking turns at heading the stage (blocked in
 * exitleft_enter(), or pending and in poll() on the ticket's descriptor), the broadcast
 * peer, or a plain mutex
 *
 * Every case runs its threads through run_threads() (meter.c). A sample is the new head's
 * clock when its turn came minus the old head's clock just before it gave the turn away,
 * both CLOCK_MONOTONIC; the old head's stamp is ordered by the lock of the mechanism under
 * test (the stage's, or the peer's).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <exitleft.h>

#include "bench.h"

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

/* One handoff thread: its id and, for the stage, its ticket for the whole run (and, for
 * stage-fd, the ticket's descriptor, asked for before the run). */
struct handoff_arg {
	struct handoff *h;
	int id;
	exitleft_ticket *ticket;
	int fd;
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

/*
 * Waits for headship as an event loop would: starts the enter, sleeps in poll() on the
 * ticket's descriptor, collects. A readable descriptor whose enter is still undecided is a
 * futile wake (S26 says there are none).
 */
static int handoff_enter_fd(struct handoff_arg *a)
{
	int rc = exitleft_enter_start(a->ticket);

	while (rc == EXITLEFT_PENDING) {
		struct pollfd pfd = { .fd = a->fd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			die("handoff: poll: %s", strerror(errno));
		rc = exitleft_enter_poll(a->ticket);
		if (rc == EXITLEFT_PENDING)
			a->futile++;
	}
	return rc;
}

/* Waits for the turn as the run's impl does; returns the clock when it came. */
static uint64_t handoff_acquire(struct handoff_arg *a)
{
	struct handoff *h = a->h;
	uint64_t now;
	int rc;

	switch (h->impl) {
	case IMPL_STAGE:
	case IMPL_STAGE_FD:
		rc = h->impl == IMPL_STAGE ? exitleft_enter(a->ticket, NULL) : handoff_enter_fd(a);
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
	case IMPL_STAGE_FD:
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
	if (impl == IMPL_STAGE || impl == IMPL_STAGE_FD) {
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
		args[i].fd = -1;
		if (h.stage && exitleft_ticket_new(h.stage, &i, sizeof(i), &args[i].ticket))
			die("exitleft_ticket_new");
		/* stage: the ticket never asks for a descriptor, and so has none (S26). */
		if (impl == IMPL_STAGE_FD && (args[i].fd = exitleft_ticket_fd(args[i].ticket)) < 0)
			die("exitleft_ticket_fd: %s", exitleft_strerror(args[i].fd));
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
