//! `tcprax report FILE... [-o OUT]`: the command line of the HTML report. Reads each file (or
//! stdin for `-`) with [`tcprax::report::read`], renders one page and writes it to OUT
//! (`report.html` by default, stdout for `-`).
//!
//! Exit codes as for a scan: 0 done, 1 the page could not be written, 2 bad input (a usage
//! error, or a file that cannot be read: one line naming the file and the line).
use clap::Parser;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tcprax::report::{ReadError, ScanData};

const EXAMPLES: &str = "\
Examples:
  tcprax report scan.jsonl                       writes report.html
  tcprax report scan.jsonl -o scan.html
  tcprax report shard-0.jsonl shard-1.jsonl -o whole.html
  tcprax report nmap.xml -o -                    nmap's XML (tcprax -oX, or nmap -oX), page on stdout
  tcprax -sT -sV -p 22,443 198.18.0.2 -oJ - | tcprax report - -o scan.html";

/// `tcprax report`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "tcprax report",
    about = "Write one self-contained HTML page (tables and plots) from scan results",
    long_about = "Write one self-contained HTML page from scan results: tables of hosts, ports,\n\
                  services and TLS certificates (soonest to expire first), and plots (open\n\
                  ports per service, a /24 heat map, round-trip times, versions seen). The page\n\
                  loads nothing from the network.",
    after_help = EXAMPLES,
    disable_version_flag = true
)]
struct ReportArgs {
    /// JSON lines (-oJ) or nmap XML (-oX) files, told apart by content; '-' reads stdin
    #[arg(value_name = "FILE", required = true)]
    files: Vec<OsString>,
    /// Where to write the page ('-' = stdout)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUT",
        default_value = "report.html"
    )]
    output: OsString,
}

/// Why `tcprax report` failed. Each renders as one line.
#[derive(Debug, thiserror::Error)]
enum ReportError {
    #[error("cannot open '{}': {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("stdin ('-') is given more than once")]
    StdinTwice,
    #[error("the output '{}' is also an input: it would be overwritten", path.display())]
    OutputIsInput { path: PathBuf },
    #[error("cannot write '{}': {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

impl ReportError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ReportError::Write { .. } => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }
}

/// Runs `tcprax report`; `args` is the whole argv (`tcprax report ...`).
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    // clap sees "tcprax report" as the program name, then the words after it.
    let args = args.into_iter().skip(2);
    let parsed =
        match ReportArgs::try_parse_from(std::iter::once("tcprax report".into()).chain(args)) {
            Ok(parsed) => parsed,
            Err(err) => err.exit(),
        };
    match run(&parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(ReportError::Write { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            let _ = writeln!(io::stderr(), "tcprax report: error: {err}");
            err.exit_code()
        }
    }
}

fn run(args: &ReportArgs) -> Result<(), ReportError> {
    let output = (args.output != "-").then(|| PathBuf::from(&args.output));
    if args.files.iter().filter(|f| *f == "-").count() > 1 {
        return Err(ReportError::StdinTwice);
    }
    if let Some(out) = &output {
        let same = |input: &OsString| {
            let input = PathBuf::from(input);
            input == *out
                || matches!(
                    (input.canonicalize(), out.canonicalize()),
                    (Ok(a), Ok(b)) if a == b
                )
        };
        if let Some(input) = args.files.iter().find(|f| *f != "-" && same(f)) {
            return Err(ReportError::OutputIsInput {
                path: PathBuf::from(input),
            });
        }
    }
    let mut data = ScanData::new();
    for file in &args.files {
        let name = file.to_string_lossy();
        if file == "-" {
            tcprax::report::read("-", io::stdin().lock(), &mut data)?;
        } else {
            let path = PathBuf::from(file);
            let f = File::open(&path).map_err(|source| ReportError::Open {
                path: path.clone(),
                source,
            })?;
            tcprax::report::read(&name, BufReader::new(f), &mut data)?;
        }
    }
    let page = tcprax::report::render(&data, std::time::SystemTime::now());
    match output {
        None => io::stdout()
            .lock()
            .write_all(page.as_bytes())
            .and_then(|()| io::stdout().flush())
            .map_err(|source| ReportError::Write {
                path: "<stdout>".into(),
                source,
            }),
        Some(path) => std::fs::write(&path, page.as_bytes())
            .map_err(|source| ReportError::Write { path, source }),
    }
}
