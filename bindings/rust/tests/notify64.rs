//! 64 tickets, each waiting in its own thread, notified by a head in another thread: every
//! notification is seen exactly once, by its own thread, over three rounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use exitleft::{Outcome, Stage};

const N: u32 = 64;
const ROUNDS: usize = 3;

fn wait_waiters(stage: &Stage, n: u64) {
    let start = Instant::now();
    while stage.stats().unwrap().waiters != n {
        assert!(start.elapsed() < Duration::from_secs(30), "never reached {} waiters", n);
        thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn sixty_four_tickets_notified_from_a_head() {
    let stage: Stage = Stage::new().unwrap();
    let seen: Vec<AtomicUsize> = (0..N).map(|_| AtomicUsize::new(0)).collect();
    // The head heads before any waiter enters, so every waiter waits in line; then it works
    // from a thread of its own.
    let head = stage.ticket("head").unwrap();
    assert_eq!(head.enter(None).unwrap(), Outcome::Head);
    thread::scope(|s| {
        for i in 0..N {
            let ticket = stage.ticket(i).unwrap();
            let seen = &seen[i as usize];
            s.spawn(move || loop {
                match ticket.enter(None).unwrap() {
                    Outcome::Token => {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                    Outcome::Closed => return,
                    other => panic!("waiter {} got {:?}", i, other),
                }
            });
        }
        let stage = &stage;
        s.spawn(move || {
            for _ in 0..ROUNDS {
                wait_waiters(stage, u64::from(N)); // everyone is back in line
                for i in 0..N {
                    assert!(stage.notify(i).unwrap());
                }
            }
            wait_waiters(stage, u64::from(N));
            stage.close().unwrap();
            head.exit().unwrap();
        });
    });
    for (i, n) in seen.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), ROUNDS, "ticket {}", i);
    }
    let st = stage.stats().unwrap();
    // Each notification woke its waiter (none was recorded for later, none went astray).
    assert_eq!(st.notify_delivered, u64::from(N) * ROUNDS as u64);
    assert_eq!(st.notify_recorded, 0);
    assert_eq!(st.notify_unowned, 0);
}
