/*
 * exitleft-private.h - the stage's and the ticket's insides, shared by the files of src/
 *
 * Who owns and who guards what:
 *
 *   A stage owns its tickets' records. Every field of the stage and of its records is
 *   guarded by stage->lock, with two exceptions: stage->in_flight, an atomic count of
 *   wake-ups issued after the lock was released and not finished yet (see
 *   stage_unlock_wake()), and stage->arriving (see wait_defers()). A record's condvar is
 *   only ever waited on by the thread that entered with the ticket, with stage->lock as its
 *   mutex; stage->drained only by exitleft_stage_free().
 *
 *   Records are never handed back to the allocator while a wake is in flight: a waker that
 *   released the lock may still be about to signal the record's condvar. Such records wait on
 *   the stage's spare list (their condvars still initialised) and are reused by
 *   exitleft_ticket_new(); a late signal then lands on a valid condvar and at worst causes a
 *   spurious wake, which every waiter absorbs by checking its state under the lock. The
 *   first put that finds nothing in flight trims the list back to SPARE_KEEP.
 *
 *   A pending ticket (exitleft_enter_start()) has no thread asleep in its condvar: whoever
 *   decides its enter writes to its descriptor instead, after the unlock like a signal, and
 *   whoever collects the outcome reads the descriptor empty under the lock, waiting first
 *   for a write still on its way. So the descriptor is readable exactly while a decision,
 *   announced, waits to be collected, and it is closed (at free, under the lock) only when no write to
 *   it can be under way: the free needs the decision collected, and that needed the write.
 *
 *   No call waits for another thread by spinning: under SCHED_FIFO a spinner of higher
 *   priority never lets the thread it waits for run. exitleft_stage_free() sleeps on
 *   stage->drained, and the waker that ends the last wake in flight signals it.
 *
 * Private functions are named after the file that defines them and are hidden from the
 * shared library's symbol table by -fvisibility=hidden. What only tests need lives in the
 * tests, or behind EXITLEFT_TEST_HOOKS (defined for the test build of these files only).
 */
#ifndef EXITLEFT_PRIVATE_H
#define EXITLEFT_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uthash.h>

#include "exitleft.h"

/* Tokens up to this length live inside the record; longer ones get an allocation of their
 * own. 28 bytes hold a struct sockaddr_in6, the main use. */
#define TOKEN_INLINE 28

/* Spare records a stage keeps for reuse beyond those that a late wake-up forces it to keep. */
#define SPARE_KEEP 64

/*
 * Where a ticket is, one value at a time (model: the same names). Its thread is inside
 * exitleft_enter(), or its pending enter (exitleft_enter_start()) is not collected yet,
 * exactly in the states from TICKET_WAITING on (ticket_busy()): S11 and S25 refuse enter and
 * free of it then, and its exit. For a pending ticket "its thread returns" below reads "its
 * outcome is collected" by exitleft_enter_poll() or exitleft_enter_cancel().
 *
 *   idle --enter--> head                     the stage was headless (S3)
 *   idle --enter--> waiting                  in line
 *   waiting --notify, deliver, close--> woken    taken out of line by the waker
 *   waiting --exit of the head--> promoted       made head by the one handing over (S8)
 *   waiting --deadline, cancel--> idle       by the waiting thread itself, or
 *                                            exitleft_enter_cancel() of a pending one
 *   woken --its thread returns--> idle       TOKEN or CLOSED
 *   promoted --its thread returns--> head    HEAD
 *   promoted --cancel--> idle                headship passed on (S18)
 *   head --exit, free--> idle
 */
enum ticket_state {
	TICKET_IDLE,		/* not in line, not heading: its thread is elsewhere */
	TICKET_HEAD,		/* stage->head, its thread out of exitleft_enter() */
	TICKET_WAITING,		/* in stage->queue: its thread asleep, or pending */
	TICKET_WOKEN,		/* out of line, woken; its thread not returned yet */
	TICKET_PROMOTED,	/* stage->head, woken; its thread not returned yet */
};

/* One item in a mailbox. */
struct mail {
	void *item;
	struct mail *next;
};

/*
 * A ticket, the record behind an exitleft_ticket. Guarded by stage->lock.
 *
 * Invariants:
 *  - state == TICKET_WAITING exactly while the record is in stage->queue;
 *    state is TICKET_HEAD or TICKET_PROMOTED exactly while stage->head == this record.
 *  - mail_first == NULL exactly when the mailbox is empty (mail_count == 0); mail_last is
 *    then meaningless.
 *  - pending is set only while state >= TICKET_WAITING. The descriptor, if fd >= 0, is
 *    readable only while pending is set and state is TICKET_WOKEN or TICKET_PROMOTED: from
 *    the decider's write (after its unlock, stage_unlock_wake()) until the collection,
 *    which waits for that write if it comes first.
 *  - hh.key points at token_inline or at a private copy of the token (token_heap);
 *    a record on the spare list is in no table and no queue.
 */
struct exitleft_ticket {
	struct exitleft_stage *stage;
	struct exitleft_ticket *prev, *next;	/* stage->queue (utlist DL_*), or spares */
	pthread_cond_t cond;			/* this ticket's own wake-up */
	struct mail *mail_first, *mail_last;	/* the mailbox, oldest first */
	size_t mail_count, mail_limit;		/* items in it; at most this many (0: any) */
	enum ticket_state state;
	bool notified;				/* a notification is recorded */
	bool pending;				/* its enter is exitleft_enter_start()'s */
	int fd;					/* exitleft_ticket_fd()'s descriptor, or -1 */
#ifdef EXITLEFT_TEST_HOOKS
	unsigned wakes;				/* returns from a condvar wait */
#endif
	unsigned char token_inline[TOKEN_INLINE];
	unsigned char *token_heap;		/* the token when longer than TOKEN_INLINE */
	UT_hash_handle hh;			/* stage->table, keyed by the token bytes */
};

/* Whether the ticket's thread is inside exitleft_enter() (S11: nobody else may use it). */
static inline bool ticket_busy(const struct exitleft_ticket *t)
{
	return t->state >= TICKET_WAITING;
}

/*
 * What exitleft_stage_stats() reports beyond what the stage's state already says: plain
 * counters, raised under stage->lock by the call that makes the event happen, so that the
 * hot paths pay one increment and no atomic.
 */
struct stage_counts {
	uint64_t heads;			/* enter returned EXITLEFT_HEAD (wait.c) */
	uint64_t notify_delivered;	/* notify/deliver woke the waiting holder (notify.c) */
	uint64_t notify_recorded;	/* notify/deliver found the holder idle or heading */
	uint64_t notify_unowned;	/* notify/deliver found no holder */
	uint64_t timeouts;		/* enter returned EXITLEFT_TIMEOUT (wait.c) */
	uint64_t closes;		/* enter returned EXITLEFT_CLOSED (wait.c) */
};

/*
 * in_flight: the wakes under way outside the lock in its low bits, and IN_FLIGHT_DRAINING
 * once exitleft_stage_free() waits for them. From then on every waker ends its wake under
 * the lock, so the freer, reading the count under the lock too, can sleep on
 * stage->drained without missing the last one.
 */
#define IN_FLIGHT_DRAINING 0x80000000u

/*
 * A stage. Every field but in_flight and arriving is guarded by lock.
 *
 * Invariants:
 *  - head is NULL or the one ticket in state TICKET_HEAD or TICKET_PROMOTED (never two
 *    heads, S9).
 *  - queue holds the waiting tickets, oldest first, and is empty once closed is set. It is
 *    non-empty only while head is set (whoever makes the stage headless promotes the first
 *    waiter instead), or while arriving > 0: then last_head, coming straight back, waits
 *    behind threads still blocked on the lock, and the first of them through the lock
 *    either heads or promotes it (wait.c, wait_defers()).
 *  - table holds the nlive live tickets, keyed by token; spares holds nspare records of
 *    freed tickets. nspare exceeds SPARE_KEEP only by records put while a wake was in
 *    flight, until the next put that finds none.
 *  - in_flight counts wake-ups under way outside the lock (atomic; see the top of this file).
 */
struct exitleft_stage {
	pthread_mutex_t lock;
	pthread_condattr_t condattr;		/* CLOCK_MONOTONIC, for every record's condvar */
	pthread_cond_t drained;			/* in_flight dropped to IN_FLIGHT_DRAINING */
	struct exitleft_ticket *table;		/* uthash head */
	struct exitleft_ticket *queue;		/* utlist DL head: the longest waiter first */
	struct exitleft_ticket *head;
	struct exitleft_ticket *last_head;	/* the ticket that exited headship last */
	struct exitleft_ticket *spares;		/* singly linked through ->next */
	size_t nlive, nspare;
	bool closed;
	struct stage_counts counts;
	atomic_uint in_flight;
	atomic_uint arriving;			/* callers of exitleft_enter() before the lock */
	uint64_t hash_key[2];			/* SipHash key for the table, from getrandom() */
};

/* hash.c: the keyed token table */
bool hash_token_ok(const void *token, size_t len);
uint64_t hash_siphash24(const uint64_t key[2], const void *data, size_t len);
void hash_seed(uint64_t key[2]);
struct exitleft_ticket *hash_find(struct exitleft_stage *stage, const void *token, size_t len);
int hash_add(struct exitleft_stage *stage, struct exitleft_ticket *ticket, const void *token,
	     size_t len);
void hash_del(struct exitleft_stage *stage, struct exitleft_ticket *ticket);

/* stage.c */
void stage_unlock_wake(struct exitleft_stage *stage, struct exitleft_ticket *wake);
bool stage_wakes_in_flight(struct exitleft_stage *stage);

/* ticket.c */
void ticket_trim_spares(struct exitleft_stage *stage, size_t keep);
void ticket_fd_signal(int fd);
bool ticket_fd_drain(struct exitleft_ticket *ticket);
void ticket_fd_await(struct exitleft_ticket *ticket);

/* wait.c: headship */
struct exitleft_ticket *wait_promote_first(struct exitleft_stage *stage);
struct exitleft_ticket *wait_exit_locked(struct exitleft_ticket *head);

#endif /* EXITLEFT_PRIVATE_H */
