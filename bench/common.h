/*
 * common.h - what every bench program shares: the names of the implementations they
 * compare, and how they give up.
 */
#ifndef EXITLEFT_BENCH_COMMON_H
#define EXITLEFT_BENCH_COMMON_H

/*
 * The implementations the benches compare, named in the CSV's impl column by impl_name().
 * exitleft-bench runs stage, stage-fd, stage-fd-epoll, floor, broadcast and mutex;
 * exitleft-udp-bench stage, broadcast, dispatcher, dispatcher-mmsg and connected;
 * exitleft-mc-bench stage, dispatcher, per-thread and broadcast.
 */
enum impl {
	IMPL_STAGE,		/* libexitleft, a thread blocked in exitleft_enter() per waiter */
	IMPL_STAGE_FD,		/* libexitleft, a pending ticket per waiter, its thread in poll() */
	IMPL_STAGE_FD_EPOLL,	/* notify: one thread holds every waiter's pending ticket in
				 * one epoll set */
	IMPL_FLOOR,		/* two threads ping-ponging, a condvar each: one wake per sample */
	IMPL_BROADCAST,		/* one mutex, one condvar for every waiter, broadcast */
	IMPL_MUTEX,		/* a plain mutex handed from holder to holder */
	IMPL_DISPATCHER,	/* a thread that only reads, handing each datagram to its
				 * UDP peer's queue or its requester's slot */
	IMPL_CONNECTED,		/* a connected socket per UDP peer: the kernel sorts */
	IMPL_DISPATCHER_MMSG,	/* IMPL_DISPATCHER reading in batches (recvmmsg()), as the
				 * stage's head does */
	IMPL_PER_THREAD,	/* a socket per requester thread: the kernel sorts */
	NIMPL,
};

const char *impl_name(enum impl impl);

/* The impl called `name`, or -1 if none is. */
int impl_parse(const char *name);

/*
 * Parses a comma-separated list of whole numbers from 1 to max ("1,8,64") into out (cap
 * entries at most). Returns how many, or -1 if s is anything else or holds more than cap.
 */
int parse_count_list(const char *s, unsigned max, unsigned *out, unsigned cap);

/*
 * Prints "<program>: <message>" to stderr and exits 2: a bench that cannot set up a case
 * has no figure to report. The program's name comes from the C library, so no caller has
 * to pass it down and no file calls back into a main program for it.
 */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* EXITLEFT_BENCH_COMMON_H */
