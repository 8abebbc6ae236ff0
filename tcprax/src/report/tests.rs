//! Unit tests of the report: pages built from the printers' own output for the fixture scan
//! (so the readers are tested against what tcprax writes), hostile values, certificate order,
//! and every kind of bad input.
use super::html::{days_left, esc};
use super::*;
use crate::config::Verbosity;
use crate::model::{CertInfo, PortReport, PortState, Reason, ScanSummary};
use crate::output::fixtures::{self, https, ip, plan, report, ssh, summary};
use crate::output::{JsonPrinter, Printer, XmlPrinter, XmlRun};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2026-12-01T00:00:00Z: the fixture certificate (not after 2026-01-01) expired 334 days ago.
const NOW: u64 = 20_788 * 86_400;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// The fixture scan: ssh and https open on the named host, 80 closed, IPv6 443 filtered.
fn fixture_reports() -> Vec<PortReport> {
    vec![
        ssh("198.18.0.2"),
        https("198.18.0.2"),
        report("198.18.0.2", 80, PortState::Closed, Reason::Reset),
        report("2001:db8::1", 443, PortState::Filtered, Reason::NoResponse),
    ]
}

fn jsonl(reports: &[PortReport], summary: Option<&ScanSummary>) -> Vec<u8> {
    let mut printer = JsonPrinter::new(Vec::new());
    let mut print = || -> std::io::Result<()> {
        printer.plan(&plan(true))?;
        for r in reports {
            printer.port(&fixtures::named(r))?;
        }
        if let Some(s) = summary {
            printer.finish(s)?;
        }
        Ok(())
    };
    print().unwrap_or_else(|e| panic!("printing into a Vec: {e}"));
    printer.into_inner()
}

fn xml(reports: &[PortReport]) -> Vec<u8> {
    let run = XmlRun {
        args: "tcprax -sS -sV -p 22,80,443 -oX - example.test 2001:db8::1".into(),
        start: UNIX_EPOCH + Duration::from_secs(NOW),
    };
    let mut printer = XmlPrinter::new(Vec::new(), Verbosity::Normal, run);
    fixtures::print_scan(&mut printer, Some(&plan(true)), reports, &summary());
    printer.into_inner()
}

fn data_from(name: &str, bytes: &[u8]) -> ScanData {
    let mut data = ScanData::new();
    read(name, bytes, &mut data).unwrap_or_else(|e| panic!("{name}: {e}"));
    data
}

fn page_of(bytes: &[u8]) -> String {
    render(&data_from("scan.jsonl", bytes), now())
}

fn read_error(bytes: &[u8]) -> String {
    let mut data = ScanData::new();
    match read("bad.jsonl", bytes, &mut data) {
        Ok(()) => panic!(
            "{:?} was read without an error",
            String::from_utf8_lossy(bytes)
        ),
        Err(e) => e.to_string(),
    }
}

const SECTIONS: [(&str, &str); 6] = [
    ("summary", "Summary"),
    ("plots", "Plots"),
    ("hosts", "Hosts"),
    ("ports", "Ports"),
    ("services", "Services"),
    ("certificates", "TLS certificates"),
];

#[test]
fn page_from_fixture_json_has_every_section_and_plot() {
    let page = page_of(&jsonl(&fixture_reports(), Some(&summary())));
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..80]);
    for (id, heading) in SECTIONS {
        assert!(
            page.contains(&format!("<section id=\"{id}\">\n<h2>{heading}</h2>")),
            "no section {id}"
        );
    }
    for plot in ["plot-services", "plot-heatmap", "plot-rtt", "plot-versions"] {
        let at = page
            .find(&format!("<figure id=\"{plot}\">"))
            .unwrap_or_else(|| panic!("no figure {plot}"));
        let figure = &page[at..page[at..].find("</figure>").map_or(page.len(), |e| at + e)];
        assert!(figure.contains("<svg "), "{plot} has no SVG: {figure}");
        assert!(figure.contains("<rect"), "{plot} draws nothing: {figure}");
    }
    // The tables carry the fixture's values.
    for needle in [
        "<td>example.test</td>",
        "OpenSSH",
        "9.2p1",
        "nginx",
        "1.24.0",
        "<td class=\"open\">open</td>",
        "<td class=\"closed\">closed</td>",
        "<td class=\"filtered\">filtered</td>",
        "no-response",
        "<td class=\"n\">1.50</td>",
        "example.test, www.example.test",
        "CN=example.test",
        "expired 334 days ago",
        "198.18.0.2:443",
    ] {
        assert!(page.contains(needle), "page lacks {needle:?}");
    }
    // The version chart labels the product and version; the service chart the service.
    assert!(page.contains("OpenSSH 9.2p1"));
    assert!(page.contains(">\nssh\n</text>"));
}

#[test]
fn page_loads_nothing_and_runs_nothing() {
    let page = page_of(&jsonl(&fixture_reports(), Some(&summary())));
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'"
    ));
    for banned in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", " src=",
    ] {
        assert!(!page.contains(banned), "page contains {banned:?}");
    }
    // Links only to anchors on the page; SVG namespaces are identifiers, not fetches.
    for (at, _) in page.match_indices("href=\"") {
        assert_eq!(&page[at + 6..at + 7], "#", "{}", &page[at..at + 40]);
    }
}

#[test]
fn hostile_values_are_escaped_everywhere() {
    let mut evil = ssh("198.18.0.9");
    let service = evil.service.as_mut().expect("ssh fixture has a service");
    service.service = Some("<svg onload=alert(1)>".into());
    service.product = Some("<script>alert(1)</script>".into());
    service.version = Some("\"><img src=x onerror=alert(2)>".into());
    let mut tls = https("198.18.0.9");
    let cert = tls
        .service
        .as_mut()
        .and_then(|s| s.tls.as_mut())
        .and_then(|t| t.certificate.as_mut())
        .expect("https fixture has a certificate");
    *cert = CertInfo {
        subject_cn: Some("</td><iframe src=//evil.test>".into()),
        sans: vec!["a&b".into(), "<b>bold</b>".into()],
        issuer: Some("CN='quoted' \u{1b}[31m".into()),
        not_after: Some("<not a date>".into()),
        ..cert.clone()
    };
    service.extrainfo = Some("<i>extra</i>".into());
    let page = page_of(&jsonl(&[evil, tls], Some(&summary())));
    assert!(page.contains("<span class=\"dim\">(&lt;i&gt;extra&lt;/i&gt;)</span>"));
    for raw in ["<script", "<img", "<iframe", "<svg onload", "<b>bold"] {
        assert!(!page.contains(raw), "unescaped {raw:?} in the page");
    }
    for escaped in [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;",
        "&lt;/td&gt;&lt;iframe src=//evil.test&gt;",
        "a&amp;b",
        "CN=&#39;quoted&#39; .[31m",
    ] {
        assert!(page.contains(escaped), "page lacks {escaped:?}");
    }
    // plotters escaped the chart labels itself (and control characters are gone).
    assert!(page.contains("&lt;svg onload=alert(1)&gt;"));
    assert!(!page.contains('\u{1b}'));
}

#[test]
fn esc_covers_markup_quotes_and_controls() {
    assert_eq!(
        esc("<a href='x'>&\"</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    );
    assert_eq!(esc("ok\u{7}\u{202e}"), "ok..");
}

fn cert_report(addr: &str, cn: &str, not_after: Option<&str>) -> PortReport {
    let mut r = https(addr);
    let cert = r
        .service
        .as_mut()
        .and_then(|s| s.tls.as_mut())
        .and_then(|t| t.certificate.as_mut())
        .expect("https fixture has a certificate");
    cert.subject_cn = Some(cn.into());
    cert.not_after = not_after.map(str::to_owned);
    cert.sha256 = format!("{cn:0>64}");
    r
}

#[test]
fn certificates_soonest_expiry_first() {
    let reports = [
        cert_report("198.18.0.10", "later.test", Some("2027-06-01T00:00:00Z")),
        cert_report("198.18.0.11", "undated.test", None),
        cert_report("198.18.0.12", "soon.test", Some("2026-12-11T00:00:00Z")),
        cert_report("198.18.0.13", "expired.test", Some("2026-11-30T12:00:00Z")),
        cert_report("198.18.0.14", "soon.test", Some("2026-12-11T00:00:00Z")),
    ];
    let data = data_from("certs.jsonl", &jsonl(&reports, Some(&summary())));
    let certs = data.certificates();
    let order: Vec<&str> = certs
        .iter()
        .filter_map(|(c, _)| c.subject_cn.as_deref())
        .collect();
    assert_eq!(
        order,
        ["expired.test", "soon.test", "later.test", "undated.test"]
    );
    // One row per certificate, with every port that served it.
    assert_eq!(
        certs[1].1,
        [(ip("198.18.0.12"), 443), (ip("198.18.0.14"), 443)]
    );
    let now_s = i64::try_from(NOW).expect("fits");
    let days: Vec<Option<i64>> = certs.iter().map(|(c, _)| days_left(c, now_s)).collect();
    assert_eq!(days, [Some(-1), Some(10), Some(182), None]);

    let page = render(&data, now());
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("<td>expired.test</td>") < at("<td>soon.test</td>"));
    assert!(at("<td>soon.test</td>") < at("<td>later.test</td>"));
    assert!(at("<td>later.test</td>") < at("<td>undated.test</td>"));
    assert!(page.contains("<tr class=\"bad\"><td>expired.test</td>"));
    assert!(page.contains("<tr class=\"warn\"><td>soon.test</td>"));
    assert!(page.contains("<tr class=\"\"><td>later.test</td>"));
    assert!(page.contains("expired 1 day ago"));
    // The summary card counts the expired and the soon one.
    assert!(page.contains("<b>2</b><span>expired or expiring within 30 days</span>"));
}

#[test]
fn xml_gives_the_same_hosts_and_ports_as_json() {
    let from_json = data_from("scan.jsonl", &jsonl(&fixture_reports(), Some(&summary())));
    let from_xml = data_from("scan.xml", &xml(&fixture_reports()));
    assert_eq!(from_xml.hosts, from_json.hosts);
    let ports = |d: &ScanData| -> Vec<(std::net::IpAddr, u16, PortState)> {
        let mut v: Vec<_> = d
            .open
            .values()
            .chain(&d.others)
            .map(|p| (p.addr, p.port, p.state))
            .collect();
        v.sort();
        v
    };
    assert_eq!(ports(&from_xml), ports(&from_json));
    let ssh = &from_xml.open[&(ip("198.18.0.2"), 22)];
    let service = ssh.service.as_ref().expect("XML keeps the service");
    assert_eq!(
        (
            service.name.as_deref(),
            service.product_version().as_deref()
        ),
        (Some("ssh"), Some("OpenSSH 9.2p1"))
    );
    assert!(
        from_xml.open[&(ip("198.18.0.2"), 443)]
            .service
            .as_ref()
            .is_some_and(|s| s.tls)
    );
    assert_eq!(from_xml.runs[0].format, "nmap XML");
    assert_eq!(from_xml.runs[0].interrupted, Some(false));
    let page = render(&from_xml, now());
    for (id, _) in SECTIONS {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(page.contains("No round-trip time in the input"));
}

#[test]
fn nmaps_own_xml_with_extraports_and_a_down_host() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sS 198.18.0.0/30" start="1" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="1000" services="1-1000"/>
<host><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="198.18.0.1" addrtype="ipv4"/></host>
<host><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/><address addr="02:00:00:00:00:02" addrtype="mac"/>
<hostnames><hostname name="t.example" type="PTR"/></hostnames>
<ports><extraports state="closed" count="997"><extrareasons reason="reset" count="997" proto="tcp"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1" method="probed" conf="10"/></port>
<port protocol="tcp" portid="80"><state state="filtered" reason="no-response" reason_ttl="0"/></port>
<port protocol="udp" portid="53"><state state="open" reason="udp-response" reason_ttl="64"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="https" tunnel="ssl" method="table" conf="3"/></port>
</ports></host>
<runstats><finished time="2" elapsed="1.25" exit="success"/><hosts up="1" down="1" total="2"/></runstats>
</nmaprun>
"#;
    let data = data_from("nmap.xml", doc);
    assert_eq!(data.hosts.len(), 1, "the down host is left out");
    let host = &data.hosts[&ip("198.18.0.2")];
    assert_eq!(
        (host.name.as_deref(), host.open, host.closed, host.filtered),
        (Some("t.example"), 2, 997, 1)
    );
    assert_eq!(data.others_unlisted, 997);
    assert_eq!(data.runs[0].elapsed_s, Some(1.25));
    assert_eq!(data.runs[0].scan_type.as_deref(), Some("syn"));
    assert_eq!(data.runs[0].ports.as_deref(), Some("1-1000"));
}

#[test]
fn several_files_fold_into_one_page() {
    let a = jsonl(&[ssh("198.18.0.2")], Some(&summary()));
    let b = jsonl(&[https("198.18.1.7"), ssh("198.18.0.2")], None);
    let mut data = ScanData::new();
    read("a.jsonl", &a[..], &mut data).expect("a");
    read("b.jsonl", &b[..], &mut data).expect("b");
    assert_eq!(data.runs.len(), 2);
    assert_eq!(data.runs[1].interrupted, None, "b has no summary line");
    assert_eq!(data.open.len(), 2, "the same open port twice is one row");
    // A later file without -sV keeps what the earlier one found.
    let c = jsonl(
        &[report("198.18.1.7", 443, PortState::Open, Reason::SynAck)],
        None,
    );
    read("c.jsonl", &c[..], &mut data).expect("c");
    let kept = &data.open[&(ip("198.18.1.7"), 443)];
    assert!(
        kept.service.as_ref().is_some_and(|s| s.cert.is_some()),
        "{kept:?}"
    );
    let (rows, left_out) = svg::heat_rows(&data);
    assert_eq!(left_out, 0);
    assert_eq!(
        rows.iter().map(|r| r.prefix).collect::<Vec<_>>(),
        [[198, 18, 0], [198, 18, 1]]
    );
    assert_eq!(rows[1].cells[7], Some(1));
    assert_eq!(rows[1].cells[8], None);
    let page = render(&data, now());
    assert!(page.contains("no end record: the scan did not finish"));
    assert!(page.contains("198.18.1.0/24"));
}

#[test]
fn ports_beyond_the_listing_limit_are_counted() {
    let closed: Vec<PortReport> = (1..=u16::try_from(LISTED_LIMIT + 5).expect("fits"))
        .map(|p| report("198.18.0.3", p, PortState::Closed, Reason::Reset))
        .collect();
    let data = data_from("many.jsonl", &jsonl(&closed, Some(&summary())));
    assert_eq!(data.others.len(), LISTED_LIMIT);
    assert_eq!(data.others_unlisted, 5);
    assert_eq!(
        data.hosts[&ip("198.18.0.3")].closed,
        LISTED_LIMIT as u64 + 5
    );
    let page = render(&data, now());
    assert!(page.contains("Not shown: 5 more ports"));
    assert!(page.contains("No open port."));
}

#[test]
fn rtt_bins_have_a_round_width() {
    assert_eq!(svg::rtt_bins(&[]), (1, vec![0]));
    assert_eq!(
        svg::rtt_bins(&[0, 5, 23]),
        (1, {
            let mut v = vec![0; 24];
            v[0] = 1;
            v[5] = 1;
            v[23] = 1;
            v
        })
    );
    let (width, counts) = svg::rtt_bins(&[210, 210, 1500]);
    assert_eq!(width, 100);
    assert_eq!(counts.len(), 16);
    assert_eq!((counts[2], counts[15]), (2, 1));
    let (width, counts) = svg::rtt_bins(&[3_000_000]);
    assert_eq!((width, counts.len()), (200_000, 16));
}

#[test]
fn truncated_file_names_the_line() {
    let mut bytes = jsonl(&fixture_reports(), None);
    bytes.truncate(bytes.len() - 20);
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    let msg = read_error(&bytes);
    assert_eq!(
        msg,
        format!("bad.jsonl:{lines}: the file ends in the middle of a record (truncated?)")
    );
}

#[test]
fn non_json_line_names_the_line() {
    let mut bytes = jsonl(&fixture_reports(), None);
    let second = bytes.iter().position(|&b| b == b'\n').expect("a line") + 1;
    bytes.splice(second..second, b"Starting tcprax 0.1.0\n".iter().copied());
    let msg = read_error(&bytes);
    assert!(
        msg.starts_with("bad.jsonl:2: not a valid JSON lines record: "),
        "{msg}"
    );
}

#[test]
fn wrong_shapes_and_formats_are_errors() {
    let cases: [(&[u8], &str); 8] = [
        (b"", "bad.jsonl: the file is empty"),
        (b"\n\n  \n", "bad.jsonl: the file is empty"),
        (b"hello\n", "bad.jsonl:1: neither tcprax JSON lines (-oJ) nor nmap XML (-oX)"),
        (
            b"{\"type\":\"port\",\"addr\":\"198.18.0.300\",\"port\":22,\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_us\":1}\n",
            "bad.jsonl:1: not a valid JSON lines record: invalid IP address syntax",
        ),
        (
            b"{\"type\":\"plan\"}\n{\"type\":\"port\",\"addr\":\"198.18.0.3\",\"port\":22,\"state\":\"ajar\",\"reason\":\"x\"}\n",
            "bad.jsonl:2: not a valid JSON lines record: unknown variant `ajar`",
        ),
        (b"\xff\xfe{\n", "bad.jsonl:1: neither tcprax JSON lines"),
        (b"<html><body>no</body></html>", "bad.jsonl:1: XML, but not nmap's"),
        (
            b"<?xml version=\"1.0\"?>\n<nmaprun>\n<host><status state=\"up\"/>\n<address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>\n",
            "bad.jsonl:5: the file ends in the middle of a record",
        ),
    ];
    for (bytes, want) in cases {
        let msg = read_error(bytes);
        assert!(
            msg.starts_with(want),
            "{:?}: got {msg:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn malformed_xml_names_the_line() {
    let doc = b"<nmaprun>\n<host>\n<status state=\"up\"/>\n<address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>\n<ports><port protocol=\"tcp\" portid=\"22\"><state state=\"open\"></port>\n</host></nmaprun>\n";
    let msg = read_error(doc);
    assert!(msg.starts_with("bad.jsonl:5: not valid XML: "), "{msg}");
    let doc = b"<nmaprun>\n<host><status state=\"up\"/><address addr=\"nope\" addrtype=\"ipv4\"/></host>\n</nmaprun>\n";
    assert_eq!(read_error(doc), "bad.jsonl:2: bad address 'nope'");
    let doc = b"<nmaprun>\n<host><status state=\"up\"/><address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>\n<ports><port protocol=\"tcp\" portid=\"70000\"/></ports></host></nmaprun>\n";
    assert_eq!(read_error(doc), "bad.jsonl:3: bad portid '70000'");
}

#[test]
fn unknown_record_types_and_fields_are_ignored() {
    let mut bytes = b"{\"type\":\"progress\",\"done\":3}\n".to_vec();
    bytes.extend(jsonl(&[ssh("198.18.0.2")], Some(&summary())));
    let text = String::from_utf8(bytes).expect("utf-8");
    let text = text.replace("\"port\":22,", "\"port\":22,\"new_field\":[1,2],");
    let data = data_from("new.jsonl", text.as_bytes());
    assert_eq!(data.open.len(), 1);
}

#[test]
fn nmap_ssl_cert_script_becomes_a_certificate_row() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -sV --script ssl-cert -p 443,8443 198.18.0.2">
<host><status state="up" reason="user-set"/><address addr="198.18.0.2" addrtype="ipv4"/>
<ports>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/><service name="http" product="nginx" tunnel="ssl"/>
<script id="ssl-cert" output="Subject: commonName=lab.test">
<table key="subject"><elem key="commonName">lab.test</elem><elem key="organizationName">Lab &amp; Co</elem></table>
<table key="issuer"><elem key="commonName">Lab CA</elem></table>
<table key="extensions">
<table><elem key="name">X509v3 Basic Constraints</elem><elem key="value">CA:FALSE</elem></table>
<table><elem key="name">X509v3 Subject Alternative Name</elem><elem key="value">DNS:lab.test, DNS:&lt;b&gt;.lab.test</elem></table>
</table>
<table key="validity"><elem key="notBefore">2026-01-01T00:00:00</elem><elem key="notAfter">2026-12-08T00:00:00</elem></table>
<elem key="sha1">AABBCC</elem>
</script></port>
<port protocol="tcp" portid="8443"><state state="open" reason="syn-ack"/>
<script id="ssl-cert" output="Subject: commonName=self.test">
<table key="subject"><elem key="commonName">self.test</elem></table>
<table key="issuer"><elem key="commonName">self.test</elem></table>
<table key="validity"><elem key="notAfter">2026-11-01T00:00:00</elem></table>
<elem key="sha256">DDEEFF</elem>
</script></port>
</ports></host>
</nmaprun>
"#;
    let data = data_from("certs.xml", doc);
    let certs = data.certificates();
    assert_eq!(certs.len(), 2);
    let (expired, soon) = (certs[0].0, certs[1].0);
    assert_eq!(expired.subject_cn.as_deref(), Some("self.test"));
    assert!(expired.self_signed);
    assert_eq!(expired.sha256.as_deref(), Some("ddeeff"));
    assert_eq!(soon.subject_cn.as_deref(), Some("lab.test"));
    assert_eq!(soon.issuer.as_deref(), Some("CN=Lab CA"));
    assert_eq!(soon.sans, ["lab.test", "<b>.lab.test"]);
    assert_eq!(soon.not_after.as_deref(), Some("2026-12-08T00:00:00Z"));
    assert!(!soon.self_signed);
    let now_s = i64::try_from(NOW).expect("fits");
    assert_eq!(days_left(soon, now_s), Some(7));
    let https = data.open[&(ip("198.18.0.2"), 443)]
        .service
        .as_ref()
        .expect("service");
    assert_eq!((https.name.as_deref(), https.tls), (Some("http"), true));
    let page = render(&data, now());
    assert!(page.contains("lab.test, &lt;b&gt;.lab.test"));
    assert!(page.contains("expired 30 days ago"));
}
