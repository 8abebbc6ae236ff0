//! Output: the printers that turn a scan's [`ScanPlan`], [`PortReport`]s and [`ScanSummary`]
//! into reports. This is the only layer that writes to stdout (or to `-o*` files).
//!
//! Three formats, one [`Printer`] each, all generic over [`io::Write`] so tests print into a
//! `Vec<u8>`:
//! - [`HumanPrinter`] (`-oN`): nmap-like report, sorted, with closed/filtered ports summarised;
//! - [`JsonPrinter`] (`-oJ`): JSON lines, streamed as results arrive;
//! - [`GrepPrinter`] (`-oG`): one line per host, nmap `-oG` style.
//!
//! The sorted formats share `HostTable`, which bounds memory: a scan can produce millions of
//! closed or filtered verdicts, so per host it keeps every open port but only the few non-open
//! ports the report could list, and counts for the rest. The formats are documented in
//! `docs/output.md`.
mod grep;
mod human;
mod json;

pub use grep::GrepPrinter;
pub use human::HumanPrinter;
pub use json::JsonPrinter;

use crate::config::{OutputFormat, OutputSpec, Verbosity};
use crate::model::{PortReport, PortState, Reason, ScanPlan, ScanSummary, ServiceInfo, TargetInfo};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One output format. The scan calls `plan` once before the first result, `port` once per
/// (address, port) verdict in arrival order, and `finish` once at the end; `finish` writes
/// whatever the format buffered and flushes.
pub trait Printer {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()>;
    fn port(&mut self, report: &PortReport) -> io::Result<()>;
    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()>;
}

impl<P: Printer + ?Sized> Printer for Box<P> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        (**self).plan(plan)
    }
    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        (**self).port(report)
    }
    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        (**self).finish(summary)
    }
}

/// Fan-out to every printer of a `-oN/-oJ/-oG` set. Every printer is called even when an
/// earlier one failed, so that (say) a closed stdout pipe does not truncate a report file; the
/// first error is returned.
impl<P: Printer> Printer for [P] {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        each(self, |p| p.plan(plan))
    }
    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        each(self, |p| p.port(report))
    }
    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        each(self, |p| p.finish(summary))
    }
}

fn each<P>(printers: &mut [P], mut f: impl FnMut(&mut P) -> io::Result<()>) -> io::Result<()> {
    let mut first = Ok(());
    for p in printers {
        let r = f(p);
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Why the printers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot open output file '{}': {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Builds the printer for `format` over any writer.
pub fn printer_for<W: Write + Send + 'static>(
    format: OutputFormat,
    wtr: W,
    verbosity: Verbosity,
) -> Box<dyn Printer + Send> {
    match format {
        OutputFormat::Normal => Box::new(HumanPrinter::new(wtr, verbosity)),
        OutputFormat::Json => Box::new(JsonPrinter::new(wtr)),
        OutputFormat::Grep => Box::new(GrepPrinter::new(wtr, verbosity)),
    }
}

/// Opens every requested output: a file (created or truncated) for `path: Some`, stdout for
/// `path: None`. Fails on the first file that cannot be created, naming it.
pub fn open_printers(
    specs: &[OutputSpec],
    verbosity: Verbosity,
) -> Result<Vec<Box<dyn Printer + Send>>, OutputError> {
    let mut printers = Vec::with_capacity(specs.len());
    for spec in specs {
        let wtr: Box<dyn Write + Send> = match &spec.path {
            // Stdout is line-buffered by std, so streamed JSON lines show up as they come.
            None => Box::new(io::stdout()),
            Some(path) => {
                let file = File::create(path).map_err(|source| OutputError::Open {
                    path: path.clone(),
                    source,
                })?;
                Box::new(BufWriter::new(file))
            }
        };
        printers.push(printer_for(spec.format, wtr, verbosity));
    }
    Ok(printers)
}

/// Non-open ports of one state that the normal report lists one by one; more than this and
/// they are only counted ("Not shown: 995 closed tcp ports").
pub const LIST_LIMIT: usize = 10;

/// With `-v`, non-open ports are listed up to this many per state and host; the rest are
/// counted. A bound, so that `-v -p-` over many hosts cannot hold millions of closed ports.
pub const VERBOSE_LIST_LIMIT: usize = 1000;

/// How many non-open ports per (host, state) a sorted printer keeps to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListPolicy {
    keep: usize,
    /// When more than `keep` arrive: list the first `keep` anyway (true), or none (false).
    partial: bool,
}

impl ListPolicy {
    pub(crate) fn for_verbosity(verbosity: Verbosity) -> ListPolicy {
        match verbosity {
            Verbosity::Quiet => ListPolicy {
                keep: 0,
                partial: false,
            },
            Verbosity::Normal => ListPolicy {
                keep: LIST_LIMIT,
                partial: false,
            },
            Verbosity::Verbose | Verbosity::Debug => ListPolicy {
                keep: VERBOSE_LIST_LIMIT,
                partial: true,
            },
        }
    }
}

/// A non-open verdict, stored without the (large, always empty) service part.
#[derive(Clone, Copy, Debug)]
struct Brief {
    port: u16,
    reason: Reason,
    rtt: Option<Duration>,
    ttl: Option<u8>,
}

/// The non-open ports of one state on one host: a count, a tally by reason, and the few
/// ports that may still be listed.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    count: u64,
    reasons: Vec<(Reason, u64)>,
    kept: Vec<Brief>,
}

impl Bucket {
    fn add(&mut self, brief: Brief, policy: ListPolicy) {
        self.count += 1;
        tally(&mut self.reasons, brief.reason);
        if self.count <= policy.keep as u64 {
            self.kept.push(brief);
        } else if !policy.partial && !self.kept.is_empty() {
            // Too many to list: none will be, so free them now.
            self.kept = Vec::new();
        }
    }

    /// Ports of this state that are not listed, and their reasons, most frequent first.
    pub(crate) fn hidden(&self) -> (u64, Vec<(Reason, u64)>) {
        let mut reasons = self.reasons.clone();
        for b in &self.kept {
            if let Some((_, n)) = reasons.iter_mut().find(|(r, _)| *r == b.reason) {
                *n = n.saturating_sub(1);
            }
        }
        reasons.retain(|&(_, n)| n > 0);
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(reason_str(a.0).cmp(reason_str(b.0))));
        (self.count - self.kept.len() as u64, reasons)
    }
}

fn tally(reasons: &mut Vec<(Reason, u64)>, reason: Reason) {
    match reasons.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, n)) => *n += 1,
        None => reasons.push((reason, 1)),
    }
}

/// The ports of one state on one host that a report counts instead of listing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hidden {
    pub state: PortState,
    pub count: u64,
    /// By reason, most frequent first.
    pub reasons: Vec<(Reason, u64)>,
}

/// What a sorted printer keeps about one host.
#[derive(Debug, Default)]
pub(crate) struct HostPorts {
    /// The host name the user gave for this address, from the first report that had one.
    name: Option<Arc<str>>,
    open: Vec<PortReport>,
    closed: Bucket,
    filtered: Bucket,
    unreachable: Bucket,
}

/// One port line of a report, whatever its state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    pub port: u16,
    pub state: PortState,
    pub reason: Reason,
    pub rtt: Option<Duration>,
    /// IP TTL / hop limit of the reply that decided the state (-sS only).
    pub ttl: Option<u8>,
    pub service: Option<&'a ServiceInfo>,
}

impl HostPorts {
    /// The lines to list, sorted by port: every open port and the kept non-open ones.
    pub(crate) fn rows(&self) -> Vec<Row<'_>> {
        let open = self.open.iter().map(|r| Row {
            port: r.event.port,
            state: r.event.state,
            reason: r.event.reason,
            rtt: r.event.rtt,
            ttl: r.event.ttl,
            service: r.service.as_ref(),
        });
        let others = [
            (PortState::Closed, &self.closed),
            (PortState::Filtered, &self.filtered),
            (PortState::Unreachable, &self.unreachable),
        ]
        .into_iter()
        .flat_map(|(state, bucket)| {
            bucket.kept.iter().map(move |b| Row {
                port: b.port,
                state,
                reason: b.reason,
                rtt: b.rtt,
                ttl: b.ttl,
                service: None,
            })
        });
        let mut rows: Vec<Row<'_>> = open.chain(others).collect();
        rows.sort_by_key(|r| r.port);
        rows
    }

    /// Non-open states with ports that are not listed.
    pub(crate) fn hidden(&self) -> Vec<Hidden> {
        [
            (PortState::Closed, &self.closed),
            (PortState::Filtered, &self.filtered),
            (PortState::Unreachable, &self.unreachable),
        ]
        .into_iter()
        .filter_map(|(state, bucket)| {
            let (count, reasons) = bucket.hidden();
            (count > 0).then_some(Hidden {
                state,
                count,
                reasons,
            })
        })
        .collect()
    }

    /// The host name the user gave for this address, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Ports with a verdict on this host.
    pub(crate) fn total(&self) -> u64 {
        self.open.len() as u64 + self.closed.count + self.filtered.count + self.unreachable.count
    }

    /// True if the host answered nothing: every port filtered.
    pub(crate) fn silent(&self) -> bool {
        self.open.is_empty() && self.closed.count == 0 && self.unreachable.count == 0
    }

    /// True if no probe to the host could be sent: every port unreachable.
    pub(crate) fn unreachable(&self) -> bool {
        self.unreachable.count > 0 && self.unreachable.count == self.total()
    }
}

/// Results grouped by host, for the printers that sort before printing.
#[derive(Debug)]
pub(crate) struct HostTable {
    hosts: BTreeMap<IpAddr, HostPorts>,
    policy: ListPolicy,
}

impl HostTable {
    pub(crate) fn new(policy: ListPolicy) -> HostTable {
        HostTable {
            hosts: BTreeMap::new(),
            policy,
        }
    }

    pub(crate) fn add(&mut self, report: &PortReport) {
        let host = self.hosts.entry(report.event.addr).or_default();
        if host.name.is_none() {
            host.name.clone_from(&report.name);
        }
        let brief = Brief {
            port: report.event.port,
            reason: report.event.reason,
            rtt: report.event.rtt,
            ttl: report.event.ttl,
        };
        match report.event.state {
            PortState::Open => host.open.push(report.clone()),
            PortState::Closed => host.closed.add(brief, self.policy),
            PortState::Filtered => host.filtered.add(brief, self.policy),
            PortState::Unreachable => host.unreachable.add(brief, self.policy),
        }
    }

    /// Hosts in address order (IPv4 before IPv6).
    pub(crate) fn hosts(&self) -> impl Iterator<Item = (&IpAddr, &HostPorts)> {
        self.hosts.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }
}

/// nmap's reason names.
pub(crate) fn reason_str(reason: Reason) -> &'static str {
    match reason {
        Reason::SynAck => "syn-ack",
        Reason::Reset => "reset",
        Reason::IcmpUnreachable => "icmp-unreachable",
        Reason::NoResponse => "no-response",
        Reason::Connected => "conn-established",
        Reason::Refused => "conn-refused",
        Reason::Unreachable => "unreachable",
        Reason::NoRoute => "no-route",
        Reason::SendFailed { .. } => "send-failed",
    }
}

/// Text that came from the network (or a target file) made safe for a terminal: control
/// characters, and the invisible Unicode that can reorder a line (bidi overrides, zero-width
/// characters), become '.'. Responses are sanitised upstream; certificates and names are not.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        let invisible = matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        );
        c.is_control() || invisible
    }
    if s.chars().any(unsafe_char) {
        Cow::Owned(
            s.chars()
                .map(|c| if unsafe_char(c) { '.' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// The lines of a response: '\n' breaks lines, a '\r' before it is dropped, and a trailing
/// line break does not make an empty last line.
pub(crate) fn response_lines(response: &str) -> impl Iterator<Item = &str> {
    response
        .trim_end_matches(['\r', '\n'])
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// "OpenSSH 9.2p1", "OpenSSH", "9.2p1" or "".
pub(crate) fn product_version(service: &ServiceInfo) -> String {
    match (&service.product, &service.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => p.clone(),
        (None, Some(v)) => v.clone(),
        (None, None) => String::new(),
    }
}

/// `n` and a noun, singular when `n == 1`.
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "example.test (198.18.0.2)", "198.18.0.0/24 (256 addresses)", "198.18.0.2".
pub(crate) fn target_label(target: &TargetInfo) -> String {
    let spec = clean(&target.spec);
    let count = plural_u128(target.addresses, "address", "addresses");
    match target.resolved {
        Some(addr) if addr.to_string() == target.spec && target.addresses <= 1 => spec.into_owned(),
        Some(addr) if target.addresses <= 1 => format!("{spec} ({addr})"),
        Some(addr) => format!("{spec} ({addr}, {count})"),
        None => format!("{spec} ({count})"),
    }
}

pub(crate) fn plural_u128(n: u128, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests;
