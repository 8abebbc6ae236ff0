//! What the kernel says about one network interface, asked over rtnetlink (`RTM_GETLINK`): its
//! link type (ARPHRD), which decides how the XDP program finds the IP header, and the XDP
//! program already attached to it, if any, which a failed attach names.
//!
//! Netlink rather than `/sys/class/net/IF/type`: sysfs shows the namespace it was mounted in,
//! not the one the calling thread is in, and tests attach from threads that only `setns`-ed.
//! The socket answers for the namespace it was created in, which is the caller's.
use crate::engine::syn::netlink::{self, IFINFOMSG_LEN, Netlink};
use std::io;

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
    /// Its hardware address (`IFLA_ADDRESS`), when it is a 6-byte (Ethernet) one.
    pub mac: Option<[u8; 6]>,
    /// The kind of a virtual device (`IFLA_INFO_KIND`: "veth", "bridge", "vlan", …); None
    /// for hardware.
    pub kind: Option<String>,
    /// The interface it is tied to (`IFLA_LINK`): a veth's peer, a VLAN's parent.
    pub link: Option<u32>,
    /// The namespace that interface lives in, as this namespace numbers it
    /// (`IFLA_LINK_NETNSID`); None when it is this one.
    pub link_netnsid: Option<i32>,
}

const RTM_NEWLINK: u16 = libc::RTM_NEWLINK;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const IFLA_ADDRESS: u16 = 1;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_LINK_NETNSID: u16 = 37;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;

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

/// The interface a veth is paired with, wherever it lives; `Ok(None)` when `iface` is no
/// veth or does not say (the peer's namespace has no id here). Needs CAP_NET_ADMIN over the
/// peer's namespace when it is another one.
pub fn veth_peer(iface: &Interface) -> io::Result<Option<Interface>> {
    let (Some("veth"), Some(peer)) = (iface.kind.as_deref(), iface.link) else {
        return Ok(None);
    };
    let reply = Netlink::open()?.get_link_in(peer, iface.link_netnsid)?;
    parse_newlink(&reply).map(Some)
}

/// Send `RTM_GETLINK` for `index` and return the kernel's reply datagram.
fn getlink(index: u32) -> io::Result<Vec<u8>> {
    Netlink::open()?.get_link(index)
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
fn parse_newlink(buf: &[u8]) -> io::Result<Interface> {
    let msg = netlink::messages(buf)
        .next()
        .ok_or_else(|| malformed("short or bad header"))?;
    if msg.kind == NLMSG_ERROR {
        if msg.payload.len() < 4 {
            return Err(malformed("short error"));
        }
        return Err(io::Error::from_raw_os_error(netlink::error_of(msg.payload)));
    }
    if msg.kind != RTM_NEWLINK {
        return Err(malformed("not RTM_NEWLINK"));
    }
    let body = msg.payload;
    let arphrd = ne16(body, 2).ok_or_else(|| malformed("short ifinfomsg"))?;
    let index = ne32(body, 4).ok_or_else(|| malformed("short ifinfomsg"))?;
    let mut xdp = None;
    let mut mac = None;
    let mut kind = None;
    let mut link = None;
    let mut link_netnsid = None;
    for (typ, value) in netlink::attributes(body, IFINFOMSG_LEN) {
        match typ {
            IFLA_XDP => xdp = attached_program(value),
            IFLA_ADDRESS => mac = value.try_into().ok(),
            IFLA_LINK => link = ne32(value, 0).filter(|&i| i != 0),
            IFLA_LINK_NETNSID => link_netnsid = ne32(value, 0).map(|id| id as i32),
            IFLA_LINKINFO => {
                kind = netlink::attributes(value, 0)
                    .find(|&(t, _)| t == IFLA_INFO_KIND)
                    .map(|(_, v)| {
                        let v = v.split(|&b| b == 0).next().unwrap_or_default();
                        String::from_utf8_lossy(v).into_owned()
                    });
            }
            _ => {}
        }
    }
    Ok(Interface {
        index,
        arphrd,
        xdp,
        mac,
        kind,
        link,
        link_netnsid,
    })
}

/// The program in an `IFLA_XDP` nest: `IFLA_XDP_PROG_ID` when one mode is in use, else (both
/// native and generic at once, "multi") the first per-mode id.
fn attached_program(nest: &[u8]) -> Option<(u32, XdpAttachMode)> {
    let mut attached = 0u8;
    let mut single = None;
    let mut per_mode = None;
    for (typ, value) in netlink::attributes(nest, 0) {
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

#[cfg(test)]
mod tests;
