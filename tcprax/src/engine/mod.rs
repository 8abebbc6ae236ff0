//! Scan engines: they send probes, collect answers, schedule retries, and emit one
//! [`ScanEvent`](crate::model::ScanEvent) per (address, port). They never print.
pub mod connect;
pub mod rtt;
pub mod syn;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag that asks an engine to stop early (Ctrl-C). Engines check it between probes and
/// return what they have; results so far are still reported.
#[derive(Clone, Debug, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What an engine reports besides its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Probes sent, retries included.
    pub probes_sent: u64,
    /// True if the engine stopped because of a [`StopSignal`].
    pub interrupted: bool,
    /// Counters of the XDP program (SYN scan only).
    pub xdp: Option<crate::model::XdpStats>,
    /// Replies that were valid but for a probe already decided (retransmitted SYN-ACKs).
    pub duplicates: u64,
}
