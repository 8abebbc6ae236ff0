//! Shared helpers for the namespace tests: a testbed or a clear skip.
#![allow(dead_code, reason = "each test binary uses a different subset")]
use tcprax_lab::servers::{Place, TempDir, TestCert};
use tcprax_lab::testbed::{TARGET_V4, Testbed, have_privileges};

/// A fresh testbed, or None (with a message on stderr) when this process is not root.
/// On a machine where we are root, failing to build one is a test failure, not a skip.
pub fn testbed(prefix: &str) -> Option<Testbed> {
    if !have_privileges() {
        eprintln!("SKIP: needs root for network namespaces and XDP");
        return None;
    }
    Some(Testbed::new(prefix).expect("create namespace testbed"))
}

/// Path of the tcprax binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tcprax")
}

/// Every JSON object a run with `-oJ -` printed on stdout (plan, ports, summary).
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

/// The `"type":"summary"` object of a run with `-oJ -`.
pub fn json_summary(out: &std::process::Output) -> serde_json::Value {
    json_lines(out)
        .into_iter()
        .find(|v| v["type"] == "summary")
        .expect("a summary line")
}

/// The `"type":"port"` objects of a run with `-oJ -`, after checking that it succeeded.
pub fn json_ports(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "tcprax failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(out)
        .into_iter()
        .filter(|v| v["type"] == "port")
        .collect()
}

/// The state of every (IPv4 address, port) of `ports` (JSON objects), checking that none has
/// two verdicts.
pub fn ipv4_verdicts(
    ports: &[serde_json::Value],
) -> std::collections::BTreeMap<(std::net::Ipv4Addr, u16), String> {
    let mut verdicts = std::collections::BTreeMap::new();
    for p in ports {
        let addr: std::net::Ipv4Addr = p["addr"].as_str().unwrap().parse().unwrap();
        let port = u16::try_from(p["port"].as_u64().unwrap()).unwrap();
        let state = p["state"].as_str().unwrap().to_string();
        assert!(
            verdicts.insert((addr, port), state).is_none(),
            "two verdicts for {addr}:{port}"
        );
    }
    verdicts
}

/// The ports of `ports` (JSON objects) in `state`.
pub fn ports_in_state(ports: &[serde_json::Value], state: &str) -> Vec<u64> {
    ports
        .iter()
        .filter(|v| v["state"] == state)
        .filter_map(|v| v["port"].as_u64())
        .collect()
}

/// A program of the PyPI tools' virtual environment (`target/pyenv/bin/NAME`, which
/// `cargo xtask setup` and `cargo xtask test` create: python-libnmap, kubernetes-validate).
/// Missing means the set-up did not run: a failure that says so, not a skip.
pub fn pyenv_bin(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/pyenv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo xtask setup` creates target/pyenv with the PyPI test tools",
        path.display()
    );
    path
}

/// What the -sV end-to-end tests start their servers in: a testbed, a tokio runtime for the
/// fake servers, the target namespace as a place to run them, a scratch directory and a TLS
/// certificate for the target. Fields drop in this order: the certificate and directory
/// before the runtime, the namespaces last.
pub struct SvTarget {
    pub cert: TestCert,
    pub place: Place,
    pub dir: TempDir,
    pub rt: tokio::runtime::Runtime,
    pub tb: Testbed,
}

/// An [`SvTarget`] (`workers` runtime threads, scratch directory `dir_name`, a certificate for
/// `names`, the first one its subject, and the target's address), or None (a skip) without
/// root, as [`testbed`].
pub fn sv_target(prefix: &str, workers: usize, dir_name: &str, names: &[&str]) -> Option<SvTarget> {
    let tb = testbed(prefix)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let place = Place::netns(&tb.target_ns, std::net::IpAddr::V4(TARGET_V4));
    let dir = TempDir::new(dir_name);
    let cert = TestCert::generate_for(&dir, names[0], names, &[std::net::IpAddr::V4(TARGET_V4)]);
    Some(SvTarget {
        cert,
        place,
        dir,
        rt,
        tb,
    })
}
