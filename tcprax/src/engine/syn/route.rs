//! Where probes leave from, decided per target before the first probe: the [`EgressPlan`].
//!
//! Without `-S`/`-e`, the kernel's routing table decides, as it would for a connection: one
//! `RTM_GETROUTE` lookup per stretch of addresses on which the longest-prefix match cannot
//! change (cut at the start and end of every route prefix and of every policy rule's `to`
//! prefix, from a dump of both), not one per target: a /8 behind one route costs one lookup,
//! a blackhole /24 nested in it two more. Each lookup gives the egress interface and the
//! source address the kernel picks; targets are grouped by that pair, and a lookup the
//! kernel refuses (no route, blackhole, unreachable, prohibit) marks its stretch `no-route`.
//! With `-S` and/or `-e`, one group per address family serves every target, as before.
//!
//! Also here: the network and broadcast addresses of directly connected IPv4 subnets (from
//! `getifaddrs`), which the plan skips unless `--include-broadcast`, and the helpers that
//! name an interface's address or an address's interface.
use super::egress::{
    Egress, EgressTable, Group, GroupId, Intervals, family_max, key, network_and_broadcast,
    prefix_range,
};
use super::netlink::{Netlink, RouteMsg};
use crate::config::SynOptions;
use crate::targets::{Family, TargetSet};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no route to {target}: {source}")]
    NoRoute { target: IpAddr, source: io::Error },
    #[error("no interface has address {addr}; pass -e IFACE")]
    NoInterface { addr: IpAddr },
    #[error("interface '{interface}' has no {family} address; pass -S ADDR")]
    NoAddress {
        interface: String,
        family: &'static str,
    },
    #[error("cannot list interfaces: {source}")]
    Ifaddrs { source: io::Error },
    #[error("cannot read the routing table (netlink): {source}")]
    Netlink { source: io::Error },
    #[error("the route to {target} leaves through interface index {index}, which has no name")]
    UnknownInterface { target: IpAddr, index: u32 },
    #[error(
        "-S {source_addr} is {source_family} but target {target} is not: -S sets the source of \
         every probe, so with -S scan one address family at a time"
    )]
    FamilyMismatch {
        source_addr: IpAddr,
        source_family: &'static str,
        target: IpAddr,
    },
    #[error("the targets leave through more than {max} (interface, source address) pairs")]
    TooManyGroups { max: usize },
}

fn family_name(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// Where every target leaves from. See the module comment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPlan {
    /// Indexed by [`GroupId`].
    pub groups: Vec<Group>,
    pub table: EgressTable,
    /// Targets the table skips (network and broadcast addresses of connected subnets),
    /// sorted: what the notice lists.
    pub skipped: Vec<IpAddr>,
}

impl EgressPlan {
    /// The interfaces replies come back through, each once, in group order: where XDP goes.
    pub fn interfaces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for g in &self.groups {
            if !out.contains(&g.interface.as_str()) {
                out.push(&g.interface);
            }
        }
        out
    }

    /// Source address of each group, by [`GroupId`].
    pub fn sources(&self) -> Vec<IpAddr> {
        self.groups.iter().map(|g| g.source).collect()
    }

    /// Whether any group sends IPv4 / IPv6: which raw sockets to open.
    pub fn families(&self) -> (bool, bool) {
        let v6 = |want: bool| self.groups.iter().any(|g| g.source.is_ipv6() == want);
        (v6(false), v6(true))
    }

    fn intern(&mut self, group: Group) -> Result<GroupId, RouteError> {
        if let Some(i) = self.groups.iter().position(|g| *g == group) {
            return Ok(i as GroupId);
        }
        let id = GroupId::try_from(self.groups.len()).map_err(|_| RouteError::TooManyGroups {
            max: usize::from(GroupId::MAX) + 1,
        })?;
        self.groups.push(group);
        Ok(id)
    }
}

/// The families present among the targets, IPv4 first.
fn families(targets: &TargetSet) -> Vec<Family> {
    let mut out: Vec<Family> = targets.ranges().iter().map(|r| r.family).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn addr_of(family: Family, value: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// Decide, before anything is sent, where every target of `targets` leaves from (see the
/// module comment).
pub fn plan(targets: &TargetSet, opts: &SynOptions) -> Result<EgressPlan, RouteError> {
    let mut plan = EgressPlan::default();
    if opts.source_addr.is_some() || opts.interface.is_some() {
        for family in families(targets) {
            let v6 = family == Family::V6;
            let source = match (opts.source_addr, &opts.interface) {
                (Some(s), _) if s.is_ipv6() == v6 => s,
                (Some(s), _) => {
                    let target = targets
                        .ranges()
                        .iter()
                        .find(|r| r.family == family)
                        .map_or(unspecified(family), |r| r.first_addr());
                    return Err(RouteError::FamilyMismatch {
                        source_addr: s,
                        source_family: family_name(s.is_ipv6()),
                        target,
                    });
                }
                (None, Some(ifname)) => address_of(ifname, v6)?,
                (None, None) => unreachable!("checked above"),
            };
            let interface = match &opts.interface {
                Some(i) => i.clone(),
                None => interface_of(source)?,
            };
            let g = plan.intern(Group { interface, source })?;
            plan.table
                .insert(family, 0, family_max(family), Egress::Via(g));
        }
    } else {
        routed(targets, &mut plan)?;
    }
    if !opts.include_broadcast {
        skip_broadcasts(targets, &mut plan)?;
    }
    Ok(plan)
}

/// The routed plan: one lookup per stretch of the routing table that holds targets.
fn routed(targets: &TargetSet, plan: &mut EgressPlan) -> Result<(), RouteError> {
    let nl_err = |source| RouteError::Netlink { source };
    let mut nl = Netlink::open().map_err(nl_err)?;
    for family in families(targets) {
        let v6 = family == Family::V6;
        let routes = nl.route_prefixes(v6).map_err(nl_err)?;
        let rules = nl.rule_prefixes(v6).map_err(nl_err)?;
        let prefixes = routes
            .into_iter()
            .map(|(dst, len)| (dst.unwrap_or(unspecified(family)), len))
            .chain(rules)
            .filter(|(dst, _)| dst.is_ipv6() == v6)
            .map(|(dst, len)| {
                let (_, first, last) = prefix_range(dst, len);
                (first, last)
            });
        let stretches = Intervals::new(family, prefixes);
        // Names of interface indexes, each asked once.
        let mut names: HashMap<u32, String> = HashMap::new();
        for range in targets.ranges().iter().filter(|r| r.family == family) {
            let mut value = range.first;
            loop {
                let (first, last) = stretches.around(value);
                let target = addr_of(family, value);
                if !plan.table.covers(target) {
                    let egress = match nl.route_to(target).map_err(nl_err)? {
                        Ok(route) => match group_of(&route, target, &mut names)? {
                            Some(group) => Egress::Via(plan.intern(group)?),
                            None => Egress::NoRoute,
                        },
                        // The routing table refuses the destination: nothing can be sent.
                        Err(_errno) => Egress::NoRoute,
                    };
                    plan.table.insert(family, first, last, egress);
                }
                if last >= range.last {
                    break;
                }
                value = last + 1;
            }
        }
    }
    Ok(())
}

/// The group a looked-up route puts `target` in; None for a route that sends nowhere.
fn group_of(
    route: &RouteMsg,
    target: IpAddr,
    names: &mut HashMap<u32, String>,
) -> Result<Option<Group>, RouteError> {
    let usable = matches!(
        route.kind,
        libc::RTN_UNICAST
            | libc::RTN_LOCAL
            | libc::RTN_BROADCAST
            | libc::RTN_ANYCAST
            | libc::RTN_MULTICAST
    );
    let Some(index) = route.oif.filter(|_| usable) else {
        return Ok(None);
    };
    let interface = match names.get(&index) {
        Some(n) => n.clone(),
        None => {
            let n = interface_name(index).ok_or(RouteError::UnknownInterface { target, index })?;
            names.insert(index, n.clone());
            n
        }
    };
    let source = match route.prefsrc {
        Some(s) => s,
        None => address_of(&interface, target.is_ipv6())?,
    };
    Ok(Some(Group { interface, source }))
}

fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has the IF_NAMESIZE bytes if_indextoname may write.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// Mark the network and broadcast addresses of connected IPv4 subnets that are targets (and
/// not excluded) as skipped: the kernel refuses to send to a broadcast address (EACCES), and a
/// network address is no host's.
fn skip_broadcasts(targets: &TargetSet, plan: &mut EgressPlan) -> Result<(), RouteError> {
    let in_targets = |a: IpAddr| {
        let (family, v) = key(a);
        !targets.is_excluded(&a)
            && targets
                .ranges()
                .iter()
                .any(|r| r.family == family && r.first <= v && v <= r.last)
    };
    for ifa in interfaces()? {
        let (IpAddr::V4(addr), Some(len)) = (ifa.addr, ifa.prefix_len) else {
            continue;
        };
        let Some((network, broadcast)) = network_and_broadcast(addr, len) else {
            continue;
        };
        for a in [IpAddr::V4(network), IpAddr::V4(broadcast)] {
            if in_targets(a) && !plan.skipped.contains(&a) {
                plan.table.punch(a, Egress::Skip);
                plan.skipped.push(a);
            }
        }
    }
    plan.skipped.sort_unstable();
    Ok(())
}

/// Whether the kernel refuses to route to `target` at all, as a connected UDP socket finds out
/// without sending anything: the errno if it does. The sender asks this to tell an EINVAL that
/// belongs to one destination (a blackhole route) from one that means the socket is broken.
pub fn refusal(target: IpAddr) -> Option<i32> {
    match source_for(target) {
        Ok(_) => None,
        Err(RouteError::NoRoute { source, .. }) => source.raw_os_error(),
        Err(_) => None,
    }
}

/// The source address for packets to `target`, as the routing table decides.
pub fn source_for(target: IpAddr) -> Result<IpAddr, RouteError> {
    let bind = SocketAddr::new(unspecified(key(target).0), 0);
    let sock = UdpSocket::bind(bind).map_err(|source| RouteError::NoRoute { target, source })?;
    sock.connect(SocketAddr::new(target, 9))
        .map_err(|source| RouteError::NoRoute { target, source })?;
    let local = sock
        .local_addr()
        .map_err(|source| RouteError::NoRoute { target, source })?;
    Ok(local.ip())
}

/// One address of one interface.
struct IfAddr {
    name: String,
    addr: IpAddr,
    /// From the netmask; None when the kernel gave none.
    prefix_len: Option<u8>,
}

/// Every address of every interface, with its prefix length.
fn interfaces() -> Result<Vec<IfAddr>, RouteError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(RouteError::Ifaddrs {
            source: io::Error::last_os_error(),
        });
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned; fields are valid C data.
        unsafe {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null() && !ifa.ifa_name.is_null() {
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                let addr = sockaddr_ip(ifa.ifa_addr);
                let mask = if ifa.ifa_netmask.is_null() {
                    None
                } else {
                    sockaddr_ip(ifa.ifa_netmask)
                };
                if let Some(addr) = addr {
                    out.push(IfAddr {
                        name,
                        addr,
                        prefix_len: mask.map(prefix_len_of),
                    });
                }
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The address in a sockaddr of family AF_INET or AF_INET6.
///
/// # Safety
/// `sa` must point at a valid sockaddr of the size its family implies.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    // SAFETY: the caller vouches for sa; the family tells which struct it is.
    unsafe {
        match (*sa).sa_family as libc::c_int {
            libc::AF_INET => {
                let sin = &*(sa as *const libc::sockaddr_in);
                Some(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ))
            }
            libc::AF_INET6 => {
                let sin6 = &*(sa as *const libc::sockaddr_in6);
                Some(IpAddr::from(sin6.sin6_addr.s6_addr))
            }
            _ => None,
        }
    }
}

/// The prefix length of a netmask (its leading one bits).
fn prefix_len_of(mask: IpAddr) -> u8 {
    match mask {
        IpAddr::V4(m) => u32::from(m).leading_ones() as u8,
        IpAddr::V6(m) => u128::from(m).leading_ones() as u8,
    }
}

/// The interface that owns `addr`.
pub fn interface_of(addr: IpAddr) -> Result<String, RouteError> {
    interfaces()?
        .into_iter()
        .find(|ifa| ifa.addr == addr)
        .map(|ifa| ifa.name)
        .ok_or(RouteError::NoInterface { addr })
}

/// The first address of `family` on `interface` (global scope preferred for IPv6).
pub fn address_of(interface: &str, v6: bool) -> Result<IpAddr, RouteError> {
    let mut addrs: Vec<IpAddr> = interfaces()?
        .into_iter()
        .filter(|ifa| ifa.name == interface && ifa.addr.is_ipv6() == v6)
        .map(|ifa| ifa.addr)
        .collect();
    addrs.sort_by_key(|a| matches!(a, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80));
    addrs.first().copied().ok_or(RouteError::NoAddress {
        interface: interface.to_string(),
        family: family_name(v6),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn targets(spec: &str) -> TargetSet {
        TargetSet::parse(&[spec.to_string()], &[], &[], &[]).unwrap()
    }

    #[test]
    fn loopback_route_and_interface() {
        let src = source_for(ip("127.0.0.1")).unwrap();
        assert_eq!(src, ip("127.0.0.1"));
        assert_eq!(interface_of(src).unwrap(), "lo");
        assert_eq!(address_of("lo", false).unwrap(), src);
        assert!(matches!(
            interface_of(ip("198.18.255.254")),
            Err(RouteError::NoInterface { .. })
        ));
    }

    #[test]
    fn netmasks_become_prefix_lengths() {
        assert_eq!(prefix_len_of(ip("255.255.255.240")), 28);
        assert_eq!(prefix_len_of(ip("255.0.0.0")), 8);
        assert_eq!(prefix_len_of(ip("0.0.0.0")), 0);
        assert_eq!(prefix_len_of(ip("255.255.255.255")), 32);
        assert_eq!(prefix_len_of(ip("ffff:ffff:ffff:ffff::")), 64);
        // lo's 127.0.0.1/8, read back through getifaddrs.
        let lo = interfaces()
            .unwrap()
            .into_iter()
            .find(|i| i.addr == ip("127.0.0.1"))
            .expect("lo has 127.0.0.1");
        assert_eq!(lo.prefix_len, Some(8));
    }

    /// Loopback needs no root and exists everywhere: the whole 127/8 is one local route, its
    /// network and broadcast addresses are skipped, and -S/-e plans cover the whole family.
    #[test]
    fn plans_for_loopback() {
        let opts = SynOptions::default();
        let p = plan(&targets("127.0.0.0/30"), &opts).unwrap();
        assert_eq!(
            p.groups,
            [Group {
                interface: "lo".into(),
                source: ip("127.0.0.1")
            }]
        );
        assert_eq!(p.interfaces(), ["lo"]);
        assert_eq!(
            p.skipped,
            [ip("127.0.0.0")],
            "127.255.255.255 is not a target"
        );
        assert_eq!(p.table.lookup(ip("127.0.0.0")), Egress::Skip);
        assert_eq!(p.table.lookup(ip("127.0.0.3")), Egress::Via(0));

        let mut with = opts.clone();
        with.include_broadcast = true;
        let p = plan(&targets("127.0.0.0/30"), &with).unwrap();
        assert!(p.skipped.is_empty());
        assert_eq!(p.table.lookup(ip("127.0.0.0")), Egress::Via(0));

        // Excluded addresses are not "skipped": they were never targets.
        let set =
            TargetSet::parse(&["127.0.0.0/30".into()], &[], &["127.0.0.0".into()], &[]).unwrap();
        assert!(plan(&set, &opts).unwrap().skipped.is_empty());

        let mut e = opts.clone();
        e.interface = Some("lo".into());
        let p = plan(&targets("198.18.0.1"), &e).unwrap();
        assert_eq!(p.groups[0].source, ip("127.0.0.1"));
        assert_eq!(p.table.lookup(ip("10.9.9.9")), Egress::Via(0));

        let mut s = opts.clone();
        s.source_addr = Some(ip("127.0.0.1"));
        assert!(matches!(
            plan(&targets("::1"), &s),
            Err(RouteError::FamilyMismatch { .. })
        ));
    }
}
