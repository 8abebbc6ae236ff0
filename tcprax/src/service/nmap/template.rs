//! Version templates of a match line (`p/…/ v/…/ i/…/ h/…/ o/…/ d/…/ cpe:/…/a`) and their
//! expansion with a match's capture groups: `$1`..`$9`, `$P(n)` (printable bytes only),
//! `$SUBST(n,"from","to")` and `$I(n,">")` (the group as an unsigned integer, `>` big-endian,
//! `<` little-endian).
use super::parse::delimited;

/// One part of a template field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(Vec<u8>),
    /// `$n`: the group as it is.
    Group(usize),
    /// `$P(n)`: the group's printable bytes only (UTF-16 text loses its zero bytes).
    Printable(usize),
    /// `$SUBST(n,"from","to")`: the group with every `from` replaced by `to`.
    Subst(usize, Vec<u8>, Vec<u8>),
    /// `$I(n,">")` / `$I(n,"<")`: the group's bytes as an unsigned integer.
    Int(usize, Endian),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Big,
    Little,
}

pub type Field = Vec<Piece>;

/// The version fields a match line fills in, before expansion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    pub product: Option<Field>,
    pub version: Option<Field>,
    pub info: Option<Field>,
    pub hostname: Option<Field>,
    pub os: Option<Field>,
    pub device: Option<Field>,
    pub cpe: Vec<Field>,
}

/// A template expanded for one answer; empty fields are None.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version {
    pub product: Option<String>,
    pub version: Option<String>,
    pub info: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub device: Option<String>,
    pub cpe: Vec<String>,
}

/// Parse what follows a match line's regex and flags.
pub fn parse(mut rest: &[u8]) -> Result<Template, String> {
    let mut t = Template::default();
    loop {
        rest = rest.trim_ascii_start();
        if rest.is_empty() {
            return Ok(t);
        }
        let key = rest[0];
        let (is_cpe, body) = match rest.strip_prefix(b"cpe:") {
            Some(body) => (true, body),
            None => (false, &rest[1..]),
        };
        let (content, after) = delimited(body).ok_or_else(|| {
            format!(
                "version field '{}' has no closing delimiter",
                String::from_utf8_lossy(rest)
            )
        })?;
        let field = pieces(content)?;
        rest = after;
        if is_cpe {
            // The optional `a` flag (the CPE names an application) changes nothing we report.
            rest = rest.strip_prefix(b"a").unwrap_or(rest);
            t.cpe.push(field);
            continue;
        }
        let slot = match key {
            b'p' => &mut t.product,
            b'v' => &mut t.version,
            b'i' => &mut t.info,
            b'h' => &mut t.hostname,
            b'o' => &mut t.os,
            b'd' => &mut t.device,
            other => {
                return Err(format!(
                    "unknown version field '{}'",
                    char::from(other).escape_default()
                ));
            }
        };
        *slot = Some(field);
    }
}

fn pieces(content: &[u8]) -> Result<Field, String> {
    let mut out = Vec::new();
    let mut text = Vec::new();
    let mut i = 0;
    while i < content.len() {
        if content[i] == b'$'
            && let Some((piece, used)) = dollar(&content[i..])?
        {
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(piece);
            i += used;
            continue;
        }
        text.push(content[i]);
        i += 1;
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// A `$` form at the start of `s`: the piece and how many bytes it took, or None for a plain `$`.
fn dollar(s: &[u8]) -> Result<Option<(Piece, usize)>, String> {
    if let Some(&d) = s.get(1)
        && d.is_ascii_digit()
        && d != b'0'
    {
        return Ok(Some((Piece::Group(usize::from(d - b'0')), 2)));
    }
    let (name, open) = if s.starts_with(b"$P(") {
        ("P", 3)
    } else if s.starts_with(b"$SUBST(") {
        ("SUBST", 7)
    } else if s.starts_with(b"$I(") {
        ("I", 3)
    } else {
        return Ok(None);
    };
    let close = s
        .iter()
        .position(|&b| b == b')')
        .ok_or_else(|| format!("${name}( without a closing parenthesis"))?;
    let args = &s[open..close];
    let bad = || {
        format!(
            "bad ${name}({}) in a version field",
            String::from_utf8_lossy(args)
        )
    };
    let (group, tail) = match args.iter().position(|&b| b == b',') {
        Some(c) => (&args[..c], Some(&args[c + 1..])),
        None => (args, None),
    };
    let group = match group {
        [d @ b'1'..=b'9'] => usize::from(d - b'0'),
        _ => return Err(bad()),
    };
    let piece = match (name, tail) {
        ("P", None) => Piece::Printable(group),
        ("I", Some(b"\">\"")) => Piece::Int(group, Endian::Big),
        ("I", Some(b"\"<\"")) => Piece::Int(group, Endian::Little),
        ("SUBST", Some(tail)) => {
            let (from, tail) = quoted(tail).ok_or_else(bad)?;
            let tail = tail.trim_ascii().strip_prefix(b",").ok_or_else(bad)?;
            let (to, tail) = quoted(tail).ok_or_else(bad)?;
            // The strings take the payload escapes (`"\r\n"` is a line break).
            let from = super::parse::unescape(from).map_err(|_| bad())?;
            let to = super::parse::unescape(to).map_err(|_| bad())?;
            if !tail.trim_ascii().is_empty() || from.is_empty() {
                return Err(bad());
            }
            Piece::Subst(group, from, to)
        }
        _ => return Err(bad()),
    };
    Ok(Some((piece, close + 1)))
}

fn quoted(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let body = s.trim_ascii_start().strip_prefix(b"\"")?;
    let end = body.iter().position(|&b| b == b'"')?;
    Some((&body[..end], &body[end + 1..]))
}

impl Template {
    /// Fill the fields from a match's groups (`group(n)` is None for a group that did not
    /// take part).
    pub fn expand<'a>(&self, group: impl Fn(usize) -> Option<&'a [u8]>) -> Version {
        let f = |field: &Option<Field>| field.as_ref().and_then(|f| expand(f, &group));
        Version {
            product: f(&self.product),
            version: f(&self.version),
            info: f(&self.info),
            hostname: f(&self.hostname),
            os: f(&self.os),
            device: f(&self.device),
            cpe: self
                .cpe
                .iter()
                .filter_map(|c| expand(c, &group))
                .map(|c| format!("cpe:/{c}"))
                .collect(),
        }
    }
}

fn expand<'a>(field: &Field, group: &impl Fn(usize) -> Option<&'a [u8]>) -> Option<String> {
    let mut out: Vec<u8> = Vec::new();
    for piece in field {
        match piece {
            Piece::Text(t) => out.extend_from_slice(t),
            Piece::Group(n) => out.extend_from_slice(group(*n).unwrap_or_default()),
            Piece::Printable(n) => out.extend(
                group(*n)
                    .unwrap_or_default()
                    .iter()
                    .filter(|b| (0x20..0x7f).contains(*b)),
            ),
            Piece::Subst(n, from, to) => {
                let g = group(*n).unwrap_or_default();
                let mut i = 0;
                while i < g.len() {
                    if g[i..].starts_with(from) {
                        out.extend_from_slice(to);
                        i += from.len();
                    } else {
                        out.push(g[i]);
                        i += 1;
                    }
                }
            }
            Piece::Int(n, endian) => {
                let g = group(*n).unwrap_or_default();
                if !g.is_empty() && g.len() <= 8 {
                    let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
                    let value = match endian {
                        Endian::Big => g.iter().fold(0, fold),
                        Endian::Little => g.iter().rev().fold(0, fold),
                    };
                    out.extend_from_slice(value.to_string().as_bytes());
                }
            }
        }
    }
    let text = printable(&out);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Bytes as report text: UTF-8 when it is, Latin-1 otherwise; control characters as '.'.
fn printable(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    text.chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups<'a>(g: &'a [&'a [u8]]) -> impl Fn(usize) -> Option<&'a [u8]> {
        move |n| g.get(n).copied()
    }

    #[test]
    fn parses_every_field_and_any_delimiter() {
        let t = parse(b" p/OpenSSH/ v|$2| i/protocol $1/ h/$3/ o=Linux= d/router/ cpe:/a:openbsd:openssh:$2/a cpe:/o:linux:linux_kernel/").unwrap();
        let v = t.expand(groups(&[b"all", b"2.0", b"9.2p1 Debian", b"gw"]));
        assert_eq!(v.product.as_deref(), Some("OpenSSH"));
        assert_eq!(v.version.as_deref(), Some("9.2p1 Debian"));
        assert_eq!(v.info.as_deref(), Some("protocol 2.0"));
        assert_eq!(v.hostname.as_deref(), Some("gw"));
        assert_eq!(v.os.as_deref(), Some("Linux"));
        assert_eq!(v.device.as_deref(), Some("router"));
        assert_eq!(
            v.cpe,
            [
                "cpe:/a:openbsd:openssh:9.2p1 Debian",
                "cpe:/o:linux:linux_kernel"
            ]
        );
    }

    #[test]
    fn helpers_print_substitute_and_unpack() {
        let t = parse(
            br#"p/$P(1)/ v/$SUBST(2,",",".")/ i/build $I(3,">")/ h/$I(3,"<")/ o/$4/ d/$SUBST(5, "\r\n", ";")/"#,
        )
        .unwrap();
        let v = t.expand(groups(&[
            b"",
            b"W\0O\0R\0K\0",
            b"4,1,7",
            b"\x01\x02",
            b"a\x01b",
        ]));
        assert_eq!(v.product.as_deref(), Some("WORK"));
        assert_eq!(v.version.as_deref(), Some("4.1.7"));
        assert_eq!(v.info.as_deref(), Some("build 258"));
        assert_eq!(v.hostname.as_deref(), Some("513"));
        assert_eq!(
            v.os.as_deref(),
            Some("a.b"),
            "control bytes are made visible"
        );
    }

    #[test]
    fn missing_groups_and_empty_results_are_none() {
        let t = parse(b"p/$1/ v/$5/ i/x $9/ cpe:/a:x:y:$7/").unwrap();
        let v = t.expand(groups(&[b"", b"  "]));
        assert_eq!((v.product, v.version), (None, None));
        assert_eq!(v.info.as_deref(), Some("x"));
        assert_eq!(v.cpe, ["cpe:/a:x:y:"]);
        // A plain dollar sign is text.
        let t = parse(b"p/costs $ 5/").unwrap();
        assert_eq!(t.expand(groups(&[])).product.as_deref(), Some("costs $ 5"));
    }

    #[test]
    fn bad_templates_are_errors() {
        for bad in [
            &b"p/open"[..],
            b"x/what/",
            b"v/$I(1,\"=\")/",
            b"v/$SUBST(1,\"a\")/",
            b"v/$P(0)/",
            b"v/$P(1/",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
