//! The ulock handlers on the real Linux futex: waits that sleep until woken
//! or timed out, wakes that reach one or every waiter, and XNU's results
//! (minus a Darwin errno).

#![deny(clippy::undocumented_unsafe_blocks)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xnu_fixes::ulock::*;

const ENOENT: i64 = -2;
const EFAULT: i64 = -14;
const EINVAL: i64 = -22;
const ETIMEDOUT: i64 = -60;
const WAIT: u32 = UL_COMPARE_AND_WAIT | ULF_NO_ERRNO;

fn ptr(word: &AtomicU32) -> *mut c_void {
    word.as_ptr().cast()
}

fn wait2(word: &AtomicU32, value: u32, timeout_ns: u64) -> i64 {
    // SAFETY: a live atomic's address.
    unsafe { xnu_fixes_ulock_wait2(WAIT, ptr(word), u64::from(value), timeout_ns, 0) }
}

fn wake(op: u32, word: &AtomicU32) -> i64 {
    // SAFETY: a live atomic's address.
    unsafe { xnu_fixes_ulock_wake(op, ptr(word), 0) }
}

/// How many of this process's threads sleep in the futex syscall (202) on
/// `word` now (other tests' threads, and the harness's, sleep on others).
fn asleep_on(word: &AtomicU32) -> usize {
    let addr = format!("{:#x}", word.as_ptr() as usize);
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("syscall")).ok())
        .filter(|s| {
            let mut f = s.split_whitespace();
            f.next() == Some("202") && f.next() == Some(addr.as_str())
        })
        .count()
}

/// Waits (polling) until `n` threads sleep on `word`, so a wake reaches them.
fn until_asleep(word: &AtomicU32, n: usize) {
    let end = Instant::now() + Duration::from_secs(20);
    while asleep_on(word) < n {
        assert!(Instant::now() < end, "the waiters never went to sleep");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_value_that_already_differs_returns_at_once() {
    let word = AtomicU32::new(7);
    assert_eq!(wait2(&word, 8, 0), 1);
    // SAFETY: a live atomic's address.
    let r = unsafe { xnu_fixes_ulock_wait(UL_UNFAIR_LOCK, ptr(&word), 8, 0) };
    assert_eq!(r, 1);
}

#[test]
fn timeouts_are_nanoseconds_for_wait2_and_microseconds_for_wait() {
    // Darling's own wait turns 50 ms into 50 s; the bound here is 5 s.
    let word = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(wait2(&word, 0, 50_000_000), ETIMEDOUT);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let start = Instant::now();
    // SAFETY: a live atomic's address.
    let r = unsafe { xnu_fixes_ulock_wait(WAIT, ptr(&word), 0, 50_000) };
    assert_eq!(r, ETIMEDOUT);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_wake_with_nobody_waiting_is_enoent() {
    let word = AtomicU32::new(0);
    assert_eq!(wake(WAIT, &word), ENOENT);
    assert_eq!(wake(WAIT | ULF_WAKE_ALL, &word), ENOENT);
}

#[test]
fn a_sleeping_waiter_is_woken_by_a_wake() {
    let word = Arc::new(AtomicU32::new(0));
    let w = Arc::clone(&word);
    let waiter = std::thread::spawn(move || wait2(&w, 0, 0));
    until_asleep(&word, 1);
    word.store(1, Ordering::SeqCst);
    assert_eq!(wake(WAIT, &word), 0);
    assert_eq!(waiter.join().unwrap(), 1);
}

#[test]
fn wake_all_wakes_every_waiter_and_a_plain_wake_one() {
    let word = Arc::new(AtomicU32::new(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let w = Arc::clone(&word);
            // A long timeout, so a waiter a wake missed still ends.
            std::thread::spawn(move || wait2(&w, 0, 30_000_000_000))
        })
        .collect();
    until_asleep(&word, 3);
    assert_eq!(wake(WAIT, &word), 0);
    let end = Instant::now() + Duration::from_secs(10);
    while waiters.iter().filter(|w| w.is_finished()).count() < 1 {
        assert!(Instant::now() < end, "a plain wake woke nobody");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(waiters.iter().filter(|w| w.is_finished()).count(), 1);
    assert_eq!(wake(WAIT | ULF_WAKE_ALL, &word), 0);
    for w in waiters {
        assert_eq!(w.join().unwrap(), 1, "woken, not timed out");
    }
}

#[test]
fn a_raw_private_futex_waiter_is_woken_as_darlings_own_would_be() {
    // Darling's 515 sleeps on FUTEX_WAIT_PRIVATE at the same address: a wake
    // here must reach it.
    let word = Arc::new(AtomicU32::new(0));
    let w = Arc::clone(&word);
    let waiter = std::thread::spawn(move || {
        // SAFETY: futex(addr, FUTEX_WAIT_PRIVATE, 0, NULL) on a live atomic.
        unsafe { nix::libc::syscall(nix::libc::SYS_futex, w.as_ptr(), 128, 0, 0usize) }
    });
    until_asleep(&word, 1);
    assert_eq!(wake(UL_UNFAIR_LOCK | ULF_NO_ERRNO, &word), 0);
    assert_eq!(waiter.join().unwrap(), 0);
}

#[test]
fn what_a_futex_cannot_do_is_einval_and_a_bad_address_efault() {
    let word = AtomicU32::new(0);
    // SAFETY: the kernel checks every address given here.
    unsafe {
        // UL_COMPARE_AND_WAIT64 (5): no 64-bit futex.
        assert_eq!(xnu_fixes_ulock_wait2(5, ptr(&word), 0, 1, 0), EINVAL);
        assert_eq!(xnu_fixes_ulock_wake(5, ptr(&word), 0), EINVAL);
        // A flag XNU does not define.
        assert_eq!(
            xnu_fixes_ulock_wait2(WAIT | 0x8000, ptr(&word), 0, 1, 0),
            EINVAL
        );
        assert_eq!(
            xnu_fixes_ulock_wake(WAIT | ULF_WAIT_CANCEL_POINT, ptr(&word), 0),
            EINVAL
        );
        assert_eq!(
            xnu_fixes_ulock_wait2(WAIT, std::ptr::null_mut(), 0, 1, 0),
            EINVAL
        );
        assert_eq!(xnu_fixes_ulock_wake(WAIT, std::ptr::null_mut(), 0), EINVAL);
        let unmapped = 0x1000 as *mut c_void;
        assert_eq!(xnu_fixes_ulock_wait2(WAIT, unmapped, 0, 1, 0), EFAULT);
    }
}
