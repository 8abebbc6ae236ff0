//! JSON lines (`-oJ`): one object per line, each with a `"type"` discriminator: a `plan`
//! first, a `port` per verdict as it arrives (streamed, never buffered in full), a `summary`
//! last. The schema is documented in `docs/output.md`; serde escapes control characters, so
//! no line ever breaks inside a value.
//!
//! The port line of a verdict without a service or an errno (nearly every line of a big
//! scan) is written field by field into that buffer, without serde's generic machinery for
//! the `flatten`ed fields; the bytes are the same (a test holds the two ways to it).
//!
//! Each line is serialised into a buffer first and handed to the writer whole, with one
//! `write_all`: through a `BufWriter` (an `-oJ` file) a flush then only ever writes whole
//! lines, so a file cut short (a second signal, a crash) still parses line by line.
use super::Printer;
use crate::model::{PortReport, ScanPlan, ScanSummary};
use serde::Serialize;
use std::io::{self, Write};
use std::net::IpAddr;

/// Prints JSON lines. Verbosity does not apply: every verdict is written.
pub struct JsonPrinter<W> {
    wtr: W,
    /// The line being built; kept to reuse its allocation.
    line: Vec<u8>,
}

/// A model value with a `"type"` field in front of its own fields: the only thing this
/// printer adds to the model's own serde shape, which is the documented format.
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The tcprax version, on the plan line only, so consumers can tell schema changes apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    tcprax: Option<&'static str>,
    #[serde(flatten)]
    body: &'a T,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(wtr: W) -> JsonPrinter<W> {
        JsonPrinter {
            wtr,
            line: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.wtr
    }

    /// The port line of `report`, written field by field, as serde would write it; or false,
    /// with nothing written, for a line with a service or an errno (serde writes those).
    fn port_line(line: &mut Vec<u8>, report: &PortReport) -> bool {
        let event = &report.event;
        if report.service.is_some() || event.reason.errno().is_some() {
            return false;
        }
        let mut num = itoa::Buffer::new();
        line.extend_from_slice(b"{\"type\":\"port\",\"addr\":\"");
        match event.addr {
            IpAddr::V4(a) => {
                for (i, octet) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        line.push(b'.');
                    }
                    line.extend_from_slice(num.format(octet).as_bytes());
                }
            }
            // Addresses have no character JSON escapes.
            IpAddr::V6(a) => {
                let _ = write!(line, "{a}");
            }
        }
        line.extend_from_slice(b"\",\"port\":");
        line.extend_from_slice(num.format(event.port).as_bytes());
        line.extend_from_slice(b",\"state\":\"");
        line.extend_from_slice(event.state.as_str().as_bytes());
        line.extend_from_slice(b"\",\"reason\":\"");
        line.extend_from_slice(event.reason.name().as_bytes());
        line.extend_from_slice(b"\",\"rtt_us\":");
        match event.rtt {
            Some(d) => {
                let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
                line.extend_from_slice(num.format(us).as_bytes());
            }
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"ttl\":");
        match event.ttl {
            Some(ttl) => line.extend_from_slice(num.format(ttl).as_bytes()),
            None => line.extend_from_slice(b"null"),
        }
        if let Some(name) = &report.name {
            line.extend_from_slice(b",\"name\":");
            // Serialising a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *line, &**name);
        }
        line.extend_from_slice(b"}\n");
        true
    }

    /// One whole line, `\n` included, in one `write_all`.
    fn write_line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.wtr.write_all(&self.line)
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn plan(&mut self, plan: &ScanPlan) -> io::Result<()> {
        let tcprax = Some(env!("CARGO_PKG_VERSION"));
        self.write_line(&Tagged {
            kind: "plan",
            tcprax,
            body: plan,
        })?;
        // Out at once, before a scan that may take minutes: a consumer (or a test) sees the
        // scan has started.
        self.wtr.flush()
    }

    fn port(&mut self, report: &PortReport) -> io::Result<()> {
        self.line.clear();
        if Self::port_line(&mut self.line, report) {
            return self.wtr.write_all(&self.line);
        }
        self.write_line(&Tagged {
            kind: "port",
            tcprax: None,
            body: report,
        })
    }

    fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        self.write_line(&Tagged {
            kind: "summary",
            tcprax: None,
            body: summary,
        })?;
        self.wtr.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::model::{PortState, PortState::*, Reason, Reason::*, XdpStats};
    use serde_json::{Value, json};
    use std::time::Duration;

    fn lines(reports: &[PortReport], summary: &ScanSummary) -> (String, Vec<Value>) {
        let mut p = JsonPrinter::new(Vec::new());
        print_scan(&mut p, Some(&plan(true)), reports, summary);
        let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"));
        let values = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect();
        (text, values)
    }

    #[test]
    fn every_line_parses_with_expected_fields() {
        let reports = [
            ssh("198.18.0.2"),
            report("2001:db8::1", 443, Filtered, NoResponse),
            https("198.18.0.2"),
            report("198.18.0.2", 80, Closed, Reset),
        ];
        let mut s = summary();
        s.service_elapsed = Some(Duration::from_millis(250));
        s.xdp = Some(XdpStats {
            seen: 9,
            matched: 6,
            passed: 3,
            ringbuf_full: 0,
            bad_cookie: 0,
            repeats: 1,
            rsts_sent: 2,
        });
        let (text, v) = lines(&reports, &s);
        assert_eq!(v.len(), 6);
        assert_eq!(text.lines().count(), 6, "one object per line");

        assert_eq!(
            v[0],
            json!({
                "type": "plan", "tcprax": env!("CARGO_PKG_VERSION"), "scan_type": "syn",
                "targets": [
                    {"spec": "example.test", "resolved": "198.18.0.2", "addresses": 1},
                    {"spec": "2001:db8::1", "resolved": "2001:db8::1", "addresses": 1}
                ],
                "port_count": 3, "ports": "22,80,443", "concurrency": 128, "rate": 10000,
                "service_detection": true, "exclude": [], "retries": 2, "seed": 7,
                "shard": {"index": 1, "count": 1}, "include_broadcast": false
            })
        );
        // Streamed in arrival order, not sorted.
        assert_eq!(v[1]["port"], 22);
        // No name, no service: both absent; nothing answered: rtt_us and ttl null.
        assert_eq!(
            v[2],
            json!({"type": "port", "addr": "2001:db8::1", "port": 443, "state": "filtered",
                   "reason": "no-response", "rtt_us": null, "ttl": null})
        );
        assert_eq!(
            v[4],
            json!({"type": "port", "addr": "198.18.0.2", "port": 80, "state": "closed",
                   "reason": "reset", "rtt_us": 210, "ttl": 64, "name": "example.test"})
        );
        assert_eq!(v[1]["ttl"], 64);
        let ssh = &v[1]["service"];
        assert_eq!(ssh["class"], "tcp-server-initiated");
        assert_eq!(ssh["service"], "ssh");
        assert_eq!(ssh["tls"], Value::Null);
        let https = &v[3];
        assert_eq!(https["rtt_us"], 1500);
        assert_eq!(https["service"]["class"], "https");
        assert_eq!(
            https["service"]["response"],
            "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\n\r\n"
        );
        let tls = &https["service"]["tls"];
        assert_eq!(tls["version"], "TLSv1.3");
        assert_eq!(tls["alpn"], "h2");
        assert_eq!(
            tls["certificate"]["sans"],
            json!(["example.test", "www.example.test"])
        );
        assert_eq!(tls["certificate"]["self_signed"], true);
        assert_eq!(tls["certificate"]["sha256"], "ab".repeat(32));
        assert_eq!(
            v[5],
            json!({
                "type": "summary", "elapsed_s": 1.5, "ports_scanned": 6, "open": 3, "closed": 2,
                "filtered": 1, "unreachable": 0, "skipped": 0, "probes_sent": 8, "interrupted": false, "service_detection_s": 0.25,
                "xdp": {"seen": 9, "matched": 6, "passed": 3, "ringbuf_full": 0, "bad_cookie": 0,
                        "repeats": 1, "rsts_sent": 2}
            })
        );
    }

    /// Records every `write` call it gets.
    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Each line reaches the writer whole, in one call; so through a `BufWriter` (an -oJ file)
    /// what reaches the file is always whole lines, and a process cut short between two writes
    /// leaves a file that parses line by line (issue 8: files ended mid-line).
    #[test]
    fn lines_reach_the_file_whole() {
        let run = |wtr: io::BufWriter<Calls>| {
            let mut p = JsonPrinter::new(wtr);
            let result = (|| {
                p.plan(&plan(true))?;
                for i in 0..50 {
                    p.port(&report("198.18.0.9", 1000 + i, Closed, Reset))?;
                    p.port(&https("198.18.0.2"))?;
                }
                p.finish(&summary())
            })();
            assert!(result.is_ok());
            p.into_inner().into_parts().0.0
        };
        // A buffer smaller than a line, and the default one.
        for calls in [
            run(io::BufWriter::with_capacity(64, Calls::default())),
            run(io::BufWriter::new(Calls::default())),
        ] {
            assert!(calls.len() > 1);
            let mut lines = 0;
            for call in &calls {
                assert_eq!(
                    call.last(),
                    Some(&b'\n'),
                    "{}",
                    String::from_utf8_lossy(call)
                );
                lines += call.iter().filter(|&&b| b == b'\n').count();
            }
            assert_eq!(lines, 102);
        }
    }

    #[test]
    fn ports_stream_before_finish() {
        let mut p = JsonPrinter::new(Vec::new());
        let written = p.port(&report("198.18.0.9", 80, Open, Connected));
        assert!(written.is_ok());
        let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            text,
            "{\"type\":\"port\",\"addr\":\"198.18.0.9\",\"port\":80,\"state\":\"open\",\
             \"reason\":\"connected\",\"rtt_us\":210,\"ttl\":null}\n"
        );
    }

    /// The field order docs/output.md documents, byte for byte, for a line with every field.
    #[test]
    fn port_line_fields_in_documented_order() {
        let mut r = named(&ssh("198.18.0.2"));
        if let Some(s) = r.service.as_mut() {
            s.response = "SSH-2.0-x\r\n".into();
        }
        let mut p = JsonPrinter::new(Vec::new());
        assert!(p.port(&r).is_ok());
        let text = String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            text,
            "{\"type\":\"port\",\"addr\":\"198.18.0.2\",\"port\":22,\"state\":\"open\",\
             \"reason\":\"syn-ack\",\"rtt_us\":210,\"ttl\":64,\"name\":\"example.test\",\
             \"service\":{\"class\":\"tcp-server-initiated\",\"service\":\"ssh\",\
             \"product\":\"OpenSSH\",\"version\":\"9.2p1\",\"title\":null,\
             \"response\":\"SSH-2.0-x\\r\\n\",\"tls\":null}}\n"
        );
    }

    /// Durations too long for a u64 of microseconds saturate instead of wrapping.
    #[test]
    fn huge_rtt_saturates() {
        let mut r = report("198.18.0.9", 80, Open, Connected);
        r.event.rtt = Some(Duration::MAX);
        let mut p = JsonPrinter::new(Vec::new());
        assert!(p.port(&r).is_ok());
        let v: Value = serde_json::from_slice(&p.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["rtt_us"], u64::MAX);
    }

    /// The hand-written port line is byte for byte what serde writes, for every state and
    /// reason, with and without an RTT (huge ones included), a TTL, a name (one to escape),
    /// over both families; lines it leaves to serde (a service, an errno) it does not touch.
    #[test]
    fn hand_written_port_lines_match_serde() {
        let names: [Option<std::sync::Arc<str>>; 3] = [
            None,
            Some("example.test".into()),
            Some("a\"b\\c\n\u{7f}é".into()),
        ];
        let mut checked = 0;
        for addr in [
            "198.18.0.2",
            "0.0.0.0",
            "255.255.255.255",
            "2001:2::1",
            "::ffff:1.2.3.4",
        ] {
            for state in [Open, Closed, Filtered, PortState::Unreachable] {
                for reason in Reason::ALL.into_iter().chain([SendFailed { errno: 13 }]) {
                    for rtt in [
                        None,
                        Some(Duration::from_nanos(999)),
                        Some(Duration::from_micros(1234)),
                        Some(Duration::MAX),
                    ] {
                        for ttl in [None, Some(0), Some(255)] {
                            for name in &names {
                                let mut r = report(addr, 65535, state, reason);
                                r.event.rtt = rtt;
                                r.event.ttl = ttl;
                                r.name.clone_from(name);
                                let mut fast = Vec::new();
                                let handled = JsonPrinter::<Vec<u8>>::port_line(&mut fast, &r);
                                let mut serde = JsonPrinter::new(Vec::new());
                                let written = serde.write_line(&Tagged {
                                    kind: "port",
                                    tcprax: None,
                                    body: &r,
                                });
                                assert!(written.is_ok());
                                if reason.errno().is_some() {
                                    assert!(!handled && fast.is_empty());
                                    continue;
                                }
                                assert!(handled);
                                let want = serde.into_inner();
                                assert_eq!(
                                    String::from_utf8_lossy(&fast),
                                    String::from_utf8_lossy(&want)
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 4 * 8 * 4 * 3 * 3);
        let mut r = ssh("198.18.0.2");
        assert!(!JsonPrinter::<Vec<u8>>::port_line(&mut Vec::new(), &r));
        r.service = None;
        assert!(JsonPrinter::<Vec<u8>>::port_line(&mut Vec::new(), &r));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut r = ssh("198.18.0.2");
        if let Some(s) = r.service.as_mut() {
            s.response = "a\nb\x1b".into();
        }
        let (text, v) = lines(&[r], &summary());
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
        assert_eq!(v[1]["service"]["response"], "a\nb\x1b");
    }
}
