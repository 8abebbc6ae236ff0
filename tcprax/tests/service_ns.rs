//! -sV end to end through the real binary: a dozen services in a target namespace (real sshd,
//! nginx HTTP and HTTPS, vsftpd, Python's smtpd and a TLS 1.0-only openssl s_server, plus the
//! tokio fakes of `tcprax_lab::servers`: Exim banner, IMAP over TLS, MySQL greeting,
//! silent TCP, silent TLS, memcached-like), scanned with `tcprax -sS -sV ... -oJ - -oN FILE`
//! from the scanner namespace. Every service port must come back open with the right class
//! (JSON name and the human report's number and name), service, product and version (read from
//! the installed daemons), TLS version and certificate; the closed ports around them must be
//! closed without a service; and -sV must take under five seconds.
//!
//! Packages: openssh-server (+ openssh-client), nginx-light (or nginx), vsftpd, openssl,
//! python3 (3.11 or older, for `smtpd`; without it port 25 gets a fake SMTP banner instead).
mod common;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use tcprax_lab::servers::{self, TestCert};
use tcprax_lab::testbed::TARGET_V4;

/// What one service port must report.
struct Expected {
    port: u16,
    /// The JSON `class`, and the human report's `[n] name`.
    class: (&'static str, &'static str),
    service: Option<&'static str>,
    product: Option<&'static str>,
    version: Option<String>,
    /// The response starts with this (`Some("")`: the server sent nothing).
    response: Option<&'static str>,
    /// The TLS version, for ports that speak TLS; their certificate is checked too.
    tls: Option<&'static str>,
    alpn: Option<&'static str>,
}

const TCP_SERVER_INITIATED: (&str, &str) = ("tcp-server-initiated", "[1] TCP server-initiated");
const TLS_SERVER_INITIATED: (&str, &str) = ("tls-server-initiated", "[2] TLS server-initiated");
const HTTP: (&str, &str) = ("http", "[3] HTTP");
const HTTPS: (&str, &str) = ("https", "[4] HTTPS");
const GENERIC_TCP: (&str, &str) = ("generic-tcp", "[5] generic TCP");
const GENERIC_TLS: (&str, &str) = ("generic-tls", "[6] generic TLS");

impl Expected {
    fn new(port: u16, class: (&'static str, &'static str)) -> Expected {
        Expected {
            port,
            class,
            service: None,
            product: None,
            version: None,
            response: None,
            tls: None,
            alpn: None,
        }
    }

    fn named(mut self, service: &'static str, product: Option<&'static str>) -> Expected {
        self.service = Some(service);
        self.product = product;
        self
    }

    fn version(mut self, version: impl Into<String>) -> Expected {
        self.version = Some(version.into());
        self
    }

    fn response(mut self, starts_with: &'static str) -> Expected {
        self.response = Some(starts_with);
        self
    }

    fn tls(mut self, version: &'static str, alpn: Option<&'static str>) -> Expected {
        self.tls = Some(version);
        self.alpn = alpn;
        self
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The certificate every TLS port serves, as the JSON must show it.
fn assert_cert(port: u16, tls: &Value, cert: &TestCert) {
    let c = &tls["certificate"];
    assert_eq!(
        c["subject_cn"].as_str(),
        Some(cert.subject_cn.as_str()),
        "port {port}: {c}"
    );
    let sans: Vec<&str> = c["sans"]
        .as_array()
        .unwrap_or_else(|| panic!("port {port}: no sans in {c}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(sans, cert.sans, "port {port}");
    assert_eq!(
        c["issuer"].as_str(),
        Some(format!("CN={}", cert.subject_cn).as_str()),
        "port {port}"
    );
    assert_eq!(c["self_signed"], Value::Bool(true), "port {port}");
    let sha256: String = Sha256::digest(&cert.der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(c["sha256"].as_str(), Some(sha256.as_str()), "port {port}");
}

/// The `| class: ...` line under `port`'s row in the human report.
fn human_class(report: &str, port: u16) -> Option<String> {
    let row = format!("{port}/tcp ");
    let mut lines = report.lines().skip_while(|l| !l.starts_with(&row)).skip(1);
    lines
        .next()
        .and_then(|l| l.strip_prefix("| class: "))
        .map(str::to_owned)
}

fn check_port(e: &Expected, server: &str, v: &Value, report: &str, cert: &TestCert) {
    let port = e.port;
    let at = format!("port {port} ({server})");
    assert_eq!(v["state"], "open", "{at}: {v}");
    assert_eq!(v["reason"], "syn-ack", "{at}: {v}");
    let s = &v["service"];
    assert!(s.is_object(), "{at}: no service object: {v}");
    assert_eq!(s["class"], e.class.0, "{at}: {s}");
    assert_eq!(
        human_class(report, port).as_deref(),
        Some(e.class.1),
        "{at}: human report:\n{report}"
    );
    assert_eq!(s["service"].as_str(), e.service, "{at}: {s}");
    assert_eq!(s["product"].as_str(), e.product, "{at}: {s}");
    assert_eq!(s["version"].as_str(), e.version.as_deref(), "{at}: {s}");
    let response = s["response"].as_str().unwrap_or_default();
    if let Some(prefix) = e.response {
        if prefix.is_empty() {
            assert_eq!(response, "", "{at}: {s}");
        } else {
            assert!(response.starts_with(prefix), "{at}: response {response:?}");
        }
    }
    match e.tls {
        None => assert!(s["tls"].is_null(), "{at}: unexpected TLS {s}"),
        Some(version) => {
            let tls = &s["tls"];
            assert_eq!(tls["version"], version, "{at}: {tls}");
            assert_eq!(tls["alpn"].as_str(), e.alpn, "{at}: {tls}");
            assert_cert(port, tls, cert);
        }
    }
}

/// Ports next to the service ports that nothing listens on.
fn closed_neighbours(open: &BTreeSet<u16>) -> BTreeSet<u16> {
    open.iter()
        .flat_map(|&p| [p - 1, p + 1])
        .filter(|p| !open.contains(p))
        .collect()
}

#[test]
fn sv_of_a_dozen_real_and_fake_services_in_a_namespace() {
    let Some(sv) = common::sv_target(
        "trxsvns",
        2,
        "svns",
        &["target.tcprax.test", "www.target.tcprax.test"],
    ) else {
        return;
    };
    let (tb, rt, place, dir, cert) = (&sv.tb, &sv.rt, &sv.place, &sv.dir, &sv.cert);

    // Real daemons inside the target namespace (each guard kills its daemon by pid) and fakes
    // bound there, served by `rt`.
    let dozen = servers::start_dozen(dir, cert, place, rt.handle());
    if !dozen.python_smtpd {
        eprintln!("python3 has no smtpd module (3.12+): port 25 gets a fake with its banner");
    }

    let nginx = servers::nginx_version();
    let expected = [
        Expected::new(21, TCP_SERVER_INITIATED)
            .named("ftp", Some("vsftpd"))
            .version(servers::vsftpd_version())
            .response("220 (vsFTPd "),
        Expected::new(22, TCP_SERVER_INITIATED)
            .named("ssh", Some("OpenSSH"))
            .version(servers::openssh_version())
            .response("SSH-2.0-OpenSSH_"),
        // Python's smtpd names no product: only the generic SMTP row matches.
        Expected::new(25, TCP_SERVER_INITIATED)
            .named("smtp", None)
            .response("220 "),
        Expected::new(80, HTTP)
            .named("http", Some("nginx"))
            .version(nginx.clone())
            .response("HTTP/1.1 200 OK"),
        Expected::new(443, HTTPS)
            .named("https", Some("nginx"))
            .version(nginx)
            .response("HTTP/1.1 200 OK")
            .tls("TLSv1.3", Some("h2")),
        Expected::new(587, TCP_SERVER_INITIATED)
            .named("smtp", Some("Exim"))
            .version("4.96")
            .response("220 tcprax.test ESMTP Exim 4.96"),
        Expected::new(993, TLS_SERVER_INITIATED)
            .named("imaps", None)
            .response("* OK IMAP4rev1 ready")
            .tls("TLSv1.3", None),
        Expected::new(3306, TCP_SERVER_INITIATED)
            .named("mysql", Some("MySQL"))
            .version("8.0.36"),
        Expected::new(8443, GENERIC_TLS)
            .response("")
            .tls("TLSv1.3", None),
        Expected::new(9000, GENERIC_TCP).response(""),
        Expected::new(10443, GENERIC_TLS).tls("TLSv1.0", None),
        Expected::new(11211, GENERIC_TCP)
            .named("memcached", Some("memcached"))
            .version("1.6.99"),
    ];
    let open: BTreeSet<u16> = expected.iter().map(|e| e.port).collect();
    assert_eq!(
        open,
        dozen.ports().into_iter().collect(),
        "a check per service"
    );
    let closed = closed_neighbours(&open);
    let ports = open
        .iter()
        .chain(&closed)
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");

    let report_path = dir.join("report.txt");
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sS",
            "-sV",
            &TARGET_V4.to_string(),
            "-p",
            &ports,
            "-oJ",
            "-",
        ])
        .arg("-oN")
        .arg(&report_path)
        .output()
        .expect("run tcprax");
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "tcprax failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let report = std::fs::read_to_string(&report_path).expect("read -oN report");
    eprintln!("{report}");

    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    let by_port: BTreeMap<u16, &Value> = lines
        .iter()
        .filter(|v| v["type"] == "port")
        .map(|v| {
            let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
            (port.unwrap_or_else(|| panic!("bad port in {v}")), v)
        })
        .collect();
    assert_eq!(
        by_port.keys().copied().collect::<BTreeSet<_>>(),
        open.union(&closed).copied().collect(),
        "one verdict per scanned port"
    );
    for e in &expected {
        let server = dozen
            .services
            .iter()
            .find_map(|&(port, server)| (port == e.port).then_some(server))
            .unwrap_or("?");
        check_port(e, server, by_port[&e.port], &report, cert);
    }
    for port in &closed {
        let v = by_port[port];
        assert_eq!(
            (v["state"].as_str(), v["reason"].as_str()),
            (Some("closed"), Some("reset")),
            "port {port}: {v}"
        );
        assert!(
            v.get("service").is_none(),
            "closed port {port} got -sV: {v}"
        );
    }

    let summary = lines
        .last()
        .filter(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary line last:\n{stdout}"));
    assert_eq!(summary["open"].as_u64(), Some(open.len() as u64));
    assert_eq!(summary["closed"].as_u64(), Some(closed.len() as u64));
    assert_eq!(summary["interrupted"], Value::Bool(false));
    let sv = summary["service_detection_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("no service_detection_s in {summary}"));
    eprintln!(
        "-sV of {} services: {sv:.3} s (scan {} s)",
        open.len(),
        summary["elapsed_s"]
    );
    assert!(sv < 5.0, "-sV took {sv} s");
}
