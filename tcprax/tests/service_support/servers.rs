//! Servers for the -sV tests, all owned by the test that starts them: real Debian daemons
//! (sshd, nginx, vsftpd, openssl s_server, Python's smtpd) run from config files in a private
//! temp dir and are stopped by their guard's Drop (by pid); fake servers are tokio tasks aborted
//! by theirs.
//!
//! The plain `start_*` functions listen on 127.0.0.1 and a free port. The `start_*_at` ones take
//! a [`Place`] (a network namespace and an address) and a fixed port: daemons are started with
//! `ip netns exec`, which execs them in place, so the guard's pid is the daemon's own; fakes bind
//! from a thread that has entered the namespace. Used by `tests/service.rs` (loopback),
//! `tests/service_ns.rs` and the `tcprax-bench-sv` binary (namespaces).
#![allow(
    dead_code,
    reason = "shared by two test crates and a benchmark binary; each uses a subset"
)]
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

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
    fn command(&self, program: &Path) -> Command {
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
        let Some(ns) = self.netns.clone() else {
            return f();
        };
        let thread = std::thread::spawn(move || {
            let path = format!("/var/run/netns/{ns}");
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // SAFETY: setns(2) on a valid namespace fd; it changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Whether `port` here accepts a TCP connection.
    fn accepts(&self, port: u16) -> bool {
        let addr = self.socket_addr(port);
        self.run(move || StdStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok())
    }
}

/// A daemon we started; Drop stops it by pid (SIGTERM, then SIGKILL) and reaps it.
pub struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
    place: Place,
    pub port: u16,
    /// Kept open because some daemons (openssl s_server) exit on EOF on stdin.
    _stdin: Option<std::process::ChildStdin>,
}

impl Daemon {
    fn spawn(
        name: &'static str,
        cmd: &mut Command,
        log: PathBuf,
        place: &Place,
        port: u16,
    ) -> Daemon {
        let out = std::fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdin = child.stdin.take();
        let mut daemon = Daemon {
            name,
            child,
            log,
            place: place.clone(),
            port,
            _stdin: stdin,
        };
        daemon.wait_listening();
        daemon
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    /// Poll until the port accepts; panic with the daemon's log if it died or never listened.
    fn wait_listening(&mut self) {
        let addr = self.place.socket_addr(self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if self.place.accepts(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not listen on {addr} within 10 s:\n{}",
            self.name,
            self.log_text()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the pid of our own unreaped child: it cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A self-signed certificate, by default for tcprax.test (SANs: tcprax.test, alt.tcprax.test,
/// 127.0.0.1).
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
    /// The subject CN it was made with.
    pub subject_cn: String,
    /// Its subject alternative names as tcprax reports them: DNS names, then addresses.
    pub sans: Vec<String>,
}

impl TestCert {
    pub fn generate(dir: &TempDir) -> TestCert {
        TestCert::generate_for(
            dir,
            "tcprax.test",
            &["tcprax.test", "alt.tcprax.test"],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        )
    }

    /// A self-signed certificate for `cn` with these DNS and IP subject alternative names.
    pub fn generate_for(dir: &TempDir, cn: &str, dns: &[&str], ips: &[IpAddr]) -> TestCert {
        let openssl = require("openssl", "openssl");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let sans: Vec<String> = dns
            .iter()
            .map(|d| (*d).to_owned())
            .chain(ips.iter().map(IpAddr::to_string))
            .collect();
        let san_ext = dns
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(ips.iter().map(|ip| format!("IP:{ip}")))
            .collect::<Vec<_>>()
            .join(",");
        run_ok(
            Command::new(&openssl)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                ])
                .arg("-subj")
                .arg(format!("/CN={cn}"))
                .arg("-addext")
                .arg(format!("subjectAltName={san_ext}"))
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            "openssl req",
        );
        let der = CertificateDer::from_pem_file(&cert)
            .expect("read generated certificate")
            .to_vec();
        TestCert {
            cert,
            key,
            der,
            subject_cn: cn.to_owned(),
            sans,
        }
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::from_pem_file(&self.key).expect("read generated key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(self.der.clone())], key)
        .expect("server certificate");
        Arc::new(config)
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

/// A tokio fake server; Drop aborts its accept loop.
pub struct Fake {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a fake does with each connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Accepts, reads and discards, never writes.
    SilentTcp,
    /// Resets every connection at once (SO_LINGER 0, then close).
    Reset,
    /// Sends a MySQL protocol-10 greeting for `version`.
    MysqlGreeting(&'static str),
    /// A line protocol: "version" gets "VERSION 1.6.99", every other line "ERROR".
    MemcachedLike,
    /// TLS, then a greeting over TLS.
    TlsBanner(Arc<rustls::ServerConfig>, &'static str),
    /// TLS, then silence.
    TlsSilent(Arc<rustls::ServerConfig>),
    /// Sends `greeting` in the clear, then reads and discards (an SMTP or FTP banner).
    Banner(&'static str),
}

pub async fn start_fake(behaviour: Behaviour) -> Fake {
    start_fake_at(behaviour, &Place::loopback(), 0).await
}

/// A fake on `place` and `port` (0: any free port). Must run inside a tokio runtime.
pub async fn start_fake_at(behaviour: Behaviour, place: &Place, port: u16) -> Fake {
    let addr = place.socket_addr(port);
    let std_listener = place
        .run(move || StdListener::bind(addr))
        .unwrap_or_else(|e| panic!("bind fake on {addr}: {e}"));
    std_listener
        .set_nonblocking(true)
        .expect("nonblocking fake listener");
    let listener = TcpListener::from_std(std_listener).expect("register fake listener");
    let port = listener.local_addr().expect("fake addr").port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(behaviour.clone(), stream));
        }
    });
    Fake { port, task }
}

async fn drain<S: tokio::io::AsyncRead + Unpin>(mut s: S) {
    let mut buf = [0u8; 1024];
    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn serve(behaviour: Behaviour, mut stream: TcpStream) {
    match behaviour {
        Behaviour::SilentTcp => drain(stream).await,
        Behaviour::Reset => {
            #[expect(
                deprecated,
                reason = "SO_LINGER 0 does not block on drop; it is how a test sends RST"
            )]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Behaviour::MysqlGreeting(version) => {
            let mut payload = vec![0x0a];
            payload.extend_from_slice(version.as_bytes());
            payload.push(0);
            payload.extend_from_slice(&7u32.to_le_bytes()); // connection id
            payload.extend_from_slice(b"saltsalt\0");
            payload.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 0x15]);
            payload.extend_from_slice(&[0; 10]);
            payload.extend_from_slice(b"moresaltsalt\0mysql_native_password\0");
            let mut packet = u32::try_from(payload.len()).unwrap_or(0).to_le_bytes()[..3].to_vec();
            packet.push(0); // sequence id
            packet.extend_from_slice(&payload);
            let _ = stream.write_all(&packet).await;
            drain(stream).await;
        }
        Behaviour::MemcachedLike => {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply: &[u8] = if line.trim() == "version" {
                    b"VERSION 1.6.99\r\n"
                } else {
                    b"ERROR\r\n"
                };
                if write.write_all(reply).await.is_err() {
                    break;
                }
            }
        }
        Behaviour::TlsBanner(config, greeting) => {
            if let Ok(mut tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                let _ = tls.write_all(greeting.as_bytes()).await;
                let _ = tls.flush().await;
                drain(tls).await;
            }
        }
        Behaviour::TlsSilent(config) => {
            if let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                drain(tls).await;
            }
        }
        Behaviour::Banner(greeting) => {
            let _ = stream.write_all(greeting.as_bytes()).await;
            drain(stream).await;
        }
    }
}

/// The dozen services of the namespace -sV test and the -sV benchmark, on well-known ports of
/// one place: real sshd, vsftpd, nginx (HTTP and HTTPS), Python's smtpd and a TLS 1.0-only
/// s_server, and fakes for an Exim banner, IMAP over TLS, a MySQL greeting, silent TLS, silent
/// TCP and a memcached-like line protocol. Dropping it stops them all (fakes first, so the
/// runtime that serves them must outlive it).
pub struct Dozen {
    /// (port, server) in port order.
    pub services: Vec<(u16, &'static str)>,
    /// Whether port 25 is Python's smtpd (false: a fake with the same banner, on Python 3.12+).
    pub python_smtpd: bool,
    fakes: Vec<Fake>,
    daemons: Vec<Daemon>,
}

impl Dozen {
    pub fn ports(&self) -> Vec<u16> {
        self.services.iter().map(|&(port, _)| port).collect()
    }
}

/// Start [`Dozen`] on `place` with `cert` for every TLS port; fakes are spawned on `rt`.
pub fn start_dozen(
    dir: &TempDir,
    cert: &TestCert,
    place: &Place,
    rt: &tokio::runtime::Handle,
) -> Dozen {
    const SMTP_BANNER: &str = "220 tcprax.test Python SMTP proxy version 0.3\r\n";
    let python_smtpd = python_smtpd_available();
    let mut services = vec![
        (21, "vsftpd"),
        (22, "sshd"),
        (80, "nginx"),
        (443, "nginx ssl http2"),
        (10443, "openssl s_server -tls1"),
    ];
    let mut daemons = vec![
        start_vsftpd_at(dir, place, 21),
        start_sshd_at(dir, place, 22),
        start_nginx_at(dir, cert, place, 80, 443).0,
        start_tls10_at(dir, cert, place, 10443),
    ];
    let mut fakes = Vec::new();
    if python_smtpd {
        services.push((25, "python3 -m smtpd"));
        daemons.push(start_python_smtpd_at(dir, place, 25));
    } else {
        services.push((25, "fake Python smtpd banner"));
        fakes.push(rt.block_on(start_fake_at(Behaviour::Banner(SMTP_BANNER), place, 25)));
    }
    let fake_services = [
        (
            587,
            "fake Exim banner",
            Behaviour::Banner("220 tcprax.test ESMTP Exim 4.96\r\n"),
        ),
        (
            993,
            "fake IMAP over TLS",
            Behaviour::TlsBanner(cert.server_config(), "* OK IMAP4rev1 ready\r\n"),
        ),
        (
            3306,
            "fake MySQL greeting",
            Behaviour::MysqlGreeting("8.0.36"),
        ),
        (
            8443,
            "fake silent TLS",
            Behaviour::TlsSilent(cert.server_config()),
        ),
        (9000, "fake silent TCP", Behaviour::SilentTcp),
        (11211, "fake memcached", Behaviour::MemcachedLike),
    ];
    for (port, name, behaviour) in fake_services {
        services.push((port, name));
        fakes.push(rt.block_on(start_fake_at(behaviour, place, port)));
    }
    services.sort_unstable();
    Dozen {
        services,
        python_smtpd,
        fakes,
        daemons,
    }
}
