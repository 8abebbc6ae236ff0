//! Command-line grammar (clap) -> validated `ScanConfig`. STUB: being written; interface fixed.
use std::ffi::OsString;
use tcprax::config::ScanConfig;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("{0}")]
    Todo(String),
}

pub fn parse_from<I: IntoIterator<Item = OsString>>(_args: I) -> Result<ScanConfig, CliError> {
    Err(CliError::Todo("CLI not written yet".into()))
}
