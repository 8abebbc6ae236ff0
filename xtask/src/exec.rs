//! How xtask runs other programs: each command is echoed to stderr before it starts, finds
//! `~/.cargo/bin` first on its PATH (that is where `cargo install` puts bpf-linker, which
//! `tcprax/build.rs` needs), and Ctrl-C only sets a flag here, so xtask outlives the child the
//! terminal also interrupted and can undo what it must (such as a temporary `policy-rc.d`).
use anyhow::{Context as _, bail};
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error xtask returns once the user pressed Ctrl-C; `main` maps it to exit code 130.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Record SIGINT instead of dying on it. The children (same process group) get the terminal's
/// SIGINT themselves; `exec` restores the default disposition for a program that replaces us.
pub fn install_interrupt_handler() {
    if let Err(err) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
        eprintln!("xtask: warning: cannot handle Ctrl-C ({err}); it will end xtask at once");
    }
}

/// Fail with [`Interrupted`] if Ctrl-C was pressed.
pub fn check_interrupted() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(Interrupted.into());
    }
    Ok(())
}

/// `$CARGO_HOME/bin`, else `$HOME/.cargo/bin`: where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home).join("bin"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cargo").join("bin"))
}

/// Our PATH with the cargo bin directory first (unless it is there already).
fn child_path() -> &'static OsStr {
    static PATH: OnceLock<OsString> = OnceLock::new();
    PATH.get_or_init(|| {
        let current = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&current).collect();
        if let Some(bin) = cargo_bin_dir() {
            dirs.retain(|d| d != &bin);
            dirs.insert(0, bin);
        }
        std::env::join_paths(dirs).unwrap_or(current)
    })
}

/// A command for `program` with the child PATH set. On Unix a changed PATH is also the one
/// used to look `program` up, so `bpf-linker` is found in `~/.cargo/bin` right after install.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("PATH", child_path());
    cmd
}

/// A shell-like rendering of `cmd` for the echo line (environment changes other than PATH,
/// then the program and its arguments).
pub fn describe(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in cmd.get_envs() {
        if key == "PATH" {
            continue;
        }
        match value {
            Some(v) => parts.push(format!("{}={}", key.to_string_lossy(), quote(v))),
            None => parts.push(format!("-u {}", key.to_string_lossy())),
        }
    }
    if !parts.is_empty() {
        parts.insert(0, "env".to_string());
    }
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Echo `cmd`, run it to completion with inherited stdout/stderr, and return its status.
pub fn status(cmd: &mut Command) -> anyhow::Result<ExitStatus> {
    let line = describe(cmd);
    eprintln!("xtask: $ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `{line}`"))?;
    check_interrupted()?;
    Ok(status)
}

/// Totals of the `test result:` lines of a `cargo test` run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestTally {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl TestTally {
    /// Add one libtest summary line: `test result: ok. 5 passed; 0 failed; 1 ignored; ...`.
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result:") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Like [`status`] for `cargo test`: its stdout is passed through line by line and the
/// libtest summaries are added up.
pub fn status_tallying(cmd: &mut Command) -> anyhow::Result<(ExitStatus, TestTally)> {
    use std::io::{BufRead as _, BufReader, Write as _};
    let line = describe(cmd);
    eprintln!("xtask: $ {line}");
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{line}`"))?;
    let mut tally = TestTally::default();
    if let Some(out) = child.stdout.take() {
        let mut stdout = std::io::stdout().lock();
        for text in BufReader::new(out).lines().map_while(Result::ok) {
            tally.add_line(&text);
            let _ = writeln!(stdout, "{text}");
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for `{line}`"))?;
    check_interrupted()?;
    Ok((status, tally))
}

/// Like [`status`], failing unless the command succeeded.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Run a quiet look-up (no echo, no stdin, stderr discarded): its stdout if it succeeded,
/// `None` if it failed or could not start.
pub fn probe(program: &str, args: &[&str]) -> Option<String> {
    let out = command(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Replace xtask with `cmd` (same pid, so signals and the exit code are the program's own).
/// Returns only if that failed.
pub fn exec(cmd: &mut Command) -> anyhow::Error {
    let line = describe(cmd);
    eprintln!("xtask: exec {line}");
    anyhow::Error::new(cmd.exec()).context(format!("cannot execute `{line}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_adds_libtest_summaries() {
        let mut t = TestTally::default();
        t.add_line("test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.1s");
        t.add_line(
            "test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 7 tests");
        assert_eq!(
            t,
            TestTally {
                passed: 7,
                failed: 3,
                ignored: 1
            }
        );
    }

    #[test]
    fn describe_quotes_what_a_shell_would_split() {
        let mut cmd = Command::new("cargo");
        cmd.args(["clippy", "--", "-D", "warnings"]);
        cmd.env("LLVM_PREFIX", "/usr/lib/llvm-22");
        cmd.env_remove("RUSTC");
        cmd.arg("it's here");
        cmd.env("PATH", "/ignored");
        let line = describe(&cmd);
        assert!(line.starts_with("env "), "{line}");
        assert!(line.contains("LLVM_PREFIX=/usr/lib/llvm-22"), "{line}");
        assert!(line.contains("-u RUSTC"), "{line}");
        assert!(!line.contains("/ignored"), "{line}");
        assert!(
            line.ends_with(r"cargo clippy -- -D warnings 'it'\''s here'"),
            "{line}"
        );
    }

    #[test]
    fn describe_without_environment_changes_is_just_the_command() {
        let mut cmd = Command::new("dpkg-query");
        cmd.args(["-W", "-f=${Status}", "nmap"]);
        assert_eq!(describe(&cmd), "dpkg-query -W '-f=${Status}' nmap");
    }

    #[test]
    fn child_path_starts_with_the_cargo_bin_dir() {
        let Some(bin) = cargo_bin_dir() else { return };
        let first = std::env::split_paths(child_path()).next();
        assert_eq!(first, Some(bin));
    }
}
