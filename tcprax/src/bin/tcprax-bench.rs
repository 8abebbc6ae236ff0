//! tcprax-bench: how fast `tcprax -sS` scans while still finding every open port, measured on
//! a network the benchmark builds itself, next to masscan, nmap and zmap when they are installed.
//!
//! The network is a [`Testbed`]: a scanner namespace (198.18.0.1) and a target namespace
//! (198.18.0.2) joined by one veth pair. The target answers for all of 198.19.0.0/16 (AnyIP)
//! and listens on [`PORTS`] on every address, so the truth is known without a reference scan:
//! every (address, port) pair in the scanned range is open. Every run is one scanner process
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
use anyhow::{Context as _, bail};
use clap::Parser;
use ipnet::Ipv4Net;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tcprax::testbed::{SCANNER_V4, TARGET_V4, Testbed, have_privileges, interrupt};

/// Listening in the target namespace, so open on every address of the AnyIP range.
const PORTS: &[u16] = &[22, 80, 443, 8080];
/// zmap 2.1.1 scans one port per run.
const ZMAP_PORT: u16 = 80;
/// The range the target answers for.
const ANYIP: &str = "198.19.0.0/16";
/// Source address for masscan's "spare address" runs: on the scanner's link but not on its
/// interface, so the scanner's kernel ignores the answers instead of resetting them.
const SPARE_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
/// `net.ipv4.tcp_synack_retries` in the target: one re-send instead of five keeps the burst of
/// re-sent SYN-ACKs of a scan that leaves ports half-open small and short.
const SYNACK_RETRIES: u32 = 1;
/// How long to wait for the target's half-open connections to drain before a run.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// After Ctrl-C: SIGINT to the scanner at once, SIGKILL if it is still there after this.
const SIGKILL_AFTER: Duration = Duration::from_secs(10);

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
    /// The tcprax binary to measure [default: `tcprax` next to this executable].
    #[arg(long, value_name = "PATH")]
    tcprax: Option<PathBuf>,
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

/// A scanner and the way it is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Tcprax,
    /// masscan with the interface's own address: the scanner's kernel RSTs every SYN-ACK.
    MasscanOwn,
    /// masscan with [`SPARE_V4`]: nothing RSTs but masscan itself.
    MasscanSpare,
    Nmap,
    Zmap,
}

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Tcprax => "tcprax -sS",
            Tool::MasscanOwn => "masscan (own addr)",
            Tool::MasscanSpare => "masscan (spare addr)",
            Tool::Nmap => "nmap -sS",
            Tool::Zmap => "zmap",
        }
    }

    /// Packets the scanner sends per probe when every port is open: masscan's `--rate` counts
    /// its own RSTs too.
    fn packets_per_probe(self) -> u64 {
        match self {
            Tool::MasscanOwn | Tool::MasscanSpare => 2,
            _ => 1,
        }
    }
}

/// What one run scans.
#[derive(Clone, Debug)]
struct Scope {
    range: Ipv4Net,
    ports: Vec<u16>,
}

impl Scope {
    /// Every pair is open, so this is also the number of probes without retries.
    fn truth(&self) -> u64 {
        (1u64 << (32 - self.range.prefix_len())) * self.ports.len() as u64
    }

    fn contains(&self, addr: Ipv4Addr, port: u16) -> bool {
        self.range.contains(&addr) && self.ports.contains(&port)
    }

    fn port_list(&self) -> String {
        self.ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One planned run.
#[derive(Clone, Debug)]
struct Spec {
    tool: Tool,
    /// Packets per second asked for; `None` = the tool's maximum.
    rate: Option<u32>,
    scope: Scope,
}

/// Everything measured about one run.
#[derive(Clone, Debug)]
struct Measured {
    spec: Spec,
    wall: Duration,
    /// CPU of the scanner process and its children.
    cpu: Cpu,
    /// Busy CPU of the whole machine (both namespaces, every process, softirqs).
    host_cpu: Duration,
    /// The scanner's own count, when it reports one (tcprax).
    probes_reported: Option<u64>,
    syns_at_target: u64,
    rsts_at_target: u64,
    found: Found,
    notes: Vec<String>,
}

impl Measured {
    /// Probes: the scanner's own count if it gives one, else the SYNs that reached the target.
    fn probes(&self) -> u64 {
        self.probes_reported.unwrap_or(self.syns_at_target)
    }

    fn pps(&self) -> f64 {
        self.probes() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn complete(&self) -> bool {
        self.found.in_scope == self.spec.scope.truth() && self.found.out_of_scope == 0
    }
}

/// Open ports a tool reported, checked against the scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Found {
    /// Distinct (address, port) pairs inside the scope.
    in_scope: u64,
    /// Open ports reported outside the scope: always wrong.
    out_of_scope: u64,
}

fn count_found(pairs: impl IntoIterator<Item = (Ipv4Addr, u16)>, scope: &Scope) -> Found {
    let mut seen = HashSet::new();
    let mut found = Found::default();
    for (addr, port) in pairs {
        if !seen.insert((addr, port)) {
            continue;
        }
        if scope.contains(addr, port) {
            found.in_scope += 1;
        } else {
            found.out_of_scope += 1;
        }
    }
    found
}

/// What tcprax's `-oJ` file says: open ports and the summary line.
#[derive(Debug, Default, PartialEq, Eq)]
struct TcpraxReport {
    open: Vec<(Ipv4Addr, u16)>,
    probes_sent: Option<u64>,
    ringbuf_full: u64,
    interrupted: bool,
}

fn parse_tcprax_json(text: &str) -> TcpraxReport {
    let mut report = TcpraxReport::default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match v["type"].as_str() {
            Some("port") if v["state"] == "open" => {
                let addr = v["addr"].as_str().and_then(|a| a.parse().ok());
                let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
                if let (Some(addr), Some(port)) = (addr, port) {
                    report.open.push((addr, port));
                }
            }
            Some("summary") => {
                report.probes_sent = v["probes_sent"].as_u64();
                report.ringbuf_full = v["xdp"]["ringbuf_full"].as_u64().unwrap_or(0);
                report.interrupted = v["interrupted"].as_bool().unwrap_or(false);
            }
            _ => {}
        }
    }
    report
}

/// masscan `-oL`: `open tcp PORT ADDR TIMESTAMP`.
fn parse_masscan_list(text: &str) -> Vec<(Ipv4Addr, u16)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["open", "tcp", port, addr, ..] => Some((addr.parse().ok()?, port.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

/// nmap `-oG`: `Host: ADDR ()<TAB>Ports: 22/open/tcp//ssh///, 80/open/tcp//http///`.
fn parse_nmap_grep(text: &str) -> Vec<(Ipv4Addr, u16)> {
    let mut open = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let Some(addr) = fields
            .next()
            .and_then(|f| f.strip_prefix("Host: "))
            .and_then(|f| f.split_whitespace().next())
            .and_then(|a| a.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        for ports in fields.filter_map(|f| f.strip_prefix("Ports: ")) {
            for entry in ports.split(", ") {
                let mut parts = entry.split('/');
                if let (Some(port), Some("open")) = (parts.next(), parts.next())
                    && let Ok(port) = port.trim().parse()
                {
                    open.push((addr, port));
                }
            }
        }
    }
    open
}

/// zmap `-o` with the default output fields: one responding address per line.
fn parse_zmap(text: &str, port: u16) -> Vec<(Ipv4Addr, u16)> {
    text.lines()
        .filter_map(|l| l.trim().parse().ok())
        .map(|a| (a, port))
        .collect()
}

/// Counters, in the target namespace, of SYNs and RSTs from the scanner's link.
fn count_at_target(testbed: &Testbed) -> anyhow::Result<()> {
    testbed
        .target_sh(
            "nft add table inet trxbench && \
             nft add counter inet trxbench syns && \
             nft add counter inet trxbench rsts && \
             nft add chain inet trxbench input '{ type filter hook input priority -10; }' && \
             nft add rule inet trxbench input ip saddr 198.18.0.0/24 \
                 'tcp flags & (syn | ack) == syn' counter name syns && \
             nft add rule inet trxbench input ip saddr 198.18.0.0/24 \
                 'tcp flags & rst == rst' counter name rsts",
        )
        .context("adding nftables counters in the target namespace (is nftables installed?)")?;
    Ok(())
}

/// (SYNs, RSTs) counted at the target so far.
fn target_counters(testbed: &Testbed) -> anyhow::Result<(u64, u64)> {
    let out = testbed.target_sh("nft list counters table inet trxbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_nft_counters(&text).context("reading the nftables counters")
}

/// `nft list counters` text: `counter inet trxbench syns { packets 12 bytes 480 }`, one per name.
fn parse_nft_counters(text: &str) -> Option<(u64, u64)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let value = |name: &str| -> Option<u64> {
        let at = words.iter().position(|w| *w == name)?;
        let rest = &words[at..];
        let p = rest.iter().position(|w| *w == "packets")?;
        rest.get(p + 1)?.parse().ok()
    };
    Some((value("syns")?, value("rsts")?))
}

/// Busy CPU time of the whole machine so far (`/proc/stat`: user, nice, system, irq, softirq).
fn host_busy() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy: u64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| ticks.get(i)).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    Duration::from_secs_f64(busy as f64 / hz as f64)
}

/// Half-open connections in the target namespace.
fn syn_recv(testbed: &Testbed) -> anyhow::Result<u64> {
    let out = testbed.target_sh("ss -Htn state syn-recv | wc -l")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("counting SYN-RECV sockets with ss")
}

/// Wait until the target holds no half-open connection from the previous run.
fn drain(testbed: &Testbed) -> anyhow::Result<Option<u64>> {
    let started = Instant::now();
    loop {
        check_interrupted()?;
        let n = syn_recv(testbed)?;
        if n == 0 {
            return Ok(None);
        }
        if started.elapsed() > DRAIN_LIMIT {
            return Ok(Some(n));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A process we started, killed by its pid and reaped if we leave before it ends.
struct Running {
    pid: libc::pid_t,
    reaped: bool,
}

/// How a finished process ended, and what it cost.
struct Finished {
    /// Exit code, or 128 + signal.
    code: i32,
    cpu: Cpu,
}

/// User and system CPU time of a process and the children it waited for.
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    user: Duration,
    system: Duration,
}

impl Cpu {
    fn total(self) -> Duration {
        self.user + self.system
    }
}

impl Running {
    fn spawn(mut cmd: Command) -> anyhow::Result<Running> {
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {:?}", cmd.get_program()))?;
        let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
        // Reaped with wait4 below (for its rusage); std's handle is not used again, and
        // dropping it neither waits nor kills.
        drop(child);
        Ok(Running { pid, reaped: false })
    }

    /// Wait for the process; on Ctrl-C, SIGINT it (`timeout` passes that on to the scanner and
    /// kills it 3 s later), and SIGKILL it if it is still there after [`SIGKILL_AFTER`].
    fn wait(&mut self) -> anyhow::Result<Finished> {
        let mut interrupted_at: Option<Instant> = None;
        loop {
            let mut status = 0;
            // SAFETY: rusage is plain data that wait4 fills in.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: the pid is our own unreaped child; the out-pointers are valid.
            let r = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut ru) };
            if r == self.pid {
                self.reaped = true;
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    128 + libc::WTERMSIG(status)
                };
                let cpu = Cpu {
                    user: timeval(ru.ru_utime),
                    system: timeval(ru.ru_stime),
                };
                return Ok(Finished { code, cpu });
            }
            if r < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    self.reaped = true;
                    return Err(err).context("waiting for the scanner");
                }
            }
            if interrupt::requested() {
                match interrupted_at {
                    None => {
                        interrupted_at = Some(Instant::now());
                        self.signal(libc::SIGINT);
                    }
                    Some(at) if at.elapsed() > SIGKILL_AFTER => self.signal(libc::SIGKILL),
                    Some(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child, so it
        // cannot have been reused.
        unsafe { libc::kill(self.pid, sig) };
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(libc::SIGKILL);
            let mut status = 0;
            // SAFETY: blocking wait for our own child after SIGKILL.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// A few UDP packets a second from the target to the scanner, so masscan's libpcap read returns
/// and masscan notices its scan is over. Stops on drop.
struct Trickle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Trickle {
    fn start(testbed: &Testbed) -> anyhow::Result<Trickle> {
        // Bound inside the target namespace; the socket stays there when the thread that made
        // it has gone.
        let socket = testbed
            .in_target(|| UdpSocket::bind((TARGET_V4, 0)))?
            .context("binding the UDP trickle socket in the target namespace")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                // The discard port: the scanner's kernel answers ICMP unreachable, harmlessly.
                let _ = socket.send_to(b"trickle", (SCANNER_V4, 9));
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ok(Trickle {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A scratch directory for output files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("tcprax-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Facts about the testbed the scanner command lines need.
struct Link {
    scanner_if: String,
    scanner_mac: String,
    target_mac: String,
}

fn mac_of(ns: &str, ifname: &str) -> anyhow::Result<String> {
    let out = tcprax::testbed::run("ip", &["-n", ns, "-br", "link", "show", ifname])?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)
        .filter(|m| m.len() == 17 && m.matches(':').count() == 5)
        .map(str::to_string)
        .with_context(|| format!("no MAC address for {ifname} in `{}`", text.trim()))
}

/// The command line of one run (the program and its arguments, without `ip netns exec`).
fn command_line(
    spec: &Spec,
    tcprax: &Path,
    link: &Link,
    out: &Path,
    blocklist: &Path,
) -> Vec<String> {
    let range = spec.scope.range.to_string();
    let ports = spec.scope.port_list();
    let out = out.display().to_string();
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    match spec.tool {
        Tool::Tcprax => {
            push(&[&tcprax.display().to_string(), &range, "-sS", "-p", &ports]);
            if let Some(r) = spec.rate {
                push(&["--rate", &r.to_string()]);
            }
            push(&["-oJ", &out, "-q"]);
        }
        Tool::MasscanOwn | Tool::MasscanSpare => {
            let src = if spec.tool == Tool::MasscanOwn {
                SCANNER_V4
            } else {
                SPARE_V4
            };
            // masscan has no "unlimited": its rate then is far above what the link carries.
            let rate = spec.rate.unwrap_or(10_000_000).to_string();
            push(&[
                "masscan",
                "-e",
                &link.scanner_if,
                "--adapter-ip",
                &src.to_string(),
                "--adapter-mac",
                &link.scanner_mac,
                "--router-mac",
                &link.target_mac,
                "--rate",
                &rate,
                "--wait",
                "2",
                "-p",
                &ports,
                &range,
                "-oL",
                &out,
            ]);
        }
        Tool::Nmap => {
            push(&["nmap", "-sS", "-n", "-Pn", "-T4"]);
            if let Some(r) = spec.rate {
                push(&["--min-rate", &r.to_string()]);
            }
            push(&["--max-retries", "1", "-p", &ports, "-oG", &out, &range]);
        }
        Tool::Zmap => {
            push(&[
                "zmap",
                "-p",
                &ports,
                "-i",
                &link.scanner_if,
                "-G",
                &link.target_mac,
                "-S",
                &SCANNER_V4.to_string(),
                "-b",
                &blocklist.display().to_string(),
                "-c",
                "2",
                "-q",
                "-o",
                &out,
            ]);
            // Like masscan: "unlimited" is a rate far above what the link carries.
            let rate = spec.rate.unwrap_or(10_000_000).to_string();
            push(&["-r", &rate, &range]);
        }
    }
    args
}

/// An upper bound for one run: three times the time its packets need at the asked rate, plus
/// start-up and the tail; never more than two minutes.
fn time_limit(spec: &Spec) -> Duration {
    let packets = spec.scope.truth() * spec.tool.packets_per_probe();
    let rate = u64::from(spec.rate.unwrap_or(50_000).max(1));
    Duration::from_secs((15 + 3 * packets / rate).min(120))
}

/// Rates and ranges for the whole benchmark.
fn plan(quick: bool, tools: &[Tool]) -> Vec<Spec> {
    let anyip: Ipv4Net = ANYIP.parse().expect("ANYIP is a valid prefix");
    let sub = |prefix: u8| Ipv4Net::new(anyip.network(), prefix).expect("prefix <= 32");
    let (big, nmap_range) = if quick {
        (sub(20), sub(20))
    } else {
        (anyip, sub(18))
    };
    let all = Scope {
        range: big,
        ports: PORTS.to_vec(),
    };
    let k = |n: u32| Some(n * 1000);
    let rates = |tool: Tool| -> Vec<Option<u32>> {
        match (tool, quick) {
            (Tool::Tcprax, false) => vec![k(10), k(25), k(50), k(100), None],
            (Tool::Tcprax, true) => vec![k(25), None],
            (Tool::MasscanOwn, false) => vec![k(15), k(30), k(60), k(120)],
            (Tool::MasscanOwn, true) => vec![k(30)],
            (Tool::MasscanSpare, false) => vec![k(60), k(120), None],
            (Tool::MasscanSpare, true) => vec![k(120)],
            (Tool::Nmap, false) => vec![k(5), k(10), k(20)],
            (Tool::Nmap, true) => vec![k(10)],
            (Tool::Zmap, false) => vec![k(25), k(50), k(100)],
            (Tool::Zmap, true) => vec![k(50)],
        }
    };
    let mut specs = Vec::new();
    for &tool in tools {
        let scope = match tool {
            Tool::Nmap => Scope {
                range: nmap_range,
                ..all.clone()
            },
            Tool::Zmap => Scope {
                range: big,
                ports: vec![ZMAP_PORT],
            },
            _ => all.clone(),
        };
        for rate in rates(tool) {
            specs.push(Spec {
                tool,
                rate,
                scope: scope.clone(),
            });
        }
    }
    specs
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// `tcprax` next to this executable (both are built into the same target directory).
fn default_tcprax() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("finding this executable's path")?;
    let dir = me
        .parent()
        .with_context(|| format!("{} has no parent directory", me.display()))?;
    Ok(dir.join("tcprax"))
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
    let tcprax = match &args.tcprax {
        Some(p) => p.clone(),
        None => default_tcprax()?,
    };
    if tools.contains(&Tool::Tcprax) && !tcprax.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p tcprax`",
            tcprax.display()
        );
    }
    if !have_privileges() {
        bail!("the benchmark creates network namespaces and attaches XDP: run it as root");
    }
    for note in &skipped {
        eprintln!("tcprax-bench: {note}");
    }
    let specs = plan(args.quick, &tools);
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
        let argv = command_line(spec, &tcprax, &link, &out, &blocklist);
        eprintln!(
            "[{}/{}] {} (limit {} s)",
            i + 1,
            specs.len(),
            argv.join(" "),
            time_limit(spec).as_secs()
        );
        let mut m = measure(&testbed, spec, &argv, &out, &scratch.0)?;
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
        report(&results, &skipped, args.quick, total, &load, &versions)
    );
    Ok(())
    // `_listeners` stop, then `testbed` deletes both namespaces and `scratch` the files.
}

fn measure(
    testbed: &Testbed,
    spec: &Spec,
    argv: &[String],
    out: &Path,
    scratch: &Path,
) -> anyhow::Result<Measured> {
    let trickle = match spec.tool {
        Tool::MasscanOwn | Tool::MasscanSpare => Some(Trickle::start(testbed)?),
        _ => None,
    };
    let stderr_path = out.with_extension("stderr");
    let stderr = File::create(&stderr_path).context("creating a stderr file")?;
    let limit = time_limit(spec);
    // `timeout` bounds every run; -k kills the scanner 3 s after SIGINT (ours or its own).
    let mut cmd = testbed.scanner_command("timeout");
    cmd.args(["-k", "3", "-s", "INT", &format!("{}s", limit.as_secs())])
        .args(argv)
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);

    let (syns0, rsts0) = target_counters(testbed)?;
    let host0 = host_busy();
    let t0 = Instant::now();
    let mut running = Running::spawn(cmd)?;
    let finished = running.wait()?;
    let wall = t0.elapsed();
    let host_cpu = host_busy().saturating_sub(host0);
    drop(trickle);
    check_interrupted()?;
    // Late answers and the scanner's RSTs are still in flight for a moment.
    std::thread::sleep(Duration::from_millis(300));
    let (syns1, rsts1) = target_counters(testbed)?;

    let mut notes = Vec::new();
    match finished.code {
        0 => {}
        124 => notes.push(format!("timed out after {} s", limit.as_secs())),
        code => {
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            notes.push(format!("exit {code}: {}", last.trim()));
        }
    }
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let (pairs, probes_reported) = match spec.tool {
        Tool::Tcprax => {
            let r = parse_tcprax_json(&text);
            if r.ringbuf_full > 0 {
                notes.push(format!("XDP ring buffer full {} times", r.ringbuf_full));
            }
            if r.interrupted {
                notes.push("interrupted".into());
            }
            (r.open, r.probes_sent)
        }
        Tool::MasscanOwn | Tool::MasscanSpare => (parse_masscan_list(&text), None),
        Tool::Nmap => (parse_nmap_grep(&text), None),
        Tool::Zmap => (parse_zmap(&text, ZMAP_PORT), None),
    };
    let found = count_found(pairs, &spec.scope);
    if found.out_of_scope > 0 {
        notes.push(format!(
            "{} open ports outside the scope",
            found.out_of_scope
        ));
    }
    Ok(Measured {
        spec: spec.clone(),
        wall,
        cpu: finished.cpu,
        host_cpu,
        probes_reported,
        syns_at_target: syns1.saturating_sub(syns0),
        rsts_at_target: rsts1.saturating_sub(rsts0),
        found,
        notes,
    })
}

/// `part` of `whole` in percent, rounded down so that only a complete result reads 100.00.
fn percent(part: u64, whole: u64) -> String {
    let hundredths = u128::from(part) * 10_000 / u128::from(whole.max(1));
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn fmt_rate(rate: Option<u32>) -> String {
    match rate {
        Some(r) if r.is_multiple_of(1000) => format!("{}k", r / 1000),
        Some(r) => r.to_string(),
        None => "max".into(),
    }
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The best rate at which a tool still found every open port: the row with the highest
/// achieved probes/s among the complete ones.
fn best_complete(results: &[Measured], tool: Tool) -> Option<&Measured> {
    results
        .iter()
        .filter(|m| m.spec.tool == tool && m.complete())
        .max_by(|a, b| a.pps().total_cmp(&b.pps()))
}

/// The results as Markdown: one row per run, then the best complete rate of each tool.
fn report(
    results: &[Measured],
    skipped: &[String],
    quick: bool,
    total: Duration,
    load: &str,
    versions: &[String],
) -> String {
    let mut s = String::new();
    let tcprax_best = best_complete(results, Tool::Tcprax).map(Measured::pps);
    let _ = writeln!(
        s,
        "\n## tcprax-bench{} — {} CPUs, kernel {}, {:.0} s in all, load average {load}\n",
        if quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel_release(),
        total.as_secs_f64()
    );
    if !versions.is_empty() {
        let _ = writeln!(s, "Versions: {}.\n", versions.join(", "));
    }
    let _ = writeln!(
        s,
        "| tool | range × ports | rate asked | probes | achieved pps | wall s | open found / truth | % | CPU s (user+sys) | host CPU s | SYNs at target | RSTs at target | vs tcprax best | notes |"
    );
    let _ = writeln!(
        s,
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    );
    for m in results {
        let truth = m.spec.scope.truth();
        let probes = match m.probes_reported {
            Some(p) => fmt_count(p),
            None => format!("{}*", fmt_count(m.syns_at_target)),
        };
        let ratio = tcprax_best.map_or("-".into(), |b| format!("{:.2}×", m.pps() / b));
        let _ = writeln!(
            s,
            "| {} | {} × {} | {} | {} | {} | {:.2} | {} / {} | {} | {:.2} ({:.2}+{:.2}) | {:.2} | {} | {} | {} | {} |",
            m.spec.tool.label(),
            m.spec.scope.range,
            m.spec.scope.ports.len(),
            fmt_rate(m.spec.rate),
            probes,
            fmt_count(m.pps().round() as u64),
            m.wall.as_secs_f64(),
            fmt_count(m.found.in_scope),
            fmt_count(truth),
            percent(m.found.in_scope, truth),
            m.cpu.total().as_secs_f64(),
            m.cpu.user.as_secs_f64(),
            m.cpu.system.as_secs_f64(),
            m.host_cpu.as_secs_f64(),
            fmt_count(m.syns_at_target),
            fmt_count(m.rsts_at_target),
            ratio,
            m.notes.join("; "),
        );
    }
    let _ = writeln!(s, "\n### Fastest run that found every open port\n");
    let _ = writeln!(
        s,
        "| tool | rate asked | achieved pps | wall s | CPU s | vs tcprax |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|");
    let mut seen = Vec::new();
    for m in results {
        let tool = m.spec.tool;
        if seen.contains(&tool) {
            continue;
        }
        seen.push(tool);
        match best_complete(results, tool) {
            Some(b) => {
                let ratio = tcprax_best.map_or("-".into(), |t| format!("{:.2}×", b.pps() / t));
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {:.2} | {} |",
                    tool.label(),
                    fmt_rate(b.spec.rate),
                    fmt_count(b.pps().round() as u64),
                    b.wall.as_secs_f64(),
                    b.cpu.total().as_secs_f64(),
                    ratio
                );
            }
            None => {
                let _ = writeln!(s, "| {} | none was 100 % | - | - | - | - |", tool.label());
            }
        }
    }
    let _ = writeln!(
        s,
        "\nprobes: the scanner's own count (tcprax, retries included); * = SYNs counted at the target \
         (the peers report none). achieved pps = probes / wall time, start-up and final wait included. \
         CPU s = user + system time of the scanner process (wait4); on a veth the target's receive work \
         runs on the sender's CPU, so it is partly counted there. host CPU s = busy time of all CPUs."
    );
    for note in skipped {
        let _ = writeln!(s, "\n{note}");
    }
    s
}

/// The first line of `program --version` that names a version, e.g. "Nmap version 7.93".
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|l| l.chars().any(|c| c.is_ascii_digit()))
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
}

/// Versions of the tools that ran, tcprax first.
fn versions(tcprax: &Path, tools: &[Tool]) -> Vec<String> {
    let mut programs: Vec<PathBuf> = Vec::new();
    for tool in tools {
        let p = match tool {
            Tool::Tcprax => tcprax.to_path_buf(),
            Tool::MasscanOwn | Tool::MasscanSpare => "masscan".into(),
            Tool::Nmap => "nmap".into(),
            Tool::Zmap => "zmap".into(),
        };
        if !programs.contains(&p) {
            programs.push(p);
        }
    }
    programs.iter().filter_map(|p| version_of(p)).collect()
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(cidr: &str, ports: &[u16]) -> Scope {
        Scope {
            range: cidr.parse().unwrap(),
            ports: ports.to_vec(),
        }
    }

    #[test]
    fn truth_counts_network_and_broadcast_addresses() {
        assert_eq!(scope("198.19.0.0/16", PORTS).truth(), 262_144);
        assert_eq!(scope("198.19.0.0/20", &[80]).truth(), 4096);
    }

    #[test]
    fn found_counts_duplicates_once_and_flags_strays() {
        let s = scope("198.19.0.0/24", &[22, 80]);
        let a: Ipv4Addr = "198.19.0.7".parse().unwrap();
        let stray: Ipv4Addr = "198.19.1.7".parse().unwrap();
        let found = count_found([(a, 22), (a, 22), (a, 80), (a, 443), (stray, 22)], &s);
        assert_eq!(
            found,
            Found {
                in_scope: 2,
                out_of_scope: 2
            }
        );
    }

    #[test]
    fn tcprax_json_gives_open_ports_and_summary() {
        let text = r#"{"type":"plan","tcprax":"0.1.0"}
{"type":"port","addr":"198.19.0.1","port":22,"state":"open","reason":"syn-ack","rtt_us":210}
{"type":"port","addr":"198.19.0.1","port":81,"state":"closed","reason":"reset","rtt_us":210}
{"type":"summary","elapsed_s":1.5,"probes_sent":6,"interrupted":false,"xdp":{"seen":9,"matched":4,"passed":5,"ringbuf_full":3,"bad_cookie":0}}
not json"#;
        let r = parse_tcprax_json(text);
        assert_eq!(r.open, vec![("198.19.0.1".parse().unwrap(), 22)]);
        assert_eq!(r.probes_sent, Some(6));
        assert_eq!(r.ringbuf_full, 3);
        assert!(!r.interrupted);
    }

    #[test]
    fn masscan_list_lines() {
        let text = "#masscan\nopen tcp 8080 198.19.1.171 1795499696\nopen tcp 80 198.19.2.94 1795499696\n# end\n";
        assert_eq!(
            parse_masscan_list(text),
            vec![
                ("198.19.1.171".parse().unwrap(), 8080),
                ("198.19.2.94".parse().unwrap(), 80)
            ]
        );
    }

    #[test]
    fn nmap_grepable_open_ports_only() {
        let text = "# Nmap 7.93 scan initiated\n\
            Host: 198.19.0.1 ()\tStatus: Up\n\
            Host: 198.19.0.1 ()\tPorts: 22/open/tcp//ssh///, 80/filtered/tcp//http///, 443/open/tcp//https///\n\
            # Nmap done\n";
        let a: Ipv4Addr = "198.19.0.1".parse().unwrap();
        assert_eq!(parse_nmap_grep(text), vec![(a, 22), (a, 443)]);
    }

    #[test]
    fn zmap_addresses_get_the_port() {
        let text = "198.19.93.159\n198.19.117.174\n\n";
        assert_eq!(
            parse_zmap(text, 80),
            vec![
                ("198.19.93.159".parse().unwrap(), 80),
                ("198.19.117.174".parse().unwrap(), 80)
            ]
        );
    }

    #[test]
    fn nft_counters_by_name() {
        let text = "table inet trxbench {\n\tcounter syns {\n\t\tpackets 12 bytes 480\n\t}\n\
                    \tcounter rsts {\n\t\tpackets 3 bytes 120\n\t}\n}\n";
        assert_eq!(parse_nft_counters(text), Some((12, 3)));
        assert_eq!(parse_nft_counters("table inet trxbench {\n}"), None);
    }

    #[test]
    fn counts_and_rates_are_readable() {
        assert_eq!(fmt_count(262_144), "262,144");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_rate(Some(25_000)), "25k");
        assert_eq!(fmt_rate(Some(1_500)), "1500");
        assert_eq!(fmt_rate(None), "max");
        assert_eq!(percent(65_535, 65_536), "99.99");
        assert_eq!(percent(262_144, 262_144), "100.00");
        assert_eq!(percent(1, 3), "33.33");
        assert_eq!(percent(0, 0), "0.00");
    }

    #[test]
    fn quick_plan_is_small_and_zmap_scans_one_port() {
        let specs = plan(true, &[Tool::Tcprax, Tool::Zmap, Tool::Nmap]);
        assert!(specs.iter().all(|s| s.scope.range.prefix_len() == 20));
        let zmap = specs.iter().find(|s| s.tool == Tool::Zmap).unwrap();
        assert_eq!(zmap.scope.ports, vec![ZMAP_PORT]);
        assert!(
            specs
                .iter()
                .all(|s| time_limit(s) <= Duration::from_secs(120))
        );
    }
}
