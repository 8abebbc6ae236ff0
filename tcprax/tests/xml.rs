//! `-oX` end to end: a real -sT run inside a namespace testbed, its XML validated against
//! nmap's DTD with `xmllint` and its port states checked against the listeners we started.
mod common;

use std::process::Command;

const DTD: &str = "/usr/share/nmap/nmap.dtd";

/// The `<port>` line of `port` in `xml`, if there is one.
fn port_line(xml: &str, port: u16) -> Option<&str> {
    let needle = format!("<port protocol=\"tcp\" portid=\"{port}\">");
    xml.lines().find(|l| l.starts_with(&needle))
}

#[test]
fn connect_scan_writes_dtd_valid_xml() {
    let Some(tb) = common::testbed("trxxml") else {
        return;
    };
    let _listeners = tb.target_listen(&[22, 80]).unwrap();
    let path = std::env::temp_dir().join(format!("tcprax-xml-test-{}.xml", std::process::id()));
    let path_arg = path.to_string_lossy().into_owned();
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sT",
            "-p",
            "20-23,80",
            "198.18.0.2",
            "2001:2::2",
            "-oX",
            &path_arg,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tcprax failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);

    let lint = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", DTD, "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(xml.as_bytes())?;
            }
            child.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("cannot run xmllint (cargo xtask setup installs it): {e}"));
    assert!(
        lint.status.success(),
        "xmllint rejected the output:\n{}\n{xml}",
        String::from_utf8_lossy(&lint.stderr)
    );

    assert!(
        xml.contains("<scaninfo type=\"connect\" protocol=\"tcp\" numservices=\"5\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<host>").count(), 2, "{xml}");
    for addr in [
        "<address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>",
        "<address addr=\"2001:2::2\" addrtype=\"ipv6\"/>",
    ] {
        assert!(xml.contains(addr), "{addr} missing:\n{xml}");
    }
    // Each host lists all five ports (few enough closed ones to list), twice over.
    for port in [22, 80] {
        let line = port_line(&xml, port).unwrap_or_else(|| panic!("port {port}:\n{xml}"));
        assert!(
            line.contains(
                "<state state=\"open\" reason=\"conn-established\" reason_ttl=\"0\"/></port>"
            ),
            "{line}"
        );
    }
    for port in [20, 21, 23] {
        let line = port_line(&xml, port).unwrap_or_else(|| panic!("port {port}:\n{xml}"));
        assert!(
            line.contains("<state state=\"closed\" reason=\"conn-refused\" reason_ttl=\"0\"/>"),
            "{line}"
        );
    }
    assert_eq!(xml.matches("<port ").count(), 10, "{xml}");
    assert!(
        xml.contains("<hosts up=\"2\" down=\"0\" total=\"2\"/>\n</runstats>\n</nmaprun>\n"),
        "{xml}"
    );
}
