//! A JARM-like TLS server fingerprint (`tls.jarm`): how a server answers a fixed set of
//! hand-made ClientHellos.
//!
//! [`PROBES`] are ten ClientHellos that differ in offered versions (TLS 1.1, 1.2, 1.3, via
//! the legacy field or supported_versions), cipher order (forward, reversed, TLS 1.3 first or
//! last, old suites only), extension order and ALPN. Each goes on its own connection, all at
//! once, and the server's ServerHello is reduced to its chosen version and suite and, separately,
//! its ALPN and extension types. The fingerprint is 62 characters: for each probe, the suite's
//! position in [`crate::wire::tls::known_suites`] (two hex digits, `00` for no ServerHello) and
//! the version (`a` SSLv3 .. `e` TLS 1.3, `0` none), then the first 32 hex digits of the
//! SHA-256 of every probe's ALPN and extension list.
//!
//! The shape follows Salesforce's JARM (ten probes, suite/version digits, a truncated hash of
//! the extensions) but the probes are tcprax's own, so the values are NOT JARM values and cannot
//! be looked up in JARM databases: compare tcprax fingerprints with tcprax fingerprints. Two
//! servers with the same TLS library and configuration get the same value; a server that
//! answers none of the probes gets none.
use super::{Waits, connect};
use crate::wire::tls::{self as tls_wire, HelloSpec, ServerReply};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Suites of the probes, by family.
const TLS13: &[u16] = &[0x1301, 0x1302, 0x1303];
const MODERN: &[u16] = &[
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009e, 0x009f,
    0x009c, 0x009d, 0x002f, 0x0035,
];
const OLD: &[u16] = &[
    0x0033, 0x0039, 0x003c, 0x003d, 0x002f, 0x0035, 0x0016, 0x000a, 0x0005, 0x0004,
];
const V13: &[u16] = &[0x0304, 0x0303, 0x0302, 0x0301];
const V13_ONLY: &[u16] = &[0x0304];
const V12_DOWN: &[u16] = &[0x0303, 0x0302, 0x0301];
const ALPN_BOTH: &[&str] = &["h2", "http/1.1"];
const ALPN_REVERSED: &[&str] = &["http/1.1", "h2"];

/// One probe: which suites, in which order, and the rest of the hello.
struct Probe {
    suites: &'static [&'static [u16]],
    reverse_suites: bool,
    client_version: u16,
    supported_versions: &'static [u16],
    alpn: &'static [&'static str],
    reverse_extensions: bool,
}

const fn probe(
    suites: &'static [&'static [u16]],
    client_version: u16,
    supported_versions: &'static [u16],
) -> Probe {
    Probe {
        suites,
        reverse_suites: false,
        client_version,
        supported_versions,
        alpn: ALPN_BOTH,
        reverse_extensions: false,
    }
}

/// The fixed probe set; changing it changes every fingerprint.
const PROBES: &[Probe] = &[
    // TLS 1.2, modern suites forward and reversed.
    probe(&[MODERN], 0x0303, &[]),
    Probe {
        reverse_suites: true,
        ..probe(&[MODERN], 0x0303, &[])
    },
    // TLS 1.2 ceiling via supported_versions, reversed ALPN preference.
    Probe {
        alpn: ALPN_REVERSED,
        ..probe(&[MODERN], 0x0303, V12_DOWN)
    },
    // TLS 1.1 ceiling, old suites only, no ALPN.
    Probe {
        alpn: &[],
        ..probe(&[OLD], 0x0302, &[])
    },
    // TLS 1.3 first and last in the suite list.
    probe(&[TLS13, MODERN], 0x0303, V13),
    Probe {
        reverse_suites: true,
        ..probe(&[TLS13, MODERN], 0x0303, V13)
    },
    // TLS 1.3 only; then the same without ALPN and extensions reversed.
    probe(&[TLS13], 0x0303, V13_ONLY),
    Probe {
        alpn: &[],
        reverse_extensions: true,
        ..probe(&[TLS13], 0x0303, V13_ONLY)
    },
    // Everything offered, extensions reversed.
    Probe {
        reverse_extensions: true,
        ..probe(&[TLS13, MODERN, OLD], 0x0303, V13)
    },
    // Old suites with TLS 1.3 offered: does the server pick 1.3 without a 1.3 suite?
    Probe {
        alpn: ALPN_REVERSED,
        ..probe(&[OLD], 0x0303, V13)
    },
];

/// What one probe learned; `None` when the server sent no ServerHello.
type Answer = Option<tls_wire::ServerHello>;

/// The fingerprint of `target`, or None when no probe got a ServerHello.
pub(crate) async fn fingerprint(target: SocketAddr, w: Waits) -> Option<String> {
    let mut set = JoinSet::new();
    for (i, p) in PROBES.iter().enumerate() {
        set.spawn(async move { (i, ask(target, p, &w).await) });
    }
    let mut answers: Vec<Answer> = vec![None; PROBES.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, answer)) = joined
            && let Some(slot) = answers.get_mut(i)
        {
            *slot = answer;
        }
    }
    summarise(&answers)
}

async fn ask(target: SocketAddr, p: &Probe, w: &Waits) -> Answer {
    let mut suites: Vec<u16> = p.suites.iter().flat_map(|s| s.iter().copied()).collect();
    if p.reverse_suites {
        suites.reverse();
    }
    let hello = tls_wire::build_client_hello(
        &HelloSpec {
            client_version: p.client_version,
            supported_versions: p.supported_versions,
            alpn: p.alpn,
            key_share: !p.supported_versions.is_empty(),
            reverse_extensions: p.reverse_extensions,
            ..HelloSpec::legacy(&suites)
        },
        rand::random(),
    );
    let mut stream = connect(target, w).await.ok()?;
    if !matches!(
        timeout(w.response, stream.write_all(&hello)).await,
        Ok(Ok(()))
    ) {
        return None;
    }
    // The ServerHello is all we need: stop as soon as it is parsed.
    let buf = super::read_until(&mut stream, super::HELLO_CAP, w.handshake, w, |flight| {
        !matches!(tls_wire::parse_reply(flight), ServerReply::Incomplete)
    })
    .await;
    match tls_wire::parse_reply(&buf) {
        ServerReply::Hello(h) => Some(h),
        _ => None,
    }
}

/// The fingerprint string of a set of answers (see the module doc).
fn summarise(answers: &[Answer]) -> Option<String> {
    if answers.iter().all(Option::is_none) {
        return None;
    }
    let known: Vec<u16> = tls_wire::known_suites().collect();
    let mut head = String::with_capacity(answers.len() * 3);
    let mut tail = String::new();
    for answer in answers {
        match answer {
            Some(h) => {
                let index = known
                    .iter()
                    .position(|&s| s == h.cipher_suite)
                    .map_or(0xff, |i| (i + 1).min(0xfe));
                let version = match h.version {
                    0x0300 => 'a',
                    0x0301 => 'b',
                    0x0302 => 'c',
                    0x0303 => 'd',
                    0x0304 => 'e',
                    _ => 'f',
                };
                let _ = write!(head, "{index:02x}{version}");
                let exts: Vec<String> = h.extensions.iter().map(|e| format!("{e:04x}")).collect();
                let _ = write!(
                    tail,
                    "{}|{},",
                    h.alpn.as_deref().unwrap_or(""),
                    exts.join("-")
                );
            }
            None => {
                head.push_str("000");
                tail.push_str("|,");
            }
        }
    }
    let digest = Sha256::digest(tail.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(head + &hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(version: u16, suite: u16, extensions: &[u16], alpn: Option<&str>) -> Answer {
        Some(tls_wire::ServerHello {
            version,
            cipher_suite: suite,
            extensions: extensions.to_vec(),
            alpn: alpn.map(str::to_owned),
            certificate: None,
            complete: true,
        })
    }

    #[test]
    fn nothing_answered_is_no_fingerprint() {
        assert_eq!(summarise(&vec![None; PROBES.len()]), None);
    }

    #[test]
    fn shape_and_sensitivity() {
        let mut answers: Vec<Answer> = vec![None; PROBES.len()];
        answers[0] = hello(0x0303, 0xc02f, &[0xff01, 0x0010], Some("h2"));
        answers[4] = hello(0x0304, 0x1301, &[0x002b, 0x0033], None);
        let fp = summarise(&answers).expect("a fingerprint");
        assert_eq!(fp.len(), PROBES.len() * 3 + 32, "{fp}");
        assert!(fp.starts_with("02d000000000"), "{fp}");
        // TLS13_AES_128_GCM_SHA256 comes right after the offered legacy suites.
        let aes128 = tls_wire::known_suites()
            .position(|s| s == 0x1301)
            .unwrap_or(0)
            + 1;
        assert_eq!(&fp[12..15], format!("{aes128:02x}e"));
        // Another extension order is another fingerprint; the same answers, the same one.
        assert_eq!(summarise(&answers), Some(fp.clone()));
        answers[0] = hello(0x0303, 0xc02f, &[0x0010, 0xff01], Some("h2"));
        let other = summarise(&answers).expect("a fingerprint");
        assert_eq!(other[..30], fp[..30]);
        assert_ne!(other, fp);
    }

    #[test]
    fn probes_are_well_formed_hellos() {
        for p in PROBES {
            let suites: Vec<u16> = p.suites.iter().flat_map(|s| s.iter().copied()).collect();
            let hello = tls_wire::build_client_hello(
                &HelloSpec {
                    client_version: p.client_version,
                    supported_versions: p.supported_versions,
                    alpn: p.alpn,
                    key_share: true,
                    reverse_extensions: p.reverse_extensions,
                    ..HelloSpec::legacy(&suites)
                },
                [0; 32],
            );
            let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
            assert_eq!(len + 5, hello.len());
        }
    }
}
