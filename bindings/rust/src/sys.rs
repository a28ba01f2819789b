//! The raw layer: the whole public C API of include/exitleft.h, declared by hand.
//!
//! Every function returns 0 (or a documented non-negative value) on success and a negative
//! errno value on error; outcomes are positive. See exitleft(3) and the header for the
//! contract. Nothing here is checked: use the safe layer in the crate root.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_long, c_void};

/// EXITLEFT_TOKEN_MAX: the longest token, in bytes (fits a `struct sockaddr_storage`).
pub const EXITLEFT_TOKEN_MAX: usize = 128;

/// enum exitleft_outcome
pub const EXITLEFT_HEAD: c_int = 1;
pub const EXITLEFT_TOKEN: c_int = 2;
pub const EXITLEFT_TIMEOUT: c_int = 3;
pub const EXITLEFT_CLOSED: c_int = 4;
/// Outcome of exitleft_enter_start() and exitleft_enter_poll(): in line, undecided (1.2).
pub const EXITLEFT_PENDING: c_int = 5;

/// Opaque: allocated and freed by the library only.
#[repr(C)]
pub struct exitleft_stage {
    _opaque: [u8; 0],
}

/// Opaque: allocated and freed by the library only.
#[repr(C)]
pub struct exitleft_ticket {
    _opaque: [u8; 0],
}

/// `struct timespec` of the C library (time_t is a long on the targets this supports).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct timespec {
    pub tv_sec: c_long,
    pub tv_nsec: c_long,
}

/// struct exitleft_stats (since 1.1). It only ever grows at its end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct exitleft_stats {
    pub tickets: u64,
    pub waiters: u64,
    pub heads: u64,
    pub notify_delivered: u64,
    pub notify_recorded: u64,
    pub notify_unowned: u64,
    pub timeouts: u64,
    pub closes: u64,
}

extern "C" {
    // EXITLEFT_1.0
    pub fn exitleft_stage_new(stagep: *mut *mut exitleft_stage) -> c_int;
    pub fn exitleft_stage_close(stage: *mut exitleft_stage) -> c_int;
    pub fn exitleft_stage_free(stage: *mut exitleft_stage) -> c_int;
    pub fn exitleft_ticket_new(
        stage: *mut exitleft_stage,
        token: *const c_void,
        len: usize,
        ticketp: *mut *mut exitleft_ticket,
    ) -> c_int;
    pub fn exitleft_ticket_free(ticket: *mut exitleft_ticket) -> c_int;
    pub fn exitleft_enter(ticket: *mut exitleft_ticket, deadline: *const timespec) -> c_int;
    pub fn exitleft_exit(ticket: *mut exitleft_ticket) -> c_int;
    pub fn exitleft_notify(stage: *mut exitleft_stage, token: *const c_void, len: usize) -> c_int;
    pub fn exitleft_deliver(
        stage: *mut exitleft_stage,
        token: *const c_void,
        len: usize,
        item: *mut c_void,
    ) -> c_int;
    pub fn exitleft_take(ticket: *mut exitleft_ticket, itemp: *mut *mut c_void) -> c_int;
    pub fn exitleft_strerror(rc: c_int) -> *const c_char;
    pub fn exitleft_version() -> *const c_char;

    // EXITLEFT_1.1
    pub fn exitleft_stage_stats(
        stage: *const exitleft_stage,
        stats: *mut exitleft_stats,
        size: usize,
    ) -> c_int;

    // EXITLEFT_1.2: pollable tickets and bounded mailboxes
    pub fn exitleft_ticket_fd(ticket: *mut exitleft_ticket) -> c_int;
    pub fn exitleft_enter_start(ticket: *mut exitleft_ticket) -> c_int;
    pub fn exitleft_enter_poll(ticket: *mut exitleft_ticket) -> c_int;
    pub fn exitleft_enter_cancel(ticket: *mut exitleft_ticket) -> c_int;
    pub fn exitleft_ticket_limit(ticket: *mut exitleft_ticket, max_items: usize) -> c_int;
}

/// CLOCK_MONOTONIC, for turning an `Instant` into the library's absolute deadline.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const CLOCK_MONOTONIC: c_int = 1;
#[cfg(target_os = "freebsd")]
pub const CLOCK_MONOTONIC: c_int = 4;

extern "C" {
    pub fn clock_gettime(clock: c_int, tp: *mut timespec) -> c_int;
}
