//! The hand-made TLS reader (`wire::tls`): `record_version` and `parse_reply` on arbitrary
//! server bytes, then what -sV does with the result (names, the certificate).
//!
//! Property: `is_final` promises that more bytes cannot change the answer, because -sV stops
//! reading there; so a final answer on a prefix must agree with the answer on the whole.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::service::cert_info;
use tcprax::wire::tls::{ServerReply, parse_reply, record_version, suite_name, version_name};

/// What must not change once a prefix is final: the variant, and a ServerHello's version and
/// suite (a broken server may still send a second Certificate after ServerHelloDone).
fn verdict(reply: &ServerReply) -> (u8, u16, u16) {
    match reply {
        ServerReply::Incomplete => (0, 0, 0),
        ServerReply::NotTls => (1, 0, 0),
        ServerReply::Alert { record_version, .. } => (2, *record_version, 0),
        ServerReply::Hello(h) => (3, h.version, h.cipher_suite),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = record_version(data);
    let whole = parse_reply(data);
    if let ServerReply::Hello(h) = &whole {
        let _ = version_name(h.version);
        let _ = suite_name(h.cipher_suite);
        if let Some(der) = &h.certificate {
            assert_eq!(cert_info(der).sha256.len(), 64);
        }
    }
    for quarter in 1..4 {
        let prefix = parse_reply(&data[..data.len() * quarter / 4]);
        if prefix.is_final() {
            assert_eq!(
                verdict(&prefix),
                verdict(&whole),
                "final on a prefix, different on the whole: {prefix:?} then {whole:?}"
            );
        }
    }
});
