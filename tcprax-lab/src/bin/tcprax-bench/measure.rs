//! One run measured: the scanner process under `timeout` in the scanner namespace (its wall
//! and CPU time through [`tcprax_lab::process::Child`]), the whole machine's busy time, the SYNs
//! and RSTs that reached the target, and the open ports it reported; plus what keeps runs
//! honest (draining half-open connections, the UDP trickle masscan needs to exit).
use crate::check_interrupted;
use crate::parsers::{
    parse_masscan_list, parse_nft_counters, parse_nmap_grep, parse_tcprax_json, parse_zmap,
};
use crate::tools::{Found, Spec, Tool, ZMAP_PORT, count_found, time_limit};
use anyhow::Context as _;
use std::fs::File;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tcprax_lab::interrupt;
use tcprax_lab::process::{Child, Cpu, Stop};
use tcprax_lab::responder::Responder;
use tcprax_lab::testbed::{SCANNER_V4, TARGET_V4, Testbed};

/// How long to wait for the target's half-open connections to drain before a run.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// After Ctrl-C: SIGINT to the scanner at once (`timeout` passes it on to the scanner and kills
/// it 3 s later), SIGKILL if it is still there after 10 s.
const ON_INTERRUPT: Stop = Stop {
    signal: libc::SIGINT,
    signal_after: Duration::ZERO,
    kill_after: Duration::from_secs(10),
};

/// Everything measured about one run.
#[derive(Clone, Debug)]
pub struct Measured {
    pub spec: Spec,
    pub wall: Duration,
    /// CPU of the scanner process and its children.
    pub cpu: Cpu,
    /// Busy CPU of the whole machine (both namespaces, every process, softirqs).
    pub host_cpu: Duration,
    /// The scanner's own count, when it reports one (tcprax).
    pub probes_reported: Option<u64>,
    pub syns_at_target: u64,
    pub rsts_at_target: u64,
    /// From the first to the last SYN at the target (the responder times them).
    pub syn_window: Option<Duration>,
    pub found: Found,
    pub notes: Vec<String>,
}

impl Measured {
    /// Probes: the scanner's own count if it gives one, else the SYNs that reached the target.
    pub fn probes(&self) -> u64 {
        self.probes_reported.unwrap_or(self.syns_at_target)
    }

    pub fn pps(&self) -> f64 {
        self.probes() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// SYNs per second while the scanner was sending (first to last SYN at the target).
    pub fn sending_pps(&self) -> Option<f64> {
        let w = self.syn_window?.as_secs_f64();
        (w > 0.0).then(|| self.syns_at_target as f64 / w)
    }

    pub fn complete(&self) -> bool {
        self.found.in_scope == self.spec.scope.truth() && self.found.out_of_scope == 0
    }
}

/// Counters, in the target namespace, of SYNs and RSTs from the scanner's link.
pub fn count_at_target(testbed: &Testbed) -> anyhow::Result<()> {
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

/// Where the SYNs and RSTs that reach the target are counted.
pub enum AtTarget<'a> {
    /// nftables counters in the target namespace (the kernel target).
    Nft(&'a Testbed),
    /// The XDP responder's own counters (XDP runs before nftables), which also time the SYNs.
    Responder(&'a mut Responder),
}

impl AtTarget<'_> {
    /// (SYNs, RSTs) so far, and the time from the first to the last SYN since [`Self::reset`].
    fn read(&self) -> anyhow::Result<(u64, u64, Option<Duration>)> {
        match self {
            AtTarget::Nft(testbed) => {
                let (syns, rsts) = target_counters(testbed)?;
                Ok((syns, rsts, None))
            }
            AtTarget::Responder(r) => {
                let c = r.counters()?;
                let window = Duration::from_nanos(c.syn_window_ns);
                Ok((c.syns(), c.dropped, Some(window)))
            }
        }
    }

    fn reset(&mut self) -> anyhow::Result<()> {
        if let AtTarget::Responder(r) = self {
            r.reset()?;
        }
        Ok(())
    }
}

/// (SYNs, RSTs) counted at the target so far (by nftables: the kernel target).
fn target_counters(testbed: &Testbed) -> anyhow::Result<(u64, u64)> {
    let out = testbed.target_sh("nft list counters table inet trxbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_nft_counters(&text).context("reading the nftables counters")
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
pub fn drain(testbed: &Testbed) -> anyhow::Result<Option<u64>> {
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
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> anyhow::Result<Scratch> {
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

/// Run the scanner of `spec` (`argv`, writing `out`) once and measure it; `at_target` counts
/// the SYNs and RSTs that reach the target.
pub fn measure(
    testbed: &Testbed,
    spec: &Spec,
    argv: &[String],
    out: &Path,
    scratch: &Path,
    at_target: &mut AtTarget,
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

    at_target.reset()?;
    let (syns0, rsts0, _) = at_target.read()?;
    let host0 = host_busy();
    let t0 = Instant::now();
    let mut scanner = Child::spawn(&mut cmd)?;
    let finished = scanner
        .wait(interrupt::requested, ON_INTERRUPT)
        .context("waiting for the scanner")?;
    let wall = t0.elapsed();
    let host_cpu = host_busy().saturating_sub(host0);
    drop(trickle);
    check_interrupted()?;
    // Late answers and the scanner's RSTs are still in flight for a moment.
    std::thread::sleep(Duration::from_millis(300));
    let (syns1, rsts1, syn_window) = at_target.read()?;

    let mut notes = Vec::new();
    match finished.code() {
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
            let scope = &spec.scope;
            for (what, got, truth) in [
                ("closed", r.closed, scope.truth_closed()),
                ("filtered", r.filtered, scope.truth_filtered()),
            ] {
                if got.is_some_and(|n| n != truth) {
                    notes.push(format!("{what} {} of {truth}", got.unwrap_or(0)));
                }
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
        syn_window,
        syns_at_target: syns1.saturating_sub(syns0),
        rsts_at_target: rsts1.saturating_sub(rsts0),
        found,
        notes,
    })
}
