//! A cheap hash for maps keyed by the scan's own targets: the scheduler's (probes in flight,
//! per-target RTT estimators) and the printers' per-host map.
//!
//! std's default SipHash guards a map against keys picked by an adversary to collide. These
//! maps are keyed by targets the scan itself chose (replies reach the scheduler only after the
//! XDP program matched them to one of our probes through a keyed cookie, and every verdict is
//! for an address the scan chose), so nobody outside picks the keys; SipHash would cost a good
//! part of the per-probe and per-verdict budget for nothing. Each word is folded in with a xor
//! and a multiply by an odd constant, and `finish` mixes every bit into every other
//! (murmur3's finaliser): hashbrown takes the bucket from the low bits and a tag from the top
//! seven, and both must vary across consecutive addresses.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`KeyHasher`].
pub(crate) type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// A `HashMap` keyed by address, with [`KeyHasher`].
pub(crate) type AddrMap<V> = KeyMap<std::net::IpAddr, V>;

/// 2^64 divided by the golden ratio, made odd: consecutive inputs land far apart.
const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    fn fold(&mut self, word: u64) {
        // The multiply carries every input bit upwards only; the rotation brings the well-mixed
        // top back down before the next word.
        self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(26);
    }
}

impl Hasher for KeyHasher {
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
        // murmur3's finaliser: with a multiply alone, IPv6 addresses that differ only in their
        // last bytes shared too many low bits (1,502 of 4,096 values for 4,096 consecutive
        // ones, where a random hash gives ~2,589).
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
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    /// How many distinct values `bits` of the hash take over `keys`, as a fraction of what
    /// a random function would give (1 - e^-load per bucket).
    fn spread(keys: &[(IpAddr, u16)], pick: impl Fn(u64) -> u64, buckets: f64) -> f64 {
        let build = BuildHasherDefault::<KeyHasher>::default();
        let seen: HashSet<u64> = keys.iter().map(|k| pick(build.hash_one(k))).collect();
        let load = keys.len() as f64 / buckets;
        let random = buckets * (1.0 - (-load).exp());
        seen.len() as f64 / random
    }

    #[test]
    fn consecutive_targets_spread_over_buckets_and_tags() {
        let v4: Vec<(IpAddr, u16)> = (0..65_536u32)
            .map(|i| (IpAddr::from((0xC612_0000 + i).to_be_bytes()), 80))
            .collect();
        let ports: Vec<(IpAddr, u16)> = (1..=65_535u16)
            .map(|p| (IpAddr::from([198, 18, 0, 2]), p))
            .collect();
        let v6: Vec<(IpAddr, u16)> = (0..65_536u128)
            .map(|i| {
                (
                    IpAddr::from((0x2001_0002_u128 << 96 | i).to_be_bytes()),
                    443,
                )
            })
            .collect();
        for (name, keys) in [("v4", &v4), ("ports", &ports), ("v6", &v6)] {
            let low = spread(keys, |h| h & 0xffff, 65_536.0);
            let tag = spread(keys, |h| h >> 57, 128.0);
            assert!(low > 0.95, "{name}: low bits {low:.3} of random");
            assert!(tag > 0.99, "{name}: top bits {tag:.3} of random");
        }
    }

    #[test]
    fn equal_keys_hash_equal_and_the_map_works() {
        let mut m: KeyMap<(IpAddr, u16), u32> = KeyMap::default();
        for i in 0..1000u16 {
            m.insert(
                (IpAddr::from([10, 0, (i >> 8) as u8, i as u8]), i),
                u32::from(i),
            );
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get(&(IpAddr::from([10, 0, 1, 44]), 300)), Some(&300));
        assert_eq!(m.get(&(IpAddr::from([10, 0, 1, 44]), 301)), None);
    }

    /// Consecutive addresses (a range scan) must spread over both the bucket bits (low) and
    /// the tag bits (top seven): a hash that varied only in one would degrade the map to a
    /// list.
    #[test]
    fn consecutive_addresses_spread_over_low_and_top_bits() {
        let build = BuildHasherDefault::<KeyHasher>::default();
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
