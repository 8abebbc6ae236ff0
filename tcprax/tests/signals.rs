//! Signals stop the real binary cleanly, in namespaces the tests create: SIGTERM, SIGHUP and
//! SIGINT stop sending, cancel -sV probes still running, finish every report (the -oJ file ends
//! with a summary line saying `"interrupted": true`) and exit 128 + the signal number; a second
//! signal exits at once and still leaves only whole lines in the JSON file.
mod common;

use serde_json::Value;
use std::io::Read as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tcprax_lab::testbed::{Testbed, xdp_attached};

/// A report file under the system temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!("tcprax-signals-{}-{tag}", std::process::id())))
    }
    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
    fn text(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn send(child: &Child, signal: i32) {
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child to exit; kills it and fails if it takes longer than `within`.
fn exit_within(child: &mut Child, within: Duration) -> (ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, start.elapsed());
        }
        if start.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tcprax still running {within:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

/// The scan has started, and with it the signal handlers: the plan line is in the file (the
/// JSON printer flushes it before the first probe).
fn wait_for_plan(file: &TempFile) {
    wait_for("the plan line", Duration::from_secs(20), || {
        file.text().starts_with("{\"type\":\"plan\"")
    });
}

/// Every line of a JSON lines file, each parsed; the file must end with a line break.
fn json_lines(text: &str) -> Vec<Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the JSON file ends inside a line: ...{:?}",
        &text[text.len().saturating_sub(200)..]
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// A finished, interrupted report: plan first, then port lines, then the summary, which says
/// the scan was interrupted and counts exactly the port lines written. Returns the port lines.
fn interrupted_report(text: &str) -> Vec<Value> {
    let lines = json_lines(text);
    assert!(lines.len() >= 2, "{text}");
    assert_eq!(lines[0]["type"], "plan");
    let summary = &lines[lines.len() - 1];
    assert_eq!(summary["type"], "summary", "last line: {summary}");
    assert_eq!(summary["interrupted"], true, "{summary}");
    let ports = lines[1..lines.len() - 1].to_vec();
    assert!(ports.iter().all(|v| v["type"] == "port"));
    assert_eq!(summary["ports_scanned"], ports.len(), "{summary}");
    ports
}

#[test]
fn sigterm_stops_a_syn_scan_with_a_complete_report_and_exit_143() {
    let Some(tb) = common::testbed("trxsigterm") else {
        return;
    };
    let _l = tb.target_listen(&[22, 80]).unwrap();
    let json = TempFile::new("term.jsonl");
    let resume = TempFile::new("term.resume");
    let mut child = tb
        .scanner_command(common::bin())
        .args(["-sS", "198.18.0.2", "-p", "1-1000", "--rate", "100"])
        .args(["-oJ", json.arg(), "--resume-file", resume.arg()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_plan(&json);
    wait_for("XDP attach", Duration::from_secs(10), || {
        xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap()
    });
    // At 100 probes/s a 1000-port scan has ~9 s to go.
    std::thread::sleep(Duration::from_millis(700));
    send(&child, libc::SIGTERM);
    let (status, took) = exit_within(&mut child, Duration::from_secs(5));
    eprintln!("-sS exited {took:?} after SIGTERM");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(143), "stderr: {stderr}");
    assert!(stderr.contains("SIGTERM"), "stderr: {stderr}");
    let ports = interrupted_report(&json.text());
    assert!(
        !ports.is_empty() && ports.len() < 1000,
        "{} ports decided before SIGTERM",
        ports.len()
    );
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    assert!(!xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap());
}

#[test]
fn sighup_stops_a_connect_scan_and_flushes_every_report_exit_129() {
    let Some(tb) = common::testbed("trxsighup") else {
        return;
    };
    // Every port silently dropped: each connect waits out its timeout, so 2000 ports take
    // several seconds and the scan is still running when the signal comes.
    tb.target_sh(
        "nft add table inet hup && \
         nft add chain inet hup input '{ type filter hook input priority 0; }' && \
         nft add rule inet hup input tcp dport 1-2000 drop",
    )
    .unwrap();
    let json = TempFile::new("hup.jsonl");
    let human = TempFile::new("hup.txt");
    let grep = TempFile::new("hup.gnmap");
    let resume = TempFile::new("hup.resume");
    let mut child = tb
        .scanner_command(common::bin())
        .args([
            "-sT",
            "198.18.0.2",
            "-p",
            "1-2000",
            "--resume-file",
            resume.arg(),
        ])
        .args(["-oJ", json.arg(), "-oN", human.arg(), "-oG", grep.arg()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_plan(&json);
    std::thread::sleep(Duration::from_millis(1500));
    send(&child, libc::SIGHUP);
    // In-flight connects to dropped ports are abandoned at the stop, not waited out (each
    // would take its 1 s initial timeout): the exit comes well within a second.
    let (status, took) = exit_within(&mut child, Duration::from_secs(8));
    eprintln!("-sT exited {took:?} after SIGHUP");
    assert!(
        took < Duration::from_millis(900),
        "-sT took {took:?} to stop after SIGHUP"
    );
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(129), "stderr: {stderr}");
    let ports = interrupted_report(&json.text());
    assert!(ports.len() < 2000, "the scan ran to its end");
    assert!(ports.iter().all(|v| v["state"] == "filtered"));
    // The other printers were finished too.
    let human = human.text();
    assert!(
        human.contains("\nInterrupted: results are partial\nScan done: "),
        "{human}"
    );
    let grep = grep.text();
    assert!(
        grep.contains("# tcprax interrupted: results are partial\n# tcprax done: "),
        "{grep}"
    );
}

/// Listens on `ports` in the target namespace; accepts every connection and holds it open
/// without ever writing, so each -sV detection waits out every one of its probes.
struct SilentServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentServer {
    fn start(tb: &Testbed, ports: std::ops::RangeInclusive<u16>) -> SilentServer {
        let listeners = tb
            .in_target(move || {
                ports
                    .map(|p| {
                        let l = TcpListener::bind(SocketAddr::new(
                            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                            p,
                        ))
                        .unwrap();
                        l.set_nonblocking(true).unwrap();
                        l
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                for l in &listeners {
                    while let Ok((s, _)) = l.accept() {
                        held.push(s);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        SilentServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn sigint_cancels_running_service_detection_and_exits_130_at_once() {
    let Some(tb) = common::testbed("trxsigint") else {
        return;
    };
    let _silent = SilentServer::start(&tb, 20001..=20020);
    let json = TempFile::new("int.jsonl");
    let resume = TempFile::new("int.resume");
    // One -sV probe at a time over 20 silent ports: each detection waits out its banner, TLS,
    // HTTP and generic reads (over a second), so they need ~20 s to run to their end.
    let mut child = tb
        .scanner_command(common::bin())
        .args(["-sT", "-sV", "198.18.0.2", "-p", "20001-20020", "-t", "1"])
        .args(["--resume-file", resume.arg()])
        .args(["--probe-timeout", "30s", "-oJ", json.arg()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_plan(&json);
    std::thread::sleep(Duration::from_millis(1500));
    send(&child, libc::SIGINT);
    let (status, took) = exit_within(&mut child, Duration::from_secs(15));
    eprintln!("-sV exited {took:?} after SIGINT");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(
        took < Duration::from_secs(2),
        "exit took {took:?} after SIGINT"
    );
    let ports = interrupted_report(&json.text());
    // Every port was found open before the signal; the ones whose detection was cancelled (or
    // never started) are still reported open, without service information.
    assert_eq!(ports.len(), 20, "{ports:?}");
    assert!(ports.iter().all(|v| v["state"] == "open"));
    let without_service = ports.iter().filter(|v| v.get("service").is_none()).count();
    assert!(
        without_service >= 15,
        "{without_service} cancelled: {ports:?}"
    );
}

#[test]
fn a_second_signal_exits_at_once_leaving_only_whole_json_lines() {
    let Some(tb) = common::testbed("trxsig2") else {
        return;
    };
    tb.target_anyip("198.19.0.0/20").unwrap();
    let json = TempFile::new("twice.jsonl");
    let resume = TempFile::new("twice.resume");
    // The grepable report (a line per host as it completes) goes to a small pipe nobody reads:
    // once it is full the scan blocks on it, so the first signal cannot finish the reports and
    // only a second one ends the process.
    let mut child = tb
        .scanner_command(common::bin())
        .args([
            "-sT",
            "198.19.0.0/20",
            "-p",
            "1,2",
            "-oJ",
            json.arg(),
            "-oG",
            "-",
            "--resume-file",
            resume.arg(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = child.stdout.as_ref().unwrap().as_raw_fd();
    // SAFETY: fcntl/ioctl on the read end of our own pipe to the child.
    let capacity = unsafe { libc::fcntl(pipe, libc::F_SETPIPE_SZ, 16 * 1024) };
    assert!(
        capacity >= 4096,
        "F_SETPIPE_SZ: {}",
        std::io::Error::last_os_error()
    );
    wait_for_plan(&json);
    // The pipe is full (less than a grepable line free): the scan is blocked on it for good.
    wait_for("a full stdout pipe", Duration::from_secs(30), || {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let ok = unsafe { libc::ioctl(pipe, libc::FIONREAD, &mut queued) } == 0;
        ok && queued > capacity - 200
    });
    std::thread::sleep(Duration::from_millis(200));
    // Past the file's write buffer: the JSON file has been written in several pieces.
    assert!(std::fs::metadata(&json.0).unwrap().len() > 16 * 1024);
    send(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the scan finished on the first signal; nothing left to test"
    );
    send(&child, libc::SIGTERM);
    let (status, took) = exit_within(&mut child, Duration::from_secs(5));
    eprintln!("exited {took:?} after the second SIGTERM");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(143), "stderr: {stderr}");
    assert!(took < Duration::from_secs(2), "exit took {took:?}");
    let lines = json_lines(&json.text());
    assert_eq!(lines[0]["type"], "plan");
    assert!(lines.len() > 100);
    // Cut short: no summary, but nothing half-written either.
    assert!(lines[1..].iter().all(|v| v["type"] == "port"));
    assert_path_is_whole(&json.0);
}

/// The last byte of the file is a line break (json_lines checked the same on the text; this
/// reads the raw bytes, in case the file is not UTF-8 at a cut).
fn assert_path_is_whole(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'));
}
