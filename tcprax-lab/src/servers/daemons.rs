//! Real daemons (sshd, nginx, vsftpd, openssl s_server, Python's smtpd): config files in a
//! [`TempDir`], started here or in a namespace, each behind a [`Daemon`] guard; and the versions
//! of the installed ones, which the tests expect tcprax to report.
use super::{Place, TempDir, TestCert, free_port, require, run_ok};
use crate::process::{Child, ProcessError};
use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a daemon did not come up.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{daemon}: {source}")]
    Spawn {
        daemon: &'static str,
        source: ProcessError,
    },
    #[error("{daemon} exited ({status}) before listening:\n{log}")]
    Exited {
        daemon: &'static str,
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("{daemon} did not listen on {addr} within {secs} s:\n{log}")]
    NotListening {
        daemon: &'static str,
        addr: std::net::SocketAddr,
        secs: u64,
        log: String,
    },
    #[error("{daemon}: {step}: {detail}")]
    Setup {
        daemon: &'static str,
        step: String,
        detail: String,
    },
}

/// A daemon we started; dropping it stops it by pid (SIGTERM, then SIGKILL after 3 s) and reaps
/// it, through its [`Child`] guard.
pub struct Daemon {
    name: &'static str,
    /// Its stdin is a pipe the guard keeps open: some daemons (openssl s_server) exit on EOF.
    child: Child,
    log: PathBuf,
    place: Place,
    pub port: u16,
}

impl Daemon {
    pub(super) fn spawn(
        name: &'static str,
        cmd: &mut Command,
        log: PathBuf,
        place: &Place,
        port: u16,
    ) -> Daemon {
        Daemon::try_spawn(name, cmd, log, place, port, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Start `cmd` with its output in `log` and wait up to `ready_within` until `port` accepts;
    /// on failure the error carries the daemon's log (and the daemon is stopped).
    pub(crate) fn try_spawn(
        name: &'static str,
        cmd: &mut Command,
        log: PathBuf,
        place: &Place,
        port: u16,
        ready_within: Duration,
    ) -> Result<Daemon, DaemonError> {
        let setup = |step: &str, e: std::io::Error| DaemonError::Setup {
            daemon: name,
            step: step.to_owned(),
            detail: e.to_string(),
        };
        let out = std::fs::File::create(&log).map_err(|e| setup("create its log", e))?;
        let err = out.try_clone().map_err(|e| setup("clone its log", e))?;
        // Its own process group: what it forks (per-connection children, workers) is stopped
        // with it, and a Ctrl-C on the terminal reaches only us, who stop it in order.
        let child = Child::spawn(
            cmd.stdin(Stdio::piped())
                .stdout(out)
                .stderr(err)
                .process_group(0),
        )
        .map_err(|source| DaemonError::Spawn {
            daemon: name,
            source,
        })?;
        let mut daemon = Daemon {
            name,
            child,
            log,
            place: place.clone(),
            port,
        };
        daemon.wait_listening(ready_within)?;
        Ok(daemon)
    }

    /// The daemon's pid (the process itself: `ip netns exec` and `setpriv` exec in place).
    pub fn pid(&self) -> libc::pid_t {
        self.child.pid()
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    /// Poll until the port accepts; an error with the daemon's log if it died or never listened.
    fn wait_listening(&mut self, within: Duration) -> Result<(), DaemonError> {
        let addr = self.place.socket_addr(self.port);
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(finished)) = self.child.try_wait() {
                return Err(DaemonError::Exited {
                    daemon: self.name,
                    status: finished.status,
                    log: self.log_text(),
                });
            }
            if self.place.accepts(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(DaemonError::NotListening {
            daemon: self.name,
            addr,
            secs: within.as_secs(),
            log: self.log_text(),
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = self.child.pid();
        // SIGTERM to the whole group while its leader is not reaped yet (so the group id, its
        // pid, cannot belong to anyone else), then stop and reap the leader as usual; SIGKILL to
        // what is left of the group (a group with members keeps its id from being reused).
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let _ = self.child.stop(crate::process::Stop::TERMINATE);
        // SAFETY: as above.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
}

fn stdout_and_stderr(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The installed OpenSSH version as its banner shows it, e.g. "9.2p1" (from `ssh -V`).
pub fn openssh_version() -> String {
    let text = stdout_and_stderr(Command::new(require("ssh", "openssh-client")).arg("-V"));
    let rest = text
        .split("OpenSSH_")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected ssh -V: {text}"));
    rest.split([' ', ',']).next().unwrap_or_default().to_owned()
}

/// e.g. "1.22.1" (from `nginx -v`).
pub fn nginx_version() -> String {
    let text = stdout_and_stderr(Command::new(require("nginx", "nginx-light")).arg("-v"));
    let rest = text
        .split("nginx/")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected nginx -v: {text}"));
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// e.g. "3.0.3". vsftpd writes its version to file descriptor 0, hence the shell redirect.
pub fn vsftpd_version() -> String {
    let vsftpd = require("vsftpd", "vsftpd");
    let text = stdout_and_stderr(
        Command::new("sh")
            .arg("-c")
            .arg(format!("'{}' -v 0>&1", vsftpd.display())),
    );
    let rest = text
        .split("version ")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected vsftpd -v: {text}"));
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// sshd with a fresh ed25519 host key, listening on 127.0.0.1 only.
pub fn start_sshd(dir: &TempDir) -> Daemon {
    start_sshd_at(dir, &Place::loopback(), free_port())
}

/// sshd listening on `place`'s address and `port` only.
pub fn start_sshd_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let sshd = require("/usr/sbin/sshd", "openssh-server");
    let keygen = require("ssh-keygen", "openssh-client");
    let key = dir.join("ssh_host_ed25519_key");
    run_ok(
        Command::new(keygen)
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(&key),
        "ssh-keygen",
    );
    // sshd's privilege-separation directory; the distribution's unit creates it at boot.
    std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    let conf = dir.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "ListenAddress {}\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile none\n",
            place.addr,
            key.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .expect("write sshd_config");
    Daemon::spawn(
        "sshd",
        place
            .command(&sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(port.to_string()),
        dir.join("sshd.log"),
        place,
        port,
    )
}

/// nginx serving a page with a <title> on an HTTP and an HTTPS (h2-capable) port. One process
/// (`master_process off`), so stopping it by pid leaves no worker behind.
pub fn start_nginx(dir: &TempDir, cert: &TestCert) -> (Daemon, u16) {
    let (http, https) = (free_port(), free_port());
    start_nginx_at(dir, cert, &Place::loopback(), http, https)
}

/// nginx on `place`: plain HTTP on `http`, HTTPS (h2-capable) on `https`. Returns `https`.
pub fn start_nginx_at(
    dir: &TempDir,
    cert: &TestCert,
    place: &Place,
    http: u16,
    https: u16,
) -> (Daemon, u16) {
    let nginx = require("nginx", "nginx-light");
    let (http_at, https_at) = (place.socket_addr(http), place.socket_addr(https));
    let d = dir.path().display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               default_type text/html;\n\
               server {{\n    listen {http_at};\n    listen {https_at} ssl http2;\n\
                 ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_certificate {};\n    ssl_certificate_key {};\n\
                 location / {{ return 200 \"<html><head><title>tcprax test page</title></head></html>\\n\"; }}\n  }}\n}}\n",
            cert.cert.display(),
            cert.key.display()
        ),
    )
    .expect("write nginx.conf");
    let mut cmd = place.command(&nginx);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf);
    cmd.args(["-g", "daemon off;"]);
    let daemon = Daemon::spawn("nginx", &mut cmd, dir.join("nginx.log"), place, http);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !place.accepts(https) {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {https_at}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, https)
}

/// vsftpd in standalone mode on 127.0.0.1. It refuses to start with every login disabled, so
/// anonymous read-only login is on, rooted in an empty directory.
pub fn start_vsftpd(dir: &TempDir) -> Daemon {
    start_vsftpd_at(dir, &Place::loopback(), free_port())
}

/// vsftpd on `place` (an IPv4 address: vsftpd takes IPv6 ones in another option).
pub fn start_vsftpd_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let vsftpd = require("vsftpd", "vsftpd");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("create chroot dir");
    let conf = dir.join("vsftpd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen=YES\nlisten_ipv6=NO\nlisten_address={2}\nlisten_port={port}\nbackground=NO\n\
             anonymous_enable=YES\nanon_root={0}\nno_anon_password=YES\nftp_username=nobody\nlocal_enable=NO\nwrite_enable=NO\nseccomp_sandbox=NO\nisolate=NO\n\
             isolate_network=NO\nsecure_chroot_dir={0}\nxferlog_enable=NO\nvsftpd_log_file={1}\n",
            empty.display(),
            dir.join("vsftpd-xfer.log").display(),
            place.addr,
        ),
    )
    .expect("write vsftpd.conf");
    Daemon::spawn(
        "vsftpd",
        place.command(&vsftpd).arg(&conf),
        dir.join("vsftpd.log"),
        place,
        port,
    )
}

/// openssl s_server restricted by `args` (protocol and cipher flags), e.g. TLS 1.0 only, which
/// needs `DEFAULT:@SECLEVEL=0` because Debian's OpenSSL 3 refuses TLS 1.0 at its default level.
pub fn start_openssl_server(dir: &TempDir, cert: &TestCert, args: &[&str]) -> Daemon {
    start_openssl_server_at(dir, cert, args, &Place::loopback(), free_port())
}

/// openssl s_server on `place` and `port`, restricted by `args`.
pub fn start_openssl_server_at(
    dir: &TempDir,
    cert: &TestCert,
    args: &[&str],
    place: &Place,
    port: u16,
) -> Daemon {
    let openssl = require("openssl", "openssl");
    let mut cmd = place.command(&openssl);
    cmd.args(["s_server", "-accept"])
        .arg(place.socket_addr(port).to_string());
    cmd.arg("-cert").arg(&cert.cert).arg("-key").arg(&cert.key);
    cmd.args(args).arg("-quiet");
    Daemon::spawn(
        "openssl s_server",
        &mut cmd,
        dir.join(&format!("s_server-{port}.log")),
        place,
        port,
    )
}

/// The s_server flags for TLS 1.0 only.
const TLS10_ONLY: &[&str] = &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"];

/// TLS 1.0 only: rustls cannot talk to it.
pub fn start_tls10(dir: &TempDir, cert: &TestCert) -> Daemon {
    start_openssl_server(dir, cert, TLS10_ONLY)
}

/// TLS 1.0 only, on `place` and `port`.
pub fn start_tls10_at(dir: &TempDir, cert: &TestCert, place: &Place, port: u16) -> Daemon {
    start_openssl_server_at(dir, cert, TLS10_ONLY, place, port)
}

/// Whether `/usr/bin/python3` still has the `smtpd` module (removed in Python 3.12).
pub fn python_smtpd_available() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-W", "ignore", "-c", "import smtpd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Python's smtpd as a mail sink on `place` and `port`. It greets with
/// "220 HOST Python SMTP proxy version 0.3". Needs Python 3.11 or older.
pub fn start_python_smtpd_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let python = require("/usr/bin/python3", "python3");
    let mut cmd = place.command(&python);
    // -u: unbuffered, so its log is readable if it dies.
    cmd.args([
        "-u",
        "-W",
        "ignore",
        "-m",
        "smtpd",
        "-n",
        "-c",
        "DebuggingServer",
    ])
    .arg(place.socket_addr(port).to_string());
    Daemon::spawn(
        "python3 -m smtpd",
        &mut cmd,
        dir.join(&format!("smtpd-{port}.log")),
        place,
        port,
    )
}
