//! Our RSTs sent from inside the XDP program (`--rst-path xdp`): each validated SYN-ACK is
//! rewritten in place into the RST userspace would send and goes straight back out (XDP_TX). A
//! real target kernel must accept every one of them: its half-open connections are gone when
//! the scan ends, no checksum error is counted, and the RSTs it received number the open ports
//! exactly, over IPv4 and IPv6. By default (`auto`) a veth keeps the RSTs in userspace (XDP_TX
//! there shares the peer's ring with the probes); and where XDP_TX would never leave (a veth
//! whose peer runs no XDP program, as in every other test here) `--rst-path xdp` is refused
//! with an error that says why.
mod common;

use std::process::Stdio;
use tcprax_lab::responder::{PassThrough, ResponderError};
use tcprax_lab::testbed::{Listeners, TARGET_V4, TARGET_V6, Testbed};

const OPEN: [u16; 3] = [22, 80, 8443];
const CLOSED: [u16; 2] = [25, 81];

/// Scan the target on OPEN and CLOSED over `addr` with `extra` arguments; returns the JSON
/// summary after checking every verdict.
fn scan(tb: &Testbed, addr: &str, extra: &[&str]) -> serde_json::Value {
    let ports: Vec<String> = OPEN.iter().chain(&CLOSED).map(u16::to_string).collect();
    let out = tb
        .scanner_command(common::bin())
        .args(["-sS", addr, "-p", &ports.join(","), "-oJ", "-"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let verdicts = common::json_ports(&out);
    let mut open = common::ports_in_state(&verdicts, "open");
    let mut closed = common::ports_in_state(&verdicts, "closed");
    open.sort_unstable();
    closed.sort_unstable();
    assert_eq!(open, OPEN.map(u64::from), "{addr}");
    assert_eq!(closed, CLOSED.map(u64::from), "{addr}");
    common::json_summary(&out)
}

/// A testbed whose target listens on OPEN, counts the RSTs it receives, keeps retransmitting
/// SYN-ACKs it got no RST for (a lost RST would show), and runs a pass-through XDP program on
/// its veth, so that frames the scanner's program sends back with XDP_TX reach its kernel (as
/// on a NIC). None (a skip) without root or without the program's object.
fn target_taking_xdp_frames(prefix: &str) -> Option<(Testbed, Listeners, PassThrough)> {
    let tb = common::testbed(prefix)?;
    let listen = tb.target_listen(&OPEN).unwrap();
    let pass = match PassThrough::attach_target(&tb) {
        Ok(p) => p,
        Err(ResponderError::Placeholder) => {
            eprintln!("SKIP: tcprax-lab built with AYA_BUILD_SKIP=1 (no pass-through program)");
            return None;
        }
        Err(e) => panic!("attach the pass-through program: {e}"),
    };
    tb.target_sh("sysctl -qw net.ipv4.tcp_synack_retries=5")
        .unwrap();
    tb.target_count_rst().unwrap();
    Some((tb, listen, pass))
}

/// What the target's kernel says after the scan: half-open connections left, and TCP segments
/// it dropped for a bad checksum.
fn target_state(tb: &Testbed) -> (String, u64) {
    let ss = tb.target_sh("ss -Htn state syn-recv").unwrap();
    let nstat = tb.target_sh("nstat -az TcpInCsumErrors").unwrap();
    let errors = String::from_utf8_lossy(&nstat.stdout)
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("TcpInCsumErrors")).then(|| w.next()?.parse().ok())?
        })
        .expect("nstat prints TcpInCsumErrors");
    (String::from_utf8_lossy(&ss.stdout).into_owned(), errors)
}

#[test]
fn xdp_sends_rsts_the_target_kernel_accepts() {
    let Some((tb, _listen, _pass)) = target_taking_xdp_frames("trxxrst") else {
        return;
    };
    let (_, errors_before) = target_state(&tb);
    for (addr, n) in [(TARGET_V4.to_string(), 1u64), (TARGET_V6.to_string(), 2)] {
        let summary = scan(&tb, &addr, &["--rst-path", "xdp"]);
        let opens = OPEN.len() as u64 * n;
        assert_eq!(
            summary["xdp"]["rsts_sent"],
            OPEN.len() as u64,
            "{addr}: one RST from XDP per open port: {summary}"
        );
        let (half_open, errors) = target_state(&tb);
        assert_eq!(
            half_open.trim(),
            "",
            "{addr}: the RSTs closed every half-open connection"
        );
        assert_eq!(errors, errors_before, "{addr}: no RST with a bad checksum");
        assert_eq!(
            tb.target_rst_count().unwrap(),
            opens,
            "{addr}: the target's kernel received one RST per open port"
        );
    }
}

#[test]
fn on_a_veth_userspace_sends_the_rsts_and_xdp_is_refused_where_its_rsts_cannot_leave() {
    let Some(tb) = common::testbed("trxurst") else {
        return;
    };
    let _listen = tb.target_listen(&OPEN).unwrap();
    tb.target_count_rst().unwrap();
    let summary = scan(&tb, &TARGET_V4.to_string(), &[]);
    assert_eq!(summary["xdp"]["rsts_sent"], 0, "auto on a veth: {summary}");
    assert_eq!(tb.target_rst_count().unwrap(), OPEN.len() as u64);
    let (half_open, _) = target_state(&tb);
    assert_eq!(half_open.trim(), "");
    // The target's veth has no NAPI for XDP frames: every XDP_TX frame would be dropped.
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sS",
            &TARGET_V4.to_string(),
            "-p",
            "22",
            "--rst-path",
            "xdp",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--rst-path xdp")
            && stderr.contains(&tb.scanner_if)
            && stderr.contains("peer runs no XDP program"),
        "{stderr}"
    );
}

/// `--rst-path xdp` is honoured with `--send-path raw` too (the probes through the raw socket,
/// the RSTs from XDP), and the target's kernel takes them.
#[test]
fn rsts_from_xdp_with_probes_from_the_raw_socket() {
    let Some((tb, _listen, _pass)) = target_taking_xdp_frames("trxrrst") else {
        return;
    };
    let summary = scan(
        &tb,
        &TARGET_V4.to_string(),
        &["--send-path", "raw", "--rst-path", "xdp"],
    );
    assert_eq!(summary["xdp"]["rsts_sent"], OPEN.len() as u64, "{summary}");
    assert_eq!(tb.target_rst_count().unwrap(), OPEN.len() as u64);
    let (half_open, _) = target_state(&tb);
    assert_eq!(half_open.trim(), "");
}
