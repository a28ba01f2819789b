/*
 * exitleft-private.h - the stage's and the ticket's insides, shared by the files of src/
 *
 * Who owns and who guards what:
 *
 *   A stage owns its tickets' records. Every field of the stage and of its records is
 *   guarded by stage->lock, with one exception: stage->in_flight, an atomic counter of
 *   wake-ups issued after the lock was released and not finished yet (see
 *   stage_unlock_wake()). A record's condvar is only ever waited on by the thread that
 *   entered with the ticket, with stage->lock as its mutex.
 *
 *   Records are never handed back to the allocator while in_flight is non-zero: a waker that
 *   released the lock may still be about to signal the record's condvar. Such records wait on
 *   the stage's spare list (their condvars still initialised) and are reused by
 *   exitleft_ticket_new(); a late signal then lands on a valid condvar and at worst causes a
 *   spurious wake, which every waiter absorbs by checking its state under the lock.
 *
 * Private functions are named after the file that defines them and are hidden from the
 * shared library's symbol table by -fvisibility=hidden.
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

enum ticket_state {
	TICKET_IDLE,	/* neither waiting nor heading (model: idle) */
	TICKET_WAITING,	/* in stage->queue, its thread blocked in exitleft_enter() (model: wait) */
	TICKET_HEAD,	/* stage->head (model: head) */
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
 *  - entered is set from the moment its thread gets in line until that thread returns from
 *    exitleft_enter() (a woken thread is idle or head before it returns): S11 refuses
 *    other threads' enter and free meanwhile. state == TICKET_WAITING implies entered.
 *  - state == TICKET_WAITING exactly while the record is in stage->queue;
 *    state == TICKET_HEAD exactly while stage->head == this record.
 *  - mail_first == NULL exactly when the mailbox is empty; mail_last is then meaningless.
 *  - hh.key points at token_inline or at a private copy of the token (token_heap);
 *    a record on the spare list is in no table and no queue.
 */
struct exitleft_ticket {
	struct exitleft_stage *stage;
	struct exitleft_ticket *prev, *next;	/* stage->queue (utlist DL_*), or spares */
	pthread_cond_t cond;			/* this ticket's own wake-up */
	struct mail *mail_first, *mail_last;	/* the mailbox, oldest first */
	unsigned char state;			/* enum ticket_state */
	bool notified;				/* a notification is recorded */
	bool entered;				/* its thread is inside exitleft_enter() */
	unsigned wakes;				/* returns from a condvar wait, for tests */
	unsigned char token_inline[TOKEN_INLINE];
	unsigned char *token_heap;		/* the token when longer than TOKEN_INLINE */
	UT_hash_handle hh;			/* stage->table, keyed by the token bytes */
};

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
 * A stage. Every field but in_flight and arriving is guarded by lock.
 *
 * Invariants:
 *  - head is NULL or the one ticket in state TICKET_HEAD (never two heads, S9).
 *  - queue holds the waiting tickets, oldest first, and is empty once closed is set. It is
 *    non-empty only while head is set (whoever makes the stage headless promotes the first
 *    waiter instead), or while arriving > 0: then last_head, coming straight back, waits
 *    behind threads still blocked on the lock, and the first of them through the lock
 *    either heads or promotes it (wait.c, wait_defers()).
 *  - table holds the nlive live tickets, keyed by token; spares holds nspare records of
 *    freed tickets.
 *  - in_flight counts wake-ups under way outside the lock (atomic; see the top of this file).
 */
struct exitleft_stage {
	pthread_mutex_t lock;
	pthread_condattr_t condattr;		/* CLOCK_MONOTONIC, for every record's condvar */
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
size_t hash_longest_chain(const struct exitleft_stage *stage);

/* stage.c */
void stage_unlock_wake(struct exitleft_stage *stage, struct exitleft_ticket *wake);

/* ticket.c */
struct exitleft_ticket *ticket_waiter(struct exitleft_stage *stage, size_t i);

/* wait.c: headship */
struct exitleft_ticket *wait_promote_first(struct exitleft_stage *stage);
struct exitleft_ticket *wait_exit_locked(struct exitleft_ticket *head);

#endif /* EXITLEFT_PRIVATE_H */
