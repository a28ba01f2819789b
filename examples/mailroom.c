/*
 * mailroom.c - the resource, its producer, the head's round, the ordinary threads, and the
 * one way an event loop drives a pollable ticket (see mailroom.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mailroom.h"

/* One packet on the resource. */
struct mailroom_msg {
	uint32_t to;		/* the box's index */
	uint32_t seq;		/* per box, from 0 */
};

/* At most this many messages per headship, so that headship goes round while they flow. */
#define MAILROOM_BATCH 16

static _Noreturn void mailroom_fail(const char *what, int rc)
{
	fprintf(stderr, "%s: %s\n", what, exitleft_strerror(rc));
	abort();
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b) {
		unsigned r = a % b;

		a = b;
		b = r;
	}
	return a;
}

static unsigned mailroom_boxes(const struct mailroom *mr)
{
	return mr->nloop + mr->nthreads;
}

/* Checks a message taken from b's mailbox: for b, and the next one b expects. */
static void mailroom_receive(struct mailroom_box *b, const struct mailroom_msg *m)
{
	if (m->to == (uint32_t)(b - b->mr->box) && m->seq == b->received)
		b->received++;
	else
		b->wrong++;
}

static void mailroom_collect(struct mailroom_box *b)
{
	void *item;

	while (exitleft_take(b->ticket, &item) == 1) {
		mailroom_receive(b, item);
		free(item);
	}
}

/* As head: delivers one message to the box it is addressed to, the head's own included. */
static void mailroom_route(struct mailroom *mr, const struct mailroom_msg *m, size_t len)
{
	struct mailroom_msg *copy;
	struct mailroom_box *to;
	int rc;

	if (len != sizeof(*m) || m->to >= mailroom_boxes(mr)) {
		mr->lost++;	/* a stray packet: a server drops it too */
		return;
	}
	to = &mr->box[m->to];
	copy = malloc(sizeof(*copy));
	if (!copy)
		mailroom_fail("malloc", -ENOMEM);
	*copy = *m;
	rc = exitleft_deliver(mr->stage, to->token, to->len, copy);
	if (rc == 1) {
		mr->routed++;
		atomic_fetch_add_explicit(&mr->progress, 1, memory_order_relaxed);
		return;
	}
	/* 0: nobody holds the token; -ENOBUFS: its mailbox is full. The item stays ours. */
	if (rc < 0 && rc != -ENOBUFS)
		mailroom_fail("exitleft_deliver", rc);
	free(copy);
	mr->lost++;
}

/*
 * As head: reads one batch from the resource and routes it. Returns the number of messages
 * read (> 0); 0 at the end of the stream, having closed the stage; -EAGAIN when nothing is
 * there yet: the caller still heads, and waits for mr->rd to be readable.
 */
static int mailroom_round(struct mailroom *mr)
{
	struct mailroom_msg m;
	int n = 0;

	while (n < MAILROOM_BATCH) {
		ssize_t r = recv(mr->rd, &m, sizeof(m), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < 0)
			mailroom_fail("recv", -errno);
		if (r == 0) {
			if (n)
				break;	/* the next head reads the end again */
			/* Every waiter, threaded or pending, comes back CLOSED; everything read
			 * was delivered before, so each finds its mail first (S7). */
			exitleft_stage_close(mr->stage);
			return 0;
		}
		mailroom_route(mr, &m, (size_t)r);
		n++;
	}
	if (!n)
		return -EAGAIN;
	mr->batches++;
	return n;
}

/* An ordinary thread: blocks in exitleft_enter() and heads when promoted. */
static void *mailroom_thread(void *arg)
{
	struct mailroom_box *b = arg;
	struct mailroom *mr = b->mr;

	for (;;) {
		int rc;

		mailroom_collect(b);
		rc = exitleft_enter(b->ticket, NULL);
		if (rc == EXITLEFT_CLOSED)
			return NULL;	/* CLOSED comes after the mail: the mailbox is empty */
		if (rc == EXITLEFT_TOKEN) {
			b->woken++;
			continue;
		}
		if (rc != EXITLEFT_HEAD)
			mailroom_fail("exitleft_enter", rc);
		b->headed++;
		while (mailroom_round(mr) == -EAGAIN) {
			struct pollfd pfd = { .fd = mr->rd, .events = POLLIN };

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				mailroom_fail("poll", -errno);
		}
		rc = exitleft_exit(b->ticket);
		if (rc)
			mailroom_fail("exitleft_exit", rc);
	}
}

/* Writes every box's messages, a round at a time, boxes `stride` apart, then the end. */
static void *mailroom_produce(void *arg)
{
	struct mailroom *mr = arg;
	unsigned n = mailroom_boxes(mr);

	for (unsigned round = 0; round < mr->per_box; round++) {
		for (unsigned i = 0; i < n; i++) {
			struct mailroom_msg m = { .to = i * mr->stride % n, .seq = round };

			if (send(mr->wr, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
				mailroom_fail("send", -errno);
		}
	}
	close(mr->wr);
	return NULL;
}

static int mailroom_error(const char *what, int rc)
{
	fprintf(stderr, "%s: %s\n", what, exitleft_strerror(rc));
	return -1;
}

int mailroom_open(struct mailroom *mr, unsigned nloop, unsigned nthreads, unsigned per_box)
{
	unsigned n = nloop + nthreads;
	int sv[2], rc;

	*mr = (struct mailroom){ .nloop = nloop, .nthreads = nthreads, .per_box = per_box };
	atomic_init(&mr->progress, 0);
	/* A stride prime to the number of boxes visits each once a round, and mixes loop and
	 * thread boxes within a batch. */
	for (mr->stride = 7; gcd(mr->stride, n) != 1; mr->stride++)
		;
	mr->box = calloc(n, sizeof(*mr->box));
	if (!mr->box)
		return mailroom_error("calloc", -ENOMEM);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return mailroom_error("socketpair", -errno);
	mr->rd = sv[0];
	mr->wr = sv[1];
	/* Non-blocking: a head in an event loop must never block on it. */
	if (fcntl(mr->rd, F_SETFL, fcntl(mr->rd, F_GETFL) | O_NONBLOCK) < 0)
		return mailroom_error("fcntl", -errno);
	rc = exitleft_stage_new(&mr->stage);
	if (rc)
		return mailroom_error("exitleft_stage_new", rc);
	for (unsigned i = 0; i < n; i++) {
		struct mailroom_box *b = &mr->box[i];

		b->mr = mr;
		b->fd = -1;
		if (i < nloop)
			b->len = (size_t)snprintf(b->token, sizeof(b->token), "loop-%u", i);
		else
			b->len = (size_t)snprintf(b->token, sizeof(b->token), "thread-%u",
						  i - nloop);
		rc = exitleft_ticket_new(mr->stage, b->token, b->len, &b->ticket);
		if (rc)
			return mailroom_error(b->token, rc);
		/* A server bounds every mailbox: nothing a peer sends may grow memory without
		 * bound. Here the bound is all a box is ever sent, so a refusal would be a bug,
		 * and it would show as a lost message. */
		exitleft_ticket_limit(b->ticket, per_box);
		if (i < nloop) {
			b->fd = exitleft_ticket_fd(b->ticket);
			if (b->fd < 0)
				return mailroom_error("exitleft_ticket_fd", b->fd);
		}
	}
	return 0;
}

int mailroom_start(struct mailroom *mr)
{
	int rc = pthread_create(&mr->producer, NULL, mailroom_produce, mr);

	for (unsigned i = mr->nloop; !rc && i < mailroom_boxes(mr); i++)
		rc = pthread_create(&mr->box[i].thread, NULL, mailroom_thread, &mr->box[i]);
	return rc ? mailroom_error("pthread_create", -rc) : 0;
}

enum mailroom_state mailroom_advance(struct mailroom *mr, struct mailroom_box *b, int outcome)
{
	for (;;) {
		switch (outcome) {
		case EXITLEFT_PENDING:
			return b->state = MAILROOM_PENDING;
		case EXITLEFT_TOKEN:
			b->woken++;
			mailroom_collect(b);
			break;
		case EXITLEFT_TIMEOUT:	/* a cancel that won: back in line at its end */
			break;
		case EXITLEFT_HEAD:
			if (b->state != MAILROOM_HEADING) {
				b->headed++;
				b->state = MAILROOM_HEADING;
			}
			/* Never block the loop on the resource: wait for it like any event. */
			if (mailroom_round(mr) == -EAGAIN) {
				mr->heading = b;
				return MAILROOM_HEADING;
			}
			mr->heading = NULL;
			outcome = exitleft_exit(b->ticket);
			if (outcome)
				mailroom_fail("exitleft_exit", outcome);
			break;
		case EXITLEFT_CLOSED:	/* after the mail (S7): the mailbox is empty */
			mr->done++;
			return b->state = MAILROOM_DONE;
		default:
			mailroom_fail(b->token, outcome);
		}
		b->state = MAILROOM_IDLE;
		outcome = exitleft_enter_start(b->ticket);
	}
}

enum mailroom_state mailroom_ready(struct mailroom *mr, struct mailroom_box *b)
{
	if (b->state != MAILROOM_PENDING)
		return b->state;
	return mailroom_advance(mr, b, exitleft_enter_poll(b->ticket));
}

enum mailroom_state mailroom_resume(struct mailroom *mr)
{
	return mr->heading ? mailroom_advance(mr, mr->heading, EXITLEFT_HEAD) : MAILROOM_IDLE;
}

unsigned mailroom_tick(struct mailroom *mr)
{
	unsigned now = atomic_load_explicit(&mr->progress, memory_order_relaxed);

	for (unsigned i = 0; i < mr->nloop; i++) {
		struct mailroom_box *b = &mr->box[i];
		int rc;

		if (b->state != MAILROOM_PENDING)
			continue;
		/* Whoever decided first wins (S24): TIMEOUT if nobody did, else the decided
		 * outcome, which advance acts on like any other; a promotion is never lost. */
		rc = exitleft_enter_cancel(b->ticket);
		if (rc == EXITLEFT_TIMEOUT)
			b->timeouts++;
		else
			b->rescued++;
		mailroom_advance(mr, b, rc);
	}
	mr->still = now == mr->seen ? mr->still + 1 : 0;
	mr->seen = now;
	return mr->still;
}

/* Adds b's counts into sum. */
static void mailroom_add(struct mailroom_box *sum, const struct mailroom_box *b)
{
	sum->received += b->received;
	sum->wrong += b->wrong;
	sum->headed += b->headed;
	sum->woken += b->woken;
	sum->timeouts += b->timeouts;
	sum->rescued += b->rescued;
}

static void mailroom_row(const char *who, const struct mailroom_box *b, unsigned expected)
{
	printf("%-14s %9u %9u %6u %7u %7u %9u %8u%s\n", who, expected, b->received, b->wrong,
	       b->headed, b->woken, b->timeouts, b->rescued,
	       b->wrong || b->received != expected ? "  WRONG" : "");
}

int mailroom_finish(struct mailroom *mr, const char *loop)
{
	unsigned n = mailroom_boxes(mr), freed = 0, short_boxes = 0;
	struct mailroom_box all = { 0 }, loops = { 0 };
	struct exitleft_stats st = { 0 };
	exitleft_ticket *probe;
	char who[32];
	int closed, stats, freed_stage;

	pthread_join(mr->producer, NULL);
	for (unsigned i = mr->nloop; i < n; i++)
		pthread_join(mr->box[i].thread, NULL);

	/* Closed: a new ticket is refused. */
	closed = exitleft_ticket_new(mr->stage, "probe", 5, &probe);
	if (closed == 0)
		exitleft_ticket_free(probe);
	for (unsigned i = 0; i < n; i++) {
		struct mailroom_box *b = &mr->box[i];

		mailroom_add(&all, b);
		if (i < mr->nloop)
			mailroom_add(&loops, b);
		short_boxes += b->wrong || b->received != mr->per_box;
		freed += exitleft_ticket_free(b->ticket) == 0;	/* only with an empty mailbox */
	}
	stats = exitleft_stage_stats(mr->stage, &st, sizeof(st));
	freed_stage = exitleft_stage_free(mr->stage);
	close(mr->rd);

	printf("libexitleft %s, %s: %u loop tickets and %u threads share one stage\n\n",
	       exitleft_version(), loop, mr->nloop, mr->nthreads);
	printf("%-14s %9s %9s %6s %7s %7s %9s %8s\n", "who", "expected", "received", "wrong",
	       "headed", "woken", "timeouts", "rescued");
	snprintf(who, sizeof(who), "loop (%u)", mr->nloop);
	mailroom_row(who, &loops, mr->nloop * mr->per_box);
	for (unsigned i = mr->nloop; i < n; i++)
		mailroom_row(mr->box[i].token, &mr->box[i], mr->per_box);
	printf("\nmessages: %u sent, %u routed in %u head rounds, %u received, %u lost\n",
	       n * mr->per_box, mr->routed, mr->batches, all.received, mr->lost);
	printf("stage: %s, %u of %u tickets freed, %" PRIu64 " left in line, freed: %s\n",
	       closed == -ECANCELED ? "closed" : "NOT CLOSED", freed, n,
	       stats > 0 ? st.waiters : UINT64_MAX, exitleft_strerror(freed_stage));

	int ok = !short_boxes && all.received == n * mr->per_box && !mr->lost &&
		 closed == -ECANCELED && freed == n && stats > 0 && st.waiters == 0 &&
		 st.tickets == 0 && freed_stage == 0;
	printf("%s\n", ok ? "every message reached its ticket exactly once, in order"
			  : "FAILED: see the rows marked WRONG and the counts above");
	free(mr->box);
	return ok ? 0 : 1;
}
