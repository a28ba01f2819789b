//! exit_left's motivating use, ported: one unconnected UdpSocket serves every peer from a
//! thread of its own. The head reads the socket; a datagram of its own peer it keeps, any
//! other it files in the shared buffer and notifies that peer's thread, which wakes alone.
//!
//! This file is written against exit_left 0.1's API: only the `use` line below names this
//! crate (`use exit_left::{...}` with the original).
use exitleft::compat::{Director, Exit, Stage};

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

type Buffer = HashMap<SocketAddr, VecDeque<Vec<u8>>>;

const PEERS: usize = 8;
const ROUNDS: u32 = 50;
const PATIENCE: Duration = Duration::from_secs(30);

/// One peer's thread: answer `ROUNDS` datagrams of `peer` with "<n> <datagram>".
fn serve(stage: &Stage<SocketAddr, UdpSocket, Buffer>, peer: SocketAddr) {
    let mut answered = 0;
    while answered < ROUNDS {
        // The ticket first, then the buffer: a datagram filed after this look notifies the
        // ticket, so the enter below returns at once instead of missing it.
        let ticket = stage.ticket(peer).expect("one thread per peer");
        let filed = stage.buffer().get_mut(&peer).and_then(VecDeque::pop_front);
        let datagram = match filed {
            Some(d) => Some(d),
            None => match stage.enter(ticket, Some(PATIENCE), |dir| read_until_mine(dir, peer)) {
                Exit::Finished(mine) => mine,
                Exit::Token => None, // look in the buffer again
                Exit::Timeout => panic!("peer {} heard nothing for {:?}", peer, PATIENCE),
            },
        };
        if let Some(d) = datagram {
            answered += 1;
            let answer = format!("{} {}", answered, String::from_utf8_lossy(&d));
            // Answering does not need headship: sending on a UDP socket while the head
            // reads it is safe, which is what exit_left's backdoor is for.
            unsafe { stage.backdoor() }.send_to(answer.as_bytes(), peer).unwrap();
        }
    }
}

/// As head: read until a datagram of our own peer comes, filing the others' and waking them.
/// Steps down (returns None) when the socket is quiet, so that a thread whose peer has
/// nothing more to say does not keep the socket.
fn read_until_mine(dir: &Director<SocketAddr, UdpSocket, Buffer>, me: SocketAddr) -> Option<Vec<u8>> {
    let mut buf = [0u8; 1500];
    loop {
        match dir.resource().recv_from(&mut buf) {
            Ok((n, from)) if from == me => return Some(buf[..n].to_vec()),
            Ok((n, from)) => {
                dir.buffer(|b| b.entry(from).or_default().push_back(buf[..n].to_vec()));
                dir.notify(from);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return None
            }
            Err(e) => panic!("recv_from: {}", e),
        }
    }
}

#[test]
fn one_udp_socket_a_thread_per_peer() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let server = socket.local_addr().unwrap();
    let clients: Vec<UdpSocket> = (0..PEERS)
        .map(|_| {
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(PATIENCE)).unwrap();
            c
        })
        .collect();
    let stage = Stage::new(socket, Buffer::new());
    thread::scope(|s| {
        for c in &clients {
            let peer = c.local_addr().unwrap();
            let stage = &stage;
            s.spawn(move || serve(stage, peer));
        }
        for (i, c) in clients.iter().enumerate() {
            s.spawn(move || {
                // Ping-pong: every answer checked, none lost, in order.
                let mut buf = [0u8; 1500];
                for n in 1..=ROUNDS {
                    let msg = format!("peer{}-{}", i, n);
                    c.send_to(msg.as_bytes(), server).unwrap();
                    let (len, from) = c.recv_from(&mut buf).expect("an answer");
                    assert_eq!(from, server);
                    assert_eq!(std::str::from_utf8(&buf[..len]).unwrap(), format!("{} {}", n, msg));
                }
            });
        }
    });
    assert!(stage.buffer().values().all(VecDeque::is_empty));
}
