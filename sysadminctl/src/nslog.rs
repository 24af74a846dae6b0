//! NSLog's line format: `2026-02-03 16:44:14.812 sysadminctl[24897:5812811] msg`.

use std::io::Write;

pub struct NsLog<'a> {
    w: &'a mut dyn Write,
    pid: u32,
    tid: i64,
}

impl<'a> NsLog<'a> {
    pub fn new(w: &'a mut dyn Write) -> NsLog<'a> {
        let tid = i64::from(nix::unistd::gettid().as_raw());
        NsLog {
            w,
            pid: std::process::id(),
            tid,
        }
    }

    pub fn line(&mut self, msg: &str) {
        let _ = writeln!(
            self.w,
            "{} sysadminctl[{}:{}] {msg}",
            local_timestamp(),
            self.pid,
            self.tid
        );
    }

    pub fn raw(&mut self, text: &str) {
        let _ = self.w.write_all(text.as_bytes());
    }
}

/// Local time with milliseconds, as NSLog prints it.
fn local_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = libc::time_t::try_from(now.as_secs()).unwrap_or_default();
    // The local time zone needs libc's localtime_r: neither std nor nix
    // converts to local time.
    // SAFETY: all-zero is a valid `tm` (integers and a null tm_zone).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // thread-safe variant and keeps no reference to them.
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
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
