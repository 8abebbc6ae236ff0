//! Service detection (-sV): which of six classes an open port falls in, what it said, and what
//! its TLS handshake showed.
//!
//! [`ServiceDetector::detect`] runs ordered probes, each on a fresh connection, every wait bounded
//! by [`Waits`] (scaled to the host's RTT, capped by the probe timeout):
//!
//! 1. connect and listen: a banner means class 1 (SSH, FTP, SMTP, MySQL, ...);
//! 2. a TLS handshake, *before* any plain-text request, because a TLS server is also a TCP server
//!    and would otherwise be misread: a banner over TLS is class 2, an HTTP answer over TLS
//!    class 4, anything else class 6. The first handshake offers no ALPN (a server with strict
//!    ALPN refuses offers it does not serve); a second one offering h2 and http/1.1 runs
//!    during the banner wait, the JARM-like fingerprint ([`jarm`]) after it. When rustls refuses the server (TLS
//!    1.0/1.1, SSLv3, old suites, an alert), a hand-made ClientHello ([`crate::wire::tls`]) still
//!    recognises it and reads its version, suite and clear-text certificate;
//! 3. HTTP GET over plain TCP: class 3. Over TCP and TLS, `/favicon.ico` is fetched alongside
//!    `/` for its hash, and [`http`] reads product hints beyond the `Server` header;
//! 4. generic lines: class 5, with or without an answer; a port silent to the GET also gets the
//!    git protocol's request alongside.
//!
//! Products and versions come from the data table in [`patterns`] (CPE names from [`cpe`]); a
//! product named without its version gets one more request that it answers with it
//! ([`followup`]: an exporter's `/metrics`, beanstalkd's `stats`);
//! responses are made printable by [`sanitize()`]. Detection never fails: resets, silence and
//! garbage are outcomes.
//!
//! Ports these steps leave unnamed go on to nmap's probe file when the scan has one
//! ([`nmap`]): its lines first read the answers above again, then its probes go out.
mod cert;
pub mod cpe;
mod followup;
pub mod http;
mod jarm;
pub mod nmap;
pub mod patterns;
pub mod sanitize;
mod tls;

pub use cert::{cert_info, raw_common_names};
pub use patterns::{Identified, identify};
pub use sanitize::sanitize;

use crate::config::ServiceOptions;
use crate::model::{ServiceClass, ServiceInfo, TlsInfo};
use crate::wire::tls::{self as tls_wire, ServerReply};
use bytes::{BufMut as _, Bytes, BytesMut};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tls::TlsConfigs;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Why one probe step got no conversation. Internal to a detection: [`ServiceDetector::detect`]
/// turns every one of these into an outcome.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("connect to {addr} failed")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("connect to {addr} timed out after {after:?}")]
    ConnectTimeout { addr: SocketAddr, after: Duration },
    #[error("TLS handshake with {addr} timed out after {after:?}")]
    HandshakeTimeout { addr: SocketAddr, after: Duration },
    #[error("{addr} answered the TLS ClientHello with something that is not TLS")]
    NotTls { addr: SocketAddr },
    #[error("TLS handshake with {addr} failed")]
    Handshake {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What we send to ask a silent server to speak HTTP. `Connection: close` makes the server end
/// the response with EOF, so reading stops without waiting for an idle gap.
fn http_request(target: SocketAddr) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {target}\r\nUser-Agent: tcprax\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// The git protocol's first request as one pkt-line (four hex digits of length, then
/// `git-upload-pack PATH\0host=HOST\0`): git daemon answers with an `ERR` pkt-line (no such
/// repository) or a ref advertisement, both named by [`patterns`].
fn git_request(target: SocketAddr) -> Vec<u8> {
    let body = format!("git-upload-pack /\0host={}\0", target.ip());
    let mut line = format!("{:04x}", body.len() + 4).into_bytes();
    line.extend_from_slice(body.as_bytes());
    line
}

/// Lines most line-oriented servers answer: blank lines, HELP, memcached's "version", and
/// Redis's "INFO server" (its answer carries `redis_version:`).
const GENERIC_LINES: &[u8] = b"\r\n\r\nHELP\r\nversion\r\nINFO server\r\n";

/// How many response bytes one probe reads (patterns look at this much; reports keep 1024).
const READ_CAP: usize = 16 * 1024;
/// How much of a TLS server's first flight we read (a certificate chain fits comfortably).
const HELLO_CAP: usize = 64 * 1024;
/// Room made in the read buffer before each read: most answers arrive in one.
const READ_CHUNK: usize = 4096;
/// RTT assumed when the scan did not measure one.
const DEFAULT_RTT: Duration = Duration::from_millis(50);
/// Hosts whose semaphore has been released are pruned from the map when it grows past this.
const HOST_MAP_PRUNE: usize = 1024;

/// Every wait of one detection, derived from the host's RTT and capped by the probe timeout.
///
/// The silent-banner wait dominates -sV time (every non-banner service pays it), so it is an
/// RTT multiple plus a small constant, not nmap's fixed seconds: a server that greets does so as
/// soon as it accepts, one RTT after our SYN-ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waits {
    pub connect: Duration,
    /// Silence before deciding a server does not speak first.
    pub banner: Duration,
    /// A whole TLS handshake (two RTTs plus the server's signature).
    pub handshake: Duration,
    /// From our request to the first byte of the answer.
    pub response: Duration,
    /// Quiet gap that ends a response once it has started.
    pub idle: Duration,
    /// Upper bound of any one read phase.
    pub cap: Duration,
}

impl Waits {
    pub fn new(probe_timeout: Duration, rtt: Option<Duration>) -> Self {
        let cap = probe_timeout.max(Duration::from_millis(10));
        let rtt = rtt.unwrap_or(DEFAULT_RTT).min(cap);
        let ms = Duration::from_millis;
        let scaled =
            |n: u32, constant: Duration| (rtt.saturating_mul(n).saturating_add(constant)).min(cap);
        Waits {
            connect: scaled(3, ms(500)),
            banner: scaled(4, ms(250)),
            handshake: scaled(4, ms(300)),
            response: scaled(4, ms(300)),
            idle: scaled(2, ms(20)),
            cap,
        }
    }
}

struct Inner {
    opts: ServiceOptions,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<IpAddr, Weak<Semaphore>>>,
    tls: Option<TlsConfigs>,
    /// nmap's probe file, when the scan found one.
    probes: Option<Arc<nmap::ProbeSource>>,
}

/// Runs service detection with a global and a per-host concurrency limit. Cheap to clone: clones
/// share the limits.
#[derive(Clone)]
pub struct ServiceDetector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServiceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDetector")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

impl ServiceDetector {
    pub fn new(opts: &ServiceOptions) -> Self {
        Self::with_probes(opts, None)
    }

    /// A detector that hands the ports its own steps leave unnamed to nmap's probe file.
    pub fn with_probes(opts: &ServiceOptions, probes: Option<Arc<nmap::ProbeSource>>) -> Self {
        let permits = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
        ServiceDetector {
            inner: Arc::new(Inner {
                opts: opts.clone(),
                global: Arc::new(Semaphore::new(permits(opts.concurrency))),
                hosts: Mutex::new(HashMap::new()),
                tls: TlsConfigs::new(),
                probes,
            }),
        }
    }

    /// Detect the service on `addr:port`. Never fails: a port that resets or hangs still yields a
    /// class with what was seen. `rtt` scales the waits (see [`Waits`]).
    pub async fn detect(&self, addr: IpAddr, port: u16, rtt: Option<Duration>) -> ServiceInfo {
        // Per-host first, so a host queued behind its own limit holds no global permit.
        let host = self.host_semaphore(addr);
        let _host_permit = host.acquire_owned().await.ok();
        let _global_permit = self.inner.global.clone().acquire_owned().await.ok();
        let waits = Waits::new(self.inner.opts.probe_timeout, rtt);
        let target = SocketAddr::new(addr, port);
        let mut seen = nmap::Seen::default();
        let info = self.run(target, &waits, &mut seen).await;
        // Only ports the steps above left unnamed pay for the probe file.
        let info = match &self.inner.probes {
            Some(source) if info.service.is_none() => {
                self.refine(source, target, &waits, &seen, info).await
            }
            _ => info,
        };
        // A product named without its version (by either) may tell it to one more request
        // ([`followup`]).
        self.follow_up(target, &waits, info).await
    }

    fn host_semaphore(&self, addr: IpAddr) -> Arc<Semaphore> {
        let mut hosts = self
            .inner
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sem) = hosts.get(&addr).and_then(Weak::upgrade) {
            return sem;
        }
        if hosts.len() >= HOST_MAP_PRUNE {
            hosts.retain(|_, sem| sem.strong_count() > 0);
        }
        let sem = Arc::new(Semaphore::new(
            self.inner.opts.per_host.clamp(1, Semaphore::MAX_PERMITS),
        ));
        hosts.insert(addr, Arc::downgrade(&sem));
        sem
    }

    async fn run(&self, target: SocketAddr, w: &Waits, seen: &mut nmap::Seen) -> ServiceInfo {
        // 1. Does the server speak first? A port that no longer accepts ends detection here.
        let Ok(mut stream) = connect(target, w).await else {
            return report(ServiceClass::GenericTcp, b"", None);
        };
        let banner = read_response(&mut stream, w.banner, w).await;
        drop(stream);
        seen.banner = banner.clone();
        if !banner.is_empty() {
            return report(ServiceClass::TcpServerInitiated, &banner, None);
        }
        // 2. TLS, before any plain-text request.
        if let Some(info) = self.tls_stage(target, w, seen).await {
            return info;
        }
        // 3. HTTP over TCP, with the favicon request alongside.
        let get = http_request(target);
        let (http, favicon) = tokio::join!(plain_exchange(target, &get, w), async {
            match connect(target, w).await {
                Ok(mut s) => http::fetch_favicon(&mut s, target, w).await,
                Err(_) => Bytes::new(),
            }
        });
        seen.http = http.clone();
        if http.starts_with(b"HTTP/") {
            return http::report(ServiceClass::Http, &http, &favicon, None);
        }
        if identify(&http).is_some() {
            // A known non-HTTP service answered the GET (Redis does): no need to ask again.
            return report(ServiceClass::GenericTcp, &http, None);
        }
        // 4. Generic lines; beside them, on a port that said nothing to the GET either, the git
        // protocol's request (git daemon is silent until asked in its own protocol).
        let (generic, git) = tokio::join!(plain_exchange(target, GENERIC_LINES, w), async {
            if http.is_empty() {
                plain_exchange(target, &git_request(target), w).await
            } else {
                Bytes::new()
            }
        });
        seen.generic = generic.clone();
        if identify(&generic).is_none() && identify(&git).is_some() {
            return report(ServiceClass::GenericTcp, &git, None);
        }
        report(
            ServiceClass::GenericTcp,
            if generic.is_empty() { &http } else { &generic },
            None,
        )
    }

    /// Classes 2, 4 and 6, or None if the port does not speak TLS.
    ///
    /// The first handshake offers no ALPN, as nmap's does: a server with strict ALPN (Exim
    /// since 4.95) refuses a ClientHello offering protocols it does not serve. A second one,
    /// offering h2 and http/1.1, runs during the banner wait: it learns the ALPN the report
    /// shows, and an agreed HTTP protocol ends the banner wait early. The JARM-like fingerprint
    /// runs after the banner wait, beside the requests that follow it.
    async fn tls_stage(
        &self,
        target: SocketAddr,
        w: &Waits,
        seen: &mut nmap::Seen,
    ) -> Option<ServiceInfo> {
        let Some(configs) = &self.inner.tls else {
            return legacy_stage(target, w).await;
        };
        let stream = match handshake(target, &configs.plain, w).await {
            Ok(s) => s,
            // rustls would not finish, but the peer answered in some way: an old TLS server, or
            // something else; the hand-made ClientHello tells which.
            Err(ProbeError::Handshake { .. }) => return legacy_stage(target, w).await,
            Err(_) => return None,
        };
        Some(tls_conversation(target, stream, configs, w, seen).await)
    }
}

/// A TLS server rustls will not talk to: what the hand-made ClientHello and the fingerprint
/// show, or None if the peer is not TLS.
async fn legacy_stage(target: SocketAddr, w: &Waits) -> Option<ServiceInfo> {
    let info = legacy_tls(target, w).await?;
    let jarm = jarm::fingerprint(target, *w).await;
    Some(report(
        ServiceClass::GenericTls,
        b"",
        Some(TlsInfo { jarm, ..info }),
    ))
}

/// Everything after the first handshake: a banner, else HTTP, else the generic lines; the ALPN
/// handshake runs during the banner wait. The fingerprint's ten handshakes start only once the
/// banner wait is over (on a busy server they would delay the banner): beside the HTTP
/// requests, or after the banner.
async fn tls_conversation(
    target: SocketAddr,
    mut stream: TlsStream<TcpStream>,
    configs: &TlsConfigs,
    w: &Waits,
    seen: &mut nmap::Seen,
) -> ServiceInfo {
    let info = tls::tls_info(stream.get_ref().1);
    let alpn = learn_alpn(target, &configs.alpn, w);
    tokio::pin!(alpn);
    let mut learned: Option<Option<String>> = None;
    let banner = {
        let banner = read_response(&mut stream, w.banner, w);
        tokio::pin!(banner);
        tokio::select! {
            b = &mut banner => b,
            a = &mut alpn => {
                let http = is_http_alpn(a.as_deref());
                learned = Some(a);
                // An agreed HTTP protocol: the client speaks first, no banner is coming.
                if http { Bytes::new() } else { banner.await }
            }
        }
    };
    drop(stream);
    seen.banner = banner.clone();
    if !banner.is_empty() {
        let jarm = jarm::fingerprint(target, *w).await;
        return report(
            ServiceClass::TlsServerInitiated,
            &banner,
            Some(TlsInfo { jarm, ..info }),
        );
    }
    let alpn = match learned {
        Some(a) => a,
        None => alpn.await,
    };
    let (response, favicon, jarm) = tokio::join!(
        async {
            match handshake(target, &configs.http, w).await {
                Ok(mut s) => exchange(&mut s, &http_request(target), w).await,
                Err(_) => Bytes::new(),
            }
        },
        async {
            match handshake(target, &configs.http, w).await {
                Ok(mut s) => http::fetch_favicon(&mut s, target, w).await,
                Err(_) => Bytes::new(),
            }
        },
        jarm::fingerprint(target, *w)
    );
    let info = TlsInfo { alpn, jarm, ..info };
    seen.http = response.clone();
    if response.starts_with(b"HTTP/") {
        return http::report(ServiceClass::Https, &response, &favicon, Some(info));
    }
    if identify(&response).is_some() {
        return report(ServiceClass::GenericTls, &response, Some(info));
    }
    let response = match handshake(target, &configs.plain, w).await {
        Ok(mut s) => exchange(&mut s, GENERIC_LINES, w).await,
        Err(_) => Bytes::new(),
    };
    seen.generic = response.clone();
    report(ServiceClass::GenericTls, &response, Some(info))
}

fn is_http_alpn(alpn: Option<&str>) -> bool {
    matches!(alpn, Some("h2" | "http/1.1"))
}

/// The ALPN protocol a server picks from h2 and http/1.1; None when it picks none or refuses
/// the offer.
async fn learn_alpn(
    target: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    w: &Waits,
) -> Option<String> {
    let stream = handshake(target, config, w).await.ok()?;
    tls::tls_info(stream.get_ref().1).alpn
}

/// Build the report for `class` from the response that decided it.
fn report(class: ServiceClass, response: &[u8], tls: Option<TlsInfo>) -> ServiceInfo {
    let id = identify(response);
    let matched_by = id.as_ref().map(|_| "builtin".to_owned());
    let (service, product, version, extrainfo, hostname) = match id {
        Some(Identified {
            service,
            product,
            version,
            extrainfo,
            hostname,
        }) => {
            let service = if tls.is_some() {
                patterns::tls_service(&service)
            } else {
                service
            };
            (Some(service), product, version, extrainfo, hostname)
        }
        None => (None, None, None, None, None),
    };
    let title = match class {
        ServiceClass::Http | ServiceClass::Https => patterns::http_title(response),
        _ => None,
    };
    let cpe = product
        .as_deref()
        .and_then(|p| cpe::cpe(p, version.as_deref()))
        .into_iter()
        .collect();
    ServiceInfo {
        class,
        service,
        product,
        version,
        title,
        response: sanitize(response),
        tls,
        extrainfo,
        hostname,
        cpe,
        matched_by,
        ..ServiceInfo::empty(class)
    }
}

async fn connect(target: SocketAddr, w: &Waits) -> Result<TcpStream, ProbeError> {
    match timeout(w.connect, TcpStream::connect(target)).await {
        Ok(Ok(stream)) => {
            // Probes are single small writes; do not let Nagle hold them back.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(source)) => Err(ProbeError::Connect {
            addr: target,
            source,
        }),
        Err(_) => Err(ProbeError::ConnectTimeout {
            addr: target,
            after: w.connect,
        }),
    }
}

async fn handshake(
    target: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    w: &Waits,
) -> Result<TlsStream<TcpStream>, ProbeError> {
    let tcp = connect(target, w).await?;
    // An IP address as server name: rustls sends no SNI for it, as RFC 6066 requires.
    let name = rustls::pki_types::ServerName::from(target.ip());
    match timeout(
        w.handshake,
        TlsConnector::from(config.clone()).connect(name, tcp),
    )
    .await
    {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(tls::classify_failure(target, source)),
        Err(_) => Err(ProbeError::HandshakeTimeout {
            addr: target,
            after: w.handshake,
        }),
    }
}

/// Connect, send `request`, read the answer; empty if the port refused, reset or stayed silent.
async fn plain_exchange(target: SocketAddr, request: &[u8], w: &Waits) -> Bytes {
    match connect(target, w).await {
        Ok(mut stream) => exchange(&mut stream, request, w).await,
        Err(_) => Bytes::new(),
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    w: &Waits,
) -> Bytes {
    // A failed write still leaves whatever the server sent before closing worth reading.
    let _ = timeout(w.response, async {
        stream.write_all(request).await?;
        stream.flush().await
    })
    .await;
    read_response(stream, w.response, w).await
}

/// Read until EOF, an error, [`READ_CAP`] bytes, `first_wait` of silence before the first byte
/// or `w.idle` after it, and never longer than `w.cap` in all.
async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    first_wait: Duration,
    w: &Waits,
) -> Bytes {
    read_until(stream, READ_CAP, first_wait, w, |_| false).await
}

/// The read loop of every probe: reads straight into one buffer (no bounce chunk) of at most
/// `cap` bytes, until EOF, an error, a full buffer, `done` saying the answer is complete,
/// `first_wait` of silence before the first byte or `w.idle` after it, and never longer than
/// `w.cap` in all.
async fn read_until<S: AsyncRead + Unpin>(
    stream: &mut S,
    cap: usize,
    first_wait: Duration,
    w: &Waits,
    done: impl Fn(&[u8]) -> bool,
) -> Bytes {
    let hard_stop = Instant::now() + w.cap;
    let mut buf = BytesMut::new();
    while buf.len() < cap {
        let wait = if buf.is_empty() { first_wait } else { w.idle };
        buf.reserve(READ_CHUNK.min(cap - buf.len()));
        // The limit keeps the read inside the cap, however much room `reserve` made.
        let room = cap - buf.len();
        let read = timeout_at(
            (Instant::now() + wait).min(hard_stop),
            stream.read_buf(&mut (&mut buf).limit(room)),
        )
        .await;
        match read {
            Ok(Ok(n)) if n > 0 => {
                if done(&buf) {
                    break;
                }
            }
            _ => break,
        }
    }
    buf.freeze()
}

/// Send the hand-made ClientHello and read the server's first flight; None if it is not TLS.
async fn legacy_tls(target: SocketAddr, w: &Waits) -> Option<TlsInfo> {
    let mut stream = connect(target, w).await.ok()?;
    let hello = tls_wire::client_hello(None, rand::random());
    if !matches!(
        timeout(w.response, stream.write_all(&hello)).await,
        Ok(Ok(()))
    ) {
        return None;
    }
    let buf = read_until(&mut stream, HELLO_CAP, w.handshake, w, |flight| {
        tls_wire::parse_reply(flight).is_final()
    })
    .await;
    let info = |version: u16| TlsInfo {
        version: tls_wire::version_name(version),
        ..TlsInfo::default()
    };
    match tls_wire::parse_reply(&buf) {
        ServerReply::Hello(h) => Some(TlsInfo {
            cipher: tls_wire::suite_name(h.cipher_suite).map(str::to_owned),
            certificate: h.certificate.as_deref().map(cert_info),
            ..info(h.version)
        }),
        ServerReply::Alert { record_version, .. } => Some(info(record_version)),
        // Valid TLS framing that ended early (a truncated flight) is still TLS.
        ServerReply::Incomplete => tls_wire::record_version(&buf).map(info),
        ServerReply::NotTls => None,
    }
}

#[cfg(test)]
mod tests;
