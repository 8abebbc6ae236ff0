//! Which way each target leaves, as plain data: the egress [`Group`]s (interface, source
//! address) and the [`EgressTable`], a small sorted table of address ranges, each sent through
//! one group, refused for want of a route, or skipped. The scheduler looks every probe up in it
//! (O(log n) in the number of ranges, which follows the routing table, never the number of
//! targets), so a /8 costs the same memory as one host. Built by `route::plan`; pure, so the
//! range arithmetic is unit-tested without a network.
//!
//! Also the address arithmetic around it: the network and broadcast addresses of a connected
//! IPv4 subnet, and the "elementary intervals" of a set of route prefixes (the stretches of the
//! address space on which the longest-prefix match cannot change, so one route lookup decides a
//! whole stretch).
use crate::targets::Family;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Index of a [`Group`] in the plan; a u16 keeps the scheduler's per-probe state small.
pub type GroupId = u16;

/// Where a set of targets leaves from: the interface the kernel routes them out of (XDP is
/// attached there, since the replies come back through it) and the source address of their
/// SYNs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    pub interface: String,
    pub source: IpAddr,
}

/// What to do with a target address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Egress {
    /// Probe it from this group.
    Via(GroupId),
    /// Never probe it: the routing table has no usable route (the port is `unreachable`,
    /// reason `no-route`).
    NoRoute,
    /// Never probe it and report nothing: a network or broadcast address of a connected
    /// subnet, skipped unless `--include-broadcast`.
    Skip,
}

/// A key in one sortable space: the family first, then the address as a number (IPv4 in the
/// low 32 bits), as `targets` keys its ranges.
pub fn key(addr: IpAddr) -> (Family, u128) {
    match addr {
        IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn addr_of(family: Family, value: u128) -> IpAddr {
    match family {
        // V4 keys never exceed u32::MAX: they all come from key().
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// The last address of a family's space.
pub fn family_max(family: Family) -> u128 {
    match family {
        Family::V4 => u128::from(u32::MAX),
        Family::V6 => u128::MAX,
    }
}

/// First and last address of the prefix `addr/len` (host bits of `addr` ignored).
pub fn prefix_range(addr: IpAddr, len: u8) -> (Family, u128, u128) {
    let (family, value) = key(addr);
    let bits: u32 = match family {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    let host_bits = bits.saturating_sub(u32::from(len));
    // checked_shr: a shift by the whole 128 bits (a /0 of IPv6) overflows.
    let host_mask = u128::MAX.checked_shr(128 - host_bits).unwrap_or(0);
    let first = value & !host_mask & family_max(family);
    (family, first, first | host_mask)
}

/// The network and broadcast addresses of the connected subnet `addr/len`; None for a /31
/// (RFC 3021 point-to-point: both addresses are hosts) and a /32, which have neither.
pub fn network_and_broadcast(addr: Ipv4Addr, len: u8) -> Option<(Ipv4Addr, Ipv4Addr)> {
    if len >= 31 {
        return None;
    }
    let (_, first, last) = prefix_range(IpAddr::V4(addr), len);
    Some((Ipv4Addr::from(first as u32), Ipv4Addr::from(last as u32)))
}

/// The stretches of one family's address space on which no route prefix starts or ends:
/// inside one, every address matches the same set of prefixes, so the same route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intervals {
    family: Family,
    /// Sorted, distinct; always holds 0.
    starts: Vec<u128>,
}

impl Intervals {
    /// From the (first, last) of every prefix of `family`.
    pub fn new(family: Family, prefixes: impl IntoIterator<Item = (u128, u128)>) -> Intervals {
        let max = family_max(family);
        let mut starts = vec![0];
        for (first, last) in prefixes {
            starts.push(first.min(max));
            if last < max {
                starts.push(last + 1);
            }
        }
        starts.sort_unstable();
        starts.dedup();
        Intervals { family, starts }
    }

    /// The stretch holding `value`: (first, last).
    pub fn around(&self, value: u128) -> (u128, u128) {
        // starts[0] == 0 <= value, so the index is at least 1.
        let i = self.starts.partition_point(|&s| s <= value) - 1;
        let last = self
            .starts
            .get(i + 1)
            .map_or(family_max(self.family), |next| next - 1);
        (self.starts[i], last)
    }
}

/// One range of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    family: Family,
    first: u128,
    last: u128,
    egress: Egress,
}

/// Address ranges -> [`Egress`]: sorted, disjoint, adjacent ranges with the same egress
/// merged. An address no range covers is [`Egress::NoRoute`] (the plan covers every target, so
/// that only happens for addresses that are not targets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressTable {
    spans: Vec<Span>,
}

impl EgressTable {
    /// Every address of each listed family through one group: `-S`/`-e`, and the tests.
    pub fn uniform(groups: &[(Family, GroupId)]) -> EgressTable {
        let mut t = EgressTable::default();
        for &(family, g) in groups {
            t.insert(family, 0, family_max(family), Egress::Via(g));
        }
        t
    }

    /// Add a range. Ranges must not overlap those already in (the plan adds whole elementary
    /// intervals, which never do); call [`punch`](Self::punch) to override single addresses.
    pub fn insert(&mut self, family: Family, first: u128, last: u128, egress: Egress) {
        let span = Span {
            family,
            first,
            last,
            egress,
        };
        let at = self
            .spans
            .partition_point(|s| (s.family, s.first) < (family, first));
        self.spans.insert(at, span);
        self.merge_around(at);
    }

    /// Whether some range covers `addr` already.
    pub fn covers(&self, addr: IpAddr) -> bool {
        self.find(addr).is_some()
    }

    /// Override the egress of one address, splitting the range that holds it.
    pub fn punch(&mut self, addr: IpAddr, egress: Egress) {
        let (family, value) = key(addr);
        let Some(i) = self.find(addr) else {
            self.insert(family, value, value, egress);
            return;
        };
        let old = self.spans[i];
        if old.egress == egress {
            return;
        }
        let mut parts = Vec::with_capacity(3);
        if old.first < value {
            parts.push(Span {
                last: value - 1,
                ..old
            });
        }
        parts.push(Span {
            first: value,
            last: value,
            egress,
            ..old
        });
        if value < old.last {
            parts.push(Span {
                first: value + 1,
                ..old
            });
        }
        self.spans.splice(i..=i, parts);
    }

    /// Index of the range holding `addr`.
    fn find(&self, addr: IpAddr) -> Option<usize> {
        let (family, value) = key(addr);
        let i = self
            .spans
            .partition_point(|s| (s.family, s.first) <= (family, value))
            .checked_sub(1)?;
        let s = &self.spans[i];
        (s.family == family && s.last >= value).then_some(i)
    }

    /// What to do with `addr`.
    pub fn lookup(&self, addr: IpAddr) -> Egress {
        match self.find(addr) {
            Some(i) => self.spans[i].egress,
            None => Egress::NoRoute,
        }
    }

    /// Merge the span at `at` with equal, adjacent neighbours.
    fn merge_around(&mut self, mut at: usize) {
        let joins = |a: &Span, b: &Span| {
            a.family == b.family && a.egress == b.egress && a.last.checked_add(1) == Some(b.first)
        };
        if at > 0 && joins(&self.spans[at - 1], &self.spans[at]) {
            self.spans[at - 1].last = self.spans[at].last;
            self.spans.remove(at);
            at -= 1;
        }
        if at + 1 < self.spans.len() && joins(&self.spans[at], &self.spans[at + 1]) {
            self.spans[at].last = self.spans[at + 1].last;
            self.spans.remove(at + 1);
        }
    }

    /// Number of ranges (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The ranges as (first, last, egress), in order.
    pub fn ranges(&self) -> impl Iterator<Item = (IpAddr, IpAddr, Egress)> + '_ {
        self.spans.iter().map(|s| {
            (
                addr_of(s.family, s.first),
                addr_of(s.family, s.last),
                s.egress,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v4(s: &str) -> u128 {
        key(ip(s)).1
    }

    #[test]
    fn network_and_broadcast_of_connected_subnets() {
        let nb = |a: &str, len| network_and_broadcast(a.parse().unwrap(), len);
        assert_eq!(
            nb("198.18.5.1", 28),
            Some((
                "198.18.5.0".parse().unwrap(),
                "198.18.5.15".parse().unwrap()
            ))
        );
        assert_eq!(
            nb("198.18.0.77", 24),
            Some((
                "198.18.0.0".parse().unwrap(),
                "198.18.0.255".parse().unwrap()
            ))
        );
        assert_eq!(
            nb("10.1.2.3", 8),
            Some((
                "10.0.0.0".parse().unwrap(),
                "10.255.255.255".parse().unwrap()
            ))
        );
        assert_eq!(
            nb("198.18.5.9", 30),
            Some((
                "198.18.5.8".parse().unwrap(),
                "198.18.5.11".parse().unwrap()
            ))
        );
        assert_eq!(nb("198.18.5.9", 31), None, "/31: both are hosts");
        assert_eq!(nb("198.18.5.9", 32), None);
        assert_eq!(
            nb("1.2.3.4", 0),
            Some((
                "0.0.0.0".parse().unwrap(),
                "255.255.255.255".parse().unwrap()
            ))
        );
    }

    #[test]
    fn prefix_ranges_of_both_families() {
        assert_eq!(
            prefix_range(ip("198.18.9.77"), 24),
            (Family::V4, v4("198.18.9.0"), v4("198.18.9.255"))
        );
        assert_eq!(
            prefix_range(ip("0.0.0.0"), 0),
            (Family::V4, 0, u128::from(u32::MAX))
        );
        assert_eq!(
            prefix_range(ip("198.18.9.77"), 32),
            (Family::V4, v4("198.18.9.77"), v4("198.18.9.77"))
        );
        assert_eq!(prefix_range(ip("::"), 0), (Family::V6, 0, u128::MAX));
        let (_, first, last) = prefix_range(ip("2001:2::9"), 64);
        assert_eq!(
            (first, last),
            (
                key(ip("2001:2::")).1,
                key(ip("2001:2::ffff:ffff:ffff:ffff")).1
            )
        );
    }

    #[test]
    fn intervals_split_where_prefixes_start_and_end() {
        // A default route, a /16 and a /24 nested in it, a /32 nested in that.
        let prefixes = [
            (0, u128::from(u32::MAX)),
            (v4("198.18.0.0"), v4("198.18.255.255")),
            (v4("198.18.9.0"), v4("198.18.9.255")),
            (v4("198.18.9.7"), v4("198.18.9.7")),
        ];
        let iv = Intervals::new(Family::V4, prefixes);
        assert_eq!(iv.around(v4("10.0.0.1")), (0, v4("198.17.255.255")));
        assert_eq!(
            iv.around(v4("198.18.0.1")),
            (v4("198.18.0.0"), v4("198.18.8.255"))
        );
        assert_eq!(
            iv.around(v4("198.18.9.6")),
            (v4("198.18.9.0"), v4("198.18.9.6"))
        );
        assert_eq!(
            iv.around(v4("198.18.9.7")),
            (v4("198.18.9.7"), v4("198.18.9.7"))
        );
        assert_eq!(
            iv.around(v4("198.18.10.0")),
            (v4("198.18.10.0"), v4("198.18.255.255"))
        );
        assert_eq!(
            iv.around(v4("255.255.255.255")),
            (v4("198.19.0.0"), u128::from(u32::MAX))
        );
        // No prefixes at all: one stretch, the whole space.
        let empty = Intervals::new(Family::V6, []);
        assert_eq!(empty.around(12345), (0, u128::MAX));
    }

    #[test]
    fn lookups_merges_and_punches() {
        let mut t = EgressTable::default();
        t.insert(
            Family::V4,
            v4("198.18.0.0"),
            v4("198.18.8.255"),
            Egress::Via(0),
        );
        t.insert(
            Family::V4,
            v4("198.18.10.0"),
            v4("198.18.255.255"),
            Egress::Via(0),
        );
        t.insert(
            Family::V4,
            v4("198.18.9.0"),
            v4("198.18.9.255"),
            Egress::NoRoute,
        );
        t.insert(Family::V6, 0, u128::MAX, Egress::Via(1));
        assert_eq!(t.len(), 4);
        assert_eq!(t.lookup(ip("198.18.0.0")), Egress::Via(0));
        assert_eq!(t.lookup(ip("198.18.8.255")), Egress::Via(0));
        assert_eq!(t.lookup(ip("198.18.9.0")), Egress::NoRoute);
        assert_eq!(t.lookup(ip("198.18.9.255")), Egress::NoRoute);
        assert_eq!(t.lookup(ip("198.18.10.0")), Egress::Via(0));
        assert_eq!(t.lookup(ip("2001:2::2")), Egress::Via(1));
        // Not covered: no route, whatever the family.
        assert_eq!(t.lookup(ip("198.17.255.255")), Egress::NoRoute);
        assert_eq!(t.lookup(ip("198.19.0.0")), Egress::NoRoute);
        assert!(!t.covers(ip("10.0.0.1")));
        assert!(t.covers(ip("198.18.9.1")));

        // Filling the gap with the same group merges three ranges into one.
        let mut m = EgressTable::default();
        m.insert(
            Family::V4,
            v4("198.18.0.0"),
            v4("198.18.8.255"),
            Egress::Via(0),
        );
        m.insert(
            Family::V4,
            v4("198.18.10.0"),
            v4("198.18.255.255"),
            Egress::Via(0),
        );
        m.insert(
            Family::V4,
            v4("198.18.9.0"),
            v4("198.18.9.255"),
            Egress::Via(0),
        );
        assert_eq!(m.len(), 1);

        // Punching the network and broadcast addresses out of a /28.
        let mut p = EgressTable::uniform(&[(Family::V4, 0)]);
        p.punch(ip("198.18.5.0"), Egress::Skip);
        p.punch(ip("198.18.5.15"), Egress::Skip);
        assert_eq!(p.len(), 5);
        assert_eq!(p.lookup(ip("198.18.4.255")), Egress::Via(0));
        assert_eq!(p.lookup(ip("198.18.5.0")), Egress::Skip);
        assert_eq!(p.lookup(ip("198.18.5.1")), Egress::Via(0));
        assert_eq!(p.lookup(ip("198.18.5.14")), Egress::Via(0));
        assert_eq!(p.lookup(ip("198.18.5.15")), Egress::Skip);
        assert_eq!(p.lookup(ip("198.18.5.16")), Egress::Via(0));
        // At the very edges of the space, and twice: nothing breaks, nothing grows.
        p.punch(ip("0.0.0.0"), Egress::Skip);
        p.punch(ip("255.255.255.255"), Egress::Skip);
        p.punch(ip("255.255.255.255"), Egress::Skip);
        assert_eq!(p.len(), 7);
        assert_eq!(p.lookup(ip("0.0.0.0")), Egress::Skip);
        assert_eq!(p.lookup(ip("0.0.0.1")), Egress::Via(0));
        assert_eq!(p.lookup(ip("255.255.255.254")), Egress::Via(0));
        // Punching an address no range holds adds it.
        let mut e = EgressTable::default();
        e.punch(ip("198.18.5.15"), Egress::Skip);
        assert_eq!(e.lookup(ip("198.18.5.15")), Egress::Skip);
        let ranges: Vec<_> = e.ranges().collect();
        assert_eq!(
            ranges,
            [(ip("198.18.5.15"), ip("198.18.5.15"), Egress::Skip)]
        );
    }
}
