//! What a leaf certificate says: names, issuer, validity, self-signature and fingerprint.
//!
//! x509-parser reads the certificate; when it refuses (truncated, non-DER, exotic encodings:
//! scanners meet all of these), [`cert_info`] still returns the SHA-256 of the bytes and the
//! subject CN found by searching the raw DER for the commonName OID (2.5.4.3), so a broken
//! certificate still names its host.
use crate::model::CertInfo;
use sha2::{Digest, Sha256};
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Describe the DER certificate `der`. Never fails: unparseable input yields the fallback.
pub fn cert_info(der: &[u8]) -> CertInfo {
    let sha256 = hex(&Sha256::digest(der));
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => parsed(&cert, sha256),
        Err(_) => fallback(der, sha256),
    }
}

fn parsed(cert: &X509Certificate<'_>, sha256: String) -> CertInfo {
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(san_name)
            .collect(),
        _ => Vec::new(),
    };
    let validity = cert.validity();
    CertInfo {
        subject_cn,
        sans,
        issuer: Some(cert.issuer().to_string()),
        not_before: Some(rfc3339(validity.not_before.timestamp())),
        not_after: Some(rfc3339(validity.not_after.timestamp())),
        // The issuer naming the subject is what "self-signed" means to a reader of a scan;
        // verifying the signature would add nothing for the certificates that matter here.
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        sha256,
    }
}

fn san_name(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::IPAddress(bytes) => Some(match *bytes {
            [a, b, c, d] => Ipv4Addr::new(*a, *b, *c, *d).to_string(),
            _ => match <[u8; 16]>::try_from(*bytes) {
                Ok(v6) => Ipv6Addr::from(v6).to_string(),
                Err(_) => hex(bytes),
            },
        }),
        _ => None,
    }
}

/// RFC 3339 in UTC, e.g. "2023-11-14T22:13:20Z", from Unix seconds.
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = crate::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

/// What can be said about a certificate x509-parser refused.
fn fallback(der: &[u8], sha256: String) -> CertInfo {
    let cns = raw_common_names(der);
    // In a TBSCertificate the issuer Name precedes the subject Name, so with two or more CNs
    // the first is the issuer's and the last the subject's.
    let (issuer, subject_cn) = match cns.as_slice() {
        [] => (None, None),
        [only] => (None, Some(only.clone())),
        [first, .., last] => (Some(format!("CN={first}")), Some(last.clone())),
    };
    let self_signed = matches!(&issuer, Some(i) if Some(i.as_str()) == subject_cn.as_ref().map(|s| format!("CN={s}")).as_deref());
    CertInfo {
        subject_cn,
        sans: Vec::new(),
        issuer,
        self_signed,
        sha256,
        ..CertInfo::default()
    }
}

/// Every commonName value in `der`, in order, found by the OID's encoding
/// (06 03 55 04 03) followed by a string TLV.
pub fn raw_common_names(der: &[u8]) -> Vec<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(pos) = der
        .get(i..)
        .and_then(|rest| rest.windows(CN_OID.len()).position(|w| w == CN_OID))
    {
        let start = i + pos + CN_OID.len();
        if let Some(s) = der.get(start..).and_then(string_tlv) {
            out.push(s);
        }
        i = start;
    }
    out
}

/// Decode one DER string (UTF8String, PrintableString, T61String, IA5String, BMPString).
fn string_tlv(tlv: &[u8]) -> Option<String> {
    let (&tag, rest) = tlv.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = match len0 {
        0..=0x7f => (usize::from(len0), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    let value = rest.get(..len)?;
    match tag {
        0x0c | 0x13 | 0x14 | 0x16 => Some(String::from_utf8_lossy(value).into_owned()),
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_gets_fingerprint_only() {
        let info = cert_info(b"not a certificate");
        assert_eq!(info.subject_cn, None);
        assert_eq!(info.sha256.len(), 64);
        assert!(!info.self_signed);
        assert_eq!(
            cert_info(b"").sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn raw_cn_search_finds_issuer_then_subject() {
        let mut der = vec![0x30, 0x82, 0x01, 0x00, 0xa0, 0x03];
        der.extend_from_slice(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x07]);
        der.extend_from_slice(b"Test CA");
        der.extend_from_slice(&[0x31, 0x00, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x0b]);
        der.extend_from_slice(b"tcprax.test");
        der.extend_from_slice(&[
            0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x04, 0x00, b'h', 0x00, b'i',
        ]);
        // A truncated final occurrence must not panic.
        der.extend_from_slice(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x40, b'x']);
        assert_eq!(raw_common_names(&der), vec!["Test CA", "tcprax.test", "hi"]);
        let info = cert_info(&der);
        assert_eq!(info.subject_cn.as_deref(), Some("hi"));
        assert_eq!(info.issuer.as_deref(), Some("CN=Test CA"));
        assert!(!info.self_signed);
    }

    #[test]
    fn truncated_real_prefix_never_panics() {
        // Every prefix of a plausible DER header, and long-form lengths pointing past the end.
        let der = [
            0x30, 0x82, 0xff, 0xff, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x82, 0xff,
        ];
        for n in 0..=der.len() {
            let _ = cert_info(&der[..n]);
        }
    }

    #[test]
    fn rfc3339_format() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
