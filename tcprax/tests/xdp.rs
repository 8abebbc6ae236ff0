//! The XDP program is built, loaded (passes the verifier), attached to a veth inside a namespace
//! the test creates, reports through its counters, and is gone after the capture is dropped.
mod common;

use tcprax::engine::syn::capture::{XdpCapture, XdpLog};
use tcprax_common::XdpConfig;
use tcprax_lab::testbed::xdp_attached;

#[test]
fn xdp_loads_attaches_counts_and_detaches() {
    let Some(tb) = common::testbed("trxxdp") else {
        return;
    };
    let ifname = tb.scanner_if.clone();
    let ns = tb.scanner_ns.clone();
    let (attached_during, seen) = tb
        .in_scanner(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let cfg = XdpConfig {
                    enabled: 0,
                    ..Default::default()
                };
                let cap = XdpCapture::attach(&ifname, cfg, XdpLog::Off).expect("attach XDP");
                let attached = xdp_attached(&ns, &ifname).unwrap();
                // Traffic from the target to the scanner crosses the program.
                let seen_before = cap.stats().unwrap().seen;
                (attached, seen_before, cap)
            })
        })
        .map(|(a, s, cap)| {
            // Three connection attempts from the target to a closed scanner port: each SYN
            // reaches the scanner's veth, where the program runs.
            tb.in_target(|| {
                for _ in 0..3 {
                    let to = std::net::SocketAddr::from(([198, 18, 0, 1], 9));
                    let _ = std::net::TcpStream::connect_timeout(
                        &to,
                        std::time::Duration::from_secs(1),
                    );
                }
            })
            .unwrap();
            let st = cap.stats().unwrap();
            assert!(
                st.seen >= s + 3,
                "program saw {} frames after 3 connection attempts",
                st.seen - s
            );
            assert_eq!(st.matched, 0, "nothing matches while disabled");
            drop(cap);
            (a, st.seen)
        })
        .unwrap();
    assert!(
        attached_during,
        "XDP program attached while the capture lives"
    );
    assert!(seen >= 3);
    assert!(
        !xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap(),
        "XDP gone after drop"
    );
}

/// Only validated replies are dropped: with matching enabled, ordinary connections whose
/// SYN-ACK lands on a port inside the scanner's range (but whose ack is not a cookie), or on a
/// port outside it, still complete, and the program counts the in-range one as a bad cookie.
#[test]
fn unvalidated_replies_are_passed() {
    let Some(tb) = common::testbed("trxxdpv") else {
        return;
    };
    let _l = tb.target_listen(&[22]).unwrap();
    let ifname = tb.scanner_if.clone();
    let (in_range, outside, stats) = tb
        .in_scanner(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let cfg = XdpConfig {
                    key0: 0x0123_4567_89ab_cdef,
                    key1: 0xfedc_ba98_7654_3210,
                    port_lo: 61000,
                    port_hi: 65535,
                    enabled: 1,
                    rst: 0,
                    _pad: [0; 2],
                };
                let cap = XdpCapture::attach(&ifname, cfg, XdpLog::Off).expect("attach XDP");
                let connect_from = |sport: u16| {
                    let s = tokio::net::TcpSocket::new_v4().unwrap();
                    s.set_reuseaddr(true).unwrap();
                    s.bind(std::net::SocketAddr::from(([198, 18, 0, 1], sport)))
                        .unwrap();
                    async move {
                        tokio::time::timeout(
                            std::time::Duration::from_secs(2),
                            s.connect(std::net::SocketAddr::from(([198, 18, 0, 2], 22))),
                        )
                        .await
                        .map(|r| r.is_ok())
                        .unwrap_or(false)
                    }
                };
                let in_range = connect_from(61500).await;
                let outside = connect_from(40000).await;
                (in_range, outside, cap.stats().unwrap())
            })
        })
        .unwrap();
    assert!(
        in_range,
        "connection from an in-range port was broken by XDP"
    );
    assert!(
        outside,
        "connection from an out-of-range port was broken by XDP"
    );
    assert_eq!(
        stats.matched, 0,
        "nothing validated, nothing dropped: {stats:?}"
    );
    assert!(
        stats.bad_cookie >= 1,
        "the in-range SYN-ACK was checked and rejected: {stats:?}"
    );
}
