//! A keyed pseudo-random permutation of `0..n` in O(1) memory: probe `i` of the scan is
//! `get(i)`, so targets × ports are visited in an order that spreads load over hosts without
//! ever materialising the list (the role zmap's cyclic group and masscan's BlackRock play).
//!
//! A 4-round Feistel network over the smallest bit-width covering `n` (split into two halves
//! that differ by at most one bit), with cycle-walking to stay inside `0..n`: at most two
//! encryptions per position on average, since the width is never more than twice `n`. The
//! round function mixes one half with a round key (SipHash of the seed, worked out once)
//! through a 64-bit finaliser: a probe's position costs a few multiplications, not SipHash
//! per round (the order needs to be spread and repeatable, not secret; the validation cookie,
//! which must not be guessable, stays SipHash).
//!
//! The order for a given seed changed with this round function (tcprax 0.1.0 after
//! 2026-12-01): resume files record their format ([`crate::resume::FORMAT`]), which changed
//! with it, and shards of one scan must all run the same build.
use tcprax_common::siphash24_3w;

#[derive(Clone, Debug)]
pub struct Permutation {
    n: u64,
    /// Bits of the left and right halves (left ≤ right ≤ left + 1).
    left_bits: u32,
    right_bits: u32,
    keys: [u64; ROUNDS],
    seed: u64,
}

const ROUNDS: usize = 4;

/// A 64-bit finaliser (the xor-shift-multiply steps of SplitMix64's output function): every
/// input bit affects every output bit.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Permutation {
    pub fn new(n: u64, seed: u64) -> Self {
        let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let left_bits = bits / 2;
        let mut keys = [0u64; ROUNDS];
        for (round, key) in keys.iter_mut().enumerate() {
            *key = siphash24_3w(seed, round as u64, [n, 0, 0]);
        }
        Permutation {
            n,
            left_bits,
            right_bits: bits - left_bits,
            keys,
            seed,
        }
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// One pass of the network over `bits` bits: rounds alternate which half is xored with
    /// the round function of the other, so halves of unequal width need no swap.
    #[inline]
    fn encrypt(&self, x: u64) -> u64 {
        let right_mask = (1u64 << self.right_bits) - 1;
        let left_mask = (1u64 << self.left_bits) - 1;
        let mut l = x >> self.right_bits;
        let mut r = x & right_mask;
        for (round, key) in self.keys.iter().enumerate() {
            if round % 2 == 0 {
                l ^= mix(r ^ key) & left_mask;
            } else {
                r ^= mix(l ^ key) & right_mask;
            }
        }
        (l << self.right_bits) | r
    }

    pub fn get(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        let mut x = i;
        loop {
            x = self.encrypt(x);
            if x < self.n {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_bijection_for_many_sizes() {
        for n in [1u64, 2, 3, 5, 16, 17, 255, 1000, 4097, 65535] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let x = p.get(i) as usize;
                assert!(!seen[x], "n={n}: {x} twice");
                seen[x] = true;
            }
        }
    }

    #[test]
    fn seed_changes_order_and_order_is_not_identity() {
        let a: Vec<u64> = (0..1000)
            .map(|i| Permutation::new(1000, 1).get(i))
            .collect();
        let b: Vec<u64> = (0..1000)
            .map(|i| Permutation::new(1000, 2).get(i))
            .collect();
        assert_ne!(a, b);
        let fixed = a
            .iter()
            .enumerate()
            .filter(|(i, x)| *i as u64 == **x)
            .count();
        assert!(fixed < 20, "{fixed} fixed points: not shuffled");
        // Same seed, same order: --seed makes scans reproducible.
        let c: Vec<u64> = (0..1000)
            .map(|i| Permutation::new(1000, 1).get(i))
            .collect();
        assert_eq!(a, c);
    }

    /// Consecutive probes spread over hosts: in a /16 × 5 ports, neighbours in the order
    /// rarely share a host, and no host comes up much more often than the others early on.
    #[test]
    fn the_order_spreads_probes_over_hosts() {
        let (hosts, ports) = (65_536u64, 5u64);
        let p = Permutation::new(hosts * ports, 7);
        let host = |i| p.get(i) / ports;
        let same = (0..20_000).filter(|&i| host(i) == host(i + 1)).count();
        assert!(same < 10, "{same} neighbours on one host");
        let mut hits = vec![0u8; hosts as usize];
        for i in 0..hosts {
            hits[host(i) as usize] += 1;
        }
        let most = hits.iter().max().copied().unwrap_or(0);
        assert!(most <= 8, "a host got {most} of the first {hosts} probes");
    }

    /// `cargo test --release -p tcprax --lib permutation_ns_per_get -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn permutation_ns_per_get() {
        for n in [327_680u64, 1 << 20, 65_536 * 1000] {
            let p = Permutation::new(n, 42);
            let count = 2_000_000u64.min(n);
            let start = std::time::Instant::now();
            let mut acc = 0u64;
            for i in 0..count {
                acc = acc.wrapping_add(p.get(i));
            }
            let per = start.elapsed().as_nanos() as f64 / count as f64;
            println!("n = {n}: {per:.1} ns per position ({acc})");
        }
    }
}
