//! exitleft::compat: the exit_left 0.1 surface, with real threads.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use exitleft::compat::{Director, Exit, Stage};

const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn a_token_is_held_by_one_ticket() {
    let stage: Stage<String, (), ()> = Stage::new((), ());
    let a = stage.ticket("a".to_string()).unwrap();
    assert!(stage.ticket("a".to_string()).is_none());
    drop(a);
    assert!(stage.ticket("a".to_string()).is_some());
}

#[test]
fn the_head_runs_and_leaving_the_closure_exits() {
    let stage = Stage::new(41u32, Vec::<u32>::new());
    let t = stage.ticket(1u8).unwrap();
    let r = stage.enter(t, None, |dir: &Director<u8, u32, Vec<u32>>| {
        dir.buffer(|b| b.push(*dir.resource()));
        *dir.resource() + 1
    });
    assert_eq!(r, Exit::Finished(42));
    assert_eq!(*stage.buffer(), vec![41]);
    // The stage was exited: the next enter heads at once.
    let t = stage.ticket(1u8).unwrap();
    assert_eq!(stage.enter(t, Some(Duration::ZERO), |_| ()), Exit::Finished(()));
    assert_eq!(unsafe { *stage.backdoor() }, 41);
}

#[test]
fn a_notification_before_enter_is_kept() {
    let stage = Stage::new((), ());
    let b = stage.ticket("b").unwrap();
    let a = stage.ticket("a").unwrap();
    // a heads and notifies b, which holds a ticket but has not entered yet.
    assert_eq!(stage.enter(a, None, |dir| dir.notify("b")), Exit::Finished(()));
    // The stage has no head, yet b's enter returns Token: the notification was kept.
    assert_eq!(stage.enter(b, None, |_| panic!("b must not head")), Exit::Token::<()>);
    // Notifying a token nobody holds does nothing.
    let a = stage.ticket("a").unwrap();
    assert_eq!(stage.enter(a, None, |dir| dir.notify("nobody")), Exit::Finished(()));
}

#[test]
fn timeouts_and_wakes_while_another_thread_heads() {
    let stage = Stage::new((), 0u32);
    let (entered_tx, entered_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let stage = &stage;
        let t = stage.ticket("head").unwrap();
        s.spawn(move || {
            let r = stage.enter(t, None, |dir| {
                entered_tx.send(()).unwrap();
                go_rx.recv_timeout(PATIENCE).unwrap(); // head until told
                dir.buffer(|b| *b = 7);
                dir.notify("me");
                "headed"
            });
            assert_eq!(r, Exit::Finished("headed"));
        });
        entered_rx.recv_timeout(PATIENCE).unwrap(); // someone heads now
        let me = stage.ticket("me").unwrap();
        let r = stage.enter(me, Some(Duration::from_millis(10)), |_| unreachable!());
        assert_eq!(r, Exit::<()>::Timeout);
        // Waiting without a limit now: the head files 7 in the buffer and notifies us.
        let me = stage.ticket("me").unwrap();
        go_tx.send(()).unwrap();
        let r = stage.enter(me, None, |_| unreachable!());
        // Token whether the head notified while we waited or just before we entered: the
        // notification is kept for a ticket taken before it was sent.
        assert_eq!(r, Exit::<()>::Token);
        assert_eq!(*stage.buffer(), 7);
    });
}

#[test]
fn promotion_is_first_in_first_out() {
    let stage = Stage::new((), Vec::new());
    let (in_tx, in_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let stage = &stage;
        let head = stage.ticket(100u32).unwrap();
        s.spawn(move || {
            stage.enter(head, None, |_| {
                in_tx.send(()).unwrap();
                go_rx.recv_timeout(PATIENCE).unwrap();
            })
        });
        in_rx.recv_timeout(PATIENCE).unwrap();
        for i in 0..4u32 {
            let t = stage.ticket(i).unwrap();
            s.spawn(move || {
                let r = stage.enter(t, None, |dir| dir.buffer(|b| b.push(i)));
                assert_eq!(r, Exit::Finished(()));
            });
            wait_waiters(stage, u64::from(i) + 1); // i is in line before i + 1 enters
        }
        go_tx.send(()).unwrap();
    });
    assert_eq!(*stage.buffer(), vec![0, 1, 2, 3]);
}

/// Waits until `n` threads wait in the stage (compat's one addition to exit_left's surface
/// is the core stage's counters).
fn wait_waiters<T: std::hash::Hash + Eq + Clone, R, B>(stage: &Stage<T, R, B>, n: u64) {
    let start = std::time::Instant::now();
    while stage.stats().waiters != n {
        assert!(start.elapsed() < PATIENCE, "never reached {} waiters", n);
        thread::sleep(Duration::from_micros(200));
    }
}
