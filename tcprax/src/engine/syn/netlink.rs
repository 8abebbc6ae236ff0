//! The few rtnetlink requests the -sS route plan needs, written by hand over an
//! `AF_NETLINK`/`NETLINK_ROUTE` socket: "which route does the kernel use for this address"
//! (`RTM_GETROUTE` for one destination, the request behind `ip route get`), and the prefixes of
//! every route and of every policy rule with a destination (dumps, as `ip route show table all`
//! and `ip rule` read them).
//!
//! By hand because three message types and five attributes are all we read: the netlink crates
//! would bring a tree of dependencies and version pins against rust 1.95 for that. Parsing is
//! separate from the socket ([`parse_route`], [`parse_rule_dst`], [`messages`]) and unit-tested
//! on byte fixtures in the kernel's layout.
use std::io;
use std::mem::size_of;
use std::net::IpAddr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

/// `struct nlmsghdr`: length, type, flags, sequence number, port id.
const NLMSG_HDRLEN: usize = 16;
/// `struct rtmsg` and `struct fib_rule_hdr` are both 12 bytes; the fields we read (family,
/// destination prefix length, route type) sit at the same offsets in both.
const RTMSG_LEN: usize = 12;
/// `struct ifinfomsg`.
pub(super) const IFINFOMSG_LEN: usize = 16;
/// `struct rtattr`: length and type.
const RTA_HDRLEN: usize = 4;
/// `FRA_DST` of `linux/fib_rules.h` (not in the libc crate).
const FRA_DST: u16 = 1;
/// Receive buffer: the kernel fills a dump reply up to the reader's buffer size (at least a
/// page), so 64 KiB holds any single reply it sends.
const RECV_BUF: usize = 64 * 1024;

/// Netlink aligns messages and attributes to 4 bytes.
fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// What `RTM_NEWROUTE` says about a route: the fields the plan uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteMsg {
    /// `RTN_UNICAST`, `RTN_LOCAL`, `RTN_BROADCAST`, ...
    pub kind: u8,
    /// Prefix length of the destination (0 for a default route).
    pub dst_len: u8,
    /// The destination prefix; None for a default route (no `RTA_DST`).
    pub dst: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// The source address the kernel picked (a lookup) or the route's `src` (a dump).
    pub prefsrc: Option<IpAddr>,
    /// The next hop, for a route through a gateway (`RTA_GATEWAY`); None on the link itself.
    pub gateway: Option<IpAddr>,
}

/// One netlink message inside a receive buffer: its type and its payload (after the header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// The messages in `buf`, stopping at the first malformed header.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return None;
        }
        let msg = Message {
            kind: u16::from_ne_bytes(rest[4..6].try_into().ok()?),
            seq: u32::from_ne_bytes(rest[8..12].try_into().ok()?),
            payload: &rest[NLMSG_HDRLEN..len],
        };
        rest = &rest[align4(len).min(rest.len())..];
        Some(msg)
    })
}

/// The attributes after a fixed header of `skip` bytes: (type, value).
pub(super) fn attributes(payload: &[u8], skip: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = payload.get(skip..).unwrap_or_default();
    std::iter::from_fn(move || {
        if rest.len() < RTA_HDRLEN {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        if len < RTA_HDRLEN || len > rest.len() {
            return None;
        }
        // The top bits of the type are flags (nested, byte order); no attribute we read has them.
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        let value = &rest[RTA_HDRLEN..len];
        rest = &rest[align4(len).min(rest.len())..];
        Some((kind, value))
    })
}

fn addr_of(value: &[u8]) -> Option<IpAddr> {
    match value.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(value).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(value).ok()?)),
        _ => None,
    }
}

/// Decode the payload of an `RTM_NEWROUTE`. None if it is shorter than its fixed header.
pub fn parse_route(payload: &[u8]) -> Option<RouteMsg> {
    if payload.len() < RTMSG_LEN {
        return None;
    }
    let mut msg = RouteMsg {
        kind: payload[7],
        dst_len: payload[1],
        ..RouteMsg::default()
    };
    for (kind, value) in attributes(payload, RTMSG_LEN) {
        match kind {
            libc::RTA_DST => msg.dst = addr_of(value),
            libc::RTA_OIF => {
                msg.oif = value
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_ne_bytes);
            }
            libc::RTA_PREFSRC => msg.prefsrc = addr_of(value),
            libc::RTA_GATEWAY => msg.gateway = addr_of(value),
            _ => {}
        }
    }
    Some(msg)
}

/// One entry of the neighbour table (`RTM_NEWNEIGH`): what `ip neigh` lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub ifindex: u32,
    pub addr: IpAddr,
    /// `NUD_*` state bits.
    pub state: u16,
    /// The link-layer address, when the entry has one (Ethernet: 6 bytes).
    pub lladdr: Option<[u8; 6]>,
}

/// `struct ndmsg`: family, padding, ifindex, state, flags, type.
const NDMSG_LEN: usize = 12;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
/// `NUD_*` states whose link-layer address can be used: reachable, stale, delay, probe,
/// permanent (everything but incomplete, failed, noarp and none).
pub const NUD_USABLE: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x80;

/// Decode the payload of an `RTM_NEWNEIGH`. None if it is short or names no address.
pub fn parse_neighbour(payload: &[u8]) -> Option<Neighbour> {
    if payload.len() < NDMSG_LEN {
        return None;
    }
    let ifindex = u32::from_ne_bytes(payload[4..8].try_into().ok()?);
    let state = u16::from_ne_bytes(payload[8..10].try_into().ok()?);
    let mut addr = None;
    let mut lladdr = None;
    for (kind, value) in attributes(payload, NDMSG_LEN) {
        match kind {
            NDA_DST => addr = addr_of(value),
            NDA_LLADDR => lladdr = value.try_into().ok(),
            _ => {}
        }
    }
    Some(Neighbour {
        ifindex,
        addr: addr?,
        state,
        lladdr,
    })
}

/// Decode the destination prefix of an `RTM_NEWRULE`: Some((prefix, length)) for a rule with
/// a `to` selector, None for the others.
pub fn parse_rule_dst(payload: &[u8]) -> Option<(IpAddr, u8)> {
    let dst_len = *payload.get(1)?;
    if payload.len() < RTMSG_LEN || dst_len == 0 {
        return None;
    }
    attributes(payload, RTMSG_LEN)
        .find(|&(kind, _)| kind == FRA_DST)
        .and_then(|(_, value)| addr_of(value))
        .map(|addr| (addr, dst_len))
}

/// The errno of an `NLMSG_ERROR` payload (positive), or 0 for an acknowledgement.
pub(super) fn error_of(payload: &[u8]) -> i32 {
    payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .map_or(libc::EPROTO, |e| -e)
}

/// A `NETLINK_ROUTE` socket, one request at a time.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// Build a request: header, a 12-byte `rtmsg`/`fib_rule_hdr` with `family` and `dst_len`, and
/// an optional destination attribute of `attr_kind`.
fn request(kind: u16, flags: u16, seq: u32, family: u8, dst: Option<(u16, IpAddr)>) -> Vec<u8> {
    let value: Option<(u16, Vec<u8>)> = dst.map(|(k, a)| {
        let bytes = match a {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        (k, bytes)
    });
    let attr_len = value
        .as_ref()
        .map_or(0, |(_, v)| align4(RTA_HDRLEN + v.len()));
    let len = NLMSG_HDRLEN + RTMSG_LEN + attr_len;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    let mut rtmsg = [0u8; RTMSG_LEN];
    rtmsg[0] = family;
    if let Some((_, v)) = &value {
        // A lookup of one address: a full-length destination.
        rtmsg[1] = (v.len() * 8) as u8;
    }
    out.extend_from_slice(&rtmsg);
    if let Some((k, v)) = value {
        out.extend_from_slice(&((RTA_HDRLEN + v.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&k.to_ne_bytes());
        out.extend_from_slice(&v);
        out.resize(len, 0);
    }
    out
}

fn family_of(v6: bool) -> u8 {
    if v6 {
        libc::AF_INET6 as u8
    } else {
        libc::AF_INET as u8
    }
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2) call; the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink {
            // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    fn send(&mut self, req: &[u8]) -> io::Result<()> {
        // SAFETY: req is a live buffer of req.len() bytes; a netlink socket sends to the
        // kernel when no address is given.
        let rc = unsafe { libc::send(self.fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One datagram of replies into `self.buf`; its length.
    fn recv(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: buf is a live, writable buffer of buf.len() bytes.
            let rc = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            let n = rc as usize;
            if n > self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "netlink reply larger than the receive buffer",
                ));
            }
            return Ok(n);
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// The reply datagram to `RTM_GETLINK` for interface `index`: an `RTM_NEWLINK` describing
    /// it, or an `NLMSG_ERROR`, as the kernel sent them (the caller parses).
    pub fn get_link(&mut self, index: u32) -> io::Result<Vec<u8>> {
        self.get_link_in(index, None)
    }

    /// [`get_link`](Self::get_link) for interface `index` of another network namespace, the
    /// one this namespace knows as `netnsid` (`IFLA_TARGET_NETNSID`), e.g. a veth's peer.
    pub fn get_link_in(&mut self, index: u32, netnsid: Option<i32>) -> io::Result<Vec<u8>> {
        const IFLA_TARGET_NETNSID: u16 = 46;
        let seq = self.next_seq();
        let attr_len = if netnsid.is_some() { RTA_HDRLEN + 4 } else { 0 };
        let len = NLMSG_HDRLEN + IFINFOMSG_LEN + attr_len;
        let mut req = Vec::with_capacity(len);
        req.extend_from_slice(&(len as u32).to_ne_bytes());
        req.extend_from_slice(&libc::RTM_GETLINK.to_ne_bytes());
        req.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
        req.extend_from_slice(&seq.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        // struct ifinfomsg: family, pad, type, index, flags, change.
        req.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        req.extend_from_slice(&(index as i32).to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        if let Some(id) = netnsid {
            req.extend_from_slice(&((RTA_HDRLEN + 4) as u16).to_ne_bytes());
            req.extend_from_slice(&IFLA_TARGET_NETNSID.to_ne_bytes());
            req.extend_from_slice(&id.to_ne_bytes());
        }
        self.send(&req)?;
        let n = self.recv()?;
        Ok(self.buf[..n].to_vec())
    }

    /// The route the kernel would use to send to `addr`: Ok(Ok(route)), or Ok(Err(errno))
    /// when the routing table refuses the destination (EINVAL for a blackhole route,
    /// EHOSTUNREACH for an unreachable one, EACCES for prohibit, ENETUNREACH for none).
    pub fn route_to(&mut self, addr: IpAddr) -> io::Result<Result<RouteMsg, i32>> {
        let seq = self.next_seq();
        let req = request(
            libc::RTM_GETROUTE,
            libc::NLM_F_REQUEST as u16,
            seq,
            family_of(addr.is_ipv6()),
            Some((libc::RTA_DST, addr)),
        );
        self.send(&req)?;
        loop {
            let n = self.recv()?;
            for msg in messages(&self.buf[..n]) {
                if msg.seq != seq {
                    continue;
                }
                match msg.kind {
                    libc::RTM_NEWROUTE => {
                        return parse_route(msg.payload).map(Ok).ok_or_else(short_reply);
                    }
                    k if k == libc::NLMSG_ERROR as u16 => {
                        return Ok(Err(error_of(msg.payload)));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Every message of a dump of `kind` for `family`, passed to `each`.
    fn dump(&mut self, kind: u16, v6: bool, mut each: impl FnMut(&[u8])) -> io::Result<()> {
        let seq = self.next_seq();
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        let req = request(kind, flags, seq, family_of(v6), None);
        self.send(&req)?;
        let reply = kind - 2; // RTM_GETxxx -> RTM_NEWxxx
        loop {
            let n = self.recv()?;
            for msg in messages(&self.buf[..n]) {
                if msg.seq != seq {
                    continue;
                }
                match msg.kind {
                    k if k == reply => each(msg.payload),
                    k if k == libc::NLMSG_DONE as u16 => return Ok(()),
                    k if k == libc::NLMSG_ERROR as u16 => {
                        let errno = error_of(msg.payload);
                        if errno != 0 {
                            return Err(io::Error::from_raw_os_error(errno));
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// (first address, prefix length) of every route of the family, in every table.
    pub fn route_prefixes(&mut self, v6: bool) -> io::Result<Vec<(Option<IpAddr>, u8)>> {
        let mut out = Vec::new();
        self.dump(libc::RTM_GETROUTE, v6, |payload| {
            if let Some(r) = parse_route(payload) {
                out.push((r.dst, r.dst_len));
            }
        })?;
        Ok(out)
    }

    /// Every entry of the family's neighbour table (ARP for IPv4, NDP for IPv6).
    pub fn neighbours(&mut self, v6: bool) -> io::Result<Vec<Neighbour>> {
        let mut out = Vec::new();
        // `struct ndmsg` is 12 bytes with the family first, like the `rtmsg` of `request`.
        self.dump(libc::RTM_GETNEIGH, v6, |payload| {
            out.extend(parse_neighbour(payload));
        })?;
        Ok(out)
    }

    /// (prefix, length) of every policy rule of the family that selects by destination.
    pub fn rule_prefixes(&mut self, v6: bool) -> io::Result<Vec<(IpAddr, u8)>> {
        let mut out = Vec::new();
        self.dump(libc::RTM_GETRULE, v6, |payload| {
            out.extend(parse_rule_dst(payload));
        })?;
        Ok(out)
    }
}

fn short_reply() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "short netlink route reply")
}

// The layouts above are the kernel's; keep the header sizes honest.
const _: () = assert!(size_of::<libc::nlmsghdr>() == NLMSG_HDRLEN);
const _: () = assert!(size_of::<libc::rtattr>() == RTA_HDRLEN);

#[cfg(test)]
mod tests;
