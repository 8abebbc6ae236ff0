//! The tcprax XDP program: catches replies to the SYN scanner before the kernel sees them.
//!
//! For each frame: Ethernet -> IPv4/IPv6 -> TCP, or ICMP/ICMPv6 destination-unreachable quoting
//! a TCP segment. A frame is *ours* only if the scanner's port (TCP destination port, or the
//! quoted segment's source port) lies in the configured range AND the validation cookie checks
//! out (SYN-ACK/RST: `ack - 1 == cookie`; ICMP: quoted `seq == cookie`). Ours: an event goes
//! into the ring buffer and the frame is dropped, so the kernel never answers it with an RST.
//! Everything else, including anything malformed or unexpected, is passed untouched.
//!
//! With -vv the loader sets `TCPRAX_LOG`, and the program says through aya-log why it passed a
//! frame that looks like one of ours (TCP to a port in our range, or an ICMP error quoting one),
//! or why it dropped a validated reply without reporting it. The switch is a read-only global
//! fixed at load time: the verifier knows its value and removes the logging code when it is off
//! (all that stays is the switch's load at each site), so an ordinary scan does not pay for it.
//! A flag in CONFIG would cost as little per frame, but the whole logging code would then stay
//! in the program, be verified at every load and JIT-compiled (about five times the size).
//! Explaining parses further than deciding does (VLAN tags, IPv4 options, IPv6 extension
//! headers), but only behind that switch.
#![no_std]
#![no_main]

use aya_ebpf::{
    Global,
    bindings::xdp_action,
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{Array, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use aya_log_ebpf::debug;
use tcprax_common::{EVENTS_BYTES, ReplyEvent, XdpConfig, cookie, counter, kind, v4_mapped};

#[map(name = "CONFIG")]
static CONFIG: Array<XdpConfig> = Array::with_max_entries(1, 0);

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// 1 = explain verdicts through aya-log (see the module doc). Overridden by the loader under the
/// name `tcprax_common::GLOBAL_LOG`; it lands in the frozen .rodata, which is what lets the
/// verifier prune the logging branches when it is 0.
#[unsafe(no_mangle)]
static TCPRAX_LOG: Global<u8> = Global::new(0);

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

enum Verdict {
    Pass,
    Drop,
}

#[xdp]
pub fn tcprax(ctx: XdpContext) -> u32 {
    bump(counter::SEEN);
    match try_tcprax(&ctx) {
        Ok(Verdict::Drop) => xdp_action::XDP_DROP,
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

/// The one bounds-checked read: `N` bytes at `offset` from the start of the frame.
#[inline(always)]
fn bytes<const N: usize>(ctx: &XdpContext, offset: usize) -> Result<[u8; N], ()> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + N > end {
        return Err(());
    }
    // SAFETY: the range [start+offset, start+offset+N) was just checked to lie in the frame.
    Ok(unsafe { core::ptr::read_unaligned((start + offset) as *const [u8; N]) })
}

#[inline(always)]
fn be16(ctx: &XdpContext, offset: usize) -> Result<u16, ()> {
    Ok(u16::from_be_bytes(bytes::<2>(ctx, offset)?))
}

#[inline(always)]
fn be32(ctx: &XdpContext, offset: usize) -> Result<u32, ()> {
    Ok(u32::from_be_bytes(bytes::<4>(ctx, offset)?))
}

/// Where the network header ends and what it carries.
struct L3 {
    family: u8,
    addr_src: [u8; 16],
    proto: u8,
    ttl: u8,
    l4: usize,
}

/// IPv4 or IPv6 header starting at `off` (a constant on every path: `V6` is a const generic,
/// so the verifier sees fixed offsets). IPv4 headers with options, fragments and IPv6
/// extension headers are not ours: replies to a SYN carry none of them.
#[inline(always)]
fn l3<const V6: bool>(ctx: &XdpContext, off: usize, want_dst: bool) -> Result<L3, ()> {
    if V6 {
        let proto = bytes::<1>(ctx, off + 6)?[0];
        let ttl = bytes::<1>(ctx, off + 7)?[0];
        let addr_src = if want_dst {
            bytes::<16>(ctx, off + 24)?
        } else {
            bytes::<16>(ctx, off + 8)?
        };
        Ok(L3 {
            family: 6,
            addr_src,
            proto,
            ttl,
            l4: off + IPV6_HLEN,
        })
    } else {
        if bytes::<1>(ctx, off)?[0] != 0x45 {
            return Err(());
        }
        let frag = be16(ctx, off + 6)?;
        if frag & 0x3fff != 0 {
            // More-fragments set or a fragment offset: not a whole reply.
            return Err(());
        }
        let ttl = bytes::<1>(ctx, off + 8)?[0];
        let proto = bytes::<1>(ctx, off + 9)?[0];
        let addr = if want_dst {
            bytes::<4>(ctx, off + 16)?
        } else {
            bytes::<4>(ctx, off + 12)?
        };
        Ok(L3 {
            family: 4,
            addr_src: v4_mapped(addr),
            proto,
            ttl,
            l4: off + IPV4_HLEN,
        })
    }
}

fn try_tcprax(ctx: &XdpContext) -> Result<Verdict, ()> {
    let cfg = match CONFIG.get(0) {
        Some(cfg) if cfg.enabled != 0 => *cfg,
        _ => return Ok(Verdict::Pass),
    };
    match be16(ctx, 12)? {
        ETH_P_IPV4 => per_family::<false>(ctx, &cfg),
        ETH_P_IPV6 => per_family::<true>(ctx, &cfg),
        ethertype => {
            if logging() {
                // A frame too short to explain goes unexplained.
                let _ = explain_link(ctx, &cfg, ethertype);
            }
            Ok(Verdict::Pass)
        }
    }
}

#[inline(always)]
fn per_family<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig) -> Result<Verdict, ()> {
    let ip = match l3::<V6>(ctx, ETH_HLEN, false) {
        Ok(ip) => ip,
        Err(()) => {
            // Only IPv4 refuses whole headers (options, fragments); IPv6 fails only when short.
            if logging() && !V6 {
                let _ = explain_ipv4(ctx, cfg, ETH_HLEN);
            }
            return Err(());
        }
    };
    match ip.proto {
        IPPROTO_TCP => tcp_reply::<V6>(ctx, cfg, &ip),
        IPPROTO_ICMP if !V6 => icmp_error::<V6>(ctx, cfg, &ip),
        IPPROTO_ICMPV6 if V6 => icmp_error::<V6>(ctx, cfg, &ip),
        proto => {
            if logging() && V6 {
                let _ = explain_ipv6_ext(ctx, cfg, &ip, proto);
            }
            Ok(Verdict::Pass)
        }
    }
}

/// A SYN-ACK or RST answering one of our SYNs.
#[inline(always)]
fn tcp_reply<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3) -> Result<Verdict, ()> {
    let t = ip.l4;
    let target_port = be16(ctx, t)?;
    let scan_port = be16(ctx, t + 2)?;
    if !ours(cfg, scan_port) {
        return Ok(Verdict::Pass);
    }
    let flags = bytes::<1>(ctx, t + 13)?[0] & TCP_FIN_SYN_RST_ACK;
    let event_kind = match flags {
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
    let seq = be32(ctx, t + 4)?;
    let ack = be32(ctx, t + 8)?;
    let expect = cookie(cfg.key0, cfg.key1, &ip.addr_src, target_port, scan_port);
    if ack.wrapping_sub(1) != expect {
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
    let window = be16(ctx, t + 14)?;
    emit::<V6>(
        ctx,
        ReplyEvent {
            ktime_ns: 0,
            addr: ip.addr_src,
            target_port,
            scan_port,
            kind: event_kind,
            family: ip.family,
            ttl: ip.ttl,
            icmp_code: 0,
            seq,
            window,
            _pad: [0; 2],
        },
    )
}

/// ICMP (type 3) / ICMPv6 (type 1) destination unreachable quoting one of our SYNs.
#[inline(always)]
fn icmp_error<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3) -> Result<Verdict, ()> {
    let typ = bytes::<1>(ctx, ip.l4)?[0];
    let code = bytes::<1>(ctx, ip.l4 + 1)?[0];
    if typ != if V6 { 1 } else { 3 } {
        if logging() {
            let _ = explain_icmp::<V6>(ctx, cfg, ip, typ, code);
        }
        return Ok(Verdict::Pass);
    }
    // The quoted packet: our SYN, with the target as its destination.
    let quoted = l3::<V6>(ctx, ip.l4 + 8, true)?;
    if quoted.proto != IPPROTO_TCP {
        return Ok(Verdict::Pass);
    }
    let q = quoted.l4;
    let scan_port = be16(ctx, q)?;
    let target_port = be16(ctx, q + 2)?;
    if !ours(cfg, scan_port) {
        return Ok(Verdict::Pass);
    }
    let seq = be32(ctx, q + 4)?;
    if seq != cookie(cfg.key0, cfg.key1, &quoted.addr_src, target_port, scan_port) {
        bump(counter::BAD_COOKIE);
        why!(
            ctx,
            V6,
            quoted.addr_src,
            "ICMP about {:i} port {} from our port {}: passed: bad cookie (quoted seq {:x} is not our SYN's)",
            target_port,
            scan_port,
            seq,
        );
        return Ok(Verdict::Pass);
    }
    emit::<V6>(
        ctx,
        ReplyEvent {
            ktime_ns: 0,
            addr: quoted.addr_src,
            target_port,
            scan_port,
            kind: kind::ICMP_UNREACH,
            family: ip.family,
            ttl: ip.ttl,
            icmp_code: code,
            seq: 0,
            window: 0,
            _pad: [0; 2],
        },
    )
}

#[inline(always)]
fn emit<const V6: bool>(ctx: &XdpContext, mut event: ReplyEvent) -> Result<Verdict, ()> {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    event.ktime_ns = unsafe { bpf_ktime_get_ns() };
    match EVENTS.output::<ReplyEvent>(&event, 0) {
        Ok(()) => bump(counter::MATCHED),
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

// What follows only runs with logging on: it looks for our port in frames the decision above
// gave up on early, to tell the operator which of them were probably replies to us. Each
// `explain_*` returns `Err(())` when the frame is too short to say anything, which callers
// ignore. Reads stay one `?` at a time: folding several bounds checks into one expression lets
// LLVM combine them with bit operations on packet pointers, which the verifier rejects.

/// TCP to one of our ports in an IPv4 (no options) / IPv6 packet at `off`: the packet's source
/// address, its port and ours.
#[inline(always)]
fn peek_tcp<const V6: bool>(
    ctx: &XdpContext,
    cfg: &XdpConfig,
    off: usize,
) -> Result<Option<(L3, u16, u16)>, ()> {
    let ip = l3::<V6>(ctx, off, false)?;
    if ip.proto != IPPROTO_TCP {
        return Ok(None);
    }
    let target_port = be16(ctx, ip.l4)?;
    let scan_port = be16(ctx, ip.l4 + 2)?;
    Ok(ours(cfg, scan_port).then_some((ip, target_port, scan_port)))
}

/// Not untagged Ethernet carrying IPv4/IPv6: a VLAN tag, or a bare IP packet (an interface
/// without a link header), with TCP to one of our ports inside.
#[inline(always)]
fn explain_link(ctx: &XdpContext, cfg: &XdpConfig, ethertype: u16) -> Result<(), ()> {
    match ethertype {
        ETH_P_8021Q | ETH_P_8021AD => match be16(ctx, ETH_HLEN + 2)? {
            ETH_P_IPV4 => explain_tagged::<false>(ctx, cfg, ethertype),
            ETH_P_IPV6 => explain_tagged::<true>(ctx, cfg, ethertype),
            _ => Ok(()),
        },
        _ => match bytes::<1>(ctx, 0)?[0] >> 4 {
            4 => explain_bare::<false>(ctx, cfg),
            6 => explain_bare::<true>(ctx, cfg),
            _ => Ok(()),
        },
    }
}

#[inline(always)]
fn explain_tagged<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig, tpid: u16) -> Result<(), ()> {
    if let Some((ip, target_port, scan_port)) = peek_tcp::<V6>(ctx, cfg, ETH_HLEN + VLAN_HLEN)? {
        why!(
            ctx,
            V6,
            ip.addr_src,
            "{:i} port {} -> our port {}: passed: VLAN-tagged (TPID {:x}); only untagged Ethernet is parsed",
            target_port,
            scan_port,
            tpid,
        );
    }
    Ok(())
}

#[inline(always)]
fn explain_bare<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig) -> Result<(), ()> {
    if let Some((ip, target_port, scan_port)) = peek_tcp::<V6>(ctx, cfg, 0)? {
        why!(
            ctx,
            V6,
            ip.addr_src,
            "{:i} port {} -> our port {}: passed: no Ethernet header (an L3 interface?); only Ethernet is parsed",
            target_port,
            scan_port,
        );
    }
    Ok(())
}

/// An IPv4 header `l3` refused: options, or the first fragment of a fragmented packet (later
/// fragments carry no TCP header, so nothing tells whose they are).
#[inline(always)]
fn explain_ipv4(ctx: &XdpContext, cfg: &XdpConfig, off: usize) -> Result<(), ()> {
    let version_ihl = bytes::<1>(ctx, off)?[0];
    // Bounded to 0..=60 bytes, which keeps the variable offsets below verifiable.
    let hlen = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || hlen < IPV4_HLEN {
        return Ok(());
    }
    let frag = be16(ctx, off + 6)?;
    let proto = bytes::<1>(ctx, off + 9)?[0];
    if frag & 0x1fff != 0 || proto != IPPROTO_TCP {
        return Ok(());
    }
    let src = bytes::<4>(ctx, off + 12)?;
    let target_port = be16(ctx, off + hlen)?;
    let scan_port = be16(ctx, off + hlen + 2)?;
    if !ours(cfg, scan_port) {
        return Ok(());
    }
    if hlen > IPV4_HLEN {
        why!(
            ctx,
            false,
            v4_mapped(src),
            "{:i} port {} -> our port {}: passed: IPv4 options ({} header bytes); replies to a SYN carry none",
            target_port,
            scan_port,
            hlen as u8,
        );
    } else {
        why!(
            ctx,
            false,
            v4_mapped(src),
            "{:i} port {} -> our port {}: passed: first IPv4 fragment; a reply to a SYN is never fragmented",
            target_port,
            scan_port,
        );
    }
    Ok(())
}

/// An IPv6 packet whose next header is an extension header: follows one (the usual case) to a
/// TCP segment to one of our ports.
#[inline(always)]
fn explain_ipv6_ext(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3, proto: u8) -> Result<(), ()> {
    let [next, len8] = bytes::<2>(ctx, ip.l4)?;
    let hlen = match proto {
        // Length in 8-octet units, not counting the first 8: at most 2 KiB.
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => (usize::from(len8) + 1) * 8,
        IPPROTO_FRAGMENT => {
            // Only the first fragment starts with the TCP header.
            if be16(ctx, ip.l4 + 2)? >> 3 != 0 {
                return Ok(());
            }
            8
        }
        _ => return Ok(()),
    };
    if next != IPPROTO_TCP {
        return Ok(());
    }
    let target_port = be16(ctx, ip.l4 + hlen)?;
    let scan_port = be16(ctx, ip.l4 + hlen + 2)?;
    if ours(cfg, scan_port) {
        why!(
            ctx,
            true,
            ip.addr_src,
            "{:i} port {} -> our port {}: passed: IPv6 extension header {}; replies to a SYN carry none",
            target_port,
            scan_port,
            proto,
        );
    }
    Ok(())
}

/// An ICMP error other than destination unreachable (time exceeded, packet too big, ...)
/// quoting a SYN from one of our ports.
#[inline(always)]
fn explain_icmp<const V6: bool>(
    ctx: &XdpContext,
    cfg: &XdpConfig,
    ip: &L3,
    typ: u8,
    code: u8,
) -> Result<(), ()> {
    let error = if V6 {
        (2..=4).contains(&typ)
    } else {
        matches!(typ, 4 | 5 | 11 | 12)
    };
    if !error {
        return Ok(());
    }
    let quoted = l3::<V6>(ctx, ip.l4 + 8, true)?;
    if quoted.proto != IPPROTO_TCP {
        return Ok(());
    }
    let scan_port = be16(ctx, quoted.l4)?;
    let target_port = be16(ctx, quoted.l4 + 2)?;
    if ours(cfg, scan_port) {
        why!(
            ctx,
            V6,
            quoted.addr_src,
            "ICMP about {:i} port {} from our port {}: passed: type {} code {} is not destination unreachable",
            target_port,
            scan_port,
            typ,
            code,
        );
    }
    Ok(())
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
