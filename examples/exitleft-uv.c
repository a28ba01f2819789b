/*
 * exitleft-uv - a libuv loop holding 64 tickets on a stage shared with blocking threads
 *
 * The same demo as exitleft-epoll, with libuv as the loop: each ticket's descriptor
 * (exitleft_ticket_fd()) is watched by a uv_poll_t for UV_READABLE, which it becomes when
 * the ticket's pending enter (exitleft_enter_start()) is decided; the callback collects the
 * outcome with exitleft_enter_poll(). When one of the loop's tickets heads, a uv_poll_t on
 * the shared resource runs while it waits for data, so the loop never blocks on it; the head
 * reads a batch, delivers and exits. A uv_timer_t ticks every 5 ms, a deadline for the
 * tickets pending then: each gives up with exitleft_enter_cancel() and gets back in line, and
 * a cancel that finds a decision keeps it. Four ordinary threads share the stage, blocked in
 * exitleft_enter(). The plumbing both examples share is mailroom.c; this file is the loop.
 *
 * usage: exitleft-uv [messages per ticket]      (default 100)
 * Exits 0 only if every message reached its ticket exactly once and the stage ended clean.
 */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "mailroom.h"

#define LOOP_TICKETS 64
#define THREADS 4
#define TICK_MS 5
#define STALL_TICKS (30 * 1000 / TICK_MS)	/* no message routed for 30 s: a bug, give up */

/* Everything the callbacks need, reached through the loop's data pointer. */
struct uv_demo {
	struct mailroom mr;
	uv_loop_t loop;
	uv_poll_t ticket[LOOP_TICKETS];	/* data: the ticket's box */
	uv_poll_t resource;		/* active only while a loop ticket heads and waits */
	uv_timer_t tick;
	int status;			/* the exit status if the loop gives up */
};

static void on_resource(uv_poll_t *h, int status, int events);

static void uv_check(const char *what, int rc)
{
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", what, uv_strerror(rc));
		exit(1);
	}
}

static void stop_all(struct uv_demo *d)
{
	for (unsigned i = 0; i < d->mr.nloop; i++)
		uv_close((uv_handle_t *)&d->ticket[i], NULL);
	uv_close((uv_handle_t *)&d->resource, NULL);
	uv_close((uv_handle_t *)&d->tick, NULL);
}

/* After every callback: watch the resource while a loop ticket heads; stop when all are done.
 * (Level-triggered, a resource always watched would fire for messages other heads read.) */
static void settle(struct uv_demo *d)
{
	if (d->mr.done == d->mr.nloop) {
		if (!uv_is_closing((uv_handle_t *)&d->tick))
			stop_all(d);
	} else if (d->mr.heading && !uv_is_active((uv_handle_t *)&d->resource)) {
		uv_check("uv_poll_start", uv_poll_start(&d->resource, UV_READABLE, on_resource));
	}
}

static void on_ticket(uv_poll_t *h, int status, int events)
{
	struct uv_demo *d = h->loop->data;

	(void)events;
	uv_check("ticket poll", status);
	mailroom_ready(&d->mr, h->data);
	settle(d);
}

static void on_resource(uv_poll_t *h, int status, int events)
{
	struct uv_demo *d = h->loop->data;

	(void)events;
	uv_check("resource poll", status);
	uv_poll_stop(h);
	mailroom_resume(&d->mr);
	settle(d);
}

static void on_tick(uv_timer_t *t)
{
	struct uv_demo *d = t->loop->data;

	if (mailroom_tick(&d->mr) >= STALL_TICKS) {
		fprintf(stderr, "no message routed for 30 s: stalled\n");
		d->status = 1;
		uv_stop(t->loop);
		return;
	}
	settle(d);
}

int main(int argc, char **argv)
{
	unsigned per_box = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
	struct uv_demo *d;

	if (per_box < 1 || per_box > 1000000) {
		fprintf(stderr, "usage: %s [messages per ticket (1-1000000)]\n", argv[0]);
		return 2;
	}
	d = calloc(1, sizeof(*d));
	if (!d || mailroom_open(&d->mr, LOOP_TICKETS, THREADS, per_box))
		return 1;
	uv_check("uv_loop_init", uv_loop_init(&d->loop));
	d->loop.data = d;
	uv_check("uv_poll_init", uv_poll_init(&d->loop, &d->resource, d->mr.rd));
	uv_check("uv_timer_init", uv_timer_init(&d->loop, &d->tick));
	uv_check("uv_timer_start", uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS));
	for (unsigned i = 0; i < d->mr.nloop; i++) {
		d->ticket[i].data = &d->mr.box[i];
		uv_check("uv_poll_init", uv_poll_init(&d->loop, &d->ticket[i], d->mr.box[i].fd));
		uv_check("uv_poll_start", uv_poll_start(&d->ticket[i], UV_READABLE, on_ticket));
	}
	if (mailroom_start(&d->mr))
		return 1;
	for (unsigned i = 0; i < d->mr.nloop; i++)
		mailroom_advance(&d->mr, &d->mr.box[i], exitleft_enter_start(d->mr.box[i].ticket));
	settle(d);

	uv_run(&d->loop, UV_RUN_DEFAULT);	/* returns once every handle is closed */
	if (d->status)
		return d->status;
	uv_check("uv_loop_close", uv_loop_close(&d->loop));
	int status = mailroom_finish(&d->mr, "libuv");
	free(d);
	return status;
}
