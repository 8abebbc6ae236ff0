//! Turning raw service bytes into a printable, bounded response string.
//!
//! Choice: every byte outside printable ASCII (0x20..=0x7e) becomes '.', including '\r' and
//! '\t', *except* '\n', which is kept. Keeping the newline lets a printer show only the first
//! line of a banner (`response.lines().next()`) while the JSON output still carries the whole
//! exchange; '\r' carries no information once '\n' is kept, so "220 ready\r\n" reads
//! "220 ready.\n". Bytes beyond [`MAX_RESPONSE`] are dropped before conversion, so the result is
//! at most 1024 characters (one character per input byte; multi-byte UTF-8 becomes dots).

/// The most bytes of a response a report keeps.
pub const MAX_RESPONSE: usize = 1024;

/// Printable form of what a server sent: see the module doc for the rules.
pub fn sanitize(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(MAX_RESPONSE)
        .map(|&b| match b {
            b'\n' => '\n',
            0x20..=0x7e => char::from(b),
            _ => '.',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_printable_ascii() {
        assert_eq!(
            sanitize(b"SSH-2.0-OpenSSH_9.2p1 Debian"),
            "SSH-2.0-OpenSSH_9.2p1 Debian"
        );
    }

    #[test]
    fn control_bytes_become_dots_but_newline_stays() {
        assert_eq!(sanitize(b"220 ok\r\n\tx\x00\x7f"), "220 ok.\n.x..");
    }

    #[test]
    fn high_bytes_and_utf8_become_dots() {
        assert_eq!(sanitize(&[0xff, 0xfb, 0x01]), "...");
        assert_eq!(sanitize("é".as_bytes()), "..");
    }

    #[test]
    fn caps_at_1024_bytes() {
        let s = sanitize(&[b'a'; 5000]);
        assert_eq!(s.len(), MAX_RESPONSE);
        assert_eq!(sanitize(&[0u8; 2000]).chars().count(), MAX_RESPONSE);
    }

    #[test]
    fn empty_is_empty() {
        assert_eq!(sanitize(b""), "");
    }
}
