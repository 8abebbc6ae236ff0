//! The resume file (`--resume`): what an interrupted scan writes so that a later run can
//! continue it, and the checks that the later run is the same scan.
//!
//! One JSON object (format [`FORMAT`]): the tcprax version that wrote it; the working
//! directory and the command line of the scan (so the resumed run has every option, output
//! paths included, exactly as given); SHA-256 digests of the `-iL`/`--excludefile` files, of
//! the target set as parsed (host names resolved) and of the port list, so that a scan whose
//! inputs changed is refused instead of continued with a different permutation; the
//! scheduler's [`ResumePoint`] (seed, position, probes left undecided); how many resumed runs
//! came before (each writes its `-oX` to a file of its own, [`xml_part_path`]); and the
//! verdicts reported so far. The file is replaced atomically (written beside, then renamed).
//! This module reads and writes it; `main` decides when.
use crate::config::{OutputFormat, OutputSpec};
use crate::engine::syn::scheduler::ResumePoint;
use crate::model::ScanSummary;
use crate::ports::PortList;
use crate::targets::TargetSet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};

/// Version of the file's layout and meaning; a file of another format is refused. 2: the
/// -sS permutation's round function changed, so a saved position names other probes.
pub const FORMAT: u32 = 2;

/// Where an interrupted scan writes its state unless `--resume-file` says otherwise.
pub const DEFAULT_FILE: &str = "tcprax.resume";

/// The SHA-256 of one input file, as it was when the scan started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub path: PathBuf,
    pub sha256: String,
}

/// Verdicts reported over all runs of the scan so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub ports: u64,
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    pub unreachable: u64,
}

impl Decided {
    /// These verdicts plus those of `run`.
    pub fn plus(self, run: &ScanSummary) -> Decided {
        Decided {
            ports: self.ports + run.ports_scanned,
            open: self.open + run.open,
            closed: self.closed + run.closed,
            filtered: self.filtered + run.filtered,
            unreachable: self.unreachable + run.unreachable,
        }
    }
}

/// What a scan stopped by a signal leaves for the resume file: the engine's point, and what
/// this run reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paused {
    pub point: ResumePoint,
    pub reported: ScanSummary,
}

/// The length of an appended report file when the state was saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputLength {
    /// As given on the command line (relative to the scan's working directory).
    pub path: PathBuf,
    pub len: u64,
}

/// How a scan was started: what a resume file needs besides the engine's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The working directory the command line's relative paths are relative to.
    pub cwd: PathBuf,
    /// The command line, without the program name.
    pub argv: Vec<String>,
    /// `-iL` and `--excludefile` files, in the order given.
    pub files: Vec<FileDigest>,
}

/// The content of a resume file. See the module comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeFile {
    pub format: u32,
    /// The version of tcprax that wrote it: only the same version continues it.
    pub tcprax: String,
    pub origin: Origin,
    pub targets_sha256: String,
    pub ports_sha256: String,
    pub point: ResumePoint,
    /// Resumed runs before the next one (0 after the first interruption).
    pub resumed_runs: u32,
    pub decided: Decided,
    /// The appended reports (`-oN`, `-oJ`, `-oG` files) as long as they were at the save: a
    /// resumed run cuts them back to this before it appends, so lines of a run that ended
    /// without saving (SIGKILL, a second signal, a crash), whose ports the file still counts
    /// as undecided, are not reported twice.
    pub outputs: Vec<OutputLength>,
}

/// Why a resume file could not be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("cannot read resume file '{}': {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write resume file '{}': {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("'{}' is not a tcprax resume file (or it is damaged): {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "resume file '{}' was written by tcprax {tcprax} (format {format}); this is tcprax {} \
         (format {FORMAT}): resume it with that version, or start the scan again",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )]
    Version {
        path: PathBuf,
        tcprax: String,
        format: u64,
    },
    #[error(
        "cannot change to the scan's working directory '{}': {source}",
        path.display()
    )]
    Cwd { path: PathBuf, source: io::Error },
    #[error(
        "'{}' changed since the scan was interrupted: a resumed scan must walk the same \
         targets; start a new scan instead",
        path.display()
    )]
    FileChanged { path: PathBuf },
    #[error(
        "the targets are not the same as when the scan was interrupted (a host name resolves \
         to another address?): start a new scan instead"
    )]
    TargetsChanged,
    #[error("the port list is not the same as when the scan was interrupted")]
    PortsChanged,
    #[error(
        "report file '{}' is shorter than when the scan was interrupted ({len} bytes, was \
         {saved}): it is not the report this scan was writing",
        path.display()
    )]
    OutputShrunk { path: PathBuf, len: u64, saved: u64 },
    #[error("cannot cut report file '{}' back to where the scan was saved: {source}", path.display())]
    Rewind { path: PathBuf, source: io::Error },
}

impl ResumeFile {
    /// Reads and checks the file at `path`: a file that is not JSON of this layout, or comes
    /// from another tcprax version or format, is refused with an error naming it.
    pub fn load(path: &Path) -> Result<ResumeFile, ResumeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResumeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let corrupt = |source| ResumeError::Corrupt {
            path: path.to_path_buf(),
            source,
        };
        // The version first, from a loose read: a file of another version gets that error,
        // not a complaint about a field this version does not know.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(corrupt)?;
        let format = value.get("format").and_then(|f| f.as_u64());
        let tcprax = value.get("tcprax").and_then(|v| v.as_str());
        if let (Some(format), Some(tcprax)) = (format, tcprax)
            && (format != u64::from(FORMAT) || tcprax != env!("CARGO_PKG_VERSION"))
        {
            return Err(ResumeError::Version {
                path: path.to_path_buf(),
                tcprax: tcprax.to_string(),
                format,
            });
        }
        serde_json::from_value(value).map_err(corrupt)
    }

    /// Writes the file at `path`, replacing any earlier one atomically: a crash or a full disk
    /// leaves the old file or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), ResumeError> {
        let err = |source| ResumeError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self)
            .map_err(io::Error::other)
            .map_err(err)?;
        text.push('\n');
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }

    /// Checks that `targets` and `ports` (parsed again from the stored command line) are the
    /// scan this file continues, and that `files` (their digests now) did not change.
    pub fn check_same_scan(
        &self,
        targets: &TargetSet,
        ports: &PortList,
        files: &[FileDigest],
    ) -> Result<(), ResumeError> {
        for saved in &self.origin.files {
            if !files.contains(saved) {
                return Err(ResumeError::FileChanged {
                    path: saved.path.clone(),
                });
            }
        }
        if targets_sha256(targets) != self.targets_sha256 {
            return Err(ResumeError::TargetsChanged);
        }
        if ports_sha256(ports) != self.ports_sha256 {
            return Err(ResumeError::PortsChanged);
        }
        Ok(())
    }
}

impl ResumeFile {
    /// Cuts every appended report back to its length at the save (see
    /// [`outputs`](Self::outputs)); relative paths are taken from the working directory, which
    /// the resumed run shares with the scan. A report missing or shorter than it was is an
    /// error: appending to it would not give the scan's report.
    pub fn rewind_outputs(&self) -> Result<(), ResumeError> {
        for out in &self.outputs {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&out.path)
                .map_err(|source| ResumeError::Rewind {
                    path: out.path.clone(),
                    source,
                })?;
            let len = file
                .metadata()
                .map_err(|source| ResumeError::Rewind {
                    path: out.path.clone(),
                    source,
                })?
                .len();
            if len < out.len {
                return Err(ResumeError::OutputShrunk {
                    path: out.path.clone(),
                    len,
                    saved: out.len,
                });
            }
            if len > out.len {
                file.set_len(out.len)
                    .map_err(|source| ResumeError::Rewind {
                        path: out.path.clone(),
                        source,
                    })?;
            }
        }
        Ok(())
    }
}

/// The length of each report file a resumed run appends to (`-oN`, `-oJ`, `-oG` files; not
/// stdout, not `-oX`, which every run writes whole), as they are now.
pub fn output_lengths(outputs: &[OutputSpec]) -> Vec<OutputLength> {
    outputs
        .iter()
        .filter(|o| o.format != OutputFormat::Xml)
        .filter_map(|o| {
            let path = o.path.clone()?;
            let len = std::fs::metadata(&path).ok()?.len();
            Some(OutputLength { path, len })
        })
        .collect()
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of each file, in order; a file that cannot be read is an error naming it.
pub fn digest_files(paths: &[PathBuf]) -> Result<Vec<FileDigest>, ResumeError> {
    paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|source| ResumeError::Read {
                path: path.clone(),
                source,
            })?;
            Ok(FileDigest {
                path: path.clone(),
                sha256: hex(&Sha256::digest(&bytes)),
            })
        })
        .collect()
}

/// SHA-256 of the included addresses in scan order: equal exactly when the permutation walks
/// the same addresses (whatever the files, names and exclusions that produced them).
pub fn targets_sha256(targets: &TargetSet) -> String {
    let mut h = Sha256::new();
    for (at, family, first, last) in targets.pieces() {
        h.update(at.to_le_bytes());
        h.update([family as u8]);
        h.update(first.to_le_bytes());
        h.update(last.to_le_bytes());
    }
    hex(&h.finalize())
}

/// SHA-256 of the port list in scan order.
pub fn ports_sha256(ports: &PortList) -> String {
    let mut h = Sha256::new();
    for p in ports.as_slice() {
        h.update(p.to_le_bytes());
    }
    hex(&h.finalize())
}

/// Where resumed run `n` (1 for the first) writes the `-oX` report that the first run wrote to
/// `path`: `scan.xml` -> `scan.resumed-1.xml`. An XML document cannot be appended to, so each
/// run writes a whole, valid one of its own.
pub fn xml_part_path(path: &Path, n: u32) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.resumed-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}.resumed-{n}"),
    };
    path.with_file_name(name)
}

/// `path` as one shell word, for the command line a user is told to run.
pub fn shell_word(path: &Path) -> String {
    let s = path.to_string_lossy();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:=@%".contains(&b));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
