//! Output: the printers that turn a scan's [`ScanPlan`], [`PortReport`]s and [`ScanSummary`]
//! into reports. This is the only layer that writes to stdout (or to `-o*` files).
//!
//! Four formats, one [`Printer`] each, all generic over [`io::Write`] so tests print into a
//! `Vec<u8>`:
//! - [`HumanPrinter`] (`-oN`): nmap-like report, a block per host with open ports (ports
//!   sorted, closed/filtered summarised), hosts without one counted;
//! - [`JsonPrinter`] (`-oJ`): JSON lines, streamed as results arrive;
//! - [`GrepPrinter`] (`-oG`): one line per host, nmap `-oG` style;
//! - [`XmlPrinter`] (`-oX`): nmap's XML, a `<host>` element per host.
//!
//! The per-host formats share `HostTracker`, which bounds memory: it holds a host only while
//! the host is in progress (a host is complete once it has a verdict for every planned port;
//! its block or line is then written and the host forgotten), keeps every open port but only
//! the few non-open ports a report could list, and tracks at most [`TRACKED_LIMIT`] hosts
//! without an open port at once. So a scan of millions of closed or silent addresses costs the
//! printers a bounded amount of memory, not some hundred bytes per address.
//!
//! Every printer writes whole lines, each with one `write_all`, and `open_printers` routes
//! them through a gate shared with [`exit_now`]: a forced exit (second signal) never cuts a
//! line in half, in a file or on stdout. The formats are documented in `docs/output.md`.
mod grep;
mod hosts;
mod human;
mod json;
mod xml;

pub use grep::GrepPrinter;
pub(crate) use hosts::{Hidden, HostPorts, HostTracker, OpenPort, ReasonCounts, Row};
pub use human::HumanPrinter;
pub use json::JsonPrinter;
pub use xml::{XmlPrinter, XmlRun};

use crate::config::{OutputFormat, OutputSpec, Verbosity};
use crate::model::{PortReport, Reason, ScanPlan, ScanSummary, ServiceInfo, TargetInfo};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// One output format. The scan calls `plan` once before the first result, `port` once per
/// (address, port) verdict in arrival order, and `finish` once at the end; `finish` writes
/// whatever the format buffered and flushes.
pub trait Printer {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()>;
    fn port(&mut self, report: &PortReport) -> io::Result<()>;
    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()>;
}

impl<P: Printer + ?Sized> Printer for Box<P> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        (**self).plan(plan)
    }
    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        (**self).port(report)
    }
    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        (**self).finish(summary)
    }
}

/// Fan-out to every printer of a `-oN/-oJ/-oG` set. Every printer is called even when an
/// earlier one failed, so that (say) a closed stdout pipe does not truncate a report file; the
/// first error is returned.
impl<P: Printer> Printer for [P] {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        each(self, |p| p.plan(plan))
    }
    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        each(self, |p| p.port(report))
    }
    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        each(self, |p| p.finish(summary))
    }
}

fn each<P>(printers: &mut [P], mut f: impl FnMut(&mut P) -> io::Result<()>) -> io::Result<()> {
    let mut first = Ok(());
    for p in printers {
        let r = f(p);
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Why the printers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot open output file '{}': {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Builds the printer for `format` over any writer.
pub fn printer_for<W: Write + Send + 'static>(
    format: OutputFormat,
    wtr: W,
    verbosity: Verbosity,
) -> Box<dyn Printer + Send> {
    match format {
        OutputFormat::Normal => Box::new(HumanPrinter::new(wtr, verbosity)),
        OutputFormat::Json => Box::new(JsonPrinter::new(wtr)),
        OutputFormat::Grep => Box::new(GrepPrinter::new(wtr, verbosity)),
        OutputFormat::Xml => Box::new(XmlPrinter::new(wtr, verbosity, XmlRun::from_env())),
    }
}

/// How [`open_printers_with`] opens report files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Created, or truncated: a new scan.
    Create,
    /// Created if missing, else written after what is there: a resumed scan (`--resume`)
    /// continuing the reports of the run it continues.
    Append,
}

/// Opens every requested output: a file (created or truncated) for `path: Some`, stdout for
/// `path: None`. Fails on the first file that cannot be created, naming it.
pub fn open_printers(
    specs: &[OutputSpec],
    verbosity: Verbosity,
) -> Result<Vec<Box<dyn Printer + Send>>, OutputError> {
    open_printers_with(specs, verbosity, OpenMode::Create)
}

/// [`open_printers`], with the files opened as `mode` says.
pub fn open_printers_with(
    specs: &[OutputSpec],
    verbosity: Verbosity,
    mode: OpenMode,
) -> Result<Vec<Box<dyn Printer + Send>>, OutputError> {
    let mut printers = Vec::with_capacity(specs.len());
    for spec in specs {
        // Files are buffered (one write per line would cost a system call per verdict); the
        // printers hand over whole lines, so a buffer flush only ever writes whole lines.
        // Stdout is line-buffered by std, so streamed JSON lines show up as they come.
        let wtr: Box<dyn Write + Send> = match &spec.path {
            None => Box::new(Gated(io::stdout())),
            Some(path) => {
                let file = match mode {
                    OpenMode::Create => File::create(path),
                    OpenMode::Append => File::options().append(true).create(true).open(path),
                };
                let file = file.map_err(|source| OutputError::Open {
                    path: path.clone(),
                    source,
                })?;
                Box::new(Gated(BufWriter::new(file)))
            }
        };
        printers.push(printer_for(spec.format, wtr, verbosity));
    }
    Ok(printers)
}

/// Held while a report writer writes (and, by [`exit_now`], while the process exits).
static WRITE_GATE: Mutex<()> = Mutex::new(());

/// A report writer whose every `write` is one `write_all` under [`WRITE_GATE`]. The printers
/// write whole lines, so whatever reaches the file or stdout (a `BufWriter` flush included,
/// which happens inside such a call) is a sequence of whole lines, and an exit can only come
/// between two of them.
struct Gated<W>(W);

impl<W: Write> Write for Gated<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _gate = WRITE_GATE.lock().unwrap_or_else(PoisonError::into_inner);
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _gate = WRITE_GATE.lock().unwrap_or_else(PoisonError::into_inner);
        self.0.flush()
    }
}

/// How long [`exit_now`] waits for a write in progress: a line to a file takes microseconds
/// (a buffer flush, milliseconds); a write that takes longer is stuck on a pipe or terminal
/// nobody reads, and the exit must not wait for it.
const EXIT_WAIT: Duration = Duration::from_millis(200);

/// A notice from the engine for the operator, as one `tcprax: warning: ...` (or, for mere
/// information, `tcprax: notice: ...`, which -q leaves out) line on stderr; reports stay on
/// stdout and in the -o files. A failed write is ignored: after SIGHUP the terminal may be
/// gone, and the scan must still finish its other reports.
pub fn notice(notice: &crate::model::Notice, verbosity: Verbosity) {
    if notice.is_warning() {
        let _ = writeln!(io::stderr(), "tcprax: warning: {notice}");
    } else if verbosity > Verbosity::Quiet {
        let _ = writeln!(io::stderr(), "tcprax: notice: {notice}");
    }
}

/// Ends the process with `code` at once (a second signal), flushing no report: lines still in
/// a file's buffer are lost, but the gate is taken first, so no line is left half-written.
pub fn exit_now(code: i32) -> ! {
    let deadline = Instant::now() + EXIT_WAIT;
    let gate = loop {
        match WRITE_GATE.try_lock() {
            Ok(gate) => break Some(gate),
            Err(TryLockError::Poisoned(p)) => break Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => break None,
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    // Held (never released) while the process ends, so no printer starts another line.
    std::mem::forget(gate);
    std::process::exit(code)
}

/// Non-open ports of one state that the normal report lists one by one; more than this and
/// they are only counted ("Not shown: 995 closed tcp ports").
pub const LIST_LIMIT: usize = 10;

/// With `-v`, non-open ports are listed up to this many per state and host; the rest are
/// counted. A bound, so that `-v -p-` over many hosts cannot hold millions of closed ports.
pub const VERBOSE_LIST_LIMIT: usize = 1000;

/// Hosts without an open port tracked at once. Beyond, the verdicts of further such hosts
/// only count in the totals (see [`HostTracker`]). A scan visiting hosts one after another
/// (-sT) never comes near it; a -sS scan of more hosts than this, in random order, does.
pub const TRACKED_LIMIT: usize = 4096;

/// Non-open ports kept for listing, over all tracked hosts: with `-v`, 1000 per state and host
/// over thousands of hosts would otherwise add up to millions.
pub const KEPT_LIMIT: usize = 1 << 16;

/// How many non-open ports per (host, state) a per-host printer keeps to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListPolicy {
    keep: usize,
    /// When more than `keep` arrive: list the first `keep` anyway (true), or none (false).
    partial: bool,
}

impl ListPolicy {
    pub(crate) fn for_verbosity(verbosity: Verbosity) -> ListPolicy {
        match verbosity {
            Verbosity::Quiet => ListPolicy {
                keep: 0,
                partial: false,
            },
            Verbosity::Normal => ListPolicy {
                keep: LIST_LIMIT,
                partial: false,
            },
            Verbosity::Verbose | Verbosity::Debug => ListPolicy {
                keep: VERBOSE_LIST_LIMIT,
                partial: true,
            },
        }
    }
}

/// nmap's reason names.
pub(crate) fn reason_str(reason: Reason) -> &'static str {
    match reason {
        Reason::SynAck => "syn-ack",
        Reason::Reset => "reset",
        Reason::IcmpUnreachable => "icmp-unreachable",
        Reason::NoResponse => "no-response",
        Reason::Connected => "conn-established",
        Reason::Refused => "conn-refused",
        Reason::Unreachable => "unreachable",
        Reason::NoRoute => "no-route",
        Reason::SendFailed { .. } => "send-failed",
    }
}

/// Text that came from the network (or a target file) made safe for a terminal: control
/// characters, and the invisible Unicode that can reorder a line (bidi overrides, zero-width
/// characters), become '.'. Responses are sanitised upstream; certificates and names are not.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        let invisible = matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        );
        c.is_control() || invisible
    }
    if s.chars().any(unsafe_char) {
        Cow::Owned(
            s.chars()
                .map(|c| if unsafe_char(c) { '.' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// The lines of a response: '\n' breaks lines, a '\r' before it is dropped, and a trailing
/// line break does not make an empty last line.
pub(crate) fn response_lines(response: &str) -> impl Iterator<Item = &str> {
    response
        .trim_end_matches(['\r', '\n'])
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// "OpenSSH 9.2p1", "OpenSSH", "9.2p1" or "".
pub(crate) fn product_version(service: &ServiceInfo) -> String {
    let mut text = match (&service.product, &service.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => p.clone(),
        (None, Some(v)) => v.clone(),
        (None, None) => String::new(),
    };
    // nmap's VERSION column: "OpenSSH 9.2p1 Debian 2 (protocol 2.0)".
    if let Some(extra) = &service.extrainfo {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("({extra})"));
    }
    text
}

/// `n` and a noun, singular when `n == 1`.
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "example.test (198.18.0.2)", "198.18.0.0/24 (256 addresses)", "198.18.0.2".
pub(crate) fn target_label(target: &TargetInfo) -> String {
    let spec = clean(&target.spec);
    let count = plural_u128(target.addresses, "address", "addresses");
    match target.resolved {
        Some(addr) if addr.to_string() == target.spec && target.addresses <= 1 => spec.into_owned(),
        Some(addr) if target.addresses <= 1 => format!("{spec} ({addr})"),
        Some(addr) => format!("{spec} ({addr}, {count})"),
        None => format!("{spec} ({count})"),
    }
}

pub(crate) fn plural_u128(n: u128, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
pub(crate) use xml::tests::assert_valid as assert_valid_xml;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod bulk;
