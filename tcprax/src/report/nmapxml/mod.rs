//! Reads nmap's XML (tcprax's `-oX`, or nmap's own `-oX`) into [`ScanData`], streamed with
//! quick-xml: one `<host>` at a time is held, never the document.
//!
//! Taken: `scaninfo` (scan type, ports), `nmaprun args`, per host the first IPv4/IPv6
//! `address`, the first `hostname`, `extraports` (counted), and each TCP `port` with its
//! `state`, `service` and `ssl-cert` script output (nmap's `--script ssl-cert`). Hosts whose
//! `status` is not `up` and non-TCP ports are skipped. XML carries no per-port RTT, and
//! tcprax's `-oX` no certificate, so those parts of the report stay empty for such input.
mod sslcert;

use super::data::{Cert, Port, Run, ScanData, Service};
use super::{ReadError, ReadProblem};
use crate::model::PortState;
use quick_xml::events::{BytesStart, Event};
use std::io::BufRead;
use std::net::IpAddr;

/// A `BufRead` that counts the newlines its reader has consumed, so that an error can name the
/// line the parser had reached.
struct LineCounter<R> {
    inner: R,
    lines: u64,
}

impl<R: BufRead> std::io::Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.lines += out[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let amt = amt.min(buf.len());
            self.lines += buf[..amt].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        self.inner.consume(amt);
    }
}

/// The host being read.
#[derive(Default)]
struct HostState {
    up: bool,
    addr: Option<IpAddr>,
    name: Option<String>,
    counted: Vec<(PortState, u64)>,
    ports: Vec<(u16, PortState, String, Option<Service>)>,
}

/// The `<port>` being read.
struct PortElement {
    tcp: bool,
    port: u16,
    state: Option<(PortState, String)>,
    service: Option<Service>,
    /// The `ssl-cert` script being read, then what it said.
    script: Option<sslcert::CertScript>,
    cert: Option<Cert>,
}

/// Reads the whole document from `input` (named `source` in errors) into `data`.
pub fn read(source: &str, input: impl BufRead, data: &mut ScanData) -> Result<(), ReadError> {
    let mut reader = quick_xml::Reader::from_reader(LineCounter {
        inner: input,
        lines: 0,
    });
    let mut run = Run {
        source: super::display_name(source),
        format: "nmap XML",
        ..Run::default()
    };
    let mut host: Option<HostState> = None;
    let mut port: Option<PortElement> = None;
    let mut saw_root = false;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf);
        let line = reader.get_ref().lines + 1;
        let fail = |problem| ReadError::new(source, line, problem);
        let event = event.map_err(|e| fail(ReadProblem::Xml(e.to_string())))?;
        let (start, is_empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let attr = |name: &str| attribute(e, name).map_err(&fail);
            match e.name().into_inner() {
                "nmaprun" => {
                    saw_root = true;
                    run.command = attr("args")?;
                }
                _ if !saw_root => return Err(fail(ReadProblem::NotNmapXml)),
                "scaninfo" => {
                    run.scan_type = attr("type")?;
                    run.ports = attr("services")?;
                }
                "host" => {
                    host = Some(HostState::default());
                }
                "status" => {
                    if let Some(h) = host.as_mut() {
                        h.up = attr("state")?.as_deref() == Some("up");
                    }
                }
                "address" => {
                    if let Some(h) = host.as_mut().filter(|h| h.addr.is_none()) {
                        let kind = attr("addrtype")?;
                        if matches!(kind.as_deref(), Some("ipv4" | "ipv6") | None) {
                            let text = attr("addr")?.unwrap_or_default();
                            let addr = text.parse().map_err(|_| {
                                fail(ReadProblem::Value {
                                    what: "address",
                                    value: text.clone(),
                                })
                            })?;
                            h.addr = Some(addr);
                        }
                    }
                }
                "hostname" => {
                    if let Some(h) = host.as_mut().filter(|h| h.name.is_none()) {
                        h.name = attr("name")?;
                    }
                }
                "extraports" => {
                    if let Some(h) = host.as_mut() {
                        let state = attr("state")?.unwrap_or_default();
                        let count = number(attr("count")?, "extraports count").map_err(fail)?;
                        h.counted.push((state_of(&state), count));
                    }
                }
                "port" => {
                    let tcp = attr("protocol")?.as_deref().is_none_or(|p| p == "tcp");
                    let id = number(attr("portid")?, "portid").map_err(fail)?;
                    let port_no = u16::try_from(id).ok().filter(|&p| p != 0).ok_or_else(|| {
                        fail(ReadProblem::Value {
                            what: "portid",
                            value: id.to_string(),
                        })
                    })?;
                    port = Some(PortElement {
                        tcp,
                        port: port_no,
                        state: None,
                        service: None,
                        script: None,
                        cert: None,
                    });
                }
                "state" => {
                    if let Some(p) = port.as_mut() {
                        let state = attr("state")?.unwrap_or_default();
                        let reason = attr("reason")?.unwrap_or_default();
                        p.state = Some((state_of(&state), reason));
                    }
                }
                "service" => {
                    if let Some(p) = port.as_mut() {
                        let name = attr("name")?.filter(|n| n != "unknown");
                        p.service = Some(Service {
                            name,
                            product: attr("product")?,
                            version: attr("version")?,
                            extrainfo: attr("extrainfo")?,
                            tls: attr("tunnel")?.as_deref() == Some("ssl"),
                            cert: None,
                        });
                    }
                }
                "script" => {
                    if let Some(p) = port.as_mut()
                        && attr("id")?.as_deref() == Some("ssl-cert")
                    {
                        p.script = Some(sslcert::CertScript::default());
                    }
                }
                "table" => {
                    if let Some(script) = port.as_mut().and_then(|p| p.script.as_mut()) {
                        script.open_table(attr("key")?);
                    }
                }
                "elem" => {
                    if let Some(script) = port.as_mut().and_then(|p| p.script.as_mut()) {
                        script.open_elem(attr("key")?);
                    }
                }
                "finished" => {
                    run.elapsed_s = attr("elapsed")?.and_then(|t| t.parse().ok());
                    run.interrupted = Some(attr("exit")?.as_deref() == Some("error"));
                }
                _ => {}
            }
            if is_empty {
                close(e.name().into_inner(), &mut host, &mut port, data);
            }
        } else {
            let script = port.as_mut().and_then(|p| p.script.as_mut());
            match event {
                Event::End(e) => close(e.name().into_inner(), &mut host, &mut port, data),
                Event::Text(t) => {
                    if let Some(script) = script {
                        script.text(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(script) = script {
                        script.text(&t);
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(script) = script {
                        let name = r.xml10_content();
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => script.text(c.encode_utf8(&mut [0; 4])),
                            _ => script.text(
                                quick_xml::escape::resolve_predefined_entity(&name).unwrap_or("."),
                            ),
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    if !saw_root {
        let line = reader.get_ref().lines + 1;
        return Err(ReadError::new(source, line, ReadProblem::NotNmapXml));
    }
    if host.is_some() {
        let line = reader.get_ref().lines + 1;
        return Err(ReadError::new(source, line, ReadProblem::Truncated));
    }
    data.runs.push(run);
    Ok(())
}

/// The end of element `name`: a finished port joins its host, a finished host joins `data`.
fn close(
    name: &str,
    host: &mut Option<HostState>,
    port: &mut Option<PortElement>,
    data: &mut ScanData,
) {
    let script = port.as_mut().and_then(|p| p.script.as_mut());
    match name {
        "elem" => {
            if let Some(script) = script {
                script.close_elem();
            }
        }
        "table" => {
            if let Some(script) = script {
                script.close_table();
            }
        }
        "script" => {
            if let Some(p) = port.as_mut()
                && let Some(script) = p.script.take()
            {
                p.cert = Some(script.finish()).filter(|c| *c != Cert::default());
            }
        }
        "port" => {
            if let (Some(p), Some(h)) = (port.take(), host.as_mut())
                && let (true, Some((state, reason))) = (p.tcp, p.state)
            {
                let service = match (p.service, p.cert) {
                    (service, None) => service,
                    (Some(service), Some(cert)) => Some(Service {
                        cert: Some(cert),
                        ..service
                    }),
                    (None, Some(cert)) => Some(Service {
                        tls: true,
                        cert: Some(cert),
                        ..Service::default()
                    }),
                };
                h.ports.push((p.port, state, reason, service));
            }
        }
        "host" => {
            let Some(h) = host.take() else { return };
            let (true, Some(addr)) = (h.up, h.addr) else {
                return;
            };
            data.host(addr, h.name.as_deref());
            for (state, n) in h.counted {
                data.add_counted(addr, state, n);
            }
            for (port, state, reason, service) in h.ports {
                let port = Port {
                    addr,
                    port,
                    state,
                    reason,
                    rtt_us: None,
                    service,
                };
                data.add_port(port, h.name.as_deref());
            }
        }
        _ => {}
    }
}

/// nmap's state names; its combined ones ("open|filtered") count as filtered: nothing
/// answered.
fn state_of(name: &str) -> PortState {
    match name {
        "open" => PortState::Open,
        "closed" | "unfiltered" => PortState::Closed,
        "unreachable" => PortState::Unreachable,
        _ => PortState::Filtered,
    }
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, ReadProblem> {
    let attr = e
        .try_get_attribute(name)
        .map_err(|err| ReadProblem::Xml(err.to_string()))?;
    match attr {
        None => Ok(None),
        Some(a) => a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| Some(v.into_owned()))
            .map_err(|err| ReadProblem::Xml(err.to_string())),
    }
}

fn number(text: Option<String>, what: &'static str) -> Result<u64, ReadProblem> {
    let text = text.unwrap_or_default();
    text.trim()
        .parse()
        .map_err(|_| ReadProblem::Value { what, value: text })
}
