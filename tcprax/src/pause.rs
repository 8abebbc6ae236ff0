//! The resume file at the end of a run (the binary's side of `--resume`): a scan a signal
//! stopped saves where it stands and says how to continue; a resumed scan that completes
//! removes the file it continued. The file's content and checks live in `tcprax::resume`.
use tcprax::config::{ScanConfig, Verbosity};
use tcprax::resume::{
    Decided, FORMAT, Paused, ResumeFile, output_lengths, ports_sha256, shell_word, targets_sha256,
};

/// After a run that a signal stopped: save `paused` (the engine's state; None when nothing
/// was left, or for -sT) to the resume file, and tell the operator how to continue.
pub fn stopped(config: &ScanConfig, paused: Option<Paused>, note: impl Fn(&str)) {
    let file = &config.resume.file;
    let Some(paused) = paused else {
        // Every probe was decided before the stop (only -sV was cut short).
        completed(config, &note);
        return;
    };
    let Some(origin) = config.resume.origin.clone() else {
        note(
            "tcprax: warning: cannot save the scan for --resume: its command line is not \
             UTF-8, or the working directory is unknown",
        );
        return;
    };
    let (resumed_runs, before) = match &config.resume.from {
        Some(from) => (from.resumed_runs + 1, from.decided),
        None => (0, Decided::default()),
    };
    let decided = before.plus(&paused.reported);
    let saved = ResumeFile {
        format: FORMAT,
        tcprax: env!("CARGO_PKG_VERSION").to_string(),
        origin,
        targets_sha256: targets_sha256(&config.targets),
        ports_sha256: ports_sha256(&config.ports),
        point: paused.point,
        resumed_runs,
        decided,
        outputs: output_lengths(&config.outputs),
    };
    match saved.save(file) {
        Ok(()) => {
            let total = config
                .targets
                .included_len()
                .saturating_mul(config.ports.len() as u128);
            note(&format!(
                "tcprax: scan saved in '{}' ({} of {total} ports decided); continue it with:\n  \
                 tcprax --resume {}",
                file.display(),
                decided.ports,
                shell_word(file)
            ));
        }
        Err(err) => note(&format!("tcprax: error: {err}")),
    }
}

/// After a run that completed: a resumed scan is over, and its resume file goes.
pub fn completed(config: &ScanConfig, note: impl Fn(&str)) {
    if config.resume.from.is_none() {
        return;
    }
    let file = &config.resume.file;
    match std::fs::remove_file(file) {
        Ok(()) if config.verbosity > Verbosity::Quiet => note(&format!(
            "tcprax: notice: the scan is complete; removed '{}'",
            file.display()
        )),
        Ok(()) => {}
        Err(err) => note(&format!(
            "tcprax: warning: the scan is complete but '{}' could not be removed: {err}",
            file.display()
        )),
    }
}
