/*
 * exitleft.h - many threads, one resource, each thread waiting for its own events
 *
 * libexitleft lets many threads share one resource that only one thread at a time may block
 * on (an unconnected UDP socket, a multiplexed pipe, a device fd) while each thread waits for
 * the events that are its own. It is the Leader/Followers pattern with bound waiters.
 *
 * A STAGE guards the resource. At most one thread HEADS it at a time: the head polls the
 * resource and routes what arrives. Every other interested thread holds a TICKET for its own
 * TOKEN, a byte string of 1 to EXITLEFT_TOKEN_MAX bytes (a peer's address, a request id); a
 * token is held by at most one live ticket. A thread looks in its mailbox and, finding
 * nothing, ENTERS the stage. exitleft_enter() comes back for exactly one reason:
 *
 *   EXITLEFT_HEAD     the thread heads the stage now: poll the resource, route what arrives
 *                     with exitleft_deliver() or exitleft_notify(), then call exitleft_exit();
 *   EXITLEFT_TOKEN    the ticket's token was notified or its mailbox holds items;
 *   EXITLEFT_TIMEOUT  the deadline passed; the thread holds nothing;
 *   EXITLEFT_CLOSED   the stage was closed; the thread holds nothing.
 *
 * A notification wakes the one thread waiting on that token and no other. When the head
 * exits, the longest-waiting thread is promoted (first in, first out).
 *
 * The usual loop of a thread that owns `ticket`:
 *
 *	for (;;) {
 *		void *item;
 *		while (exitleft_take(ticket, &item) == 1)
 *			consume(item);
 *		int rc = exitleft_enter(ticket, NULL);
 *		if (rc == EXITLEFT_HEAD) {
 *			poll_resource_and_deliver(stage);  // exitleft_deliver() to other tokens
 *			exitleft_exit(ticket);
 *		} else if (rc != EXITLEFT_TOKEN) {
 *			break;                             // EXITLEFT_CLOSED, or an error
 *		}
 *	}
 *
 * Conventions
 *	Every function returns 0 (or a documented non-negative value) on success and a
 *	negative errno value on error; on error nothing has changed. Positive values are only
 *	the outcomes of exitleft_enter(), the counts of exitleft_deliver(), exitleft_notify()
 *	and exitleft_take(), and the size exitleft_stage_stats() filled. exitleft_strerror()
 *	names every outcome and error.
 *
 *	Deadlines are absolute times on CLOCK_MONOTONIC (clock_gettime(CLOCK_MONOTONIC, ...)
 *	plus a timeout): setting the wall clock changes no wait.
 *
 *	Every function is thread-safe. A ticket is used by one thread at a time (the thread
 *	that enters with it, takes from it and frees it); exitleft_notify() and
 *	exitleft_deliver() may be called from any thread, head or not.
 *
 *	Objects are opaque and allocated by the library, so their sizes are not part of the
 *	ABI. The library keeps no global state; stages are independent of one another.
 *
 * Real-time scheduling
 *	No call spins on another thread's progress: every wait sleeps until the thread it
 *	waits for wakes it, so under SCHED_FIFO or SCHED_RR a waiting thread of higher
 *	priority never keeps the one it waits for from running. Priorities do not order the
 *	stage, though. The line is first in, first out, whatever the waiters' priorities. The
 *	stage's lock is an ordinary mutex, without priority inheritance. And the fair
 *	exception of exitleft_enter() (the last head lets a caller that is already inside
 *	exitleft_enter() go first) waits for a caller that holds no lock yet, so priority
 *	inheritance could not help it: if that caller has a low priority and is kept off the
 *	processor, the last head waits in line until it runs. Give the threads of one stage
 *	one priority when the order of headship matters.
 *
 * ABI
 *	libexitleft.so.1. The functions of 1.0 are versioned EXITLEFT_1.0; each later minor
 *	release that adds functions puts them in a node of its own (EXITLEFT_1.1 inherits
 *	EXITLEFT_1.0), and their documentation says "Since 1.1". A function never changes
 *	meaning or signature once released.
 */
#ifndef EXITLEFT_H
#define EXITLEFT_H

#include <stddef.h>
#include <stdint.h>

#include "exitleft-version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deadlines are struct timespec (<time.h>, with C11 or POSIX). Declared here as well, so
 * that this header compiles alone under any standard and feature-test macros. */
struct timespec;

#if defined(__GNUC__) && __GNUC__ >= 4
#define EXITLEFT_EXPORT __attribute__((visibility("default")))
#else
#define EXITLEFT_EXPORT
#endif

/* The longest token, in bytes: a struct sockaddr_storage fits. */
#define EXITLEFT_TOKEN_MAX 128

typedef struct exitleft_stage exitleft_stage;
typedef struct exitleft_ticket exitleft_ticket;

/* What exitleft_enter() returns on success; every outcome is > 0. */
enum exitleft_outcome {
	EXITLEFT_HEAD = 1,	/* you head the stage now; call exitleft_exit() when done */
	EXITLEFT_TOKEN = 2,	/* your token was notified: look in your mailbox */
	EXITLEFT_TIMEOUT = 3,	/* the deadline passed; you hold nothing */
	EXITLEFT_CLOSED = 4,	/* the stage was closed; you hold nothing */
	EXITLEFT_PENDING = 5,	/* in line, not decided yet (since 1.2: exitleft_enter_start()) */
};

/*
 * exitleft_stage_new - create a stage
 *
 * Stores a new, open, headless stage with no tickets in *stagep. The stage's token table is
 * hashed with a key of its own, drawn from getrandom(), so tokens chosen by a remote peer
 * cannot make lookups slow.
 *
 * Returns 0, -EINVAL if stagep is NULL, -ENOMEM if memory ran out (or another negative
 * errno from the pthread initialisers). Does not block.
 */
EXITLEFT_EXPORT int exitleft_stage_new(exitleft_stage **stagep);

/*
 * exitleft_stage_close - shut a stage down
 *
 * Every thread waiting in exitleft_enter() returns EXITLEFT_CLOSED (or EXITLEFT_TOKEN if its
 * token was notified first). From now on exitleft_enter() returns EXITLEFT_CLOSED, after any
 * recorded notification or item, and exitleft_ticket_new() returns -ECANCELED. The head, if
 * any, keeps heading until it calls exitleft_exit(), which then promotes nobody. Mailboxes
 * keep their items; exitleft_notify(), exitleft_deliver() and exitleft_take() keep working
 * for live tickets. Closing a closed stage does nothing.
 *
 * Returns 0, or -EINVAL if stage is NULL. Does not block. Any thread may call it.
 */
EXITLEFT_EXPORT int exitleft_stage_close(exitleft_stage *stage);

/*
 * exitleft_stage_free - destroy a stage
 *
 * Frees a stage that has no live tickets. If a call on the stage from another thread is
 * still finishing (a notifier waking a thread after releasing the stage), sleeps until that
 * call is done, so that a thread woken by exitleft_notify() may free everything at once.
 * The wait is short and woken by the call it waits for, not a spin: it ends under real-time
 * scheduling too, whatever the priorities. It is not a cancellation point.
 *
 * Returns 0; -EBUSY if tickets are alive (nothing is freed: free them first); -EINVAL if
 * stage is NULL. The stage must not be used after a successful call.
 */
EXITLEFT_EXPORT int exitleft_stage_free(exitleft_stage *stage);

/*
 * exitleft_ticket_new - take a ticket for a token
 *
 * Stores in *ticketp a new ticket holding the `len` bytes at `token` (copied; the caller's
 * buffer may be reused at once). Two tokens are the same when their lengths and bytes are
 * equal. The ticket starts idle: not waiting, not heading, no notification recorded, an
 * empty mailbox. A ticket is reused for any number of exitleft_enter() calls until freed.
 *
 * For a socket address, normalise it first (zero the struct, copy family, address and port)
 * so that padding bytes do not make equal addresses differ.
 *
 * Returns 0; -EEXIST if a live ticket of this stage holds the token; -ECANCELED if the stage
 * is closed; -EINVAL if stage, token or ticketp is NULL, len is 0 or len is greater than
 * EXITLEFT_TOKEN_MAX; -ENOMEM if memory ran out. On error nothing changed. Does not block.
 */
EXITLEFT_EXPORT int exitleft_ticket_new(exitleft_stage *stage, const void *token, size_t len,
					exitleft_ticket **ticketp);

/*
 * exitleft_ticket_free - give a ticket back
 *
 * Frees the ticket, so that its token may be taken again. If the ticket heads the stage, it
 * exits first: the longest-waiting ticket is promoted. A recorded notification is dropped,
 * and its descriptor (exitleft_ticket_fd(), since 1.2) is closed.
 *
 * Returns 0; -ENOTEMPTY if its mailbox holds items (take them first: no item is ever lost);
 * -EBUSY if another thread is waiting in exitleft_enter() with it, or its pending enter is
 * not collected yet (cancel it first); -EINVAL if ticket is NULL.
 * On error nothing changed. Does not block.
 */
EXITLEFT_EXPORT int exitleft_ticket_free(exitleft_ticket *ticket);

/*
 * exitleft_enter - wait on the stage for headship or for the ticket's own events
 *
 * Returns at once, in this order of precedence:
 *   EXITLEFT_TOKEN    if a notification is recorded for the ticket (it is cleared: the
 *                     notifications since the last enter count as one) or its mailbox
 *                     holds items;
 *   EXITLEFT_CLOSED   if the stage is closed;
 *   EXITLEFT_HEAD     if the stage has no head: the caller heads it now. One exception
 *                     keeps headship fair: the ticket that exited headship last, coming
 *                     back while another thread is already inside exitleft_enter() but
 *                     not yet through the stage's lock, lets that thread go first and
 *                     waits in line (it heads as soon as that thread has had its turn).
 * Otherwise the caller waits in line, behind the threads that entered before it, and
 * returns:
 *   EXITLEFT_HEAD     when the head exits and the caller is first in line. The caller
 *                     must call exitleft_exit() (or exitleft_ticket_free()) when done;
 *                     until then no other thread can head the stage.
 *   EXITLEFT_TOKEN    when exitleft_notify() or exitleft_deliver() names its token. Only
 *                     this thread wakes. Take from the mailbox, then enter again.
 *   EXITLEFT_TIMEOUT  when `deadline` (absolute, CLOCK_MONOTONIC) passes first. A deadline
 *                     already past makes the call a non-blocking try. If headship reached
 *                     the caller as the deadline passed, the call returns EXITLEFT_HEAD:
 *                     headship is never lost.
 *   EXITLEFT_CLOSED   when exitleft_stage_close() is called.
 * With deadline NULL the call waits without limit.
 *
 * This is a cancellation point. A thread cancelled while waiting leaves the line; if it had
 * just been made head, headship passes on to the next in line.
 *
 * Errors: -EDEADLK if the ticket heads the stage (call exitleft_exit() first); -EBUSY if
 * another thread is waiting with this ticket, or its pending enter (since 1.2) is not
 * collected yet; -EINVAL if ticket is NULL or the deadline
 * has tv_sec < 0 or tv_nsec outside [0, 999999999].
 */
EXITLEFT_EXPORT int exitleft_enter(exitleft_ticket *ticket, const struct timespec *deadline);

/*
 * exitleft_exit - stop heading the stage
 *
 * Hands headship straight to the ticket that has waited longest, which returns EXITLEFT_HEAD
 * from exitleft_enter(); no newcomer can take it in between. With nobody waiting, or once
 * the stage is closed, the stage becomes headless and the next exitleft_enter() heads it.
 *
 * Returns 0; -EPERM if the ticket does not head the stage, or was just made head and its
 * thread has not returned from exitleft_enter() yet (or, pending, the HEAD outcome is not
 * collected yet); -EINVAL if ticket is NULL.
 * Does not block.
 */
EXITLEFT_EXPORT int exitleft_exit(exitleft_ticket *ticket);

/*
 * exitleft_notify - tell the holder of a token that something is there for it
 *
 * If the ticket holding the token is waiting in exitleft_enter(), that thread, and only that
 * thread, wakes and returns EXITLEFT_TOKEN. Otherwise (idle, or heading) the notification is
 * recorded and the ticket's next exitleft_enter() returns EXITLEFT_TOKEN at once. A
 * notification is never lost; notifications between two enters coalesce into one.
 *
 * Returns 1 if a ticket holds the token (woken or recorded), 0 if none does; -EINVAL if
 * stage or token is NULL, len is 0 or greater than EXITLEFT_TOKEN_MAX. Does not block; any
 * thread may call it.
 */
EXITLEFT_EXPORT int exitleft_notify(exitleft_stage *stage, const void *token, size_t len);

/*
 * exitleft_deliver - put an item in the mailbox of the holder of a token
 *
 * Appends `item` (any non-NULL pointer) to the mailbox of the ticket holding the token and
 * wakes that ticket as exitleft_notify() does. The receiver owns the item from then on and
 * gets it back with exitleft_take(), in delivery order.
 *
 * Returns 1 if delivered; 0 if no ticket holds the token (the item stays the caller's);
 * -ENOBUFS if the ticket's mailbox is full (exitleft_ticket_limit(), since 1.2: nothing
 * delivered, the item stays the caller's); -ENOMEM if memory ran out (nothing delivered,
 * the item stays the caller's); -EINVAL if
 * stage, token or item is NULL or len is out of range. Does not block; any thread may call
 * it, on a closed stage too.
 */
EXITLEFT_EXPORT int exitleft_deliver(exitleft_stage *stage, const void *token, size_t len,
				     void *item);

/*
 * exitleft_take - take the oldest item from the ticket's own mailbox
 *
 * Moves the oldest delivered item into *itemp and returns 1; returns 0, leaving *itemp
 * alone, when the mailbox is empty. -EINVAL if ticket or itemp is NULL. Does not block.
 */
EXITLEFT_EXPORT int exitleft_take(exitleft_ticket *ticket, void **itemp);

/*
 * exitleft_strerror - name a return value
 *
 * Returns a static, constant string for an outcome (> 0), for 0, and for a negative errno
 * value; never NULL.
 */
EXITLEFT_EXPORT const char *exitleft_strerror(int rc);

/*
 * exitleft_version - the version of the library loaded, such as "1.1.0"
 *
 * EXITLEFT_VERSION_MAJOR, _MINOR and _MICRO (exitleft-version.h, included above) give the
 * version of the headers a program was built with; this gives the library it runs with,
 * which may be a later one of the same major version.
 */
EXITLEFT_EXPORT const char *exitleft_version(void);

/*
 * struct exitleft_stats - what a stage has done, for monitoring (since 1.1)
 *
 * Filled by exitleft_stage_stats(). The first two fields are the stage's state at the time
 * of the call; the others count events since exitleft_stage_new() and never decrease.
 * exitleft_notify() and exitleft_deliver() both count as notifications.
 *
 * The struct only ever grows at its end: a field, once released, keeps its offset, type
 * and meaning. That is what lets exitleft_stage_stats() take the caller's idea of its size.
 */
struct exitleft_stats {
	uint64_t tickets;		/* live tickets */
	uint64_t waiters;		/* threads waiting in exitleft_enter() */
	uint64_t heads;			/* exitleft_enter() calls that returned EXITLEFT_HEAD */
	uint64_t notify_delivered;	/* notifications that woke the waiting holder */
	uint64_t notify_recorded;	/* notifications recorded for an idle or heading holder */
	uint64_t notify_unowned;	/* notifications for a token that no ticket held */
	uint64_t timeouts;		/* exitleft_enter() calls that returned EXITLEFT_TIMEOUT */
	uint64_t closes;		/* exitleft_enter() calls that returned EXITLEFT_CLOSED */
};

/*
 * exitleft_stage_stats - read a stage's counters
 *
 * Since 1.1 (symbol version EXITLEFT_1.1).
 *
 * Fills the first min(size, sizeof(struct exitleft_stats)) bytes at `stats` with one
 * consistent snapshot of the stage's counters, and zeroes the rest of the `size` bytes.
 * Pass sizeof(*stats): a program built against this header keeps working with a later
 * library whose struct has grown (it gets the fields it knows), and one built against a
 * later header finds the fields this library does not know zeroed. The return value says
 * which fields were filled: a field is valid when its offset plus its size is at most the
 * value returned.
 *
 *	struct exitleft_stats st;
 *	if (exitleft_stage_stats(stage, &st, sizeof(st)) >= 0)
 *		printf("%" PRIu64 " waiting\n", st.waiters);
 *
 * The snapshot is taken under the stage's lock, as every other call takes it: `stage` is
 * const because the call changes nothing, not because it runs without the lock. It blocks
 * only as long as another call holds the lock, and any thread may call it.
 *
 * Returns the number of bytes filled with counters (> 0); -EINVAL if stage or stats is NULL
 * or size is 0.
 */
EXITLEFT_EXPORT int exitleft_stage_stats(const exitleft_stage *stage, struct exitleft_stats *stats,
					 size_t size);

/*
 * Pollable tickets (since 1.2, symbol version EXITLEFT_1.2)
 *
 * An event loop (epoll, poll, libuv, GLib, asyncio) cannot park a thread in
 * exitleft_enter(). It starts the enter instead, and the ticket waits in line without a
 * thread: promotion, notification, delivery, close and the fair exception treat it exactly
 * as a thread blocked in exitleft_enter(). The loop watches the ticket's descriptor for
 * POLLIN and collects the outcome when it becomes readable:
 *
 *	int fd = exitleft_ticket_fd(ticket);       // once; add it to the loop
 *	int rc = exitleft_enter_start(ticket);
 *	...
 *	// when fd is readable (or a timer of the loop's fires: exitleft_enter_cancel())
 *	rc = exitleft_enter_poll(ticket);
 *	if (rc == EXITLEFT_HEAD) { read the resource, deliver, exitleft_exit(ticket); }
 *	else if (rc == EXITLEFT_TOKEN) { exitleft_take() what is there; }
 *
 * A pending enter must always be collected, by exitleft_enter_poll() once decided or by
 * exitleft_enter_cancel(): a ticket promoted while pending heads the stage, and nobody else
 * can until its owner collects HEAD and exits.
 */

/*
 * exitleft_enter_start - start an enter that does not block
 *
 * Since 1.2. Returns EXITLEFT_HEAD, EXITLEFT_TOKEN or EXITLEFT_CLOSED exactly when
 * exitleft_enter() would return it at once. Otherwise puts the ticket in line and returns
 * EXITLEFT_PENDING: the ticket is then a waiter like any other (it counts among
 * exitleft_stage_stats()' waiters), and its enter is decided by the head's exit, a
 * notification, a delivery or a close, as a blocked thread's would be.
 *
 * Errors as exitleft_enter(): -EDEADLK if the ticket heads the stage; -EBUSY if another
 * thread waits with it or its pending enter is not collected yet; -EINVAL if ticket is
 * NULL. Does not block.
 */
EXITLEFT_EXPORT int exitleft_enter_start(exitleft_ticket *ticket);

/*
 * exitleft_enter_poll - the outcome of a pending enter, once decided
 *
 * Since 1.2. Returns EXITLEFT_PENDING while the enter started by exitleft_enter_start() is
 * undecided. Once it is decided, returns its outcome, EXITLEFT_HEAD, EXITLEFT_TOKEN or
 * EXITLEFT_CLOSED, exactly once: the ticket is then idle (or heads the stage) and no longer
 * pending, and its descriptor is no longer readable.
 *
 * Returns -EPERM if the ticket has no pending enter; -EINVAL if ticket is NULL. Does not
 * block, but for one bounded moment: the thread that decided the enter writes to the
 * descriptor just after it leaves the stage's lock, and a call made before that write
 * waits for it, so that the descriptor is never readable after its outcome is collected.
 * Polling only once the descriptor is readable never waits. A pending ticket may be
 * polled from any thread, one thread at a time.
 */
EXITLEFT_EXPORT int exitleft_enter_poll(exitleft_ticket *ticket);

/*
 * exitleft_enter_cancel - give up a pending enter
 *
 * Since 1.2. Takes an undecided pending ticket out of line and returns EXITLEFT_TIMEOUT:
 * the caller holds nothing. If the enter was decided first, returns its outcome as
 * exitleft_enter_poll() would: a promotion or a notification is never swallowed (if it
 * returns EXITLEFT_HEAD, the caller heads the stage and must exit). Event loops implement
 * timeouts with it.
 *
 * Returns -EPERM if the ticket has no pending enter; -EINVAL if ticket is NULL. Does not
 * block, but for the moment exitleft_enter_poll() may wait (a decision whose descriptor
 * write is on its way); any thread may call it, one thread at a time.
 */
EXITLEFT_EXPORT int exitleft_enter_cancel(exitleft_ticket *ticket);

/*
 * exitleft_ticket_fd - the ticket's descriptor, for poll(), epoll and event loops
 *
 * Since 1.2. Returns a file descriptor owned by the ticket: the same one on every call,
 * created on the first (a ticket that never asks has none and costs nothing more),
 * close-on-exec and non-blocking, and closed by exitleft_ticket_free(). Only poll it: never
 * read, write or close it. It is readable (POLLIN) exactly while the ticket's pending enter
 * is decided and its outcome not yet collected by exitleft_enter_poll() or
 * exitleft_enter_cancel(). A decision makes that one descriptor readable and no other.
 *
 * Returns the descriptor (>= 0); -EMFILE, -ENFILE or -ENOMEM if none could be made;
 * -ENOSYS on a system without eventfd (exitleft_enter_poll() works there all the same);
 * -EINVAL if ticket is NULL. Does not block.
 */
EXITLEFT_EXPORT int exitleft_ticket_fd(exitleft_ticket *ticket);

/*
 * exitleft_ticket_limit - bound the ticket's mailbox
 *
 * Since 1.2. While the ticket's mailbox holds max_items items, exitleft_deliver() to its
 * token returns -ENOBUFS and changes nothing: the item stays the caller's (a server drops
 * what a remote peer sent and counts it). 0, the default, means no limit. Lowering the limit
 * below the number of items held keeps every item and refuses new ones until the owner has
 * taken enough. A server whose peers can send faster than their threads consume should set
 * a limit on every ticket: nothing a peer sends may grow memory without bound.
 *
 * Returns 0, or -EINVAL if ticket is NULL. Does not block; any thread may call it.
 */
EXITLEFT_EXPORT int exitleft_ticket_limit(exitleft_ticket *ticket, size_t max_items);

#ifdef __cplusplus
}
#endif

#endif /* EXITLEFT_H */
