//! -sS: the XDP SYN scan, and the I/O shell that drives its scheduler.
//!
//! The decisions live in [`scheduler`], a sans-IO state machine: it walks targets × ports in a
//! seeded pseudo-random order ([`permutation`]), paces ([`pacer`]), hands out SYNs whose
//! sequence number is a keyed cookie of the 4-tuple, and keeps state only for probes in flight
//! (so memory grows with rate × timeout, not with the size of the scan). It decides each port:
//! SYN-ACK -> open (and we RST it ourselves, unless `--no-rst`), RST -> closed, ICMP
//! unreachable -> filtered, nothing after the retries -> filtered, no route or a send the
//! kernel refuses -> unreachable, with timeouts that follow the measured RTT per target
//! (srtt + 4·rttvar, bounded).
//!
//! Before the first probe, [`route`] plans where each target leaves from ([`egress`]: the
//! interface and source address the routing table gives its prefix, or no route, or skipped
//! as a network/broadcast address of a connected subnet).
//!
//! Setting up needs privileges and running needs none ([`crate::privilege`]), so the two are
//! separate steps: [`prepare`] plans the routes, attaches XDP and opens the raw socket,
//! synchronously and without an async runtime; [`PreparedSyn::run`] scans with what it holds.
//! A process can drop its capabilities in between, before any reply is parsed.
//!
//! This file is the shell around it: a blocking thread that reads the clock, feeds the
//! machine replies and time, batches what it asks to send into the sockets ([`sender`]; or
//! hands the batches to sender threads, `--send-threads`), tells it which packets the kernel
//! refused, passes verdicts on, and sleeps until the machine's next deadline or the next
//! reply; and one async *collector* per egress interface that reads the XDP program's ring
//! buffer there ([`capture`]): the program validates replies against the same cookie in the
//! kernel, drops them (so the kernel never RSTs them) and hands them over.
pub mod aimd;
pub mod capture;
pub mod egress;
mod netlink;
mod nexthop;
pub mod pacer;
pub mod permutation;
pub mod route;
pub mod scheduler;
pub mod sender;

use super::{EngineStats, ScanControl};
use crate::clock::mono_ns;
use crate::config::{RstPath, SendPath, SynOptions, defaults};
use crate::model::{Notice, ScanEvent, XdpStats};
use crate::ports::PortList;
use crate::targets::TargetSet;
use aimd::{Aimd, AimdConfig, Signals};
use capture::{XdpCapture, XdpError, XdpRst};
use route::EgressPlan;
use scheduler::{Reply, Scheduler, SchedulerConfig};
use sender::{Outbox, SendError, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tcprax_common::{ReplyEvent, XdpConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use scheduler::MAX_RETRIES;

/// Knobs of the SYN scan: timing here, where probes come from in [`SynOptions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynScanOptions {
    /// A fixed rate (`--rate`); None: the rate controller ([`aimd`]) finds it.
    pub rate: Option<u64>,
    /// The controller's ceiling (`--max-rate`), when `rate` is None.
    pub max_rate: Option<u64>,
    pub retries: u32,
    /// Ceiling of the per-probe timeout.
    pub max_timeout: Duration,
    pub syn: SynOptions,
}

impl Default for SynScanOptions {
    fn default() -> Self {
        SynScanOptions {
            rate: None,
            max_rate: None,
            retries: defaults::RETRIES_SYN,
            max_timeout: defaults::MAX_TIMEOUT_SYN,
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
    #[error(transparent)]
    Privilege(#[from] crate::privilege::PrivilegeError),
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
    #[error(transparent)]
    Resume(#[from] scheduler::ResumePointError),
}

/// Everything a SYN scan needs that takes privileges, set up and ready: the XDP program
/// attached to every egress interface, the raw socket, the scheduler with its route plan.
/// Holding it needs no privileges; dropping it detaches XDP and closes the socket.
pub struct PreparedSyn {
    machine: Scheduler,
    /// The rate controller's limits, without `--rate`.
    aimd: Option<AimdConfig>,
    captures: Vec<XdpCapture>,
    /// One for the scheduler thread, or one per sender thread.
    senders: Vec<Sender>,
    /// Sender threads to start (0: the scheduler thread sends).
    send_threads: usize,
    skipped: Vec<std::net::IpAddr>,
}

/// Set up a SYN scan of `targets` × `ports`: check the capabilities it needs, plan where each
/// target leaves from ([`route::plan`]), attach the XDP program to every interface a target
/// leaves through (replies come back the same way) and open the raw socket.
///
/// Synchronous, and needs no async runtime: a process can call it before it starts any thread,
/// then drop its capabilities, then [`run`](PreparedSyn::run) the scan. Nothing is sent yet.
pub fn prepare(
    targets: &TargetSet,
    ports: &PortList,
    opts: SynScanOptions,
) -> Result<PreparedSyn, SynError> {
    if targets.included_len() == 0 {
        return Err(SynError::NoTargets);
    }
    crate::privilege::require("-sS", crate::privilege::SYN_SCAN)?;
    let plan: EgressPlan = route::plan(targets, &opts.syn)?;
    let key = (rand::random::<u64>(), rand::random::<u64>());
    let (lo, hi) = opts.syn.source_ports;
    let xdp_log = opts.syn.xdp_log;
    let (send_rst, send_path, rst_path) =
        (opts.syn.send_rst, opts.syn.send_path, opts.syn.rst_path);
    let send_threads = opts.syn.send_threads;
    let (v4, v6) = plan.families();
    // Which targets leave as whole frames (AF_PACKET), before `opts` goes to the scheduler.
    let paths =
        nexthop::plan(&plan, &opts.syn).map_err(|source| route::RouteError::Netlink { source })?;
    let aimd = match (opts.rate, opts.max_rate) {
        (Some(_), _) => None,
        (None, Some(max)) => Some(AimdConfig::with_ceiling(max)),
        (None, None) => Some(AimdConfig::default()),
    };
    // Size and source-port checks happen here, before anything is attached or sent.
    let machine = Scheduler::new(SchedulerConfig {
        targets: targets.clone(),
        ports: ports.as_slice().to_vec(),
        egress: plan.table.clone(),
        sources: plan.sources(),
        key,
        seed: opts.syn.seed.unwrap_or_else(rand::random),
        opts,
    })?;
    let config = XdpConfig {
        key0: key.0,
        key1: key.1,
        port_lo: lo,
        port_hi: hi,
        enabled: 1,
        // Set by the capture, per interface, from `xdp_rst`.
        rst: 0,
        _pad: [0; 2],
    };
    let xdp_rst = xdp_rst(send_rst, rst_path, send_path);
    // Every capture is attached before the first probe: an interface that cannot take XDP
    // fails the scan before anything is sent.
    let mut captures = Vec::new();
    for interface in plan.interfaces() {
        captures.push(XdpCapture::attach_with(
            interface,
            config,
            xdp_log.into(),
            xdp_rst,
        )?);
    }
    // Opened here, with the privileges; the threads start in `run`, after they are dropped.
    let senders = (0..send_threads.max(1))
        .map(|_| Sender::new(v4, v6, paths.clone(), send_path == SendPath::Direct))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedSyn {
        machine,
        aimd,
        captures,
        senders,
        send_threads,
        skipped: plan.skipped,
    })
}

/// Whether the XDP program sends our RSTs (see [`XdpRst`]): never with --no-rst or
/// `--rst-path socket`; with `--rst-path xdp` wherever its frames leave; by default only where
/// XDP_TX has a ring of its own, and not with --send-path raw, which keeps every packet we send
/// in view of the local firewall.
fn xdp_rst(send_rst: bool, rst_path: RstPath, send_path: SendPath) -> XdpRst {
    match (send_rst, rst_path, send_path) {
        (false, _, _) | (true, RstPath::Socket, _) | (true, RstPath::Auto, SendPath::Raw) => {
            XdpRst::Off
        }
        (true, RstPath::Auto, SendPath::Auto | SendPath::Direct) => XdpRst::WhereOwnRing,
        (true, RstPath::Xdp, _) => XdpRst::WhereItLeaves,
    }
}

#[cfg(test)]
#[test]
fn who_sends_the_rsts() {
    use RstPath::{Auto, Socket, Xdp};
    use SendPath::{Auto as Frames, Raw};
    assert_eq!(xdp_rst(true, Auto, Frames), XdpRst::WhereOwnRing);
    assert_eq!(xdp_rst(true, Auto, SendPath::Direct), XdpRst::WhereOwnRing);
    assert_eq!(
        xdp_rst(true, Auto, Raw),
        XdpRst::Off,
        "raw: the firewall sees it"
    );
    assert_eq!(xdp_rst(true, Xdp, Raw), XdpRst::WhereItLeaves, "asked for");
    assert_eq!(xdp_rst(true, Socket, Frames), XdpRst::Off);
    assert_eq!(xdp_rst(false, Auto, Frames), XdpRst::Off, "--no-rst");
}

/// Set up and run a SYN scan in one go ([`prepare`], then [`PreparedSyn::run`]), sending one
/// event per decided (address, port) to `tx`; for callers that keep their privileges.
pub async fn syn_scan(
    targets: &TargetSet,
    ports: &PortList,
    opts: SynScanOptions,
    tx: mpsc::Sender<ScanEvent>,
    stop: ScanControl,
) -> Result<EngineStats, SynError> {
    prepare(targets, ports, opts)?.run(tx, stop).await
}

impl PreparedSyn {
    /// Continue an interrupted scan from `point` instead of starting at the beginning
    /// (`--resume`); before [`run`](Self::run).
    pub fn resume_from(&mut self, point: scheduler::ResumePoint) -> Result<(), SynError> {
        Ok(self.machine.resume_from(point)?)
    }

    /// Run the prepared scan, sending one event per decided (address, port) to `tx`. Must be
    /// called inside a tokio runtime; needs no privileges. The ring buffers are registered
    /// with the runtime first, then one collector task per interface forwards its replies to
    /// the scheduler thread.
    pub async fn run(
        self,
        tx: mpsc::Sender<ScanEvent>,
        stop: ScanControl,
    ) -> Result<EngineStats, SynError> {
        let PreparedSyn {
            mut machine,
            aimd,
            mut captures,
            senders,
            send_threads,
            skipped,
        } = self;
        let out = if send_threads == 0 {
            Outbox::inline(senders.into_iter().next().expect("one sender"))
        } else {
            Outbox::threads(senders).map_err(|source| SendError::Thread { source })?
        };
        if !skipped.is_empty() {
            stop.notify(Notice::Skipped {
                addresses: skipped.clone(),
            });
        }
        // Before the first probe: a ring buffer that cannot be polled fails the scan early.
        for capture in &mut captures {
            capture.start()?;
        }
        let (reply_tx, reply_rx) = std_mpsc::channel::<ReplyEvent>();
        let (stop_collectors, collectors_stopped) = watch::channel(false);
        let overflows = Arc::new(AtomicU64::new(0));
        let mut collectors = JoinSet::new();
        for capture in captures {
            collectors.spawn(collect(
                capture,
                reply_tx.clone(),
                collectors_stopped.clone(),
                stop.clone(),
                overflows.clone(),
            ));
        }
        let aimd = aimd.map(|cfg| {
            let aimd = Aimd::new(cfg);
            machine.set_rate(mono_ns(), aimd.rate());
            aimd
        });
        let shell = Shell {
            machine,
            aimd,
            overflows,
            out,
            replies: reply_rx,
            events: tx,
            control: stop.clone(),
        };
        let mut handle = tokio::task::spawn_blocking(move || shell.run());
        // The scheduler thread is joined (or has failed) when this loop ends; `reply_tx` lives
        // until then, so the thread never sees its reply channel close under it, even when no
        // target needed a capture (all without a route).
        let result = loop {
            tokio::select! {
                done = &mut handle => break done,
                Some(ended) = collectors.join_next() => {
                    // A collector only ends early on an error: the scan cannot see replies.
                    match ended {
                        Ok(Err(e)) => return Err(e.into()),
                        Ok(Ok(_)) => {}
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(_) => return Err(SynError::Scheduler { why: "collector cancelled" }),
                    }
                }
            }
        };
        // The sockets close while the collectors detach XDP: both wait for the kernel (an RCU
        // grace period each), so side by side rather than one after the other.
        let (result, closing) = match result {
            Ok((r, out)) => (Ok(r), Some(tokio::task::spawn_blocking(move || drop(out)))),
            Err(e) => (Err(e), None),
        };
        drop(reply_tx);
        let _ = stop_collectors.send(true);
        let mut xdp: Option<XdpStats> = None;
        while let Some(ended) = collectors.join_next().await {
            if let Ok(Ok(Some(stats))) = ended {
                xdp = Some(xdp.map_or(stats, |sum| sum + stats));
            }
        }
        if let Some(closing) = closing {
            let _ = closing.await;
        }
        let stats = match result {
            Ok(r) => r?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(SynError::Scheduler { why: "cancelled" }),
        };
        Ok(EngineStats {
            xdp,
            skipped,
            ..stats
        })
    }
}

/// Forward one interface's validated replies to the scheduler thread until told to stop
/// (when woken for a burst, and every [`tcprax_common::EVENTS_DRAIN_MS`] in any case);
/// then read the program's counters and detach it (by dropping the capture). Every 10 ms,
/// adds the replies the ring buffer had no room for since the last look to `overflows` (the
/// rate controller's signal).
async fn collect(
    mut capture: XdpCapture,
    replies: std_mpsc::Sender<ReplyEvent>,
    mut stop: watch::Receiver<bool>,
    control: ScanControl,
    overflows: Arc<AtomicU64>,
) -> Result<Option<XdpStats>, XdpError> {
    let mut batch = Vec::with_capacity(1024);
    let mut overflow_check = tokio::time::interval(OVERFLOW_CHECK);
    overflow_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut overflow_told = false;
    let mut overflowed = 0;
    // The program wakes this task only for a burst of replies (EVENTS_WAKE_BYTES); the
    // rest wait at most one tick.
    let mut drain = tokio::time::interval(Duration::from_millis(tcprax_common::EVENTS_DRAIN_MS));
    drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = drain.tick() => {
                capture.drain_events(&mut batch)?;
                for ev in batch.drain(..) {
                    let _ = replies.send(ev);
                }
            }
            _ = overflow_check.tick() => {
                // One map read per tick: the controller sees an overflow within a window, and
                // the operator hears of the first one at once, not only in the -v summary.
                if let Ok(dropped) = capture.ringbuf_full()
                    && dropped > overflowed
                {
                    overflows.fetch_add(dropped - overflowed, Ordering::Relaxed);
                    overflowed = dropped;
                    if !overflow_told {
                        overflow_told = true;
                        control.notify(Notice::RingBufferFull { dropped });
                    }
                }
            }
            read = capture.read_events(&mut batch) => {
                read?;
                for ev in batch.drain(..) {
                    // The scheduler only goes away after the scan loop sees it finish.
                    let _ = replies.send(ev);
                }
            }
            _ = stop.changed() => break,
        }
    }
    Ok(capture.stats().ok())
}

/// How often the collectors read the ring buffer's overflow counter: within the rate
/// controller's shortest window.
const OVERFLOW_CHECK: Duration = Duration::from_millis(10);

/// Longest sleep of the scheduler thread: how soon it notices a stop request (Ctrl-C) when
/// neither a reply nor a deadline wakes it.
const MAX_WAIT: Duration = Duration::from_millis(5);

/// How often the scheduler thread retries handing over verdicts while the pipeline is full.
const BACKLOG_WAIT: Duration = Duration::from_millis(1);

/// The blocking side of the scan: owns the raw socket and the scheduler, and does all the
/// I/O the scheduler asks for.
struct Shell {
    machine: Scheduler,
    /// The rate controller, without `--rate`.
    aimd: Option<Aimd>,
    /// Replies the XDP ring buffers had no room for, summed by the collectors.
    overflows: Arc<AtomicU64>,
    out: Outbox,
    replies: std_mpsc::Receiver<ReplyEvent>,
    events: mpsc::Sender<ScanEvent>,
    control: ScanControl,
}

impl Shell {
    /// Run the scan to its end. If the sender breaks, the verdicts reached so far are still
    /// handed on before the error, so the report keeps them.
    ///
    /// The outbox comes back open (its sender threads, if any, still waiting for batches),
    /// for the caller to close beside other tear-down: closing an AF_PACKET socket waits for
    /// an RCU grace period (the kernel's `packet_release`), ~10 ms here, as detaching XDP
    /// does; each sender thread closes its own, side by side.
    fn run(mut self) -> (Result<EngineStats, SynError>, Outbox) {
        let result = match self.rounds() {
            Ok(stats) => Ok(stats),
            Err(e) => {
                self.machine.stop();
                while let Some(event) = self.machine.poll_event() {
                    if self.events.blocking_send(event).is_err() {
                        break;
                    }
                }
                Err(e)
            }
        };
        (result, self.out)
    }

    /// One round per batch: replies and time in, packets and verdicts out, then sleep until
    /// the machine's next deadline unless a reply comes first.
    fn rounds(&mut self) -> Result<EngineStats, SynError> {
        loop {
            let mut now = mono_ns();
            while let Ok(ev) = self.replies.try_recv() {
                self.machine.handle_reply_seen(&Reply::from(&ev), now);
            }
            now = mono_ns();
            self.machine.handle_timeout(now);
            if self.control.is_stopped() {
                self.machine.stop();
            }
            while let Some(t) = self.machine.poll_transmit(now) {
                self.out.push(t)?;
            }
            self.out.flush()?;
            for refused in self.out.take_refused() {
                self.machine
                    .handle_send_error(&refused.transmit, refused.errno);
            }
            self.control.add_sent(self.out.take_syns_sent());
            self.tune(now);
            let full = self.deliver()?;
            if self.machine.is_done() {
                // The RSTs owed to the last open ports may still be with a sender thread.
                self.out.finish()?;
                return Ok(self.machine.stats());
            }
            // None cannot happen while not done; waiting the longest is the safe answer.
            let wake = self
                .machine
                .poll_timeout(now)
                .unwrap_or(now + MAX_WAIT.as_nanos() as u64);
            // Downstream full: look again soon, but keep taking replies meanwhile.
            let most = if full { BACKLOG_WAIT } else { MAX_WAIT };
            if wake > now {
                self.wait_reply(Duration::from_nanos(wake - now).min(most))?;
            }
        }
    }

    /// Give the rate controller the totals so far, and pace at the rate it decides.
    fn tune(&mut self, now: u64) {
        let Some(aimd) = &mut self.aimd else {
            self.machine.take_answered();
            return;
        };
        for sent in self.machine.take_answered() {
            aimd.answered(sent, now);
        }
        let signals = Signals {
            ringbuf_full: self.overflows.load(Ordering::Relaxed),
            queue_waits: self.out.waits(),
            ..self.machine.signals()
        };
        if let Some(rate) = aimd.update(now, &signals) {
            self.machine.set_rate(now, rate);
        }
    }

    /// Hand verdicts to the pipeline without ever blocking: a blocked scheduler thread would
    /// handle no replies, send no RSTs and expire nothing. Returns true when the channel is
    /// full and verdicts stay with the machine (which then pauses fresh probes). After a stop
    /// the pipeline keeps reading, so the rest is sent blocking and nothing decided is lost.
    fn deliver(&mut self) -> Result<bool, SynError> {
        loop {
            if self.machine.is_stopped() {
                while let Some(event) = self.machine.poll_event() {
                    self.events
                        .blocking_send(event)
                        .map_err(|_| SynError::ChannelClosed)?;
                }
                return Ok(false);
            }
            let permit = match self.events.try_reserve() {
                Ok(permit) => permit,
                Err(mpsc::error::TrySendError::Full(())) => {
                    return Ok(self.machine.has_events());
                }
                Err(mpsc::error::TrySendError::Closed(())) => return Err(SynError::ChannelClosed),
            };
            match self.machine.poll_event() {
                Some(event) => permit.send(event),
                None => return Ok(false),
            }
        }
    }

    fn wait_reply(&mut self, wait: Duration) -> Result<(), SynError> {
        match self.replies.recv_timeout(wait) {
            Ok(ev) => {
                self.machine.handle_reply_seen(&Reply::from(&ev), mono_ns());
                Ok(())
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => Ok(()),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(SynError::Scheduler {
                why: "collector stopped",
            }),
        }
    }
}
