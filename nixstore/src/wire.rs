//! The primitives of Nix's worker-protocol encoding, as the build hook
//! receives them on stdin: little-endian u64s, length-prefixed byte strings
//! padded to 8 bytes, and counted lists of strings.
//!
//! The reader is defensive: Nix never sends a string longer than a setting
//! value or a store path, so lengths and counts above generous limits are
//! reported as malformed input instead of being allocated.

use std::io::{self, Read};

/// Longest string accepted (settings such as `nix-path` can be long, but
/// nothing Nix sends comes near this).
pub const MAX_STRING: u64 = 16 << 20;
/// Most elements accepted in one list (an input closure can be large).
pub const MAX_COUNT: u64 = 1 << 20;

/// Why worker-protocol input could not be read. Each `what` is the
/// caller's name for the value being read, a phrase such as `a store path`
/// that the message quotes.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The input ended partway through a value.
    #[error("input ended in the middle of {what}")]
    Truncated {
        /// The value being read.
        what: &'static str,
    },
    /// A string's length prefix is above [`MAX_STRING`].
    #[error("{what} claims {len} bytes, more than the limit of {max}")]
    TooLong {
        /// The value being read.
        what: &'static str,
        /// The length the prefix claims, in bytes.
        len: u64,
        /// The limit it broke, in bytes.
        max: u64,
    },
    /// A list's count is above [`MAX_COUNT`].
    #[error("{what} claims {count} elements, more than the limit of {max}")]
    TooMany {
        /// The value being read.
        what: &'static str,
        /// The number of elements the count claims.
        count: u64,
        /// The limit it broke.
        max: u64,
    },
    /// The padding after a string held a non-zero byte.
    #[error("non-zero padding after {what}")]
    BadPadding {
        /// The value being read.
        what: &'static str,
    },
    /// An entry of a settings block began with a tag other than 0 or 1.
    #[error("unexpected tag {tag} in the settings block (expected 0 or 1)")]
    BadTag {
        /// The tag found.
        tag: u64,
    },
    /// A string that must be text is not valid UTF-8.
    #[error("{what} is not valid UTF-8")]
    NotUtf8 {
        /// The value being read.
        what: &'static str,
    },
    /// Reading the source failed (interrupted reads are retried, not
    /// reported).
    #[error("reading {what}: {source}")]
    Io {
        /// The value being read.
        what: &'static str,
        /// The error from the source.
        source: io::Error,
    },
}

/// The result of reading worker-protocol input.
pub type Result<T> = std::result::Result<T, WireError>;

/// Reads worker-protocol values from any byte source.
pub struct WireReader<R> {
    inner: R,
}

impl<R: Read> WireReader<R> {
    /// Reads from `inner`. Values are read with small reads straight from
    /// it, so a pipe or file is best given buffered.
    pub fn new(inner: R) -> Self {
        WireReader { inner }
    }

    /// Fills `buf` completely. `Ok(false)` means the input ended before the
    /// first byte, which callers treat as a clean end where one is allowed.
    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(WireError::Truncated { what }),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(WireError::Io { what, source }),
            }
        }
        Ok(true)
    }

    /// A u64, or `None` if the input ended cleanly before it.
    pub fn read_u64_or_eof(&mut self, what: &'static str) -> Result<Option<u64>> {
        let mut b = [0u8; 8];
        if self.fill(&mut b, what)? {
            Ok(Some(u64::from_le_bytes(b)))
        } else {
            Ok(None)
        }
    }

    /// A u64 (8 bytes, little-endian); an end of input before it is
    /// [`WireError::Truncated`].
    pub fn read_u64(&mut self, what: &'static str) -> Result<u64> {
        self.read_u64_or_eof(what)?
            .ok_or(WireError::Truncated { what })
    }

    /// A byte string: its length as a u64, its bytes, then zero padding to a
    /// multiple of 8 bytes. Lengths above [`MAX_STRING`] are refused before
    /// anything is allocated.
    pub fn read_bytes(&mut self, what: &'static str) -> Result<Vec<u8>> {
        let len = self.read_u64(what)?;
        self.read_body(len, what)
    }

    /// The body of a string whose length was already read.
    pub fn read_body(&mut self, len: u64, what: &'static str) -> Result<Vec<u8>> {
        if len > MAX_STRING {
            return Err(WireError::TooLong {
                what,
                len,
                max: MAX_STRING,
            });
        }
        let mut data = vec![0u8; len as usize];
        if !data.is_empty() && !self.fill(&mut data, what)? {
            return Err(WireError::Truncated { what });
        }
        let pad = padding(len);
        if pad > 0 {
            let mut p = [0u8; 8];
            if !self.fill(&mut p[..pad], what)? {
                return Err(WireError::Truncated { what });
            }
            if p[..pad].iter().any(|&b| b != 0) {
                return Err(WireError::BadPadding { what });
            }
        }
        Ok(data)
    }

    /// A byte string ([`read_bytes`](Self::read_bytes)) that must be UTF-8.
    pub fn read_string(&mut self, what: &'static str) -> Result<String> {
        String::from_utf8(self.read_bytes(what)?).map_err(|_| WireError::NotUtf8 { what })
    }

    /// A list of strings: a u64 count (at most [`MAX_COUNT`]), then that
    /// many [`read_string`](Self::read_string)s.
    pub fn read_strings(&mut self, what: &'static str) -> Result<Vec<String>> {
        let count = self.read_u64(what)?;
        if count > MAX_COUNT {
            return Err(WireError::TooMany {
                what,
                count,
                max: MAX_COUNT,
            });
        }
        (0..count).map(|_| self.read_string(what)).collect()
    }
}

/// Zero bytes that follow a string of `len` bytes.
pub fn padding(len: u64) -> usize {
    ((8 - len % 8) % 8) as usize
}

/// Encodes worker-protocol values (used to replay requests to a forwarded
/// hook, and by tests to play Nix's part).
#[derive(Default, Debug, Clone)]
pub struct WireWriter {
    /// The encoded bytes so far, ready to be written out.
    pub buf: Vec<u8>,
}

impl WireWriter {
    /// A writer with nothing encoded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `v` as 8 little-endian bytes.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends `s` as a byte string: its length, its bytes, then zeros up
    /// to a multiple of 8 bytes.
    pub fn bytes(&mut self, s: &[u8]) -> &mut Self {
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s);
        self.buf
            .extend(std::iter::repeat_n(0u8, padding(s.len() as u64)));
        self
    }

    /// Appends `s` as a byte string ([`bytes`](Self::bytes)).
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends a list of strings: the count, then each string, as
    /// [`WireReader::read_strings`] reads it.
    pub fn strings<S: AsRef<str>>(&mut self, items: &[S]) -> &mut Self {
        self.u64(items.len() as u64);
        for s in items {
            self.str(s.as_ref());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_with_padding() {
        let mut w = WireWriter::new();
        w.str("").str("a").str("12345678").strings(&["x", "yz"]);
        // "" = 8, "a" = 8+8, "12345678" = 8+8, list = 8 + 16 + 16
        assert_eq!(w.buf.len(), 8 + 16 + 16 + 40);
        let mut r = WireReader::new(&w.buf[..]);
        assert_eq!(r.read_string("a").unwrap(), "");
        assert_eq!(r.read_string("b").unwrap(), "a");
        assert_eq!(r.read_string("c").unwrap(), "12345678");
        assert_eq!(r.read_strings("d").unwrap(), vec!["x", "yz"]);
        assert!(r.read_u64_or_eof("e").unwrap().is_none());
    }

    #[test]
    fn rejects_bad_padding_and_huge_lengths() {
        let mut w = WireWriter::new();
        w.str("a");
        w.buf[9] = 1;
        let e = WireReader::new(&w.buf[..]).read_string("x").unwrap_err();
        assert!(matches!(e, WireError::BadPadding { .. }), "{e}");

        let huge = (MAX_STRING + 1).to_le_bytes();
        let e = WireReader::new(&huge[..]).read_bytes("x").unwrap_err();
        assert!(matches!(e, WireError::TooLong { .. }), "{e}");
    }

    #[test]
    fn truncation_inside_a_value_is_an_error() {
        let mut w = WireWriter::new();
        w.str("hello");
        for cut in 1..w.buf.len() {
            let e = WireReader::new(&w.buf[..cut]).read_string("s").unwrap_err();
            assert!(matches!(e, WireError::Truncated { .. }), "cut {cut}: {e}");
        }
    }
}
