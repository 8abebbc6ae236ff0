//! The rustls side of -sV: client configurations that accept any certificate, and turning an
//! established connection (or a failed handshake) into what the report needs.
//!
//! A scanner must see every server's certificate, valid or not, so the verifier accepts all
//! certificates and handshake signatures: nothing sent over these connections is secret, and the
//! certificate itself is what we report.
use super::ProbeError;
use super::cert::cert_info;
use crate::model::TlsInfo;
use crate::wire::tls::{suite_name, version_name};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// Accepts and does not judge: see the module doc.
#[derive(Debug)]
struct AcceptAnyCert {
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// One client configuration per use, differing only in ALPN.
#[derive(Clone, Debug)]
pub(crate) struct TlsConfigs {
    /// Second handshake: offers h2 and http/1.1 so the report shows what the server prefers.
    pub alpn: Arc<ClientConfig>,
    /// HTTP probe: http/1.1 only, so an h2 server still answers our HTTP/1.1 GET.
    pub http: Arc<ClientConfig>,
    /// First handshake and the generic probe: no ALPN, as nmap's, which a server with strict
    /// ALPN (Exim >= 4.95) accepts where it refuses any protocol it does not serve.
    pub plain: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// None only if rustls rejects its own default provider, which would be a rustls bug; the
    /// detector then relies on the hand-made ClientHello alone.
    pub fn new() -> Option<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AcceptAnyCert {
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        });
        let build = |alpn: &[&[u8]]| -> Option<Arc<ClientConfig>> {
            let mut config = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .ok()?
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            // Every probe is a full handshake: a resumed one would carry no certificate.
            config.resumption = rustls::client::Resumption::disabled();
            Some(Arc::new(config))
        };
        Some(TlsConfigs {
            alpn: build(&[b"h2", b"http/1.1"])?,
            http: build(&[b"http/1.1"])?,
            plain: build(&[])?,
        })
    }
}

/// What an established rustls connection negotiated.
pub(crate) fn tls_info(conn: &ClientConnection) -> TlsInfo {
    let version = conn
        .protocol_version()
        .map(|v| version_name(u16::from(v)))
        .unwrap_or_default();
    let cipher = conn.negotiated_cipher_suite().map(|s| {
        let suite = s.suite();
        let id = u16::from(suite);
        suite
            .as_str()
            .or_else(|| suite_name(id))
            .map_or_else(|| format!("0x{id:04x}"), str::to_owned)
    });
    TlsInfo {
        version,
        cipher,
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        certificate: conn
            .peer_certificates()
            .and_then(<[_]>::first)
            .map(|der| cert_info(der.as_ref())),
        jarm: None,
    }
}

/// Sort a failed handshake: did the peer speak something other than TLS, or is it a TLS server
/// rustls would not finish with (old version, old suites, an alert) that the hand-made
/// ClientHello should look at?
pub(crate) fn classify_failure(addr: std::net::SocketAddr, source: std::io::Error) -> ProbeError {
    let rustls_error = source
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    // The first byte of the reply was not a TLS content type: a plain-text protocol answered.
    if let Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) =
        rustls_error
    {
        return ProbeError::NotTls { addr };
    }
    ProbeError::Handshake { addr, source }
}
