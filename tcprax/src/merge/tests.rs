//! Unit tests of `merge`: shard files written by the real JSON printer into a temporary
//! directory, read back, checked and replayed into the printers.
use super::*;
use crate::model::{PortReport, PortState, PortState::*, Reason::*};
use crate::output::fixtures::*;
use crate::output::{JsonPrinter, XmlPrinter, XmlRun};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory of its own per test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tcprax-merge-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shard_plan(index: u32, count: u32) -> ScanPlan {
    let mut plan = plan(true);
    plan.shard = Some(Shard { index, count });
    plan
}

/// The -oJ text of a scan, as the JSON printer writes it.
fn json_text(plan: &ScanPlan, reports: &[PortReport], summary: &ScanSummary) -> String {
    let mut p = JsonPrinter::new(Vec::new());
    print_scan(&mut p, Some(plan), reports, summary);
    String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn merged_json(set: &ShardSet) -> String {
    let mut p = JsonPrinter::new(Vec::new());
    set.replay(&mut p)
        .unwrap_or_else(|e| panic!("replay into a Vec: {e}"));
    String::from_utf8(p.into_inner()).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

fn err1(path: &Path) -> String {
    err(&[path.to_path_buf()])
}

fn err(paths: &[PathBuf]) -> String {
    match ShardSet::open(paths) {
        Ok(_) => panic!("{paths:?} should not merge"),
        Err(e) => e.to_string(),
    }
}

/// Every report kind the printers know: -sV with TLS and a certificate, a refused send with
/// its errno, no-route, ICMP, silence.
fn all_kinds() -> Vec<PortReport> {
    let mut ssh = ssh("198.18.0.2");
    if let Some(s) = ssh.service.as_mut() {
        s.extrainfo = Some("protocol 2.0".into());
        s.cpe = vec!["cpe:/a:openbsd:openssh:9.2p1".into()];
        s.matched_by = Some("builtin".into());
    }
    vec![
        ssh,
        https("198.18.0.2"),
        report("198.18.0.2", 80, Closed, Reset),
        report(
            "2001:db8::1",
            22,
            PortState::Unreachable,
            SendFailed { errno: 13 },
        ),
        report("2001:db8::1", 80, PortState::Unreachable, NoRoute),
        report("2001:db8::1", 443, Filtered, IcmpUnreachable),
    ]
}

/// One file of a whole scan goes through the reader and the JSON printer unchanged: every
/// field the printer writes is read back.
#[test]
fn a_single_scan_round_trips_byte_for_byte() {
    let dir = TempDir::new();
    let text = json_text(&shard_plan(1, 1), &all_kinds(), &summary());
    let path = write(&dir, "whole.jsonl", &text);
    let set = ShardSet::open(&[path]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(merged_json(&set), text);
    assert!(set.interrupted().is_empty());
}

/// Three shards in any order make the whole scan: all ports, shard 1/1, summed totals.
#[test]
fn three_shards_make_the_whole_scan() {
    let dir = TempDir::new();
    let reports = all_kinds();
    let mut paths = Vec::new();
    for (i, chunk) in reports.chunks(2).enumerate() {
        let index = i as u32 + 1;
        let mut s = summary();
        s.ports_scanned = chunk.len() as u64;
        s.elapsed = std::time::Duration::from_millis(1000 + 100 * u64::from(index));
        s.xdp = Some(crate::model::XdpStats {
            seen: 10,
            ..Default::default()
        });
        s.interrupted = index == 2;
        let text = json_text(&shard_plan(index, 3), chunk, &s);
        paths.push(write(&dir, &format!("shard-{index}.jsonl"), &text));
    }
    paths.reverse();
    let set = ShardSet::open(&paths).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.plan().shard, Some(Shard { index: 1, count: 1 }));
    assert_eq!(set.interrupted(), [dir.path("shard-2.jsonl").as_path()]);
    let total = set.summary();
    assert_eq!(total.ports_scanned, 6);
    assert_eq!(total.open, 9, "three shards of 3 open each");
    assert_eq!(total.probes_sent, 24);
    assert_eq!(total.elapsed, std::time::Duration::from_millis(1300));
    assert_eq!(total.xdp.map(|x| x.seen), Some(30));
    assert!(total.interrupted);

    let merged = merged_json(&set);
    let whole = json_text(&shard_plan(1, 1), &reports, &summary());
    let ports = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("{\"type\":\"port\""))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        ports(&merged),
        ports(&whole),
        "shard order, each in its order"
    );
    assert_eq!(
        merged.lines().next(),
        whole.lines().next(),
        "the plan of 1/1"
    );

    // The same set through the XML printer: every host complete, DTD-valid.
    let mut xml = XmlPrinter::new(
        Vec::new(),
        crate::config::Verbosity::Normal,
        XmlRun::from_env(),
    );
    set.replay(&mut xml).unwrap_or_else(|e| panic!("{e}"));
    let xml = String::from_utf8(xml.into_inner()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(xml.matches("<host>").count(), 2, "{xml}");
    crate::output::assert_valid_xml(&xml);
}

#[test]
fn an_incomplete_or_doubled_set_is_refused() {
    let dir = TempDir::new();
    let s = summary();
    let one = write(&dir, "a.jsonl", &json_text(&shard_plan(1, 3), &[], &s));
    let three = write(&dir, "b.jsonl", &json_text(&shard_plan(3, 3), &[], &s));
    let again = write(&dir, "c.jsonl", &json_text(&shard_plan(3, 3), &[], &s));
    assert_eq!(
        err(&[one.clone(), three.clone()]),
        format!(
            "the shard set is incomplete: 2/3 of 3 missing (given: 1/3 '{}', 3/3 '{}')",
            one.display(),
            three.display()
        )
    );
    assert_eq!(
        err(&[one, three.clone(), again.clone()]),
        format!(
            "shard 3/3 is given twice: '{}' and '{}'",
            three.display(),
            again.display()
        )
    );
    assert_eq!(err(&[]), "no files to merge");
    for (index, count) in [(0, 3), (4, 3), (0, 0)] {
        let bad = write(
            &dir,
            "bad.jsonl",
            &json_text(&shard_plan(index, count), &[], &s),
        );
        assert_eq!(
            err1(&bad),
            format!(
                "'{}' says it is shard {index}/{count}, which no --shard can be",
                bad.display()
            )
        );
    }
}

#[test]
fn shards_of_different_scans_are_refused() {
    let dir = TempDir::new();
    let s = summary();
    let first = write(&dir, "1.jsonl", &json_text(&shard_plan(1, 2), &[], &s));
    type Case = (&'static str, fn(&mut ScanPlan), &'static str);
    let cases: [Case; 6] = [
        ("seed", |p| p.seed = Some(8), "the seed is 8 there but 7 in"),
        (
            "ports",
            |p| p.ports = "22,80".into(),
            "the port set is 22,80 there but 22,80,443 in",
        ),
        (
            "count",
            |p| p.shard = Some(Shard { index: 2, count: 3 }),
            "the shard count is 3 there but 2 in",
        ),
        (
            "exclude",
            |p| p.exclude = vec!["198.18.0.7".into()],
            "the exclusions is 198.18.0.7 there but none in",
        ),
        (
            "targets",
            |p| p.targets.truncate(1),
            "the target list is example.test there but example.test, 2001:db8::1 in",
        ),
        (
            "type",
            |p| p.scan_type = crate::model::ScanType::Connect,
            "the scan type is TCP connect (-sT) there but SYN, XDP reply capture (-sS) in",
        ),
    ];
    for (name, change, expected) in cases {
        let mut plan = shard_plan(2, 2);
        change(&mut plan);
        let other = write(&dir, &format!("{name}.jsonl"), &json_text(&plan, &[], &s));
        let msg = err(&[first.clone(), other.clone()]);
        assert!(
            msg.starts_with(&format!(
                "'{}' is not a shard of the same scan as '{}': ",
                other.display(),
                first.display()
            )),
            "{name}: {msg}"
        );
        assert!(msg.contains(expected), "{name}: {msg}");
    }
    let mut unseeded = shard_plan(2, 2);
    unseeded.seed = None;
    let unseeded = write(&dir, "unseeded.jsonl", &json_text(&unseeded, &[], &s));
    assert!(
        err1(&unseeded).starts_with(&format!(
            "'{}' is shard 2/2 but has no seed",
            unseeded.display()
        )),
        "{}",
        err1(&unseeded)
    );
}

#[test]
fn broken_files_are_named() {
    let dir = TempDir::new();
    let whole = json_text(&shard_plan(1, 1), &all_kinds(), &summary());
    let cut: String = whole.lines().take(3).map(|l| format!("{l}\n")).collect();
    let cut = write(&dir, "cut.jsonl", &cut);
    assert_eq!(
        err1(&cut),
        format!(
            "'{}' has no summary line: that shard did not finish (still running, killed, or \
             cut short)",
            cut.display()
        )
    );
    let headless: String = whole.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let headless = write(&dir, "headless.jsonl", &headless);
    assert_eq!(
        err1(&headless),
        format!(
            "'{}' does not start with a plan line: not the -oJ output of a tcprax scan",
            headless.display()
        )
    );
    let garbage = write(
        &dir,
        "garbage.jsonl",
        &whole.replacen("\"port\"", "\"prot\"", 1),
    );
    assert_eq!(
        err1(&garbage),
        format!(
            "'{}' line 2: not a tcprax JSON line: unknown line type 'prot'",
            garbage.display()
        )
    );
    let reason = write(&dir, "reason.jsonl", &whole.replacen("syn-ack", "maybe", 1));
    assert!(
        err1(&reason).ends_with("line 2: not a tcprax JSON line: port: unknown reason 'maybe'"),
        "{}",
        err1(&reason)
    );
    let missing = dir.path("missing.jsonl");
    assert!(
        err1(&missing).starts_with(&format!("cannot read '{}': ", missing.display())),
        "{}",
        err1(&missing)
    );
}

/// A shard file a `--resume`d scan appended to (plan, ports, interrupted summary, plan, ports,
/// summary) is one shard: every port once, the runs' counts added up, complete if the last run
/// was. A second run after a complete one, or of another scan, is refused.
#[test]
fn a_resumed_shard_file_is_one_shard() {
    let dir = TempDir::new();
    let reports = all_kinds();
    let (first, second) = reports.split_at(2);
    let mut stopped = summary();
    stopped.interrupted = true;
    stopped.ports_scanned = first.len() as u64;
    stopped.elapsed = std::time::Duration::from_secs(3);
    let mut rest = summary();
    rest.ports_scanned = second.len() as u64;
    rest.elapsed = std::time::Duration::from_secs(4);
    let plan = shard_plan(1, 1);
    let text = json_text(&plan, first, &stopped) + &json_text(&plan, second, &rest);
    let path = write(&dir, "resumed.jsonl", &text);
    let set = ShardSet::open(std::slice::from_ref(&path)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        set.interrupted().is_empty(),
        "the last run completed the scan"
    );
    let total = set.summary();
    assert_eq!(total.ports_scanned, reports.len() as u64);
    assert_eq!(total.elapsed, std::time::Duration::from_secs(7));
    let whole = json_text(&plan, &reports, &total);
    assert_eq!(
        merged_json(&set),
        whole,
        "the runs merge into the whole scan"
    );

    // A run appended after a complete one is not a resumed run.
    let text = json_text(&plan, first, &rest) + &json_text(&plan, second, &rest);
    let after_complete = write(&dir, "after-complete.jsonl", &text);
    assert!(
        err1(&after_complete).contains("plan"),
        "{}",
        err1(&after_complete)
    );
    // Nor is a run of another scan.
    let mut other = plan.clone();
    other.seed = Some(other.seed.unwrap_or(0) + 1);
    let text = json_text(&plan, first, &stopped) + &json_text(&other, second, &rest);
    let other_scan = write(&dir, "other-scan.jsonl", &text);
    assert!(err1(&other_scan).contains("seed"), "{}", err1(&other_scan));
    // A resumed run that did not finish leaves the file without its summary.
    let text = json_text(&plan, first, &stopped) + &json_text(&plan, second, &rest);
    let cut = text
        .trim_end()
        .rsplit_once('\n')
        .map_or("", |(head, _)| head)
        .to_owned()
        + "\n";
    let unfinished = write(&dir, "unfinished.jsonl", &cut);
    assert!(
        err1(&unfinished).contains("did not finish"),
        "{}",
        err1(&unfinished)
    );
}
