//! `cargo xtask fuzz [SECONDS] [TARGET...]`: run the cargo-fuzz targets in `fuzz/` one after
//! another for SECONDS each (default 60) and print one line per target: runs, speed, crashes.
//!
//! What it needs is installed on first use: the nightly toolchain (libFuzzer's instrumentation
//! is nightly-only) and cargo-fuzz. The targets never load the XDP program, so the build skips
//! the eBPF object (`AYA_BUILD_SKIP=1`) and needs neither bpf-linker nor LLVM. Each target reads
//! its committed seeds (`fuzz/seeds/TARGET`) and grows a working corpus in `fuzz/corpus/TARGET`
//! (not committed); crashing inputs land in `fuzz/artifacts/TARGET`. `docs/fuzzing.md` says
//! what to do with one.
use crate::exec;
use anyhow::{Context as _, bail};
use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const DEFAULT_SECONDS: u64 = 60;
/// A single input running longer than this is reported as a crash (a hang is a bug too).
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// A parsed `cargo xtask fuzz` command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub seconds: u64,
    /// Empty: every target `cargo fuzz list` names.
    pub targets: Vec<String>,
}

/// `[SECONDS] [TARGET...]`; `Err` is a usage message.
pub fn parse(args: &[OsString]) -> Result<Options, String> {
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    let mut targets: Vec<String> = Vec::new();
    let mut seconds = DEFAULT_SECONDS;
    if let Some(first) = args.next() {
        if first.bytes().all(|b| b.is_ascii_digit()) {
            seconds = first.parse().ok().filter(|&s| s > 0).ok_or_else(|| {
                format!("`fuzz` needs a positive number of seconds, not `{first}`")
            })?;
        } else {
            targets.push(first);
        }
    }
    targets.extend(args);
    if let Some(bad) = targets.iter().find(|t| t.starts_with('-')) {
        return Err(format!(
            "`fuzz` takes [SECONDS] [TARGET...], not the option `{bad}`"
        ));
    }
    Ok(Options { seconds, targets })
}

/// What one libFuzzer run reported.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    runs: Option<u64>,
    secs: Option<u64>,
    exec_per_sec: Option<u64>,
    /// Code edges covered (libFuzzer's `cov:`), to see whether a longer run still found more.
    coverage: Option<u64>,
    /// libFuzzer's name for what went wrong ("deadly signal", "timeout", "out-of-memory", ...).
    failure: Option<String>,
    /// Where the input that went wrong was saved.
    artifact: Option<String>,
}

impl Outcome {
    /// Take in one line of libFuzzer's stderr.
    fn add_line(&mut self, line: &str) {
        let line = line.trim();
        // `Done 1234567 runs in 61 second(s)`
        if let Some(rest) = line.strip_prefix("Done ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [runs, "runs", "in", secs, ..] = words.as_slice() {
                self.runs = runs.parse().ok();
                self.secs = secs.parse().ok();
            }
        }
        // `#1234567	DONE   cov: 51 ft: 61 corp: 9/99b lim: 4 exec/s: 20576 rss: 45Mb`: the
        // status lines carry the speed and the coverage; the last one seen wins.
        let field = |name: &str| {
            let (_, rest) = line.split_once(name)?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        };
        if line.starts_with('#') {
            self.exec_per_sec = field("exec/s: ").or(self.exec_per_sec);
            self.coverage = field("cov: ").or(self.coverage);
        }
        if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
            self.runs = rest.trim().parse().ok().or(self.runs);
        }
        // `==1234== ERROR: libFuzzer: deadly signal` (a panic aborts), `... timeout after 11
        // seconds`, `... out-of-memory (used: 2100Mb; exceeds: 2048Mb)`.
        if let Some((_, what)) = line.split_once("ERROR: libFuzzer: ") {
            let kind = what
                .split(|c: char| c == '(' || c.is_ascii_digit())
                .next()
                .unwrap_or(what)
                .trim();
            let kind = kind.strip_suffix(" after").unwrap_or(kind);
            self.failure.get_or_insert_with(|| kind.to_owned());
        }
        // `Test unit written to fuzz/artifacts/ports/crash-0123abcd`
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.artifact.get_or_insert_with(|| path.trim().to_owned());
        }
    }

    fn summary(&self, target: &str, ok: bool) -> String {
        let runs = self.runs.map_or("?".to_owned(), |r| r.to_string());
        let speed = match (self.exec_per_sec, self.runs, self.secs) {
            (Some(e), _, _) => format!("{e} exec/s"),
            (None, Some(r), Some(s)) if s > 0 => format!("{} exec/s", r / s),
            _ => "? exec/s".to_owned(),
        };
        let secs = self.secs.map_or(String::new(), |s| format!(" in {s} s"));
        let coverage = self
            .coverage
            .map_or(String::new(), |c| format!(", cov {c}"));
        let verdict = match (&self.failure, &self.artifact, ok) {
            (None, None, true) => "0 crashes".to_owned(),
            (failure, artifact, _) => format!(
                "1 crash ({}){}",
                failure.as_deref().unwrap_or("cargo fuzz failed"),
                artifact
                    .as_deref()
                    .map_or(String::new(), |a| format!(": {a}"))
            ),
        };
        format!("{target:<14} {runs:>11} runs{secs} ({speed}{coverage}), {verdict}")
    }
}

/// libFuzzer's per-input progress lines (new units, newly covered functions) and its closing
/// "recommended dictionary", left out of the echo to keep a long run readable.
fn is_noise(line: &str) -> bool {
    let progress = line.starts_with('#')
        && ["NEW", "REDUCE", "pulse", "RELOAD"]
            .iter()
            .any(|w| line.contains(w));
    let new_function = line.trim_start().starts_with("NEW_FUNC[");
    let dictionary =
        line.starts_with("###### ") || (line.starts_with('"') && line.contains("\" # Uses: "));
    progress || new_function || dictionary
}

/// `cargo +nightly fuzz ...` from the workspace root, with nothing of the calling cargo left
/// in the environment that could pin the stable toolchain.
fn cargo_fuzz(root: &Path) -> Command {
    let mut cmd = exec::command("cargo");
    cmd.current_dir(root)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env("AYA_BUILD_SKIP", "1")
        .args(["+nightly", "fuzz"]);
    cmd
}

fn ensure_tools(root: &Path) -> anyhow::Result<()> {
    if exec::probe("rustup", &["run", "nightly", "rustc", "--version"]).is_none() {
        eprintln!("xtask: fuzz: the nightly toolchain is missing");
        exec::run(exec::command("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    let has_cargo_fuzz = cargo_fuzz(root)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cargo_fuzz {
        eprintln!("xtask: fuzz: cargo-fuzz is missing");
        exec::run(exec::command("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

/// Run `cargo xtask fuzz` from the workspace `root`.
pub fn run(root: &Path, opts: Options) -> anyhow::Result<ExitCode> {
    ensure_tools(root)?;
    let listed = cargo_fuzz(root)
        .arg("list")
        .stderr(Stdio::inherit())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .context("`cargo fuzz list` failed: is fuzz/Cargo.toml there?")?;
    let all: Vec<String> = listed.split_whitespace().map(str::to_owned).collect();
    if let Some(unknown) = opts.targets.iter().find(|t| !all.contains(t)) {
        eprintln!(
            "xtask: fuzz: no target `{unknown}`; the targets are: {}",
            all.join(" ")
        );
        return Ok(ExitCode::from(2));
    }
    let targets = if opts.targets.is_empty() {
        all
    } else {
        opts.targets
    };
    // One build for all targets (they share every dependency), then one run each.
    exec::run(cargo_fuzz(root).args(["build", "--debug-assertions"]))?;
    let mut lines = Vec::new();
    let mut failed = Vec::new();
    for target in &targets {
        let (outcome, ok) = fuzz_one(root, target, opts.seconds)?;
        let line = outcome.summary(target, ok);
        eprintln!("xtask: fuzz: {line}");
        lines.push(line);
        if !ok || outcome.failure.is_some() {
            failed.push(target.as_str());
        }
    }
    let mut stdout = std::io::stdout().lock();
    for line in &lines {
        let _ = writeln!(stdout, "{line}");
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!(
            "crashes in {}; see docs/fuzzing.md for what to do with them",
            failed.join(", ")
        )
    }
}

fn fuzz_one(root: &Path, target: &str, seconds: u64) -> anyhow::Result<(Outcome, bool)> {
    let fuzz_dir = root.join("fuzz");
    // The working corpus comes first: libFuzzer adds what it finds to the first directory.
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let mut cmd = cargo_fuzz(root);
    cmd.args(["run", "--debug-assertions", target])
        .arg(&corpus)
        .args(seeds.is_dir().then_some(&seeds))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1");
    let dict: PathBuf = fuzz_dir.join("dict").join(format!("{target}.dict"));
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    let line = exec::describe(&cmd);
    eprintln!("xtask: $ {line}");
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{line}`"))?;
    let mut outcome = Outcome::default();
    if let Some(err) = child.stderr.take() {
        let mut stderr = std::io::stderr().lock();
        for text in BufReader::new(err).lines().map_while(Result::ok) {
            outcome.add_line(&text);
            if !is_noise(&text) {
                let _ = writeln!(stderr, "{text}");
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for `{line}`"))?;
    exec::check_interrupted()?;
    Ok((outcome, status.success()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn seconds_then_targets() {
        assert_eq!(
            parse(&args(&[])),
            Ok(Options {
                seconds: DEFAULT_SECONDS,
                targets: vec![]
            })
        );
        assert_eq!(
            parse(&args(&["600", "ports", "cert"])),
            Ok(Options {
                seconds: 600,
                targets: vec!["ports".into(), "cert".into()]
            })
        );
        assert_eq!(
            parse(&args(&["ports"])),
            Ok(Options {
                seconds: DEFAULT_SECONDS,
                targets: vec!["ports".into()]
            })
        );
        assert!(parse(&args(&["0"])).is_err());
        assert!(parse(&args(&["99999999999999999999999"])).is_err());
        assert!(parse(&args(&["60", "--jobs"])).is_err());
    }

    #[test]
    fn clean_run_is_summarised() {
        let mut o = Outcome::default();
        for line in [
            "INFO: Seed: 1234",
            "#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#1048576\tpulse  cov: 50 ft: 60 corp: 9/99b lim: 4 exec/s: 349525 rss: 40Mb",
            "#1234567\tDONE   cov: 51 ft: 61 corp: 9/99b lim: 4 exec/s: 20576 rss: 45Mb",
            "Done 1234567 runs in 60 second(s)",
            "stat::number_of_executed_units: 1234567",
        ] {
            o.add_line(line);
        }
        assert_eq!(o.runs, Some(1_234_567));
        assert_eq!(o.secs, Some(60));
        assert_eq!(o.exec_per_sec, Some(20_576));
        assert_eq!(o.coverage, Some(51));
        assert_eq!(o.failure, None);
        assert_eq!(
            o.summary("ports", true),
            "ports              1234567 runs in 60 s (20576 exec/s, cov 51), 0 crashes"
        );
    }

    #[test]
    fn crash_names_its_kind_and_artifact() {
        let mut o = Outcome::default();
        for line in [
            "thread '<unnamed>' panicked at src/ports.rs:1:1:",
            "==4242== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='fuzz/artifacts/ports/'; Test unit written to fuzz/artifacts/ports/crash-01ab",
            "stat::number_of_executed_units: 77",
        ] {
            o.add_line(line);
        }
        assert_eq!(o.failure.as_deref(), Some("deadly signal"));
        assert_eq!(
            o.artifact.as_deref(),
            Some("fuzz/artifacts/ports/crash-01ab")
        );
        assert_eq!(o.runs, Some(77));
        assert!(
            o.summary("ports", false)
                .ends_with("1 crash (deadly signal): fuzz/artifacts/ports/crash-01ab"),
            "{}",
            o.summary("ports", false)
        );
        let mut slow = Outcome::default();
        slow.add_line("==9== ERROR: libFuzzer: timeout after 11 seconds");
        slow.add_line("==9== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)");
        assert_eq!(slow.failure.as_deref(), Some("timeout"));
        let mut oom = Outcome::default();
        oom.add_line("==9== ERROR: libFuzzer: out-of-memory (malloc(4294967296))");
        assert_eq!(oom.failure.as_deref(), Some("out-of-memory"));
        // A cargo failure before libFuzzer ran (a build error) is still not a clean run.
        assert!(
            Outcome::default()
                .summary("cert", false)
                .contains("1 crash")
        );
    }

    #[test]
    fn progress_and_dictionary_lines_are_not_echoed() {
        assert!(is_noise(
            "#4096\tpulse  cov: 50 ft: 60 corp: 9/99b exec/s: 2048 rss: 40Mb"
        ));
        assert!(is_noise("#17\tNEW    cov: 12 ft: 13 corp: 2/3b"));
        assert!(is_noise("###### Recommended dictionary. ######"));
        assert!(is_noise(
            "\tNEW_FUNC[1/1]: 0x5563 in x509_parser::extensions::parser::parse_keyidentifier_ext"
        ));
        assert!(is_noise("\"\\001\\000\" # Uses: 1122"));
        assert!(!is_noise("==1== ERROR: libFuzzer: deadly signal"));
        assert!(!is_noise(
            "#12\tINITED cov: 403 ft: 816 corp: 7/306b exec/s: 0 rss: 59Mb"
        ));
        assert!(!is_noise("Done 10 runs in 1 second(s)"));
    }
}
