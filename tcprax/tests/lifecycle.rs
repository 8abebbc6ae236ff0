//! The real binary's -sS lifecycle in namespaces: the XDP program is attached while it scans
//! and gone after a normal exit, after Ctrl-C (partial results printed) and after SIGKILL
//! (the bpf_link dies with the process); an interface XDP cannot use gives a clear error.
mod common;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tcprax_lab::testbed::{Testbed, xdp_attached};

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn attached(tb: &Testbed) -> bool {
    xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap()
}

/// Where the slow scan of test `tag` saves its state when a signal stops it.
fn resume_file(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tcprax-lifecycle-{}-{tag}.resume",
        std::process::id()
    ))
}

/// A slow scan (1000 probes at 100 pps) that is still running when we interrupt it.
fn slow_scan(tb: &Testbed, tag: &str) -> Child {
    tb.scanner_command(common::bin())
        .args(["-sS", "198.18.0.2", "-p", "1-1000", "--rate", "100"])
        .arg("--resume-file")
        .arg(resume_file(tag))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn normal_exit_reports_and_detaches() {
    let Some(tb) = common::testbed("trxlc") else {
        return;
    };
    let _l = tb.target_listen(&[22, 80]).unwrap();
    let out = tb
        .scanner_command(common::bin())
        .args(["-sS", "198.18.0.2", "-p", "1-100", "-oJ", "-"])
        .output()
        .unwrap();
    let ports = common::json_ports(&out);
    let open = common::ports_in_state(&ports, "open");
    assert_eq!(open.len(), 2);
    assert!(open.contains(&22) && open.contains(&80));
    // The reply's TTL reaches the report: the target's kernel answers with Linux's default 64,
    // one veth away, with no router in between to decrement it.
    for v in ports.iter().filter(|v| v["state"] != "filtered") {
        assert_eq!(v["ttl"], 64, "{v}");
    }
    assert!(!attached(&tb), "XDP left attached after a normal exit");
}

#[test]
fn ctrl_c_prints_partial_results_and_detaches() {
    let Some(tb) = common::testbed("trxlcint") else {
        return;
    };
    let child = slow_scan(&tb, "int");
    wait_for("XDP attach", || attached(&tb));
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the pid of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Scan done"),
        "partial report printed: {stdout}"
    );
    assert!(
        stdout.contains("interrupted") || stdout.contains("partial"),
        "{stdout}"
    );
    assert!(!attached(&tb), "XDP left attached after Ctrl-C");
    // It saved where it stood, and said so (`tests/resume.rs` resumes such files).
    let saved = resume_file("int");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        saved.exists() && stderr.contains("tcprax --resume"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(saved);
}

#[test]
fn sigkill_detaches_through_the_bpf_link() {
    let Some(tb) = common::testbed("trxlckill") else {
        return;
    };
    let mut child = slow_scan(&tb, "kill");
    wait_for("XDP attach", || attached(&tb));
    child.kill().unwrap();
    let _ = child.wait();
    // SIGKILL cannot be caught: nothing is saved.
    assert!(!resume_file("kill").exists());
    wait_for("XDP detach after SIGKILL", || !attached(&tb));
}

#[test]
fn unusable_interface_is_a_clear_error_suggesting_connect_scan() {
    let Some(tb) = common::testbed("trxlcerr") else {
        return;
    };
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sS",
            "198.18.0.2",
            "-p",
            "80",
            "-S",
            "198.18.0.1",
            "-e",
            "nosuchif0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nosuchif0") && stderr.contains("-sT"),
        "stderr: {stderr}"
    );
    assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("open"));
}

#[test]
fn without_privileges_the_error_says_why_and_suggests_connect_scan() {
    let Some(tb) = common::testbed("trxlcpriv") else {
        return;
    };
    let out = tb
        .scanner_command("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([common::bin(), "-sS", "198.18.0.2", "-p", "80"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("root") && stderr.contains("-sT"),
        "stderr: {stderr}"
    );
    assert!(!attached(&tb));
}

/// Both families in one scan are fine when each is routed (field_routes.rs); with one source
/// address for every probe (-S) they cannot be, and that is refused up front.
#[test]
fn mixed_families_with_one_source_are_refused_before_anything_is_sent() {
    let Some(tb) = common::testbed("trxlcmix") else {
        return;
    };
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sS",
            "-S",
            "198.18.0.1",
            "198.18.0.2",
            "2001:2::2",
            "-p",
            "80",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2001:2::2") && stderr.contains("family"),
        "stderr: {stderr}"
    );
    assert!(!attached(&tb));
}
