//! The tcprax XDP program: catches replies to the SYN scanner before the kernel sees them.
//!
//! For each frame: the link header (Ethernet with up to two VLAN tags, or none at all on an L3
//! device: the loader says which), then IPv4 (options included) or IPv6 (up to four extension
//! headers: hop-by-hop, routing, destination options, fragment), then TCP, or ICMP/ICMPv6
//! destination-unreachable quoting a TCP segment. A frame is *ours* only if the scanner's port
//! (TCP destination port, or the quoted segment's source port) lies in the configured range AND
//! the validation cookie checks out (SYN-ACK/RST: `ack - 1 == cookie`; ICMP: quoted
//! `seq == cookie`). Ours: an event goes into the ring buffer, the probe goes into the
//! `REPORTED` cache, and the frame is dropped, so the kernel never answers it with an RST. A
//! validated reply to a probe already in `REPORTED` is dropped without a second event (counted
//! as a repeat): the target knows the cookie of every SYN it received, and replaying one valid
//! SYN-ACK at line rate must not fill the ring buffer that every other host's replies need.
//! Everything else, including later fragments, longer header chains and anything malformed or
//! unexpected, is passed untouched.
//!
//! Our RST to an open port can leave from here too: when the loader sets `rst` in CONFIG (it
//! does where a frame sent back with XDP_TX reaches the wire), a validated SYN-ACK is rewritten
//! in place into exactly the RST userspace would send and returned with XDP_TX, and its event
//! says so ([`reply_flag::RST_SENT`]). That saves the scanner a packet build and a send per open
//! port, and answers the target at once. Repeats are answered too (a target retransmits when
//! an RST was lost). With IPv4 options or IPv6 extension headers the frame is dropped as before
//! and userspace sends the RST.
//!
//! With -vv the loader sets `TCPRAX_LOG`, and the program says through aya-log why it passed a
//! frame that looks like one of ours (TCP to a port in our range, or an ICMP error quoting one),
//! or why it dropped a validated reply without reporting it. The switch is a read-only global
//! fixed at load time: the verifier knows its value and removes the logging code when it is off
//! (all that stays is the switch's load at each site), so an ordinary scan does not pay for it.
//! A flag in CONFIG would cost as little per frame, but the whole logging code would then stay
//! in the program, be verified at every load and JIT-compiled (about five times the size).
//! The link type (`TCPRAX_LINK`) is such a load-time global too, for the same reason.
#![no_std]
#![no_main]

use aya_ebpf::{
    Global,
    bindings::xdp_action,
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_prandom_u32, bpf_ktime_get_ns, bpf_xdp_adjust_tail},
    macros::{map, xdp},
    maps::{Array, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use aya_log_ebpf::debug;
use tcprax_common::{
    EVENT_RECORD_BYTES, EVENTS_BYTES, EVENTS_WAKE_BYTES, REPORTED_SETS, REPORTED_WAYS, ReplyEvent,
    XdpConfig, counter, kind, link, probe_hash, reply_flag, v4_mapped,
};

#[map(name = "CONFIG")]
static CONFIG: Array<XdpConfig> = Array::with_max_entries(1, 0);

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Probes whose reply is in the ring buffer already, as a set-associative cache of their keyed
/// hashes ([`probe_hash`]): the set is picked by the hash's high half, which never goes on the
/// wire, and a slot holds the whole hash (0 = empty). A new probe takes a free slot of its set,
/// else a random one: a forgotten probe only costs one more event, which the collector counts
/// as a duplicate. Replaces an LRU hash map, whose lookup, free-list pop and locking were ~7 %
/// of a full-speed scan's CPU; an array lookup is inlined by the verifier into an address.
#[map(name = "REPORTED")]
static REPORTED: Array<[u64; REPORTED_WAYS]> = Array::with_max_entries(REPORTED_SETS, 0);
const _: () = assert!(REPORTED_WAYS == 4 && REPORTED_SETS.is_power_of_two());

/// 1 = explain verdicts through aya-log (see the module doc). Overridden by the loader under the
/// name `tcprax_common::GLOBAL_LOG`; it lands in the frozen .rodata, which is what lets the
/// verifier prune the logging branches when it is 0.
#[unsafe(no_mangle)]
static TCPRAX_LOG: Global<u8> = Global::new(0);

/// The interface's link type, one of `tcprax_common::link`, set by the loader under the name
/// `tcprax_common::GLOBAL_LINK`; frozen like `TCPRAX_LOG`, so only one link parser is verified.
#[unsafe(no_mangle)]
static TCPRAX_LINK: Global<u8> = Global::new(link::ETHERNET);

const ETH_HLEN: usize = 14;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VLAN_HLEN: usize = 4;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_DSTOPTS: u8 = 60;
const IPV6_HLEN: usize = 40;
const IPV4_HLEN: usize = 20;
const TCP_FIN_SYN_RST_ACK: u8 = 0x17;
const TCP_ACK: u8 = 0x10;
const TCP_SYN_ACK: u8 = 0x12;
const TCP_RST_ACK: u8 = 0x14;
const TCP_RST: u8 = 0x04;

enum Verdict {
    Pass,
    Drop,
    /// The frame was rewritten into our RST: send it back out (XDP_TX).
    Tx,
}

#[xdp]
pub fn tcprax(ctx: XdpContext) -> u32 {
    bump(counter::SEEN);
    match try_tcprax(&ctx) {
        Ok(Verdict::Drop) => xdp_action::XDP_DROP,
        Ok(Verdict::Tx) => xdp_action::XDP_TX,
        Ok(Verdict::Pass) | Err(()) => {
            bump(counter::PASSED);
            xdp_action::XDP_PASS
        }
    }
}

#[inline(always)]
fn bump(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
        unsafe { *slot += 1 };
    }
}

#[inline(always)]
fn logging() -> bool {
    TCPRAX_LOG.load() != 0
}

/// Explains a verdict when logging is on. `$addr` is the remote address as `L3` stores it
/// (IPv4-mapped for IPv4) and fills the message's first placeholder, which must be `{:i}`; `$v6`,
/// a constant on every path, picks the notation it is printed in.
macro_rules! why {
    ($ctx:expr, $v6:expr, $addr:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {
        if logging() {
            let addr: [u8; 16] = $addr;
            if $v6 {
                debug!($ctx, $fmt, addr $(, $arg)*);
            } else {
                let v4: [u8; 4] = [addr[12], addr[13], addr[14], addr[15]];
                debug!($ctx, $fmt, v4 $(, $arg)*);
            }
        }
    };
}

/// Is `port` one of the scanner's source ports?
#[inline(always)]
fn ours(cfg: &XdpConfig, port: u16) -> bool {
    port >= cfg.port_lo && port <= cfg.port_hi
}

/// The one bounds-checked read: the `N` bytes at `offset` from the start of the frame, copied
/// out under a single check.
///
/// Offsets past the link header vary (VLAN tags, IPv4 options, IPv6 extension headers), and
/// the verifier only trusts a read through the very pointer it saw compared with the end of the
/// packet. So each header is read whole, once, and its fields are taken from the copy: small
/// reads at `offset + k` let LLVM turn `offset + k` into new variable offsets (pointers no
/// check covers), or merge their checks with bit operations on packet pointers; the verifier
/// rejects both.
#[inline(always)]
fn bytes<const N: usize>(ctx: &XdpContext, offset: usize) -> Result<[u8; N], ()> {
    let at = ctx.data() + offset;
    if at + N > ctx.data_end() {
        return Err(());
    }
    // SAFETY: the range [at, at + N) was just checked to lie in the frame.
    Ok(unsafe { core::ptr::read_unaligned(at as *const [u8; N]) })
}

/// `M` bytes of a header copy from `at` (constant indices: no bounds check survives).
#[inline(always)]
fn field<const M: usize, const N: usize>(b: &[u8; N], at: usize) -> [u8; M] {
    let mut out = [0u8; M];
    out.copy_from_slice(&b[at..at + M]);
    out
}

#[inline(always)]
fn be16<const N: usize>(b: &[u8; N], at: usize) -> u16 {
    u16::from_be_bytes(field(b, at))
}

#[inline(always)]
fn be32<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    u32::from_be_bytes(field(b, at))
}

/// Where the network header ends and what it carries.
struct L3 {
    /// Where the IP header starts (the link header's length).
    start: usize,
    family: u8,
    addr_src: [u8; 16],
    proto: u8,
    ttl: u8,
    l4: usize,
}

/// Ethernet header and room for two VLAN tags: read at once (anything carrying IP is longer).
const ETH_MAX: usize = ETH_HLEN + 2 * VLAN_HLEN;

/// Where the IP header starts, and whether it is IPv6; `Err` for anything but IPv4/IPv6.
///
/// Ethernet: up to two VLAN tags (802.1ad outer and 802.1Q inner, or either alone), written
/// out rather than looped; a third is not followed. L3 devices: the version nibble decides.
#[inline(always)]
fn network(ctx: &XdpContext) -> Result<(usize, bool), ()> {
    if TCPRAX_LINK.load() == link::IP {
        // The shortest IP header, not one byte: LLVM turns a check for one byte into
        // `data >= data_end`, from which the verifier learns no readable length at all.
        return match bytes::<IPV4_HLEN>(ctx, 0)?[0] >> 4 {
            4 => Ok((0, false)),
            6 => Ok((0, true)),
            _ => Err(()),
        };
    }
    let eth = bytes::<ETH_MAX>(ctx, 0)?;
    let mut off = ETH_HLEN;
    let mut ethertype = be16(&eth, 12);
    if vlan(ethertype) {
        ethertype = be16(&eth, 16);
        off += VLAN_HLEN;
        if vlan(ethertype) {
            ethertype = be16(&eth, 20);
            off += VLAN_HLEN;
        }
    }
    match ethertype {
        ETH_P_IPV4 => Ok((off, false)),
        ETH_P_IPV6 => Ok((off, true)),
        _ => Err(()),
    }
}

#[inline(always)]
fn vlan(ethertype: u16) -> bool {
    ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD
}

/// The IPv4 / IPv6 header of a reply, starting at `off`: IPv4 options are skipped (IHL up to
/// 15 words), IPv6 extension headers followed (see [`ipv6_chain`]). Later fragments carry no
/// TCP header, so nothing says whose they are: `Err`. A first fragment is parsed like a whole
/// packet (its TCP header is complete or the read fails).
#[inline(always)]
fn l3<const V6: bool>(ctx: &XdpContext, off: usize) -> Result<L3, ()> {
    if V6 {
        let h = bytes::<IPV6_HLEN>(ctx, off)?;
        if h[0] >> 4 != 6 {
            return Err(());
        }
        let (proto, l4) = ipv6_chain(ctx, h[6], off + IPV6_HLEN)?;
        Ok(L3 {
            start: off,
            family: 6,
            addr_src: field(&h, 8),
            proto,
            ttl: h[7],
            l4,
        })
    } else {
        let h = bytes::<IPV4_HLEN>(ctx, off)?;
        // Masked to 0..=60 bytes: a bounded variable offset, as the verifier needs.
        let hlen = usize::from(h[0] & 0x0f) * 4;
        if h[0] >> 4 != 4 || hlen < IPV4_HLEN {
            return Err(());
        }
        if be16(&h, 6) & 0x1fff != 0 {
            return Err(());
        }
        Ok(L3 {
            start: off,
            family: 4,
            addr_src: v4_mapped(field(&h, 12)),
            proto: h[9],
            ttl: h[8],
            l4: off + hlen,
        })
    }
}

/// Most IPv6 extension headers followed before the upper-layer header; a longer chain is
/// passed. Replies to a SYN carry none as a rule; routers and middleboxes add one or two.
const MAX_IPV6_EXT: usize = 4;

/// Follows up to [`MAX_IPV6_EXT`] extension headers from `next` at `off`: the upper-layer
/// protocol and where it starts (still an extension header if the chain is longer: the caller
/// passes the frame). `Err` for a later fragment.
#[inline(always)]
fn ipv6_chain(ctx: &XdpContext, next: u8, off: usize) -> Result<(u8, usize), ()> {
    // Written out, not looped, so the program also loads on kernels without bounded loops.
    const _: () = assert!(MAX_IPV6_EXT == 4);
    let hop = ipv6_ext(ctx, (next, off))?;
    let hop = ipv6_ext(ctx, hop)?;
    let hop = ipv6_ext(ctx, hop)?;
    ipv6_ext(ctx, hop)
}

/// One step of [`ipv6_chain`]: skips the header `next` at `off` if it is an extension header we
/// follow, else returns its input.
#[inline(always)]
fn ipv6_ext(ctx: &XdpContext, (next, off): (u8, usize)) -> Result<(u8, usize), ()> {
    match next {
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
            let [after, len8] = bytes::<2>(ctx, off)?;
            // Length in 8-octet units, not counting the first 8: at most 2 KiB each.
            Ok((after, off + (usize::from(len8) + 1) * 8))
        }
        IPPROTO_FRAGMENT => {
            let h = bytes::<4>(ctx, off)?;
            // Only the first fragment (offset 0) starts with the upper-layer header.
            if be16(&h, 2) & 0xfff8 != 0 {
                return Err(());
            }
            Ok((h[0], off + 8))
        }
        _ => Ok((next, off)),
    }
}

fn try_tcprax(ctx: &XdpContext) -> Result<Verdict, ()> {
    let cfg = match CONFIG.get(0) {
        Some(cfg) if cfg.enabled != 0 => *cfg,
        _ => return Ok(Verdict::Pass),
    };
    match network(ctx)? {
        (off, false) => per_family::<false>(ctx, &cfg, off),
        (off, true) => per_family::<true>(ctx, &cfg, off),
    }
}

#[inline(always)]
fn per_family<const V6: bool>(
    ctx: &XdpContext,
    cfg: &XdpConfig,
    off: usize,
) -> Result<Verdict, ()> {
    let ip = l3::<V6>(ctx, off)?;
    match ip.proto {
        IPPROTO_TCP => tcp_reply::<V6>(ctx, cfg, &ip),
        IPPROTO_ICMP if !V6 => icmp_error::<V6>(ctx, cfg, &ip),
        IPPROTO_ICMPV6 if V6 => icmp_error::<V6>(ctx, cfg, &ip),
        _ => Ok(Verdict::Pass),
    }
}

/// TCP header bytes a reply is judged on: ports, seq, ack, offset/flags, window.
const TCP_READ: usize = 16;

/// A SYN-ACK or RST answering one of our SYNs.
#[inline(always)]
fn tcp_reply<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3) -> Result<Verdict, ()> {
    let t = bytes::<TCP_READ>(ctx, ip.l4)?;
    let target_port = be16(&t, 0);
    let scan_port = be16(&t, 2);
    if !ours(cfg, scan_port) {
        return Ok(Verdict::Pass);
    }
    let event_kind = match t[13] & TCP_FIN_SYN_RST_ACK {
        TCP_SYN_ACK => kind::SYN_ACK,
        TCP_RST_ACK => kind::RST,
        // A bare ACK in our range is a half-open connection's challenge ACK or stray traffic:
        // it carries no verdict, and passing it keeps the host's own traffic untouched.
        TCP_ACK => {
            why!(
                ctx,
                V6,
                ip.addr_src,
                "{:i} port {} -> our port {}: passed: bare ACK (no SYN, RST or FIN), not an answer to a SYN",
                target_port,
                scan_port,
            );
            return Ok(Verdict::Pass);
        }
        other => {
            why!(
                ctx,
                V6,
                ip.addr_src,
                "{:i} port {} -> our port {}: passed: TCP flags {:x} (of FIN/SYN/RST/ACK) are neither SYN-ACK nor RST-ACK",
                target_port,
                scan_port,
                other,
            );
            return Ok(Verdict::Pass);
        }
    };
    let ack = be32(&t, 8);
    let hash = probe_hash(cfg.key0, cfg.key1, &ip.addr_src, target_port, scan_port);
    if ack.wrapping_sub(1) != hash as u32 {
        bump(counter::BAD_COOKIE);
        why!(
            ctx,
            V6,
            ip.addr_src,
            "{:i} port {} -> our port {}: passed: bad cookie (ack {:x} is not the cookie + 1 of our SYN)",
            target_port,
            scan_port,
            ack,
        );
        return Ok(Verdict::Pass);
    }
    // Our RST, from here: the SYN-ACK becomes it in place (the event's fields are copied out
    // already). Repeats are answered too: the target retransmits when an RST was lost.
    let rst_sent = event_kind == kind::SYN_ACK
        && cfg.rst != 0
        && TCPRAX_LINK.load() == link::ETHERNET
        && reflect_rst::<V6>(ctx, ip, ack).is_ok();
    let verdict = emit::<V6>(
        ctx,
        hash,
        ReplyEvent {
            ktime_ns: 0,
            addr: ip.addr_src,
            target_port,
            scan_port,
            kind: event_kind,
            family: ip.family,
            ttl: ip.ttl,
            icmp_code: 0,
            seq: be32(&t, 4),
            window: be16(&t, 14),
            flags: if rst_sent { reply_flag::RST_SENT } else { 0 },
            _pad: [0; 1],
        },
    );
    if rst_sent {
        bump(counter::RST_TX);
        return Ok(Verdict::Tx);
    }
    verdict
}

/// TCP header without options: all our RST has.
const TCP_HLEN: usize = 20;
/// TTL / hop limit of our packets (as userspace's `wire::PROBE_TTL`).
const OUR_TTL: u8 = 64;

/// Rewrites the validated SYN-ACK in the frame into the RST userspace would send
/// (`wire::TcpSegment::rst`: seq = the SYN-ACK's ack, no ACK, window 0, no options, TTL 64,
/// DF, the IPv4 ID folded from the seq), addressed back where the SYN-ACK came from: MACs,
/// addresses and ports swapped, the frame cut after the TCP header, both checksums computed
/// whole. `Err` (nothing sent; the frame may be half rewritten, and is dropped) where the
/// layout is not the plain one: IPv4 options or IPv6 extension headers.
///
/// Done in place, field by field, through one pointer checked once: header copies on the stack
/// would not fit beside the rest of the program in the verifier's 512 bytes.
#[inline(always)]
fn reflect_rst<const V6: bool>(ctx: &XdpContext, ip: &L3, seq: u32) -> Result<(), ()> {
    let ok = if V6 {
        if ip.l4 != ip.start + IPV6_HLEN {
            return Err(());
        }
        reflect_rst_v6(XdpContext::new(ctx.ctx), ip.start, seq)
    } else {
        if ip.l4 != ip.start + IPV4_HLEN {
            return Err(());
        }
        reflect_rst_v4(XdpContext::new(ctx.ctx), ip.start, seq)
    };
    if ok { Ok(()) } else { Err(()) }
}

/// The frame from `offset` on, when at least `len` bytes of it are there.
#[inline(always)]
fn at(ctx: &XdpContext, offset: usize, len: usize) -> Option<*mut u8> {
    let p = ctx.data() + offset;
    if p + len > ctx.data_end() {
        return None;
    }
    Some(p as *mut u8)
}

/// Big-endian loads and stores at `p + k`, a byte at a time and volatile: in program order,
/// so the compiler does not hoist every load ahead of the stores and spill them all to the
/// stack. Callers hold `p` from [`at`] with `k` + the width inside the length it checked.
#[inline(always)]
unsafe fn ld8(p: *mut u8, k: usize) -> u8 {
    // SAFETY: in the checked range (see above).
    unsafe { core::ptr::read_volatile(p.add(k)) }
}
#[inline(always)]
unsafe fn st8(p: *mut u8, k: usize, v: u8) {
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(p.add(k), v) }
}
#[inline(always)]
unsafe fn ld16(p: *mut u8, k: usize) -> u16 {
    // SAFETY: as above.
    unsafe { u16::from_be_bytes([ld8(p, k), ld8(p, k + 1)]) }
}
#[inline(always)]
unsafe fn ld32(p: *mut u8, k: usize) -> u32 {
    // SAFETY: as above.
    unsafe { u32::from_be_bytes([ld8(p, k), ld8(p, k + 1), ld8(p, k + 2), ld8(p, k + 3)]) }
}
#[inline(always)]
unsafe fn st16(p: *mut u8, k: usize, v: u16) {
    let b = v.to_be_bytes();
    // SAFETY: as above.
    unsafe {
        st8(p, k, b[0]);
        st8(p, k + 1, b[1]);
    }
}
#[inline(always)]
unsafe fn st32(p: *mut u8, k: usize, v: u32) {
    let b = v.to_be_bytes();
    // SAFETY: as above.
    unsafe {
        st8(p, k, b[0]);
        st8(p, k + 1, b[1]);
        st8(p, k + 2, b[2]);
        st8(p, k + 3, b[3]);
    }
}

/// One's-complement sum of a 32-bit word's two halves.
#[inline(always)]
fn halves(w: u32) -> u32 {
    (w >> 16) + (w & 0xffff)
}

/// Swaps the Ethernet addresses at the start of the frame.
#[inline(always)]
fn swap_macs(ctx: &XdpContext) -> Result<(), ()> {
    let p = at(ctx, 0, 12).ok_or(())?;
    // SAFETY: 12 bytes checked.
    unsafe {
        let (a, b) = (ld32(p, 0), ld16(p, 4));
        let (c, d) = (ld32(p, 6), ld16(p, 10));
        st32(p, 0, c);
        st16(p, 4, d);
        st32(p, 6, a);
        st16(p, 10, b);
    }
    Ok(())
}

/// Writes our RST's TCP header at `p` (ports swapped from `ports`, the SYN-ACK's source and
/// destination port as one word), given the one's-complement sum of the pseudo-header's
/// addresses.
///
/// # Safety
/// `p` must hold `TCP_HLEN` checked bytes.
#[inline(always)]
unsafe fn write_rst_tcp(p: *mut u8, ports: u32, seq: u32, addr_sum: u32) {
    let ports = ports.rotate_left(16);
    let off_flags = (((TCP_HLEN / 4) as u32) << 12) | u32::from(TCP_RST);
    let sum = addr_sum
        + u32::from(IPPROTO_TCP)
        + TCP_HLEN as u32
        + halves(ports)
        + halves(seq)
        + off_flags;
    // SAFETY: the caller's range.
    unsafe {
        st32(p, 0, ports);
        st32(p, 4, seq);
        st32(p, 8, 0);
        // Data offset, flags, window 0.
        st32(p, 12, off_flags << 16);
        st16(p, 16, fold(sum));
        st16(p, 18, 0);
    }
}

/// The frame made ready for our RST's headers: cut after the TCP header that follows the
/// `ip_hlen`-byte IP header at `start` (its length field says how long the packet is), the
/// Ethernet addresses swapped; the IP header, with IP and TCP headers checked to be there.
#[inline(always)]
fn rst_frame(ctx: &XdpContext, start: usize, ip_hlen: usize) -> Option<*mut u8> {
    let p = at(ctx, start, ip_hlen + TCP_HLEN)?;
    // SAFETY: IP and TCP headers checked. IPv4: total length at 2; IPv6: payload length at 4.
    let ip_total = unsafe {
        if ip_hlen == IPV4_HLEN {
            usize::from(ld16(p, 2))
        } else {
            IPV6_HLEN + usize::from(ld16(p, 4))
        }
    };
    cut_after(ctx, start, ip_total, start + ip_hlen + TCP_HLEN).ok()?;
    swap_macs(ctx).ok()?;
    at(ctx, start, ip_hlen + TCP_HLEN)
}

/// [`reflect_rst`] for IPv4 without options at `start`; true when the frame is our RST.
#[inline(never)]
fn reflect_rst_v4(ctx: XdpContext, start: usize, seq: u32) -> bool {
    let Some(p) = rst_frame(&ctx, start, IPV4_HLEN) else {
        return false;
    };
    // SAFETY: IP and TCP headers checked after the cut (which leaves them as they were).
    let (src, dst, ports) = unsafe { (ld32(p, 12), ld32(p, 16), ld32(p, IPV4_HLEN)) };
    let id = ((seq >> 16) ^ seq) & 0xffff;
    let w0 = 0x4500_0000 | (IPV4_HLEN + TCP_HLEN) as u32;
    let w1 = (id << 16) | 0x4000; // DF
    let w2 = (u32::from(OUR_TTL) << 24) | (u32::from(IPPROTO_TCP) << 16);
    let addrs = halves(src) + halves(dst);
    // SAFETY: as above.
    unsafe {
        st32(p, 0, w0);
        st32(p, 4, w1);
        st32(p, 8, w2);
        st32(p, 12, dst);
        st32(p, 16, src);
        st16(p, 10, fold(halves(w0) + halves(w1) + halves(w2) + addrs));
        write_rst_tcp(p.add(IPV4_HLEN), ports, seq, addrs);
    }
    true
}

/// [`reflect_rst`] for IPv6 with TCP right after the fixed header at `start`.
#[inline(never)]
fn reflect_rst_v6(ctx: XdpContext, start: usize, seq: u32) -> bool {
    let Some(p) = rst_frame(&ctx, start, IPV6_HLEN) else {
        return false;
    };
    // SAFETY: IP and TCP headers checked after the cut (which leaves them as they were). The
    // addresses are swapped a word at a time.
    unsafe {
        let ports = ld32(p, IPV6_HLEN);
        let mut addrs = 0u32;
        let mut i = 0;
        while i < 16 {
            let (s, d) = (ld32(p, 8 + i), ld32(p, 24 + i));
            st32(p, 8 + i, d);
            st32(p, 24 + i, s);
            addrs += halves(s) + halves(d);
            i += 4;
        }
        st32(p, 0, 0x6000_0000);
        st32(
            p,
            4,
            ((TCP_HLEN as u32) << 16) | (u32::from(IPPROTO_TCP) << 8) | u32::from(OUR_TTL),
        );
        write_rst_tcp(p.add(IPV6_HLEN), ports, seq, addrs);
    }
    true
}

/// Cuts the frame after our RST (`end` bytes) when the IP header (`ip_total` bytes from
/// `start`) says it is longer; Ethernet padding past the IP length stays (receivers trim it).
/// The helper invalidates every packet pointer the verifier knew: read before, check after.
#[inline(always)]
fn cut_after(ctx: &XdpContext, start: usize, ip_total: usize, end: usize) -> Result<(), ()> {
    let frame = start + ip_total;
    // Shorter than its headers: malformed.
    if frame < end || frame > end + 4096 {
        return Err(());
    }
    if frame > end {
        let cut = (frame - end) as i32;
        // SAFETY: the helper only shrinks the frame, by at most its length past `end`.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, -cut) } != 0 {
            return Err(());
        }
    }
    Ok(())
}

/// Folds a one's-complement sum to 16 bits and complements it: the Internet checksum.
#[inline(always)]
fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// An ICMP / ICMPv6 error and the start of the packet it quotes: one of our SYNs as we sent it
/// (IPv4 without options, unfragmented; IPv6 with TCP right after the fixed header, so nothing
/// is skipped), whose destination is the target.
struct IcmpError {
    typ: u8,
    code: u8,
    /// The quoted destination: the target (IPv4-mapped for IPv4).
    target: [u8; 16],
    /// The quoted packet's protocol.
    proto: u8,
    scan_port: u16,
    target_port: u16,
    /// The quoted sequence number: our cookie, if the SYN was ours.
    seq: u32,
}

/// ICMP header (8), quoted IPv4 header (20), quoted TCP ports and seq (8).
const ICMP4_READ: usize = 8 + IPV4_HLEN + 8;
/// ICMPv6 header (8), quoted IPv6 header (40), quoted TCP ports and seq (8).
const ICMP6_READ: usize = 8 + IPV6_HLEN + 8;

/// The ICMP message at `l4`, read in one go (shorter ones cannot quote our SYN: `Err`).
#[inline(always)]
fn icmp<const V6: bool>(ctx: &XdpContext, l4: usize) -> Result<IcmpError, ()> {
    if V6 {
        let m = bytes::<ICMP6_READ>(ctx, l4)?;
        let q = 8 + IPV6_HLEN;
        Ok(IcmpError {
            typ: m[0],
            code: m[1],
            target: field(&m, 8 + 24),
            proto: m[8 + 6],
            scan_port: be16(&m, q),
            target_port: be16(&m, q + 2),
            seq: be32(&m, q + 4),
        })
    } else {
        let m = bytes::<ICMP4_READ>(ctx, l4)?;
        if m[8] != 0x45 || be16(&m, 8 + 6) & 0x3fff != 0 {
            return Err(());
        }
        let q = 8 + IPV4_HLEN;
        Ok(IcmpError {
            typ: m[0],
            code: m[1],
            target: v4_mapped(field(&m, 8 + 16)),
            proto: m[8 + 9],
            scan_port: be16(&m, q),
            target_port: be16(&m, q + 2),
            seq: be32(&m, q + 4),
        })
    }
}

/// ICMP (type 3) / ICMPv6 (type 1) destination unreachable quoting one of our SYNs.
#[inline(always)]
fn icmp_error<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3) -> Result<Verdict, ()> {
    let m = icmp::<V6>(ctx, ip.l4)?;
    if m.proto != IPPROTO_TCP || !ours(cfg, m.scan_port) {
        return Ok(Verdict::Pass);
    }
    if m.typ != if V6 { 1 } else { 3 } {
        explain_icmp::<V6>(ctx, &m);
        return Ok(Verdict::Pass);
    }
    let hash = probe_hash(cfg.key0, cfg.key1, &m.target, m.target_port, m.scan_port);
    if m.seq != hash as u32 {
        bump(counter::BAD_COOKIE);
        why!(
            ctx,
            V6,
            m.target,
            "ICMP about {:i} port {} from our port {}: passed: bad cookie (quoted seq {:x} is not our SYN's)",
            m.target_port,
            m.scan_port,
            m.seq,
        );
        return Ok(Verdict::Pass);
    }
    emit::<V6>(
        ctx,
        hash,
        ReplyEvent {
            ktime_ns: 0,
            addr: m.target,
            target_port: m.target_port,
            scan_port: m.scan_port,
            kind: kind::ICMP_UNREACH,
            family: ip.family,
            ttl: ip.ttl,
            icmp_code: m.code,
            seq: 0,
            window: 0,
            flags: 0,
            _pad: [0; 1],
        },
    )
}

/// Report a validated reply (`hash`: its probe's [`probe_hash`]) unless its probe was reported
/// already, and say to drop the frame either way.
#[inline(always)]
fn emit<const V6: bool>(ctx: &XdpContext, hash: u64, mut event: ReplyEvent) -> Result<Verdict, ()> {
    let tag = hash.max(1);
    let slots = REPORTED.get_ptr_mut((hash >> 32) as u32 & (REPORTED_SETS - 1));
    if let Some(set) = slots {
        // SAFETY: a valid map value of REPORTED_WAYS u64s. Other CPUs may write it meanwhile:
        // each slot is one aligned 8-byte word, and a lost update costs a duplicate event.
        let s = unsafe { &*set };
        if s[0] == tag || s[1] == tag || s[2] == tag || s[3] == tag {
            // Reported already: a retransmission, or a replay meant to crowd out other hosts.
            // The collector would count it as a duplicate; dropping it keeps it off the ring.
            bump(counter::REPEATS);
            return Ok(Verdict::Drop);
        }
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    event.ktime_ns = unsafe { bpf_ktime_get_ns() };
    // Wake the reader only when the unread events cross the threshold (see EVENTS_WAKE_BYTES);
    // it drains the rest on its own timer.
    let unread = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    let wake = if unread < EVENTS_WAKE_BYTES && unread + EVENT_RECORD_BYTES >= EVENTS_WAKE_BYTES {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    match EVENTS.output::<ReplyEvent>(&event, wake as u64) {
        Ok(()) => {
            bump(counter::MATCHED);
            // Remembered only once reported: a reply dropped for a full ring buffer must get
            // through when the retried probe is answered. Failing to remember costs at most a
            // duplicate event.
            if let Some(set) = slots {
                // SAFETY: as above; the index is masked to the value's four slots.
                unsafe {
                    let s = &*set;
                    let way = if s[0] == 0 {
                        0
                    } else if s[1] == 0 {
                        1
                    } else if s[2] == 0 {
                        2
                    } else if s[3] == 0 {
                        3
                    } else {
                        bpf_get_prandom_u32() as usize & (REPORTED_WAYS - 1)
                    };
                    *set.cast::<u64>().add(way) = tag;
                }
            }
        }
        // The reply is validated as ours: letting it through would make the kernel RST the
        // target. Drop it and count it; the scheduler retries the unanswered probe.
        Err(_) => {
            bump(counter::RINGBUF_FULL);
            why!(
                ctx,
                V6,
                event.addr,
                "{:i} port {} / our port {}: dropped unreported: validated, but the ring buffer is full (the probe will be retried)",
                event.target_port,
                event.scan_port,
            );
        }
    }
    Ok(Verdict::Drop)
}

/// With logging on, says why an ICMP error other than destination unreachable (time exceeded,
/// packet too big, ...) quoting a SYN from one of our ports was passed: the decision ignores
/// them, the operator may want to know. (VLAN tags, L3 devices, IPv4 options and IPv6 extension
/// headers need no explaining any more: the decision parses them.)
#[inline(always)]
fn explain_icmp<const V6: bool>(ctx: &XdpContext, m: &IcmpError) {
    let error = if V6 {
        (2..=4).contains(&m.typ)
    } else {
        matches!(m.typ, 4 | 5 | 11 | 12)
    };
    if error {
        why!(
            ctx,
            V6,
            m.target,
            "ICMP about {:i} port {} from our port {}: passed: type {} code {} is not destination unreachable",
            m.target_port,
            m.scan_port,
            m.typ,
            m.code,
        );
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
