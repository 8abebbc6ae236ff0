//! `tcprax merge` end to end: three -sS shards of one scan (same --seed, `--shard 1/3..3/3`)
//! run at the same time, each from a scanner namespace of its own (its own veth to the one
//! target namespace, its own XDP program and source address); their merge must report
//! exactly the (address, port, state) set that one machine scanning everything reports, and
//! every shard set that is not one whole scan must be refused, naming the file.
mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const SEED: &str = "424242";
const PORTS: &str = "20-25,80,443,8080";
/// One host with listeners, and an AnyIP /28 the target's kernel answers for.
const TARGETS: [&str; 2] = ["198.18.0.2", "198.18.64.0/28"];
const HOSTS: usize = 17;
const PORT_COUNT: usize = 9;
const OPEN: [u64; 3] = [22, 80, 8080];
const FILTERED: [u64; 2] = [25, 443];

/// A directory of its own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tcprax-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The -sS arguments every run shares: same seed, ports, targets and timing.
fn scan_args(seed: &str, out: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "-sS",
        "--seed",
        seed,
        "-p",
        PORTS,
        "--timeout",
        "500ms",
        "-q",
        "-oJ",
        out,
    ]
    .map(String::from)
    .to_vec();
    args.extend(TARGETS.map(String::from));
    args
}

fn lines(path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {l}: {e}")))
        .collect()
}

/// The (address, port, state) of every port line of an -oJ file.
fn verdicts(path: &str) -> BTreeSet<(String, u64, String)> {
    lines(path)
        .iter()
        .filter(|v| v["type"] == "port")
        .map(|v| {
            (
                v["addr"].as_str().unwrap_or_default().to_string(),
                v["port"].as_u64().unwrap_or_default(),
                v["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn merge(args: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("merge")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tcprax merge: {e}"))
}

/// `tcprax merge` with `files` must fail with exit status 2 and this message.
fn assert_refused(files: &[&str], message: &str) {
    let out = merge(files);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{files:?}: {stderr}");
    assert_eq!(stderr.trim_end(), format!("tcprax: error: {message}"));
    assert!(out.stdout.is_empty(), "nothing written when refused");
}

#[test]
fn three_parallel_shards_merge_into_the_one_machine_scan() {
    let Some(tb) = common::testbed("trxmrg") else {
        return;
    };
    let _listeners = tb.target_listen(&[22, 80, 8080]).unwrap();
    tb.target_filter_ports(&[25, 443]).unwrap();
    tb.target_anyip("198.18.64.0/28").unwrap();
    let routes = ["198.18.0.0/24", "198.18.64.0/28"];
    let second = tb
        .add_scanner("198.18.11.1/24", "198.18.11.2/24", &routes)
        .unwrap();
    let third = tb
        .add_scanner("198.18.12.1/24", "198.18.12.2/24", &routes)
        .unwrap();
    let dir = TempDir::new("merge-test");
    let shards: Vec<String> = (0..3)
        .map(|i| dir.file(&format!("shard-{i}.jsonl")))
        .collect();

    // The three shards at once, each from its own namespace.
    let commands = [
        tb.scanner_command(common::bin()),
        second.command(common::bin()),
        third.command(common::bin()),
    ];
    let children: Vec<_> = commands
        .into_iter()
        .enumerate()
        .map(|(i, mut cmd)| {
            cmd.args(scan_args(SEED, &shards[i]))
                .args(["--shard", &format!("{}/3", i + 1)])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start shard {}: {e}", i + 1))
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("shard {}: {e}", i + 1));
        assert_ok(&format!("shard {}/3", i + 1), &out);
    }

    // The same scan from one machine.
    let single = dir.file("single.jsonl");
    let out = tb
        .scanner_command(common::bin())
        .args(scan_args(SEED, &single))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_ok("the one-machine scan", &out);

    let merged = dir.file("merged.jsonl");
    let xml = dir.file("merged.xml");
    let gnmap = dir.file("merged.gnmap");
    let mut args: Vec<&str> = shards.iter().rev().map(String::as_str).collect();
    args.extend(["-oJ", &merged, "-oX", &xml, "-oG", &gnmap]);
    let out = merge(&args);
    assert_ok("tcprax merge", &out);

    // Each shard did a disjoint part; together exactly the one-machine scan, which is right.
    let parts: Vec<_> = shards.iter().map(|s| verdicts(s)).collect();
    let sum: usize = parts.iter().map(BTreeSet::len).sum();
    assert!(parts.iter().all(|p| !p.is_empty()), "a shard did nothing");
    assert_eq!(sum, HOSTS * PORT_COUNT, "shards overlap or miss probes");
    let whole = verdicts(&single);
    assert_eq!(
        verdicts(&merged),
        whole,
        "merge differs from the one-machine scan"
    );
    assert_eq!(whole.len(), HOSTS * PORT_COUNT);
    for (addr, port, state) in &whole {
        let expected = if OPEN.contains(port) {
            "open"
        } else if FILTERED.contains(port) {
            "filtered"
        } else {
            "closed"
        };
        assert_eq!(state, expected, "{addr}:{port}");
    }

    // The merged plan is the whole scan's; the summary adds the shards up.
    let merged_lines = lines(&merged);
    let plan = &merged_lines[0];
    assert_eq!(plan["type"], "plan");
    assert_eq!(plan["seed"].as_u64(), SEED.parse().ok());
    assert_eq!(plan["shard"], serde_json::json!({"index": 1, "count": 1}));
    let summary = merged_lines.last().unwrap();
    assert_eq!(summary["ports_scanned"], HOSTS * PORT_COUNT);
    assert_eq!(summary["open"], HOSTS * OPEN.len());
    assert_eq!(summary["filtered"], HOSTS * FILTERED.len());

    let xml_text = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(xml_text.matches("<host>").count(), HOSTS, "{xml_text}");
    let lint = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", &xml])
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint (cargo xtask setup installs it): {e}"));
    assert_ok("xmllint of the merged XML", &lint);
    let gnmap_text = std::fs::read_to_string(&gnmap).unwrap();
    assert_eq!(
        gnmap_text
            .lines()
            .filter(|l| l.starts_with("Host: "))
            .count(),
        HOSTS,
        "{gnmap_text}"
    );

    // Sets that are not one whole scan are refused, naming the file and the difference.
    assert_refused(
        &[&shards[0], &shards[1]],
        &format!(
            "the shard set is incomplete: 3/3 of 3 missing (given: 1/3 '{}', 2/3 '{}')",
            shards[0], shards[1]
        ),
    );
    assert_refused(
        &[&shards[0], &shards[1], &shards[2], &shards[1]],
        &format!(
            "shard 2/3 is given twice: '{}' and '{}'",
            shards[1], shards[1]
        ),
    );
    assert_refused(
        &[&shards[0], &single],
        &format!(
            "'{single}' is not a shard of the same scan as '{}': the shard count is 1 there \
             but 3 in '{}'",
            shards[0], shards[0]
        ),
    );
    // A real shard of another order (another seed) does not complete this set.
    let other = dir.file("other-seed.jsonl");
    let out = tb
        .scanner_command(common::bin())
        .args(scan_args("7", &other))
        .args(["--shard", "3/3"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_ok("the other-seed shard", &out);
    assert_refused(
        &[&shards[0], &shards[1], &other],
        &format!(
            "'{other}' is not a shard of the same scan as '{}': the seed is 7 there but {SEED} \
             in '{}'",
            shards[0], shards[0]
        ),
    );
    // A shard cut short (no summary line) did not finish.
    let cut = dir.file("cut.jsonl");
    let text = std::fs::read_to_string(&shards[2]).unwrap();
    let kept: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&cut, kept.join("\n") + "\n").unwrap();
    assert_refused(
        &[&shards[0], &shards[1], &cut],
        &format!(
            "'{cut}' has no summary line: that shard did not finish (still running, killed, or \
             cut short)"
        ),
    );
}
