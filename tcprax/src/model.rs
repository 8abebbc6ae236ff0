//! The values that flow between stages: what a scan found, per port and in total.
//!
//! Engines (connect, SYN) produce [`ScanEvent`]s; service detection turns open ports into
//! [`ServiceInfo`]; printers consume [`PortReport`]s and a final [`ScanSummary`]. Nothing here
//! knows which engine produced a value, and nothing here prints.
//!
//! The serde shape of these types *is* the JSON lines format (`-oJ`, `docs/output.md`): the
//! JSON printer only adds the `"type"` tag, so a field renamed here is renamed there. The types
//! that `tcprax merge` reads back derive `Deserialize` as well; the port and summary lines,
//! serialised by hand, are read by `merge`'s own line types.
use crate::config::Shard;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// nmap's three verdicts for a TCP port, and one of our own: `Unreachable`, for a probe this
/// host could not send at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    Open,
    Closed,
    Filtered,
    /// -sS: the probe never left: no route to the target (a blackhole, unreachable or prohibit
    /// route, or none at all) or the kernel refused to send it (a broadcast address, a local
    /// firewall). Nothing is known about the port itself, which is why this is not `filtered`
    /// (a middlebox dropping or rejecting what we sent).
    Unreachable,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::Unreachable => "unreachable",
        }
    }
}

impl std::fmt::Display for PortState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port got its state (nmap's "reason" column). Serialised as its kebab-case name
/// ([`Reason::name`]); the errno of [`Reason::SendFailed`] goes into fields of its own on the
/// port line (see [`ScanEvent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// -sS: the target answered our SYN with SYN-ACK.
    SynAck,
    /// -sS: the target answered our SYN with RST.
    Reset,
    /// -sS: an ICMP/ICMPv6 destination unreachable quoting our SYN.
    IcmpUnreachable,
    /// No answer after all retries.
    NoResponse,
    /// -sT: the connection was established.
    Connected,
    /// -sT: connection refused (RST).
    Refused,
    /// -sT: host or network unreachable.
    Unreachable,
    /// -sS: the routing table has no usable route to the target (none, or a blackhole,
    /// unreachable or prohibit route): nothing was sent.
    NoRoute,
    /// -sS: the kernel refused to send the probe, with this errno: EACCES for a broadcast
    /// address, EPERM from a local firewall, EHOSTUNREACH/ENETUNREACH/EINVAL when a route
    /// changed under the scan. Not retried: the kernel would refuse again.
    SendFailed { errno: i32 },
}

impl Reason {
    /// Every reason once (`SendFailed` with errno 0 standing for all errnos), in a fixed order.
    pub const ALL: [Reason; 9] = [
        Reason::SynAck,
        Reason::Reset,
        Reason::IcmpUnreachable,
        Reason::NoResponse,
        Reason::Connected,
        Reason::Refused,
        Reason::Unreachable,
        Reason::NoRoute,
        Reason::SendFailed { errno: 0 },
    ];

    /// The name JSON uses (docs/output.md); the human formats use nmap's names where nmap has
    /// one (`output::reason_str`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Reset => "reset",
            Reason::IcmpUnreachable => "icmp-unreachable",
            Reason::NoResponse => "no-response",
            Reason::Connected => "connected",
            Reason::Refused => "refused",
            Reason::Unreachable => "unreachable",
            Reason::NoRoute => "no-route",
            Reason::SendFailed { .. } => "send-failed",
        }
    }

    /// The reason JSON names `name` ([`Reason::name`]), with the errno of a `send-failed` line
    /// (0 when the line has none); None for a name tcprax never writes.
    pub fn from_name(name: &str, errno: Option<i32>) -> Option<Reason> {
        match name {
            "send-failed" => Some(Reason::SendFailed {
                errno: errno.unwrap_or(0),
            }),
            _ => Reason::ALL.into_iter().find(|r| r.name() == name),
        }
    }

    /// The errno a [`Reason::SendFailed`] carries.
    pub fn errno(self) -> Option<i32> {
        match self {
            Reason::SendFailed { errno } => Some(errno),
            _ => None,
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The symbolic name of the errnos a send can fail with ("EACCES"), else "errno N": what the
/// human report shows next to `send-failed`.
pub fn errno_name(errno: i32) -> std::borrow::Cow<'static, str> {
    let name = match errno {
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EINVAL => "EINVAL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETDOWN => "ENETDOWN",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENXIO => "ENXIO",
        libc::ENODEV => "ENODEV",
        _ => return format!("errno {errno}").into(),
    };
    name.into()
}

/// The system's text for `errno` ("Permission denied"), without std's " (os error N)" tail.
pub fn errno_text(errno: i32) -> String {
    let mut buf = [0u8; 128];
    // SAFETY: strerror_r (the XSI version libc binds) writes at most buf.len() bytes, NUL
    // included, into buf.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if rc != 0 || end == 0 {
        return format!("errno {errno}");
    }
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// One verdict for one (address, port), as produced by any engine.
///
/// Serialised (by hand, for the two optional fields) as `addr`, `port`, `state`, `reason`,
/// then for `send-failed` only `errno` (the number) and `error` (the system's text for it),
/// then `rtt_us` and `ttl`: the field order docs/output.md documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanEvent {
    pub addr: IpAddr,
    pub port: u16,
    pub state: PortState,
    pub reason: Reason,
    /// Round-trip time of the answer that decided the state, if there was one.
    pub rtt: Option<Duration>,
    /// IP TTL (hop limit for IPv6) of the reply that decided the state, as nmap's
    /// `reason_ttl`: -sS only (the kernel hides it from a connect scan); for an ICMP verdict,
    /// the TTL of the ICMP packet.
    pub ttl: Option<u8>,
}

impl Serialize for ScanEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let errno = self.reason.errno();
        let fields = if errno.is_some() { 8 } else { 6 };
        let mut st = s.serialize_struct("ScanEvent", fields)?;
        st.serialize_field("addr", &self.addr)?;
        st.serialize_field("port", &self.port)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("reason", &self.reason)?;
        if let Some(errno) = errno {
            st.serialize_field("errno", &errno)?;
            st.serialize_field("error", &errno_text(errno))?;
        }
        let rtt_us = self
            .rtt
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        st.serialize_field("rtt_us", &rtt_us)?;
        st.serialize_field("ttl", &self.ttl)?;
        st.end()
    }
}

/// Which engine ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanType {
    /// -sT: full TCP connect through the kernel, no privileges.
    Connect,
    /// -sS: raw SYNs, replies caught by XDP.
    Syn,
}

impl ScanType {
    pub fn describe(self) -> &'static str {
        match self {
            ScanType::Connect => "TCP connect (-sT)",
            ScanType::Syn => "SYN, XDP reply capture (-sS)",
        }
    }
}

/// The six service classes of -sV, numbered as the seeds print them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceClass {
    /// 1: the server speaks first over plain TCP (SSH, FTP, SMTP, ...).
    TcpServerInitiated = 1,
    /// 2: the server speaks first over TLS (SMTPS, IMAPS, ...).
    TlsServerInitiated = 2,
    /// 3: answers an HTTP request over plain TCP.
    Http = 3,
    /// 4: answers an HTTP request over TLS.
    Https = 4,
    /// 5: plain TCP, not HTTP; may or may not answer generic probes.
    GenericTcp = 5,
    /// 6: TLS, not HTTP; may or may not answer generic probes.
    GenericTls = 6,
}

impl ServiceClass {
    pub fn number(self) -> u8 {
        self as u8
    }
    pub fn name(self) -> &'static str {
        match self {
            ServiceClass::TcpServerInitiated => "TCP server-initiated",
            ServiceClass::TlsServerInitiated => "TLS server-initiated",
            ServiceClass::Http => "HTTP",
            ServiceClass::Https => "HTTPS",
            ServiceClass::GenericTcp => "generic TCP",
            ServiceClass::GenericTls => "generic TLS",
        }
    }
}

/// What the TLS handshake showed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// e.g. "TLSv1.3", "TLSv1.0", "SSLv3".
    pub version: String,
    /// Suite name, e.g. "TLS13_AES_256_GCM_SHA384"; for legacy servers read from our own
    /// ClientHello's ServerHello; None when the suite id is not one we can name.
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub certificate: Option<CertInfo>,
    /// A JARM-like fingerprint of how the server answers a fixed set of ClientHellos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jarm: Option<String>,
}

/// The leaf certificate the server presented.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub subject_cn: Option<String>,
    pub sans: Vec<String>,
    pub issuer: Option<String>,
    /// RFC 3339.
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub self_signed: bool,
    /// Lowercase hex SHA-256 of the DER.
    pub sha256: String,
}

/// The result of -sV on one open port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub class: ServiceClass,
    /// e.g. "ssh", "http"; None when no pattern matched.
    pub service: Option<String>,
    /// e.g. "OpenSSH".
    pub product: Option<String>,
    /// e.g. "9.2p1".
    pub version: Option<String>,
    /// The HTML `<title>` of an HTTP(S) response, if it had one.
    pub title: Option<String>,
    /// What the server sent, non-printable bytes as '.', at most 1024 bytes; empty if silent.
    pub response: String,
    pub tls: Option<TlsInfo>,
    /// Free-form detail beside the version (nmap's `i/`), e.g. "protocol 2.0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrainfo: Option<String>,
    /// Host name the service announced (nmap's `h/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Operating system the service gave away (nmap's `o/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Device type (nmap's `d/`), e.g. "router".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// CPE names, e.g. "cpe:/a:openbsd:openssh:9.2p1".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpe: Vec<String>,
    /// What named the service: "builtin" (tcprax's own table) or "nmap:PROBE" (a line of nmap's
    /// service probe file, after the probe that drew the answer); None when nothing did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<String>,
    /// MurmurHash3 (32-bit, of the base64 body, as Shodan indexes it) of `/favicon.ico`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon_mmh3: Option<i32>,
}

impl ServiceInfo {
    /// A result of `class` that says nothing else yet; fill the rest with struct update syntax.
    pub fn empty(class: ServiceClass) -> Self {
        ServiceInfo {
            class,
            service: None,
            product: None,
            version: None,
            title: None,
            response: String::new(),
            tls: None,
            extrainfo: None,
            hostname: None,
            os: None,
            device_type: None,
            cpe: Vec::new(),
            matched_by: None,
            favicon_mmh3: None,
        }
    }
}

/// A port's final line in the report: the scan verdict, the host name the user gave for its
/// address, and service detection, if it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortReport {
    #[serde(flatten)]
    pub event: ScanEvent,
    /// The host name the user typed for this address ([`crate::targets::TargetSet::name_of`]),
    /// if any; shared, since every port of the host carries it.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_name")]
    pub name: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceInfo>,
}

// serde's `Arc` support needs its `rc` feature; a name is just a string.
fn ser_name<S: serde::Serializer>(name: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match name {
        Some(n) => s.serialize_some(&**n),
        None => s.serialize_none(),
    }
}

/// A target as given by the user, with what it resolved to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// What the user typed: "example.test", "198.18.0.0/24", "-iL hosts.txt".
    pub spec: String,
    /// First resolved address (for a single host or name); None for ranges.
    pub resolved: Option<IpAddr>,
    /// How many addresses the spec covers (after exclusions are not subtracted).
    pub addresses: u128,
}

/// Everything a printer needs to show before the scan starts, and what `tcprax merge` checks
/// the shards of one scan agree on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPlan {
    pub scan_type: ScanType,
    pub targets: Vec<TargetInfo>,
    /// Number of ports per target.
    pub port_count: usize,
    /// Compact port spec, e.g. "22,80-90,443".
    pub ports: String,
    pub concurrency: usize,
    /// Packets per second for -sS, None if unlimited / not applicable.
    pub rate: Option<u64>,
    pub service_detection: bool,
    /// The excluded addresses (`--exclude`, `--excludefile`), merged into sorted ranges:
    /// `"198.18.0.7"`, `"198.18.1.0-198.18.1.255"`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// --retries: extra attempts for an unanswered probe.
    #[serde(default)]
    pub retries: u32,
    /// -sS: the seed of the probe order (`--seed`, or the one drawn at random); None for -sT.
    #[serde(default)]
    pub seed: Option<u64>,
    /// -sS: this run's slice of the probe space (`--shard`, 1/1 by default); None for -sT.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// -sS `--include-broadcast`.
    #[serde(default)]
    pub include_broadcast: bool,
}

/// Counters kept by the XDP program (summed over CPUs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpStats {
    pub seen: u64,
    pub matched: u64,
    pub passed: u64,
    pub ringbuf_full: u64,
    pub bad_cookie: u64,
    /// Validated replies to probes already reported (retransmissions, replays): dropped in the
    /// kernel without an event.
    pub repeats: u64,
    /// SYN-ACKs the program answered with our RST itself (XDP_TX), repeats included.
    #[serde(default)]
    pub rsts_sent: u64,
}

impl std::ops::Add for XdpStats {
    type Output = XdpStats;

    /// The counters of several programs (one per interface) as one.
    fn add(self, o: XdpStats) -> XdpStats {
        XdpStats {
            seen: self.seen + o.seen,
            matched: self.matched + o.matched,
            passed: self.passed + o.passed,
            ringbuf_full: self.ringbuf_full + o.ringbuf_full,
            bad_cookie: self.bad_cookie + o.bad_cookie,
            repeats: self.repeats + o.repeats,
            rsts_sent: self.rsts_sent + o.rsts_sent,
        }
    }
}

/// Totals after the scan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    #[serde(serialize_with = "ser_secs", rename = "elapsed_s")]
    pub elapsed: Duration,
    /// (address, port) pairs that got a verdict.
    pub ports_scanned: u64,
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    /// -sS: ports whose probe could not be sent (no route, or the kernel refused it).
    pub unreachable: u64,
    /// -sS: addresses never probed: the network and broadcast addresses of directly
    /// connected IPv4 subnets (unless `--include-broadcast`).
    pub skipped: u64,
    /// Probes (SYNs or connect attempts) sent, retries included.
    pub probes_sent: u64,
    /// True if the scan was interrupted (Ctrl-C) and the results are partial.
    pub interrupted: bool,
    #[serde(serialize_with = "ser_secs_opt", rename = "service_detection_s")]
    pub service_elapsed: Option<Duration>,
    pub xdp: Option<XdpStats>,
    /// When the first probe was sent: with `last_verdict`, what -v prints about start-up and
    /// tear-down (not part of the reports).
    #[serde(skip)]
    pub first_probe: Option<std::time::Instant>,
    /// When the last probe (retries included) was sent.
    #[serde(skip)]
    pub last_probe: Option<std::time::Instant>,
    /// When the engine's last verdict reached the pipeline.
    #[serde(skip)]
    pub last_verdict: Option<std::time::Instant>,
}

impl ScanSummary {
    /// Ports scanned per second of wall time.
    pub fn ports_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ports_scanned as f64 / secs
        } else {
            0.0
        }
    }

    pub fn count(&mut self, state: PortState) {
        self.ports_scanned += 1;
        match state {
            PortState::Open => self.open += 1,
            PortState::Closed => self.closed += 1,
            PortState::Filtered => self.filtered += 1,
            PortState::Unreachable => self.unreachable += 1,
        }
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_secs_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Something the operator should know while the scan runs; the output layer writes it on
/// stderr. Engines send these through [`ScanControl::notify`](crate::engine::ScanControl::notify).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The XDP ring buffer was full: `dropped` validated replies got no event. Their probes are
    /// retried, but a port can end up `filtered` when every attempt meets a full buffer.
    RingBufferFull { dropped: u64 },
    /// -sS will not probe these targets: network and broadcast addresses of directly connected
    /// IPv4 subnets (the kernel refuses to send to a broadcast address). Told before the first
    /// probe.
    Skipped { addresses: Vec<IpAddr> },
    /// -sV found no nmap service probe file in these places: only the built-in table names
    /// services.
    ProbeFileMissing { searched: Vec<std::path::PathBuf> },
    /// -sV's probe file had lines it could not read (they are ignored): how many, and the
    /// first one's number and why.
    ProbeFileLinesSkipped {
        path: std::path::PathBuf,
        skipped: usize,
        first_line: usize,
        first_reason: String,
    },
}

impl Notice {
    /// True for what may cost results (shown even with -q); false for information.
    pub fn is_warning(&self) -> bool {
        matches!(self, Notice::RingBufferFull { .. })
    }
}

/// Addresses a notice lists before it only counts the rest.
const NOTICE_LIST: usize = 8;

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::RingBufferFull { dropped } => write!(
                f,
                "the XDP ring buffer overflowed ({dropped} replies lost so far; their probes are \
                 retried): replies arrive faster than tcprax reads them; lower --rate"
            ),
            Notice::Skipped { addresses } => {
                let n = addresses.len();
                write!(
                    f,
                    "skipping {n} network/broadcast address{} of directly connected subnets: ",
                    if n == 1 { "" } else { "es" }
                )?;
                for (i, a) in addresses.iter().take(NOTICE_LIST).enumerate() {
                    write!(f, "{}{a}", if i > 0 { ", " } else { "" })?;
                }
                if n > NOTICE_LIST {
                    write!(f, " and {} more", n - NOTICE_LIST)?;
                }
                f.write_str(" (--include-broadcast probes them)")
            }
            Notice::ProbeFileMissing { searched } => {
                f.write_str("no nmap service probe file (looked in ")?;
                for (i, p) in searched.iter().enumerate() {
                    write!(f, "{}{}", if i > 0 { ", " } else { "" }, p.display())?;
                }
                f.write_str(
                    "): -sV uses its built-in table only; `apt install nmap-common` or \
                     --service-probes FILE adds nmap's probes",
                )
            }
            Notice::ProbeFileLinesSkipped {
                path,
                skipped,
                first_line,
                first_reason,
            } => write!(
                f,
                "{}: {skipped} line{} ignored (line {first_line}: {first_reason})",
                path.display(),
                if *skipped == 1 { "" } else { "s" }
            ),
        }
    }
}

#[cfg(test)]
mod tests;
