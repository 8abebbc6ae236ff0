//! Helpers the fuzz targets share: a resolver that never touches the network, and the TCP
//! checksum, so that arbitrary bytes can be wrapped into packets the parser does not reject at
//! the first check.
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Stands in for DNS: a fuzzer must never send a query, yet the code after a lookup (IPv4
/// preferred, no addresses, errors) deserves fuzzing too. The answer is a fixed function of the
/// name, so every crash reproduces.
pub fn fake_lookup(name: &str) -> io::Result<Vec<IpAddr>> {
    let h = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    // 198.18.0.0/15 and 2001:2::/48: the ranges tcprax's tests own.
    let v4 = IpAddr::V4(Ipv4Addr::from(0xc612_0000 | (h & 0x1_ffff)));
    let v6 = IpAddr::V6(Ipv6Addr::new(
        0x2001,
        2,
        0,
        0,
        0,
        0,
        (h >> 16) as u16,
        h as u16,
    ));
    match h % 5 {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "fuzz: no such name",
        )),
        1 => Ok(Vec::new()),
        2 => Ok(vec![v4]),
        3 => Ok(vec![v6]),
        _ => Ok(vec![v6, v4]),
    }
}

/// One's-complement sum of `bytes` as big-endian 16-bit words (an odd last byte is padded).
fn sum(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum()
}

/// The TCP checksum of `segment` (its checksum field counted as zero) under the pseudo-header
/// of `src`, `dst`.
fn tcp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
    let len = segment.len() as u32;
    let mut total = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum(&s.octets()) + sum(&d.octets()) + 6 + len,
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            sum(&v6(s).octets()) + sum(&v6(d).octets()) + (len >> 16) + (len & 0xffff) + 6
        }
    };
    total += sum(segment);
    if let Some(field) = segment.get(16..18) {
        total -= u32::from(u16::from_be_bytes([field[0], field[1]]));
    }
    while total > 0xffff {
        total = (total & 0xffff) + (total >> 16);
    }
    !(total as u16)
}

/// `segment` as the payload of an IPv4 (`v6 == false`) or IPv6 packet, with a TCP checksum
/// the parser accepts when the segment is long enough to hold one.
pub fn wrap_tcp(segment: &[u8], v6: bool) -> Vec<u8> {
    let src: IpAddr;
    let dst: IpAddr;
    let mut packet = if v6 {
        src = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2).into();
        dst = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1).into();
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(segment.len().min(0xffff) as u16).to_be_bytes());
        h.extend_from_slice(&[6, 64]);
        for a in [src, dst] {
            if let IpAddr::V6(a) = a {
                h.extend_from_slice(&a.octets());
            }
        }
        h
    } else {
        src = Ipv4Addr::new(198, 18, 0, 2).into();
        dst = Ipv4Addr::new(198, 18, 0, 1).into();
        let total = (20 + segment.len()).min(0xffff) as u16;
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1]);
        h
    };
    let hlen = packet.len();
    packet.extend_from_slice(segment);
    // The parser only checksums what the IP length covers.
    let covered = segment.len().min(0xffff - if v6 { 0 } else { 20 });
    let csum = tcp_checksum(src, dst, &segment[..covered]);
    if let Some(field) = packet.get_mut(hlen + 16..hlen + 18) {
        field.copy_from_slice(&csum.to_be_bytes());
    }
    packet
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcprax::wire::TcpSegment;

    #[test]
    fn wrapped_segments_pass_the_checksum() {
        let v4 = |d| IpAddr::V4(Ipv4Addr::new(198, 18, 0, d));
        let v6 = |d| IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, d));
        for (seg, hlen) in [
            (TcpSegment::syn(v4(2), v4(1), 80, 61000, 7), 20),
            (TcpSegment::rst(v6(2), v6(1), 22, 61001, 9), 40),
        ] {
            let mut packet = vec![0; seg.buffer_len()];
            seg.emit(&mut packet).unwrap();
            let mut tcp = packet[hlen..].to_vec();
            // A wrong checksum and an odd-length payload: wrapping fixes the one, pads the other.
            tcp[16] ^= 0xff;
            tcp.push(b'x');
            let parsed = TcpSegment::parse(&wrap_tcp(&tcp, hlen == 40)).unwrap();
            assert_eq!(parsed, seg);
        }
    }

    #[test]
    fn fake_lookup_gives_every_kind_of_answer_and_always_the_same() {
        let names: Vec<String> = (0..100).map(|i| format!("host{i}")).collect();
        let kinds: std::collections::HashSet<_> = names
            .iter()
            .map(|n| match fake_lookup(n) {
                Err(_) => "error".to_owned(),
                Ok(addrs) => format!(
                    "{:?}",
                    addrs.iter().map(IpAddr::is_ipv4).collect::<Vec<_>>()
                ),
            })
            .collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}");
        assert_eq!(fake_lookup("a.b").ok(), fake_lookup("a.b").ok());
    }
}
