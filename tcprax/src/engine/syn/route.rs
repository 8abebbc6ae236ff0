//! Where probes leave from: the source address the kernel would use to reach a target (a
//! connected UDP socket tells, without sending anything) and the interface that owns it.
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

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
}

/// The source address for packets to `target`, as the routing table decides.
pub fn source_for(target: IpAddr) -> Result<IpAddr, RouteError> {
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .map_err(|_| RouteError::NoInterface { addr: target })?;
    let sock = UdpSocket::bind(bind).map_err(|source| RouteError::NoRoute { target, source })?;
    sock.connect(SocketAddr::new(target, 9))
        .map_err(|source| RouteError::NoRoute { target, source })?;
    let local = sock
        .local_addr()
        .map_err(|source| RouteError::NoRoute { target, source })?;
    Ok(local.ip())
}

/// (interface name, address) for every address of every interface.
fn interfaces() -> Result<Vec<(String, IpAddr)>, RouteError> {
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
                match (*ifa.ifa_addr).sa_family as libc::c_int {
                    libc::AF_INET => {
                        let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                        let ip = IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes());
                        out.push((name, ip));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                        out.push((name, IpAddr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The interface that owns `addr`.
pub fn interface_of(addr: IpAddr) -> Result<String, RouteError> {
    interfaces()?
        .into_iter()
        .find(|(_, a)| *a == addr)
        .map(|(name, _)| name)
        .ok_or(RouteError::NoInterface { addr })
}

/// The first address of `family` on `interface` (global scope preferred for IPv6).
pub fn address_of(interface: &str, v6: bool) -> Result<IpAddr, RouteError> {
    let mut addrs: Vec<IpAddr> = interfaces()?
        .into_iter()
        .filter(|(n, a)| n == interface && a.is_ipv6() == v6)
        .map(|(_, a)| a)
        .collect();
    addrs.sort_by_key(|a| matches!(a, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80));
    addrs.first().copied().ok_or(RouteError::NoAddress {
        interface: interface.to_string(),
        family: if v6 { "IPv6" } else { "IPv4" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_route_and_interface() {
        let src = source_for("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(src, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(interface_of(src).unwrap(), "lo");
        assert_eq!(address_of("lo", false).unwrap(), src);
        assert!(matches!(
            interface_of("198.18.255.254".parse().unwrap()),
            Err(RouteError::NoInterface { .. })
        ));
    }
}
