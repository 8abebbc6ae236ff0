//! Where an interrupted scan stands, as a plain value: the state `--resume` carries from one
//! run to the next. Still sans-IO: [`Scheduler::resume_point`] hands it out after a stop,
//! [`Scheduler::resume_from`] takes it in before the first probe; the file it lives in is the
//! caller's business (`crate::resume`).
//!
//! The permutation makes it small. Every position before `next` (of this shard) was walked:
//! its probe was decided and reported, or it is among the `pending` probes, the ones in flight
//! when the scan stopped (waiting for an answer or a retry), which nobody reported. So a run
//! that sends `pending` afresh and then walks on from `next`, with the same seed, targets and
//! ports, decides exactly the probes the interrupted run did not: none twice, none lost.
use super::{Key, Scheduler};
use crate::targets::TargetSet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The state of an interrupted SYN scan. See the module comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// Seed of the permutation (the one `--seed` gave, or the random one the scan chose; 0 for
    /// -sT, which walks in order: the same type serves both engines).
    pub seed: u64,
    /// The next position of the permutation to walk (already a position of this shard).
    pub next: u64,
    /// Probes sent but not decided when the scan stopped, sorted: the resumed run probes them
    /// again, first.
    pub pending: Vec<(IpAddr, u16)>,
}

impl ResumePoint {
    /// Every pending probe is one of the scan of `targets` × `ports`.
    pub fn check_pending(
        &self,
        targets: &TargetSet,
        ports: &[u16],
    ) -> Result<(), ResumePointError> {
        for &(addr, port) in &self.pending {
            let in_targets = targets
                .ranges()
                .iter()
                .any(|r| r.first_addr() <= addr && addr <= r.last_addr())
                && !targets.is_excluded(&addr);
            if !in_targets || !ports.contains(&port) {
                return Err(ResumePointError::Outside { addr, port });
            }
        }
        Ok(())
    }
}

/// Why a [`ResumePoint`] does not fit the scan it was given to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumePointError {
    #[error("the resume point is for seed {saved}, but this scan's seed is {scan}")]
    Seed { saved: u64, scan: u64 },
    #[error(
        "the resume point's position {next} is not a position of shard {index}/{count} of a \
         scan of {len} probes"
    )]
    Position {
        next: u64,
        index: u64,
        count: u64,
        len: u64,
    },
    #[error("the resume point's pending probe {addr} port {port} is not part of this scan")]
    Outside { addr: IpAddr, port: u16 },
}

impl Scheduler {
    /// Where this scan stands, for a later run to continue from: None when nothing is left
    /// (every probe was decided) or the scan was not stopped. Call it once the verdicts have
    /// been taken ([`is_done`](Scheduler::is_done)): a verdict still queued here would be
    /// neither pending nor reported.
    pub fn resume_point(&self) -> Option<ResumePoint> {
        if !self.stopped || (!self.unwalked() && self.in_flight.is_empty()) {
            return None;
        }
        let mut pending: Vec<Key> = self.resumed.iter().copied().collect();
        pending.extend(self.in_flight.keys().copied());
        // Events not yet taken are undecided for the reports too (see the doc comment).
        pending.extend(self.events.iter().map(|e| (e.addr, e.port)));
        pending.sort_unstable();
        pending.dedup();
        Some(ResumePoint {
            seed: self.perm.seed(),
            next: self.next,
            pending,
        })
    }

    /// Continue the scan an earlier run stopped at `point`: its pending probes are sent first
    /// (as first attempts), then the permutation is walked on from its position. Call it before
    /// the first [`poll_transmit`](Scheduler::poll_transmit). The point must come from a scan
    /// of the same targets, ports, seed and shard; what can be checked here is.
    pub fn resume_from(&mut self, point: ResumePoint) -> Result<(), ResumePointError> {
        let scan = self.perm.seed();
        if point.seed != scan {
            return Err(ResumePointError::Seed {
                saved: point.seed,
                scan,
            });
        }
        let len = self.perm.len();
        let offset = self.next;
        // Walking adds the stride past the last position: anything up to len + step - 1 on
        // this shard's residue is a position a scan can stop at.
        if point.next < offset
            || !(point.next - offset).is_multiple_of(self.step)
            || point.next >= len.saturating_add(self.step)
        {
            return Err(ResumePointError::Position {
                next: point.next,
                index: offset + 1,
                count: self.step,
                len,
            });
        }
        point.check_pending(&self.targets, &self.ports)?;
        self.next = point.next;
        self.resumed = point.pending.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
