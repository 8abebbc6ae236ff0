//! Servers for the -sV tests, all on 127.0.0.1 and all owned by the test that starts them:
//! real Debian daemons (sshd, nginx, vsftpd, openssl s_server) run from config files in a
//! private temp dir and are stopped by their guard's Drop (by pid); fake servers are tokio tasks
//! aborted by theirs.
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Read;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
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

/// A daemon we started; Drop stops it by pid (SIGTERM, then SIGKILL) and reaps it.
pub struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
    pub port: u16,
    /// Kept open because some daemons (openssl s_server) exit on EOF on stdin.
    _stdin: Option<std::process::ChildStdin>,
}

impl Daemon {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf, port: u16) -> Daemon {
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
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if StdStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
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

/// A self-signed certificate for tcprax.test (SANs: tcprax.test, alt.tcprax.test, 127.0.0.1).
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

impl TestCert {
    pub fn generate(dir: &TempDir) -> TestCert {
        let openssl = require("openssl", "openssl");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        run_ok(
            Command::new(&openssl)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                ])
                .args(["-subj", "/CN=tcprax.test"])
                .args([
                    "-addext",
                    "subjectAltName=DNS:tcprax.test,DNS:alt.tcprax.test,IP:127.0.0.1",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            "openssl req",
        );
        let der = CertificateDer::from_pem_file(&cert)
            .expect("read generated certificate")
            .to_vec();
        TestCert { cert, key, der }
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
    let port = free_port();
    let conf = dir.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "ListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile none\n",
            key.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .expect("write sshd_config");
    Daemon::spawn(
        "sshd",
        Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(port.to_string()),
        dir.join("sshd.log"),
        port,
    )
}

/// nginx serving a page with a <title> on an HTTP and an HTTPS (h2-capable) port. One process
/// (`master_process off`), so stopping it by pid leaves no worker behind.
pub fn start_nginx(dir: &TempDir, cert: &TestCert) -> (Daemon, u16) {
    let nginx = require("nginx", "nginx-light");
    let (http, https) = (free_port(), free_port());
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
               server {{\n    listen 127.0.0.1:{http};\n    listen 127.0.0.1:{https} ssl http2;\n\
                 ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_certificate {};\n    ssl_certificate_key {};\n\
                 location / {{ return 200 \"<html><head><title>tcprax test page</title></head></html>\\n\"; }}\n  }}\n}}\n",
            cert.cert.display(),
            cert.key.display()
        ),
    )
    .expect("write nginx.conf");
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf);
    cmd.args(["-g", "daemon off;"]);
    let daemon = Daemon::spawn("nginx", &mut cmd, dir.join("nginx.log"), http);
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    let deadline = Instant::now() + Duration::from_secs(5);
    while StdStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, https)
}

/// vsftpd in standalone mode on 127.0.0.1. It refuses to start with every login disabled, so
/// anonymous read-only login is on, rooted in an empty directory.
pub fn start_vsftpd(dir: &TempDir) -> Daemon {
    let vsftpd = require("vsftpd", "vsftpd");
    let port = free_port();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("create chroot dir");
    let conf = dir.join("vsftpd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
             anonymous_enable=YES\nanon_root={0}\nno_anon_password=YES\nftp_username=nobody\nlocal_enable=NO\nwrite_enable=NO\nseccomp_sandbox=NO\nisolate=NO\n\
             isolate_network=NO\nsecure_chroot_dir={0}\nxferlog_enable=NO\nvsftpd_log_file={1}\n",
            empty.display(),
            dir.join("vsftpd-xfer.log").display()
        ),
    )
    .expect("write vsftpd.conf");
    Daemon::spawn(
        "vsftpd",
        Command::new(vsftpd).arg(&conf),
        dir.join("vsftpd.log"),
        port,
    )
}

/// openssl s_server restricted by `args` (protocol and cipher flags), e.g. TLS 1.0 only, which
/// needs `DEFAULT:@SECLEVEL=0` because Debian's OpenSSL 3 refuses TLS 1.0 at its default level.
pub fn start_openssl_server(dir: &TempDir, cert: &TestCert, args: &[&str]) -> Daemon {
    let openssl = require("openssl", "openssl");
    let port = free_port();
    let mut cmd = Command::new(openssl);
    cmd.args(["s_server", "-accept"])
        .arg(format!("127.0.0.1:{port}"));
    cmd.arg("-cert").arg(&cert.cert).arg("-key").arg(&cert.key);
    cmd.args(args).arg("-quiet");
    Daemon::spawn(
        "openssl s_server",
        &mut cmd,
        dir.join(&format!("s_server-{port}.log")),
        port,
    )
}

/// TLS 1.0 only: rustls cannot talk to it.
pub fn start_tls10(dir: &TempDir, cert: &TestCert) -> Daemon {
    start_openssl_server(dir, cert, &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"])
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
}

pub async fn start_fake(behaviour: Behaviour) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake");
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
    }
}
