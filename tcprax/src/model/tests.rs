//! Unit tests of the model: names, serde shapes, summaries.
use super::*;

fn event(state: PortState, reason: Reason) -> ScanEvent {
    ScanEvent {
        addr: IpAddr::from([198, 18, 5, 15]),
        port: 22,
        state,
        reason,
        rtt: None,
        ttl: None,
    }
}

/// A refused send names its errno twice, as a number and as the system's text, right
/// after the reason; every other line keeps the shape it always had.
#[test]
fn send_failed_lines_carry_the_errno() {
    let line = serde_json::to_string(&PortReport {
        event: event(
            PortState::Unreachable,
            Reason::SendFailed {
                errno: libc::EACCES,
            },
        ),
        name: None,
        service: None,
    })
    .unwrap();
    assert_eq!(
        line,
        "{\"addr\":\"198.18.5.15\",\"port\":22,\"state\":\"unreachable\",\
         \"reason\":\"send-failed\",\"errno\":13,\"error\":\"Permission denied\",\
         \"rtt_us\":null,\"ttl\":null}"
    );
    let line = serde_json::to_string(&event(PortState::Unreachable, Reason::NoRoute)).unwrap();
    assert_eq!(
        line,
        "{\"addr\":\"198.18.5.15\",\"port\":22,\"state\":\"unreachable\",\
         \"reason\":\"no-route\",\"rtt_us\":null,\"ttl\":null}"
    );
}

#[test]
fn reason_names_are_unchanged() {
    let names: Vec<String> = Reason::ALL
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "\"syn-ack\"",
            "\"reset\"",
            "\"icmp-unreachable\"",
            "\"no-response\"",
            "\"connected\"",
            "\"refused\"",
            "\"unreachable\"",
            "\"no-route\"",
            "\"send-failed\""
        ]
    );
}

#[test]
fn a_skip_notice_lists_a_few_addresses_and_counts_the_rest() {
    let one = Notice::Skipped {
        addresses: vec![IpAddr::from([198, 18, 0, 255])],
    };
    assert_eq!(
        one.to_string(),
        "skipping 1 network/broadcast address of directly connected subnets: 198.18.0.255 \
         (--include-broadcast probes them)"
    );
    assert!(!one.is_warning());
    let many = Notice::Skipped {
        addresses: (0..20u8).map(|i| IpAddr::from([198, 18, i, 0])).collect(),
    };
    let text = many.to_string();
    assert!(
        text.starts_with("skipping 20 network/broadcast addresses"),
        "{text}"
    );
    assert!(text.contains("198.18.7.0 and 12 more"), "{text}");
    assert!(!text.contains("198.18.8.0"), "{text}");
    assert!(Notice::RingBufferFull { dropped: 1 }.is_warning());
    let missing = Notice::ProbeFileMissing {
        searched: vec![
            "/a/nmap-service-probes".into(),
            "/b/nmap-service-probes".into(),
        ],
    };
    assert!(!missing.is_warning());
    let skipped = Notice::ProbeFileLinesSkipped {
        path: "/p".into(),
        skipped: 2,
        first_line: 7,
        first_reason: "unknown directive 'x'".into(),
    };
    assert_eq!(
        skipped.to_string(),
        "/p: 2 lines ignored (line 7: unknown directive 'x')"
    );
    let text = missing.to_string();
    assert!(
        text.starts_with(
            "no nmap service probe file (looked in /a/nmap-service-probes, /b/nmap-service-probes)"
        ) && text.contains("apt install nmap-common")
            && text.contains("--service-probes"),
        "{text}"
    );
}

#[test]
fn errno_names_and_texts() {
    assert_eq!(errno_name(libc::EACCES), "EACCES");
    assert_eq!(errno_name(libc::EPERM), "EPERM");
    assert_eq!(errno_name(9999), "errno 9999");
    assert_eq!(errno_text(libc::EPERM), "Operation not permitted");
    assert!(!errno_text(9999).is_empty());
}

#[test]
fn summary_counts_unreachable_ports() {
    let mut s = ScanSummary::default();
    for state in [
        PortState::Open,
        PortState::Unreachable,
        PortState::Unreachable,
    ] {
        s.count(state);
    }
    assert_eq!((s.ports_scanned, s.open, s.unreachable), (3, 1, 2));
}
