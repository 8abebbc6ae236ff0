//! Scan engines: they send probes, collect answers, schedule retries, and emit one
//! [`ScanEvent`](crate::model::ScanEvent) per (address, port). They never print.
pub mod connect;
pub mod rtt;
pub mod syn;

use crate::model::Notice;
use crate::resume::Paused;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Shared between the caller and a running engine: a flag that asks the engine to stop early
/// (a signal; engines check it between probes and return what they have), which signal asked,
/// and a live count of probes sent, for the progress line. Clones share all of it.
#[derive(Clone, Debug, Default)]
pub struct ScanControl {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// The signal number that stopped the scan; 0 while none did.
    signal: AtomicI32,
    sent: AtomicU64,
    /// When the first probe was sent (the first [`ScanControl::add_sent`] of a nonzero count).
    first_sent: std::sync::OnceLock<std::time::Instant>,
    /// When the last probe so far was sent (every [`ScanControl::add_sent`] of a nonzero count).
    last_sent: Mutex<Option<std::time::Instant>>,
    /// Wakes the tasks waiting in [`ScanControl::stopped`].
    wake: Notify,
    /// Notices from the engine for the operator, in order, until the pipeline takes them.
    notices: Mutex<VecDeque<Notice>>,
    notice_wake: Notify,
    /// Where a stopped scan stands, once the pipeline has finished (for `--resume`).
    paused: Mutex<Option<Paused>>,
}

impl ScanControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the engine (and the -sV probes) to stop.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_waiters();
    }

    /// [`stop`](Self::stop) because of `signal` (e.g. `libc::SIGTERM`). The first signal is the
    /// one remembered: it decides the exit status.
    pub fn stop_with(&self, signal: i32) {
        let _ = self
            .shared
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        self.stop();
    }

    pub fn is_stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// The signal that stopped the scan, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.shared.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Completes once the scan is asked to stop (at once if it already was): async work races
    /// this to be cancelled within moments instead of at its next check.
    pub async fn stopped(&self) {
        loop {
            let notified = self.shared.wake.notified();
            tokio::pin!(notified);
            // Registered before the flag is read, so a stop between the two still wakes us.
            notified.as_mut().enable();
            if self.shared.stop.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Engines: count `n` more probes sent.
    pub fn add_sent(&self, n: u64) {
        if n > 0 {
            let now = std::time::Instant::now();
            self.shared.first_sent.get_or_init(|| now);
            if let Ok(mut last) = self.shared.last_sent.lock() {
                *last = Some(now);
            }
        }
        self.shared.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// When the first probe was sent, if one was.
    pub fn first_sent(&self) -> Option<std::time::Instant> {
        self.shared.first_sent.get().copied()
    }

    /// When the last probe so far was sent, if one was (engines count once per batch, so this
    /// is the time of the last batch).
    pub fn last_sent(&self) -> Option<std::time::Instant> {
        self.shared.last_sent.lock().ok().and_then(|last| *last)
    }

    /// Probes sent so far.
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Relaxed)
    }

    /// Engines: tell the operator something while the scan runs. Engines never print; the
    /// pipeline takes notices with [`next_notice`](Self::next_notice) and the output layer
    /// writes them on stderr.
    pub fn notify(&self, notice: Notice) {
        if let Ok(mut q) = self.shared.notices.lock() {
            q.push_back(notice);
        }
        // Stores a permit when nobody waits yet, so the notice is never missed.
        self.shared.notice_wake.notify_one();
    }

    /// The next notice, waiting for one if none is queued.
    /// Every notice not taken yet (the pipeline's last look, once the engine is done).
    pub fn take_notices(&self) -> Vec<Notice> {
        self.shared
            .notices
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// The pipeline: where the stopped scan stands (None when nothing is left to resume).
    pub fn set_paused(&self, paused: Option<Paused>) {
        if let Ok(mut p) = self.shared.paused.lock() {
            *p = paused;
        }
    }

    /// What [`set_paused`](Self::set_paused) left, taken once the scan is over: also after a
    /// report failed to finish (a hung-up terminal), so the state is never lost with it.
    pub fn take_paused(&self) -> Option<Paused> {
        self.shared.paused.lock().ok().and_then(|mut p| p.take())
    }

    pub async fn next_notice(&self) -> Notice {
        loop {
            if let Some(n) = self
                .shared
                .notices
                .lock()
                .ok()
                .and_then(|mut q| q.pop_front())
            {
                return n;
            }
            self.shared.notice_wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ScanControl;
    use crate::model::Notice;

    #[tokio::test]
    async fn a_notice_sent_before_anyone_waits_is_not_lost_and_order_is_kept() {
        let control = ScanControl::new();
        control.notify(Notice::RingBufferFull { dropped: 3 });
        control.notify(Notice::RingBufferFull { dropped: 9 });
        let first = tokio::time::timeout(Duration::from_secs(1), control.next_notice()).await;
        assert_eq!(first.unwrap(), Notice::RingBufferFull { dropped: 3 });
        let second = tokio::time::timeout(Duration::from_secs(1), control.next_notice()).await;
        assert_eq!(second.unwrap(), Notice::RingBufferFull { dropped: 9 });
        // Nothing more: waiting times out instead of inventing a notice.
        let none = tokio::time::timeout(Duration::from_millis(50), control.next_notice()).await;
        assert!(none.is_err());
    }
    use std::time::Duration;

    #[tokio::test]
    async fn stopped_wakes_every_waiter_and_the_first_signal_is_kept() {
        let control = ScanControl::new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = control.clone();
                tokio::spawn(async move { c.stopped().await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!control.is_stopped());
        assert_eq!(control.signal(), None);
        control.stop_with(libc::SIGTERM);
        control.stop_with(libc::SIGINT);
        for w in waiters {
            let woke = tokio::time::timeout(Duration::from_secs(5), w).await;
            assert!(matches!(woke, Ok(Ok(()))), "a waiter was not woken");
        }
        assert!(control.is_stopped());
        assert_eq!(control.signal(), Some(libc::SIGTERM));
        // Already stopped: returns at once.
        let again = tokio::time::timeout(Duration::from_secs(5), control.stopped()).await;
        assert!(again.is_ok());
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
    /// Stopped early: where the engine stands, for `--resume` (None when nothing was left).
    pub resume: Option<syn::scheduler::ResumePoint>,
}
