//! `tcprax-bench-sv`: -sV against a zoo of about thirty real Debian daemons, tcprax beside nmap,
//! scored against the ground truth of each port; and (`--throughput`) -sV services per second
//! over 16k answering ports.
//!
//! Zoo mode (the default) starts [`tcprax_lab::servers::zoo`] in the target namespace of a
//! [`Testbed`] (198.18.0.2; the scanner is 198.18.0.1; nothing is routed anywhere else), then,
//! from the scanner namespace and in one run:
//!
//! - `tcprax -sT -sV 198.18.0.2 -p PORTS -oJ FILE` and the same with `-sS`, `--runs` times each;
//! - `nmap -sV -n -Pn -p PORTS 198.18.0.2 -oX FILE`, if nmap is installed;
//!
//! and prints Markdown: times, totals (service, product, version right per tool) and a per-port
//! table (`docs/benchmark-sv.md` holds a result, and the matching rules).
//!
//! ```text
//! sudo cargo xtask bench-sv [-- --runs N --no-nmap --only redis,slapd --throughput]
//! ```
//!
//! Needs root. Cleanup on every path: Ctrl-C or SIGTERM only sets a flag ([`interrupt`]); the
//! running scan is stopped by its pid (SIGINT, then SIGKILL), every daemon is killed by pid and
//! both namespaces are deleted as the program unwinds.
mod report;
mod scan;
mod throughput;

use anyhow::{Context as _, ensure};
use clap::Parser;
use scan::{Scan, TcpraxRun, nmap_installed, run_nmap, run_tcprax};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tcprax_lab::interrupt;
use tcprax_lab::servers::zoo::{self, Animal};
use tcprax_lab::servers::{Place, TempDir, TestCert};
use tcprax_lab::testbed::{TARGET_V4, Testbed, have_privileges};

/// -sV against real daemons in network namespaces, tcprax beside nmap.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// How many times to run each tcprax scan type [default: 3; 1 with --throughput, where a
    /// run takes minutes].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: Option<u32>,
    /// The tcprax binary [default: $TCPRAX_BIN, else `tcprax` next to this program].
    #[arg(long)]
    tcprax: Option<PathBuf>,
    /// Do not run nmap even if it is installed.
    #[arg(long)]
    no_nmap: bool,
    /// Only these daemons of the zoo (comma-separated names as `--list` prints them).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Print the zoo's daemons and their Debian packages, and exit.
    #[arg(long)]
    list: bool,
    /// Measure -sV services per second over 16k answering ports instead of the zoo.
    #[arg(long)]
    throughput: bool,
    /// An extra argument for every tcprax run (repeat for more), e.g. `--tcprax-arg=-t
    /// --tcprax-arg=2048`.
    #[arg(long = "tcprax-arg", allow_hyphen_values = true)]
    tcprax_args: Vec<String>,
    /// Also write the report into this Markdown file, between the lines
    /// `<!-- tcprax-bench-sv zoo: begin -->` and `<!-- tcprax-bench-sv zoo: end -->` (with
    /// `--throughput`: `throughput` instead of `zoo`), e.g. docs/benchmark-sv.md.
    #[arg(long)]
    doc: Option<PathBuf>,
    /// Copy the scanners' raw outputs (tcprax JSON lines, nmap XML, stderr) into this directory.
    #[arg(long)]
    save: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Before anything is created, so that no Ctrl-C can skip the cleanup.
    if let Err(err) = interrupt::install() {
        eprintln!("tcprax-bench-sv: error: cannot handle Ctrl-C: {err}");
        return ExitCode::FAILURE;
    }
    let args = Args::parse();
    let result = if args.list {
        list();
        Ok(())
    } else {
        let (section, report) = if args.throughput {
            (
                "throughput",
                throughput::run(
                    args.tcprax.as_deref(),
                    args.runs.unwrap_or(1),
                    &args.tcprax_args,
                    args.save.as_deref(),
                ),
            )
        } else {
            ("zoo", run(&args))
        };
        report.and_then(|text| {
            print!("{text}");
            match &args.doc {
                Some(doc) => splice_file(doc, section, &text),
                None => Ok(()),
            }
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<interrupt::Interrupted>() => {
            eprintln!("tcprax-bench-sv: interrupted; the services and namespaces are removed");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("tcprax-bench-sv: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn animal_name(a: Animal) -> String {
    format!("{a:?}").to_ascii_lowercase()
}

fn list() {
    for a in Animal::ALL {
        println!("{:<14} {}", animal_name(a), a.packages().join(" "));
    }
}

fn chosen(only: &[String]) -> anyhow::Result<Vec<Animal>> {
    if only.is_empty() {
        return Ok(Animal::ALL.to_vec());
    }
    only.iter()
        .map(|name| {
            Animal::ALL
                .into_iter()
                .find(|a| animal_name(*a) == name.to_ascii_lowercase())
                .with_context(|| format!("no daemon `{name}` in the zoo (see --list)"))
        })
        .collect()
}

/// `/proc/loadavg`'s first three fields: the machine is shared, so every timing carries it.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Copy the scanners' output files (not the daemons' directories) from `dir` into `to`.
fn save_outputs(dir: &TempDir, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    for entry in std::fs::read_dir(dir.path())?.flatten() {
        let name = entry.file_name();
        let keep = name.to_str().is_some_and(|n| {
            (n.starts_with("tcprax") || n.starts_with("nmap"))
                && [".json", ".xml", ".out", ".err"]
                    .iter()
                    .any(|e| n.ends_with(e))
        });
        if keep {
            std::fs::copy(entry.path(), to.join(&name))
                .with_context(|| format!("copy {}", entry.path().display()))?;
        }
    }
    eprintln!("raw outputs saved in {}", to.display());
    Ok(())
}

/// `doc` with the lines between `<!-- tcprax-bench-sv SECTION: begin -->` and its `end` line
/// replaced by `text`; None when the markers are missing or out of order.
fn splice(doc: &str, section: &str, text: &str) -> Option<String> {
    let begin = format!("<!-- tcprax-bench-sv {section}: begin -->\n");
    let end = format!("<!-- tcprax-bench-sv {section}: end -->");
    let from = doc.find(&begin)? + begin.len();
    let to = from + doc[from..].find(&end)?;
    Some(format!(
        "{}{}\n{}",
        &doc[..from],
        text.trim_end(),
        &doc[to..]
    ))
}

fn splice_file(path: &std::path::Path, section: &str, text: &str) -> anyhow::Result<()> {
    let doc = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let new = splice(&doc, section, text).with_context(|| {
        format!(
            "{} has no `<!-- tcprax-bench-sv {section}: begin -->` ... `end -->` lines",
            path.display()
        )
    })?;
    std::fs::write(path, new).with_context(|| format!("write {}", path.display()))?;
    eprintln!("report written into {}", path.display());
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<String> {
    let animals = chosen(&args.only)?;
    let runs_per_scan = args.runs.unwrap_or(3);
    let extra: Vec<&str> = args.tcprax_args.iter().map(String::as_str).collect();
    let tcprax = tcprax_lab::locate::tcprax_binary(args.tcprax.as_deref())?;
    ensure!(
        have_privileges(),
        "needs root: it creates network namespaces and runs tcprax -sS"
    );
    let with_nmap = !args.no_nmap && nmap_installed();

    // Drop order (reverse of declaration) matters: daemons stop before the namespaces go.
    let tb = Testbed::new("trxzoo").context("create namespace testbed")?;
    let dir = TempDir::new("zoo");
    let place = Place::netns(&tb.target_ns, IpAddr::V4(TARGET_V4));
    let cert = TestCert::generate_for(
        &dir,
        "zoo.tcprax.test",
        &["zoo.tcprax.test"],
        &[IpAddr::V4(TARGET_V4)],
    );
    eprintln!("starting {} daemons in {}...", animals.len(), tb.target_ns);
    let starting = std::time::Instant::now();
    let zoo = zoo::start_zoo(&dir, &cert, &place, &animals);
    eprintln!(
        "{} of {} daemons up in {:.1} s",
        animals.len() - zoo.failed.len(),
        animals.len(),
        starting.elapsed().as_secs_f64()
    );
    interrupt::check()?;
    for (animal, why) in &zoo.failed {
        eprintln!("{}: did not start: {why}", animal_name(*animal));
    }
    ensure!(!zoo.exhibits.is_empty(), "no daemon of the zoo started");
    let ports = zoo
        .ports()
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    eprintln!(
        "{} ports on {TARGET_V4} ({ports}); tcprax: {}",
        zoo.exhibits.len(),
        tcprax.display()
    );
    let load_before = load();
    let target = TARGET_V4.to_string();
    let mut runs: Vec<TcpraxRun> = Vec::new();
    for i in 0..runs_per_scan {
        for scan in ["-sS", "-sT"] {
            interrupt::check()?;
            let what = Scan {
                scan,
                service_detection: true,
                target: &target,
                ports: &ports,
                extra: &extra,
            };
            let run = run_tcprax(&tb, &tcprax, &what, &dir, i + 1)?;
            runs.push(run);
        }
    }
    // -sS runs first, then -sT, each in run order.
    runs.sort_by(|a, b| a.label.cmp(&b.label).then(a.number.cmp(&b.number)));
    let nmap = if with_nmap {
        interrupt::check()?;
        eprintln!("nmap -sV (this takes minutes)...");
        let result = run_nmap(&tb, &target, &ports, &dir)?;
        eprintln!("nmap: wall {:.2} s", result.0.as_secs_f64());
        Some(result)
    } else {
        eprintln!("nmap not installed (apt-get install nmap) or --no-nmap: tcprax only");
        None
    };
    interrupt::check()?;
    let context = report::Context {
        tcprax: format!("{} {}", tcprax.display(), extra.join(" "))
            .trim_end()
            .to_owned(),
        nmap: with_nmap.then(scan::nmap_version),
        load_before,
        load_after: load(),
        runs_per_scan,
    };
    let text = report::render(&context, &zoo, &runs, nmap.as_ref());
    if let Some(save) = &args.save {
        save_outputs(&dir, save)?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_replaces_only_its_section() {
        let doc = "# t\n<!-- tcprax-bench-sv zoo: begin -->\nold\nlines\n<!-- tcprax-bench-sv zoo: end -->\n\
                   <!-- tcprax-bench-sv throughput: begin -->\nx\n<!-- tcprax-bench-sv throughput: end -->\n";
        let new = splice(doc, "zoo", "| a |\n| b |\n\n").unwrap();
        assert_eq!(
            new,
            "# t\n<!-- tcprax-bench-sv zoo: begin -->\n| a |\n| b |\n<!-- tcprax-bench-sv zoo: end -->\n\
             <!-- tcprax-bench-sv throughput: begin -->\nx\n<!-- tcprax-bench-sv throughput: end -->\n"
        );
        assert_eq!(splice(&new, "zoo", "| a |\n| b |"), Some(new.clone()));
        assert!(splice("no markers", "zoo", "x").is_none());
        let reversed = "<!-- tcprax-bench-sv zoo: end -->\n<!-- tcprax-bench-sv zoo: begin -->\n";
        assert!(splice(reversed, "zoo", "x").is_none());
    }
}
