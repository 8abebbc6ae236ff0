//! Which targets the AF_PACKET send path carries, and the Ethernet header of their frames.
//!
//! A whole frame needs the next hop's MAC address. For a stretch of targets routed through a
//! gateway on an Ethernet-like interface (veth, Ethernet, bridge, tap) that is one address,
//! the gateway's: it is read from the neighbour table, and resolved first when it is missing
//! (one empty UDP datagram to the gateway's discard port makes the kernel ask for it with
//! ARP; the table is then polled briefly). Those stretches get a [`LinkHeader`] (interface,
//! destination and source MAC, EtherType), and their probes leave as frames, past the IP
//! layer and its netfilter hooks.
//!
//! Everything else stays on the raw IP socket, where the kernel routes and resolves as usual:
//! targets on the link itself (each would need a neighbour entry of its own), L3 devices (tun,
//! WireGuard: no link header), IPv6, a gateway that does not answer ARP, `-e`/`-S` (one group
//! for every target: no per-stretch route), and `--send-path raw`.
use super::capture::iface;
use super::egress::Egress;
use super::netlink::{NUD_USABLE, Netlink};
use super::route::EgressPlan;
use crate::config::{SendPath, SynOptions};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

/// ARPHRD_ETHER: Ethernet, veth, bridges, taps.
const ARPHRD_ETHER: u16 = 1;
const ETH_P_IP: u16 = 0x0800;
/// How long a missing gateway MAC is waited for after the kernel was asked to resolve it.
const RESOLVE_WAIT: Duration = Duration::from_secs(1);

/// The link header of frames to one (interface, next hop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkHeader {
    pub ifindex: u32,
    /// Destination MAC, source MAC, EtherType: the first 14 bytes of every frame.
    pub eth: [u8; 14],
}

impl LinkHeader {
    fn new(ifindex: u32, dst: [u8; 6], src: [u8; 6]) -> LinkHeader {
        let mut eth = [0u8; 14];
        eth[..6].copy_from_slice(&dst);
        eth[6..12].copy_from_slice(&src);
        eth[12..].copy_from_slice(&ETH_P_IP.to_be_bytes());
        LinkHeader { ifindex, eth }
    }
}

/// IPv4 stretches (first, last, index into `headers`) sent as frames, sorted and disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FramePaths {
    spans: Vec<(u32, u32, u16)>,
    pub headers: Vec<LinkHeader>,
}

impl FramePaths {
    /// The link header for frames to `dst`, or None: send it through the raw socket.
    pub fn lookup(&self, dst: IpAddr) -> Option<&LinkHeader> {
        let IpAddr::V4(dst) = dst else {
            return None;
        };
        let dst = u32::from(dst);
        let i = self.spans.partition_point(|&(first, _, _)| first <= dst);
        let &(_, last, header) = self.spans.get(i.checked_sub(1)?)?;
        (dst <= last).then(|| &self.headers[usize::from(header)])
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn add(&mut self, first: u32, last: u32, header: LinkHeader) {
        let index = match self.headers.iter().position(|h| *h == header) {
            Some(i) => i,
            None => {
                self.headers.push(header);
                self.headers.len() - 1
            }
        };
        // At most one header per group and gateway: far below u16::MAX.
        self.spans
            .push((first, last, u16::try_from(index).unwrap_or(u16::MAX)));
        self.spans.sort_unstable();
    }
}

/// Decide which targets of `plan` leave as frames (see the module comment). Reads routes and
/// neighbours over netlink; a gateway whose MAC cannot be had leaves its targets on the raw
/// socket rather than failing the scan.
pub fn plan(plan: &EgressPlan, opts: &SynOptions) -> io::Result<FramePaths> {
    let mut paths = FramePaths::default();
    if opts.send_path == SendPath::Raw || opts.interface.is_some() || opts.source_addr.is_some() {
        return Ok(paths);
    }
    let mut nl = Netlink::open()?;
    // (interface index, gateway) → its header, or None when it cannot be used.
    let mut known: HashMap<(u32, Ipv4Addr), Option<LinkHeader>> = HashMap::new();
    for (first, last, egress) in plan.table.ranges() {
        let (IpAddr::V4(first), IpAddr::V4(last), Egress::Via(group)) = (first, last, egress)
        else {
            continue;
        };
        let Some(group) = plan.groups.get(usize::from(group)) else {
            continue;
        };
        let Ok(Some(link)) = iface::query(&group.interface) else {
            continue;
        };
        let (ARPHRD_ETHER, Some(own_mac)) = (link.arphrd, link.mac) else {
            continue;
        };
        // One route for the whole stretch: that is what makes it a stretch.
        let Ok(route) = nl.route_to(IpAddr::V4(first))? else {
            continue;
        };
        let (Some(IpAddr::V4(gateway)), Some(oif)) = (route.gateway, route.oif) else {
            continue;
        };
        if oif != link.index {
            continue;
        }
        let header = match known.get(&(oif, gateway)) {
            Some(h) => *h,
            None => {
                let h = gateway_mac(&mut nl, oif, gateway)?
                    .map(|mac| LinkHeader::new(oif, mac, own_mac));
                known.insert((oif, gateway), h);
                h
            }
        };
        if let Some(header) = header {
            paths.add(u32::from(first), u32::from(last), header);
        }
    }
    Ok(paths)
}

/// The gateway's MAC from the neighbour table, resolved first if it is not there.
fn gateway_mac(nl: &mut Netlink, ifindex: u32, gateway: Ipv4Addr) -> io::Result<Option<[u8; 6]>> {
    if let Some(mac) = neighbour_mac(nl, ifindex, gateway)? {
        return Ok(Some(mac));
    }
    // Any packet to the gateway makes the kernel resolve it; an empty datagram to the discard
    // port is the least of them (the gateway may answer ICMP port unreachable).
    if let Ok(socket) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) {
        let _ = socket.send_to(&[], (gateway, 9));
    }
    let deadline = Instant::now() + RESOLVE_WAIT;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        if let Some(mac) = neighbour_mac(nl, ifindex, gateway)? {
            return Ok(Some(mac));
        }
    }
    Ok(None)
}

fn neighbour_mac(nl: &mut Netlink, ifindex: u32, addr: Ipv4Addr) -> io::Result<Option<[u8; 6]>> {
    Ok(nl
        .neighbours(false)?
        .into_iter()
        .find(|n| n.ifindex == ifindex && n.addr == IpAddr::V4(addr) && n.state & NUD_USABLE != 0)
        .and_then(|n| n.lladdr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn lookup_finds_the_stretch_and_nothing_outside() {
        let a = LinkHeader::new(3, [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]);
        let b = LinkHeader::new(4, [2, 0, 0, 0, 0, 4], [2, 0, 0, 0, 0, 3]);
        let mut p = FramePaths::default();
        p.add(ip("198.19.0.0"), ip("198.19.255.255"), a);
        p.add(ip("10.0.0.0"), ip("10.0.0.255"), b);
        p.add(ip("198.20.0.0"), ip("198.20.0.255"), a);
        assert_eq!(p.headers.len(), 2, "one header per interface and next hop");
        let at = |s: &str| p.lookup(s.parse().unwrap()).map(|h| h.ifindex);
        assert_eq!(at("198.19.0.0"), Some(3));
        assert_eq!(at("198.19.255.255"), Some(3));
        assert_eq!(at("198.20.0.7"), Some(3));
        assert_eq!(at("10.0.0.9"), Some(4));
        assert_eq!(at("198.18.0.2"), None);
        assert_eq!(at("9.255.255.255"), None);
        assert_eq!(at("255.255.255.255"), None);
        assert_eq!(p.lookup("2001:2::1".parse().unwrap()), None);
        assert_eq!(
            a.eth,
            [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00],
            "destination, source, IPv4"
        );
    }
}
