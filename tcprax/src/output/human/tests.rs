//! Unit tests of the human report, printed into a `Vec<u8>`.
use super::super::fixtures::*;
use super::*;
use crate::model::{PortState, PortState::*, Reason::*, TargetInfo, XdpStats};
use std::time::Duration;

fn run(
    verbosity: Verbosity,
    plan: Option<ScanPlan>,
    reports: &[PortReport],
    summary: &ScanSummary,
) -> String {
    let mut p = HumanPrinter::new(Vec::new(), verbosity);
    print_scan(&mut p, plan.as_ref(), reports, summary);
    String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

/// Arrival order deliberately unsorted: v6 before v4, high ports first.
fn mixed() -> Vec<PortReport> {
    vec![
        report("2001:db8::1", 80, Open, SynAck),
        https("198.18.0.2"),
        report("198.18.0.2", 80, Closed, Reset),
        ssh("198.18.0.2"),
        report("2001:db8::1", 443, Filtered, NoResponse),
        report("2001:db8::1", 22, Closed, Reset),
    ]
}

#[test]
fn normal_report_sorted_by_host_then_port() {
    let text = run(Verbosity::Normal, Some(plan(true)), &mixed(), &summary());
    let expected = format!(
        "\
Starting tcprax {version}
Target:            example.test (198.18.0.2)
Target:            2001:db8::1
Scan type:         SYN, XDP reply capture (-sS)
Ports:             3 (22,80,443)
Concurrency:       128
Rate:              10000 packets/s
Seed:              7
Service detection: on

Scan report for example.test (198.18.0.2)
PORT     STATE   REASON   RTT     SERVICE   VERSION
22/tcp   open    syn-ack  0.21ms  ssh       OpenSSH 9.2p1
| class: [1] TCP server-initiated
|_response: SSH-2.0-OpenSSH_9.2p1 Debian-2
80/tcp   closed  reset    0.21ms
443/tcp  open    syn-ack  1.50ms  ssl/http  nginx 1.24.0
| class: [4] HTTPS
| tls: TLSv1.3, TLS13_AES_256_GCM_SHA384, alpn h2
| cert CN: example.test
| cert SANs: example.test, www.example.test
| cert issuer: CN=example.test
| cert validity: 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z
| cert self-signed: yes
| cert sha256: {sha}
|_response: HTTP/1.1 200 OK

Scan report for 2001:db8::1
PORT     STATE     REASON       RTT     SERVICE  VERSION
22/tcp   closed    reset        0.21ms
80/tcp   open      syn-ack      0.21ms
443/tcp  filtered  no-response  -

Scan done: 2 addresses, 6 ports in 1.50 s (4.0 ports/s)
Ports: 3 open, 2 closed (reset), 1 filtered (no-response)
Probes sent: 8
",
        version = env!("CARGO_PKG_VERSION"),
        sha = "ab".repeat(32)
    );
    assert_eq!(text, expected);
}

#[test]
fn many_closed_ports_are_summarised() {
    let mut reports: Vec<PortReport> = (1..=1002)
        .filter(|p| *p != 22 && *p != 80)
        .map(|p| report("198.18.0.3", p, Closed, Reset))
        .collect();
    reports.insert(500, report("198.18.0.3", 80, Open, SynAck));
    reports.push(report("198.18.0.3", 22, Open, SynAck));
    let text = run(Verbosity::Normal, None, &reports, &summary());
    let host = text
        .trim_start()
        .split("\n\n")
        .next()
        .unwrap_or_else(|| panic!("no host block in {text}"));
    assert_eq!(
        host,
        "\
Scan report for 198.18.0.3
Not shown: 1000 closed tcp ports (reset)
PORT    STATE  REASON   RTT
22/tcp  open   syn-ack  0.21ms
80/tcp  open   syn-ack  0.21ms"
    );
}

#[test]
fn up_to_ten_closed_ports_are_listed() {
    let reports: Vec<PortReport> = (1..=10)
        .rev()
        .map(|p| report("198.18.0.3", p, Closed, Refused))
        .collect();
    let text = run(Verbosity::Normal, None, &reports, &summary());
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("closed  conn-refused"))
            .count(),
        10
    );
    assert!(!text.contains("Not shown"), "{text}");
    assert!(text.contains("\n1/tcp "), "{text}");
}

#[test]
fn mixed_reasons_and_all_ignored() {
    let mut reports: Vec<PortReport> = (1..=20)
        .map(|p| report("198.18.0.4", p, Filtered, NoResponse))
        .collect();
    reports.push(report("198.18.0.4", 21, Filtered, IcmpUnreachable));
    let text = run(Verbosity::Normal, None, &reports, &summary());
    assert!(
        text.contains(
            "Scan report for 198.18.0.4\n\
                 All 21 scanned ports on 198.18.0.4 are in ignored states.\n\
                 Not shown: 21 filtered tcp ports (20 no-response, 1 icmp-unreachable)\n\n"
        ),
        "{text}"
    );
}

#[test]
fn many_hosts_without_an_open_port_fold_into_one_line() {
    let mut reports: Vec<PortReport> = (10..=30)
        .map(|h| report(&format!("198.18.1.{h}"), 80, Filtered, NoResponse))
        .collect();
    reports.push(report("198.18.1.99", 80, Closed, Reset));
    reports.push(report("198.18.1.100", 80, Open, SynAck));
    let text = run(Verbosity::Normal, None, &reports, &summary());
    assert_eq!(text.matches("Scan report for").count(), 1, "{text}");
    assert!(
        text.contains(
            "Scan report for 198.18.1.100
"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\nNot shown: 22 hosts without an open port (21 with every scanned port filtered)\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nScan done: 23 addresses,"), "{text}");
    // Only silent ones: today's wording.
    let silent = run(Verbosity::Normal, None, &reports[..21], &summary());
    assert!(
        silent.contains("\nNot shown: 21 hosts with every scanned port filtered\n"),
        "{silent}"
    );
    let verbose = run(Verbosity::Verbose, None, &reports, &summary());
    assert_eq!(verbose.matches("Scan report for").count(), 23);
    assert!(!verbose.contains("Not shown: 22"), "{verbose}");
}

#[test]
fn a_few_hosts_without_an_open_port_get_their_blocks_sorted_at_the_end() {
    let mut p = HumanPrinter::new(Vec::new(), Verbosity::Normal);
    let mut plan = plan(false);
    plan.port_count = 2;
    let printed = (|| {
        p.plan(&plan)?;
        for h in [7, 3, 5] {
            for port in [1, 2] {
                p.port(&report(&format!("198.18.2.{h}"), port, Closed, Reset))?;
            }
        }
        p.port(&report("198.18.2.9", 1, Open, SynAck))?;
        p.port(&report("198.18.2.9", 2, Closed, Reset))?;
        // Complete: the open host is out at once, the others are held.
        let so_far = String::from_utf8_lossy(&p.wtr).into_owned();
        assert_eq!(so_far.matches("Scan report for").count(), 1, "{so_far}");
        assert!(so_far.contains("Scan report for 198.18.2.9\n"), "{so_far}");
        p.finish(&summary())
    })();
    assert!(printed.is_ok());
    let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Scan report for "))
        .collect();
    assert_eq!(
        order,
        ["198.18.2.9", "198.18.2.3", "198.18.2.5", "198.18.2.7"]
    );
    assert!(
        text.contains(
            "\nScan report for 198.18.2.3\n\
             PORT   STATE   REASON  RTT\n\
             1/tcp  closed  reset   0.21ms\n\
             2/tcp  closed  reset   0.21ms\n"
        ),
        "{text}"
    );
    assert!(!text.contains("hosts without"), "{text}");
}

/// Issue 8: an all-closed scan printed through the human report must not keep its hosts. Here
/// in the worst order (every host's first port before any second), with more hosts than the
/// tracker takes: the printer holds at most the limit, and says what it did not track (the
/// first port of the last 100 hosts; their second port finds room again, as the first hosts
/// are complete by then).
#[test]
fn all_closed_hosts_cost_no_memory_per_host() {
    let hosts = (super::super::TRACKED_LIMIT + 100) as u32;
    let addr = |h: u32| format!("10.0.{}.{}", h >> 8, h & 0xff);
    let mut p = HumanPrinter::new(Vec::new(), Verbosity::Normal);
    let mut plan = plan(false);
    plan.port_count = 2;
    let mut s = summary();
    s.open = 0;
    s.closed = 2 * u64::from(hosts);
    s.filtered = 0;
    s.ports_scanned = s.closed;
    let printed = (|| {
        p.plan(&plan)?;
        for port in [1, 2] {
            for h in 0..hosts {
                p.port(&report(&addr(h), port, Closed, Reset))?;
                assert!(p.tracker.hosts.len() <= super::super::TRACKED_LIMIT);
            }
        }
        assert_eq!(p.tracker.hosts.len(), 100, "the late ones");
        assert!(p.held.is_empty(), "blocks of folded hosts are not kept");
        p.finish(&s)
    })();
    assert!(printed.is_ok());
    let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains("Scan report for"), "{text}");
    let tail: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Not shown"))
        .collect();
    let limit = super::super::TRACKED_LIMIT;
    let ports = 2 * u64::from(hosts);
    assert_eq!(
        tail,
        [
            format!("Not shown: {hosts} hosts without an open port"),
            String::new(),
            format!(
                "Not tracked per host: 100 port verdicts (more than {limit} hosts without an open \
                 port were in progress at once); they count in the totals below only"
            ),
            String::new(),
            format!(
                "Scan done: at least {hosts} addresses, {ports} ports in 1.50 s ({:.1} ports/s)",
                ports as f64 / 1.5
            ),
            format!("Ports: 0 open, {ports} closed (reset), 0 filtered"),
            "Probes sent: 8".to_string(),
        ]
    );
}

/// A host tracked only from its open port on (the tracker was full before) says how many of
/// its ports it may not show.
#[test]
fn a_late_host_block_says_what_it_misses() {
    let mut p = HumanPrinter::new(Vec::new(), Verbosity::Normal);
    let mut plan = plan(false);
    plan.port_count = 3;
    let printed = (|| {
        p.plan(&plan)?;
        for h in 0..super::super::TRACKED_LIMIT as u32 {
            p.port(&report(
                &format!("10.0.{}.{}", h >> 8, h & 0xff),
                1,
                Closed,
                Reset,
            ))?;
        }
        p.port(&report("198.18.0.9", 1, Closed, Reset))?;
        p.port(&report("198.18.0.9", 2, Open, SynAck))?;
        p.port(&report("198.18.0.9", 3, Closed, Reset))?;
        p.finish(&summary())
    })();
    assert!(printed.is_ok());
    let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.contains(
            "\nScan report for 198.18.0.9\n\
             Not shown: up to 1 more tcp port (decided before this host was tracked; in the totals)\n\
             PORT   STATE   REASON   RTT\n\
             2/tcp  open    syn-ack  0.21ms\n\
             3/tcp  closed  reset    0.21ms\n"
        ),
        "{text}"
    );
}

#[test]
fn verbose_shows_full_response_and_xdp_counters() {
    let mut s = summary();
    s.interrupted = true;
    s.service_elapsed = Some(Duration::from_millis(800));
    s.xdp = Some(XdpStats {
        seen: 50,
        matched: 6,
        passed: 44,
        ringbuf_full: 0,
        bad_cookie: 1,
        repeats: 2,
        rsts_sent: 3,
    });
    let text = run(Verbosity::Verbose, None, &[ssh("198.18.0.2")], &s);
    assert!(
        text.contains(
            "| class: [1] TCP server-initiated\n| response:\n|   SSH-2.0-OpenSSH_9.2p1 Debian-2\n|_  second line\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with(
            "\nInterrupted: results are partial\n\
                 Scan done: 1 address, 6 ports in 1.50 s (4.0 ports/s)\n\
                 Ports: 3 open, 2 closed, 1 filtered\n\
                 Probes sent: 8\n\
                 Service detection: 0.80 s\n\
                 XDP: seen 50, matched 6, passed 44, ringbuf-full 0, bad-cookie 1, repeats 2, \
                 rsts-sent 3\n"
        ),
        "{text}"
    );
    let normal = run(Verbosity::Normal, None, &[], &s);
    assert!(!normal.contains("XDP"), "{normal}");
}

#[test]
fn quiet_prints_only_open_port_lines() {
    let text = run(Verbosity::Quiet, Some(plan(true)), &mixed(), &summary());
    assert_eq!(
        text,
        "\
198.18.0.2   22/tcp   open  syn-ack  0.21ms  ssh       OpenSSH 9.2p1
198.18.0.2   443/tcp  open  syn-ack  1.50ms  ssl/http  nginx 1.24.0
2001:db8::1  80/tcp   open  syn-ack  0.21ms
"
    );
}

#[test]
fn hostile_text_never_emits_control_characters() {
    let mut r = https("198.18.0.2");
    if let Some(s) = r.service.as_mut() {
        s.response = "HTTP/1.1 200 OK\x1b[2J\rX\nLocation: evil\u{202E}txt\r\n".into();
        s.product = Some("nginx\ttab\x07".into());
        if let Some(cert) = s.tls.as_mut().and_then(|t| t.certificate.as_mut()) {
            cert.subject_cn = Some("a\nb\u{202E}c".into());
            cert.sans.push("evil\r\nline".into());
        }
    }
    r.name = Some("bad\x1bname".into());
    for verbosity in [Verbosity::Quiet, Verbosity::Normal, Verbosity::Verbose] {
        let mut p = HumanPrinter::new(Vec::new(), verbosity);
        let printed = p.port(&r).and_then(|_| p.finish(&summary()));
        assert!(printed.is_ok());
        let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(!text.contains('\u{202E}'));
        if verbosity == Verbosity::Normal {
            assert!(
                text.contains("|_response: HTTP/1.1 200 OK.[2J.X\n"),
                "{text}"
            );
            assert!(text.contains("| cert CN: a.b.c\n"), "{text}");
            assert!(
                text.contains("Scan report for bad.name (198.18.0.2)\n"),
                "{text}"
            );
        }
    }
}

#[test]
fn target_labels() {
    let t = |spec: &str, resolved: Option<&str>, addresses| TargetInfo {
        spec: spec.into(),
        resolved: resolved.map(ip),
        addresses,
    };
    assert_eq!(
        target_label(&t("198.18.0.0/24", None, 256)),
        "198.18.0.0/24 (256 addresses)"
    );
    assert_eq!(
        target_label(&t("198.18.0.2", Some("198.18.0.2"), 1)),
        "198.18.0.2"
    );
    assert_eq!(
        target_label(&t("a.test", Some("198.18.0.2"), 1)),
        "a.test (198.18.0.2)"
    );
    assert_eq!(
        target_label(&t("a.test", Some("198.18.0.2"), 2)),
        "a.test (198.18.0.2, 2 addresses)"
    );
}

#[test]
fn verbose_reason_carries_the_reply_ttl() {
    let reports = [
        report("198.18.0.3", 443, Filtered, NoResponse),
        report("198.18.0.3", 22, Open, SynAck),
        report("198.18.0.3", 81, Filtered, IcmpUnreachable),
        report("198.18.0.3", 80, Closed, Reset),
    ];
    let text = run(Verbosity::Verbose, None, &reports, &summary());
    let host = text
        .split("\n\n")
        .find(|b| b.contains("Scan report for 198.18.0.3"))
        .unwrap_or_else(|| panic!("no host block in {text}"))
        .trim_start();
    assert_eq!(
        host,
        "\
Scan report for 198.18.0.3
PORT     STATE     REASON                   RTT
22/tcp   open      syn-ack ttl 64           0.21ms
80/tcp   closed    reset ttl 64             0.21ms
81/tcp   filtered  icmp-unreachable ttl 63  0.21ms
443/tcp  filtered  no-response              -"
    );
    // Without -v, and in the one-line-per-port quiet form, the reason stays nmap's plain word.
    for verbosity in [Verbosity::Normal, Verbosity::Quiet] {
        let text = run(verbosity, None, &reports, &summary());
        assert!(!text.contains("ttl"), "{verbosity:?}: {text}");
        assert!(text.contains("syn-ack"), "{verbosity:?}: {text}");
    }
    // A connect scan never sees the TTL: no "ttl" even with -v.
    let connect = run(
        Verbosity::Verbose,
        None,
        &[report("198.18.0.3", 22, Open, Connected)],
        &summary(),
    );
    assert!(
        connect.contains("22/tcp  open   conn-established  0.21ms\n"),
        "{connect}"
    );
}

/// Ports whose probe could not be sent: listed with the errno of a refused send, counted in
/// the summary, and hosts with nothing else fold into one line when there are many.
#[test]
fn unreachable_ports_and_hosts() {
    let mut reports = vec![
        report("198.18.5.2", 22, Open, SynAck),
        report(
            "198.18.5.15",
            22,
            PortState::Unreachable,
            SendFailed {
                errno: libc::EACCES,
            },
        ),
        report("198.18.5.15", 80, Closed, Reset),
    ];
    // Nothing answered a probe that never left.
    reports[1].event.rtt = None;
    reports.extend((0..=20).map(|h| {
        report(
            &format!("198.18.9.{h}"),
            22,
            PortState::Unreachable,
            NoRoute,
        )
    }));
    let mut sum = summary();
    sum.unreachable = 22;
    sum.skipped = 1;
    // Hosts without an open port fold into one line; the totals name the reasons.
    let text = run(Verbosity::Normal, None, &reports, &sum);
    assert!(
        text.contains("Not shown: 22 hosts without an open port\n"),
        "{text}"
    );
    assert!(!text.contains("198.18.9."), "{text}");
    assert!(
        text.contains(
            "Ports: 3 open, 2 closed (reset), 1 filtered, 22 unreachable (21 no-route, 1 send-failed)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Skipped: 1 address (network/broadcast of a connected subnet)\n"),
        "{text}"
    );
    // -v lists them, and a refused send names its errno.
    let text = run(Verbosity::Verbose, None, &reports, &sum);
    let line = text
        .lines()
        .find(|l| l.starts_with("22/tcp") && l.contains("unreachable") && l.contains("send-failed"))
        .unwrap_or_else(|| panic!("no send-failed line in {text}"));
    assert!(line.contains("send-failed EACCES"), "{line}");
    assert!(text.contains("no-route"), "{text}");
}

/// What a probe-file line or the fast path adds beyond product and version shows as nmap
/// shows it: extrainfo in parentheses in the VERSION column; host, OS, device, CPE, favicon
/// hash, what named it and the TLS fingerprint in the block under the port.
#[test]
fn extra_service_fields_are_shown() {
    let mut r = https("198.18.0.2");
    if let Some(s) = r.service.as_mut() {
        s.extrainfo = Some("Ubuntu".into());
        s.hostname = Some("www.example.test".into());
        s.os = Some("Linux".into());
        s.device_type = Some("proxy server".into());
        s.cpe = vec![
            "cpe:/a:igor_sysoev:nginx:1.24.0".into(),
            "cpe:/o:linux:linux_kernel".into(),
        ];
        s.favicon_mmh3 = Some(-309393699);
        s.matched_by = Some("nmap:GetRequest".into());
        if let Some(tls) = s.tls.as_mut() {
            tls.jarm = Some("abc123".into());
        }
    }
    let text = run(Verbosity::Normal, None, &[r], &summary());
    for want in [
        "nginx 1.24.0 (Ubuntu)\n",
        "| host: www.example.test\n",
        "| os: Linux\n",
        "| device: proxy server\n",
        "| cpe: cpe:/a:igor_sysoev:nginx:1.24.0\n| cpe: cpe:/o:linux:linux_kernel\n",
        "| favicon mmh3: -309393699\n",
        "| matched by: nmap:GetRequest\n",
        "| tls fingerprint: abc123\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
