//! Reports shared by the printer tests.
use crate::model::*;
use std::net::IpAddr;
use std::time::Duration;

pub fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test address {s}: {e}"))
}

pub fn report(addr: &str, port: u16, state: PortState, reason: Reason) -> PortReport {
    let rtt = match reason {
        Reason::NoResponse => None,
        _ => Some(Duration::from_micros(210)),
    };
    // As the engines report it: the IP TTL of an -sS reply; a connect scan never sees one.
    let ttl = match reason {
        Reason::SynAck | Reason::Reset => Some(64),
        Reason::IcmpUnreachable => Some(63),
        _ => None,
    };
    PortReport {
        event: ScanEvent {
            addr: ip(addr),
            port,
            state,
            reason,
            rtt,
            ttl,
        },
        name: None,
        service: None,
    }
}

/// `report` as the pipeline hands it over for the plan below, where the user typed
/// "example.test" for 198.18.0.2: every report of that address carries the name.
pub fn named(report: &PortReport) -> PortReport {
    let mut report = report.clone();
    if report.event.addr == ip("198.18.0.2") {
        report.name = Some("example.test".into());
    }
    report
}

pub fn ssh(addr: &str) -> PortReport {
    let mut r = report(addr, 22, PortState::Open, Reason::SynAck);
    r.service = Some(ServiceInfo {
        class: ServiceClass::TcpServerInitiated,
        service: Some("ssh".into()),
        product: Some("OpenSSH".into()),
        version: Some("9.2p1".into()),
        title: None,
        response: "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\nsecond line\r\n".into(),
        tls: None,
        ..ServiceInfo::empty(ServiceClass::TcpServerInitiated)
    });
    r
}

pub fn https(addr: &str) -> PortReport {
    let mut r = report(addr, 443, PortState::Open, Reason::SynAck);
    r.event.rtt = Some(Duration::from_micros(1500));
    r.service = Some(ServiceInfo {
        class: ServiceClass::Https,
        service: Some("http".into()),
        product: Some("nginx".into()),
        version: Some("1.24.0".into()),
        title: None,
        response: "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\n\r\n".into(),
        tls: Some(TlsInfo {
            version: "TLSv1.3".into(),
            cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
            alpn: Some("h2".into()),
            certificate: Some(CertInfo {
                subject_cn: Some("example.test".into()),
                sans: vec!["example.test".into(), "www.example.test".into()],
                issuer: Some("CN=example.test".into()),
                not_before: Some("2025-01-01T00:00:00Z".into()),
                not_after: Some("2026-01-01T00:00:00Z".into()),
                self_signed: true,
                sha256: "ab".repeat(32),
            }),
            jarm: None,
        }),
        ..ServiceInfo::empty(ServiceClass::Https)
    });
    r
}

pub fn plan(service_detection: bool) -> ScanPlan {
    ScanPlan {
        scan_type: ScanType::Syn,
        targets: vec![
            TargetInfo {
                spec: "example.test".into(),
                resolved: Some(ip("198.18.0.2")),
                addresses: 1,
            },
            TargetInfo {
                spec: "2001:db8::1".into(),
                resolved: Some(ip("2001:db8::1")),
                addresses: 1,
            },
        ],
        port_count: 3,
        ports: "22,80,443".into(),
        concurrency: 128,
        rate: Some(10_000),
        service_detection,
        exclude: Vec::new(),
        retries: 2,
        seed: Some(7),
        shard: Some(crate::config::Shard { index: 1, count: 1 }),
        include_broadcast: false,
    }
}

pub fn summary() -> ScanSummary {
    ScanSummary {
        elapsed: Duration::from_millis(1500),
        ports_scanned: 6,
        open: 3,
        closed: 2,
        filtered: 1,
        unreachable: 0,
        skipped: 0,
        probes_sent: 8,
        interrupted: false,
        service_elapsed: None,
        xdp: None,
        first_probe: None,
        last_probe: None,
        last_verdict: None,
    }
}

/// Feed `printer` a whole scan: the plan (if any), every report (named as the pipeline names
/// them), the summary. A write into a `Vec` cannot fail, so failure is a test bug: panic.
pub fn print_scan<P: super::Printer + ?Sized>(
    printer: &mut P,
    plan: Option<&ScanPlan>,
    reports: &[PortReport],
    summary: &ScanSummary,
) {
    let result = (|| {
        if let Some(plan) = plan {
            printer.plan(plan)?;
        }
        for r in reports {
            printer.port(&named(r))?;
        }
        printer.finish(summary)
    })();
    if let Err(e) = result {
        panic!("printing into a Vec failed: {e}");
    }
}
