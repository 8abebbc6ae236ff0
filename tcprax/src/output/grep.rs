//! Grepable output (`-oG`), nmap style: header comments at the plan, then one line per host
//! as soon as the host is complete (every planned port decided), the hosts still in progress at
//! the end (sorted by address), and a closing comment.
//!
//! A port is `port/state/tcp//service//version/`, nmap's seven '/'-separated fields with the
//! owner and RPC fields always empty. The ports listed are those the human report lists (every
//! open port, few enough closed or filtered ones); the rest are counted under
//! `Ignored State:`. Field values never contain the separators: '/' becomes '|', ',' becomes
//! ';', tabs and other control characters '.'.
//!
//! Reasons and the reply TTL are left out: the seven fields have no place for them (nmap's own
//! `-oG` omits them too), and a new field would break the parsers this format exists for.
use super::{
    HostPorts, HostTracker, ListPolicy, Printer, Row, TRACKED_LIMIT, clean, plural,
    product_version, target_label,
};
use crate::config::Verbosity;
use crate::model::{PortReport, ScanPlan, ScanSummary};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

/// Targets named in the header comment; the rest are counted.
const TARGET_LIST_LIMIT: usize = 10;

/// Prints the grepable report. See the module documentation and `docs/output.md`.
pub struct GrepPrinter<W> {
    wtr: W,
    tracker: HostTracker,
    /// `Host:` lines written.
    hosts: u64,
}

impl<W: Write> GrepPrinter<W> {
    /// `verbosity` only decides which non-open ports are listed, as in the human report;
    /// quiet lists the same as normal (a machine format has no "less").
    pub fn new(wtr: W, verbosity: Verbosity) -> GrepPrinter<W> {
        let policy = ListPolicy::for_verbosity(verbosity.max(Verbosity::Normal));
        GrepPrinter {
            wtr,
            tracker: HostTracker::new(policy),
            hosts: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.wtr
    }

    /// The host's line, with its line break: written with one `write_all`.
    fn host_line(addr: &IpAddr, host: &HostPorts) -> String {
        let name = host.name().map(field).unwrap_or_default();
        let mut line = format!("Host: {addr} ({name})");
        let ports: Vec<String> = host.rows().iter().map(port_entry).collect();
        if !ports.is_empty() {
            line.push_str("\tPorts: ");
            line.push_str(&ports.join(", "));
        }
        let ignored: Vec<String> = host
            .hidden()
            .iter()
            .map(|h| format!("{} ({})", h.state, h.count))
            .collect();
        if !ignored.is_empty() {
            line.push_str("\tIgnored State: ");
            line.push_str(&ignored.join(", "));
        }
        line.push('\n');
        line
    }

    fn write_host(&mut self, addr: &IpAddr, host: &HostPorts) -> io::Result<()> {
        self.hosts += 1;
        self.wtr.write_all(Self::host_line(addr, host).as_bytes())
    }
}

impl<W: Write> Printer for GrepPrinter<W> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        self.tracker.plan(plan);
        let mut targets: Vec<String> = plan
            .targets
            .iter()
            .take(TARGET_LIST_LIMIT)
            .map(target_label)
            .collect();
        if plan.targets.len() > TARGET_LIST_LIMIT {
            targets.push(format!(
                "and {} more",
                plan.targets.len() - TARGET_LIST_LIMIT
            ));
        }
        let mut head = String::new();
        let _ = writeln!(
            head,
            "# tcprax {} scan: {}; targets: {}",
            env!("CARGO_PKG_VERSION"),
            plan.scan_type.describe(),
            targets.join(", ")
        );
        let _ = writeln!(
            head,
            "# Ports scanned: TCP({};{})",
            plan.port_count,
            clean(&plan.ports)
        );
        self.wtr.write_all(head.as_bytes())
    }

    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        match self.tracker.add(report) {
            Some((addr, host)) => self.write_host(&addr, &host),
            None => Ok(()),
        }
    }

    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        for (addr, host) in self.tracker.drain() {
            self.write_host(&addr, &host)?;
        }
        let mut tail = String::new();
        let untracked = self.tracker.untracked();
        if untracked > 0 {
            let _ = writeln!(
                tail,
                "# tcprax: {} not kept per host (more than {TRACKED_LIMIT} hosts without an \
                 open port were in progress at once); -oJ has every verdict",
                plural(untracked, "port verdict", "port verdicts"),
            );
        }
        if summary.interrupted {
            let _ = writeln!(tail, "# tcprax interrupted: results are partial");
        }
        let _ = writeln!(
            tail,
            "# tcprax done: {}{} scanned in {:.2} s",
            if untracked > 0 { "at least " } else { "" },
            plural(self.hosts, "address", "addresses"),
            summary.elapsed.as_secs_f64()
        );
        self.wtr.write_all(tail.as_bytes())?;
        self.wtr.flush()
    }
}

/// `22/open/tcp//ssh//OpenSSH 9.2p1/`, `80/closed/tcp/////`.
fn port_entry(row: &Row<'_>) -> String {
    let (service, version) = match row.service {
        Some(s) => {
            let name = field(s.service.as_deref().unwrap_or("unknown"));
            // nmap -oG writes a service found inside TLS as "ssl|<service>".
            let name = if s.tls.is_some() {
                format!("ssl|{name}")
            } else {
                name
            };
            (name, field(&product_version(s)))
        }
        None => (String::new(), String::new()),
    };
    format!("{}/{}/tcp//{service}//{version}/", row.port, row.state)
}

/// A value made safe inside a grepable field.
fn field(s: &str) -> String {
    clean(s).replace('/', "|").replace(',', ";")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::model::{PortState::*, Reason::*};

    fn run(verbosity: Verbosity, reports: &[PortReport], interrupted: bool) -> String {
        run_planned(verbosity, &plan(true), reports, interrupted)
    }

    fn run_planned(
        verbosity: Verbosity,
        plan: &ScanPlan,
        reports: &[PortReport],
        interrupted: bool,
    ) -> String {
        let mut p = GrepPrinter::new(Vec::new(), verbosity);
        let mut s = summary();
        s.interrupted = interrupted;
        print_scan(&mut p, Some(plan), reports, &s);
        String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
    }

    #[test]
    fn one_line_per_host_sorted() {
        let reports = [
            report("2001:db8::1", 80, Open, SynAck),
            https("198.18.0.2"),
            report("198.18.0.2", 80, Closed, Reset),
            ssh("198.18.0.2"),
            report("2001:db8::1", 443, Filtered, NoResponse),
        ];
        let expected = format!(
            "\
# tcprax {} scan: SYN, XDP reply capture (-sS); targets: example.test (198.18.0.2), 2001:db8::1
# Ports scanned: TCP(3;22,80,443)
Host: 198.18.0.2 (example.test)\tPorts: 22/open/tcp//ssh//OpenSSH 9.2p1/, 80/closed/tcp/////, 443/open/tcp//ssl|http//nginx 1.24.0/
Host: 2001:db8::1 ()\tPorts: 80/open/tcp/////, 443/filtered/tcp/////
# tcprax done: 2 addresses scanned in 1.50 s
",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(run(Verbosity::Normal, &reports, false), expected);
        // The fixtures' -sS replies carry a TTL; -v shows it in the human report, never here.
        assert_eq!(run(Verbosity::Verbose, &reports, false), expected);
    }

    #[test]
    fn many_closed_ports_are_counted() {
        let mut reports: Vec<PortReport> = (1000..2000)
            .map(|p| report("198.18.0.3", p, Closed, Reset))
            .collect();
        reports.push(report("198.18.0.3", 443, Open, SynAck));
        reports.push(report("198.18.0.3", 22, Open, SynAck));
        reports.push(report("198.18.0.3", 9, Filtered, NoResponse));
        let mut plan = plan(false);
        plan.port_count = reports.len();
        let text = run_planned(Verbosity::Quiet, &plan, &reports, true);
        let body: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            body,
            [
                "Host: 198.18.0.3 ()\tPorts: 9/filtered/tcp/////, 22/open/tcp/////, 443/open/tcp/////\tIgnored State: closed (1000)",
                "# tcprax interrupted: results are partial",
                "# tcprax done: 1 address scanned in 1.50 s",
            ]
        );
    }

    /// Hosts are written as soon as every planned port is in, with or without an open port;
    /// the incomplete ones at the end, sorted. Nothing is kept for a host once written.
    #[test]
    fn hosts_stream_as_they_complete() {
        let mut p = GrepPrinter::new(Vec::new(), Verbosity::Normal);
        let mut plan = plan(false);
        plan.port_count = 2;
        let written = (|| {
            p.plan(&plan)?;
            p.port(&report("198.18.0.7", 1, Closed, Reset))?;
            p.port(&report("198.18.0.5", 1, Filtered, NoResponse))?;
            p.port(&report("198.18.0.7", 2, Open, SynAck))?;
            let so_far = String::from_utf8_lossy(&p.wtr).into_owned();
            assert!(
                so_far.ends_with(
                    "\nHost: 198.18.0.7 ()\tPorts: 1/closed/tcp/////, 2/open/tcp/////\n"
                ),
                "{so_far}"
            );
            assert_eq!(p.tracker.hosts.len(), 1, "only 198.18.0.5 is kept");
            p.port(&report("198.18.0.3", 1, Closed, Reset))?;
            p.port(&report("198.18.0.1", 2, Closed, Reset))?;
            p.finish(&summary())
        })();
        assert!(written.is_ok());
        let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        let hosts: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Host: "))
            .collect();
        assert_eq!(
            hosts,
            [
                "198.18.0.7 ()\tPorts: 1/closed/tcp/////, 2/open/tcp/////",
                "198.18.0.1 ()\tPorts: 2/closed/tcp/////",
                "198.18.0.3 ()\tPorts: 1/closed/tcp/////",
                "198.18.0.5 ()\tPorts: 1/filtered/tcp/////",
            ]
        );
        assert!(text.ends_with("\n# tcprax done: 4 addresses scanned in 1.50 s\n"));
    }

    #[test]
    fn fields_never_contain_separators() {
        let mut r = ssh("198.18.0.2");
        if let Some(s) = r.service.as_mut() {
            s.product = Some("Evil/1.0, with\ttab".into());
            s.version = None;
            s.service = None;
        }
        let text = run(Verbosity::Normal, &[r], false);
        assert!(
            text.contains("\tPorts: 22/open/tcp//unknown//Evil|1.0; with.tab/\n"),
            "{text}"
        );
    }
}
