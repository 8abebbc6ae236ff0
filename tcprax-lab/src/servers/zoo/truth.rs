//! Ground truth per zoo port: nmap's service name, the product, and the upstream version of the
//! installed Debian package (`dpkg-query -W -f '${Version}'`, epoch, Debian revision and
//! repack suffixes removed), so that a package upgrade moves the truth with it.
use super::Animal;
use std::process::Command;

/// What a tool should say about one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truth {
    /// The service name as nmap names it (`domain`, `ms-wbt-server`, `imap`, ...).
    pub service: &'static str,
    /// Whether the service runs inside TLS (nmap's `ssl/`).
    pub tls: bool,
    /// Names any of which, found in a tool's product field (case-insensitive), count as the
    /// right product. The first is the one the report shows.
    pub products: &'static [&'static str],
    /// The upstream version of the package, e.g. `9.2p1` for `1:9.2p1-2+deb12u10`.
    pub version: String,
    /// The package the version was read from, and its full Debian version.
    pub package: String,
    pub package_version: String,
    /// Whether the daemon tells its version to an unauthenticated client at all (else no tool
    /// can know it; the report marks those).
    pub announced: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("`dpkg-query -W {package}` failed: is the package installed? ({detail})")]
    NotInstalled { package: String, detail: String },
}

/// The Debian version of an installed package, e.g. `1:9.2p1-2+deb12u10`.
pub fn package_version(package: &str) -> Result<String, TruthError> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}\t${Version}", package])
        .output()
        .map_err(|e| TruthError::NotInstalled {
            package: package.to_owned(),
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.split_once('\t') {
        Some((status, version)) if out.status.success() && status.ends_with(" installed") => {
            Ok(version.trim().to_owned())
        }
        _ => Err(TruthError::NotInstalled {
            package: package.to_owned(),
            detail: format!("{}{}", text, String::from_utf8_lossy(&out.stderr).trim()),
        }),
    }
}

/// The upstream part of a Debian version: no epoch (`1:`), no Debian revision (after the last
/// `-`), no repack or pre-release suffix (`+dfsg1`, `+ds1`, `~rc0`).
pub fn upstream_version(debian: &str) -> String {
    let no_epoch = debian.split_once(':').map_or(debian, |(_, rest)| rest);
    let no_revision = no_epoch.rsplit_once('-').map_or(no_epoch, |(up, _)| up);
    let end = no_revision.find(['+', '~']).unwrap_or(no_revision.len());
    no_revision[..end].to_owned()
}

/// The first of `packages` that is installed.
fn installed(packages: &[&str]) -> Result<(String, String), TruthError> {
    let mut last = None;
    for p in packages {
        match package_version(p) {
            Ok(v) => return Ok(((*p).to_owned(), v)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(TruthError::NotInstalled {
        package: String::new(),
        detail: "no package named".into(),
    }))
}

fn truth(
    service: &'static str,
    tls: bool,
    products: &'static [&'static str],
    packages: &[&str],
    announced: bool,
) -> Result<Truth, TruthError> {
    let (package, package_version) = installed(packages)?;
    Ok(Truth {
        service,
        tls,
        products,
        version: upstream_version(&package_version),
        package,
        package_version,
        announced,
    })
}

/// The PostgreSQL server package is versioned by major (`postgresql-15`).
fn postgres_packages() -> Vec<String> {
    let mut majors: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    majors.sort_unstable_by(|a, b| b.cmp(a));
    majors.iter().map(|m| format!("postgresql-{m}")).collect()
}

/// The truth for `animal`'s (first) port.
pub fn of(animal: Animal) -> Result<Truth, TruthError> {
    match animal {
        Animal::Vsftpd => truth("ftp", false, &["vsftpd"], &["vsftpd"], true),
        Animal::Sshd => truth("ssh", false, &["OpenSSH"], &["openssh-server"], true),
        Animal::Telnetd => truth(
            "telnet",
            false,
            &["inetutils telnetd", "inetutils", "telnetd"],
            &["inetutils-telnetd"],
            false,
        ),
        Animal::Nginx => truth("http", false, &["nginx"], &["nginx-light", "nginx"], true),
        Animal::Dnsmasq => truth("domain", false, &["dnsmasq"], &["dnsmasq-base"], true),
        Animal::Krb5Kdc => truth(
            "kerberos-sec",
            false,
            &["MIT Kerberos", "Kerberos"],
            &["krb5-kdc"],
            false,
        ),
        Animal::Rpcbind => truth("rpcbind", false, &["rpcbind"], &["rpcbind"], false),
        Animal::Slapd => truth("ldap", false, &["OpenLDAP"], &["slapd"], false),
        Animal::Exim => truth(
            "smtp",
            true,
            &["Exim"],
            &["exim4-daemon-light", "exim4-daemon-heavy"],
            true,
        ),
        Animal::Rsync => truth("rsync", false, &["rsync"], &["rsync"], false),
        Animal::Dovecot => truth("imap", true, &["Dovecot"], &["dovecot-imapd"], false),
        Animal::OpenVpn => truth("openvpn", false, &["OpenVPN"], &["openvpn"], false),
        Animal::Squid => truth("http-proxy", false, &["Squid"], &["squid"], true),
        Animal::Mariadb => truth("mysql", false, &["MariaDB"], &["mariadb-server"], true),
        Animal::Xrdp => truth("ms-wbt-server", false, &["xrdp"], &["xrdp"], false),
        Animal::Svnserve => truth(
            "svn",
            false,
            &["Subversion", "svnserve"],
            &["subversion"],
            false,
        ),
        Animal::Nats => truth("nats", false, &["NATS"], &["nats-server"], true),
        Animal::Postgres => {
            let packages = postgres_packages();
            let names: Vec<&str> = packages.iter().map(String::as_str).collect();
            truth("postgresql", false, &["PostgreSQL"], &names, false)
        }
        Animal::Xmpp => truth("xmpp-client", false, &["Prosody"], &["prosody"], false),
        Animal::Vnc => truth(
            "vnc",
            false,
            &["TigerVNC"],
            &["tigervnc-standalone-server"],
            false,
        ),
        Animal::Redis => truth("redis", false, &["Redis"], &["redis-server"], true),
        Animal::Stunnel => truth("redis", true, &["Redis"], &["redis-server"], true),
        Animal::Ngircd => truth("irc", false, &["ngircd"], &["ngircd"], true),
        Animal::Lighttpd => truth("http", false, &["lighttpd"], &["lighttpd"], true),
        Animal::InfluxDb => truth("http", false, &["InfluxDB"], &["influxdb"], true),
        Animal::Haproxy => truth("http", false, &["HAProxy"], &["haproxy"], false),
        Animal::Tinyproxy => truth("http-proxy", false, &["tinyproxy"], &["tinyproxy"], true),
        Animal::NodeExporter => truth(
            "http",
            false,
            &["Prometheus Node Exporter", "node_exporter", "node exporter"],
            &["prometheus-node-exporter"],
            true,
        ),
        Animal::Git => truth("git", false, &["git"], &["git"], false),
        Animal::Beanstalkd => truth("beanstalkd", false, &["beanstalkd"], &["beanstalkd"], true),
        Animal::Memcached => truth("memcached", false, &["memcached"], &["memcached"], true),
        Animal::Mosquitto => truth("mqtt", false, &["Mosquitto"], &["mosquitto"], true),
    }
}

/// Dovecot's second port, POP3 over TLS.
pub fn dovecot_pop3() -> Result<Truth, TruthError> {
    truth("pop3", true, &["Dovecot"], &["dovecot-pop3d"], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_versions_of_debian_versions() {
        for (debian, upstream) in [
            ("1:9.2p1-2+deb12u10", "9.2p1"),
            ("1:10.11.19-0+deb12u1", "10.11.19"),
            ("5:7.0.15-1~deb12u10", "7.0.15"),
            ("2.5.13+dfsg-5", "2.5.13"),
            ("1:2.3.19.1+dfsg1-2.1+deb12u7", "2.3.19.1"),
            ("1.6.7~rc0-1+b13", "1.6.7"),
            ("3:5.68-2+deb12u1", "5.68"),
            ("2:2.4-2+deb12u3", "2.4"),
            ("1.12-2+b1", "1.12"),
            ("4.96-15+deb12u11", "4.96"),
            ("15.14-0+deb12u1", "15.14"),
            ("3.0.3", "3.0.3"),
        ] {
            assert_eq!(upstream_version(debian), upstream, "{debian}");
        }
    }

    #[test]
    fn a_missing_package_is_an_error_naming_it() {
        let err = package_version("tcprax-no-such-package").unwrap_err();
        assert!(err.to_string().contains("tcprax-no-such-package"), "{err}");
    }
}
