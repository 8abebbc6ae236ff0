//! `tcprax merge SHARD.jsonl... [-oN F] [-oJ F] [-oG F] [-oX F] [-oA BASE] [-v | -q]`: the
//! grammar of the subcommand and its small `main`. The work (reading, checking, replaying)
//! is the library's [`tcprax::merge`]; the printers are the scan's own.
use super::{CliError, rewrite_nmap_forms, values::OutputArgs};
use clap::{ArgAction, Parser};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use tcprax::config::{OutputSpec, Verbosity};
use tcprax::merge::ShardSet;

const ABOUT: &str =
    "Merge the -oJ files of the shards of one scan into the report of the whole scan";

const LONG_ABOUT: &str = "\
Merge the JSON lines (-oJ) of the shards of one scan (--shard 1/N .. N/N, one --seed) into the
report of the whole scan, in any output format.

The files must come from the same scan: scan type, targets, exclusions, ports, -sV, --retries,
--include-broadcast, seed and shard count must agree, and each shard 1/N..N/N must be there
exactly once, finished (its summary line written). Otherwise nothing is written and the error
names the file and the difference. Exit status: 0 merged, 1 a report could not be written,
2 bad command line or shard set.";

const AFTER: &str = "\
Examples:
  tcprax merge shard-*.jsonl                              human report of the whole scan
  tcprax merge shard-*.jsonl -oX scan.xml -oJ scan.jsonl
  tcprax merge results/shard-*.jsonl -oA whole            whole.nmap, .gnmap, .xml, .jsonl";

#[derive(Debug, Parser)]
#[command(
    name = "tcprax merge",
    version,
    override_usage = "tcprax merge [OPTIONS] <SHARD.jsonl>...",
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER,
    args_override_self = true
)]
struct MergeArgs {
    #[arg(
        value_name = "SHARD.jsonl",
        required = true,
        help = "The -oJ files of the shards, in any order"
    )]
    files: Vec<PathBuf>,
    #[command(flatten)]
    outputs: OutputArgs,
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count,
          help = "List more closed and filtered ports, whole service responses")]
    verbose: u8,
    #[arg(short = 'q', long = "quiet", help = "Only one line per open port")]
    quiet: bool,
}

/// A validated `tcprax merge` command line.
#[derive(Debug, PartialEq, Eq)]
pub struct MergeConfig {
    pub files: Vec<PathBuf>,
    pub outputs: Vec<OutputSpec>,
    pub verbosity: Verbosity,
}

/// Whether argv is `tcprax merge ...`. A target host named `merge` is scanned with an option
/// or `--` before it: `tcprax -sT merge`, `tcprax -- merge`.
pub fn is_merge(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "merge")
}

/// Parses `tcprax merge ...` (argv with the program name first and `merge` second).
pub fn parse_merge(args: Vec<OsString>) -> Result<MergeConfig, CliError> {
    let mut args = args.into_iter();
    let program = args.next();
    let _merge = args.next();
    let args = rewrite_nmap_forms(program.into_iter().chain(args))?;
    let raw = MergeArgs::try_parse_from(args)?;
    let verbosity = match (raw.quiet, raw.verbose) {
        (true, 0) => Verbosity::Quiet,
        (true, _) => return Err(CliError::QuietAndVerbose),
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        (false, _) => Verbosity::Debug,
    };
    let outputs = raw.outputs.specs()?;
    Ok(MergeConfig {
        files: raw.files,
        outputs,
        verbosity,
    })
}

/// `main` of `tcprax merge`: exit 0 merged, 1 a report could not be written, 2 a bad command
/// line or shard set (nothing written).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let config = match parse_merge(args) {
        Ok(config) => config,
        Err(CliError::Clap(err)) => err.exit(),
        Err(err) => return fail(&err, 2),
    };
    let set = match ShardSet::open(&config.files) {
        Ok(set) => set,
        Err(err) => return fail(&err, 2),
    };
    for path in set.interrupted() {
        eprintln!(
            "tcprax: warning: '{}' was interrupted: the merged results are partial",
            path.display()
        );
    }
    let mut printers = match tcprax::output::open_printers(&config.outputs, config.verbosity) {
        Ok(p) => p,
        Err(err) => return fail(&err, 2),
    };
    match set.replay(printers.as_mut_slice()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(tcprax::merge::MergeError::Output { source })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err, 1),
    }
}

fn fail(err: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("tcprax: error: {err}");
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcprax::config::OutputFormat;

    fn parse(args: &[&str]) -> Result<MergeConfig, CliError> {
        let mut argv: Vec<OsString> = vec!["tcprax".into(), "merge".into()];
        argv.extend(args.iter().map(OsString::from));
        parse_merge(argv)
    }

    #[test]
    fn files_and_outputs() {
        let c = parse(&["a.jsonl", "b.jsonl", "-oX", "m.xml", "-oJ-", "-v"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.files,
            [PathBuf::from("a.jsonl"), PathBuf::from("b.jsonl")]
        );
        assert_eq!(c.verbosity, Verbosity::Verbose);
        assert_eq!(
            c.outputs,
            [
                OutputSpec {
                    format: OutputFormat::Json,
                    path: None
                },
                OutputSpec {
                    format: OutputFormat::Xml,
                    path: Some("m.xml".into())
                },
            ]
        );
        // No -o: the human report on stdout.
        let c = parse(&["a.jsonl"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.outputs,
            [OutputSpec {
                format: OutputFormat::Normal,
                path: None
            }]
        );
        assert_eq!(
            parse(&["a.jsonl", "-oA", "whole"])
                .unwrap_or_else(|e| panic!("{e}"))
                .outputs
                .len(),
            5
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(parse(&[]), Err(CliError::Clap(_))), "no files");
        assert!(matches!(parse(&["a.jsonl", "-sS"]), Err(CliError::Clap(_))));
        assert_eq!(
            parse(&["a.jsonl", "-oA", "-"]).map_err(|e| e.to_string()),
            Err(CliError::AllToStdout.to_string())
        );
        assert_eq!(
            parse(&["a.jsonl", "-q", "-v"]).map_err(|e| e.to_string()),
            Err("-q and -v cannot be combined".to_string())
        );
        assert!(is_merge(&["tcprax".into(), "merge".into()]));
        assert!(!is_merge(&["tcprax".into(), "-sT".into(), "merge".into()]));
    }
}
