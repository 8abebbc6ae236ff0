//! Least privilege, on the real binary in namespaces the tests create: while -sV talks to a
//! server (parsing bytes from the network), no thread of tcprax holds any capability; -sS
//! works as an unprivileged user given only the file capabilities the README names, and
//! without them says which are missing; started through sudo, it becomes the invoking user.
mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tcprax_lab::servers::{TempDir, require};
use tcprax_lab::testbed::{Testbed, xdp_attached};

/// The silent server's port: it completes handshakes (the kernel does) and never sends a byte,
/// so -sV waits out its probes there.
const SILENT: u16 = 2222;

/// The fields of `/proc/PID/task/TID/status` these tests read, per thread still alive.
fn thread_status(pid: u32) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut threads = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        // A thread may end between the listing and the read: it is then not reported.
        let Ok(text) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let fields = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        threads.insert(task.file_name().to_string_lossy().into_owned(), fields);
    }
    threads
}

/// A listener on `SILENT` in the target namespace that never accepts: the kernel completes each
/// handshake and the client then waits for bytes that never come.
fn silent_server(tb: &Testbed) -> TcpListener {
    tb.in_target(|| TcpListener::bind(SocketAddr::from(([198, 18, 0, 2], SILENT))))
        .unwrap()
        .expect("bind the silent server")
}

/// How tcprax is started as root.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Root {
    Plain,
    /// With `SUDO_UID` and `SUDO_GID` as sudo sets them when user `nobody` runs it.
    SudoFromNobody,
}

/// `scan` (-sS or -sT) with -sV at the silent port, its JSON report on stdout; -sV waits there
/// a few × 1.5 s.
fn scan_sv(cmd: &mut Command, scan: &str, root: Root) -> Child {
    cmd.args([scan, "-sV", "198.18.0.2", "-p", &SILENT.to_string()])
        .args(["--probe-timeout", "1500ms", "-oJ", "-"]);
    match root {
        Root::Plain => cmd.env_remove("SUDO_UID").env_remove("SUDO_GID"),
        Root::SudoFromNobody => cmd.env("SUDO_UID", "65534").env("SUDO_GID", "65534"),
    };
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until tcprax has a connection established to the silent server: -sV is running, and
/// with it the threads that parse what comes from the network.
fn wait_for_service_detection(tb: &Testbed, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = tb
            .target_sh(&format!(
                "ss -Htn state established '( sport = :{SILENT} )'"
            ))
            .unwrap();
        if !out.stdout.is_empty() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("tcprax ended ({status}) before -sV connected");
        }
        assert!(
            Instant::now() < deadline,
            "-sV never connected to the silent server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON report's `summary` line.
fn summary(out: &Output) -> serde_json::Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The silent port came out open.
fn assert_open(out: &Output) {
    let ports = common::json_ports(out);
    assert_eq!(common::ports_in_state(&ports, "open"), [u64::from(SILENT)]);
}

/// -sS: the silent port came out open, and the XDP counters were still readable after the drop
/// (a map lookup on an open fd needs no capability): the summary carries them.
fn assert_open_and_counted(out: &Output) {
    assert_open(out);
    let xdp = &summary(out)["xdp"];
    assert!(
        xdp["matched"].as_u64() >= Some(1),
        "XDP counters read after the drop: {xdp}"
    );
}

#[test]
fn no_thread_holds_a_capability_during_service_detection_after_syn_or_connect_scan() {
    let Some(tb) = common::testbed("trxcap") else {
        return;
    };
    let _server = silent_server(&tb);
    for scan in ["-sS", "-sT"] {
        let mut child = scan_sv(&mut tb.scanner_command(common::bin()), scan, Root::Plain);
        wait_for_service_detection(&tb, &mut child);
        assert_unprivileged(child.id());
        let out = child.wait_with_output().unwrap();
        if scan == "-sS" {
            assert_open_and_counted(&out);
        } else {
            assert_open(&out);
        }
        assert!(
            !xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap(),
            "XDP detached on exit without any capability"
        );
    }
}

/// Every thread of `pid` holds no capability in any set, cannot gain one, and (plain root, no
/// SUDO_UID) is still uid 0.
fn assert_unprivileged(pid: u32) {
    let threads = thread_status(pid);
    assert!(
        threads.len() > 1,
        "the runtime's threads are running: {threads:?}"
    );
    assert_eq!(
        threads[&pid.to_string()]["Name"],
        "tcprax",
        "`ip netns exec` ran tcprax in its own process"
    );
    for (tid, fields) in &threads {
        for set in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
            assert_eq!(
                fields[set], "0000000000000000",
                "{set} of thread {tid}: {fields:?}"
            );
        }
        assert_eq!(fields["NoNewPrivs"], "1", "thread {tid}");
        // Plain root (no SUDO_UID): it stays uid 0, only without capabilities.
        assert!(fields["Uid"].starts_with("0\t"), "thread {tid}: {fields:?}");
    }
}

#[test]
fn through_sudo_it_becomes_the_invoking_user_after_set_up() {
    let Some(tb) = common::testbed("trxsudo") else {
        return;
    };
    let _server = silent_server(&tb);
    // The report goes to a file only root may create: opened before the switch, written after.
    let dir = TempDir::new("sudo");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let report = dir.join("report.gnmap");
    let mut cmd = tb.scanner_command(common::bin());
    cmd.args(["-oG", report.to_str().unwrap()]);
    let mut child = scan_sv(&mut cmd, "-sS", Root::SudoFromNobody);
    wait_for_service_detection(&tb, &mut child);
    let threads = thread_status(child.id());
    assert!(!threads.is_empty());
    for (tid, fields) in &threads {
        assert_eq!(fields["Uid"], "65534\t65534\t65534\t65534", "thread {tid}");
        assert_eq!(fields["Gid"], "65534\t65534\t65534\t65534", "thread {tid}");
        assert_eq!(fields["Groups"], "", "thread {tid}");
        assert_eq!(fields["CapEff"], "0000000000000000", "thread {tid}");
        assert_eq!(fields["CapPrm"], "0000000000000000", "thread {tid}");
    }
    let out = child.wait_with_output().unwrap();
    assert_open_and_counted(&out);
    let grepable = std::fs::read_to_string(&report).unwrap();
    assert!(
        grepable.contains(&format!("{SILENT}/open/tcp")),
        "the root-only report file was written: {grepable}"
    );
    assert_eq!(
        std::fs::metadata(&report)
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap(),
        0,
        "created by root, before the switch"
    );
    assert!(!xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap());
}

/// A copy of the binary that user 65534 may run, in a directory it may enter, with `caps`
/// as its file capabilities (none: no `setcap`). /tmp here is ext4, which keeps the
/// `security.capability` attribute `setcap` writes.
fn binary_with_caps(dir: &TempDir, caps: Option<&str>) -> PathBuf {
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("tcprax");
    std::fs::copy(common::bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(caps) = caps {
        let setcap = require("setcap", "libcap2-bin");
        let out = Command::new(setcap).arg(caps).arg(&bin).output().unwrap();
        assert!(
            out.status.success(),
            "setcap {caps}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin
}

/// Run `bin` as uid/gid 65534 without supplementary groups, in the scanner namespace.
fn as_nobody(tb: &Testbed, bin: &Path, args: &[&str]) -> Output {
    tb.scanner_command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin)
        .args(args)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .output()
        .unwrap()
}

const SETCAP: &str = "cap_net_raw,cap_net_admin,cap_bpf,cap_perfmon+ep";

#[test]
fn file_capabilities_are_enough_for_an_unprivileged_user() {
    let Some(tb) = common::testbed("trxfcap") else {
        return;
    };
    let _l = tb.target_listen(&[22, 80]).unwrap();
    tb.target_filter_ports(&[25]).unwrap();
    let dir = TempDir::new("fcap");
    let bin = binary_with_caps(&dir, Some(SETCAP));
    let out = as_nobody(
        &tb,
        &bin,
        &["-sS", "198.18.0.2", "-p", "22,25,80,81", "-oJ", "-"],
    );
    let ports = common::json_ports(&out);
    // Sorted: -sS probes in a random order, and reports in the order answers come.
    let state = |name| {
        let mut ports = common::ports_in_state(&ports, name);
        ports.sort_unstable();
        ports
    };
    assert_eq!(state("open"), [22, 80]);
    assert_eq!(state("closed"), [81]);
    assert_eq!(state("filtered"), [25]);
    assert!(summary(&out)["xdp"]["matched"].as_u64() >= Some(3));
    assert!(!xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap());
}

#[test]
fn without_file_capabilities_the_error_names_the_missing_ones() {
    let Some(tb) = common::testbed("trxnocap") else {
        return;
    };
    let dir = TempDir::new("nocap");
    let cases = [
        (None, "CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON"),
        (Some("cap_net_admin,cap_bpf,cap_perfmon+ep"), "CAP_NET_RAW"),
        (Some("cap_net_raw,cap_bpf,cap_perfmon+ep"), "CAP_NET_ADMIN"),
        (Some("cap_net_raw,cap_net_admin,cap_perfmon+ep"), "CAP_BPF"),
        (Some("cap_net_raw,cap_net_admin,cap_bpf+ep"), "CAP_PERFMON"),
    ];
    for (caps, missing) in cases {
        let bin = binary_with_caps(&dir, caps);
        let out = as_nobody(&tb, &bin, &["-sS", "198.18.0.2", "-p", "80"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{caps:?}: {stderr}");
        assert!(
            stderr.contains(&format!("this process lacks {missing}.")),
            "{caps:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("setcap {SETCAP} {}", bin.display())),
            "{caps:?}: the fix is spelled out: {stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing was scanned");
        assert!(!xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap());
    }
    // -sT needs none, and runs.
    let bin = binary_with_caps(&dir, None);
    let out = as_nobody(&tb, &bin, &["-sT", "198.18.0.2", "-p", "80", "-oJ", "-"]);
    assert_eq!(common::json_ports(&out).len(), 1);
}
