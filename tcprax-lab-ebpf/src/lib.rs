//! The contract between the benchmark's XDP responder (the `tcprax-responder` binary in
//! main.rs) and the lab that loads it (`tcprax_lab::responder`): map names, what their values
//! mean and the counter slots. Plain constants, so both sides compile them from one place.
//!
//! This lib target also lets `tcprax-lab` declare a build-dependency on this crate and be
//! rebuilt when it changes (see tcprax-lab/build.rs).
#![no_std]

/// `LpmTrie<[u8; 4], u8>`: IPv4 prefixes (address bytes in network order) → what the target
/// does for SYNs to them; the longest prefix wins. Addresses in no prefix are passed on.
pub const MAP_ADDRS: &str = "ADDRS";
/// Prefixes the responder holds at most.
pub const ADDRS_ENTRIES: u32 = 64;
/// `ADDRS` value: answer SYNs (SYN-ACK or RST+ACK, by port).
pub const ADDR_ANSWER: u8 = 1;
/// `ADDRS` value: drop SYNs without an answer (a filtered host).
pub const ADDR_SILENT: u8 = 2;

/// `Array<u8>` of 65,536 entries indexed by TCP port: [`PORT_OPEN`] answers SYN-ACK, anything
/// else (the default 0) RST+ACK.
pub const MAP_PORTS: &str = "PORTS";
pub const PORT_OPEN: u8 = 1;

/// `PerCpuArray<u64>` of [`counter::COUNT`] slots.
pub const MAP_COUNTERS: &str = "COUNTERS";

/// Slots of `COUNTERS`.
pub mod counter {
    /// Every frame the program saw.
    pub const SEEN: u32 = 0;
    /// SYNs answered with a SYN-ACK.
    pub const SYN_ACK: u32 = 1;
    /// SYNs answered with an RST+ACK.
    pub const RST: u32 = 2;
    /// SYNs to a silent address, dropped.
    pub const SILENT: u32 = 3;
    /// Other TCP to an answered or silent address (the scanner's RSTs, ACKs), dropped.
    pub const DROPPED: u32 = 4;
    /// Frames passed to the kernel (not TCP to a configured address, or malformed).
    pub const PASSED: u32 = 5;
    /// Not counts but times (`bpf_ktime_get_ns`, CLOCK_MONOTONIC) of the first and the last
    /// SYN this CPU handled: the sender's rate while it was sending. The loader zeroes them
    /// between runs.
    pub const FIRST_SYN_NS: u32 = 6;
    pub const LAST_SYN_NS: u32 = 7;
    pub const COUNT: u32 = 8;
}

/// The program that answers, for the target's interface.
pub const PROGRAM_RESPONDER: &str = "tcprax_responder";
/// A program that passes every frame: on this kernel a veth only receives the frames its peer
/// sends with XDP_TX while an XDP program runs on it, so a scanner that brings none gets this.
pub const PROGRAM_PASS: &str = "tcprax_pass";
