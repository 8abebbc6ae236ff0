//! A target that answers SYNs in XDP: the benchmark's way to measure a sender beyond what the
//! target's kernel TCP stack turns around on the same two vCPUs (~60k answers/s here).
//!
//! [`Responder::attach`] loads the program built from `tcprax-lab-ebpf` (embedded at compile
//! time by build.rs), writes what it answers ([`Plan`]: answered and silent prefixes, open
//! ports) into its maps and attaches it to the target's veth in native mode through a bpf_link
//! owned by the returned value: dropping it detaches the program. It also gives the target
//! veth a threaded NAPI, so the responder's work runs on a kernel thread of its own rather than
//! inside the sender's syscalls.
//!
//! On this kernel a veth only receives what its peer sends with XDP_TX while an XDP program
//! runs on it. tcprax -sS brings its own; for scanners that bring none, [`PassThrough`] puts a
//! program that passes everything on the scanner's veth (only one program fits per interface,
//! so it must be gone before tcprax runs).
use crate::testbed::{Testbed, TestbedError};
use aya::maps::{Array, LpmTrie, MapData, PerCpuArray, PerCpuValues, lpm_trie::Key};
use aya::programs::{Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader};
use ipnet::Ipv4Net;
use tcprax_lab_ebpf::{
    ADDR_ANSWER, ADDR_SILENT, ADDRS_ENTRIES, MAP_ADDRS, MAP_COUNTERS, MAP_PORTS, PORT_OPEN,
    PROGRAM_PASS, PROGRAM_RESPONDER, counter,
};

/// The XDP object built by build.rs (empty when built with AYA_BUILD_SKIP=1).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tcprax-responder"));

#[derive(Debug, thiserror::Error)]
pub enum ResponderError {
    #[error(
        "tcprax-lab was built without its XDP responder (AYA_BUILD_SKIP=1); rebuild without it"
    )]
    Placeholder,
    #[error("cannot load the XDP responder: {source}")]
    Load { source: Box<aya::EbpfError> },
    #[error("the XDP responder object has no {what}")]
    Missing { what: &'static str },
    #[error("XDP responder map {map}: {source}")]
    Map {
        map: &'static str,
        source: Box<aya::maps::MapError>,
    },
    #[error("cannot {what} the XDP program {program} on {interface}: {source}")]
    Program {
        what: &'static str,
        program: &'static str,
        interface: String,
        source: Box<aya::programs::ProgramError>,
    },
    #[error("cannot count the CPUs: {source}")]
    Cpus { source: std::io::Error },
    #[error("the responder answers at most {max} prefixes, the plan has {given}")]
    TooManyPrefixes { max: u32, given: usize },
    #[error(transparent)]
    Testbed(#[from] TestbedError),
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> ResponderError {
    move |source| ResponderError::Map {
        map,
        source: Box::new(source),
    }
}

/// What the responder answers: SYNs to `answer` get a SYN-ACK on `open` ports and an RST+ACK
/// on every other port; SYNs to `silent` (more specific prefixes inside `answer`, say) are
/// dropped unanswered. The longest matching prefix decides.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub answer: Vec<Ipv4Net>,
    pub silent: Vec<Ipv4Net>,
    pub open: Vec<u16>,
}

/// The responder's counters, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub seen: u64,
    pub syn_ack: u64,
    pub rst: u64,
    pub silent: u64,
    /// The scanner's RSTs and ACKs, dropped.
    pub dropped: u64,
    pub passed: u64,
    /// From the first to the last SYN handled since [`Responder::reset`] (zero if none).
    pub syn_window_ns: u64,
}

impl Counters {
    /// SYNs handled, whatever the answer.
    pub fn syns(&self) -> u64 {
        self.syn_ack + self.rst + self.silent
    }
}

/// The responder attached to the target's veth; detached on drop.
pub struct Responder {
    counters: PerCpuArray<MapData, u64>,
    /// Owns the program and its bpf_link.
    _ebpf: Ebpf,
}

fn load() -> Result<Ebpf, ResponderError> {
    if OBJECT.is_empty() {
        return Err(ResponderError::Placeholder);
    }
    EbpfLoader::new()
        .load(OBJECT)
        .map_err(|source| ResponderError::Load {
            source: Box::new(source),
        })
}

/// Load `name` from `ebpf` and attach it to `interface` (in the calling thread's namespace).
fn attach(ebpf: &mut Ebpf, name: &'static str, interface: &str) -> Result<(), ResponderError> {
    let program_err = |what: &'static str| {
        let interface = interface.to_string();
        move |source| ResponderError::Program {
            what,
            program: name,
            interface,
            source: Box::new(source),
        }
    };
    let program: &mut Xdp = ebpf
        .program_mut(name)
        .ok_or(ResponderError::Missing { what: "program" })?
        .try_into()
        .map_err(program_err("find"))?;
    program.load().map_err(program_err("load (verifier)"))?;
    program
        .attach(interface, XdpMode::Default)
        .map_err(program_err("attach"))?;
    Ok(())
}

impl Responder {
    /// Load the responder with `plan` and attach it to the testbed's target veth (natively),
    /// with threaded NAPI on that veth.
    pub fn attach(testbed: &Testbed, plan: &Plan) -> Result<Responder, ResponderError> {
        let given = plan.answer.len() + plan.silent.len();
        if given > ADDRS_ENTRIES as usize {
            return Err(ResponderError::TooManyPrefixes {
                max: ADDRS_ENTRIES,
                given,
            });
        }
        let mut ebpf = load()?;
        let mut addrs: LpmTrie<MapData, [u8; 4], u8> = LpmTrie::try_from(
            ebpf.take_map(MAP_ADDRS)
                .ok_or(ResponderError::Missing { what: "ADDRS map" })?,
        )
        .map_err(map_err("ADDRS"))?;
        let prefixes = plan.answer.iter().map(|n| (n, ADDR_ANSWER));
        for (net, what) in prefixes.chain(plan.silent.iter().map(|n| (n, ADDR_SILENT))) {
            let key = Key::new(u32::from(net.prefix_len()), net.network().octets());
            addrs.insert(&key, what, 0).map_err(map_err("ADDRS"))?;
        }
        let mut ports: Array<MapData, u8> = Array::try_from(
            ebpf.take_map(MAP_PORTS)
                .ok_or(ResponderError::Missing { what: "PORTS map" })?,
        )
        .map_err(map_err("PORTS"))?;
        for &port in &plan.open {
            ports
                .set(u32::from(port), PORT_OPEN, 0)
                .map_err(map_err("PORTS"))?;
        }
        let counters: PerCpuArray<MapData, u64> =
            PerCpuArray::try_from(ebpf.take_map(MAP_COUNTERS).ok_or(ResponderError::Missing {
                what: "COUNTERS map",
            })?)
            .map_err(map_err("COUNTERS"))?;
        let interface = testbed.target_if.clone();
        let ebpf = testbed.in_target(move || {
            let mut ebpf = ebpf;
            attach(&mut ebpf, PROGRAM_RESPONDER, &interface).map(|()| ebpf)
        })??;
        // Its own kernel thread for the target veth's NAPI: otherwise the responder's work
        // runs inside the sender's syscalls, on the sender's CPU.
        testbed.target_sh(&format!(
            "echo 1 > /sys/class/net/{}/threaded",
            testbed.target_if
        ))?;
        Ok(Responder {
            counters,
            _ebpf: ebpf,
        })
    }

    /// The counters so far, summed over CPUs.
    pub fn counters(&self) -> Result<Counters, ResponderError> {
        let sum = |i: u32| -> Result<u64, ResponderError> {
            Ok(self
                .counters
                .get(&i, 0)
                .map_err(map_err("COUNTERS"))?
                .iter()
                .sum())
        };
        Ok(Counters {
            seen: sum(counter::SEEN)?,
            syn_ack: sum(counter::SYN_ACK)?,
            rst: sum(counter::RST)?,
            silent: sum(counter::SILENT)?,
            dropped: sum(counter::DROPPED)?,
            passed: sum(counter::PASSED)?,
            syn_window_ns: self.syn_window()?,
        })
    }

    /// Nanoseconds from the first to the last SYN over all CPUs since the last reset.
    fn syn_window(&self) -> Result<u64, ResponderError> {
        let per_cpu = |i: u32| -> Result<Vec<u64>, ResponderError> {
            Ok(self
                .counters
                .get(&i, 0)
                .map_err(map_err("COUNTERS"))?
                .iter()
                .copied()
                .collect())
        };
        let first = per_cpu(counter::FIRST_SYN_NS)?
            .into_iter()
            .filter(|&t| t != 0)
            .min();
        let last = per_cpu(counter::LAST_SYN_NS)?.into_iter().max();
        Ok(match (first, last) {
            (Some(first), Some(last)) => last.saturating_sub(first),
            _ => 0,
        })
    }

    /// Start a new SYN time window (before a run): zero the first/last SYN times.
    pub fn reset(&mut self) -> Result<(), ResponderError> {
        let cpus = aya::util::nr_cpus().map_err(|(_, source)| ResponderError::Cpus { source })?;
        for i in [counter::FIRST_SYN_NS, counter::LAST_SYN_NS] {
            let zeros = PerCpuValues::try_from(vec![0u64; cpus])
                .map_err(|source| ResponderError::Cpus { source })?;
            self.counters
                .set(i, zeros, 0)
                .map_err(map_err("COUNTERS"))?;
        }
        Ok(())
    }
}

/// A program that passes every frame, on the scanner's veth, for scanners without an XDP
/// program of their own (see the module doc); detached on drop.
pub struct PassThrough {
    _ebpf: Ebpf,
}

impl PassThrough {
    pub fn attach(testbed: &Testbed) -> Result<PassThrough, ResponderError> {
        let mut ebpf = load()?;
        let interface = testbed.scanner_if.clone();
        let ebpf = testbed
            .in_scanner(move || attach(&mut ebpf, PROGRAM_PASS, &interface).map(|()| ebpf))??;
        Ok(PassThrough { _ebpf: ebpf })
    }

    /// The same on the *target's* veth: the target's kernel answers as usual, and its veth now
    /// takes frames the scanner's XDP program sends back with XDP_TX (our RSTs), as a NIC would.
    pub fn attach_target(testbed: &Testbed) -> Result<PassThrough, ResponderError> {
        let mut ebpf = load()?;
        let interface = testbed.target_if.clone();
        let ebpf = testbed
            .in_target(move || attach(&mut ebpf, PROGRAM_PASS, &interface).map(|()| ebpf))??;
        Ok(PassThrough { _ebpf: ebpf })
    }
}
