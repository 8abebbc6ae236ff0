//! Printers under volume: synthetic scans of thousands of hosts in random arrival order, the
//! digest of every format's bytes pinned (so a change for speed cannot change one output byte
//! unseen), and the benchmark of the CPU the printers cost per verdict.
use super::fixtures::{https, ssh};
use super::*;
use crate::clock::thread_cpu_ns;
use crate::config::Shard;
use crate::model::{PortState, Reason, ScanEvent, ScanType};
use sha2::{Digest as _, Sha256};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// xorshift64*: a fixed, seeded sequence (no dependency on rand's algorithm choice).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// A synthetic scan: its plan, its reports in arrival order, its summary.
struct Synthetic {
    /// None: printed without a plan (nothing completes, the -sV columns appear on the way).
    plan: Option<ScanPlan>,
    reports: Vec<PortReport>,
    summary: ScanSummary,
}

fn plan_for(hosts: usize, ports: &[u16], service_detection: bool) -> ScanPlan {
    ScanPlan {
        scan_type: ScanType::Syn,
        targets: vec![TargetInfo {
            spec: "synthetic".into(),
            resolved: None,
            addresses: hosts as u128,
        }],
        port_count: ports.len(),
        ports: ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","),
        concurrency: 128,
        rate: Some(100_000),
        service_detection,
        exclude: Vec::new(),
        retries: 2,
        seed: Some(1),
        shard: Some(Shard { index: 1, count: 1 }),
        include_broadcast: false,
    }
}

fn summary_of(reports: &[PortReport], interrupted: bool) -> ScanSummary {
    let mut s = ScanSummary {
        elapsed: Duration::from_millis(2345),
        interrupted,
        ..ScanSummary::default()
    };
    for r in reports {
        s.count(r.event.state);
    }
    s.probes_sent = s.ports_scanned + s.filtered;
    s
}

/// An RTT in nanoseconds, so the printers' rounding to 10 µs (human) and truncation to 1 µs
/// (JSON) both get exercised.
fn rtt(rng: &mut Rng) -> Option<Duration> {
    Some(Duration::from_nanos(20_000 + rng.below(40_000_000)))
}

/// 200 hosts (160 IPv4, 40 IPv6) × 12 ports, every state and reason, services, names, some
/// verdicts missing (an interrupted scan: hosts left in progress).
fn mixed() -> Synthetic {
    const PORTS: [u16; 12] = [21, 22, 23, 25, 53, 80, 110, 143, 443, 445, 3389, 8080];
    let mut rng = Rng(0x5EED_0001);
    let mut reports = Vec::new();
    for i in 0..200u32 {
        let addr = if i < 160 {
            IpAddr::V4(Ipv4Addr::from(0xC612_0100 + i))
        } else {
            IpAddr::V6(Ipv6Addr::from(0x2001_0002_u128 << 96 | u128::from(i)))
        };
        let name: Option<Arc<str>> = (i % 13 == 0).then(|| format!("h{i}.test").into());
        for (k, &port) in PORTS.iter().enumerate() {
            let roll = rng.below(100);
            let (state, reason) = match i % 5 {
                // Closed, a few filtered.
                0 if roll < 90 => (PortState::Closed, Reason::Reset),
                0 => (PortState::Filtered, Reason::NoResponse),
                // Silent: every port filtered, mostly without an answer.
                1 if roll < 85 => (PortState::Filtered, Reason::NoResponse),
                1 => (PortState::Filtered, Reason::IcmpUnreachable),
                // A few open, the rest closed (few enough to list for some hosts).
                2 if k % 4 == 1 => (PortState::Open, Reason::SynAck),
                2 if roll < 30 => (PortState::Filtered, Reason::NoResponse),
                2 => (PortState::Closed, Reason::Reset),
                // Open, filtered and unreachable.
                3 if roll < 25 => (PortState::Open, Reason::SynAck),
                3 if roll < 35 => (PortState::Unreachable, Reason::NoRoute),
                3 if roll < 45 => (PortState::Unreachable, Reason::SendFailed { errno: 13 }),
                3 => (PortState::Filtered, Reason::NoResponse),
                // Connect-scan reasons.
                _ if roll < 50 => (PortState::Open, Reason::Connected),
                _ if roll < 80 => (PortState::Closed, Reason::Refused),
                _ => (PortState::Filtered, Reason::Unreachable),
            };
            let answered = !matches!(
                reason,
                Reason::NoResponse | Reason::NoRoute | Reason::SendFailed { .. }
            );
            let ttl = match reason {
                Reason::SynAck | Reason::Reset | Reason::IcmpUnreachable => {
                    Some(32 + rng.below(200) as u8)
                }
                _ => None,
            };
            let service = match (state, port) {
                (PortState::Open, 22) if i % 3 == 0 => ssh("198.18.0.1").service,
                (PortState::Open, 443) => https("198.18.0.1").service,
                _ => None,
            };
            reports.push(PortReport {
                event: ScanEvent {
                    addr,
                    port,
                    state,
                    reason,
                    rtt: if answered { rtt(&mut rng) } else { None },
                    ttl,
                },
                name: name.clone(),
                service,
            });
        }
    }
    rng.shuffle(&mut reports);
    // Interrupted: the last verdicts never came.
    reports.truncate(reports.len() - 37);
    Synthetic {
        plan: Some(plan_for(200, &PORTS, true)),
        summary: summary_of(&reports, true),
        reports,
    }
}

/// `hosts` IPv4 hosts × `ports`, in random order; a host has an open port with probability
/// `open_pct` %, then each of its ports is open with probability 80 %.
fn wide(hosts: u32, ports: &[u16], open_pct: u64, seed: u64) -> Synthetic {
    let mut rng = Rng(seed);
    let mut reports = Vec::with_capacity(hosts as usize * ports.len());
    for i in 0..hosts {
        let addr = IpAddr::V4(Ipv4Addr::from(0xC613_0000 + i));
        let opens = rng.below(100) < open_pct;
        for &port in ports {
            let (state, reason, ttl) = if opens && rng.below(100) < 80 {
                (PortState::Open, Reason::SynAck, Some(64))
            } else if rng.below(100) < 70 {
                (PortState::Closed, Reason::Reset, Some(64))
            } else {
                (PortState::Filtered, Reason::NoResponse, None)
            };
            let rtt = ttl.and_then(|_| rtt(&mut rng));
            reports.push(PortReport {
                event: ScanEvent {
                    addr,
                    port,
                    state,
                    reason,
                    rtt,
                    ttl,
                },
                name: None,
                service: None,
            });
        }
    }
    rng.shuffle(&mut reports);
    Synthetic {
        plan: Some(plan_for(hosts as usize, ports, false)),
        summary: summary_of(&reports, false),
        reports,
    }
}

fn xml_run() -> XmlRun {
    XmlRun {
        args: "tcprax synthetic".into(),
        start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000),
    }
}

/// A writer into a shared buffer: a `Box<dyn Printer>` gives no way back to its writer.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every format and verbosity of interest, by name, each printing into `out`.
fn printers(out: &Shared) -> Vec<(String, Box<dyn Printer + Send>)> {
    let mut v: Vec<(String, Box<dyn Printer + Send>)> =
        vec![("json".into(), Box::new(JsonPrinter::new(out.clone())))];
    for verbosity in [Verbosity::Quiet, Verbosity::Normal, Verbosity::Verbose] {
        v.push((
            format!("human {verbosity:?}"),
            Box::new(HumanPrinter::new(out.clone(), verbosity)),
        ));
        v.push((
            format!("grep {verbosity:?}"),
            Box::new(GrepPrinter::new(out.clone(), verbosity)),
        ));
        v.push((
            format!("xml {verbosity:?}"),
            Box::new(XmlPrinter::new(out.clone(), verbosity, xml_run())),
        ));
    }
    v
}

/// The SHA-256 of what each format printed for `scan`, by name.
fn digests(scan: &Synthetic) -> Vec<(String, String)> {
    let out = Shared::default();
    printers(&out)
        .into_iter()
        .map(|(name, mut p)| {
            out.0.lock().unwrap_or_else(PoisonError::into_inner).clear();
            let result = (|| {
                if let Some(plan) = &scan.plan {
                    p.plan(plan)?;
                }
                for r in &scan.reports {
                    p.port(r)?;
                }
                p.finish(&scan.summary)
            })();
            if let Err(e) = result {
                panic!("printing into a Vec failed: {e}");
            }
            let bytes = out.0.lock().unwrap_or_else(PoisonError::into_inner);
            let hex: String = Sha256::digest(&*bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (name, hex)
        })
        .collect()
}

/// Every byte every format prints for three synthetic scans, pinned by digest: the mixed one
/// (every state and reason, services, names, IPv6, interrupted), the same without a plan,
/// and a wide one (6000 hosts in
/// random order, mostly without an open port: more than `TRACKED_LIMIT` in progress, so
/// untracked verdicts and late hosts). A change meant to alter the output updates these
/// digests in the same commit; any other change must leave them as they are.
#[test]
fn output_bytes_of_synthetic_scans_are_pinned() {
    let unplanned = Synthetic {
        plan: None,
        ..mixed()
    };
    let scans = [
        mixed(),
        unplanned,
        wide(6000, &[22, 80, 443], 3, 0x5EED_0002),
    ];
    let got: Vec<(String, String)> = scans
        .iter()
        .zip(["mixed", "unplanned", "wide"])
        .flat_map(|(scan, label)| {
            digests(scan)
                .into_iter()
                .map(move |(name, hex)| (format!("{label} {name}"), hex))
        })
        .collect();
    let text: String = got
        .iter()
        .map(|(name, hex)| format!("{name}: {hex}\n"))
        .collect();
    assert_eq!(text, PINNED, "\ngot:\n{text}");
}

const PINNED: &str = "\
mixed json: 17feab85c07242fe7a750b9c2c2273f034b55e73b08719920b48ab951d534560\n\
mixed human Quiet: ac7e565773446c6786e1775fbfe75c6ff5359899b5b526bd722615a160e6b4aa\n\
mixed grep Quiet: 154206ae070258a473227c3f86daf283a199e152b9a5fac8b23ac768e3da38d4\n\
mixed xml Quiet: 5967d8b680703f56edbe43ce09ae48d3e0a700f70ee6d1938b48555dccea1ff5\n\
mixed human Normal: f7c4e7ee986e19a74e1f5d9f1d17c3ef841304934998f42bc721e9cf223fe13c\n\
mixed grep Normal: 154206ae070258a473227c3f86daf283a199e152b9a5fac8b23ac768e3da38d4\n\
mixed xml Normal: 5967d8b680703f56edbe43ce09ae48d3e0a700f70ee6d1938b48555dccea1ff5\n\
mixed human Verbose: 02e24d44e52e7ed32c4b7252b9e68fe36a91a175a965d75c73832133d3d0a852\n\
mixed grep Verbose: 867ca5640ddaa9fc2f155cfa6c91f72467b1ba59fa6f07ecbca8c7d67d06afc7\n\
mixed xml Verbose: 95f344631a8801b7b8869adbeec1f89d35e3ea1349d81ace1abd419e758a9dc6\n\
unplanned json: 393be214d6bc95ffdc33eb3155d31840cc1394171b5877f669e03622d334f448\n\
unplanned human Quiet: ac7e565773446c6786e1775fbfe75c6ff5359899b5b526bd722615a160e6b4aa\n\
unplanned grep Quiet: 3d2fb5863478ed0bb48feb9a98b064854b5d366c7f07f296f05e9afa481f5cfb\n\
unplanned xml Quiet: ff2eae6193c25da7c6129fa7bd8f5aed4601debf588ae285cab362dc0f327649\n\
unplanned human Normal: cf53478ce2c17f4b585050ace90e1a94a65df16dd345498b1288853bf8414ac7\n\
unplanned grep Normal: 3d2fb5863478ed0bb48feb9a98b064854b5d366c7f07f296f05e9afa481f5cfb\n\
unplanned xml Normal: ff2eae6193c25da7c6129fa7bd8f5aed4601debf588ae285cab362dc0f327649\n\
unplanned human Verbose: 4b3271eacbcf407d6bc01a0cac42b72bba5711ac757107b71dab262a5f061ad0\n\
unplanned grep Verbose: 77ed7c710578bf7a54a6611733a95610dc2c882ec235eda6a82c4be2b334bf77\n\
unplanned xml Verbose: 4dfad337e5478d5bc435da7478111803bc6d28d8d70c6d11efed470895f6ce47\n\
wide json: 1a85050daf5dfe202e7c045364e7627c9c43a5e9f1641ba6a70a70a3b90be0c2\n\
wide human Quiet: 20257e92bab5f1a6a6435aea9a120335895bd11d910f9fd46307f08f5c867ffd\n\
wide grep Quiet: f90dfbd5032c8aa12be462efeaf1e3614f6eb040c4969b5bcbaa3a0200d53c10\n\
wide xml Quiet: 0d310adee467faf29e432c1a3c7c69056ddb48c84f38597bdc0ef766d66069ab\n\
wide human Normal: 7c50c9d3c9385842ddea89a47909bd211b36bcef2504242d4b8cf403ab8f085b\n\
wide grep Normal: f90dfbd5032c8aa12be462efeaf1e3614f6eb040c4969b5bcbaa3a0200d53c10\n\
wide xml Normal: 0d310adee467faf29e432c1a3c7c69056ddb48c84f38597bdc0ef766d66069ab\n\
wide human Verbose: ef633ed11c437e38f2c6764529c6938537432553f96b3d07dcd845939bf0c27d\n\
wide grep Verbose: f90dfbd5032c8aa12be462efeaf1e3614f6eb040c4969b5bcbaa3a0200d53c10\n\
wide xml Verbose: 7d4dca92afe61cae25d80fc60eb3b058ad96c209c5718a506db9e978bf04db6a\n";

/// CPU ns per verdict of the printers the -sS benchmark runs (`-oJ FILE -q`: JSON into a buffered
/// file, the quiet human table on stdout), over the benchmark's shape: a /16 × 5 ports, ~80 %
/// open, in random order; plan, every verdict, finish and the printers' drop (the finish, which
/// adds to the scan's wall time, also alone). Each printer
/// alone, then both as the pipeline calls them; and the default human report (no -q).
#[test]
#[ignore = "benchmark: cargo test --release -p tcprax --lib printer_ns_per_verdict -- --ignored --nocapture"]
fn printer_ns_per_verdict() {
    let scan = wide(1 << 16, &[22, 25, 80, 443, 8080], 100, 0x5EED_0003);
    let n = scan.reports.len() as f64;
    let json = || -> Box<dyn Printer + Send> {
        Box::new(JsonPrinter::new(io::BufWriter::new(io::sink())))
    };
    let human = || -> Box<dyn Printer + Send> {
        Box::new(HumanPrinter::new(
            io::BufWriter::new(io::sink()),
            Verbosity::Quiet,
        ))
    };
    let normal = || -> Box<dyn Printer + Send> {
        Box::new(HumanPrinter::new(
            io::BufWriter::new(io::sink()),
            Verbosity::Normal,
        ))
    };
    for label in ["json", "human -q", "json + human -q", "human (-oN, no -q)"] {
        let make = || match label {
            "json" => vec![json()],
            "human -q" => vec![human()],
            "json + human -q" => vec![human(), json()],
            _ => vec![normal()],
        };
        let (mut best, mut best_finish) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            let mut printers = make();
            let start = thread_cpu_ns();
            let mut finishing = start;
            let result = (|| {
                if let Some(plan) = &scan.plan {
                    printers.plan(plan)?;
                }
                for r in &scan.reports {
                    printers.port(r)?;
                }
                finishing = thread_cpu_ns();
                printers.finish(&scan.summary)
            })();
            let finished = thread_cpu_ns();
            drop(printers);
            let took = thread_cpu_ns() - start;
            assert!(result.is_ok());
            best = best.min(took as f64 / n);
            best_finish = best_finish.min((finished - finishing) as f64 / 1e6);
        }
        println!(
            "{label}: {} verdicts, best of 5: {best:.1} ns CPU/verdict, of which the finish \
             (after the last verdict, on the scan's wall time) {best_finish:.1} ms",
            scan.reports.len()
        );
    }
}
