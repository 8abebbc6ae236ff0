//! Just enough hand-made TLS to recognise servers rustls will not talk to.
//!
//! rustls speaks only TLS 1.2 and 1.3, with modern suites. A server that offers only TLS 1.0/1.1,
//! SSLv3 or old key exchanges is still a TLS server, and a scanner should say which version it
//! picked. [`client_hello`] builds a ClientHello with legacy version fields (record 0x0301,
//! client_version 0x0303, no supported_versions extension) offering TLS 1.0-1.2 suites;
//! [`parse_reply`] reads the server's first flight: the ServerHello (version, including a
//! supported_versions override, and the chosen suite), the Certificate message (sent in the
//! clear up to TLS 1.2) and ServerHelloDone, or an alert, which also proves the peer is TLS.
//! [`build_client_hello`] makes other ClientHellos from a [`HelloSpec`] (versions, suite order,
//! extension order, ALPN, key share) for the TLS fingerprint, and [`ServerHello`] keeps the
//! server's extension types and chosen ALPN.
//! Parsing is bounds-checked throughout: any input yields a [`ServerReply`], never a panic.

/// The suites offered by [`client_hello`], in preference order, with their IANA names; it doubles
/// as the table that names the suite a server picked.
static OFFERED_SUITES: &[(u16, &str)] = &[
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    // Signalling value (RFC 5746), not a suite: asks for secure renegotiation.
    (0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
];

/// Suites a server may name although we did not offer them (a broken server, or TLS 1.3).
static OTHER_SUITES: &[(u16, &str)] = &[
    (0x1301, "TLS13_AES_128_GCM_SHA256"),
    (0x1302, "TLS13_AES_256_GCM_SHA384"),
    (0x1303, "TLS13_CHACHA20_POLY1305_SHA256"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
];

const RECORD_CHANGE_CIPHER_SPEC: u8 = 0x14;
const RECORD_ALERT: u8 = 0x15;
const RECORD_HANDSHAKE: u8 = 0x16;
const RECORD_APPLICATION_DATA: u8 = 0x17;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_HELLO_DONE: u8 = 14;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
const EXT_ALPN: u16 = 0x0010;
const EXT_KEY_SHARE: u16 = 0x0033;
/// 2^14 plaintext plus the largest expansion RFC 5246 allows.
const MAX_RECORD: usize = 16_384 + 2_048;

/// IANA name of a cipher suite id, if tcprax knows it.
pub fn suite_name(id: u16) -> Option<&'static str> {
    OFFERED_SUITES
        .iter()
        .chain(OTHER_SUITES)
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
}

/// "SSLv3", "TLSv1.0" .. "TLSv1.3"; other values as hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".to_owned(),
        0x0301 => "TLSv1.0".to_owned(),
        0x0302 => "TLSv1.1".to_owned(),
        0x0303 => "TLSv1.2".to_owned(),
        0x0304 => "TLSv1.3".to_owned(),
        other => format!("0x{other:04x}"),
    }
}

/// A complete ClientHello record. `server_name` adds SNI (a host name, never an IP literal).
pub fn client_hello(server_name: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let suites: Vec<u16> = OFFERED_SUITES.iter().map(|(id, _)| *id).collect();
    build_client_hello(
        &HelloSpec {
            server_name,
            ..HelloSpec::legacy(&suites)
        },
        random,
    )
}

/// What a hand-made ClientHello offers: [`client_hello`]'s legacy hello is one instance, the
/// TLS fingerprint's probes are others.
#[derive(Clone, Copy, Debug)]
pub struct HelloSpec<'a> {
    /// The record layer's version field.
    pub record_version: u16,
    /// The ClientHello's legacy_version field.
    pub client_version: u16,
    /// Cipher suite ids, in the order sent.
    pub suites: &'a [u16],
    /// Versions for the supported_versions extension (TLS 1.3 style); empty: no extension.
    pub supported_versions: &'a [u16],
    /// ALPN protocol names; empty: no extension.
    pub alpn: &'a [&'a str],
    pub server_name: Option<&'a str>,
    /// Send a key_share for x25519 (random bytes: the handshake never gets that far).
    pub key_share: bool,
    /// Send the extensions in reverse order.
    pub reverse_extensions: bool,
}

impl<'a> HelloSpec<'a> {
    /// TLS 1.0-1.2 negotiation only: record 0x0301, client_version 0x0303, no
    /// supported_versions, no ALPN.
    pub fn legacy(suites: &'a [u16]) -> Self {
        HelloSpec {
            record_version: 0x0301,
            client_version: 0x0303,
            suites,
            supported_versions: &[],
            alpn: &[],
            server_name: None,
            key_share: false,
            reverse_extensions: false,
        }
    }
}

/// The ids of every suite tcprax can name, in a fixed order: the suites [`client_hello`] offers,
/// then the TLS 1.3 and null suites.
pub fn known_suites() -> impl Iterator<Item = u16> {
    OFFERED_SUITES.iter().chain(OTHER_SUITES).map(|(id, _)| *id)
}

/// A complete ClientHello record as `spec` describes it.
pub fn build_client_hello(spec: &HelloSpec<'_>, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&spec.client_version.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // empty session id
    with_len16(&mut body, |b| {
        spec.suites
            .iter()
            .for_each(|id| b.extend_from_slice(&id.to_be_bytes()))
    });
    body.extend_from_slice(&[1, 0]); // compression: null only
    let mut exts: Vec<Vec<u8>> = Vec::new();
    let mut add = |kind: u16, fill: &dyn Fn(&mut Vec<u8>)| {
        let mut e = Vec::new();
        extension(&mut e, kind, fill);
        exts.push(e);
    };
    if let Some(name) = spec.server_name.filter(|n| !n.is_empty() && n.len() < 256) {
        add(0x0000, &|e| {
            with_len16(e, |list| {
                list.push(0); // host_name
                with_len16(list, |n| n.extend_from_slice(name.as_bytes()));
            })
        });
    }
    // supported_groups: x25519, secp256r1, secp384r1, secp521r1.
    add(0x000a, &|e| {
        with_len16(e, |g| {
            g.extend_from_slice(&[0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19])
        })
    });
    // ec_point_formats: uncompressed.
    add(0x000b, &|e| e.extend_from_slice(&[1, 0]));
    // signature_algorithms.
    add(0x000d, &|e| {
        with_len16(e, |s| {
            for scheme in [
                0x0403u16, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203,
                0x0201,
            ] {
                s.extend_from_slice(&scheme.to_be_bytes());
            }
        })
    });
    if !spec.alpn.is_empty() {
        add(EXT_ALPN, &|e| {
            with_len16(e, |list| {
                for p in spec.alpn.iter().filter(|p| !p.is_empty() && p.len() < 256) {
                    list.push(u8::try_from(p.len()).unwrap_or(0));
                    list.extend_from_slice(p.as_bytes());
                }
            })
        });
    }
    add(0x0017, &|_| {}); // extended_master_secret
    if !spec.supported_versions.is_empty() {
        add(EXT_SUPPORTED_VERSIONS, &|e| {
            let n = spec.supported_versions.len().min(127) * 2;
            e.push(u8::try_from(n).unwrap_or(0));
            for v in spec.supported_versions.iter().take(127) {
                e.extend_from_slice(&v.to_be_bytes());
            }
        });
    }
    if spec.key_share {
        let share: [u8; 32] = rand::random();
        add(EXT_KEY_SHARE, &|e| {
            with_len16(e, |list| {
                list.extend_from_slice(&[0, 0x1d]); // x25519
                with_len16(list, |k| k.extend_from_slice(&share));
            })
        });
    }
    if spec.reverse_extensions {
        exts.reverse();
    }
    with_len16(&mut body, |ext| {
        exts.iter().for_each(|e| ext.extend_from_slice(e))
    });
    let mut handshake = vec![HS_CLIENT_HELLO];
    push_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);
    let mut record = vec![RECORD_HANDSHAKE];
    record.extend_from_slice(&spec.record_version.to_be_bytes());
    record.extend_from_slice(
        &u16::try_from(handshake.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    record.extend_from_slice(&handshake);
    record
}

fn with_len16(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    fill(out);
    let len = u16::try_from(out.len() - at - 2).unwrap_or(u16::MAX);
    out[at..at + 2].copy_from_slice(&len.to_be_bytes());
}

fn extension(out: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(&kind.to_be_bytes());
    with_len16(out, fill);
}

fn push_u24(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or(u32::MAX).min(0xff_ffff);
    out.extend_from_slice(&n.to_be_bytes()[1..]);
}

/// What the server's first bytes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerReply {
    /// Valid so far, but not enough bytes to decide; read more.
    Incomplete,
    /// Not TLS (or SSLv3) framing.
    NotTls,
    /// An alert in answer to the ClientHello: a TLS server that refused us.
    Alert {
        record_version: u16,
        level: u8,
        description: u8,
    },
    Hello(ServerHello),
}

/// The parts of the server's first flight a report uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// Negotiated version (supported_versions wins over the legacy field).
    pub version: u16,
    pub cipher_suite: u16,
    /// Extension types of the ServerHello, in the order sent.
    pub extensions: Vec<u16>,
    /// The protocol the server chose from our ALPN offer.
    pub alpn: Option<String>,
    /// DER of the leaf certificate, when it came in the clear.
    pub certificate: Option<Vec<u8>>,
    /// The flight is over (ServerHelloDone, or everything after this is encrypted).
    pub complete: bool,
}

impl ServerReply {
    /// True when reading more bytes cannot change the answer.
    pub fn is_final(&self) -> bool {
        match self {
            ServerReply::Incomplete => false,
            ServerReply::Hello(h) => h.complete,
            ServerReply::NotTls | ServerReply::Alert { .. } => true,
        }
    }
}

/// The record-layer version of `buf`'s first record header, if it is a plausible TLS/SSLv3 one.
pub fn record_version(buf: &[u8]) -> Option<u16> {
    let hdr = buf.get(..5)?;
    let version = u16::from_be_bytes([hdr[1], hdr[2]]);
    let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
    let plausible = (RECORD_CHANGE_CIPHER_SPEC..=RECORD_APPLICATION_DATA).contains(&hdr[0])
        && (0x0300..=0x0304).contains(&version)
        && len <= MAX_RECORD;
    plausible.then_some(version)
}

/// Parse what the server sent so far in answer to [`client_hello`].
pub fn parse_reply(buf: &[u8]) -> ServerReply {
    if buf.is_empty() {
        return ServerReply::Incomplete;
    }
    // Decide on a partial header as early as possible: the first byte and the major version.
    if !(RECORD_CHANGE_CIPHER_SPEC..=RECORD_APPLICATION_DATA).contains(&buf[0])
        || buf.get(1).is_some_and(|&m| m != 3)
    {
        return ServerReply::NotTls;
    }
    if buf.len() >= 5 && record_version(buf).is_none() {
        return ServerReply::NotTls;
    }
    let mut handshake = Vec::new();
    let mut encrypted_follows = false;
    let mut off = 0;
    while let Some(hdr) = buf.get(off..off + 5) {
        let Some(record_version) = record_version(hdr) else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
        let Some(fragment) = buf.get(off + 5..off + 5 + len) else {
            break;
        };
        match hdr[0] {
            RECORD_HANDSHAKE => handshake.extend_from_slice(fragment),
            RECORD_ALERT if handshake.is_empty() => {
                return ServerReply::Alert {
                    record_version,
                    level: fragment.first().copied().unwrap_or(0),
                    description: fragment.get(1).copied().unwrap_or(0),
                };
            }
            _ => {
                encrypted_follows = true;
                break;
            }
        }
        off += 5 + len;
    }
    let mut hello: Option<ServerHello> = None;
    let mut pos = 0;
    while let Some(h) = handshake.get(pos..pos + 4) {
        let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
        let Some(body) = handshake.get(pos + 4..pos + 4 + len) else {
            break;
        };
        match (h[0], hello.as_mut()) {
            (HS_SERVER_HELLO, None) => match parse_server_hello(body) {
                Some(parsed) => hello = Some(parsed),
                None => return ServerReply::NotTls,
            },
            (HS_CERTIFICATE, Some(hello)) => hello.certificate = first_certificate(body),
            (HS_SERVER_HELLO_DONE, Some(hello)) => hello.complete = true,
            // Anything before the ServerHello is a protocol violation: not a server we know.
            (_, None) => return ServerReply::NotTls,
            _ => {}
        }
        pos += 4 + len;
    }
    match hello {
        Some(mut h) => {
            // TLS 1.3 encrypts everything after the ServerHello; nothing more to read.
            h.complete |= encrypted_follows || h.version == 0x0304;
            ServerReply::Hello(h)
        }
        None => ServerReply::Incomplete,
    }
}

fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let legacy_version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let sid_len = usize::from(*body.get(34)?);
    let at = 35 + sid_len;
    let cipher_suite = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
    let mut version = legacy_version;
    let mut extensions = Vec::new();
    let mut alpn = None;
    // Extensions are optional (SSLv3 and many TLS 1.0 servers send none).
    if let Some(ext_len) = body.get(at + 3..at + 5) {
        let ext_len = usize::from(u16::from_be_bytes([ext_len[0], ext_len[1]]));
        let mut exts = body.get(at + 5..at + 5 + ext_len)?;
        while let Some(h) = exts.get(..4) {
            let kind = u16::from_be_bytes([h[0], h[1]]);
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let data = exts.get(4..4 + len)?;
            extensions.push(kind);
            if kind == EXT_SUPPORTED_VERSIONS
                && let [a, b] = data
            {
                version = u16::from_be_bytes([*a, *b]);
            }
            // ALPN: a list holding exactly the one protocol chosen.
            if kind == EXT_ALPN
                && let Some(name) = data
                    .get(3..)
                    .filter(|n| data.get(2).map(|&l| usize::from(l)) == Some(n.len()))
            {
                alpn = Some(String::from_utf8_lossy(name).into_owned());
            }
            exts = &exts[4 + len..];
        }
    }
    Some(ServerHello {
        version,
        cipher_suite,
        extensions,
        alpn,
        certificate: None,
        complete: false,
    })
}

/// The first (leaf) certificate of a TLS <= 1.2 Certificate message.
fn first_certificate(body: &[u8]) -> Option<Vec<u8>> {
    let list = body.get(3..)?;
    let len = usize::from(*list.first()?) << 16
        | usize::from(*list.get(1)?) << 8
        | usize::from(*list.get(2)?);
    list.get(3..3 + len).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests;
