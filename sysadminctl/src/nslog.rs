//! NSLog's line format: `2026-02-03 16:44:14.812 sysadminctl[24897:5812811] msg`.

use std::io::Write;

/// A writer of NSLog-style lines, `YYYY-MM-DD HH:MM:SS.mmm
/// sysadminctl[PID:TID] message`, with the local time (UTC when the local
/// offset cannot be determined) and this process's pid and Linux thread id.
pub struct NsLog<'a> {
    w: &'a mut dyn Write,
    pid: u32,
    tid: i64,
}

impl<'a> NsLog<'a> {
    /// A log writing to `w` (sysadminctl's stderr), stamped with the ids of
    /// the calling process and thread.
    pub fn new(w: &'a mut dyn Write) -> NsLog<'a> {
        let tid = i64::from(nix::unistd::gettid().as_raw());
        NsLog {
            w,
            pid: std::process::id(),
            tid,
        }
    }

    /// Write `msg` as one line behind the timestamp and
    /// `sysadminctl[pid:tid]`. Write errors are ignored.
    pub fn line(&mut self, msg: &str) {
        let _ = writeln!(
            self.w,
            "{} sysadminctl[{}:{}] {msg}",
            local_timestamp(),
            self.pid,
            self.tid
        );
    }

    /// Write `text` exactly as given, with no prefix and no added newline
    /// (the usage text). Write errors are ignored.
    pub fn raw(&mut self, text: &str) {
        let _ = self.w.write_all(text.as_bytes());
    }
}

/// Local time with milliseconds, as NSLog prints it (UTC when the local
/// offset cannot be known safely).
fn local_timestamp() -> String {
    let utc = time::OffsetDateTime::now_utc();
    let t = time::UtcOffset::current_local_offset()
        .map(|o| utc.to_offset(o))
        .unwrap_or(utc);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shape() {
        let mut buf = Vec::new();
        NsLog::new(&mut buf).line("hello");
        let s = String::from_utf8(buf).unwrap();
        let (stamp, rest) = s.split_at(23);
        assert!(
            stamp.as_bytes()[4] == b'-'
                && stamp.as_bytes()[10] == b' '
                && stamp.as_bytes()[19] == b'.'
        );
        assert!(
            rest.starts_with(" sysadminctl[") && rest.ends_with("] hello\n"),
            "{rest}"
        );
    }
}
