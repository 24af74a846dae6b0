//! A small seccomp filter for what Landlock cannot do: refuse IP sockets
//! (`network*` denied) and setuid/setgid mode bits (`file-write-setugid`).
//! Unix sockets are never refused: Darling's own IPC uses them. 32-bit
//! (i386) calls are checked with their own numbers; x32 calls and other
//! architectures are refused with ENOSYS, so none slips past.

use std::io;

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const LD_W_ABS: u16 = 0x20;
const JEQ: u16 = 0x15;
const JGE: u16 = 0x35;
const JSET: u16 = 0x45;
const RET: u16 = 0x06;
const ALLOW: u32 = 0x7fff_0000;
const ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 calls are x86_64 calls with this bit in the number.
const X32_BIT: u32 = 0x4000_0000;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8i (low half first).
fn arg(i: u32) -> u32 {
    16 + 8 * i
}

/// The system call numbers the filter looks at, per architecture.
struct Numbers {
    socket: u32,
    /// i386's multiplexer: `socketcall(SYS_SOCKET, args)` creates sockets
    /// with the domain in memory the filter cannot read.
    socketcall: Option<u32>,
    /// (number, index of the mode argument)
    chmods: [(u32, u32); 4],
}

const X86_64: Numbers = Numbers {
    socket: libc::SYS_socket as u32,
    socketcall: None,
    chmods: [
        (libc::SYS_chmod as u32, 1),
        (libc::SYS_fchmod as u32, 1),
        (libc::SYS_fchmodat as u32, 2),
        (452, 2), // fchmodat2 (Linux 6.6; not in every libc crate)
    ],
};

/// arch/x86/entry/syscalls/syscall_32.tbl; the libc crate only carries the
/// numbers of the target it is built for.
const I386: Numbers = Numbers {
    socket: 359,
    socketcall: Some(102),
    chmods: [(15, 1), (94, 1), (306, 2), (452, 2)],
};

/// socketcall's first argument for socket(2).
const SYS_SOCKET: u32 = 1;

/// The checks for one architecture, ending in ALLOW. Expects the syscall
/// number in the accumulator.
fn checks(n: &Numbers, deny_inet: bool, deny_setugid: bool) -> Vec<SockFilter> {
    let mut p = Vec::new();
    if deny_inet {
        p.extend([
            op(JEQ, 0, 5, n.socket),
            op(LD_W_ABS, 0, 0, arg(0)),
            op(JEQ, 2, 0, libc::AF_INET as u32),
            op(JEQ, 1, 0, libc::AF_INET6 as u32),
            op(RET, 0, 0, ALLOW),
            op(RET, 0, 0, ERRNO | libc::EACCES as u32),
            op(LD_W_ABS, 0, 0, 0),
        ]);
        // The last LD restores the syscall number for the next check; the
        // JEQ's false branch skips the 5-instruction body onto it.
        if let Some(sc) = n.socketcall {
            // The domain is behind a pointer: every socket made through
            // socketcall is refused (32-bit libcs use socket(2) itself).
            p.extend([
                op(JEQ, 0, 4, sc),
                op(LD_W_ABS, 0, 0, arg(0)),
                op(JEQ, 0, 1, SYS_SOCKET),
                op(RET, 0, 0, ERRNO | libc::EACCES as u32),
                op(LD_W_ABS, 0, 0, 0),
            ]);
        }
    }
    if deny_setugid {
        for (nr, a) in n.chmods {
            p.extend([
                op(JEQ, 0, 4, nr),
                op(LD_W_ABS, 0, 0, arg(a)),
                op(JSET, 0, 1, 0o6000),
                op(RET, 0, 0, ERRNO | libc::EPERM as u32),
                op(RET, 0, 0, ALLOW),
            ]);
        }
    }
    p.push(op(RET, 0, 0, ALLOW));
    p
}

/// The BPF program. Fails closed: x86_64 and i386 calls are checked with
/// their own numbers, x32 calls and any other architecture get ENOSYS.
fn program(deny_inet: bool, deny_setugid: bool) -> Vec<SockFilter> {
    let mut x64 = vec![
        op(LD_W_ABS, 0, 0, 0),
        op(JGE, 0, 1, X32_BIT),
        op(RET, 0, 0, ERRNO | libc::ENOSYS as u32),
    ];
    x64.extend(checks(&X86_64, deny_inet, deny_setugid));
    let mut i386 = vec![op(LD_W_ABS, 0, 0, 0)];
    i386.extend(checks(&I386, deny_inet, deny_setugid));
    let to_i386 = u8::try_from(x64.len() + 1).expect("a short filter");
    let mut p = vec![
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ, 2, 0, AUDIT_ARCH_X86_64),
        op(JEQ, to_i386, 0, AUDIT_ARCH_I386),
        op(RET, 0, 0, ERRNO | libc::ENOSYS as u32),
    ];
    p.extend(x64);
    p.extend(i386);
    p
}

/// Installs the filter on this thread (inherited across exec).
pub fn install(deny_inet: bool, deny_setugid: bool) -> io::Result<()> {
    if !deny_inet && !deny_setugid {
        return Ok(());
    }
    let prog = program(deny_inet, deny_setugid);
    let fprog = SockFprog {
        len: u16::try_from(prog.len()).expect("a short filter"),
        filter: prog.as_ptr(),
    };
    nix::sys::prctl::set_no_new_privs()?;
    // SAFETY: PR_SET_SECCOMP with SECCOMP_MODE_FILTER reads the sock_fprog
    // and the instructions it points to during the call only; both live
    // until it returns. No safe wrapper exists in `nix` or `libc`.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const SockFprog,
            0,
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_stay_inside_the_program() {
        for (a, b) in [(true, true), (true, false), (false, true)] {
            let p = program(a, b);
            for (i, ins) in p.iter().enumerate() {
                if ins.code & 0x07 == 0x05 {
                    assert!(
                        i + 1 + (ins.jt.max(ins.jf) as usize) < p.len(),
                        "jump out of range at {i}"
                    );
                }
            }
            assert_eq!(p.last().unwrap().code, RET);
        }
    }

    /// Runs the program over one call as the kernel would (only the
    /// instructions we emit).
    fn verdict(p: &[SockFilter], arch: u32, nr: u32, args: [u32; 3]) -> u32 {
        let word = |off: u32| match off {
            0 => nr,
            4 => arch,
            o => args[((o - 16) / 8) as usize],
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = p[pc];
            pc += 1;
            let taken = match i.code {
                LD_W_ABS => {
                    acc = word(i.k);
                    continue;
                }
                RET => return i.k,
                JEQ => acc == i.k,
                JGE => acc >= i.k,
                JSET => acc & i.k != 0,
                c => panic!("unexpected opcode {c:#x}"),
            };
            pc += if taken { i.jt } else { i.jf } as usize;
        }
    }

    #[test]
    fn fails_closed_for_other_architectures() {
        let p = program(true, true);
        let deny = |e: i32| ERRNO | e as u32;
        let inet = libc::AF_INET as u32;
        let unix = libc::AF_UNIX as u32;
        let x = AUDIT_ARCH_X86_64;
        assert_eq!(verdict(&p, x, 41, [inet, 1, 0]), deny(libc::EACCES));
        assert_eq!(verdict(&p, x, 41, [unix, 1, 0]), ALLOW);
        assert_eq!(verdict(&p, x, 90, [0, 0o4755, 0]), deny(libc::EPERM));
        assert_eq!(verdict(&p, x, 90, [0, 0o755, 0]), ALLOW);
        assert_eq!(
            verdict(&p, x, X32_BIT | 41, [inet, 1, 0]),
            deny(libc::ENOSYS)
        );
        let i = AUDIT_ARCH_I386;
        assert_eq!(verdict(&p, i, 359, [inet, 1, 0]), deny(libc::EACCES));
        assert_eq!(verdict(&p, i, 359, [unix, 1, 0]), ALLOW);
        assert_eq!(verdict(&p, i, 102, [SYS_SOCKET, 0, 0]), deny(libc::EACCES));
        assert_eq!(verdict(&p, i, 102, [3, 0, 0]), ALLOW);
        assert_eq!(verdict(&p, i, 15, [0, 0o2755, 0]), deny(libc::EPERM));
        assert_eq!(verdict(&p, i, 306, [0, 0, 0o4000]), deny(libc::EPERM));
        assert_eq!(verdict(&p, i, 4, [0, 0, 0]), ALLOW);
        // aarch64, or anything else: nothing is known about its numbers.
        assert_eq!(
            verdict(&p, 0xc000_00b7, 198, [inet, 1, 0]),
            deny(libc::ENOSYS)
        );
    }
}
