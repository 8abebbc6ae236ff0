//! Reads tcprax's JSON lines (`-oJ`, docs/output.md) into [`ScanData`], a line at a time.
//!
//! The structs here mirror the documented shapes with only the fields the report shows; serde
//! ignores the others, as docs/output.md asks of consumers. Objects of an unknown `type` are
//! skipped for the same reason. A line that is not JSON, or not the shape its type promises, is
//! an error naming the line.
use super::data::{Cert, Port, Run, ScanData, Service};
use super::{ReadError, ReadProblem};
use crate::model::PortState;
use serde::Deserialize;
use std::io::BufRead;
use std::net::IpAddr;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line {
    Plan(PlanLine),
    Port(Box<PortLine>),
    Summary(SummaryLine),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct PlanLine {
    scan_type: Option<String>,
    #[serde(default)]
    targets: Vec<TargetLine>,
    ports: Option<String>,
}

#[derive(Deserialize)]
struct TargetLine {
    spec: String,
}

#[derive(Deserialize)]
struct PortLine {
    addr: IpAddr,
    port: u16,
    state: StateName,
    reason: String,
    rtt_us: Option<u64>,
    name: Option<String>,
    service: Option<ServiceLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum StateName {
    Open,
    Closed,
    Filtered,
    Unreachable,
}

impl From<StateName> for PortState {
    fn from(s: StateName) -> PortState {
        match s {
            StateName::Open => PortState::Open,
            StateName::Closed => PortState::Closed,
            StateName::Filtered => PortState::Filtered,
            StateName::Unreachable => PortState::Unreachable,
        }
    }
}

#[derive(Deserialize)]
struct ServiceLine {
    service: Option<String>,
    product: Option<String>,
    version: Option<String>,
    extrainfo: Option<String>,
    tls: Option<TlsLine>,
}

#[derive(Deserialize)]
struct TlsLine {
    certificate: Option<CertLine>,
}

#[derive(Deserialize)]
struct CertLine {
    subject_cn: Option<String>,
    #[serde(default)]
    sans: Vec<String>,
    issuer: Option<String>,
    not_after: Option<String>,
    #[serde(default)]
    self_signed: bool,
    sha256: Option<String>,
}

#[derive(Deserialize)]
struct SummaryLine {
    elapsed_s: Option<f64>,
    #[serde(default)]
    interrupted: bool,
}

/// Reads every line of `input` (named `source` in errors) into `data`.
pub fn read(source: &str, mut input: impl BufRead, data: &mut ScanData) -> Result<(), ReadError> {
    let mut run = Run {
        source: super::display_name(source),
        format: "JSON lines",
        ..Run::default()
    };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut records = 0u64;
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| ReadError::new(source, line_no + 1, ReadProblem::Io(e)))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let whole = buf.ends_with(b"\n");
        let mut text = buf.trim_ascii();
        if line_no == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        if text.is_empty() {
            continue;
        }
        records += 1;
        let line: Line = serde_json::from_slice(text).map_err(|e| {
            let problem = if !whole && e.is_eof() {
                ReadProblem::Truncated
            } else {
                ReadProblem::Json(e)
            };
            ReadError::new(source, line_no, problem)
        })?;
        match line {
            Line::Plan(plan) => {
                run.scan_type = plan.scan_type;
                run.ports = plan.ports;
                run.targets = plan.targets.into_iter().map(|t| t.spec).collect();
            }
            Line::Port(p) => {
                let p = *p;
                let name = p.name.as_deref();
                let port = Port {
                    addr: p.addr,
                    port: p.port,
                    state: p.state.into(),
                    reason: p.reason,
                    rtt_us: p.rtt_us,
                    service: p.service.map(service),
                };
                data.add_port(port, name);
            }
            Line::Summary(s) => {
                run.elapsed_s = s.elapsed_s;
                run.interrupted = Some(s.interrupted);
            }
            Line::Other => {}
        }
    }
    if records == 0 {
        return Err(ReadError::new(source, 0, ReadProblem::Empty));
    }
    data.runs.push(run);
    Ok(())
}

fn service(s: ServiceLine) -> Service {
    let cert = s
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref())
        .map(|c| Cert {
            subject_cn: c.subject_cn.clone(),
            sans: c.sans.clone(),
            issuer: c.issuer.clone(),
            not_after: c.not_after.clone(),
            self_signed: c.self_signed,
            sha256: c.sha256.clone(),
        });
    Service {
        name: s.service,
        product: s.product,
        version: s.version,
        extrainfo: s.extrainfo,
        tls: s.tls.is_some(),
        cert,
    }
}
