//! The sorted printers hold nothing for hosts without an open port: the real binary scans an
//! all-closed AnyIP /16 (every address answers RST) twice, once with the human report and once
//! with JSON lines only, and the human run's peak RSS must stay within a few MB of the JSON
//! run's (it used to keep ~420 bytes per host: ~27 MB more on a /16).
mod common;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Peak RSS allowed above the JSON-only run.
const MAX_EXTRA_KIB: i64 = 4 * 1024;

struct Run {
    /// Peak resident set, KiB (getrusage's ru_maxrss of the child).
    max_rss_kib: i64,
    stdout: String,
}

/// Runs `cmd` to its end with stdout in a file (so nothing has to read a pipe while it runs)
/// and returns its peak RSS as wait4(2) reports it for that one child.
fn run_measured(mut cmd: Command, tag: &str) -> Run {
    let path: PathBuf =
        std::env::temp_dir().join(format!("tcprax-memory-{}-{tag}", std::process::id()));
    let out = File::create(&path).unwrap();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which also reports its peak RSS"
    )]
    let child = cmd
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // `ip netns exec` execs the program in place, so this pid is tcprax itself.
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero is a valid rusage; wait4 fills it for our own child, which nothing
    // else reaps (the Child handle is not waited on afterwards).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "tcprax failed: status {status:#x}"
    );
    let stdout = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    Run {
        max_rss_kib: usage.ru_maxrss,
        stdout,
    }
}

#[test]
fn an_all_closed_slash16_costs_the_human_report_no_memory_per_host() {
    let Some(tb) = common::testbed("trxmem") else {
        return;
    };
    tb.target_anyip("198.19.0.0/16").unwrap();
    let scan = |output: &str| {
        let mut cmd = tb.scanner_command(common::bin());
        // Two ports: no host is complete on its first verdict, so a printer that keeps
        // per-host state holds it for every host until the host's second port comes in.
        cmd.args(["-sS", "198.19.0.0/16", "-p", "1,2", output, "-"]);
        cmd
    };
    let json = run_measured(scan("-oJ"), "json");
    let human = run_measured(scan("-oN"), "human");
    let extra = human.max_rss_kib - json.max_rss_kib;
    eprintln!(
        "peak RSS: JSON only {} KiB, human report {} KiB, difference {extra} KiB",
        json.max_rss_kib, human.max_rss_kib
    );

    // Both runs decided every port: 65,536 hosts × 2 ports, all closed.
    let summary = json
        .stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .unwrap_or_else(|| panic!("no summary line"));
    assert_eq!(summary["closed"], 131_072, "{summary}");
    assert!(
        human.stdout.contains("Ports: 0 open, 131072 closed"),
        "{}",
        human.stdout
    );
    assert!(
        extra < MAX_EXTRA_KIB,
        "the human report costs {extra} KiB more than JSON lines"
    );
}
