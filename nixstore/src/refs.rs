//! Finds references to store paths in a byte stream, the way Nix does:
//! by looking for the 32-character hash part of each candidate path.

use std::collections::{BTreeSet, HashMap};

use crate::base32;

/// Length of a store path's hash part, in base-32 characters (160 bits).
pub const HASH_LEN: usize = 32;

/// Streaming scanner; feed it bytes in chunks of any size.
pub struct RefScanner {
    candidates: HashMap<[u8; HASH_LEN], String>,
    found: BTreeSet<String>,
    /// The last `HASH_LEN - 1` bytes seen, so hashes split across chunks
    /// are still found.
    tail: Vec<u8>,
}

/// The hash part of a store path (`/nix/store/<hash>-name`).
pub fn hash_part(path: &str) -> Option<[u8; HASH_LEN]> {
    let base = path.rsplit('/').next()?;
    let h = base.as_bytes().get(..HASH_LEN)?;
    if h.iter().all(|c| base32::is_digit(*c)) {
        let mut a = [0u8; HASH_LEN];
        a.copy_from_slice(h);
        Some(a)
    } else {
        None
    }
}

impl RefScanner {
    /// A scanner for references to `paths` (store paths); a path without a
    /// valid hash part can never be found and is dropped.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let candidates = paths
            .into_iter()
            .filter_map(|p| hash_part(p).map(|h| (h, p.to_string())))
            .collect();
        RefScanner {
            candidates,
            found: BTreeSet::new(),
            tail: Vec::with_capacity(2 * HASH_LEN),
        }
    }

    /// Scans the next chunk of the stream.
    pub fn feed(&mut self, data: &[u8]) {
        if self.candidates.is_empty() {
            return;
        }
        if !self.tail.is_empty() {
            // Scan the seam between the previous chunk and this one.
            let take = data.len().min(HASH_LEN - 1);
            let mut seam = std::mem::take(&mut self.tail);
            seam.extend_from_slice(&data[..take]);
            self.scan(&seam);
            if data.len() < HASH_LEN - 1 {
                // Still short: keep the seam's last bytes as the new tail.
                let keep = seam.len().min(HASH_LEN - 1);
                self.tail = seam[seam.len() - keep..].to_vec();
                return;
            }
        }
        self.scan(data);
        let keep = data.len().min(HASH_LEN - 1);
        self.tail.clear();
        self.tail.extend_from_slice(&data[data.len() - keep..]);
    }

    fn scan(&mut self, s: &[u8]) {
        let mut i = 0;
        while i + HASH_LEN <= s.len() {
            // Check from the end so an invalid byte lets us skip past it.
            let window = &s[i..i + HASH_LEN];
            match window.iter().rposition(|c| !base32::is_digit(*c)) {
                Some(bad) => i += bad + 1,
                None => {
                    if let Some(p) = self.candidates.get(window) {
                        self.found.insert(p.clone());
                    }
                    i += 1;
                }
            }
        }
    }

    /// The candidate paths found so far.
    pub fn found(&self) -> &BTreeSet<String> {
        &self.found
    }

    /// The candidate paths found, ending the scan.
    pub fn into_found(self) -> BTreeSet<String> {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a";
    const B: &str = "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-b";

    #[test]
    fn finds_hashes_split_across_any_chunking() {
        let text = format!("prefix {A}/bin and {B}");
        for chunk in 1..text.len() {
            let mut s = RefScanner::new([A, B]);
            for c in text.as_bytes().chunks(chunk) {
                s.feed(c);
            }
            assert_eq!(s.found().len(), 2, "chunk size {chunk}");
        }
    }

    #[test]
    fn ignores_lookalikes() {
        let mut s = RefScanner::new([A]);
        s.feed(b"0123456789abcdfghijklmnpqrsvwxy_ 123456789abcdfghijklmnpqrsvwxyz");
        assert!(s.found().is_empty());
    }
}
