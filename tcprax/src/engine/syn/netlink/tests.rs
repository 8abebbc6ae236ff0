use super::*;

fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((RTA_HDRLEN + value.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(value);
    a.resize(align4(a.len()), 0);
    a
}

fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + payload.len();
    let mut m = Vec::new();
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(align4(m.len()), 0);
    m
}

/// What `ip route get 198.18.5.3` reads back: a unicast route out of interface 7 from
/// 198.18.5.1 (plus attributes we skip).
fn route_reply() -> Vec<u8> {
    let mut p = vec![libc::AF_INET as u8, 32, 0, 0, 254, 0, 0, libc::RTN_UNICAST];
    p.extend_from_slice(&0u32.to_ne_bytes());
    p.extend(attr(libc::RTA_TABLE, &254u32.to_ne_bytes()));
    p.extend(attr(libc::RTA_DST, &[198, 18, 5, 3]));
    p.extend(attr(libc::RTA_OIF, &7u32.to_ne_bytes()));
    p.extend(attr(libc::RTA_PREFSRC, &[198, 18, 5, 1]));
    p.extend(attr(libc::RTA_GATEWAY, &[198, 18, 5, 254]));
    p.extend(attr(libc::RTA_UID, &0u32.to_ne_bytes()));
    p
}

#[test]
fn a_neighbour_entry_gives_interface_address_state_and_mac() {
    // ndmsg: AF_INET, pads, ifindex 4, NUD_REACHABLE, flags, type.
    let mut p = vec![libc::AF_INET as u8, 0, 0, 0];
    p.extend_from_slice(&4i32.to_ne_bytes());
    p.extend_from_slice(&0x02u16.to_ne_bytes());
    p.extend_from_slice(&[0, 1]);
    p.extend(attr(NDA_DST, &[198, 18, 0, 2]));
    p.extend(attr(NDA_LLADDR, &[2, 0, 0, 0, 0, 9]));
    assert_eq!(
        parse_neighbour(&p),
        Some(Neighbour {
            ifindex: 4,
            addr: IpAddr::from([198, 18, 0, 2]),
            state: 0x02,
            lladdr: Some([2, 0, 0, 0, 0, 9]),
        })
    );
    // An incomplete entry has no link-layer address; one without NDA_DST is skipped.
    let mut q = p[..NDMSG_LEN].to_vec();
    q[8..10].copy_from_slice(&0x01u16.to_ne_bytes());
    q.extend(attr(NDA_DST, &[198, 18, 0, 3]));
    assert_eq!(parse_neighbour(&q).unwrap().lladdr, None);
    assert_eq!(parse_neighbour(&p[..NDMSG_LEN]), None);
}

#[test]
fn a_route_reply_gives_interface_source_and_prefix() {
    let buf = message(libc::RTM_NEWROUTE, 3, &route_reply());
    let msgs: Vec<_> = messages(&buf).collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].kind, msgs[0].seq), (libc::RTM_NEWROUTE, 3));
    assert_eq!(
        parse_route(msgs[0].payload),
        Some(RouteMsg {
            kind: libc::RTN_UNICAST,
            dst_len: 32,
            dst: Some(IpAddr::from([198, 18, 5, 3])),
            oif: Some(7),
            prefsrc: Some(IpAddr::from([198, 18, 5, 1])),
            gateway: Some(IpAddr::from([198, 18, 5, 254])),
        })
    );
}

#[test]
fn a_default_route_has_no_destination_and_ipv6_addresses_decode() {
    let mut p = vec![libc::AF_INET6 as u8, 0, 0, 0, 254, 0, 0, libc::RTN_UNICAST];
    p.extend_from_slice(&0u32.to_ne_bytes());
    let src: std::net::Ipv6Addr = "2001:2::1".parse().unwrap();
    p.extend(attr(libc::RTA_PREFSRC, &src.octets()));
    let r = parse_route(&p).unwrap();
    assert_eq!((r.dst, r.dst_len, r.oif), (None, 0, None));
    assert_eq!(r.prefsrc, Some(IpAddr::V6(src)));
}

#[test]
fn several_messages_errors_and_truncation() {
    let mut buf = message(libc::RTM_NEWROUTE, 1, &route_reply());
    let mut err = (-libc::EINVAL).to_ne_bytes().to_vec();
    err.extend_from_slice(&[0u8; 16]);
    buf.extend(message(libc::NLMSG_ERROR as u16, 2, &err));
    buf.extend(message(libc::NLMSG_DONE as u16, 2, &[0; 4]));
    let msgs: Vec<_> = messages(&buf).collect();
    assert_eq!(msgs.len(), 3);
    assert_eq!(error_of(msgs[1].payload), libc::EINVAL);
    assert_eq!(error_of(&0i32.to_ne_bytes()), 0, "an ack");
    // A header whose length runs past the buffer ends the walk instead of panicking.
    let cut = &buf[..buf.len() - 3];
    assert_eq!(messages(cut).count(), 2);
    assert_eq!(parse_route(&[0; 5]), None);
    // An attribute whose length runs past the payload is ignored, not read.
    let mut p = route_reply();
    p.truncate(RTMSG_LEN + 8);
    p.extend_from_slice(&200u16.to_ne_bytes());
    p.extend_from_slice(&libc::RTA_OIF.to_ne_bytes());
    p.extend_from_slice(&7u32.to_ne_bytes());
    assert_eq!(parse_route(&p).unwrap().oif, None);
}

#[test]
fn rules_with_a_destination_only() {
    let mut with = vec![libc::AF_INET as u8, 16, 0, 0, 100, 0, 0, 1];
    with.extend_from_slice(&0u32.to_ne_bytes());
    with.extend(attr(FRA_DST, &[198, 18, 0, 0]));
    assert_eq!(
        parse_rule_dst(&with),
        Some((IpAddr::from([198, 18, 0, 0]), 16))
    );
    let mut without = vec![libc::AF_INET as u8, 0, 0, 0, 254, 0, 0, 1];
    without.extend_from_slice(&0u32.to_ne_bytes());
    assert_eq!(parse_rule_dst(&without), None);
}

#[test]
fn requests_are_well_formed() {
    let req = request(
        libc::RTM_GETROUTE,
        libc::NLM_F_REQUEST as u16,
        9,
        libc::AF_INET as u8,
        Some((libc::RTA_DST, IpAddr::from([198, 18, 5, 3]))),
    );
    assert_eq!(req.len(), NLMSG_HDRLEN + RTMSG_LEN + 8);
    let msg = messages(&req).next().unwrap();
    assert_eq!((msg.kind, msg.seq), (libc::RTM_GETROUTE, 9));
    let r = parse_route(msg.payload).unwrap();
    assert_eq!(
        (r.dst_len, r.dst),
        (32, Some(IpAddr::from([198, 18, 5, 3])))
    );
    let dump = request(libc::RTM_GETRULE, 0, 1, libc::AF_INET6 as u8, None);
    assert_eq!(dump.len(), NLMSG_HDRLEN + RTMSG_LEN);
}

/// The live kernel answers for loopback (no root needed: lookups are unprivileged).
#[test]
fn loopback_lookup_and_dumps() {
    let mut nl = Netlink::open().unwrap();
    let r = nl.route_to(IpAddr::from([127, 0, 0, 1])).unwrap().unwrap();
    assert_eq!(r.kind, libc::RTN_LOCAL);
    assert_eq!(r.prefsrc, Some(IpAddr::from([127, 0, 0, 1])));
    assert!(r.oif.is_some());
    let prefixes = nl.route_prefixes(false).unwrap();
    assert!(
        prefixes.contains(&(Some(IpAddr::from([127, 0, 0, 0])), 8)),
        "the local table's 127.0.0.0/8: {prefixes:?}"
    );
    nl.rule_prefixes(false).unwrap();
}
