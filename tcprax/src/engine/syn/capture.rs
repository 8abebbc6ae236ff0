//! Loading, configuring and attaching the XDP program, and reading what it reports.
//!
//! The object built from `tcprax-ebpf` is embedded at compile time. [`XdpCapture::attach`]
//! asks the kernel how frames start on the interface (Ethernet, or the IP header first on L3
//! devices: [`LinkType`]) and loads the program for that, writes the scan's [`XdpConfig`], and
//! attaches it to the interface through a bpf_link: the link belongs to this process, so the
//! program goes away when the [`XdpCapture`] is dropped or the process dies, even by SIGKILL.
//! Reply events are read from the ring buffer through tokio's `AsyncFd`.
//!
//! Attaching needs privileges (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON) but no async runtime;
//! reading needs a runtime but no privileges (the ring buffer is memory mapped, and lookups in
//! an open map fd are not checked against capabilities). So the two are separate steps:
//! [`XdpCapture::attach`] before the process drops its capabilities and builds its runtime (see
//! `crate::privilege`), [`XdpCapture::start`] inside the runtime afterwards.
//!
//! An interface runs one XDP program per mode, and aya 0.14 attaches programs alone (sharing
//! one needs a dispatcher program such as libxdp's, which aya does not provide): when another
//! program holds the interface, the error names it and says what to do
//! ([`XdpError::Occupied`]). A driver that refuses native XDP gets the generic (skb) mode.
//!
//! With [`XdpLog::Stderr`] (-vv) the program is loaded with its logging switch on, and a task
//! copies its aya-log records (why it passed a frame that looked like a reply to us) to stderr as
//! `tcprax: xdp: <message>` lines, until the capture is dropped. Logging is a diagnostic: if its
//! reader cannot start, the scan goes on without it and says so.
use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::links::LinkType as BpfLinkType;
use aya::programs::{ProgramError, Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader};
use aya_log::EbpfLogger;
use tcprax_common::{ReplyEvent, XdpConfig, counter};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use crate::model::XdpStats;

pub(super) mod iface;
pub use iface::{LinkType, XdpAttachMode};

/// The XDP object built by build.rs (empty when built with AYA_BUILD_SKIP=1).
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tcprax"));

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "this tcprax was built without its XDP program (AYA_BUILD_SKIP=1); rebuild with \
         `cargo xtask build`, or use -sT"
    )]
    Placeholder,
    #[error(
        "cannot load the XDP program (-sS needs root, or CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF and \
         CAP_PERFMON): {source}; use -sT for a connect scan without privileges"
    )]
    Load { source: Box<aya::EbpfError> },
    #[error("XDP object has no {what}")]
    Missing { what: &'static str },
    #[error("cannot prepare the XDP {what}: {source}")]
    Program {
        what: &'static str,
        source: Box<aya::programs::ProgramError>,
    },
    #[error(
        "cannot attach XDP to interface '{interface}': {source}. The SYN scan needs XDP to \
         catch replies (so the kernel does not RST them); use -sT for a connect scan instead"
    )]
    Attach {
        interface: String,
        source: Box<aya::programs::ProgramError>,
    },
    #[error("{}", occupied_message(.interface, .holder.as_ref()))]
    Occupied {
        interface: String,
        /// The program found on the interface after the attach failed (None if it was gone
        /// by then, or the kernel would not say).
        holder: Option<XdpHolder>,
        source: Box<aya::programs::ProgramError>,
    },
    #[error(
        "interface '{interface}' has link type {arphrd} (ARPHRD_*), whose frames the XDP \
         program cannot parse (it knows Ethernet and L3 devices without a link header); use \
         -sT for a connect scan instead"
    )]
    UnsupportedLink { interface: String, arphrd: u16 },
    #[error("cannot ask the kernel about interface '{interface}': {source}")]
    Interface {
        interface: String,
        source: std::io::Error,
    },
    #[error("XDP map {map}: {source}")]
    Map {
        map: &'static str,
        source: Box<aya::maps::MapError>,
    },
    #[error("cannot poll the ring buffer: {source}")]
    Poll { source: std::io::Error },
    #[error(
        "--rst-path xdp: the XDP program cannot send RSTs out of interface '{interface}': \
         {why}; use --rst-path auto or socket"
    )]
    RstPath {
        interface: String,
        why: &'static str,
    },
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> XdpError {
    move |source| XdpError::Map {
        map,
        source: Box::new(source),
    }
}

/// Whether the XDP program sends our RSTs (see [`XdpConfig::rst`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpRst {
    /// Never: userspace sends them.
    #[default]
    Off,
    /// Where XDP_TX has a transmit ring of its own ([`own_tx_ring`]), else userspace.
    WhereOwnRing,
    /// Wherever a frame sent back with XDP_TX leaves at all; an interface where it does not is
    /// [`XdpError::RstPath`].
    WhereItLeaves,
}

/// Whether the XDP program explains its verdicts, and where to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpLog {
    /// No logging code runs: the verifier removes it (see tcprax-ebpf).
    #[default]
    Off,
    /// -vv: the program's aya-log records as `tcprax: xdp: <message>` lines on stderr.
    Stderr,
}

impl From<bool> for XdpLog {
    fn from(on: bool) -> XdpLog {
        if on { XdpLog::Stderr } else { XdpLog::Off }
    }
}

/// The program found holding an interface when our attach failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdpHolder {
    /// Its BPF program id (`bpftool prog show id N`).
    pub id: u32,
    /// Its name as loaded (at most 15 bytes), if the kernel told.
    pub name: Option<String>,
    pub mode: XdpAttachMode,
    /// Attached through a bpf_link, which a process owns: `ip link set ... off` cannot remove
    /// it; the owner must close the link (exit).
    pub via_link: bool,
}

/// The text of [`XdpError::Occupied`]: whose program is there and what the user can do.
fn occupied_message(interface: &str, holder: Option<&XdpHolder>) -> String {
    let (who, what_to_do) = match holder {
        Some(h) => {
            let name = h.name.as_deref().unwrap_or("?");
            let held = if h.via_link {
                ", held through a bpf_link"
            } else {
                ""
            };
            let who = format!("XDP program {} '{name}' ({} mode{held})", h.id, h.mode);
            let what_to_do = if h.via_link && name == tcprax_common::PROGRAM_NAME {
                "Another tcprax -sS is probably scanning through it: wait for that scan to \
                 end (or stop it)"
                    .to_string()
            } else if h.via_link {
                "The process that owns the link keeps it attached (`bpftool link show` names \
                 it): stop that process if it is not needed"
                    .to_string()
            } else {
                format!(
                    "If nothing needs it, detach it: `ip link set dev {interface} {} off`",
                    h.mode.ip_link_word()
                )
            };
            (who, what_to_do)
        }
        None => (
            "another XDP program".to_string(),
            format!("If nothing needs it, detach it: `ip link set dev {interface} xdp off`"),
        ),
    };
    format!(
        "cannot attach XDP to interface '{interface}': {who} is attached to it already, and an \
         interface runs one XDP program at a time (tcprax cannot share it). {what_to_do}; or \
         scan through another interface with -e IFACE; or use -sT (a connect scan, no XDP)"
    )
}

/// The ring buffer of replies: opened at attach, registered with the runtime by
/// [`XdpCapture::start`].
enum Events {
    Idle(RingBuf<MapData>),
    Polled(AsyncFd<RingBuf<MapData>>),
    /// Only while [`XdpCapture::start`] moves the buffer from one state to the other.
    Gone,
}

/// The program's log reader (-vv): opened at attach, running from [`XdpCapture::start`].
enum Log {
    Off,
    Idle(EbpfLogger<StderrLog>),
    /// Dropping the sender tells the log task to print what is left and stop.
    Running(
        #[expect(dead_code, reason = "held only to be dropped with the capture")]
        oneshot::Sender<()>,
    ),
}

/// The loaded and attached program. Detaches on drop.
pub struct XdpCapture {
    // Field order matters for drop: the ring buffer and maps first, the Ebpf (which owns the
    // program and its link) last.
    events: Events,
    counters: PerCpuArray<MapData, u64>,
    link: LinkType,
    mode: Option<XdpAttachMode>,
    /// The program answers SYN-ACKs with our RST itself (see [`XdpConfig::rst`]).
    sends_rsts: bool,
    log: Log,
    /// Owns the program and its bpf_link: dropping it detaches the program.
    _ebpf: Ebpf,
}

impl XdpCapture {
    /// Load the program for `interface`'s link type, write `config`, and attach it to
    /// `interface`; with [`XdpLog::Stderr`], open the program's log buffer too.
    ///
    /// Needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (or root) but no async runtime: the ring
    /// buffers are registered with one by [`start`](Self::start) (or the first
    /// [`read_events`](Self::read_events)). Call it on a thread in the interface's network
    /// namespace.
    pub fn attach(interface: &str, config: XdpConfig, log: XdpLog) -> Result<XdpCapture, XdpError> {
        Self::attach_with(interface, config, log, XdpRst::Off)
    }

    /// [`attach`](Self::attach), with the program sending our RSTs as `rst` says
    /// (`config.rst` is set accordingly).
    pub fn attach_with(
        interface: &str,
        config: XdpConfig,
        log: XdpLog,
        rst: XdpRst,
    ) -> Result<XdpCapture, XdpError> {
        if OBJECT.is_empty() {
            return Err(XdpError::Placeholder);
        }
        let unknown = || XdpError::Attach {
            interface: interface.to_string(),
            source: Box::new(ProgramError::UnknownInterface {
                name: interface.to_string(),
            }),
        };
        if interface.len() > 15 || interface.contains('\0') {
            return Err(unknown());
        }
        let iface = iface::query(interface)
            .map_err(|source| XdpError::Interface {
                interface: interface.to_string(),
                source,
            })?
            .ok_or_else(unknown)?;
        let link = LinkType::from_arphrd(iface.arphrd).ok_or(XdpError::UnsupportedLink {
            interface: interface.to_string(),
            arphrd: iface.arphrd,
        })?;
        let log_switch = u8::from(log == XdpLog::Stderr);
        let link_global = link.global();
        let mut ebpf = EbpfLoader::new()
            // Load-time constants rather than CONFIG fields: the verifier sees their values and
            // drops the logging code when it is off, and the parser of the other link type.
            .override_global(tcprax_common::GLOBAL_LOG, &log_switch, true)
            .override_global(tcprax_common::GLOBAL_LINK, &link_global, true)
            .load(OBJECT)
            .map_err(|source| XdpError::Load {
                source: Box::new(source),
            })?;
        let mut cfg_map: Array<MapData, XdpConfig> = Array::try_from(
            ebpf.take_map(tcprax_common::MAP_CONFIG)
                .ok_or(XdpError::Missing { what: "CONFIG map" })?,
        )
        .map_err(map_err("CONFIG"))?;
        let counters: PerCpuArray<MapData, u64> = PerCpuArray::try_from(
            ebpf.take_map(tcprax_common::MAP_COUNTERS)
                .ok_or(XdpError::Missing {
                    what: "COUNTERS map",
                })?,
        )
        .map_err(map_err("COUNTERS"))?;
        let ring = RingBuf::try_from(
            ebpf.take_map(tcprax_common::MAP_EVENTS)
                .ok_or(XdpError::Missing { what: "EVENTS map" })?,
        )
        .map_err(map_err("EVENTS"))?;
        let program: &mut Xdp = ebpf
            .program_mut(tcprax_common::PROGRAM_NAME)
            .ok_or(XdpError::Missing {
                what: "tcprax program",
            })?
            .try_into()
            .map_err(|source| XdpError::Program {
                what: "program type",
                source: Box::new(source),
            })?;
        program.load().map_err(|source| XdpError::Program {
            what: "program (verifier)",
            source: Box::new(source),
        })?;
        attach_program(program, interface, iface.index)?;
        // What the kernel chose: native where the driver supports it, else generic.
        let mode = iface::query(interface)
            .ok()
            .flatten()
            .and_then(|i| i.xdp.map(|(_, mode)| mode));
        // Written only now, once it is known whether the program sends RSTs here; until then
        // CONFIG is all zero, and the program passes everything (nothing is sent yet).
        let mut config = config;
        config.rst = match rst {
            XdpRst::Off => 0,
            XdpRst::WhereOwnRing => {
                u8::from(link == LinkType::Ethernet && own_tx_ring(&iface, mode))
            }
            XdpRst::WhereItLeaves => match xdp_tx_blocked(&iface, link, mode) {
                None => 1,
                Some(why) => {
                    return Err(XdpError::RstPath {
                        interface: interface.to_string(),
                        why,
                    });
                }
            },
        };
        cfg_map.set(0, config, 0).map_err(map_err("CONFIG"))?;
        // Only now that the program is loaded (the kernel holds its maps) may the log ring
        // buffer leave `ebpf`: had it been closed before, loading would have failed. Records
        // written since the attach wait in the buffer.
        let log = match log {
            XdpLog::Off => Log::Off,
            XdpLog::Stderr => match EbpfLogger::init_with_logger(&mut ebpf, StderrLog) {
                Ok(logger) => Log::Idle(logger),
                Err(source) => {
                    let err = LogError::Open { source };
                    eprintln!("tcprax: warning: no XDP log (-vv) for this scan: {err}");
                    Log::Off
                }
            },
        };
        Ok(XdpCapture {
            events: Events::Idle(ring),
            counters,
            link,
            mode,
            sends_rsts: config.rst != 0,
            log,
            _ebpf: ebpf,
        })
    }

    /// Register the ring buffer with the tokio runtime this runs in, and (-vv) start the task
    /// that copies the program's log records to stderr. Needs no privileges. Idempotent;
    /// [`read_events`](Self::read_events) calls it when it was not called before.
    pub fn start(&mut self) -> Result<(), XdpError> {
        self.events = match std::mem::replace(&mut self.events, Events::Gone) {
            // SAFETY: the fd is the ring buffer map's, owned by `ring`, which the AsyncFd owns
            // (and so keeps open) for as long as it is registered.
            Events::Idle(ring) => {
                match unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) } {
                    Ok(events) => Events::Polled(events),
                    Err(err) => {
                        let (ring, source) = err.into_parts();
                        self.events = Events::Idle(ring);
                        return Err(XdpError::Poll { source });
                    }
                }
            }
            other => other,
        };
        self.log = match std::mem::replace(&mut self.log, Log::Off) {
            Log::Idle(logger) => match forward_log(logger) {
                Ok(stop) => Log::Running(stop),
                Err(err) => {
                    eprintln!("tcprax: warning: no XDP log (-vv) for this scan: {err}");
                    Log::Off
                }
            },
            other => other,
        };
        Ok(())
    }

    /// The ring buffer, registered with the runtime.
    fn polled(&mut self) -> Result<&mut AsyncFd<RingBuf<MapData>>, XdpError> {
        // Called at every drain (each millisecond): start only the first time.
        if !matches!(self.events, Events::Polled(_)) {
            self.start()?;
        }
        match &mut self.events {
            Events::Polled(events) => Ok(events),
            Events::Idle(_) | Events::Gone => Err(XdpError::Poll {
                source: std::io::Error::other("the ring buffer is not registered"),
            }),
        }
    }

    /// How frames start on the interface, which the program was loaded for.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Where the program runs (native or generic), as the kernel reported right after the
    /// attach; None if it would not say.
    pub fn mode(&self) -> Option<XdpAttachMode> {
        self.mode
    }

    /// Whether the program answers validated SYN-ACKs with our RST itself (XDP_TX): asked for
    /// in the [`XdpConfig`] given to [`attach`](Self::attach), and possible on this interface.
    pub fn sends_rsts(&self) -> bool {
        self.sends_rsts
    }

    /// Wait until the program wakes the reader (a burst of events: see
    /// [`drain_events`](Self::drain_events)), then append every available event to `out`.
    pub async fn read_events(&mut self, out: &mut Vec<ReplyEvent>) -> Result<(), XdpError> {
        let events = self.polled()?;
        loop {
            let mut guard = events
                .readable_mut()
                .await
                .map_err(|source| XdpError::Poll { source })?;
            let before = out.len();
            drain(guard.get_inner_mut(), out);
            guard.clear_ready();
            if out.len() > before {
                return Ok(());
            }
        }
    }

    /// Append every event available now to `out`, without waiting. The program wakes
    /// [`read_events`](Self::read_events) only for bursts ([`tcprax_common::EVENTS_WAKE_BYTES`]):
    /// a reader calls this every [`tcprax_common::EVENTS_DRAIN_MS`] for the rest.
    pub fn drain_events(&mut self, out: &mut Vec<ReplyEvent>) -> Result<(), XdpError> {
        drain(self.polled()?.get_mut(), out);
        Ok(())
    }

    /// The program's counters, summed over CPUs.
    pub fn stats(&self) -> Result<XdpStats, XdpError> {
        let sum = |i: u32| -> Result<u64, XdpError> {
            Ok(self
                .counters
                .get(&i, 0)
                .map_err(map_err("COUNTERS"))?
                .iter()
                .sum())
        };
        Ok(XdpStats {
            seen: sum(counter::SEEN)?,
            matched: sum(counter::MATCHED)?,
            passed: sum(counter::PASSED)?,
            ringbuf_full: sum(counter::RINGBUF_FULL)?,
            bad_cookie: sum(counter::BAD_COOKIE)?,
            repeats: sum(counter::REPEATS)?,
            rsts_sent: sum(counter::RST_TX)?,
        })
    }

    /// Validated replies dropped so far because the ring buffer was full (their probes will be
    /// retried): one map lookup (a syscall), cheap enough to poll during the scan and warn
    /// once that userspace is not keeping up.
    pub fn ringbuf_full(&self) -> Result<u64, XdpError> {
        Ok(self
            .counters
            .get(&counter::RINGBUF_FULL, 0)
            .map_err(map_err("COUNTERS"))?
            .iter()
            .sum())
    }
}

/// Append every event in `ring` to `out`.
fn drain(ring: &mut RingBuf<MapData>, out: &mut Vec<ReplyEvent>) {
    while let Some(item) = ring.next() {
        if item.len() >= size_of::<ReplyEvent>() {
            // SAFETY: the kernel side writes exactly one ReplyEvent per record; the length was
            // checked and read_unaligned makes no alignment assumption.
            out.push(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<ReplyEvent>()) });
        }
    }
}

/// Whether XDP_TX on `iface` (attached in `mode`) has a transmit ring of its own, so that our
/// RSTs sent from XDP neither wait for nor crowd out anything: native mode on a hardware driver
/// (no `IFLA_INFO_KIND`), whose XDP support includes XDP_TX on queues set aside for it.
///
/// Not generic mode (the frame goes to the interface's own queue, and is dropped while the
/// queue is stopped, as it is whenever our probes fill it), not a veth (XDP_TX frames join the
/// probes in the peer's one 256-frame ring and are dropped when it is full: measured on the
/// responder bench, most of them at full speed), nor other virtual devices.
fn own_tx_ring(iface: &iface::Interface, mode: Option<XdpAttachMode>) -> bool {
    mode == Some(XdpAttachMode::Native) && iface.kind.is_none()
}

/// Why a frame the program sends back with XDP_TX would not leave `iface` at all; None when it
/// does (even where it can be lost under load, see [`own_tx_ring`]).
///
/// Generic mode: it leaves, through the interface's queue. Native mode on hardware: it leaves.
/// A veth in native mode: only when its peer runs an XDP program in native mode too; without
/// one the peer has no NAPI to take the frame, and the kernel drops every one.
fn xdp_tx_blocked(
    iface: &iface::Interface,
    link: LinkType,
    mode: Option<XdpAttachMode>,
) -> Option<&'static str> {
    if link != LinkType::Ethernet {
        return Some("it has no link header to send a frame back with");
    }
    match mode {
        Some(XdpAttachMode::Generic) => None,
        Some(XdpAttachMode::Native) => match iface.kind.as_deref() {
            None => None,
            Some("veth") => match iface::veth_peer(iface) {
                Ok(Some(iface::Interface {
                    xdp: Some((_, XdpAttachMode::Native)),
                    ..
                })) => None,
                Ok(_) => Some(
                    "it is a veth whose peer runs no XDP program in native mode, and the \
                     peer drops every frame sent with XDP_TX",
                ),
                Err(_) => Some("it is a veth, and the kernel would not describe its peer"),
            },
            Some(_) => Some("XDP_TX is not known to leave this kind of virtual device"),
        },
        Some(XdpAttachMode::Offload) => Some("the program is offloaded to the NIC"),
        None => Some("the kernel would not say in which mode the program runs"),
    }
}

/// Attach `program` to the interface: in the mode the kernel picks, else in generic mode if the
/// driver refused native XDP. An interface already holding another program is
/// [`XdpError::Occupied`].
fn attach_program(program: &mut Xdp, interface: &str, index: u32) -> Result<(), XdpError> {
    let first = match program.attach_to_if_index(index, XdpMode::Default) {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    let occupied = |source: ProgramError| XdpError::Occupied {
        interface: interface.to_string(),
        holder: holder(interface),
        source: Box::new(source),
    };
    match errno(&first) {
        // EBUSY: a program (or link) holds this mode; EEXIST: one runs in the other mode.
        Some(libc::EBUSY | libc::EEXIST) => return Err(occupied(first)),
        // Not the driver's choice: retrying in another mode would fail the same way.
        Some(libc::EPERM | libc::EACCES | libc::ENODEV) | None => {}
        Some(_) => {
            if program.attach_to_if_index(index, XdpMode::Skb).is_ok() {
                return Ok(());
            }
        }
    }
    Err(XdpError::Attach {
        interface: interface.to_string(),
        source: Box::new(first),
    })
}

/// The errno behind a failed attach: from bpf_link_create, or from the netlink request aya
/// falls back to on kernels without XDP links.
fn errno(err: &ProgramError) -> Option<i32> {
    match err {
        ProgramError::SyscallError(e) => e.io_error.raw_os_error(),
        ProgramError::XdpError(aya::programs::xdp::XdpError::NetlinkError(e)) => e.raw_os_error(),
        _ => None,
    }
}

/// The program attached to `interface` now, with its name and whether a bpf_link holds it.
/// Best effort: it only enriches an error message.
fn holder(interface: &str) -> Option<XdpHolder> {
    let (id, mode) = iface::query(interface).ok()??.xdp?;
    let name = aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == id)
        .and_then(|p| p.name_as_str().map(str::to_owned));
    let via_link = aya::programs::loaded_links()
        .filter_map(Result::ok)
        .any(|l| l.program_id() == id && l.link_type().ok() == Some(BpfLinkType::Xdp));
    Some(XdpHolder {
        id,
        name,
        mode,
        via_link,
    })
}

/// Why the log reader could not start.
#[derive(Debug, thiserror::Error)]
enum LogError {
    #[error("cannot open the program's log buffer: {source}")]
    Open { source: aya_log::Error },
    #[error("cannot poll the program's log buffer: {source}")]
    Poll { source: std::io::Error },
}

/// Spawn the task that copies the program's log records to stderr; it prints what is left and
/// ends when the returned sender is dropped (or the runtime shuts down).
fn forward_log(logger: EbpfLogger<StderrLog>) -> Result<oneshot::Sender<()>, LogError> {
    // SAFETY: the fd is the log ring buffer's, owned by `logger`, which the AsyncFd owns (and so
    // keeps open) for as long as it is registered.
    let mut logger = unsafe { AsyncFd::register_with_interest(logger, Interest::READABLE) }
        .map_err(|err| LogError::Poll {
            source: err.into_parts().1,
        })?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                ready = logger.readable_mut() => match ready {
                    Ok(mut guard) => {
                        guard.get_inner_mut().flush();
                        guard.clear_ready();
                    }
                    Err(err) => {
                        eprintln!("tcprax: warning: XDP log (-vv) stopped: {err}");
                        return;
                    }
                },
                _ = &mut stopped => {
                    logger.get_mut().flush();
                    return;
                }
            }
        }
    });
    Ok(stop)
}

/// Writes each record of the XDP program as one line on stderr: diagnostics, never results.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        eprintln!("tcprax: xdp: {}", record.args());
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests;
