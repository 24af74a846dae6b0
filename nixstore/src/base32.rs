//! Nix's base-32 alphabet and encoding (used in store path hashes, in
//! `passAsFile` file names and in hash mismatch messages).

/// The 32 digits in value order: `0-9` and the lower-case letters without
/// `e`, `o`, `t` and `u`.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Whether `c` can appear in a store path hash.
pub fn is_digit(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'a'..=b'd' | b'f'..=b'n' | b'p'..=b's' | b'v'..=b'z')
}

/// Encodes bytes the way Nix prints hashes: the last 5-bit group first.
pub fn encode(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let len = (bytes.len() * 8 - 1) / 5 + 1;
    let mut s = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let lo = (bytes[i] as u16) >> j;
        let hi = if i + 1 < bytes.len() {
            (bytes[i + 1] as u16) << (8 - j)
        } else {
            0
        };
        s.push(ALPHABET[((lo | hi) & 0x1f) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn known_values() {
        // The sha256 of the empty string as Nix prints it in base 32.
        let h = Sha256::digest(b"");
        assert_eq!(
            encode(&h),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert!(ALPHABET.iter().all(|c| is_digit(*c)));
        assert!(!is_digit(b'e') && !is_digit(b'o') && !is_digit(b'u') && !is_digit(b't'));
    }
}
