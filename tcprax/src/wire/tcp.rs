//! IPv4/IPv6 + TCP segments as the scanner sends them: SYN probes (with an MSS option, so real
//! stacks answer as they would to an ordinary client) and bare RSTs.
use pnet_packet::Packet as _;
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::tcp::{self, TcpPacket};
use std::net::IpAddr;

const IPV4_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
const TCP_HLEN: usize = 20;
/// MSS option: kind 2, length 4, value.
const MSS_OPTION_LEN: usize = 4;
/// TTL / hop limit of our probes.
pub const PROBE_TTL: u8 = 64;
const IPPROTO_TCP: u8 = 6;

/// The one's-complement sum (not yet folded) of `b` as big-endian 16-bit words; an odd last
/// byte is padded with zero. Headers are at most 60 bytes, far from overflowing 32 bits.
fn sum_words(b: &[u8]) -> u32 {
    let mut chunks = b.chunks_exact(2);
    let mut sum: u32 = chunks
        .by_ref()
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a one's-complement sum to 16 bits.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The TCP flag bits the scanner cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit == bit
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("buffer of {have} bytes is too short for a {need}-byte packet")]
    BufferTooShort { have: usize, need: usize },
    #[error("source {src} and destination {dst} are of different address families")]
    MixedFamilies { src: IpAddr, dst: IpAddr },
    #[error("packet truncated: {what}")]
    Truncated { what: &'static str },
    #[error("not an IPv4/IPv6 packet (version nibble {version})")]
    BadVersion { version: u8 },
    #[error("IP protocol {protocol} is not TCP")]
    NotTcp { protocol: u8 },
    #[error("bad TCP checksum")]
    BadChecksum,
}

/// One TCP segment with its IP header, as the scanner sends it (no payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// MSS option (SYNs carry one).
    pub mss: Option<u16>,
}

impl TcpSegment {
    /// The SYN probe for `dst:dst_port` from `src:src_port` with `cookie` as its sequence number.
    pub fn syn(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, cookie: u32) -> Self {
        TcpSegment {
            src,
            dst,
            src_port,
            dst_port,
            seq: cookie,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            mss: Some(1460),
        }
    }

    /// The RST that tears down the half-open connection a SYN-ACK announced: its sequence
    /// number is the one the target expects next, our ISN + 1 (= the SYN-ACK's ack number).
    pub fn rst(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, seq: u32) -> Self {
        TcpSegment {
            src,
            dst,
            src_port,
            dst_port,
            seq,
            ack: 0,
            flags: TcpFlags(TcpFlags::RST),
            window: 0,
            mss: None,
        }
    }

    fn ip_hlen(&self) -> usize {
        if self.dst.is_ipv4() {
            IPV4_HLEN
        } else {
            IPV6_HLEN
        }
    }

    fn tcp_len(&self) -> usize {
        TCP_HLEN
            + if self.mss.is_some() {
                MSS_OPTION_LEN
            } else {
                0
            }
    }

    /// Bytes `emit` writes: IP header + TCP header (+ options).
    pub fn buffer_len(&self) -> usize {
        self.ip_hlen() + self.tcp_len()
    }

    /// Write the packet (starting at the IP header) into `buf`, checksums included.
    /// Returns the number of bytes written.
    ///
    /// Every probe of a scan goes through here, so the headers are written field by field and
    /// both checksums summed in the same pass (`pnet_packet`'s builders allocate for the MSS
    /// option and walk the bytes again for each checksum: 2.5× the time, measured by the
    /// tests' `emit_ns_per_segment`, docs/benchmark.md). The tests hold the bytes to
    /// `pnet_packet`'s.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let need = self.buffer_len();
        if buf.len() < need {
            return Err(WireError::BufferTooShort {
                have: buf.len(),
                need,
            });
        }
        let ip_hlen = self.ip_hlen();
        let tcp_len = self.tcp_len();
        let (ip, rest) = buf.split_at_mut(ip_hlen);
        let tcp = &mut rest[..tcp_len];
        // The pseudo-header's addresses, written into the IP header as they are summed.
        let addrs = match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let (s, d) = (s.octets(), d.octets());
                ip[0] = 0x45;
                ip[1] = 0;
                ip[2..4].copy_from_slice(&(need as u16).to_be_bytes());
                // The ID is folded from the sequence number: cheap, varied, and stateless.
                let id = (self.seq >> 16) as u16 ^ self.seq as u16;
                ip[4..6].copy_from_slice(&id.to_be_bytes());
                ip[6..8].copy_from_slice(&[0x40, 0]); // DF, no fragment offset
                ip[8] = PROBE_TTL;
                ip[9] = IPPROTO_TCP;
                ip[10..12].fill(0);
                ip[12..16].copy_from_slice(&s);
                ip[16..20].copy_from_slice(&d);
                let check = !fold(sum_words(ip));
                ip[10..12].copy_from_slice(&check.to_be_bytes());
                sum_words(&s) + sum_words(&d)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let (s, d) = (s.octets(), d.octets());
                // Version 6, traffic class 0, flow label 0.
                ip[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
                ip[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
                ip[6] = IPPROTO_TCP;
                ip[7] = PROBE_TTL;
                ip[8..24].copy_from_slice(&s);
                ip[24..40].copy_from_slice(&d);
                sum_words(&s) + sum_words(&d)
            }
            (src, dst) => return Err(WireError::MixedFamilies { src, dst }),
        };
        tcp[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        tcp[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        tcp[4..8].copy_from_slice(&self.seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&self.ack.to_be_bytes());
        tcp[12] = ((tcp_len / 4) as u8) << 4;
        tcp[13] = self.flags.0;
        tcp[14..16].copy_from_slice(&self.window.to_be_bytes());
        tcp[16..20].fill(0); // checksum (below), urgent pointer
        if let Some(mss) = self.mss {
            tcp[20..22].copy_from_slice(&[2, MSS_OPTION_LEN as u8]);
            tcp[22..24].copy_from_slice(&mss.to_be_bytes());
        }
        let pseudo = addrs + u32::from(IPPROTO_TCP) + tcp_len as u32;
        let check = !fold(pseudo + sum_words(tcp));
        tcp[16..18].copy_from_slice(&check.to_be_bytes());
        Ok(need)
    }

    /// Parse an IPv4 or IPv6 packet carrying TCP, verifying the TCP checksum.
    pub fn parse(packet: &[u8]) -> Result<TcpSegment, WireError> {
        let version = packet.first().ok_or(WireError::Truncated {
            what: "empty packet",
        })? >> 4;
        let (src, dst, tcp_bytes): (IpAddr, IpAddr, &[u8]) = match version {
            4 => {
                let ip = Ipv4Packet::new(packet).ok_or(WireError::Truncated {
                    what: "IPv4 header",
                })?;
                let hlen = ip.get_header_length() as usize * 4;
                let total = (ip.get_total_length() as usize).min(packet.len());
                if hlen < IPV4_HLEN || total < hlen {
                    return Err(WireError::Truncated {
                        what: "IPv4 header length",
                    });
                }
                let proto = ip.get_next_level_protocol();
                if proto != IpNextHeaderProtocols::Tcp {
                    return Err(WireError::NotTcp { protocol: proto.0 });
                }
                (
                    ip.get_source().into(),
                    ip.get_destination().into(),
                    &packet[hlen..total],
                )
            }
            6 => {
                let ip = Ipv6Packet::new(packet).ok_or(WireError::Truncated {
                    what: "IPv6 header",
                })?;
                let proto = ip.get_next_header();
                if proto != IpNextHeaderProtocols::Tcp {
                    return Err(WireError::NotTcp { protocol: proto.0 });
                }
                let end = (IPV6_HLEN + ip.get_payload_length() as usize).min(packet.len());
                (
                    ip.get_source().into(),
                    ip.get_destination().into(),
                    &packet[IPV6_HLEN..end],
                )
            }
            v => return Err(WireError::BadVersion { version: v }),
        };
        let t = TcpPacket::new(tcp_bytes).ok_or(WireError::Truncated { what: "TCP header" })?;
        let off = t.get_data_offset() as usize * 4;
        if off < TCP_HLEN || off > tcp_bytes.len() {
            return Err(WireError::Truncated {
                what: "TCP data offset",
            });
        }
        let csum = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&t, &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&t, &s, &d),
            (src, dst) => return Err(WireError::MixedFamilies { src, dst }),
        };
        if csum != t.get_checksum() {
            return Err(WireError::BadChecksum);
        }
        let mss = parse_mss(&tcp_bytes[TCP_HLEN..off]);
        let _ = t.payload();
        Ok(TcpSegment {
            src,
            dst,
            src_port: t.get_source(),
            dst_port: t.get_destination(),
            seq: t.get_sequence(),
            ack: t.get_acknowledgement(),
            flags: TcpFlags(t.get_flags()),
            window: t.get_window(),
            mss,
        })
    }
}

/// The MSS value from raw TCP options, if present and well-formed.
fn parse_mss(mut opts: &[u8]) -> Option<u16> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = &opts[1..],
            _ => {
                let len = *opts.get(1)? as usize;
                if len < 2 || len > opts.len() {
                    return None;
                }
                if kind == 2 && len == 4 {
                    return Some(u16::from_be_bytes([opts[2], opts[3]]));
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const S4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    const D4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));

    #[test]
    fn syn_v4_golden_bytes() {
        let seg = TcpSegment::syn(S4, D4, 61000, 80, 0x0102_0304);
        let mut buf = [0xa5u8; 64];
        let n = seg.emit(&mut buf).unwrap();
        assert_eq!(n, 44);
        // Bytes past the packet are untouched.
        assert!(buf[44..].iter().all(|&b| b == 0xa5));
        let expect: [u8; 44] = [
            0x45, 0x00, 0x00, 0x2c, // v4, ihl 5, tos 0, total 44
            0x02, 0x06, 0x40, 0x00, // id = 0x0102 ^ 0x0304, DF
            0x40, 0x06, 0x00, 0x00, // ttl 64, tcp, checksum (patched below)
            198, 18, 0, 1, 198, 18, 0, 2, //
            0xee, 0x48, 0x00, 0x50, // 61000 -> 80
            0x01, 0x02, 0x03, 0x04, // seq
            0x00, 0x00, 0x00, 0x00, // ack
            0x60, 0x02, 0xfa, 0xf0, // data offset 6, SYN, window 64240
            0x00, 0x00, 0x00, 0x00, // checksum (patched below), urgent
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
        ];
        let mut want = expect;
        want[10..12].copy_from_slice(&buf[10..12]);
        want[36..38].copy_from_slice(&buf[36..38]);
        assert_eq!(&buf[..44], &want[..]);
        // The checksums are independently right: the one's-complement sum over the header
        // (and over the pseudo-header + segment) folds to 0xffff.
        assert_eq!(ones_sum(&buf[..20]), 0xffff);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&buf[12..20]);
        pseudo.extend_from_slice(&[0, 6, 0, 24]);
        pseudo.extend_from_slice(&buf[20..44]);
        assert_eq!(ones_sum(&pseudo), 0xffff);
    }

    fn ones_sum(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for chunk in bytes.chunks(2) {
            let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
            sum += word as u32;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn round_trip_v4_and_v6() {
        let s6 = IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1));
        let d6 = IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2));
        for seg in [
            TcpSegment::syn(S4, D4, 61000, 443, 0xdead_beef),
            TcpSegment::rst(S4, D4, 61001, 22, 7),
            TcpSegment::syn(s6, d6, 65535, 1, 42),
            TcpSegment::rst(s6, d6, 61000, 8080, u32::MAX),
        ] {
            let mut buf = vec![0xa5; seg.buffer_len()];
            seg.emit(&mut buf).unwrap();
            assert_eq!(TcpSegment::parse(&buf).unwrap(), seg);
        }
    }

    #[test]
    fn corrupted_checksum_is_rejected() {
        let seg = TcpSegment::syn(S4, D4, 61000, 80, 1);
        let mut buf = vec![0; seg.buffer_len()];
        seg.emit(&mut buf).unwrap();
        buf[30] ^= 0x40;
        assert_eq!(TcpSegment::parse(&buf), Err(WireError::BadChecksum));
    }

    #[test]
    fn short_buffers_and_garbage_are_errors_not_panics() {
        let seg = TcpSegment::syn(S4, D4, 61000, 80, 1);
        let mut small = [0u8; 10];
        assert!(matches!(
            seg.emit(&mut small),
            Err(WireError::BufferTooShort { .. })
        ));
        let mut buf = vec![0; seg.buffer_len()];
        seg.emit(&mut buf).unwrap();
        for len in 0..buf.len() {
            let _ = TcpSegment::parse(&buf[..len]);
        }
        assert!(TcpSegment::parse(&[0x45]).is_err());
        assert!(TcpSegment::parse(&[0x75; 60]).is_err());
        // An IHL pointing past the end.
        let mut bad = buf.clone();
        bad[0] = 0x4f;
        assert!(TcpSegment::parse(&bad).is_err());
    }

    use pnet_packet::ip::IpNextHeaderProtocols;
    use pnet_packet::ipv4::{self, MutableIpv4Packet};
    use pnet_packet::ipv6::MutableIpv6Packet;
    use pnet_packet::tcp::{self, MutableTcpPacket, TcpOption};

    /// The packet as `pnet_packet` builds it: what [`TcpSegment::emit`] did before it wrote
    /// the headers itself, kept as its reference.
    fn emit_with_pnet(seg: &TcpSegment, buf: &mut [u8]) -> Result<usize, WireError> {
        let need = seg.buffer_len();
        if buf.len() < need {
            return Err(WireError::BufferTooShort {
                have: buf.len(),
                need,
            });
        }
        let buf = &mut buf[..need];
        let ip_hlen = seg.ip_hlen();
        let tcp_len = seg.tcp_len();
        {
            let (_, tcp_buf) = buf.split_at_mut(ip_hlen);
            tcp_buf.fill(0);
            // The lengths were checked above, so the view constructors cannot fail.
            let mut t = MutableTcpPacket::new(tcp_buf).ok_or(WireError::BufferTooShort {
                have: tcp_len,
                need: tcp_len,
            })?;
            t.set_source(seg.src_port);
            t.set_destination(seg.dst_port);
            t.set_sequence(seg.seq);
            t.set_acknowledgement(seg.ack);
            t.set_data_offset((tcp_len / 4) as u8);
            t.set_flags(seg.flags.0);
            t.set_window(seg.window);
            if let Some(mss) = seg.mss {
                t.set_options(&[TcpOption::mss(mss)]);
            }
            let csum = match (seg.src, seg.dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&t.to_immutable(), &s, &d),
                (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&t.to_immutable(), &s, &d),
                (src, dst) => return Err(WireError::MixedFamilies { src, dst }),
            };
            t.set_checksum(csum);
        }
        let ip_buf = &mut buf[..ip_hlen];
        match (seg.src, seg.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut ip = MutableIpv4Packet::new(ip_buf).ok_or(WireError::BufferTooShort {
                    have: ip_hlen,
                    need: ip_hlen,
                })?;
                ip.set_version(4);
                ip.set_header_length(5);
                ip.set_dscp(0);
                ip.set_ecn(0);
                ip.set_total_length(need as u16);
                // The ID is folded from the sequence number: cheap, varied, and stateless.
                ip.set_identification((seg.seq >> 16) as u16 ^ seg.seq as u16);
                ip.set_flags(ipv4::Ipv4Flags::DontFragment);
                ip.set_fragment_offset(0);
                ip.set_ttl(PROBE_TTL);
                ip.set_next_level_protocol(IpNextHeaderProtocols::Tcp);
                ip.set_source(s);
                ip.set_destination(d);
                ip.set_checksum(0);
                let csum = ipv4::checksum(&ip.to_immutable());
                ip.set_checksum(csum);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut ip = MutableIpv6Packet::new(ip_buf).ok_or(WireError::BufferTooShort {
                    have: ip_hlen,
                    need: ip_hlen,
                })?;
                ip.set_version(6);
                ip.set_traffic_class(0);
                ip.set_flow_label(0);
                ip.set_payload_length(tcp_len as u16);
                ip.set_next_header(IpNextHeaderProtocols::Tcp);
                ip.set_hop_limit(PROBE_TTL);
                ip.set_source(s);
                ip.set_destination(d);
            }
            (src, dst) => return Err(WireError::MixedFamilies { src, dst }),
        }
        Ok(need)
    }

    /// Segments of every shape the scanner sends, over many field values.
    fn assorted() -> Vec<TcpSegment> {
        let s6 = IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1));
        let mut out = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (sp, dp, seq) = ((x >> 48) as u16, (x >> 32) as u16, x as u32);
            let d4 = IpAddr::V4(Ipv4Addr::from((x >> 8) as u32));
            let d6 = IpAddr::V6(Ipv6Addr::from(u128::from(x) << 64 | u128::from(i)));
            out.push(TcpSegment::syn(S4, d4, sp, dp, seq));
            out.push(TcpSegment::rst(S4, d4, sp, dp, seq));
            out.push(TcpSegment::syn(s6, d6, sp, dp, seq));
            out.push(TcpSegment::rst(s6, d6, sp, dp, seq));
        }
        out
    }

    #[test]
    fn emit_writes_what_pnet_builds() {
        for seg in assorted() {
            let (mut ours, mut theirs) = ([0x5au8; 80], [0x5au8; 80]);
            let n = seg.emit(&mut ours).unwrap();
            assert_eq!(emit_with_pnet(&seg, &mut theirs).unwrap(), n);
            assert_eq!(ours, theirs, "{seg:?}");
        }
    }

    /// `cargo test --release -p tcprax --lib emit_ns_per_segment -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn emit_ns_per_segment() {
        let segs = assorted();
        let mut buf = [0u8; 80];
        for (name, f) in [
            (
                "emit",
                (|s: &TcpSegment, b: &mut [u8]| s.emit(b)) as fn(&TcpSegment, &mut [u8]) -> _,
            ),
            ("pnet", emit_with_pnet),
        ] {
            let start = std::time::Instant::now();
            let mut n = 0;
            for _ in 0..100 {
                for s in &segs {
                    n += f(s, &mut buf).unwrap();
                    std::hint::black_box(&buf);
                }
            }
            let per = start.elapsed().as_nanos() as f64 / (100 * segs.len()) as f64;
            println!("{name}: {per:.1} ns per segment ({n} bytes)");
        }
    }

    #[test]
    fn mixed_families_are_rejected() {
        let d6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let mut buf = [0u8; 80];
        assert!(matches!(
            TcpSegment::syn(S4, d6, 1, 2, 3).emit(&mut buf),
            Err(WireError::MixedFamilies { .. })
        ));
    }
}
