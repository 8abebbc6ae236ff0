//! Port grammar (`22`, `80-90`, `22,80-90,443`, `-`, `1024-`, `-100`) and [`PortList`], the
//! sorted, de-duplicated set of TCP ports a scan visits on every target.
//!
//! The grammar is nmap's `-p` without its protocol prefixes (`T:`/`U:`) and service names:
//! tcprax only scans TCP, and names would tie parsing to a services database.

/// Why a port specification was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad port '{token}': {kind}")]
pub struct PortError {
    /// The offending item as the user typed it (the whole list when an item is empty).
    pub token: String,
    pub kind: PortErrorKind,
}

/// The individual ways a port item can be wrong.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    #[error("empty port list")]
    EmptyList,
    #[error("empty item in list")]
    EmptyItem,
    #[error("not a number")]
    NotNumeric,
    #[error("port 0 cannot be scanned")]
    Zero,
    #[error("above 65535")]
    TooLarge,
    #[error("range start {lo} is above its end {hi}")]
    Reversed { lo: u16, hi: u16 },
}

/// nmap's 100 most frequently open TCP ports, ascending.
///
/// Derived from nmap 7.93's `/usr/share/nmap/nmap-services`: the `/tcp` entries sorted by the
/// open-frequency (third) column, descending, first 100 taken, then sorted by number. It
/// agrees with the `services=` list nmap itself prints for `--top-ports 100 -oX -`.
pub const TOP_100_TCP: [u16; 100] = [
    7, 9, 13, 21, 22, 23, 25, 26, 37, 53, 79, 80, 81, 88, 106, 110, 111, 113, 119, 135, 139, 143,
    144, 179, 199, 389, 427, 443, 444, 445, 465, 513, 514, 515, 543, 544, 548, 554, 587, 631, 646,
    873, 990, 993, 995, 1025, 1026, 1027, 1028, 1029, 1110, 1433, 1720, 1723, 1755, 1900, 2000,
    2001, 2049, 2121, 2717, 3000, 3128, 3306, 3389, 3986, 4899, 5000, 5009, 5051, 5060, 5101, 5190,
    5357, 5432, 5631, 5666, 5800, 5900, 6000, 6001, 6646, 7070, 8000, 8008, 8009, 8080, 8081, 8443,
    8888, 9100, 9999, 10000, 32768, 49152, 49153, 49154, 49155, 49156, 49157,
];

/// A non-empty, ascending, duplicate-free list of TCP ports (1..=65535).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList {
    ports: Vec<u16>,
}

impl PortList {
    /// Parses a `-p` value: comma-separated items, each a port (`22`), a range (`80-90`), an
    /// open-ended range (`1024-` up to 65535, `-100` from 1) or `-` alone for all ports.
    /// Spaces around items are tolerated because quoted lists (`"22, 80"`) are common.
    pub fn parse(spec: &str) -> Result<PortList, PortError> {
        if spec.trim().is_empty() {
            return Err(PortError {
                token: spec.to_string(),
                kind: PortErrorKind::EmptyList,
            });
        }
        let mut ranges = Vec::new();
        for raw in spec.split(',') {
            let item = raw.trim();
            if item.is_empty() {
                return Err(PortError {
                    token: spec.to_string(),
                    kind: PortErrorKind::EmptyItem,
                });
            }
            ranges.push(parse_item(item)?);
        }
        // Merge the ranges before expanding them, so the work is bounded by the port space and
        // not by the sum of the ranges: `-,-,-,...` once cost 65,535 ports per item (found by
        // the `ports` fuzz target).
        ranges.sort_unstable();
        let mut ports = Vec::new();
        // The lowest port not yet in `ports`; None once 65535 is.
        let mut next = Some(1u16);
        for (lo, hi) in ranges {
            let Some(from) = next.map(|n| n.max(lo)) else {
                break;
            };
            if from <= hi {
                ports.extend(from..=hi);
                next = hi.checked_add(1);
            }
        }
        Ok(PortList { ports })
    }

    /// Every port, 1-65535 (`-p-`).
    pub fn all() -> PortList {
        PortList {
            ports: (1..=u16::MAX).collect(),
        }
    }

    /// The default when `-p` is absent: [`TOP_100_TCP`], as nmap does.
    pub fn default_top() -> PortList {
        PortList {
            ports: TOP_100_TCP.to_vec(),
        }
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ports
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = u16> + '_ {
        self.ports.iter().copied()
    }

    pub fn contains(&self, port: u16) -> bool {
        self.ports.binary_search(&port).is_ok()
    }

    /// The list in compact form, consecutive ports folded into ranges: `22,80-90,443`.
    /// Parsing the result gives back an equal list.
    pub fn spec_string(&self) -> String {
        let mut out = String::new();
        let mut iter = self.ports.iter().copied().peekable();
        while let Some(lo) = iter.next() {
            let mut hi = lo;
            while let Some(&next) = iter.peek() {
                // `hi < u16::MAX` guards the `+ 1`; the list is strictly ascending anyway.
                if hi < u16::MAX && next == hi + 1 {
                    hi = next;
                    iter.next();
                } else {
                    break;
                }
            }
            if !out.is_empty() {
                out.push(',');
            }
            if lo == hi {
                out.push_str(&lo.to_string());
            } else {
                out.push_str(&format!("{lo}-{hi}"));
            }
        }
        out
    }
}

/// One non-empty list item -> inclusive range.
fn parse_item(item: &str) -> Result<(u16, u16), PortError> {
    let Some((a, b)) = item.split_once('-') else {
        let p = parse_port(item)?;
        return Ok((p, p));
    };
    let lo = if a.trim().is_empty() {
        1
    } else {
        parse_port(a.trim())?
    };
    let hi = if b.trim().is_empty() {
        u16::MAX
    } else {
        parse_port(b.trim())?
    };
    if lo > hi {
        return Err(PortError {
            token: item.to_string(),
            kind: PortErrorKind::Reversed { lo, hi },
        });
    }
    Ok((lo, hi))
}

/// One number. A bad number is reported as itself, not as the range around it, so the user
/// sees exactly what to fix.
fn parse_port(text: &str) -> Result<u16, PortError> {
    let bad = |kind| PortError {
        token: text.to_string(),
        kind,
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(PortErrorKind::NotNumeric));
    }
    // All digits: the only possible parse failure is overflow, so treat it as "too large"
    // instead of surfacing u32's own error text.
    let value: u32 = text.parse().unwrap_or(u32::MAX);
    match value {
        0 => Err(bad(PortErrorKind::Zero)),
        1..=65535 => Ok(value as u16),
        _ => Err(bad(PortErrorKind::TooLarge)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> PortError {
        PortList::parse(spec).expect_err(spec)
    }

    #[test]
    fn single_port() {
        assert_eq!(PortList::parse("22").unwrap().as_slice(), &[22]);
        assert_eq!(PortList::parse("65535").unwrap().as_slice(), &[65535]);
        assert_eq!(PortList::parse("1").unwrap().as_slice(), &[1]);
    }

    #[test]
    fn range_is_inclusive() {
        assert_eq!(
            PortList::parse("80-83").unwrap().as_slice(),
            &[80, 81, 82, 83]
        );
        assert_eq!(PortList::parse("80-80").unwrap().as_slice(), &[80]);
    }

    #[test]
    fn list_and_mixed_are_sorted_and_deduplicated() {
        let p = PortList::parse("443,22,80-82,81,22").unwrap();
        assert_eq!(p.as_slice(), &[22, 80, 81, 82, 443]);
        assert_eq!(p.spec_string(), "22,80-82,443");
    }

    #[test]
    fn spaces_around_items_are_tolerated() {
        assert_eq!(
            PortList::parse(" 22 , 80 - 81 ").unwrap().as_slice(),
            &[22, 80, 81]
        );
    }

    #[test]
    fn dash_alone_is_all_ports() {
        let p = PortList::parse("-").unwrap();
        assert_eq!(p, PortList::all());
        assert_eq!(p.len(), 65535);
        assert_eq!(p.spec_string(), "1-65535");
    }

    #[test]
    fn open_ended_ranges() {
        let p = PortList::parse("65530-").unwrap();
        assert_eq!(p.as_slice(), &[65530, 65531, 65532, 65533, 65534, 65535]);
        let p = PortList::parse("-3").unwrap();
        assert_eq!(p.as_slice(), &[1, 2, 3]);
    }

    #[test]
    fn spec_string_round_trips() {
        for spec in [
            "22",
            "22,80-90,443",
            "1-65535",
            "1,3,5-6,65535",
            "7,9,13,21-23",
        ] {
            let p = PortList::parse(spec).unwrap();
            assert_eq!(p.spec_string(), spec);
            assert_eq!(PortList::parse(&p.spec_string()).unwrap(), p);
        }
    }

    #[test]
    fn default_is_nmap_top_100() {
        let p = PortList::default_top();
        assert_eq!(p.len(), 100);
        // Sorted and unique, so it obeys the PortList invariant.
        assert!(TOP_100_TCP.windows(2).all(|w| w[0] < w[1]));
        for port in [21, 22, 23, 25, 80, 443, 445, 3306, 3389, 8080] {
            assert!(p.contains(port), "{port} missing from the top 100");
        }
        assert!(!p.contains(0));
    }

    #[test]
    fn port_zero_is_rejected() {
        assert_eq!(
            err("0"),
            PortError {
                token: "0".into(),
                kind: PortErrorKind::Zero
            }
        );
        assert_eq!(err("0-10").kind, PortErrorKind::Zero);
    }

    #[test]
    fn above_65535_is_rejected_and_named() {
        let e = err("22,70000");
        assert_eq!(
            e,
            PortError {
                token: "70000".into(),
                kind: PortErrorKind::TooLarge
            }
        );
        assert_eq!(e.to_string(), "bad port '70000': above 65535");
        assert_eq!(err("65536").kind, PortErrorKind::TooLarge);
        // Far beyond u32 as well: still "too large", not a parse-internal message.
        assert_eq!(err("99999999999999999999").kind, PortErrorKind::TooLarge);
        assert_eq!(err("1-65536").token, "65536");
    }

    #[test]
    fn reversed_range_is_rejected() {
        let e = err("90-80");
        assert_eq!(
            e,
            PortError {
                token: "90-80".into(),
                kind: PortErrorKind::Reversed { lo: 90, hi: 80 }
            }
        );
        assert_eq!(
            e.to_string(),
            "bad port '90-80': range start 90 is above its end 80"
        );
    }

    #[test]
    fn empty_list_and_empty_items_are_rejected() {
        assert_eq!(err("").kind, PortErrorKind::EmptyList);
        assert_eq!(err("  ").kind, PortErrorKind::EmptyList);
        let e = err("22,,80");
        assert_eq!(
            e,
            PortError {
                token: "22,,80".into(),
                kind: PortErrorKind::EmptyItem
            }
        );
        assert_eq!(err("22,").kind, PortErrorKind::EmptyItem);
        assert_eq!(err(",22").kind, PortErrorKind::EmptyItem);
    }

    #[test]
    fn many_overlapping_ranges_cost_no_more_than_the_port_space() {
        // 20,000 full ranges: expanded one by one they were 1.3 billion ports (2.6 GB) before
        // sorting; merged first, they are one pass over 65,535.
        let spec = vec!["-"; 20_000].join(",");
        assert_eq!(PortList::parse(&spec).unwrap(), PortList::all());
        let spec = (1..=20_000u32)
            .map(|i| format!("{}-", i % 100 + 1))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(PortList::parse(&spec).unwrap(), PortList::all());
        assert_eq!(
            PortList::parse("1000-2000,1-10,1500-2500,5-6,2501")
                .unwrap()
                .spec_string(),
            "1-10,1000-2501"
        );
    }

    #[test]
    fn non_numeric_is_rejected() {
        assert_eq!(
            err("ssh"),
            PortError {
                token: "ssh".into(),
                kind: PortErrorKind::NotNumeric
            }
        );
        assert_eq!(err("80-http").token, "http");
        assert_eq!(err("+80").kind, PortErrorKind::NotNumeric);
        assert_eq!(err("1-2-3").kind, PortErrorKind::NotNumeric);
        assert_eq!(err("T:80").kind, PortErrorKind::NotNumeric);
    }
}
