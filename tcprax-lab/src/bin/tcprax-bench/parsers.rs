//! Each tool's output file read back into open (address, port) pairs, and the nftables
//! counters of the target; text in, plain values out, so every format has a unit test.
use std::net::Ipv4Addr;

/// What tcprax's `-oJ` file says: open ports and the summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TcpraxReport {
    pub open: Vec<(Ipv4Addr, u16)>,
    pub probes_sent: Option<u64>,
    /// The summary's counts of closed and filtered ports.
    pub closed: Option<u64>,
    pub filtered: Option<u64>,
    pub ringbuf_full: u64,
    pub interrupted: bool,
}

/// Read tcprax's `-oJ` JSON lines; lines that are not JSON are skipped.
pub fn parse_tcprax_json(text: &str) -> TcpraxReport {
    let mut report = TcpraxReport::default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match v["type"].as_str() {
            Some("port") if v["state"] == "open" => {
                let addr = v["addr"].as_str().and_then(|a| a.parse().ok());
                let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
                if let (Some(addr), Some(port)) = (addr, port) {
                    report.open.push((addr, port));
                }
            }
            Some("summary") => {
                report.probes_sent = v["probes_sent"].as_u64();
                report.closed = v["closed"].as_u64();
                report.filtered = v["filtered"].as_u64();
                report.ringbuf_full = v["xdp"]["ringbuf_full"].as_u64().unwrap_or(0);
                report.interrupted = v["interrupted"].as_bool().unwrap_or(false);
            }
            _ => {}
        }
    }
    report
}

/// masscan `-oL`: `open tcp PORT ADDR TIMESTAMP`.
pub fn parse_masscan_list(text: &str) -> Vec<(Ipv4Addr, u16)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["open", "tcp", port, addr, ..] => Some((addr.parse().ok()?, port.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

/// nmap `-oG`: `Host: ADDR ()<TAB>Ports: 22/open/tcp//ssh///, 80/open/tcp//http///`.
pub fn parse_nmap_grep(text: &str) -> Vec<(Ipv4Addr, u16)> {
    let mut open = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let Some(addr) = fields
            .next()
            .and_then(|f| f.strip_prefix("Host: "))
            .and_then(|f| f.split_whitespace().next())
            .and_then(|a| a.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        for ports in fields.filter_map(|f| f.strip_prefix("Ports: ")) {
            for entry in ports.split(", ") {
                let mut parts = entry.split('/');
                if let (Some(port), Some("open")) = (parts.next(), parts.next())
                    && let Ok(port) = port.trim().parse()
                {
                    open.push((addr, port));
                }
            }
        }
    }
    open
}

/// zmap `-o` with the default output fields: one responding address per line.
pub fn parse_zmap(text: &str, port: u16) -> Vec<(Ipv4Addr, u16)> {
    text.lines()
        .filter_map(|l| l.trim().parse().ok())
        .map(|a| (a, port))
        .collect()
}

/// `nft list counters` text: `counter inet trxbench syns { packets 12 bytes 480 }`, one per name.
pub fn parse_nft_counters(text: &str) -> Option<(u64, u64)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let value = |name: &str| -> Option<u64> {
        let at = words.iter().position(|w| *w == name)?;
        let rest = &words[at..];
        let p = rest.iter().position(|w| *w == "packets")?;
        rest.get(p + 1)?.parse().ok()
    };
    Some((value("syns")?, value("rsts")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub fn tcprax_json_gives_open_ports_and_summary() {
        let text = r#"{"type":"plan","tcprax":"0.1.0"}
{"type":"port","addr":"198.19.0.1","port":22,"state":"open","reason":"syn-ack","rtt_us":210}
{"type":"port","addr":"198.19.0.1","port":81,"state":"closed","reason":"reset","rtt_us":210}
{"type":"summary","elapsed_s":1.5,"probes_sent":6,"closed":1,"filtered":0,"interrupted":false,"xdp":{"seen":9,"matched":4,"passed":5,"ringbuf_full":3,"bad_cookie":0}}
not json"#;
        let r = parse_tcprax_json(text);
        assert_eq!(r.open, vec![("198.19.0.1".parse().unwrap(), 22)]);
        assert_eq!(r.probes_sent, Some(6));
        assert_eq!((r.closed, r.filtered), (Some(1), Some(0)));
        assert_eq!(r.ringbuf_full, 3);
        assert!(!r.interrupted);
    }

    #[test]
    pub fn masscan_list_lines() {
        let text = "#masscan\nopen tcp 8080 198.19.1.171 1795499696\nopen tcp 80 198.19.2.94 1795499696\n# end\n";
        assert_eq!(
            parse_masscan_list(text),
            vec![
                ("198.19.1.171".parse().unwrap(), 8080),
                ("198.19.2.94".parse().unwrap(), 80)
            ]
        );
    }

    #[test]
    pub fn nmap_grepable_open_ports_only() {
        let text = "# Nmap 7.93 scan initiated\n\
            Host: 198.19.0.1 ()\tStatus: Up\n\
            Host: 198.19.0.1 ()\tPorts: 22/open/tcp//ssh///, 80/filtered/tcp//http///, 443/open/tcp//https///\n\
            # Nmap done\n";
        let a: Ipv4Addr = "198.19.0.1".parse().unwrap();
        assert_eq!(parse_nmap_grep(text), vec![(a, 22), (a, 443)]);
    }

    #[test]
    pub fn zmap_addresses_get_the_port() {
        let text = "198.19.93.159\n198.19.117.174\n\n";
        assert_eq!(
            parse_zmap(text, 80),
            vec![
                ("198.19.93.159".parse().unwrap(), 80),
                ("198.19.117.174".parse().unwrap(), 80)
            ]
        );
    }

    #[test]
    pub fn nft_counters_by_name() {
        let text = "table inet trxbench {\n\tcounter syns {\n\t\tpackets 12 bytes 480\n\t}\n\
                    \tcounter rsts {\n\t\tpackets 3 bytes 120\n\t}\n}\n";
        assert_eq!(parse_nft_counters(text), Some((12, 3)));
        assert_eq!(parse_nft_counters("table inet trxbench {\n}"), None);
    }
}
