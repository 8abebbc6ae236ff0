//! `tcprax report`: one self-contained HTML page from the results of one or more scans.
//!
//! Input is tcprax's JSON lines (`-oJ`) or nmap XML (`-oX`, tcprax's or nmap's), told apart by
//! content; several files (shards, separate scans) fold into one [`ScanData`]. The page
//! ([`render`]) has tables (hosts, ports, services, TLS certificates with the soonest to expire
//! first) and plots drawn as inline SVG by `plotters`: open ports per service, a /24 × last
//! octet heat map, an RTT histogram and the versions seen. It loads nothing at view time: CSS
//! and SVG are inline, a Content-Security-Policy forbids every fetch and script, and every value
//! from a file (so from the network: banners, certificate names) is HTML-escaped.
//!
//! Reading errors name the file and the line; bad input never panics.
mod data;
mod html;
mod jsonl;
mod nmapxml;
mod svg;

pub use data::{Cert, Host, LISTED_LIMIT, Port, RTT_SAMPLES, Run, ScanData, Service};
pub use html::render;

use std::io::BufRead;

/// Why a file could not be read into a report.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}{}: {problem}", at_line(*.line))]
pub struct ReadError {
    /// The name the user gave ("-" for stdin).
    pub source_name: String,
    /// 1-based line where the problem is; 0 when it concerns the whole file.
    pub line: u64,
    pub problem: ReadProblem,
}

fn at_line(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl ReadError {
    pub fn new(source: &str, line: u64, problem: ReadProblem) -> ReadError {
        ReadError {
            source_name: display_name(source),
            line,
            problem,
        }
    }
}

/// How an input is named in errors and on the page: "<stdin>" for `-`.
fn display_name(source: &str) -> String {
    if source == "-" {
        "<stdin>".to_owned()
    } else {
        source.to_owned()
    }
}

/// What was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReadProblem {
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("neither tcprax JSON lines (-oJ) nor nmap XML (-oX): it starts with {start:?}")]
    UnknownFormat { start: String },
    #[error("not a valid JSON lines record: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the file ends in the middle of a record (truncated?)")]
    Truncated,
    #[error("not valid XML: {0}")]
    Xml(String),
    #[error("XML, but not nmap's: the document is not an <nmaprun>")]
    NotNmapXml,
    #[error("bad {what} '{value}'")]
    Value { what: &'static str, value: String },
}

/// The two formats a report reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    NmapXml,
}

/// Tells the format from the first bytes that are not white space: `{` for JSON lines, `<` for
/// XML. Only peeks into the reader's buffer: nothing is consumed, so line numbers stay right.
pub fn detect(source: &str, input: &mut impl BufRead) -> Result<Format, ReadError> {
    let buf = input
        .fill_buf()
        .map_err(|e| ReadError::new(source, 1, ReadProblem::Io(e)))?;
    if buf.is_empty() {
        return Err(ReadError::new(source, 0, ReadProblem::Empty));
    }
    // A UTF-8 byte order mark, as some editors write, does not decide anything.
    let body = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    match body.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(at) if body[at] == b'{' => Ok(Format::JsonLines),
        Some(at) if body[at] == b'<' => Ok(Format::NmapXml),
        Some(at) => {
            let line = 1 + body[..at].iter().filter(|&&b| b == b'\n').count() as u64;
            let start = String::from_utf8_lossy(&body[at..body.len().min(at + 24)]).into_owned();
            Err(ReadError::new(
                source,
                line,
                ReadProblem::UnknownFormat { start },
            ))
        }
        // Nothing but white space in the first buffer: the JSON reader skips blank lines and
        // says what follows is wrong, or that there was nothing.
        None => Ok(Format::JsonLines),
    }
}

/// Reads one input, whatever its format, into `data`.
pub fn read(source: &str, mut input: impl BufRead, data: &mut ScanData) -> Result<(), ReadError> {
    match detect(source, &mut input)? {
        Format::JsonLines => jsonl::read(source, input, data),
        Format::NmapXml => nmapxml::read(source, input, data),
    }
}

#[cfg(test)]
mod tests;
