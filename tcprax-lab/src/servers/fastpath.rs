//! Real daemons for the -sV fast-path test (`tcprax/tests/service_fast.rs`): Exim with
//! TLS-on-connect SMTP and its default strict ALPN, redis, Go servers without a `Server` header
//! (Prometheus' node exporter, InfluxDB, nats-server's monitoring port), Python's http.server
//! made to answer without one, and nginx serving a favicon. Each runs from config files in a [`TempDir`] behind a [`Daemon`]
//! guard that stops it by pid.
use super::daemons::Daemon;
use super::{Place, TempDir, TestCert, require, run_ok};
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

fn version_after(text: &str, marker: &str, what: &str) -> String {
    text.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|v| v.trim_end_matches(',').to_owned())
        .unwrap_or_else(|| panic!("unexpected {what} version output: {text}"))
}

fn output(cmd: &mut Command) -> String {
    let out = run_ok(cmd, &format!("{cmd:?}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// e.g. "4.96" (from `exim4 -bV`).
pub fn exim_version() -> String {
    let exim = require("exim4", "exim4-daemon-light");
    version_after(
        &output(Command::new(exim).arg("-bV")),
        "Exim version ",
        "exim4",
    )
}

/// e.g. "7.0.15" (from `redis-server --version`: "Redis server v=7.0.15 ...").
pub fn redis_version() -> String {
    let redis = require("redis-server", "redis-server");
    version_after(
        &output(Command::new(redis).arg("--version")),
        "v=",
        "redis-server",
    )
}

/// e.g. "1.5.0" (from `prometheus-node-exporter --version`).
pub fn node_exporter_version() -> String {
    let bin = require("prometheus-node-exporter", "prometheus-node-exporter");
    version_after(
        &output(Command::new(bin).arg("--version")),
        "version ",
        "node exporter",
    )
}

/// A directory every user may write: Exim gives up root when started with `-C`, and then
/// writes its spool, logs and pid file as Debian-exim.
fn world_writable(dir: &TempDir, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).expect("create dir");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    path
}

/// Exim on `place`:`port` with TLS on connect (SMTPS, like 465), `cert`, and Exim's own
/// defaults otherwise, among them strict ALPN (4.95+): a ClientHello offering ALPN protocols
/// other than smtp/esmtp gets a `no_application_protocol` alert. Exim drops root for a config
/// given with `-C`, so its key is made readable and its directory writable by everyone: a
/// throw-away test key in a throw-away directory.
pub fn start_exim_smtps_at(dir: &TempDir, cert: &TestCert, place: &Place, port: u16) -> Exim {
    let exim = require("exim4", "exim4-daemon-light");
    let home = world_writable(dir, "exim");
    let spool = world_writable(dir, "exim/spool");
    let key = home.join("key.pem");
    std::fs::copy(&cert.key, &key).expect("copy key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod key");
    let conf = home.join("exim.conf");
    std::fs::write(
        &conf,
        format!(
            "primary_hostname = tcprax.test\nspool_directory = {spool}\n\
             log_file_path = {home}/exim-%s.log\npid_file_path = {home}/exim.pid\n\
             daemon_smtp_ports = {port}\ntls_on_connect_ports = {port}\nlocal_interfaces = {addr}\n\
             tls_certificate = {cert}\ntls_privatekey = {key}\ntls_advertise_hosts = *\n\
             host_lookup =\nrfc1413_hosts =\n\
             acl_smtp_rcpt = acl_check_rcpt\nbegin acl\nacl_check_rcpt:\n  deny\n",
            spool = spool.display(),
            home = home.display(),
            addr = place.addr,
            cert = cert.cert.display(),
            key = key.display(),
        ),
    )
    .expect("write exim.conf");
    let mut cmd = place.command(&exim);
    cmd.arg("-bdf").arg("-C").arg(&conf);
    Exim {
        daemon: Some(Daemon::spawn(
            "exim4",
            &mut cmd,
            home.join("exim.out"),
            place,
            port,
        )),
    }
}

/// Exim's guard. Exim serves each connection in a forked child that writes to the log
/// directory as it ends (and creates the directory if it is gone); dropping the guard waits (up
/// to 5 s) until the daemon has no child left, so none outlives its [`TempDir`], then stops the
/// daemon.
pub struct Exim {
    daemon: Option<Daemon>,
}

impl Drop for Exim {
    fn drop(&mut self) {
        if let Some(daemon) = &self.daemon {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && children_of(daemon.pid()) > 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        drop(self.daemon.take());
    }
}

/// How many processes have `parent` as their parent (from /proc/PID/stat).
fn children_of(parent: libc::pid_t) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<libc::pid_t>().ok())
                == Some(parent)
        })
        .count()
}

/// redis-server on `place`:`port`, without persistence and with protected mode off (so a
/// client from another namespace gets answers, not the protected-mode refusal).
pub fn start_redis_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let redis = require("redis-server", "redis-server");
    let mut cmd = place.command(&redis);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        &place.addr.to_string(),
    ])
    .args(["--protected-mode", "no", "--save", "", "--appendonly", "no"])
    .arg("--dir")
    .arg(dir.path())
    .args(["--daemonize", "no", "--logfile", ""]);
    Daemon::spawn(
        "redis-server",
        &mut cmd,
        dir.join(&format!("redis-{port}.log")),
        place,
        port,
    )
}

/// Prometheus' node exporter on `place`:`port` with its default collectors off (its HTTP
/// side is what -sV sees).
pub fn start_node_exporter_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let bin = require("prometheus-node-exporter", "prometheus-node-exporter");
    let mut cmd = place.command(&bin);
    cmd.arg("--collector.disable-defaults")
        .arg(format!("--web.listen-address={}", place.socket_addr(port)));
    Daemon::spawn(
        "prometheus-node-exporter",
        &mut cmd,
        dir.join(&format!("node-exporter-{port}.log")),
        place,
        port,
    )
}

/// The headers Python's http.server is made to send (and not: no `Server`, no `Date`).
pub const PYTHON_HTTP_POWERED_BY: &str = "PHP/8.2.7";
pub const PYTHON_HTTP_REALM: &str = "tcprax lab";

/// Python's http.server on `place`:`port`, answering every GET with 401, `X-Powered-By`
/// [`PYTHON_HTTP_POWERED_BY`] and a Basic `WWW-Authenticate` realm [`PYTHON_HTTP_REALM`], and
/// without the `Server` header it normally sends.
pub fn start_python_http_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let python = require("/usr/bin/python3", "python3");
    let script = dir.join(&format!("http-{port}.py"));
    std::fs::write(
        &script,
        format!(
            "import http.server, sys\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   protocol_version = 'HTTP/1.1'\n\
             \x20   def do_GET(self):\n\
             \x20       body = b'<html><title>401 Unauthorized</title></html>'\n\
             \x20       self.send_response_only(401)\n\
             \x20       self.send_header('X-Powered-By', '{PYTHON_HTTP_POWERED_BY}')\n\
             \x20       self.send_header('WWW-Authenticate', 'Basic realm=\"{PYTHON_HTTP_REALM}\"')\n\
             \x20       self.send_header('Content-Length', str(len(body)))\n\
             \x20       self.send_header('Connection', 'close')\n\
             \x20       self.end_headers()\n\
             \x20       self.wfile.write(body)\n\
             \x20   def log_message(self, *args):\n\
             \x20       pass\n\
             http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()\n"
        ),
    )
    .expect("write http script");
    let mut cmd = place.command(&python);
    cmd.arg("-u")
        .arg(&script)
        .arg(place.addr.to_string())
        .arg(port.to_string());
    Daemon::spawn(
        "python3 http.server",
        &mut cmd,
        dir.join(&format!("http-{port}.log")),
        place,
        port,
    )
}

/// nginx on `place`: HTTP on `http` and HTTPS on `https`, both serving `favicon` as
/// `/favicon.ico` and a small page elsewhere.
pub fn start_nginx_favicon_at(
    dir: &TempDir,
    cert: &TestCert,
    place: &Place,
    (http, https): (u16, u16),
    favicon: &[u8],
) -> Daemon {
    let nginx = require("nginx", "nginx-light");
    let root = dir.join("nginx-favicon");
    std::fs::create_dir_all(&root).expect("create nginx root");
    std::fs::write(root.join("favicon.ico"), favicon).expect("write favicon");
    let d = root.display();
    let conf = root.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               types {{ image/x-icon ico; }}\n  default_type text/html;\n\
               server {{\n    listen {http_at};\n    listen {https_at} ssl http2;\n\
                 ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
                 location = /favicon.ico {{ root {d}; }}\n\
                 location / {{ return 200 \"<html><head><title>favicon page</title></head></html>\\n\"; }}\n  }}\n}}\n",
            http_at = place.socket_addr(http),
            https_at = place.socket_addr(https),
            cert = cert.cert.display(),
            key = cert.key.display(),
        ),
    )
    .expect("write nginx.conf");
    let mut cmd = place.command(&nginx);
    cmd.arg("-p")
        .arg(&root)
        .arg("-e")
        .arg(root.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"]);
    let daemon = Daemon::spawn("nginx", &mut cmd, root.join("nginx.log"), place, http);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !place.accepts(https) {
        assert!(Instant::now() < deadline, "nginx did not listen on {https}");
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

/// e.g. "1.6.7~rc0" (from `influxd version`: "InfluxDB v1.6.7~rc0 (git: ...)").
pub fn influxdb_version() -> String {
    let bin = require("influxd", "influxdb");
    version_after(
        &output(Command::new(bin).arg("version")),
        "InfluxDB v",
        "influxd",
    )
}

/// e.g. "2.9.10" (from `nats-server --version`: "nats-server: v2.9.10").
pub fn nats_version() -> String {
    let bin = require("nats-server", "nats-server");
    version_after(
        &output(Command::new(bin).arg("--version")),
        ": v",
        "nats-server",
    )
}

/// InfluxDB 1.x on `place`: its HTTP API on `port` (a Go server without a `Server` header that
/// sends `X-Influxdb-Version` and answers `/` with Go's default 404), everything else
/// loopback-only or off, data in `dir`.
pub fn start_influxdb_at(dir: &TempDir, place: &Place, port: u16) -> Daemon {
    let bin = require("influxd", "influxdb");
    let home = dir.join(&format!("influxdb-{port}"));
    std::fs::create_dir_all(&home).expect("create influxdb dir");
    let conf = home.join("influxdb.conf");
    std::fs::write(
        &conf,
        format!(
            "reporting-enabled = false\nbind-address = \"127.0.0.1:8088\"\n\
             [meta]\n  dir = \"{h}/meta\"\n[data]\n  dir = \"{h}/data\"\n  wal-dir = \"{h}/wal\"\n\
             [monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"{at}\"\n  log-enabled = false\n",
            h = home.display(),
            at = place.socket_addr(port),
        ),
    )
    .expect("write influxdb.conf");
    let mut cmd = place.command(&bin);
    cmd.arg("-config").arg(&conf);
    Daemon::spawn("influxd", &mut cmd, home.join("influxd.log"), place, port)
}

/// nats-server on `place`: clients on `port` (it greets with an `INFO {...}` line naming its
/// version), HTTP monitoring on `monitor` (Go's net/http: `/favicon.ico` gets Go's default 404).
pub fn start_nats_at(dir: &TempDir, place: &Place, port: u16, monitor: u16) -> Daemon {
    let bin = require("nats-server", "nats-server");
    let mut cmd = place.command(&bin);
    cmd.args(["-a", &place.addr.to_string(), "-p", &port.to_string()])
        .args(["-m", &monitor.to_string()]);
    let daemon = Daemon::spawn(
        "nats-server",
        &mut cmd,
        dir.join(&format!("nats-{port}.log")),
        place,
        port,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !place.accepts(monitor) {
        assert!(
            Instant::now() < deadline,
            "nats-server did not listen on {monitor}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}
