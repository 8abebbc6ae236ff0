//! The validated, library-side description of a scan, and the one home of every default
//! ([`defaults`]). The CLI (clap) builds a [`ScanConfig`]; the library never sees clap types.
use crate::model::ScanType;
use crate::ports::PortList;
use crate::targets::TargetSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default of every scan option. The CLI, its `--help`, the pipeline (`scan`) and the
/// engines' `Default` impls all read these, so that a default is changed in one place.
pub mod defaults {
    use super::Shard;
    use crate::model::ScanType;
    use std::time::Duration;

    /// -t: enough parallel connects to keep a LAN busy while staying far below the usual 1024
    /// file-descriptor soft limit.
    pub const CONCURRENCY: usize = 512;

    /// --retries for -sT: one more connect() after a timeout. The kernel already retransmits
    /// the SYN inside each connect(), so more retries mostly add time.
    pub const RETRIES_CONNECT: u32 = 1;

    /// --retries for -sS: raw SYNs have no kernel retransmission, and nmap also needs about two
    /// retries before it calls a port filtered on a lossy path.
    pub const RETRIES_SYN: u32 = 2;

    /// Ceiling of the adaptive per-probe timeout of -sT when --timeout is not given. Longer
    /// than -sS's: a connect() may be waiting on the kernel's own SYN retransmission (the
    /// first comes after 1 s), which a raw SYN never has.
    pub const MAX_TIMEOUT_CONNECT: Duration = Duration::from_secs(3);

    /// Ceiling of the adaptive per-probe timeout of -sS when --timeout is not given.
    pub const MAX_TIMEOUT_SYN: Duration = Duration::from_secs(2);

    /// --source-port-range for -sS: above Linux's default ephemeral range (32768-60999), so
    /// our probes never collide with the host's own connections.
    pub const SOURCE_PORTS: (u16, u16) = (61000, 65535);

    /// --shard: the whole probe space, on one machine.
    pub const SHARD: Shard = Shard { index: 1, count: 1 };

    /// Most sender threads -sS starts without --send-threads.
    pub const SEND_THREADS_MAX: usize = 4;

    /// --send-threads for -sS: one per CPU, at most [`SEND_THREADS_MAX`]; none on a single
    /// CPU, where they could only take turns with the scheduler thread. Measured on two vCPUs
    /// (docs/benchmark.md), two threads against none: the sender alone into a sink 620-710k
    /// instead of 490-620k SYNs/s, the kernel target at full speed in 1.7 s instead of 2.8-3.4,
    /// the XDP responder a little faster (median 1.34 s instead of 1.39). One thread did worse
    /// than two: the scheduler waited for its batches to come back.
    pub fn send_threads() -> usize {
        match std::thread::available_parallelism().map_or(1, |n| n.get()) {
            0 | 1 => 0,
            n => n.min(SEND_THREADS_MAX),
        }
    }

    /// -sV --probe-timeout: upper bound of one wait (banner, handshake, response).
    pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

    /// -sV detections in flight in all when -t is not given. Each holds a connection for up
    /// to several waits, so this is what -sV throughput scales with: 64 gave 172 services/s on
    /// the 16k-service benchmark (docs/benchmark-sv.md), far below what the path carries;
    /// the per-host cap (`SERVICE_PER_HOST`) keeps any one host from seeing more than 16.
    pub const SERVICE_CONCURRENCY: usize = 512;

    /// -sV --version-intensity: probes of nmap's file with a rarity above this are not sent
    /// (nmap's default too).
    pub const VERSION_INTENSITY: u8 = 7;

    /// -sV probes in flight against one host, so one slow host cannot take every slot and a
    /// small server is not flooded.
    pub const SERVICE_PER_HOST: usize = 16;

    /// --retries when the user gave none.
    pub fn retries(scan_type: ScanType) -> u32 {
        match scan_type {
            ScanType::Connect => RETRIES_CONNECT,
            ScanType::Syn => RETRIES_SYN,
        }
    }

    /// Timeout ceiling when --timeout is not given.
    pub fn max_timeout(scan_type: ScanType) -> Duration {
        match scan_type {
            ScanType::Connect => MAX_TIMEOUT_CONNECT,
            ScanType::Syn => MAX_TIMEOUT_SYN,
        }
    }
}

/// A complete, validated scan request.
#[derive(Debug)]
pub struct ScanConfig {
    pub scan_type: ScanType,
    pub targets: TargetSet,
    pub ports: PortList,
    /// -t: simultaneous connections (-sT) / service probes (-sV).
    pub concurrency: usize,
    /// --timeout: upper bound for one probe's wait; None = the scan type's default (see
    /// [`ScanConfig::max_timeout`]).
    pub timeout: Option<Duration>,
    /// --retries: extra attempts for an unanswered probe.
    pub retries: u32,
    /// --rate: a fixed rate for -sS, packets per second (None = the rate controller finds it).
    pub rate: Option<u64>,
    /// --max-rate: the rate controller's ceiling (without --rate).
    pub max_rate: Option<u64>,
    pub syn: SynOptions,
    /// -sV, if requested.
    pub service: Option<ServiceOptions>,
    pub outputs: Vec<OutputSpec>,
    pub verbosity: Verbosity,
    /// --resume-file / --resume: where a stopped scan saves its state, and the state this
    /// run continues.
    pub resume: ResumeSettings,
}

/// What `--resume` needs: where to save, what to save besides the engine's state, and what
/// this run continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeSettings {
    /// Where a scan stopped by a signal writes its state (absolute: `--resume-file`, or
    /// [`crate::resume::DEFAULT_FILE`] in the working directory); for a resumed run, the file
    /// it continues, updated if it is stopped again and removed once it completes.
    pub file: PathBuf,
    /// How the scan was started; None when it cannot be stored (a command line that is not
    /// UTF-8, an unknown working directory), and then a stop saves nothing and says why.
    pub origin: Option<crate::resume::Origin>,
    /// The saved state this run continues (`--resume FILE`), already checked against the scan.
    pub from: Option<crate::resume::ResumeFile>,
}

impl ScanConfig {
    /// The ceiling of the adaptive per-probe timeout: --timeout, or the scan type's default.
    pub fn max_timeout(&self) -> Duration {
        self.timeout
            .unwrap_or_else(|| defaults::max_timeout(self.scan_type))
    }
}

/// Options that only -sS uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynOptions {
    /// --source-port-range LO-HI (inclusive).
    pub source_ports: (u16, u16),
    /// -S: source address of every probe (default: per target, as routed).
    pub source_addr: Option<IpAddr>,
    /// -e: interface of every probe (default: per target, as routed).
    pub interface: Option<String>,
    /// --seed: permutation seed (default: random).
    pub seed: Option<u64>,
    /// --shard I/N (1-based index I of N).
    pub shard: Shard,
    /// --no-rst: do not send our own RST for open ports.
    pub send_rst: bool,
    /// -vv: the XDP program explains on stderr why it passed frames that looked like ours.
    pub xdp_log: bool,
    /// --include-broadcast: also probe the network and broadcast addresses of directly
    /// connected IPv4 subnets (skipped by default: the kernel refuses to send to a broadcast
    /// address, and a network address is nobody's).
    pub include_broadcast: bool,
    /// --send-path: how probes leave.
    pub send_path: SendPath,
    /// --rst-path: who sends our RST to an open port.
    pub rst_path: RstPath,
    /// --send-threads: threads that send the probes beside the scheduler's (0: it sends them
    /// itself).
    pub send_threads: usize,
}

/// Who sends our RST to an open port (-sS, unless `--no-rst`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RstPath {
    /// The XDP program (XDP_TX) where the interface gives XDP_TX a transmit ring of its own:
    /// native mode on a hardware driver; and not with `--send-path raw`. The scanner's socket
    /// elsewhere.
    #[default]
    Auto,
    /// The XDP program wherever XDP_TX reaches the wire at all (also generic mode, and a veth
    /// whose peer runs native XDP), where it can be lost when the ring it shares is full; an
    /// interface where it cannot (a veth whose peer runs no XDP program) is an error.
    Xdp,
    /// The scanner, through the socket its probes leave by.
    Socket,
}

/// How -sS probes leave the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendPath {
    /// Whole Ethernet frames on an AF_PACKET socket for targets routed through a gateway on an
    /// Ethernet-like interface (no netfilter on the path); the raw IP socket for the rest.
    #[default]
    Auto,
    /// The raw IP socket (`IPPROTO_RAW`) for every probe: the kernel routes and resolves.
    Raw,
    /// As [`Auto`](Self::Auto), with the AF_PACKET frames handed straight to the driver
    /// (`PACKET_QDISC_BYPASS`): no qdisc (no tc egress rule or shaping applies, and a full
    /// device queue makes the sender wait instead of queueing), and packet taps such as
    /// tcpdump on this host do not see the probes. The fastest path (docs/benchmark.md).
    Direct,
}

impl Default for SynOptions {
    fn default() -> Self {
        SynOptions {
            source_ports: defaults::SOURCE_PORTS,
            source_addr: None,
            interface: None,
            seed: None,
            shard: defaults::SHARD,
            send_rst: true,
            xdp_log: false,
            include_broadcast: false,
            send_path: SendPath::Auto,
            rst_path: RstPath::Auto,
            send_threads: defaults::send_threads(),
        }
    }
}

/// One slice of the probe space: this machine takes every probe whose position in the
/// permutation is congruent to `index - 1` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// --service-probes: nmap's probe file; None = look in the usual places
    /// ([`crate::service::nmap::search_paths`]).
    pub probe_file: Option<PathBuf>,
    /// --version-intensity 0-9: the rarest probe of the file that is sent.
    pub version_intensity: u8,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            probe_timeout: defaults::PROBE_TIMEOUT,
            concurrency: defaults::SERVICE_CONCURRENCY,
            per_host: defaults::SERVICE_PER_HOST,
            probe_file: None,
            version_intensity: defaults::VERSION_INTENSITY,
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
    /// -oX: nmap's XML.
    Xml,
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
