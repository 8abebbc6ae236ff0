use super::*;

/// `struct nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;

/// An attribute: length, type, value, padding to 4 bytes.
fn attr(typ: u16, value: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&typ.to_ne_bytes());
    a.extend_from_slice(value);
    while !a.len().is_multiple_of(4) {
        a.push(0);
    }
    a
}

/// An RTM_NEWLINK message for interface `index` of type `arphrd` with `attrs` after it.
fn newlink(index: u32, arphrd: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut body = vec![libc::AF_UNSPEC as u8, 0];
    body.extend_from_slice(&arphrd.to_ne_bytes());
    body.extend_from_slice(&(index as i32).to_ne_bytes());
    body.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    for a in attrs {
        body.extend_from_slice(a);
    }
    let mut msg = Vec::new();
    msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// IFLA_XDP with NLA_F_NESTED set, as the kernel sends it.
fn xdp_nest(inner: &[Vec<u8>]) -> Vec<u8> {
    attr(IFLA_XDP | 0x8000, &inner.concat())
}

#[test]
fn parses_type_index_and_no_program() {
    let msg = newlink(
        7,
        arphrd::NONE,
        &[
            attr(3, b"tun0\0"), // IFLA_IFNAME, odd length: padded
            xdp_nest(&[attr(IFLA_XDP_ATTACHED, &[0])]),
        ],
    );
    assert_eq!(
        parse_newlink(&msg).unwrap(),
        Interface {
            index: 7,
            arphrd: arphrd::NONE,
            xdp: None,
            mac: None,
            kind: None,
            link: None,
            link_netnsid: None,
        }
    );
}

#[test]
fn parses_a_veth_kind_and_its_peer() {
    // IFLA_LINKINFO (nested) holding IFLA_INFO_KIND "veth", IFLA_LINK 9, IFLA_LINK_NETNSID 3.
    let info = attr(IFLA_LINKINFO | 0x8000, &attr(IFLA_INFO_KIND, b"veth\0"));
    let msg = newlink(
        4,
        arphrd::ETHER,
        &[
            info,
            attr(IFLA_LINK, &9u32.to_ne_bytes()),
            attr(IFLA_LINK_NETNSID, &3i32.to_ne_bytes()),
        ],
    );
    let got = parse_newlink(&msg).unwrap();
    assert_eq!(got.kind.as_deref(), Some("veth"));
    assert_eq!((got.link, got.link_netnsid), (Some(9), Some(3)));
    // A device tied to nothing says IFLA_LINK = its own index or 0; 0 means none.
    let msg = newlink(4, arphrd::ETHER, &[attr(IFLA_LINK, &0u32.to_ne_bytes())]);
    assert_eq!(parse_newlink(&msg).unwrap().link, None);
}

#[test]
fn parses_an_ethernet_address() {
    let msg = newlink(4, arphrd::ETHER, &[attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 7])]);
    assert_eq!(parse_newlink(&msg).unwrap().mac, Some([2, 0, 0, 0, 0, 7]));
}

#[test]
fn parses_the_attached_program_and_its_mode() {
    let msg = newlink(
        3,
        arphrd::ETHER,
        &[xdp_nest(&[
            attr(IFLA_XDP_ATTACHED, &[2]),
            attr(IFLA_XDP_SKB_PROG_ID, &42u32.to_ne_bytes()),
            attr(IFLA_XDP_PROG_ID, &42u32.to_ne_bytes()),
        ])],
    );
    assert_eq!(
        parse_newlink(&msg).unwrap().xdp,
        Some((42, XdpAttachMode::Generic))
    );
    // Native and generic at once ("multi", 4): the per-mode ids say which.
    let msg = newlink(
        3,
        arphrd::ETHER,
        &[xdp_nest(&[
            attr(IFLA_XDP_ATTACHED, &[4]),
            attr(IFLA_XDP_DRV_PROG_ID, &9u32.to_ne_bytes()),
            attr(IFLA_XDP_SKB_PROG_ID, &10u32.to_ne_bytes()),
        ])],
    );
    assert_eq!(
        parse_newlink(&msg).unwrap().xdp,
        Some((9, XdpAttachMode::Native))
    );
}

#[test]
fn an_error_reply_is_its_errno_and_garbage_is_invalid_data() {
    let mut msg = Vec::new();
    msg.extend_from_slice(&36u32.to_ne_bytes());
    msg.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
    msg.extend_from_slice(&[0; 10]);
    msg.extend_from_slice(&(-libc::ENODEV).to_ne_bytes());
    msg.extend_from_slice(&[0; 16]);
    assert_eq!(
        parse_newlink(&msg).unwrap_err().raw_os_error(),
        Some(libc::ENODEV)
    );
    assert_eq!(
        parse_newlink(&[1, 2, 3]).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    // A length field beyond the buffer.
    let mut msg = newlink(1, arphrd::ETHER, &[]);
    msg[0] = 0xff;
    assert_eq!(
        parse_newlink(&msg).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
}

#[test]
fn link_types() {
    assert_eq!(
        LinkType::from_arphrd(arphrd::ETHER),
        Some(LinkType::Ethernet)
    );
    assert_eq!(
        LinkType::from_arphrd(arphrd::LOOPBACK),
        Some(LinkType::Ethernet)
    );
    for l3 in [
        arphrd::NONE,
        arphrd::TUNNEL,
        arphrd::SIT,
        arphrd::IPGRE,
        arphrd::PPP,
    ] {
        assert_eq!(LinkType::from_arphrd(l3), Some(LinkType::Ip), "{l3}");
    }
    // InfiniBand: neither.
    assert_eq!(LinkType::from_arphrd(32), None);
}

/// Needs no privileges: every namespace has a loopback interface.
#[test]
fn queries_loopback_and_knows_no_such_interface() {
    let lo = query("lo").unwrap().expect("lo exists");
    assert_eq!(lo.arphrd, arphrd::LOOPBACK);
    assert_eq!(lo.index, 1);
    assert_eq!(query("tcprax-none0").unwrap(), None);
}
