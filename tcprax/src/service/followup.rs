//! Follow-up requests: once the fast path has named a service (or product) but not its version,
//! one more request that this product is known to answer with its version, on a fresh
//! connection (in TLS when the port speaks TLS), bounded by the same waits as every probe.
//!
//! The table [`FOLLOW_UPS`] says which: a product or service, what to send (a line, or an HTTP
//! GET of a path), and the regex whose first group is the version. It runs after the fast path
//! and after nmap's probe file, whichever named the port. Ports named with a version, and ports
//! the table does not list, pay nothing.
use super::{ServiceDetector, Waits, connect, cpe, handshake, read_until};
use crate::model::ServiceInfo;
use bytes::Bytes;
use regex::bytes::Regex;
use std::net::SocketAddr;
use std::sync::LazyLock;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

/// What a follow-up sends.
#[derive(Clone, Copy, Debug)]
enum Request {
    /// These bytes, as they are.
    Line(&'static [u8]),
    /// `GET path` over HTTP/1.1 (HTTPS on a TLS port).
    Get(&'static str),
    /// An IRC registration (NICK and USER) under a random nick, so that two scans of one
    /// server do not refuse each other's nick; 7 characters (RFC 2812 allows 9, ngIRCd's
    /// default too).
    IrcRegister,
}

/// Which ports get a follow-up: those whose product is `product` (when given; else whose
/// service, without a TLS `ssl/` prefix, is `service`).
#[derive(Clone, Copy, Debug)]
struct FollowUp {
    service: &'static str,
    product: Option<&'static str>,
    request: Request,
    /// The version is the first group.
    version: &'static str,
    /// The product to report with that version when nothing named one.
    names: Option<&'static str>,
}

static FOLLOW_UPS: &[FollowUp] = &[
    // The exporter's landing page has no version; its own metrics do.
    FollowUp {
        service: "http",
        product: Some("Prometheus Node Exporter"),
        request: Request::Get("/metrics"),
        version: r#"(?m)^node_exporter_build_info\{[^}\n]*\bversion="(\d[\w.\-]*)""#,
        names: None,
    },
    // beanstalkd's `stats` is a YAML document with `version: 1.12` (quoted by some releases).
    FollowUp {
        service: "beanstalkd",
        product: None,
        request: Request::Line(b"stats\r\n"),
        version: r#"(?m)^version: "?(\d[\w.]*)"?\r?$"#,
        names: None,
    },
    // Redis named from an error line (the GET's arity error) tells its version to INFO.
    FollowUp {
        service: "redis",
        product: None,
        request: Request::Line(b"INFO server\r\n"),
        version: r"(?m)^redis_version:(\d[\w.]*)",
        names: None,
    },
    // ngIRCd tells its version only to a registered client: register (NICK and USER, as any
    // IRC client does first) and read the welcome numerics (002 "running version ngircd-26.1",
    // 004 "<server> ngircd-26.1 <modes>").
    FollowUp {
        service: "irc",
        product: Some("ngircd"),
        request: Request::IrcRegister,
        version: r"(?m)^:\S+ 00[24] [^\r\n]*?\bngircd-(\d[\w.~]*)",
        names: None,
    },
    // An MQTT broker: CONNECT (MQTT 3.1.1, clean session, client id "tcprax") and SUBSCRIBE to
    // `$SYS/broker/version`, which Mosquitto publishes as a retained message.
    FollowUp {
        service: "mqtt",
        product: None,
        request: Request::Line(MQTT_VERSION),
        version: r"(?s-u)\$SYS/broker/version(?:..)?mosquitto version (\d[\w.]*)",
        names: Some("Mosquitto"),
    },
];

/// MQTT CONNECT then SUBSCRIBE `$SYS/broker/version` (packet id 1, QoS 0), sent at once.
const MQTT_VERSION: &[u8] = b"\x10\x12\x00\x04MQTT\x04\x02\x00\x3c\x00\x06tcprax\
\x82\x18\x00\x01\x00\x13$SYS/broker/version\x00";

static COMPILED: LazyLock<Vec<(FollowUp, Regex)>> = LazyLock::new(|| {
    FOLLOW_UPS
        .iter()
        .filter_map(|f| Regex::new(f.version).ok().map(|r| (*f, r)))
        .collect()
});

/// At most this much of a follow-up's answer is read (an exporter's metrics run to a few
/// hundred kB; reading stops as soon as the version line is in).
const FOLLOW_UP_CAP: usize = 1024 * 1024;
/// A follow-up that found no version is tried once more, after a short pause.
const ATTEMPTS: usize = 2;
/// Each read re-checks only this tail of the buffer for the version (a version line is short).
const TAIL: usize = 8 * 1024;

/// The follow-up for a named port, if the table has one.
fn lookup(info: &ServiceInfo) -> Option<&'static (FollowUp, Regex)> {
    if info.version.is_some() {
        return None;
    }
    let service = info.service.as_deref()?;
    let base = service.strip_prefix("ssl/").unwrap_or(service);
    COMPILED.iter().find(|(f, _)| match f.product {
        Some(p) => info.product.as_deref() == Some(p),
        None => f.service == base,
    })
}

/// The version in `answer`, if the follow-up's regex finds it.
fn version_in(re: &Regex, answer: &[u8]) -> Option<String> {
    let caps = re.captures(answer)?;
    let v = String::from_utf8_lossy(caps.get(1)?.as_bytes()).into_owned();
    (!v.is_empty()).then_some(v)
}

fn request_bytes(request: Request, target: SocketAddr) -> Vec<u8> {
    match request {
        Request::Line(bytes) => bytes.to_vec(),
        Request::IrcRegister => format!(
            "NICK trx{:04x}\r\nUSER tcprax 0 * :tcprax\r\n",
            rand::random::<u16>()
        )
        .into_bytes(),
        Request::Get(path) => format!(
            "GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: tcprax\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    }
}

impl ServiceDetector {
    /// `info` with the version a follow-up request found, or as it was.
    pub(super) async fn follow_up(
        &self,
        target: SocketAddr,
        w: &Waits,
        info: ServiceInfo,
    ) -> ServiceInfo {
        let Some((follow, re)) = lookup(&info) else {
            return info;
        };
        let request = request_bytes(follow.request, target);
        let config = match (&info.tls, &self.inner.tls) {
            (None, _) => None,
            (Some(_), Some(configs)) => Some(match follow.request {
                Request::Get(_) => &configs.http,
                Request::Line(_) | Request::IrcRegister => &configs.plain,
            }),
            (Some(_), None) => return info,
        };
        let mut found = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // The probes before this one may still hold connections the server counts
                // against our address (ngIRCd allows 5 per address): let it see them closed.
                tokio::time::sleep(w.response).await;
            }
            let answer = match config {
                None => match connect(target, w).await {
                    Ok(mut s) => ask(&mut s, &request, re, w).await,
                    Err(_) => return info,
                },
                Some(config) => match handshake(target, config, w).await {
                    Ok(mut s) => ask(&mut s, &request, re, w).await,
                    Err(_) => return info,
                },
            };
            found = version_in(re, &answer);
            if found.is_some() {
                break;
            }
        }
        let Some(version) = found else {
            return info;
        };
        let product = info.product.or(follow.names.map(str::to_owned));
        let cpe = product
            .as_deref()
            .and_then(|p| cpe::cpe(p, Some(&version)))
            .into_iter()
            .collect();
        ServiceInfo {
            product,
            version: Some(version),
            cpe,
            ..info
        }
    }
}

/// Send `request` and read until the version line is in (or EOF, the cap, the waits).
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    re: &Regex,
    w: &Waits,
) -> Bytes {
    let sent = timeout(w.response, async {
        stream.write_all(request).await?;
        stream.flush().await
    })
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        return Bytes::new();
    }
    read_until(stream, FOLLOW_UP_CAP, w.response, w, |b| {
        re.is_match(&b[b.len().saturating_sub(TAIL)..])
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceClass;

    fn named(service: &str, product: Option<&str>, version: Option<&str>) -> ServiceInfo {
        ServiceInfo {
            service: Some(service.to_owned()),
            product: product.map(str::to_owned),
            version: version.map(str::to_owned),
            ..ServiceInfo::empty(ServiceClass::GenericTcp)
        }
    }

    #[test]
    fn every_row_compiles() {
        assert_eq!(COMPILED.len(), FOLLOW_UPS.len());
    }

    #[test]
    fn only_named_ports_without_a_version_get_one() {
        let exporter = named("http", Some("Prometheus Node Exporter"), None);
        let (f, re) = lookup(&exporter).unwrap();
        assert!(matches!(f.request, Request::Get("/metrics")));
        let metrics = b"# HELP node_exporter_build_info A metric with a constant '1' value.\n\
# TYPE node_exporter_build_info gauge\n\
node_exporter_build_info{branch=\"debian/sid\",goarch=\"amd64\",goos=\"linux\",goversion=\"go1.19.8\",revision=\"1.5.0-1+b6\",tags=\"netgo osusergo static_build\",version=\"1.5.0\"} 1\n";
        assert_eq!(version_in(re, metrics).as_deref(), Some("1.5.0"));
        assert!(
            lookup(&named(
                "http",
                Some("Prometheus Node Exporter"),
                Some("1.5.0")
            ))
            .is_none()
        );
        assert!(lookup(&named("http", Some("nginx"), None)).is_none());
        assert!(lookup(&named("ssh", None, None)).is_none());
        let (_, re) = lookup(&named("beanstalkd", Some("beanstalkd"), None)).unwrap();
        let stats =
            b"OK 900\r\n---\ncurrent-jobs-urgent: 0\nversion: \"1.12\"\nrusage-utime: 0.0\n";
        assert_eq!(version_in(re, stats).as_deref(), Some("1.12"));
        assert_eq!(version_in(re, b"UNKNOWN_COMMAND\r\n"), None);
        let (_, re) = lookup(&named("irc", Some("ngircd"), None)).unwrap();
        let welcome = b":irc.zoo.tcprax.test 001 tcprax :Welcome to the Internet Relay Network tcprax!~tcprax@198.18.0.1\r\n\
:irc.zoo.tcprax.test 002 tcprax :Your host is irc.zoo.tcprax.test, running version ngircd-26.1 (x86_64/pc/linux-gnu)\r\n";
        assert_eq!(version_in(re, welcome).as_deref(), Some("26.1"));
        let refused = b":irc.zoo.tcprax.test 433 * tcprax :Nickname already in use\r\n";
        assert_eq!(version_in(re, refused), None);
        let (f, re) = lookup(&named("mqtt", None, None)).unwrap();
        assert_eq!(f.names, Some("Mosquitto"));
        let publish = b"\x20\x02\x00\x00\x90\x03\x00\x01\x00\x31\x2e\x00\x13$SYS/broker/versionmosquitto version 2.0.11";
        assert_eq!(version_in(re, publish).as_deref(), Some("2.0.11"));
        let (_, re) = lookup(&named("ssl/redis", None, None)).unwrap();
        let info = b"$300\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:0\r\n";
        assert_eq!(version_in(re, info).as_deref(), Some("7.0.15"));
    }

    #[test]
    fn mqtt_packets_have_their_lengths() {
        // CONNECT: fixed header, then 0x12 bytes; SUBSCRIBE: fixed header, then 0x18 bytes.
        let connect_len = 2 + usize::from(MQTT_VERSION[1]);
        assert_eq!(MQTT_VERSION[0], 0x10);
        assert_eq!(MQTT_VERSION[connect_len], 0x82);
        assert_eq!(
            MQTT_VERSION.len(),
            connect_len + 2 + usize::from(MQTT_VERSION[connect_len + 1])
        );
    }

    #[test]
    fn requests_are_lines_or_gets() {
        let target: SocketAddr = "198.18.0.2:9100".parse().unwrap();
        let get = request_bytes(Request::Get("/metrics"), target);
        assert!(get.starts_with(b"GET /metrics HTTP/1.1\r\nHost: 198.18.0.2:9100\r\n"));
        assert!(get.ends_with(b"\r\n\r\n"));
        assert_eq!(
            request_bytes(Request::Line(b"stats\r\n"), target),
            b"stats\r\n"
        );
        let irc = String::from_utf8(request_bytes(Request::IrcRegister, target)).unwrap();
        assert!(
            irc.starts_with("NICK trx")
                && irc.find("\r\n") == Some(12)
                && irc.ends_with("\r\nUSER tcprax 0 * :tcprax\r\n"),
            "{irc}"
        );
    }
}
