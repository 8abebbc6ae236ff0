//! The -sS scheduler as a sans-IO state machine: which probe goes out next, when a probe has
//! timed out, and what a reply decides.
//!
//! It owns the walk through the permutation of targets × ports (this shard's positions,
//! excluded addresses skipped), the token bucket, the probes in flight and their expiry
//! timeline in send order, the retry queue, the RTT estimators (per target and global, Karn's
//! rule), the RSTs owed to open ports, duplicate counting and stop. Time and replies come in as
//! plain values ([`Scheduler::handle_timeout`], [`Scheduler::handle_reply`],
//! [`Scheduler::stop`]); packets to send, verdicts and the next wake-up go out as plain values
//! ([`Scheduler::poll_transmit`], [`Scheduler::poll_event`], [`Scheduler::poll_timeout`]). It
//! never reads a clock, touches a socket or blocks: that is the shell's job in `syn/mod.rs`,
//! and it is what lets every timing rule here be a unit test that runs in microseconds (the
//! shape of quinn-proto's `Connection`).
//!
//! Times are nanoseconds of CLOCK_MONOTONIC, the clock of the kernel timestamps on replies.
use super::keyhash::KeyMap;
use super::pacer::Pacer;
use super::permutation::Permutation;
use super::{SynError, SynScanOptions};
use crate::engine::EngineStats;
use crate::engine::rtt::{RttBounds, RttEstimator};
use crate::model::{PortState, Reason, ScanEvent};
use crate::targets::TargetSet;
use crate::wire::TcpSegment;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;
use tcprax_common::{ReplyEvent, cookie, kind, v4_mapped};

/// Most SYNs in one batch: one `sendmmsg` worth (the shell flushes after each batch).
pub const BATCH: usize = super::sender::BATCH;

/// Most retries a probe gets (attempts are numbered in a `u8`; the CLI enforces this bound,
/// the scheduler clamps to it as well).
pub const MAX_RETRIES: u32 = 100;

/// Hosts that get an RTT estimator of their own: a /8 must not grow a map of millions; hosts
/// beyond this use the global estimate.
const MAX_RTT_TARGETS: usize = 1 << 16;

/// Shortest wait for the pacer: below this a sleep costs more than it saves.
const MIN_PACE_WAIT_NS: u64 = 1_000;

/// Shortest wait for an expiry: probes that time out within 100 µs of each other are handled
/// in one wake-up rather than one each.
const MIN_EXPIRY_WAIT_NS: u64 = 100_000;

/// Everything the scheduler needs to know before the first probe.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    pub targets: TargetSet,
    pub ports: Vec<u16>,
    /// Our address: the source of every probe.
    pub source: IpAddr,
    /// SipHash key of the cookie, the same the XDP program checks replies against.
    pub key: (u64, u64),
    /// Permutation seed (`--seed`, or a random one chosen by the caller).
    pub seed: u64,
    /// Rate, retries, timeout ceiling, source ports, shard and `--no-rst`. `opts.syn.seed`,
    /// the interface and the source address are the caller's business.
    pub opts: SynScanOptions,
}

/// What a validated reply says about a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// SYN+ACK: open.
    SynAck,
    /// RST: closed.
    Rst,
    /// ICMP / ICMPv6 destination unreachable quoting our SYN: filtered.
    Unreachable,
}

/// One validated reply, decoded from the ring buffer's [`ReplyEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The target's address.
    pub addr: IpAddr,
    /// The target's port.
    pub target_port: u16,
    /// Our source port the probe went out from.
    pub scan_port: u16,
    pub kind: ReplyKind,
    /// IP TTL / hop limit of the reply.
    pub ttl: u8,
    /// When the reply reached XDP (`bpf_ktime_get_ns`, CLOCK_MONOTONIC).
    pub ktime_ns: u64,
}

impl From<&ReplyEvent> for Reply {
    fn from(ev: &ReplyEvent) -> Reply {
        let b = ev.addr;
        let addr = if ev.family == 4 {
            IpAddr::from([b[12], b[13], b[14], b[15]])
        } else {
            IpAddr::from(b)
        };
        Reply {
            addr,
            target_port: ev.target_port,
            scan_port: ev.scan_port,
            // The XDP program emits only these three kinds; anything else would be an ICMP
            // error by elimination, as it always was.
            kind: match ev.kind {
                kind::SYN_ACK => ReplyKind::SynAck,
                kind::RST => ReplyKind::Rst,
                _ => ReplyKind::Unreachable,
            },
            ttl: ev.ttl,
            ktime_ns: ev.ktime_ns,
        }
    }
}

/// A packet the shell must send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// A probe; `seq` is the cookie of its 4-tuple, `attempt` 0 for the first one.
    Syn {
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
        seq: u32,
        attempt: u8,
    },
    /// Our RST to an open port (its SYN-ACK never reached the kernel, so the kernel will not
    /// send one); `seq` is the probe's cookie + 1, the number the SYN-ACK acknowledged.
    Rst {
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
        seq: u32,
    },
}

impl Transmit {
    /// The segment to put on the wire.
    pub fn segment(&self) -> TcpSegment {
        match *self {
            Transmit::Syn {
                src,
                dst,
                src_port,
                dst_port,
                seq,
                ..
            } => TcpSegment::syn(src, dst, src_port, dst_port, seq),
            Transmit::Rst {
                src,
                dst,
                src_port,
                dst_port,
                seq,
            } => TcpSegment::rst(src, dst, src_port, dst_port, seq),
        }
    }
}

/// (target address, target port): one probe of the scan, whatever its attempt.
type Key = (IpAddr, u16);

/// A probe waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// 0 for the first attempt.
    attempt: u8,
    sent_ns: u64,
}

/// The SYN scan's decisions, without any I/O. See the module comment.
pub struct Scheduler {
    targets: TargetSet,
    ports: Vec<u16>,
    perm: Permutation,
    /// Next position in the permutation, and the stride (shard I/N takes positions I-1,
    /// I-1+N, ...).
    next: u64,
    step: u64,
    source: IpAddr,
    key: (u64, u64),
    source_ports: (u16, u16),
    send_rst: bool,
    retries: u32,
    max_timeout: Duration,
    pacer: Pacer,
    /// SYNs left in the current batch; None between batches.
    batch: Option<usize>,
    in_flight: KeyMap<Key, InFlight>,
    /// (key, attempt, sent at) in send order. The deadline is sent-at plus the timeout as
    /// known *now*: probes sent before the first RTT sample (with the 1 s initial timeout)
    /// expire as soon as the measured RTT says they should.
    timeline: VecDeque<(Key, u8, u64)>,
    /// Probes whose attempt timed out, with the number of the attempt to send next.
    retry_queue: VecDeque<(Key, u8)>,
    rtt_global: RttEstimator,
    rtt_per_target: KeyMap<IpAddr, RttEstimator>,
    /// RSTs owed to open ports, sent ahead of any SYN and outside the rate (they answer
    /// packets that already arrived).
    rsts: VecDeque<Transmit>,
    /// Verdicts not yet taken by the shell.
    events: VecDeque<ScanEvent>,
    stopped: bool,
    probes_sent: u64,
    duplicates: u64,
}

fn addr_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4_mapped(v4.octets()),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl Scheduler {
    /// Check the scan's size and source ports; nothing is sent until the first
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn new(cfg: SchedulerConfig) -> Result<Scheduler, SynError> {
        let n_targets = cfg.targets.len();
        let space = n_targets
            .checked_mul(cfg.ports.len() as u128)
            .filter(|s| *s < (1u128 << 62))
            .ok_or(SynError::TooLarge {
                targets: n_targets,
                ports: cfg.ports.len(),
            })? as u64;
        let (lo, hi) = cfg.opts.syn.source_ports;
        if lo > hi {
            return Err(SynError::BadSourcePorts { lo, hi });
        }
        let shard = cfg.opts.syn.shard;
        Ok(Scheduler {
            targets: cfg.targets,
            ports: cfg.ports,
            perm: Permutation::new(space, cfg.seed),
            next: u64::from(shard.index.saturating_sub(1)),
            step: u64::from(shard.count.max(1)),
            source: cfg.source,
            key: cfg.key,
            source_ports: (lo, hi),
            send_rst: cfg.opts.syn.send_rst,
            retries: cfg.opts.retries.min(MAX_RETRIES),
            max_timeout: cfg.opts.max_timeout,
            pacer: Pacer::new(cfg.opts.rate),
            batch: None,
            in_flight: KeyMap::default(),
            timeline: VecDeque::new(),
            retry_queue: VecDeque::new(),
            rtt_global: RttEstimator::new(RttBounds::default()),
            rtt_per_target: KeyMap::default(),
            rsts: VecDeque::new(),
            events: VecDeque::new(),
            stopped: false,
            probes_sent: 0,
            duplicates: 0,
        })
    }

    /// A validated reply from the capture. Replies after [`stop`](Self::stop) are ignored.
    pub fn handle_reply(&mut self, reply: &Reply) {
        if self.stopped {
            return;
        }
        let key = (reply.addr, reply.target_port);
        let Some(f) = self.in_flight.remove(&key) else {
            // Already decided (a retransmitted SYN-ACK, an answer to an earlier attempt), or
            // never ours to begin with: counted, never an error.
            self.duplicates += 1;
            return;
        };
        let rtt = Duration::from_nanos(reply.ktime_ns.saturating_sub(f.sent_ns));
        // Only first-attempt answers are unambiguous samples (Karn's algorithm).
        if f.attempt == 0 {
            self.sample(reply.addr, rtt);
        }
        let (state, reason) = match reply.kind {
            ReplyKind::SynAck => (PortState::Open, Reason::SynAck),
            ReplyKind::Rst => (PortState::Closed, Reason::Reset),
            ReplyKind::Unreachable => (PortState::Filtered, Reason::IcmpUnreachable),
        };
        if state == PortState::Open && self.send_rst {
            // The kernel never saw the SYN-ACK (XDP dropped it), so it will not RST; we do,
            // or the target keeps a half-open connection and retransmits. The target expects
            // the cookie of the 4-tuple the SYN-ACK came back on, plus one.
            let seq = cookie(
                self.key.0,
                self.key.1,
                &addr_bytes(reply.addr),
                reply.target_port,
                reply.scan_port,
            )
            .wrapping_add(1);
            self.rsts.push_back(Transmit::Rst {
                src: self.source,
                dst: reply.addr,
                src_port: reply.scan_port,
                dst_port: reply.target_port,
                seq,
            });
        }
        self.events.push_back(ScanEvent {
            addr: reply.addr,
            port: reply.target_port,
            state,
            reason,
            rtt: (f.attempt == 0).then_some(rtt),
            ttl: Some(reply.ttl),
        });
    }

    fn sample(&mut self, addr: IpAddr, rtt: Duration) {
        self.rtt_global.sample(rtt);
        let max = self.max_timeout;
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

    /// Expire every probe whose deadline is at or before `now`, in send order: the attempt is
    /// queued for a retry while retries are left, else the port is filtered (no response).
    pub fn handle_timeout(&mut self, now: u64) {
        if self.stopped {
            return;
        }
        while let Some(&(key, attempt, sent)) = self.timeline.front() {
            // Stale entries (answered, or superseded by a later attempt) go at once: they
            // expire nothing, and a live probe behind one should not wait for a deadline that
            // no longer matters (nor pay for working it out: most entries are stale).
            let live = matches!(self.in_flight.get(&key), Some(f) if f.attempt == attempt);
            if live && sent + self.timeout_ns(&key.0) > now {
                break;
            }
            self.timeline.pop_front();
            if !live {
                continue;
            }
            if u32::from(attempt) < self.retries {
                // Kept in flight so that a late answer to this attempt still counts.
                self.retry_queue.push_back((key, attempt + 1));
            } else {
                self.in_flight.remove(&key);
                self.events.push_back(ScanEvent {
                    addr: key.0,
                    port: key.1,
                    state: PortState::Filtered,
                    reason: Reason::NoResponse,
                    rtt: None,
                    ttl: None,
                });
            }
        }
    }

    /// Send no more probes (Ctrl-C): the scan ends as interrupted. RSTs already owed to open
    /// ports are still handed out by [`poll_transmit`](Self::poll_transmit), and verdicts
    /// already reached by [`poll_event`](Self::poll_event); probes in flight get none.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.batch = None;
    }

    /// The next packet to send at `now`, or None at the end of a batch (at most [`BATCH`]
    /// SYNs, as many as the token bucket allows), when the bucket is empty, or when nothing
    /// is left. Owed RSTs come first and cost no tokens. After a None the shell should send
    /// what it has, take replies and timeouts in, and ask again at
    /// [`poll_timeout`](Self::poll_timeout): the next call opens a new batch.
    pub fn poll_transmit(&mut self, now: u64) -> Option<Transmit> {
        if let Some(rst) = self.rsts.pop_front() {
            return Some(rst);
        }
        if self.stopped {
            return None;
        }
        let left = match self.batch {
            Some(0) => {
                self.batch = None;
                return None;
            }
            Some(n) => n,
            None => {
                if !self.has_more() {
                    return None;
                }
                // Wait for about a millisecond of tokens rather than sending each one alone:
                // one sendmmsg per batch, not per packet.
                let min_batch = self.pacer.min_batch(BATCH);
                if !self.pacer.ready(now, min_batch) {
                    return None;
                }
                self.pacer.take(now, BATCH)
            }
        };
        match self.next_probe(now) {
            Some(t) => {
                self.batch = Some(left - 1);
                Some(t)
            }
            None => {
                // Nothing left to send: the rest of the batch's tokens lapse.
                self.batch = None;
                None
            }
        }
    }

    /// The next verdict, in the order they were reached.
    pub fn poll_event(&mut self) -> Option<ScanEvent> {
        self.events.pop_front()
    }

    /// When the scheduler next has something to do if no reply comes first: `now` when it can
    /// send (or has something to hand out) at once, else the earlier of the moment the bucket
    /// holds a batch and the first expiry; None when it is done or stopped. Never earlier than
    /// `now`.
    pub fn poll_timeout(&mut self, now: u64) -> Option<u64> {
        if !self.rsts.is_empty() || !self.events.is_empty() {
            return Some(now);
        }
        if self.stopped {
            return None;
        }
        let expiry = self
            .timeline
            .front()
            .map(|&(key, _, sent)| (sent + self.timeout_ns(&key.0)).max(now + MIN_EXPIRY_WAIT_NS));
        if self.has_more() {
            let min_batch = self.pacer.min_batch(BATCH);
            if self.batch.is_some() || self.pacer.ready(now, min_batch) {
                return Some(now);
            }
            let paced = now + self.pacer.wait_ns_for(min_batch).max(MIN_PACE_WAIT_NS);
            return Some(expiry.map_or(paced, |e| e.min(paced)));
        }
        expiry
    }

    /// True when nothing is left to send, to wait for or to hand out (or after a stop, once
    /// the owed RSTs and the verdicts have been taken).
    pub fn is_done(&self) -> bool {
        (self.stopped || (!self.has_more() && self.in_flight.is_empty()))
            && self.rsts.is_empty()
            && self.events.is_empty()
    }

    /// Probes sent (retries included), duplicates, and whether the scan was stopped. The XDP
    /// counters are the shell's to fill in.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            probes_sent: self.probes_sent,
            interrupted: self.stopped,
            xdp: None,
            duplicates: self.duplicates,
        }
    }

    fn has_more(&self) -> bool {
        !self.retry_queue.is_empty() || self.next < self.perm.len()
    }

    /// The retransmission timeout for `addr` as known now: its own estimate once it has a
    /// sample, else the global one, never above `--timeout`.
    fn timeout_ns(&self, addr: &IpAddr) -> u64 {
        let t = match self.rtt_per_target.get(addr) {
            Some(e) if e.samples() > 0 => e.timeout(),
            _ => self.rtt_global.timeout(),
        };
        t.min(self.max_timeout).as_nanos() as u64
    }

    /// A due retry, else the next fresh probe of this shard; None when neither is left.
    fn next_probe(&mut self, now: u64) -> Option<Transmit> {
        while let Some((key, attempt)) = self.retry_queue.pop_front() {
            // Answered while it waited in the queue: nothing to resend.
            if self.in_flight.contains_key(&key) {
                return Some(self.probe(key, attempt, now));
            }
        }
        let nports = self.ports.len() as u64;
        while self.next < self.perm.len() {
            let x = self.perm.get(self.next);
            self.next += self.step;
            // None = excluded. Families were checked for the whole set before the scan.
            let Some(addr) = self.targets.get(u128::from(x / nports)) else {
                continue;
            };
            let port = self.ports[(x % nports) as usize];
            return Some(self.probe((addr, port), 0, now));
        }
        None
    }

    /// Our source port for a probe: spread over the range, different for each attempt, so a
    /// retry never reuses the 4-tuple of a half-open connection from the previous attempt.
    fn source_port(&self, addr: &[u8; 16], port: u16, attempt: u8) -> u16 {
        let (lo, hi) = self.source_ports;
        let span = u32::from(hi - lo) + 1;
        let h = cookie(self.key.1, self.key.0, addr, port, u16::from(attempt));
        lo + (h % span) as u16
    }

    /// Record `key`'s attempt as sent at `now` and build its SYN.
    fn probe(&mut self, key: Key, attempt: u8, now: u64) -> Transmit {
        let (addr, port) = key;
        let ab = addr_bytes(addr);
        let src_port = self.source_port(&ab, port, attempt);
        let seq = cookie(self.key.0, self.key.1, &ab, port, src_port);
        self.probes_sent += 1;
        self.in_flight.insert(
            key,
            InFlight {
                attempt,
                sent_ns: now,
            },
        );
        self.timeline.push_back((key, attempt, now));
        Transmit::Syn {
            src: self.source,
            dst: addr,
            src_port,
            dst_port: port,
            seq,
            attempt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Shard;
    use std::collections::{BTreeSet, HashSet};

    const MS: u64 = 1_000_000;
    const SEC: u64 = 1_000_000_000;
    /// An arbitrary monotonic start time (the clock is far from 0 on a running machine).
    const T0: u64 = 1_000 * SEC;
    const KEY: (u64, u64) = (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

    fn config(targets: &str, exclude: &[&str], ports: &[u16]) -> SchedulerConfig {
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        SchedulerConfig {
            targets: TargetSet::parse(&[targets.to_string()], &[], &exclude, &[]).unwrap(),
            ports: ports.to_vec(),
            source: IpAddr::from([198, 18, 0, 1]),
            key: KEY,
            seed: 42,
            opts: SynScanOptions::default(),
        }
    }

    fn machine(cfg: SchedulerConfig) -> Scheduler {
        Scheduler::new(cfg).unwrap()
    }

    /// Everything the machine hands out at `now` until it says the batch is over.
    fn transmits(m: &mut Scheduler, now: u64) -> Vec<Transmit> {
        std::iter::from_fn(|| m.poll_transmit(now)).collect()
    }

    fn syns(ts: &[Transmit]) -> Vec<Transmit> {
        ts.iter()
            .copied()
            .filter(|t| matches!(t, Transmit::Syn { .. }))
            .collect()
    }

    fn events(m: &mut Scheduler) -> Vec<ScanEvent> {
        std::iter::from_fn(|| m.poll_event()).collect()
    }

    /// The reply a target would send to `syn` at `at`.
    fn reply(syn: &Transmit, kind: ReplyKind, at: u64) -> Reply {
        let Transmit::Syn {
            dst,
            src_port,
            dst_port,
            ..
        } = *syn
        else {
            panic!("not a SYN: {syn:?}");
        };
        Reply {
            addr: dst,
            target_port: dst_port,
            scan_port: src_port,
            kind,
            ttl: 63,
            ktime_ns: at,
        }
    }

    fn key_of(t: &Transmit) -> (IpAddr, u16) {
        match *t {
            Transmit::Syn { dst, dst_port, .. } | Transmit::Rst { dst, dst_port, .. } => {
                (dst, dst_port)
            }
        }
    }

    fn attempt_of(t: &Transmit) -> u8 {
        match *t {
            Transmit::Syn { attempt, .. } => attempt,
            Transmit::Rst { .. } => panic!("not a SYN: {t:?}"),
        }
    }

    /// Every SYN of a scan nobody answers within the initial timeout, all sent at `T0`.
    fn all_first_syns(m: &mut Scheduler) -> Vec<Transmit> {
        let mut out = Vec::new();
        loop {
            let batch = transmits(m, T0);
            if batch.is_empty() {
                return out;
            }
            out.extend(batch);
        }
    }

    #[test]
    fn retries_up_to_n_then_filtered_no_response() {
        let mut m = machine(config("198.18.0.2", &[], &[80]));
        let mut sent = transmits(&mut m, T0);
        assert_eq!(sent.len(), 1);
        // Before any RTT sample the timeout is the initial 1 s.
        assert_eq!(m.poll_timeout(T0), Some(T0 + SEC));
        for attempt in 1..=2u64 {
            let due = T0 + attempt * SEC;
            m.handle_timeout(due - 1);
            assert!(
                transmits(&mut m, due - 1).is_empty(),
                "nothing before the deadline"
            );
            m.handle_timeout(due);
            let retry = transmits(&mut m, due);
            assert_eq!(retry.len(), 1);
            assert_eq!(attempt_of(&retry[0]), attempt as u8);
            assert!(
                events(&mut m).is_empty(),
                "no verdict while retries are left"
            );
            sent.extend(retry);
        }
        m.handle_timeout(T0 + 3 * SEC);
        assert!(
            transmits(&mut m, T0 + 3 * SEC).is_empty(),
            "no fourth attempt"
        );
        assert_eq!(
            events(&mut m),
            [ScanEvent {
                addr: IpAddr::from([198, 18, 0, 2]),
                port: 80,
                state: PortState::Filtered,
                reason: Reason::NoResponse,
                rtt: None,
                ttl: None,
            }]
        );
        assert!(m.is_done());
        assert_eq!(m.poll_timeout(T0 + 3 * SEC), None);
        assert_eq!(m.stats().probes_sent, 3);
        assert!(!m.stats().interrupted);
        // A new source port per attempt, in the range, and each seq is the cookie of its
        // own 4-tuple (what the XDP program checks).
        let (lo, hi) = SynScanOptions::default().syn.source_ports;
        let mut sports = HashSet::new();
        for t in &sent {
            let Transmit::Syn {
                dst,
                src_port,
                dst_port,
                seq,
                ..
            } = *t
            else {
                unreachable!()
            };
            assert!((lo..=hi).contains(&src_port));
            assert_eq!(
                seq,
                cookie(KEY.0, KEY.1, &addr_bytes(dst), dst_port, src_port)
            );
            sports.insert(src_port);
        }
        assert_eq!(sports.len(), 3, "source ports {sports:?}");
    }

    #[test]
    fn zero_retries_means_one_attempt() {
        let mut cfg = config("198.18.0.2", &[], &[80]);
        cfg.opts.retries = 0;
        let mut m = machine(cfg);
        assert_eq!(transmits(&mut m, T0).len(), 1);
        m.handle_timeout(T0 + SEC);
        assert!(transmits(&mut m, T0 + SEC).is_empty());
        assert_eq!(events(&mut m)[0].reason, Reason::NoResponse);
        assert!(m.is_done());
    }

    #[test]
    fn timeouts_tighten_once_the_first_rtt_sample_arrives() {
        // Two hosts, one probe each, both sent at T0 with the 1 s initial timeout.
        let mut m = machine(config("198.18.0.2-3", &[], &[80]));
        let sent = transmits(&mut m, T0);
        assert_eq!(sent.len(), 2);
        assert_eq!(m.poll_timeout(T0), Some(T0 + SEC));
        // The first answers in 10 ms: srtt 10 ms, rttvar 5 ms -> 30 ms, raised to the 100 ms
        // floor. The other host has no sample of its own and follows the global estimate:
        // its probe, already in flight, now expires at T0 + 100 ms instead of T0 + 1 s.
        m.handle_reply(&reply(&sent[0], ReplyKind::Rst, T0 + 10 * MS));
        let ev = events(&mut m);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].rtt, Some(Duration::from_millis(10)));
        assert_eq!(m.poll_timeout(T0 + 10 * MS), Some(T0 + 100 * MS));
        m.handle_timeout(T0 + 100 * MS - 1);
        assert!(transmits(&mut m, T0 + 100 * MS - 1).is_empty());
        m.handle_timeout(T0 + 100 * MS);
        let retry = transmits(&mut m, T0 + 100 * MS);
        assert_eq!(retry.len(), 1);
        assert_eq!(key_of(&retry[0]), key_of(&sent[1]));
        assert_eq!(attempt_of(&retry[0]), 1);
    }

    #[test]
    fn timeouts_never_exceed_the_ceiling() {
        let mut cfg = config("198.18.0.2", &[], &[80]);
        cfg.opts.max_timeout = Duration::from_millis(300);
        let mut m = machine(cfg);
        transmits(&mut m, T0);
        assert_eq!(m.poll_timeout(T0), Some(T0 + 300 * MS));
    }

    #[test]
    fn karn_an_answer_to_a_retry_gives_no_rtt_sample() {
        let mut m = machine(config("198.18.0.2-3", &[], &[80]));
        let first = transmits(&mut m, T0);
        m.handle_timeout(T0 + SEC);
        let retries = transmits(&mut m, T0 + SEC);
        assert_eq!(retries.len(), 2);
        assert!(retries.iter().all(|t| attempt_of(t) == 1));
        // Host A answers its second attempt 10 ms later: decided, but the answer could belong
        // to either attempt, so no RTT in the event and no sample.
        m.handle_reply(&reply(&retries[0], ReplyKind::SynAck, T0 + SEC + 10 * MS));
        let ev = events(&mut m);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].state, ev[0].rtt, ev[0].ttl),
            (PortState::Open, None, Some(63))
        );
        assert!(matches!(
            transmits(&mut m, T0 + SEC + 10 * MS)[..],
            [Transmit::Rst { .. }]
        ));
        // Host B's retry keeps the initial 1 s timeout: no estimate was made from A's answer.
        assert_eq!(m.poll_timeout(T0 + SEC + 10 * MS), Some(T0 + 2 * SEC));
        m.handle_timeout(T0 + 2 * SEC - 1);
        assert!(syns(&transmits(&mut m, T0 + 2 * SEC - 1)).is_empty());
        m.handle_timeout(T0 + 2 * SEC);
        let third = transmits(&mut m, T0 + 2 * SEC);
        assert_eq!(third.len(), 1);
        assert_eq!(key_of(&third[0]), key_of(&first[1]));
        assert_eq!(attempt_of(&third[0]), 2);
    }

    #[test]
    fn a_second_syn_ack_for_a_decided_port_is_one_duplicate() {
        let mut m = machine(config("198.18.0.2", &[], &[443]));
        let sent = transmits(&mut m, T0);
        let r = reply(&sent[0], ReplyKind::SynAck, T0 + MS);
        m.handle_reply(&r);
        m.handle_reply(&r);
        assert_eq!(events(&mut m).len(), 1);
        assert_eq!(m.stats().duplicates, 1);
        // One RST, for the first SYN-ACK only.
        assert_eq!(transmits(&mut m, T0 + MS).len(), 1);
        assert!(m.is_done());
    }

    #[test]
    fn answers_to_both_attempts_decide_once() {
        // The answer to attempt 0 arrives after attempt 1 went out: it decides the port (no
        // RTT: which attempt it answers is taken to be ambiguous), the answer to attempt 1
        // is then a duplicate.
        let mut m = machine(config("198.18.0.2", &[], &[22]));
        let a0 = transmits(&mut m, T0);
        m.handle_timeout(T0 + SEC);
        let a1 = transmits(&mut m, T0 + SEC);
        m.handle_reply(&reply(&a0[0], ReplyKind::Rst, T0 + SEC + MS));
        m.handle_reply(&reply(&a1[0], ReplyKind::Rst, T0 + SEC + 2 * MS));
        let ev = events(&mut m);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].state, ev[0].rtt), (PortState::Closed, None));
        assert_eq!(m.stats().duplicates, 1);

        // And the other way round: the retry's answer first, the late first answer after.
        let mut m = machine(config("198.18.0.2", &[], &[22]));
        let a0 = transmits(&mut m, T0);
        m.handle_timeout(T0 + SEC);
        let a1 = transmits(&mut m, T0 + SEC);
        m.handle_reply(&reply(&a1[0], ReplyKind::Rst, T0 + SEC + MS));
        m.handle_reply(&reply(&a0[0], ReplyKind::Rst, T0 + SEC + 2 * MS));
        assert_eq!(events(&mut m).len(), 1);
        assert_eq!(m.stats().duplicates, 1);
        // Decided: the expiry of attempt 1 is stale and produces nothing.
        m.handle_timeout(T0 + 10 * SEC);
        assert!(transmits(&mut m, T0 + 10 * SEC).is_empty());
        assert!(events(&mut m).is_empty());
        assert!(m.is_done());
    }

    #[test]
    fn a_reply_for_an_unknown_probe_is_a_duplicate_not_a_panic() {
        let mut m = machine(config("198.18.0.2", &[], &[80]));
        let stray = Reply {
            addr: IpAddr::from([203, 0, 113, 9]),
            target_port: 80,
            scan_port: 61_000,
            kind: ReplyKind::SynAck,
            ttl: 64,
            ktime_ns: 0,
        };
        m.handle_reply(&stray);
        m.handle_reply(&Reply {
            addr: "2001:2::1".parse().unwrap(),
            ..stray
        });
        assert_eq!(m.stats().duplicates, 2);
        assert!(events(&mut m).is_empty());
        // No RST to a port we never probed; the scan itself is untouched.
        let sent = transmits(&mut m, T0);
        assert_eq!(syns(&sent).len(), 1);
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn expiry_order_follows_send_order() {
        let mut cfg = config("198.18.0.0/29", &[], &[80]);
        cfg.opts.retries = 0;
        let mut m = machine(cfg);
        // One probe per millisecond (as a paced sender would).
        let sent: Vec<Transmit> = (0..8)
            .map(|i| m.poll_transmit(T0 + i * MS).unwrap())
            .collect();
        m.handle_timeout(T0 + SEC + 2 * MS);
        let early = events(&mut m);
        assert_eq!(early.len(), 3, "deadlines are T0 + i ms + 1 s");
        m.handle_timeout(T0 + 10 * SEC);
        let late = events(&mut m);
        let expired: Vec<_> = early
            .iter()
            .chain(&late)
            .map(|e| (e.addr, e.port))
            .collect();
        let order: Vec<_> = sent.iter().map(key_of).collect();
        assert_eq!(expired, order);
    }

    /// The timeline is in send order, but deadlines differ per target: an answered probe to a
    /// slow host used to hold up the expiry of a silent probe to a fast host sent right after
    /// it, until the slow host's deadline. Answered entries now leave the front at once.
    #[test]
    fn an_answered_probe_to_a_slow_host_does_not_hold_up_expiry_behind_it() {
        let mut cfg = config("198.18.0.2-3", &[], &(1..=20).collect::<Vec<u16>>());
        cfg.opts.retries = 0;
        let mut m = machine(cfg);
        // Phase 1 at T0: probes until each host has had one. The first host is the slow one
        // (500 ms), the other the fast one (10 ms).
        let mut phase1 = vec![m.poll_transmit(T0).unwrap()];
        let slow = key_of(&phase1[0]).0;
        while key_of(phase1.last().unwrap()).0 == slow {
            phase1.push(m.poll_transmit(T0).unwrap());
        }
        let fast = key_of(phase1.last().unwrap()).0;
        m.handle_reply(&reply(phase1.last().unwrap(), ReplyKind::Rst, T0 + 10 * MS));
        for t in &phase1[..phase1.len() - 1] {
            m.handle_reply(&reply(t, ReplyKind::Rst, T0 + 500 * MS));
        }
        let t1 = T0 + 500 * MS;
        m.handle_timeout(t1);
        events(&mut m);
        assert_eq!(m.timeout_ns(&fast), 100 * MS);
        assert!(m.timeout_ns(&slow) >= 1000 * MS, "{}", m.timeout_ns(&slow));
        // Phase 2 at t1: the rest; find a probe to the slow host sent right before one to the
        // fast host. Every slow-host probe up to it is answered (500 ms again, so the slow host
        // stays slow); the fast-host probe stays silent.
        let rest = transmits(&mut m, t1);
        let i = rest
            .windows(2)
            .position(|w| key_of(&w[0]).0 == slow && key_of(&w[1]).0 == fast)
            .expect("seed 42 interleaves the hosts");
        for t in rest[..=i].iter().filter(|t| key_of(t).0 == slow) {
            m.handle_reply(&reply(t, ReplyKind::Rst, t1 + 500 * MS));
        }
        events(&mut m);
        let silent = key_of(&rest[i + 1]);
        // Its own deadline (t1 + 100 ms) has passed; the answered probe in front of it would
        // have expired only at t1 + 1 s or later.
        m.handle_timeout(t1 + 500 * MS);
        let expired: Vec<_> = events(&mut m).iter().map(|e| (e.addr, e.port)).collect();
        assert!(expired.contains(&silent), "{silent:?} not in {expired:?}");
    }

    #[test]
    fn stop_sends_nothing_more_and_reports_interrupted() {
        let mut m = machine(config("198.18.0.0/24", &[], &[80]));
        let first = transmits(&mut m, T0);
        assert_eq!(first.len(), BATCH);
        m.handle_reply(&reply(&first[0], ReplyKind::SynAck, T0 + MS));
        m.stop();
        // The RST owed to the port that answered still goes; no SYN does.
        let after = transmits(&mut m, T0 + MS);
        assert_eq!(after.len(), 1);
        assert!(matches!(after[0], Transmit::Rst { .. }));
        assert!(transmits(&mut m, T0 + 2 * MS).is_empty());
        m.handle_timeout(T0 + 10 * SEC);
        assert!(
            transmits(&mut m, T0 + 10 * SEC).is_empty(),
            "no retries either"
        );
        // The verdict reached before the stop is kept; nothing is made up for the rest.
        assert_eq!(events(&mut m).len(), 1);
        m.handle_reply(&reply(&first[1], ReplyKind::SynAck, T0 + 3 * MS));
        assert!(events(&mut m).is_empty());
        assert!(transmits(&mut m, T0 + 3 * MS).is_empty());
        assert!(m.is_done());
        assert_eq!(m.poll_timeout(T0 + 3 * MS), None);
        let stats = m.stats();
        assert!(stats.interrupted);
        assert_eq!(stats.probes_sent, BATCH as u64);
    }

    #[test]
    fn excluded_slots_are_skipped() {
        let mut m = machine(config(
            "198.18.0.0/28",
            &["198.18.0.4-198.18.0.11"],
            &[22, 80],
        ));
        let sent = all_first_syns(&mut m);
        let got: BTreeSet<_> = sent.iter().map(key_of).collect();
        assert_eq!(got.len(), sent.len(), "each probe once");
        let want: BTreeSet<_> = [0u8, 1, 2, 3, 12, 13, 14, 15]
            .into_iter()
            .flat_map(|h| [22, 80].map(|p| (IpAddr::from([198, 18, 0, h]), p)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_space_once() {
        let ports = [22, 80, 443];
        let whole: Vec<_> = all_first_syns(&mut machine(config(
            "198.18.0.0/27",
            &["198.18.0.5"],
            &ports,
        )))
        .iter()
        .map(key_of)
        .collect();
        assert_eq!(whole.len(), 31 * 3);
        let whole: BTreeSet<_> = whole.into_iter().collect();
        for count in [2u32, 3, 7, 200] {
            let mut union = BTreeSet::new();
            let mut total = 0;
            for index in 1..=count {
                let mut cfg = config("198.18.0.0/27", &["198.18.0.5"], &ports);
                cfg.opts.syn.shard = Shard { index, count };
                let mine: Vec<_> = all_first_syns(&mut machine(cfg))
                    .iter()
                    .map(key_of)
                    .collect();
                total += mine.len();
                for k in mine {
                    assert!(
                        union.insert(k),
                        "shard {index}/{count}: {k:?} in two shards"
                    );
                }
            }
            assert_eq!(total, whole.len(), "{count} shards");
            assert_eq!(union, whole, "{count} shards");
        }
    }

    #[test]
    fn verdicts_follow_the_reply_and_rst_only_for_open_ports() {
        let mut m = machine(config("198.18.0.2", &[], &[22, 80, 443]));
        let sent = transmits(&mut m, T0);
        assert_eq!(sent.len(), 3);
        let kinds = [ReplyKind::SynAck, ReplyKind::Rst, ReplyKind::Unreachable];
        for (t, k) in sent.iter().zip(kinds) {
            m.handle_reply(&reply(t, k, T0 + 2 * MS));
        }
        let ev = events(&mut m);
        let got: Vec<_> = ev.iter().map(|e| (e.port, e.state, e.reason)).collect();
        let want: Vec<_> = sent
            .iter()
            .zip([
                (PortState::Open, Reason::SynAck),
                (PortState::Closed, Reason::Reset),
                (PortState::Filtered, Reason::IcmpUnreachable),
            ])
            .map(|(t, (s, r))| (key_of(t).1, s, r))
            .collect();
        assert_eq!(got, want);
        assert!(ev.iter().all(|e| e.ttl == Some(63)));
        assert!(ev.iter().all(|e| e.rtt == Some(Duration::from_millis(2))));
        // One RST, to the open port, from the port its SYN-ACK came back to, with the
        // sequence number the SYN-ACK acknowledged.
        let Transmit::Syn {
            dst,
            src_port,
            dst_port,
            seq,
            ..
        } = sent[0]
        else {
            unreachable!()
        };
        assert_eq!(
            transmits(&mut m, T0 + 2 * MS),
            [Transmit::Rst {
                src: IpAddr::from([198, 18, 0, 1]),
                dst,
                src_port,
                dst_port,
                seq: seq.wrapping_add(1),
            }]
        );
        assert!(m.is_done());
    }

    #[test]
    fn no_rst_when_send_rst_is_off() {
        let mut cfg = config("198.18.0.2", &[], &[22]);
        cfg.opts.syn.send_rst = false;
        let mut m = machine(cfg);
        let sent = transmits(&mut m, T0);
        m.handle_reply(&reply(&sent[0], ReplyKind::SynAck, T0 + MS));
        assert_eq!(events(&mut m)[0].state, PortState::Open);
        assert!(transmits(&mut m, T0 + MS).is_empty());
        assert!(m.is_done());
    }

    #[test]
    fn rsts_go_out_ahead_of_syns_and_outside_the_batch() {
        let mut m = machine(config("198.18.0.0/24", &[], &[80]));
        let first = transmits(&mut m, T0);
        for t in &first[..10] {
            m.handle_reply(&reply(t, ReplyKind::SynAck, T0 + MS));
        }
        let next = transmits(&mut m, T0 + MS);
        assert!(next[..10].iter().all(|t| matches!(t, Transmit::Rst { .. })));
        assert_eq!(
            syns(&next).len(),
            BATCH,
            "RSTs take no tokens from the batch"
        );
    }

    #[test]
    fn unlimited_rate_sends_batches_of_at_most_batch() {
        let mut m = machine(config("198.18.0.0/24", &[], &[80, 443]));
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let n = transmits(&mut m, T0).len();
            (n > 0).then_some(n)
        })
        .collect();
        assert_eq!(sizes.iter().sum::<usize>(), 512);
        assert!(
            sizes[..sizes.len() - 1].iter().all(|&n| n == BATCH),
            "{sizes:?}"
        );
    }

    /// Drive the machine the way the shell does, on a simulated clock that jumps to each
    /// wake-up (plus a 50 µs oversleep), with no replies: (SYNs per batch, wake-ups).
    fn paced_run(rate: u64, until: u64) -> (Vec<(u64, usize)>, u64) {
        let mut cfg = config("198.18.0.0/16", &[], &[80]);
        cfg.opts.rate = Some(rate);
        let mut m = machine(cfg);
        let (mut now, mut batches, mut wakes) = (T0, Vec::new(), 0);
        while now < T0 + until {
            wakes += 1;
            m.handle_timeout(now);
            let n = transmits(&mut m, now).len();
            if n > 0 {
                batches.push((now, n));
            }
            let wake = m.poll_timeout(now).unwrap();
            now = if wake > now { wake + 50_000 } else { now };
        }
        (batches, wakes)
    }

    #[test]
    fn pacing_keeps_the_rate_in_batches_of_about_a_millisecond() {
        // Short enough that the /16 is not exhausted and no probe times out.
        for (rate, ms) in [(100u64, 900), (10_000, 900), (50_000, 500), (500_000, 100)] {
            let (batches, wakes) = paced_run(rate, ms * MS);
            let sent: usize = batches.iter().map(|b| b.1).sum();
            let want = (rate * ms / 1000) as f64;
            let err = (sent as f64 - want).abs() / want;
            assert!(err < 0.03, "rate {rate}: {sent} in {ms} ms");
            let min = (rate / 1000).clamp(1, BATCH as u64) as usize;
            assert!(
                batches.iter().skip(1).all(|&(_, n)| n >= min && n <= BATCH),
                "rate {rate}: batch sizes outside {min}..={BATCH}"
            );
            // One wake-up per batch at most, plus the ones that find the bucket not yet full.
            assert!(
                wakes <= 2 * batches.len() as u64 + 10,
                "rate {rate}: {wakes} wake-ups"
            );
        }
    }

    #[test]
    fn a_stall_is_not_followed_by_a_burst() {
        let mut cfg = config("198.18.0.0/16", &[], &[80]);
        cfg.opts.rate = Some(1000);
        let mut m = machine(cfg);
        assert_eq!(transmits(&mut m, T0).len(), 1);
        // Half a second without a wake-up, then at most the 10 ms burst of the token bucket.
        let t = T0 + 500 * MS;
        assert_eq!(transmits(&mut m, t).len(), 10);
        // The bucket is empty: the next batch (1 ms of tokens = 1 SYN) is 1 ms away.
        assert!(transmits(&mut m, t).is_empty());
        assert_eq!(m.poll_timeout(t), Some(t + MS));
    }

    #[test]
    fn waits_for_the_earlier_of_pacer_and_expiry() {
        let mut cfg = config("198.18.0.0/16", &[], &[80]);
        cfg.opts.rate = Some(1);
        cfg.opts.max_timeout = Duration::from_millis(200);
        let mut m = machine(cfg);
        assert_eq!(transmits(&mut m, T0).len(), 1);
        // The next token is 1 s away, the probe's deadline 200 ms.
        assert_eq!(m.poll_timeout(T0), Some(T0 + 200 * MS));
        // Past a deadline that was not yet handled: wake soon, but not in a busy loop.
        assert_eq!(m.poll_timeout(T0 + 300 * MS), Some(T0 + 300 * MS + 100_000));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut cfg = config("198.18.0.2", &[], &[80]);
        cfg.opts.syn.source_ports = (62_000, 61_000);
        assert!(matches!(
            Scheduler::new(cfg),
            Err(SynError::BadSourcePorts {
                lo: 62_000,
                hi: 61_000
            })
        ));
        let huge = config("2001:2::/64", &[], &[80, 443]);
        assert!(matches!(
            Scheduler::new(huge),
            Err(SynError::TooLarge { ports: 2, .. })
        ));
    }

    #[test]
    fn reply_events_decode_both_families() {
        let v4 = ReplyEvent {
            ktime_ns: 5,
            addr: v4_mapped([198, 18, 0, 2]),
            target_port: 80,
            scan_port: 61_234,
            kind: kind::SYN_ACK,
            family: 4,
            ttl: 64,
            ..ReplyEvent::default()
        };
        assert_eq!(
            Reply::from(&v4),
            Reply {
                addr: IpAddr::from([198, 18, 0, 2]),
                target_port: 80,
                scan_port: 61_234,
                kind: ReplyKind::SynAck,
                ttl: 64,
                ktime_ns: 5,
            }
        );
        let a6: IpAddr = "2001:2::2".parse().unwrap();
        let v6 = ReplyEvent {
            addr: addr_bytes(a6),
            family: 6,
            kind: kind::ICMP_UNREACH,
            ..v4
        };
        let r = Reply::from(&v6);
        assert_eq!((r.addr, r.kind), (a6, ReplyKind::Unreachable));
        assert_eq!(
            Reply::from(&ReplyEvent {
                kind: kind::RST,
                ..v4
            })
            .kind,
            ReplyKind::Rst
        );
    }

    /// A synthetic network: 50 % of (address, port) pairs open, 37.5 % closed, 12.5 % silent,
    /// by a hash of the pair; answers come back `RTT_NS` after the probe.
    fn outcome(addr: IpAddr, port: u16) -> Option<ReplyKind> {
        let IpAddr::V4(a) = addr else { return None };
        let x = (u64::from(u32::from(a)) << 16) | u64::from(port);
        match x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60 {
            0..=7 => Some(ReplyKind::SynAck),
            8..=13 => Some(ReplyKind::Rst),
            _ => None,
        }
    }
    const RTT_NS: u64 = 200_000;

    /// What a whole simulated scan did.
    struct SimRun {
        /// Every verdict, when asked to keep them.
        events: Vec<ScanEvent>,
        decided: u64,
        stats: EngineStats,
        rsts: u64,
        /// Bytes of the packets built, when asked to build them.
        bytes: u64,
    }

    /// Run a whole scan against [`outcome`] on a simulated clock, as the shell would: replies
    /// due, timeouts, one batch, verdicts; 64 probes per round at 1 µs each (1 Mpps).
    /// `emit` also builds each packet's bytes, as the shell does, to price that part too.
    fn simulate(cfg: SchedulerConfig, emit: bool, keep_events: bool) -> SimRun {
        let mut m = machine(cfg);
        let mut now = T0;
        let mut pending: VecDeque<(u64, ReplyEvent)> = VecDeque::new();
        let mut run = SimRun {
            events: Vec::new(),
            decided: 0,
            stats: EngineStats::default(),
            rsts: 0,
            bytes: 0,
        };
        let mut buf = [0u8; 64];
        loop {
            while let Some(&(due, ev)) = pending.front() {
                if due > now {
                    break;
                }
                pending.pop_front();
                m.handle_reply(&Reply::from(&ev));
            }
            m.handle_timeout(now);
            while let Some(t) = m.poll_transmit(now) {
                if emit {
                    run.bytes += t.segment().emit(&mut buf).unwrap() as u64;
                }
                let Transmit::Syn {
                    dst,
                    src_port,
                    dst_port,
                    ..
                } = t
                else {
                    run.rsts += 1;
                    continue;
                };
                let Some(k) = outcome(dst, dst_port) else {
                    continue;
                };
                pending.push_back((
                    now + RTT_NS,
                    ReplyEvent {
                        ktime_ns: now + RTT_NS,
                        addr: addr_bytes(dst),
                        target_port: dst_port,
                        scan_port: src_port,
                        kind: if k == ReplyKind::SynAck {
                            kind::SYN_ACK
                        } else {
                            kind::RST
                        },
                        family: 4,
                        ttl: 64,
                        ..ReplyEvent::default()
                    },
                ));
            }
            while let Some(e) = m.poll_event() {
                run.decided += 1;
                if keep_events {
                    run.events.push(e);
                }
            }
            if m.is_done() {
                run.stats = m.stats();
                return run;
            }
            now += 64_000;
        }
    }

    #[test]
    fn a_whole_scan_decides_every_port_once() {
        let ports = [22, 80, 443];
        let run = simulate(config("198.18.0.0/24", &[], &ports), false, true);
        let mut seen = HashSet::new();
        for e in &run.events {
            assert!(seen.insert((e.addr, e.port)), "{e:?} twice");
            let want = match outcome(e.addr, e.port) {
                Some(ReplyKind::SynAck) => (PortState::Open, Some(Duration::from_nanos(RTT_NS))),
                Some(_) => (PortState::Closed, Some(Duration::from_nanos(RTT_NS))),
                None => (PortState::Filtered, None),
            };
            assert_eq!((e.state, e.rtt), want, "{e:?}");
        }
        assert_eq!(seen.len(), 256 * 3);
        let silent = run.events.iter().filter(|e| e.rtt.is_none()).count() as u64;
        let open = run
            .events
            .iter()
            .filter(|e| e.state == PortState::Open)
            .count() as u64;
        assert!(silent > 0 && open > 0);
        // Every silent port got its two retries; every open port one RST; nothing else.
        assert_eq!(run.stats.probes_sent, 256 * 3 + 2 * silent);
        assert_eq!(run.rsts, open);
        assert_eq!(run.stats.duplicates, 0);
        assert!(!run.stats.interrupted);
    }

    fn thread_cpu_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into a valid timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// ns per probe of the machine alone and with the packets built, through 1.3M probes
    /// (a /15 × 8 ports, 12.5 % of them silent and retried twice) at a simulated 1 Mpps.
    #[test]
    #[ignore = "benchmark: cargo test --release -p tcprax --lib scheduler_ns_per_probe -- --ignored --nocapture"]
    fn scheduler_ns_per_probe() {
        for emit in [false, true] {
            let cfg = config(
                "198.18.0.0/15",
                &[],
                &[22, 25, 53, 80, 110, 443, 3389, 8080],
            );
            let start = std::time::Instant::now();
            let cpu0 = thread_cpu_ns();
            let run = simulate(cfg, emit, false);
            let cpu = thread_cpu_ns() - cpu0;
            let took = start.elapsed();
            assert_eq!(run.decided, 1 << 20);
            assert_eq!(run.stats.duplicates, 0);
            let probes = run.stats.probes_sent;
            println!(
                "sans-IO scheduler{}: {probes} probes ({} decided, {} RSTs, {} bytes) in {took:?} \
                 wall, {:.3} s CPU: {:.1} ns/probe wall, {:.1} ns/probe CPU",
                if emit { " + packet build" } else { "" },
                run.decided,
                run.rsts,
                run.bytes,
                cpu as f64 / 1e9,
                took.as_nanos() as f64 / probes as f64,
                cpu as f64 / probes as f64,
            );
        }
    }
}
