//! tcprax-demo: scan a small network that the demo builds itself, and say what a correct scan
//! reports, so a user can see both scan modes work without touching any real network.
//!
//! Two throw-away network namespaces joined by a veth pair ([`tcprax_lab::testbed`]): the
//! scanner at 198.18.0.1 and the target at 198.18.0.2. The target gets listeners on ports that
//! look like real services and an nftables rule that drops two more; then `tcprax` (found by
//! [`tcprax_lab::locate`]: `TCPRAX_BIN`, else next to this executable) runs inside the scanner
//! namespace, once with `-sS` and once with `-sT`, its output streamed as it comes. Extra
//! arguments are passed on to both scans (`tcprax-demo -sV`). Needs root.
//!
//! Cleanup on every path: the namespaces (and with them the veth pair, the firewall rule and
//! any XDP program) go when the [`Testbed`] drops. Ctrl-C only sets a flag, so the demo
//! unwinds normally: a running scan gets SIGINT, then SIGKILL if it does not end, by its pid.
use anyhow::{Context as _, bail};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tcprax_lab::interrupt;
use tcprax_lab::process::{Child, Stop};
use tcprax_lab::testbed::{SCANNER_V4, TARGET_V4, Testbed, have_privileges};

/// Listeners in the target namespace: these must scan as open.
const OPEN: &[(u16, &str)] = &[
    (22, "ssh"),
    (80, "http"),
    (443, "https"),
    (3306, "mysql"),
    (8080, "http-alt"),
];
/// Dropped by nftables in the target namespace: these must scan as filtered.
const FILTERED: &[(u16, &str)] = &[(8443, "https-alt"), (9000, "cslistener")];
/// Scanned: the well-known range plus the listeners and filtered ports above it.
const LOW_RANGE: (u16, u16) = (1, 1024);

/// After Ctrl-C, give a running scan a moment to stop on the terminal's SIGINT, then send one
/// ourselves (the demo may have been signalled alone), then kill it.
const ON_INTERRUPT: Stop = Stop {
    signal: libc::SIGINT,
    signal_after: Duration::from_millis(500),
    kill_after: Duration::from_secs(3),
};

fn check_interrupted() -> anyhow::Result<()> {
    Ok(interrupt::check()?)
}

fn main() -> ExitCode {
    // Before anything is created, so that no Ctrl-C can skip the cleanup.
    if let Err(err) = interrupt::install() {
        eprintln!("tcprax-demo: error: cannot handle Ctrl-C: {err}");
        return ExitCode::FAILURE;
    }
    let extra: Vec<OsString> = std::env::args_os().skip(1).collect();
    if extra.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "usage: tcprax-demo [TCPRAX-ARGS...]   (as root; extra arguments go to both scans)"
        );
        return ExitCode::SUCCESS;
    }
    match run(&extra) {
        Ok(runs) if runs.iter().all(|r| r.status.success()) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) if err.is::<interrupt::Interrupted>() => {
            eprintln!("tcprax-demo: interrupted; the demo network is removed");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("tcprax-demo: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// One finished scan.
struct ScanRun {
    mode: &'static str,
    status: ExitStatus,
    took: Duration,
}

fn run(extra: &[OsString]) -> anyhow::Result<Vec<ScanRun>> {
    let scanner = tcprax_lab::locate::tcprax_binary(None)?;
    if !have_privileges() {
        bail!("the demo creates network namespaces and attaches XDP: run it as root");
    }
    let ports = scanned_ports();
    let spec = port_spec(&ports);

    eprintln!("tcprax-demo: creating the demo network (namespaces trxdemo-*)");
    let testbed = Testbed::new("trxdemo").context("creating the demo network namespaces")?;
    check_interrupted()?;
    let open: Vec<u16> = OPEN.iter().map(|&(p, _)| p).collect();
    let filtered: Vec<u16> = FILTERED.iter().map(|&(p, _)| p).collect();
    let _listeners = testbed
        .target_listen(&open)
        .context("starting listeners in the target namespace")?;
    testbed
        .target_filter_ports(&filtered)
        .context("adding the nftables rule in the target namespace (is nftables installed? `cargo xtask setup` installs it)")?;
    check_interrupted()?;

    println!("demo network:");
    println!(
        "  scanner  {SCANNER_V4:<12} namespace {:<22} interface {}",
        testbed.scanner_ns, testbed.scanner_if
    );
    println!(
        "  target   {TARGET_V4:<12} namespace {:<22} interface {}",
        testbed.target_ns, testbed.target_if
    );
    println!("  listening on {}; dropping {}", list(OPEN), list(FILTERED));

    let target = TARGET_V4.to_string();
    // A scan stopped by Ctrl-C saves a resume file; the demo's belongs in /tmp, not in the
    // user's checkout, and goes when the demo ends.
    let resume_file =
        std::env::temp_dir().join(format!("tcprax-demo-{}.resume", std::process::id()));
    let _remove_resume = RemoveOnDrop(resume_file.clone());
    let mut runs = Vec::new();
    for mode in ["-sS", "-sT"] {
        check_interrupted()?;
        let mut args: Vec<OsString> = [mode, target.as_str(), "-p", spec.as_str()]
            .into_iter()
            .map(OsString::from)
            .collect();
        args.extend([OsString::from("--resume-file"), resume_file.clone().into()]);
        args.extend(extra.iter().cloned());
        println!();
        println!(
            "=== ip netns exec {} {} {}",
            testbed.scanner_ns,
            scanner.display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let started = Instant::now();
        let mut child = Child::spawn(
            testbed
                .scanner_command(&scanner.to_string_lossy())
                .args(&args)
                .stdin(Stdio::null()),
        )
        .context("starting tcprax in the scanner namespace")?;
        let status = child
            .wait(interrupt::requested, ON_INTERRUPT)
            .context("waiting for tcprax")?
            .status;
        let took = started.elapsed();
        println!(
            "=== tcprax {mode}: {status} after {:.2}s",
            took.as_secs_f64()
        );
        check_interrupted()?;
        runs.push(ScanRun { mode, status, took });
    }

    print_expected(&ports);
    println!();
    for r in &runs {
        let verdict = if r.status.success() { "ok" } else { "FAILED" };
        println!(
            "tcprax {}: {verdict} ({}, {:.2}s)",
            r.mode,
            r.status,
            r.took.as_secs_f64()
        );
    }
    Ok(runs)
    // `_listeners` stops, then `testbed` deletes both namespaces.
}

fn scanned_ports() -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = (LOW_RANGE.0..=LOW_RANGE.1).collect();
    ports.extend(OPEN.iter().chain(FILTERED).map(|&(p, _)| p));
    ports
}

/// The `-p` argument for `ports`: runs of consecutive ports as ranges, comma-separated.
fn port_spec(ports: &BTreeSet<u16>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = ports.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter
            .peek()
            .is_some_and(|&next| Some(next) == end.checked_add(1))
        {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

fn list(ports: &[(u16, &str)]) -> String {
    ports
        .iter()
        .map(|(p, name)| format!("{p}/tcp ({name})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_expected(ports: &BTreeSet<u16>) {
    let closed = ports.len() - OPEN.len() - FILTERED.len();
    println!();
    println!(
        "expected verdicts for {TARGET_V4} ({} ports scanned):",
        ports.len()
    );
    println!("  open      {}", list(OPEN));
    println!("            (listeners in the target namespace)");
    println!("  filtered  {}", list(FILTERED));
    println!("            (nftables drops them: no answer at all)");
    println!("  closed    the other {closed} ports");
    println!("            (the target's kernel answers RST)");
    println!("both scans should report exactly this; compare with their output above.");
}

/// Deletes a file the demo may have caused, on every way out of `run`.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_spec_joins_runs_into_ranges() {
        assert_eq!(port_spec(&scanned_ports()), "1-1024,3306,8080,8443,9000");
        let set: BTreeSet<u16> = [1, 2, 3, 5, 65534, 65535].into_iter().collect();
        assert_eq!(port_spec(&set), "1-3,5,65534-65535");
        assert_eq!(port_spec(&BTreeSet::new()), "");
    }

    #[test]
    fn expected_verdicts_partition_the_scanned_ports() {
        let ports = scanned_ports();
        assert_eq!(ports.len(), 1028);
        for &(p, _) in OPEN.iter().chain(FILTERED) {
            assert!(ports.contains(&p), "{p} is not scanned");
        }
        let open: BTreeSet<u16> = OPEN.iter().map(|&(p, _)| p).collect();
        assert!(FILTERED.iter().all(|(p, _)| !open.contains(p)));
    }
}
