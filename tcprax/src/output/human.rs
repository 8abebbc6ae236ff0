//! The human report (`-oN`, the default): a plan block before the scan, then per host (sorted
//! by address) a port table (sorted by port) with service details, then a summary block.
//!
//! Lines are sorted, so everything after the plan is buffered in a `HostTable` until `finish`.
//! Closed and filtered ports are summarised ("Not shown: ...") when a host has more than
//! [`LIST_LIMIT`](super::LIST_LIMIT) of a state, as nmap does; hosts that answered nothing at
//! all are summarised the same way when there are many of them.
use super::{
    Hidden, HostPorts, HostTable, ListPolicy, NameLookup, Printer, Row, clean, plural, plural_u128,
    product_version, reason_str, response_lines, target_label,
};
use crate::config::Verbosity;
use crate::model::{PortReport, PortState, Reason, ScanPlan, ScanSummary, ServiceInfo};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

/// Targets listed one by one in the plan block; the rest are counted.
const TARGET_LIST_LIMIT: usize = 10;

/// Hosts that answered nothing (every port filtered) get a block each only up to this many
/// (or with `-v`); beyond, one line counts them. Without it a /16 of empty addresses would
/// print 65536 blocks that say nothing.
const SILENT_HOST_LIMIT: usize = 10;

/// Prints the human report. See the module documentation and `docs/output.md`.
pub struct HumanPrinter<W> {
    wtr: W,
    verbosity: Verbosity,
    names: NameLookup,
    table: HostTable,
    /// Whether the port table has SERVICE and VERSION columns: -sV ran.
    service_column: bool,
}

impl<W: Write> HumanPrinter<W> {
    pub fn new(wtr: W, verbosity: Verbosity, names: NameLookup) -> HumanPrinter<W> {
        HumanPrinter {
            wtr,
            verbosity,
            names,
            table: HostTable::new(ListPolicy::for_verbosity(verbosity)),
            service_column: false,
        }
    }

    pub fn into_inner(self) -> W {
        self.wtr
    }

    /// "example.test (198.18.0.2)" where the user gave a name, else "198.18.0.2".
    fn host_label(&self, addr: &IpAddr) -> String {
        match self.names.get(addr) {
            Some(name) => format!("{} ({addr})", clean(name)),
            None => addr.to_string(),
        }
    }

    fn write_plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        let w = &mut self.wtr;
        writeln!(w, "Starting tcprax {}", env!("CARGO_PKG_VERSION"))?;
        for target in plan.targets.iter().take(TARGET_LIST_LIMIT) {
            writeln!(w, "Target:            {}", target_label(target))?;
        }
        if plan.targets.len() > TARGET_LIST_LIMIT {
            let rest = &plan.targets[TARGET_LIST_LIMIT..];
            let addresses: u128 = rest.iter().map(|t| t.addresses).sum();
            writeln!(
                w,
                "Target:            ... and {} more ({})",
                rest.len(),
                plural_u128(addresses, "address", "addresses")
            )?;
        }
        writeln!(w, "Scan type:         {}", plan.scan_type.describe())?;
        writeln!(
            w,
            "Ports:             {} ({})",
            plan.port_count,
            clean(&plan.ports)
        )?;
        writeln!(w, "Concurrency:       {}", plan.concurrency)?;
        if let Some(rate) = plan.rate {
            writeln!(w, "Rate:              {rate} packets/s")?;
        }
        let sv = if plan.service_detection { "on" } else { "off" };
        writeln!(w, "Service detection: {sv}")?;
        Ok(())
    }

    fn write_hosts(&mut self) -> io::Result<()> {
        let silent = self.table.hosts().filter(|(_, h)| h.silent()).count();
        let fold_silent = self.verbosity < Verbosity::Verbose && silent > SILENT_HOST_LIMIT;
        let mut out = String::new();
        for (addr, host) in self.table.hosts() {
            if fold_silent && host.silent() {
                continue;
            }
            self.host_block(&mut out, addr, host);
            // Write per host: the report of one host is bounded, of all hosts it is not.
            self.wtr.write_all(out.as_bytes())?;
            out.clear();
        }
        if fold_silent {
            let hosts = plural(silent as u64, "host", "hosts");
            writeln!(
                self.wtr,
                "\nNot shown: {hosts} with every scanned port filtered"
            )?;
        }
        Ok(())
    }

    fn host_block(&self, out: &mut String, addr: &IpAddr, host: &HostPorts) {
        let label = self.host_label(addr);
        let _ = writeln!(out, "\nScan report for {label}");
        let rows = host.rows();
        if rows.is_empty() {
            let total = plural(host.total(), "scanned port", "scanned ports");
            let _ = writeln!(out, "All {total} on {label} are in ignored states.");
        }
        for Hidden {
            state,
            count,
            reasons,
        } in host.hidden()
        {
            let ports = plural(
                count,
                &format!("{state} tcp port"),
                &format!("{state} tcp ports"),
            );
            let _ = writeln!(out, "Not shown: {ports} ({})", reasons_label(&reasons));
        }
        if rows.is_empty() {
            return;
        }
        let mut cells = vec![header(self.service_column)];
        cells.extend(rows.iter().map(|r| row_cells(r, self.service_column)));
        let lines = align(&cells);
        let _ = writeln!(out, "{}", lines[0]);
        for (row, line) in rows.iter().zip(&lines[1..]) {
            let _ = writeln!(out, "{line}");
            if let Some(service) = row.service {
                detail_block(out, service, self.verbosity);
            }
        }
    }

    /// Quiet: one self-contained line per open port, all hosts in one aligned table.
    fn write_quiet(&mut self) -> io::Result<()> {
        let mut cells = Vec::new();
        for (addr, host) in self.table.hosts() {
            for row in host.rows().iter().filter(|r| r.state == PortState::Open) {
                let mut line = vec![addr.to_string()];
                line.extend(row_cells(row, self.service_column));
                cells.push(line);
            }
        }
        for line in align(&cells) {
            writeln!(self.wtr, "{line}")?;
        }
        Ok(())
    }

    fn write_summary(&mut self, summary: &ScanSummary) -> io::Result<()> {
        let w = &mut self.wtr;
        writeln!(w)?;
        if summary.interrupted {
            writeln!(w, "Interrupted: results are partial")?;
        }
        writeln!(
            w,
            "Scan done: {}, {} in {:.2} s ({:.1} ports/s)",
            plural(self.table.len() as u64, "address", "addresses"),
            plural(summary.ports_scanned, "port", "ports"),
            summary.elapsed.as_secs_f64(),
            summary.ports_per_second()
        )?;
        writeln!(
            w,
            "Ports: {} open, {} closed, {} filtered",
            summary.open, summary.closed, summary.filtered
        )?;
        writeln!(w, "Probes sent: {}", summary.probes_sent)?;
        if let Some(sv) = summary.service_elapsed {
            writeln!(w, "Service detection: {:.2} s", sv.as_secs_f64())?;
        }
        if let Some(x) = summary.xdp.filter(|_| self.verbosity >= Verbosity::Verbose) {
            writeln!(
                w,
                "XDP: seen {}, matched {}, passed {}, ringbuf-full {}, bad-cookie {}",
                x.seen, x.matched, x.passed, x.ringbuf_full, x.bad_cookie
            )?;
        }
        Ok(())
    }
}

impl<W: Write> Printer for HumanPrinter<W> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        self.service_column = plan.service_detection;
        if self.verbosity > Verbosity::Quiet {
            self.write_plan(plan)?;
            // The plan comes before a scan that may take minutes: show it now.
            self.wtr.flush()?;
        }
        Ok(())
    }

    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        // Without a plan (or with one that said no -sV) a service result still gets its column.
        self.service_column |= report.service.is_some();
        self.table.add(report);
        Ok(())
    }

    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            self.write_quiet()?;
        } else {
            self.write_hosts()?;
            self.write_summary(summary)?;
        }
        self.wtr.flush()
    }
}

/// "reset" when all hidden ports share a reason, else "990 reset, 5 icmp-unreachable".
fn reasons_label(reasons: &[(Reason, u64)]) -> String {
    match reasons {
        [(reason, _)] => reason_str(*reason).to_string(),
        _ => reasons
            .iter()
            .map(|(r, n)| format!("{n} {}", reason_str(*r)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn header(service_column: bool) -> Vec<String> {
    let mut h: Vec<String> = ["PORT", "STATE", "REASON", "RTT"].map(String::from).into();
    if service_column {
        h.extend(["SERVICE".to_string(), "VERSION".to_string()]);
    }
    h
}

fn row_cells(row: &Row<'_>, service_column: bool) -> Vec<String> {
    let mut cells = vec![
        format!("{}/tcp", row.port),
        row.state.to_string(),
        reason_str(row.reason).to_string(),
        rtt_label(row.rtt),
    ];
    if service_column {
        match row.service {
            Some(s) => {
                let name = clean(s.service.as_deref().unwrap_or("unknown")).into_owned();
                // nmap's convention: a service found inside TLS is "ssl/<service>".
                cells.push(if s.tls.is_some() {
                    format!("ssl/{name}")
                } else {
                    name
                });
                cells.push(clean(&product_version(s)).into_owned());
            }
            None => cells.extend([String::new(), String::new()]),
        }
    }
    cells
}

fn rtt_label(rtt: Option<Duration>) -> String {
    match rtt {
        Some(d) => format!("{:.2}ms", d.as_secs_f64() * 1e3),
        None => "-".to_string(),
    }
}

/// Pads every column but the last to its widest cell, two spaces apart, no trailing blanks.
fn align(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 < row.len() {
                    let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
                } else {
                    line.push_str(cell);
                }
            }
            line.truncate(line.trim_end().len());
            line
        })
        .collect()
}

/// The lines under an open port, nmap-script style ("| " ... "|_"): class, TLS, certificate,
/// and the response (its first line; all of it with -v).
fn detail_block(out: &mut String, service: &ServiceInfo, verbosity: Verbosity) {
    let mut lines = vec![format!(
        "class: [{}] {}",
        service.class.number(),
        service.class.name()
    )];
    if let Some(title) = &service.title {
        lines.push(format!("title: {}", clean(title)));
    }
    if let Some(tls) = &service.tls {
        let mut line = format!("tls: {}", clean(&tls.version));
        if let Some(cipher) = &tls.cipher {
            let _ = write!(line, ", {}", clean(cipher));
        }
        if let Some(alpn) = &tls.alpn {
            let _ = write!(line, ", alpn {}", clean(alpn));
        }
        lines.push(line);
        if let Some(cert) = &tls.certificate {
            if let Some(cn) = &cert.subject_cn {
                lines.push(format!("cert CN: {}", clean(cn)));
            }
            if !cert.sans.is_empty() {
                let sans: Vec<_> = cert.sans.iter().map(|s| clean(s)).collect();
                lines.push(format!("cert SANs: {}", sans.join(", ")));
            }
            if let Some(issuer) = &cert.issuer {
                lines.push(format!("cert issuer: {}", clean(issuer)));
            }
            if cert.not_before.is_some() || cert.not_after.is_some() {
                let from = clean(cert.not_before.as_deref().unwrap_or("?"));
                let to = clean(cert.not_after.as_deref().unwrap_or("?"));
                lines.push(format!("cert validity: {from} to {to}"));
            }
            lines.push(format!(
                "cert self-signed: {}",
                if cert.self_signed { "yes" } else { "no" }
            ));
            if !cert.sha256.is_empty() {
                lines.push(format!("cert sha256: {}", clean(&cert.sha256)));
            }
        }
    }
    let mut response = response_lines(&service.response);
    let silent = service.response.trim_end_matches(['\r', '\n']).is_empty();
    if silent {
        lines.push("response: (none)".to_string());
    } else if verbosity >= Verbosity::Verbose {
        lines.push("response:".to_string());
        lines.extend(response.map(|l| format!("  {}", clean(l))));
    } else {
        let first = response.next().unwrap_or_default();
        lines.push(format!("response: {}", clean(first)));
    }
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(out, "{}{line}", if i == last { "|_" } else { "| " });
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::model::{PortState::*, Reason::*, TargetInfo, XdpStats};

    fn names() -> NameLookup {
        [(ip("198.18.0.2"), "example.test".to_string())]
            .into_iter()
            .collect()
    }

    fn run(
        verbosity: Verbosity,
        plan: Option<ScanPlan>,
        reports: &[PortReport],
        summary: &ScanSummary,
    ) -> String {
        let mut p = HumanPrinter::new(Vec::new(), verbosity, names());
        let result = (|| {
            if let Some(plan) = &plan {
                p.plan(plan)?;
            }
            for r in reports {
                p.port(r)?;
            }
            p.finish(summary)
        })();
        if let Err(e) = result {
            panic!("printing into a Vec failed: {e}");
        }
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
Ports: 3 open, 2 closed, 1 filtered
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
    fn many_silent_hosts_fold_into_one_line() {
        let mut reports: Vec<PortReport> = (10..=30)
            .map(|h| report(&format!("198.18.1.{h}"), 80, Filtered, NoResponse))
            .collect();
        reports.push(report("198.18.1.99", 80, Closed, Reset));
        let text = run(Verbosity::Normal, None, &reports, &summary());
        assert_eq!(text.matches("Scan report for").count(), 1, "{text}");
        assert!(
            text.contains("Not shown: 21 hosts with every scanned port filtered\n"),
            "{text}"
        );
        let verbose = run(Verbosity::Verbose, None, &reports, &summary());
        assert_eq!(verbose.matches("Scan report for").count(), 22);
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
                 XDP: seen 50, matched 6, passed 44, ringbuf-full 0, bad-cookie 1\n"
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
        let names: NameLookup = [(ip("198.18.0.2"), "bad\x1bname".to_string())]
            .into_iter()
            .collect();
        for verbosity in [Verbosity::Quiet, Verbosity::Normal, Verbosity::Verbose] {
            let mut p = HumanPrinter::new(Vec::new(), verbosity, names.clone());
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
}
