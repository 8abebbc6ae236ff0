//! The responder's programs (see main.rs).

use aya_ebpf::{
    bindings::xdp_action,
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{Array, LpmTrie, PerCpuArray, lpm_trie::Key},
    programs::XdpContext,
};
use tcprax_lab_ebpf::{ADDR_ANSWER, ADDR_SILENT, ADDRS_ENTRIES, PORT_OPEN, counter};

#[map(name = "ADDRS")]
static ADDRS: LpmTrie<[u8; 4], u8> = LpmTrie::with_max_entries(ADDRS_ENTRIES, 0);

#[map(name = "PORTS")]
static PORTS: Array<u8> = Array::with_max_entries(65_536, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

const ETH_P_IPV4: u16 = 0x0800;
const IPPROTO_TCP: u8 = 6;
/// Ethernet, IPv4 without options, TCP without options: all the responder reads or writes.
const HEADERS: usize = 14 + 20 + 20;
// Offsets in the frame.
const ETHERTYPE: usize = 12;
const IP_VER_IHL: usize = 14;
const IP_FRAG: usize = 20;
const IP_PROTO: usize = 23;
const IP_SRC: usize = 26;
const IP_DST: usize = 30;
const TCP: usize = 34;
const TCP_SPORT: usize = TCP;
const TCP_DPORT: usize = TCP + 2;
const TCP_SEQ: usize = TCP + 4;
const TCP_ACK: usize = TCP + 8;
const TCP_OFF_FLAGS: usize = TCP + 12;
const TCP_FLAGS: usize = TCP + 13;
const TCP_WINDOW: usize = TCP + 14;
const TCP_CHECK: usize = TCP + 16;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

#[xdp]
pub fn tcprax_responder(ctx: XdpContext) -> u32 {
    bump(counter::SEEN);
    match try_respond(&ctx) {
        Ok(action) => action,
        Err(()) => {
            bump(counter::PASSED);
            xdp_action::XDP_PASS
        }
    }
}

/// For a scanner's veth whose scanner brings no XDP program (see lib.rs).
#[xdp]
pub fn tcprax_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[inline(always)]
fn bump(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
        unsafe { *slot += 1 };
    }
}

/// Record the time of this SYN: the first one's once, the last one's always (per CPU).
#[inline(always)]
fn stamp() {
    // SAFETY: the helper has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(first) = COUNTERS.get_ptr_mut(counter::FIRST_SYN_NS) {
        // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
        unsafe {
            if *first == 0 {
                *first = now;
            }
        }
    }
    if let Some(last) = COUNTERS.get_ptr_mut(counter::LAST_SYN_NS) {
        // SAFETY: as above.
        unsafe { *last = now };
    }
}

#[inline(always)]
fn be16(f: &[u8; HEADERS], at: usize) -> u16 {
    u16::from_be_bytes([f[at], f[at + 1]])
}

#[inline(always)]
fn be32(f: &[u8; HEADERS], at: usize) -> u32 {
    u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]])
}

#[inline(always)]
fn put16(f: &mut [u8; HEADERS], at: usize, v: u16) {
    let b = v.to_be_bytes();
    f[at] = b[0];
    f[at + 1] = b[1];
}

#[inline(always)]
fn put32(f: &mut [u8; HEADERS], at: usize, v: u32) {
    let b = v.to_be_bytes();
    f[at..at + 4].copy_from_slice(&b);
}

#[inline(always)]
fn swap<const N: usize>(f: &mut [u8; HEADERS], a: usize, b: usize) {
    let mut i = 0;
    while i < N {
        f.swap(a + i, b + i);
        i += 1;
    }
}

/// RFC 1624 eqn. 3: the checksum after 16-bit words changed from `old` to `new`.
#[inline(always)]
fn checksum_update(check: u16, old: [u16; 6], new: [u16; 6]) -> u16 {
    let mut sum = u32::from(!check);
    let mut i = 0;
    while i < 6 {
        sum += u32::from(!old[i]) + u32::from(new[i]);
        i += 1;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// The words of the TCP header the answer changes: sequence and acknowledgment numbers, data
/// offset + flags, window.
#[inline(always)]
fn changing_words(f: &[u8; HEADERS]) -> [u16; 6] {
    [
        be16(f, TCP_SEQ),
        be16(f, TCP_SEQ + 2),
        be16(f, TCP_ACK),
        be16(f, TCP_ACK + 2),
        be16(f, TCP_OFF_FLAGS),
        be16(f, TCP_WINDOW),
    ]
}

#[inline(always)]
fn try_respond(ctx: &XdpContext) -> Result<u32, ()> {
    let at = ctx.data();
    if at + HEADERS > ctx.data_end() {
        return Err(());
    }
    let frame = at as *mut [u8; HEADERS];
    // SAFETY: [at, at + HEADERS) was just checked to lie in the frame.
    let mut f = unsafe { core::ptr::read_unaligned(frame) };
    if be16(&f, ETHERTYPE) != ETH_P_IPV4
        || f[IP_VER_IHL] != 0x45
        || f[IP_PROTO] != IPPROTO_TCP
        || be16(&f, IP_FRAG) & 0x3fff != 0
    {
        return Err(());
    }
    let dst = [f[IP_DST], f[IP_DST + 1], f[IP_DST + 2], f[IP_DST + 3]];
    let what = *ADDRS.get(Key::new(32, dst)).ok_or(())?;
    let flags = f[TCP_FLAGS];
    if flags & (RST | ACK) != 0 {
        bump(counter::DROPPED);
        return Ok(xdp_action::XDP_DROP);
    }
    if flags & (SYN | FIN) != SYN {
        return Err(());
    }
    stamp();
    if what == ADDR_SILENT {
        bump(counter::SILENT);
        return Ok(xdp_action::XDP_DROP);
    }
    if what != ADDR_ANSWER {
        return Err(());
    }
    let dport = be16(&f, TCP_DPORT);
    let open = PORTS.get(u32::from(dport)).copied() == Some(PORT_OPEN);

    let old = changing_words(&f);
    let seq = be32(&f, TCP_SEQ);
    // Any initial sequence number does; this one differs from the probe's and is stable.
    put32(&mut f, TCP_SEQ, if open { !seq } else { 0 });
    put32(&mut f, TCP_ACK, seq.wrapping_add(1));
    f[TCP_FLAGS] = if open { SYN | ACK } else { RST | ACK };
    if !open {
        put16(&mut f, TCP_WINDOW, 0);
    }
    let new = changing_words(&f);
    let check = checksum_update(be16(&f, TCP_CHECK), old, new);
    put16(&mut f, TCP_CHECK, check);
    swap::<6>(&mut f, 0, 6);
    swap::<4>(&mut f, IP_SRC, IP_DST);
    swap::<2>(&mut f, TCP_SPORT, TCP_DPORT);
    // SAFETY: the same checked range as the read above.
    unsafe { core::ptr::write_unaligned(frame, f) };
    bump(if open { counter::SYN_ACK } else { counter::RST });
    Ok(xdp_action::XDP_TX)
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
