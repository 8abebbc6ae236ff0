//! The contract between the tcprax XDP program and userspace.
//!
//! Everything here is shared verbatim by both sides: the `#[repr(C)]` structs that cross the
//! kernel/user boundary (explicit padding, sizes pinned by `const` assertions), the indices of
//! the per-CPU counters, and the validation cookie, so the kernel and the sender can never
//! disagree on how a probe is keyed.
#![no_std]

/// Name of the XDP program inside the object file.
pub const PROGRAM_NAME: &str = "tcprax";
/// Map names inside the object file.
pub const MAP_CONFIG: &str = "CONFIG";
pub const MAP_EVENTS: &str = "EVENTS";
pub const MAP_COUNTERS: &str = "COUNTERS";
pub const MAP_REPORTED: &str = "REPORTED";
/// Load-time switch (a read-only global, `u8`): 1 makes the program explain through aya-log why
/// it passed a frame that looks like one of ours. Off (0) unless the loader overrides it.
pub const GLOBAL_LOG: &str = "TCPRAX_LOG";
/// Load-time constant (a read-only global, `u8`): the interface's link type, one of [`link`].
/// [`link::ETHERNET`] unless the loader overrides it.
///
/// A global rather than an [`XdpConfig`] field: the link type is known before the program is
/// loaded and never changes while it is attached, so the verifier sees its value and prunes
/// the parser of the other link type, as for [`GLOBAL_LOG`].
pub const GLOBAL_LINK: &str = "TCPRAX_LINK";

/// How a frame starts on the interface the program is attached to (see [`GLOBAL_LINK`]).
pub mod link {
    /// An Ethernet header, then up to two VLAN tags (802.1ad, 802.1Q) before IPv4/IPv6.
    /// Ethernet devices, taps, bridges, veth, loopback.
    pub const ETHERNET: u8 = 0;
    /// No link header: the IP header is at offset 0 and its version nibble says which.
    /// L3 devices: tun, WireGuard, ipip/sit/gre tunnels, PPP, raw-IP modems.
    pub const IP: u8 = 1;
}

/// Size of the ring buffer the XDP program writes reply events into (bytes, power of two).
pub const EVENTS_BYTES: u32 = 1 << 22;
/// Bytes of one event in the ring buffer: the kernel's 8-byte record header, then the
/// [`ReplyEvent`] (already a multiple of 8).
pub const EVENT_RECORD_BYTES: u64 = 8 + core::mem::size_of::<ReplyEvent>() as u64;
/// The program wakes the reader only when the unread events reach this many bytes (128
/// events); below it, records are written without a wakeup and the reader drains the ring
/// buffer on a short timer of its own ([`EVENTS_DRAIN_MS`]). A wakeup per burst of replies
/// costs an inter-processor interrupt and two context switches, which at a few hundred
/// thousand replies a second was a measurable share of the scan's CPU.
pub const EVENTS_WAKE_BYTES: u64 = 128 * EVENT_RECORD_BYTES;
/// How often the reader drains the ring buffer without being woken (milliseconds): the most
/// a reply waits there when fewer than [`EVENTS_WAKE_BYTES`] arrive.
pub const EVENTS_DRAIN_MS: u64 = 1;

/// Sets of the `REPORTED` cache (a power of two), each of [`REPORTED_WAYS`] slots: the
/// probes whose reply is in the ring buffer already, so that a repeat is dropped without a
/// second event. 65,536 probes in all.
pub const REPORTED_SETS: u32 = 1 << 14;
/// Slots per `REPORTED` set.
pub const REPORTED_WAYS: usize = 4;

/// Scan parameters written by userspace into the single-entry `CONFIG` array before any
/// probe is sent. While `enabled == 0` the program passes everything (counting only).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpConfig {
    /// SipHash key, random per scan.
    pub key0: u64,
    pub key1: u64,
    /// Inclusive range of the scanner's source ports (host byte order).
    pub port_lo: u16,
    pub port_hi: u16,
    /// 1 = match and drop validated replies; 0 = observe only.
    pub enabled: u8,
    /// 1 = answer each validated SYN-ACK with our RST from inside the program: the frame is
    /// rewritten in place and sent back out of the interface (XDP_TX), and its event carries
    /// [`reply_flag::RST_SENT`]. Only where XDP_TX reaches the wire (userspace decides per
    /// interface); on 0, or where the rewrite does not apply, userspace sends the RST.
    pub rst: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<XdpConfig>() == 24);

/// What a validated reply was.
pub mod kind {
    /// SYN+ACK: the port is open.
    pub const SYN_ACK: u8 = 1;
    /// RST: the port is closed.
    pub const RST: u8 = 2;
    /// ICMP / ICMPv6 destination unreachable quoting one of our SYNs: filtered.
    pub const ICMP_UNREACH: u8 = 3;
}

/// One validated reply, pushed by the XDP program into the `EVENTS` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyEvent {
    /// `bpf_ktime_get_ns()` when the reply reached XDP (CLOCK_MONOTONIC).
    pub ktime_ns: u64,
    /// The target's address; IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`).
    pub addr: [u8; 16],
    /// The target's port (host byte order).
    pub target_port: u16,
    /// Our source port the probe was sent from (host byte order).
    pub scan_port: u16,
    /// One of [`kind`].
    pub kind: u8,
    /// 4 or 6.
    pub family: u8,
    /// IP TTL / hop limit of the reply (of the ICMP packet for `ICMP_UNREACH`).
    pub ttl: u8,
    /// ICMP code for `ICMP_UNREACH`, else 0.
    pub icmp_code: u8,
    /// The target's sequence number (host byte order): our RST for an open port uses ack = seq+1.
    pub seq: u32,
    /// TCP window of the reply.
    pub window: u16,
    /// Bits of [`reply_flag`].
    pub flags: u8,
    pub _pad: [u8; 1],
}
const _: () = assert!(core::mem::size_of::<ReplyEvent>() == 40);

/// Bits of [`ReplyEvent::flags`].
pub mod reply_flag {
    /// The program answered this SYN-ACK with our RST itself (XDP_TX): userspace must not
    /// send another.
    pub const RST_SENT: u8 = 1;
}

/// Indices into the per-CPU `COUNTERS` array.
pub mod counter {
    /// Every frame the program looked at.
    pub const SEEN: u32 = 0;
    /// Validated replies, pushed to the ring buffer and dropped.
    pub const MATCHED: u32 = 1;
    /// Frames passed to the kernel (not ours).
    pub const PASSED: u32 = 2;
    /// Validated replies dropped although the ring buffer was full (the probe will be retried).
    pub const RINGBUF_FULL: u32 = 3;
    /// TCP to a port in our range whose cookie did not check out (passed).
    pub const BAD_COOKIE: u32 = 4;
    /// Validated replies to a probe whose reply was already reported (dropped, no event): a
    /// retransmitted SYN-ACK, or a target replaying one to fill the ring buffer.
    pub const REPEATS: u32 = 5;
    /// SYN-ACKs answered with our RST from inside the program (XDP_TX), repeats included.
    pub const RST_TX: u32 = 6;
    pub const COUNT: u32 = 7;
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: the types are #[repr(C)], contain only integers and explicit padding, so every
    // bit pattern is valid and there are no hidden padding bytes.
    unsafe impl aya::Pod for super::XdpConfig {}
    unsafe impl aya::Pod for super::ReplyEvent {}
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

#[inline(always)]
fn sip_compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

/// SipHash-2-4 of exactly 24 bytes given as three little-endian words.
///
/// Written out for a fixed length (no loops over a buffer) so the eBPF verifier accepts it;
/// the userspace tests check it against a reference SipHash implementation.
#[inline(always)]
pub fn siphash24_3w(key0: u64, key1: u64, m: [u64; 3]) -> u64 {
    let mut v = [
        key0 ^ 0x736f_6d65_7073_6575,
        key1 ^ 0x646f_7261_6e64_6f6d,
        key0 ^ 0x6c79_6765_6e65_7261,
        key1 ^ 0x7465_6462_7974_6573,
    ];
    sip_compress(&mut v, m[0]);
    sip_compress(&mut v, m[1]);
    sip_compress(&mut v, m[2]);
    // Final block: message length (24) in the top byte, no tail bytes.
    sip_compress(&mut v, 24u64 << 56);
    v[2] ^= 0xff;
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The validation cookie of a probe: the initial sequence number of our SYN.
///
/// Keyed over the 4-tuple as seen from the scanner: the target's address (IPv4-mapped for
/// IPv4; our own address is fixed for a scan and covered by the per-scan key), the target's
/// port and our source port. A reply is ours iff its ack number is `cookie + 1` (SYN-ACK, RST)
/// or the SYN quoted in an ICMP error carries `cookie` as its sequence number.
#[inline(always)]
pub fn cookie(key0: u64, key1: u64, addr: &[u8; 16], target_port: u16, scan_port: u16) -> u32 {
    probe_hash(key0, key1, addr, target_port, scan_port) as u32
}

/// The whole keyed hash whose low half is the probe's [`cookie`]. The high half never goes on
/// the wire: the XDP program's `REPORTED` cache picks a probe's set from it, so a target that
/// sees our cookies still cannot tell which probes share a set.
#[inline(always)]
pub fn probe_hash(key0: u64, key1: u64, addr: &[u8; 16], target_port: u16, scan_port: u16) -> u64 {
    let m0 = u64::from_le_bytes([
        addr[0], addr[1], addr[2], addr[3], addr[4], addr[5], addr[6], addr[7],
    ]);
    let m1 = u64::from_le_bytes([
        addr[8], addr[9], addr[10], addr[11], addr[12], addr[13], addr[14], addr[15],
    ]);
    let m2 = (target_port as u64) | ((scan_port as u64) << 16);
    siphash24_3w(key0, key1, [m0, m1, m2])
}

/// `addr` of an IPv4 address as stored in [`ReplyEvent::addr`] and hashed by [`cookie`].
#[inline(always)]
pub fn v4_mapped(octets: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, octets[0], octets[1], octets[2], octets[3],
    ]
}
