/*
 * exitleft.pml - a Promela model of the stage's protocol, checked by tests/model/check.sh
 *
 * What is modelled, named as in src/: NT threads, each owning one ticket (record i is thread
 * i's; a freed record is either kept as a spare, its condvar alive, or destroyed), a notifier
 * thread without a ticket, a closer, and a main thread that frees the stage at the end.
 * Each thread runs ROUNDS times: take its mail, exitleft_enter() with no deadline, a past one
 * or a future one, or (PENDING) exitleft_enter_start() and then exitleft_enter_poll() once
 * decided or exitleft_enter_cancel() at any time, its descriptor asked for at any time; and
 * as head notify or deliver to someone, then exitleft_exit() or exitleft_ticket_free()
 * instead (and take a new ticket).
 *
 * Every section of the C code that runs under stage->lock is one atomic step here: the mutex
 * makes those sections indivisible with respect to each other, and everything they touch is
 * guarded by it. What runs outside the lock is a step of its own, so it interleaves:
 *   - pthread_cond_(timed)wait: blocking (cond_wait) and waking (cond_woken: a signal, the
 *     deadline passing, a spurious wake, a cancellation) are separate from retaking the lock
 *     (wait_recheck), so a timeout can race any state change made in between;
 *   - stage_unlock_wake: in_flight is raised under the lock, the signal (wake_signal) and
 *     the drop (wake_done, or wake_done_locked once the freer waits) are separate steps
 *     after the unlock; a signal reaching a record whose owner is not blocked in the wait
 *     is lost, as a condvar signal is. A pending ticket's descriptor is written after the
 *     unlock too (wake_fd), to the descriptor number read under the lock, with no count:
 *     a collector that finds the decision but not the write waits for the write, outside
 *     the lock (the guard of the steps poll and cancel);
 *   - record_put destroys every spare's condvar when no wake is in flight (SPARE_KEEP is 0
 *     here, the hardest case), and parks the record otherwise; exitleft_stage_free sleeps
 *     until the last wake in flight signals it.
 *
 *   - exitleft_enter counts itself in arriving before it takes the lock (step arrive), so
 *     a last head coming straight back can defer to a caller still before the lock.
 *
 * Properties (assertions; the monitor checks its invariants in every reachable state):
 *   S9   never two heads; head names the one ticket in TICKET_HEAD or TICKET_PROMOTED;
 *   S11  a thread calls enter, exit and free only on a ticket that is idle or heads, and
 *        returns from enter with it idle or heading: the woken and promoted states are
 *        the window in which its thread has not returned;
 *   S8/S10 while anyone waits the stage has a head (queue non-empty => head set, or the one
 *        waiter is the last head deferring to a caller before the lock), and a ticket
 *        promoted by wait_promote_first returns EXITLEFT_HEAD (never TIMEOUT);
 *   S6   a notification is recorded until enter returns TOKEN (pending => notified), and a
 *        waiter taken out of line by notify_locked returns TOKEN;
 *   S13  a waiter taken out of line by the close returns CLOSED or TOKEN;
 *   lifetime: no signal reaches a destroyed condvar or a freed stage, and no waker
 *        takes the stage's lock after the stage was freed;
 *   S22-S26 a pending ticket is a waiter like the others (the properties above hold for it),
 *        a decision reaches it through its descriptor, which is written only while open
 *        and only the descriptor it was read as (never a closed number, reused by another
 *        file), is readable exactly while a pending enter is decided, written and not
 *        collected, and a cancel never swallows a decision (the S10 assertions);
 *   no deadlock: every process ends (spin's invalid end state check), with the stage
 *        headless, nobody in line and no wake in flight;
 *   every enter ends: LTL `terminates` (under weak fairness, spurious wakes bounded).
 *
 * The model is bounded by the macros below; check.sh runs several combinations. It also
 * checks that the model catches six known bugs (BUG_TIMEOUT_WINS: a waiter that trusts
 * ETIMEDOUT swallows a promotion; BUG_IGNORE_IN_FLIGHT: a record's condvar destroyed while
 * a signal after unlock is on its way; BUG_NO_PROMOTE_AT_OUT: a last head defers but the
 * caller it deferred to does not promote it; BUG_DROP_BEFORE_LOCK: a waker that drops its
 * count before taking the lock to signal the freer, which may free the stage in between;
 * BUG_CANCEL_SWALLOWS: exitleft_enter_cancel() that takes a pending ticket out as TIMEOUT
 * although a promotion reached it first; BUG_COLLECT_UNWRITTEN: a collector that does not
 * wait for a decision's write after the unlock, which then lands after the outcome is gone,
 * or on a descriptor closed with its ticket).
 */

#ifndef NT
#define NT 3		/* threads with a ticket */
#endif
#ifndef ROUNDS
#define ROUNDS 2	/* enters per thread */
#endif
#ifndef NOTIFIES
#define NOTIFIES 2	/* notify/deliver calls by the notifier thread */
#endif
#ifndef SPURIOUS
#define SPURIOUS 2	/* spurious condvar wakes, over the whole run */
#endif
#ifndef ROUTE
#define ROUTE 1		/* a head may notify or deliver to any token before it exits */
#endif
#ifndef CLOSE
#define CLOSE 1		/* a closer thread that may close the stage */
#endif
#ifndef CANCELS
#define CANCELS 1	/* pthread_cancel of a thread blocked in enter */
#endif
#ifndef PENDING
#define PENDING 0	/* an enter may be exitleft_enter_start()'s, polled or cancelled */
#endif

#define NONE 255

/* outcomes of exitleft_enter (enum exitleft_outcome) */
#define EXITLEFT_HEAD 1
#define EXITLEFT_TOKEN 2
#define EXITLEFT_TIMEOUT 3
#define EXITLEFT_CLOSED 4
#define EXITLEFT_PENDING 5

/* what pthread_cond_(timed)wait returned */
#define WOKE 0
#define ETIMEDOUT 1
#define CANCELLED 2

/* deadlines */
#define NO_DEADLINE 0
#define PAST 1
#define FUTURE 2

/* enum ticket_state: where a ticket is (src/exitleft-private.h has the transitions) */
mtype = { TICKET_IDLE, TICKET_HEAD, TICKET_WAITING, TICKET_WOKEN, TICKET_PROMOTED };

/* struct exitleft_ticket, one per thread; guarded by the stage lock */
mtype state[NT];
bool notified[NT];
bool mail[NT];		/* the mailbox holds items (they coalesce in the model) */
bool live[NT];		/* in the table */
bool pend[NT];		/* t->pending: its enter is exitleft_enter_start()'s */
bool fd_open[NT];	/* t->fd >= 0: exitleft_ticket_fd() made its descriptor */
bool readable[NT];	/* the descriptor's eventfd counter is 1 */
byte fd_gen[NT];	/* which descriptor: a new one each time one is made */
bool owed[NT];		/* decided; the write after the unlock not made yet */

/* struct exitleft_stage */
byte head = NONE;
byte queue[NT];		/* utlist FIFO, the longest waiter first */
byte qlen;
bool closed;
byte nlive;
byte in_flight;		/* atomic, outside the lock: its count */
bool draining;		/* ... and its IN_FLIGHT_DRAINING bit, set by stage_free */
bool drained;		/* stage->drained signalled: the last wake ended */
byte free_spurious = 1;	/* spurious wakes of the freer's wait */
byte arriving;		/* atomic: callers of exitleft_enter before the lock */
byte last_head = NONE;	/* the ticket that exited headship last */
bool stage_freed;

/* the condvars: record i's owner blocked in it, a signal reached it, wakes on their way */
bool in_cond[NT];
bool signalled[NT];
byte flying[NT];	/* wakes raised for record i and not yet signalled */
bool destroyed[NT];	/* record_put handed record i's condvar back */

/* ghosts, for the properties */
bool pending[NT];	/* notified, not yet seen as TOKEN nor dropped with its ticket */
bool by_notify[NT];	/* taken out of line by notify_locked in this enter */
bool by_close[NT];	/* taken out of line by the close in this enter */
bool promoted[NT];	/* made head by wait_exit_locked in this enter */
byte finished;		/* threads done with the stage (their last call made) */
bool notifier_done;
bool closer_done;
byte spurious_left = SPURIOUS;

/* scratch, only used inside atomic sequences, so kept out of the state vector */
hidden byte k, nh, nw, target;
byte cancels_left = CANCELS;

/*
 * The invariants of struct exitleft_stage, asserted at the end of every section under the
 * lock (they only change there): S9, S8/S10 (nobody in line without a head), S6.
 */
inline invariant()
{
	nh = 0;
	nw = 0;
	k = 0;
	do
	:: k < NT ->
		if
		:: state[k] == TICKET_HEAD || state[k] == TICKET_PROMOTED ->
			nh++; assert(head == k)
		:: state[k] == TICKET_WAITING -> nw++
		:: state[k] == TICKET_IDLE || state[k] == TICKET_WOKEN
		fi;
		assert(!pending[k] || notified[k]);	/* S6: recorded until seen */
		/* S26: pending only inside an enter; the descriptor readable exactly while a
		 * pending enter is decided and not collected */
		assert(!pend[k] || (state[k] != TICKET_IDLE && state[k] != TICKET_HEAD));
		assert(readable[k] == (fd_open[k] && pend[k] && !owed[k] &&
				       (state[k] == TICKET_WOKEN || state[k] == TICKET_PROMOTED)));
		assert(!owed[k] || (fd_open[k] && pend[k] && state[k] != TICKET_WAITING));
		k++
	:: else -> break
	od;
	assert(nh <= 1);			/* S9 */
	assert((head == NONE) == (nh == 0));
	assert(nw == qlen);
	/* S8, S10: a waiter always has a head, but for a deferring last head (wait_defers) */
	assert(qlen == 0 || head != NONE ||
	       (qlen == 1 && queue[0] == last_head && arriving > 0));
	assert(qlen == 0 || !closed)		/* S13 */
}

inline dl_append(t)
{
	queue[qlen] = t;
	qlen++
}

inline dl_delete(t)
{
	k = 0;
	do
	:: k < qlen && queue[k] != t -> k++
	:: else -> break
	od;
	assert(k < qlen);
	do
	:: k + 1 < qlen -> queue[k] = queue[k + 1]; k++
	:: else -> break
	od;
	qlen--;
	queue[qlen] = NONE
}

/* wait.c: wait_promote_first - the longest waiter, if any, is head when it wakes */
inline wait_promote_first(next)
{
	if
	:: qlen > 0 ->
		next = queue[0];
		dl_delete(next);
		state[next] = TICKET_PROMOTED;	/* waiting --exit of the head--> promoted */
		promoted[next] = true;
		head = next
	:: else ->
		next = NONE;
		head = NONE
	fi
}

/* wait.c: wait_exit_locked - headship from h straight to the longest waiter */
inline wait_exit_locked(h, next)
{
	assert((state[h] == TICKET_HEAD || state[h] == TICKET_PROMOTED) && head == h);
	state[h] = TICKET_IDLE;
	last_head = h;
	wait_promote_first(next)
}

/* wait.c: the end of exitleft_enter (out:) - a deferring last head is promoted */
inline enter_out(next)
{
	next = NONE;
#ifndef BUG_NO_PROMOTE_AT_OUT
	if
	:: head == NONE -> wait_promote_first(next)
	:: else
	fi;
#endif
	wake_raise(next)
}

/* wait.c: outcome_idle - mail or notification first (S7), then closed, then headless */
inline outcome_idle(t, out)
{
	if
	:: notified[t] || mail[t] ->
		notified[t] = false;
		pending[t] = false;
		out = EXITLEFT_TOKEN
	:: else ->
		if
		:: closed -> out = EXITLEFT_CLOSED
		:: !closed && head == NONE && !(last_head == t && arriving > 0) ->
			head = t;
			state[t] = TICKET_HEAD;
			out = EXITLEFT_HEAD
		:: !closed && (head != NONE || (last_head == t && arriving > 0)) ->
			out = 0		/* wait_defers, in the second case */
		fi
	fi
}

/* notify.c: notify_locked - a waiter leaves the line before it is woken (S5) */
inline notify_locked(t, wake)
{
	if
	:: state[t] == TICKET_WAITING ->
		dl_delete(t);
		state[t] = TICKET_WOKEN;	/* waiting --notify--> woken */
		by_notify[t] = true;
		wake = t
	:: else -> wake = NONE
	fi
}

/* stage.c: stage_unlock_wake, the part under the lock: in_flight raised before unlocking */
/* ticket.c: ticket_fd_signal - under the lock; a write only to an open descriptor */
inline fd_signal(t)
{
	if
	:: fd_open[t] -> assert(!readable[t]); readable[t] = true	/* model: wake_fd */
	:: else
	fi
}

/*
 * The part under the lock: for a blocked thread in_flight is raised before unlocking; for a
 * pending ticket the number of its descriptor is read (wgen says which descriptor it is),
 * and nothing is counted: without a descriptor there is nothing to do after the unlock.
 */
inline wake_raise(wake)
{
	if
	:: wake != NONE && pend[wake] && fd_open[wake] -> owed[wake] = true; wgen = fd_gen[wake]
	:: wake != NONE && pend[wake] && !fd_open[wake] -> wake = NONE
	:: wake != NONE && !pend[wake] -> in_flight++; flying[wake]++
	:: else
	fi
}

/*
 * stage.c: stage_unlock_wake after the unlock: wake_signal, then wake_done. The drop is a
 * compare-and-swap that fails once stage_free has set the draining bit; the waker then
 * drops the count under the lock and signals the freer if it was the last.
 */
inline stage_unlock_wake(wake)
{
	if
	:: wake != NONE && wgen != NONE ->
		atomic {	/* step wake_fd: write() to the number read under the lock */
			assert(fd_open[wake] && fd_gen[wake] == wgen);	/* that descriptor, open */
			assert(owed[wake] && !readable[wake]);
			owed[wake] = false;
			readable[wake] = true;
			wgen = NONE;
			wake = NONE
		}
	:: wake != NONE && wgen == NONE ->
		atomic {	/* step wake_signal: pthread_cond_signal */
			/* never signal a destroyed condvar or a freed stage */
			assert(!stage_freed && !destroyed[wake]);
			flying[wake]--;
			if
			:: in_cond[wake] -> signalled[wake] = true
			:: else		/* nobody blocked in it: the signal is lost */
			fi
		}
		if
		:: atomic { !draining -> in_flight--; wake = NONE }	/* step wake_done */
		:: atomic { draining ->		/* step wake_done_locked */
#ifdef BUG_DROP_BEFORE_LOCK	/* drop, then take the lock to signal: the freer may go */
			in_flight--
		   }
		   atomic {
			assert(!stage_freed);
#else
			assert(!stage_freed);
			in_flight--;
#endif
			if
			:: in_flight == 0 -> drained = true
			:: else
			fi;
			wake = NONE
		   }
		fi
	:: else
	fi
}

/*
 * ticket.c: record_put - a record goes to the spares; with nothing in flight the spares
 * are trimmed (SPARE_KEEP is 0 here, the hardest case: every spare is destroyed, the ones
 * parked by earlier puts too).
 */
inline record_put(t)
{
	if
	:: last_head == t -> last_head = NONE
	:: else
	fi;
	if
#ifdef BUG_IGNORE_IN_FLIGHT	/* hand the condvar back whatever is in flight */
	:: true -> destroyed[t] = true
#else
	:: in_flight == 0 ->	/* model: trim */
		k = 0;
		do
		:: k < NT ->
			if
			:: !live[k] && !destroyed[k] -> assert(flying[k] == 0); destroyed[k] = true
			:: else
			fi;
			k++
		:: else -> break
		od
	:: else		/* parked on the spare list */
#endif
	fi
}

/*
 * notify.c: exitleft_notify and exitleft_deliver. `last`: the notifier's last call, which
 * lets the stage be freed once its locked part is done, while its wake may still be on its
 * way (the woken thread may free everything at once).
 */
inline notify(t, with_item, wake, last)
{
	atomic {
		select(t : 0 .. NT - 1);	/* any token */
		wake = NONE;
		if
		:: live[t] ->
			if
			:: with_item -> mail[t] = true
			:: else -> notified[t] = true; pending[t] = true
			fi;
			notify_locked(t, wake);
			wake_raise(wake)
		:: else	/* nobody holds the token: returns 0 */
		fi;
		if
		:: last -> notifier_done = true
		:: else
		fi;
		invariant()
	}
	stage_unlock_wake(wake)
}

/*
 * ticket.c: exitleft_ticket_free of an idle or heading ticket. -ENOTEMPTY when a delivery
 * slipped in since the owner took its mail: it takes the mail (exitleft_take) and retries.
 * `last`: the thread's last call; the stage may be freed while its wake is on its way.
 */
inline ticket_free(me, next, last)
{
	do
	:: atomic { mail[me] -> mail[me] = false }	/* -ENOTEMPTY; exitleft_take */
	:: atomic {
		!mail[me] ->
		assert(state[me] == TICKET_IDLE || state[me] == TICKET_HEAD);	/* S11 */
		next = NONE;
		if
		:: state[me] == TICKET_HEAD -> wait_exit_locked(me, next)	/* S12 */
		:: else
		fi;
		live[me] = false;
		nlive--;
		assert(!pend[me] && !readable[me] && !owed[me]);
		fd_open[me] = false;	/* model: fd_close, under the lock */
		notified[me] = false;	/* dropped with the ticket, documented */
		pending[me] = false;
		record_put(me);
		wake_raise(next);
		if
		:: last -> finished++
		:: else
		fi;
		invariant()
	   }
	   stage_unlock_wake(next);
	   break
	od
}

/* wait.c: enter_collect for a pending enter (exitleft_enter_poll, exitleft_enter_cancel) */
inline collect(t, out)
{
#ifndef BUG_COLLECT_UNWRITTEN
	assert(!owed[t]);		/* the guards waited for the write */
#endif
	readable[t] = false;		/* ticket_fd_drain */
	pend[t] = false;
	if
	:: state[t] == TICKET_PROMOTED -> state[t] = TICKET_HEAD; out = EXITLEFT_HEAD
	:: state[t] == TICKET_WOKEN ->
		state[t] = TICKET_IDLE;
		outcome_idle(t, out);
		assert(out == EXITLEFT_TOKEN || out == EXITLEFT_CLOSED)
	fi
}

/* What exitleft_enter returned must be what happened to the ticket in this enter. */
inline enter_returns()
{
	assert(!promoted[me] || out == EXITLEFT_HEAD);		/* S10 */
	assert(!by_notify[me] || out == EXITLEFT_TOKEN);	/* S5, S6 */
	assert(!by_close[me] || out == EXITLEFT_CLOSED || out == EXITLEFT_TOKEN);	/* S13 */
	assert(out != EXITLEFT_TIMEOUT || deadline != NO_DEADLINE);
	assert(out != EXITLEFT_HEAD || (head == me && state[me] == TICKET_HEAD));	/* S9 */
	assert(state[me] == TICKET_IDLE || state[me] == TICKET_HEAD);	/* S11: out of enter */
	by_notify[me] = false;
	by_close[me] = false;
	promoted[me] = false;
	deadline = NO_DEADLINE;
	rc = WOKE
}

proctype thread(byte me)
{
	byte out, rc, deadline, wake = NONE, next = NONE, round, wgen = NONE;

	do
	:: atomic { round == ROUNDS || !live[me] -> break }
	:: atomic { round < ROUNDS && live[me] -> round++; arriving++ }	/* step arrive */
	   atomic {
		/* wait.c: exitleft_enter, up to the wait: step enter */
		arriving--;
		if
		:: deadline = NO_DEADLINE
		:: deadline = PAST
		:: deadline = FUTURE
		fi;
		assert(state[me] == TICKET_IDLE);
		out = 0;
		outcome_idle(me, out);
		if
		:: out == 0 && deadline == PAST -> out = EXITLEFT_TIMEOUT
		:: out == 0 && deadline != PAST ->
			state[me] = TICKET_WAITING;	/* idle --enter--> waiting */
			dl_append(me);
			in_cond[me] = true		/* step cond_wait: unlocks and blocks */
		:: out == 0 && deadline == FUTURE && PENDING ->
			/* exitleft_enter_start: in line without a thread (S22); its deadline
			 * is the loop's timer, which cancels */
			state[me] = TICKET_WAITING;
			pend[me] = true;
			dl_append(me)
		:: out != 0
		fi;
		if
		:: out != 0 -> enter_out(next); enter_returns()
		:: else
		fi;
		invariant()
	   }
		if
		:: out != 0 -> stage_unlock_wake(next)
		:: else
		fi;
		do
		:: out != 0 -> break
		:: out == 0 && pend[me] ->
			/* exitleft_enter_poll once the descriptor is readable (or, without one,
			 * polled until decided), exitleft_enter_cancel at any time, or the
			 * descriptor asked for now: steps poll, cancel, ticket_fd. Poll and
			 * cancel find a decision whose write is owed and wait, without the
			 * lock, until it is made (ticket_fd_await): their guards. */
			if
			:: atomic {
				(state[me] == TICKET_WOKEN || state[me] == TICKET_PROMOTED) &&
				(!fd_open[me] || readable[me]) ->
				collect(me, out);
				enter_returns();
				invariant()
			   }
			:: atomic {
#ifndef BUG_COLLECT_UNWRITTEN
				!owed[me] ->
#endif
				if
				:: state[me] == TICKET_WAITING ->	/* waiting --cancel--> idle */
					dl_delete(me);
					state[me] = TICKET_IDLE;
					pend[me] = false;
					out = EXITLEFT_TIMEOUT
#ifdef BUG_CANCEL_SWALLOWS	/* cancel ignores a decision that came first */
				:: state[me] != TICKET_WAITING ->
					state[me] = TICKET_IDLE;
					pend[me] = false;
					readable[me] = false;
					out = EXITLEFT_TIMEOUT
#else
				:: state[me] != TICKET_WAITING -> collect(me, out)	/* it wins */
#endif
				fi;
				enter_returns();
				invariant()
			   }
			:: atomic {
				!fd_open[me] ->
				fd_open[me] = true;
				fd_gen[me]++;
				if
				:: state[me] == TICKET_WOKEN || state[me] == TICKET_PROMOTED ->
					readable[me] = true	/* decided already: readable at once */
				:: else
				fi;
				invariant()
			   }
			fi
		:: out == 0 && !pend[me] ->
			/* step cond_woken: the wait returns, the lock not yet taken back */
			atomic {
				in_cond[me] ->
				if
				:: signalled[me] -> rc = WOKE
				:: deadline == FUTURE -> rc = ETIMEDOUT
				:: spurious_left > 0 -> spurious_left--; rc = WOKE
				:: cancels_left > 0 -> cancels_left--; rc = CANCELLED
				fi;
				in_cond[me] = false;
				signalled[me] = false
			}
			/* step wait_recheck: the lock is ours again; our state says why we woke */
			atomic {
				if
				:: rc == CANCELLED -> goto cancelled
				:: rc == ETIMEDOUT && state[me] == TICKET_WAITING ->
					dl_delete(me);		/* waiting --deadline--> idle */
					state[me] = TICKET_IDLE;
					out = EXITLEFT_TIMEOUT
#ifdef BUG_TIMEOUT_WINS	/* the Rust crate's bug: ETIMEDOUT taken at its word */
				:: rc == ETIMEDOUT && state[me] != TICKET_WAITING ->
					out = EXITLEFT_TIMEOUT
#endif
				:: else
				fi;
				if
				:: state[me] == TICKET_WAITING -> in_cond[me] = true	/* again */
				:: state[me] == TICKET_PROMOTED && out == 0 ->
					state[me] = TICKET_HEAD;	/* promoted --return--> head */
					out = EXITLEFT_HEAD
				:: state[me] == TICKET_WOKEN && out == 0 ->
					state[me] = TICKET_IDLE;	/* woken --return--> idle */
					outcome_idle(me, out);
					assert(out == EXITLEFT_TOKEN || out == EXITLEFT_CLOSED)
				:: state[me] != TICKET_WAITING && out != 0	/* timed out */
				fi;
				if
				:: out != 0 -> enter_out(next); enter_returns()
				:: else
				fi;
				invariant()
			}
			if
			:: out != 0 -> stage_unlock_wake(next)
			:: else
			fi
		od;
		if
		:: out == EXITLEFT_HEAD ->
			/* as head: route an event, or not */
			if
			:: ROUTE -> notify(target, false, wake, false)
			:: ROUTE -> notify(target, true, wake, false)
			:: skip
			fi;
			if
			:: /* wait.c: exitleft_exit, step exit */
				atomic {
					wait_exit_locked(me, next);	/* head --exit--> idle */
					wake_raise(next);
					invariant()
				}
				stage_unlock_wake(next)
			:: /* S12: free the ticket instead of exiting; take a new one */
				ticket_free(me, next, false);
				/* ticket.c: exitleft_ticket_new, step renew */
				atomic {
					if
					:: closed -> finished++		/* -ECANCELED: done */
					:: else ->	/* a spare record, or a new one */
						live[me] = true; nlive++;
						destroyed[me] = false;
						state[me] = TICKET_IDLE;
						if
						:: PENDING -> fd_open[me] = true; fd_gen[me]++	/* asks */
						:: true
						fi
					fi;
					invariant()
				}
			fi
		:: out == EXITLEFT_TOKEN -> atomic { mail[me] = false }	/* exitleft_take */
		:: out == EXITLEFT_TIMEOUT
		:: out == EXITLEFT_CLOSED -> break
		fi;
		out = 0
	od;
	if
	:: live[me] ->
		ticket_free(me, next, true)
	:: else
	fi;
	goto end;

cancelled:
	/* wait.c: wait_cancelled, run with the lock taken back by the cancellation */
	atomic {
		next = NONE;
		if
		:: state[me] == TICKET_WAITING ->	/* waiting --cancel--> idle */
			dl_delete(me); state[me] = TICKET_IDLE
		:: state[me] == TICKET_PROMOTED ->	/* promoted meanwhile: pass it on */
			wait_exit_locked(me, next)
		:: state[me] == TICKET_WOKEN ->	/* its notification stays recorded */
			state[me] = TICKET_IDLE
		fi;
		wake_raise(next);
		invariant()
	}
	stage_unlock_wake(next);
	/* the joiner frees the dead thread's ticket; its notification and mail go with it */
	ticket_free(me, next, true);
end:	skip
}

proctype notifier()
{
	byte n, wake = NONE, wgen = NONE;

	do
	:: n == NOTIFIES -> break
	:: n < NOTIFIES ->
		n++;
		if
		:: notify(target, false, wake, n == NOTIFIES)
		:: notify(target, true, wake, n == NOTIFIES)
		fi
	od;
	notifier_done = true	/* NOTIFIES == 0 */
}

/* stage.c: exitleft_stage_close - signals under the lock, every waiter leaves the line */
proctype closer()
{
	byte t;

	if
	:: CLOSE -> atomic {
		closed = true;
		do
		:: qlen > 0 ->
			t = queue[0];
			dl_delete(t);
			state[t] = TICKET_WOKEN;	/* waiting --close--> woken */
			by_close[t] = true;
			if
			:: pend[t] -> fd_signal(t)
			:: !pend[t] && in_cond[t] -> signalled[t] = true
			:: else
			fi
		:: else -> break
		od;
		invariant()
	   }
	:: skip
	fi;
	closer_done = true
}

/*
 * main: once every thread has made its last call, exitleft_stage_free: under the lock it
 * sets the draining bit, then sleeps on stage->drained while a wake is in flight, checking
 * the count under the lock each time it wakes (by the signal, or spuriously). Sleeping, not
 * spinning: a last waker that never signals leaves it asleep, an invalid end state.
 */
proctype stage_free()
{
	finished == NT && notifier_done && closer_done;
	atomic { assert(nlive == 0 && head == NONE && qlen == 0); draining = true }
	do
	:: atomic { in_flight == 0 -> break }
	:: atomic { in_flight != 0 -> skip };	/* pthread_cond_wait(&stage->drained) */
		if
		:: atomic { drained -> drained = false }
		:: atomic { free_spurious > 0 -> free_spurious-- }
		fi
	od;
	stage_freed = true
}

init
{
	byte i;

	atomic {
		for (i : 0 .. NT - 1) {
			state[i] = TICKET_IDLE;
			live[i] = true;
			queue[i] = NONE
		}
		nlive = NT;
		for (i : 0 .. NT - 1) {
			run thread(i)
		}
		run notifier();
		run closer();
		run stage_free()
	}
}

/* Every run ends: all threads make their last call (weak fairness; wakes are bounded). */
ltl terminates { <> (stage_freed) }
