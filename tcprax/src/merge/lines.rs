//! The JSON lines of an `-oJ` file read back: each line's `type` first, then the line as the
//! model value it was written from. The plan and the -sV service derive `Deserialize` in
//! `model`; the port and summary lines, which `model` serialises by hand, have their own
//! shapes here, converted into [`PortReport`] and [`ScanSummary`].
use super::MergeError;
use crate::model::{
    PortReport, PortState, Reason, ScanEvent, ScanPlan, ScanSummary, ServiceInfo, XdpStats,
};
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One line of an `-oJ` file.
#[derive(Debug)]
pub enum Line {
    Plan(Box<ScanPlan>),
    /// Boxed like the plan: ports are the lines a merge streams, the enum stays small.
    Port(Box<PortReport>),
    Summary(ScanSummary),
}

/// Only the discriminator; serde skips the rest of the line.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

/// A `port` line (docs/output.md).
#[derive(Deserialize)]
struct PortLine {
    addr: IpAddr,
    port: u16,
    state: PortState,
    reason: String,
    #[serde(default)]
    errno: Option<i32>,
    rtt_us: Option<u64>,
    ttl: Option<u8>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    service: Option<ServiceInfo>,
}

/// A `summary` line (docs/output.md).
#[derive(Deserialize)]
struct SummaryLine {
    elapsed_s: f64,
    ports_scanned: u64,
    open: u64,
    closed: u64,
    filtered: u64,
    #[serde(default)]
    unreachable: u64,
    #[serde(default)]
    skipped: u64,
    probes_sent: u64,
    interrupted: bool,
    service_detection_s: Option<f64>,
    xdp: Option<XdpStats>,
}

/// Seconds as written (a finite, non-negative number); anything else is zero.
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

/// Every line of `path`, numbered from 1, parsed. An I/O error or a line that is not one of
/// ours ends the iteration with an error naming the file and the line.
pub(super) fn read_lines(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(u64, Line), MergeError>>, MergeError> {
    let read_err = |path: &Path, source| MergeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| read_err(path, e))?;
    let owned: PathBuf = path.to_path_buf();
    let mut number = 0u64;
    Ok(BufReader::new(file).lines().map(move |text| {
        number += 1;
        let text = text.map_err(|e| read_err(&owned, e))?;
        parse_line(&text)
            .map(|line| (number, line))
            .map_err(|problem| MergeError::BadLine {
                path: owned.clone(),
                line: number,
                problem,
            })
    }))
}

/// One line of an `-oJ` file (without its `\n`), or what is wrong with it.
pub fn parse_line(text: &str) -> Result<Line, String> {
    let kind: Kind<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match kind.kind {
        "plan" => serde_json::from_str::<ScanPlan>(text)
            .map(|p| Line::Plan(Box::new(p)))
            .map_err(|e| format!("plan: {e}")),
        "port" => {
            let p: PortLine = serde_json::from_str(text).map_err(|e| format!("port: {e}"))?;
            let reason = Reason::from_name(&p.reason, p.errno)
                .ok_or_else(|| format!("port: unknown reason '{}'", p.reason))?;
            Ok(Line::Port(Box::new(PortReport {
                event: ScanEvent {
                    addr: p.addr,
                    port: p.port,
                    state: p.state,
                    reason,
                    rtt: p.rtt_us.map(Duration::from_micros),
                    ttl: p.ttl,
                },
                name: p.name.map(Arc::from),
                service: p.service,
            })))
        }
        "summary" => {
            let s: SummaryLine = serde_json::from_str(text).map_err(|e| format!("summary: {e}"))?;
            Ok(Line::Summary(ScanSummary {
                elapsed: secs(s.elapsed_s),
                ports_scanned: s.ports_scanned,
                open: s.open,
                closed: s.closed,
                filtered: s.filtered,
                unreachable: s.unreachable,
                skipped: s.skipped,
                probes_sent: s.probes_sent,
                interrupted: s.interrupted,
                service_elapsed: s.service_detection_s.map(secs),
                xdp: s.xdp,
                first_probe: None,
                last_probe: None,
                last_verdict: None,
            }))
        }
        other => Err(format!("unknown line type '{other}'")),
    }
}
