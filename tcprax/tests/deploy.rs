//! `deploy/kubernetes/`: every manifest validates against Kubernetes' schemas
//! (kubernetes-validate, strict), the shard Job is what the README promises (Indexed,
//! completions = parallelism = SHARDS, host network, not privileged, exactly -sS's four
//! capabilities), and its pod command and the merge Job's, run as written by `sh` inside a
//! namespace testbed (targets and the results directory swapped for the testbed's), produce
//! N real shard files that merge into the whole scan.
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pods' `/results`, here: a directory of our own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("tcprax-k8s-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

#[test]
fn every_manifest_validates() {
    let validate = common::pyenv_bin("kubernetes-validate");
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifests_dir())
        .unwrap_or_else(|e| panic!("deploy/kubernetes: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in &files {
        assert!(
            file.extension().is_some_and(|e| e == "yaml"),
            "{}: only manifests belong in deploy/kubernetes/",
            file.display()
        );
        let out = Command::new(&validate)
            .arg("--strict")
            .arg(file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubernetes-validate: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{}:\n{text}", file.display());
        assert!(text.contains("passed"), "{}:\n{text}", file.display());
        assert!(!text.contains("ERROR"), "{}:\n{text}", file.display());
    }
}

/// What the test needs of the two Jobs, read with PyYAML (kubernetes-validate's dependency).
const EXTRACT: &str = r#"
import json, sys, yaml
def job(name):
    with open(sys.argv[1] + "/" + name) as f:
        return yaml.safe_load(f)
scan, merge = job("scan-job.yaml"), job("merge-job.yaml")
pod = scan["spec"]["template"]["spec"]
c = pod["containers"][0]
m = merge["spec"]["template"]["spec"]["containers"][0]
print(json.dumps({
    "mode": scan["spec"].get("completionMode"),
    "completions": scan["spec"]["completions"],
    "parallelism": scan["spec"]["parallelism"],
    "host_network": pod.get("hostNetwork", False),
    "security": c["securityContext"],
    "command": c["command"] + c["args"],
    "env": {e["name"]: e["value"] for e in c["env"]},
    "volume": c["volumeMounts"][0]["mountPath"],
    "merge_command": m["command"] + m["args"],
    "merge_security": m["securityContext"],
}))
"#;

#[test]
fn shard_job_runs_the_shards_and_merge_job_merges_them() {
    let python = common::pyenv_bin("python3");
    let out = Command::new(&python)
        .args(["-c", EXTRACT])
        .arg(manifests_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // The shape the README describes.
    let shards = jobs["completions"].as_u64().unwrap();
    assert_eq!(jobs["mode"], "Indexed");
    assert_eq!(jobs["parallelism"].as_u64(), Some(shards));
    assert_eq!(
        jobs["env"]["SHARDS"].as_str(),
        Some(shards.to_string().as_str())
    );
    assert_eq!(jobs["host_network"], true);
    let caps = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (job, add) in [
        ("scan", vec!["BPF", "NET_ADMIN", "NET_RAW", "PERFMON"]),
        ("merge", vec![]),
    ] {
        let sec = if job == "scan" {
            &jobs["security"]
        } else {
            &jobs["merge_security"]
        };
        assert_eq!(sec["privileged"], false, "{job}");
        assert_eq!(sec["allowPrivilegeEscalation"], false, "{job}");
        assert_eq!(
            caps(&sec["capabilities"]["drop"]),
            BTreeSet::from(["ALL".to_string()])
        );
        assert_eq!(
            caps(&sec["capabilities"]["add"]),
            add.into_iter().map(String::from).collect::<BTreeSet<_>>(),
            "{job}"
        );
    }

    // The pod command as written, for every index, in a testbed's scanner namespace: the
    // targets and ports swapped for the testbed's, /results for a directory of ours.
    let Some(tb) = common::testbed("trxk8s") else {
        return;
    };
    let _listeners = tb.target_listen(&[22, 80]).unwrap();
    let dir = TempDir::new();
    let results = dir.0.clone();
    let results_str = results.to_string_lossy().into_owned();
    let mount = jobs["volume"].as_str().unwrap();
    let script = |key: &str| -> (String, String) {
        let cmd: Vec<String> = jobs[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(&cmd[..2], ["/bin/sh", "-c"], "{key}");
        (cmd[0].clone(), cmd[2].replace(mount, &results_str))
    };
    let bin_dir = Path::new(common::bin()).parent().unwrap().to_path_buf();
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display());
    let (sh, shard_script) = script("command");
    for index in 0..shards {
        let mut cmd = tb.scanner_command(&sh);
        for (k, v) in jobs["env"].as_object().unwrap() {
            cmd.env(k, v.as_str().unwrap());
        }
        let out = cmd
            .args(["-c", &shard_script])
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("TARGETS", "198.18.0.2 2001:2::2")
            .env("PORTS", "20-23,80")
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shard {index}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = results.join(format!("shard-{index}.jsonl"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let plan: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            plan["shard"],
            serde_json::json!({"index": index + 1, "count": shards})
        );
        assert_eq!(
            plan["seed"].as_u64(),
            jobs["env"]["SEED"].as_str().and_then(|s| s.parse().ok())
        );
    }
    let (sh, merge_script) = script("merge_command");
    let out = Command::new(&sh)
        .args(["-c", &merge_script])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "merge: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = std::fs::read_to_string(results.join("scan.jsonl")).unwrap();
    let open: BTreeSet<(String, u64)> = merged
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "port" && v["state"] == "open")
        .map(|v| {
            (
                v["addr"].as_str().unwrap().to_string(),
                v["port"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64)> = ["198.18.0.2", "2001:2::2"]
        .iter()
        .flat_map(|a| [22, 80].map(|p| (a.to_string(), p)))
        .collect();
    assert_eq!(open, expected);
    assert!(merged.lines().count() == 2 + 2 * 5, "{merged}");
}
