//! Resume points without root: a scan on a simulated clock and network is stopped, its point
//! handed to a new machine (through JSON, as the file does), stopped again and resumed again;
//! together the runs must decide exactly what one uninterrupted scan decides, each port once.
use super::super::{Reply, ReplyKind, Scheduler, SchedulerConfig, Transmit};
use super::{ResumePoint, ResumePointError};
use crate::config::Shard;
use crate::engine::syn::SynScanOptions;
use crate::engine::syn::egress::EgressTable;
use crate::model::{PortState, ScanEvent};
use crate::targets::{Family, TargetSet};
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

const T0: u64 = 1_000_000_000_000;
const RTT_NS: u64 = 300_000;
/// One round of the simulated shell.
const ROUND_NS: u64 = 50_000;

fn config(targets: &str, exclude: &[&str], ports: &[u16], shard: Shard) -> SchedulerConfig {
    let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    let mut opts = SynScanOptions {
        rate: Some(200_000),
        ..SynScanOptions::default()
    };
    opts.syn.shard = shard;
    SchedulerConfig {
        targets: TargetSet::parse(&[targets.to_string()], &[], &exclude, &[]).unwrap(),
        ports: ports.to_vec(),
        egress: EgressTable::uniform(&[(Family::V4, 0), (Family::V6, 0)]),
        sources: vec![IpAddr::from([198, 18, 0, 1])],
        key: (7, 11),
        seed: 1234,
        opts,
    }
}

const WHOLE: Shard = Shard { index: 1, count: 1 };

/// The simulated network: by a hash of (address, port), open, closed or silent.
fn outcome(addr: IpAddr, port: u16) -> Option<ReplyKind> {
    let IpAddr::V4(a) = addr else { return None };
    let x = (u64::from(u32::from(a)) << 16) | u64::from(port);
    match x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61 {
        0..=3 => Some(ReplyKind::SynAck),
        4..=5 => Some(ReplyKind::Rst),
        _ => None,
    }
}

/// One run of the shell's loop: replies after `RTT_NS`, timeouts, batches, verdicts taken
/// every round. After `stop_after` verdicts the machine is stopped (a signal) and the run
/// goes on until it is done, as the shell's does. Returns the verdicts and the resume point.
fn run(m: &mut Scheduler, stop_after: Option<usize>) -> (Vec<ScanEvent>, Option<ResumePoint>) {
    let mut now = T0;
    let mut replies: VecDeque<(u64, Reply)> = VecDeque::new();
    let mut got = Vec::new();
    loop {
        while replies.front().is_some_and(|(due, _)| *due <= now) {
            let (_, r) = replies.pop_front().unwrap();
            m.handle_reply(&r);
        }
        m.handle_timeout(now);
        if stop_after.is_some_and(|n| got.len() >= n) {
            m.stop();
        }
        while let Some(t) = m.poll_transmit(now) {
            let Transmit::Syn {
                dst,
                src_port,
                dst_port,
                ..
            } = t
            else {
                continue;
            };
            if let Some(kind) = outcome(dst, dst_port) {
                let reply = Reply {
                    addr: dst,
                    target_port: dst_port,
                    scan_port: src_port,
                    kind,
                    ttl: 64,
                    ktime_ns: now + RTT_NS,
                    rst_sent: false,
                };
                replies.push_back((now + RTT_NS, reply));
            }
        }
        got.extend(std::iter::from_fn(|| m.poll_event()));
        if m.is_done() {
            return (got, m.stats().resume);
        }
        now += ROUND_NS;
    }
}

/// (address, port) -> state of every verdict, failing on a port decided twice.
fn verdicts(events: &[ScanEvent], into: &mut BTreeMap<(IpAddr, u16), PortState>) {
    for e in events {
        let before = into.insert((e.addr, e.port), e.state);
        assert!(before.is_none(), "{}:{} decided twice", e.addr, e.port);
    }
}

/// Through JSON and back, as the resume file carries it.
fn via_json(point: &ResumePoint) -> ResumePoint {
    serde_json::from_str(&serde_json::to_string(point).unwrap()).unwrap()
}

fn interrupted_twice_equals_one_scan(targets: &str, exclude: &[&str], ports: &[u16], shard: Shard) {
    let (whole, none) = run(
        &mut Scheduler::new(config(targets, exclude, ports, shard)).unwrap(),
        None,
    );
    assert_eq!(
        none, None,
        "a scan that ran to its end leaves nothing to resume"
    );
    let mut want = BTreeMap::new();
    verdicts(&whole, &mut want);
    assert!(
        want.len() > 100,
        "{} verdicts: too small a test",
        want.len()
    );

    let mut got = BTreeMap::new();
    let mut m = Scheduler::new(config(targets, exclude, ports, shard)).unwrap();
    let (first, point) = run(&mut m, Some(want.len() / 3));
    let point = point.expect("stopped a third of the way: something is left");
    assert!(m.stats().interrupted);
    // Stopped mid-flight: some probes were sent and not decided (silent ports wait for their
    // retries), and they are what the next run sends first.
    assert!(
        !point.pending.is_empty(),
        "nothing was in flight at the stop"
    );
    verdicts(&first, &mut got);
    for key in &point.pending {
        assert!(!got.contains_key(key), "{key:?} is pending and reported");
    }

    let mut m = Scheduler::new(config(targets, exclude, ports, shard)).unwrap();
    m.resume_from(via_json(&point)).unwrap();
    let (second, point) = run(&mut m, Some(want.len() / 4));
    let point = point.expect("stopped again: something is left");
    verdicts(&second, &mut got);

    let mut m = Scheduler::new(config(targets, exclude, ports, shard)).unwrap();
    m.resume_from(via_json(&point)).unwrap();
    let (third, none) = run(&mut m, None);
    assert_eq!(none, None);
    assert!(!m.stats().interrupted);
    verdicts(&third, &mut got);

    assert!(!first.is_empty() && !second.is_empty() && !third.is_empty());
    assert_eq!(got, want, "three runs differ from one scan");
}

#[test]
fn a_scan_interrupted_twice_and_resumed_decides_exactly_what_one_scan_decides() {
    interrupted_twice_equals_one_scan("198.18.0.0/24", &["198.18.0.9"], &[22, 80, 443], WHOLE);
}

#[test]
fn a_resumed_shard_stays_within_its_shard() {
    let shard = Shard { index: 2, count: 3 };
    interrupted_twice_equals_one_scan("198.18.0.0/23", &[], &[22, 80], shard);
}

#[test]
fn pending_probes_go_first_as_first_attempts() {
    let mut cfg = config("198.18.0.0/24", &[], &[22, 80], WHOLE);
    cfg.opts.rate = None;
    let mut m = Scheduler::new(cfg).unwrap();
    let pending = vec![
        (IpAddr::from([198, 18, 0, 7]), 80),
        (IpAddr::from([198, 18, 0, 200]), 22),
    ];
    m.resume_from(ResumePoint {
        seed: 1234,
        next: 100,
        pending: pending.clone(),
    })
    .unwrap();
    let sent: Vec<Transmit> = std::iter::from_fn(|| m.poll_transmit(T0)).collect();
    let firsts: Vec<(IpAddr, u16, u8)> = sent[..2]
        .iter()
        .map(|t| match *t {
            Transmit::Syn {
                dst,
                dst_port,
                attempt,
                ..
            } => (dst, dst_port, attempt),
            Transmit::Rst { .. } => panic!("an RST before any reply"),
        })
        .collect();
    assert_eq!(firsts, vec![(pending[0].0, 80, 0), (pending[1].0, 22, 0)]);
    // Then the permutation from position 100: 512 - 100 positions, plus the two.
    let mut total = sent.len();
    loop {
        let more = std::iter::from_fn(|| m.poll_transmit(T0 + 1)).count();
        if more == 0 {
            break;
        }
        total += more;
    }
    assert_eq!(total, 2 + 512 - 100);
}

#[test]
fn a_point_that_does_not_fit_the_scan_is_refused() {
    let shard = Shard { index: 2, count: 4 };
    let fresh =
        || Scheduler::new(config("198.18.0.0/24", &["198.18.0.9"], &[22, 80], shard)).unwrap();
    let point = |seed, next, pending| ResumePoint {
        seed,
        next,
        pending,
    };
    assert_eq!(
        fresh().resume_from(point(99, 5, vec![])),
        Err(ResumePointError::Seed {
            saved: 99,
            scan: 1234
        })
    );
    // Shard 2/4 walks positions 1, 5, 9, ...: 6 is another shard's, 517 past the end.
    for next in [6, 0, 517, u64::MAX] {
        assert!(
            matches!(
                fresh().resume_from(point(1234, next, vec![])),
                Err(ResumePointError::Position { .. })
            ),
            "position {next} accepted"
        );
    }
    assert_eq!(fresh().resume_from(point(1234, 513, vec![])), Ok(()));
    for (addr, port) in [
        (IpAddr::from([198, 18, 0, 9]), 22),
        (IpAddr::from([198, 18, 1, 1]), 22),
        (IpAddr::from([198, 18, 0, 10]), 443),
        ("2001:2::1".parse().unwrap(), 22),
    ] {
        assert_eq!(
            fresh().resume_from(point(1234, 5, vec![(addr, port)])),
            Err(ResumePointError::Outside { addr, port })
        );
    }
}

#[test]
fn no_resume_point_unless_stopped_with_something_left() {
    let mut m = Scheduler::new(config("198.18.0.2", &[], &[22], WHOLE)).unwrap();
    assert_eq!(m.resume_point(), None, "not stopped");
    m.stop();
    // Stopped before anything was sent: the whole scan is left, from its first position.
    assert_eq!(
        m.resume_point(),
        Some(ResumePoint {
            seed: 1234,
            next: 0,
            pending: vec![]
        })
    );
}
