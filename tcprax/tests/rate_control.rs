//! Without `--rate`, -sS finds its own rate (`engine::syn::aimd`). The path that needs it:
//! the raw IP socket into a veth without a qdisc, whose peer's XDP ring drops what it cannot
//! take without telling the sender (docs/benchmark.md: unlimited runs there lost 40-70 % of
//! their SYNs and found a third to two thirds of the open ports). Through the benchmark's XDP
//! responder, a scan at a fixed rate far above what the path carries shows the loss, and a
//! scan without `--rate` on the same path decides every port exactly.
mod common;

use std::process::Stdio;
use tcprax_lab::responder::{Plan, Responder};

/// 198.19.0.0/18 × 5 ports = 81,920 probes; the last /24 of it stays silent.
const RANGE: &str = "198.19.0.0/18";
const ADDRESSES: usize = 1 << 14;
const SILENT: &str = "198.19.63.0/24";
const OPEN: [u16; 4] = [22, 80, 443, 8080];
const CLOSED: u16 = 25;

/// One scan of RANGE with `extra` arguments through the raw socket; returns the verdicts that
/// differ from the truth, and the SYNs the responder saw against the probes tcprax sent.
fn scan(
    responder: &mut Responder,
    tb: &tcprax_lab::testbed::Testbed,
    extra: &[&str],
) -> (usize, u64, u64) {
    responder.reset().unwrap();
    let before = responder.counters().unwrap().syns();
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sS",
            RANGE,
            "-p",
            "22,25,80,443,8080",
            "--send-path",
            "raw",
            "--timeout",
            "300ms",
            "-oJ",
            "-",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let ports = common::json_ports(&out);
    let sent = common::json_summary(&out)["probes_sent"]
        .as_u64()
        .unwrap_or(0);
    let verdicts = common::ipv4_verdicts(&ports);
    assert_eq!(verdicts.len(), ADDRESSES * 5, "one verdict per probe");
    let wrong = verdicts
        .iter()
        .filter(|((addr, port), state)| {
            let expected = if addr.octets()[2] == 63 {
                "filtered"
            } else if *port == CLOSED {
                "closed"
            } else {
                "open"
            };
            state.as_str() != expected
        })
        .count();
    let reached = responder.counters().unwrap().syns() - before;
    (wrong, reached, sent)
}

#[test]
fn without_rate_the_raw_socket_into_a_veth_without_a_queue_stays_exact() {
    let Some(tb) = common::testbed("trxaimd") else {
        return;
    };
    tb.target_anyip("198.19.0.0/16").unwrap();
    let plan = Plan {
        answer: vec!["198.19.0.0/16".parse().unwrap()],
        silent: vec![SILENT.parse().unwrap()],
        open: OPEN.to_vec(),
    };
    let mut responder = match Responder::attach(&tb, &plan) {
        Ok(r) => r,
        Err(tcprax_lab::responder::ResponderError::Placeholder) => {
            eprintln!("SKIP: tcprax-lab built with AYA_BUILD_SKIP=1 (no XDP responder)");
            return;
        }
        Err(e) => panic!("attach the responder: {e}"),
    };
    let qdisc = tb
        .scanner_sh(&format!("tc qdisc show dev {}", tb.scanner_if))
        .unwrap();
    let qdisc = String::from_utf8_lossy(&qdisc.stdout).into_owned();
    assert!(
        qdisc.contains("noqueue"),
        "the scanner veth has no queue: {qdisc}"
    );

    // As fast as the sender goes: what "unlimited" meant before the controller. Whether it
    // loses depends on the machine's load, so it is reported, not required.
    let (wrong, reached, sent) = scan(
        &mut responder,
        &tb,
        &["--rate", "5000000", "--retries", "1"],
    );
    eprintln!(
        "--rate 5000000: {wrong} wrong verdicts, {reached} of {sent} SYNs reached the target"
    );

    // The defaults (2 retries): what a user gets.
    let (wrong, reached, sent) = scan(&mut responder, &tb, &[]);
    eprintln!(
        "without --rate: {wrong} wrong verdicts, {reached} of {sent} SYNs reached the target"
    );
    assert_eq!(wrong, 0, "every verdict exact without --rate");
    // Lost SYNs cost retries: the controller keeps them few (a cut follows each loss; on
    // this veth a busy machine still loses some whenever the target's NAPI thread waits for a
    // CPU: measured 5-11 %, against about half at the fixed rate above).
    let lost = sent.saturating_sub(reached);
    assert!(lost * 4 < sent, "{lost} of {sent} SYNs lost without --rate");
}
