//! Unit tests of the shared printer machinery: host table, fan-out, text helpers.
use super::fixtures::*;
use super::*;
use crate::model::PortState;
use std::sync::Arc;

#[test]
fn clean_replaces_controls_and_bidi() {
    assert_eq!(clean("a\tb\x1b[31m\u{202E}c\u{7f}"), "a.b.[31m.c.");
    assert!(matches!(clean("plain"), Cow::Borrowed(_)));
}

#[test]
fn response_lines_split_on_newline() {
    let lines: Vec<&str> = response_lines("a\r\nb\nc\r\n\r\n").collect();
    assert_eq!(lines, ["a", "b", "c"]);
    assert_eq!(response_lines("").collect::<Vec<_>>(), [""]);
}

/// The one host still in progress, drained.
fn only_host(tracker: &mut HostTracker) -> HostPorts {
    let mut hosts = tracker.drain();
    assert_eq!(hosts.len(), 1);
    hosts.remove(0).1
}

fn plan_of(port_count: usize) -> ScanPlan {
    let mut p = plan(false);
    p.port_count = port_count;
    p
}

#[test]
fn bucket_drops_kept_ports_once_too_many() {
    let mut tracker = HostTracker::new(ListPolicy::for_verbosity(Verbosity::Normal));
    for port in 1..=11 {
        tracker.add(&report(
            "198.18.0.2",
            port,
            PortState::Closed,
            Reason::Reset,
        ));
    }
    let host = only_host(&mut tracker);
    assert!(host.rows().is_empty());
    assert_eq!(
        host.hidden(),
        vec![Hidden {
            state: PortState::Closed,
            count: 11,
            reasons: vec![(Reason::Reset, 11)]
        }]
    );
    assert_eq!(
        tracker.room, KEPT_LIMIT,
        "dropped ports give their room back"
    );
}

#[test]
fn verbose_lists_first_ports_and_counts_the_rest() {
    let mut tracker = HostTracker::new(ListPolicy {
        keep: 2,
        partial: true,
    });
    for port in [5, 3, 9] {
        tracker.add(&report(
            "198.18.0.2",
            port,
            PortState::Filtered,
            Reason::NoResponse,
        ));
    }
    tracker.add(&report(
        "198.18.0.2",
        7,
        PortState::Filtered,
        Reason::IcmpUnreachable,
    ));
    let host = only_host(&mut tracker);
    let ports: Vec<u16> = host.rows().iter().map(|r| r.port).collect();
    assert_eq!(ports, [3, 5]);
    assert_eq!(
        host.hidden(),
        vec![Hidden {
            state: PortState::Filtered,
            count: 2,
            reasons: vec![(Reason::IcmpUnreachable, 1), (Reason::NoResponse, 1)],
        }]
    );
}

#[test]
fn a_host_is_handed_back_and_forgotten_once_every_planned_port_is_in() {
    let mut tracker = HostTracker::new(ListPolicy::for_verbosity(Verbosity::Normal));
    tracker.plan(&plan_of(3));
    let a = "198.18.0.2";
    assert!(
        tracker
            .add(&report(a, 22, PortState::Open, Reason::SynAck))
            .is_none()
    );
    assert!(
        tracker
            .add(&report("198.18.0.3", 22, PortState::Closed, Reason::Reset))
            .is_none()
    );
    assert!(
        tracker
            .add(&report(a, 80, PortState::Closed, Reason::Reset))
            .is_none()
    );
    let Some((addr, host)) = tracker.add(&report(a, 443, PortState::Filtered, Reason::NoResponse))
    else {
        panic!("198.18.0.2 has all 3 ports and is not complete");
    };
    assert_eq!(addr, ip(a));
    let ports: Vec<u16> = host.rows().iter().map(|r| r.port).collect();
    assert_eq!(ports, [22, 80, 443]);
    assert_eq!(tracker.hosts.len(), 1, "only 198.18.0.3 is left");
    assert_eq!(tracker.without_open, 1);
    assert_eq!(tracker.room, KEPT_LIMIT - 1, "198.18.0.3's closed port");
    let (closed, filtered) = tracker.totals();
    assert_eq!(closed.sorted(), [(Reason::Reset, 2)]);
    assert_eq!(filtered.sorted(), [(Reason::NoResponse, 1)]);
}

/// The regression of issue 8: an all-closed scan in random order used to keep every host.
#[test]
fn hosts_without_an_open_port_are_tracked_up_to_the_limit_only() {
    let mut tracker = HostTracker::new(ListPolicy::for_verbosity(Verbosity::Normal));
    tracker.plan(&plan_of(2));
    let hosts = (TRACKED_LIMIT + 1000) as u32;
    let addr = |h: u32| format!("10.{}.{}.{}", h >> 16, (h >> 8) & 0xff, h & 0xff);
    // Worst order: every host's first port before any host's second.
    for port in [1, 2] {
        for h in 0..hosts {
            let done = tracker.add(&report(&addr(h), port, PortState::Closed, Reason::Reset));
            assert!(tracker.hosts.len() <= TRACKED_LIMIT);
            assert_eq!(done.is_some(), port == 2 && (h as usize) < TRACKED_LIMIT);
        }
    }
    // The last 1000 hosts' first ports went untracked; their second ones found room again
    // (the first hosts were complete by then) and wait, flagged late, for the end.
    assert_eq!(tracker.untracked(), 1000);
    assert_eq!(tracker.hosts.len(), 1000);
    assert!(tracker.hosts.values().all(|h| h.late && h.total() == 1));
    assert_eq!(tracker.totals().0.total(), 2 * u64::from(hosts));
    assert_eq!(tracker.drain().len(), 1000);
    assert_eq!(tracker.room, KEPT_LIMIT);
    assert_eq!(tracker.without_open, 0);
}

/// A host whose first verdict came while the tracker was full, and which opens a port later:
/// tracked from its open port on, flagged, reported at the end with what it may miss.
#[test]
fn a_host_tracked_late_is_reported_at_the_end_with_what_it_misses() {
    let mut tracker = HostTracker::new(ListPolicy::for_verbosity(Verbosity::Normal));
    tracker.plan(&plan_of(3));
    for h in 0..TRACKED_LIMIT as u32 {
        let addr = format!("10.0.{}.{}", h >> 8, h & 0xff);
        tracker.add(&report(&addr, 1, PortState::Closed, Reason::Reset));
    }
    let late = "198.18.0.9";
    assert!(
        tracker
            .add(&report(late, 1, PortState::Closed, Reason::Reset))
            .is_none()
    );
    assert_eq!(tracker.untracked(), 1);
    assert!(
        tracker
            .add(&report(late, 2, PortState::Open, Reason::SynAck))
            .is_none()
    );
    assert!(
        tracker
            .add(&report(late, 3, PortState::Closed, Reason::Reset))
            .is_none()
    );
    let hosts = tracker.drain();
    assert_eq!(hosts.len(), TRACKED_LIMIT + 1);
    let (_, host) = hosts
        .iter()
        .find(|(a, _)| *a == ip(late))
        .unwrap_or_else(|| panic!("{late} not tracked"));
    assert_eq!(host.total(), 2);
    assert_eq!(tracker.missing(host), Some(1));
    // Hosts tracked from their first verdict miss nothing, complete or not.
    assert_eq!(tracker.missing(&hosts[0].1), None);
    assert_eq!(tracker.without_open, 0);
}

#[test]
fn listing_stops_at_the_kept_limit_and_then_counts() {
    let mut tracker = HostTracker::new(ListPolicy::for_verbosity(Verbosity::Normal));
    tracker.room = 3;
    for h in 1..=2 {
        for port in 1..=2 {
            tracker.add(&report(
                &format!("198.18.0.{h}"),
                port,
                PortState::Closed,
                Reason::Reset,
            ));
        }
    }
    let hosts = tracker.drain();
    // The first host keeps both ports; the second cannot keep its second one, so it lists
    // none rather than an incomplete list.
    assert_eq!(hosts[0].1.rows().len(), 2);
    assert!(hosts[1].1.rows().is_empty());
    assert_eq!(hosts[1].1.hidden()[0].count, 2);
    assert_eq!(tracker.room, 3);
}

#[test]
fn fan_out_calls_every_printer_and_returns_first_error() {
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }
    let shared = SharedBuf::default();
    let mut printers: Vec<Box<dyn Printer + Send>> = vec![
        printer_for(OutputFormat::Json, Failing, Verbosity::Normal),
        printer_for(OutputFormat::Json, shared.clone(), Verbosity::Normal),
    ];
    let err = printers.as_mut_slice().plan(&plan(false));
    assert_eq!(err.map_err(|e| e.kind()), Err(io::ErrorKind::BrokenPipe));
    assert!(shared.text().starts_with("{\"type\":\"plan\""));
}

#[test]
fn open_printers_names_the_bad_path() {
    let path = PathBuf::from("/nonexistent-dir-tcprax/out.json");
    let specs = [OutputSpec {
        format: OutputFormat::Json,
        path: Some(path.clone()),
    }];
    match open_printers(&specs, Verbosity::Normal) {
        Err(err @ OutputError::Open { .. }) => {
            assert!(
                err.to_string().contains("/nonexistent-dir-tcprax/out.json"),
                "{err}"
            );
        }
        Ok(_) => panic!("opened {}", path.display()),
    }
}

/// A writer the test can read after handing a clone to a boxed printer.
#[derive(Clone, Default)]
struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);
impl SharedBuf {
    fn text(&self) -> String {
        let buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }
}
impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
