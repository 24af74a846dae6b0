//! A builder that repeats one line without end (Darling's
//! `Unimplemented syscall (N)` from a call retried in a loop) must not
//! flood Nix's log: a line repeated more than a few times in a row is
//! passed [`KEEP`] times, then stands as one count line when something else
//! comes (or the builder ends).

use std::io::{self, Write};

/// Copies of a repeated line passed before the rest are counted.
pub const KEEP: u64 = 5;

/// A partial line longer than this is passed on as it is (a builder that
/// writes no newlines is not held back).
const MAX_LINE: usize = 64 * 1024;

/// Line-oriented filter over a log writer. Call [`RepeatFilter::finish`]
/// when the builder has ended, so that a count still pending is written.
pub struct RepeatFilter<W: Write> {
    inner: W,
    partial: Vec<u8>,
    last: Vec<u8>,
    /// How many times `last` came in a row.
    run: u64,
}

impl<W: Write> RepeatFilter<W> {
    /// Wraps the log writer `inner`; no line has been seen yet.
    pub fn new(inner: W) -> Self {
        RepeatFilter {
            inner,
            partial: Vec::new(),
            last: Vec::new(),
            run: 0,
        }
    }

    /// Lines dropped so far as repeats of the current one.
    pub fn pending(&self) -> u64 {
        self.run.saturating_sub(KEEP)
    }

    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.run > 0 && line == self.last.as_slice() {
            self.run += 1;
            if self.run <= KEEP {
                self.inner.write_all(line)?;
            }
            return Ok(());
        }
        self.count()?;
        self.inner.write_all(line)?;
        self.last.clear();
        self.last.extend_from_slice(line);
        self.run = 1;
        Ok(())
    }

    /// Writes the count of the lines dropped since the last one passed.
    fn count(&mut self) -> io::Result<()> {
        let n = self.pending();
        if n > 0 {
            writeln!(self.inner, "... repeated {n} times")?;
        }
        self.run = 0;
        Ok(())
    }

    /// The builder has ended: the partial last line and any pending count.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.line(&rest)?;
        }
        self.count()?;
        self.inner.flush()
    }
}

impl<W: Write> Write for RepeatFilter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(i + 1);
            if self.partial.is_empty() {
                self.line(head)?;
            } else {
                let mut l = std::mem::take(&mut self.partial);
                l.extend_from_slice(head);
                self.line(&l)?;
            }
            rest = tail;
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_LINE {
            let long = std::mem::take(&mut self.partial);
            self.line(&long)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn filter(chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        let mut f = RepeatFilter::new(&mut out);
        for c in chunks {
            f.write_all(c).unwrap();
        }
        f.finish().unwrap();
        drop(f);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_flood_becomes_the_first_copies_and_one_count() {
        let line = b"Unimplemented syscall (544)\n";
        let flood: Vec<u8> = line.repeat(1000);
        let got = filter(&[b"start\n", &flood, b"done\n"]);
        let want = format!(
            "start\n{}... repeated 995 times\ndone\n",
            "Unimplemented syscall (544)\n".repeat(5)
        );
        assert_eq!(got, want);
    }

    #[test]
    fn a_count_pending_at_the_end_is_written() {
        let got = filter(&[&b"x\n".repeat(7)]);
        assert_eq!(got, format!("{}... repeated 2 times\n", "x\n".repeat(5)));
    }

    #[test]
    fn lines_split_across_writes_are_whole_lines() {
        let got = filter(&[b"ab", b"c\nab", b"c\n", b"tail"]);
        assert_eq!(got, "abc\nabc\ntail");
    }

    proptest! {
        /// Collapsing only ever drops repeats: expanding each count line
        /// back gives the input, whatever the chunking.
        #[test]
        fn nothing_but_repeats_is_dropped(
            lines in prop::collection::vec(prop::sample::select(vec!["a\n", "b\n", "c c\n", "\n"]), 0..60),
            cut in prop::collection::vec(1usize..7, 0..30)
        ) {
            let input: String = lines.concat();
            let bytes = input.as_bytes();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cut.iter().cycle().take(bytes.len()) {
                if at >= bytes.len() { break; }
                let end = (at + c).min(bytes.len());
                chunks.push(&bytes[at..end]);
                at = end;
            }
            if at < bytes.len() { chunks.push(&bytes[at..]); }
            let got = filter(&chunks);
            let mut expanded = String::new();
            let mut prev = String::new();
            for l in got.split_inclusive('\n') {
                match l.strip_prefix("... repeated ").and_then(|r| r.strip_suffix(" times\n")) {
                    Some(n) => expanded.push_str(&prev.repeat(n.parse().unwrap())),
                    None => { expanded.push_str(l); prev = l.to_string(); }
                }
            }
            prop_assert_eq!(expanded, input);
        }
    }
}
