//! Unit tests of the capture side that need no XDP.
use std::hash::Hasher as _;
use tcprax_common::{cookie, siphash24_3w, v4_mapped};

/// The kernel-side SipHash (written out for the verifier) is real SipHash-2-4.
#[test]
fn shared_siphash_matches_reference() {
    for (k0, k1, m) in [
        (0u64, 0u64, [0u64, 0, 0]),
        (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908, [1, 2, 3]),
        (u64::MAX, 42, [u64::MAX, 7, 0x1234_5678]),
    ] {
        let mut reference = siphasher::sip::SipHasher24::new_with_keys(k0, k1);
        for w in m {
            reference.write(&w.to_le_bytes());
        }
        assert_eq!(siphash24_3w(k0, k1, m), reference.finish());
    }
}

/// What each kind of holder is told to do; the integration tests (`xdp_links.rs`) see the
/// first two in a real attach.
#[test]
fn occupied_message_names_the_holder_and_what_to_do() {
    use super::{XdpAttachMode, XdpHolder, occupied_message};
    let holder = |name: &str, mode, via_link| XdpHolder {
        id: 7,
        name: Some(name.to_string()),
        mode,
        via_link,
    };
    let common = "; or scan through another interface with -e IFACE; or use -sT (a connect \
                  scan, no XDP)";
    let cases = [
        (
            Some(holder("tcprax", XdpAttachMode::Native, true)),
            "XDP program 7 'tcprax' (native mode, held through a bpf_link) is attached to \
             it already",
            "Another tcprax -sS is probably scanning through it: wait for that scan to end \
             (or stop it)",
        ),
        (
            Some(holder("xdp_lb", XdpAttachMode::Generic, false)),
            "XDP program 7 'xdp_lb' (generic mode) is attached",
            "If nothing needs it, detach it: `ip link set dev eth1 xdpgeneric off`",
        ),
        (
            Some(holder("cil_xdp_entry", XdpAttachMode::Native, true)),
            "XDP program 7 'cil_xdp_entry' (native mode, held through a bpf_link)",
            "The process that owns the link keeps it attached (`bpftool link show` names \
             it): stop that process if it is not needed",
        ),
        (
            None,
            "'eth1': another XDP program is attached",
            "If nothing needs it, detach it: `ip link set dev eth1 xdp off`",
        ),
    ];
    for (holder, who, what_to_do) in cases {
        let text = occupied_message("eth1", holder.as_ref());
        assert!(
            text.starts_with("cannot attach XDP to interface 'eth1': "),
            "{text}"
        );
        assert!(text.contains(who), "{who:?} not in {text}");
        assert!(
            text.ends_with(&format!("{what_to_do}{common}")),
            "{what_to_do:?} not at the end of {text}"
        );
    }
}

#[test]
fn cookie_depends_on_every_part_of_the_tuple() {
    let a = v4_mapped([198, 18, 0, 2]);
    let b = v4_mapped([198, 18, 0, 3]);
    let c = cookie(1, 2, &a, 80, 61000);
    assert_ne!(c, cookie(1, 2, &b, 80, 61000));
    assert_ne!(c, cookie(1, 2, &a, 81, 61000));
    assert_ne!(c, cookie(1, 2, &a, 80, 61001));
    assert_ne!(c, cookie(1, 3, &a, 80, 61000));
    assert_eq!(c, cookie(1, 2, &a, 80, 61000));
}

/// Where the program may send our RSTs: by default only where XDP_TX has a ring of its own
/// (native XDP on hardware); on request wherever such a frame leaves at all.
#[test]
fn where_xdp_may_send_rsts() {
    use super::iface::Interface;
    use super::{LinkType, XdpAttachMode, own_tx_ring, xdp_tx_blocked};
    let nic = Interface {
        index: 2,
        arphrd: 1,
        xdp: None,
        mac: Some([2, 0, 0, 0, 0, 1]),
        kind: None,
        link: None,
        link_netnsid: None,
    };
    let bridge = Interface {
        kind: Some("bridge".into()),
        ..nic.clone()
    };
    let native = Some(XdpAttachMode::Native);
    let generic = Some(XdpAttachMode::Generic);
    assert!(own_tx_ring(&nic, native));
    assert!(
        !own_tx_ring(&nic, generic),
        "generic: the interface's own queue"
    );
    assert!(!own_tx_ring(&bridge, native));
    assert!(!own_tx_ring(&nic, None));
    assert_eq!(xdp_tx_blocked(&nic, LinkType::Ethernet, native), None);
    assert_eq!(xdp_tx_blocked(&bridge, LinkType::Ethernet, generic), None);
    assert!(
        xdp_tx_blocked(&nic, LinkType::Ip, generic).is_some(),
        "no link header"
    );
    assert!(xdp_tx_blocked(&bridge, LinkType::Ethernet, native).is_some());
    assert!(xdp_tx_blocked(&nic, LinkType::Ethernet, Some(XdpAttachMode::Offload)).is_some());
    assert!(xdp_tx_blocked(&nic, LinkType::Ethernet, None).is_some());
}
