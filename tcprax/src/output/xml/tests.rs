//! Unit tests of the XML printer: printed into a `Vec<u8>`, checked as text, and validated
//! against nmap's DTD with `xmllint` (Debian's libxml2-utils and nmap-common).
use super::super::fixtures::*;
use super::*;
use crate::model::{PortState, PortState::*, Reason::*};
use std::path::Path;
use std::process::{Command, Stdio};

/// 2025-12-01 17:40:00 UTC, a Monday.
const START: u64 = 1_764_610_800;

fn xml_run() -> XmlRun {
    XmlRun {
        args: "tcprax -sS -sV -p 22,80,443 -oX - example.test 2001:db8::1".into(),
        start: UNIX_EPOCH + Duration::from_secs(START),
    }
}

fn run_planned(plan: &ScanPlan, reports: &[PortReport], interrupted: bool) -> String {
    let mut p = XmlPrinter::new(Vec::new(), Verbosity::Normal, xml_run());
    let mut s = summary();
    s.interrupted = interrupted;
    print_scan(&mut p, Some(plan), reports, &s);
    String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

fn run(reports: &[PortReport]) -> String {
    run_planned(&plan(true), reports, false)
}

/// Runs `xmllint --noout --dtdvalid` with nmap's DTD on `xml`; panics with its complaints.
pub(crate) fn assert_valid(xml: &str) {
    let dtd = "/usr/share/nmap/nmap.dtd";
    assert!(
        Path::new(dtd).exists(),
        "{dtd} missing: install nmap-common (cargo xtask setup)"
    );
    let mut child = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", dtd, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run xmllint (libxml2-utils, cargo xtask setup): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(xml.as_bytes())
            .unwrap_or_else(|e| panic!("writing to xmllint: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for xmllint: {e}"));
    assert!(
        out.status.success(),
        "xmllint rejected the output:\n{}\n--- output ---\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hosts_are_written_as_they_complete() {
    let reports = [
        report("2001:db8::1", 80, Open, SynAck),
        https("198.18.0.2"),
        report("198.18.0.2", 80, Closed, Reset),
        ssh("198.18.0.2"),
        report("2001:db8::1", 443, Filtered, NoResponse),
    ];
    let text = run(&reports);
    let version = env!("CARGO_PKG_VERSION");
    let head = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!DOCTYPE nmaprun>
<!-- tcprax {version} scan initiated Mon Dec  1 17:40:00 2025 -->
<nmaprun scanner=\"nmap\" args=\"tcprax -sS -sV -p 22,80,443 -oX - example.test 2001:db8::1\" \
start=\"{START}\" startstr=\"Mon Dec  1 17:40:00 2025\" version=\"{version}\" xmloutputversion=\"1.05\">
<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"3\" services=\"22,80,443\"/>
<verbose level=\"0\"/>
<debugging level=\"0\"/>
"
    );
    assert!(text.starts_with(&head), "{text}");
    let first = "\
<host><status state=\"up\" reason=\"user-set\" reason_ttl=\"0\"/>
<address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>
<hostnames>
<hostname name=\"example.test\" type=\"user\"/>
</hostnames>
<ports>
<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>\
<service name=\"ssh\" product=\"OpenSSH\" version=\"9.2p1\" method=\"probed\" conf=\"10\"/></port>
<port protocol=\"tcp\" portid=\"80\"><state state=\"closed\" reason=\"reset\" reason_ttl=\"64\"/></port>
<port protocol=\"tcp\" portid=\"443\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>\
<service name=\"http\" product=\"nginx\" version=\"1.24.0\" tunnel=\"ssl\" method=\"probed\" conf=\"10\"/></port>
</ports>
</host>
";
    // The IPv4 host completes with the fourth report, the IPv6 one only at the end (2 of 3
    // ports), so it is written second.
    let body = &text[head.len()..];
    assert!(body.starts_with(first), "{body}");
    let second = &body[first.len()..];
    assert!(
        second.starts_with(
            "<host><status state=\"up\" reason=\"user-set\" reason_ttl=\"0\"/>
<address addr=\"2001:db8::1\" addrtype=\"ipv6\"/>
<hostnames>
</hostnames>
<ports>
<port protocol=\"tcp\" portid=\"80\">"
        ),
        "{second}"
    );
    assert!(
        text.ends_with(
            "<runstats><finished time=\"1764610801\" timestr=\"Mon Dec  1 17:40:01 2025\" \
elapsed=\"1.50\" summary=\"tcprax done at Mon Dec  1 17:40:01 2025; 2 IP addresses (2 up) \
scanned in 1.50 seconds\" exit=\"success\"/>
<hosts up=\"2\" down=\"0\" total=\"2\"/>
</runstats>
</nmaprun>
"
        ),
        "{text}"
    );
    assert_valid(&text);
}

#[test]
fn host_is_written_before_the_scan_ends() {
    let mut p = XmlPrinter::new(Vec::new(), Verbosity::Normal, xml_run());
    let mut plan = plan(false);
    plan.port_count = 2;
    let result = (|| {
        p.plan(&plan)?;
        p.port(&report("198.18.0.3", 22, Open, Connected))?;
        p.port(&report("198.18.0.3", 23, Closed, Refused))
    })();
    result.unwrap_or_else(|e| panic!("printing into a Vec failed: {e}"));
    let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"));
    assert!(text.ends_with("</ports>\n</host>\n"), "{text}");
    assert!(!text.contains("runstats"), "{text}");
}

#[test]
fn hostile_text_is_escaped() {
    let mut r = ssh("198.18.0.2");
    if let Some(s) = r.service.as_mut() {
        s.service = Some("ssh\"/><evil a='1'>".into());
        s.product = Some("Evil & Co <b>\u{1b}[31m\u{0}\u{202E}\u{FFFF}".into());
        s.version = Some("1.0\r\n</service>".into());
    }
    let mut plan = plan(true);
    plan.port_count = 1;
    plan.ports = "22<&>".into();
    let mut p = XmlPrinter::new(
        Vec::new(),
        Verbosity::Normal,
        XmlRun {
            args: "tcprax \"-p\" '<22>' & \u{7}".into(),
            ..xml_run()
        },
    );
    let mut named = r.clone();
    named.name = Some("a\"b<c>&d".into());
    let result = (|| {
        p.plan(&plan)?;
        p.port(&named)?;
        p.finish(&summary())
    })();
    result.unwrap_or_else(|e| panic!("printing into a Vec failed: {e}"));
    let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"));
    assert!(
        text.contains("args=\"tcprax &quot;-p&quot; &apos;&lt;22&gt;&apos; &amp; .\""),
        "{text}"
    );
    assert!(text.contains("services=\"22&lt;&amp;&gt;\""), "{text}");
    assert!(
        text.contains("<hostname name=\"a&quot;b&lt;c&gt;&amp;d\" type=\"user\"/>"),
        "{text}"
    );
    assert!(
        text.contains(
            "<service name=\"ssh&quot;/&gt;&lt;evil a=&apos;1&apos;&gt;\" \
             product=\"Evil &amp; Co &lt;b&gt;.[31m...\" version=\"1.0..&lt;/service&gt;\""
        ),
        "{text}"
    );
    assert_valid(&text);
}

#[test]
fn unreachable_is_filtered_with_our_reason() {
    let mut plan = plan(false);
    plan.port_count = 4;
    let reports = [
        report("198.18.0.9", 22, PortState::Unreachable, NoRoute),
        report(
            "198.18.0.9",
            23,
            PortState::Unreachable,
            SendFailed { errno: 13 },
        ),
        report("198.18.0.9", 24, Filtered, IcmpUnreachable),
        report("198.18.0.9", 25, Closed, Refused),
    ];
    let text = run_planned(&plan, &reports, true);
    for line in [
        "<port protocol=\"tcp\" portid=\"22\"><state state=\"filtered\" reason=\"no-route\" reason_ttl=\"0\"/></port>",
        "<port protocol=\"tcp\" portid=\"23\"><state state=\"filtered\" reason=\"send-failed\" reason_ttl=\"0\"/></port>",
        "<port protocol=\"tcp\" portid=\"24\"><state state=\"filtered\" reason=\"icmp-unreachable\" reason_ttl=\"63\"/></port>",
        "<port protocol=\"tcp\" portid=\"25\"><state state=\"closed\" reason=\"conn-refused\" reason_ttl=\"0\"/></port>",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(!text.contains("state=\"unreachable\""), "{text}");
    assert!(
        text.contains("exit=\"error\" errormsg=\"interrupted: results are partial\"/>"),
        "{text}"
    );
    assert_valid(&text);
}

#[test]
fn many_non_open_ports_become_extraports() {
    let mut reports: Vec<PortReport> = (1000..2000)
        .map(|p| report("198.18.0.3", p, Closed, Reset))
        .collect();
    reports.extend((2000..2020).map(|p| report("198.18.0.3", p, Filtered, NoResponse)));
    reports.extend((2020..2032).map(|p| report("198.18.0.3", p, PortState::Unreachable, NoRoute)));
    reports.push(report("198.18.0.3", 22, Open, SynAck));
    let mut plan = plan(false);
    plan.port_count = reports.len();
    let text = run_planned(&plan, &reports, false);
    assert!(
        text.contains(
            "<ports>
<extraports state=\"closed\" count=\"1000\">
<extrareasons reason=\"reset\" count=\"1000\" proto=\"tcp\"/>
</extraports>
<extraports state=\"filtered\" count=\"32\">
<extrareasons reason=\"no-response\" count=\"20\" proto=\"tcp\"/>
<extrareasons reason=\"no-route\" count=\"12\" proto=\"tcp\"/>
</extraports>
<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/></port>
</ports>"
        ),
        "{text}"
    );
    assert_eq!(text.matches("<port ").count(), 1, "{text}");
    assert_valid(&text);
}

#[test]
fn no_host_and_no_plan_is_still_valid() {
    let mut p = XmlPrinter::new(Vec::new(), Verbosity::Verbose, xml_run());
    p.finish(&summary())
        .unwrap_or_else(|e| panic!("printing into a Vec failed: {e}"));
    let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"));
    assert!(text.contains("<verbose level=\"1\"/>"), "{text}");
    assert!(
        text.contains("<hosts up=\"0\" down=\"0\" total=\"0\"/>"),
        "{text}"
    );
    assert_valid(&text);
}

#[test]
fn ctime_matches_c() {
    assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
    assert_eq!(ctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    assert_eq!(ctime(START), "Mon Dec  1 17:40:00 2025");
}

/// Every field of a -sV result that nmap's `<service>` has a place for is written, escaped, in
/// nmap's attribute order, with one `<cpe>` child per CPE name; the document stays DTD-valid.
#[test]
fn service_carries_every_nmap_field_and_cpes() {
    let mut r = https("198.18.0.2");
    if let Some(s) = r.service.as_mut() {
        s.extrainfo = Some("protocol 2.0 & \"more\"".into());
        s.hostname = Some("www<1>.example.test".into());
        s.os = Some("Linux".into());
        s.device_type = Some("general purpose".into());
        s.cpe = vec![
            "cpe:/a:igor_sysoev:nginx:1.24.0".into(),
            "cpe:/o:linux:linux_kernel<&>".into(),
        ];
    }
    let mut plan = plan(true);
    plan.port_count = 1;
    let text = run_planned(&plan, &[r], false);
    let expected = "<port protocol=\"tcp\" portid=\"443\"><state state=\"open\" reason=\"syn-ack\" \
reason_ttl=\"64\"/><service name=\"http\" product=\"nginx\" version=\"1.24.0\" \
extrainfo=\"protocol 2.0 &amp; &quot;more&quot;\" hostname=\"www&lt;1&gt;.example.test\" \
ostype=\"Linux\" devicetype=\"general purpose\" tunnel=\"ssl\" method=\"probed\" conf=\"10\">\
<cpe>cpe:/a:igor_sysoev:nginx:1.24.0</cpe><cpe>cpe:/o:linux:linux_kernel&lt;&amp;&gt;</cpe>\
</service></port>\n";
    assert!(text.contains(expected), "{expected}\nmissing from:\n{text}");
    assert_valid(&text);
}
