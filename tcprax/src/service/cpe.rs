//! CPE names (`cpe:/a:vendor:product:version`, the CPE 2.2 URI form nmap prints) for the
//! products the built-in table and the HTTP hints name. Vendor and product spellings follow
//! the NVD dictionary, as nmap's probe file uses them.

/// (product as tcprax reports it, "vendor:product" of the CPE).
static CPE: &[(&str, &str)] = &[
    ("OpenSSH", "openbsd:openssh"),
    ("Dropbear sshd", "matt_johnston:dropbear_ssh_server"),
    ("vsftpd", "beasts:vsftpd"),
    ("ProFTPD", "proftpd:proftpd"),
    ("Pure-FTPd", "pureftpd:pure-ftpd"),
    ("FileZilla ftpd", "filezilla-project:filezilla_server"),
    ("Exim", "exim:exim"),
    ("Postfix", "postfix:postfix"),
    ("Sendmail", "sendmail:sendmail"),
    ("Microsoft Exchange smtpd", "microsoft:exchange_server"),
    ("Dovecot pop3d", "dovecot:dovecot"),
    ("Dovecot imapd", "dovecot:dovecot"),
    ("Cyrus imapd", "cmu:cyrus_imap_server"),
    ("nginx", "igor_sysoev:nginx"),
    ("Apache", "apache:http_server"),
    ("Apache httpd", "apache:http_server"),
    ("lighttpd", "lighttpd:lighttpd"),
    ("Redis key-value store", "redislabs:redis"),
    ("MySQL", "mysql:mysql"),
    ("MariaDB", "mariadb:mariadb"),
    ("PostgreSQL DB", "postgresql:postgresql"),
    ("memcached", "memcached:memcached"),
    ("PHP", "php:php"),
    ("Golang net/http server", "golang:go"),
    ("Prometheus Node Exporter", "prometheus:node_exporter"),
    ("InfluxDB", "influxdata:influxdb"),
    ("Node.js Express framework", "expressjs:express"),
    ("Express", "expressjs:express"),
    ("Apache Tomcat", "apache:tomcat"),
    ("Jetty", "eclipse:jetty"),
    ("Elasticsearch REST API", "elastic:elasticsearch"),
    ("Prometheus", "prometheus:prometheus"),
    ("Jenkins", "jenkins:jenkins"),
    ("GitLab", "gitlab:gitlab"),
    ("NATS Server", "linuxfoundation:nats-server"),
    ("Mosquitto", "eclipse:mosquitto"),
    ("beanstalkd", "beanstalkd_project:beanstalkd"),
    ("ngircd", "barton:ngircd"),
];

/// The CPE of `product` at `version`, if the table knows the product. A version is written
/// lowercase, up to its first space, with characters outside CPE's set dropped; no version: the product's CPE alone.
pub fn cpe(product: &str, version: Option<&str>) -> Option<String> {
    let (_, name) = CPE.iter().find(|(p, _)| *p == product)?;
    let version: String = version
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("")
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~'))
        .collect();
    Some(if version.is_empty() {
        format!("cpe:/a:{name}")
    } else {
        format!("cpe:/a:{name}:{version}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_products() {
        assert_eq!(
            cpe("OpenSSH", Some("9.2p1")).as_deref(),
            Some("cpe:/a:openbsd:openssh:9.2p1")
        );
        assert_eq!(
            cpe("Exim", Some("4.96")).as_deref(),
            Some("cpe:/a:exim:exim:4.96")
        );
        assert_eq!(
            cpe("Redis key-value store", None).as_deref(),
            Some("cpe:/a:redislabs:redis")
        );
        assert_eq!(cpe("SomethingElse", Some("1")), None);
        assert_eq!(
            cpe("nginx", Some("1.22.1 (x:y)")).as_deref(),
            Some("cpe:/a:igor_sysoev:nginx:1.22.1")
        );
    }
}
