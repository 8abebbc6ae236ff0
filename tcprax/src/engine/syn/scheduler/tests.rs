//! Unit tests of the sans-IO scheduler: no sockets, no root, synthetic time and replies.
use super::*;
use crate::clock::thread_cpu_ns;
use crate::config::Shard;
use crate::engine::syn::egress::key;
use crate::targets::Family;
use std::collections::{BTreeSet, HashSet};
use tcprax_common::{ReplyEvent, kind};

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
        egress: EgressTable::uniform(&[(Family::V4, 0), (Family::V6, 0)]),
        sources: vec![IpAddr::from([198, 18, 0, 1])],
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
pub(super) fn reply(syn: &Transmit, kind: ReplyKind, at: u64) -> Reply {
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
        rst_sent: false,
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
    // The first answers in 20 ms: srtt 20 ms, rttvar 10 ms -> 60 ms. The other host has no
    // sample of its own and follows the global estimate: its probe, already in flight, now
    // expires at T0 + 60 ms instead of T0 + 1 s.
    m.handle_reply(&reply(&sent[0], ReplyKind::Rst, T0 + 20 * MS));
    let ev = events(&mut m);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].rtt, Some(Duration::from_millis(20)));
    assert_eq!(m.poll_timeout(T0 + 20 * MS), Some(T0 + 60 * MS));
    m.handle_timeout(T0 + 60 * MS - 1);
    assert!(transmits(&mut m, T0 + 60 * MS - 1).is_empty());
    m.handle_timeout(T0 + 60 * MS);
    let retry = transmits(&mut m, T0 + 60 * MS);
    assert_eq!(retry.len(), 1);
    assert_eq!(key_of(&retry[0]), key_of(&sent[1]));
    assert_eq!(attempt_of(&retry[0]), 1);
}

/// Retries follow the measured RTT (srtt + 4·rttvar, at least RETRY_FLOOR); only the wait
/// after the last attempt keeps nmap's 100 ms floor, and a late answer to an early attempt
/// still counts until then. A silent port is decided in 60 + 60 + 100 ms here, not three
/// times 100 ms.
#[test]
fn retries_follow_the_rtt_and_the_last_wait_keeps_the_floor() {
    let mut cfg = config("198.18.0.2-4", &[], &[80]);
    cfg.opts.retries = 2;
    let mut m = machine(cfg);
    let sent = transmits(&mut m, T0);
    assert_eq!(sent.len(), 3);
    // One host answers in 20 ms: the global estimate is 60 ms from then on.
    m.handle_reply(&reply(&sent[0], ReplyKind::Rst, T0 + 20 * MS));
    events(&mut m);
    m.handle_timeout(T0 + 60 * MS);
    let first_retries = transmits(&mut m, T0 + 60 * MS);
    assert_eq!(first_retries.len(), 2);
    assert!(first_retries.iter().all(|t| attempt_of(t) == 1));
    m.handle_timeout(T0 + 120 * MS);
    let last = transmits(&mut m, T0 + 120 * MS);
    assert_eq!(last.len(), 2);
    assert!(last.iter().all(|t| attempt_of(t) == 2));
    // The last attempts wait 100 ms, not 60: nothing is decided before T0 + 220 ms.
    assert_eq!(m.poll_timeout(T0 + 120 * MS), Some(T0 + 220 * MS));
    m.handle_timeout(T0 + 220 * MS - 1);
    assert!(events(&mut m).is_empty());
    // One host's first SYN-ACK comes 200 ms late: still counted (open, no RTT: ambiguous).
    m.handle_reply(&reply(&sent[1], ReplyKind::SynAck, T0 + 200 * MS));
    let late = events(&mut m);
    assert_eq!((late.len(), late[0].state), (1, PortState::Open));
    m.handle_timeout(T0 + 220 * MS);
    let filtered = events(&mut m);
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].state, PortState::Filtered);
    assert_eq!((filtered[0].addr, filtered[0].port), key_of(&sent[2]));
    assert!(syns(&transmits(&mut m, T0 + 220 * MS)).is_empty());
    assert!(m.is_done());
}

/// A reply that reached the machine late lifts every wait to twice that lag: on a busy
/// machine, a reply still in our own receive path must not look lost.
#[test]
fn replies_seen_late_lift_the_retry_wait() {
    let mut cfg = config("198.18.0.2-4", &[], &[80]);
    cfg.opts.retries = 2;
    let mut m = machine(cfg);
    let sent = transmits(&mut m, T0);
    assert_eq!(sent.len(), 3);
    // Answered 1 ms after the probe, but seen 40 ms after that: srtt 1 ms (so the 10 ms
    // floor) and a lag of 40 ms.
    m.handle_reply_seen(&reply(&sent[0], ReplyKind::Rst, T0 + MS), T0 + 41 * MS);
    events(&mut m);
    // By the RTT alone the other two would have been retried at T0 + 10 ms.
    m.handle_timeout(T0 + 79 * MS);
    assert!(syns(&transmits(&mut m, T0 + 79 * MS)).is_empty());
    m.handle_timeout(T0 + 80 * MS);
    assert_eq!(syns(&transmits(&mut m, T0 + 80 * MS)).len(), 2);
}

/// Without lag, a retry waits for the RTT estimate down to the 10 ms floor.
#[test]
fn retries_come_at_the_floor_on_a_fast_link() {
    let mut m = machine(config("198.18.0.2-4", &[], &[80]));
    let sent = transmits(&mut m, T0);
    m.handle_reply_seen(&reply(&sent[0], ReplyKind::Rst, T0 + MS), T0 + MS);
    events(&mut m);
    assert_eq!(m.poll_timeout(T0 + MS), Some(T0 + 10 * MS));
}

/// A last attempt's longer wait never holds up a retry queued behind it: the retry of a
/// probe sent after a last attempt is due first (60 ms against 100), and comes on time.
#[test]
fn a_last_attempt_does_not_hold_up_a_retry_behind_it() {
    let mut cfg = config("198.18.0.2", &[], &[1, 2, 3]);
    cfg.opts.retries = 1;
    cfg.opts.rate = Some(1000);
    let mut m = machine(cfg);
    let first = transmits(&mut m, T0);
    assert_eq!(first.len(), 1);
    let second = transmits(&mut m, T0 + MS);
    assert_eq!(second.len(), 1);
    // The first port answers in 20 ms: 60 ms timeouts for this host from then on.
    m.handle_reply(&reply(&first[0], ReplyKind::Rst, T0 + 20 * MS));
    events(&mut m);
    // The second port's first attempt expires at T0 + 61 ms: its retry (the last attempt,
    // due at T0 + 161 ms) goes out ahead of the third port's first SYN (due at T0 + 121 ms).
    m.handle_timeout(T0 + 61 * MS);
    let sent = transmits(&mut m, T0 + 61 * MS);
    assert_eq!(
        sent.iter()
            .map(|t| (key_of(t), attempt_of(t)))
            .collect::<Vec<_>>(),
        [(key_of(&second[0]), 1), (key_of(&sent[1]), 0)]
    );
    let third = sent[1];
    assert_eq!(m.poll_timeout(T0 + 61 * MS), Some(T0 + 121 * MS));
    m.handle_timeout(T0 + 121 * MS);
    let retry = transmits(&mut m, T0 + 121 * MS);
    assert_eq!(
        retry
            .iter()
            .map(|t| (key_of(t), attempt_of(t)))
            .collect::<Vec<_>>(),
        [(key_of(&third), 1)]
    );
    assert!(
        events(&mut m).is_empty(),
        "the second port's last attempt still waits"
    );
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
        rst_sent: false,
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
    // No retries: every attempt is the last, and waits at least FINAL_FLOOR.
    assert_eq!(m.wait_ns(&fast, true), 100 * MS);
    assert!(
        m.wait_ns(&slow, true) >= 1000 * MS,
        "{}",
        m.wait_ns(&slow, true)
    );
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

/// A /8 minus all but a /24 is a space of 256 probes, not of 16 million slots to skip one by
/// one (which took seconds before the first SYN and could not be interrupted).
#[test]
fn a_mostly_excluded_slash8_is_walked_like_what_is_left_of_it() {
    let mut m = machine(config(
        "198.0.0.0/8",
        &["198.0.0.0-198.18.4.255", "198.18.6.0-198.255.255.255"],
        &[80],
    ));
    assert_eq!(m.perm.len(), 256);
    let got: BTreeSet<_> = all_first_syns(&mut m).iter().map(key_of).collect();
    let want: BTreeSet<_> = (0..=255u8)
        .map(|h| (IpAddr::from([198, 18, 5, h]), 80))
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
            rst_sent: false,
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

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Every verdict and SYN of a scan nobody answers, driven to the end with 0 retries.
fn run_unanswered(mut cfg: SchedulerConfig) -> (Vec<Transmit>, Vec<ScanEvent>) {
    cfg.opts.retries = 0;
    let mut m = machine(cfg);
    let (mut sent, mut verdicts) = (Vec::new(), Vec::new());
    let mut now = T0;
    while !m.is_done() {
        m.handle_timeout(now);
        sent.extend(transmits(&mut m, now));
        verdicts.extend(events(&mut m));
        now += SEC;
    }
    (sent, verdicts)
}

/// A send the kernel refuses (EACCES for a broadcast address) decides the port at once:
/// unreachable, send-failed with the errno, no retry, not counted as sent; the rest of the
/// batch goes on.
#[test]
fn a_refused_send_is_unreachable_at_once_and_never_retried() {
    let mut m = machine(config("198.18.5.14-15", &[], &[22]));
    let sent = transmits(&mut m, T0);
    assert_eq!(sent.len(), 2);
    let refused = sent
        .iter()
        .find(|t| key_of(t).0 == ip("198.18.5.15"))
        .copied()
        .unwrap();
    m.handle_send_error(&refused, libc::EACCES);
    assert_eq!(
        events(&mut m),
        [ScanEvent {
            addr: ip("198.18.5.15"),
            port: 22,
            state: PortState::Unreachable,
            reason: Reason::SendFailed {
                errno: libc::EACCES
            },
            rtt: None,
            ttl: None,
        }]
    );
    assert_eq!(m.stats().probes_sent, 1, "the refused SYN never left");
    // Its timeline entry expires nothing and asks for no retry.
    m.handle_timeout(T0 + 10 * SEC);
    let retries = transmits(&mut m, T0 + 10 * SEC);
    assert!(
        retries.iter().all(|t| key_of(t).0 != ip("198.18.5.15")),
        "{retries:?}"
    );
    // A second report for the same probe (or one for a decided port) changes nothing.
    m.handle_send_error(&refused, libc::EACCES);
    assert!(events(&mut m).is_empty());
}

#[test]
fn a_refused_retry_decides_and_a_refused_rst_is_ignored() {
    let mut m = machine(config("198.18.0.2", &[], &[22, 80]));
    let first = transmits(&mut m, T0);
    let (open, quiet) = (first[0], first[1]);
    m.handle_reply(&reply(&open, ReplyKind::SynAck, T0 + MS));
    assert_eq!(events(&mut m)[0].state, PortState::Open);
    let rst = transmits(&mut m, T0 + MS);
    assert!(matches!(rst[..], [Transmit::Rst { .. }]));
    m.handle_send_error(&rst[0], libc::EPERM);
    assert!(events(&mut m).is_empty(), "the open port stays open");
    // The unanswered port's retry is refused (a route vanished mid-scan): decided at once.
    m.handle_timeout(T0 + SEC);
    let retry = transmits(&mut m, T0 + SEC);
    assert_eq!(retry.len(), 1);
    assert_eq!(key_of(&retry[0]), key_of(&quiet));
    // The first attempt's report is stale: only the live attempt decides.
    m.handle_send_error(&quiet, libc::ENETUNREACH);
    assert!(events(&mut m).is_empty());
    m.handle_send_error(&retry[0], libc::ENETUNREACH);
    let ev = events(&mut m);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].state, PortState::Unreachable);
    assert_eq!(ev[0].reason.errno(), Some(libc::ENETUNREACH));
    assert!(m.is_done());
}

/// Each target's SYNs (and the RSTs to its open ports) leave from its own group's source;
/// targets without a route are decided unreachable/no-route without a SYN; skipped
/// addresses get neither.
#[test]
fn sources_follow_the_egress_table() {
    let mut cfg = config("198.18.0.0/22", &[], &[22, 80]);
    let mut t = EgressTable::default();
    let range = |a: &str, b: &str| (key(ip(a)).1, key(ip(b)).1);
    let (a, b) = range("198.18.0.0", "198.18.1.255");
    t.insert(Family::V4, a, b, Egress::Via(0));
    let (a, b) = range("198.18.2.0", "198.18.2.255");
    t.insert(Family::V4, a, b, Egress::Via(1));
    let (a, b) = range("198.18.3.0", "198.18.3.255");
    t.insert(Family::V4, a, b, Egress::NoRoute);
    t.punch(ip("198.18.0.0"), Egress::Skip);
    t.punch(ip("198.18.2.255"), Egress::Skip);
    cfg.egress = t;
    cfg.sources = vec![ip("198.18.0.1"), ip("198.18.2.1")];
    let (sent, verdicts) = run_unanswered(cfg);
    let src_of = |t: &Transmit| match *t {
        Transmit::Syn { src, .. } | Transmit::Rst { src, .. } => src,
    };
    assert_eq!(
        sent.len(),
        (511 + 255) * 2,
        "one SYN per routed, unskipped probe"
    );
    for t in &sent {
        let dst = key_of(t).0;
        let want = if dst < ip("198.18.2.0") {
            ip("198.18.0.1")
        } else {
            ip("198.18.2.1")
        };
        assert_eq!(src_of(t), want, "{t:?}");
        assert!(dst < ip("198.18.3.0"), "no SYN to a target without a route");
        assert!(
            dst != ip("198.18.0.0") && dst != ip("198.18.2.255"),
            "skipped"
        );
    }
    let no_route: BTreeSet<_> = verdicts
        .iter()
        .filter(|e| e.reason == Reason::NoRoute)
        .map(|e| {
            assert_eq!(e.state, PortState::Unreachable);
            (e.addr, e.port)
        })
        .collect();
    assert_eq!(no_route.len(), 256 * 2);
    assert!(no_route.iter().all(|(a, _)| *a >= ip("198.18.3.0")));
    assert_eq!(
        verdicts.len(),
        sent.len() + 512,
        "every other probe: no-response"
    );
    assert!(
        verdicts
            .iter()
            .all(|e| e.addr != ip("198.18.0.0") && e.addr != ip("198.18.2.255"))
    );

    // The RST to an open port leaves from the group of the SYN it answers.
    let mut cfg = config("198.18.2.9", &[], &[22]);
    cfg.egress = EgressTable::uniform(&[(Family::V4, 1)]);
    cfg.sources = vec![ip("198.18.0.1"), ip("198.18.2.1")];
    let mut m = machine(cfg);
    let syn = transmits(&mut m, T0);
    m.handle_reply(&reply(&syn[0], ReplyKind::SynAck, T0 + MS));
    let rst = transmits(&mut m, T0 + MS);
    assert_eq!(rst.len(), 1);
    assert_eq!(src_of(&rst[0]), ip("198.18.2.1"));
}

/// A whole blackholed range is decided without a probe, a batch of verdicts at a time:
/// the queue the shell drains never holds more than one batch.
#[test]
fn no_route_verdicts_come_a_batch_at_a_time() {
    let mut cfg = config("198.18.0.0/20", &[], &[22, 80, 443]);
    cfg.egress = EgressTable::default();
    let mut m = machine(cfg);
    let mut total = 0;
    let mut rounds = 0;
    while !m.is_done() {
        rounds += 1;
        assert!(transmits(&mut m, T0).is_empty(), "nothing is sent");
        let n = events(&mut m).len();
        assert!(n <= BATCH, "{n} verdicts queued at once");
        total += n;
        assert!(rounds < 10_000, "no progress");
    }
    assert_eq!(total, 4096 * 3);
    assert_eq!(m.stats().probes_sent, 0);
}

#[test]
fn a_full_verdict_backlog_pauses_fresh_probes_but_not_rsts() {
    // One port on a /16: far more probes than the backlog holds.
    let mut m = machine(config("198.18.0.0/16", &[], &[80]));
    let mut sent = Vec::new();
    // Answer every SYN but the first at once with RST, never taking the verdicts: the
    // backlog fills while the first probe stays in flight.
    let mut now = T0;
    while !m.is_backlogged() {
        let batch = syns(&transmits(&mut m, now));
        assert!(
            !batch.is_empty(),
            "the machine stopped sending before its backlog was full"
        );
        for syn in &batch {
            if !sent.is_empty() {
                m.handle_reply(&reply(syn, ReplyKind::Rst, now + MS));
            }
            sent.push(*syn);
        }
        now += MS;
    }
    // A soft bound: answers come in after a whole batch went out.
    assert!((EVENT_BACKLOG + 1..=EVENT_BACKLOG + 1 + BATCH).contains(&sent.len()));
    // Backlogged: no fresh SYN at any time, and the machine is not done.
    now += MS;
    assert!(syns(&transmits(&mut m, now)).is_empty());
    assert!(!m.is_done());
    // The probe in flight is answered with SYN-ACK: its RST still goes out at once (the
    // target must not keep a half-open connection because the pipeline is slow).
    m.handle_reply(&reply(&sent[0], ReplyKind::SynAck, now));
    assert!(matches!(m.poll_transmit(now), Some(Transmit::Rst { .. })));
    // Taking the verdicts frees the backlog: fresh probes resume.
    assert_eq!(events(&mut m).len(), sent.len());
    assert!(!m.is_backlogged());
    assert!(!syns(&transmits(&mut m, now + MS)).is_empty());
}
