//! The validated, library-side description of a scan. The CLI (clap) builds one of these; the
//! library never sees clap types.
use crate::model::ScanType;
use crate::ports::PortList;
use crate::targets::TargetSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default source-port range for -sS: above Linux's default ephemeral range (32768-60999), so
/// our probes never collide with the host's own connections.
pub const DEFAULT_SOURCE_PORTS: (u16, u16) = (61000, 65535);

/// A complete, validated scan request.
#[derive(Debug)]
pub struct ScanConfig {
    pub scan_type: ScanType,
    pub targets: TargetSet,
    pub ports: PortList,
    /// -t: simultaneous connections (-sT) / service probes (-sV).
    pub concurrency: usize,
    /// --timeout: upper bound for one probe's wait; None = adaptive default.
    pub timeout: Option<Duration>,
    /// --retries: extra attempts for an unanswered probe.
    pub retries: u32,
    /// --rate: packets per second for -sS (None = as fast as the sender goes).
    pub rate: Option<u64>,
    pub syn: SynOptions,
    /// -sV, if requested.
    pub service: Option<ServiceOptions>,
    pub outputs: Vec<OutputSpec>,
    pub verbosity: Verbosity,
}

/// Options that only -sS uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynOptions {
    /// --source-port-range LO-HI (inclusive).
    pub source_ports: (u16, u16),
    /// -S: source address (default: from the route to the first target).
    pub source_addr: Option<IpAddr>,
    /// -e: interface (default: from the route to the first target).
    pub interface: Option<String>,
    /// --seed: permutation seed (default: random).
    pub seed: Option<u64>,
    /// --shard I/N (1-based index I of N).
    pub shard: Shard,
    /// --no-rst: do not send our own RST for open ports.
    pub send_rst: bool,
    /// -vv: the XDP program explains on stderr why it passed frames that looked like ours.
    pub xdp_log: bool,
}

impl Default for SynOptions {
    fn default() -> Self {
        SynOptions {
            source_ports: DEFAULT_SOURCE_PORTS,
            source_addr: None,
            interface: None,
            seed: None,
            shard: Shard { index: 1, count: 1 },
            send_rst: true,
            xdp_log: false,
        }
    }
}

/// One slice of the probe space: this machine takes every probe whose position in the
/// permutation is congruent to `index - 1` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Options of -sV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceOptions {
    /// --probe-timeout: upper bound of one wait (banner, handshake, response).
    pub probe_timeout: Duration,
    /// Simultaneous probes in all.
    pub concurrency: usize,
    /// Simultaneous probes against one host.
    pub per_host: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            probe_timeout: Duration::from_secs(2),
            concurrency: 64,
            per_host: 16,
        }
    }
}

/// Output formats, as nmap names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// -oN: the human report.
    Normal,
    /// -oJ: JSON lines.
    Json,
    /// -oG: grepable.
    Grep,
}

/// Where one format goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: OutputFormat,
    /// None = stdout ("-").
    pub path: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}
