//! The tcprax command: parse arguments into a validated config, run the scan, map the outcome
//! to an exit code. All the work lives in the library; all the grammar in `cli`.
mod cli;

use std::process::ExitCode;
use tcprax::engine::ScanControl;

/// Exit codes: 0 done, 1 the scan could not run (e.g. XDP could not be attached), 2 bad
/// input, 130 interrupted by Ctrl-C (partial results were printed).
fn main() -> ExitCode {
    let config = match cli::parse_from(std::env::args_os()) {
        Ok(config) => config,
        Err(cli::CliError::Clap(err)) => err.exit(),
        Err(err) => {
            eprintln!("tcprax: error: {err}");
            return ExitCode::from(2);
        }
    };
    let mut printers = match tcprax::output::open_printers(&config.outputs, config.verbosity) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("tcprax: error: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tcprax: error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let stop = ScanControl::new();
    let result = runtime.block_on(async {
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("tcprax: interrupted, finishing with the results so far");
                on_signal.stop();
            }
        });
        tcprax::scan::run(&config, &mut printers, stop.clone()).await
    });
    match result {
        Ok(summary) if summary.interrupted => ExitCode::from(130),
        Ok(_) => ExitCode::SUCCESS,
        Err(tcprax::scan::ScanError::Output { source })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            // `tcprax ... | head` is not an error.
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tcprax: error: {err}");
            ExitCode::from(1)
        }
    }
}
