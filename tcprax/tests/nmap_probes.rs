//! The probe-file engine against the REAL nmap-service-probes installed on this machine
//! (Debian's nmap-common; `cargo xtask test` installs nmap). Never a copy of it: its licence
//! forbids bundling. Without the file every test here says so and passes vacuously.
//!
//! Every match line is counted (compiled or refused by PCRE2), and answers written for these
//! tests, the way the daemons send them, must map to the product, version and CPE the file's
//! lines give them.
use std::sync::Arc;
use tcprax::service::nmap::{self, Hit, Loaded, ProbeDb};

fn installed() -> Option<Arc<ProbeDb>> {
    match nmap::load(None).expect("a probe file that exists must parse") {
        Loaded::Found(source) => Some(source.db_blocking().clone()),
        Loaded::Missing { searched } => {
            eprintln!(
                "SKIP: no nmap-service-probes in {searched:?} (apt install nmap-common); \
                 these tests need the real file"
            );
            None
        }
    }
}

fn name(db: &ProbeDb, probe: &str, answer: &[u8]) -> Hit {
    let index = db
        .index(probe)
        .unwrap_or_else(|| panic!("the file has no {probe} probe"));
    db.test(index, answer, false).unwrap_or_else(|| {
        panic!(
            "nothing in the file matched {:?}",
            String::from_utf8_lossy(answer)
        )
    })
}

#[test]
fn every_match_line_is_counted_and_almost_all_compile() {
    let Some(db) = installed() else { return };
    let lines: usize = db.probes.iter().map(|p| p.spec.matches.len()).sum();
    let (ok, failed) = db.compile_all();
    eprintln!(
        "{}: {} probes ({} TCP), {lines} match lines: {ok} compiled, {failed} refused; {} lines skipped",
        db.path.display(),
        db.probes.len(),
        db.tcp_probes(),
        db.skipped.len()
    );
    assert_eq!(ok + failed, lines);
    assert!(
        lines > 5000,
        "a real file has thousands of lines, this one {lines}"
    );
    assert!(db.tcp_probes() > 50, "{} TCP probes", db.tcp_probes());
    // PCRE2 takes nmap's PCRE syntax: a failure here is a bug in how lines are read.
    assert!(failed * 1000 <= lines, "{failed} of {lines} lines refused");
    assert!(db.skipped.len() <= 5, "skipped: {:?}", db.skipped);
    for name in ["NULL", "GetRequest", "GenericLines", "Help"] {
        assert!(db.index(name).is_some(), "no {name} probe");
    }
}

#[test]
fn banners_map_to_product_version_and_cpe() {
    let Some(db) = installed() else { return };
    let ssh = name(&db, "NULL", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    assert_eq!(ssh.service, "ssh");
    assert_eq!(ssh.version.product.as_deref(), Some("OpenSSH"));
    assert_eq!(
        ssh.version.version.as_deref(),
        Some("9.2p1 Debian 2+deb12u3")
    );
    assert!(
        ssh.version
            .cpe
            .contains(&"cpe:/a:openbsd:openssh:9.2p1".to_owned()),
        "{:?}",
        ssh.version.cpe
    );
    assert_eq!(ssh.probe, "NULL");

    let postfix = name(
        &db,
        "NULL",
        b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
    );
    assert_eq!(postfix.service, "smtp");
    assert_eq!(postfix.version.product.as_deref(), Some("Postfix smtpd"));
    assert_eq!(
        postfix.version.hostname.as_deref(),
        Some("mail.example.org")
    );

    let exim = name(
        &db,
        "NULL",
        b"220 mx.example.com ESMTP Exim 4.96 Tue, 01 Dec 2026 18:00:00 +0000\r\n",
    );
    assert_eq!(exim.service, "smtp");
    assert_eq!(exim.version.product.as_deref(), Some("Exim smtpd"));
    assert_eq!(exim.version.version.as_deref(), Some("4.96"));
    assert!(
        exim.version
            .cpe
            .iter()
            .any(|c| c.starts_with("cpe:/a:exim:exim:4.96"))
    );

    let vsftpd = name(&db, "NULL", b"220 (vsFTPd 3.0.3)\r\n");
    assert_eq!(vsftpd.service, "ftp");
    assert_eq!(vsftpd.version.product.as_deref(), Some("vsftpd"));
    assert_eq!(vsftpd.version.version.as_deref(), Some("3.0.3"));

    let proftpd = name(
        &db,
        "NULL",
        b"220 ProFTPD 1.3.8 Server (Debian) [198.18.0.2]\r\n",
    );
    assert_eq!(proftpd.service, "ftp");
    assert_eq!(proftpd.version.product.as_deref(), Some("ProFTPD"));
    assert_eq!(proftpd.version.version.as_deref(), Some("1.3.8"));
}

#[test]
fn client_first_answers_map_through_their_probes() {
    let Some(db) = installed() else { return };
    // Redis reads nmap's `GET / HTTP/1.0` as a GET command with two arguments.
    let redis = name(
        &db,
        "GetRequest",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    assert_eq!(redis.service, "redis");
    assert_eq!(redis.probe, "GetRequest");
    // ... and answers the redis-server probe's INFO with its version.
    let info = b"$3000\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
    let redis = name(&db, "redis-server", info);
    assert_eq!(redis.version.version.as_deref(), Some("7.0.15"));
    assert_eq!(redis.version.cpe, ["cpe:/a:redislabs:redis:7.0.15"]);

    // dnsmasq's answer to version.bind (CHAOS TXT) over TCP: length, header, question, answer.
    let mut dns = Vec::new();
    dns.extend_from_slice(b"\x00\x06\x85\x80\x00\x01\x00\x01\x00\x00\x00\x00");
    dns.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
    dns.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x0d\x0cdnsmasq-2.90");
    let mut tcp = u16::try_from(dns.len()).unwrap().to_be_bytes().to_vec();
    tcp.extend_from_slice(&dns);
    let dnsmasq = name(&db, "DNSVersionBindReqTCP", &tcp);
    assert_eq!(dnsmasq.service, "domain");
    assert_eq!(dnsmasq.version.product.as_deref(), Some("dnsmasq"));
    assert_eq!(dnsmasq.version.version.as_deref(), Some("2.90"));

    // An answer to a probe whose own lines do not know it falls back to NULL's lines.
    let ssh = name(
        &db,
        "GenericLines",
        b"SSH-2.0-OpenSSH_9.2p1\r\nInvalid SSH identification string.\r\n",
    );
    assert_eq!(
        (ssh.service.as_str(), ssh.probe.as_str()),
        ("ssh", "GenericLines")
    );
}

/// A probe file written for this test (not nmap's): the engine's order, rarity and templates
/// through the real binary, whether or not nmap is installed.
const OWN_FILE: &str = "Probe TCP NULL q||\n\
match ssh m|^SSH-| p/never/\n\
softmatch pingd m|^HELLO pingd\\r\\n|\n\
Probe TCP Quiet q|nothing here\\r\\n|\n\
rarity 1\n\
Probe TCP Ping q|PING-tcprax\\r\\n|\n\
rarity 5\n\
match pingd m|^PONG tcprax-test ([\\d.]+) \\(([^)]+)\\)\\r\\n| p/tcprax pingd/ v/$1/ i/$2/ cpe:/a:tcprax:pingd:$1/\n\
match pingd m|^HELLO pingd\\r\\nPONG tcprax-test ([\\d.]+) | p/tcprax pingd/ v/$1/ i/greeter/\n\
totalwait 5\n";

/// A client-first server on loopback: answers `PING-tcprax` and nothing else (anything else
/// gets silence until the client closes).
fn ping_server() -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut seen = Vec::new();
                let mut buf = [0u8; 512];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(11).any(|w| w == b"PING-tcprax") {
                        let _ = conn.write_all(b"PONG tcprax-test 4.2 (for tests)\r\n");
                        return;
                    }
                }
            });
        }
    });
    port
}

fn run_tcprax(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tcprax"))
        .args(args)
        .output()
        .expect("run tcprax")
}

/// `tcprax -sT -sV 127.0.0.1 -p PORT --service-probes FILE EXTRA... -oJ -`: the `service` object
/// of its one port line, and its stderr. Fails the test if tcprax fails or prints no port.
fn service_of(port: &str, file: &std::path::Path, extra: &[&str]) -> (serde_json::Value, String) {
    let file = file.to_str().unwrap();
    let mut args = vec![
        "-sT",
        "-sV",
        "127.0.0.1",
        "-p",
        port,
        "--service-probes",
        file,
    ];
    args.extend_from_slice(extra);
    args.extend(["-oJ", "-"]);
    let out = run_tcprax(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("\"type\":\"port\""))
        .unwrap_or_else(|| panic!("no port line:\n{text}"));
    let service = serde_json::from_str::<serde_json::Value>(line).unwrap()["service"].clone();
    (service, stderr)
}

#[test]
fn a_probe_file_given_on_the_command_line_names_a_client_first_server() {
    let dir = std::env::temp_dir().join(format!("tcprax-own-probes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("probes");
    std::fs::write(&file, OWN_FILE).unwrap();
    let port = ping_server().to_string();
    let scan = |intensity: &str| {
        let (service, stderr) = service_of(&port, &file, &["--version-intensity", intensity]);
        // The misspelt last line is ignored, and said so once.
        assert_eq!(
            stderr
                .matches("1 line ignored (line 10: unknown directive 'totalwait')")
                .count(),
            1,
            "{stderr}"
        );
        service
    };
    let named = scan("7");
    assert_eq!(named["service"], "pingd", "{named}");
    assert_eq!(named["product"], "tcprax pingd", "{named}");
    assert_eq!(named["version"], "4.2", "{named}");
    assert_eq!(named["extrainfo"], "for tests", "{named}");
    assert_eq!(named["cpe"][0], "cpe:/a:tcprax:pingd:4.2", "{named}");
    assert_eq!(named["matched_by"], "nmap:Ping", "{named}");
    assert!(
        named["response"]
            .as_str()
            .unwrap()
            .starts_with("PONG tcprax-test"),
        "{named}"
    );
    // Below the probe's rarity it is not sent, and nothing names the port.
    let unnamed = scan("4");
    assert!(unnamed["service"].is_null(), "{unnamed}");
    assert!(unnamed.get("matched_by").is_none(), "{unnamed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_probe_file_that_cannot_be_used_is_bad_input() {
    let out = run_tcprax(&[
        "-sV",
        "127.0.0.1",
        "-p",
        "1",
        "--service-probes",
        "/nonexistent/nmap-service-probes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the service probe file /nonexistent/nmap-service-probes"),
        "{stderr}"
    );
}

/// The same PING server inside TLS: tcprax must send the file's probes over TLS on a port where
/// its fast path saw TLS, although the file lists no `sslports` for it.
#[test]
fn a_tls_port_gets_the_file_probes_over_tls() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tcprax_lab::servers::TempDir::new("nmaptls");
    let cert = tcprax_lab::servers::TestCert::generate(&dir);
    let acceptor = tokio_rustls::TlsAcceptor::from(cert.server_config());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut seen = Vec::new();
                let mut buf = [0u8; 512];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(11).any(|w| w == b"PING-tcprax") {
                        let _ = tls.write_all(b"PONG tcprax-test 5.0 (over tls)\r\n").await;
                        let _ = tls.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    let file = dir.join("probes");
    std::fs::write(&file, OWN_FILE).unwrap();
    let service = &service_of(&port, &file, &[]).0;
    assert_eq!(service["class"], "generic-tls", "{service}");
    assert!(service["tls"].is_object(), "{service}");
    assert_eq!(service["service"], "ssl/pingd", "{service}");
    assert_eq!(service["version"], "5.0", "{service}");
    assert_eq!(service["extrainfo"], "over tls", "{service}");
    assert_eq!(service["matched_by"], "nmap:Ping", "{service}");
    drop(rt);
}

/// A server-first variant: it greets `HELLO pingd`, which only a softmatch of the file knows.
/// The softmatch must name the service and narrow the probes to those that can name it: the
/// Quiet probe (no pingd line) is never sent, Ping is, and its answer decides (as in nmap, the
/// answer to a probe includes the greeting, and the line says so).
#[test]
fn a_softmatch_narrows_the_probes_to_its_service() {
    use std::io::{Read as _, Write as _};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let quiet_probes = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let counter = quiet_probes.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let _ = conn.write_all(b"HELLO pingd\r\n");
                let mut seen = Vec::new();
                let mut buf = [0u8; 512];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(12).any(|w| w == b"nothing here") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    if seen.windows(11).any(|w| w == b"PING-tcprax") {
                        let _ = conn.write_all(b"PONG tcprax-test 6.1 (greeter)\r\n");
                        return;
                    }
                }
            });
        }
    });
    let dir = tcprax_lab::servers::TempDir::new("nmapsoft");
    let file = dir.join("probes");
    std::fs::write(&file, OWN_FILE).unwrap();
    let service = &service_of(&port, &file, &[]).0;
    assert_eq!(service["class"], "tcp-server-initiated", "{service}");
    assert_eq!(service["service"], "pingd", "{service}");
    assert_eq!(service["version"], "6.1", "{service}");
    assert_eq!(service["matched_by"], "nmap:Ping", "{service}");
    assert_eq!(
        quiet_probes.load(Ordering::SeqCst),
        0,
        "the Quiet probe was sent"
    );
}

#[test]
fn a_tls_port_gets_no_tls_hello_probe_inside_tls() {
    let Some(db) = installed() else { return };
    let names = |port: u16, tls: bool| -> Vec<String> {
        db.plan(port, tls, 9, &[], None)
            .into_iter()
            .map(|i| db.probes[i].spec.name.clone())
            .collect()
    };
    let hellos = [
        "SSLSessionReq",
        "TLSSessionReq",
        "SSLv23SessionReq",
        "TLS-PSK",
    ];
    let plain = names(9000, false);
    let tls = names(9000, true);
    for hello in hellos {
        assert!(plain.iter().any(|n| n == hello), "{hello} not in {plain:?}");
        assert!(!tls.iter().any(|n| n == hello), "{hello} in {tls:?}");
    }
    assert_eq!(plain.len(), tls.len() + hellos.len());
    assert!(!plain.iter().any(|n| n == "NULL"));
}

/// nmap's `tcpwrapped`: a server that closes every connection at once, before a byte, is
/// reported so (the file's NULL probe gives `tcpwrappedms`); one that closes only once it has
/// read something (garbage to it) is not.
#[test]
fn a_server_that_closes_before_a_byte_is_tcpwrapped() {
    use std::io::Read as _;
    const WRAPPED_FILE: &str = "Probe TCP NULL q||\n\
tcpwrappedms 3000\n\
Probe TCP Quiet q|nothing here\\r\\n|\n\
rarity 1\n";
    let dir = tcprax_lab::servers::TempDir::new("nmapwrapped");
    let file = dir.join("probes");
    std::fs::write(&file, WRAPPED_FILE).unwrap();
    // `read_first`: read one byte before closing (a server that hangs up on garbage).
    let server = |read_first: bool| -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                if read_first {
                    std::thread::spawn(move || {
                        let mut conn = conn;
                        let _ = conn.read(&mut [0u8; 1]);
                    });
                }
            }
        });
        port.to_string()
    };
    let scan = |port: &str| service_of(port, &file, &[]).0;
    let wrapped = scan(&server(false));
    assert_eq!(wrapped["service"], "tcpwrapped", "{wrapped}");
    assert_eq!(wrapped["matched_by"], "nmap:NULL", "{wrapped}");
    let hangs_up_on_garbage = scan(&server(true));
    assert!(
        hangs_up_on_garbage["service"].is_null(),
        "{hangs_up_on_garbage}"
    );
}

/// The parser never panics on a broken file: every line of the real file, cut short at every
/// third byte after a Probe line, is either read or named in `skipped`. (A file edited by hand
/// or cut by a full disk is bad input, not a crash.)
#[test]
fn every_line_of_the_real_file_cut_short_parses_or_is_skipped() {
    let path = std::path::Path::new("/usr/share/nmap/nmap-service-probes");
    let Ok(text) = std::fs::read(path) else {
        eprintln!("SKIP: no {} (apt install nmap-common)", path.display());
        return;
    };
    let mut cut_lines = 0usize;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        for end in (0..line.len()).step_by(3) {
            let mut file = b"Probe TCP Cut q|x|\n".to_vec();
            file.extend_from_slice(&line[..end]);
            let parsed = nmap::parse::parse(&file);
            assert_eq!(
                parsed.probes.len().max(1),
                parsed.probes.len(),
                "probes stay a list"
            );
            cut_lines += 1;
        }
    }
    assert!(
        cut_lines > 100_000,
        "only {cut_lines} cuts: is the file complete?"
    );
}
