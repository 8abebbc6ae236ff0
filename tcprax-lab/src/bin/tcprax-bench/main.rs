//! tcprax-bench: how fast `tcprax -sS` scans while still finding every open port, measured on
//! a network the benchmark builds itself, next to masscan, nmap and zmap when they are installed.
//!
//! The network is a [`Testbed`]: a scanner namespace (198.18.0.1) and a target namespace
//! (198.18.0.2) joined by one veth pair. With `--target kernel` (the default, the realistic
//! one) the target's kernel answers for all of 198.19.0.0/16 (AnyIP) and listens on [`PORTS`]
//! on every address, so the truth is known without a reference scan: every (address, port)
//! pair in the scanned range is open. With `--target responder` an XDP program on the target's
//! veth answers instead ([`tcprax_lab::responder`]): [`PORTS`] open, one more port closed, the
//! range's last /24 silent, at a rate the kernel could not sustain, so the sender is measured. Every run is one scanner process
//! started inside the scanner namespace under `timeout`; the benchmark measures its wall time,
//! its CPU time (from `wait4`, which includes the scanner's own children), the whole machine's
//! busy CPU time, and, with nftables counters in the target namespace, the SYNs and RSTs that
//! actually reached the target. Open ports are read back from each tool's own output file and
//! checked against the truth.
//!
//! The pitfalls in `shared/NETNS-NOTES.md` are handled here: offloads are turned off on the
//! scanner's veth (libpcap-based peers lose answers otherwise), the target re-sends SYN-ACKs at
//! most once, each run starts only when the target holds no half-open connection, and masscan
//! gets a trickle of UDP from the target so that its receive thread wakes up and it can exit.
//!
//! Cleanup on every path: the namespaces (veth, nftables, XDP) go when the [`Testbed`] drops;
//! Ctrl-C only sets a flag, the running scanner gets SIGINT (then SIGKILL) by its pid, and the
//! benchmark unwinds normally. Needs root.
//!
//! The code, by concern: [`tools`] (the scanners, what each run scans, their command lines),
//! [`measure`] (one run: the process, its CPU, the target's counters), [`parsers`] (each tool's
//! output file) and [`report`] (the Markdown). Run it with `cargo xtask bench [-- --quick]`.
mod measure;
mod parsers;
mod report;
mod tools;

use anyhow::{Context as _, bail};
use clap::Parser;
use measure::{AtTarget, Scratch, count_at_target, drain, measure};
use report::{load_average, report, versions};
use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tcprax_lab::interrupt;
use tcprax_lab::responder::{self, PassThrough, Responder};
use tcprax_lab::testbed::{Testbed, have_privileges};
use tools::{ANYIP, Link, PORTS, Target, Tool, command_line, mac_of, plan, time_limit};

/// `net.ipv4.tcp_synack_retries` in the target: one re-send instead of five keeps the burst of
/// re-sent SYN-ACKs of a scan that leaves ports half-open small and short.
const SYNACK_RETRIES: u32 = 1;

/// `Err(Interrupted)` once Ctrl-C was pressed: every step checks it before the next.
fn check_interrupted() -> anyhow::Result<()> {
    Ok(interrupt::check()?)
}

/// Benchmark tcprax -sS (and masscan, nmap, zmap if installed) in throw-away namespaces.
#[derive(Debug, Parser)]
#[command(name = "tcprax-bench")]
struct Args {
    /// A /20 instead of a /16 and fewer rates: well under a minute.
    #[arg(long)]
    quick: bool,
    /// Tools to run, comma-separated: tcprax, masscan, nmap, zmap.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tcprax,masscan,nmap,zmap"
    )]
    tools: Vec<String>,
    /// The tcprax binary to measure [default: $TCPRAX_BIN, else `tcprax` next to this program].
    #[arg(long, value_name = "PATH")]
    tcprax: Option<PathBuf>,
    /// What answers the probes: the target's kernel TCP stack (realistic, ~60k answers/s
    /// here), or an XDP responder on its veth (measures the scanner's sender).
    #[arg(long, value_enum, default_value = "kernel")]
    target: Target,
    /// One more argument for every tcprax run (repeat it), e.g. `--tcprax-arg=--send-path
    /// --tcprax-arg=raw`.
    #[arg(long = "tcprax-arg", value_name = "ARG", allow_hyphen_values = true)]
    tcprax_args: Vec<String>,
    /// With the responder or the sink: the qdisc on the scanner's veth. `pfifo` (a FIFO of
    /// 10,000 packets, as a real NIC has a queue) makes a sender that outruns the target's
    /// veth wait; `none` keeps the veth's default (noqueue), where the veth drops what does not
    /// fit and the raw IP socket loses SYNs (docs/benchmark.md).
    #[arg(long, value_enum, default_value = "pfifo")]
    scanner_qdisc: Qdisc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Qdisc {
    Pfifo,
    None,
}

fn main() -> ExitCode {
    // Before anything is created, so that no Ctrl-C can skip the cleanup.
    if let Err(err) = interrupt::install() {
        eprintln!("tcprax-bench: error: cannot handle Ctrl-C: {err}");
        return ExitCode::FAILURE;
    }
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<interrupt::Interrupted>() => {
            eprintln!("tcprax-bench: interrupted; the benchmark network is removed");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("tcprax-bench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn selected_tools(args: &Args) -> anyhow::Result<(Vec<Tool>, Vec<String>)> {
    let mut tools = Vec::new();
    let mut skipped = Vec::new();
    for name in &args.tools {
        let these: &[Tool] = match name.as_str() {
            "tcprax" => &[Tool::Tcprax],
            "masscan" => &[Tool::MasscanOwn, Tool::MasscanSpare],
            "nmap" => &[Tool::Nmap],
            "zmap" => &[Tool::Zmap],
            other => bail!("unknown tool `{other}` in --tools (tcprax, masscan, nmap, zmap)"),
        };
        if name != "tcprax" && !in_path(name) {
            skipped.push(format!(
                "{name}: not installed, skipped (`apt-get install -y {name}`)"
            ));
            continue;
        }
        tools.extend_from_slice(these);
    }
    Ok((tools, skipped))
}

fn run(args: &Args) -> anyhow::Result<()> {
    let (tools, skipped) = selected_tools(args)?;
    // Only tcprax's own runs need its binary: a peers-only benchmark runs without one.
    let tcprax = if tools.contains(&Tool::Tcprax) {
        tcprax_lab::locate::tcprax_binary(args.tcprax.as_deref())?
    } else {
        PathBuf::new()
    };
    if !have_privileges() {
        bail!("the benchmark creates network namespaces and attaches XDP: run it as root");
    }
    for note in &skipped {
        eprintln!("tcprax-bench: {note}");
    }
    let specs = plan(args.quick, &tools, args.target);
    let scratch = Scratch::new()?;
    let blocklist = scratch.0.join("empty-blocklist");
    File::create(&blocklist).context("creating zmap's empty blocklist")?;

    eprintln!("tcprax-bench: creating the benchmark network (namespaces trxbench-*)");
    let testbed = Testbed::new("trxbench").context("creating the benchmark namespaces")?;
    check_interrupted()?;
    testbed
        .target_anyip(ANYIP)
        .context("routing the AnyIP range to the target")?;
    let _listeners = testbed
        .target_listen(PORTS)
        .context("starting listeners in the target namespace")?;
    testbed
        .target_sh(&format!(
            "sysctl -qw net.ipv4.tcp_synack_retries={SYNACK_RETRIES}"
        ))
        .context("lowering tcp_synack_retries in the target namespace")?;
    testbed
        .scanner_sh(&format!(
            "ethtool -K {} tso off gso off sg off",
            testbed.scanner_if
        ))
        .context("turning offloads off on the scanner veth (is ethtool installed?)")?;
    count_at_target(&testbed)?;
    let mut responder = match args.target {
        Target::Kernel => None,
        Target::Responder | Target::Sink => {
            let scope = &specs.first().context("no runs planned")?.scope;
            let plan = responder::Plan {
                answer: vec![ANYIP.parse().expect("ANYIP is a valid prefix")],
                silent: scope.silent.into_iter().collect(),
                open: PORTS.to_vec(),
            };
            if args.scanner_qdisc == Qdisc::Pfifo {
                testbed
                    .scanner_sh(&format!(
                        "tc qdisc add dev {} root pfifo limit 10000",
                        testbed.scanner_if
                    ))
                    .context("adding a qdisc on the scanner veth (is iproute2's tc installed?)")?;
            }
            eprintln!("tcprax-bench: attaching the XDP responder to the target's veth");
            Some(Responder::attach(&testbed, &plan).context("attaching the XDP responder")?)
        }
    };
    // XDP runs before nftables: with the responder, its own counters say what reached it.
    let mut at_target = match &mut responder {
        None => AtTarget::Nft(&testbed),
        Some(r) => AtTarget::Responder(r),
    };
    let link = Link {
        scanner_if: testbed.scanner_if.clone(),
        scanner_mac: mac_of(&testbed.scanner_ns, &testbed.scanner_if)?,
        target_mac: mac_of(&testbed.target_ns, &testbed.target_if)?,
    };
    check_interrupted()?;

    // Other work on the machine skews every number: say how busy it was.
    let load_before = load_average();
    let started = Instant::now();
    let mut results = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let stale = drain(&testbed)?;
        let out = scratch.0.join(format!("run{i}.out"));
        let mut argv = command_line(spec, &tcprax, &link, &out, &blocklist);
        if spec.tool == Tool::Tcprax {
            if args.target == Target::Sink {
                // Nothing will answer: one attempt per probe is the sender's whole work.
                argv.extend(["--retries".to_string(), "0".to_string()]);
            }
            argv.extend(args.tcprax_args.iter().cloned());
        }
        eprintln!(
            "[{}/{}] {} (limit {} s)",
            i + 1,
            specs.len(),
            argv.join(" "),
            time_limit(spec).as_secs()
        );
        // A scanner without an XDP program of its own would not receive the responder's
        // answers (see tcprax_lab::responder); tcprax brings one.
        let pass = if args.target != Target::Kernel && spec.tool != Tool::Tcprax {
            Some(PassThrough::attach(&testbed).context("attaching the pass-through program")?)
        } else {
            None
        };
        let mut m = measure(&testbed, spec, &argv, &out, &scratch.0, &mut at_target)?;
        drop(pass);
        if let Some(n) = stale {
            m.notes.insert(
                0,
                format!("{n} half-open connections left from the previous run"),
            );
        }
        eprintln!(
            "        {} of {} open in {:.2} s, {:.0} probes/s{}",
            m.found.in_scope,
            spec.scope.truth(),
            m.wall.as_secs_f64(),
            m.pps(),
            if m.notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", m.notes.join("; "))
            }
        );
        results.push(m);
        check_interrupted()?;
    }
    let total = started.elapsed();
    let load = format!("{load_before} before, {} after", load_average());
    let versions = versions(&tcprax, &tools);
    print!(
        "{}",
        report(
            &results,
            &skipped,
            args.quick,
            args.target,
            total,
            &load,
            &versions
        )
    );
    if args.target != Target::Kernel {
        let qdisc = match args.scanner_qdisc {
            Qdisc::Pfifo => "pfifo limit 10000",
            Qdisc::None => "none (noqueue)",
        };
        println!("\nScanner veth qdisc: {qdisc}.");
    }
    Ok(())
    // `_listeners` stop, then `testbed` deletes both namespaces and `scratch` the files.
}
