//! The resume file on disk: round trip, and a clear error for each way it can be wrong.
use super::*;
use std::net::IpAddr;

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tcprax-resume-unit-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn targets(specs: &[&str]) -> TargetSet {
    let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    TargetSet::parse(&specs, &[], &[], &[]).unwrap()
}

fn sample(files: Vec<FileDigest>) -> ResumeFile {
    ResumeFile {
        format: FORMAT,
        tcprax: env!("CARGO_PKG_VERSION").to_string(),
        origin: Origin {
            cwd: "/tmp".into(),
            argv: vec![
                "-sS".into(),
                "198.18.0.0/24".into(),
                "-p".into(),
                "22,80".into(),
            ],
            files,
        },
        targets_sha256: targets_sha256(&targets(&["198.18.0.0/24"])),
        ports_sha256: ports_sha256(&PortList::parse("22,80").unwrap()),
        point: ResumePoint {
            seed: 77,
            next: 123,
            pending: vec![(IpAddr::from([198, 18, 0, 4]), 80)],
        },
        resumed_runs: 0,
        decided: Decided {
            ports: 100,
            open: 3,
            ..Decided::default()
        },
        outputs: vec![],
    }
}

#[test]
fn saved_and_loaded_is_the_same_and_the_save_replaces_the_old_file() {
    let dir = Scratch::new("roundtrip");
    let path = dir.path("tcprax.resume");
    std::fs::write(&path, "old").unwrap();
    let file = sample(vec![]);
    file.save(&path).unwrap();
    assert_eq!(ResumeFile::load(&path).unwrap(), file);
    assert!(!dir.path("tcprax.resume.tmp").exists());
}

#[test]
fn a_damaged_or_foreign_file_is_refused_naming_it() {
    let dir = Scratch::new("corrupt");
    let path = dir.path("bad.resume");
    for text in ["", "{", "not json", "{\"format\":1}", "[1,2]"] {
        std::fs::write(&path, text).unwrap();
        let err = ResumeFile::load(&path).unwrap_err();
        assert!(
            matches!(err, ResumeError::Corrupt { .. }),
            "{text:?}: {err}"
        );
        assert!(err.to_string().contains("bad.resume"), "{err}");
    }
    // Cut in half.
    let whole = serde_json::to_string(&sample(vec![])).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    assert!(matches!(
        ResumeFile::load(&path),
        Err(ResumeError::Corrupt { .. })
    ));
    let missing = ResumeFile::load(&dir.path("none")).unwrap_err();
    assert!(matches!(missing, ResumeError::Read { .. }), "{missing}");
}

#[test]
fn a_file_from_another_version_or_format_is_refused_as_such() {
    let dir = Scratch::new("version");
    let path = dir.path("old.resume");
    for (format, version) in [(FORMAT, "0.0.1"), (FORMAT + 1, env!("CARGO_PKG_VERSION"))] {
        let mut value = serde_json::to_value(sample(vec![])).unwrap();
        value["format"] = format.into();
        value["tcprax"] = version.into();
        // A layout this version does not know must not hide the version error.
        value["point"] = serde_json::json!({"something": "else"});
        std::fs::write(&path, value.to_string()).unwrap();
        let err = ResumeFile::load(&path).unwrap_err();
        assert!(matches!(err, ResumeError::Version { .. }), "{err}");
        assert!(err.to_string().contains(version), "{err}");
    }
}

#[test]
fn changed_targets_files_ports_are_refused() {
    let dir = Scratch::new("changed");
    let list = dir.path("hosts.txt");
    std::fs::write(&list, "198.18.0.0/24\n").unwrap();
    let files = digest_files(std::slice::from_ref(&list)).unwrap();
    let file = sample(files.clone());
    let same = targets(&["198.18.0.0/24"]);
    let ports = PortList::parse("22,80").unwrap();
    file.check_same_scan(&same, &ports, &files).unwrap();

    std::fs::write(&list, "198.18.0.0/25\n").unwrap();
    let now = digest_files(std::slice::from_ref(&list)).unwrap();
    let err = file.check_same_scan(&same, &ports, &now).unwrap_err();
    assert!(
        matches!(&err, ResumeError::FileChanged { path } if *path == list),
        "{err}"
    );
    assert!(err.to_string().contains("hosts.txt"), "{err}");

    for other in [
        targets(&["198.18.0.0/25"]),
        targets(&["198.18.0.128/25", "198.18.0.0/25"]),
    ] {
        let err = file.check_same_scan(&other, &ports, &files).unwrap_err();
        assert!(matches!(err, ResumeError::TargetsChanged), "{err}");
    }
    let err = file
        .check_same_scan(&same, &PortList::parse("22,81").unwrap(), &files)
        .unwrap_err();
    assert!(matches!(err, ResumeError::PortsChanged), "{err}");
}

#[test]
fn xml_parts_and_shell_words() {
    assert_eq!(
        xml_part_path(Path::new("out/scan.xml"), 1),
        PathBuf::from("out/scan.resumed-1.xml")
    );
    assert_eq!(
        xml_part_path(Path::new("scan"), 2),
        PathBuf::from("scan.resumed-2")
    );
    assert_eq!(shell_word(Path::new("/tmp/a.resume")), "/tmp/a.resume");
    assert_eq!(shell_word(Path::new("my scan's")), r"'my scan'\''s'");
}

#[test]
fn reports_are_cut_back_to_the_save_and_a_shorter_or_missing_one_is_refused() {
    let dir = Scratch::new("rewind");
    let json = dir.path("scan.jsonl");
    std::fs::write(&json, "saved\nlater, unsaved\n").unwrap();
    let mut file = sample(vec![]);
    file.outputs = vec![OutputLength {
        path: json.clone(),
        len: 6,
    }];
    file.rewind_outputs().unwrap();
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "saved\n");
    // At its length already: untouched.
    file.rewind_outputs().unwrap();
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "saved\n");
    std::fs::write(&json, "sav").unwrap();
    let err = file.rewind_outputs().unwrap_err();
    assert!(
        matches!(
            err,
            ResumeError::OutputShrunk {
                len: 3,
                saved: 6,
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_file(&json).unwrap();
    let err = file.rewind_outputs().unwrap_err();
    assert!(matches!(err, ResumeError::Rewind { .. }), "{err}");
    assert!(err.to_string().contains("scan.jsonl"), "{err}");
}

#[test]
fn output_lengths_skip_stdout_and_xml() {
    use crate::config::{OutputFormat, OutputSpec};
    let dir = Scratch::new("lengths");
    for name in ["a.jsonl", "a.xml", "a.txt"] {
        std::fs::write(dir.path(name), "1234").unwrap();
    }
    let spec = |format, name: Option<&str>| OutputSpec {
        format,
        path: name.map(|n| dir.path(n)),
    };
    let specs = [
        spec(OutputFormat::Json, Some("a.jsonl")),
        spec(OutputFormat::Xml, Some("a.xml")),
        spec(OutputFormat::Normal, None),
        spec(OutputFormat::Grep, Some("a.txt")),
    ];
    let got: Vec<(PathBuf, u64)> = output_lengths(&specs)
        .into_iter()
        .map(|o| (o.path, o.len))
        .collect();
    assert_eq!(got, vec![(dir.path("a.jsonl"), 4), (dir.path("a.txt"), 4)]);
}
