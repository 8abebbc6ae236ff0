//! HTTP beyond the `Server` header: product and version from other headers and from known
//! bodies, the `WWW-Authenticate` realm, and the favicon hash.
//!
//! Response heads are parsed with `httparse`. When the `Server` header named nothing, the
//! product comes, in this order, from `X-Powered-By` (`PHP/8.2.7`, `Express`), an
//! `X-<Name>-Version` header (`X-Influxdb-Version: 1.8.10`), or a body the table in
//! [`BODIES`] knows (Go's default 404, exporters' landing pages); the favicon request's answer
//! counts too, so a server whose `/` is an application page may still show its 404 shape there.
use super::{HELLO_CAP, Waits, read_until};
use crate::model::{ServiceClass, ServiceInfo, TlsInfo};
use bytes::Bytes;
use regex::bytes::Regex;
use std::net::SocketAddr;
use std::sync::LazyLock;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

/// The favicon request: one more GET, answered alongside `/`.
fn favicon_request(target: SocketAddr) -> Vec<u8> {
    format!("GET /favicon.ico HTTP/1.1\r\nHost: {target}\r\nUser-Agent: tcprax\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// Ask for `/favicon.ico` on `stream` and read the whole answer (up to [`HELLO_CAP`]).
pub(super) async fn fetch_favicon<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    target: SocketAddr,
    w: &Waits,
) -> Bytes {
    let sent = timeout(w.response, async {
        stream.write_all(&favicon_request(target)).await?;
        stream.flush().await
    })
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        return Bytes::new();
    }
    read_until(stream, HELLO_CAP, w.response, w, |b| {
        favicon_body(b).is_some()
    })
    .await
}

/// [`super::report`] for an HTTP(S) port: when no `Server` header named the product, the other
/// headers and known bodies of both answers may ([`http::hints`]); plus the favicon hash.
pub(super) fn report(
    class: ServiceClass,
    response: &[u8],
    favicon: &[u8],
    tls: Option<TlsInfo>,
) -> ServiceInfo {
    let mut info = super::report(class, response, tls);
    let hints = hints(&[response, favicon]);
    if info.product.is_none() && hints.product.is_some() {
        info.product = hints.product;
        info.version = hints.version;
        info.cpe = info
            .product
            .as_deref()
            .and_then(|p| super::cpe::cpe(p, info.version.as_deref()))
            .into_iter()
            .collect();
    }
    if info.extrainfo.is_none() {
        info.extrainfo = hints.extrainfo;
    }
    info.favicon_mmh3 = favicon_body(favicon).map(|body| favicon_mmh3(&body));
    info
}

/// What the headers and bodies of one HTTP port gave away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpHints {
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
}

/// A parsed response: status, headers (names lowercased) and body.
pub(crate) struct Response<'a> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Response<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a whole response; None when the head is not HTTP or is incomplete.
pub(crate) fn parse(bytes: &[u8]) -> Option<Response<'_>> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut storage);
    let httparse::Status::Complete(head_len) = resp.parse(bytes).ok()? else {
        return None;
    };
    let status = resp.code?;
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect();
    Some(Response {
        status,
        headers,
        body: bytes.get(head_len..).unwrap_or_default(),
    })
}

/// A known body: regex on the body, status (0: any), product, version template.
type Body<R> = (R, u16, &'static str, Option<&'static str>);

/// Known bodies.
static BODIES: &[Body<&str>] = &[
    // Go's net/http NotFound handler: exactly this text/plain body.
    (
        r"^404 page not found\n?$",
        404,
        "Golang net/http server",
        None,
    ),
    // Prometheus exporters' landing page (exporter-toolkit), which often shows the version.
    (
        r"(?s)<title>Node Exporter</title>(?:.*?version=(\d[\w.\-]*))?",
        0,
        "Prometheus Node Exporter",
        Some("$1"),
    ),
    (
        r"(?s)<address>Apache/(\d[\w.]*)[^<]*Server at",
        0,
        "Apache httpd",
        Some("$1"),
    ),
    (r"^Cannot GET /", 404, "Node.js Express framework", None),
    // Tomcat sends no Server header since 8.5; its error pages name it.
    (
        r"<h3>Apache Tomcat/(\d[\w.\-]*)</h3>",
        0,
        "Apache Tomcat",
        Some("$1"),
    ),
    (r"Powered by Jetty:// (\d[\w.\-]*)", 0, "Jetty", Some("$1")),
    // Elasticsearch's root document (JSON, no Server header).
    (
        r#"(?s)"number"\s*:\s*"(\d[\w.\-]*)".*"tagline"\s*:\s*"You Know, for Search""#,
        200,
        "Elasticsearch REST API",
        Some("$1"),
    ),
    // The Prometheus server redirects / to its UI with Go's redirect body.
    (r#"^<a href="/graph">Found</a>"#, 302, "Prometheus", None),
];

static COMPILED: LazyLock<Vec<Body<Regex>>> = LazyLock::new(|| {
    BODIES
        .iter()
        .filter_map(|&(re, status, product, version)| {
            Regex::new(re).ok().map(|r| (r, status, product, version))
        })
        .collect()
});

/// Product names for `X-<name>-Version` headers whose spelling the header does not carry.
static VERSION_HEADER_NAMES: &[(&str, &str)] = &[
    ("influxdb", "InfluxDB"),
    ("aspnet", "Microsoft ASP.NET"),
    ("aspnetmvc", "Microsoft ASP.NET MVC"),
    ("owa", "Microsoft Outlook Web Access"),
    ("jenkins", "Jenkins"),
    ("gitea", "Gitea"),
    ("consul", "Consul"),
];

/// What the responses of one HTTP port say besides `Server`; `responses` are the answers to
/// our requests (`/`, then `/favicon.ico`), in that order.
pub fn hints(responses: &[&[u8]]) -> HttpHints {
    let parsed: Vec<Response<'_>> = responses.iter().filter_map(|r| parse(r)).collect();
    let mut out = HttpHints::default();
    for resp in &parsed {
        if out.extrainfo.is_none() {
            out.extrainfo = resp.header("www-authenticate").and_then(realm);
        }
    }
    for resp in &parsed {
        if let Some((product, version)) = from_headers(resp) {
            out.product = Some(product);
            out.version = version;
            return out;
        }
    }
    for resp in &parsed {
        if let Some((product, version)) = from_body(resp) {
            out.product = Some(product);
            out.version = version;
            return out;
        }
    }
    out
}

/// Headers that name a product by themselves: (header, product); the value is the version.
static PRODUCT_HEADERS: &[(&str, &str)] = &[
    ("x-jenkins", "Jenkins"),
    ("x-hudson", "Hudson"),
    ("x-gitlab-meta", "GitLab"),
];

fn from_headers(resp: &Response<'_>) -> Option<(String, Option<String>)> {
    for (header, product) in PRODUCT_HEADERS {
        if let Some(value) = resp.header(header) {
            let version = (!value.is_empty() && value.starts_with(|c: char| c.is_ascii_digit()))
                .then(|| value.to_owned());
            return Some(((*product).to_owned(), version));
        }
    }
    if let Some(powered) = resp.header("x-powered-by").filter(|v| !v.is_empty()) {
        let first = powered.split([',', ' ']).next().unwrap_or(powered);
        let (product, version) = match first.split_once('/') {
            Some((p, v)) => (p, Some(v.to_owned()).filter(|v| !v.is_empty())),
            None => (first, None),
        };
        return Some((product.to_owned(), version));
    }
    resp.headers.iter().find_map(|(name, value)| {
        let middle = name.strip_prefix("x-")?.strip_suffix("-version")?;
        if middle.is_empty() || value.is_empty() {
            return None;
        }
        let product = VERSION_HEADER_NAMES
            .iter()
            .find(|(n, _)| *n == middle)
            .map_or_else(|| capitalise(middle), |(_, p)| (*p).to_owned());
        Some((product, Some(value.clone())))
    })
}

fn from_body(resp: &Response<'_>) -> Option<(String, Option<String>)> {
    COMPILED.iter().find_map(|(re, status, product, version)| {
        if *status != 0 && *status != resp.status {
            return None;
        }
        let caps = re.captures(resp.body)?;
        let version = version.and_then(|t| {
            let mut v = Vec::new();
            caps.expand(t.as_bytes(), &mut v);
            let v = String::from_utf8_lossy(&v).trim().to_owned();
            (!v.is_empty()).then_some(v)
        });
        Some(((*product).to_owned(), version))
    })
}

/// `Basic realm="Restricted"` -> `realm "Restricted"`, with the scheme when it is not Basic.
fn realm(header: &str) -> Option<String> {
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    let lower = params.to_ascii_lowercase();
    let at = lower.find("realm=")? + "realm=".len();
    let rest = params.get(at..)?;
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or(""),
        None => rest.split([',', ' ']).next().unwrap_or(""),
    };
    Some(if scheme.eq_ignore_ascii_case("basic") {
        format!("realm \"{value}\"")
    } else {
        format!("{scheme} realm \"{value}\"")
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The body of a `200` answer to `/favicon.ico`, de-chunked; None for anything else (an error
/// page, an empty body, a truncated one).
pub fn favicon_body(response: &[u8]) -> Option<Vec<u8>> {
    let resp = parse(response)?;
    if resp.status != 200 || resp.body.is_empty() {
        return None;
    }
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(resp.body)?
    } else {
        resp.body.to_vec()
    };
    if let Some(len) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        && len != body.len()
    {
        return None;
    }
    (!body.is_empty()).then_some(body)
}

/// Undo chunked transfer encoding; None when the chunks are malformed or cut short.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// The favicon hash internet scanners index: MurmurHash3 (x86, 32-bit, seed 0) of the body's
/// base64 with a newline after every 76 characters and at the end (Python's
/// `base64.encodebytes`), as a signed 32-bit integer.
pub fn favicon_mmh3(body: &[u8]) -> i32 {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let mut text = Vec::with_capacity(b64.len() + b64.len() / 76 + 1);
    for line in b64.as_bytes().chunks(76) {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    let hash = murmur3::murmur3_32(&mut std::io::Cursor::new(&text), 0).unwrap_or(0);
    i32::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn mmh3_matches_python_mmh3() {
        // Expected values computed once by hand with Python 3.11.7 and mmh3 5.3.1 (pip):
        //   import mmh3, base64
        //   mmh3.hash(base64.encodebytes(b""))                    ->          0
        //   mmh3.hash(base64.encodebytes(b"tcprax"))              -> 1476115762
        //   mmh3.hash(base64.encodebytes(b"abc"))                 -> -868969266
        //   mmh3.hash(base64.encodebytes(bytes(range(256)) * 3))  -> 1836528006 (14 lines)
        assert_eq!(favicon_mmh3(b""), PY_EMPTY);
        assert_eq!(favicon_mmh3(b"tcprax"), PY_TCPRAX);
        assert_eq!(
            favicon_mmh3(b"abc"),
            -868_969_266,
            "signed, as Python prints it"
        );
        let long: Vec<u8> = (0..3).flat_map(|_| 0..=255u8).collect();
        assert_eq!(favicon_mmh3(&long), PY_LONG);
    }

    const PY_EMPTY: i32 = 0;
    const PY_TCPRAX: i32 = 1_476_115_762;
    const PY_LONG: i32 = 1_836_528_006;

    #[test]
    fn every_body_row_compiles() {
        assert_eq!(COMPILED.len(), BODIES.len());
    }

    #[test]
    fn headers_beyond_server() {
        let php = b"HTTP/1.1 200 OK\r\nX-Powered-By: PHP/8.2.7\r\n\r\n";
        let h = hints(&[php]);
        assert_eq!((h.product, h.version), (some("PHP"), some("8.2.7")));
        let express = b"HTTP/1.1 200 OK\r\nx-powered-by: Express\r\n\r\n";
        assert_eq!(hints(&[express]).product, some("Express"));
        let influx = b"HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.8.10\r\n\r\n";
        let h = hints(&[influx]);
        assert_eq!((h.product, h.version), (some("InfluxDB"), some("1.8.10")));
        let jenkins = b"HTTP/1.1 403 Forbidden\r\nX-Jenkins: 2.426.1\r\n\r\n";
        let h = hints(&[jenkins]);
        assert_eq!((h.product, h.version), (some("Jenkins"), some("2.426.1")));
        let other = b"HTTP/1.1 200 OK\r\nX-Widget-Version: 3\r\n\r\n";
        assert_eq!(hints(&[other]).product, some("Widget"));
    }

    #[test]
    fn realm_goes_to_extrainfo() {
        let r =
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Private Area\"\r\n\r\n";
        assert_eq!(hints(&[r]).extrainfo, some("realm \"Private Area\""));
        let d =
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=lab, nonce=\"x\"\r\n\r\n";
        assert_eq!(hints(&[d]).extrainfo, some("Digest realm \"lab\""));
    }

    #[test]
    fn known_bodies() {
        let go = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n\r\n404 page not found\n";
        let page = b"HTTP/1.1 200 OK\r\n\r\n<html>app</html>";
        assert_eq!(
            hints(&[page, go]).product,
            some("Golang net/http server"),
            "the favicon's 404 counts"
        );
        assert_eq!(hints(&[page]).product, None);
        let node = b"HTTP/1.1 200 OK\r\n\r\n<html><head><title>Node Exporter</title></head><body>Version: (version=1.7.0, branch=HEAD)</body></html>";
        let h = hints(&[node]);
        assert_eq!(
            (h.product, h.version),
            (some("Prometheus Node Exporter"), some("1.7.0"))
        );
        let old_node =
            b"HTTP/1.1 200 OK\r\n\r\n<html><head><title>Node Exporter</title></head></html>";
        let h = hints(&[old_node]);
        assert_eq!(
            (h.product, h.version),
            (some("Prometheus Node Exporter"), None)
        );
        let tomcat = b"HTTP/1.1 404 \r\nContent-Type: text/html\r\n\r\n<html><body><h1>HTTP Status 404</h1><hr class=\"line\" /><h3>Apache Tomcat/9.0.70</h3></body></html>";
        let h = hints(&[tomcat]);
        assert_eq!(
            (h.product, h.version),
            (some("Apache Tomcat"), some("9.0.70"))
        );
        let es = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\n  \"version\" : {\n    \"number\" : \"8.11.1\",\n    \"build_flavor\" : \"default\"\n  },\n  \"tagline\" : \"You Know, for Search\"\n}\n";
        let h = hints(&[es]);
        assert_eq!(
            (h.product, h.version),
            (some("Elasticsearch REST API"), some("8.11.1"))
        );
        let not_go = b"HTTP/1.1 200 OK\r\n\r\n404 page not found\n";
        assert_eq!(hints(&[not_go]).product, None, "status must be 404");
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x9e37_79b9u32;
        for len in 0..400 {
            let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            bytes.extend((0..len).map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b"0123456789abcdef\r\n;"[(x % 19) as usize]
            }));
            let _ = favicon_body(&bytes);
            let _ = hints(&[&bytes, &bytes[..len / 2]]);
        }
        assert_eq!(realm("Basic"), None);
        assert_eq!(realm("Basic realm="), Some("realm \"\"".to_owned()));
    }

    #[test]
    fn favicon_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nICON";
        assert_eq!(favicon_body(plain).as_deref(), Some(&b"ICON"[..]));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nIC\r\n2;x=y\r\nON\r\n0\r\n\r\n";
        assert_eq!(favicon_body(chunked).as_deref(), Some(&b"ICON"[..]));
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nICON";
        assert_eq!(favicon_body(short), None, "truncated");
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
        assert_eq!(favicon_body(missing), None);
        assert_eq!(favicon_body(b"garbage"), None);
        assert_eq!(
            favicon_body(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            None
        );
    }
}
