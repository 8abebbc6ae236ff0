//! The tcprax command: parse arguments into a validated config, set the scan up, give up every
//! privilege, run the scan, map the outcome to an exit code, and turn SIGINT/SIGTERM/SIGHUP into
//! a clean stop. All the work lives in the library; all the grammar in `cli`.
//!
//! The order is the point: report files are opened and the privileged set-up done (-sS: XDP
//! attached, raw socket open) while the process has one thread; then every capability is
//! dropped (under sudo, the process becomes the invoking user); only then is the async runtime
//! built, so every thread it starts is unprivileged before any byte from the network is parsed.
mod cli;
mod pause;

use std::process::ExitCode;
use tcprax::config::Verbosity;
use tcprax::engine::ScanControl;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Exit codes: 0 done, 1 the scan could not run (e.g. XDP could not be attached), 2 bad
/// input, 128 + the signal number when a signal stopped the scan (130 SIGINT, 143 SIGTERM,
/// 129 SIGHUP; partial results were printed).
fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Subcommands that do not scan (no privileges, no network) take over argv from their word on.
    if cli::merge::is_merge(&args) {
        // `tcprax merge`: reads shard files, writes reports.
        return cli::merge::main(args);
    }
    if args.get(1).is_some_and(|a| a == "report") {
        return cli::report::main(args);
    }
    let config = match cli::parse_from(args) {
        Ok(config) => config,
        Err(cli::CliError::Clap(err)) => err.exit(),
        Err(err) => {
            eprintln!("tcprax: error: {err}");
            return ExitCode::from(2);
        }
    };
    // A resumed scan continues the reports of the run it continues, from where it was saved.
    let mode = match &config.resume.from {
        Some(from) => {
            if let Err(err) = from.rewind_outputs() {
                eprintln!("tcprax: error: {err}");
                return ExitCode::from(2);
            }
            tcprax::output::OpenMode::Append
        }
        None => tcprax::output::OpenMode::Create,
    };
    let mut printers =
        match tcprax::output::open_printers_with(&config.outputs, config.verbosity, mode) {
            Ok(p) => p,
            Err(err) => {
                eprintln!("tcprax: error: {err}");
                return ExitCode::from(2);
            }
        };
    let prepared = match tcprax::scan::prepare(&config) {
        Ok(prepared) => prepared,
        // A --service-probes file that cannot be used is bad input.
        Err(err @ tcprax::scan::ScanError::ProbeFile(_)) => {
            eprintln!("tcprax: error: {err}");
            return ExitCode::from(2);
        }
        Err(err) => {
            eprintln!("tcprax: error: {err}");
            return ExitCode::from(1);
        }
    };
    if let Err(err) = tcprax::privilege::sudo_user_from_env().and_then(tcprax::privilege::drop_all)
    {
        eprintln!("tcprax: error: {err}");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tcprax: error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let stop = ScanControl::new();
    let result = runtime.block_on(async {
        // Installed before the scan writes or sends anything: from here on these signals no
        // longer kill the process mid-line.
        match StopSignals::install() {
            Ok(signals) => {
                tokio::spawn(signals.watch(stop.clone()));
            }
            Err(err) => eprintln!("tcprax: warning: cannot catch signals: {err}"),
        }
        tcprax::scan::run(&config, prepared, &mut printers, stop.clone()).await
    });
    // The resume file, whether or not every report could be finished (a terminal gone with
    // SIGHUP fails the human report, and that is exactly when a scan is worth resuming).
    match (&result, stop.signal()) {
        (Ok(_) | Err(tcprax::scan::ScanError::Output { .. }), Some(_)) => {
            pause::stopped(&config, stop.take_paused(), note);
        }
        (Ok(summary), None) if !summary.interrupted => pause::completed(&config, note),
        _ => {}
    }
    // Whatever the runtime still holds (XDP links, sockets) goes now, inside the timing.
    drop(runtime);
    if config.verbosity >= Verbosity::Verbose
        && let Ok(summary) = &result
    {
        note(&timing(started, summary));
    }
    match result {
        Ok(summary) if summary.interrupted => {
            ExitCode::from(signal_status(stop.signal().unwrap_or(libc::SIGINT)))
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(tcprax::scan::ScanError::Output { source }) if stop.signal().is_some() => {
            // After SIGHUP the terminal is gone: the other reports were still finished.
            note(&format!("tcprax: cannot write the report: {source}"));
            ExitCode::from(signal_status(stop.signal().unwrap_or(libc::SIGINT)))
        }
        Err(tcprax::scan::ScanError::Output { source })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            // `tcprax ... | head` is not an error.
            ExitCode::SUCCESS
        }
        Err(err) => {
            note(&format!("tcprax: error: {err}"));
            ExitCode::from(1)
        }
    }
}

/// -v: where the time went. From the start: to the first probe (start-up); from the first
/// probe to the last one (sending, retries included); from the last probe to the last verdict
/// (the final wait for answers and timeouts); from the last verdict to now, just before exit
/// (tear-down).
fn timing(started: std::time::Instant, summary: &tcprax::model::ScanSummary) -> String {
    let ms = |d: std::time::Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let first = summary
        .first_probe
        .map_or("no probe sent".into(), |t| ms(t.duration_since(started)));
    let sending = match (summary.first_probe, summary.last_probe) {
        (Some(a), Some(b)) => format!(", sending {}", ms(b.saturating_duration_since(a))),
        _ => String::new(),
    };
    let wait = match (summary.last_probe, summary.last_verdict) {
        (Some(a), Some(b)) => format!(
            ", last probe to last verdict {}",
            ms(b.saturating_duration_since(a))
        ),
        _ => String::new(),
    };
    let last = summary
        .last_verdict
        .map_or("no verdict".into(), |t| ms(t.elapsed()));
    format!(
        "tcprax: timing: start to first probe {first}{sending}{wait}, last verdict to exit {last}"
    )
}

/// A line on stderr that may fail silently: after SIGHUP the terminal may be gone, and
/// `eprintln!` would panic instead of letting the scan finish its other reports.
fn note(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The shell's convention: a process ended by signal N reports 128 + N.
fn signal_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

/// SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`, `systemctl stop`) and SIGHUP (a closed
/// terminal or SSH session) all mean "stop the scan and keep what it found".
struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> (i32, &'static str) {
        tokio::select! {
            _ = self.int.recv() => (libc::SIGINT, "SIGINT"),
            _ = self.term.recv() => (libc::SIGTERM, "SIGTERM"),
            _ = self.hup.recv() => (libc::SIGHUP, "SIGHUP"),
        }
    }

    /// The first signal stops the scan gracefully: the engine stops sending, -sV probes are
    /// cancelled and every report is finished. A second one exits at once, for a user who
    /// will not wait (or a report stuck on a stalled pipe).
    async fn watch(mut self, stop: ScanControl) {
        let (signal, name) = self.next().await;
        note(&format!(
            "tcprax: {name}: stopping, finishing the reports with the results so far \
             (signal again to exit at once)"
        ));
        stop.stop_with(signal);
        let (signal, name) = self.next().await;
        note(&format!(
            "tcprax: {name} again: exiting now; reports end at their last whole line"
        ));
        tcprax::output::exit_now(i32::from(signal_status(signal)));
    }
}
