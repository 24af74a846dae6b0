//! A small seccomp filter for what Landlock cannot do: refuse IP sockets
//! (`network*` denied) and setuid/setgid mode bits (`file-write-setugid`).
//! Unix sockets are never refused: Darling's own IPC uses them.

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

fn op(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8i (low half first).
fn arg(i: u32) -> u32 {
    16 + 8 * i
}

/// The BPF program (exposed for tests).
fn program(deny_inet: bool, deny_setugid: bool) -> Vec<SockFilter> {
    let mut p = vec![
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ, 1, 0, AUDIT_ARCH_X86_64),
        op(RET, 0, 0, ALLOW),
        op(LD_W_ABS, 0, 0, 0),
        // x32 system calls would bypass the numbers below.
        op(JGE, 0, 1, 0x4000_0000),
        op(RET, 0, 0, ERRNO | libc::ENOSYS as u32),
    ];
    if deny_inet {
        p.extend([
            op(JEQ, 0, 5, libc::SYS_socket as u32),
            op(LD_W_ABS, 0, 0, arg(0)),
            op(JEQ, 2, 0, libc::AF_INET as u32),
            op(JEQ, 1, 0, libc::AF_INET6 as u32),
            op(RET, 0, 0, ALLOW),
            op(RET, 0, 0, ERRNO | libc::EACCES as u32),
            op(LD_W_ABS, 0, 0, 0),
        ]);
        // The last LD restores the syscall number for the next check; the
        // JEQ's false branch skips the 5-instruction body onto it.
    }
    if deny_setugid {
        for (nr, a) in [
            (libc::SYS_chmod, 1),
            (libc::SYS_fchmod, 1),
            (libc::SYS_fchmodat, 2),
            (452, 2),
        ] {
            p.extend([
                op(JEQ, 0, 4, nr as u32),
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

/// Installs the filter on this thread (inherited across exec).
pub fn install(deny_inet: bool, deny_setugid: bool) -> io::Result<()> {
    if !deny_inet && !deny_setugid {
        return Ok(());
    }
    let prog = program(deny_inet, deny_setugid);
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: prctl with a valid program that outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_SECCOMP, 2, &fprog as *const SockFprog, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
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
}
