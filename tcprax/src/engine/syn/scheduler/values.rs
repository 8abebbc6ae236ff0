//! The plain values the scheduler takes in and hands out: a decoded [`Reply`] and the
//! [`Transmit`]s the shell must send. No state, no I/O.
use crate::wire::TcpSegment;
use std::net::IpAddr;
use tcprax_common::{ReplyEvent, kind, reply_flag};
/// What a validated reply says about a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// SYN+ACK: open.
    SynAck,
    /// RST: closed.
    Rst,
    /// ICMP / ICMPv6 destination unreachable quoting our SYN: filtered.
    Unreachable,
}

/// One validated reply, decoded from the ring buffer's [`ReplyEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The target's address.
    pub addr: IpAddr,
    /// The target's port.
    pub target_port: u16,
    /// Our source port the probe went out from.
    pub scan_port: u16,
    pub kind: ReplyKind,
    /// IP TTL / hop limit of the reply.
    pub ttl: u8,
    /// When the reply reached XDP (`bpf_ktime_get_ns`, CLOCK_MONOTONIC).
    pub ktime_ns: u64,
    /// The XDP program answered this SYN-ACK with our RST already (XDP_TX).
    pub rst_sent: bool,
}

impl From<&ReplyEvent> for Reply {
    fn from(ev: &ReplyEvent) -> Reply {
        let b = ev.addr;
        let addr = if ev.family == 4 {
            IpAddr::from([b[12], b[13], b[14], b[15]])
        } else {
            IpAddr::from(b)
        };
        Reply {
            addr,
            target_port: ev.target_port,
            scan_port: ev.scan_port,
            // The XDP program emits only these three kinds; anything else would be an ICMP
            // error by elimination, as it always was.
            kind: match ev.kind {
                kind::SYN_ACK => ReplyKind::SynAck,
                kind::RST => ReplyKind::Rst,
                _ => ReplyKind::Unreachable,
            },
            ttl: ev.ttl,
            ktime_ns: ev.ktime_ns,
            rst_sent: ev.flags & reply_flag::RST_SENT != 0,
        }
    }
}

/// A packet the shell must send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// A probe; `seq` is the cookie of its 4-tuple, `attempt` 0 for the first one.
    Syn {
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
        seq: u32,
        attempt: u8,
    },
    /// Our RST to an open port (its SYN-ACK never reached the kernel, so the kernel will not
    /// send one); `seq` is the probe's cookie + 1, the number the SYN-ACK acknowledged.
    Rst {
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
        seq: u32,
    },
}

impl Transmit {
    /// The segment to put on the wire.
    pub fn segment(&self) -> TcpSegment {
        match *self {
            Transmit::Syn {
                src,
                dst,
                src_port,
                dst_port,
                seq,
                ..
            } => TcpSegment::syn(src, dst, src_port, dst_port, seq),
            Transmit::Rst {
                src,
                dst,
                src_port,
                dst_port,
                seq,
            } => TcpSegment::rst(src, dst, src_port, dst_port, seq),
        }
    }
}
