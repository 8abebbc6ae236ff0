//! The command-line grammar: nmap-style argv -> clap -> a validated [`ScanConfig`].
//!
//! Three steps, so that every user mistake becomes one precise line before any probe leaves:
//! 1. [`rewrite_nmap_forms`] turns nmap's multi-letter short options (`-sS`, `-oJ`, `-iL`,
//!    `-p-`), which clap cannot express, into long options.
//! 2. clap parses [`RawArgs`]; values that need checking stay strings here, because clap's own
//!    validation errors span several lines and we promise one.
//! 3. [`build`] validates and converts everything into library types; nothing clap-specific
//!    leaves this module.
use clap::{ArgAction, Parser};
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use tcprax::config::{
    DEFAULT_SOURCE_PORTS, OutputFormat, OutputSpec, ScanConfig, ServiceOptions, Shard, SynOptions,
    Verbosity,
};
use tcprax::model::ScanType;
use tcprax::ports::{PortError, PortList};
use tcprax::targets::{TargetError, TargetSet};

/// -t default: enough parallel connects to keep a LAN busy while staying far below the usual
/// 1024 file-descriptor soft limit.
pub const DEFAULT_CONCURRENCY: usize = 512;
/// --retries default for -sT: one more connect() after a timeout. The kernel already
/// retransmits the SYN inside each connect(), so more retries mostly add time.
pub const DEFAULT_RETRIES_CONNECT: u32 = 1;
/// Upper bound of --retries: past a few dozen attempts a silent port is filtered, and the
/// -sS engine numbers attempts in a byte.
pub const MAX_RETRIES: u32 = tcprax::engine::syn::MAX_RETRIES;

/// --retries default for -sS: raw SYNs have no kernel retransmission, and nmap also needs about
/// two retries before it calls a port filtered on a lossy path.
pub const DEFAULT_RETRIES_SYN: u32 = 2;

/// Why the command line was rejected. Every variant but `Clap` renders as one line naming the
/// offending token.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap's own errors, --help and --version; main lets clap print and exit.
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("unknown scan type '{token}': tcprax has -sS, -sT and -sV")]
    UnknownScanType { token: String },
    #[error("unsupported output option '{token}': tcprax writes -oN, -oJ and -oG")]
    UnknownOutput { token: String },
    #[error("-sS and -sT cannot be combined: choose one scan type")]
    ScanTypeConflict,
    #[error("-q and -v cannot be combined")]
    QuietAndVerbose,
    #[error("bad port '{}' in -p: {}", .source.token, .source.kind)]
    Ports { source: PortError },
    #[error("no targets given; see --help for examples")]
    NoTargets,
    #[error(transparent)]
    Targets { source: TargetError },
    #[error("bad value '{value}' for {option}: {problem}")]
    BadValue {
        option: &'static str,
        value: String,
        problem: Problem,
    },
    #[error("output file '{path}' is given to more than one -o option")]
    DuplicateOutput { path: String },
    #[error("only one output can go to stdout ('-'), but {first} and {second} both do")]
    TwoStdout {
        first: &'static str,
        second: &'static str,
    },
}

/// What is wrong with an option's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not a whole number")]
    NotANumber,
    #[error("must be between {min} and {max}")]
    OutOfRange { min: u64, max: u64 },
    #[error("must be greater than 0")]
    Zero,
    #[error("expected a duration such as 500ms, 2s, 1m or 1.5 (seconds)")]
    BadDuration,
    #[error("expected I/N with 1 <= I <= N")]
    BadShard,
    #[error("expected LO-HI with 1 <= LO <= HI <= 65535")]
    BadPortRange,
    #[error("not an IP address")]
    BadAddress,
    #[error("not a network interface name")]
    BadInterface,
    #[error("empty file name")]
    EmptyPath,
}

const EXAMPLES: &str = "\
Examples:
  tcprax 198.18.0.2                              connect scan (-sT) of nmap's top 100 ports
  tcprax -sT -p 22,80-90,443 198.18.0.2
  tcprax -sS -p- --rate 20000 198.18.0.0/24      SYN scan of every port (needs CAP_NET_ADMIN/RAW)
  tcprax -sSV -p 1-1024 -oJ scan.json 198.18.0.0/24 --exclude 198.18.0.1
  tcprax -sTV --probe-timeout 3s localhost 198.18.0.1-20
  tcprax -iL hosts.txt --excludefile skip.txt -oG - -q
  tcprax -sS --seed 7 --shard 2/4 198.18.0.0/16  the second of four machines sharing one scan

nmap spellings are accepted and rewritten before parsing:
  -sS = --syn, -sT = --connect, -sV = --service (combinable: -sSV, -sTV)
  -oN/-oJ/-oG FILE = --output-normal/--output-json/--output-grep FILE ('-' = stdout)
  -iL FILE = --input-list FILE, -p- = --ports 1-65535

Targets: 198.18.0.2, 2001:db8::1, localhost, 198.18.0.0/24, 2001:db8::/120, 198.18.0.1-20,
198.18.0.1-198.18.0.20 and comma lists of these. CIDR blocks include network and broadcast.
Ports: 22, 80-90, 22,80-90,443, 1024- (to 65535), -100 (from 1; write -p-100), - (all).
Without -o options the normal report goes to stdout; with -o options that all write files, it
still goes to stdout as well.";

/// The raw command line, as clap sees it after [`rewrite_nmap_forms`].
///
/// Numeric options set `allow_negative_numbers` so that `-t -1` reaches [`build`] and gets our
/// one-line "not a whole number" instead of clap's "unexpected argument '-1'".
#[derive(Debug, Parser)]
#[command(
    name = "tcprax",
    version,
    about = "TCP reconnaissance: XDP-assisted SYN scan, connect scan, service fingerprinting",
    override_usage = "tcprax [-sS | -sT] [-sV] [OPTIONS] <TARGET>...",
    after_help = EXAMPLES,
    // nmap semantics: a repeated option replaces the earlier one instead of being an error.
    args_override_self = true,
)]
struct RawArgs {
    /// Hosts to scan: addresses, names, CIDR blocks, ranges, comma lists.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,

    /// -sS: SYN scan with raw packets, replies caught by XDP (needs privileges).
    #[arg(long = "syn", help_heading = "Scan type (default -sT)")]
    syn: bool,
    /// -sT: TCP connect scan through the kernel, no privileges needed [default].
    #[arg(long = "connect", help_heading = "Scan type (default -sT)")]
    connect: bool,
    /// -sV: service and version detection on open ports; combines with -sS or -sT.
    #[arg(long = "service", help_heading = "Scan type (default -sT)")]
    service: bool,

    /// Ports: 22 | 80-90 | 22,80-90,443 | - (all, also -p-). Default: nmap's top 100.
    #[arg(
        short = 'p',
        long = "ports",
        value_name = "PORTS",
        allow_hyphen_values = true,
        help_heading = "Targets and ports"
    )]
    ports: Option<String>,
    /// -iL: read targets from FILE (one or more per line, '#' comments).
    #[arg(long = "input-list", value_name = "FILE", action = ArgAction::Append, help_heading = "Targets and ports")]
    input_list: Vec<PathBuf>,
    /// Do not scan these targets (same grammar, comma list; repeatable).
    #[arg(long = "exclude", value_name = "LIST", action = ArgAction::Append, help_heading = "Targets and ports")]
    exclude: Vec<String>,
    /// Do not scan the targets listed in FILE.
    #[arg(long = "excludefile", value_name = "FILE", action = ArgAction::Append, help_heading = "Targets and ports")]
    excludefile: Vec<PathBuf>,

    /// Simultaneous connections (-sT) / service probes (-sV), 1-65535 [default: 512].
    #[arg(
        short = 't',
        long = "threads",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Timing"
    )]
    threads: Option<String>,
    /// Longest wait for one probe: 500ms, 2s, 1m, 1.5 (= seconds) [default: adaptive].
    #[arg(
        long = "timeout",
        allow_negative_numbers = true,
        value_name = "DURATION",
        help_heading = "Timing"
    )]
    timeout: Option<String>,
    /// Extra attempts for an unanswered probe [default: 1 for -sT, 2 for -sS].
    #[arg(
        long = "retries",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Timing"
    )]
    retries: Option<String>,
    /// -sS: packets per second, > 0 [default: unlimited].
    #[arg(
        long = "rate",
        allow_negative_numbers = true,
        value_name = "PPS",
        help_heading = "Timing"
    )]
    rate: Option<String>,

    /// -sS: source ports LO-HI [default: 61000-65535, above Linux's ephemeral range].
    #[arg(
        long = "source-port-range",
        value_name = "LO-HI",
        help_heading = "SYN scan (-sS)"
    )]
    source_port_range: Option<String>,
    /// -sS: source address [default: from the route to the first target].
    #[arg(short = 'S', value_name = "ADDR", help_heading = "SYN scan (-sS)")]
    source_addr: Option<String>,
    /// -sS: network interface [default: from the route to the first target].
    #[arg(short = 'e', value_name = "IFACE", help_heading = "SYN scan (-sS)")]
    interface: Option<String>,
    /// -sS: seed of the probe-order permutation, for reproducible or sharded scans.
    #[arg(
        long = "seed",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "SYN scan (-sS)"
    )]
    seed: Option<String>,
    /// -sS: scan only shard I of N (1 <= I <= N); give every shard the same --seed.
    #[arg(long = "shard", value_name = "I/N", help_heading = "SYN scan (-sS)")]
    shard: Option<String>,
    /// -sS: do not send our own RST to ports that answer SYN-ACK.
    #[arg(long = "no-rst", help_heading = "SYN scan (-sS)")]
    no_rst: bool,

    /// -sV: longest wait for a banner, handshake or response [default: 2s].
    #[arg(
        long = "probe-timeout",
        allow_negative_numbers = true,
        value_name = "DURATION",
        help_heading = "Service detection (-sV)"
    )]
    probe_timeout: Option<String>,

    /// -oN: human-readable report to FILE ('-' = stdout).
    #[arg(long = "output-normal", value_name = "FILE", action = ArgAction::Append, help_heading = "Output")]
    output_normal: Vec<String>,
    /// -oJ: JSON lines to FILE ('-' = stdout).
    #[arg(long = "output-json", value_name = "FILE", action = ArgAction::Append, help_heading = "Output")]
    output_json: Vec<String>,
    /// -oG: grepable output to FILE ('-' = stdout).
    #[arg(long = "output-grep", value_name = "FILE", action = ArgAction::Append, help_heading = "Output")]
    output_grep: Vec<String>,
    /// More detail; repeat (-vv) for debug output.
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, help_heading = "Output")]
    verbose: u8,
    /// Only results and errors.
    #[arg(short = 'q', long = "quiet", help_heading = "Output")]
    quiet: bool,
}

/// Parses and validates a full argv (program name first).
pub fn parse_from<I: IntoIterator<Item = OsString>>(args: I) -> Result<ScanConfig, CliError> {
    let args = rewrite_nmap_forms(args)?;
    let raw = RawArgs::try_parse_from(args)?;
    build(raw)
}

/// Rewrites nmap's multi-letter short options into the long options clap knows. Stops at
/// `--`, after which everything is a target. Arguments that are not UTF-8 pass untouched.
fn rewrite_nmap_forms<I: IntoIterator<Item = OsString>>(
    args: I,
) -> Result<Vec<OsString>, CliError> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    // The program name is never an option.
    out.extend(args.next());
    let mut options_done = false;
    for arg in args {
        let Some(text) = arg.to_str().filter(|_| !options_done) else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            options_done = true;
            out.push(arg);
        } else if text == "-p-" {
            out.push("--ports=-".into());
        } else if let Some(letters) = text.strip_prefix("-s") {
            for letter in letters.chars() {
                out.push(
                    match letter {
                        'S' => "--syn",
                        'T' => "--connect",
                        'V' => "--service",
                        _ => {
                            return Err(CliError::UnknownScanType {
                                token: text.to_string(),
                            });
                        }
                    }
                    .into(),
                );
            }
            if letters.is_empty() {
                return Err(CliError::UnknownScanType {
                    token: text.to_string(),
                });
            }
        } else if let Some(rest) = text.strip_prefix("-o") {
            let (long, value) = match rest.split_at_checked(1) {
                Some(("N", value)) => ("--output-normal", value),
                Some(("J", value)) => ("--output-json", value),
                Some(("G", value)) => ("--output-grep", value),
                _ => {
                    return Err(CliError::UnknownOutput {
                        token: text.to_string(),
                    });
                }
            };
            // nmap also takes the file glued on (-oJscan.json).
            out.push(if value.is_empty() {
                long.into()
            } else {
                format!("{long}={value}").into()
            });
        } else if let Some(value) = text.strip_prefix("-iL") {
            out.push(if value.is_empty() {
                "--input-list".into()
            } else {
                format!("--input-list={value}").into()
            });
        } else {
            out.push(arg);
        }
    }
    Ok(out)
}

/// Validates the raw arguments into a [`ScanConfig`]. Cheap checks first, then ports, then
/// targets, whose names need DNS and whose lists need file reads.
fn build(raw: RawArgs) -> Result<ScanConfig, CliError> {
    let scan_type = match (raw.syn, raw.connect) {
        (true, true) => return Err(CliError::ScanTypeConflict),
        (true, false) => ScanType::Syn,
        // -sT is the default: it needs no privileges.
        (false, _) => ScanType::Connect,
    };
    let verbosity = match (raw.quiet, raw.verbose) {
        (true, 0) => Verbosity::Quiet,
        (true, _) => return Err(CliError::QuietAndVerbose),
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        (false, _) => Verbosity::Debug,
    };

    let threads = raw
        .threads
        .as_deref()
        .map(|v| int_in("-t", v, 1, 65535))
        .transpose()?;
    let concurrency = threads.map_or(DEFAULT_CONCURRENCY, |t| t as usize);
    let timeout = raw
        .timeout
        .as_deref()
        .map(|v| duration("--timeout", v))
        .transpose()?;
    let retries = match raw.retries.as_deref() {
        Some(v) => int_in("--retries", v, 0, u64::from(MAX_RETRIES))? as u32,
        None if scan_type == ScanType::Syn => DEFAULT_RETRIES_SYN,
        None => DEFAULT_RETRIES_CONNECT,
    };
    let rate = raw
        .rate
        .as_deref()
        .map(|v| positive("--rate", v))
        .transpose()?;

    let syn = SynOptions {
        source_ports: match raw.source_port_range.as_deref() {
            Some(v) => source_ports(v)?,
            None => DEFAULT_SOURCE_PORTS,
        },
        source_addr: raw.source_addr.as_deref().map(source_addr).transpose()?,
        interface: raw.interface.map(interface).transpose()?,
        seed: raw
            .seed
            .as_deref()
            .map(|v| int_in("--seed", v, 0, u64::MAX))
            .transpose()?,
        shard: match raw.shard.as_deref() {
            Some(v) => shard(v)?,
            None => Shard { index: 1, count: 1 },
        },
        send_rst: !raw.no_rst,
        xdp_log: verbosity == Verbosity::Debug,
    };

    // Validated even without -sV so a typo never waits for the flag that would expose it.
    let probe_timeout = raw
        .probe_timeout
        .as_deref()
        .map(|v| duration("--probe-timeout", v))
        .transpose()?;
    let service = raw.service.then(|| {
        let defaults = ServiceOptions::default();
        // -t bounds service probes as well; without it keep -sV's gentler default.
        let concurrency = threads.map_or(defaults.concurrency, |t| t as usize);
        ServiceOptions {
            probe_timeout: probe_timeout.unwrap_or(defaults.probe_timeout),
            concurrency,
            per_host: defaults.per_host.min(concurrency),
        }
    });

    let outputs = outputs(&raw.output_normal, &raw.output_json, &raw.output_grep)?;

    let ports = match raw.ports.as_deref() {
        Some(spec) => PortList::parse(spec).map_err(|source| CliError::Ports { source })?,
        None => PortList::default_top(),
    };

    if raw.targets.is_empty() && raw.input_list.is_empty() {
        return Err(CliError::NoTargets);
    }
    let targets = TargetSet::parse(
        &raw.targets,
        &raw.input_list,
        &raw.exclude,
        &raw.excludefile,
    )
    .map_err(|source| CliError::Targets { source })?;

    Ok(ScanConfig {
        scan_type,
        targets,
        ports,
        concurrency,
        timeout,
        retries,
        rate,
        syn,
        service,
        outputs,
        verbosity,
    })
}

fn bad(option: &'static str, value: &str, problem: Problem) -> CliError {
    CliError::BadValue {
        option,
        value: value.to_string(),
        problem,
    }
}

/// A decimal integer in `min..=max`. Digits only: `+5` and `-1` are not whole numbers here.
fn int_in(option: &'static str, value: &str, min: u64, max: u64) -> Result<u64, CliError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(option, value, Problem::NotANumber));
    }
    // All digits, so a parse failure is overflow: out of range like any other big number.
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(option, value, Problem::OutOfRange { min, max })),
    }
}

fn positive(option: &'static str, value: &str) -> Result<u64, CliError> {
    match int_in(option, value, 0, u64::MAX)? {
        0 => Err(bad(option, value, Problem::Zero)),
        n => Ok(n),
    }
}

/// `500ms`, `2s`, `1m`, `1h`, or a bare number of seconds (`1.5`). Computed in integer
/// nanoseconds so `0.1` is exactly 100ms.
fn duration(option: &'static str, value: &str) -> Result<Duration, CliError> {
    let err = || bad(option, value, Problem::BadDuration);
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let nanos_per_unit: u128 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(err()),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 9 {
        return Err(err());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err())?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| err())?
    };
    let frac_nanos = frac_value * nanos_per_unit / 10u128.pow(frac.len() as u32);
    let nanos = whole
        .checked_mul(nanos_per_unit)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(err)?;
    if nanos == 0 {
        return Err(bad(option, value, Problem::Zero));
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| err())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

fn source_ports(value: &str) -> Result<(u16, u16), CliError> {
    let err = || bad("--source-port-range", value, Problem::BadPortRange);
    let (lo, hi) = value.split_once('-').ok_or_else(err)?;
    let port = |s: &str| {
        int_in("--source-port-range", s, 1, 65535)
            .map(|p| p as u16)
            .map_err(|_| err())
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo > hi {
        return Err(err());
    }
    Ok((lo, hi))
}

fn source_addr(value: &str) -> Result<IpAddr, CliError> {
    value
        .parse()
        .map_err(|_| bad("-S", value, Problem::BadAddress))
}

/// Linux interface names: 1-15 bytes (IFNAMSIZ - 1), no '/', no whitespace, not `.`/`..`.
fn interface(value: String) -> Result<String, CliError> {
    let ok = (1..=15).contains(&value.len())
        && value != "."
        && value != ".."
        && !value
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b.is_ascii_control());
    if ok {
        Ok(value)
    } else {
        Err(bad("-e", &value, Problem::BadInterface))
    }
}

fn shard(value: &str) -> Result<Shard, CliError> {
    let err = || bad("--shard", value, Problem::BadShard);
    let (i, n) = value.split_once('/').ok_or_else(err)?;
    let part = |s: &str| {
        int_in("--shard", s, 1, u32::MAX as u64)
            .map(|v| v as u32)
            .map_err(|_| err())
    };
    let (index, count) = (part(i)?, part(n)?);
    if index > count {
        return Err(err());
    }
    Ok(Shard { index, count })
}

/// The -o options in a fixed order (normal, JSON, grepable). Without any, the normal report
/// goes to stdout; if none of the given ones writes to stdout, normal goes there as well.
fn outputs(
    normal: &[String],
    json: &[String],
    grep: &[String],
) -> Result<Vec<OutputSpec>, CliError> {
    let given = [
        ("-oN", OutputFormat::Normal, normal),
        ("-oJ", OutputFormat::Json, json),
        ("-oG", OutputFormat::Grep, grep),
    ];
    let mut specs = Vec::new();
    let mut stdout_user: Option<&'static str> = None;
    for (option, format, paths) in given {
        for path in paths {
            match path.as_str() {
                "" => return Err(bad(option, path, Problem::EmptyPath)),
                "-" => {
                    // Two formats interleaved on one stream would be unreadable by either tool.
                    if let Some(first) = stdout_user {
                        return Err(CliError::TwoStdout {
                            first,
                            second: option,
                        });
                    }
                    stdout_user = Some(option);
                    specs.push(OutputSpec { format, path: None });
                }
                file => {
                    let file = PathBuf::from(file);
                    if specs
                        .iter()
                        .any(|s: &OutputSpec| s.path.as_ref() == Some(&file))
                    {
                        return Err(CliError::DuplicateOutput { path: path.clone() });
                    }
                    specs.push(OutputSpec {
                        format,
                        path: Some(file),
                    });
                }
            }
        }
    }
    if stdout_user.is_none() {
        specs.insert(
            0,
            OutputSpec {
                format: OutputFormat::Normal,
                path: None,
            },
        );
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ScanConfig, CliError> {
        parse_from(
            std::iter::once("tcprax")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    fn ok(args: &[&str]) -> ScanConfig {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// The one-line message main would print.
    fn msg(args: &[&str]) -> String {
        match parse(args) {
            Ok(_) => panic!("{args:?} should fail"),
            Err(CliError::Clap(e)) => panic!("{args:?}: clap error instead of ours: {e}"),
            Err(e) => e.to_string(),
        }
    }

    fn stdout_normal() -> OutputSpec {
        OutputSpec {
            format: OutputFormat::Normal,
            path: None,
        }
    }

    #[test]
    fn defaults() {
        let c = ok(&["198.18.0.2"]);
        assert_eq!(c.scan_type, ScanType::Connect);
        assert_eq!(c.ports, PortList::default_top());
        assert_eq!(c.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(c.timeout, None);
        assert_eq!(c.retries, DEFAULT_RETRIES_CONNECT);
        assert_eq!(c.rate, None);
        assert_eq!(c.syn, SynOptions::default());
        assert_eq!(c.service, None);
        assert_eq!(c.outputs, [stdout_normal()]);
        assert_eq!(c.verbosity, Verbosity::Normal);
        assert_eq!(c.targets.len(), 1);
    }

    #[test]
    fn nmap_scan_type_tokens() {
        assert_eq!(ok(&["-sS", "198.18.0.2"]).scan_type, ScanType::Syn);
        assert_eq!(ok(&["-sS", "198.18.0.2"]).retries, DEFAULT_RETRIES_SYN);
        assert_eq!(ok(&["-sT", "198.18.0.2"]).scan_type, ScanType::Connect);
        let c = ok(&["-sSV", "198.18.0.2"]);
        assert_eq!((c.scan_type, c.service.is_some()), (ScanType::Syn, true));
        let c = ok(&["-sTV", "198.18.0.2"]);
        assert_eq!(
            (c.scan_type, c.service.is_some()),
            (ScanType::Connect, true)
        );
        let c = ok(&["-sV", "198.18.0.2"]);
        assert_eq!(
            (c.scan_type, c.service),
            (ScanType::Connect, Some(ServiceOptions::default()))
        );
        let c = ok(&["-sS", "-sV", "198.18.0.2"]);
        assert_eq!((c.scan_type, c.service.is_some()), (ScanType::Syn, true));
    }

    #[test]
    fn long_scan_type_flags() {
        let c = ok(&["--syn", "--service", "198.18.0.2"]);
        assert_eq!((c.scan_type, c.service.is_some()), (ScanType::Syn, true));
        assert_eq!(
            ok(&["--connect", "198.18.0.2"]).scan_type,
            ScanType::Connect
        );
    }

    #[test]
    fn scan_type_errors() {
        assert_eq!(
            msg(&["-sS", "-sT", "198.18.0.2"]),
            "-sS and -sT cannot be combined: choose one scan type"
        );
        assert_eq!(
            msg(&["-sST", "198.18.0.2"]),
            "-sS and -sT cannot be combined: choose one scan type"
        );
        assert_eq!(
            msg(&["-sU", "198.18.0.2"]),
            "unknown scan type '-sU': tcprax has -sS, -sT and -sV"
        );
        assert_eq!(
            msg(&["-s", "198.18.0.2"]),
            "unknown scan type '-s': tcprax has -sS, -sT and -sV"
        );
    }

    #[test]
    fn ports_forms() {
        assert_eq!(
            ok(&["-p", "22,80-90,443", "198.18.0.2"])
                .ports
                .spec_string(),
            "22,80-90,443"
        );
        assert_eq!(ok(&["-p22", "198.18.0.2"]).ports.as_slice(), &[22]);
        assert_eq!(ok(&["--ports=80", "198.18.0.2"]).ports.as_slice(), &[80]);
        assert_eq!(ok(&["-p-", "198.18.0.2"]).ports, PortList::all());
        assert_eq!(ok(&["-p", "-", "198.18.0.2"]).ports, PortList::all());
        assert_eq!(ok(&["-p-3", "198.18.0.2"]).ports.as_slice(), &[1, 2, 3]);
        assert_eq!(
            ok(&["-p", "65534-", "198.18.0.2"]).ports.as_slice(),
            &[65534, 65535]
        );
    }

    #[test]
    fn port_errors_name_the_token() {
        assert_eq!(
            msg(&["-p", "22,70000", "198.18.0.2"]),
            "bad port '70000' in -p: above 65535"
        );
        assert_eq!(
            msg(&["-p", "0", "198.18.0.2"]),
            "bad port '0' in -p: port 0 cannot be scanned"
        );
        assert_eq!(
            msg(&["-p", "90-80", "198.18.0.2"]),
            "bad port '90-80' in -p: range start 90 is above its end 80"
        );
        assert_eq!(
            msg(&["-p", "22,,80", "198.18.0.2"]),
            "bad port '22,,80' in -p: empty item in list"
        );
        assert_eq!(
            msg(&["-p", "", "198.18.0.2"]),
            "bad port '' in -p: empty port list"
        );
        assert_eq!(
            msg(&["-p", "http", "198.18.0.2"]),
            "bad port 'http' in -p: not a number"
        );
    }

    #[test]
    fn target_forms() {
        let c = ok(&[
            "198.18.0.0/24",
            "198.18.1.1-20,198.18.2.1",
            "2001:db8::/126",
            "localhost",
        ]);
        assert_eq!(c.targets.len(), 256 + 20 + 1 + 4 + 1);
        let c = ok(&[
            "198.18.0.0/24",
            "--exclude",
            "198.18.0.0/25",
            "--exclude",
            "198.18.0.255",
        ]);
        assert_eq!(c.targets.included_len(), 127);
    }

    #[test]
    fn target_errors_name_the_token() {
        assert_eq!(
            msg(&["198.18.0.0/33"]),
            "bad target '198.18.0.0/33': prefix /33 is longer than 32 bits"
        );
        assert_eq!(
            msg(&["198.18.0.300"]),
            "bad target '198.18.0.300': not a valid IPv4 address"
        );
        assert!(
            msg(&["nonexistent.invalid"])
                .starts_with("bad target 'nonexistent.invalid': cannot resolve")
        );
        assert_eq!(
            msg(&["198.18.0.1,,198.18.0.2"]),
            "bad target '198.18.0.1,,198.18.0.2': empty item"
        );
        assert_eq!(msg(&[]), "no targets given; see --help for examples");
        assert_eq!(
            msg(&["198.18.0.0/30", "--exclude", "198.18.0.0/24"]),
            "all 4 target addresses are excluded"
        );
        assert_eq!(
            msg(&["198.18.0.1", "--exclude", "198.18.0.0/40"]),
            "bad exclusion '198.18.0.0/40': prefix /40 is longer than 32 bits"
        );
        assert!(
            msg(&["-iL", "/nonexistent/tcprax.txt"])
                .starts_with("cannot read target file '/nonexistent/tcprax.txt': ")
        );
        assert!(
            msg(&["198.18.0.1", "--excludefile", "/nonexistent/x"])
                .starts_with("cannot read exclusion file '/nonexistent/x': ")
        );
    }

    #[test]
    fn input_list_forms() {
        let path = std::env::temp_dir().join(format!("tcprax-cli-{}.txt", std::process::id()));
        std::fs::write(&path, "198.18.0.1\n# comment\n198.18.0.8/30\n").unwrap();
        let p = path.to_str().unwrap();
        let joined = format!("-iL{p}");
        let results = [
            parse(&["-iL", p]).map(|c| c.targets.len()),
            parse(&[&joined]).map(|c| c.targets.len()),
            parse(&["--input-list", p, "198.18.0.2"]).map(|c| c.targets.len()),
            parse(&["--excludefile", p, "198.18.0.0/28"]).map(|c| c.targets.included_len()),
        ];
        std::fs::remove_file(&path).unwrap();
        let counts: Vec<u128> = results.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(counts, [5, 5, 6, 11]);
    }

    #[test]
    fn threads() {
        assert_eq!(ok(&["-t", "1", "198.18.0.2"]).concurrency, 1);
        assert_eq!(ok(&["--threads", "65535", "198.18.0.2"]).concurrency, 65535);
        assert_eq!(
            msg(&["-t", "0", "198.18.0.2"]),
            "bad value '0' for -t: must be between 1 and 65535"
        );
        assert_eq!(
            msg(&["-t", "65536", "198.18.0.2"]),
            "bad value '65536' for -t: must be between 1 and 65535"
        );
        assert_eq!(
            msg(&["-t", "99999999999999999999999", "198.18.0.2"]),
            "bad value '99999999999999999999999' for -t: must be between 1 and 65535"
        );
        assert_eq!(
            msg(&["-t", "many", "198.18.0.2"]),
            "bad value 'many' for -t: not a whole number"
        );
    }

    #[test]
    fn threads_also_bound_service_probes() {
        let c = ok(&["-sV", "-t", "8", "198.18.0.2"]);
        assert_eq!(c.service.map(|s| (s.concurrency, s.per_host)), Some((8, 8)));
        let c = ok(&["-sV", "-t", "100", "198.18.0.2"]);
        assert_eq!(
            c.service.map(|s| (s.concurrency, s.per_host)),
            Some((100, 16))
        );
    }

    #[test]
    fn durations() {
        let t = |v: &str| ok(&["--timeout", v, "198.18.0.2"]).timeout.unwrap();
        assert_eq!(t("500ms"), Duration::from_millis(500));
        assert_eq!(t("2s"), Duration::from_secs(2));
        assert_eq!(t("1.5"), Duration::from_millis(1500));
        assert_eq!(t("0.1"), Duration::from_millis(100));
        assert_eq!(t(".25s"), Duration::from_millis(250));
        assert_eq!(t("1m"), Duration::from_secs(60));
        assert_eq!(t("1h"), Duration::from_secs(3600));
        assert_eq!(t("2.5ms"), Duration::from_micros(2500));
        let c = ok(&["-sV", "--probe-timeout", "3s", "198.18.0.2"]);
        assert_eq!(c.service.unwrap().probe_timeout, Duration::from_secs(3));
    }

    #[test]
    fn duration_errors() {
        for v in [
            "",
            "abc",
            "5x",
            "1.2.3",
            ".",
            "-1",
            "1e3",
            "2 s",
            "0.0000000001",
        ] {
            assert_eq!(
                msg(&["--timeout", v, "198.18.0.2"]),
                format!(
                    "bad value '{v}' for --timeout: expected a duration such as 500ms, 2s, 1m or 1.5 (seconds)"
                )
            );
        }
        assert_eq!(
            msg(&["--timeout", "0", "198.18.0.2"]),
            "bad value '0' for --timeout: must be greater than 0"
        );
        assert_eq!(
            msg(&["--timeout", "0ms", "198.18.0.2"]),
            "bad value '0ms' for --timeout: must be greater than 0"
        );
        // Validated even without -sV.
        assert!(
            msg(&["--probe-timeout", "soon", "198.18.0.2"])
                .starts_with("bad value 'soon' for --probe-timeout")
        );
        assert!(
            msg(&["--timeout", "99999999999999999999999h", "198.18.0.2"]).starts_with("bad value")
        );
    }

    #[test]
    fn retries_and_rate() {
        assert_eq!(ok(&["--retries", "0", "198.18.0.2"]).retries, 0);
        assert_eq!(ok(&["-sS", "--retries", "5", "198.18.0.2"]).retries, 5);
        // Regression: --retries 300 used to wrap the -sS attempt counter (a u8).
        assert!(
            msg(&["-sS", "--retries", "300", "198.18.0.2"])
                .starts_with("bad value '300' for --retries")
        );
        assert_eq!(
            msg(&["--retries", "x", "198.18.0.2"]),
            "bad value 'x' for --retries: not a whole number"
        );
        assert_eq!(ok(&["--rate", "1000", "198.18.0.2"]).rate, Some(1000));
        assert_eq!(
            msg(&["--rate", "0", "198.18.0.2"]),
            "bad value '0' for --rate: must be greater than 0"
        );
        assert_eq!(
            msg(&["--rate", "fast", "198.18.0.2"]),
            "bad value 'fast' for --rate: not a whole number"
        );
    }

    #[test]
    fn syn_options() {
        let c = ok(&[
            "-sS",
            "--source-port-range",
            "40000-40100",
            "-S",
            "198.18.0.1",
            "-e",
            "veth0",
            "--seed",
            "42",
            "--shard",
            "2/3",
            "--no-rst",
            "198.18.0.2",
        ]);
        assert_eq!(
            c.syn,
            SynOptions {
                source_ports: (40000, 40100),
                source_addr: Some("198.18.0.1".parse().unwrap()),
                interface: Some("veth0".into()),
                seed: Some(42),
                shard: Shard { index: 2, count: 3 },
                send_rst: false,
                xdp_log: false,
            }
        );
        assert_eq!(
            ok(&["-S", "2001:db8::1", "198.18.0.2"]).syn.source_addr,
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn syn_option_errors() {
        let spr = "expected LO-HI with 1 <= LO <= HI <= 65535";
        for v in ["40100-40000", "0-10", "1-65536", "1000", "a-b", "-"] {
            assert_eq!(
                msg(&["--source-port-range", v, "198.18.0.2"]),
                format!("bad value '{v}' for --source-port-range: {spr}")
            );
        }
        for v in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3"] {
            assert_eq!(
                msg(&["--shard", v, "198.18.0.2"]),
                format!("bad value '{v}' for --shard: expected I/N with 1 <= I <= N")
            );
        }
        assert_eq!(
            msg(&["-S", "198.18.0.999", "198.18.0.2"]),
            "bad value '198.18.0.999' for -S: not an IP address"
        );
        assert_eq!(
            msg(&["-e", "a/b", "198.18.0.2"]),
            "bad value 'a/b' for -e: not a network interface name"
        );
        assert_eq!(
            msg(&["-e", "sixteen-chars-xx", "198.18.0.2"]),
            "bad value 'sixteen-chars-xx' for -e: not a network interface name"
        );
        assert_eq!(
            msg(&["--seed", "-1", "198.18.0.2"]),
            "bad value '-1' for --seed: not a whole number"
        );
    }

    #[test]
    fn outputs_default_and_explicit() {
        let out = |args: &[&str]| {
            let mut all = args.to_vec();
            all.push("198.18.0.2");
            ok(&all).outputs
        };
        let file = |format, p: &str| OutputSpec {
            format,
            path: Some(PathBuf::from(p)),
        };
        // Only files: normal still goes to stdout.
        assert_eq!(
            out(&["-oJ", "scan.json"]),
            [stdout_normal(), file(OutputFormat::Json, "scan.json")]
        );
        // Something to stdout: exactly what was asked.
        assert_eq!(
            out(&["-oG", "-"]),
            [OutputSpec {
                format: OutputFormat::Grep,
                path: None
            }]
        );
        assert_eq!(
            out(&["-oN", "-", "-oJ", "s.json"]),
            [stdout_normal(), file(OutputFormat::Json, "s.json")]
        );
        assert_eq!(
            out(&[
                "-oNscan.txt",
                "--output-grep",
                "scan.gnmap",
                "--output-json=scan.json"
            ]),
            [
                stdout_normal(),
                file(OutputFormat::Normal, "scan.txt"),
                file(OutputFormat::Json, "scan.json"),
                file(OutputFormat::Grep, "scan.gnmap"),
            ]
        );
    }

    #[test]
    fn output_errors() {
        assert_eq!(
            msg(&["-oX", "scan.xml", "198.18.0.2"]),
            "unsupported output option '-oX': tcprax writes -oN, -oJ and -oG"
        );
        assert_eq!(
            msg(&["-oA", "scan", "198.18.0.2"]),
            "unsupported output option '-oA': tcprax writes -oN, -oJ and -oG"
        );
        assert_eq!(
            msg(&["-oN", "-", "-oJ", "-", "198.18.0.2"]),
            "only one output can go to stdout ('-'), but -oN and -oJ both do"
        );
        assert_eq!(
            msg(&["-oN", "x", "-oJ", "x", "198.18.0.2"]),
            "output file 'x' is given to more than one -o option"
        );
        assert_eq!(
            msg(&["-oJ", "", "198.18.0.2"]),
            "bad value '' for -oJ: empty file name"
        );
    }

    #[test]
    fn verbosity() {
        assert_eq!(ok(&["-q", "198.18.0.2"]).verbosity, Verbosity::Quiet);
        assert_eq!(ok(&["-v", "198.18.0.2"]).verbosity, Verbosity::Verbose);
        assert_eq!(ok(&["-vv", "198.18.0.2"]).verbosity, Verbosity::Debug);
        assert!(ok(&["-vv", "198.18.0.2"]).syn.xdp_log);
        assert_eq!(
            ok(&["-v", "-v", "-v", "198.18.0.2"]).verbosity,
            Verbosity::Debug
        );
        assert_eq!(
            msg(&["-q", "-v", "198.18.0.2"]),
            "-q and -v cannot be combined"
        );
    }

    #[test]
    fn repeated_options_take_the_last_value() {
        assert_eq!(
            ok(&["-p", "22", "-p", "80", "198.18.0.2"]).ports.as_slice(),
            &[80]
        );
        assert_eq!(ok(&["-sS", "-sS", "198.18.0.2"]).scan_type, ScanType::Syn);
    }

    #[test]
    fn double_dash_ends_rewriting() {
        // After --, "-sU" is a target (and a bad one), not a scan type.
        assert_eq!(
            msg(&["--", "-sU"]),
            "bad target '-sU': not an address, CIDR block, range or host name"
        );
    }

    #[test]
    fn help_and_version_are_clap_displays() {
        for flag in ["--help", "-h", "--version"] {
            match parse(&[flag]) {
                Err(CliError::Clap(e)) => assert_eq!(e.exit_code(), 0, "{flag}"),
                other => panic!("{flag}: {other:?}"),
            }
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        RawArgs::command().debug_assert();
    }
}
