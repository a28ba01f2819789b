/*
 * crew.h - the threads of a server on a stage, one for each ticket it takes, and the listener
 * that heads the stage while none of them is alive. Used by the UDP echo server (a thread per
 * peer) and by exitleft-tftpd (a thread per transfer).
 *
 * A member's life: the head that meets a new sender reserves a place (crew_reserve()), takes
 * a ticket and starts the member's thread (crew_start()), or gives the place back if any of
 * that failed (crew_unreserve()). The thread frees its ticket, then says so (crew_done()).
 * The server's own thread joins it (crew_reap()) and hands it to the server's `reaped`
 * callback, which folds its counters and frees it.
 *
 * Nobody heads an empty stage, so the server's own thread is the listener (crew_listen()):
 * while no member is alive it enters the stage itself and reads until it has started one.
 */
#ifndef EXITLEFT_CREW_H
#define EXITLEFT_CREW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <exitleft.h>

#include "udp-common.h"

/*
 * One thread of the crew, embedded in the server's own struct for it (a peer, a transfer),
 * which `reaped` finds again with offsetof(). crew_start() sets thread before the member is
 * on the crew's list; done and next are guarded by crew.lock.
 */
struct crew_member {
	pthread_t thread;
	bool done;			/* its ticket is freed: the thread may be joined */
	struct crew_member *next;	/* crew.members */
};

/* Called by crew_reap() for each member it joined, without the crew's lock. */
typedef void crew_reaped_fn(void *ctx, struct crew_member *m);

/*
 * A crew.
 *
 * lock guards members, every member's done and next, nlive, npending and most, and is the
 *   mutex of nobody_cond. It guards nothing of the server's: a server keeps its own fields
 *   under a lock of its own, which it never holds while calling the crew.
 * nlive counts members whose ticket is alive (what max bounds); npending counts threads
 *   reserved and not yet joined, raised before pthread_create() so that crew_join_all() waits
 *   for a thread even before it is on the list. most is the highest nlive so far.
 * max, reaped and ctx are set by crew_init() and fixed.
 */
struct crew {
	pthread_mutex_t lock;
	pthread_cond_t nobody_cond;	/* signalled when nlive drops to 0 */
	struct crew_member *members;
	unsigned nlive, npending;
	unsigned most;
	unsigned max;
	crew_reaped_fn *reaped;
	void *ctx;			/* passed to every callback */
};

/* An empty crew of at most max members alive at once. Returns 0 or a negative errno. */
int crew_init(struct crew *c, unsigned max, crew_reaped_fn *reaped, void *ctx);

/* Frees what crew_init() took; after crew_join_all(). */
void crew_fini(struct crew *c);

/*
 * Reserves a place for a new member: false if max members are alive. Then crew_start() or,
 * if the member cannot start, crew_unreserve(). Any thread.
 */
bool crew_reserve(struct crew *c);

/* Gives back a place whose thread did not start. Any thread. */
void crew_unreserve(struct crew *c);

/*
 * Starts fn(arg) as the thread of m, in a place reserved for it, with a stack of stack_size
 * bytes, and puts m on the crew's list. Returns 0, or a negative errno with the place still
 * reserved. Any thread.
 */
int crew_start(struct crew *c, struct crew_member *m, size_t stack_size,
	       void *(*fn)(void *), void *arg);

/*
 * Called by m's own thread once its ticket is freed: it is no longer alive, and may be
 * joined. Its thread may still use its own struct until it returns: crew_reap() joins it
 * before it calls `reaped`.
 */
void crew_done(struct crew *c, struct crew_member *m);

/* Whether a member is alive, to head the stage instead of the listener. Any thread. */
bool crew_alive(struct crew *c);

/*
 * Joins the members that are done (every member if `all`, waiting for each) and passes each
 * to `reaped`. Returns the number of threads reserved and not joined yet. The
 * server's own thread only.
 */
unsigned crew_reap(struct crew *c, bool all);

/*
 * The server's own thread's loop until `stop` says so or the stage closes. It waits at most
 * nap_ms while a member is alive, reaps those that are done, and whenever none is alive
 * enters the stage with the listener's ticket; as head it calls head(ctx), which must return
 * once a member is alive (crew_alive()) or the server stops.
 */
void crew_listen(struct crew *c, exitleft_ticket *listener, unsigned nap_ms,
		 struct udp_stop *stop, void (*head)(void *ctx));

/*
 * Joins every member, waiting for each, the ones a head is starting right now included: for
 * the server's own thread once every member has been told to end (its stage closed).
 */
void crew_join_all(struct crew *c);

#endif /* EXITLEFT_CREW_H */
