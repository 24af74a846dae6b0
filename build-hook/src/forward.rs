//! Hands requests the Darling hook does not want to another build hook
//! (normally Nix's own `build-remote`), so ordinary remote builders keep
//! working. The other hook sees the same settings and requests; once it
//! accepts, this process only relays.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::protocol::{BuildInputs, Reply, Settings, TryRequest};
use crate::wire::WireWriter;

/// Another build hook (the `forward` key) running as a child: it gets the
/// same settings block and the `try` requests this hook declines, and its
/// stdout and stderr come back on one pipe. Dropping it closes its stdin,
/// which ends the conversation, and kills it if it has not exited.
pub struct Forwarder {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: BufReader<io::PipeReader>,
}

impl Forwarder {
    /// Starts `argv` plus the verbosity, with fds 4 and 5 passed through,
    /// and sends it the settings block.
    pub fn start(argv: &[String], verbosity: u8, settings: &Settings) -> io::Result<Forwarder> {
        let (r, w) = io::pipe()?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .arg(verbosity.to_string())
            .stdin(Stdio::piped())
            .stdout(w.try_clone()?)
            .stderr(w);
        // SAFETY: fcntl is async-signal-safe. The other hook needs Nix's log
        // pipe (fd 4) and build-remote's fd-5 trick, which we marked CLOEXEC.
        unsafe {
            cmd.pre_exec(|| {
                for fd in [4, 5] {
                    let fl = libc::fcntl(fd, libc::F_GETFD);
                    if fl >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut w = WireWriter::new();
        settings.encode(&mut w);
        stdin.write_all(&w.buf)?;
        Ok(Forwarder {
            child,
            stdin: Some(stdin),
            replies: BufReader::new(r),
        })
    }

    /// Asks the other hook; its log lines are passed on to Nix as they come.
    pub fn ask(&mut self, req: &TryRequest, out: &mut dyn Write) -> io::Result<Reply> {
        let mut w = WireWriter::new();
        req.encode(&mut w);
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("forwarded hook already finished"))?;
        stdin.write_all(&w.buf)?;
        stdin.flush()?;
        loop {
            let line = self.read_line()?;
            if let Some(mut reply) = Reply::parse_word(line.trim_end_matches('\n')) {
                if let Reply::Accept(label) = &mut reply {
                    *label = self.read_line()?.trim_end_matches('\n').to_string();
                }
                return Ok(reply);
            }
            if line.starts_with("# ") {
                return Err(io::Error::other(format!(
                    "forwarded hook sent a bad reply {:?}",
                    line.trim_end()
                )));
            }
            out.write_all(line.as_bytes())?;
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.replies.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "forwarded hook exited without replying",
            ));
        }
        Ok(line)
    }

    /// After an accept: passes the inputs on, closes its stdin, relays its
    /// output until it exits, and returns its exit status.
    pub fn complete(mut self, inputs: &BuildInputs, out: &mut dyn Write) -> io::Result<i32> {
        let mut w = WireWriter::new();
        inputs.encode(&mut w);
        if let Some(mut stdin) = self.stdin.take() {
            stdin.write_all(&w.buf)?;
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = self.replies.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let _ = out.write_all(&buf[..n]);
        }
        let st = self.child.wait()?;
        Ok(st.code().unwrap_or(1))
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // Closing stdin is the protocol's "no more requests".
        self.stdin.take();
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
