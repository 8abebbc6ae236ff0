//! The grammar of one target spec (address, name, CIDR block, range) and of the lists specs
//! come in: comma-separated arguments and `-iL`/`--excludefile` files. Each spec becomes one
//! [`TargetRange`]; errors name the token and, for files, the line.
use super::{Family, Role, TargetError, TargetErrorKind, TargetRange, to_key};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

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
pub(super) struct Item<'a> {
    pub(super) token: &'a str,
    /// (file, 1-based line) for specs read from a file.
    origin: Option<(&'a Path, usize)>,
}

impl Item<'_> {
    pub(super) fn error(&self, role: Role, kind: TargetErrorKind) -> TargetError {
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
pub(super) fn split_arg(arg: &str) -> Result<Vec<Item<'_>>, (String, TargetErrorKind)> {
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
pub(super) fn read_list(path: &Path, role: Role) -> Result<String, TargetError> {
    std::fs::read_to_string(path).map_err(|source| TargetError::ReadFile {
        role,
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn split_file<'a>(
    path: &'a Path,
    text: &'a str,
    role: Role,
) -> Result<Vec<Item<'a>>, TargetError> {
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
