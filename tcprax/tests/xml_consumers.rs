//! tcprax's `-oX` read by the tools that read nmap's, on real scans in a namespace testbed:
//! - `ndiff` (Debian's) between nmap's XML and tcprax's XML of the same host, -sT and -sS,
//!   with listeners and a filtered port, reports no port difference;
//! - python-libnmap (PyPI, in `target/pyenv`) parses an `-oA` run's `BASE.xml` and sees the
//!   hosts, ports, states and -sV services that the same run's `BASE.jsonl` has;
//! - `xsltproc /usr/share/nmap/nmap.xsl` turns it into HTML that lists those ports.
//!
//! Packages (`cargo xtask setup`): nmap, ndiff, xsltproc, libxml2-utils; the -sV daemons of
//! `service_ns.rs`.
mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tcprax_lab::servers::{self, TempDir};

const TARGET: &str = "198.18.0.2";

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// nmap's XML without what tcprax does not claim to know, which ndiff would otherwise show
/// as a difference of the service or of the host, not of a port:
/// - `<service method="table">`: names nmap looks up in its port table (nmap-services) when
///   -sV did not run, a guess rather than a result; tcprax writes `<service>` only for what
///   -sV found;
/// - `<address addrtype="mac">`: the target's MAC, which nmap -sS adds for a target on the
///   same link.
fn without_guesses(xml: &str) -> String {
    let mut out = xml.to_string();
    for (open, marker) in [
        ("<service ", "method=\"table\""),
        ("<address ", "addrtype=\"mac\""),
    ] {
        let mut kept = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(start) = rest.find(open) {
            let end = rest[start..]
                .find("/>")
                .map(|e| start + e + 2)
                .unwrap_or(rest.len());
            let element = &rest[start..end];
            kept.push_str(&rest[..start]);
            if !element.contains(marker) {
                kept.push_str(element);
            }
            rest = &rest[end..];
        }
        kept.push_str(rest);
        out = kept;
    }
    out
}

#[test]
fn ndiff_sees_no_port_difference_from_nmap() {
    let Some(tb) = common::testbed("trxndiff") else {
        return;
    };
    for tool in ["/usr/bin/nmap", "/usr/bin/ndiff"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: cargo xtask setup installs the Debian packages nmap and ndiff"
        );
    }
    let _listeners = tb.target_listen(&[22, 80, 8080]).unwrap();
    tb.target_filter_ports(&[25]).unwrap();
    let dir = TempDir::new("ndiff");
    let ports = "20-25,80,443,8080";

    for (scan, nmap_flag) in [("-sT", "-sT"), ("-sS", "-sS")] {
        let theirs = dir.join(&format!("nmap{scan}.xml"));
        let ours = dir.join(&format!("tcprax{scan}.xml"));
        let out = tb
            .scanner_command("nmap")
            .args([nmap_flag, "-n", "-Pn", "-p", ports, "--max-retries", "2"])
            .args(["-oX", &path_str(&theirs), TARGET])
            .output()
            .unwrap();
        assert_ok(&format!("nmap {scan}"), &out);
        let out = tb
            .scanner_command(common::bin())
            .args([scan, "-p", ports, "--timeout", "500ms", "-q"])
            .args(["-oX", &path_str(&ours), TARGET])
            .output()
            .unwrap();
        assert_ok(&format!("tcprax {scan}"), &out);

        let nmap_xml = std::fs::read_to_string(&theirs).unwrap();
        let stripped = dir.join(&format!("nmap{scan}-states.xml"));
        std::fs::write(&stripped, without_guesses(&nmap_xml)).unwrap();
        let diff = Command::new("ndiff")
            .arg(&stripped)
            .arg(&ours)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ndiff: {e}"));
        let text = String::from_utf8_lossy(&diff.stdout);
        // ndiff exits 0 for "no difference", 1 for differences, 2 for an error (a file it
        // cannot read). The scans differ in their header (program, version, time, command
        // line: the `-Nmap ... scan initiated ...` / `+...` pair, and exit 1 for it); past
        // that, no line may name a host, a port or a "Not shown" count.
        assert_ne!(
            diff.status.code(),
            Some(2),
            "ndiff could not read the files: {}",
            String::from_utf8_lossy(&diff.stderr)
        );
        let port_lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains(" scan initiated "))
            .filter(|l| {
                let l = l.trim_start_matches(['+', '-', ' ']);
                l.split('/')
                    .next()
                    .is_some_and(|n| n.parse::<u16>().is_ok())
                    || l.contains(TARGET)
                    || l.starts_with("Not shown")
            })
            .collect();
        assert!(
            port_lines.is_empty(),
            "{scan}: ndiff reports differences:\n{text}\n--- nmap ---\n{nmap_xml}\n--- tcprax ---\n{}",
            std::fs::read_to_string(&ours).unwrap()
        );
        // And the scan found what is there (so "no difference" is not two empty scans).
        let ours_text = std::fs::read_to_string(&ours).unwrap();
        for port in [22, 80, 8080] {
            let needle = format!("portid=\"{port}\"><state state=\"open\"");
            assert!(ours_text.contains(&needle), "{scan}: {needle}\n{ours_text}");
        }
        assert!(
            ours_text.contains("portid=\"25\"><state state=\"filtered\""),
            "{ours_text}"
        );
    }
}

/// libnmap's view of an XML file: per host, its address, status and ports as
/// (port, state, service name, product, version, tunnel), one JSON object per host.
const LIBNMAP: &str = r#"
import json, sys
from libnmap.parser import NmapParser
report = NmapParser.parse_fromfile(sys.argv[1])
hosts = []
for h in report.hosts:
    ports = []
    for s in h.services:
        d = s.service_dict
        ports.append([s.port, s.protocol, s.state, d.get("name"), d.get("product"),
                      d.get("version"), d.get("tunnel")])
    hosts.append({"address": h.address, "status": h.status, "ports": ports})
print(json.dumps({"hosts": hosts, "summary": report.summary}))
"#;

type PortRow = (
    u64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The same rows from `-oJ` port lines, mapped as the XML printer maps them.
fn rows_from_json(jsonl: &str) -> BTreeSet<(String, PortRow)> {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "port")
        .map(|v| {
            let text = |x: &Value| x.as_str().map(String::from);
            let state = match v["state"].as_str() {
                Some("unreachable") => "filtered".to_string(),
                s => s.unwrap_or_default().to_string(),
            };
            let service = &v["service"];
            let (name, product, version, tunnel) = if service.is_object() {
                (
                    Some(text(&service["service"]).unwrap_or_else(|| "unknown".into())),
                    text(&service["product"]),
                    text(&service["version"]),
                    service["tls"].is_object().then(|| "ssl".to_string()),
                )
            } else {
                (None, None, None, None)
            };
            (
                v["addr"].as_str().unwrap_or_default().to_string(),
                (
                    v["port"].as_u64().unwrap_or_default(),
                    state,
                    name,
                    product,
                    version,
                    tunnel,
                ),
            )
        })
        .collect()
}

fn rows_from_libnmap(parsed: &Value) -> BTreeSet<(String, PortRow)> {
    let text = |x: &Value| x.as_str().filter(|s| !s.is_empty()).map(String::from);
    let mut rows = BTreeSet::new();
    for host in parsed["hosts"].as_array().unwrap() {
        assert_eq!(host["status"], "up", "{host}");
        let addr = host["address"].as_str().unwrap().to_string();
        for p in host["ports"].as_array().unwrap() {
            assert_eq!(p[1], "tcp");
            rows.insert((
                addr.clone(),
                (
                    p[0].as_u64().unwrap(),
                    p[2].as_str().unwrap().to_string(),
                    text(&p[3]),
                    text(&p[4]),
                    text(&p[5]),
                    text(&p[6]),
                ),
            ));
        }
    }
    rows
}

#[test]
fn python_libnmap_and_nmap_xsl_read_an_output_all_run() {
    let Some(sv) = common::sv_target("trxlibn", 2, "libnmap", &["target.tcprax.test"]) else {
        return;
    };
    let python = common::pyenv_bin("python3");
    let (tb, rt, place, dir, cert) = (&sv.tb, &sv.rt, &sv.place, &sv.dir, &sv.cert);
    let dozen = servers::start_dozen(dir, cert, place, rt.handle());
    tb.target_filter_ports(&[24]).unwrap();
    let mut ports: Vec<String> = dozen.ports().iter().map(u16::to_string).collect();
    ports.extend(["23", "24"].map(String::from));
    let base: PathBuf = dir.join("scan");
    let out = tb
        .scanner_command(common::bin())
        // -v: every closed port listed too (the IPv6 address has no listener), so the XML
        // lists every verdict the JSON lines have.
        .args([
            "-sS",
            "-sV",
            "-v",
            "-p",
            &ports.join(","),
            "--timeout",
            "500ms",
        ])
        .args(["-oA", &path_str(&base), TARGET, "2001:2::2"])
        .output()
        .unwrap();
    assert_ok("tcprax -sS -sV -oA", &out);
    let file = |ext: &str| -> (PathBuf, String) {
        let p = base.with_extension(ext);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (p, text)
    };
    let (xml_path, xml) = file("xml");
    let (_, jsonl) = file("jsonl");
    let (_, human) = file("nmap");
    let (_, gnmap) = file("gnmap");
    // -oA wrote all four, and the human report is on stdout as well.
    assert!(human.contains("Scan report for 198.18.0.2"), "{human}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), human);
    assert_eq!(gnmap.lines().filter(|l| l.starts_with("Host: ")).count(), 2);

    let lint = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
        .arg(&xml_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint: {e}"));
    assert_ok("xmllint", &lint);

    // python-libnmap sees what the JSON lines say: hosts, ports, states, services.
    let out = Command::new(&python)
        .args(["-c", LIBNMAP])
        .arg(&xml_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python: {e}"));
    assert_ok("python-libnmap", &out);
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_json = rows_from_json(&jsonl);
    assert_eq!(from_json.len(), 2 * ports.len(), "{jsonl}");
    let seen = rows_from_libnmap(&parsed);
    assert_eq!(seen, from_json, "libnmap:\n{parsed:#}\nXML:\n{xml}");
    let hosts: BTreeSet<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(hosts, BTreeSet::from(["198.18.0.2", "2001:2::2"]));
    let ssh = seen
        .iter()
        .find(|(a, (p, ..))| a == TARGET && *p == 22)
        .unwrap_or_else(|| panic!("no 22/tcp in {seen:?}"));
    assert_eq!(ssh.1.1, "open");
    assert_eq!(ssh.1.2.as_deref(), Some("ssh"));
    assert_eq!(ssh.1.3.as_deref(), Some("OpenSSH"));
    let https = seen
        .iter()
        .find(|(a, (p, ..))| a == TARGET && *p == 443)
        .unwrap_or_else(|| panic!("no 443/tcp in {seen:?}"));
    assert_eq!(https.1.5.as_deref(), Some("ssl"), "{https:?}");
    assert!(
        parsed["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("2 IP addresses"),
        "{parsed}"
    );

    // nmap's own stylesheet renders it: every open port of the target is in the HTML.
    let out = Command::new("xsltproc")
        .arg("/usr/share/nmap/nmap.xsl")
        .arg(&xml_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xsltproc (cargo xtask setup installs it): {e}"));
    assert_ok("xsltproc nmap.xsl", &out);
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("<html"), "{html}");
    assert!(
        html.contains("198.18.0.2") && html.contains("2001:2::2"),
        "{html}"
    );
    for port in dozen.ports() {
        let cell = format!(">{port}</td>");
        assert!(
            html.contains(&cell),
            "port {port} missing from the HTML:\n{html}"
        );
    }
    assert!(html.contains("OpenSSH"), "{html}");
    drop(dozen);
}
