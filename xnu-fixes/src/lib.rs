//! Syscall translations Darling lacks, as a `#![no_std]` library linked into
//! Darling's syscall emulation (libsystem_kernel). Every handler follows
//! Darling's convention: return a value >= 0, or minus a **Darwin** errno.
//! The two errno numberings have distinct types: Linux syscalls fail with a
//! [`sys::LinuxErrno`], handlers report an [`errno::DarwinErrno`] (returned
//! as [`DarwinErrno::neg`](errno::DarwinErrno::neg)), and the only way from
//! the first to the second is the translation table
//! ([`LinuxErrno::to_darwin`](sys::LinuxErrno::to_darwin)).
//!
//! The library has no allocator, no TLS and no unwinding. It reaches the
//! kernel only through [`sys`] (`__linux_syscall`) and gets host paths
//! through one hook (`xnu_fixes_translate_path`); Darling provides both,
//! and the `linux-shim` feature provides them for tests on plain Linux.
//! The C interface is `include/xnu_fixes.h`.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]
// Every unsafe operation sits in its own block with a `// SAFETY:` comment,
// also inside `unsafe fn`s.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod attrs;
pub mod clone;
pub mod entropy;
pub mod errno;
pub mod flags;
pub mod rename;
pub mod rlimit;
pub mod sandbox;
pub mod setattrs;
pub mod sys;
pub mod ulock;

#[cfg(all(feature = "staticlib", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No unwinding and no I/O in here: stop the process the way abort does.
    loop {
        let _ = sys::syscall(231, [134, 0, 0, 0, 0, 0]); // exit_group(134)
    }
}

/// The precompiled `core` is built for unwinding and names this symbol; with
/// `panic = "abort"` nothing ever calls it. Defined here so the archive
/// needs nothing beyond its declared hooks.
#[cfg(all(feature = "staticlib", not(test)))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
