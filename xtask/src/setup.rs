//! `cargo xtask setup`: make a fresh Debian machine of this kind able to build and test tcprax,
//! exactly as `shared/TOOLCHAIN.md` describes, and do nothing on one that already can.
//!
//! Every step first checks and only then installs: the nightly toolchain with `rust-src` (the
//! eBPF object is built with `-Z build-std=core`), Debian's `llvm-22-dev`, `bpf-linker` 0.13.0
//! built against it, the programs the namespace tests and the demo use, and the PyPI tools the
//! tests use, in `target/pyenv` ([`python`]). apt never starts
//! services: `RUNLEVEL=1`, and a `policy-rc.d` that exits 101 for the duration of the install.
use crate::exec;
use anyhow::{Context as _, bail};

mod python;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::Stdio;

const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
const LLVM_PACKAGE: &str = "llvm-22-dev";
const BPF_LINKER_VERSION: &str = "0.13.0";
const POLICY_RC: &str = "/usr/sbin/policy-rc.d";
const POLICY_RC_SCRIPT: &[u8] =
    b"#!/bin/sh\n# cargo xtask setup: start no services while installing.\nexit 101\n";

/// Debian packages the demo, `run` and `bench` need: namespaces, the demo's nftables rule,
/// and nmap, which `bench` compares with (`bench` installs [`BENCH_PACKAGES`] too). A
/// newcomer's `cargo xtask demo` installs only these (and LLVM), not the test suite's daemons
/// and browser.
const DEMO_PACKAGES: &[&str] = &[
    "iproute2", "nftables", "tcpdump", "ethtool", "nmap", "procps",
];

/// Debian packages the tests and the -sV benchmark use (a superset of [`DEMO_PACKAGES`];
/// nginx is chosen separately: `nginx-light` where the release still has it, else `nginx`).
const TEST_PACKAGES: &[&str] = &[
    "iproute2",
    "nftables",
    "tcpdump",
    "ethtool",
    "openssl",
    "openssh-server",
    "vsftpd",
    "nmap",
    "procps",
    // setcap: the file-capability test of -sS as an unprivileged user.
    "libcap2-bin",
    // Python's smtpd is the SMTP server of the -sV namespace test.
    "python3",
    // xmllint validates -oX output against nmap's DTD (from nmap-common) in the tests.
    "libxml2-utils",
    // -oX consumers in the tests: ndiff against nmap's own XML, nmap.xsl through xsltproc.
    "ndiff",
    "xsltproc",
    // `python3 -m venv` for the PyPI tools (`python` below).
    "python3-venv",
    // Client-first daemons that only nmap's probe file (nmap-common) names, in
    // tests/nmap_probes_ns.rs; policy-rc.d keeps their services from starting.
    "slapd",
    "dnsmasq-base",
    // The -sV fast-path test's real daemons (tcprax/tests/service_fast.rs).
    "exim4-daemon-light",
    "redis-server",
    "prometheus-node-exporter",
    "influxdb",
    "nats-server",
    // `tcprax report` is rendered in headless Chromium in its end-to-end test.
    "chromium",
    // The fast subset of the -sV zoo (tcprax/tests/service_zoo.rs), beyond the daemons above.
    "memcached",
    "mosquitto",
    "git",
    "dovecot-imapd",
    "dovecot-pop3d",
    "beanstalkd",
    "ngircd",
];

/// The whole -sV zoo of `cargo xtask bench-sv` (tcprax-lab/src/servers/zoo/), beyond
/// TEST_PACKAGES; a test in tcprax-lab checks that every package a zoo daemon needs is named
/// here or there.
pub const BENCH_SV_PACKAGES: &[&str] = &[
    "inetutils-telnetd",
    "inetutils-inetd",
    "krb5-kdc",
    "rpcbind",
    "rsync",
    "openvpn",
    "squid",
    "mariadb-server",
    "xrdp",
    "subversion",
    "postgresql",
    "prosody",
    "tigervnc-standalone-server",
    "stunnel4",
    "lighttpd",
    "haproxy",
    "tinyproxy",
];
const NGINX_PACKAGES: &[&str] = &["nginx-light", "nginx"];

/// What the caller is about to do, which decides the Rust components it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Build and run: nightly with rust-src, LLVM, bpf-linker, test packages.
    Build,
    /// Also lint and test: rustfmt and clippy on the default toolchain, clippy on nightly (for
    /// the eBPF crate, which only builds for bpfel-unknown-none), and the PyPI test tools.
    Lint,
}

/// Bring the machine up to date for `purpose`; quiet when nothing is missing.
pub fn ensure(purpose: Purpose) -> anyhow::Result<()> {
    ensure_nightly(purpose)?;
    if purpose == Purpose::Lint {
        ensure_default_lint_components()?;
    }
    ensure_debian_packages(purpose)?;
    if purpose == Purpose::Lint {
        // Only the tests use them (setup and test ask for Lint); a demo needs no PyPI.
        python::ensure()?;
    }
    ensure_bpf_linker()?;
    Ok(())
}

fn ensure_nightly(purpose: Purpose) -> anyhow::Result<()> {
    let toolchains = exec::probe("rustup", &["toolchain", "list"])
        .context("`rustup toolchain list` failed: is rustup installed and on PATH?")?;
    let mut wanted = vec!["rust-src"];
    if purpose == Purpose::Lint {
        wanted.push("clippy");
    }
    if !has_nightly(&toolchains) {
        eprintln!("xtask: setup: the nightly toolchain is missing");
        let mut cmd = exec::command("rustup");
        cmd.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        for component in &wanted {
            cmd.args(["--component", component]);
        }
        return exec::run(&mut cmd);
    }
    let installed = exec::probe(
        "rustup",
        &["component", "list", "--toolchain", "nightly", "--installed"],
    )
    .context("`rustup component list --toolchain nightly` failed")?;
    for component in wanted {
        if !has_component(&installed, component) {
            eprintln!("xtask: setup: nightly lacks {component}");
            exec::run(exec::command("rustup").args([
                "component",
                "add",
                component,
                "--toolchain",
                "nightly",
            ]))?;
        }
    }
    Ok(())
}

/// rustfmt and clippy for the toolchain that runs `cargo` here (rustup's default or override).
fn ensure_default_lint_components() -> anyhow::Result<()> {
    let installed = exec::probe("rustup", &["component", "list", "--installed"])
        .context("`rustup component list --installed` failed")?;
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !has_component(&installed, c))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "xtask: setup: the default toolchain lacks {}",
            missing.join(", ")
        );
        exec::run(
            exec::command("rustup")
                .arg("component")
                .arg("add")
                .args(&missing),
        )?;
    }
    Ok(())
}

fn has_nightly(toolchain_list: &str) -> bool {
    toolchain_list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .any(|name| name == "nightly" || name.starts_with("nightly-"))
}

/// `rustup component list --installed` prints `rust-src` or `clippy-x86_64-unknown-linux-gnu`.
fn has_component(installed: &str, component: &str) -> bool {
    installed.lines().map(str::trim).any(|line| {
        line == component
            || line
                .strip_prefix(component)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// The test suite's Debian packages (the -sV benchmark runs the same servers and more).
pub fn ensure_test_packages() -> anyhow::Result<()> {
    ensure_debian_packages(Purpose::Lint)
}

fn ensure_debian_packages(purpose: Purpose) -> anyhow::Result<()> {
    let mut missing: Vec<&str> = Vec::new();
    if !Path::new(LLVM_PREFIX).join("bin/llvm-config").exists() {
        missing.push(LLVM_PACKAGE);
    }
    let packages = match purpose {
        Purpose::Lint => TEST_PACKAGES,
        Purpose::Build => DEMO_PACKAGES,
    };
    missing.extend(packages.iter().copied().filter(|p| !dpkg_installed(p)));
    let need_nginx = purpose == Purpose::Lint && !NGINX_PACKAGES.iter().any(|p| dpkg_installed(p));
    if missing.is_empty() && !need_nginx {
        return Ok(());
    }
    if !running_as_root() {
        let mut all = missing.clone();
        if need_nginx {
            all.push("nginx-light");
        }
        bail!(
            "these Debian packages are missing and installing them needs root: {}",
            all.join(" ")
        );
    }
    eprintln!(
        "xtask: setup: installing Debian packages: {}{}",
        missing.join(" "),
        if need_nginx { " + nginx" } else { "" }
    );
    exec::run(apt_get().arg("update"))?;
    if need_nginx {
        // nginx-light (bookworm) is the small build; later releases only have `nginx`.
        let light = exec::probe(
            "apt-cache",
            &["show", "--no-all-versions", NGINX_PACKAGES[0]],
        )
        .is_some_and(|out| !out.trim().is_empty());
        missing.push(if light {
            NGINX_PACKAGES[0]
        } else {
            NGINX_PACKAGES[1]
        });
    }
    apt_install(&missing)?;
    if !Path::new(LLVM_PREFIX).join("bin/llvm-config").exists() {
        bail!("{LLVM_PACKAGE} is installed but {LLVM_PREFIX}/bin/llvm-config is not there");
    }
    Ok(())
}

/// Install `packages` with no recommends, removing nothing, and starting no services.
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let _no_services = PolicyRcGuard::install(Path::new(POLICY_RC))?;
    exec::run(
        apt_get()
            .args(["install", "-y", "--no-install-recommends", "--no-remove"])
            .args(packages),
    )
}

/// The zoo of `cargo xtask bench-sv`: install what is missing of [`BENCH_SV_PACKAGES`].
pub fn ensure_bench_sv_packages() -> anyhow::Result<()> {
    ensure_extra_packages(BENCH_SV_PACKAGES, "the -sV zoo")
}

/// The SYN scanners `cargo xtask bench` compares tcprax with, beyond nmap (in
/// [`DEMO_PACKAGES`]).
pub const BENCH_PACKAGES: &[&str] = &["masscan", "zmap"];

/// The peers of `cargo xtask bench`: install what is missing of [`BENCH_PACKAGES`].
pub fn ensure_bench_packages() -> anyhow::Result<()> {
    ensure_extra_packages(BENCH_PACKAGES, "the -sS benchmark's peers")
}

/// Install what is missing of `packages`, which `who` needs (named in the messages).
fn ensure_extra_packages(packages: &[&str], who: &str) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !running_as_root() {
        bail!(
            "{who} needs these Debian packages and installing them needs root: {}",
            missing.join(" ")
        );
    }
    eprintln!(
        "xtask: setup: installing {who}'s packages: {}",
        missing.join(" ")
    );
    exec::run(apt_get().arg("update"))?;
    apt_install(&missing)
}

/// apt-get that asks nothing, keeps existing config files and starts no services.
fn apt_get() -> std::process::Command {
    let mut cmd = exec::command("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        .env("RUNLEVEL", "1")
        .args([
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ])
        .stdin(Stdio::null());
    cmd
}

fn dpkg_installed(package: &str) -> bool {
    exec::probe("dpkg-query", &["-W", "-f=${Status}", package])
        .is_some_and(|status| dpkg_status_installed(&status))
}

/// `${Status}` is "want flag state", e.g. `install ok installed` or `hold ok installed`;
/// `deinstall ok config-files` is a removed package.
fn dpkg_status_installed(status: &str) -> bool {
    let words: Vec<&str> = status.split_whitespace().collect();
    matches!(words.as_slice(), [_, "ok", "installed"])
}

/// Effective uid 0, read from /proc (no libc needed).
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| effective_uid(&s) == Some(0))
}

fn effective_uid(proc_status: &str) -> Option<u32> {
    let line = proc_status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Creates `/usr/sbin/policy-rc.d` (exit 101: start no services) if absent, and removes it
/// again on drop, error paths and Ctrl-C included. An existing file is left as it is.
struct PolicyRcGuard {
    path: &'static Path,
    created: bool,
}

impl PolicyRcGuard {
    fn install(path: &'static Path) -> anyhow::Result<PolicyRcGuard> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o755)
            .open(path);
        let mut file = match file {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok(PolicyRcGuard {
                    path,
                    created: false,
                });
            }
            Err(err) => {
                return Err(err).with_context(|| format!("creating {}", path.display()));
            }
        };
        let guard = PolicyRcGuard {
            path,
            created: true,
        };
        eprintln!(
            "xtask: setup: wrote {} (exit 101) so apt starts no services",
            path.display()
        );
        file.write_all(POLICY_RC_SCRIPT)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(guard)
    }
}

impl Drop for PolicyRcGuard {
    fn drop(&mut self) {
        if self.created {
            match fs::remove_file(self.path) {
                Ok(()) => eprintln!("xtask: setup: removed {}", self.path.display()),
                Err(err) => eprintln!(
                    "xtask: warning: cannot remove {}: {err}",
                    self.path.display()
                ),
            }
        }
    }
}

fn ensure_bpf_linker() -> anyhow::Result<()> {
    if bpf_linker_ok() {
        return Ok(());
    }
    eprintln!("xtask: setup: bpf-linker {BPF_LINKER_VERSION} is missing (about 75 s to build)");
    // A plain `cargo install bpf-linker` finds Debian's LLVM 14 llvm-config and fails; nightly's
    // LLVM is 22, so point it at llvm-22 and pick the matching feature.
    exec::run(
        exec::command("cargo")
            .env("LLVM_PREFIX", LLVM_PREFIX)
            .args(["install", &format!("bpf-linker@{BPF_LINKER_VERSION}")])
            .args(["--locked", "--no-default-features", "--features", "llvm-22"]),
    )?;
    if !bpf_linker_ok() {
        bail!(
            "bpf-linker was installed but `bpf-linker --version` run with {} first on PATH \
             does not say {BPF_LINKER_VERSION}",
            exec::cargo_bin_dir()
                .map_or_else(|| "~/.cargo/bin".into(), |d| d.display().to_string())
        );
    }
    Ok(())
}

fn bpf_linker_ok() -> bool {
    exec::probe("bpf-linker", &["--version"]).is_some_and(|v| bpf_linker_version_is(&v))
}

/// `bpf-linker --version` prints `bpf-linker 0.13.0`.
fn bpf_linker_version_is(output: &str) -> bool {
    let mut words = output.split_whitespace();
    words.next() == Some("bpf-linker") && words.next() == Some(BPF_LINKER_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask test` must have everything the demo has: the demo's list is a subset.
    #[test]
    fn the_demo_packages_are_among_the_test_packages() {
        for p in DEMO_PACKAGES {
            assert!(TEST_PACKAGES.contains(p), "{p} is in DEMO_PACKAGES only");
        }
    }

    #[test]
    fn nightly_is_found_by_name_with_or_without_host() {
        let list = "stable-x86_64-unknown-linux-gnu (active, default)\n\
                    nightly-x86_64-unknown-linux-gnu\n1.95.0-x86_64-unknown-linux-gnu\n";
        assert!(has_nightly(list));
        assert!(has_nightly("nightly\n"));
        assert!(!has_nightly("stable-x86_64-unknown-linux-gnu (default)\n"));
        assert!(!has_nightly("nightlyish\n"));
    }

    #[test]
    fn components_match_with_and_without_a_target_suffix() {
        let list = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\nrust-src\n\
                    rust-std-x86_64-unknown-linux-gnu\n";
        assert!(has_component(list, "rust-src"));
        assert!(has_component(list, "clippy"));
        assert!(!has_component(list, "rustfmt"));
        // `rust-std-...` must not count as `rust`.
        assert!(!has_component(
            "rust-std-x86_64-unknown-linux-gnu\n",
            "rust-src"
        ));
    }

    #[test]
    fn dpkg_status_counts_only_installed_packages() {
        assert!(dpkg_status_installed("install ok installed"));
        assert!(dpkg_status_installed("hold ok installed"));
        assert!(!dpkg_status_installed("deinstall ok config-files"));
        assert!(!dpkg_status_installed("unknown ok not-installed"));
        assert!(!dpkg_status_installed(""));
    }

    #[test]
    fn bpf_linker_version_must_match_exactly() {
        assert!(bpf_linker_version_is("bpf-linker 0.13.0\n"));
        assert!(!bpf_linker_version_is("bpf-linker 0.13.1\n"));
        assert!(!bpf_linker_version_is("bpf-linker 0.9.13\n"));
        assert!(!bpf_linker_version_is(""));
    }

    #[test]
    fn policy_rc_guard_removes_only_what_it_created() {
        let dir = std::env::temp_dir().join(format!("xtask-policy-rc-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path: &'static Path = Box::leak(dir.join("policy-rc.d").into_boxed_path());
        {
            let _guard = PolicyRcGuard::install(path).unwrap();
            let script = fs::read(path).unwrap();
            assert_eq!(script, POLICY_RC_SCRIPT);
            let status = std::process::Command::new(path).status().unwrap();
            assert_eq!(status.code(), Some(101));
        }
        assert!(!path.exists(), "the guard must remove the file it created");
        fs::write(path, b"#!/bin/sh\nexit 0\n").unwrap();
        drop(PolicyRcGuard::install(path).unwrap());
        assert_eq!(
            fs::read(path).unwrap(),
            b"#!/bin/sh\nexit 0\n",
            "left as it was"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn effective_uid_is_the_second_uid_field() {
        let status = "Name:\txtask\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }
}
