//! Target grammar and [`TargetSet`], the lazily enumerated set of addresses a scan visits.
//!
//! Grammar, one spec per item (items are separated by commas on the command line, and by
//! commas, whitespace or newlines in `-iL`/`--excludefile` files, where `#` starts a comment):
//!
//! | form | example | covers |
//! |---|---|---|
//! | IPv4 / IPv6 literal | `198.18.0.2`, `2001:db8::1`, `[2001:db8::1]` | one address |
//! | host name | `localhost` | the first address it resolves to (IPv4 preferred, like nmap) |
//! | CIDR | `198.18.0.0/24`, `2001:db8::/120`, `localhost/30` | every address in the block, network and broadcast included; host bits are masked off |
//! | last-octet range | `198.18.0.1-20` | 198.18.0.1 .. 198.18.0.20 |
//! | full range | `198.18.0.1-198.18.0.20`, `2001:db8::1-2001:db8::ff` | inclusive |
//!
//! Every spec becomes one inclusive `u128` range tagged with its address family, so a /8 costs
//! one range, not 16 million addresses. Host names are resolved once, while parsing, so that a
//! bad name fails before any probe leaves and the report can show the name next to the address.
//!
//! Duplicates across specs are kept (`198.18.0.1 198.18.0.0/24` visits .1 twice), as nmap
//! does: removing them would need a set of every address, which is exactly what laziness
//! avoids. Exclusions are merged into sorted, disjoint ranges per family and checked by binary
//! search.
use crate::model::TargetInfo;
pub use grammar::{Lookup, parse_spec, parse_spec_with, system_lookup};
use grammar::{read_list, split_arg, split_file};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

mod grammar;

/// Whether a spec names targets or exclusions; only used to word errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Target,
    Exclusion,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Target => "target",
            Role::Exclusion => "exclusion",
        })
    }
}

/// Why the targets could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("bad {role} '{token}': {kind}")]
    Bad {
        role: Role,
        token: String,
        kind: TargetErrorKind,
    },
    #[error("bad {role} '{token}' in '{}' line {line}: {kind}", path.display())]
    BadInFile {
        role: Role,
        path: PathBuf,
        line: usize,
        token: String,
        kind: TargetErrorKind,
    },
    #[error("cannot read {role} file '{}': {source}", path.display())]
    ReadFile {
        role: Role,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no targets given")]
    NoTargets,
    #[error("all {count} target addresses are excluded")]
    AllExcluded { count: u128 },
    #[error("the targets add up to more than 2^128 addresses")]
    TooManyAddresses,
}

/// What is wrong with one spec.
#[derive(Debug, thiserror::Error)]
pub enum TargetErrorKind {
    #[error("empty item")]
    Empty,
    #[error("prefix '/{prefix}' is not a number")]
    BadPrefix { prefix: String },
    #[error("prefix /{prefix} is longer than {max} bits")]
    PrefixTooLong { prefix: String, max: u32 },
    #[error("not a valid IPv4 address")]
    BadIpv4,
    #[error("not a valid IPv6 address")]
    BadIpv6,
    #[error("range end '{end}' is neither an octet (0-255) nor an address")]
    BadRangeEnd { end: String },
    #[error("range start is above its end")]
    ReversedRange,
    #[error("range mixes IPv4 and IPv6")]
    MixedFamilies,
    #[error("not an address, CIDR block, range or host name")]
    NotATarget,
    #[error("cannot resolve host name: {source}")]
    Unresolvable { source: std::io::Error },
    #[error("host name resolved to no addresses")]
    NoAddresses,
    #[error("covers 2^128 addresses, more than tcprax can count")]
    TooLarge,
}

/// Address family of a range; addresses of both live in one `u128` space, tagged by this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

fn to_key(addr: IpAddr) -> (Family, u128) {
    match addr {
        IpAddr::V4(a) => (Family::V4, u32::from(a) as u128),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn from_key(family: Family, value: u128) -> IpAddr {
    match family {
        // V4 values never exceed u32::MAX: every constructor starts from a u32.
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// One parsed spec: an inclusive range of one family, plus the host name it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRange {
    pub family: Family,
    pub first: u128,
    pub last: u128,
    /// The host name, for specs that were names (`localhost`, not `localhost/30`).
    pub name: Option<String>,
}

impl TargetRange {
    /// Number of addresses; None only for the whole IPv6 space (2^128).
    pub fn count(&self) -> Option<u128> {
        (self.last - self.first).checked_add(1)
    }

    pub fn first_addr(&self) -> IpAddr {
        from_key(self.family, self.first)
    }

    pub fn last_addr(&self) -> IpAddr {
        from_key(self.family, self.last)
    }
}

/// The addresses to scan: target ranges in the order given, minus exclusions, enumerated
/// lazily.
#[derive(Debug, Clone)]
pub struct TargetSet {
    ranges: Vec<TargetRange>,
    /// `starts[i]` = index of `ranges[i].first` in the concatenation of all ranges.
    starts: Vec<u128>,
    total: u128,
    /// Non-excluded addresses (duplicates across ranges counted each time).
    included: u128,
    /// Merged, sorted, disjoint inclusive ranges.
    exclude_v4: Vec<(u128, u128)>,
    exclude_v6: Vec<(u128, u128)>,
    /// What is left of the ranges once exclusions are cut out, as (index of its first address
    /// among included addresses, family, first, last): what [`get_included`](Self::get_included)
    /// walks, so a /8 minus all but a /24 costs the walk of a /24. One entry per included
    /// stretch: at most the ranges plus the exclusions that cut them.
    pieces: Vec<(u128, Family, u128, u128)>,
    /// Address -> the first host name that resolved to it: the only record of host names,
    /// which every report of the address carries (shared, hence `Arc`).
    names: HashMap<IpAddr, Arc<str>>,
    infos: Vec<TargetInfo>,
}

impl TargetSet {
    /// Builds the set from positional specs (comma lists allowed), `-iL` files, `--exclude`
    /// specs and `--excludefile` files. Fails if anything is malformed or unresolvable, if
    /// there are no targets, or if every target is excluded.
    pub fn parse(
        specs: &[String],
        list_files: &[PathBuf],
        exclude: &[String],
        exclude_files: &[PathBuf],
    ) -> Result<TargetSet, TargetError> {
        Self::parse_with(specs, list_files, exclude, exclude_files, &system_lookup)
    }

    /// [`parse`](Self::parse) with host names looked up by `lookup`.
    pub fn parse_with(
        specs: &[String],
        list_files: &[PathBuf],
        exclude: &[String],
        exclude_files: &[PathBuf],
        lookup: Lookup<'_>,
    ) -> Result<TargetSet, TargetError> {
        let mut set = TargetSet {
            ranges: Vec::new(),
            starts: Vec::new(),
            total: 0,
            included: 0,
            exclude_v4: Vec::new(),
            exclude_v6: Vec::new(),
            pieces: Vec::new(),
            names: HashMap::new(),
            infos: Vec::new(),
        };

        for arg in specs {
            let items = split_arg(arg).map_err(|(token, kind)| TargetError::Bad {
                role: Role::Target,
                token,
                kind,
            })?;
            for item in &items {
                let range = parse_spec_with(item.token, lookup)
                    .map_err(|kind| item.error(Role::Target, kind))?;
                let count = set
                    .push(range)
                    .map_err(|kind| item.error(Role::Target, kind))?;
                let resolved = (count == 1)
                    .then(|| set.ranges.last().map(TargetRange::first_addr))
                    .flatten();
                set.infos.push(TargetInfo {
                    spec: item.token.to_string(),
                    resolved,
                    addresses: count,
                });
            }
        }
        for path in list_files {
            let text = read_list(path, Role::Target)?;
            let items = split_file(path, &text, Role::Target)?;
            let mut count: u128 = 0;
            for item in &items {
                let range = parse_spec_with(item.token, lookup)
                    .map_err(|kind| item.error(Role::Target, kind))?;
                let n = set
                    .push(range)
                    .map_err(|kind| item.error(Role::Target, kind))?;
                count = count.checked_add(n).ok_or(TargetError::TooManyAddresses)?;
            }
            // One line per file in the plan, as the user typed it, rather than one per entry:
            // a list file may hold thousands of hosts.
            let resolved = (count == 1)
                .then(|| set.ranges.last().map(TargetRange::first_addr))
                .flatten();
            set.infos.push(TargetInfo {
                spec: format!("-iL {}", path.display()),
                resolved,
                addresses: count,
            });
        }
        if set.ranges.is_empty() {
            return Err(TargetError::NoTargets);
        }

        let mut excluded = Vec::new();
        for arg in exclude {
            let items = split_arg(arg).map_err(|(token, kind)| TargetError::Bad {
                role: Role::Exclusion,
                token,
                kind,
            })?;
            for item in &items {
                excluded.push(
                    parse_spec_with(item.token, lookup)
                        .map_err(|kind| item.error(Role::Exclusion, kind))?,
                );
            }
        }
        for path in exclude_files {
            let text = read_list(path, Role::Exclusion)?;
            for item in &split_file(path, &text, Role::Exclusion)? {
                excluded.push(
                    parse_spec_with(item.token, lookup)
                        .map_err(|kind| item.error(Role::Exclusion, kind))?,
                );
            }
        }
        for range in excluded {
            match range.family {
                Family::V4 => set.exclude_v4.push((range.first, range.last)),
                Family::V6 => set.exclude_v6.push((range.first, range.last)),
            }
        }
        merge(&mut set.exclude_v4);
        merge(&mut set.exclude_v6);

        set.included = set.ranges.iter().map(|r| set.included_in(r)).sum();
        set.pieces = set.included_pieces();
        if set.included == 0 {
            return Err(TargetError::AllExcluded { count: set.total });
        }
        Ok(set)
    }

    /// Appends a target range, returning its address count.
    fn push(&mut self, range: TargetRange) -> Result<u128, TargetErrorKind> {
        let count = range.count().ok_or(TargetErrorKind::TooLarge)?;
        let total = self
            .total
            .checked_add(count)
            .ok_or(TargetErrorKind::TooLarge)?;
        if let Some(name) = &range.name {
            self.names
                .entry(range.first_addr())
                .or_insert_with(|| Arc::from(name.as_str()));
        }
        self.starts.push(self.total);
        self.total = total;
        self.ranges.push(range);
        Ok(count)
    }

    /// Addresses of `range` not covered by an exclusion.
    fn included_in(&self, range: &TargetRange) -> u128 {
        let list = self.exclusions(range.family);
        // The list is sorted and disjoint: start at the first exclusion that can overlap, so a
        // long -iL against a long --excludefile stays O(n log n), not O(n * m).
        let start = list.partition_point(|&(_, hi)| hi < range.first);
        let covered: u128 = list[start..]
            .iter()
            .take_while(|&&(lo, _)| lo <= range.last)
            .map(|&(lo, hi)| hi.min(range.last) - lo.max(range.first) + 1)
            .sum();
        // `count()` is Some for every pushed range, and covered <= count.
        range.count().unwrap_or(u128::MAX) - covered
    }

    /// The included stretches of every range, in spec order, each with its starting index.
    fn included_pieces(&self) -> Vec<(u128, Family, u128, u128)> {
        let mut pieces = Vec::new();
        let mut at: u128 = 0;
        for range in &self.ranges {
            let list = self.exclusions(range.family);
            let start = list.partition_point(|&(_, hi)| hi < range.first);
            // The first address not yet cut out; None once an exclusion reaches the very last
            // address there is.
            let mut next = Some(range.first);
            let mut push = |lo: u128, hi: u128| {
                pieces.push((at, range.family, lo, hi));
                at += hi - lo + 1;
            };
            for &(lo, hi) in list[start..]
                .iter()
                .take_while(|&&(lo, _)| lo <= range.last)
            {
                let Some(from) = next else { break };
                if lo > from {
                    push(from, lo - 1);
                }
                next = hi.checked_add(1).map(|after| from.max(after));
            }
            if let Some(from) = next.filter(|&n| n <= range.last) {
                push(from, range.last);
            }
        }
        pieces
    }

    fn exclusions(&self, family: Family) -> &[(u128, u128)] {
        match family {
            Family::V4 => &self.exclude_v4,
            Family::V6 => &self.exclude_v6,
        }
    }

    /// If `value` is excluded, the last address of the exclusion covering it.
    fn excluded_until(&self, family: Family, value: u128) -> Option<u128> {
        let list = self.exclusions(family);
        let after = list.partition_point(|&(lo, _)| lo <= value);
        let &(_, hi) = list.get(after.checked_sub(1)?)?;
        (hi >= value).then_some(hi)
    }

    /// Total addresses over all specs, excluded ones and duplicates included: the index space
    /// of [`get`](Self::get).
    pub fn len(&self) -> u128 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Addresses that will actually be scanned: [`len`](Self::len) minus excluded ones.
    pub fn included_len(&self) -> u128 {
        self.included
    }

    /// The `index`th address in spec order, or None if it is excluded or out of range. O(log n)
    /// so the SYN scanner can walk a permutation of `0..len()` without materialising it.
    pub fn get(&self, index: u128) -> Option<IpAddr> {
        if index >= self.total {
            return None;
        }
        let i = self.starts.partition_point(|&s| s <= index) - 1;
        let range = &self.ranges[i];
        let value = range.first + (index - self.starts[i]);
        match self.excluded_until(range.family, value) {
            Some(_) => None,
            None => Some(from_key(range.family, value)),
        }
    }

    /// Every non-excluded address in spec order, generated on demand.
    pub fn iter(&self) -> TargetIter<'_> {
        TargetIter {
            set: self,
            range: 0,
            next: None,
        }
    }

    /// The `index`th *included* address (exclusions skipped), in spec order, or None past
    /// [`included_len`](Self::included_len). O(log n): the SYN scanner walks a permutation of
    /// `0..included_len()`, so excluded space costs nothing to skip.
    pub fn get_included(&self, index: u128) -> Option<IpAddr> {
        let i = self
            .pieces
            .partition_point(|&(at, ..)| at <= index)
            .checked_sub(1)?;
        let (at, family, first, last) = self.pieces[i];
        let value = first.checked_add(index - at).filter(|v| *v <= last)?;
        Some(from_key(family, value))
    }

    pub fn is_excluded(&self, addr: &IpAddr) -> bool {
        let (family, value) = to_key(*addr);
        self.excluded_until(family, value).is_some()
    }

    /// The host name the user gave for `addr` (on the command line or in a `-iL` file), if it
    /// came from a name.
    pub fn name_of(&self, addr: &IpAddr) -> Option<Arc<str>> {
        self.names.get(addr).cloned()
    }

    /// The included stretches in scan order, as (index of the first among included addresses,
    /// family, first, last): what the scan walks, exclusions cut out (for fingerprints).
    pub fn pieces(&self) -> impl Iterator<Item = (u128, Family, u128, u128)> + '_ {
        self.pieces.iter().copied()
    }

    /// The parsed target ranges, in the order given.
    pub fn ranges(&self) -> &[TargetRange] {
        &self.ranges
    }

    /// One entry per spec (per file for `-iL`), for the scan plan.
    pub fn infos(&self) -> Vec<TargetInfo> {
        self.infos.clone()
    }

    /// The excluded addresses, merged and sorted (IPv4 first), one `ADDR` or `FIRST-LAST` per
    /// range: the same whether they came from `--exclude` or a file.
    pub fn exclusion_specs(&self) -> Vec<String> {
        let v4 = self.exclude_v4.iter().map(|r| (Family::V4, r));
        let v6 = self.exclude_v6.iter().map(|r| (Family::V6, r));
        v4.chain(v6)
            .map(|(family, &(lo, hi))| {
                if lo == hi {
                    from_key(family, lo).to_string()
                } else {
                    format!("{}-{}", from_key(family, lo), from_key(family, hi))
                }
            })
            .collect()
    }
}

/// Sorts and merges overlapping or adjacent ranges.
fn merge(list: &mut Vec<(u128, u128)>) {
    list.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(list.len());
    for &(lo, hi) in list.iter() {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    *list = merged;
}

/// Iterator of [`TargetSet::iter`]: walks each range, jumping over excluded stretches
/// instead of testing them address by address.
#[derive(Debug, Clone)]
pub struct TargetIter<'a> {
    set: &'a TargetSet,
    range: usize,
    /// Next candidate inside `ranges[range]`; None = start at its first address.
    next: Option<u128>,
}

impl Iterator for TargetIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        loop {
            let range = self.set.ranges.get(self.range)?;
            let value = self.next.unwrap_or(range.first);
            let skip_to = match self.set.excluded_until(range.family, value) {
                Some(hi) => hi.checked_add(1),
                None => {
                    self.advance(value.checked_add(1), range.last);
                    return Some(from_key(range.family, value));
                }
            };
            self.advance(skip_to, range.last);
        }
    }
}

impl TargetIter<'_> {
    /// Moves to `to` within the current range, or to the next range if `to` is past `last`
    /// (or overflowed).
    fn advance(&mut self, to: Option<u128>, last: u128) {
        match to {
            Some(v) if v <= last => self.next = Some(v),
            _ => {
                self.range += 1;
                self.next = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
