//! -sS: the XDP SYN scan.
//!
//! A blocking *scheduler* thread walks targets × ports in a seeded pseudo-random order
//! ([`permutation`]), paces ([`pacer`]) and batches ([`sender`]) SYNs whose sequence number is
//! a keyed cookie of the 4-tuple, and keeps state only for probes in flight (so memory grows
//! with rate × timeout, not with the size of the scan). The XDP program validates replies
//! against the same cookie in the kernel, drops them (so the kernel never RSTs them) and
//! hands them over a ring buffer; an async *collector* reads that buffer and passes events to
//! the scheduler, which decides each port: SYN-ACK -> open (and we RST it ourselves, unless
//! `--no-rst`), RST -> closed, ICMP unreachable -> filtered, nothing after the retries ->
//! filtered. Timeouts follow the measured RTT per target (srtt + 4·rttvar, bounded).
pub mod capture;
pub mod pacer;
pub mod permutation;
pub mod route;
pub mod sender;

use super::rtt::{RttBounds, RttEstimator};
use super::{EngineStats, ScanControl};
use crate::config::SynOptions;
use crate::model::{PortState, Reason, ScanEvent};
use crate::ports::PortList;
use crate::targets::TargetSet;
use crate::wire::TcpSegment;
use capture::{XdpCapture, XdpError};
use pacer::Pacer;
use permutation::Permutation;
use sender::{BATCH, RawSender, SendError};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tcprax_common::{ReplyEvent, XdpConfig, cookie, kind, v4_mapped};
use tokio::sync::mpsc;

/// Knobs of the SYN scan: timing here, where probes come from in [`SynOptions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynScanOptions {
    pub rate: Option<u64>,
    pub retries: u32,
    /// Ceiling of the per-probe timeout.
    pub max_timeout: Duration,
    pub syn: SynOptions,
}

impl Default for SynScanOptions {
    fn default() -> Self {
        SynScanOptions {
            rate: None,
            retries: 2,
            max_timeout: Duration::from_secs(2),
            syn: SynOptions::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynError {
    #[error(transparent)]
    Route(#[from] route::RouteError),
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("-sS scans one address family at a time: {first} is {first_family}, {other} is not")]
    MixedFamilies {
        first: IpAddr,
        first_family: &'static str,
        other: IpAddr,
    },
    #[error("the scan space ({targets} addresses × {ports} ports) is too large")]
    TooLarge { targets: u128, ports: usize },
    #[error("bad source-port range {lo}-{hi}: the start is above the end")]
    BadSourcePorts { lo: u16, hi: u16 },
    #[error("no targets to scan")]
    NoTargets,
    #[error("the result channel was closed before the scan finished")]
    ChannelClosed,
    #[error("the scheduler thread failed: {why}")]
    Scheduler { why: &'static str },
}

/// Where probes come from, as resolved before the scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub source: IpAddr,
    pub interface: String,
}

/// Pick the source address and interface for `targets` (the route to the first one, unless
/// overridden), checking that every target is of the same family.
pub fn resolve_origin(targets: &TargetSet, opts: &SynOptions) -> Result<Origin, SynError> {
    let first = targets.iter().next().ok_or(SynError::NoTargets)?;
    let source = match (opts.source_addr, &opts.interface) {
        (Some(s), _) => s,
        (None, Some(ifname)) => route::address_of(ifname, first.is_ipv6())?,
        (None, None) => route::source_for(first)?,
    };
    let interface = match &opts.interface {
        Some(i) => i.clone(),
        None => route::interface_of(source)?,
    };
    Ok(Origin { source, interface })
}

fn family(a: &IpAddr) -> &'static str {
    if a.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// Monotonic clock in ns: the same clock as the kernel's `bpf_ktime_get_ns`, so reply
/// timestamps from XDP and send times here can be subtracted.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Run the SYN scan, sending one event per decided (address, port) to `tx`.
pub async fn syn_scan(
    targets: &TargetSet,
    ports: &PortList,
    opts: SynScanOptions,
    tx: mpsc::Sender<ScanEvent>,
    stop: ScanControl,
) -> Result<EngineStats, SynError> {
    let origin = resolve_origin(targets, &opts.syn)?;
    // One family per scan (one raw socket, one source address): refuse before anything is
    // attached or sent, not half-way through.
    if let Some(other) = targets
        .ranges()
        .iter()
        .map(|r| r.first_addr())
        .find(|a| a.is_ipv4() != origin.source.is_ipv4())
    {
        return Err(SynError::MixedFamilies {
            first: origin.source,
            first_family: family(&origin.source),
            other,
        });
    }
    let n_targets = targets.len();
    let space = n_targets
        .checked_mul(ports.len() as u128)
        .filter(|s| *s < (1u128 << 62))
        .ok_or(SynError::TooLarge {
            targets: n_targets,
            ports: ports.len(),
        })? as u64;
    let key0: u64 = rand::random();
    let key1: u64 = rand::random();
    let (lo, hi) = opts.syn.source_ports;
    if lo > hi {
        return Err(SynError::BadSourcePorts { lo, hi });
    }
    let mut capture = XdpCapture::attach(
        &origin.interface,
        XdpConfig {
            key0,
            key1,
            port_lo: lo,
            port_hi: hi,
            enabled: 1,
            _pad: [0; 3],
        },
    )?;
    let sender = RawSender::new(origin.source.is_ipv4(), origin.source.is_ipv6())?;

    let (reply_tx, reply_rx) = std_mpsc::channel::<ReplyEvent>();
    let scheduler = Scheduler {
        targets: targets.clone(),
        ports: ports.as_slice().to_vec(),
        perm: Permutation::new(space, opts.syn.seed.unwrap_or_else(rand::random)),
        next: u64::from(opts.syn.shard.index.saturating_sub(1)),
        step: u64::from(opts.syn.shard.count.max(1)),
        origin: origin.clone(),
        key: (key0, key1),
        pacer: Pacer::new(opts.rate),
        sender,
        opts,
        in_flight: HashMap::new(),
        timeline: VecDeque::new(),
        retry_queue: VecDeque::new(),
        rtt_global: RttEstimator::new(RttBounds::default()),
        rtt_per_target: HashMap::new(),
        replies: reply_rx,
        events: tx,
        stop: stop.clone(),
        duplicates: 0,
        probes_sent: 0,
    };
    let mut handle = tokio::task::spawn_blocking(move || scheduler.run());
    let mut batch = Vec::with_capacity(1024);
    let result = loop {
        tokio::select! {
            done = &mut handle => break done,
            read = capture.read_events(&mut batch) => {
                read?;
                for ev in batch.drain(..) {
                    // The scheduler only goes away after the select sees it finish.
                    let _ = reply_tx.send(ev);
                }
            }
        }
    };
    let xdp = capture.stats().ok();
    drop(capture);
    let (probes_sent, duplicates, interrupted) = match result {
        Ok(r) => r?,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => return Err(SynError::Scheduler { why: "cancelled" }),
    };
    Ok(EngineStats {
        probes_sent,
        interrupted,
        xdp,
        duplicates,
    })
}

/// Most retries a probe gets (attempts are numbered in a `u8`; the CLI enforces this bound,
/// the engine clamps to it as well).
pub const MAX_RETRIES: u32 = 100;

/// Hosts that get an RTT estimator of their own.
const MAX_RTT_TARGETS: usize = 1 << 16;

/// A probe waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// 0 for the first attempt.
    attempt: u8,
    sent_ns: u64,
}

struct Scheduler {
    targets: TargetSet,
    ports: Vec<u16>,
    perm: Permutation,
    /// Next position in the permutation, and the stride (shards).
    next: u64,
    step: u64,
    origin: Origin,
    key: (u64, u64),
    pacer: Pacer,
    sender: RawSender,
    opts: SynScanOptions,
    in_flight: HashMap<(IpAddr, u16), InFlight>,
    /// (key, attempt, deadline) in send order.
    /// (key, attempt, sent at) in send order. The deadline is sent-at plus the timeout as
    /// known *now*: probes sent before the first RTT sample (with the 1 s initial timeout)
    /// expire as soon as the measured RTT says they should.
    timeline: VecDeque<((IpAddr, u16), u8, u64)>,
    retry_queue: VecDeque<((IpAddr, u16), u8)>,
    rtt_global: RttEstimator,
    rtt_per_target: HashMap<IpAddr, RttEstimator>,
    replies: std_mpsc::Receiver<ReplyEvent>,
    events: mpsc::Sender<ScanEvent>,
    stop: ScanControl,
    duplicates: u64,
    probes_sent: u64,
}

fn addr_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4_mapped(v4.octets()),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn event_addr(ev: &ReplyEvent) -> IpAddr {
    let b = ev.addr;
    if ev.family == 4 {
        IpAddr::from([b[12], b[13], b[14], b[15]])
    } else {
        IpAddr::from(b)
    }
}

impl Scheduler {
    /// Returns (probes sent, duplicate replies, interrupted).
    fn run(mut self) -> Result<(u64, u64, bool), SynError> {
        loop {
            while let Ok(ev) = self.replies.try_recv() {
                self.on_reply(&ev)?;
            }
            let now = mono_ns();
            self.expire(now)?;
            if self.stop.is_stopped() {
                self.sender.flush()?;
                return Ok((self.probes_sent, self.duplicates, true));
            }
            let more = !self.retry_queue.is_empty() || self.next < self.perm.len();
            if more {
                let min_batch = self.pacer.min_batch(BATCH);
                if !self.pacer.ready(now, min_batch) {
                    self.sender.flush()?;
                    let wait = self.pacer.wait_ns_for(min_batch).clamp(1_000, 1_000_000);
                    self.wait_reply(Duration::from_nanos(wait))?;
                    continue;
                }
                let budget = self.pacer.take(now, BATCH);
                for _ in 0..budget {
                    if !self.send_next(now)? {
                        break;
                    }
                }
                self.sender.flush()?;
            } else if self.in_flight.is_empty() {
                self.sender.flush()?;
                return Ok((self.probes_sent, self.duplicates, false));
            } else {
                self.sender.flush()?;
                let next_deadline = self
                    .timeline
                    .front()
                    .map(|t| t.2 + self.timeout_for(&t.0.0).as_nanos() as u64)
                    .unwrap_or(now);
                let wait = Duration::from_nanos(
                    next_deadline.saturating_sub(now).clamp(100_000, 5_000_000),
                );
                self.wait_reply(wait)?;
            }
        }
    }

    fn wait_reply(&mut self, wait: Duration) -> Result<(), SynError> {
        match self.replies.recv_timeout(wait) {
            Ok(ev) => self.on_reply(&ev),
            Err(std_mpsc::RecvTimeoutError::Timeout) => Ok(()),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(SynError::Scheduler {
                why: "collector stopped",
            }),
        }
    }

    fn timeout_for(&self, addr: &IpAddr) -> Duration {
        let bounds_max = self.opts.max_timeout;
        let t = match self.rtt_per_target.get(addr) {
            Some(e) if e.samples() > 0 => e.timeout(),
            _ => self.rtt_global.timeout(),
        };
        t.min(bounds_max)
    }

    /// Send a retry if one is due, else the next fresh probe. False when nothing is left.
    fn send_next(&mut self, now: u64) -> Result<bool, SynError> {
        while let Some((key, attempt)) = self.retry_queue.pop_front() {
            // Answered while it waited in the queue: nothing to resend.
            if self.in_flight.contains_key(&key) {
                self.send_probe(key, attempt, now)?;
                return Ok(true);
            }
        }
        while self.next < self.perm.len() {
            let pos = self.next;
            self.next += self.step;
            let x = self.perm.get(pos);
            let nports = self.ports.len() as u64;
            let (ti, pi) = (x / nports, (x % nports) as usize);
            // None = excluded. Families were checked for the whole set before the scan.
            let Some(addr) = self.targets.get(u128::from(ti)) else {
                continue;
            };
            self.send_probe((addr, self.ports[pi]), 0, now)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Our source port for a probe: spread over the range, different for each attempt, so a
    /// retry never reuses the 4-tuple of a half-open connection from the previous attempt.
    fn source_port(&self, addr: &[u8; 16], port: u16, attempt: u8) -> u16 {
        let (lo, hi) = self.opts.syn.source_ports;
        let span = u32::from(hi - lo) + 1;
        let h = cookie(self.key.1, self.key.0, addr, port, u16::from(attempt));
        lo + (h % span) as u16
    }

    fn send_probe(&mut self, key: (IpAddr, u16), attempt: u8, now: u64) -> Result<(), SynError> {
        let (addr, port) = key;
        let ab = addr_bytes(addr);
        let sport = self.source_port(&ab, port, attempt);
        let seq = cookie(self.key.0, self.key.1, &ab, port, sport);
        self.sender
            .push(&TcpSegment::syn(self.origin.source, addr, sport, port, seq))?;
        self.probes_sent += 1;
        self.stop.add_sent(1);
        self.in_flight.insert(
            key,
            InFlight {
                attempt,
                sent_ns: now,
            },
        );
        self.timeline.push_back((key, attempt, now));
        Ok(())
    }

    fn expire(&mut self, now: u64) -> Result<(), SynError> {
        while let Some(&(key, attempt, sent)) = self.timeline.front() {
            if sent + self.timeout_for(&key.0).as_nanos() as u64 > now {
                break;
            }
            self.timeline.pop_front();
            // Stale entries (answered, or superseded by a later attempt) are skipped.
            match self.in_flight.get(&key) {
                Some(f) if f.attempt == attempt => {}
                _ => continue,
            }
            if u32::from(attempt) < self.opts.retries.min(MAX_RETRIES) {
                self.retry_queue.push_back((key, attempt + 1));
                // Keep it in flight so a late answer to this attempt still counts.
            } else {
                self.in_flight.remove(&key);
                self.emit(ScanEvent {
                    addr: key.0,
                    port: key.1,
                    state: PortState::Filtered,
                    reason: Reason::NoResponse,
                    rtt: None,
                    ttl: None,
                })?;
            }
        }
        Ok(())
    }

    fn on_reply(&mut self, ev: &ReplyEvent) -> Result<(), SynError> {
        let addr = event_addr(ev);
        let key = (addr, ev.target_port);
        let Some(f) = self.in_flight.remove(&key) else {
            // Already decided: a retransmitted SYN-ACK, or an answer to an earlier attempt.
            self.duplicates += 1;
            return Ok(());
        };
        let rtt = Duration::from_nanos(ev.ktime_ns.saturating_sub(f.sent_ns));
        // Only first-attempt answers are unambiguous samples (Karn's algorithm).
        if f.attempt == 0 {
            self.rtt_global.sample(rtt);
            // Per-target estimators for up to MAX_RTT_TARGETS hosts (a /8 must not grow a map of
            // millions); hosts beyond that use the global estimate.
            let max = self.opts.max_timeout;
            let len = self.rtt_per_target.len();
            match self.rtt_per_target.get_mut(&addr) {
                Some(e) => e.sample(rtt),
                None if len < MAX_RTT_TARGETS => {
                    let mut e = RttEstimator::new(RttBounds::with_max(max));
                    e.sample(rtt);
                    self.rtt_per_target.insert(addr, e);
                }
                None => {}
            }
        }
        let (state, reason) = match ev.kind {
            kind::SYN_ACK => (PortState::Open, Reason::SynAck),
            kind::RST => (PortState::Closed, Reason::Reset),
            _ => (PortState::Filtered, Reason::IcmpUnreachable),
        };
        if state == PortState::Open && self.opts.syn.send_rst {
            // The kernel never saw the SYN-ACK (XDP dropped it), so it will not RST; we do,
            // or the target keeps a half-open connection and retransmits.
            self.sender.push(&TcpSegment::rst(
                self.origin.source,
                addr,
                ev.scan_port,
                ev.target_port,
                cookie(
                    self.key.0,
                    self.key.1,
                    &addr_bytes(addr),
                    ev.target_port,
                    ev.scan_port,
                )
                .wrapping_add(1),
            ))?;
        }
        self.emit(ScanEvent {
            addr,
            port: ev.target_port,
            state,
            reason,
            rtt: (f.attempt == 0).then_some(rtt),
            ttl: Some(ev.ttl),
        })
    }

    fn emit(&mut self, event: ScanEvent) -> Result<(), SynError> {
        self.events
            .blocking_send(event)
            .map_err(|_| SynError::ChannelClosed)
    }
}

/// The old scheduler driven without sockets, for a before/after figure of the sans-IO
/// refactor: same synthetic network as the new machine's benchmark.
#[cfg(test)]
mod bench_old {
    use super::*;
    use std::time::Instant;

    fn thread_cpu_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into a valid timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// 50 % open, 37.5 % closed, 12.5 % silent, by a hash of (address, port).
    fn outcome(addr: IpAddr, port: u16) -> Option<u8> {
        let IpAddr::V4(a) = addr else { return None };
        let x = (u64::from(u32::from(a)) << 16) | u64::from(port);
        match x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60 {
            0..=7 => Some(kind::SYN_ACK),
            8..=13 => Some(kind::RST),
            _ => None,
        }
    }

    #[test]
    #[ignore = "benchmark: cargo test --release -p tcprax --lib bench_old -- --ignored --nocapture"]
    fn old_scheduler_ns_per_probe() {
        let targets = TargetSet::parse(&["198.18.0.0/15".to_string()], &[], &[], &[]).unwrap();
        let ports: Vec<u16> = vec![22, 25, 53, 80, 110, 443, 3389, 8080];
        let space = targets.len() as u64 * ports.len() as u64;
        let (ev_tx, mut ev_rx) = mpsc::channel(1 << 16);
        let (_reply_tx, reply_rx) = std_mpsc::channel();
        let opts = SynScanOptions::default();
        let mut s = Scheduler {
            targets,
            ports,
            perm: Permutation::new(space, 7),
            next: 0,
            step: 1,
            origin: Origin {
                source: IpAddr::from([198, 18, 0, 1]),
                interface: "none".into(),
            },
            key: (1, 2),
            pacer: Pacer::new(None),
            sender: RawSender::new(false, false).unwrap(),
            opts,
            in_flight: HashMap::new(),
            timeline: VecDeque::new(),
            retry_queue: VecDeque::new(),
            rtt_global: RttEstimator::new(RttBounds::default()),
            rtt_per_target: HashMap::new(),
            replies: reply_rx,
            events: ev_tx,
            stop: ScanControl::new(),
            duplicates: 0,
            probes_sent: 0,
        };
        let rtt = 200_000u64;
        let mut now = 1_000_000_000u64;
        let mut pending: VecDeque<(u64, ReplyEvent)> = VecDeque::new();
        let mut decided = 0u64;
        let start = Instant::now();
        let cpu0 = thread_cpu_ns();
        loop {
            while let Some(&(due, ev)) = pending.front() {
                if due > now {
                    break;
                }
                pending.pop_front();
                if s.sender.is_full() {
                    s.sender.discard();
                }
                s.on_reply(&ev).unwrap();
            }
            s.expire(now).unwrap();
            let more = !s.retry_queue.is_empty() || s.next < s.perm.len();
            if more {
                let budget = s.pacer.take(now, BATCH);
                for _ in 0..budget {
                    if s.sender.is_full() {
                        s.sender.discard();
                    }
                    if !s.send_next(now).unwrap() {
                        break;
                    }
                    let &((addr, port), _, _) = s.timeline.back().unwrap();
                    if let Some(k) = outcome(addr, port) {
                        let ab = addr_bytes(addr);
                        pending.push_back((
                            now + rtt,
                            ReplyEvent {
                                ktime_ns: now + rtt,
                                addr: ab,
                                target_port: port,
                                // The TCP source port, right after the 20-byte IPv4 header.
                                scan_port: {
                                    let b = s.sender.last();
                                    u16::from_be_bytes([b[20], b[21]])
                                },
                                kind: k,
                                family: 4,
                                ttl: 64,
                                ..ReplyEvent::default()
                            },
                        ));
                    }
                }
                s.sender.discard();
            } else if s.in_flight.is_empty() {
                break;
            }
            while ev_rx.try_recv().is_ok() {
                decided += 1;
            }
            // 64 probes per round at 1 µs each: a simulated 1 Mpps.
            now += 64_000;
        }
        while ev_rx.try_recv().is_ok() {
            decided += 1;
        }
        let cpu = thread_cpu_ns() - cpu0;
        let took = start.elapsed();
        assert_eq!(decided, space);
        assert_eq!(s.duplicates, 0);
        println!(
            "old scheduler: {} probes ({} ports decided) in {:?} wall, {:.3} s CPU: {:.1} ns/probe wall, {:.1} ns/probe CPU",
            s.probes_sent,
            decided,
            took,
            cpu as f64 / 1e9,
            took.as_nanos() as f64 / s.probes_sent as f64,
            cpu as f64 / s.probes_sent as f64
        );
    }
}
