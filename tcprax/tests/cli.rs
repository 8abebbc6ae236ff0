//! End-to-end tests of the command line through the real binary: every class of user error
//! must end with exit code 2, exactly one line on stderr naming the bad token, nothing on
//! stdout, and no panic; `--help` must succeed, show examples and speak to users only.
//!
//! Valid command lines are not run here: they would start a scan once main wires the engines.
use std::path::PathBuf;
use std::process::{Command, Output};
use tcprax::config::defaults;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcprax"))
        .args(args)
        .output()
        .expect("run tcprax")
}

/// Asserts the usage-error contract and that the single stderr line contains `needle`.
#[track_caller]
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: status {:?}, stderr {stderr:?}",
        out.status
    );
    assert!(
        out.stdout.is_empty(),
        "{args:?}: stdout not empty: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: stderr is not one line: {stderr:?}"
    );
    assert!(stderr.ends_with('\n'), "{args:?}: {stderr:?}");
    assert!(
        stderr.starts_with("tcprax: error: "),
        "{args:?}: {stderr:?}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} does not mention {needle:?}"
    );
}

/// A path in the temp dir that does not exist.
fn missing_file(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tcprax-cli-test-{}-{tag}-missing.txt",
        std::process::id()
    ));
    assert!(!path.exists());
    path
}

#[test]
fn port_above_65535() {
    assert_usage_error(
        &["-p", "22,70000", "198.18.0.2"],
        "bad port '70000' in -p: above 65535",
    );
}

#[test]
fn port_zero() {
    assert_usage_error(&["-p", "0", "198.18.0.2"], "bad port '0'");
}

#[test]
fn reversed_port_range() {
    assert_usage_error(&["-p", "90-80", "198.18.0.2"], "'90-80'");
}

#[test]
fn empty_port_token() {
    assert_usage_error(&["-p", "22,,80", "198.18.0.2"], "'22,,80'");
    assert_usage_error(&["-p", "", "198.18.0.2"], "empty port list");
}

#[test]
fn non_numeric_port() {
    assert_usage_error(&["-p", "22,ssh", "198.18.0.2"], "bad port 'ssh'");
}

#[test]
fn bad_cidr_prefix() {
    assert_usage_error(&["198.18.0.0/33"], "bad target '198.18.0.0/33'");
    assert_usage_error(&["198.18.0.0/x"], "'198.18.0.0/x'");
}

#[test]
fn bad_address_and_range() {
    assert_usage_error(&["198.18.0.300"], "'198.18.0.300'");
    assert_usage_error(&["198.18.0.20-1"], "'198.18.0.20-1'");
}

#[test]
fn empty_target_token() {
    assert_usage_error(&["198.18.0.1,,198.18.0.2"], "'198.18.0.1,,198.18.0.2'");
}

#[test]
fn unresolvable_host() {
    assert_usage_error(&["nonexistent.invalid"], "'nonexistent.invalid'");
}

#[test]
fn missing_input_list() {
    let path = missing_file("il");
    let p = path.to_str().unwrap();
    assert_usage_error(&["-iL", p], p);
}

#[test]
fn missing_exclude_file() {
    let path = missing_file("ex");
    let p = path.to_str().unwrap();
    assert_usage_error(&["198.18.0.2", "--excludefile", p], p);
}

#[test]
fn threads_out_of_range() {
    assert_usage_error(&["-t", "0", "198.18.0.2"], "'0' for -t");
    assert_usage_error(&["-t", "65536", "198.18.0.2"], "'65536' for -t");
    assert_usage_error(&["-t", "-1", "198.18.0.2"], "'-1' for -t");
}

#[test]
fn shard_out_of_range() {
    assert_usage_error(
        &["-sS", "--shard", "5/4", "198.18.0.2"],
        "'5/4' for --shard",
    );
    assert_usage_error(
        &["-sS", "--shard", "0/4", "198.18.0.2"],
        "'0/4' for --shard",
    );
}

#[test]
fn bad_rate() {
    assert_usage_error(&["-sS", "--rate", "0", "198.18.0.2"], "'0' for --rate");
    assert_usage_error(
        &["-sS", "--rate", "fast", "198.18.0.2"],
        "'fast' for --rate",
    );
}

#[test]
fn bad_source_port_range() {
    assert_usage_error(
        &["-sS", "--source-port-range", "65535-1000", "198.18.0.2"],
        "'65535-1000'",
    );
    assert_usage_error(
        &["-sS", "--source-port-range", "0-10", "198.18.0.2"],
        "'0-10'",
    );
}

#[test]
fn bad_timeouts() {
    assert_usage_error(&["--timeout", "soon", "198.18.0.2"], "'soon' for --timeout");
    assert_usage_error(
        &["-sV", "--probe-timeout", "0", "198.18.0.2"],
        "'0' for --probe-timeout",
    );
}

#[test]
fn bad_source_address_and_interface() {
    assert_usage_error(
        &["-sS", "-S", "198.18.0.999", "198.18.0.2"],
        "'198.18.0.999' for -S",
    );
    assert_usage_error(&["-sS", "-e", "no/such", "198.18.0.2"], "'no/such' for -e");
}

#[test]
fn all_targets_excluded() {
    assert_usage_error(&["198.18.0.0/24", "--exclude", "198.18.0.0/16"], "excluded");
}

#[test]
fn no_targets() {
    assert_usage_error(&[], "no targets");
    assert_usage_error(&["-sS", "-p", "22"], "no targets");
}

#[test]
fn conflicting_or_unknown_scan_types() {
    assert_usage_error(&["-sS", "-sT", "198.18.0.2"], "-sS and -sT");
    assert_usage_error(&["-sU", "198.18.0.2"], "'-sU'");
}

#[test]
fn unsupported_or_conflicting_outputs() {
    assert_usage_error(&["-oB", "scan", "198.18.0.2"], "'-oB'");
    assert_usage_error(&["-oA", "-", "198.18.0.2"], "-oA writes four files");
    assert_usage_error(&["-oN", "-", "-oG", "-", "198.18.0.2"], "stdout");
}

#[test]
fn help_exits_zero_and_shows_examples() {
    for flag in ["--help", "-h"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("Examples:"), "{stdout}");
        assert!(stdout.contains("198.18.0.0/24"), "{stdout}");
        // The nmap spellings are documented next to the long forms.
        for form in [
            "-sS",
            "-sT",
            "-sV",
            "-oJ",
            "-iL",
            "-p-",
            "--output-json",
            "--input-list",
        ] {
            assert!(stdout.contains(form), "--help does not mention {form}");
        }
    }
}

/// `--help` is for users: nothing of the code behind it (clap turns doc comments into help
/// text, and once printed the parser's internal notes), every quoted default is the one the
/// scan uses, and the short form fits a 100-column terminal.
#[test]
fn help_speaks_to_users_only() {
    for flag in ["--help", "-h"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let help = String::from_utf8_lossy(&out.stdout);
        for internal in [
            "clap",
            "rewrite_nmap_forms",
            "allow_negative_numbers",
            "RawArgs",
            "[`",
            "build]",
            "ScanConfig",
        ] {
            assert!(
                !help.contains(internal),
                "{flag} mentions {internal:?}:\n{help}"
            );
        }
        let (lo, hi) = defaults::SOURCE_PORTS;
        for quoted in [
            format!(
                "{} / {}]",
                defaults::CONCURRENCY,
                defaults::SERVICE_CONCURRENCY
            ),
            format!(
                "{} for -sT, {} for -sS]",
                defaults::RETRIES_CONNECT,
                defaults::RETRIES_SYN
            ),
            format!("[default: {lo}-{hi}"),
            format!("[default: {}s]", defaults::PROBE_TIMEOUT.as_secs()),
        ] {
            if flag == "--help" && quoted.contains(" / ") {
                // The long form spells -t's two defaults out instead.
                continue;
            }
            assert!(
                help.contains(&quoted),
                "{flag} does not quote {quoted:?}:\n{help}"
            );
        }
    }
    let short = run(&["-h"]);
    for line in String::from_utf8_lossy(&short.stdout).lines() {
        assert!(line.chars().count() <= 100, "-h line too wide: {line:?}");
    }
    let long = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    assert!(
        long.contains(&format!(
            "[default: {} connects, {} service probes]",
            defaults::CONCURRENCY,
            defaults::SERVICE_CONCURRENCY
        )),
        "{long}"
    );
    assert!(long.contains("Exit status:"), "{long}");
}
