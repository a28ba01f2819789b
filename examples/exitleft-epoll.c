/*
 * exitleft-epoll - one epoll loop holding 64 tickets on a stage shared with blocking threads
 *
 * The loop's thread never blocks in exitleft_enter(): it starts each of its tickets' enters
 * with exitleft_enter_start() and watches their descriptors (exitleft_ticket_fd()) with
 * epoll. A descriptor becomes readable when that ticket's enter is decided; the loop collects
 * the outcome with exitleft_enter_poll(). TOKEN: take the mail, start again. HEAD: one of the
 * loop's tickets heads the stage, so the loop reads the shared resource, waiting for it with
 * epoll too, delivers and exits. A timerfd ticks every 5 ms, a deadline for the tickets
 * pending then: each gives up with exitleft_enter_cancel() and gets back in line, as a request
 * past its deadline is retried; a cancel that finds a decision keeps it (HEAD heads). Four
 * ordinary threads share the stage, blocked in exitleft_enter(). The plumbing both loop
 * examples share (the resource, its messages, the threads, driving a ticket, the checks) is
 * mailroom.c; this file is the loop. Linux only (epoll, timerfd).
 *
 * usage: exitleft-epoll [messages per ticket]      (default 100)
 * Exits 0 only if every message reached its ticket exactly once and the stage ended clean.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mailroom.h"

#define LOOP_TICKETS 64
#define THREADS 4
#define TICK_MS 5
#define STALL_TICKS (30 * 1000 / TICK_MS)	/* no message routed for 30 s: a bug, give up */

/* epoll data: a ticket's box index, or one of these. */
#define TAG_RESOURCE UINT64_MAX
#define TAG_TIMER (UINT64_MAX - 1)

static void watch(int ep, int op, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(ep, op, fd, &ev) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	unsigned per_box = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
	struct itimerspec tick = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	struct mailroom mr;
	bool watching = false;	/* the resource is in the epoll set */
	int ep, tfd;

	if (per_box < 1 || per_box > 1000000) {
		fprintf(stderr, "usage: %s [messages per ticket (1-1000000)]\n", argv[0]);
		return 2;
	}
	if (mailroom_open(&mr, LOOP_TICKETS, THREADS, per_box))
		return 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &tick, NULL) < 0) {
		perror("epoll, timerfd");
		return 1;
	}
	watch(ep, EPOLL_CTL_ADD, tfd, TAG_TIMER);
	for (unsigned i = 0; i < mr.nloop; i++)
		watch(ep, EPOLL_CTL_ADD, mr.box[i].fd, i);
	if (mailroom_start(&mr))
		return 1;
	for (unsigned i = 0; i < mr.nloop; i++)
		mailroom_advance(&mr, &mr.box[i], exitleft_enter_start(mr.box[i].ticket));

	while (mr.done < mr.nloop) {
		struct epoll_event ev[32];
		int n;

		/* The resource is watched only while a loop ticket heads and waits for it:
		 * level-triggered, it would fire for every message another head is to read. */
		if (mr.heading && !watching) {
			watch(ep, EPOLL_CTL_ADD, mr.rd, TAG_RESOURCE);
			watching = true;
		}
		n = epoll_wait(ep, ev, 32, -1);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64, ticks;

			if (tag == TAG_RESOURCE) {
				epoll_ctl(ep, EPOLL_CTL_DEL, mr.rd, NULL);
				watching = false;
				mailroom_resume(&mr);
			} else if (tag == TAG_TIMER) {
				if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN) {
					perror("timerfd");
					return 1;
				}
				if (mailroom_tick(&mr) >= STALL_TICKS) {
					fprintf(stderr, "no message routed for 30 s: stalled\n");
					return 1;
				}
			} else {
				mailroom_ready(&mr, &mr.box[tag]);
			}
		}
	}
	close(tfd);
	close(ep);
	return mailroom_finish(&mr, "epoll");
}
