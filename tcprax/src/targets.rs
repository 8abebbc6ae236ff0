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
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

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

/// How host names become addresses: every address a name has, or why there are none.
/// [`system_lookup`] is the real one; parsing takes it as a parameter so that callers which must
/// never send a DNS query (the fuzz targets) can pass their own.
pub type Lookup<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<IpAddr>>;

/// The system resolver (`getaddrinfo`: /etc/hosts, then DNS).
pub fn system_lookup(name: &str) -> std::io::Result<Vec<IpAddr>> {
    Ok((name, 0u16).to_socket_addrs()?.map(|sa| sa.ip()).collect())
}

/// Parses one spec (already split from its list and trimmed). Resolves host names.
pub fn parse_spec(spec: &str) -> Result<TargetRange, TargetErrorKind> {
    parse_spec_with(spec, &system_lookup)
}

/// [`parse_spec`] with host names looked up by `lookup`.
pub fn parse_spec_with(spec: &str, lookup: Lookup<'_>) -> Result<TargetRange, TargetErrorKind> {
    if spec.is_empty() {
        return Err(TargetErrorKind::Empty);
    }
    if let Some((base, prefix)) = spec.split_once('/') {
        return parse_cidr(base, prefix, lookup);
    }
    if let Some((start, end)) = spec.split_once('-') {
        // Host names may contain '-'; only an address before the dash makes this a range.
        if let Some(start) = parse_literal(start) {
            return parse_range(start, end);
        }
    }
    if let Some(addr) = parse_literal(spec) {
        let (family, v) = to_key(addr);
        return Ok(TargetRange {
            family,
            first: v,
            last: v,
            name: None,
        });
    }
    let addr = resolve(spec, lookup)?;
    let (family, v) = to_key(addr);
    Ok(TargetRange {
        family,
        first: v,
        last: v,
        name: Some(spec.to_string()),
    })
}

/// An IP literal, IPv6 optionally in brackets.
fn parse_literal(text: &str) -> Option<IpAddr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

fn parse_cidr(
    base: &str,
    prefix: &str,
    lookup: Lookup<'_>,
) -> Result<TargetRange, TargetErrorKind> {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetErrorKind::BadPrefix {
            prefix: prefix.to_string(),
        });
    }
    let addr = match parse_literal(base) {
        Some(addr) => addr,
        None => resolve(base, lookup)?,
    };
    let (family, v) = to_key(addr);
    let max: u32 = match family {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    // All digits, so a failed parse can only be overflow: certainly too long.
    let bits: u32 = prefix.parse().unwrap_or(u32::MAX);
    if bits > max {
        return Err(TargetErrorKind::PrefixTooLong {
            prefix: prefix.to_string(),
            max,
        });
    }
    // checked_shr because a shift by the full 128 bits (a /32 or /128) is an overflow.
    let host_mask = u128::MAX.checked_shr(128 - (max - bits)).unwrap_or(0);
    // Accept set host bits and mask them off, as nmap does (198.18.0.7/24 = 198.18.0.0/24).
    // `v` of a V4 address has no bits above 32, so the mask cannot leak into them.
    let first = v & !host_mask;
    let last = first | host_mask;
    Ok(TargetRange {
        family,
        first,
        last,
        name: None,
    })
}

fn parse_range(start: IpAddr, end: &str) -> Result<TargetRange, TargetErrorKind> {
    let (family, first) = to_key(start);
    let last = if let Some(end_addr) = parse_literal(end) {
        let (end_family, last) = to_key(end_addr);
        if end_family != family {
            return Err(TargetErrorKind::MixedFamilies);
        }
        last
    } else {
        // `198.18.0.1-20`: the end replaces the last octet. Only IPv4 has octets.
        let octet = match family {
            Family::V4 if !end.is_empty() && end.bytes().all(|b| b.is_ascii_digit()) => {
                end.parse::<u8>().ok()
            }
            _ => None,
        };
        let Some(octet) = octet else {
            return Err(TargetErrorKind::BadRangeEnd {
                end: end.to_string(),
            });
        };
        (first & !0xff) | octet as u128
    };
    if first > last {
        return Err(TargetErrorKind::ReversedRange);
    }
    Ok(TargetRange {
        family,
        first,
        last,
        name: None,
    })
}

/// Resolves a host name, after checking it could be one at all so that typos such as
/// `198.18.0.300` get a precise message instead of a DNS lookup.
fn resolve(name: &str, lookup: Lookup<'_>) -> Result<IpAddr, TargetErrorKind> {
    if name.contains(':') {
        return Err(TargetErrorKind::BadIpv6);
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(TargetErrorKind::BadIpv4);
    }
    let labels_ok = name.strip_suffix('.').unwrap_or(name).split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if name.len() > 253 || !labels_ok {
        return Err(TargetErrorKind::NotATarget);
    }
    let addrs = lookup(name).map_err(|source| TargetErrorKind::Unresolvable { source })?;
    // nmap scans one address per name, IPv4 unless told -6; tcprax has no -6, so prefer v4
    // but fall back to v6 rather than failing a v6-only name.
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or(TargetErrorKind::NoAddresses)
}

/// A spec with where it came from, for error messages.
struct Item<'a> {
    token: &'a str,
    /// (file, 1-based line) for specs read from a file.
    origin: Option<(&'a Path, usize)>,
}

impl Item<'_> {
    fn error(&self, role: Role, kind: TargetErrorKind) -> TargetError {
        let token = self.token.to_string();
        match self.origin {
            None => TargetError::Bad { role, token, kind },
            Some((path, line)) => TargetError::BadInFile {
                role,
                path: path.to_path_buf(),
                line,
                token,
                kind,
            },
        }
    }
}

/// Splits a command-line argument into items; empty items are an error, reported with the
/// whole argument since an empty token cannot name itself.
fn split_arg(arg: &str) -> Result<Vec<Item<'_>>, (String, TargetErrorKind)> {
    arg.split(',')
        .map(|t| t.trim())
        .map(|token| {
            if token.is_empty() {
                Err((arg.to_string(), TargetErrorKind::Empty))
            } else {
                Ok(Item {
                    token,
                    origin: None,
                })
            }
        })
        .collect()
}

/// Reads a spec file: `#` comments, blank lines, items separated by whitespace or commas.
fn read_list(path: &Path, role: Role) -> Result<String, TargetError> {
    std::fs::read_to_string(path).map_err(|source| TargetError::ReadFile {
        role,
        path: path.to_path_buf(),
        source,
    })
}

fn split_file<'a>(path: &'a Path, text: &'a str, role: Role) -> Result<Vec<Item<'a>>, TargetError> {
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let origin = Some((path, index + 1));
        let content = line.split_once('#').map_or(line, |(before, _)| before);
        for word in content.split_whitespace() {
            for token in word.split(',') {
                if token.is_empty() {
                    let kind = TargetErrorKind::Empty;
                    return Err(Item {
                        token: word,
                        origin,
                    }
                    .error(role, kind));
                }
                items.push(Item { token, origin });
            }
        }
    }
    Ok(items)
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
    /// Address -> the first host name that resolved to it.
    names: HashMap<IpAddr, String>,
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
                .or_insert_with(|| name.clone());
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

    pub fn is_excluded(&self, addr: &IpAddr) -> bool {
        let (family, value) = to_key(*addr);
        self.excluded_until(family, value).is_some()
    }

    /// The host name the user gave for `addr`, if it came from a name.
    pub fn name_of(&self, addr: &IpAddr) -> Option<&str> {
        self.names.get(addr).map(String::as_str)
    }

    /// The parsed target ranges, in the order given.
    pub fn ranges(&self) -> &[TargetRange] {
        &self.ranges
    }

    /// One entry per spec (per file for `-iL`), for the scan plan.
    pub fn infos(&self) -> Vec<TargetInfo> {
        self.infos.clone()
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
mod tests {
    use super::*;
    use std::io::Write;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn set(specs: &[&str]) -> TargetSet {
        set_ex(specs, &[])
    }

    fn set_ex(specs: &[&str], exclude: &[&str]) -> TargetSet {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        TargetSet::parse(&specs, &[], &exclude, &[]).unwrap()
    }

    fn err(specs: &[&str], exclude: &[&str]) -> TargetError {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        TargetSet::parse(&specs, &[], &exclude, &[]).expect_err("should fail")
    }

    fn kind(spec: &str) -> TargetErrorKind {
        parse_spec(spec).expect_err(spec)
    }

    fn addrs(set: &TargetSet) -> Vec<String> {
        set.iter().map(|a| a.to_string()).collect()
    }

    /// A temp file removed on drop, so failing tests leave nothing behind.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(tag: &str, contents: &str) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("tcprax-targets-{}-{tag}", std::process::id()));
            std::fs::File::create(&path)
                .unwrap()
                .write_all(contents.as_bytes())
                .unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn ipv4_literal() {
        let s = set(&["198.18.0.2"]);
        assert_eq!(s.len(), 1);
        assert_eq!(addrs(&s), ["198.18.0.2"]);
        assert_eq!(
            s.infos(),
            [TargetInfo {
                spec: "198.18.0.2".into(),
                resolved: Some(v4("198.18.0.2")),
                addresses: 1
            }]
        );
        assert_eq!(s.name_of(&v4("198.18.0.2")), None);
    }

    #[test]
    fn ipv6_literal_with_and_without_brackets() {
        let s = set(&["2001:db8::1", "[2001:db8::2]"]);
        assert_eq!(addrs(&s), ["2001:db8::1", "2001:db8::2"]);
    }

    #[test]
    fn host_name_is_resolved_and_remembered() {
        let s = set(&["localhost"]);
        assert_eq!(s.len(), 1);
        let addr = s.get(0).unwrap();
        assert!(addr.is_loopback(), "{addr}");
        assert_eq!(s.name_of(&addr), Some("localhost"));
        let info = &s.infos()[0];
        assert_eq!(
            (info.spec.as_str(), info.resolved, info.addresses),
            ("localhost", Some(addr), 1)
        );
    }

    #[test]
    fn cidr_covers_network_and_broadcast() {
        let s = set(&["198.18.0.0/24"]);
        assert_eq!(s.len(), 256);
        assert_eq!(s.get(0), Some(v4("198.18.0.0")));
        assert_eq!(s.get(255), Some(v4("198.18.0.255")));
        assert_eq!(s.get(256), None);
        assert_eq!(
            s.infos()[0],
            TargetInfo {
                spec: "198.18.0.0/24".into(),
                resolved: None,
                addresses: 256
            }
        );
    }

    #[test]
    fn cidr_host_bits_are_masked() {
        let s = set(&["198.18.0.77/30"]);
        assert_eq!(
            addrs(&s),
            ["198.18.0.76", "198.18.0.77", "198.18.0.78", "198.18.0.79"]
        );
    }

    #[test]
    fn cidr_extremes() {
        assert_eq!(set(&["198.18.0.9/32"]).len(), 1);
        assert_eq!(set(&["0.0.0.0/0"]).len(), 1 << 32);
        assert_eq!(set(&["2001:db8::5/128"]).len(), 1);
        assert_eq!(set(&["2001:db8::/64"]).len(), 1 << 64);
        assert_eq!(set(&["::/1"]).len(), 1 << 127);
        assert_eq!(set(&["localhost/30"]).len(), 4);
    }

    #[test]
    fn ipv6_cidr() {
        let s = set(&["2001:db8::ff/126"]);
        assert_eq!(
            addrs(&s),
            [
                "2001:db8::fc",
                "2001:db8::fd",
                "2001:db8::fe",
                "2001:db8::ff"
            ]
        );
    }

    #[test]
    fn slash_eight_is_lazy() {
        // 16.7M addresses: only feasible if nothing is materialised.
        let s = set(&["10.0.0.0/8"]);
        assert_eq!(s.len(), 1 << 24);
        assert_eq!(s.get((1 << 24) - 1), Some(v4("10.255.255.255")));
        assert_eq!(s.iter().nth(65536), Some(v4("10.1.0.0")));
        assert_eq!(s.ranges().len(), 1);
    }

    #[test]
    fn last_octet_range() {
        let s = set(&["198.18.0.1-20"]);
        assert_eq!(s.len(), 20);
        assert_eq!(s.get(0), Some(v4("198.18.0.1")));
        assert_eq!(s.get(19), Some(v4("198.18.0.20")));
    }

    #[test]
    fn full_ranges() {
        let s = set(&["198.18.0.250-198.18.1.2"]);
        assert_eq!(s.len(), 9);
        assert_eq!(s.get(8), Some(v4("198.18.1.2")));
        assert_eq!(set(&["2001:db8::1-2001:db8::ff"]).len(), 255);
        assert_eq!(set(&["198.18.0.5-198.18.0.5"]).len(), 1);
    }

    #[test]
    fn comma_lists_are_separate_specs() {
        let s = set(&["198.18.0.1,198.18.0.5", "198.18.0.9"]);
        assert_eq!(addrs(&s), ["198.18.0.1", "198.18.0.5", "198.18.0.9"]);
        let specs: Vec<String> = s.infos().into_iter().map(|i| i.spec).collect();
        assert_eq!(specs, ["198.18.0.1", "198.18.0.5", "198.18.0.9"]);
    }

    #[test]
    fn duplicates_are_kept() {
        let s = set(&["198.18.0.1", "198.18.0.0/31"]);
        assert_eq!(s.len(), 3);
        assert_eq!(addrs(&s), ["198.18.0.1", "198.18.0.0", "198.18.0.1"]);
    }

    #[test]
    fn get_spans_ranges_of_both_families() {
        let s = set(&["198.18.0.0/30", "2001:db8::/127", "198.18.0.9"]);
        let all: Vec<Option<IpAddr>> = (0..s.len()).map(|i| s.get(i)).collect();
        let from_iter: Vec<Option<IpAddr>> = s.iter().map(Some).collect();
        assert_eq!(all, from_iter);
        assert_eq!(s.get(4), Some("2001:db8::".parse().unwrap()));
        assert_eq!(s.get(6), Some(v4("198.18.0.9")));
    }

    #[test]
    fn exclusions_apply_to_get_iter_and_is_excluded() {
        let s = set_ex(
            &["198.18.0.0/28"],
            &["198.18.0.0-3,198.18.0.8/30", "198.18.0.15"],
        );
        assert_eq!(s.len(), 16);
        assert_eq!(s.included_len(), 7);
        assert_eq!(
            addrs(&s),
            [
                "198.18.0.4",
                "198.18.0.5",
                "198.18.0.6",
                "198.18.0.7",
                "198.18.0.12",
                "198.18.0.13",
                "198.18.0.14"
            ]
        );
        assert_eq!(s.get(0), None);
        assert_eq!(s.get(4), Some(v4("198.18.0.4")));
        assert_eq!(s.get(15), None);
        assert!(s.is_excluded(&v4("198.18.0.9")));
        assert!(!s.is_excluded(&v4("198.18.0.12")));
        assert!(!s.is_excluded(&"2001:db8::".parse().unwrap()));
    }

    #[test]
    fn overlapping_exclusions_are_counted_once() {
        let s = set_ex(
            &["198.18.0.0/24"],
            &["198.18.0.0/25", "198.18.0.64/26", "198.18.0.128"],
        );
        assert_eq!(s.included_len(), 127);
        assert_eq!(s.iter().count(), 127);
        assert_eq!(s.iter().next(), Some(v4("198.18.0.129")));
    }

    #[test]
    fn exclusion_of_other_family_does_not_apply() {
        let s = set_ex(&["198.18.0.1"], &["::/0"]);
        assert_eq!(s.included_len(), 1);
    }

    #[test]
    fn excluding_everything_is_an_error() {
        let e = err(&["198.18.0.0/24"], &["198.18.0.0/16"]);
        assert!(
            matches!(e, TargetError::AllExcluded { count: 256 }),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "all 256 target addresses are excluded");
        assert!(matches!(
            err(&["localhost"], &["localhost"]),
            TargetError::AllExcluded { .. }
        ));
    }

    #[test]
    fn iter_at_the_top_of_the_address_space() {
        let s = set_ex(
            &[
                "255.255.255.254/31",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
            ],
            &["255.255.255.255"],
        );
        assert_eq!(
            addrs(&s),
            [
                "255.255.255.254",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
            ]
        );
        let s = set_ex(&["::/1", "198.18.0.1"], &["::/1"]);
        assert_eq!(addrs(&s), ["198.18.0.1"]);
    }

    #[test]
    fn input_list_file_with_comments_and_blank_lines() {
        let f = TempFile::new(
            "list",
            "# lab hosts\n\n198.18.0.1  # gateway\n198.18.0.4/31 198.18.0.9,198.18.0.10\n   \nlocalhost\n",
        );
        let s = TargetSet::parse(
            &["198.18.0.100".into()],
            std::slice::from_ref(&f.0),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(s.len(), 7);
        let got = addrs(&s);
        assert_eq!(
            got[..6],
            [
                "198.18.0.100",
                "198.18.0.1",
                "198.18.0.4",
                "198.18.0.5",
                "198.18.0.9",
                "198.18.0.10"
            ]
        );
        let infos = s.infos();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[1].spec, format!("-iL {}", f.0.display()));
        assert_eq!(infos[1].addresses, 6);
        assert_eq!(s.name_of(&s.get(6).unwrap()), Some("localhost"));
    }

    #[test]
    fn exclude_file() {
        let f = TempFile::new("exclude", "198.18.0.0/30 # infra\n");
        let s = TargetSet::parse(
            &["198.18.0.0/29".into()],
            &[],
            &[],
            std::slice::from_ref(&f.0),
        )
        .unwrap();
        assert_eq!(s.included_len(), 4);
    }

    #[test]
    fn bad_line_in_file_names_file_line_and_token() {
        let f = TempFile::new("badline", "198.18.0.1\n# ok\n198.18.0.0/33\n");
        let e = TargetSet::parse(&[], std::slice::from_ref(&f.0), &[], &[]).unwrap_err();
        assert!(
            matches!(&e, TargetError::BadInFile { line: 3, token, .. } if token == "198.18.0.0/33"),
            "{e:?}"
        );
        assert!(e.to_string().contains("line 3"));
    }

    #[test]
    fn missing_files_are_errors() {
        let missing = PathBuf::from("/nonexistent/tcprax-targets.txt");
        let e = TargetSet::parse(&[], std::slice::from_ref(&missing), &[], &[]).unwrap_err();
        assert!(
            matches!(&e, TargetError::ReadFile { role: Role::Target, path, .. } if *path == missing),
            "{e:?}"
        );
        let e = TargetSet::parse(
            &["198.18.0.1".into()],
            &[],
            &[],
            std::slice::from_ref(&missing),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                TargetError::ReadFile {
                    role: Role::Exclusion,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("cannot read exclusion file '/nonexistent/tcprax-targets.txt': ")
        );
    }

    #[test]
    fn no_targets_is_an_error() {
        assert!(matches!(err(&[], &[]), TargetError::NoTargets));
        let f = TempFile::new("empty", "# nothing here\n\n");
        let e = TargetSet::parse(&[], std::slice::from_ref(&f.0), &[], &[]).unwrap_err();
        assert!(matches!(e, TargetError::NoTargets));
    }

    #[test]
    fn empty_tokens_are_rejected() {
        let e = err(&["198.18.0.1,,198.18.0.2"], &[]);
        assert!(
            matches!(&e, TargetError::Bad { kind: TargetErrorKind::Empty, token, .. } if token == "198.18.0.1,,198.18.0.2")
        );
        assert_eq!(
            e.to_string(),
            "bad target '198.18.0.1,,198.18.0.2': empty item"
        );
        assert!(matches!(
            err(&[""], &[]),
            TargetError::Bad {
                kind: TargetErrorKind::Empty,
                ..
            }
        ));
        assert!(matches!(
            err(&["198.18.0.1"], &["198.18.0.2,"]),
            TargetError::Bad {
                role: Role::Exclusion,
                kind: TargetErrorKind::Empty,
                ..
            }
        ));
    }

    #[test]
    fn bad_cidr_prefixes() {
        let too_long = |spec| match kind(spec) {
            TargetErrorKind::PrefixTooLong { prefix, max } => (prefix, max),
            other => panic!("{spec}: {other:?}"),
        };
        assert_eq!(too_long("198.18.0.0/33"), ("33".to_string(), 32));
        assert_eq!(too_long("2001:db8::/129"), ("129".to_string(), 128));
        // Beyond u32: still reported as typed.
        assert_eq!(
            too_long("198.18.0.0/99999999999999"),
            ("99999999999999".to_string(), 32)
        );
        assert!(matches!(
            kind("198.18.0.0/"),
            TargetErrorKind::BadPrefix { .. }
        ));
        assert!(matches!(
            kind("198.18.0.0/x"),
            TargetErrorKind::BadPrefix { .. }
        ));
        assert!(matches!(
            kind("198.18.0.0/-1"),
            TargetErrorKind::BadPrefix { .. }
        ));
        assert!(matches!(
            kind("198.18.0.0/24/2"),
            TargetErrorKind::BadPrefix { .. }
        ));
        let e = err(&["198.18.0.0/33"], &[]);
        assert_eq!(
            e.to_string(),
            "bad target '198.18.0.0/33': prefix /33 is longer than 32 bits"
        );
    }

    #[test]
    fn whole_ipv6_space_cannot_be_counted() {
        assert!(matches!(
            err(&["::/0"], &[]),
            TargetError::Bad {
                kind: TargetErrorKind::TooLarge,
                ..
            }
        ));
        assert!(matches!(
            err(&["::/1", "8000::/1"], &[]),
            TargetError::Bad {
                kind: TargetErrorKind::TooLarge,
                ..
            }
        ));
    }

    #[test]
    fn bad_addresses() {
        assert!(matches!(kind("198.18.0.300"), TargetErrorKind::BadIpv4));
        assert!(matches!(kind("198.18.0"), TargetErrorKind::BadIpv4));
        assert!(matches!(kind("2001:db8::zz"), TargetErrorKind::BadIpv6));
        assert!(matches!(kind("198.18.0.1!"), TargetErrorKind::NotATarget));
        assert!(matches!(kind("a..b"), TargetErrorKind::NotATarget));
        assert!(matches!(kind("-x"), TargetErrorKind::NotATarget));
    }

    #[test]
    fn bad_ranges() {
        assert!(matches!(
            kind("198.18.0.20-1"),
            TargetErrorKind::ReversedRange
        ));
        assert!(matches!(
            kind("198.18.0.20-198.18.0.1"),
            TargetErrorKind::ReversedRange
        ));
        assert!(matches!(
            kind("198.18.0.1-256"),
            TargetErrorKind::BadRangeEnd { .. }
        ));
        assert!(matches!(
            kind("198.18.0.1-"),
            TargetErrorKind::BadRangeEnd { .. }
        ));
        assert!(matches!(
            kind("198.18.0.1-x"),
            TargetErrorKind::BadRangeEnd { .. }
        ));
        assert!(matches!(
            kind("2001:db8::1-ff"),
            TargetErrorKind::BadRangeEnd { .. }
        ));
        assert!(matches!(
            kind("198.18.0.1-2001:db8::1"),
            TargetErrorKind::MixedFamilies
        ));
    }

    #[test]
    fn unresolvable_host_is_an_error_naming_it() {
        let e = err(&["nonexistent.invalid"], &[]);
        assert!(
            matches!(&e, TargetError::Bad { kind: TargetErrorKind::Unresolvable { .. }, token, .. } if token == "nonexistent.invalid"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("bad target 'nonexistent.invalid': cannot resolve host name: ")
        );
        assert!(!e.to_string().contains('\n'));
        let e = err(&["198.18.0.1"], &["nonexistent.invalid"]);
        assert!(matches!(
            e,
            TargetError::Bad {
                role: Role::Exclusion,
                ..
            }
        ));
    }

    #[test]
    fn hostnames_with_dashes_are_not_ranges() {
        // Resolution fails, but as a name: the dash did not make it a malformed range.
        assert!(matches!(
            kind("no-such-host.invalid"),
            TargetErrorKind::Unresolvable { .. }
        ));
    }
}
