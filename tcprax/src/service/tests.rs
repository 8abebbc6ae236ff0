//! Unit tests of the detector's pieces that need no network: waits and reports.
use super::*;

#[test]
fn waits_scale_with_rtt_and_respect_the_cap() {
    let timeout = Duration::from_secs(2);
    let lan = Waits::new(timeout, Some(Duration::from_millis(1)));
    assert_eq!(lan.banner, Duration::from_millis(254));
    assert!(lan.idle < lan.banner);
    let far = Waits::new(timeout, Some(Duration::from_millis(300)));
    assert_eq!(far.banner, Duration::from_millis(1450));
    let very_far = Waits::new(timeout, Some(Duration::from_secs(5)));
    for d in [
        very_far.connect,
        very_far.banner,
        very_far.handshake,
        very_far.response,
        very_far.idle,
    ] {
        assert!(d <= timeout);
    }
    let tiny = Waits::new(Duration::from_millis(100), None);
    assert!(tiny.banner <= Duration::from_millis(100));
    assert!(Waits::new(Duration::ZERO, None).cap > Duration::ZERO);
}

#[test]
fn git_request_is_one_pkt_line() {
    let target: SocketAddr = "198.18.0.2:9418".parse().unwrap();
    let req = git_request(target);
    assert_eq!(&req[..], b"0026git-upload-pack /\0host=198.18.0.2\0");
    assert_eq!(
        usize::from_str_radix(std::str::from_utf8(&req[..4]).unwrap(), 16).unwrap(),
        req.len()
    );
}

#[test]
fn report_names_tls_wrapped_services() {
    let info = report(
        ServiceClass::TlsServerInitiated,
        b"* OK IMAP4rev1 ready\r\n",
        Some(TlsInfo::default()),
    );
    assert_eq!(info.service.as_deref(), Some("imaps"));
    assert_eq!(info.response, "* OK IMAP4rev1 ready.\n");
    let plain = report(ServiceClass::GenericTcp, b"", None);
    assert_eq!((plain.service, plain.response.as_str()), (None, ""));
}

#[test]
fn host_limit_is_shared_per_address_and_pruned() {
    let d = ServiceDetector::new(&ServiceOptions {
        per_host: 2,
        ..ServiceOptions::default()
    });
    let a: IpAddr = [127, 0, 0, 1].into();
    let s1 = d.host_semaphore(a);
    let s2 = d.host_semaphore(a);
    assert!(Arc::ptr_eq(&s1, &s2));
    assert_eq!(s1.available_permits(), 2);
    drop((s1, s2));
    let s3 = d.host_semaphore(a);
    assert_eq!(s3.available_permits(), 2);
}

#[tokio::test]
async fn reads_end_at_the_cap_at_eof_or_when_done() {
    let w = Waits::new(Duration::from_secs(1), None);
    let long = vec![b'x'; READ_CAP + 5000];
    let got = read_response(&mut long.as_slice(), w.banner, &w).await;
    assert_eq!(got.len(), READ_CAP, "capped, never more");
    let short = b"SSH-2.0-OpenSSH_9.2\r\n";
    let got = read_response(&mut short.as_slice(), w.banner, &w).await;
    assert_eq!(&got[..], short, "everything up to EOF");
    let got = read_until(&mut long.as_slice(), HELLO_CAP, w.banner, &w, |b| {
        b.len() >= 10
    })
    .await;
    assert!(
        (10..long.len()).contains(&got.len()),
        "stopped once done: {}",
        got.len()
    );
}

fn assert_send_sync<T: Send + Sync + Clone>() {}

#[test]
fn detector_is_send_sync_clone() {
    assert_send_sync::<ServiceDetector>();
}
