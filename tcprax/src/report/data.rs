//! What a report is built from: the verdicts of one or more scan files, folded into per-host
//! counts, the open ports (kept whole: they are what the report is about), a bounded list of
//! the other ports, round-trip-time samples and run facts. Both readers (JSON lines, nmap XML)
//! feed a [`ScanData`] through the same few methods, so the page knows nothing of formats.
//!
//! Memory is bounded by what a report can show: per host four counters, every open port, at
//! most [`LISTED_LIMIT`] closed/filtered/unreachable ports and [`RTT_SAMPLES`] RTTs.
use crate::model::PortState;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::IpAddr;

/// Closed, filtered and unreachable ports listed one by one in the ports table; the rest are
/// only counted (they are in the hosts table's counts).
pub const LISTED_LIMIT: usize = 1000;

/// Round-trip times kept for the histogram: the first this many, enough for its shape.
pub const RTT_SAMPLES: usize = 1 << 20;

/// One file (or stdin) that was read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// The name the user gave ("scan.jsonl", "-" for stdin).
    pub source: String,
    /// "JSON lines" or "nmap XML".
    pub format: &'static str,
    /// "syn", "connect", or what an XML `scaninfo type` said.
    pub scan_type: Option<String>,
    /// Compact port list, e.g. "22,80-90,443".
    pub ports: Option<String>,
    /// Targets as the user gave them (JSON lines).
    pub targets: Vec<String>,
    /// The command line of the scan (XML's `nmaprun args`).
    pub command: Option<String>,
    /// Wall time of the scan, when the file says.
    pub elapsed_s: Option<f64>,
    /// Some(true): the scan was stopped by a signal; None: the file has no end record (the
    /// scan was killed, or is still running).
    pub interrupted: Option<bool>,
}

/// What a TLS port's leaf certificate says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cert {
    pub subject_cn: Option<String>,
    pub sans: Vec<String>,
    pub issuer: Option<String>,
    /// RFC 3339, as the JSON carries it.
    pub not_after: Option<String>,
    pub self_signed: bool,
    /// Lowercase hex SHA-256 of the DER, when known: the same certificate on several ports is
    /// one row.
    pub sha256: Option<String>,
}

/// What -sV found on an open port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    /// The service was found inside TLS.
    pub tls: bool,
    pub cert: Option<Cert>,
}

impl Service {
    /// "OpenSSH 9.2p1", "OpenSSH", "9.2p1", or None.
    pub fn product_version(&self) -> Option<String> {
        match (&self.product, &self.version) {
            (Some(p), Some(v)) => Some(format!("{p} {v}")),
            (Some(p), None) => Some(p.clone()),
            (None, Some(v)) => Some(v.clone()),
            (None, None) => None,
        }
    }
}

/// One (address, port) verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub addr: IpAddr,
    pub port: u16,
    pub state: PortState,
    /// As the file names it: JSON's "connected", XML's "conn-established".
    pub reason: String,
    pub rtt_us: Option<u64>,
    pub service: Option<Service>,
}

/// The same open port read twice (two files): the later verdict, keeping what only the
/// earlier one knew (a -sV result, a certificate, an RTT).
fn merge(kept: &mut Port, newer: Port) {
    let older = std::mem::replace(kept, newer);
    kept.rtt_us = kept.rtt_us.or(older.rtt_us);
    match (&mut kept.service, older.service) {
        (None, older) => kept.service = older,
        (Some(service), Some(older)) if service.cert.is_none() => service.cert = older.cert,
        _ => {}
    }
}

/// One address: the name the user gave for it, and how many ports came out in each state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    pub name: Option<String>,
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    pub unreachable: u64,
}

impl Host {
    fn count(&mut self, state: PortState, n: u64) {
        let slot = match state {
            PortState::Open => &mut self.open,
            PortState::Closed => &mut self.closed,
            PortState::Filtered => &mut self.filtered,
            PortState::Unreachable => &mut self.unreachable,
        };
        *slot = slot.saturating_add(n);
    }

    pub fn total(&self) -> u64 {
        self.open + self.closed + self.filtered + self.unreachable
    }
}

/// Everything the page shows, from every file read.
#[derive(Clone, Debug, Default)]
pub struct ScanData {
    pub runs: Vec<Run>,
    pub hosts: BTreeMap<IpAddr, Host>,
    /// Open ports by (address, port); a port open in two files is one row, counted once (see
    /// `merge`). Other verdicts are not deduplicated: that would cost memory per verdict.
    pub open: BTreeMap<(IpAddr, u16), Port>,
    /// Other ports, the first [`LISTED_LIMIT`].
    pub others: Vec<Port>,
    /// Other ports past [`LISTED_LIMIT`]: counted only.
    pub others_unlisted: u64,
    /// Round-trip times in microseconds, the first [`RTT_SAMPLES`].
    pub rtts_us: Vec<u64>,
    /// Ports with an RTT past [`RTT_SAMPLES`].
    pub rtts_unsampled: u64,
}

impl ScanData {
    pub fn new() -> ScanData {
        ScanData::default()
    }

    /// The host `addr`, created on first sight; `name` fills in a name not yet known.
    pub fn host(&mut self, addr: IpAddr, name: Option<&str>) -> &mut Host {
        let host = self.hosts.entry(addr).or_default();
        if host.name.is_none() {
            host.name = name.map(str::to_owned);
        }
        host
    }

    /// One verdict.
    pub fn add_port(&mut self, port: Port, name: Option<&str>) {
        let (addr, state) = (port.addr, port.state);
        if state != PortState::Open {
            self.host(addr, name).count(state, 1);
        }
        if let Some(rtt) = port.rtt_us {
            if self.rtts_us.len() < RTT_SAMPLES {
                self.rtts_us.push(rtt);
            } else {
                self.rtts_unsampled += 1;
            }
        }
        if port.state == PortState::Open {
            match self.open.entry((port.addr, port.port)) {
                Entry::Vacant(slot) => {
                    slot.insert(port);
                    self.host(addr, name).count(PortState::Open, 1);
                }
                Entry::Occupied(mut slot) => merge(slot.get_mut(), port),
            }
        } else if self.others.len() < LISTED_LIMIT {
            self.others.push(port);
        } else {
            self.others_unlisted += 1;
        }
    }

    /// `n` ports of `addr` in `state` that the file only counts (nmap XML's `<extraports>`).
    pub fn add_counted(&mut self, addr: IpAddr, state: PortState, n: u64) {
        self.host(addr, None).count(state, n);
        if state != PortState::Open {
            self.others_unlisted = self.others_unlisted.saturating_add(n);
        }
    }

    /// Totals over every host: open, closed, filtered, unreachable.
    pub fn totals(&self) -> Host {
        let mut t = Host::default();
        for h in self.hosts.values() {
            t.open += h.open;
            t.closed += h.closed;
            t.filtered += h.filtered;
            t.unreachable += h.unreachable;
        }
        t
    }

    /// Every distinct certificate with the ports that served it, in the order the report
    /// lists them: soonest `not_after` first (expired ones first of all), unknown dates last.
    pub fn certificates(&self) -> Vec<(&Cert, Vec<(IpAddr, u16)>)> {
        let mut certs: Vec<(&Cert, Vec<(IpAddr, u16)>)> = Vec::new();
        // Index by fingerprint (or the whole certificate, when a file has none).
        let mut index: std::collections::HashMap<&Cert, usize> = std::collections::HashMap::new();
        let mut by_sha: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for port in self.open.values() {
            let Some(cert) = port.service.as_ref().and_then(|s| s.cert.as_ref()) else {
                continue;
            };
            let next = certs.len();
            let at = match cert.sha256.as_deref() {
                Some(sha) => *by_sha.entry(sha).or_insert(next),
                None => *index.entry(cert).or_insert(next),
            };
            match certs.get_mut(at) {
                Some((_, ports)) => ports.push((port.addr, port.port)),
                None => certs.push((cert, vec![(port.addr, port.port)])),
            }
        }
        certs.sort_by(|(a, _), (b, _)| {
            let key = |c: &Cert| {
                c.not_after
                    .as_deref()
                    .and_then(crate::calendar::parse_rfc3339)
            };
            match (key(a), key(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.subject_cn.cmp(&b.subject_cn))
        });
        certs
    }
}
