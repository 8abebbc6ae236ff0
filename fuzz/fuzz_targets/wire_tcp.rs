//! `TcpSegment::parse` on arbitrary bytes, and on the same bytes as the TCP part of an IPv4 and
//! an IPv6 packet with a matching checksum (so the fuzzer gets past the IP header and the
//! checksum to the TCP header and its options). Whatever parses must survive `emit` + `parse`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::wire::TcpSegment;
use tcprax_fuzz::wrap_tcp;

fn check(packet: &[u8]) {
    let Ok(seg) = TcpSegment::parse(packet) else {
        return;
    };
    let mut buf = vec![0xa5; seg.buffer_len()];
    let n = seg.emit(&mut buf).expect("a parsed segment can be emitted");
    assert_eq!(n, buf.len());
    assert_eq!(TcpSegment::parse(&buf), Ok(seg));
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&wrap_tcp(data, false));
    check(&wrap_tcp(data, true));
});
