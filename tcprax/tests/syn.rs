//! -sS for real, in namespaces the tests create: exact open/closed/filtered sets against
//! listeners and firewall rules; proof that the scanner's kernel sent no RST; an AnyIP /20.
mod common;

use std::collections::BTreeSet;
use std::time::Duration;
use tcprax::engine::EngineStats;
use tcprax::engine::ScanControl;
use tcprax::engine::syn::{SynScanOptions, syn_scan};
use tcprax::model::{PortState, Reason, ScanEvent};
use tcprax::ports::PortList;
use tcprax::targets::TargetSet;

fn scan(target: &str, ports: &str, opts: SynScanOptions) -> (Vec<ScanEvent>, EngineStats) {
    let targets = TargetSet::parse(&[target.to_string()], &[], &[], &[]).unwrap();
    let ports = PortList::parse(ports).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let engine =
            tokio::spawn(
                async move { syn_scan(&targets, &ports, opts, tx, ScanControl::new()).await },
            );
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        let stats = engine.await.unwrap().expect("syn scan");
        (events, stats)
    })
}

fn ports_in(events: &[ScanEvent], state: PortState) -> BTreeSet<u16> {
    events
        .iter()
        .filter(|e| e.state == state)
        .map(|e| e.port)
        .collect()
}

fn fast() -> SynScanOptions {
    SynScanOptions {
        max_timeout: Duration::from_millis(300),
        retries: 2,
        ..Default::default()
    }
}

#[test]
fn exact_sets_and_one_rst_per_open_port_from_us_none_from_the_kernel() {
    let Some(tb) = common::testbed("trxsyn") else {
        return;
    };
    let _l = tb.target_listen(&[22, 80, 443, 8080]).unwrap();
    tb.target_filter_ports(&[25, 8443]).unwrap();
    tb.target_count_rst().unwrap();
    let (events, stats) = tb
        .in_scanner(|| scan("198.18.0.2", "1-1024,8080,8443", fast()))
        .unwrap();
    assert_eq!(events.len(), 1026, "one verdict per port");
    assert_eq!(
        ports_in(&events, PortState::Open),
        BTreeSet::from([22, 80, 443, 8080])
    );
    assert_eq!(
        ports_in(&events, PortState::Filtered),
        BTreeSet::from([25, 8443])
    );
    assert_eq!(ports_in(&events, PortState::Closed).len(), 1020);
    let xdp = stats.xdp.expect("xdp stats");
    assert!(xdp.matched >= 1024, "XDP matched the replies: {xdp:?}");
    // Give any kernel RST time to arrive, then count: exactly our own four.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        tb.target_rst_count().unwrap(),
        4,
        "one RST per open port, all ours"
    );
}

#[test]
fn no_rst_means_the_target_sees_no_rst_at_all() {
    let Some(tb) = common::testbed("trxsynnr") else {
        return;
    };
    let _l = tb.target_listen(&[22, 443]).unwrap();
    tb.target_count_rst().unwrap();
    // The target must not retransmit its SYN-ACKs after the scanner has exited (XDP is gone
    // by then, and the kernel would rightly RST them): any RST counted below was sent by the
    // scanner's kernel during the scan, which is what XDP_DROP must prevent.
    tb.target_sh("sysctl -qw net.ipv4.tcp_synack_retries=0")
        .unwrap();
    let mut opts = fast();
    opts.syn.send_rst = false;
    let (events, _) = tb
        .in_scanner(move || scan("198.18.0.2", "1-100,443", opts))
        .unwrap();
    assert_eq!(
        ports_in(&events, PortState::Open),
        BTreeSet::from([22, 443])
    );
    assert_eq!(ports_in(&events, PortState::Closed).len(), 99);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        tb.target_rst_count().unwrap(),
        0,
        "the scanner's kernel sent RSTs"
    );
}

/// ICMP / ICMPv6 destination unreachable quoting our SYN: validated by XDP from the quoted
/// sequence number, reported as filtered with its own reason, without waiting for retries.
#[test]
fn icmp_unreachable_is_filtered_for_both_families() {
    let Some(tb) = common::testbed("trxsynicmp") else {
        return;
    };
    let _l = tb.target_listen(&[22]).unwrap();
    tb.target_reject_ports_icmp(&[7777, 8888]).unwrap();
    for target in ["198.18.0.2", "2001:2::2"] {
        let (events, stats) = tb
            .in_scanner(move || scan(target, "22,7777,8888,9999", fast()))
            .unwrap();
        let reason = |p: u16| {
            events
                .iter()
                .find(|e| e.port == p)
                .map(|e| (e.state, e.reason))
        };
        assert_eq!(
            reason(22),
            Some((PortState::Open, Reason::SynAck)),
            "{target}"
        );
        assert_eq!(
            reason(7777),
            Some((PortState::Filtered, Reason::IcmpUnreachable)),
            "{target}"
        );
        assert_eq!(
            reason(8888),
            Some((PortState::Filtered, Reason::IcmpUnreachable)),
            "{target}"
        );
        assert_eq!(
            reason(9999),
            Some((PortState::Closed, Reason::Reset)),
            "{target}"
        );
        assert_eq!(stats.probes_sent, 4, "{target}: ICMP answers need no retry");
    }
}

#[test]
fn ipv6_exact_sets() {
    let Some(tb) = common::testbed("trxsyn6") else {
        return;
    };
    let _l = tb.target_listen(&[22, 8080]).unwrap();
    let (events, _) = tb
        .in_scanner(|| scan("2001:2::2", "1-200,8080", fast()))
        .unwrap();
    assert_eq!(events.len(), 201);
    assert_eq!(
        ports_in(&events, PortState::Open),
        BTreeSet::from([22, 8080])
    );
    assert_eq!(ports_in(&events, PortState::Closed).len(), 199);
}

#[test]
fn anyip_slash20_exact_counts() {
    let Some(tb) = common::testbed("trxsyn20") else {
        return;
    };
    tb.target_anyip("198.19.0.0/20").unwrap();
    let _l = tb.target_listen(&[22, 80]).unwrap();
    let (events, stats) = tb
        .in_scanner(|| scan("198.19.0.0/20", "22,80,81", fast()))
        .unwrap();
    assert_eq!(events.len(), 4096 * 3);
    let open = events.iter().filter(|e| e.state == PortState::Open).count();
    let closed = events
        .iter()
        .filter(|e| e.state == PortState::Closed)
        .count();
    assert_eq!((open, closed), (8192, 4096), "stats {stats:?}");
    let hosts: BTreeSet<_> = events.iter().map(|e| e.addr).collect();
    assert_eq!(hosts.len(), 4096);
}

/// `--shard I/N` splits the probe space disjointly: three shards of the same seed together
/// decide every (address, port) exactly once.
#[test]
fn shards_are_disjoint_and_cover_the_space() {
    let Some(tb) = common::testbed("trxsynshard") else {
        return;
    };
    let _l = tb.target_listen(&[22, 80]).unwrap();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for index in 1..=3 {
        let mut opts = fast();
        opts.syn.seed = Some(7);
        opts.syn.shard = tcprax::config::Shard { index, count: 3 };
        let (events, _) = tb
            .in_scanner(move || scan("198.18.0.2", "1-300", opts))
            .unwrap();
        assert!(
            (90..=110).contains(&events.len()),
            "shard {index} took {} of 300",
            events.len()
        );
        total += events.len();
        seen.extend(events.iter().map(|e| e.port));
    }
    assert_eq!(total, 300, "no probe in two shards");
    assert_eq!(seen, (1..=300).collect::<BTreeSet<u16>>());
}

/// Retransmitted SYN-ACKs (the target re-sends them about a second later when we send no RST)
/// are validated and dropped by XDP like the first ones, and reported once: the program
/// remembers the probes it reported and drops repeats without an event (counted as `repeats`),
/// so they never reach the collector; one verdict per port.
#[test]
fn retransmitted_syn_acks_are_counted_once() {
    let Some(tb) = common::testbed("trxsyndup") else {
        return;
    };
    let open: Vec<u16> = (1..=20).map(|i| i * 20).collect();
    let _l = tb.target_listen(&open).unwrap();
    // 400 probes at 200/s: the scan lasts ~2 s, so ports opened in its first second get their
    // SYN-ACK re-sent while the program is still attached.
    let mut opts = fast();
    opts.rate = Some(200);
    opts.syn.send_rst = false;
    opts.syn.seed = Some(1);
    let (events, stats) = tb
        .in_scanner(move || scan("198.18.0.2", "1-400", opts))
        .unwrap();
    assert_eq!(events.len(), 400, "one verdict per port");
    assert_eq!(
        ports_in(&events, PortState::Open),
        open.iter().copied().collect::<BTreeSet<u16>>()
    );
    let xdp = stats.xdp.expect("xdp stats");
    assert!(
        xdp.repeats > 0,
        "no retransmitted SYN-ACK reached XDP: {stats:?}"
    );
    assert_eq!(xdp.matched, 400, "one event per port: {stats:?}");
}
