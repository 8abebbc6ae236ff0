//! The benchmark's XDP responder: a target that answers SYNs in the driver, so that a sender
//! can be measured beyond what a kernel TCP stack on the same two vCPUs turns around.
//!
//! On the target's veth, for IPv4 TCP to an address in `ADDRS` (Ethernet, no VLAN tag, a
//! 20-byte IP header; anything else is passed to the kernel untouched):
//! - a SYN to an *answered* address becomes, in place, a SYN-ACK (port open in `PORTS`) or an
//!   RST+ACK (any other port): MAC addresses, IP addresses and ports swapped, `ack = seq + 1`,
//!   the TCP checksum updated incrementally (RFC 1624) over the words that changed; the
//!   scanner's TCP options stay, the IP header keeps its checksum (a swap does not change it).
//!   The frame goes back out with XDP_TX;
//! - a SYN to a *silent* address is dropped (a filtered host);
//! - any other TCP to those addresses (the scanner's RSTs and ACKs) is dropped, so no kernel
//!   sees a connection it never made.
//!
//! The contract with the loader (map names, values, counters) is in this crate's lib.rs.
//!
//! Only a BPF target builds the program; on the host (`cargo build --workspace`, clippy) the
//! binary is an empty stub, so host builds of the workspace need not exclude this crate.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
mod program;

#[cfg(not(target_arch = "bpf"))]
fn main() {}
