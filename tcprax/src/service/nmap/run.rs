//! The probe-file engine: names the ports tcprax's fast path left unnamed.
//!
//! First, at no network cost, the answers the fast path already has are matched with the lines
//! of the probes that sent the same bytes (the banner is the NULL probe's answer; probes whose
//! payload differs from the fast path's requests, as GetRequest, GenericLines and Help do, are
//! sent as written, so their lines meet the answers they were written for). Then the
//! file's probes ([`ProbeDb::plan`]) go out several at a time, each on its own connection (over
//! TLS when the fast path saw TLS), each wait scaled to the host's RTT ([`Waits`]) and capped by
//! the probe's `totalwaitms`. The first hard match ends the detection; a softmatch names the
//! service and narrows the probes still to send.
use super::{Hit, ProbeDb, ProbeSource};
use crate::model::ServiceInfo;
use crate::service::{
    GENERIC_LINES, ProbeError, ServiceDetector, Waits, connect, exchange, handshake, http_request,
    patterns, sanitize,
};
use bytes::Bytes;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;

/// Probes in flight for one port at most. The first runs under the detection's own permits;
/// each other one needs a free per-host and a free global permit (taken without waiting, so
/// detections never wait on each other's extras).
pub const PARALLEL_PROBES: usize = 8;

/// Constant part of the wait for a file probe's answer, on top of four RTTs. Shorter than the
/// fast path's response wait: a port reaches these probes only after saying nothing useful to
/// three requests, and most of the dozens of probes it then gets meet silence, so their wait
/// is what a silent port costs. A server answers a request it understands within a few RTTs.
const PROBE_WAIT: Duration = Duration::from_millis(100);

/// The fast path's answers, kept for the probe file's lines (empty where it got none).
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    /// What the server said first (in TLS when the port speaks TLS).
    pub banner: Bytes,
    /// The answer to `GET /`.
    pub http: Bytes,
    /// The answer to the generic lines.
    pub generic: Bytes,
}

/// Probes whose answers [`Seen`] already holds, and which answer stands for each: only the
/// probes whose payload is byte for byte what the fast path sent (NULL's empty one: the
/// banner). An answer to other bytes is not the answer to the probe: the fast path's generic
/// lines (`\r\n\r\nHELP\r\nversion\r\nINFO server\r\n`) draw from a line server something else
/// than GenericLines' `\r\n\r\n` or Help's `HELP\r\n`, and its `GET` is not GetRequest's; those
/// probes go out as the file writes them.
fn reused<'a>(db: &ProbeDb, seen: &'a Seen, target: SocketAddr) -> Vec<(usize, &'a Bytes)> {
    let get = http_request(target);
    let sent: [(&[u8], &'a Bytes); 3] = [
        (b"", &seen.banner),
        (&get, &seen.http),
        (GENERIC_LINES, &seen.generic),
    ];
    db.probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.spec.tcp)
        .filter_map(|(i, p)| {
            sent.iter()
                .find(|(payload, _)| p.spec.payload == *payload)
                .map(|&(_, answer)| (i, answer))
        })
        .collect()
}

/// Probes whose payload is close to one of the fast path's requests, with that request's
/// answer: GetRequest (the fast path's `GET /` is HTTP/1.1 with headers), GenericLines and Help
/// (both inside the fast path's generic lines).
fn similar<'a>(db: &ProbeDb, seen: &'a Seen) -> Vec<(usize, &'a Bytes)> {
    [
        ("GetRequest", &seen.http),
        ("GenericLines", &seen.generic),
        ("Help", &seen.generic),
    ]
    .into_iter()
    .filter_map(|(name, answer)| db.index(name).map(|i| (i, answer)))
    .collect()
}

/// How one probe's connection went.
enum Answer {
    Data(Bytes),
    /// Nothing; `closed`: the server ended the connection well before the wait was over.
    Empty {
        closed: bool,
    },
    /// The port no longer accepts: nothing more to learn.
    Refused,
}

/// Extra permits held by one probe in flight.
type Extra = Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>;

impl ServiceDetector {
    /// Name what the fast path could not (`info.service` is None), from the probe file.
    pub(crate) async fn refine(
        &self,
        source: &Arc<ProbeSource>,
        target: SocketAddr,
        w: &Waits,
        seen: &Seen,
        info: ServiceInfo,
    ) -> ServiceInfo {
        let db = &source.db().await;
        if db.excluded(target.port()) {
            return info;
        }
        let tls = info.tls.is_some();
        let mut soft: Option<Hit> = None;
        let reused = reused(db, seen, target);
        for (index, answer) in &reused {
            if answer.is_empty() {
                continue;
            }
            match test(db, *index, (*answer).clone(), soft.is_some()).await {
                Some(hit) if !hit.soft => return fill(info, hit, tls, None),
                Some(hit) => soft = Some(hit),
                None => {}
            }
        }
        // A probe close to a fast-path request that met silence would meet it again: not sent
        // (silent ports would otherwise pay for three more probes).
        let skip: Vec<usize> = reused
            .iter()
            .map(|(i, _)| *i)
            .chain(
                similar(db, seen)
                    .into_iter()
                    .filter(|(_, answer)| answer.is_empty())
                    .map(|(i, _)| i),
            )
            .collect();
        let plan = db.plan(
            target.port(),
            tls,
            self.inner.opts.version_intensity,
            &skip,
            soft.as_ref().map(|h| h.service.as_str()),
        );
        let tls_config = if tls {
            match &self.inner.tls {
                Some(configs) => Some(configs.plain.clone()),
                // rustls could not be set up: TLS ports get no probe.
                None => return fill_soft(info, soft, tls),
            }
        } else {
            None
        };
        // Whether every probe so far met a connection the server closed at once.
        let mut all_closed = !plan.is_empty();
        let mut queue: VecDeque<usize> = plan.into();
        let mut running: JoinSet<(usize, Answer)> = JoinSet::new();
        loop {
            while running.len() < PARALLEL_PROBES {
                let Some(index) = queue.pop_front() else {
                    break;
                };
                let extra: Extra = if running.is_empty() {
                    None
                } else {
                    match self.extra_permits(target) {
                        Some(p) => Some(p),
                        None => {
                            queue.push_front(index);
                            break;
                        }
                    }
                };
                let db = db.clone();
                let config = tls_config.clone();
                let w = *w;
                running.spawn(async move {
                    let _extra = extra;
                    let spec = &db.probes[index].spec;
                    let mut w = w;
                    // `idle` is 2 RTTs + a little: twice that is the RTT part of the wait.
                    let wait = (w.idle * 2 + PROBE_WAIT).min(w.response);
                    w.response = wait.min(spec.total_wait.unwrap_or(Duration::MAX));
                    let started = tokio::time::Instant::now();
                    let answer = match config {
                        Some(config) => match handshake(target, &config, &w).await {
                            Ok(mut s) => Ok(exchange(&mut s, &spec.payload, &w).await),
                            Err(e) => Err(e),
                        },
                        None => match connect(target, &w).await {
                            Ok(mut s) => Ok(exchange(&mut s, &spec.payload, &w).await),
                            Err(e) => Err(e),
                        },
                    };
                    let answer = match answer {
                        Ok(answer) => answer,
                        // Refused (or reset while connecting): the port closed; a timeout or a
                        // failed handshake is silence from this one probe.
                        Err(ProbeError::Connect { .. }) => return (index, Answer::Refused),
                        Err(_) => Bytes::new(),
                    };
                    let answer = if answer.is_empty() {
                        Answer::Empty {
                            closed: started.elapsed() < w.response / 2,
                        }
                    } else {
                        Answer::Data(answer)
                    };
                    (index, answer)
                });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let Ok((index, answer)) = done else { continue };
            let answer = match answer {
                Answer::Data(a) => a,
                Answer::Empty { closed } => {
                    all_closed &= closed;
                    continue;
                }
                Answer::Refused => {
                    all_closed = false;
                    break;
                }
            };
            all_closed = false;
            match test(db, index, answer.clone(), soft.is_some()).await {
                // Dropping `running` aborts the probes still out.
                Some(hit) if !hit.soft => return fill(info, hit, tls, Some(&answer)),
                Some(hit) => {
                    let service = hit.service.clone();
                    soft = Some(hit);
                    queue.retain(|&i| db.possible(i, &service));
                }
                None => {}
            }
        }
        if soft.is_none() && all_closed && !tls && seen.banner.is_empty() {
            return tcpwrapped(db, target, w, info).await;
        }
        if soft.is_none() {
            // Last resort: the fast path's answers to requests close to a probe's, with that
            // probe's lines. A server that limits connections per address (ngIRCd allows 5)
            // may have refused the very probe whose lines name it.
            for (index, answer) in similar(db, seen) {
                if answer.is_empty() {
                    continue;
                }
                if let Some(hit) = test(db, index, answer.clone(), false).await {
                    return fill(info, hit, tls, None);
                }
            }
        }
        fill_soft(info, soft, tls)
    }

    fn extra_permits(&self, target: SocketAddr) -> Extra {
        let host = self.host_semaphore(target.ip()).try_acquire_owned().ok()?;
        let global = self.inner.global.clone().try_acquire_owned().ok()?;
        Some((host, global))
    }
}

/// nmap's `tcpwrapped`: the handshake completes, then the server closes without a byte,
/// before we send anything (a TCP wrapper, a firewall proxy). Checked only once every probe met
/// a closed connection: one more connection that sends nothing, closed within the NULL probe's
/// `tcpwrappedms` (capped by the banner wait), says so. Needs the file's `tcpwrappedms`.
async fn tcpwrapped(db: &ProbeDb, target: SocketAddr, w: &Waits, info: ServiceInfo) -> ServiceInfo {
    use tokio::io::AsyncReadExt as _;
    let Some(limit) = db.index("NULL").and_then(|i| db.probes[i].spec.tcpwrapped) else {
        return info;
    };
    let Ok(mut stream) = connect(target, w).await else {
        return info;
    };
    let mut byte = [0u8; 1];
    let closed = matches!(
        tokio::time::timeout(limit.min(w.banner), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    );
    if !closed {
        return info;
    }
    ServiceInfo {
        service: Some("tcpwrapped".to_owned()),
        matched_by: Some("nmap:NULL".to_owned()),
        ..info
    }
}

/// Match off the async workers: the first answer to meet a probe's lines compiles them.
async fn test(db: &Arc<ProbeDb>, index: usize, answer: Bytes, soft_seen: bool) -> Option<Hit> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || db.test(index, &answer, soft_seen))
        .await
        .ok()
        .flatten()
}

fn fill_soft(info: ServiceInfo, soft: Option<Hit>, tls: bool) -> ServiceInfo {
    match soft {
        Some(hit) => fill(info, hit, tls, None),
        None => info,
    }
}

/// The report with what a line named; `answer` replaces the fast path's response when a probe
/// of the file drew it.
fn fill(info: ServiceInfo, hit: Hit, tls: bool, answer: Option<&Bytes>) -> ServiceInfo {
    let v = hit.version;
    ServiceInfo {
        service: Some(if tls {
            patterns::tls_service(&hit.service)
        } else {
            hit.service
        }),
        product: v.product,
        version: v.version,
        extrainfo: v.info,
        hostname: v.hostname,
        os: v.os,
        device_type: v.device,
        cpe: v.cpe,
        matched_by: Some(format!("nmap:{}", hit.probe)),
        response: answer.map_or(info.response.clone(), |a| sanitize(a)),
        ..info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::nmap::parse;

    #[test]
    fn only_probes_that_sent_the_same_bytes_reuse_an_answer() {
        let file = b"Probe TCP NULL q||\n\
Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\n\
Probe TCP GenericLines q|\\r\\n\\r\\n|\n\
Probe TCP Help q|HELP\\r\\n|\n\
Probe TCP Ours q|\\r\\n\\r\\nHELP\\r\\nversion\\r\\nINFO server\\r\\n|\n\
Probe UDP Udp q|\\r\\n\\r\\nHELP\\r\\nversion\\r\\nINFO server\\r\\n|\n";
        let db = ProbeDb::new("test".into(), parse::parse(file));
        let seen = Seen {
            banner: Bytes::from_static(b"banner"),
            http: Bytes::from_static(b"http"),
            generic: Bytes::from_static(b"generic"),
        };
        let target: SocketAddr = "198.18.0.2:6667".parse().unwrap();
        let got: Vec<(&str, &[u8])> = reused(&db, &seen, target)
            .into_iter()
            .map(|(i, a)| (db.probes[i].spec.name.as_str(), &a[..]))
            .collect();
        assert_eq!(
            got,
            [("NULL", &b"banner"[..]), ("Ours", &b"generic"[..])],
            "GetRequest, GenericLines and Help are sent as written"
        );
        // Their lines still meet the fast path's answers, but only as a last resort.
        let last: Vec<(&str, &[u8])> = similar(&db, &seen)
            .into_iter()
            .map(|(i, a)| (db.probes[i].spec.name.as_str(), &a[..]))
            .collect();
        assert_eq!(
            last,
            [
                ("GetRequest", &b"http"[..]),
                ("GenericLines", &b"generic"[..]),
                ("Help", &b"generic"[..])
            ]
        );
    }
}
