//! Zoo daemons for mail and chat, and TLS wrapping: Exim (SMTP over TLS on 465,
//! `tls_on_connect`), Dovecot (IMAPS, POP3S), Prosody (XMPP), ngIRCd (IRC) and stunnel around
//! the zoo's Redis.
use super::{Ctx, chmod, chown, setup_error, write};
use crate::servers::{Daemon, DaemonError, require};
use std::path::{Path, PathBuf};
use std::time::Duration;

const READY: Duration = Duration::from_secs(15);

/// Copies of the zoo certificate and key that `user` can read (daemons that drop root).
fn own_cert(
    ctx: &Ctx,
    daemon: &str,
    dir: &Path,
    user: &str,
) -> Result<(PathBuf, PathBuf), DaemonError> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::copy(&ctx.cert.cert, &cert).map_err(|e| setup_error(daemon, "copy the cert", e))?;
    std::fs::copy(&ctx.cert.key, &key).map_err(|e| setup_error(daemon, "copy the key", e))?;
    chmod(&key, 0o600).map_err(|e| setup_error(daemon, "chmod the key", e))?;
    chown(daemon, user, dir)?;
    Ok((cert, key))
}

/// Exim on 465 with `tls_on_connect_ports`, accepting no mail (every RCPT is denied).
pub fn exim(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("exim")?;
    for sub in ["spool", "log"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| setup_error("exim", "create dirs", e))?;
    }
    let (cert, key) = own_cert(ctx, "exim", &dir, "Debian-exim")?;
    let d = dir.display();
    let conf = dir.join("exim.conf");
    write(
        "exim",
        &conf,
        &format!(
            "primary_hostname = mail.zoo.tcprax.test\ndaemon_smtp_ports = 465\n\
             local_interfaces = {}\ntls_on_connect_ports = 465\ntls_advertise_hosts = *\n\
             tls_certificate = {}\ntls_privatekey = {}\nspool_directory = {d}/spool\n\
             log_file_path = {d}/log/%slog\npid_file_path = {d}/exim.pid\n\
             exim_user = Debian-exim\nexim_group = Debian-exim\nhost_lookup =\nrfc1413_hosts =\n\
             acl_smtp_rcpt = deny_all\nbegin acl\ndeny_all:\n  deny\nbegin routers\nbegin transports\n",
            ctx.addr(),
            cert.display(),
            key.display()
        ),
    )?;
    chown("exim", "Debian-exim", &dir)?;
    // Exim reads a config only if root owns it (and nobody else may write it).
    super::run_setup(
        "exim",
        std::process::Command::new("chown")
            .arg("root:root")
            .arg(&conf),
    )?;
    let mut cmd = ctx.command(&require("exim4", "exim4-daemon-light"));
    cmd.arg("-bdf").arg("-C").arg(&conf);
    ctx.spawn("exim", &mut cmd, &dir, 465, READY)
}

/// Dovecot with only its TLS listeners (993, 995) open.
pub fn dovecot(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("dovecot")?;
    let d = dir.display();
    let conf = dir.join("dovecot.conf");
    write(
        "dovecot",
        &conf,
        &format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nprotocols = imap pop3\nlisten = {}\n\
             ssl = yes\nssl_cert = <{}\nssl_key = <{}\nlog_path = {d}/dovecot-own.log\n\
             default_login_user = dovenull\ndefault_internal_user = dovecot\n\
             mail_location = maildir:{d}/mail/%u\n\
             passdb {{\n  driver = static\n  args = nopassword=y allow_nets=127.0.0.1/32\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = 0\n  }}\n  \
             inet_listener imaps {{\n    port = 993\n    ssl = yes\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n  \
             inet_listener pop3s {{\n    port = 995\n    ssl = yes\n  }}\n}}\n",
            ctx.addr(),
            ctx.cert.cert.display(),
            ctx.cert.key.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("dovecot", "dovecot-core"));
    cmd.arg("-F").arg("-c").arg(&conf);
    let daemon = ctx.spawn("dovecot", &mut cmd, &dir, 993, READY)?;
    let deadline = std::time::Instant::now() + READY;
    while !ctx.place.accepts(995) {
        if std::time::Instant::now() > deadline {
            return Err(setup_error(
                "dovecot",
                "wait for 995",
                "pop3s never listened",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(daemon)
}

/// Prosody for one virtual host, client-to-server only; it refuses to run as root.
pub fn prosody(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("prosody")?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| setup_error("prosody", "create data dir", e))?;
    let d = dir.display();
    let conf = dir.join("prosody.cfg.lua");
    write(
        "prosody",
        &conf,
        &format!(
            "pidfile = \"{d}/prosody.pid\"\ndata_path = \"{d}/data\"\n\
             interfaces = {{ \"{}\" }}\nc2s_ports = {{ 5222 }}\ns2s_ports = {{ }}\n\
             c2s_direct_tls_ports = {{ }}\nhttp_ports = {{ }}\nhttps_ports = {{ }}\n\
             admin_socket = \"{d}/prosody.sock\"\n\
             modules_enabled = {{ \"roster\"; \"saslauth\"; \"disco\"; \"ping\"; \"version\"; \"time\"; \"posix\" }}\n\
             modules_disabled = {{ \"s2s\" }}\n\
             log = {{ {{ levels = {{ min = \"info\" }}, to = \"console\" }} }}\n\
             VirtualHost \"zoo.tcprax.test\"\n",
            ctx.addr()
        ),
    )?;
    chown("prosody", "prosody", &dir)?;
    let mut cmd = ctx.command_as("prosody", &require("prosody", "prosody"));
    cmd.arg("-F").arg("--config").arg(&conf);
    ctx.spawn("prosody", &mut cmd, &dir, 5222, READY)
}

pub fn ngircd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("ngircd")?;
    let conf = dir.join("ngircd.conf");
    let motd = dir.join("ngircd.motd");
    write("ngircd", &motd, "tcprax zoo\n")?;
    write(
        "ngircd",
        &conf,
        &format!(
            "[Global]\n  Name = irc.zoo.tcprax.test\n  Info = tcprax zoo\n  Listen = {}\n  \
             Ports = 6667\n  PidFile = {}\n  MotdFile = {}\n\
             [Options]\n  DNS = no\n  Ident = no\n  PAM = no\n",
            ctx.addr(),
            dir.join("ngircd.pid").display(),
            motd.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("ngircd", "ngircd"));
    cmd.arg("-n").arg("-f").arg(&conf);
    ctx.spawn("ngircd", &mut cmd, &dir, 6667, READY)
}

/// stunnel on 6380 in front of the zoo's Redis on 6379 (start Redis first).
pub fn stunnel(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("stunnel")?;
    let conf = dir.join("stunnel.conf");
    let addr = ctx.addr();
    write(
        "stunnel",
        &conf,
        &format!(
            "foreground = yes\npid = {}\n[redis-tls]\naccept = {addr}:6380\nconnect = {addr}:6379\n\
             cert = {}\nkey = {}\n",
            dir.join("stunnel.pid").display(),
            ctx.cert.cert.display(),
            ctx.cert.key.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("stunnel4", "stunnel4"));
    cmd.arg(&conf);
    ctx.spawn("stunnel", &mut cmd, &dir, 6380, READY)
}
