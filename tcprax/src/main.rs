//! The tcprax command: parse arguments into a validated config, run, map the outcome to an
//! exit code. All the work lives in the library; all the grammar in `cli`.
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match cli::parse_from(std::env::args_os()) {
        Ok(config) => config,
        Err(cli::CliError::Clap(err)) => err.exit(),
        Err(err) => {
            eprintln!("tcprax: error: {err}");
            return ExitCode::from(2);
        }
    };
    eprintln!("{config:?}");
    ExitCode::SUCCESS
}
