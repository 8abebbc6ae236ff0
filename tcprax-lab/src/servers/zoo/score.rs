//! How a tool's answer for one port is scored against its [`Truth`] (docs/benchmark-sv.md,
//! "Matching rules"):
//!
//! - **service**: names compared case-insensitively after normalising: a trailing `?` (nmap's
//!   guess from the port number alone) makes the answer wrong; `ssl/` or `tls/` is removed, and
//!   so is the `s` of a TLS name (`imaps` ≈ `ssl/imap`, `https` ≈ `http`); then names nmap and
//!   others spell differently are one (`domain` = `dns`, `ms-wbt-server` = `rdp`,
//!   `xmpp-client` = `xmpp`, `http-proxy` = `http` (a proxy speaks HTTP), `mysql` = `mariadb`,
//!   ...). Whether TLS was seen is not part of this score.
//! - **product**: right when the tool's product field contains one of the truth's product names,
//!   case-insensitively.
//! - **version**: right when the tool's version field contains the upstream version as a whole
//!   token: not preceded by a digit or `.`, not followed by a digit or by `.` and a digit
//!   (`9.2p1` in `9.2p1 Debian 2`, `10.11.19` in `5.5.5-10.11.19-MariaDB`; `7.0.1` is not in
//!   `7.0.15`).
use super::Truth;

/// What a tool reported for one port (None: nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
}

/// Which parts of an answer were right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    pub service: bool,
    pub product: bool,
    pub version: bool,
}

/// Spellings of one service; the first is the canonical one.
const SAME_SERVICE: &[&[&str]] = &[
    &["domain", "dns", "dns-tcp"],
    &["ms-wbt-server", "rdp"],
    &["xmpp-client", "xmpp", "jabber"],
    &["http", "http-proxy", "http-alt", "squid-http"],
    &["svn", "svnserve"],
    &["postgresql", "postgres"],
    &["mysql", "mariadb"],
    &["kerberos-sec", "kerberos", "krb5"],
    &["rpcbind", "portmap", "portmapper", "sunrpc"],
    &["vnc", "rfb"],
    &["mqtt", "mosquitto"],
    &["smtp", "submissions", "submission", "esmtp"],
    &["git", "git-daemon"],
];

/// Names whose trailing `s` means "inside TLS".
const TLS_S: &[&str] = &[
    "http", "imap", "pop3", "smtp", "irc", "ldap", "ftp", "nntp", "telnet",
];

/// The canonical form of a service name, or None when it is a guess or unknown.
pub fn canonical_service(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || name.ends_with('?') {
        return None;
    }
    let name = name
        .strip_prefix("ssl/")
        .or_else(|| name.strip_prefix("tls/"))
        .unwrap_or(&name);
    let name = match name.strip_suffix('s') {
        Some(base) if TLS_S.contains(&base) => base,
        _ => name,
    };
    if matches!(
        name,
        "unknown" | "tcpwrapped" | "generic-tcp" | "generic-tls"
    ) {
        return None;
    }
    let canonical = SAME_SERVICE
        .iter()
        .find(|names| names.contains(&name))
        .map_or(name, |names| names[0]);
    Some(canonical.to_owned())
}

/// Whether `version` contains `wanted` as a whole token (see the module documentation).
pub fn version_matches(version: &str, wanted: &str) -> bool {
    if wanted.is_empty() {
        return false;
    }
    let (hay, needle) = (version.to_ascii_lowercase(), wanted.to_ascii_lowercase());
    hay.match_indices(&needle).any(|(at, _)| {
        let before = hay[..at].chars().next_back();
        let rest = &hay[at + needle.len()..];
        let mut after = rest.chars();
        let next = after.next();
        let boundary_before = !matches!(before, Some(c) if c.is_ascii_digit() || c == '.');
        let boundary_after = match next {
            None => true,
            Some(c) if c.is_ascii_digit() => false,
            Some('.') => !after.next().is_some_and(|c| c.is_ascii_digit()),
            Some(_) => true,
        };
        boundary_before && boundary_after
    })
}

pub fn score(truth: &Truth, answer: &Answer) -> Score {
    let service = answer
        .service
        .as_deref()
        .and_then(canonical_service)
        .is_some_and(|s| Some(s) == canonical_service(truth.service));
    let product = answer.product.as_deref().is_some_and(|p| {
        let p = p.to_ascii_lowercase();
        truth
            .products
            .iter()
            .any(|name| p.contains(&name.to_ascii_lowercase()))
    });
    let version = answer
        .version
        .as_deref()
        .is_some_and(|v| version_matches(v, &truth.version));
    Score {
        service,
        product,
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(service: &'static str, products: &'static [&'static str], version: &str) -> Truth {
        Truth {
            service,
            tls: false,
            products,
            version: version.to_owned(),
            package: "p".into(),
            package_version: version.to_owned(),
            announced: true,
        }
    }

    fn answer(service: &str, product: &str, version: &str) -> Answer {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Answer {
            service: some(service),
            product: some(product),
            version: some(version),
        }
    }

    #[test]
    fn service_names_of_both_tools_meet() {
        for (a, b) in [
            ("ssl/imap", "imaps"),
            ("ssl/http", "https"),
            ("HTTP", "http"),
            ("domain", "dns"),
            ("ms-wbt-server", "rdp"),
            ("http-proxy", "http"),
            ("ssl/smtp", "smtps"),
            ("ssl/smtp", "submissions"),
            ("xmpp-client", "xmpp"),
            ("ssl/redis", "redis"),
        ] {
            assert_eq!(canonical_service(a), canonical_service(b), "{a} vs {b}");
            assert!(canonical_service(a).is_some());
        }
        assert_ne!(canonical_service("imap"), canonical_service("pop3"));
        for guess in [
            "imaps?",
            "ssl/unknown",
            "unknown",
            "tcpwrapped",
            "",
            "generic-tcp",
        ] {
            assert_eq!(canonical_service(guess), None, "{guess}");
        }
    }

    #[test]
    fn versions_match_as_whole_tokens() {
        assert!(version_matches("9.2p1 Debian 2+deb12u10", "9.2p1"));
        assert!(version_matches(
            "5.5.5-10.11.19-MariaDB-0+deb12u1",
            "10.11.19"
        ));
        assert!(version_matches("1.6.7~rc0", "1.6.7"));
        assert!(version_matches("dnsmasq-2.90", "2.90"));
        assert!(version_matches("4.96", "4.96"));
        assert!(!version_matches("7.0.15", "7.0.1"));
        assert!(!version_matches("17.0.15", "7.0.15"));
        assert!(!version_matches("4.96.1", "4.96"));
        assert!(version_matches("4.96.", "4.96"));
        assert!(!version_matches("", "4.96"));
        assert!(!version_matches("4.96", ""));
    }

    #[test]
    fn an_answer_is_scored_part_by_part() {
        let t = truth("mysql", &["MariaDB"], "10.11.19");
        let s = score(
            &t,
            &answer("mysql", "MySQL", "5.5.5-10.11.19-MariaDB-0+deb12u1"),
        );
        assert_eq!(
            s,
            Score {
                service: true,
                product: false,
                version: true
            }
        );
        let s = score(&t, &answer("mariadb", "MariaDB", "10.11.19"));
        assert!(s.service && s.product && s.version);
        assert_eq!(score(&t, &Answer::default()), Score::default());
        let dns = truth("domain", &["dnsmasq"], "2.90");
        let s = score(&dns, &answer("dns", "dnsmasq", "2.90"));
        assert!(s.service && s.product && s.version);
        assert!(!score(&dns, &answer("domain?", "", "")).service);
    }
}
