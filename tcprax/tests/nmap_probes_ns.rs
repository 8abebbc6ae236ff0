//! -sV with nmap's probe file, end to end: two real client-first daemons from Debian packages
//! in a target namespace, which say nothing to tcprax's own probes (banner wait, TLS, `GET /`,
//! generic lines), so its built-in table leaves them generic-tcp: OpenLDAP's slapd (no
//! database, answers the rootDSE search) and dnsmasq (DNS over TCP, answers version.bind).
//! Scanned with `tcprax -sT -sV` from the scanner namespace, both must come back named by a
//! probe of the REAL installed file (`matched_by` "nmap:PROBE"), with product, version and CPE.
//!
//! Packages: slapd, dnsmasq-base (the binaries only; no service is started), nmap-common.
//! Without the probe file the test says so and passes vacuously; without root it skips.
mod common;

use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcprax::service::nmap::{self, Loaded};
use tcprax_lab::process::Child;
use tcprax_lab::servers::{TempDir, require};
use tcprax_lab::testbed::{TARGET_V4, Testbed, in_netns};

const LDAP_PORT: u16 = 389;
const DNS_PORT: u16 = 53;

/// Start `program args` in the target namespace, its output in `log`; wait until it listens.
fn start(
    tb: &Testbed,
    program: &std::path::Path,
    args: &[String],
    log: &std::path::Path,
    port: u16,
) -> Child {
    let out = std::fs::File::create(log).expect("create log");
    let err = out.try_clone().expect("clone log");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &tb.target_ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err);
    let mut child = Child::spawn(&mut cmd).unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let addr = SocketAddr::new(TARGET_V4.into(), port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(done)) = child.try_wait() {
            panic!(
                "{} exited ({:?}) before listening:\n{}",
                program.display(),
                done.status,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let ns = tb.target_ns.clone();
        let up = in_netns(&ns, move || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
        })
        .unwrap_or(false);
        if up {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {addr}:\n{}",
            program.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// slapd with no database: enough to answer the root DSE and binds.
fn start_slapd(tb: &Testbed, dir: &TempDir) -> Child {
    let slapd = require("/usr/sbin/slapd", "slapd");
    let conf = dir.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "pidfile {}\nargsfile {}\n",
            dir.join("slapd.pid").display(),
            dir.join("slapd.args").display()
        ),
    )
    .expect("write slapd.conf");
    let args = [
        "-d".to_owned(),
        "0".to_owned(),
        "-h".to_owned(),
        format!("ldap://{TARGET_V4}:{LDAP_PORT}/"),
        "-f".to_owned(),
        conf.display().to_string(),
    ];
    start(tb, &slapd, &args, &dir.join("slapd.log"), LDAP_PORT)
}

/// dnsmasq answering DNS (UDP and TCP) on the target address only, no upstream, no files.
fn start_dnsmasq(tb: &Testbed, dir: &TempDir) -> Child {
    let dnsmasq = require("dnsmasq", "dnsmasq-base");
    let args = [
        "--keep-in-foreground".to_owned(),
        "--conf-file=/dev/null".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--bind-interfaces".to_owned(),
        format!("--listen-address={TARGET_V4}"),
        format!("--port={DNS_PORT}"),
        "--user=root".to_owned(),
        "--group=root".to_owned(),
        format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
    ];
    start(tb, &dnsmasq, &args, &dir.join("dnsmasq.log"), DNS_PORT)
}

/// dnsmasq's version as its `--version` prints it, e.g. "2.90".
fn dnsmasq_version() -> String {
    let out = Command::new(require("dnsmasq", "dnsmasq-base"))
        .arg("--version")
        .output()
        .expect("dnsmasq --version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("no version in {text:?}"))
        .to_owned()
}

#[test]
fn client_first_daemons_are_named_by_the_probe_file() {
    match nmap::load(None) {
        Ok(Loaded::Found(_)) => {}
        other => {
            eprintln!("SKIP: no usable nmap-service-probes ({other:?}); apt install nmap-common");
            return;
        }
    }
    let Some(tb) = common::testbed("trxnmp") else {
        return;
    };
    let dir = TempDir::new("nmapprobes");
    let _slapd = start_slapd(&tb, &dir);
    let _dnsmasq = start_dnsmasq(&tb, &dir);

    let out = tb
        .scanner_command(common::bin())
        .args(["-sT", "-sV", &TARGET_V4.to_string(), "-p"])
        .arg(format!("{DNS_PORT},{LDAP_PORT}"))
        .args(["-oJ", "-"])
        .output()
        .expect("run tcprax");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tcprax failed ({}):\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("no nmap service probe file"),
        "the installed file was not found:\n{stderr}"
    );
    let ports = common::json_ports(&out);
    let service = |port: u16| -> &Value {
        let v = ports
            .iter()
            .find(|v| v["port"].as_u64() == Some(u64::from(port)))
            .unwrap_or_else(|| panic!("no verdict for port {port}: {ports:?}"));
        assert_eq!(v["state"], "open", "{v}");
        &v["service"]
    };

    // Both stayed silent to the fast path: class generic-tcp, named only by the file.
    let dns = service(DNS_PORT);
    eprintln!("dnsmasq: {dns}");
    assert_eq!(dns["class"], "generic-tcp", "{dns}");
    assert_eq!(dns["service"], "domain", "{dns}");
    assert_eq!(dns["product"], "dnsmasq", "{dns}");
    let version = dnsmasq_version();
    assert_eq!(dns["version"].as_str(), Some(version.as_str()), "{dns}");
    assert_eq!(
        dns["cpe"][0].as_str(),
        Some(format!("cpe:/a:thekelleys:dnsmasq:{version}").as_str()),
        "{dns}"
    );
    let by = dns["matched_by"].as_str().unwrap_or_default();
    assert!(by.starts_with("nmap:DNS"), "{dns}");

    let ldap = service(LDAP_PORT);
    eprintln!("slapd: {ldap}");
    assert_eq!(ldap["class"], "generic-tcp", "{ldap}");
    assert_eq!(ldap["service"], "ldap", "{ldap}");
    assert_eq!(ldap["product"], "OpenLDAP", "{ldap}");
    let by = ldap["matched_by"].as_str().unwrap_or_default();
    assert!(by.starts_with("nmap:LDAP"), "{ldap}");
    assert!(
        ldap["cpe"].as_array().is_some_and(|c| c.iter().any(|c| c
            .as_str()
            .is_some_and(|c| c.starts_with("cpe:/a:openldap:openldap")))),
        "{ldap}"
    );

    let summary = common::json_summary(&out);
    eprintln!("-sV: {} s", summary["service_detection_s"]);
}
