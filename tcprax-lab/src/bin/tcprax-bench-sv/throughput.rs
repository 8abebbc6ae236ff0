//! `--throughput`: -sV services per second over 16,384 open ports that answer like services.
//!
//! The target namespace answers for all of 198.19.0.0/16 (AnyIP: `ip route add local ... dev
//! lo`); tokio fakes listen on 16 ports of 0.0.0.0 there, so each of the 1,024 addresses of
//! 198.19.0.0/22 has the same 16 services: 8 that greet first (FTP, SSH, SMTP, POP3, IMAP,
//! MySQL, VNC, IRC banners), 6 HTTP servers (different `Server` headers, one without), and 2
//! that accept and stay silent (the slowest case for any -sV: it has to wait). `tcprax -sT -sV`
//! scans them from the scanner namespace; the figure is open ports / `service_detection_s`.
use crate::report::wln;
use crate::scan::{Scan, TcpraxRun, run_tcprax};
use anyhow::{Context as _, ensure};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use tcprax_lab::interrupt;
use tcprax_lab::servers::zoo::score::canonical_service;
use tcprax_lab::servers::{Behaviour, Fake, Place, TempDir, start_fake_at};
use tcprax_lab::testbed::{Testbed, have_privileges};

const ANYIP: &str = "198.19.0.0/16";
/// 1,024 addresses × 16 ports.
const TARGETS: &str = "198.19.0.0/22";

/// The services every address has: port, what it does, the service name a right answer has
/// (None: silent, nothing to name).
fn services() -> Vec<(u16, Behaviour, Option<&'static str>)> {
    const HTTP_404: &str = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
        X-Content-Type-Options: nosniff\r\nContent-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n";
    let http = |server: &'static str| Behaviour::Http(server);
    vec![
        (21, Behaviour::Banner("220 (vsFTPd 3.0.3)\r\n"), Some("ftp")),
        (
            22,
            Behaviour::Banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
            Some("ssh"),
        ),
        (
            25,
            Behaviour::Banner(
                "220 mail.zoo.tcprax.test ESMTP Exim 4.96 Tue, 01 Dec 2026 18:00:00 +0000\r\n",
            ),
            Some("smtp"),
        ),
        (
            110,
            Behaviour::Banner("+OK Dovecot (Debian) ready.\r\n"),
            Some("pop3"),
        ),
        (
            143,
            Behaviour::Banner(
                "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
            ),
            Some("imap"),
        ),
        (3306, Behaviour::MysqlGreeting("8.0.36"), Some("mysql")),
        (5900, Behaviour::Banner("RFB 003.008\n"), Some("vnc")),
        (
            6667,
            Behaviour::Banner(":irc.zoo.tcprax.test NOTICE * :*** Looking up your hostname...\r\n"),
            Some("irc"),
        ),
        (
            80,
            http(
                "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\nContent-Length: 44\r\nConnection: close\r\n\r\n<html><head><title>zoo</title></head></html>",
            ),
            Some("http"),
        ),
        (
            8000,
            http(
                "HTTP/1.1 200 OK\r\nServer: Apache/2.4.57 (Debian)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            Some("http"),
        ),
        (
            8008,
            http(
                "HTTP/1.1 403 Forbidden\r\nServer: lighttpd/1.4.69\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            Some("http"),
        ),
        (8080, http(HTTP_404), Some("http")),
        (
            8081,
            http(
                "HTTP/1.1 302 Found\r\nServer: Jetty(9.4.50.v20221201)\r\nLocation: /login\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            Some("http"),
        ),
        (
            8888,
            http(
                "HTTP/1.1 400 Bad Request\r\nServer: tinyproxy/1.11.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            Some("http"),
        ),
        (9000, Behaviour::SilentTcp, None),
        (9999, Behaviour::SilentTcp, None),
    ]
}

/// Raise this process's open-file limit to its hard limit (the fakes and tcprax, which inherits
/// it, hold thousands of sockets).
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a plain struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

/// Run the measurement; the result is Markdown.
pub fn run(
    tcprax: Option<&Path>,
    runs: u32,
    tcprax_args: &[String],
    save: Option<&Path>,
) -> anyhow::Result<String> {
    let tcprax = tcprax_lab::locate::tcprax_binary(tcprax)?;
    ensure!(
        have_privileges(),
        "needs root: it creates network namespaces"
    );
    let nofile = raise_nofile();
    let tb = Testbed::new("trxsvt").context("create namespace testbed")?;
    tb.target_anyip(ANYIP)
        .context("route the AnyIP range to the target")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let dir = TempDir::new("svthroughput");
    let place = Place::netns(&tb.target_ns, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let services = services();
    let _fakes: Vec<Fake> = services
        .iter()
        .map(|(port, behaviour, _)| rt.block_on(start_fake_at(behaviour.clone(), &place, *port)))
        .collect();
    let ports = services
        .iter()
        .map(|(p, _, _)| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let expected = 1024 * services.len();
    eprintln!("{expected} services on {TARGETS} (ports {ports}); open files: {nofile}");
    let mut out = String::new();
    let extra: Vec<&str> = std::iter::once("-q")
        .chain(tcprax_args.iter().map(String::as_str))
        .collect();
    // -sS -sV and -sT -sV, and -sT alone: the connect scan's own time, without -sV.
    let variants = [("-sS", true), ("-sT", true), ("-sT", false)];
    let mut results: Vec<(TcpraxRun, String, String)> = Vec::new();
    for i in 0..runs {
        for (scan, service_detection) in variants {
            interrupt::check()?;
            let before = crate::load();
            let what = Scan {
                scan,
                service_detection,
                target: TARGETS,
                ports: &ports,
                extra: &extra,
            };
            let run = run_tcprax(&tb, &tcprax, &what, &dir, i + 1)?;
            results.push((run, before, crate::load()));
        }
    }
    wln!(
        out,
        "tcprax over {expected} answering ports ({TARGETS} × {} ports, AnyIP in a namespace); tcprax: `{}`\n",
        services.len(),
        format!("{} {}", tcprax.display(), extra.join(" "))
    );
    wln!(
        out,
        "| run | open | named as expected | -sV time | services/s (open / -sV time) | wall time | services/s (open / wall) | load before → after |"
    );
    wln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
    let silent = 1024 * services.iter().filter(|s| s.2.is_none()).count();
    for (run, before, after) in &results {
        let open = run.ports.values().filter(|p| p.state == "open").count();
        let named = run
            .ports
            .iter()
            .filter(|((_, port), p)| {
                let want = services
                    .iter()
                    .find(|(sp, _, _)| sp == port)
                    .and_then(|s| s.2);
                want.is_some_and(|w| {
                    p.answer.service.as_deref().and_then(canonical_service) == canonical_service(w)
                })
            })
            .count();
        let wall = run.wall.as_secs_f64();
        let (named, sv_time, sv_rate) = if run.service_detection_s.is_finite() {
            (
                format!("{named} of {}", expected - silent),
                format!("{:.2} s", run.service_detection_s),
                format!("{:.0}", open as f64 / run.service_detection_s),
            )
        } else {
            ("(no -sV)".into(), "-".into(), "-".into())
        };
        wln!(
            out,
            "| `{}` #{} | {open} of {expected} | {named} | {sv_time} | {sv_rate} | {wall:.2} s | {:.0} | {before} → {after} |",
            run.label,
            run.number,
            open as f64 / wall
        );
    }
    if let Some(save) = save {
        crate::save_outputs(&dir, save)?;
    }
    Ok(out)
}
