//! The subcommands: argument grammar, and what each one runs (setup first, then cargo, then
//! the program). Programs that are run for the user (`run`, `demo`, `bench`) replace xtask, so
//! their exit code and their signals are their own.
use crate::exec;
use crate::setup::{self, Purpose};
use anyhow::bail;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

pub const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  setup                 install what building and testing need (idempotent; apt needs root)
  build [--release]     setup, then cargo build (tcprax/build.rs builds the XDP object)
  run [--] ARGS...      setup, build release, run target/release/tcprax ARGS
                        e.g. cargo xtask run -- -sT 198.18.0.2 -p 1-1000
  test                  setup, then fmt --check, clippy -D warnings (host crates and the
                        eBPF crate), cargo test; the project's one test command
  demo [--] [ARGS...]   setup, build release, run the namespace demo (tcprax-demo, from the
                        tcprax-lab crate); ARGS go to both of its scans
  bench [--] [ARGS...]  setup, build release, run the -sS benchmark (tcprax-bench:
                        --quick, --tools LIST)
  bench-sv [--] [ARGS...]
                        setup (and the zoo's daemons), build release, run the -sV
                        benchmark (tcprax-bench-sv: --runs N, --no-nmap, --only LIST,
                        --list, --throughput)
  fuzz [SECONDS] [TARGET...]
                        run the cargo-fuzz targets in fuzz/ for SECONDS each (default 60)
  help                  this text
";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Task {
    Setup,
    Build {
        profile: Profile,
    },
    Run {
        args: Vec<OsString>,
    },
    Test,
    /// A program of the lab crate: `demo`, `bench`, `bench-sv`.
    Lab {
        program: LabProgram,
        args: Vec<OsString>,
    },
    Fuzz(crate::fuzz::Options),
    Help,
}

/// The programs of the `tcprax-lab` crate that xtask builds and runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabProgram {
    Demo,
    Bench,
    BenchSv,
}

impl LabProgram {
    /// The binary's name in `tcprax-lab`.
    fn bin(self) -> &'static str {
        match self {
            LabProgram::Demo => "tcprax-demo",
            LabProgram::Bench => "tcprax-bench",
            LabProgram::BenchSv => "tcprax-bench-sv",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Release,
}

/// Parse xtask's arguments (program name already removed). `Err` is a usage message.
pub fn parse(args: Vec<OsString>) -> Result<Task, String> {
    let mut args = args.into_iter();
    let Some(name) = args.next() else {
        return Err("no task given".into());
    };
    let rest: Vec<OsString> = args.collect();
    let name = name.to_string_lossy();
    let no_options = |task: Task| match rest.first() {
        None => Ok(task),
        Some(extra) => Err(format!(
            "`{name}` takes no argument `{}`",
            extra.to_string_lossy()
        )),
    };
    match name.as_ref() {
        "setup" => no_options(Task::Setup),
        "test" => no_options(Task::Test),
        "help" | "-h" | "--help" => Ok(Task::Help),
        "build" => {
            let mut profile = Profile::Dev;
            for arg in &rest {
                match arg.to_str() {
                    Some("--release" | "-r") => profile = Profile::Release,
                    _ => {
                        return Err(format!(
                            "`build` takes only --release, not `{}`",
                            arg.to_string_lossy()
                        ));
                    }
                }
            }
            Ok(Task::Build { profile })
        }
        "run" => Ok(Task::Run {
            args: forwarded(rest),
        }),
        "demo" => Ok(Task::Lab {
            program: LabProgram::Demo,
            args: forwarded(rest),
        }),
        "bench" => Ok(Task::Lab {
            program: LabProgram::Bench,
            args: forwarded(rest),
        }),
        "bench-sv" => Ok(Task::Lab {
            program: LabProgram::BenchSv,
            args: forwarded(rest),
        }),
        "fuzz" => crate::fuzz::parse(&rest).map(Task::Fuzz),
        other => Err(format!("unknown task `{other}`")),
    }
}

/// Arguments for the program xtask runs: everything after the task, minus one leading `--`.
fn forwarded(mut rest: Vec<OsString>) -> Vec<OsString> {
    if rest.first().is_some_and(|a| a == "--") {
        rest.remove(0);
    }
    rest
}

/// Carry out `task`. Tasks that exec a program only return on failure.
pub fn execute(task: Task) -> anyhow::Result<ExitCode> {
    match task {
        Task::Help => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Task::Setup => {
            setup::ensure(Purpose::Lint)?;
            eprintln!("xtask: setup: everything is in place");
            Ok(ExitCode::SUCCESS)
        }
        Task::Build { profile } => {
            setup::ensure(Purpose::Build)?;
            let mut cmd = cargo();
            cmd.arg("build");
            if profile == Profile::Release {
                cmd.arg("--release");
            }
            exec::run(&mut cmd)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Run { args } => {
            setup::ensure(Purpose::Build)?;
            exec::run(cargo().args([
                "build",
                "--release",
                "--package",
                "tcprax",
                "--bin",
                "tcprax",
            ]))?;
            Err(exec::exec(Command::new(release_bin("tcprax")).args(args)))
        }
        Task::Lab { program, args } => {
            setup::ensure(Purpose::Build)?;
            match program {
                LabProgram::BenchSv => {
                    setup::ensure_test_packages()?;
                    setup::ensure_bench_sv_packages()?;
                }
                LabProgram::Bench => setup::ensure_bench_packages()?,
                LabProgram::Demo => {}
            }
            exec::run(cargo().args(lab_build_args(program)))?;
            // The lab programs find tcprax through TCPRAX_BIN first: point it at the binary
            // just built, wherever the target directory is.
            Err(exec::exec(
                Command::new(release_bin(program.bin()))
                    .env("TCPRAX_BIN", release_bin("tcprax"))
                    .args(args),
            ))
        }
        Task::Fuzz(opts) => crate::fuzz::run(root(), opts),
        Task::Test => test(),
    }
}

/// The workspace root: xtask lives in `<root>/xtask`.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask's manifest directory has a parent")
}

/// Cargo's target directory, as cargo itself would pick it (environment, else `<root>/target`).
fn target_dir() -> PathBuf {
    let from_env = ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"]
        .into_iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()));
    match from_env {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn release_bin(name: &str) -> PathBuf {
    target_dir().join("release").join(name)
}

/// `cargo` (the rustup proxy, so toolchain overrides apply) run from the workspace root.
fn cargo() -> Command {
    let mut cmd = exec::command("cargo");
    cmd.current_dir(root());
    cmd
}

/// `cargo` arguments that build a lab program and the tcprax binary it drives (the lab crate
/// does not depend on tcprax, so building it alone would not build tcprax).
fn lab_build_args(program: LabProgram) -> [&'static str; 10] {
    [
        "build",
        "--release",
        "--package",
        "tcprax",
        "--bin",
        "tcprax",
        "--package",
        "tcprax-lab",
        "--bin",
        program.bin(),
    ]
}

/// One check of `cargo xtask test`.
struct Check {
    name: &'static str,
    command: Command,
}

fn test() -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    setup::ensure(Purpose::Lint)?;
    let setup_time = started.elapsed();

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);

    // Every host crate (tcprax, tcprax-common, tcprax-lab, xtask), tests and programs included.
    // `--workspace` would take in tcprax-ebpf, which only builds for bpfel-unknown-none.
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--exclude",
        "tcprax-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);

    // The eBPF crates (the scanner's program and the benchmark's responder) are linted for
    // their own target with nightly and build-std, as they are built; with cargo's and
    // rustup's variables removed so nothing pins the stable toolchain.
    let mut clippy_ebpf = exec::command("rustup");
    clippy_ebpf
        .current_dir(root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .args([
            "run",
            "nightly",
            "cargo",
            "clippy",
            "--package",
            "tcprax-ebpf",
            "--package",
            "tcprax-lab-ebpf",
        ])
        .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .args(["--", "-D", "warnings"]);

    let mut tests = cargo();
    tests.args(["test", "--workspace", "--exclude", "tcprax-ebpf"]);

    let checks = [
        Check {
            name: "fmt",
            command: fmt,
        },
        Check {
            name: "clippy",
            command: clippy,
        },
        Check {
            name: "clippy (eBPF)",
            command: clippy_ebpf,
        },
        Check {
            name: "test",
            command: tests,
        },
    ];
    // Run every check even after a failure: one CI run should show all that is wrong.
    let mut results: Vec<(&str, bool, Duration)> = Vec::new();
    let mut tally = exec::TestTally::default();
    for mut check in checks {
        eprintln!("xtask: test: {}", check.name);
        let t = Instant::now();
        let ok = if check.name == "test" {
            let (status, t) = exec::status_tallying(&mut check.command)?;
            tally = t;
            status.success()
        } else {
            exec::status(&mut check.command)?.success()
        };
        results.push((check.name, ok, t.elapsed()));
    }

    eprintln!("xtask: test: summary");
    eprintln!("  {:<14} {:>7}  ok", "setup", secs(setup_time));
    for (name, ok, took) in &results {
        eprintln!(
            "  {name:<14} {:>7}  {}",
            secs(*took),
            if *ok { "ok" } else { "FAILED" }
        );
    }
    eprintln!("  {:<14} {:>7}", "total", secs(started.elapsed()));
    // The plain closing line CI reads: every libtest summary of the run, added up.
    println!(
        "{} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
    let failed: Vec<&str> = results.iter().filter(|r| !r.1).map(|r| r.0).collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("failed: {}", failed.join(", "))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn run_forwards_everything_after_the_separator() {
        assert_eq!(
            parse(args(&["run", "--", "-sT", "198.18.0.2", "-p", "1-1000"])),
            Ok(Task::Run {
                args: args(&["-sT", "198.18.0.2", "-p", "1-1000"])
            })
        );
        // Only the first `--` is xtask's.
        assert_eq!(
            parse(args(&["run", "--", "--", "x"])),
            Ok(Task::Run {
                args: args(&["--", "x"])
            })
        );
        assert_eq!(
            parse(args(&["run", "--help"])),
            Ok(Task::Run {
                args: args(&["--help"])
            })
        );
    }

    #[test]
    fn build_takes_only_release() {
        assert_eq!(
            parse(args(&["build"])),
            Ok(Task::Build {
                profile: Profile::Dev
            })
        );
        assert_eq!(
            parse(args(&["build", "--release"])),
            Ok(Task::Build {
                profile: Profile::Release
            })
        );
        assert!(parse(args(&["build", "--frobnicate"])).is_err());
    }

    #[test]
    fn unknown_or_missing_tasks_are_usage_errors() {
        assert!(parse(args(&[])).is_err());
        assert!(parse(args(&["deploy"])).is_err());
        assert!(parse(args(&["test", "extra"])).is_err());
        assert_eq!(parse(args(&["--help"])), Ok(Task::Help));
    }

    #[test]
    fn lab_tasks_name_their_program() {
        for (task, program) in [
            ("demo", LabProgram::Demo),
            ("bench", LabProgram::Bench),
            ("bench-sv", LabProgram::BenchSv),
        ] {
            assert_eq!(
                parse(args(&[task, "--", "--help"])),
                Ok(Task::Lab {
                    program,
                    args: args(&["--help"])
                })
            );
        }
        assert_eq!(
            parse(args(&["bench", "--quick"])),
            Ok(Task::Lab {
                program: LabProgram::Bench,
                args: args(&["--quick"])
            })
        );
    }

    #[test]
    fn lab_programs_are_built_with_the_tcprax_binary() {
        let built = lab_build_args(LabProgram::BenchSv);
        assert_eq!(
            built.join(" "),
            "build --release --package tcprax --bin tcprax --package tcprax-lab --bin tcprax-bench-sv"
        );
        assert_eq!(lab_build_args(LabProgram::Demo)[9], "tcprax-demo");
        assert_eq!(lab_build_args(LabProgram::Bench)[9], "tcprax-bench");
    }
}
