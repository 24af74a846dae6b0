//! A fast hasher for the paths of one profile (Fx-style: a rotate, a xor
//! and a multiply per 8 bytes). SipHash costs more than the rest of a map
//! lookup on Nix's long store paths; a crafted profile that collides can
//! only slow down the build that carries it.

use std::hash::{BuildHasherDefault, Hasher};

/// The [`Hasher`] of [`FastMap`]: cheap on long byte strings such as store
/// paths, but not resistant to crafted collisions (see the module docs).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut add = |w: u64| {
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
        };
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            add(u64::from_le_bytes(w));
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        add(u64::from_le_bytes(last));
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;
