//! The tcprax XDP program: catches replies to the SYN scanner before the kernel sees them.
//!
//! For each frame: Ethernet -> IPv4/IPv6 -> TCP, or ICMP/ICMPv6 destination-unreachable quoting
//! a TCP segment. A frame is *ours* only if the scanner's port (TCP destination port, or the
//! quoted segment's source port) lies in the configured range AND the validation cookie checks
//! out (SYN-ACK/RST: `ack - 1 == cookie`; ICMP: quoted `seq == cookie`). Ours: an event goes
//! into the ring buffer and the frame is dropped, so the kernel never answers it with an RST.
//! Everything else, including anything malformed or unexpected, is passed untouched.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action,
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{Array, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use tcprax_common::{EVENTS_BYTES, ReplyEvent, XdpConfig, cookie, counter, kind, v4_mapped};

#[map(name = "CONFIG")]
static CONFIG: Array<XdpConfig> = Array::with_max_entries(1, 0);

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

const ETH_HLEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const IPV6_HLEN: usize = 40;
const IPV4_HLEN: usize = 20;
const TCP_FIN_SYN_RST_ACK: u8 = 0x17;
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
        _ => Ok(Verdict::Pass),
    }
}

#[inline(always)]
fn per_family<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig) -> Result<Verdict, ()> {
    let ip = l3::<V6>(ctx, ETH_HLEN, false)?;
    match ip.proto {
        IPPROTO_TCP => tcp_reply(ctx, cfg, &ip),
        IPPROTO_ICMP if !V6 => icmp_error::<V6>(ctx, cfg, &ip),
        IPPROTO_ICMPV6 if V6 => icmp_error::<V6>(ctx, cfg, &ip),
        _ => Ok(Verdict::Pass),
    }
}

/// A SYN-ACK or RST answering one of our SYNs.
#[inline(always)]
fn tcp_reply(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3) -> Result<Verdict, ()> {
    let t = ip.l4;
    let target_port = be16(ctx, t)?;
    let scan_port = be16(ctx, t + 2)?;
    if scan_port < cfg.port_lo || scan_port > cfg.port_hi {
        return Ok(Verdict::Pass);
    }
    let flags = bytes::<1>(ctx, t + 13)?[0] & TCP_FIN_SYN_RST_ACK;
    let event_kind = match flags {
        TCP_SYN_ACK => kind::SYN_ACK,
        TCP_RST_ACK => kind::RST,
        // A bare ACK in our range is a half-open connection's challenge ACK or stray traffic:
        // it carries no verdict, and passing it keeps the host's own traffic untouched.
        _ => return Ok(Verdict::Pass),
    };
    let seq = be32(ctx, t + 4)?;
    let ack = be32(ctx, t + 8)?;
    let expect = cookie(cfg.key0, cfg.key1, &ip.addr_src, target_port, scan_port);
    if ack.wrapping_sub(1) != expect {
        bump(counter::BAD_COOKIE);
        return Ok(Verdict::Pass);
    }
    let window = be16(ctx, t + 14)?;
    emit(ReplyEvent {
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
    })
}

/// ICMP (type 3) / ICMPv6 (type 1) destination unreachable quoting one of our SYNs.
#[inline(always)]
fn icmp_error<const V6: bool>(ctx: &XdpContext, cfg: &XdpConfig, ip: &L3) -> Result<Verdict, ()> {
    let typ = bytes::<1>(ctx, ip.l4)?[0];
    let code = bytes::<1>(ctx, ip.l4 + 1)?[0];
    if typ != if V6 { 1 } else { 3 } {
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
    if scan_port < cfg.port_lo || scan_port > cfg.port_hi {
        return Ok(Verdict::Pass);
    }
    let seq = be32(ctx, q + 4)?;
    if seq != cookie(cfg.key0, cfg.key1, &quoted.addr_src, target_port, scan_port) {
        bump(counter::BAD_COOKIE);
        return Ok(Verdict::Pass);
    }
    emit(ReplyEvent {
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
    })
}

#[inline(always)]
fn emit(mut event: ReplyEvent) -> Result<Verdict, ()> {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    event.ktime_ns = unsafe { bpf_ktime_get_ns() };
    match EVENTS.output::<ReplyEvent>(&event, 0) {
        Ok(()) => bump(counter::MATCHED),
        // The reply is validated as ours: letting it through would make the kernel RST the
        // target. Drop it and count it; the scheduler retries the unanswered probe.
        Err(_) => bump(counter::RINGBUF_FULL),
    }
    Ok(Verdict::Drop)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
