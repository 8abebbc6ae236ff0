//! -sT: the TCP connect scan. Full handshakes through the kernel with tokio, so it needs no
//! privileges. Bounded concurrency; per-connection timeout from the measured RTT of completed
//! connects; refused -> closed, timeout/unreachable -> filtered; running out of file
//! descriptors or local ports slows the scan down instead of losing ports.
use super::rtt::{RttBounds, RttEstimator};
use super::syn::scheduler::{ResumePoint, ResumePointError};
use super::{EngineStats, ScanControl};
use crate::config::defaults;
use crate::model::{PortState, Reason, ScanEvent};
use crate::ports::PortList;
use crate::targets::TargetSet;
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// Knobs of the connect scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Simultaneous connection attempts.
    pub concurrency: usize,
    /// Ceiling of one attempt's timeout (the adaptive timeout never exceeds it).
    pub max_timeout: Duration,
    /// Extra attempts after a timeout.
    pub retries: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            concurrency: defaults::CONCURRENCY,
            max_timeout: defaults::MAX_TIMEOUT_CONNECT,
            retries: defaults::RETRIES_CONNECT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the result channel was closed before the scan finished")]
    ChannelClosed,
    #[error(transparent)]
    Resume(#[from] ResumePointError),
}

/// Concurrency never drops below this when backing off from EMFILE.
const MIN_CONCURRENCY: usize = 8;

/// Outcome of one connect attempt.
enum Attempt {
    Done(PortState, Reason, Option<Duration>),
    TimedOut,
    /// Out of a local resource (fds, ports, buffers): try the same port again later.
    Exhausted,
}

struct Shared {
    rtt: Mutex<RttEstimator>,
    sent: AtomicU64,
    sem: Arc<Semaphore>,
    /// Permits taken out of circulation after EMFILE, so concurrency shrinks to what fits.
    shrink: AtomicU64,
    /// Current concurrency: starts at the requested value, shrinks on exhaustion.
    capacity: AtomicUsize,
}

/// Scan every (target, port), sending one event per pair to `tx`.
pub async fn connect_scan(
    targets: &TargetSet,
    ports: &PortList,
    opts: ConnectOptions,
    tx: mpsc::Sender<ScanEvent>,
    stop: ScanControl,
) -> Result<EngineStats, ConnectError> {
    connect_scan_from(targets, ports, opts, None, tx, stop).await
}

/// The pairs of a scan in the order -sT starts them: targets in order, each with every port.
/// Pair `i` is included address `i / ports` with port `i % ports`, so a position is all a
/// resume point needs to continue the walk.
struct Walk<'a> {
    targets: &'a TargetSet,
    ports: &'a [u16],
    /// Pairs a stopped run left undecided, probed first.
    resumed: VecDeque<(IpAddr, u16)>,
    next: u128,
    total: u128,
}

impl Walk<'_> {
    fn next_pair(&mut self) -> Option<(IpAddr, u16)> {
        if let Some(pair) = self.resumed.pop_front() {
            return Some(pair);
        }
        if self.next >= self.total {
            return None;
        }
        let nports = self.ports.len() as u128;
        let addr = self.targets.get_included(self.next / nports)?;
        let port = self.ports[(self.next % nports) as usize];
        self.next += 1;
        Some((addr, port))
    }
}

/// [`connect_scan`], continuing the scan a stopped run left at `from` (`--resume`): the pairs
/// it left undecided first, then the walk from its position. A stop mid-scan returns the
/// point this run stopped at in [`EngineStats::resume`]: its position, and the pairs it never
/// started or cut short (their connects are dropped at the stop, unreported).
pub async fn connect_scan_from(
    targets: &TargetSet,
    ports: &PortList,
    opts: ConnectOptions,
    from: Option<ResumePoint>,
    tx: mpsc::Sender<ScanEvent>,
    stop: ScanControl,
) -> Result<EngineStats, ConnectError> {
    let total = targets.included_len().saturating_mul(ports.len() as u128);
    let mut walk = Walk {
        targets,
        ports: ports.as_slice(),
        resumed: VecDeque::new(),
        next: 0,
        total,
    };
    if let Some(point) = from {
        if u128::from(point.next) > total {
            return Err(ResumePointError::Position {
                next: point.next,
                index: 1,
                count: 1,
                len: u64::try_from(total).unwrap_or(u64::MAX),
            }
            .into());
        }
        point.check_pending(targets, ports.as_slice())?;
        walk.next = u128::from(point.next);
        walk.resumed = point.pending.into();
    }
    let cut_short: Arc<Mutex<Vec<(IpAddr, u16)>>> = Arc::default();
    let concurrency = opts.concurrency.max(1);
    let shared = Arc::new(Shared {
        rtt: Mutex::new(RttEstimator::new(RttBounds::with_max(opts.max_timeout))),
        sent: AtomicU64::new(0),
        sem: Arc::new(Semaphore::new(concurrency)),
        shrink: AtomicU64::new(0),
        capacity: AtomicUsize::new(concurrency),
    });
    let mut tasks = JoinSet::new();
    let mut interrupted = false;
    loop {
        if stop.is_stopped() {
            interrupted = true;
            break;
        }
        // A stop must not wait for a slot: every slot may be a connect to a silent port.
        let permit = tokio::select! {
            permit = shared.sem.clone().acquire_owned() => permit,
            _ = stop.stopped() => {
                interrupted = true;
                break;
            }
        };
        let Ok(permit) = permit else {
            return Err(ConnectError::ChannelClosed);
        };
        let Some((addr, port)) = walk.next_pair() else {
            break;
        };
        let shared = shared.clone();
        let tx = tx.clone();
        let stop = stop.clone();
        let cut_short = cut_short.clone();
        tasks.spawn(async move {
            let event = probe_port(&shared, addr, port, opts.retries, &stop).await;
            // Give back the permit unless EMFILE asked us to shrink.
            if shared.shrink.load(Ordering::Relaxed) > 0
                && shared
                    .shrink
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
            {
                permit.forget();
            } else {
                drop(permit);
            }
            match event {
                Some(event) => tx
                    .send(event)
                    .await
                    .map_err(|_| ConnectError::ChannelClosed),
                None => {
                    // Stopped before a verdict: undecided, for the resume point.
                    if let Ok(mut c) = cut_short.lock() {
                        c.push((addr, port));
                    }
                    Ok(())
                }
            }
        });
        while let Some(done) = tasks.try_join_next() {
            flatten(done)?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        flatten(done)?;
    }
    let mut pending: Vec<(IpAddr, u16)> = walk.resumed.into_iter().collect();
    pending.extend(cut_short.lock().map(|c| c.clone()).unwrap_or_default());
    pending.sort_unstable();
    let left = !pending.is_empty() || walk.next < total;
    let resume = (stop.is_stopped() && left).then(|| ResumePoint {
        // -sT walks in order: no seed.
        seed: 0,
        next: u64::try_from(walk.next).unwrap_or(u64::MAX),
        pending,
    });
    Ok(EngineStats {
        probes_sent: shared.sent.load(Ordering::Relaxed),
        interrupted: interrupted || stop.is_stopped(),
        xdp: None,
        duplicates: 0,
        skipped: Vec::new(),
        resume,
    })
}

fn flatten(
    done: Result<Result<(), ConnectError>, tokio::task::JoinError>,
) -> Result<(), ConnectError> {
    match done {
        Ok(r) => r,
        // A probe task cannot panic on network input; if one did, surface it rather than
        // silently losing its port.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Ok(()),
    }
}

/// Decide one port: retries after timeouts, backs off on resource exhaustion.
/// Returns None only when stopped before a verdict.
async fn probe_port(
    shared: &Shared,
    addr: IpAddr,
    port: u16,
    retries: u32,
    stop: &ScanControl,
) -> Option<ScanEvent> {
    let mut timeouts = 0u32;
    let mut backoff = Duration::from_millis(5);
    loop {
        if stop.is_stopped() {
            return None;
        }
        let timeout = shared
            .rtt
            .lock()
            .map(|r| r.timeout())
            .unwrap_or(Duration::from_secs(1));
        // Stopped mid-connect: drop the attempt (its socket closes) rather than wait out the
        // timeout; the port gets no verdict, like any probe cut short by a stop.
        let outcome = tokio::select! {
            outcome = attempt(SocketAddr::new(addr, port), timeout) => outcome,
            _ = stop.stopped() => return None,
        };
        if !matches!(outcome, Attempt::Exhausted) {
            shared.sent.fetch_add(1, Ordering::Relaxed);
            stop.add_sent(1);
        }
        match outcome {
            Attempt::Done(state, reason, rtt) => {
                if let (Some(rtt), Ok(mut est)) = (rtt, shared.rtt.lock()) {
                    est.sample(rtt);
                }
                return Some(ScanEvent {
                    addr,
                    port,
                    state,
                    reason,
                    rtt,
                    ttl: None,
                });
            }
            Attempt::TimedOut => {
                timeouts += 1;
                if timeouts > retries {
                    return Some(ScanEvent {
                        addr,
                        port,
                        state: PortState::Filtered,
                        reason: Reason::NoResponse,
                        rtt: None,
                        ttl: None,
                    });
                }
            }
            Attempt::Exhausted => {
                // Not a probe: it never left. Shrink concurrency (down to a floor) and wait.
                if shared
                    .capacity
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                        (c > MIN_CONCURRENCY).then(|| c - 1)
                    })
                    .is_ok()
                {
                    shared.shrink.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

async fn attempt(to: SocketAddr, timeout: Duration) -> Attempt {
    let socket = match if to.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    } {
        Ok(s) => s,
        // EMFILE/ENFILE/ENOBUFS: out of descriptors or memory: wait and try again.
        Err(e) if is_exhaustion(&e) => return Attempt::Exhausted,
        // Anything else (e.g. no IPv6 on this host): the port cannot be reached from here.
        Err(_) => return Attempt::Done(PortState::Filtered, Reason::Unreachable, None),
    };
    // Close with RST, not FIN: no TIME_WAIT left behind for every open port.
    let _ = socket.set_zero_linger();
    let start = Instant::now();
    match tokio::time::timeout(timeout, socket.connect(to)).await {
        Ok(Ok(stream)) => {
            let rtt = start.elapsed();
            drop(stream);
            Attempt::Done(PortState::Open, Reason::Connected, Some(rtt))
        }
        Ok(Err(e)) => match e.kind() {
            io::ErrorKind::ConnectionRefused => {
                Attempt::Done(PortState::Closed, Reason::Refused, Some(start.elapsed()))
            }
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                Attempt::Done(PortState::Filtered, Reason::Unreachable, None)
            }
            io::ErrorKind::TimedOut => Attempt::TimedOut,
            _ if is_exhaustion(&e) => Attempt::Exhausted,
            // Anything else (e.g. EPERM from a local firewall): the port could not be
            // reached; nmap calls that filtered too.
            _ => Attempt::Done(PortState::Filtered, Reason::Unreachable, None),
        },
        Err(_elapsed) => Attempt::TimedOut,
    }
}

/// Local resource exhaustion: EMFILE/ENFILE (fds), EADDRNOTAVAIL (ephemeral ports),
/// ENOBUFS/ENOMEM.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::EADDRNOTAVAIL | libc::ENOBUFS | libc::ENOMEM)
    )
}
