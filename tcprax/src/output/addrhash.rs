//! A cheap hash for the printers' per-host maps, keyed by address.
//!
//! std's default SipHash guards a map against keys an adversary picks to collide; these keys
//! are the scan's own targets (every verdict is for an address the scan chose to probe), so
//! nobody outside picks them, and SipHash would be a good part of what a verdict costs the
//! printers. Each word is folded in with a xor and a multiply by an odd constant, and `finish`
//! mixes every bit into every other: hashbrown takes the bucket from the low bits and a tag
//! from the top seven, and both must vary across consecutive addresses.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// A `HashMap` keyed by address, with [`AddrHasher`].
pub(crate) type AddrMap<V> = HashMap<IpAddr, V, BuildHasherDefault<AddrHasher>>;

/// 2^64 divided by the golden ratio, made odd: consecutive inputs land far apart.
const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AddrHasher(u64);

impl AddrHasher {
    fn fold(&mut self, word: u64) {
        // The multiply carries input bits upwards only; the rotation brings the well-mixed top
        // back down before the next word.
        self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(26);
    }
}

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.fold(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.fold(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.fold(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.fold(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.fold(n);
    }
    fn write_u128(&mut self, n: u128) {
        self.fold(n as u64);
        self.fold((n >> 64) as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.fold(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.fold(n as u64);
    }
    fn finish(&self) -> u64 {
        // murmur3's finaliser: with the multiply alone, IPv6 addresses that differ only in
        // their last bytes shared too many low bits.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        x ^ (x >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher as _;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Consecutive addresses (a range scan) must spread over both the bucket bits (low) and
    /// the tag bits (top seven): a hash that varied only in one would degrade the map to a
    /// list.
    #[test]
    fn consecutive_addresses_spread_over_low_and_top_bits() {
        let build = BuildHasherDefault::<AddrHasher>::default();
        for base in [
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 0)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0)),
        ] {
            let (mut low, mut top) = (HashSet::new(), HashSet::new());
            for i in 0..4096u32 {
                let addr = match base {
                    IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) + i)),
                    IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) + u128::from(i))),
                };
                let h = build.hash_one(addr);
                low.insert(h & 0xfff);
                top.insert(h >> 57);
            }
            // 4096 keys into 4096 low-bit values: a random hash fills ~63 %; 128 tags: all.
            assert!(low.len() > 2300, "{base}: {} low-bit values", low.len());
            assert_eq!(top.len(), 128, "{base}: top-bit tags");
        }
    }
}
