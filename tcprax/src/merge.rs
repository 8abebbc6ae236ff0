//! `tcprax merge`: the JSON lines (`-oJ`) of the shards of one scan (`--shard 1/N` .. `N/N`, run
//! on N machines with one `--seed`) read back and turned into the report of the whole scan,
//! through the ordinary printers.
//!
//! Two passes over the files, so that nothing is written unless the set is sound:
//! 1. [`ShardSet::open`] reads each file's `plan` line and its `summary` line, and checks that
//!    every shard ran the same scan (scan type, targets, exclusions, ports, -sV, retries,
//!    --include-broadcast, seed, shard count) and that the set is complete: each of 1/N..N/N
//!    exactly once. A file that stops without its `summary` did not finish and is refused; a
//!    file `--resume` appended to (several plan … summary runs) is one shard.
//! 2. [`ShardSet::replay`] streams every `port` line, shard after shard, into the printers: the
//!    plan of the whole scan (shard 1/1) first, the sum of the summaries last. Nothing is held
//!    but what the printers hold themselves (see `output`), so a merge costs what a scan costs.
//!
//! What may differ between shards, because it is each machine's own tuning: `--rate`, `-t`,
//! `--timeout`, source ports and addresses; the merged plan shows the first shard's.
mod lines;

use crate::config::Shard;
use crate::model::{ScanPlan, ScanSummary, ScanType};
use crate::output::Printer;
use lines::read_lines;
pub use lines::{Line, parse_line};
use std::io;
use std::path::{Path, PathBuf};

/// Why a set of shard files cannot be merged. Each names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no files to merge")]
    NoFiles,
    #[error("cannot read '{}': {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("'{}' line {line}: not a tcprax JSON line: {problem}", path.display())]
    BadLine {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("'{}' does not start with a plan line: not the -oJ output of a tcprax scan", path.display())]
    NoPlan { path: PathBuf },
    #[error(
        "'{}' has no summary line: that shard did not finish (still running, killed, or cut short)",
        path.display()
    )]
    NoSummary { path: PathBuf },
    #[error("'{}' line {line}: a second {kind} line", path.display())]
    Repeated {
        path: PathBuf,
        line: u64,
        kind: &'static str,
    },
    #[error("'{}' line {line}: a result after the summary line", path.display())]
    AfterSummary { path: PathBuf, line: u64 },
    #[error(
        "'{}' is not a shard of the same scan as '{}': {field} is {theirs} there but {ours} in '{}'",
        path.display(), first.display(), first.display()
    )]
    Mismatch {
        path: PathBuf,
        first: PathBuf,
        field: &'static str,
        ours: String,
        theirs: String,
    },
    #[error(
        "'{}' is shard {index}/{count} but has no seed: shards without one common --seed do not \
         split one probe order, so together they neither cover the scan nor avoid overlaps",
        path.display()
    )]
    NoSeed {
        path: PathBuf,
        index: u32,
        count: u32,
    },
    #[error("'{}' says it is shard {index}/{count}, which no --shard can be", path.display())]
    BadShard {
        path: PathBuf,
        index: u32,
        count: u32,
    },
    #[error("shard {index}/{count} is given twice: '{}' and '{}'", first.display(), second.display())]
    DuplicateShard {
        index: u32,
        count: u32,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("the shard set is incomplete: {missing} of {count} missing (given: {given})")]
    Incomplete {
        missing: String,
        count: u32,
        given: String,
    },
    #[error("cannot write the report: {source}")]
    Output {
        #[source]
        source: io::Error,
    },
}

/// One shard file, checked.
#[derive(Clone, Debug)]
struct ShardFile {
    path: PathBuf,
    shard: Shard,
    summary: ScanSummary,
}

/// A complete, consistent set of shard files, in shard order.
#[derive(Debug)]
pub struct ShardSet {
    files: Vec<ShardFile>,
    plan: ScanPlan,
}

impl ShardSet {
    /// Reads the plan and summary of every file and checks that they are the shards of one
    /// scan, each once, none missing. See the module documentation.
    pub fn open(paths: &[PathBuf]) -> Result<ShardSet, MergeError> {
        let Some(first_path) = paths.first() else {
            return Err(MergeError::NoFiles);
        };
        let mut first_plan: Option<ScanPlan> = None;
        let mut files: Vec<ShardFile> = Vec::with_capacity(paths.len());
        for path in paths {
            let (plan, summary) = plan_and_summary(path)?;
            let shard = shard_of(&plan);
            if shard.index == 0 || shard.index > shard.count {
                return Err(MergeError::BadShard {
                    path: path.clone(),
                    index: shard.index,
                    count: shard.count,
                });
            }
            if plan.scan_type == ScanType::Syn && shard.count > 1 && plan.seed.is_none() {
                return Err(MergeError::NoSeed {
                    path: path.clone(),
                    index: shard.index,
                    count: shard.count,
                });
            }
            match &first_plan {
                None => first_plan = Some(plan),
                Some(first) => same_scan(first, &plan).map_err(|(field, ours, theirs)| {
                    MergeError::Mismatch {
                        path: path.clone(),
                        first: first_path.clone(),
                        field,
                        ours,
                        theirs,
                    }
                })?,
            }
            if let Some(other) = files.iter().find(|f| f.shard.index == shard.index) {
                return Err(MergeError::DuplicateShard {
                    index: shard.index,
                    count: shard.count,
                    first: other.path.clone(),
                    second: path.clone(),
                });
            }
            files.push(ShardFile {
                path: path.clone(),
                shard,
                summary,
            });
        }
        let mut plan = first_plan.ok_or(MergeError::NoFiles)?;
        let count = shard_of(&plan).count;
        let missing: Vec<String> = (1..=count)
            .filter(|i| !files.iter().any(|f| f.shard.index == *i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        if !missing.is_empty() {
            let mut given: Vec<&ShardFile> = files.iter().collect();
            given.sort_by_key(|f| f.shard.index);
            let given: Vec<String> = given
                .iter()
                .map(|f| format!("{}/{count} '{}'", f.shard.index, f.path.display()))
                .collect();
            return Err(MergeError::Incomplete {
                missing: missing.join(", "),
                count,
                given: given.join(", "),
            });
        }
        files.sort_by_key(|f| f.shard.index);
        // The merged report is of the whole scan: one shard of one.
        if plan.shard.is_some() {
            plan.shard = Some(Shard { index: 1, count: 1 });
        }
        Ok(ShardSet { files, plan })
    }

    /// The plan of the whole scan (shard 1/1).
    pub fn plan(&self) -> &ScanPlan {
        &self.plan
    }

    /// The files of shards that a signal stopped (their `summary` says `interrupted`): the
    /// merged results are then partial, and the merged summary says so.
    pub fn interrupted(&self) -> Vec<&Path> {
        self.files
            .iter()
            .filter(|f| f.summary.interrupted)
            .map(|f| f.path.as_path())
            .collect()
    }

    /// The totals of the whole scan: counts and probes added up, the longest shard's wall time
    /// (they ran side by side), XDP counters summed, interrupted if any shard was.
    pub fn summary(&self) -> ScanSummary {
        let mut total = ScanSummary::default();
        for f in &self.files {
            let s = &f.summary;
            total.elapsed = total.elapsed.max(s.elapsed);
            total.ports_scanned += s.ports_scanned;
            total.open += s.open;
            total.closed += s.closed;
            total.filtered += s.filtered;
            total.unreachable += s.unreachable;
            // Every shard skips the same network/broadcast addresses (they come from the
            // routing table, not from the shard's slice).
            total.skipped = total.skipped.max(s.skipped);
            total.probes_sent += s.probes_sent;
            total.interrupted |= s.interrupted;
            total.service_elapsed = match (total.service_elapsed, s.service_elapsed) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            total.xdp = match (total.xdp, s.xdp) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        total
    }

    /// Writes the whole scan into `printer`: the plan, every port line of every shard (in
    /// shard order, each shard's in its own order), the summed summary.
    pub fn replay<P: Printer + ?Sized>(&self, printer: &mut P) -> Result<(), MergeError> {
        let out = |source| MergeError::Output { source };
        printer.plan(&self.plan).map_err(out)?;
        for f in &self.files {
            for line in read_lines(&f.path)? {
                if let (_, Line::Port(report)) = line? {
                    printer.port(&report).map_err(out)?;
                }
            }
        }
        printer.finish(&self.summary()).map_err(out)
    }
}

/// The shard a plan says it is; a -sT plan (no shard) is the whole scan.
fn shard_of(plan: &ScanPlan) -> Shard {
    plan.shard.unwrap_or(Shard { index: 1, count: 1 })
}

/// The plan (first line) and summary (last) of one file, checking every line in between.
///
/// A file a `--resume`d scan appended to holds one plan … summary run after another; each run
/// after the first must follow an interrupted summary and plan the same scan. Its ports are the
/// scan's (a resumed run never repeats a port); its summary is the runs' added up.
fn plan_and_summary(path: &Path) -> Result<(ScanPlan, ScanSummary), MergeError> {
    let mut plan: Option<ScanPlan> = None;
    let mut summary: Option<ScanSummary> = None;
    // Inside a run: after its plan, before its summary.
    let mut in_run = false;
    for line in read_lines(path)? {
        let (number, line) = line?;
        let repeated = |kind| MergeError::Repeated {
            path: path.to_path_buf(),
            line: number,
            kind,
        };
        match line {
            Line::Plan(p) if plan.is_none() && number == 1 => {
                plan = Some(*p);
                in_run = true;
            }
            Line::Plan(p) if plan.is_some() => {
                // A resumed run: only after a run a signal stopped, and of the same scan.
                let resumed = !in_run && summary.as_ref().is_some_and(|s| s.interrupted);
                if !resumed {
                    return Err(repeated("plan"));
                }
                if let Some(first) = &plan {
                    same_scan(first, &p).map_err(|(field, ours, theirs)| MergeError::Mismatch {
                        path: path.to_path_buf(),
                        first: path.to_path_buf(),
                        field,
                        ours,
                        theirs,
                    })?;
                }
                in_run = true;
            }
            _ if plan.is_none() => {
                return Err(MergeError::NoPlan {
                    path: path.to_path_buf(),
                });
            }
            Line::Summary(_) | Line::Port(_) if !in_run => {
                return Err(MergeError::AfterSummary {
                    path: path.to_path_buf(),
                    line: number,
                });
            }
            Line::Summary(s) => {
                summary = Some(match summary {
                    None => s,
                    Some(earlier) => then(earlier, s),
                });
                in_run = false;
            }
            _ => {}
        }
    }
    let plan = plan.ok_or_else(|| MergeError::NoPlan {
        path: path.to_path_buf(),
    })?;
    let summary = match summary {
        Some(s) if !in_run => s,
        _ => {
            return Err(MergeError::NoSummary {
                path: path.to_path_buf(),
            });
        }
    };
    Ok((plan, summary))
}

/// Two runs of one scan, one after the other (a scan and its resumed run): counts and times
/// add up; the later run says whether the scan is complete.
fn then(a: ScanSummary, b: ScanSummary) -> ScanSummary {
    ScanSummary {
        elapsed: a.elapsed + b.elapsed,
        ports_scanned: a.ports_scanned + b.ports_scanned,
        open: a.open + b.open,
        closed: a.closed + b.closed,
        filtered: a.filtered + b.filtered,
        unreachable: a.unreachable + b.unreachable,
        skipped: a.skipped.max(b.skipped),
        probes_sent: a.probes_sent + b.probes_sent,
        interrupted: b.interrupted,
        service_elapsed: match (a.service_elapsed, b.service_elapsed) {
            (Some(x), Some(y)) => Some(x + y),
            (x, y) => x.or(y),
        },
        xdp: match (a.xdp, b.xdp) {
            (Some(x), Some(y)) => Some(x + y),
            (x, y) => x.or(y),
        },
        first_probe: None,
        last_probe: None,
        last_verdict: None,
    }
}

/// A field two shards must agree on: its name in errors, and how it is shown.
type Field = (&'static str, fn(&ScanPlan) -> String);

/// The first field in which `theirs` is not the same scan as `ours`: (field, ours, theirs).
fn same_scan(ours: &ScanPlan, theirs: &ScanPlan) -> Result<(), (&'static str, String, String)> {
    fn on_off(b: bool) -> String {
        if b { "on" } else { "off" }.to_string()
    }
    fn list(items: Vec<String>) -> String {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    }
    let fields: [Field; 10] = [
        ("the scan type", |p| p.scan_type.describe().to_string()),
        ("the target list", |p| {
            list(p.targets.iter().map(|t| t.spec.clone()).collect())
        }),
        ("what the targets resolved to", |p| {
            list(
                p.targets
                    .iter()
                    .map(|t| match t.resolved {
                        Some(a) => format!("{a} ({} addresses)", t.addresses),
                        None => format!("{} addresses", t.addresses),
                    })
                    .collect(),
            )
        }),
        ("the exclusions", |p| list(p.exclude.clone())),
        ("the port set", |p| p.ports.clone()),
        ("service detection (-sV)", |p| on_off(p.service_detection)),
        ("--retries", |p| p.retries.to_string()),
        ("--include-broadcast", |p| on_off(p.include_broadcast)),
        ("the seed", |p| {
            p.seed.map_or_else(|| "none".to_string(), |s| s.to_string())
        }),
        ("the shard count", |p| shard_of(p).count.to_string()),
    ];
    for (field, show) in fields {
        let (a, b) = (show(ours), show(theirs));
        if a != b {
            return Err((field, a, b));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
