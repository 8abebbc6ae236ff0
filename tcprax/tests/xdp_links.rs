//! -sS XDP in the field: link types (VLAN tags, L3 devices without a link header), IPv4 options
//! and IPv6 extension headers, another XDP program on the interface, tcpdump alongside, and a
//! target replaying a valid SYN-ACK to fill the ring buffer.
//!
//! Frames are built by hand here (the kernel has no VLAN devices, and nothing else sends IPv4
//! options or IPv6 extension headers on demand) and written from the target namespace with
//! AF_PACKET, against a capture attached directly with a key the test knows, as in `xdp.rs`.
mod common;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tcprax::engine::syn::capture::{LinkType, OBJECT, XdpCapture, XdpLog};
use tcprax::model::XdpStats;
use tcprax::wire::tcp::{TcpFlags, TcpSegment};
use tcprax_common::{ReplyEvent, XdpConfig, cookie, kind, v4_mapped};
use tcprax_lab::testbed::{
    SCANNER_V4, SCANNER_V6, TARGET_V4, TARGET_V6, Testbed, have_privileges, in_netns, run,
};

const KEY: (u64, u64) = (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
const PORT_LO: u16 = 61000;
const PORT_HI: u16 = 61999;

fn config() -> XdpConfig {
    XdpConfig {
        key0: KEY.0,
        key1: KEY.1,
        port_lo: PORT_LO,
        port_hi: PORT_HI,
        enabled: 1,
        rst: 0,
        _pad: [0; 2],
    }
}

/// The program passes the verifier for both link types, with logging off and on (every
/// combination a scan can load), without being attached anywhere.
#[test]
fn verifier_accepts_every_link_type_and_log_switch() {
    if !have_privileges() {
        eprintln!("SKIP: needs root to load BPF programs");
        return;
    }
    for link in [tcprax_common::link::ETHERNET, tcprax_common::link::IP] {
        for log in [0u8, 1] {
            let mut ebpf = aya::EbpfLoader::new()
                .override_global(tcprax_common::GLOBAL_LOG, &log, true)
                .override_global(tcprax_common::GLOBAL_LINK, &link, true)
                .load(OBJECT)
                .expect("load object (built with AYA_BUILD_SKIP=1?)");
            let program: &mut aya::programs::Xdp = ebpf
                .program_mut(tcprax_common::PROGRAM_NAME)
                .unwrap()
                .try_into()
                .unwrap();
            if let Err(e) = program.load() {
                panic!("verifier rejected the program (link {link}, log {log}): {e:?}");
            }
            let info = program.info().unwrap();
            eprintln!(
                "link {link} log {log}: {} instructions verified, {:?} bytes translated",
                info.verified_instruction_count().unwrap_or(0),
                info.size_translated()
            );
        }
    }
}

/// `BPF_PROG_TEST_RUN`: runs `prog` `repeat` times on `frame`; (verdict, ns per run).
fn test_run(prog: std::os::fd::BorrowedFd<'_>, frame: &[u8], repeat: u32) -> (u32, u32) {
    // union bpf_attr, BPF_PROG_TEST_RUN part: prog_fd, retval, data_size_in, data_size_out,
    // data_in, data_out, repeat, duration, then context fields left zero.
    let mut attr = [0u8; 80];
    attr[0..4].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
    attr[16..24].copy_from_slice(&(frame.as_ptr() as u64).to_ne_bytes());
    attr[32..36].copy_from_slice(&repeat.to_ne_bytes());
    // SAFETY: bpf(2) reads `attr` and the frame it points to (both outlive the call) and
    // writes back into `attr`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            10, // BPF_PROG_TEST_RUN
            attr.as_mut_ptr(),
            attr.len() as u32,
        )
    };
    assert_eq!(
        rc,
        0,
        "BPF_PROG_TEST_RUN: {}",
        std::io::Error::last_os_error()
    );
    let word = |at: usize| u32::from_ne_bytes(attr[at..at + 4].try_into().unwrap());
    (word(4), word(36))
}

/// The program run by the kernel on frames built here (no interface): each kind gets the right
/// verdict, a valid reply makes one event and its repeats none, and the kernel's timing of
/// each kind is printed (the cost per frame of parsing, the cookie and the `REPORTED` lookup).
#[test]
fn test_run_verdicts_and_cost_per_frame() {
    if !have_privileges() {
        eprintln!("SKIP: needs root to load BPF programs");
        return;
    }
    let mut ebpf = aya::EbpfLoader::new()
        .load(OBJECT)
        .expect("load object (built with AYA_BUILD_SKIP=1?)");
    let mut cfg: aya::maps::Array<_, XdpConfig> =
        aya::maps::Array::try_from(ebpf.map_mut(tcprax_common::MAP_CONFIG).unwrap()).unwrap();
    cfg.set(0, config(), 0).unwrap();
    let program: &mut aya::programs::Xdp = ebpf
        .program_mut(tcprax_common::PROGRAM_NAME)
        .unwrap()
        .try_into()
        .unwrap();
    program.load().expect("verifier");
    let fd = program.fd().unwrap();
    let fd = std::os::fd::AsFd::as_fd(fd);

    const RUNS: u32 = 100_000;
    const XDP_DROP: u32 = 1;
    const XDP_PASS: u32 = 2;
    let (to, from) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let v4 = IpAddr::V4(TARGET_V4);
    let v6 = IpAddr::V6(TARGET_V6);
    let four = [
        Ext::HopByHop,
        Ext::Routing,
        Ext::DestOpts,
        Ext::Fragment(0, false),
    ];
    let udp = ipv4(
        TARGET_V4,
        SCANNER_V4,
        17,
        &[],
        DF,
        &[0x30, 0x39, 0xee, 0x48, 0, 8, 0, 0],
    );
    let cases: [(&str, Vec<u8>, u32); 5] = [
        ("UDP (not ours)", frame(to, from, &[], &udp), XDP_PASS),
        (
            "SYN-ACK, bad cookie",
            frame(
                to,
                from,
                &[],
                &tcp4(&reply(v4, 22, 61001, SYN_ACK, false), 0, DF),
            ),
            XDP_PASS,
        ),
        (
            "SYN-ACK, repeat",
            frame(
                to,
                from,
                &[],
                &tcp4(&reply(v4, 22, 61002, SYN_ACK, true), 0, DF),
            ),
            XDP_DROP,
        ),
        (
            "SYN-ACK, 2 VLAN tags + IPv4 options, repeat",
            frame(
                to,
                from,
                &[TPID_8021AD, TPID_8021Q],
                &tcp4(&reply(v4, 22, 61003, SYN_ACK, true), 10, DF),
            ),
            XDP_DROP,
        ),
        (
            "IPv6 SYN-ACK, 4 extension headers, repeat",
            frame(
                to,
                from,
                &[],
                &tcp6(&reply(v6, 22, 61004, SYN_ACK, true), &four),
            ),
            XDP_DROP,
        ),
    ];
    for (what, f, want) in &cases {
        let (verdict, ns) = test_run(fd, f, RUNS);
        eprintln!("{what}: {ns} ns per frame");
        assert_eq!(verdict, *want, "{what}");
    }
    let counters: aya::maps::PerCpuArray<_, u64> =
        aya::maps::PerCpuArray::try_from(ebpf.map(tcprax_common::MAP_COUNTERS).unwrap()).unwrap();
    let sum = |i: u32| -> u64 { counters.get(&i, 0).unwrap().iter().sum() };
    use tcprax_common::counter;
    assert_eq!(sum(counter::MATCHED), 3, "one event per valid reply");
    assert_eq!(sum(counter::REPEATS), 3 * u64::from(RUNS - 1));
    assert_eq!(sum(counter::BAD_COOKIE), u64::from(RUNS));
}

// ---------------------------------------------------------------------------------------------
// A capture attached directly, and frames written at it.

/// A capture attached in a namespace, with the runtime its ring buffer is registered with.
struct Attached {
    // Dropped first: the capture deregisters from the runtime.
    cap: XdpCapture,
    rt: tokio::runtime::Runtime,
}

impl Attached {
    fn new(ns: &str, ifname: &str) -> Attached {
        let ifname = ifname.to_string();
        in_netns(ns, move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let cap = rt
                .block_on(async { XdpCapture::attach(&ifname, config(), XdpLog::Off) })
                .expect("attach XDP");
            Attached { cap, rt }
        })
        .unwrap()
    }

    /// Events until `want` arrived or `within` passed, and whatever else comes in a short
    /// grace period after (so that an event too many shows).
    fn events(&mut self, want: usize, within: Duration) -> Vec<ReplyEvent> {
        let Attached { cap, rt } = self;
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        rt.block_on(async {
            while out.len() < want {
                match tokio::time::timeout_at(deadline, cap.read_events(&mut out)).await {
                    Ok(read) => read.expect("read ring buffer"),
                    Err(_) => break,
                }
            }
            let grace = Duration::from_millis(300);
            while let Ok(read) = tokio::time::timeout(grace, cap.read_events(&mut out)).await {
                read.expect("read ring buffer");
            }
        });
        out
    }

    fn stats(&self) -> XdpStats {
        self.cap.stats().expect("XDP counters")
    }
}

/// What identifies an event: (target address, target port, our port, kind, family).
type Seen = (IpAddr, u16, u16, u8, u8);

fn seen(events: &[ReplyEvent]) -> BTreeSet<Seen> {
    events
        .iter()
        .map(|e| {
            let addr = match e.family {
                4 => IpAddr::V4(Ipv4Addr::new(
                    e.addr[12], e.addr[13], e.addr[14], e.addr[15],
                )),
                _ => IpAddr::V6(Ipv6Addr::from(e.addr)),
            };
            (addr, e.target_port, e.scan_port, e.kind, e.family)
        })
        .collect()
}

fn addr16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4_mapped(v4.octets()),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn family(a: IpAddr) -> u8 {
    if a.is_ipv4() { 4 } else { 6 }
}

/// A reply from `target:target_port` to our `scan_port`; `valid` makes its ack our cookie + 1.
fn reply(target: IpAddr, target_port: u16, scan_port: u16, flags: u8, valid: bool) -> TcpSegment {
    let scanner = match target {
        IpAddr::V4(_) => IpAddr::V4(SCANNER_V4),
        IpAddr::V6(_) => IpAddr::V6(SCANNER_V6),
    };
    let ack = if valid {
        cookie(KEY.0, KEY.1, &addr16(target), target_port, scan_port).wrapping_add(1)
    } else {
        0x1234_5678
    };
    TcpSegment {
        src: target,
        dst: scanner,
        src_port: target_port,
        dst_port: scan_port,
        seq: 0x5eed_0000 | u32::from(target_port),
        ack,
        flags: TcpFlags(flags),
        window: 64240,
        mss: Some(1460),
    }
}

const SYN_ACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
const RST_ACK: u8 = TcpFlags::RST | TcpFlags::ACK;

/// What `seg` looks like as an event.
fn expect(seg: &TcpSegment) -> Seen {
    let k = if seg.flags.has(TcpFlags::SYN) {
        kind::SYN_ACK
    } else {
        kind::RST
    };
    (seg.src, seg.src_port, seg.dst_port, k, family(seg.src))
}

/// `seg` emitted whole (IP header + TCP); the TCP part starts after the fixed IP header.
fn emitted(seg: &TcpSegment) -> Vec<u8> {
    let mut b = vec![0u8; seg.buffer_len()];
    let n = seg.emit(&mut b).expect("emit segment");
    b.truncate(n);
    b
}

/// The TCP header of `seg`, checksum included (IP options and IPv6 extension headers are not
/// part of the pseudo-header, so it stays right behind either).
fn tcp_part(seg: &TcpSegment) -> Vec<u8> {
    let ip_hlen = if seg.src.is_ipv4() { 20 } else { 40 };
    emitted(seg).split_off(ip_hlen)
}

/// The Internet checksum of the concatenation of `parts` (each of even length but the last).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        for pair in part.chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet: header with `options` (padded to 4 bytes with End-of-options), fragment
/// field `frag`, then `payload`.
fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    options: &[u8],
    frag: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut opts = options.to_vec();
    while !opts.len().is_multiple_of(4) {
        opts.push(0);
    }
    let hlen = 20 + opts.len();
    assert!(hlen <= 60, "IPv4 options too long");
    let mut h = vec![0u8; 20];
    h[0] = 0x40 | (hlen / 4) as u8;
    h[2..4].copy_from_slice(&((hlen + payload.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x7a7au16.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    h.extend_from_slice(&opts);
    let csum = checksum(&[&h]);
    h[10..12].copy_from_slice(&csum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// IPv4 Don't Fragment, More Fragments.
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;

/// A TCP reply over IPv4 with `options_words` words of options (NOPs and a closing End).
fn tcp4(seg: &TcpSegment, options_words: usize, frag: u16) -> Vec<u8> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (seg.src, seg.dst) else {
        panic!("IPv4 only")
    };
    let mut options = vec![1u8; options_words * 4];
    if let Some(last) = options.last_mut() {
        *last = 0;
    }
    ipv4(src, dst, 6, &options, frag, &tcp_part(seg))
}

/// IPv6 extension headers the tests put in front of the upper-layer header.
#[derive(Clone, Copy)]
enum Ext {
    HopByHop,
    Routing,
    DestOpts,
    /// Offset in 8-byte units, more-fragments flag.
    Fragment(u16, bool),
}

impl Ext {
    fn proto(self) -> u8 {
        match self {
            Ext::HopByHop => 0,
            Ext::Routing => 43,
            Ext::DestOpts => 60,
            Ext::Fragment(..) => 44,
        }
    }

    /// The header with `next` as its next header.
    fn bytes(self, next: u8) -> Vec<u8> {
        match self {
            // One PadN option filling the 8 bytes; a second unit for destination options, so
            // a length field other than 0 is followed too.
            Ext::HopByHop => vec![next, 0, 1, 4, 0, 0, 0, 0],
            Ext::DestOpts => vec![next, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // An experimental routing type with no segments left: ignored on the way in.
            Ext::Routing => vec![next, 0, 253, 0, 0, 0, 0, 0],
            Ext::Fragment(offset, more) => {
                let mut h = vec![next, 0];
                h.extend_from_slice(&(offset << 3 | u16::from(more)).to_be_bytes());
                h.extend_from_slice(&0x7a7a_7a7au32.to_be_bytes());
                h
            }
        }
    }
}

/// An IPv6 packet carrying `payload` of protocol `upper` behind the extension headers `exts`.
fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, exts: &[Ext], upper: u8, payload: &[u8]) -> Vec<u8> {
    let mut chain = Vec::new();
    for (i, ext) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(upper, |e| e.proto());
        chain.extend_from_slice(&ext.bytes(next));
    }
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&((chain.len() + payload.len()) as u16).to_be_bytes());
    h.push(exts.first().map_or(upper, |e| e.proto()));
    h.push(64);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(&chain);
    h.extend_from_slice(payload);
    h
}

fn tcp6(seg: &TcpSegment, exts: &[Ext]) -> Vec<u8> {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (seg.src, seg.dst) else {
        panic!("IPv6 only")
    };
    ipv6(src, dst, exts, 6, &tcp_part(seg))
}

/// The SYN we would have sent to `target:target_port` from `scan_port`; `valid` gives it our
/// cookie.
fn our_syn(target: IpAddr, target_port: u16, scan_port: u16, valid: bool) -> TcpSegment {
    let scanner = match target {
        IpAddr::V4(_) => IpAddr::V4(SCANNER_V4),
        IpAddr::V6(_) => IpAddr::V6(SCANNER_V6),
    };
    let seq = if valid {
        cookie(KEY.0, KEY.1, &addr16(target), target_port, scan_port)
    } else {
        0x0bad_c0de
    };
    TcpSegment::syn(scanner, target, scan_port, target_port, seq)
}

/// ICMP destination unreachable (administratively prohibited) from the target, quoting `syn`,
/// over IPv4 with `options_words` words of options.
fn icmp4_unreachable(syn: &TcpSegment, options_words: usize) -> Vec<u8> {
    let mut m = vec![3, 13, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&emitted(syn));
    let csum = checksum(&[&m]);
    m[2..4].copy_from_slice(&csum.to_be_bytes());
    let options = vec![1u8; options_words * 4];
    ipv4(TARGET_V4, SCANNER_V4, 1, &options, 0, &m)
}

/// ICMPv6 destination unreachable (administratively prohibited) from the target, quoting
/// `syn`, behind the extension headers `exts`.
fn icmp6_unreachable(syn: &TcpSegment, exts: &[Ext]) -> Vec<u8> {
    let mut m = vec![1, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&emitted(syn));
    let len = (m.len() as u32).to_be_bytes();
    let csum = checksum(&[
        &TARGET_V6.octets(),
        &SCANNER_V6.octets(),
        &len,
        &[0, 0, 0, 58],
        &m,
    ]);
    m[2..4].copy_from_slice(&csum.to_be_bytes());
    ipv6(TARGET_V6, SCANNER_V6, exts, 58, &m)
}

const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;

/// An Ethernet frame to the scanner's veth carrying `packet` behind VLAN tags with `tpids`
/// (outermost first).
fn frame(to: [u8; 6], from: [u8; 6], tpids: &[u16], packet: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(22 + packet.len());
    f.extend_from_slice(&to);
    f.extend_from_slice(&from);
    for (i, tpid) in tpids.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    let ethertype: u16 = if packet[0] >> 4 == 4 { 0x0800 } else { 0x86dd };
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

/// The MAC address of `ifname` in namespace `ns`.
fn mac(ns: &str, ifname: &str) -> [u8; 6] {
    let out = run("ip", &["-n", ns, "-o", "link", "show", "dev", ifname]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {text}"));
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(hex.split(':')) {
        *byte = u8::from_str_radix(part, 16).unwrap();
    }
    mac
}

/// Write `frames` as they are on the target's veth end (AF_PACKET), from the target
/// namespace: they arrive at the scanner's end, where the program runs.
fn inject(tb: &Testbed, frames: Vec<Vec<u8>>) {
    let ifname = tb.target_if.clone();
    tb.in_target(move || {
        let name = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: if_nametoindex reads a NUL-terminated string; socket(2) returns a descriptor
        // owned right away.
        let (index, fd) = unsafe {
            let index = libc::if_nametoindex(name.as_ptr());
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            (index, OwnedFd::from_raw_fd(fd))
        };
        assert_ne!(index, 0, "no target interface");
        for f in &frames {
            let mut to = libc::sockaddr_ll {
                sll_family: libc::AF_PACKET as u16,
                // The frame's own EtherType (network byte order).
                sll_protocol: u16::from_ne_bytes([f[12], f[13]]),
                sll_ifindex: index as i32,
                sll_hatype: 0,
                sll_pkttype: 0,
                sll_halen: 6,
                sll_addr: [0; 8],
            };
            to.sll_addr[..6].copy_from_slice(&f[..6]);
            // SAFETY: sendto(2) of a buffer and a sockaddr_ll that outlive the call.
            let sent = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    (&raw const to).cast(),
                    size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            assert_eq!(
                sent,
                f.len() as isize,
                "AF_PACKET sendto: {}",
                std::io::Error::last_os_error()
            );
        }
    })
    .unwrap();
}

/// Valid replies behind one 802.1Q tag and behind two (802.1ad outer, 802.1Q inner), for
/// both families, are caught; a bad cookie behind a tag is checked and passed; a third tag is
/// not followed.
#[test]
fn vlan_tagged_replies_are_caught() {
    let Some(tb) = common::testbed("trxvlan") else {
        return;
    };
    let mut cap = Attached::new(&tb.scanner_ns, &tb.scanner_if);
    assert_eq!(cap.cap.link_type(), LinkType::Ethernet);
    let to = mac(&tb.scanner_ns, &tb.scanner_if);
    let from = mac(&tb.target_ns, &tb.target_if);
    let v4 = IpAddr::V4(TARGET_V4);
    let v6 = IpAddr::V6(TARGET_V6);
    let one_tag = reply(v4, 80, 61001, SYN_ACK, true);
    let two_tags = reply(v4, 81, 61002, RST_ACK, true);
    let one_tag6 = reply(v6, 82, 61003, SYN_ACK, true);
    let two_tags6 = reply(v6, 83, 61004, RST_ACK, true);
    let bad_cookie = reply(v4, 84, 61005, SYN_ACK, false);
    let three_tags = reply(v4, 85, 61006, SYN_ACK, true);
    let q = [TPID_8021Q];
    let ad_q = [TPID_8021AD, TPID_8021Q];
    inject(
        &tb,
        vec![
            frame(to, from, &q, &tcp4(&one_tag, 0, DF)),
            frame(to, from, &ad_q, &tcp4(&two_tags, 0, DF)),
            frame(to, from, &q, &tcp6(&one_tag6, &[])),
            frame(to, from, &ad_q, &tcp6(&two_tags6, &[])),
            frame(to, from, &q, &tcp4(&bad_cookie, 0, DF)),
            frame(
                to,
                from,
                &[TPID_8021AD, TPID_8021Q, TPID_8021Q],
                &tcp4(&three_tags, 0, DF),
            ),
        ],
    );
    let events = cap.events(4, Duration::from_secs(3));
    assert_eq!(
        seen(&events),
        BTreeSet::from([
            expect(&one_tag),
            expect(&two_tags),
            expect(&one_tag6),
            expect(&two_tags6)
        ])
    );
    assert_eq!(events.len(), 4, "one event each: {events:?}");
    let st = cap.stats();
    assert_eq!((st.matched, st.bad_cookie, st.repeats), (4, 1, 0), "{st:?}");
}

/// IPv4 options of every length (IHL 6 to 15) and a first fragment are parsed; IPv6 behind
/// hop-by-hop + destination options, behind all four header types (a first fragment among
/// them); ICMP errors behind options and extension headers too. Later fragments and a chain of
/// five extension headers are passed without an event.
#[test]
fn ipv4_options_and_ipv6_extension_headers_are_parsed() {
    let Some(tb) = common::testbed("trxopts") else {
        return;
    };
    let mut cap = Attached::new(&tb.scanner_ns, &tb.scanner_if);
    let to = mac(&tb.scanner_ns, &tb.scanner_if);
    let from = mac(&tb.target_ns, &tb.target_if);
    let v4 = IpAddr::V4(TARGET_V4);
    let v6 = IpAddr::V6(TARGET_V6);
    let mut frames = Vec::new();
    let mut want = BTreeSet::new();

    for words in 1..=10u16 {
        let seg = reply(v4, 100 + words, 61100 + words, SYN_ACK, true);
        frames.push(tcp4(&seg, usize::from(words), DF));
        want.insert(expect(&seg));
    }
    let first_fragment = reply(v4, 120, 61120, RST_ACK, true);
    frames.push(tcp4(&first_fragment, 2, MF));
    want.insert(expect(&first_fragment));
    // A later fragment whose payload happens to look like our reply: nothing says whose it is.
    frames.push(tcp4(&reply(v4, 121, 61121, SYN_ACK, true), 0, MF | 3));
    frames.push(tcp4(&reply(v4, 122, 61122, SYN_ACK, false), 10, DF));

    let hbh_dst = reply(v6, 130, 61130, SYN_ACK, true);
    frames.push(tcp6(&hbh_dst, &[Ext::HopByHop, Ext::DestOpts]));
    want.insert(expect(&hbh_dst));
    let all_four = reply(v6, 131, 61131, RST_ACK, true);
    let four = [
        Ext::HopByHop,
        Ext::Routing,
        Ext::DestOpts,
        Ext::Fragment(0, true),
    ];
    frames.push(tcp6(&all_four, &four));
    want.insert(expect(&all_four));
    let five = [
        Ext::HopByHop,
        Ext::DestOpts,
        Ext::Routing,
        Ext::DestOpts,
        Ext::DestOpts,
    ];
    frames.push(tcp6(&reply(v6, 132, 61132, SYN_ACK, true), &five));
    frames.push(tcp6(
        &reply(v6, 133, 61133, SYN_ACK, true),
        &[Ext::Fragment(2, false)],
    ));
    frames.push(tcp6(
        &reply(v6, 134, 61134, SYN_ACK, false),
        &[Ext::HopByHop, Ext::DestOpts],
    ));

    frames.push(icmp4_unreachable(&our_syn(v4, 140, 61140, true), 3));
    want.insert((v4, 140, 61140, kind::ICMP_UNREACH, 4));
    frames.push(icmp6_unreachable(
        &our_syn(v6, 141, 61141, true),
        &[Ext::HopByHop],
    ));
    want.insert((v6, 141, 61141, kind::ICMP_UNREACH, 6));
    frames.push(icmp4_unreachable(&our_syn(v4, 142, 61142, false), 1));

    let count = want.len();
    inject(
        &tb,
        frames.iter().map(|p| frame(to, from, &[], p)).collect(),
    );
    let events = cap.events(count, Duration::from_secs(3));
    assert_eq!(seen(&events), want);
    assert_eq!(events.len(), count, "one event each: {events:?}");
    let st = cap.stats();
    assert_eq!(
        (st.matched, st.bad_cookie, st.repeats),
        (count as u64, 3, 0),
        "{st:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// An L3 device: two tun devices joined by a relay.

/// Addresses of the point-to-point link over the tun pair.
const TUN_SCANNER_V4: &str = "198.18.1.1";
const TUN_TARGET_V4: &str = "198.18.1.2";
const TUN_SCANNER_V6: &str = "2001:2:0:1::1";
const TUN_TARGET_V6: &str = "2001:2:0:1::2";
const TUN: &str = "trxtun0";

/// A tun device (IP packets, no link header, no packet-info prefix) named [`TUN`] in the
/// namespace `ns`; its file descriptor carries the packets.
fn tun_in(ns: &str) -> OwnedFd {
    in_netns(ns, || {
        // SAFETY: open(2) of a path literal; the ioctl gets an ifreq that outlives the call.
        unsafe {
            let fd = libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            assert!(fd >= 0, "/dev/net/tun: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let mut req: libc::ifreq = std::mem::zeroed();
            for (dst, src) in req.ifr_name.iter_mut().zip(TUN.bytes()) {
                *dst = src as libc::c_char;
            }
            req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
            let rc = libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &raw mut req);
            assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
            fd
        }
    })
    .unwrap()
}

/// Copies packets between two tun devices in both directions until dropped: the wire of a
/// point-to-point IP link.
struct Relay {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Packets copied, both directions.
    copied: Arc<AtomicU64>,
}

impl Relay {
    fn new(a: OwnedFd, b: OwnedFd) -> Relay {
        let (a, b) = (Arc::new(a), Arc::new(b));
        let stop = Arc::new(AtomicBool::new(false));
        let copied = Arc::new(AtomicU64::new(0));
        let threads = [(a.clone(), b.clone()), (b, a)]
            .into_iter()
            .map(|(from, to)| {
                let stop = stop.clone();
                let copied = copied.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while !stop.load(Ordering::Relaxed) {
                        let mut pfd = libc::pollfd {
                            fd: from.as_raw_fd(),
                            events: libc::POLLIN,
                            revents: 0,
                        };
                        // SAFETY: poll(2) on one pollfd; read(2)/write(2) with a buffer we own,
                        // on descriptors the Arcs keep open.
                        unsafe {
                            if libc::poll(&mut pfd, 1, 50) <= 0 {
                                continue;
                            }
                            let n =
                                libc::read(from.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
                            if n > 0 {
                                libc::write(to.as_raw_fd(), buf.as_ptr().cast(), n as usize);
                                copied.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        Relay {
            stop,
            threads,
            copied,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Two tun devices, one in each namespace of `tb`, addressed as a point-to-point link and
/// joined by a relay.
fn tun_link(tb: &Testbed) -> Relay {
    let scanner = tun_in(&tb.scanner_ns);
    let target = tun_in(&tb.target_ns);
    for (ns, local4, peer4, local6, peer6) in [
        (
            &tb.scanner_ns,
            TUN_SCANNER_V4,
            TUN_TARGET_V4,
            TUN_SCANNER_V6,
            TUN_TARGET_V6,
        ),
        (
            &tb.target_ns,
            TUN_TARGET_V4,
            TUN_SCANNER_V4,
            TUN_TARGET_V6,
            TUN_SCANNER_V6,
        ),
    ] {
        run(
            "ip",
            &["-n", ns, "addr", "add", local4, "peer", peer4, "dev", TUN],
        )
        .unwrap();
        run(
            "ip",
            &["-n", ns, "-6", "addr", "add", local6, "dev", TUN, "nodad"],
        )
        .unwrap();
        run("ip", &["-n", ns, "link", "set", TUN, "up"]).unwrap();
        // An IPv6 `peer` address does not give a route to the peer here; a host route does.
        run("ip", &["-n", ns, "-6", "route", "add", peer6, "dev", TUN]).unwrap();
    }
    Relay::new(scanner, target)
}

/// Count, in the target namespace, TCP segments with RST from the scanner's tun addresses.
fn count_tun_rsts(tb: &Testbed) {
    tb.target_sh(&format!(
        "nft add table inet trx_tun_rst && \
         nft add chain inet trx_tun_rst input '{{ type filter hook input priority -10; }}' && \
         nft add rule inet trx_tun_rst input ip saddr {TUN_SCANNER_V4} 'tcp flags & rst == rst' counter && \
         nft add rule inet trx_tun_rst input ip6 saddr {TUN_SCANNER_V6} 'tcp flags & rst == rst' counter"
    ))
    .unwrap();
}

fn tun_rsts(tb: &Testbed) -> u64 {
    let out = tb.target_sh("nft list table inet trx_tun_rst").unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "packets")
        .filter_map(|w| w[1].parse::<u64>().ok())
        .sum()
}

/// The ports of a finished `-oJ -` run in each state: (open, closed, filtered).
fn verdicts(out: &Output) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let ports = common::json_ports(out);
    let by_state = |s| {
        let mut p = common::ports_in_state(&ports, s);
        p.sort_unstable();
        p
    };
    (by_state("open"), by_state("closed"), by_state("filtered"))
}

/// The `xdp` object of a `-oJ -` run's summary.
fn xdp_summary(out: &Output) -> serde_json::Value {
    common::json_summary(out)["xdp"].clone()
}

/// A real `tcprax -sS` through a tun device (frames start at the IP header), IPv4 and IPv6:
/// exact verdicts, and the only RSTs the target sees are ours, one per open port (the
/// scanner's kernel never saw the SYN-ACKs).
#[test]
fn syn_scan_through_a_tun_device() {
    let Some(tb) = common::testbed("trxtun") else {
        return;
    };
    let relay = tun_link(&tb);
    let _l = tb.target_listen(&[22, 80, 443]).unwrap();
    count_tun_rsts(&tb);

    // The loader sees an L3 device; say in which mode the kernel runs the program on it.
    let probe = Attached::new(&tb.scanner_ns, TUN);
    assert_eq!(probe.cap.link_type(), LinkType::Ip);
    eprintln!("XDP on tun: {:?} mode", probe.cap.mode());
    drop(probe);

    let mut open_ports = 0;
    for target in [TUN_TARGET_V4, TUN_TARGET_V6] {
        let out = tb
            .scanner_command(common::bin())
            .args(["-sS", target, "-p", "1-200,443", "-oJ", "-"])
            .args(["--timeout", "500ms", "--retries", "1"])
            .output()
            .unwrap();
        let (open, closed, filtered) = verdicts(&out);
        assert_eq!(open, vec![22, 80, 443], "{target}");
        assert_eq!(closed.len(), 198, "{target}");
        assert_eq!(filtered, Vec::<u64>::new(), "{target}");
        let xdp = xdp_summary(&out);
        assert!(
            xdp["matched"].as_u64() >= Some(201),
            "{target}: XDP caught the replies: {xdp}"
        );
        open_ports += 3;
    }
    // Any kernel RST would follow the SYN-ACK at once; give stragglers time anyway.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tun_rsts(&tb), open_ports, "one RST per open port, all ours");
    assert!(relay.copied.load(Ordering::Relaxed) > 800);
}

// ---------------------------------------------------------------------------------------------
// Living with other programs on the interface.

/// The id of the XDP program `ip link` shows on `ifname`.
fn attached_id(ns: &str, ifname: &str) -> u32 {
    let out = run("ip", &["-n", ns, "-d", "link", "show", "dev", ifname]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(3)
        .find(|w| w[0].starts_with("prog/xdp") && w[1] == "id")
        .and_then(|w| w[2].parse().ok())
        .unwrap_or_else(|| panic!("no XDP program on {ifname}: {text}"))
}

/// `tcprax -sS 198.18.0.2 -p PORTS -oJ -` and `extra`, from the scanner namespace.
fn syn_scan(tb: &Testbed, ports: &str, extra: &[&str]) -> Output {
    tb.scanner_command(common::bin())
        .args(["-sS", "198.18.0.2", "-p", ports, "-oJ", "-"])
        .args(extra)
        .output()
        .unwrap()
}

/// A second tcprax on an interface whose XDP slot another tcprax holds through a bpf_link:
/// exit 1, and the message names the interface, the program (id, name, mode, link) and what
/// to do.
#[test]
fn attach_fails_clearly_when_another_tcprax_holds_the_interface() {
    let Some(tb) = common::testbed("trxbusy") else {
        return;
    };
    let first = Attached::new(&tb.scanner_ns, &tb.scanner_if);
    let id = attached_id(&tb.scanner_ns, &tb.scanner_if);
    let out = syn_scan(&tb, "22,80,81", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let ifname = &tb.scanner_if;
    for part in [
        format!("cannot attach XDP to interface '{ifname}': "),
        format!("XDP program {id} 'tcprax' (native mode, held through a bpf_link)"),
        "one XDP program at a time".to_string(),
        "Another tcprax -sS is probably scanning through it".to_string(),
        "another interface with -e IFACE".to_string(),
        "use -sT".to_string(),
    ] {
        assert!(stderr.contains(&part), "{part:?} not in: {stderr}");
    }
    // The failed attempt left the first program in place.
    assert_eq!(attached_id(&tb.scanner_ns, &tb.scanner_if), id);
    drop(first);
    let out = syn_scan(&tb, "22,80,81", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `bpf(BPF_PROG_LOAD)` of a two-instruction XDP program that passes everything, named `name`.
fn load_pass_program(name: &str) -> OwnedFd {
    // r0 = XDP_PASS (2); exit
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let license = c"GPL";
    // union bpf_attr, BPF_PROG_LOAD part: prog_type, insn_cnt, insns, license, log_level,
    // log_size, log_buf, kern_version, prog_flags, prog_name[16].
    let mut attr = [0u8; 64];
    attr[0..4].copy_from_slice(&6u32.to_ne_bytes()); // BPF_PROG_TYPE_XDP
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[48..48 + name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: bpf(2) reads `attr` and the buffers it points to, which outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            5, // BPF_PROG_LOAD
            attr.as_ptr(),
            attr.len() as u32,
        )
    };
    assert!(
        fd >= 0,
        "BPF_PROG_LOAD: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh descriptor owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Attach `prog` to `ifname` in generic mode over netlink (as `ip link set ... xdpgeneric`
/// does: no bpf_link, nobody owns it), from inside `ns`.
fn netlink_attach_generic(ns: &str, ifname: &str, prog: OwnedFd) {
    let ifname = ifname.to_string();
    in_netns(ns, move || {
        let name = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_ne!(index, 0);
        let attr = |typ: u16, value: &[u8]| {
            let mut a = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
            a.extend_from_slice(&typ.to_ne_bytes());
            a.extend_from_slice(value);
            a
        };
        // IFLA_XDP (43, nested) { IFLA_XDP_FD (1), IFLA_XDP_FLAGS (3) = SKB_MODE (2) }
        let nest = [
            attr(1, &prog.as_raw_fd().to_ne_bytes()),
            attr(3, &2u32.to_ne_bytes()),
        ]
        .concat();
        let xdp = attr(43 | 0x8000, &nest);
        let mut body = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
        body.extend_from_slice(&(index as i32).to_ne_bytes());
        body.extend_from_slice(&[0; 8]);
        body.extend_from_slice(&xdp);
        let mut msg = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
        msg.extend_from_slice(&19u16.to_ne_bytes()); // RTM_SETLINK
        msg.extend_from_slice(&(1u16 | 4).to_ne_bytes()); // NLM_F_REQUEST | NLM_F_ACK
        msg.extend_from_slice(&[0; 8]);
        msg.extend_from_slice(&body);
        // SAFETY: a netlink socket owned right away; send/recv of buffers we own.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            assert!(fd >= 0);
            let fd = OwnedFd::from_raw_fd(fd);
            assert_eq!(
                libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0),
                msg.len() as isize
            );
            let mut ack = [0u8; 1024];
            let n = libc::recv(fd.as_raw_fd(), ack.as_mut_ptr().cast(), ack.len(), 0);
            assert!(n >= 20, "netlink ack");
            let errno = i32::from_ne_bytes(ack[16..20].try_into().unwrap());
            assert_eq!(errno, 0, "RTM_SETLINK IFLA_XDP: errno {}", -errno);
        }
    })
    .unwrap();
}

/// A pass-through program attached in generic mode over netlink (no bpf_link): tcprax refuses
/// with exit 1 and names it and the command that detaches it; after running that command, the
/// scan runs.
#[test]
fn attach_fails_clearly_when_a_generic_program_holds_the_interface() {
    let Some(tb) = common::testbed("trxgen") else {
        return;
    };
    let _l = tb.target_listen(&[22]).unwrap();
    netlink_attach_generic(
        &tb.scanner_ns,
        &tb.scanner_if,
        load_pass_program("trx_pass"),
    );
    let id = attached_id(&tb.scanner_ns, &tb.scanner_if);
    let out = syn_scan(&tb, "22,80,81", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let ifname = &tb.scanner_if;
    let detach = format!("ip link set dev {ifname} xdpgeneric off");
    for part in [
        format!("cannot attach XDP to interface '{ifname}': "),
        format!("XDP program {id} 'trx_pass' (generic mode)"),
        format!("If nothing needs it, detach it: `{detach}`"),
        "use -sT".to_string(),
    ] {
        assert!(stderr.contains(&part), "{part:?} not in: {stderr}");
    }
    assert!(!stderr.contains("bpf_link"), "{stderr}");
    // Do what the message says.
    tb.scanner_sh(&detach).unwrap();
    let out = syn_scan(&tb, "22,80,81", &[]);
    let (open, closed, _) = verdicts(&out);
    assert_eq!((open, closed), (vec![22], vec![80, 81]));
}

/// tcpdump (AF_PACKET) on the interface while a scan runs: the scan's verdicts are exact, and
/// tcpdump saw our SYNs leave but none of the replies, which XDP dropped before any tap.
#[test]
fn scan_is_exact_while_tcpdump_captures_on_the_interface() {
    let Some(tb) = common::testbed("trxdump") else {
        return;
    };
    let _l = tb.target_listen(&[22, 80]).unwrap();
    let pcap = std::env::temp_dir().join(format!("tcprax-xdp-links-{}.pcap", std::process::id()));
    let pcap_s = pcap.to_string_lossy().into_owned();
    let mut dump = tb
        .scanner_command("tcpdump")
        // Immediate mode: every packet is written as it comes, none left in the capture
        // ring when the test stops tcpdump.
        .args([
            "-i",
            &tb.scanner_if,
            "-n",
            "--immediate-mode",
            "-U",
            "-B",
            "16384",
        ])
        .args(["-w", &pcap_s, "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump (cargo xtask setup installs it)");
    let mut stderr = BufReader::new(dump.stderr.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !line.contains("listening on") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0 && Instant::now() < deadline,
            "tcpdump did not start"
        );
    }
    // Paced, so that tcpdump keeps up and the count of SYNs it saw can be exact.
    let out = syn_scan(&tb, "1-300", &["--rate", "3000"]);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) of the tcpdump this test started (`ip netns exec` execs it: same pid).
    unsafe { libc::kill(dump.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(dump.wait().unwrap().success(), "tcpdump: {rest}");
    let (open, closed, filtered) = verdicts(&out);
    assert_eq!(open, vec![22, 80]);
    assert_eq!(closed.len(), 298);
    assert!(filtered.is_empty());
    let count = |filter: &str| -> usize {
        let out = Command::new("tcpdump")
            .args(["-r", &pcap_s, "-n", filter])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let syns = count("dst host 198.18.0.2 and tcp[tcpflags] & tcp-syn != 0");
    let replies = count("src host 198.18.0.2");
    let _ = std::fs::remove_file(&pcap);
    assert!(rest.contains("packets captured"), "{rest}");
    assert!(syns >= 300, "tcpdump saw {syns} of our SYNs: {rest}");
    assert_eq!(replies, 0, "replies reached AF_PACKET past XDP");
}

// ---------------------------------------------------------------------------------------------
// A replayed SYN-ACK.

/// An IPPROTO_RAW socket in the calling thread's namespace (we write the IPv4 header).
fn raw_socket() -> OwnedFd {
    // SAFETY: socket(2), owned right away.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        );
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        OwnedFd::from_raw_fd(fd)
    }
}

fn send_raw(fd: &OwnedFd, packet: &[u8], dst: Ipv4Addr) -> bool {
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(dst.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sendto(2) of a buffer and a sockaddr_in that outlive the call.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&raw const to).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    sent == packet.len() as isize
}

/// The target replays one valid SYN-ACK far more often than the ring buffer has room for
/// (4 MiB: ~87k events), nobody reading, and SYNs to 250 other addresses go out once it would
/// have been full: the replay makes one event, its copies count as repeats, and every other
/// answer arrives.
#[test]
fn a_replayed_syn_ack_cannot_crowd_out_other_hosts() {
    let Some(tb) = common::testbed("trxreplay") else {
        return;
    };
    tb.target_anyip("198.19.0.0/24").unwrap();
    let _l = tb.target_listen(&[22]).unwrap();
    let mut cap = Attached::new(&tb.scanner_ns, &tb.scanner_if);

    // The ring buffer holds 4 MiB / (40-byte event + 8-byte header) = 87,381 events. Without
    // the program's memory of reported probes, the replays sent before the probes would fill
    // it (nobody reads it until the end) and every answer after them would be lost.
    const RING_EVENTS: u64 = (tcprax_common::EVENTS_BYTES / 48) as u64;
    const PROBES_AFTER: u64 = RING_EVENTS + 10_000;
    const REPLAYS: u64 = 150_000;
    let replayed = reply(IpAddr::V4(TARGET_V4), 22, 61500, SYN_ACK, true);
    let packet = emitted(&replayed);
    let progress = Arc::new(AtomicU64::new(0));
    let probes_done = Arc::new(AtomicBool::new(false));
    let target_ns = tb.target_ns.clone();
    let replay = {
        let (progress, probes_done) = (progress.clone(), probes_done.clone());
        std::thread::spawn(move || {
            in_netns(&target_ns, move || {
                let fd = raw_socket();
                let mut sent = 0u64;
                // At least REPLAYS copies, and on until the probes are out.
                while sent < REPLAYS || !probes_done.load(Ordering::Relaxed) {
                    if send_raw(&fd, &packet, SCANNER_V4) {
                        sent += 1;
                        progress.store(sent, Ordering::Relaxed);
                    } else {
                        // The socket buffer is full: let the veth drain.
                        std::thread::yield_now();
                    }
                }
                sent
            })
            .unwrap()
        })
    };
    let mut want = BTreeSet::new();
    let probes: Vec<(Ipv4Addr, Vec<u8>)> = (1..=250u8)
        .map(|i| {
            let host = Ipv4Addr::new(198, 19, 0, i);
            let scan_port = 61000 + u16::from(i);
            want.insert((IpAddr::V4(host), 22, scan_port, kind::SYN_ACK, 4));
            let syn = our_syn(IpAddr::V4(host), 22, scan_port, true);
            (host, emitted(&syn))
        })
        .collect();
    want.insert(expect(&replayed));
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.load(Ordering::Relaxed) < PROBES_AFTER {
        assert!(Instant::now() < deadline, "the replay is stuck");
        std::thread::sleep(Duration::from_millis(1));
    }
    // SYNs with our cookies from the scanner, in the middle of the flood.
    let probes_at = progress.load(Ordering::Relaxed);
    tb.in_scanner(move || {
        let fd = raw_socket();
        for (host, syn) in &probes {
            while !send_raw(&fd, syn, *host) {
                std::thread::yield_now();
            }
        }
    })
    .unwrap();
    probes_done.store(true, Ordering::Relaxed);
    let sent = replay.join().unwrap();

    let events = cap.events(want.len(), Duration::from_secs(5));
    let st = cap.stats();
    eprintln!("{sent} replays sent, probes after {probes_at}; counters {st:?}");
    let got = seen(&events);
    let lost = want.difference(&got).count();
    assert_eq!(lost, 0, "{lost} of {} answers lost: {st:?}", want.len());
    assert_eq!(got, want, "every answer arrived, the replay once");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.scan_port == replayed.dst_port)
            .count(),
        1,
        "the replayed SYN-ACK made one event"
    );
    assert_eq!(st.ringbuf_full, 0, "{st:?}");
    assert_eq!(cap.cap.ringbuf_full().unwrap(), 0);
    // Most copies reach the program (a few may be lost at the veth under the flood), far more
    // than the ring buffer could have held.
    assert!(
        st.repeats >= sent * 9 / 10,
        "repeats {} of {sent} replays: {st:?}",
        st.repeats
    );
}
