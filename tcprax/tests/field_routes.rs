//! -sS on networks shaped like the field's, in namespaces the tests create: a directly
//! connected subnet scanned whole (its network and broadcast addresses skipped, or refused by
//! the kernel with --include-broadcast), targets with no route or behind a local firewall
//! (unreachable, never fatal), and targets behind two uplinks in one scan (each probe leaves
//! from its own interface and source address). Each runs the tcprax binary and reads its
//! JSON lines, as a user would.
mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::process::Output;
use std::time::Duration;
use tcprax_lab::testbed::Testbed;

/// Every JSON line of a run's stdout.
use common::json_lines;

/// (address, port) -> (state, reason) of every port line; each pair must come once.
fn verdicts(lines: &[Value]) -> BTreeMap<(String, u64), (String, String)> {
    let mut out = BTreeMap::new();
    for v in lines.iter().filter(|v| v["type"] == "port") {
        let key = (
            v["addr"].as_str().unwrap_or_default().to_string(),
            v["port"].as_u64().unwrap_or_default(),
        );
        let value = (
            v["state"].as_str().unwrap_or_default().to_string(),
            v["reason"].as_str().unwrap_or_default().to_string(),
        );
        assert!(out.insert(key.clone(), value).is_none(), "{key:?} twice");
    }
    out
}

fn summary(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("a summary line")
}

/// Run tcprax in the scanner namespace with `args` and JSON lines on stdout.
fn scan(tb: &Testbed, args: &[&str]) -> Output {
    let out = tb
        .scanner_command(common::bin())
        .args(["-sS", "--timeout", "300ms", "--retries", "1", "-oJ", "-"])
        .args(args)
        .output()
        .expect("run tcprax");
    assert_eq!(
        out.status.code(),
        Some(0),
        "tcprax {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn v4(a: Ipv4Addr, last: u8) -> String {
    let o = a.octets();
    Ipv4Addr::new(o[0], o[1], o[2], last).to_string()
}

fn pair(state: &str, reason: &str) -> (String, String) {
    (state.to_string(), reason.to_string())
}

/// The README's own example shape from a host on the scanned subnet: the scanner has
/// 198.18.5.1/28 and the target answers on .2-.14. Today's code sent to .15, the kernel refused
/// the broadcast address (EACCES) and the whole scan died with no report. Now .0 and .15 are
/// skipped with one notice and counted; .1 is the scanner itself (its own kernel answers over
/// lo, where XDP is attached too); every other address gets its exact verdicts.
#[test]
fn a_directly_connected_subnet_skips_its_network_and_broadcast_addresses() {
    let Some(tb) = common::testbed("trxfbc") else {
        return;
    };
    let net = Ipv4Addr::new(198, 18, 5, 0);
    tb.scanner_sh(&format!(
        "ip addr add {}/28 dev {}",
        v4(net, 1),
        tb.scanner_if
    ))
    .unwrap();
    let adds: Vec<String> = (2..=14)
        .map(|h| format!("ip addr add {}/28 dev {}", v4(net, h), tb.target_if))
        .collect();
    tb.target_sh(&adds.join(" && ")).unwrap();
    let _l = tb.target_listen(&[22]).unwrap();

    let out = scan(&tb, &["198.18.5.0/28", "-p", "22,80"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("tcprax: notice:").count(),
        1,
        "one notice: {stderr}"
    );
    assert!(
        stderr.contains(
            "tcprax: notice: skipping 2 network/broadcast addresses of directly connected \
             subnets: 198.18.5.0, 198.18.5.15 (--include-broadcast probes them)"
        ),
        "{stderr}"
    );
    let lines = json_lines(&out);
    let mut want = BTreeMap::new();
    for h in 2..=14 {
        want.insert((v4(net, h), 22), pair("open", "syn-ack"));
        want.insert((v4(net, h), 80), pair("closed", "reset"));
    }
    // The scanner's own address: nothing listens in its namespace.
    want.insert((v4(net, 1), 22), pair("closed", "reset"));
    want.insert((v4(net, 1), 80), pair("closed", "reset"));
    assert_eq!(verdicts(&lines), want);
    let s = summary(&lines);
    assert_eq!(s["skipped"], 2, "{s}");
    assert_eq!(s["unreachable"], 0, "{s}");
    assert_eq!(s["ports_scanned"], 28, "{s}");
    assert_eq!(s["interrupted"], false, "{s}");

    // Asked to, it probes them: the kernel refuses the broadcast address, which comes out
    // unreachable with the errno, and the scan completes with the rest.
    let out = scan(
        &tb,
        &["198.18.5.0/28", "-p", "22,80", "--include-broadcast"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("notice"), "{stderr}");
    let lines = json_lines(&out);
    let got = verdicts(&lines);
    for port in [22, 80] {
        assert_eq!(
            got[&(v4(net, 15), port)],
            pair("unreachable", "send-failed")
        );
        // Nobody owns the network address: no answer, whatever the reason.
        assert_eq!(got[&(v4(net, 0), port)].0, "filtered");
    }
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|v| v["reason"] == "send-failed")
        .collect();
    assert_eq!(refused.len(), 2);
    for v in refused {
        assert_eq!(v["errno"], libc::EACCES, "{v}");
        assert_eq!(v["error"], "Permission denied", "{v}");
    }
    for h in 2..=14 {
        assert_eq!(got[&(v4(net, h), 22)], pair("open", "syn-ack"));
        assert_eq!(got[&(v4(net, h), 80)], pair("closed", "reset"));
    }
    let s = summary(&lines);
    assert_eq!(
        (s["skipped"].as_u64(), s["unreachable"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(s["ports_scanned"], 32, "{s}");
}

/// Routes that send nowhere (blackhole, unreachable, prohibit) and a local firewall that drops
/// one destination: those targets are unreachable (no-route without a probe; send-failed EPERM
/// for the firewalled one, refused in the middle of a sendmmsg batch), the others exact, and
/// the scan exits 0. Today's code died on the first refused send. Through the raw IP socket:
/// the default send path carries these targets (behind a gateway on a veth) as AF_PACKET
/// frames, which no local netfilter hook sees (see
/// `responder_answers_exactly_and_frames_skip_netfilter` in tests/responder.rs).
#[test]
fn blackholed_and_firewalled_targets_are_unreachable_and_the_rest_exact() {
    let Some(tb) = common::testbed("trxfbh") else {
        return;
    };
    tb.target_anyip("198.18.8.0/24").unwrap();
    tb.scanner_sh(
        "ip route add blackhole 198.18.9.0/25 && \
         ip route add unreachable 198.18.9.128/26 && \
         ip route add prohibit 198.18.9.192/26 && \
         nft add table ip trxfw && \
         nft add chain ip trxfw out '{ type filter hook output priority 0; }' && \
         nft add rule ip trxfw out ip daddr 198.18.8.77 drop",
    )
    .unwrap();
    let _l = tb.target_listen(&[22]).unwrap();

    let out = scan(&tb, &["198.18.8.0/23", "-p", "22,80", "--send-path", "raw"]);
    let lines = json_lines(&out);
    let got = verdicts(&lines);
    assert_eq!(got.len(), 512 * 2, "one verdict per probe");
    for h in 0..=255u8 {
        let routed = v4(Ipv4Addr::new(198, 18, 8, 0), h);
        let blackholed = v4(Ipv4Addr::new(198, 18, 9, 0), h);
        for port in [22, 80] {
            let want = match (h, port) {
                (77, _) => pair("unreachable", "send-failed"),
                (_, 22) => pair("open", "syn-ack"),
                _ => pair("closed", "reset"),
            };
            assert_eq!(got[&(routed.clone(), port)], want, "{routed}:{port}");
            assert_eq!(
                got[&(blackholed.clone(), port)],
                pair("unreachable", "no-route"),
                "{blackholed}:{port}"
            );
        }
    }
    for v in lines.iter().filter(|v| v["reason"] == "send-failed") {
        assert_eq!(v["errno"], libc::EPERM, "{v}");
        assert_eq!(v["error"], "Operation not permitted", "{v}");
    }
    let s = summary(&lines);
    assert_eq!(s["unreachable"], 256 * 2 + 2, "{s}");
    assert_eq!(
        (s["open"].as_u64(), s["closed"].as_u64()),
        (Some(255), Some(255))
    );
    // Only probes that left count: none to the blackholed half, none refused.
    let sent = s["probes_sent"].as_u64().unwrap_or_default();
    assert!((510..520).contains(&sent), "{s}");
}

/// Targets behind two interfaces in one scan, the one behind the second uplink listed first
/// (today's code took the route of the first target for all of them): each probe leaves from
/// its own interface and source address, XDP catches the replies on both, the verdicts are
/// exact on both sides, and neither side sees an RST but ours (one per open port).
#[test]
fn targets_behind_two_uplinks_each_leave_from_their_own_interface() {
    let Some(tb) = common::testbed("trxfup") else {
        return;
    };
    let up = tb.add_uplink("198.19.2.1/24", "198.19.2.2/24").unwrap();
    // A routed prefix behind the uplink as well (AnyIP there), not only its connected /24.
    up.sh("ip route add local 198.19.64.0/28 dev lo").unwrap();
    tb.scanner_sh("ip route add 198.19.64.0/28 via 198.19.2.2")
        .unwrap();
    let _l1 = tb.target_listen(&[22, 80]).unwrap();
    let _l2 = up.listen(&[80, 443]).unwrap();
    tb.target_count_rst().unwrap();
    up.count_rst().unwrap();

    let out = scan(
        &tb,
        &["198.19.2.2,198.18.0.2,198.19.64.0/28", "-p", "1-100,443"],
    );
    let lines = json_lines(&out);
    let got = verdicts(&lines);
    let open_on = |addr: &str| -> BTreeSet<u64> {
        got.iter()
            .filter(|((a, _), (state, _))| a == addr && state == "open")
            .map(|((_, p), _)| *p)
            .collect()
    };
    assert_eq!(got.len(), 18 * 101, "one verdict per probe");
    assert_eq!(open_on("198.18.0.2"), BTreeSet::from([22, 80]));
    assert_eq!(open_on("198.19.2.2"), BTreeSet::from([80, 443]));
    for h in 0..16 {
        assert_eq!(
            open_on(&v4(Ipv4Addr::new(198, 19, 64, 0), h)),
            BTreeSet::from([80, 443])
        );
    }
    let closed = got.values().filter(|(s, _)| s == "closed").count();
    assert_eq!(closed, 18 * 101 - 2 - 2 - 32, "every other port closed");
    let s = summary(&lines);
    assert!(
        s["xdp"]["matched"].as_u64().unwrap_or_default() >= 18 * 101,
        "both programs' counters, summed: {s}"
    );
    // Give any kernel RST time to arrive, then count: only ours, one per open port.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tb.target_rst_count().unwrap(), 2, "first uplink");
    assert_eq!(up.rst_count().unwrap(), 2 + 32, "second uplink");
}

/// IPv4 and IPv6 targets in one scan: each family gets its own group (source address and raw
/// socket), where today's code refused the scan.
#[test]
fn both_address_families_in_one_scan() {
    let Some(tb) = common::testbed("trxfmix") else {
        return;
    };
    let _l = tb.target_listen(&[22]).unwrap();
    let out = scan(&tb, &["198.18.0.2,2001:2::2", "-p", "22,80"]);
    let lines = json_lines(&out);
    let mut want = BTreeMap::new();
    for addr in ["198.18.0.2", "2001:2::2"] {
        want.insert((addr.to_string(), 22), pair("open", "syn-ack"));
        want.insert((addr.to_string(), 80), pair("closed", "reset"));
    }
    assert_eq!(verdicts(&lines), want);
}
