//! The bar for -sS: against a namespace target, `tcprax -sS -p-` gives exactly nmap's
//! verdicts (open / closed / filtered) for all 65535 ports, measured in the same test run.
//! nmap comes from Debian's package (`cargo xtask setup` installs it); without it the test
//! fails and says so, since on this project's machines it is always installable.
mod common;

use std::collections::BTreeSet;

fn ports_by_state_tcprax(json: &str) -> (BTreeSet<u16>, BTreeSet<u16>, usize) {
    let mut open = BTreeSet::new();
    let mut filtered = BTreeSet::new();
    let mut closed = 0;
    for v in json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        if v["type"] != "port" {
            continue;
        }
        let port = v["port"].as_u64().unwrap() as u16;
        match v["state"].as_str().unwrap() {
            "open" => {
                open.insert(port);
            }
            "filtered" => {
                filtered.insert(port);
            }
            _ => closed += 1,
        }
    }
    (open, filtered, closed)
}

/// nmap -oG: "Ports: 22/open/tcp//ssh///, 25/filtered/tcp//smtp///\tIgnored State: closed (65525)"
fn ports_by_state_nmap(grepable: &str) -> (BTreeSet<u16>, BTreeSet<u16>, usize) {
    let mut open = BTreeSet::new();
    let mut filtered = BTreeSet::new();
    let mut closed = 0;
    for line in grepable
        .lines()
        .filter(|l| l.starts_with("Host:") && l.contains("Ports:"))
    {
        for field in line.split('\t') {
            if let Some(list) = field.strip_prefix("Ports: ") {
                for entry in list.split(", ") {
                    let mut parts = entry.split('/');
                    let port: u16 = parts.next().unwrap().trim().parse().unwrap();
                    match parts.next().unwrap() {
                        "open" => {
                            open.insert(port);
                        }
                        "filtered" => {
                            filtered.insert(port);
                        }
                        _ => closed += 1,
                    }
                }
            } else if let Some(ignored) = field.strip_prefix("Ignored State: closed (") {
                closed += ignored.trim_end_matches(')').parse::<usize>().unwrap();
            }
        }
    }
    (open, filtered, closed)
}

#[test]
fn syn_scan_all_ports_matches_nmap() {
    let Some(tb) = common::testbed("trxnmap") else {
        return;
    };
    assert!(
        std::path::Path::new("/usr/bin/nmap").exists(),
        "nmap is missing: install the Debian package `nmap` (cargo xtask setup does)"
    );
    let _l = tb.target_listen(&[22, 80, 443, 3306, 8080, 50000]).unwrap();
    tb.target_filter_ports(&[25, 8443, 60000]).unwrap();

    let ours = tb
        .scanner_command(common::bin())
        .args(["-sS", "198.18.0.2", "-p-", "--timeout", "500ms", "-oJ", "-"])
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "tcprax: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let nmap = tb
        .scanner_command("nmap")
        .args([
            "-sS",
            "-n",
            "-Pn",
            "-p-",
            "-T4",
            "--max-retries",
            "2",
            "-oG",
            "-",
            "198.18.0.2",
        ])
        .output()
        .unwrap();
    assert!(
        nmap.status.success(),
        "nmap: {}",
        String::from_utf8_lossy(&nmap.stderr)
    );

    let t = ports_by_state_tcprax(&String::from_utf8_lossy(&ours.stdout));
    let n = ports_by_state_nmap(&String::from_utf8_lossy(&nmap.stdout));
    assert_eq!(t.0, n.0, "open ports differ from nmap's");
    assert_eq!(t.1, n.1, "filtered ports differ from nmap's");
    assert_eq!(t.2, n.2, "closed counts differ from nmap's");
    // And both are right.
    assert_eq!(t.0, BTreeSet::from([22, 80, 443, 3306, 8080, 50000]));
    assert_eq!(t.1, BTreeSet::from([25, 8443, 60000]));
    assert_eq!(t.2, 65535 - 9);
}
