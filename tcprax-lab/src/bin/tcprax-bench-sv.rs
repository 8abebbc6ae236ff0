//! `tcprax-bench-sv`: how long -sV takes against a dozen real and fake services, next to nmap.
//!
//! Builds the services of tcprax's `tests/service_ns.rs` ([`tcprax_lab::servers::start_dozen`]:
//! real sshd, vsftpd, nginx HTTP and HTTPS, Python's smtpd, a TLS 1.0-only openssl s_server,
//! and tokio fakes) in the target namespace of a [`Testbed`], then, from the scanner namespace
//! and in one run:
//!
//! - `tcprax -sT -sV 198.18.0.2 -p PORTS -oJ FILE` and the same with `-sS`, `--runs` times each;
//! - `nmap -sV -n -Pn -p PORTS 198.18.0.2`, if nmap is installed.
//!
//! It prints Markdown: wall and -sV times per run, then per port tcprax's class, service and
//! product beside nmap's SERVICE and VERSION columns (`docs/benchmark-sv.md` holds a result).
//!
//! ```text
//! sudo cargo xtask bench-sv [-- --runs N --no-nmap]    # builds tcprax and this program, runs it
//! ```
//!
//! Needs root. All traffic stays between the two namespaces it creates. Cleanup on every path:
//! Ctrl-C or SIGTERM only sets a flag ([`interrupt`]); the running scan is stopped by its pid
//! (SIGINT, then SIGKILL), every daemon is killed by pid and both namespaces are deleted as the
//! program unwinds.
use anyhow::{Context as _, ensure};
use clap::Parser;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tcprax_lab::interrupt;
use tcprax_lab::process::{Child, Stop};
use tcprax_lab::servers::{self, Place, TempDir, TestCert};
use tcprax_lab::testbed::{TARGET_V4, Testbed, have_privileges};

/// -sV timing against a dozen services in network namespaces, tcprax beside nmap.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// How many times to run each tcprax scan type.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// The tcprax binary [default: $TCPRAX_BIN, else `tcprax` next to this program].
    #[arg(long)]
    tcprax: Option<PathBuf>,
    /// Do not run nmap even if it is installed.
    #[arg(long)]
    no_nmap: bool,
}

/// After Ctrl-C: SIGINT to the running scan at once (nmap -sV takes minutes), SIGKILL if it is
/// still there 5 s later.
const ON_INTERRUPT: Stop = Stop {
    signal: libc::SIGINT,
    signal_after: Duration::ZERO,
    kill_after: Duration::from_secs(5),
};

fn check_interrupted() -> anyhow::Result<()> {
    Ok(interrupt::check()?)
}

/// What a program run by [`run_captured`] left behind.
struct Captured {
    status: ExitStatus,
    wall: Duration,
    stdout: String,
    stderr: String,
}

/// Run `cmd` to the end with stdout and stderr in files `<dir>/<name>.out` and `.err`, stopping it
/// by pid if Ctrl-C comes first (then the result is [`interrupt::Interrupted`]).
fn run_captured(cmd: &mut Command, dir: &TempDir, name: &str) -> anyhow::Result<Captured> {
    let (out_path, err_path) = (
        dir.join(&format!("{name}.out")),
        dir.join(&format!("{name}.err")),
    );
    let out = File::create(&out_path).with_context(|| format!("create {}", out_path.display()))?;
    let err = File::create(&err_path).with_context(|| format!("create {}", err_path.display()))?;
    let started = Instant::now();
    let mut child = Child::spawn(cmd.stdin(Stdio::null()).stdout(out).stderr(err))?;
    let finished = child.wait(interrupt::requested, ON_INTERRUPT)?;
    let wall = started.elapsed();
    check_interrupted()?;
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    Ok(Captured {
        status: finished.status,
        wall,
        stdout: read(&out_path),
        stderr: read(&err_path),
    })
}

/// What tcprax's JSON said about one port.
#[derive(Debug, Clone, PartialEq)]
struct TcpraxPort {
    state: String,
    class: Option<String>,
    service: Option<String>,
    product: Option<String>,
    version: Option<String>,
    tls: Option<String>,
}

/// One tcprax run.
struct TcpraxRun {
    label: String,
    /// 1-based run number of this scan type.
    number: u32,
    wall: Duration,
    service_detection_s: f64,
    ports: BTreeMap<u16, TcpraxPort>,
}

/// What nmap's normal output said about one port.
#[derive(Debug, Default)]
struct NmapPort {
    state: String,
    service: String,
    version: String,
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_owned)
}

fn run_tcprax(
    tb: &Testbed,
    tcprax: &Path,
    scan: &str,
    ports: &str,
    dir: &TempDir,
    number: u32,
) -> anyhow::Result<TcpraxRun> {
    let target = TARGET_V4.to_string();
    let name = format!("tcprax{scan}-{number}");
    let json = dir.join(&format!("{name}.json"));
    let out = run_captured(
        tb.scanner_command(&tcprax.to_string_lossy())
            .args([scan, "-sV", &target, "-p", ports, "-oJ"])
            .arg(&json),
        dir,
        &name,
    )
    .with_context(|| format!("run {}", tcprax.display()))?;
    let wall = out.wall;
    ensure!(
        out.status.success(),
        "tcprax {scan} -sV failed ({}): {}",
        out.status,
        out.stderr
    );
    let text =
        std::fs::read_to_string(&json).with_context(|| format!("read {}", json.display()))?;
    let mut run = TcpraxRun {
        label: format!("tcprax {scan} -sV"),
        number,
        wall,
        service_detection_s: f64::NAN,
        ports: BTreeMap::new(),
    };
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).with_context(|| format!("JSON line {line}"))?;
        match v["type"].as_str() {
            Some("port") => {
                let port = v["port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .with_context(|| format!("port in {line}"))?;
                let s = &v["service"];
                run.ports.insert(
                    port,
                    TcpraxPort {
                        state: str_field(&v, "state").unwrap_or_default(),
                        class: str_field(s, "class"),
                        service: str_field(s, "service"),
                        product: str_field(s, "product"),
                        version: str_field(s, "version"),
                        tls: str_field(&s["tls"], "version"),
                    },
                );
            }
            Some("summary") => {
                run.service_detection_s = v["service_detection_s"]
                    .as_f64()
                    .context("summary without service_detection_s")?;
            }
            _ => {}
        }
    }
    ensure!(
        run.service_detection_s.is_finite(),
        "no summary line in {}",
        json.display()
    );
    Ok(run)
}

/// The first whitespace-separated token of `s`, and what follows it.
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    s.split_at(end)
}

/// The port table of nmap's normal output (`PORT STATE SERVICE VERSION`). Port, state and
/// service never contain spaces; the version is the rest of the line.
fn parse_nmap(stdout: &str) -> BTreeMap<u16, NmapPort> {
    let mut ports = BTreeMap::new();
    let mut in_table = false;
    for line in stdout.lines() {
        if line.starts_with("PORT ") {
            in_table = true;
            continue;
        }
        let (port, rest) = token(line);
        let Some(Ok(port)) = port.strip_suffix("/tcp").map(str::parse::<u16>) else {
            continue;
        };
        if !in_table {
            continue;
        }
        let (state, rest) = token(rest);
        let (service, version) = token(rest);
        ports.insert(
            port,
            NmapPort {
                state: state.to_owned(),
                service: service.to_owned(),
                version: version.trim().to_owned(),
            },
        );
    }
    ports
}

fn nmap_installed() -> bool {
    std::process::Command::new("nmap")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_nmap(
    tb: &Testbed,
    ports: &str,
    dir: &TempDir,
) -> anyhow::Result<(Duration, BTreeMap<u16, NmapPort>)> {
    let out = run_captured(
        tb.scanner_command("nmap")
            .args(["-sV", "-n", "-Pn", "-p", ports, &TARGET_V4.to_string()]),
        dir,
        "nmap",
    )
    .context("run nmap")?;
    ensure!(
        out.status.success(),
        "nmap failed ({}): {}",
        out.status,
        out.stderr
    );
    Ok((out.wall, parse_nmap(&out.stdout)))
}

/// The human report's `[n] name` for a JSON class (docs/output.md).
fn class_label(class: &str) -> String {
    let label = match class {
        "tcp-server-initiated" => "[1] TCP server-initiated",
        "tls-server-initiated" => "[2] TLS server-initiated",
        "http" => "[3] HTTP",
        "https" => "[4] HTTPS",
        "generic-tcp" => "[5] generic TCP",
        "generic-tls" => "[6] generic TLS",
        other => other,
    };
    label.to_owned()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn print_report(
    services: &[(u16, &'static str)],
    runs: &[TcpraxRun],
    nmap: Option<&(Duration, BTreeMap<u16, NmapPort>)>,
) {
    println!("| run | wall time | -sV time (`service_detection_s`) |");
    println!("|---|---:|---:|");
    for run in runs {
        println!(
            "| `{}` #{} | {:.2} s | {:.2} s |",
            run.label,
            run.number,
            run.wall.as_secs_f64(),
            run.service_detection_s
        );
    }
    let mut labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    labels.dedup();
    for label in labels {
        let of = |f: &dyn Fn(&TcpraxRun) -> f64| {
            median(runs.iter().filter(|r| r.label == label).map(f).collect())
        };
        println!(
            "| **`{label}`, median** | **{:.2} s** | **{:.2} s** |",
            of(&|r| r.wall.as_secs_f64()),
            of(&|r| r.service_detection_s)
        );
    }
    match nmap {
        Some((wall, _)) => println!(
            "| `nmap -sV -n -Pn` | {:.2} s | (not reported separately) |",
            wall.as_secs_f64()
        ),
        None => println!("| `nmap -sV` | not run | |"),
    }

    let Some(first) = runs.first() else {
        return;
    };
    let stable = runs.iter().all(|r| r.ports == first.ports);
    println!();
    println!(
        "Per port ({}; every tcprax run agreed: {}):",
        first.label,
        if stable { "yes" } else { "NO" }
    );
    println!();
    println!(
        "| port | server | tcprax state | tcprax class | tcprax service | tcprax product/version | TLS | nmap state | nmap service | nmap version |"
    );
    println!("|---:|---|---|---|---|---|---|---|---|---|");
    let empty = NmapPort::default();
    for &(port, server) in services {
        let t = first.ports.get(&port);
        let n = nmap.and_then(|(_, p)| p.get(&port)).unwrap_or(&empty);
        let product = t
            .map(|t| {
                [t.product.as_deref(), t.version.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        println!(
            "| {port} | {server} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.map_or("(none)", |t| t.state.as_str()),
            t.and_then(|t| t.class.as_deref())
                .map(class_label)
                .unwrap_or_default(),
            t.and_then(|t| t.service.as_deref()).unwrap_or("-"),
            product,
            t.and_then(|t| t.tls.as_deref()).unwrap_or(""),
            n.state,
            n.service,
            n.version.replace('|', "/"),
        );
    }
}

fn main() -> ExitCode {
    // Before anything is created, so that no Ctrl-C can skip the cleanup.
    if let Err(err) = interrupt::install() {
        eprintln!("tcprax-bench-sv: error: cannot handle Ctrl-C: {err}");
        return ExitCode::FAILURE;
    }
    let args = Args::parse();
    match run(&args) {
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

fn run(args: &Args) -> anyhow::Result<()> {
    let tcprax = tcprax_lab::locate::tcprax_binary(args.tcprax.as_deref())?;
    ensure!(
        have_privileges(),
        "needs root: it creates network namespaces and runs tcprax -sS"
    );
    let with_nmap = !args.no_nmap && nmap_installed();

    // Drop order (reverse of declaration) matters: services stop before the runtime serving
    // the fakes and before the namespaces go.
    let tb = Testbed::new("trxbsv").context("create namespace testbed")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let dir = TempDir::new("bench");
    let place = Place::netns(&tb.target_ns, IpAddr::V4(TARGET_V4));
    let cert = TestCert::generate_for(
        &dir,
        "target.tcprax.test",
        &["target.tcprax.test", "www.target.tcprax.test"],
        &[IpAddr::V4(TARGET_V4)],
    );
    let dozen = servers::start_dozen(&dir, &cert, &place, rt.handle());
    check_interrupted()?;
    let ports = dozen
        .ports()
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    eprintln!(
        "{} services on {TARGET_V4} in {} (ports {ports}); tcprax: {}",
        dozen.services.len(),
        tb.target_ns,
        tcprax.display()
    );

    let mut runs = Vec::new();
    for i in 0..args.runs {
        for scan in ["-sT", "-sS"] {
            check_interrupted()?;
            let run = run_tcprax(&tb, &tcprax, scan, &ports, &dir, i + 1)?;
            eprintln!(
                "{} #{}: wall {:.2} s, -sV {:.2} s",
                run.label,
                run.number,
                run.wall.as_secs_f64(),
                run.service_detection_s
            );
            runs.push(run);
        }
    }
    // -sT runs first, then -sS, each in run order.
    runs.sort_by(|a, b| b.label.cmp(&a.label).then(a.number.cmp(&b.number)));
    let nmap = if with_nmap {
        check_interrupted()?;
        eprintln!("nmap -sV (this takes a while)...");
        let result = run_nmap(&tb, &ports, &dir)?;
        eprintln!("nmap: wall {:.2} s", result.0.as_secs_f64());
        Some(result)
    } else {
        eprintln!("nmap not installed (apt-get install nmap) or --no-nmap: tcprax only");
        None
    };
    check_interrupted()?;
    println!(
        "tcprax -sV vs nmap -sV: {} services on {TARGET_V4} (veth between two namespaces), {} tcprax runs per scan type\n",
        dozen.services.len(),
        args.runs
    );
    print_report(&dozen.services, &runs, nmap.as_ref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmap_port_table() {
        let out = "Starting Nmap 7.93 ( https://nmap.org ) at 2025-01-01 00:00 UTC\n\
                   Nmap scan report for 198.18.0.2\n\
                   Host is up (0.000050s latency).\n\n\
                   PORT      STATE SERVICE       VERSION\n\
                   22/tcp    open  ssh           OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)\n\
                   9000/tcp  open  cslistener?\n\
                   10443/tcp open  ssl/cirrossp?\n\
                   1 service unrecognized despite returning data.\n\
                   SF-Port3306-TCP:V=7.93%I=7%D=1/1%Time=0%P=x86_64-pc-linux-gnu%r(NULL,4A,\"J\\0\")\n\
                   Service detection performed.\n";
        let ports = parse_nmap(out);
        assert_eq!(ports.keys().copied().collect::<Vec<_>>(), [22, 9000, 10443]);
        assert_eq!(ports[&22].state, "open");
        assert_eq!(ports[&22].service, "ssh");
        assert_eq!(
            ports[&22].version,
            "OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)"
        );
        assert_eq!(
            (ports[&9000].service.as_str(), ports[&9000].version.as_str()),
            ("cslistener?", "")
        );
        assert_eq!(ports[&10443].service, "ssl/cirrossp?");
        assert!(
            parse_nmap("22/tcp open ssh\n").is_empty(),
            "no table header"
        );
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }
}
