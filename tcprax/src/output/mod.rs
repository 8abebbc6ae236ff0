//! Output: the printers that turn a scan's [`ScanPlan`], [`PortReport`]s and [`ScanSummary`]
//! into reports. This is the only layer that writes to stdout (or to `-o*` files).
//!
//! Three formats, one [`Printer`] each, all generic over [`io::Write`] so tests print into a
//! `Vec<u8>`:
//! - [`HumanPrinter`] (`-oN`): nmap-like report, a block per host with open ports (ports
//!   sorted, closed/filtered summarised), hosts without one counted;
//! - [`JsonPrinter`] (`-oJ`): JSON lines, streamed as results arrive;
//! - [`GrepPrinter`] (`-oG`): one line per host, nmap `-oG` style.
//!
//! The per-host formats share `HostTracker`, which bounds memory: it holds a host only while
//! the host is in progress (a host is complete once it has a verdict for every planned port;
//! its block or line is then written and the host forgotten), keeps every open port but only
//! the few non-open ports a report could list, and tracks at most [`TRACKED_LIMIT`] hosts
//! without an open port at once. So a scan of millions of closed or silent addresses costs the
//! printers a bounded amount of memory, not some hundred bytes per address.
//!
//! Every printer writes whole lines, each with one `write_all`, and `open_printers` routes
//! them through a gate shared with [`exit_now`]: a forced exit (second signal) never cuts a
//! line in half, in a file or on stdout. The formats are documented in `docs/output.md`.
mod grep;
mod human;
mod json;

pub use grep::GrepPrinter;
pub use human::HumanPrinter;
pub use json::JsonPrinter;

use crate::config::{OutputFormat, OutputSpec, Verbosity};
use crate::model::{PortReport, PortState, Reason, ScanPlan, ScanSummary, ServiceInfo, TargetInfo};
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

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
        // Files are buffered (one write per line would cost a system call per verdict); the
        // printers hand over whole lines, so a buffer flush only ever writes whole lines.
        // Stdout is line-buffered by std, so streamed JSON lines show up as they come.
        let wtr: Box<dyn Write + Send> = match &spec.path {
            None => Box::new(Gated(io::stdout())),
            Some(path) => {
                let file = File::create(path).map_err(|source| OutputError::Open {
                    path: path.clone(),
                    source,
                })?;
                Box::new(Gated(BufWriter::new(file)))
            }
        };
        printers.push(printer_for(spec.format, wtr, verbosity));
    }
    Ok(printers)
}

/// Held while a report writer writes (and, by [`exit_now`], while the process exits).
static WRITE_GATE: Mutex<()> = Mutex::new(());

/// A report writer whose every `write` is one `write_all` under [`WRITE_GATE`]. The printers
/// write whole lines, so whatever reaches the file or stdout (a `BufWriter` flush included,
/// which happens inside such a call) is a sequence of whole lines, and an exit can only come
/// between two of them.
struct Gated<W>(W);

impl<W: Write> Write for Gated<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _gate = WRITE_GATE.lock().unwrap_or_else(PoisonError::into_inner);
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _gate = WRITE_GATE.lock().unwrap_or_else(PoisonError::into_inner);
        self.0.flush()
    }
}

/// How long [`exit_now`] waits for a write in progress: a line to a file takes microseconds
/// (a buffer flush, milliseconds); a write that takes longer is stuck on a pipe or terminal
/// nobody reads, and the exit must not wait for it.
const EXIT_WAIT: Duration = Duration::from_millis(200);

/// A notice from the engine for the operator, as one `tcprax: warning: ...` line on stderr
/// (reports stay on stdout and in the -o files). A failed write is ignored: after SIGHUP the
/// terminal may be gone, and the scan must still finish its other reports.
pub fn notice(notice: &crate::model::Notice) {
    let _ = writeln!(io::stderr(), "tcprax: warning: {notice}");
}

/// Ends the process with `code` at once (a second signal), flushing no report: lines still in
/// a file's buffer are lost, but the gate is taken first, so no line is left half-written.
pub fn exit_now(code: i32) -> ! {
    let deadline = Instant::now() + EXIT_WAIT;
    let gate = loop {
        match WRITE_GATE.try_lock() {
            Ok(gate) => break Some(gate),
            Err(TryLockError::Poisoned(p)) => break Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => break None,
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    // Held (never released) while the process ends, so no printer starts another line.
    std::mem::forget(gate);
    std::process::exit(code)
}

/// Non-open ports of one state that the normal report lists one by one; more than this and
/// they are only counted ("Not shown: 995 closed tcp ports").
pub const LIST_LIMIT: usize = 10;

/// With `-v`, non-open ports are listed up to this many per state and host; the rest are
/// counted. A bound, so that `-v -p-` over many hosts cannot hold millions of closed ports.
pub const VERBOSE_LIST_LIMIT: usize = 1000;

/// Hosts without an open port tracked at once. Beyond, the verdicts of further such hosts
/// only count in the totals (see [`HostTracker`]). A scan visiting hosts one after another
/// (-sT) never comes near it; a -sS scan of more hosts than this, in random order, does.
pub const TRACKED_LIMIT: usize = 4096;

/// Non-open ports kept for listing, over all tracked hosts: with `-v`, 1000 per state and host
/// over thousands of hosts would otherwise add up to millions.
pub const KEPT_LIMIT: usize = 1 << 16;

/// How many non-open ports per (host, state) a per-host printer keeps to list.
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

/// Every reason, in the order of the counters below.
const REASONS: [Reason; 9] = [
    Reason::SynAck,
    Reason::Reset,
    Reason::IcmpUnreachable,
    Reason::NoResponse,
    Reason::Connected,
    Reason::Refused,
    Reason::Unreachable,
    Reason::NoRoute,
    // Counted together whatever the errno; a listed port keeps its own.
    Reason::SendFailed { errno: 0 },
];

fn reason_index(reason: Reason) -> usize {
    match reason {
        Reason::SynAck => 0,
        Reason::Reset => 1,
        Reason::IcmpUnreachable => 2,
        Reason::NoResponse => 3,
        Reason::Connected => 4,
        Reason::Refused => 5,
        Reason::Unreachable => 6,
        Reason::NoRoute => 7,
        Reason::SendFailed { .. } => 8,
    }
}

/// A counter width: per-host tallies use `u32` (a host has at most 65,535 ports per pass), the
/// scan-wide ones `u64`.
pub(crate) trait Count: Copy + Default + Into<u64> {
    fn inc(&mut self);
    fn dec(&mut self);
}

impl Count for u32 {
    fn inc(&mut self) {
        *self = self.saturating_add(1);
    }
    fn dec(&mut self) {
        *self = self.saturating_sub(1);
    }
}

impl Count for u64 {
    fn inc(&mut self) {
        *self = self.saturating_add(1);
    }
    fn dec(&mut self) {
        *self = self.saturating_sub(1);
    }
}

/// Ports counted by reason: a fixed array, so counting costs no allocation per host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReasonCounts<N>([N; REASONS.len()]);

impl<N: Count> ReasonCounts<N> {
    fn add(&mut self, reason: Reason) {
        self.0[reason_index(reason)].inc();
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().map(|&n| n.into()).sum()
    }

    /// (reason, count) with a count, most frequent first (ties by name).
    pub(crate) fn sorted(&self) -> Vec<(Reason, u64)> {
        let mut v: Vec<(Reason, u64)> = REASONS
            .iter()
            .map(|&r| (r, self.0[reason_index(r)].into()))
            .filter(|&(_, n)| n > 0)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(reason_str(a.0).cmp(reason_str(b.0))));
        v
    }
}

/// A non-open verdict kept for listing, in 12 bytes: no service part, the RTT in whole
/// microseconds (the precision the reports print and JSON carries).
#[derive(Clone, Copy, Debug)]
struct Brief {
    /// `u32::MAX` when nothing answered; longer RTTs saturate just below.
    rtt_us: u32,
    port: u16,
    state: PortState,
    reason: Reason,
    ttl: Option<u8>,
}

impl Brief {
    fn of(report: &PortReport) -> Brief {
        let rtt_us = match report.event.rtt {
            Some(d) => u32::try_from(d.as_micros())
                .unwrap_or(u32::MAX)
                .min(u32::MAX - 1),
            None => u32::MAX,
        };
        Brief {
            rtt_us,
            port: report.event.port,
            state: report.event.state,
            reason: report.event.reason,
            ttl: report.event.ttl,
        }
    }

    fn rtt(&self) -> Option<Duration> {
        (self.rtt_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.rtt_us)))
    }
}

/// The non-open ports of one state on one host: a tally by reason, and how many of them are
/// kept for listing (in [`HostPorts`], shared by both states to save a vector per host).
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    reasons: ReasonCounts<u32>,
    kept: u16,
    /// A port of a listable bucket could not be kept ([`KEPT_LIMIT`] reached): list none.
    short: bool,
}

impl Bucket {
    fn count(&self) -> u64 {
        self.reasons.total()
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

/// What a per-host printer keeps about one host while it is in progress: ~140 bytes when it
/// has no open port and nothing to list (the common case of a closed or silent host).
#[derive(Debug, Default)]
pub(crate) struct HostPorts {
    /// The host name the user gave for this address, from the first report that had one.
    name: Option<Arc<str>>,
    open: Vec<PortReport>,
    /// Closed and filtered ports that may still be listed.
    kept: Vec<Brief>,
    closed: Bucket,
    filtered: Bucket,
    /// -sS ports no probe could reach (no route, a send the kernel refused).
    unreachable: Bucket,
    /// Tracking began after verdicts had gone untracked ([`HostTracker::untracked`]): some
    /// of this host's ports may have been decided before and not be counted here.
    late: bool,
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
    fn add(&mut self, report: &PortReport, policy: ListPolicy, room: &mut usize) {
        if self.name.is_none() {
            self.name.clone_from(&report.name);
        }
        let state = report.event.state;
        let bucket = match state {
            PortState::Open => {
                self.open.push(report.clone());
                return;
            }
            PortState::Closed => &mut self.closed,
            PortState::Filtered => &mut self.filtered,
            PortState::Unreachable => &mut self.unreachable,
        };
        bucket.reasons.add(report.event.reason);
        let (keep, release) = if policy.partial {
            // -v: the first ports that arrive are listed, the rest counted.
            (usize::from(bucket.kept) < policy.keep && *room > 0, false)
        } else if bucket.count() <= policy.keep as u64 && !bucket.short {
            // All or none: without this one the list would be incomplete.
            bucket.short = *room == 0;
            (!bucket.short, bucket.short)
        } else {
            // Too many to list: none will be, so free them now.
            (false, bucket.kept > 0)
        };
        if keep {
            *room -= 1;
            bucket.kept += 1;
            self.kept.push(Brief::of(report));
        }
        if release {
            *room += usize::from(bucket.kept);
            bucket.kept = 0;
            self.kept.retain(|b| b.state != state);
            if self.kept.is_empty() {
                self.kept = Vec::new();
            }
        }
    }

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
        let others = self.kept.iter().map(|b| Row {
            port: b.port,
            state: b.state,
            reason: b.reason,
            rtt: b.rtt(),
            ttl: b.ttl,
            service: None,
        });
        let mut rows: Vec<Row<'_>> = open.chain(others).collect();
        rows.sort_by_key(|r| r.port);
        rows
    }

    /// Non-open states with ports that are not listed, and their reasons, most frequent first.
    pub(crate) fn hidden(&self) -> Vec<Hidden> {
        [
            (PortState::Closed, &self.closed),
            (PortState::Filtered, &self.filtered),
            (PortState::Unreachable, &self.unreachable),
        ]
        .into_iter()
        .filter_map(|(state, bucket)| {
            let mut reasons = bucket.reasons;
            for b in self.kept.iter().filter(|b| b.state == state) {
                reasons.0[reason_index(b.reason)].dec();
            }
            let count = bucket.count() - u64::from(bucket.kept);
            (count > 0).then(|| Hidden {
                state,
                count,
                reasons: reasons.sorted(),
            })
        })
        .collect()
    }

    /// The host name the user gave for this address, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Ports with a verdict on this host (that this printer saw while tracking it).
    pub(crate) fn total(&self) -> u64 {
        self.open.len() as u64
            + self.closed.count()
            + self.filtered.count()
            + self.unreachable.count()
    }

    pub(crate) fn has_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// True if the host answered nothing: every port filtered.
    pub(crate) fn silent(&self) -> bool {
        self.open.is_empty() && self.closed.count() == 0 && self.unreachable.count() == 0
    }
}

/// Hosts in progress, for the printers that report per host. A host is complete once it has
/// as many verdicts as the plan has ports; [`HostTracker::add`] then hands it back, and
/// forgets it, so the printer can write it at once.
///
/// Bounded: hosts with an open port are always tracked (their open ports are the report),
/// but hosts without one only up to [`TRACKED_LIMIT`] at once. A verdict for yet another
/// host without an open port is only counted ([`HostTracker::untracked`]); if that host
/// opens a port later, it is tracked from then on, flagged `late`, and never completes (its
/// earlier verdicts are missing), so it is reported at the end. Without a plan nothing
/// completes: every host is reported at the end.
#[derive(Debug)]
pub(crate) struct HostTracker {
    hosts: HashMap<IpAddr, HostPorts>,
    policy: ListPolicy,
    /// Verdicts that complete a host: the plan's port count.
    ports_per_host: Option<u64>,
    /// Entries of `hosts` without an open port.
    without_open: usize,
    /// Briefs all hosts together may still keep (of [`KEPT_LIMIT`]).
    room: usize,
    untracked: u64,
    closed: ReasonCounts<u64>,
    filtered: ReasonCounts<u64>,
    unreachable: ReasonCounts<u64>,
}

impl HostTracker {
    pub(crate) fn new(policy: ListPolicy) -> HostTracker {
        HostTracker {
            hosts: HashMap::new(),
            policy,
            ports_per_host: None,
            without_open: 0,
            room: KEPT_LIMIT,
            untracked: 0,
            closed: ReasonCounts::default(),
            filtered: ReasonCounts::default(),
            unreachable: ReasonCounts::default(),
        }
    }

    /// Learn from the plan how many verdicts complete a host.
    pub(crate) fn plan(&mut self, plan: &ScanPlan) {
        self.ports_per_host = Some(plan.port_count as u64).filter(|&n| n > 0);
    }

    /// Counts `report`, and returns its host if this verdict completed it.
    pub(crate) fn add(&mut self, report: &PortReport) -> Option<(IpAddr, HostPorts)> {
        let state = report.event.state;
        match state {
            PortState::Open => {}
            PortState::Closed => self.closed.add(report.event.reason),
            PortState::Filtered => self.filtered.add(report.event.reason),
            PortState::Unreachable => self.unreachable.add(report.event.reason),
        }
        let addr = report.event.addr;
        let late = self.untracked > 0;
        let host = match self.hosts.entry(addr) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                if state != PortState::Open && self.without_open >= TRACKED_LIMIT {
                    self.untracked += 1;
                    return None;
                }
                self.without_open += 1;
                e.insert(HostPorts {
                    late,
                    ..HostPorts::default()
                })
            }
        };
        let had_open = host.has_open();
        host.add(report, self.policy, &mut self.room);
        if !had_open && host.has_open() {
            self.without_open -= 1;
        }
        if Some(host.total()) != self.ports_per_host {
            return None;
        }
        let host = self.hosts.remove(&addr)?;
        self.forget(&host);
        Some((addr, host))
    }

    fn forget(&mut self, host: &HostPorts) {
        self.room += host.kept.len();
        if !host.has_open() {
            self.without_open -= 1;
        }
    }

    /// Every host still in progress (an interrupted scan, a `--shard`, no plan), sorted by
    /// address (IPv4 before IPv6), and forgotten.
    pub(crate) fn drain(&mut self) -> Vec<(IpAddr, HostPorts)> {
        let mut hosts: Vec<(IpAddr, HostPorts)> = self.hosts.drain().collect();
        hosts.sort_by_key(|(addr, _)| *addr);
        for (_, host) in &hosts {
            self.forget(host);
        }
        hosts
    }

    /// Verdicts counted only in the totals, because [`TRACKED_LIMIT`] hosts without an open
    /// port were in progress when they came.
    pub(crate) fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Ports of `host` decided before it was tracked, at most (its plan minus what it has):
    /// only for a `late` host, since for others the rest was not decided at all.
    pub(crate) fn missing(&self, host: &HostPorts) -> Option<u64> {
        let planned = self.ports_per_host.filter(|_| host.late)?;
        Some(planned.saturating_sub(host.total())).filter(|&n| n > 0)
    }

    /// Every closed and every filtered verdict so far, by reason, tracked or not.
    pub(crate) fn totals(&self) -> (&ReasonCounts<u64>, &ReasonCounts<u64>) {
        (&self.closed, &self.filtered)
    }

    /// Every unreachable verdict so far, by reason.
    pub(crate) fn unreachable_totals(&self) -> &ReasonCounts<u64> {
        &self.unreachable
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
