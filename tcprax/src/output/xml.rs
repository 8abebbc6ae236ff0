//! nmap-compatible XML (`-oX`), valid against the DTD nmap ships (`nmap.dtd`): the `<nmaprun>`
//! head (`scaninfo`, `verbose`, `debugging`) at the plan, one `<host>` element as soon as the
//! host is complete (every planned port decided), the hosts still in progress at the end
//! (sorted by address), then `<runstats>` and the closing tag.
//!
//! The per-host state is [`HostTracker`]'s, as for `-oN` and `-oG`: the whole scan is never held
//! in memory, and a host without an open port costs a bounded amount until it is written.
//!
//! Mapping to nmap's vocabulary:
//! - `unreachable` (tcprax's own state: the probe could not be sent) becomes `filtered`, with
//!   our reason (`no-route`, `send-failed`, ...) kept in `reason`;
//! - `reason_ttl` is the reply's TTL, `0` when there was none (-sT, no reply), as nmap writes;
//! - every host is `<status state="up" reason="user-set">`: tcprax does no host discovery and
//!   scans every address, as nmap does with `-Pn`;
//! - `<service>` carries -sV's extrainfo, hostname, ostype (our `os`) and devicetype
//!   attributes and a `<cpe>` child per CPE name, as nmap writes them;
//! - `scanner` is `nmap`, because the DTD allows no other value; the `<!-- tcprax ... -->`
//!   comment and `args` say which program wrote the file, as nmap's own comment does.
//!
//! Text that came from the network or the user (banners, host names, the command line) is
//! cleaned of control characters ([`clean`]: XML 1.0 cannot carry most of them even escaped)
//! and escaped, in attributes and text alike.
use super::{
    Hidden, HostPorts, HostTracker, ListPolicy, Printer, Row, TRACKED_LIMIT, clean, plural,
    reason_str,
};
use crate::config::Verbosity;
use crate::model::{PortReport, PortState, ScanPlan, ScanSummary, ScanType};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `xmloutputversion` of the nmap releases whose DTD this output follows.
const XML_OUTPUT_VERSION: &str = "1.05";

/// What the XML head says about the run that no [`ScanPlan`] carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlRun {
    /// The command line, as nmap's `args` attribute: words joined by spaces.
    pub args: String,
    /// When the scan started; the finish time is this plus the summary's elapsed time.
    pub start: SystemTime,
}

impl XmlRun {
    /// This process's command line, started now.
    pub fn from_env() -> XmlRun {
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        XmlRun {
            args: args.join(" "),
            start: SystemTime::now(),
        }
    }
}

/// Prints the XML report. See the module documentation and `docs/output.md`.
pub struct XmlPrinter<W> {
    wtr: W,
    run: XmlRun,
    verbosity: Verbosity,
    tracker: HostTracker,
    /// The `<nmaprun>` head has been written.
    started: bool,
    /// `<host>` elements written.
    hosts: u64,
}

impl<W: Write> XmlPrinter<W> {
    /// `verbosity` decides which non-open ports are listed one by one, as in the human report
    /// (quiet lists as normal); the rest are counted in `<extraports>`.
    pub fn new(wtr: W, verbosity: Verbosity, run: XmlRun) -> XmlPrinter<W> {
        let policy = ListPolicy::for_verbosity(verbosity.max(Verbosity::Normal));
        XmlPrinter {
            wtr,
            run,
            verbosity,
            tracker: HostTracker::new(policy),
            started: false,
            hosts: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.wtr
    }

    /// The prologue, the comment, `<nmaprun ...>`, `scaninfo` (with a plan), `verbose` and
    /// `debugging`: written once, before anything else.
    fn head(&mut self, plan: Option<&ScanPlan>) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let start = unix_secs(self.run.start);
        let startstr = ctime(start);
        let version = env!("CARGO_PKG_VERSION");
        let args = attr(&self.run.args);
        let mut s = String::new();
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n");
        // A comment must not contain "--": the command line goes into `args` only.
        let _ = writeln!(s, "<!-- tcprax {version} scan initiated {startstr} -->");
        let _ = writeln!(
            s,
            "<nmaprun scanner=\"nmap\" args=\"{args}\" start=\"{start}\" startstr=\"{startstr}\" \
             version=\"{version}\" xmloutputversion=\"{XML_OUTPUT_VERSION}\">"
        );
        if let Some(plan) = plan {
            let kind = match plan.scan_type {
                ScanType::Syn => "syn",
                ScanType::Connect => "connect",
            };
            let _ = writeln!(
                s,
                "<scaninfo type=\"{kind}\" protocol=\"tcp\" numservices=\"{}\" services=\"{}\"/>",
                plan.port_count,
                attr(&plan.ports)
            );
        }
        let level = match self.verbosity {
            Verbosity::Quiet | Verbosity::Normal => 0,
            Verbosity::Verbose => 1,
            Verbosity::Debug => 2,
        };
        let _ = writeln!(s, "<verbose level=\"{level}\"/>\n<debugging level=\"0\"/>");
        self.wtr.write_all(s.as_bytes())
    }

    fn write_host(&mut self, addr: &IpAddr, host: &HostPorts) -> io::Result<()> {
        self.head(None)?;
        self.hosts += 1;
        self.wtr.write_all(host_element(addr, host).as_bytes())
    }
}

impl<W: Write> Printer for XmlPrinter<W> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        self.tracker.plan(plan);
        self.head(Some(plan))
    }

    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        match self.tracker.add(report) {
            Some((addr, host)) => self.write_host(&addr, &host),
            None => Ok(()),
        }
    }

    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        self.head(None)?;
        for (addr, host) in self.tracker.drain() {
            self.write_host(&addr, &host)?;
        }
        let mut s = String::new();
        let untracked = self.tracker.untracked();
        if untracked > 0 {
            let _ = writeln!(
                s,
                "<!-- tcprax: {} not kept per host (more than {TRACKED_LIMIT} hosts without an \
                 open port were in progress at once); -oJ has every verdict -->",
                plural(untracked, "port verdict", "port verdicts"),
            );
        }
        let end = unix_secs(self.run.start + summary.elapsed);
        let elapsed = format!("{:.2}", summary.elapsed.as_secs_f64());
        let hosts = self.hosts;
        let at_least = if untracked > 0 { "at least " } else { "" };
        let summary_text = format!(
            "tcprax done at {}; {at_least}{} ({hosts} up) scanned in {elapsed} seconds",
            ctime(end),
            plural(hosts, "IP address", "IP addresses"),
        );
        let exit = if summary.interrupted {
            "exit=\"error\" errormsg=\"interrupted: results are partial\""
        } else {
            "exit=\"success\""
        };
        let _ = writeln!(
            s,
            "<runstats><finished time=\"{end}\" timestr=\"{}\" elapsed=\"{elapsed}\" \
             summary=\"{summary_text}\" {exit}/>",
            ctime(end)
        );
        let _ = writeln!(
            s,
            "<hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/>\n</runstats>\n</nmaprun>"
        );
        self.wtr.write_all(s.as_bytes())?;
        self.wtr.flush()
    }
}

/// One `<host>` element, lines and all, to be written with one `write_all`.
fn host_element(addr: &IpAddr, host: &HostPorts) -> String {
    let mut s = String::from("<host>");
    s.push_str("<status state=\"up\" reason=\"user-set\" reason_ttl=\"0\"/>\n");
    let addrtype = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
    let _ = writeln!(s, "<address addr=\"{addr}\" addrtype=\"{addrtype}\"/>");
    match host.name() {
        Some(name) => {
            let _ = writeln!(
                s,
                "<hostnames>\n<hostname name=\"{}\" type=\"user\"/>\n</hostnames>",
                attr(name)
            );
        }
        None => s.push_str("<hostnames>\n</hostnames>\n"),
    }
    s.push_str("<ports>\n");
    for hidden in extraports(host) {
        let (state, count) = (nmap_state(hidden.state), hidden.count);
        let _ = writeln!(s, "<extraports state=\"{state}\" count=\"{count}\">");
        for (reason, n) in hidden.reasons {
            let _ = writeln!(
                s,
                "<extrareasons reason=\"{}\" count=\"{n}\" proto=\"tcp\"/>",
                reason_str(reason)
            );
        }
        s.push_str("</extraports>\n");
    }
    for row in host.rows() {
        port_element(&mut s, &row);
    }
    s.push_str("</ports>\n</host>\n");
    s
}

/// The counted (not listed) ports by nmap state: `unreachable` joins `filtered`, reasons
/// merged, most frequent first.
fn extraports(host: &HostPorts) -> Vec<Hidden> {
    let mut out: Vec<Hidden> = Vec::new();
    for mut hidden in host.hidden() {
        if hidden.state == PortState::Unreachable {
            hidden.state = PortState::Filtered;
        }
        match out.iter_mut().find(|h| h.state == hidden.state) {
            Some(h) => {
                h.count += hidden.count;
                h.reasons.extend(hidden.reasons);
                h.reasons
                    .sort_by(|a, b| b.1.cmp(&a.1).then(reason_str(a.0).cmp(reason_str(b.0))));
            }
            None => out.push(hidden),
        }
    }
    out
}

fn nmap_state(state: PortState) -> &'static str {
    match state {
        PortState::Open => "open",
        PortState::Closed => "closed",
        PortState::Filtered | PortState::Unreachable => "filtered",
    }
}

/// `<port protocol="tcp" portid="22"><state .../><service .../></port>`.
fn port_element(s: &mut String, row: &Row<'_>) {
    let _ = write!(
        s,
        "<port protocol=\"tcp\" portid=\"{}\"><state state=\"{}\" reason=\"{}\" reason_ttl=\"{}\"/>",
        row.port,
        nmap_state(row.state),
        reason_str(row.reason),
        row.ttl.unwrap_or(0)
    );
    if let Some(service) = row.service {
        // conf: nmap's 10 for a probe match; 0 when -sV ran but nothing matched.
        let (name, conf) = match &service.service {
            Some(name) => (attr(name), 10),
            None => ("unknown".to_string(), 0),
        };
        let _ = write!(s, "<service name=\"{name}\"");
        // In nmap's order: product, version, extrainfo, hostname, ostype, devicetype, tunnel,
        // method, conf; then the CPE names as children.
        let optional = |s: &mut String, name: &str, value: &Option<String>| {
            if let Some(value) = value {
                let _ = write!(s, " {name}=\"{}\"", attr(value));
            }
        };
        optional(s, "product", &service.product);
        optional(s, "version", &service.version);
        optional(s, "extrainfo", &service.extrainfo);
        optional(s, "hostname", &service.hostname);
        optional(s, "ostype", &service.os);
        optional(s, "devicetype", &service.device_type);
        if service.tls.is_some() {
            s.push_str(" tunnel=\"ssl\"");
        }
        let _ = write!(s, " method=\"probed\" conf=\"{conf}\"");
        if service.cpe.is_empty() {
            s.push_str("/>");
        } else {
            s.push('>');
            for cpe in &service.cpe {
                let _ = write!(s, "<cpe>{}</cpe>", attr(cpe));
            }
            s.push_str("</service>");
        }
    }
    s.push_str("</port>\n");
}

/// `text` as an XML attribute value (or element text): control characters and the
/// noncharacters XML 1.0 forbids become '.', the five special characters are escaped.
fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{FFFE}' | '\u{FFFF}' => out.push('.'),
            c => out.push(c),
        }
    }
    out
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// `secs` since the epoch as C's `ctime` writes it, in UTC: "Mon Dec  1 17:40:00 2025".
fn ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = crate::calendar::civil_from_days(days as i64);
    format!(
        "{} {} {day:>2} {:02}:{:02}:{:02} {year}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests;
