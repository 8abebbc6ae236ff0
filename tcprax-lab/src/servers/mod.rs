//! Servers for the -sV tests and the -sV benchmark, all owned by whoever starts them: real
//! Debian daemons (sshd, nginx, vsftpd, openssl s_server, Python's smtpd) run from config files
//! in a private temp dir and stopped by their guard's Drop (by pid, through
//! [`crate::process::Child`]); fake servers are tokio tasks aborted by theirs.
//!
//! The plain `start_*` functions listen on 127.0.0.1 and a free port. The `start_*_at` ones take
//! a [`Place`] (a network namespace and an address) and a fixed port: daemons are started with
//! `ip netns exec`, which execs them in place, so the guard's pid is the daemon's own; fakes bind
//! from a thread that has entered the namespace. Used by tcprax's `tests/service.rs` (loopback),
//! `tests/service_ns.rs` and the `tcprax-bench-sv` program (namespaces).
//!
//! These are test fixtures: they panic with a message (naming the Debian package when a daemon
//! is missing) instead of returning errors, because a server that cannot start must fail the
//! test that needed it, never skip it.
mod cert;
mod daemons;
mod dozen;
mod fakes;
pub mod fastpath;
pub mod zoo;

pub use cert::TestCert;
pub use daemons::{
    Daemon, DaemonError, nginx_version, openssh_version, python_smtpd_available, start_nginx,
    start_nginx_at, start_openssl_server, start_openssl_server_at, start_python_smtpd_at,
    start_sshd, start_sshd_at, start_tls10, start_tls10_at, start_vsftpd, start_vsftpd_at,
    vsftpd_version,
};
pub use dozen::{Dozen, start_dozen};
pub use fakes::{Behaviour, Fake, start_fake, start_fake_at};

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "tcprax-sv-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Panic, naming the Debian package, if a daemon binary is missing: a missing server must fail
/// the test, never skip it.
pub fn require(binary: &str, package: &str) -> PathBuf {
    let found = if binary.contains('/') {
        Some(PathBuf::from(binary)).filter(|p| p.exists())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .map(|dir| dir.join(binary))
                .find(|p| p.exists())
        })
    };
    found.unwrap_or_else(|| panic!("{binary} not found: install the Debian package `{package}` (apt-get install -y {package})"))
}

/// A port that was free a moment ago (bind to :0, read it, release it).
pub fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Where a server listens: a network namespace (None: this process's own) and an address.
#[derive(Clone, Debug)]
pub struct Place {
    pub netns: Option<String>,
    pub addr: IpAddr,
}

impl Place {
    /// 127.0.0.1 in this process's namespace: what the plain `start_*` functions use.
    pub fn loopback() -> Place {
        Place {
            netns: None,
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// `addr` inside the named namespace (as `ip netns` names it).
    pub fn netns(name: &str, addr: IpAddr) -> Place {
        Place {
            netns: Some(name.to_owned()),
            addr,
        }
    }

    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.addr, port)
    }

    /// A command that runs `program` here. `ip netns exec` execs the program without forking,
    /// so the child's pid is the program's.
    pub(crate) fn command(&self, program: &Path) -> Command {
        match &self.netns {
            None => Command::new(program),
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(program);
                cmd
            }
        }
    }

    /// Run `f` in this place's namespace: on a thread that has entered it, or right here.
    /// Sockets created by `f` stay in that namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let Some(ns) = &self.netns else {
            return f();
        };
        crate::testbed::in_netns(ns, f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether `port` here accepts a TCP connection.
    pub(crate) fn accepts(&self, port: u16) -> bool {
        let addr = self.socket_addr(port);
        self.run(move || StdStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok())
    }
}

fn run_ok(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
