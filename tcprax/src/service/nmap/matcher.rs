//! Compiled match lines and nmap's matching order for one answer: the probe's own lines, then
//! those of its `fallback` probes, then the NULL probe's. The first hard match decides; the
//! first softmatch is kept (it names the service and narrows later probes) while later lines
//! may still match hard.
//!
//! Regexes are PCRE2 on bytes (answers are binary), JIT-compiled once per probe, the first time
//! an answer meets that probe's lines: a scan that never reaches a rare probe never pays for it.
use super::parse::MatchSpec;
use super::template::Version;
use pcre2::bytes::{Regex, RegexBuilder};

/// Compile one match line as nmap does: Perl flags `i` and `s`, no UTF mode (bytes).
pub fn compile(spec: &MatchSpec) -> Result<Regex, pcre2::Error> {
    RegexBuilder::new()
        .caseless(spec.caseless)
        .dotall(spec.dotall)
        .jit_if_available(true)
        .build(&spec.pattern)
}

/// What one line made of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub service: String,
    pub soft: bool,
    pub version: Version,
    /// The probe whose lines matched, and the line.
    pub probe: String,
    pub line: usize,
}

/// Test `answer` against `lines` (compiled alongside) in order. Returns the first hard match,
/// or else the first softmatch; `soft_seen` skips softmatches once one is known.
pub fn test_lines(
    probe: &str,
    lines: &[MatchSpec],
    compiled: &[Option<Regex>],
    answer: &[u8],
    soft_seen: bool,
) -> Option<Hit> {
    let mut soft: Option<Hit> = None;
    for (spec, regex) in lines.iter().zip(compiled) {
        let Some(regex) = regex else { continue };
        if spec.soft && (soft_seen || soft.is_some()) {
            continue;
        }
        // A match error (PCRE2's backtracking limit on a huge answer) is no match.
        let Ok(Some(caps)) = regex.captures(answer) else {
            continue;
        };
        let version = spec.template.expand(|n| caps.get(n).map(|m| m.as_bytes()));
        let hit = Hit {
            service: spec.service.clone(),
            soft: spec.soft,
            version,
            probe: probe.to_owned(),
            line: spec.line,
        };
        if !spec.soft {
            return Some(hit);
        }
        soft = Some(hit);
    }
    soft
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn lines(text: &[u8]) -> (Vec<MatchSpec>, Vec<Option<Regex>>) {
        let file = parse::parse(text);
        assert!(file.skipped.is_empty(), "{:?}", file.skipped);
        let specs = file.probes.into_iter().next().unwrap().matches;
        let compiled = specs.iter().map(|s| compile(s).ok()).collect();
        (specs, compiled)
    }

    #[test]
    fn first_hard_match_wins_and_softmatch_is_the_fallback() {
        let (specs, compiled) = lines(
            b"Probe TCP NULL q||\n\
softmatch ftp m|^220 |\n\
match ftp m|^220 \\(vsFTPd ([\\d.]+)\\)\\r\\n| p/vsftpd/ v/$1/ cpe:/a:vsftpd:vsftpd:$1/\n\
match ftp m|^220 | p/later/\n",
        );
        let hit = test_lines("NULL", &specs, &compiled, b"220 (vsFTPd 3.0.3)\r\n", false).unwrap();
        assert!(!hit.soft);
        assert_eq!(hit.version.product.as_deref(), Some("vsftpd"));
        assert_eq!(hit.version.cpe, ["cpe:/a:vsftpd:vsftpd:3.0.3"]);
        assert_eq!(hit.line, 3);
        let (specs, compiled) =
            lines(b"Probe TCP NULL q||\nsoftmatch ftp m|^220 |\nmatch x m|^nope|\n");
        let hit = test_lines("NULL", &specs, &compiled, b"220 hi\r\n", false).unwrap();
        assert!(hit.soft && hit.service == "ftp");
        assert!(test_lines("NULL", &specs, &compiled, b"220 hi\r\n", true).is_none());
    }

    #[test]
    fn flags_and_binary_answers() {
        let (specs, compiled) = lines(
            b"Probe TCP X q||\n\
match a m|^hello.world$|si p/A/\n\
match dns m|^\\0\\x0c\\x00\\x00\\x90| p/B/\n\
match latin m|^caf\xe9| p/C/\n",
        );
        let product = |answer: &[u8]| {
            test_lines("X", &specs, &compiled, answer, false).and_then(|h| h.version.product)
        };
        assert_eq!(product(b"HELLO\nWORLD").as_deref(), Some("A"));
        assert_eq!(product(b"\0\x0c\0\0\x90\x01").as_deref(), Some("B"));
        assert_eq!(product(b"caf\xe9").as_deref(), Some("C"));
        assert_eq!(product(b"cafe"), None);
    }
}
