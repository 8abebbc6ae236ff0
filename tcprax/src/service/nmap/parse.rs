//! The nmap-service-probes format, line by line: `Probe`, `match`/`softmatch`, `ports`,
//! `sslports`, `rarity`, `totalwaitms`, `tcpwrappedms`, `fallback` and `Exclude`.
//!
//! The parser never fails as a whole: a line it cannot read is skipped and recorded (line number
//! and why), so one odd line in a user's file costs that line, not the scan. UDP probes are kept
//! for their match lines only (TCP probes name them as `fallback`): tcprax never sends them.
use super::template::{self, Template};
use std::time::Duration;

/// A parsed probe file.
#[derive(Debug, Default)]
pub struct ProbeFile {
    /// Probes in file order (nmap's NULL probe first in the stock file), UDP ones included.
    pub probes: Vec<ProbeSpec>,
    /// `Exclude` ranges that apply to TCP.
    pub exclude: PortSet,
    /// Lines that could not be read.
    pub skipped: Vec<SkippedLine>,
}

/// A line the parser skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// One `Probe` and the lines that follow it, before any regex is compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    pub name: String,
    /// TCP (sent by tcprax) or UDP (its lines serve as a TCP probe's fallback only).
    pub tcp: bool,
    /// What to send (escapes decoded); empty for the NULL probe.
    pub payload: Vec<u8>,
    /// `no-payload`: the probe exists for its matches only (nmap's scripts send it).
    pub no_payload: bool,
    pub ports: PortSet,
    pub sslports: PortSet,
    /// 1 (common) to 9 (rare); `--version-intensity` sends probes up to this.
    pub rarity: u8,
    pub total_wait: Option<Duration>,
    pub tcpwrapped: Option<Duration>,
    /// Probes whose match lines also apply to this probe's answer.
    pub fallback: Vec<String>,
    pub matches: Vec<MatchSpec>,
}

/// One `match` or `softmatch` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchSpec {
    pub service: String,
    /// `softmatch`: names the service only, and probing goes on.
    pub soft: bool,
    /// The regex as PCRE2 source text (bytes above 0x7f written as `\x{HH}` escapes).
    pub pattern: String,
    /// Perl flag `i`.
    pub caseless: bool,
    /// Perl flag `s`.
    pub dotall: bool,
    pub template: Template,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Inclusive port ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet(pub Vec<(u16, u16)>);

impl PortSet {
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&port))
    }
}

/// Rarity of a probe without a `rarity` line (the NULL probe).
const DEFAULT_RARITY: u8 = 1;

/// Parse a whole file. Never fails: unreadable lines end up in [`ProbeFile::skipped`].
pub fn parse(text: &[u8]) -> ProbeFile {
    let mut file = ProbeFile::default();
    // The probe the following lines belong to.
    let mut current: Option<ProbeSpec> = None;
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let trimmed = trim(raw);
        if trimmed.is_empty() || trimmed[0] == b'#' {
            continue;
        }
        let (word, rest) = split_word(trimmed);
        let result = match word {
            b"Probe" => parse_probe(rest).map(|probe| {
                file.probes.extend(current.replace(probe));
            }),
            b"Exclude" => parse_exclude(rest).map(|set| file.exclude.0.extend(set.0)),
            _ => match current.as_mut() {
                None => Err(format!(
                    "'{}' before the first Probe line",
                    String::from_utf8_lossy(word)
                )),
                Some(probe) => probe_line(probe, word, rest, line),
            },
        };
        if let Err(reason) = result {
            file.skipped.push(SkippedLine { line, reason });
        }
    }
    file.probes.extend(current);
    file
}

/// A directive inside a probe's section.
fn probe_line(probe: &mut ProbeSpec, word: &[u8], rest: &[u8], line: usize) -> Result<(), String> {
    match word {
        b"match" | b"softmatch" => {
            probe
                .matches
                .push(parse_match(rest, word == b"softmatch", line)?);
        }
        b"ports" => probe.ports.0.extend(parse_ports(rest)?.0),
        b"sslports" => probe.sslports.0.extend(parse_ports(rest)?.0),
        b"rarity" => {
            probe.rarity = number(rest)
                .filter(|r| (1..=9).contains(r))
                .and_then(|r| u8::try_from(r).ok())
                .ok_or_else(|| format!("rarity must be 1-9, not '{}'", lossy(rest)))?;
        }
        b"totalwaitms" => probe.total_wait = Some(millis(rest, "totalwaitms")?),
        b"tcpwrappedms" => probe.tcpwrapped = Some(millis(rest, "tcpwrappedms")?),
        b"fallback" => probe.fallback.extend(
            lossy(rest)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        ),
        other => return Err(format!("unknown directive '{}'", lossy(other))),
    }
    Ok(())
}

/// `TCP NAME q|PAYLOAD| [no-payload]`.
pub(super) fn parse_probe(rest: &[u8]) -> Result<ProbeSpec, String> {
    let (proto, rest) = split_word(rest);
    let tcp = match proto {
        b"TCP" => true,
        b"UDP" => false,
        other => return Err(format!("unknown probe protocol '{}'", lossy(other))),
    };
    let (name, rest) = split_word(rest);
    if name.is_empty() {
        return Err("Probe line without a name".into());
    }
    let rest = rest
        .strip_prefix(b"q")
        .ok_or("Probe payload must start with q and a delimiter")?;
    let (payload, after) = delimited(rest).ok_or("Probe payload has no closing delimiter")?;
    let payload = unescape(payload)?;
    let no_payload = match trim(after) {
        b"" => false,
        b"no-payload" => true,
        other => return Err(format!("unexpected '{}' after the payload", lossy(other))),
    };
    Ok(ProbeSpec {
        name: lossy(name),
        tcp,
        payload,
        no_payload,
        ports: PortSet::default(),
        sslports: PortSet::default(),
        rarity: DEFAULT_RARITY,
        total_wait: None,
        tcpwrapped: None,
        fallback: Vec::new(),
        matches: Vec::new(),
    })
}

/// `SERVICE m|REGEX|FLAGS TEMPLATE...`
fn parse_match(rest: &[u8], soft: bool, line: usize) -> Result<MatchSpec, String> {
    let (service, rest) = split_word(rest);
    if service.is_empty() {
        return Err("match line without a service name".into());
    }
    let rest = rest
        .strip_prefix(b"m")
        .ok_or("the regex must start with m and a delimiter")?;
    let (regex, after) = delimited(rest).ok_or("the regex has no closing delimiter")?;
    let flags_len = after
        .iter()
        .take_while(|b| matches!(b, b'i' | b's'))
        .count();
    let (flags, after) = after.split_at(flags_len);
    if !after.is_empty() && !after[0].is_ascii_whitespace() {
        return Err(format!(
            "unknown regex flag '{}'",
            char::from(after[0]).escape_default()
        ));
    }
    Ok(MatchSpec {
        service: lossy(service),
        soft,
        pattern: pcre_source(regex),
        caseless: flags.contains(&b'i'),
        dotall: flags.contains(&b's'),
        template: template::parse(after)?,
        line,
    })
}

/// `Exclude 53,T:9100-9107,U:30000-40000`: the TCP part (unprefixed ranges are both).
fn parse_exclude(rest: &[u8]) -> Result<PortSet, String> {
    let text = lossy(rest);
    let mut tcp = true;
    let mut set = PortSet::default();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let range = if let Some(r) = item.strip_prefix("T:") {
            tcp = true;
            r
        } else if let Some(r) = item.strip_prefix("U:") {
            tcp = false;
            r
        } else {
            item
        };
        if tcp {
            set.0.push(port_range(range)?);
        }
    }
    Ok(set)
}

/// `ports 21,25,80-90`.
pub fn parse_ports(rest: &[u8]) -> Result<PortSet, String> {
    let text = lossy(rest);
    let set = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(port_range)
        .collect::<Result<Vec<_>, _>>()?;
    if set.is_empty() {
        return Err("empty port list".into());
    }
    Ok(PortSet(set))
}

fn port_range(item: &str) -> Result<(u16, u16), String> {
    let bad = || format!("bad port or range '{item}'");
    let (lo, hi) = item.split_once('-').unwrap_or((item, item));
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn number(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(trim(text)).ok()?.parse().ok()
}

fn millis(text: &[u8], what: &str) -> Result<Duration, String> {
    number(text)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{what} must be a whole number of ms, not '{}'", lossy(text)))
}

/// Text between the delimiter that starts `text` and its next occurrence, and what follows.
/// nmap has no escape for the delimiter: the first repeat ends the field.
pub(super) fn delimited(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&delim, body) = text.split_first()?;
    if delim.is_ascii_whitespace() {
        return None;
    }
    let end = body.iter().position(|&b| b == delim)?;
    Some((&body[..end], &body[end + 1..]))
}

/// Decode a probe payload's C-style escapes: `\\ \0 \a \b \f \n \r \t \v \xHH`; any other
/// escaped character stands for itself (`\|`).
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = bytes.next().ok_or("payload ends with a lone backslash")?;
        out.push(match escaped {
            b'0' => 0,
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'x' => {
                let hex = [bytes.next(), bytes.next()];
                let digits = match hex {
                    [Some(h), Some(l)] => [h, l],
                    _ => return Err("\\x needs two hex digits".into()),
                };
                std::str::from_utf8(&digits)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
                    .ok_or_else(|| format!("bad escape \\x{}", lossy(&digits)))?
            }
            other => other,
        });
    }
    Ok(out)
}

/// The regex as text PCRE2 reads: the file is bytes (a few patterns hold raw Latin-1 bytes),
/// and PCRE2 in non-UTF mode reads `\x{HH}` as that byte, so each byte above 0x7f becomes one.
fn pcre_source(regex: &[u8]) -> String {
    let mut out = String::with_capacity(regex.len());
    let mut escaped = false;
    for &b in regex {
        if b.is_ascii() {
            out.push(char::from(b));
            escaped = b == b'\\' && !escaped;
        } else {
            // After a lone backslash the byte was escaped to stand for itself: drop that
            // backslash's meaning by completing it as `\x{HH}`.
            if escaped {
                out.pop();
            }
            out.push_str(&format!("\\x{{{b:02x}}}"));
            escaped = false;
        }
    }
    out
}

fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

/// First whitespace-separated word and the rest (left-trimmed).
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = text.trim_ascii_start();
    let end = text
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(text.len());
    (&text[..end], text[end..].trim_ascii_start())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A small file written for these tests, in the format's full range.
    const SNIPPET: &[u8] = b"# comment\n\
Exclude 7000,T:9100-9102,U:53,5353\n\
Probe TCP NULL q||\n\
totalwaitms 6000\n\
tcpwrappedms 3000\n\
match ssh m|^SSH-([\\d.]+)-OpenSSH_(\\S+)\\r?\\n|s p/OpenSSH/ v/$2/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/a\n\
softmatch ftp m=^220[ -]=i\n\
\n\
Probe UDP Skipped q|\\x01|\n\
match foo m|x|\n\
Probe TCP Binary q|\\0\\x1E\\r\\n\\\\x| no-payload\n\
rarity 8\n\
ports 53,1000-1002\n\
sslports 853\n\
fallback GetRequest, NULL\n\
match dns m%^\\0.\\x81\\x80%s p/bind/\n\
bogus line here\n\
rarity 12\n";

    #[test]
    fn parses_probes_matches_and_directives() {
        let file = parse(SNIPPET);
        assert!(!file.probes[1].tcp && file.probes[1].matches.len() == 1);
        // As in nmap's port lists, a range after U: is UDP until the next prefix.
        assert_eq!(file.exclude, PortSet(vec![(7000, 7000), (9100, 9102)]));
        assert_eq!(file.probes.len(), 3);
        let null = &file.probes[0];
        assert_eq!((null.name.as_str(), null.payload.len()), ("NULL", 0));
        assert_eq!(null.total_wait, Some(Duration::from_millis(6000)));
        assert_eq!(null.tcpwrapped, Some(Duration::from_millis(3000)));
        assert_eq!(null.rarity, DEFAULT_RARITY);
        let ssh = &null.matches[0];
        assert_eq!(ssh.service, "ssh");
        assert!(!ssh.soft && ssh.dotall && !ssh.caseless);
        assert_eq!(ssh.pattern, "^SSH-([\\d.]+)-OpenSSH_(\\S+)\\r?\\n");
        assert_eq!(ssh.line, 6);
        let ftp = &null.matches[1];
        assert!(ftp.soft && ftp.caseless && !ftp.dotall);
        assert_eq!(ftp.pattern, "^220[ -]");

        let bin = &file.probes[2];
        assert_eq!(bin.payload, b"\0\x1e\r\n\\x");
        assert!(bin.no_payload);
        assert_eq!(bin.rarity, 8, "the bad rarity 12 line is skipped");
        assert!(bin.ports.contains(1001) && bin.ports.contains(53));
        assert!(!bin.ports.contains(1003));
        assert!(bin.sslports.contains(853));
        assert_eq!(bin.fallback, ["GetRequest", "NULL"]);
        assert_eq!(bin.matches[0].pattern, "^\\0.\\x81\\x80");

        let lines: Vec<usize> = file.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [17, 18], "{:?}", file.skipped);
        assert!(file.skipped[0].reason.contains("bogus"));
        assert!(file.skipped[1].reason.contains("1-9"));
    }

    #[test]
    fn bad_lines_are_skipped_with_their_line_number_never_a_panic() {
        let cases: &[&[u8]] = &[
            b"match x m|y|\n",
            b"Probe SCTP x q||\n",
            b"Probe TCP x q|unterminated\n",
            b"Probe TCP x q|\\x4|\n",
            b"Probe TCP x q|\\|\n",
            b"Probe TCP x q||\nmatch\n",
            b"Probe TCP x q||\nmatch s m|open\n",
            b"Probe TCP x q||\nmatch s m|a|z\n",
            b"Probe TCP x q||\nmatch s m|a| p/unterminated\n",
            b"Probe TCP x q||\nports 70000\n",
            b"Probe TCP x q||\nports 9-3\n",
            b"Probe TCP x q||\ntotalwaitms soon\n",
            b"Probe TCP x q|| trailing\n",
            b"Exclude T:abc\n",
            b"Probe\n",
            b"\xff\xfe\n",
        ];
        for case in cases {
            let file = parse(case);
            assert_eq!(file.skipped.len(), 1, "{:?}", String::from_utf8_lossy(case));
            assert!(!file.skipped[0].reason.is_empty());
        }
    }

    #[test]
    fn raw_high_bytes_become_pcre_hex_escapes() {
        assert_eq!(pcre_source(b"a\xe9b"), "a\\x{e9}b");
        assert_eq!(pcre_source(b"\\\xe9"), "\\x{e9}");
        assert_eq!(pcre_source(b"\\\\\xe9"), "\\\\\\x{e9}");
    }

    #[test]
    fn unescapes_every_c_escape() {
        assert_eq!(
            unescape(b"\\\\\\0\\a\\b\\f\\n\\r\\t\\v\\x7fZ").unwrap(),
            b"\\\0\x07\x08\x0c\n\r\t\x0b\x7fZ"
        );
    }
}
