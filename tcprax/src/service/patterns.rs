//! Naming a service from what it sent: a data table of byte regexes, first match wins.
//!
//! Each row is (regex, service, product template, version template); templates use the
//! regex's capture groups (`$1`, `$2`) and an empty expansion means "unknown". Adding a
//! service is one line in [`PATTERNS`]. The regexes run on raw bytes (`regex::bytes`), so a
//! row can match binary greetings (MySQL, telnet IAC, RDP) as easily as text banners; rows that
//! match raw bytes turn Unicode off with `(?-u)`. All rows are written for tcprax.
use regex::bytes::Regex;
use std::sync::LazyLock;

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    pub regex: &'static str,
    pub service: &'static str,
    pub product: Option<&'static str>,
    pub version: Option<&'static str>,
    /// nmap's `i/`: detail beside the version, e.g. a protocol revision.
    pub extrainfo: Option<&'static str>,
}

const fn row(
    regex: &'static str,
    service: &'static str,
    product: Option<&'static str>,
    version: Option<&'static str>,
) -> Pattern {
    Pattern {
        regex,
        service,
        product,
        version,
        extrainfo: None,
    }
}

/// A row that also fills extrainfo.
const fn row_i(
    regex: &'static str,
    service: &'static str,
    product: Option<&'static str>,
    version: Option<&'static str>,
    extrainfo: &'static str,
) -> Pattern {
    Pattern {
        extrainfo: Some(extrainfo),
        ..row(regex, service, product, version)
    }
}

const REDIS: Option<&str> = Some("Redis key-value store");

/// The table, tried in order. More specific rows of a service come before its catch-all row.
pub static PATTERNS: &[Pattern] = &[
    // SSH: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".
    row(
        r"^SSH-[\d.]+-OpenSSH_([\w.]+)",
        "ssh",
        Some("OpenSSH"),
        Some("$1"),
    ),
    row(
        r"^SSH-[\d.]+-dropbear_([\w.]+)",
        "ssh",
        Some("Dropbear sshd"),
        Some("$1"),
    ),
    row(r"^SSH-[\d.]+-([^\s]+)", "ssh", Some("$1"), None),
    // FTP before SMTP: both greet with 220.
    row(
        r"^220[- ][^\r\n]*\(vsFTPd ([\w.]+)\)",
        "ftp",
        Some("vsftpd"),
        Some("$1"),
    ),
    // vsftpd greets with "500 OOPS:" when its configuration is unusable.
    row(r"^500 OOPS: ", "ftp", Some("vsftpd"), None),
    row(
        r"^220[- ][^\r\n]*ProFTPD(?: (\d[\w.]*))?",
        "ftp",
        Some("ProFTPD"),
        Some("$1"),
    ),
    row(r"^220[- ][^\r\n]*Pure-FTPd", "ftp", Some("Pure-FTPd"), None),
    row(
        r"^220[- ][^\r\n]*FileZilla Server(?: version)?(?: (\d[\w.\-]*))?",
        "ftp",
        Some("FileZilla ftpd"),
        Some("$1"),
    ),
    row(r"(?i)^220[- ][^\r\n]*\bftp", "ftp", None, None),
    row(
        r"^220[- ][^\r\n]*ESMTP Exim ([\w.]+)",
        "smtp",
        Some("Exim"),
        Some("$1"),
    ),
    row(
        r"^220[- ][^\r\n]*ESMTP Postfix",
        "smtp",
        Some("Postfix"),
        None,
    ),
    row(
        r"^220[- ][^\r\n]*ESMTP Sendmail ([\w.]+)",
        "smtp",
        Some("Sendmail"),
        Some("$1"),
    ),
    row(
        r"^220[- ][^\r\n]*Microsoft ESMTP MAIL Service",
        "smtp",
        Some("Microsoft Exchange smtpd"),
        None,
    ),
    row(
        r"(?i)^220[- ][^\r\n]*\b(?:e?smtp|mail)\b",
        "smtp",
        None,
        None,
    ),
    row(r"^\+OK[^\r\n]*Dovecot", "pop3", Some("Dovecot pop3d"), None),
    row(r"^\+OK", "pop3", None, None),
    row(
        r"^\* OK[^\r\n]*Dovecot",
        "imap",
        Some("Dovecot imapd"),
        None,
    ),
    row(
        r"^\* OK[^\r\n]*Cyrus IMAP[^\r\n]*? v?(\d[\w.\-]*)",
        "imap",
        Some("Cyrus imapd"),
        Some("$1"),
    ),
    row(r"^\* (?:OK|PREAUTH)", "imap", None, None),
    // HTTP: the Server header, searched in the header block only (lines before the blank one).
    row(
        r"^HTTP/\d(?:\.\d)? \d{3}[^\n]*\n(?:[^\r\n]+\r?\n)*?(?i:server):[ \t]*([^/\s]+)(?:/([^\s]+))?",
        "http",
        Some("$1"),
        Some("$2"),
    ),
    row(r"^HTTP/\d(?:\.\d)? \d{3}", "http", None, None),
    // Redis answers our "GET / HTTP/1.1" line as a GET command with the wrong arity.
    row(r"(?m)^redis_version:([\d.]+)", "redis", REDIS, Some("$1")),
    row(
        r"^-ERR wrong number of arguments for 'get' command",
        "redis",
        REDIS,
        None,
    ),
    row(r"^-(?:NOAUTH|DENIED Redis)", "redis", REDIS, None),
    // Redis's answer to a command it does not know (our HELP line): the wording is its own.
    row(
        r"^-ERR unknown command [`'][^\r\n]*[`'], with args beginning with:",
        "redis",
        REDIS,
        None,
    ),
    row(r"^-ERR unknown command [`']", "redis", REDIS, None),
    // MySQL/MariaDB greeting: 3-byte length, sequence 0, protocol 10, NUL-terminated version.
    row(
        r"(?s-u)^..\x00\x00\x0a(?:5\.5\.5-)?(\d[\w.]*)-MariaDB",
        "mysql",
        Some("MariaDB"),
        Some("$1"),
    ),
    row(
        r"(?s-u)^..\x00\x00\x0a(\d[\w.\-+~]*)\x00",
        "mysql",
        Some("MySQL"),
        Some("$1"),
    ),
    row(
        r"(?s-u)^..\x00\x00\xff..Host [^\x00]{1,128} is not allowed to connect to this (MySQL|MariaDB) server",
        "mysql",
        Some("$1"),
        None,
    ),
    // PostgreSQL error response ('E', length, 'S' severity).
    row(
        r"(?s-u)^E\x00\x00..S(?:FATAL|ERROR)\x00",
        "postgresql",
        Some("PostgreSQL DB"),
        None,
    ),
    row(
        r"(?m)^VERSION (\d[\w.]*)\r?$",
        "memcached",
        Some("memcached"),
        Some("$1"),
    ),
    row(
        r"(?m)^STAT pid \d+\r?$",
        "memcached",
        Some("memcached"),
        None,
    ),
    // beanstalkd: its `stats` answer (a YAML document) carries the version...
    row(
        r#"(?sm)^OK \d+\r\n---\n.*?^version: "?(\d[\w.]*)"?$"#,
        "beanstalkd",
        Some("beanstalkd"),
        Some("$1"),
    ),
    // ...and a command it does not know (any of our generic lines) gets its own error word.
    row(
        r"^(?:UNKNOWN_COMMAND|BAD_FORMAT)\r\n",
        "beanstalkd",
        Some("beanstalkd"),
        None,
    ),
    // git daemon: a pkt-line (four hex digits of length) with an ERR message or the first ref
    // of an advertisement (object id, space, ref name), the answer to our git-upload-pack probe.
    row(
        r"(?-u)^[0-9a-f]{4}(?:ERR |[0-9a-f]{40} \S|version [12]\n)",
        "git",
        None,
        None,
    ),
    // Telnet option negotiation: IAC WILL/WONT/DO/DONT.
    row(r"(?s-u)^\xff[\xfb-\xfe]", "telnet", None, None),
    // RDP: TPKT v3 carrying an X.224 Connection Confirm.
    row(r"(?s-u)^\x03\x00\x00[\x0b\x13]\x0e\xd0", "rdp", None, None),
    // NATS greets with an INFO line of JSON.
    row(
        r#"^INFO \{"server_id":"[^"]*".*?"version":"(\d[\w.\-]*)""#,
        "nats",
        Some("NATS Server"),
        Some("$1"),
    ),
    // VNC: "RFB 003.008" is the RFB protocol revision, not a product version.
    row_i(
        r"^RFB 0*(\d+)\.0*(\d+)\n",
        "vnc",
        None,
        None,
        "protocol $1.$2",
    ),
];

/// The table compiled once; a row that fails to compile is skipped (a unit test keeps that from
/// happening) rather than panicking at scan time.
static COMPILED: LazyLock<Vec<(Regex, &'static Pattern)>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .filter_map(|p| Regex::new(p.regex).ok().map(|r| (r, p)))
        .collect()
});

/// How much of a response the patterns look at.
const MATCH_WINDOW: usize = 16 * 1024;

/// What a row named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identified {
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    /// The host name an SMTP greeting announces (nmap's `h/`).
    pub hostname: Option<String>,
}

/// Name the service that sent `bytes`, if a row matches.
pub fn identify(bytes: &[u8]) -> Option<Identified> {
    let window = &bytes[..bytes.len().min(MATCH_WINDOW)];
    COMPILED.iter().find_map(|(re, pat)| {
        let caps = re.captures(window)?;
        let expand = |template: Option<&str>| {
            let template = template?;
            let mut out = Vec::new();
            caps.expand(template.as_bytes(), &mut out);
            let s = String::from_utf8_lossy(&out).trim().to_owned();
            (!s.is_empty()).then_some(s)
        };
        Some(Identified {
            service: pat.service.to_owned(),
            product: expand(pat.product),
            version: expand(pat.version),
            extrainfo: expand(pat.extrainfo),
            hostname: (pat.service == "smtp")
                .then(|| smtp_hostname(window))
                .flatten(),
        })
    })
}

/// The host name at the start of an SMTP greeting ("220 mx.example.org ESMTP ..."): a dotted
/// name, as RFC 5321 puts the server's domain first.
fn smtp_hostname(bytes: &[u8]) -> Option<String> {
    static HOST: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^220[- ]([A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)+)[ \r\n]").ok()
    });
    let caps = HOST.as_ref()?.captures(bytes)?;
    Some(String::from_utf8_lossy(caps.get(1)?.as_bytes()).into_owned())
}

/// The name of a service when it runs inside TLS: the customary port names where there is one
/// (smtps, imaps, ...), nmap's "ssl/" prefix otherwise.
pub fn tls_service(service: &str) -> String {
    match service {
        "http" => "https".to_owned(),
        "smtp" => "smtps".to_owned(),
        "imap" => "imaps".to_owned(),
        "pop3" => "pop3s".to_owned(),
        "ftp" => "ftps".to_owned(),
        "telnet" => "telnets".to_owned(),
        other => format!("ssl/{other}"),
    }
}

/// The `<title>` of an HTML page, whitespace collapsed, if the response carries one.
pub fn http_title(bytes: &[u8]) -> Option<String> {
    static TITLE: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?is)<title[^>]*>(.*?)</title>").ok());
    let caps = TITLE.as_ref()?.captures(bytes)?;
    let text = String::from_utf8_lossy(caps.get(1)?.as_bytes())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(bytes: &[u8]) -> (String, Option<String>, Option<String>) {
        let i = identify(bytes).expect("a row matches");
        (i.service, i.product, i.version)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn every_row_compiles() {
        for p in PATTERNS {
            assert!(Regex::new(p.regex).is_ok(), "bad regex {}", p.regex);
        }
        assert_eq!(COMPILED.len(), PATTERNS.len());
    }

    #[test]
    fn ssh() {
        assert_eq!(
            id(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
            ("ssh".into(), some("OpenSSH"), some("9.2p1"))
        );
        assert_eq!(
            id(b"SSH-2.0-dropbear_2022.83\r\n"),
            ("ssh".into(), some("Dropbear sshd"), some("2022.83"))
        );
        assert_eq!(
            id(b"SSH-2.0-libssh_0.10\r\n"),
            ("ssh".into(), some("libssh_0.10"), None)
        );
    }

    #[test]
    fn ftp_and_smtp_share_220() {
        assert_eq!(
            id(b"220 (vsFTPd 3.0.3)\r\n"),
            ("ftp".into(), some("vsftpd"), some("3.0.3"))
        );
        assert_eq!(
            id(b"220 ProFTPD 1.3.8 Server ready\r\n"),
            ("ftp".into(), some("ProFTPD"), some("1.3.8"))
        );
        assert_eq!(id(b"220 FTP server ready\r\n"), ("ftp".into(), None, None));
        assert_eq!(
            id(b"500 OOPS: vsftpd: refusing to run\r\n"),
            ("ftp".into(), some("vsftpd"), None)
        );
        assert_eq!(
            id(b"220 ProFTPD Server (Debian)\r\n"),
            ("ftp".into(), some("ProFTPD"), None)
        );
        assert_eq!(
            id(b"220 mx.example ESMTP Exim 4.96 Mon, 01 Jan 2024\r\n"),
            ("smtp".into(), some("Exim"), some("4.96"))
        );
        assert_eq!(
            id(b"220 mx.example ESMTP Postfix (Debian/GNU)\r\n"),
            ("smtp".into(), some("Postfix"), None)
        );
        let host = |b: &[u8]| identify(b).and_then(|i| i.hostname);
        assert_eq!(
            host(b"220 mx.example ESMTP Exim 4.96\r\n"),
            some("mx.example")
        );
        assert_eq!(host(b"220 ESMTP ready\r\n"), None);
        assert_eq!(host(b"220 (vsFTPd 3.0.3)\r\n"), None, "FTP: no host name");
        assert_eq!(
            id(b"220 mx.example ESMTP ready\r\n"),
            ("smtp".into(), None, None)
        );
    }

    #[test]
    fn mail_access() {
        assert_eq!(
            id(b"+OK Dovecot (Debian) ready.\r\n"),
            ("pop3".into(), some("Dovecot pop3d"), None)
        );
        assert_eq!(id(b"* OK IMAP4rev1 ready\r\n"), ("imap".into(), None, None));
        assert_eq!(
            id(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.\r\n"),
            ("imap".into(), some("Dovecot imapd"), None)
        );
    }

    #[test]
    fn http_server_header() {
        let resp = b"HTTP/1.1 200 OK\r\nDate: x\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html>";
        assert_eq!(id(resp), ("http".into(), some("nginx"), some("1.22.1")));
        let apache = b"HTTP/1.1 404 Not Found\r\nserver: Apache/2.4.57 (Debian)\r\n\r\n";
        assert_eq!(id(apache), ("http".into(), some("Apache"), some("2.4.57")));
        let bare = b"HTTP/1.0 200 OK\r\nServer: lighttpd\r\n\r\n";
        assert_eq!(id(bare), ("http".into(), some("lighttpd"), None));
    }

    #[test]
    fn http_server_in_body_is_not_a_header() {
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nServer: fake/9.9\r\n";
        assert_eq!(id(resp), ("http".into(), None, None));
    }

    #[test]
    fn binary_greetings() {
        let mut mysql = vec![0x4a, 0x00, 0x00, 0x00, 0x0a];
        mysql.extend_from_slice(b"8.0.36\x00\x01\x00\x00\x00abcdefgh\x00\xff\xf7");
        assert_eq!(id(&mysql), ("mysql".into(), some("MySQL"), some("8.0.36")));
        let mut maria = vec![0x5b, 0x00, 0x00, 0x00, 0x0a];
        maria.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\x00\x03\x00");
        assert_eq!(
            id(&maria),
            ("mysql".into(), some("MariaDB"), some("10.11.6"))
        );
        assert_eq!(id(&[0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20]).0, "telnet");
        assert_eq!(
            id(&[0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0]).0,
            "rdp"
        );
        assert_eq!(id(b"RFB 003.008\n"), ("vnc".into(), None, None));
        let nats = b"INFO {\"server_id\":\"NB\",\"server_name\":\"NB\",\"version\":\"2.9.10\",\"proto\":1} \r\n";
        assert_eq!(
            id(nats),
            ("nats".into(), some("NATS Server"), some("2.9.10"))
        );
        let vnc = identify(b"RFB 003.008\n").map(|i| i.extrainfo);
        assert_eq!(vnc, Some(some("protocol 3.8")));
        let old = identify(b"RFB 003.003\n").map(|i| i.extrainfo);
        assert_eq!(old, Some(some("protocol 3.3")));
    }

    #[test]
    fn line_protocols() {
        assert_eq!(
            id(b"ERROR\r\nERROR\r\nVERSION 1.6.18\r\n"),
            ("memcached".into(), some("memcached"), some("1.6.18"))
        );
        assert_eq!(
            id(b"-ERR wrong number of arguments for 'get' command\r\n"),
            ("redis".into(), some("Redis key-value store"), None)
        );
        assert_eq!(
            id(b"-ERR unknown command 'HELP', with args beginning with: \r\n").0,
            "redis"
        );
        assert_eq!(
            id(b"-ERR unknown command `HELP`, with args beginning with: \r\n").0,
            "redis"
        );
        // Redis in protected mode (the default, without a password) answers a client that is not
        // on loopback with this alone: the version stays hidden, the name does not.
        assert_eq!(
            id(
                b"-DENIED Redis is running in protected mode because protected mode is enabled \
                 and no password is set for the default user.\r\n"
            ),
            ("redis".into(), some("Redis key-value store"), None)
        );
        assert_eq!(id(b"-NOAUTH Authentication required.\r\n").0, "redis");
        assert_eq!(
            id(b"$3000\r\n# Server\r\nredis_version:7.0.15\r\n"),
            (
                "redis".into(),
                some("Redis key-value store"),
                some("7.0.15")
            )
        );
    }

    #[test]
    fn beanstalkd_and_git() {
        assert_eq!(
            id(b"UNKNOWN_COMMAND\r\nUNKNOWN_COMMAND\r\nUNKNOWN_COMMAND\r\n"),
            ("beanstalkd".into(), some("beanstalkd"), None)
        );
        assert_eq!(
            id(b"OK 936\r\n---\ncurrent-jobs-urgent: 0\npid: 77\nversion: \"1.12\"\nrusage-utime: 0.0\n"),
            ("beanstalkd".into(), some("beanstalkd"), some("1.12"))
        );
        assert_eq!(
            id(b"0047ERR access denied or repository not exported: /\n").0,
            "git"
        );
        let refs = b"00f1a3c5d7e9f1a3c5d7e9f1a3c5d7e9f1a3c5d7e9f1 HEAD\0multi_ack\n";
        assert_eq!(id(refs).0, "git");
        assert_eq!(identify(b"0047hello"), None);
    }

    #[test]
    fn garbage_matches_nothing_and_never_panics() {
        assert_eq!(identify(b""), None);
        assert_eq!(identify(b"\x00\x01\x02 hello"), None);
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let _ = identify(&noise);
    }

    #[test]
    fn tls_names() {
        assert_eq!(tls_service("smtp"), "smtps");
        assert_eq!(tls_service("http"), "https");
        assert_eq!(tls_service("mysql"), "ssl/mysql");
    }

    #[test]
    fn title() {
        assert_eq!(
            http_title(b"<html><TITLE>\n Welcome  to\tnginx! </title>"),
            some("Welcome to nginx!")
        );
        assert_eq!(http_title(b"<html></html>"), None);
    }
}
