//! Per-host state of the human and grepable printers: [`HostTracker`] holds a host only while
//! it is in progress and hands it back once every planned port has a verdict; hosts without
//! an open port are bounded ([`TRACKED_LIMIT`](super::TRACKED_LIMIT)), their non-open ports
//! counted by reason ([`ReasonCounts`]) and listed only when a report could show them.
use super::{KEPT_LIMIT, ListPolicy, TRACKED_LIMIT, reason_str};
use crate::keyhash::AddrMap;
use crate::model::{PortReport, PortState, Reason, ScanPlan, ServiceInfo};
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Every reason, in the order of the counters below (errnos of `SendFailed` counted together;
/// a listed port keeps its own).
const REASONS: [Reason; 9] = Reason::ALL;

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

/// An open port, as much of its report as the reports show (the host's name is kept once per
/// host): 16 bytes in the common case, the rest boxed.
#[derive(Debug)]
pub(crate) enum OpenPort {
    /// No service, a reason without an errno, an RTT that fits 64 bits of nanoseconds.
    Plain {
        /// `u64::MAX` when nothing answered.
        rtt_ns: u64,
        port: u16,
        ttl: Option<u8>,
        reason: PlainReason,
    },
    Full(Box<FullOpen>),
}

#[derive(Debug)]
pub(crate) struct FullOpen {
    rtt: Option<Duration>,
    port: u16,
    reason: Reason,
    ttl: Option<u8>,
    service: Option<ServiceInfo>,
}

/// A reason without an errno, in a byte.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PlainReason {
    SynAck,
    Reset,
    IcmpUnreachable,
    NoResponse,
    Connected,
    Refused,
    Unreachable,
    NoRoute,
}

impl PlainReason {
    fn of(reason: Reason) -> Option<PlainReason> {
        Some(match reason {
            Reason::SynAck => PlainReason::SynAck,
            Reason::Reset => PlainReason::Reset,
            Reason::IcmpUnreachable => PlainReason::IcmpUnreachable,
            Reason::NoResponse => PlainReason::NoResponse,
            Reason::Connected => PlainReason::Connected,
            Reason::Refused => PlainReason::Refused,
            Reason::Unreachable => PlainReason::Unreachable,
            Reason::NoRoute => PlainReason::NoRoute,
            Reason::SendFailed { .. } => return None,
        })
    }

    fn reason(self) -> Reason {
        match self {
            PlainReason::SynAck => Reason::SynAck,
            PlainReason::Reset => Reason::Reset,
            PlainReason::IcmpUnreachable => Reason::IcmpUnreachable,
            PlainReason::NoResponse => Reason::NoResponse,
            PlainReason::Connected => Reason::Connected,
            PlainReason::Refused => Reason::Refused,
            PlainReason::Unreachable => Reason::Unreachable,
            PlainReason::NoRoute => Reason::NoRoute,
        }
    }
}

impl OpenPort {
    pub(crate) fn of(report: &PortReport) -> OpenPort {
        let event = &report.event;
        let rtt_ns = match event.rtt {
            None => Some(u64::MAX),
            Some(d) => u64::try_from(d.as_nanos()).ok().filter(|&n| n < u64::MAX),
        };
        match (rtt_ns, PlainReason::of(event.reason), &report.service) {
            (Some(rtt_ns), Some(reason), None) => OpenPort::Plain {
                rtt_ns,
                port: event.port,
                ttl: event.ttl,
                reason,
            },
            _ => OpenPort::Full(Box::new(FullOpen {
                rtt: event.rtt,
                port: event.port,
                reason: event.reason,
                ttl: event.ttl,
                service: report.service.clone(),
            })),
        }
    }

    pub(crate) fn port(&self) -> u16 {
        match self {
            OpenPort::Plain { port, .. } => *port,
            OpenPort::Full(o) => o.port,
        }
    }

    pub(crate) fn row(&self) -> Row<'_> {
        match self {
            &OpenPort::Plain {
                rtt_ns,
                port,
                ttl,
                reason,
            } => Row {
                port,
                state: PortState::Open,
                reason: reason.reason(),
                rtt: (rtt_ns != u64::MAX).then(|| Duration::from_nanos(rtt_ns)),
                ttl,
                service: None,
            },
            OpenPort::Full(o) => Row {
                port: o.port,
                state: PortState::Open,
                reason: o.reason,
                rtt: o.rtt,
                ttl: o.ttl,
                service: o.service.as_ref(),
            },
        }
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
    const EMPTY: Bucket = Bucket {
        reasons: ReasonCounts([0; REASONS.len()]),
        kept: 0,
        short: false,
    };

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

/// What a host has beyond its open ports: its name and its non-open ports.
#[derive(Debug, Default)]
struct Extra {
    /// The host name the user gave for this address, from the first report that had one.
    name: Option<Arc<str>>,
    /// Closed and filtered ports that may still be listed.
    kept: Vec<Brief>,
    closed: Bucket,
    filtered: Bucket,
    /// -sS ports no probe could reach (no route, a send the kernel refused).
    unreachable: Bucket,
}

/// No name, no non-open port: what a host without an [`Extra`] reads.
static NO_EXTRA: Extra = Extra {
    name: None,
    kept: Vec::new(),
    closed: Bucket::EMPTY,
    filtered: Bucket::EMPTY,
    unreachable: Bucket::EMPTY,
};

/// What a per-host printer keeps about one host while it is in progress: 40 bytes, and ~160
/// more once it has a name or a non-open port. The host map's entries (address and this)
/// then take a cache line: a scan of many hosts in random order touches one per verdict.
#[derive(Debug, Default)]
pub(crate) struct HostPorts {
    open: Vec<OpenPort>,
    /// Made with the first name or non-open port.
    extra: Option<Box<Extra>>,
    /// Verdicts added: what [`HostPorts::total`] would otherwise sum up on every verdict.
    decided: u32,
    /// Tracking began after verdicts had gone untracked ([`HostTracker::untracked`]): some
    /// of this host's ports may have been decided before and not be counted here.
    pub(super) late: bool,
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
        if report.name.is_some() && self.name().is_none() {
            self.extra
                .get_or_insert_default()
                .name
                .clone_from(&report.name);
        }
        self.decided = self.decided.saturating_add(1);
        let state = report.event.state;
        if state == PortState::Open {
            self.open.push(OpenPort::of(report));
            return;
        }
        let extra = self.extra.get_or_insert_default();
        let bucket = match state {
            PortState::Closed => &mut extra.closed,
            PortState::Filtered => &mut extra.filtered,
            _ => &mut extra.unreachable,
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
            extra.kept.push(Brief::of(report));
        }
        if release {
            *room += usize::from(bucket.kept);
            bucket.kept = 0;
            extra.kept.retain(|b| b.state != state);
            if extra.kept.is_empty() {
                extra.kept = Vec::new();
            }
        }
    }

    /// The lines to list, sorted by port: every open port and the kept non-open ones.
    pub(crate) fn rows(&self) -> Vec<Row<'_>> {
        let open = self.open.iter().map(OpenPort::row);
        let others = self.extra().kept.iter().map(|b| Row {
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
        let extra = self.extra();
        [
            (PortState::Closed, &extra.closed),
            (PortState::Filtered, &extra.filtered),
            (PortState::Unreachable, &extra.unreachable),
        ]
        .into_iter()
        .filter_map(|(state, bucket)| {
            let mut reasons = bucket.reasons;
            for b in extra.kept.iter().filter(|b| b.state == state) {
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

    fn extra(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }

    /// Non-open ports kept for listing.
    fn kept(&self) -> usize {
        self.extra().kept.len()
    }

    /// The host name the user gave for this address, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.extra().name.as_deref()
    }

    /// Ports with a verdict on this host (that this printer saw while tracking it).
    pub(crate) fn total(&self) -> u64 {
        u64::from(self.decided)
    }

    pub(crate) fn has_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// True if the host answered nothing: every port filtered.
    pub(crate) fn silent(&self) -> bool {
        let b = self.extra();
        self.open.is_empty() && b.closed.count() == 0 && b.unreachable.count() == 0
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
    pub(super) hosts: AddrMap<HostPorts>,
    policy: ListPolicy,
    /// Verdicts that complete a host: the plan's port count.
    ports_per_host: Option<u64>,
    /// Entries of `hosts` without an open port.
    pub(super) without_open: usize,
    /// Briefs all hosts together may still keep (of [`KEPT_LIMIT`]).
    pub(super) room: usize,
    untracked: u64,
    closed: ReasonCounts<u64>,
    filtered: ReasonCounts<u64>,
    unreachable: ReasonCounts<u64>,
}

impl HostTracker {
    pub(crate) fn new(policy: ListPolicy) -> HostTracker {
        HostTracker {
            hosts: AddrMap::default(),
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
        // One lookup per verdict: the entry found (or made) is the one removed.
        let mut entry = match self.hosts.entry(addr) {
            Entry::Occupied(e) => e,
            Entry::Vacant(e) => {
                if state != PortState::Open && self.without_open >= TRACKED_LIMIT {
                    self.untracked += 1;
                    return None;
                }
                self.without_open += 1;
                e.insert_entry(HostPorts {
                    late,
                    ..HostPorts::default()
                })
            }
        };
        let host = entry.get_mut();
        let had_open = host.has_open();
        host.add(report, self.policy, &mut self.room);
        if !had_open && host.has_open() {
            self.without_open -= 1;
        }
        if Some(host.total()) != self.ports_per_host {
            return None;
        }
        let host = entry.remove();
        self.forget(&host);
        Some((addr, host))
    }

    fn forget(&mut self, host: &HostPorts) {
        self.room += host.kept();
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

#[cfg(test)]
mod tests {
    use super::{OpenPort, REASONS, reason_index};
    use crate::model::{PortReport, PortState, Reason, ScanEvent};
    use std::time::Duration;

    /// An address and a host in progress fit a cache line: the tracker touches one per
    /// verdict, at random over every host in progress.
    #[test]
    fn host_entries_fit_a_cache_line() {
        assert!(size_of::<(std::net::IpAddr, super::HostPorts)>() <= 64);
        assert!(size_of::<super::OpenPort>() <= 16);
    }

    /// An open port kept and read back is the report's port line, whichever way it is kept
    /// (16 bytes, or boxed: a service, an errno, an RTT past 2^64 - 1 ns).
    #[test]
    fn open_ports_read_back_as_they_came() {
        let rtts = [
            None,
            Some(Duration::ZERO),
            Some(Duration::from_nanos(210_123)),
            Some(Duration::from_nanos(u64::MAX - 1)),
            Some(Duration::from_nanos(u64::MAX)),
            Some(Duration::MAX),
        ];
        let reasons = Reason::ALL
            .into_iter()
            .chain([Reason::SendFailed { errno: 1 }]);
        let service = super::super::fixtures::ssh("198.18.0.2").service;
        for reason in reasons {
            for rtt in rtts {
                for ttl in [None, Some(64)] {
                    for service in [None, service.clone()] {
                        let report = PortReport {
                            event: ScanEvent {
                                addr: "198.18.0.2".parse().unwrap_or_else(|e| panic!("{e}")),
                                port: 443,
                                state: PortState::Open,
                                reason,
                                rtt,
                                ttl,
                            },
                            name: None,
                            service,
                        };
                        let open = OpenPort::of(&report);
                        let row = open.row();
                        assert_eq!(
                            (row.port, row.state, row.reason, row.rtt, row.ttl),
                            (443, PortState::Open, reason, rtt, ttl)
                        );
                        assert_eq!(row.service, report.service.as_ref());
                        let plain = matches!(open, OpenPort::Plain { .. });
                        let fits = rtt.is_none_or(|d| d < Duration::from_nanos(u64::MAX));
                        let want = report.service.is_none() && reason.errno().is_none() && fits;
                        assert_eq!(plain, want, "{reason:?} {rtt:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn counters_are_indexed_in_the_order_of_every_reason() {
        for (i, &reason) in REASONS.iter().enumerate() {
            assert_eq!(reason_index(reason), i, "{reason:?}");
        }
    }
}
