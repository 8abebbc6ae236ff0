//! Unit tests of the TLS record reader and the hand-made ClientHello.
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
    let hs_len = usize::from(hello[6]) << 16 | usize::from(hello[7]) << 8 | usize::from(hello[8]);
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
