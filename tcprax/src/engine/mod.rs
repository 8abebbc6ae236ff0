//! Scan engines: they send probes, collect answers, schedule retries, and emit one
//! [`ScanEvent`](crate::model::ScanEvent) per (address, port). They never print.
pub mod connect;
pub mod rtt;
pub mod syn;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared between the caller and a running engine: a flag that asks the engine to stop early
/// (Ctrl-C; engines check it between probes and return what they have), and a live count of
/// probes sent, for the progress line.
#[derive(Clone, Debug, Default)]
pub struct ScanControl {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
}

impl ScanControl {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    /// Engines: count `n` more probes sent.
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }
    /// Probes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// What an engine reports besides its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Probes sent, retries included.
    pub probes_sent: u64,
    /// True if the engine stopped because of a [`ScanControl`].
    pub interrupted: bool,
    /// Counters of the XDP program (SYN scan only).
    pub xdp: Option<crate::model::XdpStats>,
    /// Replies that were valid but for a probe already decided (retransmitted SYN-ACKs).
    pub duplicates: u64,
    /// Addresses among the targets that were never probed (-sS: the network and broadcast
    /// addresses of directly connected subnets), for the pipeline's notice and count. A few
    /// per connected subnet at most.
    pub skipped: Vec<std::net::IpAddr>,
}
