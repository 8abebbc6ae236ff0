//! The human report (`-oN`, the default): a plan block before the scan, a block per host with
//! an open port (ports sorted, service details) as soon as the host is complete, and at the end
//! the hosts still in progress, the hosts without an open port (counted) and a summary block.
//!
//! Closed and filtered ports are summarised ("Not shown: ...") when a host has more than
//! [`LIST_LIMIT`](super::LIST_LIMIT) of a state, as nmap does. Hosts without an open port get a
//! block each only when there are at most [`QUIET_HOST_LIMIT`] of them (or with `-v`); beyond,
//! one line counts them, and the summary gives closed and filtered ports by reason. Memory does
//! not grow with them: see `HostTracker`.
mod quiet;
mod table;

use super::{
    Hidden, HostPorts, HostTracker, ListPolicy, OpenPort, Printer, ReasonCounts, clean, plural,
    plural_u128, reason_str, response_lines, target_label,
};
use crate::config::Verbosity;
use crate::model::{PortReport, PortState, Reason, ScanPlan, ScanSummary, ServiceInfo};
use quiet::QuietRow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use table::Table;

/// Targets listed one by one in the plan block; the rest are counted.
const TARGET_LIST_LIMIT: usize = 10;

/// Hosts without an open port get a block each only up to this many (or with `-v`); beyond,
/// one line counts them. Without it a /16 of empty or closed addresses would print 65536
/// blocks that say nothing.
const QUIET_HOST_LIMIT: usize = 10;

/// Prints the human report. See the module documentation and `docs/output.md`.
pub struct HumanPrinter<W> {
    wtr: W,
    verbosity: Verbosity,
    tracker: HostTracker,
    /// Whether the port table has SERVICE and VERSION columns: -sV ran.
    service_column: bool,
    /// Hosts reported with an open port.
    open_hosts: u64,
    /// Hosts reported without an open port, and how many of them answered nothing at all.
    quiet_hosts: u64,
    silent_hosts: u64,
    /// Without -v: the blocks of the first hosts without an open port, held until the end,
    /// when they are printed if there were no more than [`QUIET_HOST_LIMIT`].
    held: Vec<(IpAddr, String)>,
    /// -q: the open ports, for one table aligned over all hosts at the end; formatted only
    /// then, so each costs a few dozen bytes until the end, not a line of strings.
    quiet_rows: Vec<QuietRow>,
    /// The cells of the table being printed, kept for their buffers.
    table: Table,
}

impl<W: Write> HumanPrinter<W> {
    pub fn new(wtr: W, verbosity: Verbosity) -> HumanPrinter<W> {
        HumanPrinter {
            wtr,
            verbosity,
            tracker: HostTracker::new(ListPolicy::for_verbosity(verbosity)),
            service_column: false,
            open_hosts: 0,
            quiet_hosts: 0,
            silent_hosts: 0,
            held: Vec::new(),
            quiet_rows: Vec::new(),
            table: Table::default(),
        }
    }

    pub fn into_inner(self) -> W {
        self.wtr
    }

    fn plan_block(plan: &ScanPlan) -> String {
        let mut w = String::new();
        let _ = writeln!(w, "Starting tcprax {}", env!("CARGO_PKG_VERSION"));
        for target in plan.targets.iter().take(TARGET_LIST_LIMIT) {
            let _ = writeln!(w, "Target:            {}", target_label(target));
        }
        if plan.targets.len() > TARGET_LIST_LIMIT {
            let rest = &plan.targets[TARGET_LIST_LIMIT..];
            let addresses: u128 = rest.iter().map(|t| t.addresses).sum();
            let _ = writeln!(
                w,
                "Target:            ... and {} more ({})",
                rest.len(),
                plural_u128(addresses, "address", "addresses")
            );
        }
        let _ = writeln!(w, "Scan type:         {}", plan.scan_type.describe());
        let _ = writeln!(
            w,
            "Ports:             {} ({})",
            plan.port_count,
            clean(&plan.ports)
        );
        let _ = writeln!(w, "Concurrency:       {}", plan.concurrency);
        if let Some(rate) = plan.rate {
            let _ = writeln!(w, "Rate:              {rate} packets/s");
        }
        // -sS: the order walked (`--seed` repeats it) and this run's slice of it.
        match (plan.seed, plan.shard) {
            (Some(seed), Some(s)) if s.count > 1 => {
                let _ = writeln!(
                    w,
                    "Seed:              {seed} (shard {}/{})",
                    s.index, s.count
                );
            }
            (Some(seed), _) => {
                let _ = writeln!(w, "Seed:              {seed}");
            }
            (None, _) => {}
        }
        let sv = if plan.service_detection { "on" } else { "off" };
        let _ = writeln!(w, "Service detection: {sv}");
        w
    }

    /// A host is complete (or the scan over): write its block, or count it.
    fn host_done(&mut self, addr: IpAddr, host: HostPorts) -> io::Result<()> {
        let host = &host;
        if host.has_open() {
            self.open_hosts += 1;
            let block = self.host_block(&addr, host);
            // One write per host: the report of one host is bounded, of all hosts it is not.
            return self.wtr.write_all(block.as_bytes());
        }
        self.quiet_hosts += 1;
        if host.silent() {
            self.silent_hosts += 1;
        }
        if self.verbosity >= Verbosity::Verbose {
            let block = self.host_block(&addr, host);
            self.wtr.write_all(block.as_bytes())
        } else {
            if self.quiet_hosts <= QUIET_HOST_LIMIT as u64 {
                let block = self.host_block(&addr, host);
                self.held.push((addr, block));
            } else if !self.held.is_empty() {
                // Too many to show one by one: all are counted instead.
                self.held = Vec::new();
            }
            Ok(())
        }
    }

    fn host_block(&mut self, addr: &IpAddr, host: &HostPorts) -> String {
        let mut out = String::new();
        let label = host_label(addr, host);
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
        if let Some(missing) = self.tracker.missing(host) {
            let _ = writeln!(
                out,
                "Not shown: up to {} (decided before this host was tracked; in the totals)",
                plural(missing, "more tcp port", "more tcp ports")
            );
        }
        if rows.is_empty() {
            return out;
        }
        let t = &mut self.table;
        t.clear();
        table::header(t, self.service_column);
        let ttl = self.verbosity >= Verbosity::Verbose;
        for row in &rows {
            table::port_row(t, row, self.service_column, ttl);
        }
        let mut widths = Vec::new();
        t.measure(&mut widths);
        t.write_line(0, &widths, &mut out);
        for (i, row) in rows.iter().enumerate() {
            t.write_line(i + 1, &widths, &mut out);
            if let Some(service) = row.service {
                detail_block(&mut out, service, self.verbosity);
            }
        }
        out
    }

    /// After the last host: the hosts without an open port (their blocks, or one line), and
    /// the verdicts that were only counted.
    fn quiet_hosts_block(&mut self) -> String {
        let mut w = String::new();
        if self.quiet_hosts <= QUIET_HOST_LIMIT as u64 {
            self.held.sort_by_key(|(addr, _)| *addr);
            for (_, block) in &self.held {
                w.push_str(block);
            }
        } else if self.verbosity < Verbosity::Verbose {
            let hosts = plural(self.quiet_hosts, "host", "hosts");
            if self.silent_hosts == self.quiet_hosts {
                let _ = writeln!(w, "\nNot shown: {hosts} with every scanned port filtered");
            } else if self.silent_hosts > 0 {
                let _ = writeln!(
                    w,
                    "\nNot shown: {hosts} without an open port ({} with every scanned port filtered)",
                    self.silent_hosts
                );
            } else {
                let _ = writeln!(w, "\nNot shown: {hosts} without an open port");
            }
        }
        let untracked = self.tracker.untracked();
        if untracked > 0 {
            let _ = writeln!(
                w,
                "\nNot tracked per host: {} (more than {} hosts without an open port were in \
                 progress at once); they count in the totals below only",
                plural(untracked, "port verdict", "port verdicts"),
                super::TRACKED_LIMIT
            );
        }
        w
    }

    fn summary_block(&self, summary: &ScanSummary) -> String {
        let mut w = String::new();
        let _ = writeln!(w);
        if summary.interrupted {
            let _ = writeln!(w, "Interrupted: results are partial");
        }
        let hosts = self.open_hosts + self.quiet_hosts;
        let _ = writeln!(
            w,
            "Scan done: {}{}, {} in {:.2} s ({:.1} ports/s)",
            if self.tracker.untracked() > 0 {
                "at least "
            } else {
                ""
            },
            plural(hosts, "address", "addresses"),
            plural(summary.ports_scanned, "port", "ports"),
            summary.elapsed.as_secs_f64(),
            summary.ports_per_second()
        );
        let (closed, filtered) = self.tracker.totals();
        let unreachable = match summary.unreachable {
            0 => String::new(),
            n => format!(
                ", {n} unreachable{}",
                by_reason(self.tracker.unreachable_totals())
            ),
        };
        let _ = writeln!(
            w,
            "Ports: {} open, {} closed{}, {} filtered{}{unreachable}",
            summary.open,
            summary.closed,
            by_reason(closed),
            summary.filtered,
            by_reason(filtered)
        );
        if summary.skipped > 0 {
            let _ = writeln!(
                w,
                "Skipped: {} (network/broadcast of a connected subnet)",
                plural(summary.skipped, "address", "addresses")
            );
        }
        let _ = writeln!(w, "Probes sent: {}", summary.probes_sent);
        if let Some(sv) = summary.service_elapsed {
            let _ = writeln!(w, "Service detection: {:.2} s", sv.as_secs_f64());
        }
        if let Some(x) = summary.xdp.filter(|_| self.verbosity >= Verbosity::Verbose) {
            let _ = writeln!(
                w,
                "XDP: seen {}, matched {}, passed {}, ringbuf-full {}, bad-cookie {}, repeats {}, \
                 rsts-sent {}",
                x.seen, x.matched, x.passed, x.ringbuf_full, x.bad_cookie, x.repeats, x.rsts_sent
            );
        }
        w
    }

    /// -q: one self-contained line per open port, all hosts in one aligned table, sorted.
    fn quiet_table(&mut self) -> io::Result<()> {
        let rows = std::mem::take(&mut self.quiet_rows);
        quiet::write_table(rows, &mut self.table, &mut self.wtr)
    }
}

impl<W: Write> Printer for HumanPrinter<W> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        self.service_column = plan.service_detection;
        self.tracker.plan(plan);
        if self.verbosity > Verbosity::Quiet {
            self.wtr.write_all(Self::plan_block(plan).as_bytes())?;
            // The plan comes before a scan that may take minutes: show it now.
            self.wtr.flush()?;
        }
        Ok(())
    }

    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        // Without a plan (or with one that said no -sV) a service result still gets its column.
        self.service_column |= report.service.is_some();
        if self.verbosity == Verbosity::Quiet {
            // -q lists the open ports alone, sorted at the end: no host is assembled, which
            // spares a hash-map lookup (a cache miss or two) per verdict.
            if report.event.state == PortState::Open {
                self.quiet_rows.push(QuietRow {
                    addr: report.event.addr,
                    service_column: self.service_column,
                    open: OpenPort::of(report),
                });
            }
            return Ok(());
        }
        match self.tracker.add(report) {
            Some((addr, host)) => self.host_done(addr, host),
            None => Ok(()),
        }
    }

    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        for (addr, host) in self.tracker.drain() {
            self.host_done(addr, host)?;
        }
        if self.verbosity == Verbosity::Quiet {
            self.quiet_table()?;
        } else {
            let mut tail = self.quiet_hosts_block();
            tail.push_str(&self.summary_block(summary));
            self.wtr.write_all(tail.as_bytes())?;
        }
        self.wtr.flush()
    }
}

/// " (reset)", " (990 no-response, 5 icmp-unreachable)", or "" when none.
fn by_reason(counts: &ReasonCounts<u64>) -> String {
    let reasons = counts.sorted();
    if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons_label(&reasons))
    }
}

/// "example.test (198.18.0.2)" where the user gave a name, else "198.18.0.2".
fn host_label(addr: &IpAddr, host: &HostPorts) -> String {
    match host.name() {
        Some(name) => format!("{} ({addr})", clean(name)),
        None => addr.to_string(),
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
    for (label, value) in [
        ("host", &service.hostname),
        ("os", &service.os),
        ("device", &service.device_type),
    ] {
        if let Some(v) = value {
            lines.push(format!("{label}: {}", clean(v)));
        }
    }
    for cpe in &service.cpe {
        lines.push(format!("cpe: {}", clean(cpe)));
    }
    if let Some(hash) = service.favicon_mmh3 {
        lines.push(format!("favicon mmh3: {hash}"));
    }
    if let Some(by) = &service.matched_by {
        lines.push(format!("matched by: {}", clean(by)));
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
        if let Some(jarm) = &tls.jarm {
            lines.push(format!("tls fingerprint: {}", clean(jarm)));
        }
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
mod tests;
