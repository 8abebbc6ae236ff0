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
mod tests {
    use super::*;

    /// A ServerHello + Certificate + ServerHelloDone flight, split over records as given.
    fn flight(version: u16, suite: u16, extensions: &[u8], cert: Option<&[u8]>) -> Vec<u8> {
        let mut hs = Vec::new();
        let mut hello = version.to_be_bytes().to_vec();
        hello.extend_from_slice(&[0xaa; 32]);
        hello.push(0);
        hello.extend_from_slice(&suite.to_be_bytes());
        hello.push(0);
        if !extensions.is_empty() {
            hello.extend_from_slice(&u16::try_from(extensions.len()).unwrap_or(0).to_be_bytes());
            hello.extend_from_slice(extensions);
        }
        hs.push(HS_SERVER_HELLO);
        push_u24(&mut hs, hello.len());
        hs.extend_from_slice(&hello);
        if let Some(cert) = cert {
            hs.push(HS_CERTIFICATE);
            push_u24(&mut hs, cert.len() + 6);
            push_u24(&mut hs, cert.len() + 3);
            push_u24(&mut hs, cert.len());
            hs.extend_from_slice(cert);
        }
        hs.extend_from_slice(&[HS_SERVER_HELLO_DONE, 0, 0, 0]);
        let mut rec = vec![RECORD_HANDSHAKE];
        rec.extend_from_slice(&version.min(0x0303).to_be_bytes());
        rec.extend_from_slice(&u16::try_from(hs.len()).unwrap_or(0).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn client_hello_golden_layout() {
        let hello = client_hello(None, [0x5a; 32]);
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        let record_len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], HS_CLIENT_HELLO);
        let hs_len =
            usize::from(hello[6]) << 16 | usize::from(hello[7]) << 8 | usize::from(hello[8]);
        assert_eq!(hs_len, hello.len() - 9);
        assert_eq!(&hello[9..11], &[0x03, 0x03]);
        assert_eq!(&hello[11..43], &[0x5a; 32]);
        assert_eq!(hello[43], 0);
        let suites_len = usize::from(u16::from_be_bytes([hello[44], hello[45]]));
        assert_eq!(suites_len, OFFERED_SUITES.len() * 2);
        assert_eq!(&hello[46..48], &[0xc0, 0x2b]);
        let after = 46 + suites_len;
        assert_eq!(&hello[after..after + 2], &[1, 0]);
        let ext_len = usize::from(u16::from_be_bytes([hello[after + 2], hello[after + 3]]));
        assert_eq!(after + 4 + ext_len, hello.len());
        // No supported_versions: the server must fall back to the legacy negotiation.
        let mut kinds = Vec::new();
        let mut at = after + 4;
        while at + 4 <= hello.len() {
            kinds.push(u16::from_be_bytes([hello[at], hello[at + 1]]));
            at += 4 + usize::from(u16::from_be_bytes([hello[at + 2], hello[at + 3]]));
        }
        assert_eq!(at, hello.len());
        assert_eq!(kinds, vec![0x000a, 0x000b, 0x000d, 0x0017]);
    }

    /// The extension types of a ClientHello record, in order.
    fn hello_extensions(hello: &[u8]) -> Vec<u16> {
        let suites_len = usize::from(u16::from_be_bytes([hello[44], hello[45]]));
        let mut at = 46 + suites_len + 2 + 2;
        let mut kinds = Vec::new();
        while at + 4 <= hello.len() {
            kinds.push(u16::from_be_bytes([hello[at], hello[at + 1]]));
            at += 4 + usize::from(u16::from_be_bytes([hello[at + 2], hello[at + 3]]));
        }
        assert_eq!(at, hello.len());
        kinds
    }

    #[test]
    fn spec_hello_offers_alpn_versions_and_key_share() {
        let suites = [0x1301, 0xc02f];
        let spec = HelloSpec {
            client_version: 0x0303,
            supported_versions: &[0x0304, 0x0303],
            alpn: &["h2", "http/1.1"],
            key_share: true,
            ..HelloSpec::legacy(&suites)
        };
        let hello = build_client_hello(&spec, [1; 32]);
        assert_eq!(&hello[46..50], &[0x13, 0x01, 0xc0, 0x2f]);
        assert_eq!(
            hello_extensions(&hello),
            vec![
                0x000a,
                0x000b,
                0x000d,
                EXT_ALPN,
                0x0017,
                EXT_SUPPORTED_VERSIONS,
                EXT_KEY_SHARE
            ]
        );
        assert!(hello.windows(12).any(|w| w == b"\x02h2\x08http/1.1"));
        let reversed = build_client_hello(
            &HelloSpec {
                reverse_extensions: true,
                ..spec
            },
            [1; 32],
        );
        let mut kinds = hello_extensions(&hello);
        kinds.reverse();
        assert_eq!(hello_extensions(&reversed), kinds);
    }

    #[test]
    fn server_hello_extensions_and_alpn() {
        // renegotiation_info, then ALPN choosing "h2".
        let ext = [
            0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2',
        ];
        let ServerReply::Hello(h) = parse_reply(&flight(0x0303, 0xc02f, &ext, None)) else {
            panic!("no hello")
        };
        assert_eq!(h.extensions, vec![0xff01, EXT_ALPN]);
        assert_eq!(h.alpn.as_deref(), Some("h2"));
    }

    #[test]
    fn client_hello_sni() {
        let with = client_hello(Some("tcprax.test"), [0; 32]);
        let without = client_hello(None, [0; 32]);
        assert_eq!(with.len(), without.len() + 4 + 5 + "tcprax.test".len());
        assert!(with.windows(11).any(|w| w == b"tcprax.test"));
    }

    #[test]
    fn tls10_hello_with_certificate() {
        let bytes = flight(0x0301, 0xc014, &[], Some(b"DERDER"));
        let ServerReply::Hello(h) = parse_reply(&bytes) else {
            panic!("no hello")
        };
        assert_eq!(version_name(h.version), "TLSv1.0");
        assert_eq!(
            suite_name(h.cipher_suite),
            Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")
        );
        assert_eq!(h.certificate.as_deref(), Some(&b"DERDER"[..]));
        assert!(h.complete);
    }

    #[test]
    fn supported_versions_overrides_legacy_field() {
        let ext = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
        let ServerReply::Hello(h) = parse_reply(&flight(0x0303, 0x1302, &ext, None)) else {
            panic!("no hello")
        };
        assert_eq!(version_name(h.version), "TLSv1.3");
        assert!(h.complete);
    }

    #[test]
    fn sslv3_without_extensions() {
        let ServerReply::Hello(h) = parse_reply(&flight(0x0300, 0x000a, &[], None)) else {
            panic!("no hello")
        };
        assert_eq!(version_name(h.version), "SSLv3");
    }

    #[test]
    fn every_prefix_is_incomplete_or_hello_never_panics() {
        let bytes = flight(
            0x0302,
            0x002f,
            &[0xff, 0x01, 0x00, 0x01, 0x00],
            Some(&[0x30; 300]),
        );
        for n in 0..bytes.len() {
            let r = parse_reply(&bytes[..n]);
            assert!(
                matches!(r, ServerReply::Incomplete | ServerReply::Hello(_)),
                "prefix {n}: {r:?}"
            );
            assert!(
                !r.is_final() || n == bytes.len(),
                "prefix {n} claims to be final"
            );
        }
        assert!(parse_reply(&bytes).is_final());
    }

    #[test]
    fn alert_means_tls() {
        assert_eq!(
            parse_reply(&[0x15, 0x03, 0x00, 0x00, 0x02, 0x02, 0x28]),
            ServerReply::Alert {
                record_version: 0x0300,
                level: 2,
                description: 40
            }
        );
    }

    #[test]
    fn text_is_not_tls() {
        assert_eq!(
            parse_reply(b"HTTP/1.1 400 Bad Request\r\n"),
            ServerReply::NotTls
        );
        assert_eq!(parse_reply(b"SSH-2.0-x"), ServerReply::NotTls);
        assert_eq!(parse_reply(&[0x16, 0x02]), ServerReply::NotTls);
        assert_eq!(
            parse_reply(&[0x16, 0x03, 0x01, 0xff, 0xff]),
            ServerReply::NotTls
        );
        assert_eq!(
            parse_reply(&[0x16, 0x03, 0x01, 0x00, 0x04, 0x0b, 0, 0, 0]),
            ServerReply::NotTls
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x1234_5678u32;
        for len in 0..600 {
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let mut framed = vec![0x16, 0x03, 0x01];
            framed.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
            framed.extend_from_slice(&noise);
            let _ = parse_reply(&noise);
            let _ = parse_reply(&framed);
        }
    }
}
