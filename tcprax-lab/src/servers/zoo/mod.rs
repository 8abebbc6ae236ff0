//! The zoo: about thirty real Debian daemons, each in default-ish configuration, for the -sV
//! benchmark (`tcprax-bench-sv`) and the fast subset in tcprax's `tests/service_zoo.rs`.
//!
//! Every [`Animal`] is one daemon on a fixed port (two for nginx and dovecot), started inside the
//! target namespace of a testbed (`ip netns exec`, which execs in place: the guard's pid is the
//! daemon's own; `setpriv` for the ones that refuse root, which execs too), in the foreground,
//! with its configuration and data written to its own directory of a [`TempDir`], and waited for
//! until its port accepts. Dropping the [`Zoo`] stops every daemon by pid.
//!
//! Each port carries its ground truth ([`Truth`]): the service name nmap uses, the product, and
//! the upstream version read from the installed Debian package (`dpkg-query`), never typed in.
//! [`score`] holds the matching rules a tool's answer is scored with.
mod data;
mod mail;
mod net;
pub mod score;
mod truth;
mod web;

pub use truth::{Truth, upstream_version};

use super::{DaemonError, Place, TempDir, TestCert, require};
use crate::servers::Daemon;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One daemon of the zoo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Animal {
    Vsftpd,
    Sshd,
    Telnetd,
    Nginx,
    Dnsmasq,
    Krb5Kdc,
    Rpcbind,
    Slapd,
    Exim,
    Rsync,
    Dovecot,
    OpenVpn,
    Squid,
    Mariadb,
    Xrdp,
    Svnserve,
    Nats,
    Postgres,
    Xmpp,
    Vnc,
    Redis,
    Stunnel,
    Ngircd,
    Lighttpd,
    InfluxDb,
    Haproxy,
    Tinyproxy,
    NodeExporter,
    Git,
    Beanstalkd,
    Memcached,
    Mosquitto,
}

impl Animal {
    /// The whole zoo, in start order (stunnel after the redis it wraps).
    pub const ALL: [Animal; 32] = [
        Animal::Vsftpd,
        Animal::Sshd,
        Animal::Telnetd,
        Animal::Nginx,
        Animal::Dnsmasq,
        Animal::Krb5Kdc,
        Animal::Rpcbind,
        Animal::Slapd,
        Animal::Exim,
        Animal::Rsync,
        Animal::Dovecot,
        Animal::OpenVpn,
        Animal::Squid,
        Animal::Mariadb,
        Animal::Xrdp,
        Animal::Svnserve,
        Animal::Nats,
        Animal::Postgres,
        Animal::Xmpp,
        Animal::Vnc,
        Animal::Redis,
        Animal::Stunnel,
        Animal::Ngircd,
        Animal::Lighttpd,
        Animal::InfluxDb,
        Animal::Haproxy,
        Animal::Tinyproxy,
        Animal::NodeExporter,
        Animal::Git,
        Animal::Beanstalkd,
        Animal::Memcached,
        Animal::Mosquitto,
    ];

    /// The Debian packages it needs (what `cargo xtask bench-sv` installs).
    pub fn packages(self) -> &'static [&'static str] {
        match self {
            Animal::Vsftpd => &["vsftpd"],
            Animal::Sshd => &["openssh-server"],
            Animal::Telnetd => &["inetutils-telnetd", "inetutils-inetd"],
            Animal::Nginx => &["nginx-light"],
            Animal::Dnsmasq => &["dnsmasq-base"],
            Animal::Krb5Kdc => &["krb5-kdc"],
            Animal::Rpcbind => &["rpcbind"],
            Animal::Slapd => &["slapd"],
            Animal::Exim => &["exim4-daemon-light"],
            Animal::Rsync => &["rsync"],
            Animal::Dovecot => &["dovecot-imapd", "dovecot-pop3d"],
            Animal::OpenVpn => &["openvpn"],
            Animal::Squid => &["squid"],
            Animal::Mariadb => &["mariadb-server"],
            Animal::Xrdp => &["xrdp"],
            Animal::Svnserve => &["subversion"],
            Animal::Nats => &["nats-server"],
            Animal::Postgres => &["postgresql"],
            Animal::Xmpp => &["prosody"],
            Animal::Vnc => &["tigervnc-standalone-server"],
            Animal::Redis => &["redis-server"],
            Animal::Stunnel => &["stunnel4", "redis-server"],
            Animal::Ngircd => &["ngircd"],
            Animal::Lighttpd => &["lighttpd"],
            Animal::InfluxDb => &["influxdb"],
            Animal::Haproxy => &["haproxy"],
            Animal::Tinyproxy => &["tinyproxy"],
            Animal::NodeExporter => &["prometheus-node-exporter"],
            Animal::Git => &["git"],
            Animal::Beanstalkd => &["beanstalkd"],
            Animal::Memcached => &["memcached"],
            Animal::Mosquitto => &["mosquitto"],
        }
    }
}

/// One port of the zoo and what a tool should say about it.
#[derive(Clone, Debug)]
pub struct Exhibit {
    pub port: u16,
    pub animal: Animal,
    /// How the daemon runs, for the report (e.g. "exim4 (tls_on_connect)").
    pub label: &'static str,
    pub truth: Truth,
}

/// The daemons that run, their ports, and the ones that would not start.
pub struct Zoo {
    pub exhibits: Vec<Exhibit>,
    pub failed: Vec<(Animal, String)>,
    _daemons: Vec<Daemon>,
}

impl Zoo {
    pub fn ports(&self) -> Vec<u16> {
        self.exhibits.iter().map(|e| e.port).collect()
    }

    pub fn exhibit(&self, port: u16) -> Option<&Exhibit> {
        self.exhibits.iter().find(|e| e.port == port)
    }
}

/// What every starter gets: where to write, the certificate of the TLS daemons, where to run.
pub(crate) struct Ctx<'a> {
    pub dir: &'a TempDir,
    pub cert: &'a TestCert,
    pub place: &'a Place,
}

impl Ctx<'_> {
    /// A fresh directory for one daemon's files, world-readable (some drop root).
    pub fn subdir(&self, name: &str) -> Result<PathBuf, DaemonError> {
        let path = self.dir.join(name);
        std::fs::create_dir_all(&path).map_err(|e| setup_error(name, "create its dir", e))?;
        chmod(&path, 0o755).map_err(|e| setup_error(name, "chmod its dir", e))?;
        Ok(path)
    }

    /// `program` in the target namespace.
    pub fn command(&self, program: &Path) -> Command {
        self.place.command(program)
    }

    /// `program` in the target namespace as `user` (setpriv execs, so the pid stays the daemon's).
    pub fn command_as(&self, user: &str, program: &Path) -> Command {
        let mut cmd = self.place.command(&require("setpriv", "util-linux"));
        cmd.args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--init-groups",
            "--",
        ])
        .arg(program);
        cmd
    }

    /// `program` in the target namespace with a private, empty `/run` (a tmpfs in a mount
    /// namespace of its own), for daemons that keep sockets, locks and pid files at fixed paths
    /// there (rpcbind, xrdp): nothing of theirs lands in the machine's `/run`. `unshare` and the
    /// shell exec in place, so the pid is still the daemon's. Arguments added to the returned
    /// command go to `program`.
    pub fn command_private_run(&self, program: &Path, dirs: &[&str]) -> Command {
        let mut cmd = self.place.command(&require("unshare", "util-linux"));
        let mkdirs: String = dirs
            .iter()
            .map(|d| format!(" && mkdir -p /run/{d}"))
            .collect();
        cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs tmpfs /run{mkdirs} && exec \"$0\" \"$@\""
            ))
            .arg(program);
        cmd
    }

    pub fn addr(&self) -> String {
        self.place.addr.to_string()
    }

    /// Start `cmd` and wait until `port` accepts.
    pub fn spawn(
        &self,
        name: &'static str,
        cmd: &mut Command,
        dir: &Path,
        port: u16,
        ready_within: Duration,
    ) -> Result<Daemon, DaemonError> {
        Daemon::try_spawn(
            name,
            cmd,
            dir.join(format!("{name}.log")),
            self.place,
            port,
            ready_within,
        )
    }
}

pub(crate) fn setup_error(daemon: &str, step: &str, e: impl std::fmt::Display) -> DaemonError {
    DaemonError::Setup {
        daemon: leak(daemon),
        step: step.to_owned(),
        detail: e.to_string(),
    }
}

/// Daemon names are a handful of literals; the few non-literal ones are leaked once.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

pub(crate) fn chmod(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Write a config file; an error names the daemon.
pub(crate) fn write(daemon: &str, path: &Path, text: &str) -> Result<(), DaemonError> {
    std::fs::write(path, text)
        .map_err(|e| setup_error(daemon, &format!("write {}", path.display()), e))
}

/// Run a set-up command to the end (initdb, key generation); an error carries its output.
pub(crate) fn run_setup(daemon: &str, cmd: &mut Command) -> Result<(), DaemonError> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| setup_error(daemon, &format!("{cmd:?}"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(setup_error(
            daemon,
            &format!("{cmd:?}"),
            format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    }
}

/// `chown -R user: path`, for the daemons that run as their own user.
pub(crate) fn chown(daemon: &str, user: &str, path: &Path) -> Result<(), DaemonError> {
    run_setup(
        daemon,
        Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(path),
    )
}

/// Start `animals` on `place` (a namespace; the zoo binds fixed, privileged ports). A daemon
/// that does not come up is listed in [`Zoo::failed`] with its log, the others run.
pub fn start_zoo(dir: &TempDir, cert: &TestCert, place: &Place, animals: &[Animal]) -> Zoo {
    let ctx = Ctx { dir, cert, place };
    let mut zoo = Zoo {
        exhibits: Vec::new(),
        failed: Vec::new(),
        _daemons: Vec::new(),
    };
    for &animal in animals {
        let started = start(&ctx, animal).and_then(|(daemons, exhibits)| {
            for d in &daemons {
                in_place(place, d)?;
            }
            Ok((daemons, exhibits))
        });
        match started {
            Ok((daemons, exhibits)) => {
                zoo._daemons.extend(daemons);
                zoo.exhibits.extend(exhibits);
            }
            Err(e) => zoo.failed.push((animal, e.to_string())),
        }
    }
    zoo.exhibits.sort_by_key(|e| e.port);
    zoo
}

type Started = (Vec<Daemon>, Vec<Exhibit>);

/// Whether process `pid` is in the network namespace `ns` (as `ip netns` names it).
pub fn pid_in_netns(pid: u32, ns: &str) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    let id = |path: &str| std::fs::metadata(path).map(|m| (m.dev(), m.ino()));
    Ok(id(&format!("/run/netns/{ns}"))? == id(&format!("/proc/{pid}/ns/net"))?)
}

/// A daemon must run in the place's network namespace, never in the machine's own (where it
/// would listen on the real interfaces).
fn in_place(place: &Place, daemon: &Daemon) -> Result<(), DaemonError> {
    let Some(ns) = &place.netns else {
        return Ok(());
    };
    let pid = u32::try_from(daemon.pid()).unwrap_or(0);
    match pid_in_netns(pid, ns) {
        Ok(true) => Ok(()),
        Ok(false) => Err(setup_error(
            "zoo",
            "check its namespace",
            format!("pid {pid} is not in {ns}"),
        )),
        Err(e) => Err(setup_error("zoo", "check its namespace", e)),
    }
}

fn start(ctx: &Ctx, animal: Animal) -> Result<Started, DaemonError> {
    let one = |port: u16, label: &'static str, truth: Truth, daemon: Daemon| {
        (
            vec![daemon],
            vec![Exhibit {
                port,
                animal,
                label,
                truth,
            }],
        )
    };
    let t =
        truth::of(animal).map_err(|e| setup_error(&format!("{animal:?}"), "ground truth", e))?;
    Ok(match animal {
        Animal::Vsftpd => one(21, "vsftpd", t, net::vsftpd(ctx)?),
        Animal::Sshd => one(22, "sshd", t, net::sshd(ctx)?),
        Animal::Telnetd => one(23, "inetutils-inetd + telnetd", t, net::telnetd(ctx)?),
        Animal::Nginx => {
            let daemon = web::nginx(ctx)?;
            let mut tls = t.clone();
            tls.tls = true;
            (
                vec![daemon],
                vec![
                    Exhibit {
                        port: 80,
                        animal,
                        label: "nginx",
                        truth: t,
                    },
                    Exhibit {
                        port: 443,
                        animal,
                        label: "nginx (ssl)",
                        truth: tls,
                    },
                ],
            )
        }
        Animal::Dnsmasq => one(53, "dnsmasq", t, net::dnsmasq(ctx)?),
        Animal::Krb5Kdc => one(88, "krb5kdc", t, net::krb5kdc(ctx)?),
        Animal::Rpcbind => one(111, "rpcbind", t, net::rpcbind(ctx)?),
        Animal::Slapd => one(389, "slapd", t, net::slapd(ctx)?),
        Animal::Exim => one(465, "exim4 (tls_on_connect)", t, mail::exim(ctx)?),
        Animal::Rsync => one(873, "rsync --daemon", t, net::rsyncd(ctx)?),
        Animal::Dovecot => {
            let daemon = mail::dovecot(ctx)?;
            let pop3 =
                truth::dovecot_pop3().map_err(|e| setup_error("dovecot", "ground truth", e))?;
            (
                vec![daemon],
                vec![
                    Exhibit {
                        port: 993,
                        animal,
                        label: "dovecot (imaps)",
                        truth: t,
                    },
                    Exhibit {
                        port: 995,
                        animal,
                        label: "dovecot (pop3s)",
                        truth: pop3,
                    },
                ],
            )
        }
        Animal::OpenVpn => one(1194, "openvpn (tcp-server)", t, net::openvpn(ctx)?),
        Animal::Squid => one(3128, "squid", t, web::squid(ctx)?),
        Animal::Mariadb => one(3306, "mariadbd", t, data::mariadb(ctx)?),
        Animal::Xrdp => one(3389, "xrdp", t, net::xrdp(ctx)?),
        Animal::Svnserve => one(3690, "svnserve", t, net::svnserve(ctx)?),
        Animal::Nats => one(4222, "nats-server", t, data::nats(ctx)?),
        Animal::Postgres => one(5432, "postgres", t, data::postgres(ctx)?),
        Animal::Xmpp => one(5222, "prosody", t, mail::prosody(ctx)?),
        Animal::Vnc => one(5901, "Xtigervnc", t, net::vnc(ctx)?),
        Animal::Redis => one(6379, "redis-server", t, data::redis(ctx)?),
        Animal::Stunnel => one(6380, "stunnel4 → redis-server", t, mail::stunnel(ctx)?),
        Animal::Ngircd => one(6667, "ngircd", t, mail::ngircd(ctx)?),
        Animal::Lighttpd => one(8080, "lighttpd", t, web::lighttpd(ctx)?),
        Animal::InfluxDb => one(8086, "influxd", t, data::influxdb(ctx)?),
        Animal::Haproxy => one(8404, "haproxy", t, web::haproxy(ctx)?),
        Animal::Tinyproxy => one(8888, "tinyproxy", t, web::tinyproxy(ctx)?),
        Animal::NodeExporter => one(
            9100,
            "prometheus-node-exporter",
            t,
            web::node_exporter(ctx)?,
        ),
        Animal::Git => one(9418, "git daemon", t, net::git_daemon(ctx)?),
        Animal::Beanstalkd => one(11300, "beanstalkd", t, data::beanstalkd(ctx)?),
        Animal::Memcached => one(11211, "memcached", t, data::memcached(ctx)?),
        Animal::Mosquitto => one(1883, "mosquitto", t, data::mosquitto(ctx)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask bench-sv` installs the zoo (xtask depends on no crate of the workspace, so
    /// it keeps its own list): every package a daemon needs must be in it.
    #[test]
    fn xtask_installs_every_package_of_the_zoo() {
        let setup = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../xtask/src/setup.rs"
        ));
        for animal in Animal::ALL {
            for package in animal.packages() {
                assert!(
                    setup.contains(&format!("\"{package}\"")),
                    "{animal:?} needs {package}, which xtask/src/setup.rs does not install"
                );
            }
        }
    }

    #[test]
    fn a_process_is_found_in_its_namespace_only() {
        if !crate::testbed::have_privileges() {
            eprintln!("SKIP: needs root for network namespaces");
            return;
        }
        let tb = crate::testbed::Testbed::new("trxzns").expect("testbed");
        assert!(!pid_in_netns(std::process::id(), &tb.target_ns).unwrap());
        let mut child = crate::process::Child::spawn(Command::new("ip").args([
            "netns",
            "exec",
            &tb.target_ns,
            "sleep",
            "30",
        ]))
        .unwrap();
        let pid = u32::try_from(child.pid()).unwrap();
        // `ip netns exec` enters the namespace, then execs sleep in place.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !pid_in_netns(pid, &tb.target_ns).unwrap() {
            assert!(std::time::Instant::now() < deadline, "never entered");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!pid_in_netns(pid, &tb.scanner_ns).unwrap());
        let _ = child.stop(crate::process::Stop::TERMINATE);
    }

    #[test]
    fn every_animal_once() {
        let mut animals = Animal::ALL.to_vec();
        animals.sort();
        animals.dedup();
        assert_eq!(animals.len(), Animal::ALL.len(), "an animal twice in ALL");
    }
}
