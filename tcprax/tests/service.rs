//! End-to-end -sV: every service class against servers this test starts on 127.0.0.1 (real
//! sshd, nginx, vsftpd and openssl s_server from a temp dir, plus tokio fakes), asserting the
//! class and its fields. Expected product versions are read from the installed binaries.
//!
//! Packages: openssh-server (+ openssh-client), nginx-light (or nginx), vsftpd, openssl.
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tcprax::config::ServiceOptions;
use tcprax::model::{ServiceClass, ServiceInfo, TlsInfo};
use tcprax::service::ServiceDetector;
use tcprax_lab::servers::{self, Behaviour, TempDir, TestCert, start_fake};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn detector() -> ServiceDetector {
    ServiceDetector::new(&ServiceOptions::default())
}

async fn detect(port: u16) -> ServiceInfo {
    let started = Instant::now();
    let info = detector().detect(LOCALHOST, port, None).await;
    eprintln!(
        "port {port}: {:?} in {:?}: {info:?}",
        info.class,
        started.elapsed()
    );
    info
}

fn tls(info: &ServiceInfo) -> &TlsInfo {
    info.tls
        .as_ref()
        .unwrap_or_else(|| panic!("no TLS info in {info:?}"))
}

fn rfc3339_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
}

/// The certificate fields every TLS class must report for the generated test certificate.
fn assert_test_cert(tls: &TlsInfo, cert: &TestCert) {
    let c = tls
        .certificate
        .as_ref()
        .unwrap_or_else(|| panic!("no certificate in {tls:?}"));
    assert_eq!(c.subject_cn.as_deref(), Some("tcprax.test"));
    assert_eq!(c.sans, vec!["tcprax.test", "alt.tcprax.test", "127.0.0.1"]);
    assert_eq!(c.issuer.as_deref(), Some("CN=tcprax.test"));
    assert!(c.self_signed);
    let (nb, na) = (
        c.not_before.as_deref().unwrap_or(""),
        c.not_after.as_deref().unwrap_or(""),
    );
    assert!(
        rfc3339_like(nb) && rfc3339_like(na) && nb < na,
        "validity {nb} .. {na}"
    );
    let expected: String = Sha256::digest(&cert.der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(c.sha256, expected);
}

#[tokio::test]
async fn class1_openssh() {
    let dir = TempDir::new("sshd");
    let sshd = servers::start_sshd(&dir);
    let info = detect(sshd.port).await;
    assert_eq!(info.class, ServiceClass::TcpServerInitiated);
    assert_eq!(info.service.as_deref(), Some("ssh"));
    assert_eq!(info.product.as_deref(), Some("OpenSSH"));
    assert_eq!(info.version, Some(servers::openssh_version()));
    assert!(
        info.response.starts_with("SSH-2.0-OpenSSH_"),
        "{}",
        info.response
    );
    assert!(
        info.response.contains(".\n"),
        "CR shown as '.', LF kept: {:?}",
        info.response
    );
    assert_eq!(info.tls, None);
}

#[tokio::test]
async fn class1_vsftpd() {
    let dir = TempDir::new("ftp");
    let ftp = servers::start_vsftpd(&dir);
    let info = detect(ftp.port).await;
    assert_eq!(info.class, ServiceClass::TcpServerInitiated);
    assert_eq!(info.service.as_deref(), Some("ftp"));
    assert_eq!(info.product.as_deref(), Some("vsftpd"));
    assert_eq!(info.version, Some(servers::vsftpd_version()));
    assert!(
        info.response.starts_with("220 (vsFTPd "),
        "{}",
        info.response
    );
}

#[tokio::test]
async fn class1_binary_mysql_greeting() {
    let fake = start_fake(Behaviour::MysqlGreeting("8.0.36")).await;
    let info = detect(fake.port).await;
    assert_eq!(info.class, ServiceClass::TcpServerInitiated);
    assert_eq!(info.service.as_deref(), Some("mysql"));
    assert_eq!(info.product.as_deref(), Some("MySQL"));
    assert_eq!(info.version.as_deref(), Some("8.0.36"));
    // Payload length 0x4a shows as 'J', the rest of the header as '.', protocol 10 as '\n'.
    assert!(
        info.response.starts_with("J...\n8.0.36.....saltsalt"),
        "{}",
        info.response
    );
    assert!(info.response.is_ascii());
}

#[tokio::test]
async fn class2_tls_server_initiated() {
    let dir = TempDir::new("imaps");
    let cert = TestCert::generate(&dir);
    let fake = start_fake(Behaviour::TlsBanner(
        cert.server_config(),
        "* OK IMAP4rev1 ready\r\n",
    ))
    .await;
    let info = detect(fake.port).await;
    assert_eq!(info.class, ServiceClass::TlsServerInitiated);
    assert_eq!(info.service.as_deref(), Some("imaps"));
    assert_eq!(info.response, "* OK IMAP4rev1 ready.\n");
    let tls = tls(&info);
    assert_eq!(tls.version, "TLSv1.3");
    assert!(
        tls.cipher
            .as_deref()
            .is_some_and(|c| c.starts_with("TLS13_")),
        "{tls:?}"
    );
    assert_eq!(tls.alpn, None);
    assert_test_cert(tls, &cert);
}

#[tokio::test]
async fn class3_and_class4_nginx() {
    let dir = TempDir::new("nginx");
    let cert = TestCert::generate(&dir);
    let (nginx, https_port) = servers::start_nginx(&dir, &cert);
    let version = servers::nginx_version();

    let http = detect(nginx.port).await;
    assert_eq!(http.class, ServiceClass::Http);
    assert_eq!(http.service.as_deref(), Some("http"));
    assert_eq!(
        (http.product.as_deref(), http.version.as_deref()),
        (Some("nginx"), Some(version.as_str()))
    );
    assert!(
        http.response.starts_with("HTTP/1.1 200 OK.\n"),
        "{}",
        http.response
    );
    assert!(http.response.contains("<title>tcprax test page</title>"));
    assert_eq!(http.title.as_deref(), Some("tcprax test page"));
    assert_eq!(http.tls, None);

    let https = detect(https_port).await;
    assert_eq!(https.class, ServiceClass::Https);
    assert_eq!(https.title.as_deref(), Some("tcprax test page"));
    assert_eq!(https.service.as_deref(), Some("https"));
    assert_eq!(
        (https.product.as_deref(), https.version.as_deref()),
        (Some("nginx"), Some(version.as_str()))
    );
    assert!(
        https.response.starts_with("HTTP/1.1 200 OK.\n"),
        "{}",
        https.response
    );
    let tls = tls(&https);
    assert_eq!(tls.version, "TLSv1.3");
    assert!(
        tls.cipher
            .as_deref()
            .is_some_and(|c| c.starts_with("TLS13_")),
        "{tls:?}"
    );
    // http2 is on for this listener and we offer h2 first.
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    assert_test_cert(tls, &cert);
}

#[tokio::test]
async fn class5_silent_tcp_is_bounded() {
    let fake = start_fake(Behaviour::SilentTcp).await;
    let opts = ServiceOptions::default();
    let started = Instant::now();
    let info = ServiceDetector::new(&opts)
        .detect(LOCALHOST, fake.port, None)
        .await;
    let took = started.elapsed();
    eprintln!("silent TCP took {took:?}");
    assert_eq!(info.class, ServiceClass::GenericTcp);
    assert_eq!(
        (info.service, info.response.as_str(), info.tls),
        (None, "", None)
    );
    assert!(took < opts.probe_timeout * 4, "silent port took {took:?}");
}

#[tokio::test]
async fn class5_generic_with_response() {
    let fake = start_fake(Behaviour::MemcachedLike).await;
    let info = detect(fake.port).await;
    assert_eq!(info.class, ServiceClass::GenericTcp);
    assert_eq!(info.service.as_deref(), Some("memcached"));
    assert_eq!(info.version.as_deref(), Some("1.6.99"));
    assert!(
        info.response.contains("VERSION 1.6.99.\n"),
        "{}",
        info.response
    );
}

#[tokio::test]
async fn class5_reset_immediately() {
    let fake = start_fake(Behaviour::Reset).await;
    let started = Instant::now();
    let info = detect(fake.port).await;
    assert_eq!(info.class, ServiceClass::GenericTcp);
    assert_eq!(
        (info.service, info.response.as_str(), info.tls),
        (None, "", None)
    );
    assert!(started.elapsed() < ServiceOptions::default().probe_timeout * 4);
}

#[tokio::test]
async fn class5_closed_port_does_not_hang() {
    let port = servers::free_port();
    let info = detect(port).await;
    assert_eq!(info.class, ServiceClass::GenericTcp);
    assert_eq!(info.response, "");
}

#[tokio::test]
async fn class6_silent_tls() {
    let dir = TempDir::new("tls-silent");
    let cert = TestCert::generate(&dir);
    let fake = start_fake(Behaviour::TlsSilent(cert.server_config())).await;
    let started = Instant::now();
    let info = detect(fake.port).await;
    assert_eq!(info.class, ServiceClass::GenericTls);
    assert_eq!(
        (info.service.as_deref(), info.response.as_str()),
        (None, "")
    );
    assert_eq!(tls(&info).version, "TLSv1.3");
    assert_test_cert(tls(&info), &cert);
    assert!(started.elapsed() < ServiceOptions::default().probe_timeout * 4);
}

#[tokio::test]
async fn class6_tls10_only_server_via_raw_client_hello() {
    let dir = TempDir::new("tls10");
    let cert = TestCert::generate(&dir);
    let server = servers::start_tls10(&dir, &cert);
    let info = detect(server.port).await;
    assert_eq!(info.class, ServiceClass::GenericTls);
    let tls = tls(&info);
    assert_eq!(tls.version, "TLSv1.0");
    // The server picks; TLS 1.0 has only CBC suites, and ours are named from the table.
    assert!(
        tls.cipher
            .as_deref()
            .is_some_and(|c| c.starts_with("TLS_ECDHE_RSA_WITH_AES_") && c.ends_with("_CBC_SHA")),
        "{tls:?}"
    );
    // TLS 1.0 sends the Certificate message in the clear: read from the raw flight.
    assert_test_cert(tls, &cert);
}

/// A truncated or corrupted certificate never panics, and the raw-DER fallback still finds the
/// subject CN (and, as issuer == subject, calls it self-signed).
#[test]
fn malformed_certificate_falls_back_to_raw_common_name() {
    let dir = TempDir::new("badcert");
    let cert = TestCert::generate(&dir);
    for cut in [cert.der.len() - 1, cert.der.len() - 40, cert.der.len() / 2] {
        let info = tcprax::service::cert_info(&cert.der[..cut]);
        assert_eq!(
            info.subject_cn.as_deref(),
            Some("tcprax.test"),
            "cut at {cut}"
        );
        assert_eq!(info.issuer.as_deref(), Some("CN=tcprax.test"));
        assert!(info.self_signed);
        assert_eq!(info.sha256.len(), 64);
    }
    let mut corrupt = cert.der.clone();
    corrupt[1] ^= 0x7f; // outer SEQUENCE length now wrong
    assert_eq!(
        tcprax::service::cert_info(&corrupt).subject_cn.as_deref(),
        Some("tcprax.test")
    );
    for cut in 0..cert.der.len() {
        let _ = tcprax::service::cert_info(&cert.der[..cut]);
    }
}

/// rustls speaks TLS 1.2 but has no RSA-key-exchange suites: the handshake fails for a reason
/// other than the version, and the raw ClientHello still reports version and suite.
#[tokio::test]
async fn class6_tls12_with_only_legacy_suites() {
    let dir = TempDir::new("tls12-rsa");
    let cert = TestCert::generate(&dir);
    let server = servers::start_openssl_server(&dir, &cert, &["-tls1_2", "-cipher", "AES128-SHA"]);
    let info = detect(server.port).await;
    assert_eq!(info.class, ServiceClass::GenericTls);
    let tls = tls(&info);
    assert_eq!(tls.version, "TLSv1.2");
    assert_eq!(tls.cipher.as_deref(), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert_test_cert(tls, &cert);
}

/// A dozen services at once through one detector, as the scan pipeline runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dozen_services_concurrently_well_under_five_seconds() {
    let dir = TempDir::new("dozen");
    let cert = TestCert::generate(&dir);
    let sshd = servers::start_sshd(&dir);
    let ftp = servers::start_vsftpd(&dir);
    let (nginx, https) = servers::start_nginx(&dir, &cert);
    let tls10 = servers::start_tls10(&dir, &cert);
    let fakes = [
        start_fake(Behaviour::MysqlGreeting("8.0.36")).await,
        start_fake(Behaviour::TlsBanner(
            cert.server_config(),
            "* OK IMAP4rev1 ready\r\n",
        ))
        .await,
        start_fake(Behaviour::SilentTcp).await,
        start_fake(Behaviour::MemcachedLike).await,
        start_fake(Behaviour::Reset).await,
        start_fake(Behaviour::TlsSilent(cert.server_config())).await,
    ];
    let mut ports = vec![sshd.port, ftp.port, nginx.port, https, tls10.port];
    ports.extend(fakes.iter().map(|f| f.port));
    ports.push(servers::free_port());
    let expected = [
        ServiceClass::TcpServerInitiated,
        ServiceClass::TcpServerInitiated,
        ServiceClass::Http,
        ServiceClass::Https,
        ServiceClass::GenericTls,
        ServiceClass::TcpServerInitiated,
        ServiceClass::TlsServerInitiated,
        ServiceClass::GenericTcp,
        ServiceClass::GenericTcp,
        ServiceClass::GenericTcp,
        ServiceClass::GenericTls,
        ServiceClass::GenericTcp,
    ];
    let detector = detector();
    for rtt in [None, Some(Duration::from_micros(100))] {
        let started = Instant::now();
        let tasks: Vec<_> = ports
            .iter()
            .map(|&port| {
                let d = detector.clone();
                tokio::spawn(async move { d.detect(LOCALHOST, port, rtt).await })
            })
            .collect();
        let mut classes = Vec::new();
        for task in tasks {
            classes.push(task.await.expect("detect task").class);
        }
        let took = started.elapsed();
        eprintln!("-sV of {} services, RTT {rtt:?}: {took:?}", ports.len());
        assert_eq!(classes, expected, "RTT {rtt:?}");
        assert!(
            took < Duration::from_secs(5),
            "-sV of a dozen services took {took:?}"
        );
    }
}
