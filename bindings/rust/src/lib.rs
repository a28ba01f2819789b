//! libexitleft from Rust: many threads, one resource, each thread waiting for its own events.
//!
//! A [`Stage`] guards a resource that one thread at a time may block on (an unconnected UDP
//! socket, a multiplexed pipe). One thread at a time *heads* it: it reads the resource and
//! routes what arrives to the [`Ticket`] of the [`Token`] it belongs to, with
//! [`Stage::deliver`] (an item into that ticket's mailbox) or [`Stage::notify`]. Every other
//! thread holds a ticket for its own token and [`Ticket::enter`]s the stage, coming back for
//! exactly one [`Outcome`]: promoted to head, its token notified, its deadline passed, or the
//! stage closed. See exitleft(3) for the contract.
//!
//! ```no_run
//! use exitleft::{Outcome, Stage};
//! let stage: Stage<String> = Stage::new()?;
//! let me = stage.ticket("alice")?;
//! if me.enter(None)? == Outcome::Head {
//!     // read the resource; what belongs to bob goes to bob's mailbox and wakes only him
//!     let _ = stage.deliver("bob", Box::new("hello".to_string()));
//!     me.exit()?;
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Items are `Box<I>`, `I` fixed per stage: the box's pointer travels through the C mailbox
//! and comes back as the same box, so it is never copied, leaked or freed twice. Whatever a
//! ticket's mailbox still holds when the ticket is dropped is dropped with it.
//!
//! Errors are `std::io::Error`s made from the library's negative errno values.
//!
//! [`compat`] is a stand-in for the `exit_left` 0.1 crate's API on top of this one.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_long, c_void};
use std::os::unix::io::{BorrowedFd, RawFd};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Instant;

pub mod compat;
pub mod sys;
mod token;

pub use token::{Token, TokenBytes, TOKEN_MAX};

/// Counters of a stage (`struct exitleft_stats`, since 1.1).
pub type Stats = sys::exitleft_stats;

/// Why [`Ticket::enter`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The thread heads the stage now: read the resource, route, then [`Ticket::exit`].
    Head,
    /// The token was notified or the mailbox holds items: [`Ticket::take`] them.
    Token,
    /// The deadline passed; the thread holds nothing.
    Timeout,
    /// The stage was closed; the thread holds nothing.
    Closed,
}

impl Outcome {
    fn from_rc(rc: c_int) -> io::Result<Option<Outcome>> {
        match check(rc)? {
            sys::EXITLEFT_HEAD => Ok(Some(Outcome::Head)),
            sys::EXITLEFT_TOKEN => Ok(Some(Outcome::Token)),
            sys::EXITLEFT_TIMEOUT => Ok(Some(Outcome::Timeout)),
            sys::EXITLEFT_CLOSED => Ok(Some(Outcome::Closed)),
            sys::EXITLEFT_PENDING => Ok(None),
            other => Err(io::Error::new(
                io::ErrorKind::Other,
                format!("exitleft: unknown outcome {}", other),
            )),
        }
    }

    fn decided(rc: c_int) -> io::Result<Outcome> {
        Outcome::from_rc(rc)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::Other, "exitleft: unexpected PENDING"))
    }
}

fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::from_raw_os_error(-rc))
    } else {
        Ok(rc)
    }
}

/// The running library's version, such as "1.2.0".
pub fn version() -> &'static str {
    // SAFETY: a static, NUL-terminated ASCII string.
    unsafe { CStr::from_ptr(sys::exitleft_version()) }
        .to_str()
        .unwrap_or("?")
}

/// An absolute CLOCK_MONOTONIC deadline for `at`: the library's clock is the one `Instant`
/// reads on Linux, but `Instant` does not expose its value, so measure the distance now.
fn deadline(at: Instant) -> sys::timespec {
    let now = Instant::now();
    let mut ts = sys::timespec::default();
    // SAFETY: ts is a valid timespec; CLOCK_MONOTONIC always exists.
    unsafe { sys::clock_gettime(sys::CLOCK_MONOTONIC, &mut ts) };
    let left = at.saturating_duration_since(now);
    let nsec = ts.tv_nsec as u64 + u64::from(left.subsec_nanos());
    let secs = (left.as_secs() + nsec / 1_000_000_000).min(i32::MAX as u64 / 2);
    ts.tv_sec = ts.tv_sec.saturating_add(secs as c_long);
    ts.tv_nsec = (nsec % 1_000_000_000) as c_long;
    ts
}

struct Inner<I> {
    raw: NonNull<sys::exitleft_stage>,
    // The stage hands `Box<I>`s from one thread to another.
    _items: PhantomData<fn(Box<I>) -> Box<I>>,
}

// SAFETY: every function of the library is thread-safe on a stage; items cross threads,
// hence `I: Send`.
unsafe impl<I: Send> Send for Inner<I> {}
unsafe impl<I: Send> Sync for Inner<I> {}

impl<I> Drop for Inner<I> {
    fn drop(&mut self) {
        // Every ticket holds an Arc of this, so none is alive: the free cannot be refused.
        // SAFETY: raw came from exitleft_stage_new and is freed once.
        let rc = unsafe { sys::exitleft_stage_free(self.raw.as_ptr()) };
        debug_assert_eq!(rc, 0, "exitleft_stage_free");
    }
}

/// A stage whose mailboxes carry `Box<I>`. Cheap to clone (a shared handle); the stage is
/// freed when the last handle and the last of its tickets are gone.
pub struct Stage<I = ()> {
    inner: Arc<Inner<I>>,
}

impl<I> Clone for Stage<I> {
    fn clone(&self) -> Self {
        Stage { inner: Arc::clone(&self.inner) }
    }
}

impl<I> fmt::Debug for Stage<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage").field("raw", &self.inner.raw).finish()
    }
}

impl<I: Send> Stage<I> {
    /// A new, open stage with no head and no tickets.
    pub fn new() -> io::Result<Self> {
        let mut raw = ptr::null_mut();
        // SAFETY: raw is a valid out-pointer.
        check(unsafe { sys::exitleft_stage_new(&mut raw) })?;
        let raw = NonNull::new(raw).expect("exitleft_stage_new returned NULL");
        Ok(Stage { inner: Arc::new(Inner { raw, _items: PhantomData }) })
    }

    fn raw(&self) -> *mut sys::exitleft_stage {
        self.inner.raw.as_ptr()
    }

    /// A ticket for `token`. `AlreadyExists` (EEXIST) if a live ticket holds it,
    /// EINVAL for an empty token or one longer than [`TOKEN_MAX`], ECANCELED once closed.
    pub fn ticket(&self, token: impl Token) -> io::Result<Ticket<I>> {
        let t = token.token_bytes();
        let mut raw = ptr::null_mut();
        // SAFETY: the token bytes are valid for their length; the library copies them.
        check(unsafe {
            sys::exitleft_ticket_new(self.raw(), t.as_ptr() as *const c_void, t.len(), &mut raw)
        })?;
        let raw = NonNull::new(raw).expect("exitleft_ticket_new returned NULL");
        Ok(Ticket { stage: self.clone(), raw, _not_sync: PhantomData })
    }

    /// Wakes the thread waiting with `token`, and no other, or records the notification for
    /// its next enter. Returns whether a ticket holds the token.
    pub fn notify(&self, token: impl Token) -> io::Result<bool> {
        let t = token.token_bytes();
        // SAFETY: as in ticket().
        let rc = unsafe { sys::exitleft_notify(self.raw(), t.as_ptr() as *const c_void, t.len()) };
        Ok(check(rc)? == 1)
    }

    /// Puts `item` in the mailbox of the ticket holding `token` and wakes it as `notify`
    /// does. When it is not delivered (no ticket holds the token, the mailbox is full,
    /// memory ran out) the item comes back in the error, untouched.
    pub fn deliver(&self, token: impl Token, item: Box<I>) -> Result<(), Undelivered<I>> {
        let t = token.token_bytes();
        let ptr = Box::into_raw(item);
        // SAFETY: ptr is non-NULL (a Box's, dangling-but-aligned for a zero-sized I). On
        // success the mailbox owns it until take() turns it back into this Box.
        let rc = unsafe {
            sys::exitleft_deliver(self.raw(), t.as_ptr() as *const c_void, t.len(), ptr as *mut c_void)
        };
        if rc == 1 {
            return Ok(());
        }
        // SAFETY: not delivered: the pointer is still ours, and only ours.
        let item = unsafe { Box::from_raw(ptr) };
        let error = if rc < 0 { Some(io::Error::from_raw_os_error(-rc)) } else { None };
        Err(Undelivered { item, error })
    }

    /// Closes the stage: every waiter returns [`Outcome::Closed`], later enters too (after a
    /// recorded notification or a non-empty mailbox), new tickets are refused. Mailboxes stay.
    pub fn close(&self) -> io::Result<()> {
        // SAFETY: a live stage.
        check(unsafe { sys::exitleft_stage_close(self.raw()) }).map(drop)
    }

    /// One consistent snapshot of the stage's counters.
    pub fn stats(&self) -> io::Result<Stats> {
        let mut st = Stats::default();
        // SAFETY: st is valid for its size; the library fills at most that.
        check(unsafe {
            sys::exitleft_stage_stats(self.raw(), &mut st, std::mem::size_of::<Stats>())
        })?;
        Ok(st)
    }
}

/// An item [`Stage::deliver`] could not deliver, given back.
pub struct Undelivered<I> {
    item: Box<I>,
    error: Option<io::Error>,
}

impl<I> Undelivered<I> {
    /// The item, still the caller's.
    pub fn into_item(self) -> Box<I> {
        self.item
    }
    /// True when no ticket held the token (the library returned 0, no error).
    pub fn unowned(&self) -> bool {
        self.error.is_none()
    }
    /// The library's error: ENOBUFS for a full mailbox, ENOMEM, EINVAL for a bad token.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }
}

impl<I> fmt::Debug for Undelivered<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Undelivered").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<I> fmt::Display for Undelivered<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => f.write_str("not delivered: no ticket holds the token"),
            Some(e) => write!(f, "not delivered: {}", e),
        }
    }
}

impl<I> std::error::Error for Undelivered<I> {}

impl<I> From<Undelivered<I>> for io::Error {
    fn from(u: Undelivered<I>) -> io::Error {
        u.error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no ticket holds the token")
        })
    }
}

/// A ticket for one token on a stage. Send (it may move to another thread) but not Sync:
/// one thread at a time uses it, as the library requires. Dropping it drops what its mailbox
/// holds, gives up a pending enter, exits if it heads the stage, and frees its token.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<exitleft::Ticket<()>>(); // a ticket is not shared between threads
/// ```
pub struct Ticket<I = ()> {
    stage: Stage<I>,
    raw: NonNull<sys::exitleft_ticket>,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

// SAFETY: a ticket may be used from any thread, one at a time (not Sync).
unsafe impl<I: Send> Send for Ticket<I> {}

impl<I> fmt::Debug for Ticket<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket").field("raw", &self.raw).finish()
    }
}

impl<I: Send> Ticket<I> {
    fn raw(&self) -> *mut sys::exitleft_ticket {
        self.raw.as_ptr()
    }

    /// The stage this ticket belongs to.
    pub fn stage(&self) -> &Stage<I> {
        &self.stage
    }

    /// Waits for headship or for this token's events, until `deadline` (None: no limit; a
    /// deadline already past: a non-blocking try). EDEADLK if this ticket heads the stage.
    pub fn enter(&self, deadline: Option<Instant>) -> io::Result<Outcome> {
        let ts = deadline.map(self::deadline);
        let p = ts.as_ref().map_or(ptr::null(), |t| t as *const sys::timespec);
        // SAFETY: a live ticket, used by this thread only (!Sync); p is NULL or valid.
        Outcome::decided(unsafe { sys::exitleft_enter(self.raw(), p) })
    }

    /// Stops heading the stage: the longest-waiting ticket is promoted. EPERM if not head.
    pub fn exit(&self) -> io::Result<()> {
        // SAFETY: a live ticket.
        check(unsafe { sys::exitleft_exit(self.raw()) }).map(drop)
    }

    /// The oldest item in this ticket's mailbox, or None if it is empty.
    pub fn take(&self) -> Option<Box<I>> {
        let mut item = ptr::null_mut();
        // SAFETY: a live ticket; item is a valid out-pointer.
        let rc = unsafe { sys::exitleft_take(self.raw(), &mut item) };
        if rc == 1 {
            // SAFETY: every item in a mailbox of this stage came from Box::<I>::into_raw in
            // deliver(), and take() moves it out of the mailbox exactly once.
            Some(unsafe { Box::from_raw(item as *mut I) })
        } else {
            None
        }
    }

    /// Bounds the mailbox: deliveries past `max_items` are refused with ENOBUFS. 0: no limit.
    pub fn limit(&self, max_items: usize) -> io::Result<()> {
        // SAFETY: a live ticket.
        check(unsafe { sys::exitleft_ticket_limit(self.raw(), max_items) }).map(drop)
    }

    /// Starts an enter that does not block (since 1.2): `Some(outcome)` when `enter` would
    /// have returned at once, None when the ticket now waits in line without a thread.
    /// Collect the outcome with [`enter_poll`](Self::enter_poll) once [`fd`](Self::fd) is
    /// readable, or give up with [`enter_cancel`](Self::enter_cancel). Dropping the ticket
    /// cancels it.
    pub fn enter_start(&self) -> io::Result<Option<Outcome>> {
        // SAFETY: a live ticket.
        Outcome::from_rc(unsafe { sys::exitleft_enter_start(self.raw()) })
    }

    /// The outcome of the pending enter once decided (exactly once), None while undecided.
    pub fn enter_poll(&self) -> io::Result<Option<Outcome>> {
        // SAFETY: a live ticket.
        Outcome::from_rc(unsafe { sys::exitleft_enter_poll(self.raw()) })
    }

    /// Gives up the pending enter: [`Outcome::Timeout`] if undecided, else its outcome.
    pub fn enter_cancel(&self) -> io::Result<Outcome> {
        // SAFETY: a live ticket.
        Outcome::decided(unsafe { sys::exitleft_enter_cancel(self.raw()) })
    }

    /// The ticket's descriptor, readable while a pending enter is decided and not collected.
    /// Only poll it; the ticket owns and closes it.
    pub fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        // SAFETY: a live ticket; the descriptor lives as long as the ticket.
        let fd = check(unsafe { sys::exitleft_ticket_fd(self.raw()) })?;
        Ok(unsafe { BorrowedFd::borrow_raw(fd as RawFd) })
    }
}

impl<I> Drop for Ticket<I> {
    fn drop(&mut self) {
        let raw = self.raw.as_ptr();
        loop {
            // Drop what the mailbox holds: a head in another thread may still deliver, in
            // which case the free below says ENOTEMPTY and we drain again.
            let mut item = ptr::null_mut();
            // SAFETY: as in take(): the item is a Box<I> moved out of the mailbox once.
            while unsafe { sys::exitleft_take(raw, &mut item) } == 1 {
                drop(unsafe { Box::from_raw(item as *mut I) });
            }
            // SAFETY: a live ticket; nobody else uses it (!Sync, and we are dropping it).
            match unsafe { sys::exitleft_ticket_free(raw) } {
                0 => return,
                rc if rc == -(ENOTEMPTY) => continue,
                // A pending enter not collected: give it up (a HEAD it may have been handed
                // is then passed on by the free).
                rc if rc == -(EBUSY) => {
                    if unsafe { sys::exitleft_enter_cancel(raw) } < 0 {
                        return; // cannot happen; leaking beats spinning
                    }
                }
                _ => return,
            }
        }
    }
}

const EBUSY: c_int = 16;
#[cfg(any(target_os = "linux", target_os = "android"))]
const ENOTEMPTY: c_int = 39;
#[cfg(target_os = "freebsd")]
const ENOTEMPTY: c_int = 66;
