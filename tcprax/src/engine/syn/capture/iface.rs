//! What the kernel says about one network interface, asked over rtnetlink (`RTM_GETLINK`): its
//! link type (ARPHRD), which decides how the XDP program finds the IP header, and the XDP
//! program already attached to it, if any, which a failed attach names.
//!
//! Netlink rather than `/sys/class/net/IF/type`: sysfs shows the namespace it was mounted in,
//! not the one the calling thread is in, and tests attach from threads that only `setns`-ed.
//! The socket answers for the namespace it was created in, which is the caller's.
use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

/// Link types (`ifi_type`, `ARPHRD_*` in `<linux/if_arp.h>`).
mod arphrd {
    pub const ETHER: u16 = 1;
    pub const PPP: u16 = 512;
    pub const RAWIP: u16 = 519;
    pub const TUNNEL: u16 = 768;
    pub const TUNNEL6: u16 = 769;
    pub const LOOPBACK: u16 = 772;
    pub const SIT: u16 = 776;
    pub const IPGRE: u16 = 778;
    pub const IP6GRE: u16 = 823;
    pub const NONE: u16 = 65534;
}

/// How frames start on an interface, as far as the XDP program is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet header (VLAN tags possible): Ethernet, veth, tap, bridge, loopback.
    Ethernet,
    /// No link header, the IP header first: tun, WireGuard, ipip/sit/gre, PPP, raw-IP modems.
    Ip,
}

impl LinkType {
    /// The link type of an `ARPHRD_*` value, if the XDP program can parse its frames.
    pub fn from_arphrd(arphrd: u16) -> Option<LinkType> {
        match arphrd {
            arphrd::ETHER | arphrd::LOOPBACK => Some(LinkType::Ethernet),
            arphrd::NONE
            | arphrd::TUNNEL
            | arphrd::TUNNEL6
            | arphrd::SIT
            | arphrd::IPGRE
            | arphrd::IP6GRE
            | arphrd::PPP
            | arphrd::RAWIP => Some(LinkType::Ip),
            _ => None,
        }
    }

    /// The value of the program's `TCPRAX_LINK` global.
    pub fn global(self) -> u8 {
        match self {
            LinkType::Ethernet => tcprax_common::link::ETHERNET,
            LinkType::Ip => tcprax_common::link::IP,
        }
    }
}

/// Where an XDP program runs (`IFLA_XDP_ATTACHED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpAttachMode {
    /// In the driver (`xdpdrv`).
    Native,
    /// In the kernel's generic path, on socket buffers (`xdpgeneric`).
    Generic,
    /// Offloaded to the NIC (`xdpoffload`).
    Offload,
}

impl XdpAttachMode {
    fn from_attached(value: u8) -> Option<XdpAttachMode> {
        match value {
            1 => Some(XdpAttachMode::Native),
            2 => Some(XdpAttachMode::Generic),
            3 => Some(XdpAttachMode::Offload),
            _ => None,
        }
    }

    /// The word `ip link` uses for the mode (`ip link set dev IF <word> off`).
    pub fn ip_link_word(self) -> &'static str {
        match self {
            XdpAttachMode::Native => "xdpdrv",
            XdpAttachMode::Generic => "xdpgeneric",
            XdpAttachMode::Offload => "xdpoffload",
        }
    }
}

impl std::fmt::Display for XdpAttachMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XdpAttachMode::Native => "native",
            XdpAttachMode::Generic => "generic",
            XdpAttachMode::Offload => "offloaded",
        })
    }
}

/// One interface as `RTM_GETLINK` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    /// `ARPHRD_*`.
    pub arphrd: u16,
    /// The XDP program attached to it: (program id, mode). With programs in several modes at
    /// once, the first one the kernel lists.
    pub xdp: Option<(u32, XdpAttachMode)>,
}

const RTM_GETLINK: u16 = 18;
const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER` live in the top bits of an attribute's type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The interface named `name` in the caller's network namespace; `Ok(None)` if there is none.
pub fn query(name: &str) -> io::Result<Option<Interface>> {
    let Ok(cname) = std::ffi::CString::new(name) else {
        return Ok(None);
    };
    // SAFETY: if_nametoindex reads a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Ok(None);
    }
    let reply = getlink(index)?;
    parse_newlink(&reply).map(Some)
}

/// Send `RTM_GETLINK` for `index` and return the kernel's one reply message.
fn getlink(index: u32) -> io::Result<Vec<u8>> {
    // SAFETY: plain socket(2); the descriptor is owned right below.
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
    // SAFETY: fd is fresh and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = Vec::with_capacity(NLMSG_HDRLEN + IFINFOMSG_LEN);
    req.extend_from_slice(&((NLMSG_HDRLEN + IFINFOMSG_LEN) as u32).to_ne_bytes());
    req.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    // struct ifinfomsg: family, pad, type, index, flags, change.
    req.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    req.extend_from_slice(&(index as i32).to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    // SAFETY: send(2) of a buffer that outlives the call, on a descriptor we own.
    let sent = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // One link's attributes fit in a few KiB; 64 KiB leaves room for any the kernel adds.
    let mut buf = vec![0u8; 1 << 16];
    // SAFETY: recv(2) into a buffer we own, at most its length.
    let got = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(got as usize);
    Ok(buf)
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed RTM_NEWLINK reply: {what}"),
    )
}

fn ne16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn ne32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The interface in the reply to [`getlink`] (an `RTM_NEWLINK`, or an `NLMSG_ERROR`).
fn parse_newlink(msg: &[u8]) -> io::Result<Interface> {
    let len = ne32(msg, 0).ok_or_else(|| malformed("short header"))? as usize;
    let typ = ne16(msg, 4).ok_or_else(|| malformed("short header"))?;
    let msg = msg
        .get(..len)
        .filter(|m| m.len() >= NLMSG_HDRLEN)
        .ok_or_else(|| malformed("length"))?;
    if typ == NLMSG_ERROR {
        let errno = ne32(msg, NLMSG_HDRLEN).ok_or_else(|| malformed("short error"))? as i32;
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if typ != RTM_NEWLINK {
        return Err(malformed("not RTM_NEWLINK"));
    }
    let body = &msg[NLMSG_HDRLEN..];
    let arphrd = ne16(body, 2).ok_or_else(|| malformed("short ifinfomsg"))?;
    let index = ne32(body, 4).ok_or_else(|| malformed("short ifinfomsg"))?;
    let mut xdp = None;
    for (typ, value) in attributes(body.get(IFINFOMSG_LEN..).unwrap_or_default()) {
        if typ == IFLA_XDP {
            xdp = attached_program(value);
        }
    }
    Ok(Interface { index, arphrd, xdp })
}

/// The program in an `IFLA_XDP` nest: `IFLA_XDP_PROG_ID` when one mode is in use, else (both
/// native and generic at once, "multi") the first per-mode id.
fn attached_program(nest: &[u8]) -> Option<(u32, XdpAttachMode)> {
    let mut attached = 0u8;
    let mut single = None;
    let mut per_mode = None;
    for (typ, value) in attributes(nest) {
        match typ {
            IFLA_XDP_ATTACHED => attached = *value.first()?,
            IFLA_XDP_PROG_ID => single = ne32(value, 0),
            IFLA_XDP_DRV_PROG_ID if per_mode.is_none() => {
                per_mode = ne32(value, 0).map(|id| (id, XdpAttachMode::Native));
            }
            IFLA_XDP_SKB_PROG_ID if per_mode.is_none() => {
                per_mode = ne32(value, 0).map(|id| (id, XdpAttachMode::Generic));
            }
            IFLA_XDP_HW_PROG_ID if per_mode.is_none() => {
                per_mode = ne32(value, 0).map(|id| (id, XdpAttachMode::Offload));
            }
            _ => {}
        }
    }
    match (XdpAttachMode::from_attached(attached), single) {
        (Some(mode), Some(id)) => Some((id, mode)),
        _ => per_mode,
    }
}

/// The (type, value) pairs of a run of netlink attributes; stops at the first malformed one.
fn attributes(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(ne16(b, 0)?);
        let typ = ne16(b, 2)? & NLA_TYPE_MASK;
        let value = b.get(4..len)?;
        // Attributes are padded to 4 bytes; the last one may end the buffer unpadded.
        b = b.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((typ, value))
    })
}

#[cfg(test)]
mod tests;
