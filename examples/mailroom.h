/*
 * mailroom.h - what the event-loop examples (exitleft-epoll, exitleft-uv) share: a resource
 * carrying addressed messages, the threads that wait on it the ordinary way, and the one way
 * an event loop drives a pollable ticket.
 *
 * The resource is one end of a SOCK_SEQPACKET socketpair: one packet, one message addressed
 * to a box. A producer thread writes every box's messages into the other end, interleaved,
 * then closes it. Every box holds a ticket for its own token on one stage; whoever heads the
 * stage reads a batch and delivers each message to the mailbox of the box it is addressed to
 * (its own included), and the one who reads the end of the stream closes the stage. Some
 * boxes belong to an event loop that waits with exitleft_enter_start(), the others each to a
 * thread of their own blocked in exitleft_enter(); a loop ticket promoted to head does the
 * head's work like any thread. At the end every box must have received exactly its messages,
 * each once and in order, and the stage must end clean.
 */
#ifndef EXITLEFT_MAILROOM_H
#define EXITLEFT_MAILROOM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <exitleft.h>

/* What a loop ticket is doing, as the loop sees it. */
enum mailroom_state {
	MAILROOM_IDLE,		/* not in line; its next step is exitleft_enter_start() */
	MAILROOM_PENDING,	/* in line without a thread: watch its descriptor */
	MAILROOM_HEADING,	/* heads the stage and waits for the resource to be readable */
	MAILROOM_DONE,		/* the stage closed and its mailbox is drained */
};

/*
 * One addressee. Its ticket is taken before any thread starts, so no message finds its box
 * missing. Only the box's owner (its thread, or the loop) touches the fields below `ticket`
 * until the threads are joined.
 */
struct mailroom_box {
	struct mailroom *mr;
	char token[16];		/* "loop-<i>" or "thread-<i>" */
	size_t len;
	exitleft_ticket *ticket;
	int fd;			/* loop boxes: the ticket's descriptor; threads: -1 */
	enum mailroom_state state;	/* loop boxes only */
	unsigned received;	/* messages taken, in order, each checked */
	unsigned wrong;		/* taken but misaddressed or out of order */
	unsigned headed, woken;	/* HEAD and TOKEN outcomes */
	unsigned timeouts;	/* cancels that found the enter undecided */
	unsigned rescued;	/* cancels that found it decided: the outcome was kept */
	pthread_t thread;
};

/*
 * The whole demo. routed, batches and lost are written by the head only (headship passes
 * through the stage's lock, which orders them) and read after the threads are joined;
 * `progress` is the one count the loop reads while heads run, hence atomic.
 */
struct mailroom {
	exitleft_stage *stage;
	int rd, wr;		/* the resource: rd read by the head only (non-blocking) */
	unsigned nloop, nthreads, per_box;
	struct mailroom_box *box;	/* nloop loop boxes, then nthreads thread boxes */
	pthread_t producer;
	unsigned routed, batches;	/* messages delivered, rounds that read some */
	unsigned lost;		/* messages whose box was gone or full, or stray packets */
	atomic_uint progress;	/* messages routed so far, for a loop's watchdog */
	unsigned stride;	/* the producer's: consecutive messages go this many boxes apart */
	/* The loop's own: */
	struct mailroom_box *heading;	/* the loop box heading, waiting for the resource */
	unsigned done;		/* loop boxes DONE: the loop ends when all are */
	unsigned seen, still;	/* progress at the last tick, ticks in a row without any */
};

/*
 * Sets up the stage, the resource and nloop + nthreads boxes with their tickets. Loop boxes
 * get their ticket's descriptor in `fd`. Returns 0, or -1 after printing why.
 */
int mailroom_open(struct mailroom *mr, unsigned nloop, unsigned nthreads, unsigned per_box);

/* Starts the producer and the threads. Returns 0, or -1 after printing why. */
int mailroom_start(struct mailroom *mr);

/*
 * Drives loop box `b` from `outcome` (of exitleft_enter_start(), _poll() or _cancel(), or
 * EXITLEFT_HEAD to resume heading once the resource is readable) as far as it goes without
 * blocking: takes its mail, heads and exits, starts the next enter. Returns the box's new
 * state: PENDING (watch b->fd), HEADING (watch mr->rd, then call again with EXITLEFT_HEAD) or
 * DONE. While a loop box heads, mr->heading names it. An error from the library aborts: the
 * demo checks the library, it does not survive it.
 */
enum mailroom_state mailroom_advance(struct mailroom *mr, struct mailroom_box *b, int outcome);

/*
 * The loop's side of "b->fd is readable": collects the outcome and drives the box on. A
 * readiness reported for a box that is not pending any more (a cancel in the same round of
 * the loop collected the outcome first) is stale and ignored.
 */
enum mailroom_state mailroom_ready(struct mailroom *mr, struct mailroom_box *b);

/* The loop's side of "mr->rd is readable" while mr->heading is set: that box reads on. */
enum mailroom_state mailroom_resume(struct mailroom *mr);

/*
 * The loop's timer: each tick is a deadline for the loop tickets pending at that moment. Each
 * gives up its place with exitleft_enter_cancel() and gets back in line at its end, as a
 * request past its deadline is retried. A cancel that finds the enter decided returns the
 * outcome, which is kept and acted on (a promotion heads). Returns the number of ticks in a
 * row in which no message was routed, for a watchdog.
 */
unsigned mailroom_tick(struct mailroom *mr);

/*
 * Joins the threads, frees the tickets, checks that the stage ends clean and every message
 * arrived exactly once, and prints a summary titled `loop`. Returns the exit status.
 */
int mailroom_finish(struct mailroom *mr, const char *loop);

#endif /* EXITLEFT_MAILROOM_H */
