//! `--resume FILE` and `--resume-file PATH` on the command line: a resumed run takes its whole
//! command line from the file (nothing else may be given with it), is checked to be the same
//! scan, and continues it; any other run records how it was started, for the file a signal
//! would make it write.
use super::values::bad;
use super::{CliError, Problem, parse_scan};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tcprax::config::{OutputFormat, ResumeSettings, ScanConfig};
use tcprax::resume::{DEFAULT_FILE, Origin, ResumeError, ResumeFile, digest_files, xml_part_path};

/// The file of `--resume FILE` (or `--resume=FILE`), if the command line has one; an error if
/// anything else comes with it. Arguments after `--` are targets, never options.
pub(super) fn requested(args: &[OsString]) -> Result<Option<PathBuf>, CliError> {
    let rest = args.get(1..).unwrap_or_default();
    let options = rest.iter().take_while(|a| *a != "--");
    let Some(at) = options
        .clone()
        .position(|a| a == "--resume" || a.to_str().is_some_and(|a| a.starts_with("--resume=")))
    else {
        return Ok(None);
    };
    let (file, used) = match rest[at].to_str().and_then(|a| a.strip_prefix("--resume=")) {
        Some(value) => (Some(OsString::from(value)), 1),
        None => (rest.get(at + 1).cloned(), 2),
    };
    let file = file.filter(|f| !f.is_empty());
    let Some(file) = file else {
        return Err(bad("--resume", "", Problem::EmptyPath));
    };
    if let Some(other) = rest
        .iter()
        .enumerate()
        .find(|(i, _)| *i < at || *i >= at + used)
    {
        return Err(CliError::ResumeAlone {
            token: other.1.to_string_lossy().into_owned(),
        });
    }
    Ok(Some(PathBuf::from(file)))
}

/// The scan saved in `file`: its command line parsed again in its working directory (which
/// becomes ours, so that every relative path means what it meant), checked to be the same scan
/// (inputs, targets, ports), with its seed, its saved state, and `-oX` sent to a file of this
/// run's own.
pub(super) fn continue_from(file: &Path) -> Result<ScanConfig, CliError> {
    let path = std::path::absolute(file).map_err(|source| ResumeError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let saved = ResumeFile::load(&path)?;
    std::env::set_current_dir(&saved.origin.cwd).map_err(|source| ResumeError::Cwd {
        path: saved.origin.cwd.clone(),
        source,
    })?;
    let args = std::iter::once("tcprax".to_string())
        .chain(saved.origin.argv.iter().cloned())
        .map(OsString::from)
        .collect();
    let mut config = parse_scan(args)?;
    let files = config
        .resume
        .origin
        .as_ref()
        .map(|o| o.files.clone())
        .unwrap_or_default();
    saved.check_same_scan(&config.targets, &config.ports, &files)?;
    config.syn.seed = Some(saved.point.seed);
    let run = saved.resumed_runs + 1;
    for output in &mut config.outputs {
        if output.format == OutputFormat::Xml
            && let Some(p) = &mut output.path
        {
            *p = xml_part_path(p, run);
        }
    }
    config.resume.file = path;
    config.resume.from = Some(saved);
    Ok(config)
}

/// Where a stop would save the scan, and how it was started.
pub(super) fn settings(
    resume_file: Option<&Path>,
    argv: Option<Vec<String>>,
    input_lists: &[PathBuf],
    exclude_files: &[PathBuf],
) -> Result<ResumeSettings, CliError> {
    let given = match resume_file {
        Some(p) if p.as_os_str().is_empty() => {
            return Err(bad("--resume-file", "", Problem::EmptyPath));
        }
        Some(p) => p,
        None => Path::new(DEFAULT_FILE),
    };
    let file = std::path::absolute(given).unwrap_or_else(|_| given.to_path_buf());
    let inputs: Vec<PathBuf> = input_lists.iter().chain(exclude_files).cloned().collect();
    // The files were just read for the targets; a failure here is a race, and a real error.
    let files = digest_files(&inputs)?;
    let origin = match (argv, std::env::current_dir()) {
        (Some(argv), Ok(cwd)) => Some(Origin { cwd, argv, files }),
        _ => None,
    };
    Ok(ResumeSettings {
        file,
        origin,
        from: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_from;
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("tcprax")
            .chain(list.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn resume_is_found_in_both_forms_and_only_before_the_double_dash() {
        for list in [&["--resume", "a.resume"][..], &["--resume=a.resume"]] {
            assert_eq!(
                requested(&args(list)).unwrap(),
                Some(PathBuf::from("a.resume"))
            );
        }
        // `--resume-file` is another option, and after `--` everything is a target.
        assert_eq!(
            requested(&args(&["--resume-file", "x", "h"])).unwrap(),
            None
        );
        assert_eq!(requested(&args(&["--", "--resume"])).unwrap(), None);
        assert_eq!(requested(&args(&[])).unwrap(), None);
    }

    #[test]
    fn resume_with_anything_else_or_without_a_file_is_one_clear_error() {
        for (list, token) in [
            (&["-sS", "--resume", "a"][..], "-sS"),
            (&["--resume", "a", "198.18.0.2"], "198.18.0.2"),
            (&["--resume=a", "--resume=b"], "--resume=b"),
        ] {
            let err = requested(&args(list)).unwrap_err();
            assert!(
                matches!(&err, CliError::ResumeAlone { token: t } if t == token),
                "{list:?}: {err}"
            );
        }
        for list in [&["--resume"][..], &["--resume="], &["--resume", ""]] {
            let err = requested(&args(list)).unwrap_err().to_string();
            assert!(err.contains("--resume") && err.contains("empty"), "{err}");
        }
    }

    #[test]
    fn a_scan_records_its_command_line_and_where_it_would_save() {
        let config = parse_from(args(&["-sT", "127.0.0.1", "-p", "22"])).unwrap();
        let origin = config.resume.origin.expect("recorded");
        assert_eq!(origin.argv, ["-sT", "127.0.0.1", "-p", "22"]);
        assert_eq!(origin.cwd, std::env::current_dir().unwrap());
        assert!(origin.files.is_empty());
        assert_eq!(config.resume.file, origin.cwd.join(DEFAULT_FILE));
        assert!(config.resume.from.is_none());
        let config = parse_from(args(&["127.0.0.1", "--resume-file", "/tmp/x.resume"])).unwrap();
        assert_eq!(config.resume.file, PathBuf::from("/tmp/x.resume"));
        let err = parse_from(args(&["127.0.0.1", "--resume-file="])).unwrap_err();
        assert!(err.to_string().contains("--resume-file"), "{err}");
    }
}
