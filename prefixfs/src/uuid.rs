//! Random (version 4) UUIDs in upper case, as Directory Services and
//! diskutil print them.

/// A random RFC 4122 version 4 UUID in Apple's uppercase form.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    // The getrandom system call (no /dev/urandom, which a chroot may lack).
    if getrandom::getrandom(&mut b).is_err() {
        // getrandom cannot fail for 16 bytes once the pool is initialised;
        // fall back to time and pid rather than abort a user creation.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        let u = super::new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(u
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(u, super::new_uuid());
    }
}
