//! A stand-in for the `exit_left` 0.1 crate, on libexitleft.
//!
//! A program written against `exit_left` compiles against this module by changing its `use`
//! line only. The model is the crate's: a [`Stage`] owns a resource `R` and a buffer `B`
//! shared by every thread; a thread takes a [`Ticket`] for its token, looks in the buffer
//! for what is its own and, finding nothing, [`enter`](Stage::enter)s the stage, which
//! consumes the ticket. If the thread is made head, `head` runs with a [`Director`] (read the
//! resource, file what belongs to others in the buffer, [`notify`](Director::notify) them)
//! and leaving the closure exits: [`Exit::Finished`] carries what it returned. Otherwise the
//! thread comes back with [`Exit::Token`] (notified) or [`Exit::Timeout`].
//!
//! What changes underneath is libexitleft's contract: promotion is first in, first out; a
//! timeout never swallows a promotion; a notification sent after the ticket was taken and
//! before `enter` is kept, and makes `enter` return `Token` at once.
//!
//! Tokens of any `T: Hash + Eq + Clone` name tickets. The stage maps each live ticket's token
//! to a fresh 64-bit number (never reused), and that number is the libexitleft token: two
//! equal `T`s are one ticket, whatever their hashes, and a notification for a ticket that is
//! gone can never reach the next holder of the token.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Outcome;

struct Shared<T> {
    stage: crate::Stage<()>,
    ids: Mutex<HashMap<T, u64>>,
    next_id: AtomicU64,
}

impl<T: Hash + Eq> Shared<T> {
    fn ids(&self) -> MutexGuard<'_, HashMap<T, u64>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stage guarding the resource `R`, with the buffer `B` its threads share, for tokens `T`.
pub struct Stage<T, R, B> {
    shared: Arc<Shared<T>>,
    resource: R,
    buffer: Mutex<B>,
}

/// What [`Stage::enter`] came back with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit<R> {
    /// The thread headed the stage and `head` returned this; the stage was exited.
    Finished(R),
    /// The timeout passed first.
    Timeout,
    /// The ticket's token was notified: look in the buffer.
    Token,
}

/// A ticket for one token, consumed by [`Stage::enter`]; dropping it frees the token.
pub struct Ticket<T: Hash + Eq> {
    shared: Arc<Shared<T>>,
    token: T,
    ticket: crate::Ticket<()>,
}

impl<T: Hash + Eq> Drop for Ticket<T> {
    fn drop(&mut self) {
        // The number stays retired; the C ticket is freed right after, with the field.
        self.shared.ids().remove(&self.token);
    }
}

/// What the head's closure is given: the resource, the buffer, notifications.
#[repr(transparent)]
pub struct Director<T, R, B> {
    stage: Stage<T, R, B>,
}

impl<T: Hash + Eq + Clone, R, B> Stage<T, R, B> {
    /// A stage for `resource`, with `buffer` shared by its threads.
    pub fn new(resource: R, buffer: B) -> Self {
        Stage {
            shared: Arc::new(Shared {
                stage: crate::Stage::new().expect("exitleft_stage_new"),
                ids: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
            }),
            resource,
            buffer: Mutex::new(buffer),
        }
    }

    /// A ticket for `token`, or None while another ticket holds it.
    pub fn ticket(&self, token: T) -> Option<Ticket<T>> {
        let mut ids = self.shared.ids();
        if ids.contains_key(&token) {
            return None;
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let ticket = self.shared.stage.ticket(id.to_ne_bytes()).expect("exitleft_ticket_new");
        ids.insert(token.clone(), id);
        drop(ids);
        Some(Ticket { shared: Arc::clone(&self.shared), token, ticket })
    }

    /// Waits with `ticket` (consumed) for headship, a notification of its token, or the
    /// timeout. As head, runs `head` and exits when it returns (or panics).
    pub fn enter<Ret, F>(&self, ticket: Ticket<T>, timeout: Option<Duration>, head: F) -> Exit<Ret>
    where
        F: FnOnce(&Director<T, R, B>) -> Ret,
    {
        assert!(
            Arc::ptr_eq(&ticket.shared, &self.shared),
            "exitleft::compat: a ticket entered a stage it does not belong to"
        );
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        match ticket.ticket.enter(deadline) {
            Ok(Outcome::Head) => {
                let ret = head(self.director());
                // Dropping `ticket` below exits as well (on a panic too); say it first.
                ticket.ticket.exit().expect("exitleft_exit");
                Exit::Finished(ret)
            }
            Ok(Outcome::Token) => Exit::Token,
            Ok(Outcome::Timeout) => Exit::Timeout,
            Ok(Outcome::Closed) => unreachable!("a compat stage is never closed"),
            Err(e) => panic!("exitleft_enter: {}", e),
        }
    }

    /// The shared buffer, locked.
    pub fn buffer(&self) -> MutexGuard<'_, B> {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The resource, without heading the stage.
    ///
    /// # Safety
    /// The stage exists so that one thread at a time uses the resource; use it here only in
    /// ways that do not interfere with the head's (answering on a UDP socket while the head
    /// reads it, for instance).
    pub unsafe fn backdoor(&self) -> &R {
        &self.resource
    }

    /// The core stage's counters: not part of exit_left's surface, an addition.
    pub fn stats(&self) -> crate::Stats {
        self.shared.stage.stats().expect("exitleft_stage_stats")
    }

    fn director(&self) -> &Director<T, R, B> {
        // SAFETY: Director is a repr(transparent) wrapper of Stage.
        unsafe { &*(self as *const Stage<T, R, B> as *const Director<T, R, B>) }
    }
}

impl<T: Hash + Eq + Clone, R, B> Director<T, R, B> {
    /// Wakes the thread waiting with `token`, or makes its next enter return `Token` at once;
    /// nothing if no ticket holds the token.
    pub fn notify(&self, token: T) {
        let id = self.stage.shared.ids().get(&token).copied();
        if let Some(id) = id {
            self.stage.shared.stage.notify(id.to_ne_bytes()).expect("exitleft_notify");
        }
    }

    /// Runs `f` on the shared buffer, locked.
    pub fn buffer(&self, f: impl FnOnce(&mut B)) {
        f(&mut self.stage.buffer())
    }

    /// The resource the head may now use.
    pub fn resource(&self) -> &R {
        &self.stage.resource
    }
}
