//! Zoo daemons for logins, names, directories, file and code transfer, VPN and remote desktops:
//! vsftpd, sshd, telnetd (under inetutils-inetd), dnsmasq, krb5kdc, rpcbind, slapd, rsync,
//! openvpn, xrdp, Xtigervnc, svnserve and git daemon.
use super::{Ctx, chmod, run_setup, setup_error, write};
use crate::servers::{Daemon, DaemonError, require, start_sshd_at, start_vsftpd_at};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const READY: Duration = Duration::from_secs(15);

/// The lab's own starters panic (they are test fixtures); here a failure is an error.
fn no_panic(name: &'static str, f: impl FnOnce() -> Daemon) -> Result<Daemon, DaemonError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let detail = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        setup_error(name, "start", detail)
    })
}

/// vsftpd and sshd come from the lab's own starters, with their files in the zoo's directory.
pub fn vsftpd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    no_panic("vsftpd", || start_vsftpd_at(ctx.dir, ctx.place, 21))
}

pub fn sshd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    no_panic("sshd", || start_sshd_at(ctx.dir, ctx.place, 22))
}

pub fn telnetd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("telnetd")?;
    let conf = dir.join("inetd.conf");
    let telnetd = require("/usr/sbin/telnetd", "inetutils-telnetd");
    write(
        "telnetd",
        &conf,
        &format!(
            "{}:telnet stream tcp nowait root {} telnetd\n",
            ctx.addr(),
            telnetd.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("inetutils-inetd", "inetutils-inetd"));
    cmd.arg("-d")
        .arg(format!("--pidfile={}", dir.join("inetd.pid").display()))
        .arg(&conf);
    ctx.spawn("inetutils-inetd", &mut cmd, &dir, 23, READY)
}

pub fn dnsmasq(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("dnsmasq")?;
    let mut cmd = ctx.command(&require("dnsmasq", "dnsmasq-base"));
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--port=53",
        "--user=root",
        "--group=root",
        "--address=/zoo.tcprax.test/198.18.0.2",
    ])
    .arg(format!("--listen-address={}", ctx.addr()))
    .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()));
    ctx.spawn("dnsmasq", &mut cmd, &dir, 53, READY)
}

pub fn krb5kdc(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("krb5kdc")?;
    let d = dir.display();
    let addr = ctx.addr();
    let (krb5_conf, kdc_conf) = (dir.join("krb5.conf"), dir.join("kdc.conf"));
    write(
        "krb5kdc",
        &krb5_conf,
        &format!(
            "[libdefaults]\n default_realm = TCPRAX.TEST\n[realms]\n TCPRAX.TEST = {{\n  kdc = {addr}\n }}\n"
        ),
    )?;
    write(
        "krb5kdc",
        &kdc_conf,
        &format!(
            "[kdcdefaults]\n kdc_tcp_ports = 88\n[realms]\n TCPRAX.TEST = {{\n  \
             database_name = {d}/principal\n  key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n  \
             kdc_tcp_listen = {addr}:88\n }}\n"
        ),
    )?;
    let env = |cmd: &mut Command| {
        cmd.env("KRB5_CONFIG", &krb5_conf)
            .env("KRB5_KDC_PROFILE", &kdc_conf);
    };
    let mut create = Command::new(require("kdb5_util", "krb5-kdc"));
    env(&mut create);
    create.args(["-r", "TCPRAX.TEST", "create", "-s", "-P", "tcprax-zoo-only"]);
    run_setup("kdb5_util", &mut create)?;
    let mut cmd = ctx.command(&require("krb5kdc", "krb5-kdc"));
    env(&mut cmd);
    cmd.args(["-n", "-r", "TCPRAX.TEST", "-P"])
        .arg(dir.join("krb5kdc.pid"));
    ctx.spawn("krb5kdc", &mut cmd, &dir, 88, READY)
}

pub fn rpcbind(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("rpcbind")?;
    let mut cmd = ctx.command_private_run(&require("rpcbind", "rpcbind"), &["rpcbind"]);
    cmd.arg("-f");
    ctx.spawn("rpcbind", &mut cmd, &dir, 111, READY)
}

pub fn slapd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("slapd")?;
    let db = dir.join("db");
    std::fs::create_dir_all(&db).map_err(|e| setup_error("slapd", "create its db dir", e))?;
    let conf = dir.join("slapd.conf");
    write(
        "slapd",
        &conf,
        &format!(
            "include /etc/ldap/schema/core.schema\npidfile {}\nargsfile {}\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             database mdb\nsuffix \"dc=tcprax,dc=test\"\nrootdn \"cn=admin,dc=tcprax,dc=test\"\n\
             directory {}\nmaxsize 10485760\n",
            dir.join("slapd.pid").display(),
            dir.join("slapd.args").display(),
            db.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("slapd", "slapd"));
    cmd.args(["-d", "0", "-h"])
        .arg(format!("ldap://{}:389/", ctx.addr()))
        .arg("-f")
        .arg(&conf);
    ctx.spawn("slapd", &mut cmd, &dir, 389, READY)
}

pub fn rsyncd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("rsyncd")?;
    let public = dir.join("pub");
    std::fs::create_dir_all(&public).map_err(|e| setup_error("rsync", "create its module", e))?;
    let conf = dir.join("rsyncd.conf");
    write(
        "rsync",
        &conf,
        &format!(
            "pid file = {}\nuse chroot = no\n[pub]\n path = {}\n read only = yes\n comment = tcprax zoo\n",
            dir.join("rsyncd.pid").display(),
            public.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("rsync", "rsync"));
    cmd.args(["--daemon", "--no-detach", "--port=873"])
        .arg(format!("--address={}", ctx.addr()))
        .arg(format!("--config={}", conf.display()));
    ctx.spawn("rsync", &mut cmd, &dir, 873, READY)
}

/// A TLS-mode server (a static-key peer serves one connection and restarts), on TCP.
pub fn openvpn(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("openvpn")?;
    let mut cmd = ctx.command(&require("openvpn", "openvpn"));
    cmd.args([
        "--mode",
        "server",
        "--tls-server",
        "--proto",
        "tcp-server",
        "--port",
        "1194",
        "--dev",
        "tun",
        "--topology",
        "subnet",
        "--server",
        "198.18.200.0",
        "255.255.255.0",
        "--dh",
        "none",
        "--verb",
        "3",
    ])
    .arg("--local")
    .arg(ctx.addr())
    .arg("--ca")
    .arg(&ctx.cert.cert)
    .arg("--cert")
    .arg(&ctx.cert.cert)
    .arg("--key")
    .arg(&ctx.cert.key);
    ctx.spawn("openvpn", &mut cmd, &dir, 1194, READY)
}

pub fn xrdp(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("xrdp")?;
    let conf = dir.join("xrdp.ini");
    write(
        "xrdp",
        &conf,
        &format!(
            "[Globals]\nini_version=1\nfork=true\nport=tcp://{}:3389\nsecurity_layer=negotiate\n\
             crypt_level=high\ncertificate={}\nkey_file={}\nssl_protocols=TLSv1.2, TLSv1.3\n\
             [Logging]\nLogFile={}\nLogLevel=INFO\nEnableSyslog=false\n\
             [Xorg]\nname=Xorg\nlib=libxup.so\nusername=ask\npassword=ask\nip=127.0.0.1\nport=-1\n",
            ctx.addr(),
            ctx.cert.cert.display(),
            ctx.cert.key.display(),
            dir.join("xrdp-own.log").display()
        ),
    )?;
    let mut cmd = ctx.command_private_run(&require("xrdp", "xrdp"), &["xrdp"]);
    cmd.arg("--nodaemon").arg("--config").arg(&conf);
    ctx.spawn("xrdp", &mut cmd, &dir, 3389, READY)
}

/// An X display number no other X server here uses.
fn free_display() -> u32 {
    let base = 40 + std::process::id() % 400;
    (base..base + 200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X{n}-lock")).exists()
                && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        })
        .unwrap_or(base)
}

pub fn vnc(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("vnc")?;
    let display = free_display();
    let mut cmd = ctx.command(&require("Xtigervnc", "tigervnc-standalone-server"));
    cmd.arg(format!(":{display}"))
        .args([
            "-rfbport",
            "5901",
            "-SecurityTypes",
            "None",
            "-localhost",
            "0",
        ])
        .args(["-geometry", "800x600", "-nolisten", "tcp"])
        // Its default locks a client address out after 5 unauthenticated connections: the
        // benchmark's own repeated scans would otherwise see "Locked out" (RFB 003.003).
        .args(["-BlacklistThreshold", "1000000"])
        .arg("-interface")
        .arg(ctx.addr());
    ctx.spawn("Xtigervnc", &mut cmd, &dir, 5901, READY)
}

pub fn svnserve(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("svn")?;
    let repos = dir.join("repos");
    std::fs::create_dir_all(&repos).map_err(|e| setup_error("svnserve", "create repos", e))?;
    run_setup(
        "svnadmin",
        Command::new(require("svnadmin", "subversion"))
            .arg("create")
            .arg(repos.join("zoo")),
    )?;
    let mut cmd = ctx.command(&require("svnserve", "subversion"));
    cmd.args([
        "-d",
        "--foreground",
        "--listen-port",
        "3690",
        "--listen-host",
    ])
    .arg(ctx.addr())
    .arg("-r")
    .arg(&repos);
    ctx.spawn("svnserve", &mut cmd, &dir, 3690, READY)
}

pub fn git_daemon(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("git")?;
    let base = dir.join("repos");
    std::fs::create_dir_all(&base).map_err(|e| setup_error("git daemon", "create repos", e))?;
    let git = require("git", "git");
    run_setup(
        "git init",
        Command::new(&git)
            .args(["init", "--quiet", "--bare"])
            .arg(base.join("zoo.git")),
    )?;
    chmod(&base, 0o755).map_err(|e| setup_error("git daemon", "chmod repos", e))?;
    let mut cmd = ctx.command(&git);
    cmd.args(["daemon", "--reuseaddr", "--export-all", "--port=9418"])
        .arg(format!("--listen={}", ctx.addr()))
        .arg(format!("--base-path={}", base.display()))
        .arg(&base);
    ctx.spawn("git daemon", &mut cmd, &dir, 9418, READY)
}
