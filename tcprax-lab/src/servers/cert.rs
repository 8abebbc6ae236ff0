//! Self-signed certificates made with openssl for the TLS servers, and the rustls server
//! configuration the TLS fakes use.
use super::{TempDir, require, run_ok};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

/// A self-signed certificate, by default for tcprax.test (SANs: tcprax.test, alt.tcprax.test,
/// 127.0.0.1).
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
    /// The subject CN it was made with.
    pub subject_cn: String,
    /// Its subject alternative names as tcprax reports them: DNS names, then addresses.
    pub sans: Vec<String>,
}

impl TestCert {
    pub fn generate(dir: &TempDir) -> TestCert {
        TestCert::generate_for(
            dir,
            "tcprax.test",
            &["tcprax.test", "alt.tcprax.test"],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        )
    }

    /// A self-signed certificate for `cn` with these DNS and IP subject alternative names.
    pub fn generate_for(dir: &TempDir, cn: &str, dns: &[&str], ips: &[IpAddr]) -> TestCert {
        let openssl = require("openssl", "openssl");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let sans: Vec<String> = dns
            .iter()
            .map(|d| (*d).to_owned())
            .chain(ips.iter().map(IpAddr::to_string))
            .collect();
        let san_ext = dns
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(ips.iter().map(|ip| format!("IP:{ip}")))
            .collect::<Vec<_>>()
            .join(",");
        run_ok(
            Command::new(&openssl)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                ])
                .arg("-subj")
                .arg(format!("/CN={cn}"))
                .arg("-addext")
                .arg(format!("subjectAltName={san_ext}"))
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            "openssl req",
        );
        let der = CertificateDer::from_pem_file(&cert)
            .expect("read generated certificate")
            .to_vec();
        TestCert {
            cert,
            key,
            der,
            subject_cn: cn.to_owned(),
            sans,
        }
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::from_pem_file(&self.key).expect("read generated key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(self.der.clone())], key)
        .expect("server certificate");
        Arc::new(config)
    }
}
