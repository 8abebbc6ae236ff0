//! Zoo daemons that speak HTTP: nginx (HTTP and HTTPS), lighttpd, HAProxy, the Prometheus node
//! exporter (a Go server without a Server header), and two proxies, Squid and tinyproxy.
use super::{Ctx, chown, write};
use crate::servers::{Daemon, DaemonError, require, start_nginx_at};
use std::time::Duration;

const READY: Duration = Duration::from_secs(15);

/// nginx on 80 and 443 (ssl, http2), from the lab's own starter.
pub fn nginx(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        start_nginx_at(ctx.dir, ctx.cert, ctx.place, 80, 443).0
    }));
    started.map_err(|panic| {
        let detail = panic
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "it panicked".into());
        super::setup_error("nginx", "start", detail)
    })
}

pub fn lighttpd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("lighttpd")?;
    let root = dir.join("www");
    std::fs::create_dir_all(&root)
        .map_err(|e| super::setup_error("lighttpd", "create its root", e))?;
    write(
        "lighttpd",
        &root.join("index.html"),
        "<html><head><title>zoo</title></head></html>\n",
    )?;
    let conf = dir.join("lighttpd.conf");
    write(
        "lighttpd",
        &conf,
        &format!(
            "server.document-root = \"{}\"\nserver.port = 8080\nserver.bind = \"{}\"\n\
             server.pid-file = \"{}\"\nserver.errorlog = \"{}\"\n\
             index-file.names = ( \"index.html\" )\n",
            root.display(),
            ctx.addr(),
            dir.join("lighttpd.pid").display(),
            dir.join("error.log").display()
        ),
    )?;
    let mut cmd = ctx.command(&require("lighttpd", "lighttpd"));
    cmd.arg("-D").arg("-f").arg(&conf);
    ctx.spawn("lighttpd", &mut cmd, &dir, 8080, READY)
}

/// A frontend with no server behind it: every request gets HAProxy's own 503 page.
pub fn haproxy(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("haproxy")?;
    let conf = dir.join("haproxy.cfg");
    write(
        "haproxy",
        &conf,
        &format!(
            "global\n  pidfile {}\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  \
             timeout server 30s\nfrontend zoo\n  bind {}:8404\n  default_backend nothing\n\
             backend nothing\n",
            dir.join("haproxy.pid").display(),
            ctx.addr()
        ),
    )?;
    let mut cmd = ctx.command(&require("haproxy", "haproxy"));
    cmd.arg("-db").arg("-f").arg(&conf);
    ctx.spawn("haproxy", &mut cmd, &dir, 8404, READY)
}

pub fn node_exporter(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("node-exporter")?;
    let mut cmd = ctx.command(&require(
        "prometheus-node-exporter",
        "prometheus-node-exporter",
    ));
    cmd.arg(format!("--web.listen-address={}:9100", ctx.addr()));
    ctx.spawn("prometheus-node-exporter", &mut cmd, &dir, 9100, READY)
}

/// Squid as Debian ships it would answer: a forward proxy that denies what it does not allow.
pub fn squid(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("squid")?;
    chown("squid", "proxy", &dir)?;
    let conf = dir.join("squid.conf");
    write(
        "squid",
        &conf,
        &format!(
            "http_port {}:3128\nacl localnet src 198.18.0.0/15\nhttp_access allow localnet\n\
             http_access deny all\ncache_effective_user proxy\npid_filename {}\n\
             cache_log {}\naccess_log none\ncache_store_log none\ncoredump_dir {}\n\
             dns_nameservers 127.0.0.1\nshutdown_lifetime 1 seconds\n",
            ctx.addr(),
            dir.join("squid.pid").display(),
            dir.join("cache.log").display(),
            dir.display()
        ),
    )?;
    let mut cmd = ctx.command(&require("squid", "squid"));
    cmd.arg("-N").arg("-f").arg(&conf);
    ctx.spawn("squid", &mut cmd, &dir, 3128, READY)
}

pub fn tinyproxy(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("tinyproxy")?;
    let conf = dir.join("tinyproxy.conf");
    write(
        "tinyproxy",
        &conf,
        &format!(
            "User nobody\nGroup nogroup\nPort 8888\nListen {}\nTimeout 600\n\
             Allow 198.18.0.0/15\nMaxClients 100\nLogLevel Info\n",
            ctx.addr()
        ),
    )?;
    let mut cmd = ctx.command(&require("tinyproxy", "tinyproxy"));
    cmd.arg("-d").arg("-c").arg(&conf);
    ctx.spawn("tinyproxy", &mut cmd, &dir, 8888, READY)
}
