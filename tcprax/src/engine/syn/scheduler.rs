//! The -sS scheduler as a sans-IO state machine: which probe goes out next, when a probe has
//! timed out, and what a reply decides.
//!
//! It owns the walk through the permutation of targets × ports (this shard's positions,
//! excluded and skipped addresses passed over, targets without a route decided `unreachable`
//! on the spot), the source address of each probe (its target's egress group), the token
//! bucket, the probes in flight and their expiry
//! timeline in send order, the retry queue, the RTT estimators (per target and global, Karn's
//! rule), the RSTs owed to open ports, duplicate counting and stop. Time and replies come in as
//! plain values ([`Scheduler::handle_timeout`], [`Scheduler::handle_reply`],
//! [`Scheduler::handle_send_error`], [`Scheduler::stop`]); packets to send, verdicts and the next wake-up go out as plain values
//! ([`Scheduler::poll_transmit`], [`Scheduler::poll_event`], [`Scheduler::poll_timeout`]). It
//! never reads a clock, touches a socket or blocks: that is the shell's job in `syn/mod.rs`,
//! and it is what lets every timing rule here be a unit test that runs in microseconds (the
//! shape of quinn-proto's `Connection`).
//!
//! Times are nanoseconds of CLOCK_MONOTONIC, the clock of the kernel timestamps on replies.
use super::egress::{Egress, EgressTable, GroupId};
use super::pacer::Pacer;
use super::permutation::Permutation;
use super::{SynError, SynScanOptions};
use crate::engine::EngineStats;
use crate::engine::rtt::{RttBounds, RttEstimator, TargetRtt};
use crate::keyhash::KeyMap;
use crate::model::{PortState, Reason, ScanEvent};
use crate::targets::TargetSet;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;
use tcprax_common::{cookie, v4_mapped};

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

/// Floor of the wait before a probe is *retried*: the RTT estimate (srtt + 4·rttvar) decides,
/// but never below this, nor below twice the time replies are taking to reach the machine
/// after the XDP program saw them ([`Scheduler::handle_reply_seen`]): a reply still on its
/// way through the ring buffer and the collector on a busy machine must not look lost (with a
/// fixed 10 ms, a loaded test machine retried probes whose answers were only late in reaching
/// the scheduler thread).
pub const RETRY_FLOOR: Duration = Duration::from_millis(10);

/// Floor of the wait after a probe's *last* attempt before it is called filtered (nmap's
/// `--min-rtt-timeout` default): a late answer to any attempt still counts until then.
pub const FINAL_FLOOR: Duration = Duration::from_millis(100);

/// Verdicts the machine holds for the shell before it stops starting fresh probes. When the
/// pipeline behind the engine is slow (-sV queue full, a slow terminal), verdicts pile up here:
/// the machine then sends no new SYNs (retries, RSTs, replies and expiries go on, so timing
/// stays right) and memory stays bounded by the probes already in flight.
pub const EVENT_BACKLOG: usize = 4096;

/// Everything the scheduler needs to know before the first probe.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    pub targets: TargetSet,
    pub ports: Vec<u16>,
    /// Which way each target leaves (or that it is skipped, or has no route).
    pub egress: EgressTable,
    /// Our address in each egress group, by [`GroupId`]: the source of its probes.
    pub sources: Vec<IpAddr>,
    /// SipHash key of the cookie, the same the XDP program checks replies against.
    pub key: (u64, u64),
    /// Permutation seed (`--seed`, or a random one chosen by the caller).
    pub seed: u64,
    /// Rate, retries, timeout ceiling, source ports, shard and `--no-rst`. `opts.syn.seed`,
    /// the interface and the source address are the caller's business.
    pub opts: SynScanOptions,
}

/// (target address, target port): one probe of the scan, whatever its attempt.
type Key = (IpAddr, u16);

/// A probe waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// 0 for the first attempt.
    attempt: u8,
    /// Its target's egress group: the source of its retries and of our RST.
    group: GroupId,
    sent_ns: u64,
}

/// What the walk found at the next position of the permutation.
enum Next {
    Probe(Transmit),
    /// Verdicts reached without sending (targets without a route) fill the queue: hand them
    /// out before walking on, so a blackholed /8 cannot grow it without bound.
    Yield,
    /// Nothing left to send.
    Done,
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
    egress: EgressTable,
    sources: Vec<IpAddr>,
    key: (u64, u64),
    source_ports: (u16, u16),
    send_rst: bool,
    retries: u32,
    max_timeout: Duration,
    pacer: Pacer,
    /// SYNs left in the current batch; None between batches.
    batch: Option<usize>,
    in_flight: KeyMap<Key, InFlight>,
    /// (key, attempt, sent at) in send order, for attempts with retries left. The deadline
    /// is sent-at plus the timeout as known *now*: probes sent before the first RTT sample
    /// (with the 1 s initial timeout) expire as soon as the measured RTT says they should.
    timeline: VecDeque<(Key, u8, u64)>,
    /// The same for last attempts, whose wait has [`FINAL_FLOOR`] as floor: a queue of its
    /// own, so that their longer deadlines never hold up a retry queued behind them.
    last_timeline: VecDeque<(Key, u8, u64)>,
    /// Probes whose attempt timed out, with the number of the attempt to send next.
    retry_queue: VecDeque<(Key, u8)>,
    /// Probes an interrupted run left undecided ([`Scheduler::resume_from`]): sent afresh,
    /// ahead of the rest of the permutation.
    resumed: VecDeque<Key>,
    rtt_global: RttEstimator,
    /// Keyed by the address as [`addr_bytes`] spells it, in one `u128`: 32-byte entries.
    rtt_per_target: KeyMap<u128, TargetRtt>,
    /// RSTs owed to open ports, sent ahead of any SYN and outside the rate (they answer
    /// packets that already arrived).
    rsts: VecDeque<Transmit>,
    /// Verdicts not yet taken by the shell.
    events: VecDeque<ScanEvent>,
    stopped: bool,
    probes_sent: u64,
    duplicates: u64,
    /// How long replies take from the XDP program to the machine, as a slowly decaying
    /// maximum ([`Scheduler::handle_reply_seen`]); no wait is shorter than twice this.
    reply_lag_ns: u64,
    /// First attempts sent, and the send times of those answered since the shell last took
    /// them: what the rate controller ([`super::aimd`]) reads.
    first_sent: u64,
    first_answered: Vec<u64>,
}

/// `addr` as one integer, IPv4 IPv4-mapped: the key of the per-target RTT map.
fn addr_key(a: IpAddr) -> u128 {
    u128::from_be_bytes(addr_bytes(a))
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
        // Only included addresses are in the space: a /8 minus all but a /24 is walked like
        // the /24, not slot by slot through 16 million exclusions.
        let n_targets = cfg.targets.included_len();
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
            egress: cfg.egress,
            sources: cfg.sources,
            key: cfg.key,
            source_ports: (lo, hi),
            send_rst: cfg.opts.syn.send_rst,
            retries: cfg.opts.retries.min(MAX_RETRIES),
            max_timeout: cfg.opts.max_timeout,
            pacer: Pacer::new(cfg.opts.rate),
            batch: None,
            in_flight: KeyMap::default(),
            timeline: VecDeque::new(),
            last_timeline: VecDeque::new(),
            retry_queue: VecDeque::new(),
            resumed: VecDeque::new(),
            // The same ceiling as the per-target estimators: --timeout above the default is
            // honoured before the first sample too.
            rtt_global: RttEstimator::new(RttBounds::with_floor(RETRY_FLOOR, cfg.opts.max_timeout)),
            rtt_per_target: KeyMap::default(),
            rsts: VecDeque::new(),
            events: VecDeque::new(),
            stopped: false,
            probes_sent: 0,
            duplicates: 0,
            reply_lag_ns: 0,
            first_sent: 0,
            first_answered: Vec::new(),
        })
    }

    /// [`handle_reply`](Self::handle_reply) for a reply the shell took at `seen` (ns, the
    /// clock of [`Reply::ktime_ns`]): how late it is, measured from the XDP program, keeps
    /// every wait above what our own receive path takes.
    pub fn handle_reply_seen(&mut self, reply: &Reply, seen: u64) {
        let lag = seen.saturating_sub(reply.ktime_ns);
        // Up at once, down by 1/64 per reply: one slow stretch lifts the floor for a while.
        self.reply_lag_ns = lag.max(self.reply_lag_ns - self.reply_lag_ns / 64);
        self.handle_reply(reply);
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
            self.first_answered.push(f.sent_ns);
        }
        let (state, reason) = match reply.kind {
            ReplyKind::SynAck => (PortState::Open, Reason::SynAck),
            ReplyKind::Rst => (PortState::Closed, Reason::Reset),
            ReplyKind::Unreachable => (PortState::Filtered, Reason::IcmpUnreachable),
        };
        if state == PortState::Open && self.send_rst && !reply.rst_sent {
            // The kernel never saw the SYN-ACK (XDP dropped it), so it will not RST; we do,
            // or the target keeps a half-open connection and retransmits (unless the XDP
            // program sent the RST itself). The target expects the cookie of the 4-tuple the
            // SYN-ACK came back on, plus one.
            let seq = cookie(
                self.key.0,
                self.key.1,
                &addr_bytes(reply.addr),
                reply.target_port,
                reply.scan_port,
            )
            .wrapping_add(1);
            self.rsts.push_back(Transmit::Rst {
                src: self.sources[usize::from(f.group)],
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

    /// The kernel refused to send `sent` (one of ours, from [`poll_transmit`]) with `errno`:
    /// a SYN's port is decided at once, `unreachable`, with no retry (the kernel would refuse
    /// again), and the SYN does not count as sent. A refused RST changes nothing: its port is
    /// already open, and the target times its half-open connection out.
    ///
    /// [`poll_transmit`]: Self::poll_transmit
    pub fn handle_send_error(&mut self, sent: &Transmit, errno: i32) {
        let Transmit::Syn {
            dst,
            dst_port,
            attempt,
            ..
        } = *sent
        else {
            return;
        };
        if self.stopped {
            return;
        }
        let key = (dst, dst_port);
        // Only the live attempt decides: anything else was decided already.
        if !matches!(self.in_flight.get(&key), Some(f) if f.attempt == attempt) {
            return;
        }
        self.in_flight.remove(&key);
        self.probes_sent = self.probes_sent.saturating_sub(1);
        if attempt == 0 {
            self.first_sent = self.first_sent.saturating_sub(1);
        }
        self.events.push_back(ScanEvent {
            addr: dst,
            port: dst_port,
            state: PortState::Unreachable,
            reason: Reason::SendFailed { errno },
            rtt: None,
            ttl: None,
        });
    }

    fn sample(&mut self, addr: IpAddr, rtt: Duration) {
        self.rtt_global.sample(rtt);
        let rtt_ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        let len = self.rtt_per_target.len();
        match self.rtt_per_target.get_mut(&addr_key(addr)) {
            Some(e) => e.sample(rtt_ns),
            None if len < MAX_RTT_TARGETS => {
                self.rtt_per_target
                    .insert(addr_key(addr), TargetRtt::first(rtt_ns));
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
        self.expire(now, false);
        self.expire(now, true);
    }

    /// [`handle_timeout`](Self::handle_timeout) for one of the two timelines.
    fn expire(&mut self, now: u64, last: bool) {
        loop {
            let timeline = if last {
                &self.last_timeline
            } else {
                &self.timeline
            };
            let Some(&(key, attempt, sent)) = timeline.front() else {
                return;
            };
            // Stale entries (answered, or superseded by a later attempt) go at once: they
            // expire nothing, and a live probe behind one should not wait for a deadline that
            // no longer matters (nor pay for working it out: most entries are stale).
            let live = matches!(self.in_flight.get(&key), Some(f) if f.attempt == attempt);
            if live && sent + self.wait_ns(&key.0, last) > now {
                return;
            }
            if last {
                self.last_timeline.pop_front();
            } else {
                self.timeline.pop_front();
            }
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
            Next::Probe(t) => {
                self.batch = Some(left - 1);
                Some(t)
            }
            Next::Yield => {
                // The batch goes on at the next call, once the verdicts are taken.
                self.batch = Some(left);
                None
            }
            Next::Done => {
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

    /// Verdicts are waiting to be taken.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// When the scheduler next has something to do if no reply comes first: `now` when it can
    /// send (or has something to hand out) at once, else the earlier of the moment the bucket
    /// holds a batch and the first expiry; None when it is done or stopped. Never earlier than
    /// `now`.
    pub fn poll_timeout(&mut self, now: u64) -> Option<u64> {
        // Verdicts are not time-driven: the shell takes them every round, so any still here
        // wait for room downstream, not for a clock.
        if !self.rsts.is_empty() {
            return Some(now);
        }
        if self.stopped {
            return None;
        }
        let due = |&(key, _, sent): &(Key, u8, u64), last| {
            (sent + self.wait_ns(&key.0, last)).max(now + MIN_EXPIRY_WAIT_NS)
        };
        let expiry = match (self.timeline.front(), self.last_timeline.front()) {
            (Some(a), Some(b)) => Some(due(a, false).min(due(b, true))),
            (Some(a), None) => Some(due(a, false)),
            (None, Some(b)) => Some(due(b, true)),
            (None, None) => None,
        };
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
            skipped: Vec::new(),
            resume: self.resume_point(),
        }
    }

    fn has_more(&self) -> bool {
        !self.retry_queue.is_empty() || self.fresh_left()
    }

    /// Fresh probes are left and the verdict backlog has room for their answers.
    fn fresh_left(&self) -> bool {
        self.unwalked() && self.events.len() < EVENT_BACKLOG
    }

    /// Probes never sent in this run remain: resumed ones, or positions of the permutation.
    fn unwalked(&self) -> bool {
        !self.resumed.is_empty() || self.next < self.perm.len()
    }

    /// True while fresh probes wait only because too many verdicts are not taken yet.
    pub fn is_backlogged(&self) -> bool {
        self.unwalked() && self.events.len() >= EVENT_BACKLOG
    }

    /// How long an attempt to `addr` waits as known now: the retransmission timeout (its own
    /// estimate once it has a sample, else the global one; at least [`RETRY_FLOOR`] and twice
    /// the replies' lag), and for a `last` attempt at least [`FINAL_FLOOR`]; never above
    /// `--timeout`.
    fn wait_ns(&self, addr: &IpAddr, last: bool) -> u64 {
        let max = self.max_timeout.as_nanos() as u64;
        let t = match self.rtt_per_target.get(&addr_key(*addr)) {
            Some(e) => e.timeout_ns((RETRY_FLOOR.as_nanos() as u64).min(max), max),
            None => self.rtt_global.timeout().as_nanos() as u64,
        };
        let t = if last {
            t.max(FINAL_FLOOR.as_nanos() as u64)
        } else {
            t
        };
        t.max(self.reply_lag_ns.saturating_mul(2)).min(max)
    }

    /// A due retry, else the next fresh probe of this shard. Targets without a route get
    /// their verdict here, without a probe.
    fn next_probe(&mut self, now: u64) -> Next {
        while let Some((key, attempt)) = self.retry_queue.pop_front() {
            // Answered while it waited in the queue: nothing to resend.
            if let Some(f) = self.in_flight.get(&key) {
                let group = f.group;
                return Next::Probe(self.probe(key, attempt, group, now));
            }
        }
        let nports = self.ports.len() as u64;
        while self.fresh_left() {
            // What an interrupted run left undecided goes first, then the permutation.
            let (addr, port) = match self.resumed.pop_front() {
                Some(key) => key,
                None => {
                    let x = self.perm.get(self.next);
                    self.next += self.step;
                    // The permutation covers exactly the included addresses: None cannot
                    // happen.
                    let Some(addr) = self.targets.get_included(u128::from(x / nports)) else {
                        continue;
                    };
                    (addr, self.ports[(x % nports) as usize])
                }
            };
            match self.egress.lookup(addr) {
                Egress::Via(group) => return Next::Probe(self.probe((addr, port), 0, group, now)),
                Egress::Skip => continue,
                Egress::NoRoute => {
                    self.events.push_back(ScanEvent {
                        addr,
                        port,
                        state: PortState::Unreachable,
                        reason: Reason::NoRoute,
                        rtt: None,
                        ttl: None,
                    });
                    if self.events.len() >= BATCH {
                        return Next::Yield;
                    }
                }
            }
        }
        Next::Done
    }

    /// Our source port for a probe: spread over the range, different for each attempt, so a
    /// retry never reuses the 4-tuple of a half-open connection from the previous attempt.
    fn source_port(&self, addr: &[u8; 16], port: u16, attempt: u8) -> u16 {
        let (lo, hi) = self.source_ports;
        let span = u32::from(hi - lo) + 1;
        let h = cookie(self.key.1, self.key.0, addr, port, u16::from(attempt));
        lo + (h % span) as u16
    }

    /// Record `key`'s attempt as sent at `now` from `group` and build its SYN.
    fn probe(&mut self, key: Key, attempt: u8, group: GroupId, now: u64) -> Transmit {
        let (addr, port) = key;
        let ab = addr_bytes(addr);
        let src_port = self.source_port(&ab, port, attempt);
        let seq = cookie(self.key.0, self.key.1, &ab, port, src_port);
        self.probes_sent += 1;
        self.first_sent += u64::from(attempt == 0);
        self.in_flight.insert(
            key,
            InFlight {
                attempt,
                group,
                sent_ns: now,
            },
        );
        if u32::from(attempt) < self.retries {
            self.timeline.push_back((key, attempt, now));
        } else {
            self.last_timeline.push_back((key, attempt, now));
        }
        Transmit::Syn {
            src: self.sources[usize::from(group)],
            dst: addr,
            src_port,
            dst_port: port,
            seq,
            attempt,
        }
    }
}

mod rate;
mod resume;
mod values;
pub use resume::{ResumePoint, ResumePointError};
pub use values::{Reply, ReplyKind, Transmit};

#[cfg(test)]
mod tests;
