//! Unit tests of the shared printer machinery: host table, fan-out, text helpers.
use super::fixtures::*;
use super::*;

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

#[test]
fn bucket_drops_kept_ports_once_too_many() {
    let mut table = HostTable::new(ListPolicy::for_verbosity(Verbosity::Normal));
    for port in 1..=11 {
        table.add(&report(
            "198.18.0.2",
            port,
            PortState::Closed,
            Reason::Reset,
        ));
    }
    let (_, host) = table.hosts().next().unwrap_or_else(|| panic!("no host"));
    assert!(host.rows().is_empty());
    assert_eq!(
        host.hidden(),
        vec![Hidden {
            state: PortState::Closed,
            count: 11,
            reasons: vec![(Reason::Reset, 11)]
        }]
    );
}

#[test]
fn verbose_lists_first_ports_and_counts_the_rest() {
    let mut table = HostTable::new(ListPolicy {
        keep: 2,
        partial: true,
    });
    for port in [5, 3, 9] {
        table.add(&report(
            "198.18.0.2",
            port,
            PortState::Filtered,
            Reason::NoResponse,
        ));
    }
    table.add(&report(
        "198.18.0.2",
        7,
        PortState::Filtered,
        Reason::IcmpUnreachable,
    ));
    let (_, host) = table.hosts().next().unwrap_or_else(|| panic!("no host"));
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
