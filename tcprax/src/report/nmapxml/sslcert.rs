//! nmap's `ssl-cert` script output in XML: the tables and elements under
//! `<script id="ssl-cert">` (`subject`, `issuer`, `validity`, `extensions`, fingerprints),
//! collected into a [`Cert`] while the reader walks them.
use super::super::data::Cert;

/// Attribute names nmap gives the parts of a distinguished name, and their usual short forms.
const SHORT: [(&str, &str); 6] = [
    ("commonName", "CN"),
    ("organizationName", "O"),
    ("organizationalUnitName", "OU"),
    ("countryName", "C"),
    ("stateOrProvinceName", "ST"),
    ("localityName", "L"),
];

/// The `ssl-cert` script being read.
#[derive(Default)]
pub struct CertScript {
    /// Keys of the open `<table>`s ("" for a table without one).
    tables: Vec<String>,
    /// Key of the open `<elem>`, and its text so far.
    elem: Option<String>,
    text: String,
    subject: Vec<(String, String)>,
    issuer: Vec<(String, String)>,
    sans: Vec<String>,
    not_after: Option<String>,
    sha256: Option<String>,
    sha1: Option<String>,
    /// The `name` of the extension being read.
    extension: Option<String>,
}

impl CertScript {
    pub fn open_table(&mut self, key: Option<String>) {
        self.tables.push(key.unwrap_or_default());
    }

    pub fn close_table(&mut self) {
        self.tables.pop();
        if self.tables.len() < 2 {
            self.extension = None;
        }
    }

    pub fn open_elem(&mut self, key: Option<String>) {
        self.elem = Some(key.unwrap_or_default());
        self.text.clear();
    }

    pub fn text(&mut self, text: &str) {
        if self.elem.is_some() {
            self.text.push_str(text);
        }
    }

    pub fn close_elem(&mut self) {
        let Some(key) = self.elem.take() else { return };
        let text = std::mem::take(&mut self.text).trim().to_owned();
        let path: Vec<&str> = self.tables.iter().map(String::as_str).collect();
        match (path.as_slice(), key.as_str()) {
            (["subject"], _) => self.subject.push((key, text)),
            (["issuer"], _) => self.issuer.push((key, text)),
            (["validity"], "notAfter") => self.not_after = Some(text),
            (["extensions", _], "name") => self.extension = Some(text),
            (["extensions", _], "value")
                if self.extension.as_deref() == Some("X509v3 Subject Alternative Name") =>
            {
                self.sans = sans(&text);
            }
            ([], "sha256") => self.sha256 = Some(text.to_ascii_lowercase()),
            ([], "sha1") => self.sha1 = Some(text.to_ascii_lowercase()),
            _ => {}
        }
    }

    /// The certificate the script described.
    pub fn finish(self) -> Cert {
        let cn = self
            .subject
            .iter()
            .find(|(k, _)| k == "commonName")
            .map(|(_, v)| v.clone());
        let issuer = (!self.issuer.is_empty()).then(|| dn(&self.issuer));
        Cert {
            subject_cn: cn,
            sans: self.sans,
            issuer,
            not_after: self.not_after.map(utc),
            self_signed: !self.subject.is_empty() && self.subject == self.issuer,
            sha256: self.sha256.or(self.sha1),
        }
    }
}

/// "CN=x, O=y" from the (name, value) pairs of a DN table.
fn dn(parts: &[(String, String)]) -> String {
    parts
        .iter()
        .map(|(k, v)| {
            let short = SHORT
                .iter()
                .find(|(long, _)| long == k)
                .map_or(k.as_str(), |(_, s)| s);
            format!("{short}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of a subjectAltName value as nmap prints it: "DNS:a.test, IP Address:198.18.0.2".
fn sans(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.split_once(':')
                .map_or(s, |(_, name)| name.trim())
                .to_owned()
        })
        .collect()
}

/// nmap writes certificate times without a zone ("2026-01-01T00:00:00"); they are UTC.
fn utc(time: String) -> String {
    if time.len() == 19 && crate::calendar::parse_rfc3339(&format!("{time}Z")).is_some() {
        format!("{time}Z")
    } else {
        time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans_and_dn() {
        assert_eq!(
            sans("DNS:a.test, DNS:www.a.test, IP Address:198.18.0.2"),
            ["a.test", "www.a.test", "198.18.0.2"]
        );
        let parts = [
            ("commonName".to_owned(), "a.test".to_owned()),
            ("organizationName".to_owned(), "Lab".to_owned()),
            ("emailAddress".to_owned(), "x@a.test".to_owned()),
        ];
        assert_eq!(dn(&parts), "CN=a.test, O=Lab, emailAddress=x@a.test");
        assert_eq!(utc("2026-01-01T00:00:00".into()), "2026-01-01T00:00:00Z");
        assert_eq!(
            utc("2026-01-01T00:00:00+00:00".into()),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(utc("garbage".into()), "garbage");
    }
}
