//! -vv makes the XDP program explain, on stderr, why it passed frames that looked like replies
//! to us; without it the program carries no logging code at all (the verifier prunes it).
mod common;

use std::net::IpAddr;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use tcprax::engine::syn::capture::OBJECT;
use tcprax::wire::tcp::{TcpFlags, TcpSegment};
use tcprax_lab::testbed::{SCANNER_V4, TARGET_V4, Testbed, have_privileges, xdp_attached};

/// The scanner's source ports in these tests; the forged segments go to one inside.
const SOURCE_PORTS: &str = "61000-61999";
const FORGED_TO: u16 = 61500;

/// Send `segment` (built from the target's address) from inside the target namespace through a
/// raw IPv4 socket, as if the target's stack had sent it.
fn send_from_target(tb: &Testbed, segment: TcpSegment) {
    tb.in_target(move || {
        let mut packet = vec![0u8; segment.buffer_len()];
        let len = segment.emit(&mut packet).expect("emit forged segment");
        // SAFETY: plain socket(2)/sendto(2)/close(2) on a descriptor this closure owns, with a
        // sockaddr_in and a buffer that outlive the calls.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
            assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
            let IpAddr::V4(dst) = segment.dst else {
                panic!("IPv4 only")
            };
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(dst.octets()),
                },
                sin_zero: [0; 8],
            };
            let sent = libc::sendto(
                fd,
                packet.as_ptr().cast(),
                len,
                0,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            assert_eq!(sent, len as isize, "sendto: {err}");
        }
    })
    .unwrap();
}

/// A segment from the target's port 22 to our port [`FORGED_TO`] with `flags` and an ack that
/// is no cookie of ours (the key is random per scan: a match is a 1 in 2^32 accident).
fn forged(flags: u8) -> TcpSegment {
    TcpSegment {
        src: IpAddr::V4(TARGET_V4),
        dst: IpAddr::V4(SCANNER_V4),
        src_port: 22,
        dst_port: FORGED_TO,
        seq: 0x0bad_5eed,
        ack: 0x1234_5678,
        flags: TcpFlags(flags),
        window: 64240,
        mss: None,
    }
}

/// Run a -sS scan slow enough (~2 s) to forge a bad-cookie SYN-ACK and a bare ACK at it while
/// its program is attached; the scan's output.
fn scan_while_forging(tb: &Testbed, extra: &[&str]) -> Output {
    let child = tb
        .scanner_command(common::bin())
        .args(["-sS", "198.18.0.2", "-p", "1-100", "--rate", "50"])
        .args(["--source-port-range", SOURCE_PORTS, "-oJ", "-"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !xdp_attached(&tb.scanner_ns, &tb.scanner_if).unwrap() {
        assert!(Instant::now() < deadline, "XDP never attached");
        std::thread::sleep(Duration::from_millis(20));
    }
    send_from_target(tb, forged(TcpFlags::SYN | TcpFlags::ACK));
    send_from_target(tb, forged(TcpFlags::ACK));
    child.wait_with_output().unwrap()
}

/// The `bad_cookie` counter of the run's JSON summary: proves the forged SYN-ACK reached the
/// program, so a run without explanations is quiet by choice, not because nothing arrived.
fn bad_cookies(out: &Output) -> u64 {
    assert!(
        out.status.success(),
        "tcprax failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_summary(out)["xdp"]["bad_cookie"]
        .as_u64()
        .expect("summary with XDP counters")
}

fn xdp_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("tcprax: xdp: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn vv_explains_a_bad_cookie_and_a_bare_ack_and_nothing_without_it() {
    let Some(tb) = common::testbed("trxxlog") else {
        return;
    };
    let about = format!("tcprax: xdp: 198.18.0.2 port 22 -> our port {FORGED_TO}: passed: ");

    let out = scan_while_forging(&tb, &["-vv"]);
    assert!(bad_cookies(&out) >= 1, "forged SYN-ACK never reached XDP");
    let lines = xdp_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&about) && l.contains("bad cookie (ack 12345678 ")),
        "no bad-cookie explanation in {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&about) && l.contains("bare ACK")),
        "no bare-ACK explanation in {lines:#?}"
    );
    // The scan's own replies validate: nothing else in range is explained.
    assert_eq!(lines.len(), 2, "{lines:#?}");

    let out = scan_while_forging(&tb, &[]);
    assert!(bad_cookies(&out) >= 1, "forged SYN-ACK never reached XDP");
    assert_eq!(
        xdp_lines(&out),
        Vec::<String>::new(),
        "explained without -vv"
    );
}

/// Loads the program with the switch off and on, without attaching it: the verifier accepts
/// both, and with the switch off it removed the logging code (the translated program is much
/// smaller), so a normal scan pays nothing for -vv.
#[test]
fn logging_off_leaves_no_logging_code() {
    if !have_privileges() {
        eprintln!("SKIP: needs root to load BPF programs");
        return;
    }
    let sizes = |switch: u8| {
        let mut ebpf = aya::EbpfLoader::new()
            .override_global(tcprax_common::GLOBAL_LOG, &switch, true)
            .load(OBJECT)
            .expect("load object (built with AYA_BUILD_SKIP=1?)");
        let program: &mut aya::programs::Xdp = ebpf
            .program_mut(tcprax_common::PROGRAM_NAME)
            .unwrap()
            .try_into()
            .unwrap();
        program
            .load()
            .unwrap_or_else(|e| panic!("verifier rejected the program (log {switch}): {e:?}"));
        let info = program.info().unwrap();
        (
            info.size_translated().expect("translated size"),
            info.size_jitted(),
            info.verified_instruction_count(),
        )
    };
    let off = sizes(0);
    let on = sizes(1);
    eprintln!("log off: (xlated bytes, jited bytes, verified insns) {off:?}; log on: {on:?}");
    assert!(
        on.0 > 2 * off.0,
        "the logging code was not pruned with the switch off: off {off:?}, on {on:?}"
    );
}
