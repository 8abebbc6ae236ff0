//! The scheduler's side of the rate controller ([`crate::engine::syn::aimd`]): what it reads
//! from the scan, and the rate it sets.
use super::Scheduler;
use crate::engine::syn::aimd::Signals;

impl Scheduler {
    /// Pace SYNs at `rate` per second from `now` on (the rate controller's decision).
    pub fn set_rate(&mut self, now: u64, rate: u64) {
        self.pacer.set_rate(now, rate);
    }

    /// What the rate controller reads from the scan: SYNs and first attempts sent, the
    /// verdict backlog and the smoothed RTT. The XDP and send-queue counts are the shell's to
    /// fill in.
    pub fn signals(&self) -> Signals {
        Signals {
            syns_sent: self.probes_sent,
            first_sent: self.first_sent,
            backlogged: self.is_backlogged(),
            srtt_ns: self.rtt_global.srtt().map(|d| d.as_nanos() as u64),
            ..Signals::default()
        }
    }

    /// The send times of the first attempts answered since the last call.
    pub fn take_answered(&mut self) -> std::vec::Drain<'_, u64> {
        self.first_answered.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReplyKind, SchedulerConfig, Transmit};
    use super::*;
    use crate::engine::syn::SynScanOptions;
    use crate::engine::syn::egress::EgressTable;
    use crate::targets::{Family, TargetSet};
    use std::net::IpAddr;

    const SEC: u64 = 1_000_000_000;
    const T0: u64 = 1_000 * SEC;

    fn answer(m: &mut Scheduler, syn: &Transmit, at: u64) {
        m.handle_reply(&super::super::tests::reply(syn, ReplyKind::SynAck, at));
    }

    /// The controller learns of first attempts only: their count, and the send time of each
    /// one answered; an answer to a retry is not one (it goes mostly to silent ports, and
    /// would read as loss).
    #[test]
    fn signals_count_first_attempts_and_hand_out_their_send_times_once() {
        let mut m = Scheduler::new(SchedulerConfig {
            targets: TargetSet::parse(&["198.18.0.1-4".to_string()], &[], &[], &[]).unwrap(),
            ports: vec![80],
            egress: EgressTable::uniform(&[(Family::V4, 0)]),
            sources: vec![IpAddr::from([198, 18, 0, 100])],
            key: (1, 2),
            seed: 7,
            opts: SynScanOptions::default(),
        })
        .unwrap();
        // A millisecond at 1M/s fills the bucket well past the four probes.
        m.set_rate(T0 - 1_000_000, 1_000_000);
        m.poll_transmit(T0 - 1_000_000);
        let first: Vec<Transmit> = std::iter::from_fn(|| m.poll_transmit(T0)).collect();
        assert_eq!(first.len(), 4);
        answer(&mut m, &first[0], T0 + 1_000);
        answer(&mut m, &first[1], T0 + 2_000);
        assert_eq!(m.take_answered().collect::<Vec<_>>(), [T0, T0]);
        assert_eq!(m.take_answered().count(), 0, "handed out once");
        // The other two time out and are retried; an answer to a retry is not a signal.
        m.handle_timeout(T0 + SEC);
        let retries: Vec<Transmit> = std::iter::from_fn(|| m.poll_transmit(T0 + SEC))
            .filter(|t| matches!(t, Transmit::Syn { .. }))
            .collect();
        assert_eq!(retries.len(), 2);
        answer(&mut m, &retries[0], T0 + SEC + 1_000);
        assert_eq!(m.take_answered().count(), 0);
        let s = m.signals();
        assert_eq!((s.syns_sent, s.first_sent), (6, 4));
        assert!(s.srtt_ns.is_some());
    }
}
