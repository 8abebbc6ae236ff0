//! `--resume` for real, in namespaces the test creates: a rate-limited -sS scan of an AnyIP /20
//! × 3 ports (open, closed, filtered: 12,285 probes) is stopped by SIGINT, resumed, stopped
//! again, and resumed to its end. Together the three runs' JSON lines must hold exactly the
//! (address, port, state) set an uninterrupted scan reports, no port twice; the resume file
//! is updated at the second stop and removed at the end; each run's -oX is a whole document;
//! and a resume file that does not fit (other options with it, damaged, targets file changed)
//! is refused with a clear error before anything is sent.
mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};
use tcprax_lab::testbed::Testbed;

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tcprax-resume-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HOSTS: &str = "198.19.0.0/20\n";
const EXCLUDED: &str = "198.19.0.7";
/// Options of every run: a targets file, an exclusion, a timeout that keeps filtered ports
/// quick; the ports are 22 (listening: open), 80 (closed) and 81 (dropped: filtered).
const SCAN: [&str; 10] = [
    "-sS",
    "-iL",
    "hosts.txt",
    "--exclude",
    EXCLUDED,
    "-p",
    "22,80,81",
    "--timeout",
    "300ms",
    "--retries=1",
];

fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

/// Every line of a JSON lines file, parsed; the file must end with a line break.
fn json_lines(text: &str) -> Vec<Value> {
    assert!(text.ends_with('\n'), "the JSON file ends inside a line");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// (address, port) -> state of every port line, failing on a port reported twice.
fn verdicts(lines: &[Value]) -> BTreeMap<(String, u64), String> {
    let mut out = BTreeMap::new();
    for v in lines.iter().filter(|v| v["type"] == "port") {
        let key = (
            v["addr"].as_str().unwrap().to_string(),
            v["port"].as_u64().unwrap(),
        );
        let state = v["state"].as_str().unwrap().to_string();
        if let Some(before) = out.insert(key.clone(), state) {
            panic!("{key:?} reported twice (first {before})");
        }
    }
    out
}

/// A run in the scanner namespace, in `dir`, that is sent SIGINT `after` its plan line is in
/// `json` (the signal handlers are installed by then); returns its stderr after checking it
/// exited 130 and named the command to continue.
fn interrupted_run(
    tb: &Testbed,
    dir: &Path,
    args: &[&str],
    json: &Path,
    after: Duration,
) -> String {
    // Where this run's lines start: a resumed run first cuts the report back to the save.
    let before = match args {
        ["--resume", file] => {
            let name = json.file_name().unwrap().to_str().unwrap();
            let saved = resume_file(Path::new(file));
            let outputs = saved["outputs"].as_array().unwrap().clone();
            let entry = outputs
                .iter()
                .find(|o| o["path"].as_str().unwrap().ends_with(name))
                .unwrap_or_else(|| panic!("{name} not in {saved}"));
            entry["len"].as_u64().unwrap() as usize
        }
        _ => std::fs::read_to_string(json).map_or(0, |t| t.len()),
    };
    let mut child = tb
        .scanner_command(common::bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the plan line", Duration::from_secs(20), || {
        std::fs::read_to_string(json).is_ok_and(|t| t[before.min(t.len())..].contains("\"plan\""))
    });
    std::thread::sleep(after);
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tcprax still running 10 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    stderr
}

/// A run to its end (or to its error) in the scanner namespace, in `dir`.
fn run(tb: &Testbed, dir: &Path, args: &[&str]) -> Output {
    tb.scanner_command(common::bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn resume_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The error a refused `--resume` printed: exit 2, one `tcprax: error:` line.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.starts_with("tcprax: error: "), "{stderr}");
    assert!(out.stdout.is_empty());
    stderr
}

#[test]
fn interrupted_twice_and_resumed_reports_exactly_the_uninterrupted_scan() {
    let Some(tb) = common::testbed("trxresume") else {
        return;
    };
    tb.target_anyip("198.19.0.0/20").unwrap();
    let _l = tb.target_listen(&[22]).unwrap();
    tb.target_filter_ports(&[81]).unwrap();
    let scan_dir = Scratch::new("scan");
    std::fs::write(scan_dir.path("hosts.txt"), HOSTS).unwrap();
    // Resumed runs start elsewhere: the file brings the scan's own directory with it.
    let elsewhere = Scratch::new("elsewhere");

    // The reference: the same scan, uninterrupted and unpaced.
    let reference = run(
        &tb,
        &scan_dir.0,
        &[&SCAN[..], &["-oJ", "reference.jsonl"]].concat(),
    );
    assert!(
        reference.status.success(),
        "{}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let want = verdicts(&json_lines(&scan_dir.text("reference.jsonl")));
    assert_eq!(want.len(), 4095 * 3);
    for ((addr, port), state) in &want {
        let expected = match port {
            22 => "open",
            80 => "closed",
            _ => "filtered",
        };
        assert_eq!(state, expected, "{addr}:{port}");
    }
    assert!(
        !scan_dir.path("tcprax.resume").exists(),
        "a complete scan saves nothing"
    );

    // At 3000 probes/s the scan takes about 4 s: stop it after ~1.2 s.
    let outputs = ["-oJ", "scan.jsonl", "-oX", "scan.xml", "-oG", "scan.gnmap"];
    let first_args = [
        &SCAN[..],
        &["--rate", "3000", "--resume-file", "state/paused"],
        &outputs,
    ]
    .concat();
    std::fs::create_dir_all(scan_dir.path("state")).unwrap();
    let json = scan_dir.path("scan.jsonl");
    let stderr = interrupted_run(
        &tb,
        &scan_dir.0,
        &first_args,
        &json,
        Duration::from_millis(1200),
    );
    let paused = scan_dir.path("state/paused");
    assert!(
        stderr.contains(&format!("tcprax --resume {}", paused.display())),
        "stderr: {stderr}"
    );
    let saved = resume_file(&paused);
    let pending = saved["point"]["pending"].as_array().unwrap().len();
    let decided = saved["decided"]["ports"].as_u64().unwrap();
    eprintln!("first stop: {decided} decided, {pending} pending");
    assert!(pending > 0, "no probe in flight at the stop: {saved}");
    assert!(
        decided > 500 && decided < 12_285 - 2000,
        "stopped too early or late: {decided}"
    );
    assert_eq!(saved["resumed_runs"], 0);

    // Resumed from another directory, stopped again.
    let resume_args = ["--resume", paused.to_str().unwrap()];
    interrupted_run(
        &tb,
        &elsewhere.0,
        &resume_args,
        &json,
        Duration::from_millis(1000),
    );
    let again = resume_file(&paused);
    assert_eq!(again["resumed_runs"], 1, "{again}");
    assert_eq!(again["point"]["seed"], saved["point"]["seed"]);
    let decided_again = again["decided"]["ports"].as_u64().unwrap();
    assert!(
        decided_again > decided && decided_again < 12_285,
        "{decided_again}"
    );

    // Files that do not fit are refused before anything is sent.
    let out = run(
        &tb,
        &elsewhere.0,
        &["--resume", paused.to_str().unwrap(), "-p", "22"],
    );
    assert!(refused(&out).contains("takes no other option"), "{out:?}");
    let damaged = elsewhere.path("damaged");
    let text = std::fs::read_to_string(&paused).unwrap();
    std::fs::write(&damaged, &text[..text.len() / 2]).unwrap();
    let out = run(&tb, &elsewhere.0, &["--resume", damaged.to_str().unwrap()]);
    assert!(
        refused(&out).contains("is not a tcprax resume file"),
        "{out:?}"
    );
    std::fs::write(scan_dir.path("hosts.txt"), "198.19.0.0/21\n").unwrap();
    let out = run(&tb, &elsewhere.0, &["--resume", paused.to_str().unwrap()]);
    let err = refused(&out);
    assert!(
        err.contains("hosts.txt") && err.contains("changed"),
        "{err}"
    );
    std::fs::write(scan_dir.path("hosts.txt"), HOSTS).unwrap();
    assert_eq!(
        resume_file(&paused),
        again,
        "a refused resume touched the file"
    );

    // Resumed to its end: the file goes.
    let out = run(&tb, &elsewhere.0, &resume_args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!paused.exists(), "the resume file outlived the scan");

    // JSON lines: three runs appended, each plan ... summary; together the reference set.
    let lines = json_lines(&std::fs::read_to_string(&json).unwrap());
    let summaries: Vec<&Value> = lines.iter().filter(|v| v["type"] == "summary").collect();
    let interrupted: Vec<&Value> = summaries.iter().map(|s| &s["interrupted"]).collect();
    assert_eq!(
        interrupted,
        [&Value::Bool(true), &Value::Bool(true), &Value::Bool(false)]
    );
    assert_eq!(lines.iter().filter(|v| v["type"] == "plan").count(), 3);
    let got = verdicts(&lines);
    assert_eq!(got.len(), want.len(), "ports lost or added");
    assert_eq!(
        got, want,
        "the three runs differ from the uninterrupted scan"
    );

    // -oX: one whole document per run, each valid against nmap's DTD; -oG: every run appended.
    for xml in ["scan.xml", "scan.resumed-1.xml", "scan.resumed-2.xml"] {
        let lint = std::process::Command::new("xmllint")
            .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
            .arg(scan_dir.path(xml))
            .output()
            .unwrap_or_else(|e| panic!("cannot run xmllint (cargo xtask setup installs it): {e}"));
        assert!(
            lint.status.success(),
            "{xml}: {}",
            String::from_utf8_lossy(&lint.stderr)
        );
    }
    let grep = scan_dir.text("scan.gnmap");
    assert_eq!(grep.matches("# tcprax done").count(), 3, "{grep}");
    assert!(!scan_dir.path("tcprax.resume").exists());
    assert!(!elsewhere.path("tcprax.resume").exists());
}

#[test]
fn resume_takes_no_other_option_and_needs_a_file() {
    // Refused while parsing: nothing is read, routed or sent, so no namespace is needed.
    for args in [
        &["--resume"][..],
        &["--resume="],
        &["--resume", "x.resume", "127.0.0.1"],
        &["-sS", "--resume", "x.resume"],
        &["--resume=x.resume", "-q"],
    ] {
        let out = std::process::Command::new(common::bin())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--resume"), "{args:?}: {stderr}");
    }
    let out = std::process::Command::new(common::bin())
        .args(["--resume", "/nonexistent/tcprax.resume"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read resume file '/nonexistent/tcprax.resume'"),
        "{stderr}"
    );
}

/// -sT walks targets in order, each with every port: the same file continues it, with the
/// connects a stop cut short probed again first. A resumed run killed by SIGKILL (no save)
/// costs nothing: the next one cuts the reports back to the save and probes its ports again.
#[test]
fn a_connect_scan_interrupted_twice_and_resumed_reports_exactly_the_uninterrupted_scan() {
    let Some(tb) = common::testbed("trxresumet") else {
        return;
    };
    tb.target_anyip("198.19.2.0/23").unwrap();
    let _l = tb.target_listen(&[22]).unwrap();
    tb.target_filter_ports(&[81]).unwrap();
    let dir = Scratch::new("connect");
    // 8 connects at a time, a third of them waiting out a ~100 ms timeout: about 6 s.
    let scan = [
        "-sT",
        "198.19.2.0/23",
        "-p",
        "22,80,81",
        "-t",
        "8",
        "--timeout",
        "300ms",
        "--retries",
        "0",
    ];
    let reference = run(
        &tb,
        &dir.0,
        &[&scan[..], &["-oJ", "reference.jsonl"]].concat(),
    );
    assert!(
        reference.status.success(),
        "{}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let want = verdicts(&json_lines(&dir.text("reference.jsonl")));
    assert_eq!(want.len(), 512 * 3);

    let json = dir.path("scan.jsonl");
    let args = [&scan[..], &["-oJ", "scan.jsonl"]].concat();
    let stderr = interrupted_run(&tb, &dir.0, &args, &json, Duration::from_millis(1500));
    let paused = dir.path("tcprax.resume");
    assert!(
        stderr.contains(&format!("tcprax --resume {}", paused.display())),
        "{stderr}"
    );
    let saved = resume_file(&paused);
    assert!(
        !saved["point"]["pending"].as_array().unwrap().is_empty(),
        "no connect was cut short: {saved}"
    );
    let resume_args = ["--resume", paused.to_str().unwrap()];
    // A resumed run killed outright saves nothing: its lines are in the report, the file
    // still counts their ports undecided. The next run cuts the report back first.
    let before = std::fs::read_to_string(&json).unwrap().len();
    let mut killed = tb
        .scanner_command(common::bin())
        .args(resume_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the killed run's first ports",
        Duration::from_secs(20),
        || std::fs::read_to_string(&json).is_ok_and(|t| t.len() > before + 2000),
    );
    killed.kill().unwrap();
    let _ = killed.wait();
    assert_eq!(
        resume_file(&paused),
        saved,
        "SIGKILL changed the resume file"
    );
    interrupted_run(
        &tb,
        &dir.0,
        &resume_args,
        &json,
        Duration::from_millis(1500),
    );
    let out = run(&tb, &dir.0, &resume_args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!paused.exists());
    let got = verdicts(&json_lines(&std::fs::read_to_string(&json).unwrap()));
    assert_eq!(
        got, want,
        "the three runs differ from the uninterrupted scan"
    );
}
