//! Packet bytes: building the SYN probes and RSTs the scanner sends, and parsing IP/TCP packets
//! back (used by tests and by anything that needs to read a reply in userspace).
//!
//! smoltcp-style split: a semantic [`TcpSegment`] with `buffer_len`, `emit` and `parse`; the
//! byte-level views come from pnet_packet, which stays inside this module.
pub mod tcp;
pub mod tls;

pub use tcp::{TcpFlags, TcpSegment, WireError};
