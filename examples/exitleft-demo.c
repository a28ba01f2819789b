/*
 * exitleft-demo - a head routing events from one pipe to the threads they belong to
 *
 * A producer writes N events into one pipe, each addressed to one of W workers. The pipe is
 * the shared resource: only the head reads it. Every worker holds a ticket for its own name;
 * whichever worker heads reads a batch, keeps its own events and delivers the others to their
 * owners' mailboxes, then exits so the longest waiter takes over. Each delivery wakes exactly
 * its owner. At the end the demo prints who received what and how often each worker headed.
 *
 * usage: exitleft-demo [workers [events]]     (default 8 workers, 20000 events)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <exitleft.h>

struct event {
	unsigned worker;	/* the addressee */
	unsigned seq;		/* per addressee, from 0 */
};

/* One per worker thread; only that thread writes it until it is joined. */
struct worker {
	struct demo *demo;
	unsigned id;
	char name[16];		/* the token: "worker-<id>" */
	exitleft_ticket *ticket;	/* taken before any thread starts, so none is missed */
	unsigned expected, received, out_of_order, headed, routed, woken;
	pthread_t thread;
};

struct demo {
	exitleft_stage *stage;
	int pipe_rd;
	struct worker *w;
	unsigned nworkers;
};

static void receive(struct worker *w, const struct event *ev)
{
	if (ev->seq != w->received)
		w->out_of_order++;
	w->received++;
}

/* As head: read what the pipe has, keep ours, deliver the rest. Returns 0 at end of file. */
static int head_round(struct worker *w)
{
	struct demo *d = w->demo;
	struct pollfd pfd = { .fd = d->pipe_rd, .events = POLLIN };
	struct event batch[64];
	ssize_t n;

	if (poll(&pfd, 1, 10) <= 0)
		return 1;
	n = read(d->pipe_rd, batch, sizeof(batch));
	if (n <= 0)
		return n < 0 && errno == EINTR;
	for (size_t i = 0; i < (size_t)n / sizeof(batch[0]); i++) {
		struct worker *owner = &d->w[batch[i].worker];
		struct event *copy;

		if (owner == w) {
			receive(w, &batch[i]);
			continue;
		}
		copy = malloc(sizeof(*copy));
		if (!copy)
			abort();
		*copy = batch[i];
		if (exitleft_deliver(d->stage, owner->name, strlen(owner->name), copy) != 1)
			abort();	/* every worker holds its ticket until the end */
		w->routed++;
	}
	return 1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	exitleft_ticket *ticket = w->ticket;
	int rc;

	for (;;) {
		void *item;

		while (exitleft_take(ticket, &item) == 1) {
			receive(w, item);
			free(item);
		}
		rc = exitleft_enter(ticket, NULL);
		if (rc == EXITLEFT_TOKEN) {
			w->woken++;
		} else if (rc == EXITLEFT_HEAD) {
			w->headed++;
			int more = head_round(w);
			exitleft_exit(ticket);
			if (!more)
				exitleft_stage_close(w->demo->stage);	/* end of the pipe */
		} else {
			break;	/* EXITLEFT_CLOSED */
		}
	}
	/* Items delivered before the close are still ours. */
	for (void *item; exitleft_take(ticket, &item) == 1; free(item))
		receive(w, item);
	exitleft_ticket_free(ticket);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned nworkers = argc > 1 ? (unsigned)atoi(argv[1]) : 8;
	unsigned nevents = argc > 2 ? (unsigned)atoi(argv[2]) : 20000;
	struct demo d = { .nworkers = nworkers };
	unsigned total = 0, bad = 0;
	int fds[2];

	if (nworkers < 1 || nworkers > 1000) {
		fprintf(stderr, "usage: %s [workers (1-1000) [events]]\n", argv[0]);
		return 2;
	}
	if (pipe(fds) || exitleft_stage_new(&d.stage)) {
		perror("setup");
		return 1;
	}
	d.pipe_rd = fds[0];
	d.w = calloc(nworkers, sizeof(*d.w));
	if (!d.w)
		return 1;
	for (unsigned i = 0; i < nworkers; i++) {
		d.w[i] = (struct worker){ .demo = &d, .id = i };
		snprintf(d.w[i].name, sizeof(d.w[i].name), "worker-%u", i);
		int rc = exitleft_ticket_new(d.stage, d.w[i].name, strlen(d.w[i].name),
					     &d.w[i].ticket);
		if (rc) {
			fprintf(stderr, "%s: %s\n", d.w[i].name, exitleft_strerror(rc));
			return 1;
		}
	}
	for (unsigned i = 0; i < nworkers; i++)
		pthread_create(&d.w[i].thread, NULL, worker_main, &d.w[i]);
	/* The producer: events addressed round robin with a stride, so that batches mix. */
	for (unsigned i = 0; i < nevents; i++) {
		unsigned to = (i * 7) % nworkers;
		struct event ev = { to, d.w[to].expected++ };
		if (write(fds[1], &ev, sizeof(ev)) != (ssize_t)sizeof(ev)) {
			perror("write");
			return 1;
		}
	}
	close(fds[1]);
	for (unsigned i = 0; i < nworkers; i++)
		pthread_join(d.w[i].thread, NULL);

	printf("libexitleft %s demo: %u workers, %u events through one pipe\n\n",
	       exitleft_version(), nworkers, nevents);
	printf("%-10s %9s %9s %7s %8s %8s\n", "worker", "expected", "received", "headed",
	       "routed", "woken");
	for (unsigned i = 0; i < nworkers; i++) {
		struct worker *w = &d.w[i];
		printf("%-10s %9u %9u %7u %8u %8u%s\n", w->name, w->expected, w->received,
		       w->headed, w->routed, w->woken,
		       w->out_of_order || w->received != w->expected ? "  WRONG" : "");
		total += w->received;
		bad += w->out_of_order + (w->received != w->expected);
	}
	printf("\n%u of %u events reached their worker, in order; %s\n", total, nevents,
	       bad ? "MISMATCHES FOUND" : "no event lost, duplicated or misrouted");
	exitleft_stage_free(d.stage);
	close(fds[0]);
	free(d.w);
	return bad || total != nevents;
}
