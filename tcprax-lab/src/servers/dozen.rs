//! The dozen services of tcprax's namespace -sV test and of the -sV benchmark, started together.
use super::daemons::{
    Daemon, python_smtpd_available, start_nginx_at, start_python_smtpd_at, start_sshd_at,
    start_tls10_at, start_vsftpd_at,
};
use super::fakes::{Behaviour, Fake, start_fake_at};
use super::{Place, TempDir, TestCert};

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
    /// Held only to be dropped: each guard stops its server. Declared first, dropped first.
    _fakes: Vec<Fake>,
    _daemons: Vec<Daemon>,
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
        _fakes: fakes,
        _daemons: daemons,
    }
}
