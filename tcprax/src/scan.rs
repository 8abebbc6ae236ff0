//! The scan pipeline: engine -> (service detection for open ports, as soon as each is found)
//! -> printers. Stages pass plain values over bounded channels; nothing after the engine
//! knows which engine produced an event.
//!
//! A scan is set up ([`prepare`]: whatever needs privileges, synchronously) before it runs
//! ([`run`]: inside the async runtime), so the binary can drop its capabilities in between.
use crate::config::{ScanConfig, Verbosity};
use crate::engine::connect::{ConnectError, ConnectOptions, connect_scan_from};
use crate::engine::syn::{PreparedSyn, SynError, SynScanOptions};
use crate::engine::{EngineStats, ScanControl};
use crate::model::{
    Notice, PortReport, PortState, ScanEvent, ScanPlan, ScanSummary, ScanType, ServiceInfo,
};
use crate::output::Printer;
use crate::resume::Paused;
use crate::service::ServiceDetector;
use crate::service::nmap::{self, ProbeFileError, ProbeSource};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal as _};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Syn(#[from] SynError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("cannot write the report: {source}")]
    Output { source: io::Error },
    #[error("the scan engine stopped unexpectedly")]
    EngineGone,
    #[error(transparent)]
    ProbeFile(#[from] ProbeFileError),
}

fn out_err(source: io::Error) -> ScanError {
    ScanError::Output { source }
}

/// The printers, and the first error one of them returned. A failure stops the scan (a stop
/// without a signal) but not the reporting: the other printers still get every port and their
/// summary, so a closed stdout (`| head`, a hung-up terminal) does not leave an `-oJ` file
/// without its end. The error is returned once the scan is over.
struct Reports<'a> {
    printers: &'a mut [Box<dyn Printer + Send>],
    failed: Option<io::Error>,
    stop: ScanControl,
}

impl Reports<'_> {
    fn port(&mut self, report: &PortReport) {
        if let Err(e) = self.printers.port(report)
            && self.failed.is_none()
        {
            self.stop.stop();
            self.failed = Some(e);
        }
    }

    fn finish(self, summary: &ScanSummary) -> Result<(), ScanError> {
        let finished = self.printers.finish(summary);
        match self.failed {
            Some(e) => Err(out_err(e)),
            None => finished.map_err(out_err),
        }
    }
}

/// What the printers show before the scan.
pub fn plan_of(config: &ScanConfig) -> ScanPlan {
    let syn = config.scan_type == ScanType::Syn;
    ScanPlan {
        scan_type: config.scan_type,
        targets: config.targets.infos(),
        port_count: config.ports.len(),
        ports: config.ports.spec_string(),
        concurrency: config.concurrency,
        rate: if syn { config.rate } else { None },
        service_detection: config.service.is_some(),
        exclude: config.targets.exclusion_specs(),
        retries: config.retries,
        seed: syn.then_some(config.syn.seed).flatten(),
        shard: syn.then_some(config.syn.shard),
        include_broadcast: syn && config.syn.include_broadcast,
    }
}

fn syn_options(config: &ScanConfig) -> SynScanOptions {
    SynScanOptions {
        rate: config.rate,
        max_rate: config.max_rate,
        retries: config.retries,
        max_timeout: config.max_timeout(),
        syn: config.syn.clone(),
    }
}

fn progress_bar(config: &ScanConfig, total: u64) -> ProgressBar {
    let visible = io::stderr().is_terminal() && config.verbosity != Verbosity::Quiet;
    let target = if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ports decided, ETA {eta}: {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A scan set up by [`prepare`], ready to [`run`]: the engine's privileged resources (-sS:
/// XDP attached, raw socket open), or nothing (-sT needs none).
pub struct Prepared {
    engine: PreparedEngine,
    /// -sV: nmap's probe file, read here (a file only root can read still works); or where
    /// it was looked for in vain.
    probes: Option<nmap::Loaded>,
}

enum PreparedEngine {
    Connect,
    Syn(Box<PreparedSyn>),
}

/// Set up the scan described by `config`: everything that needs privileges happens here,
/// synchronously and outside any async runtime (-sS: the capability check, routes, XDP on every
/// egress interface, the raw socket). Nothing is sent or printed yet.
pub fn prepare(config: &ScanConfig) -> Result<Prepared, ScanError> {
    let probes = match &config.service {
        Some(opts) => Some(nmap::load(opts.probe_file.as_deref())?),
        None => None,
    };
    let mut engine = match config.scan_type {
        ScanType::Connect => PreparedEngine::Connect,
        ScanType::Syn => PreparedEngine::Syn(Box::new(crate::engine::syn::prepare(
            &config.targets,
            &config.ports,
            syn_options(config),
        )?)),
    };
    if let (PreparedEngine::Syn(syn), Some(from)) = (&mut engine, &config.resume.from) {
        syn.resume_from(from.point.clone())?;
    }
    Ok(Prepared { engine, probes })
}

/// Service detections allowed to wait or run at once, per unit of -sV concurrency. Past that the
/// pipeline stops taking events from the engine until one finishes, so a network that SYN-ACKs
/// everything (SYN proxies, tarpits) cannot grow the queue, and memory, without bound.
pub const SV_QUEUE_PER_PROBE: usize = 4;

/// Verdicts taken from the engine's channel at once: the loop below (its `select!`, the
/// progress bar, the clock) then runs once per batch instead of once per verdict.
const BATCH: usize = 256;

/// Run the whole scan described by `config` and set up by [`prepare`], reporting to `printers`.
/// Needs no privileges. A stop through `stop` (a signal) ends it early: the engine stops
/// sending, no new -sV detection starts, the running ones are cancelled at once (their ports
/// are still reported open, without service), and the printers finish with the results so far
/// (`interrupted` in the summary).
pub async fn run(
    config: &ScanConfig,
    prepared: Prepared,
    printers: &mut [Box<dyn Printer + Send>],
    stop: ScanControl,
) -> Result<ScanSummary, ScanError> {
    printers.plan(&plan_of(config)).map_err(out_err)?;
    let started = Instant::now();
    let total = config
        .targets
        .included_len()
        .saturating_mul(config.ports.len() as u128);
    let bar = progress_bar(config, u64::try_from(total).unwrap_or(u64::MAX));
    // A resumed scan starts where the earlier runs left it.
    if let Some(from) = &config.resume.from {
        bar.set_position(from.decided.ports);
    }

    let (tx, mut rx) = mpsc::channel::<ScanEvent>(4096);
    let engine_stop = stop.clone();
    let mut engine = match prepared.engine {
        PreparedEngine::Connect => {
            let targets = config.targets.clone();
            let ports = config.ports.clone();
            let opts = ConnectOptions {
                concurrency: config.concurrency,
                max_timeout: config.max_timeout(),
                retries: config.retries,
            };
            let from = config.resume.from.as_ref().map(|f| f.point.clone());
            tokio::spawn(async move {
                connect_scan_from(&targets, &ports, opts, from, tx, engine_stop)
                    .await
                    .map_err(ScanError::from)
            })
        }
        PreparedEngine::Syn(syn) => {
            tokio::spawn(async move { syn.run(tx, engine_stop).await.map_err(ScanError::from) })
        }
    };

    // The host name is attached here, once per report, from the one map that holds names: the
    // printers and the JSON shape take it from the report.
    let report = |event: ScanEvent, service: Option<ServiceInfo>| PortReport {
        name: config.targets.name_of(&event.addr),
        event,
        service,
    };
    let probe_db: Option<std::sync::Arc<ProbeSource>> = match prepared.probes {
        Some(nmap::Loaded::Found(source)) => {
            // Parsed beside the port scan; the first detection that needs it waits for it.
            let parse = source.clone();
            let notices = stop.clone();
            tokio::spawn(async move {
                let db = parse.db().await;
                if let Some(first) = db.skipped.first() {
                    notices.notify(Notice::ProbeFileLinesSkipped {
                        path: db.path.clone(),
                        skipped: db.skipped.len(),
                        first_line: first.line,
                        first_reason: first.reason.clone(),
                    });
                }
            });
            Some(source)
        }
        Some(nmap::Loaded::Missing { searched }) => {
            stop.notify(Notice::ProbeFileMissing { searched });
            None
        }
        None => None,
    };
    let detector = config
        .service
        .as_ref()
        .map(|opts| ServiceDetector::with_probes(opts, probe_db));
    let sv_queue = config.service.as_ref().map_or(usize::MAX, |s| {
        s.concurrency.max(1).saturating_mul(SV_QUEUE_PER_PROBE)
    });
    // A detection yields its event back, with the service, or None when a stop cancelled it.
    let mut detections: JoinSet<(ScanEvent, Option<ServiceInfo>)> = JoinSet::new();
    let mut summary = ScanSummary::default();
    let mut reports = Reports {
        printers,
        failed: None,
        stop: stop.clone(),
    };
    let mut sv_first: Option<Instant> = None;
    let mut sv_last: Option<Instant> = None;
    // Some open port went without the detection it should have had: the results are partial
    // even when the engine itself had finished before the stop.
    let mut sv_cut_short = false;
    let mut engine_result: Option<Result<EngineStats, ScanError>> = None;
    let mut channel_open = true;

    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch: Vec<ScanEvent> = Vec::with_capacity(BATCH);
    while channel_open || !detections.is_empty() {
        // With -sV, a batch may start a detection per verdict: no more than the queue has
        // room for (at least one, when the branch runs at all).
        let room = BATCH.min(sv_queue.saturating_sub(detections.len()));
        tokio::select! {
            _ = tick.tick(), if !bar.is_hidden() => {
                let sent = stop.sent();
                let elapsed = started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!(
                    "sent {sent}, {:.0} probes/s, {} open",
                    sent as f64 / elapsed,
                    summary.open
                ));
            },
            notice = stop.next_notice() => {
                bar.suspend(|| crate::output::notice(&notice, config.verbosity));
            },
            // Not while the -sV queue is full: the engine's channel then fills and the engine
            // waits, instead of this loop queueing detections without end.
            n = rx.recv_many(&mut batch, room), if channel_open && room > 0 => {
                if n == 0 {
                    // Closed (and empty): the engine is done.
                    channel_open = false;
                } else {
                    bar.inc(n as u64);
                    summary.last_verdict = Some(Instant::now());
                }
                for ev in batch.drain(..) {
                    summary.count(ev.state);
                    match (&detector, ev.state) {
                        (Some(_), PortState::Open) if stop.is_stopped() => {
                            sv_cut_short = true;
                            reports.port(&report(ev, None));
                        }
                        (Some(det), PortState::Open) => {
                            let det = det.clone();
                            let stop = stop.clone();
                            // The RTT of the answer that opened the port scales the probes'
                            // waits; without one (a retried probe) they use their default.
                            let rtt = ev.rtt;
                            sv_first.get_or_insert_with(Instant::now);
                            detections.spawn(async move {
                                // A stop drops the detection where it is (its connections
                                // close with it), whether it runs or waits for a permit.
                                let info = tokio::select! {
                                    info = det.detect(ev.addr, ev.port, rtt) => Some(info),
                                    () = stop.stopped() => None,
                                };
                                (ev, info)
                            });
                        }
                        _ => reports.port(&report(ev, None)),
                    }
                }
            },
            done = detections.join_next(), if !detections.is_empty() => {
                if let Some(done) = done {
                    match done {
                        Ok((event, info)) => {
                            match info {
                                Some(_) => sv_last = Some(Instant::now()),
                                None => sv_cut_short = true,
                            }
                            reports.port(&report(event, info));
                        }
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(_) => {}
                    }
                }
            },
            r = &mut engine, if engine_result.is_none() => {
                engine_result = Some(r.unwrap_or_else(|e| {
                    if e.is_panic() { std::panic::resume_unwind(e.into_panic()) }
                    Err(ScanError::EngineGone)
                }));
            }
        }
    }
    let stats = match engine_result {
        Some(r) => r,
        None => engine.await.map_err(|_| ScanError::EngineGone)?,
    };
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    let stats = match stats {
        Ok(stats) => stats,
        Err(e) => {
            // The engine broke mid-scan: what it decided is still reported (as partial)
            // before the error ends the run. One that failed before deciding anything (XDP
            // could not attach) has nothing to report.
            if summary.ports_scanned > 0 {
                summary.interrupted = true;
                printers.finish(&summary).map_err(out_err)?;
            }
            return Err(e);
        }
    };
    summary.probes_sent = stats.probes_sent;
    summary.first_probe = stop.first_sent();
    summary.last_probe = stop.last_sent();
    summary.interrupted = stats.interrupted || sv_cut_short;
    summary.xdp = stats.xdp;
    summary.skipped = stats.skipped.len() as u64;
    // Notices the loop did not get to (a scan that ended at once).
    for notice in stop.take_notices() {
        crate::output::notice(&notice, config.verbosity);
    }
    if let (Some(a), Some(b)) = (sv_first, sv_last) {
        summary.service_elapsed = Some(b.duration_since(a));
    }
    // Before the reports finish, which may fail (a terminal gone with SIGHUP): the state of
    // the scan must outlive that.
    stop.set_paused(stats.resume.map(|point| Paused {
        point,
        reported: summary.clone(),
    }));
    reports.finish(&summary)?;
    Ok(summary)
}
