//! Ctrl-C (and SIGTERM) for the lab programs, which build namespaces and start processes: the
//! handler only sets a flag, checked between steps, so that the testbed and the child processes
//! are cleaned up by ordinary returns and drops rather than cut short by the signal.
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The error a step returns once Ctrl-C was pressed.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Install the handler (SIGINT, SIGTERM, SIGHUP); call it before creating anything that needs
/// cleaning up. It can be installed once per process.
pub fn install() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst))
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once Ctrl-C was pressed.
pub fn check() -> Result<(), Interrupted> {
    if requested() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}
