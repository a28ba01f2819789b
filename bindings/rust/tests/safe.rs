//! The safe layer with real threads. No test orders threads by sleeping: each waits for the
//! state it needs (a number of waiters in the stage's counters), with a bounded patience.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use exitleft::{Outcome, Stage, Ticket};

const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until the stage has `n` waiters; panics after PATIENCE.
fn wait_waiters<I: Send>(stage: &Stage<I>, n: u64) {
    let start = Instant::now();
    while stage.stats().unwrap().waiters != n {
        assert!(start.elapsed() < PATIENCE, "never reached {} waiters", n);
        thread::sleep(Duration::from_micros(200));
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().expect("an errno")
}

#[test]
fn stage_is_send_sync_ticket_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Stage<String>>();
    send::<Ticket<String>>();
    // Ticket is not Sync: checked by the compile_fail doc test in lib.rs.
}

#[test]
fn tokens_are_exclusive_and_errors_are_errnos() {
    let stage: Stage = Stage::new().unwrap();
    let a = stage.ticket("a").unwrap();
    let e = stage.ticket(b"a".to_vec()).unwrap_err(); // same bytes, same token
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(errno(&e), 17);
    assert_eq!(errno(&stage.ticket("").unwrap_err()), 22); // EINVAL
    assert_eq!(errno(&stage.ticket(vec![7u8; 129]).unwrap_err()), 22);
    assert_eq!(errno(&a.exit().unwrap_err()), 1); // EPERM: not head
    assert_eq!(a.enter(None).unwrap(), Outcome::Head);
    assert_eq!(errno(&a.enter(None).unwrap_err()), 35); // EDEADLK
    drop(a); // frees the token, exiting first
    let a = stage.ticket("a").unwrap();
    assert_eq!(a.enter(None).unwrap(), Outcome::Head);
    a.exit().unwrap();
    assert!(exitleft::version().starts_with("1."));
}

#[test]
fn common_keys_are_tokens() {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    let stage: Stage = Stage::new().unwrap();
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, 4242));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 4242));
    let _t = [
        stage.ticket(v4).unwrap(),
        stage.ticket(v6).unwrap(),
        stage.ticket(7u32).unwrap(),
        stage.ticket(7u64).unwrap(), // other bytes: another token
        stage.ticket(&b"bytes"[..]).unwrap(),
        stage.ticket(String::from("string")).unwrap(),
    ];
    assert_eq!(errno(&stage.ticket(v4).unwrap_err()), 17);
    assert_eq!(errno(&stage.ticket(7u32).unwrap_err()), 17);
    assert_eq!(errno(&stage.ticket("bytes").unwrap_err()), 17);
    assert!(stage.notify(v6).unwrap());
    assert!(!stage.notify(SocketAddr::from((Ipv4Addr::LOCALHOST, 4243))).unwrap());
}

#[test]
fn promotion_is_first_in_first_out() {
    let stage: Stage = Stage::new().unwrap();
    let head = stage.ticket("head").unwrap();
    assert_eq!(head.enter(None).unwrap(), Outcome::Head);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for i in 0..5u32 {
        let ticket = stage.ticket(i).unwrap();
        let order = Arc::clone(&order);
        threads.push(thread::spawn(move || {
            assert_eq!(ticket.enter(None).unwrap(), Outcome::Head);
            order.lock().unwrap().push(i);
            ticket.exit().unwrap();
        }));
        wait_waiters(&stage, u64::from(i) + 1); // i is in line before i + 1 enters
    }
    head.exit().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_notification_before_enter_is_kept_and_coalesced() {
    let stage: Stage = Stage::new().unwrap();
    let head = stage.ticket("head").unwrap();
    let me = stage.ticket("me").unwrap();
    assert_eq!(head.enter(None).unwrap(), Outcome::Head);
    assert!(stage.notify("me").unwrap());
    assert!(stage.notify("me").unwrap());
    assert_eq!(me.enter(None).unwrap(), Outcome::Token); // at once, though a head exists
    assert_eq!(me.enter(Some(Instant::now())).unwrap(), Outcome::Timeout); // coalesced
    // Notified while waiting, from another thread: only that thread wakes.
    let other = stage.ticket("other").unwrap();
    let (me, other) = thread::scope(|s| {
        let a = s.spawn(|| (me.enter(None).unwrap(), me));
        let b = s.spawn(|| (other.enter(Some(Instant::now() + PATIENCE)).unwrap(), other));
        wait_waiters(&stage, 2);
        assert!(stage.notify("me").unwrap());
        let (outcome, me) = a.join().unwrap();
        assert_eq!(outcome, Outcome::Token);
        assert_eq!(stage.stats().unwrap().waiters, 1); // "other" still waits
        assert!(stage.notify("other").unwrap());
        let (outcome, other) = b.join().unwrap();
        assert_eq!(outcome, Outcome::Token);
        (me, other)
    });
    drop((me, other));
    head.exit().unwrap();
}

#[test]
fn timeouts() {
    let stage: Stage = Stage::new().unwrap();
    let head = stage.ticket("head").unwrap();
    let me = stage.ticket("me").unwrap();
    assert_eq!(head.enter(None).unwrap(), Outcome::Head);
    assert_eq!(me.enter(Some(Instant::now())).unwrap(), Outcome::Timeout);
    let past = Instant::now() - Duration::from_millis(1);
    assert_eq!(me.enter(Some(past)).unwrap(), Outcome::Timeout);
    let t = Instant::now();
    assert_eq!(me.enter(Some(t + Duration::from_millis(20))).unwrap(), Outcome::Timeout);
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert_eq!(stage.stats().unwrap().timeouts, 3);
    head.exit().unwrap();
    // With no head, the same enter heads at once instead.
    assert_eq!(me.enter(Some(Instant::now())).unwrap(), Outcome::Head);
    me.exit().unwrap();
}

#[test]
fn close_wakes_waiters_and_refuses_tickets() {
    let stage: Stage = Stage::new().unwrap();
    let head = stage.ticket("head").unwrap();
    assert_eq!(head.enter(None).unwrap(), Outcome::Head);
    let w = stage.ticket("w").unwrap();
    let t = thread::spawn(move || w.enter(None).unwrap());
    wait_waiters(&stage, 1);
    stage.close().unwrap();
    assert_eq!(t.join().unwrap(), Outcome::Closed);
    assert_eq!(errno(&stage.ticket("late").unwrap_err()), 125); // ECANCELED
    head.exit().unwrap();
}

/// An item that counts its drops.
struct Counted(Arc<AtomicUsize>, u32);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn items_come_out_in_order_and_are_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let item = |n| Box::new(Counted(Arc::clone(&drops), n));
    let stage: Stage<Counted> = Stage::new().unwrap();
    let me = stage.ticket("me").unwrap();
    for n in 0..3 {
        stage.deliver("me", item(n)).unwrap();
    }
    // Nobody holds "nobody": the item comes back, still the caller's.
    let back = stage.deliver("nobody", item(9)).unwrap_err();
    assert!(back.unowned());
    assert_eq!(back.into_item().1, 9);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(me.enter(None).unwrap(), Outcome::Token); // a mailbox with items is a token
    assert_eq!(me.take().unwrap().1, 0);
    assert_eq!(me.take().unwrap().1, 1);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    // One item left in the mailbox: dropping the ticket drops it, and frees the token.
    drop(me);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    let me = stage.ticket("me").unwrap();
    assert!(me.take().is_none());

    // The stage handle dropped first, with items inside: they go with the last ticket.
    stage.deliver("me", item(5)).unwrap();
    stage.deliver("me", item(6)).unwrap();
    drop(stage);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    drop(me);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

#[test]
fn a_bounded_mailbox_refuses_and_gives_back() {
    let stage: Stage<u32> = Stage::new().unwrap();
    let me = stage.ticket("me").unwrap();
    me.limit(1).unwrap();
    stage.deliver("me", Box::new(1)).unwrap();
    let back = stage.deliver("me", Box::new(2)).unwrap_err();
    assert_eq!(back.error().and_then(io::Error::raw_os_error), Some(105)); // ENOBUFS
    assert_eq!(*back.into_item(), 2);
    assert_eq!(*me.take().unwrap(), 1);
    stage.deliver("me", Box::new(3)).unwrap();
}

#[test]
fn deliveries_from_another_thread_while_the_ticket_drops() {
    // A head keeps delivering while the owner drops its ticket: every item made is dropped
    // exactly once, whether the drop drained it or the delivery was refused (no ticket any
    // more) and gave it back. A leak would leave the counts apart; a double free would crash.
    let made = AtomicUsize::new(0);
    let drops = Arc::new(AtomicUsize::new(0));
    let stage: Stage<Counted> = Stage::new().unwrap();
    for _ in 0..50 {
        let me = stage.ticket("me").unwrap();
        let before = made.load(Ordering::SeqCst);
        thread::scope(|s| {
            s.spawn(|| loop {
                let n = made.fetch_add(1, Ordering::SeqCst) as u32;
                if stage.deliver("me", Box::new(Counted(Arc::clone(&drops), n))).is_err() {
                    return;
                }
            });
            wait_until(|| made.load(Ordering::SeqCst) > before + 3);
            drop(me);
        });
    }
    assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
    assert_eq!(stage.stats().unwrap().tickets, 0);
}

fn wait_until(mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PATIENCE);
        thread::yield_now();
    }
}

#[test]
fn pollable_enter() {
    let stage: Stage = Stage::new().unwrap();
    let head = stage.ticket("head").unwrap();
    let me = stage.ticket("me").unwrap();
    assert!(me.fd().is_ok());
    assert_eq!(head.enter_start().unwrap(), Some(Outcome::Head));
    assert_eq!(me.enter_start().unwrap(), None); // pending: in line without a thread
    assert_eq!(me.enter_poll().unwrap(), None);
    assert_eq!(stage.stats().unwrap().waiters, 1);
    assert_eq!(errno(&me.enter(None).unwrap_err()), 16); // EBUSY while pending
    head.exit().unwrap();
    assert_eq!(me.enter_poll().unwrap(), Some(Outcome::Head));
    me.exit().unwrap();
    assert_eq!(head.enter_start().unwrap(), Some(Outcome::Head));
    assert_eq!(me.enter_start().unwrap(), None);
    assert_eq!(me.enter_cancel().unwrap(), Outcome::Timeout);
    // Dropped while pending: the drop cancels, then frees.
    assert_eq!(me.enter_start().unwrap(), None);
    drop(me);
    assert_eq!(stage.stats().unwrap().tickets, 1);
    head.exit().unwrap();
}
