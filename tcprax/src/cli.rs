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
use std::path::PathBuf;
use tcprax::config::{
    RstPath, ScanConfig, SendPath, ServiceOptions, SynOptions, Verbosity, defaults,
};
use tcprax::model::ScanType;
use tcprax::ports::{PortError, PortList};
use tcprax::targets::{TargetError, TargetSet};
use values::{OutputArgs, duration, int_in, interface, positive, shard, source_addr, source_ports};

mod help;
pub mod merge;
pub mod report;
mod resume;
mod values;

/// Upper bound of --send-threads: far more than sending needs on any machine.
const MAX_SEND_THREADS: usize = 64;

/// Upper bound of --retries: past a few dozen attempts a silent port is filtered, and the
/// -sS engine numbers attempts in a byte.
const MAX_RETRIES: u32 = tcprax::engine::syn::MAX_RETRIES;

/// Why the command line was rejected. Every variant but `Clap` renders as one line naming the
/// offending token.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap's own errors, --help and --version; main lets clap print and exit.
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("unknown scan type '{token}': tcprax has -sS, -sT and -sV")]
    UnknownScanType { token: String },
    #[error("unsupported output option '{token}': tcprax writes -oN, -oJ, -oG, -oX and -oA")]
    UnknownOutput { token: String },
    #[error("-sS and -sT cannot be combined: choose one scan type")]
    ScanTypeConflict,
    #[error("-q and -v cannot be combined")]
    QuietAndVerbose,
    #[error("--rst-path xdp and --no-rst cannot be combined: --no-rst sends no RST at all")]
    RstPathAndNoRst,
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
    #[error(
        "-oA writes four files (BASE.nmap, .gnmap, .xml, .jsonl) and cannot go to stdout: give a base name, or -oN/-oJ/-oG/-oX -"
    )]
    AllToStdout,
    #[error("only one output can go to stdout ('-'), but {first} and {second} both do")]
    TwoStdout {
        first: &'static str,
        second: &'static str,
    },
    #[error(
        "--resume FILE takes no other option: the scan's options come from the resume file \
         (found '{token}')"
    )]
    ResumeAlone { token: String },
    #[error(transparent)]
    Resume(#[from] tcprax::resume::ResumeError),
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
    #[error("names a directory; give a base name such as DIR/scan")]
    DirectoryBase,
}

// The raw command line, as clap sees it after `rewrite_nmap_forms`. Every user-facing text is
// an explicit `help`/`long_help` (clap would otherwise print these comments in --help), and the
// texts that quote a default come from `help`, built on `config::defaults`.
//
// Numeric options set `allow_negative_numbers` so that `-t -1` reaches `build` and gets our
// one-line "not a whole number" instead of clap's "unexpected argument '-1'".
#[derive(Debug, Parser)]
#[command(
    name = "tcprax",
    version,
    about = help::ABOUT,
    long_about = help::LONG_ABOUT,
    override_usage = help::USAGE,
    after_help = help::after_short(),
    after_long_help = help::after_long(),
    // nmap semantics: a repeated option replaces the earlier one instead of being an error.
    args_override_self = true,
)]
struct RawArgs {
    #[arg(
        value_name = "TARGET",
        help = "Hosts to scan: addresses, names, CIDR blocks, ranges, comma lists"
    )]
    targets: Vec<String>,

    #[arg(
        long = "syn",
        help_heading = "Scan type (default -sT)",
        help = "-sS: SYN scan, replies caught by XDP (needs root)",
        long_help = "-sS: SYN scan. Raw SYNs; an XDP program on the interface validates and\n\
                     drops the replies, so this host never answers them itself. Needs root\n\
                     (a raw socket and an XDP program)"
    )]
    syn: bool,
    #[arg(
        long = "connect",
        help_heading = "Scan type (default -sT)",
        help = "-sT: connect scan through the kernel, no privileges needed [default]"
    )]
    connect: bool,
    #[arg(
        long = "service",
        help_heading = "Scan type (default -sT)",
        help = "-sV: service and version detection on open ports; combines with -sS or -sT"
    )]
    service: bool,

    #[arg(
        short = 'p',
        long = "ports",
        value_name = "PORTS",
        allow_hyphen_values = true,
        help_heading = "Targets and ports",
        help = "22 | 80-90 | 22,80-90,443 | - or -p- (all) [default: nmap's top 100]"
    )]
    ports: Option<String>,
    #[arg(
        long = "input-list",
        value_name = "FILE",
        action = ArgAction::Append,
        help_heading = "Targets and ports",
        help = "-iL: read targets from FILE (one or more per line, '#' comments)"
    )]
    input_list: Vec<PathBuf>,
    #[arg(
        long = "exclude",
        value_name = "LIST",
        action = ArgAction::Append,
        help_heading = "Targets and ports",
        help = "Do not scan these targets (same forms, comma list; repeatable)"
    )]
    exclude: Vec<String>,
    #[arg(
        long = "excludefile",
        value_name = "FILE",
        action = ArgAction::Append,
        help_heading = "Targets and ports",
        help = "Do not scan the targets listed in FILE"
    )]
    excludefile: Vec<PathBuf>,

    #[arg(
        short = 't',
        long = "threads",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Timing",
        help = help::threads(),
        long_help = help::threads_long()
    )]
    threads: Option<String>,
    #[arg(
        long = "timeout",
        allow_negative_numbers = true,
        value_name = "DURATION",
        help_heading = "Timing",
        help = help::TIMEOUT,
        long_help = help::timeout_long()
    )]
    timeout: Option<String>,
    #[arg(
        long = "retries",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Timing",
        help = help::retries(),
        long_help = help::retries_long()
    )]
    retries: Option<String>,
    #[arg(
        long = "rate",
        allow_negative_numbers = true,
        value_name = "PPS",
        help_heading = "Timing",
        help = "-sS: a fixed rate, packets/s [default: found by the scan]"
    )]
    rate: Option<String>,
    #[arg(
        long = "max-rate",
        allow_negative_numbers = true,
        value_name = "PPS",
        help_heading = "Timing",
        conflicts_with = "rate",
        help = "-sS: the highest rate the scan may find [default: no cap]",
        long_help = "-sS without --rate: the highest rate the scan may find, packets per second. \
                     Without --rate the scan starts at 2,000 probes/s, doubles while nothing is \
                     lost and backs off when fewer answers come back than before (or the XDP ring \
                     buffer overflows), so it runs as fast as the path delivers; --max-rate caps \
                     it [default: no cap]"
    )]
    max_rate: Option<String>,

    #[arg(
        long = "source-port-range",
        value_name = "LO-HI",
        help_heading = "SYN scan (-sS)",
        help = help::source_port_range(),
        long_help = help::source_port_range_long()
    )]
    source_port_range: Option<String>,
    #[arg(
        short = 'S',
        value_name = "ADDR",
        help_heading = "SYN scan (-sS)",
        help = "-sS: source address of all probes [default: per target, routed]"
    )]
    source_addr: Option<String>,
    #[arg(
        short = 'e',
        value_name = "IFACE",
        help_heading = "SYN scan (-sS)",
        help = "-sS: interface of all probes [default: per target, routed]"
    )]
    interface: Option<String>,
    #[arg(
        long = "seed",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "SYN scan (-sS)",
        help = "-sS: seed of the probe order [default: random]",
        long_help = "-sS: seed of the pseudo-random probe order [default: random]. Give it to\n\
                     repeat a scan in the same order, and to every machine of a --shard set"
    )]
    seed: Option<String>,
    #[arg(
        long = "shard",
        value_name = "I/N",
        help_heading = "SYN scan (-sS)",
        help = help::shard(),
        long_help = help::shard_long()
    )]
    shard: Option<String>,
    #[arg(
        long = "no-rst",
        help_heading = "SYN scan (-sS)",
        help = "-sS: do not send our own RST to ports that answer SYN-ACK"
    )]
    no_rst: bool,
    #[arg(
        long = "include-broadcast",
        help_heading = "SYN scan (-sS)",
        help = "-sS: also probe network/broadcast addresses of connected subnets",
        long_help = "-sS: also probe the network and broadcast addresses of directly connected\n\
                     IPv4 subnets. Skipped by default (with a notice): the kernel refuses to\n\
                     send to a broadcast address, and they come out unreachable (send-failed)"
    )]
    include_broadcast: bool,
    #[arg(
        long = "send-path",
        value_name = "PATH",
        value_parser = ["auto", "raw", "direct"],
        hide_possible_values = true,
        help_heading = "SYN scan (-sS)",
        help = "-sS: how probes leave: auto (default), raw or direct",
        long_help = "-sS: how probes leave. auto (default): whole Ethernet frames on an\n\
                     AF_PACKET socket for targets routed through a gateway on an Ethernet-like\n\
                     interface (no local netfilter on the path), the raw IP socket for the rest\n\
                     (targets on the link itself, tun/WireGuard, IPv6, -e/-S). raw: the raw IP\n\
                     socket for every probe. direct: as auto, the frames handed straight to the\n\
                     driver (no qdisc, no tc egress; tcpdump on this host does not see them):\n\
                     the fastest"
    )]
    send_path: Option<String>,
    #[arg(
        long = "rst-path",
        value_name = "PATH",
        value_parser = ["auto", "xdp", "socket"],
        hide_possible_values = true,
        help_heading = "SYN scan (-sS)",
        help = "-sS: who sends our RSTs: auto (default), xdp or socket",
        long_help = "-sS: who sends our RST to an open port. auto (default): the XDP program\n\
                     rewrites the SYN-ACK into it and sends it back (XDP_TX) where the driver\n\
                     gives XDP_TX a ring of its own (native XDP on hardware), the scanner's\n\
                     socket elsewhere and with --send-path raw. xdp: the XDP program wherever\n\
                     XDP_TX reaches the wire (generic XDP, a veth whose peer runs XDP), where a\n\
                     full shared ring can drop an RST. socket: always the scanner"
    )]
    rst_path: Option<String>,
    #[arg(
        long = "send-threads",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "SYN scan (-sS)",
        help = "-sS: threads that send the probes [default: one per CPU, up to 4]",
        long_help = "-sS: threads that send the probes, beside the one that decides what to send:\n\
                     the kernel's part of sending then runs in parallel with the scan's\n\
                     bookkeeping. 0: the deciding thread sends too. Default: one per CPU, at\n\
                     most 4; 0 on a single CPU"
    )]
    send_threads: Option<String>,

    #[arg(
        long = "probe-timeout",
        allow_negative_numbers = true,
        value_name = "DURATION",
        help_heading = "Service detection (-sV)",
        help = help::probe_timeout()
    )]
    probe_timeout: Option<String>,
    #[arg(
        long = "service-probes",
        value_name = "FILE",
        help_heading = "Service detection (-sV)",
        help = "-sV: nmap's service probe file [default: nmap's data directory]",
        long_help = help::SERVICE_PROBES_LONG
    )]
    service_probes: Option<PathBuf>,
    #[arg(
        long = "version-intensity",
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Service detection (-sV)",
        help = help::version_intensity(),
        long_help = help::version_intensity_long()
    )]
    version_intensity: Option<String>,

    #[command(flatten)]
    outputs: OutputArgs,
    #[arg(
        long = "resume",
        value_name = "FILE",
        help_heading = "Resume",
        help = "Continue the scan a signal stopped, saved in FILE (no other option)",
        long_help = "Continue the scan (-sS or -sT) a signal stopped, from the state it saved in\n\
                     FILE: same options, same outputs, appended to (-oX X.xml goes on in\n\
                     X.resumed-N.xml). Takes no other option. FILE is removed once the scan\n\
                     completes"
    )]
    resume: Option<PathBuf>,
    #[arg(
        long = "resume-file",
        value_name = "PATH",
        help_heading = "Resume",
        help = "Where a signal-stopped scan saves its state [default: tcprax.resume]"
    )]
    resume_file: Option<PathBuf>,
    #[arg(
        short = 'v',
        long = "verbose",
        action = ArgAction::Count,
        help_heading = "Output",
        help = "More detail; repeat (-vv) for debug output",
        long_help = "More detail: more closed and filtered ports listed, whole service\n\
                     responses, the reply TTL next to the reason (-sS), XDP counters.\n\
                     Repeat (-vv) for debug output"
    )]
    verbose: u8,
    #[arg(
        short = 'q',
        long = "quiet",
        help_heading = "Output",
        help = "Only results and errors: one line per open port, no progress"
    )]
    quiet: bool,
}

/// Parses and validates a full argv (program name first). `tcprax --resume FILE` reads the
/// scan's command line from FILE instead (and changes to the scan's working directory).
pub fn parse_from<I: IntoIterator<Item = OsString>>(args: I) -> Result<ScanConfig, CliError> {
    let args: Vec<OsString> = args.into_iter().collect();
    if let Some(file) = resume::requested(&args)? {
        return resume::continue_from(&file);
    }
    parse_scan(args)
}

/// A scan's own command line (not `--resume`), remembered for a resume file.
fn parse_scan(args: Vec<OsString>) -> Result<ScanConfig, CliError> {
    // Stored only when every argument is UTF-8 (JSON holds text).
    let argv: Option<Vec<String>> = args
        .iter()
        .skip(1)
        .map(|a| a.clone().into_string().ok())
        .collect();
    let args = rewrite_nmap_forms(args)?;
    let raw = RawArgs::try_parse_from(args)?;
    build(raw, argv)
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
                Some(("X", value)) => ("--output-xml", value),
                Some(("A", value)) => ("--output-all", value),
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
fn build(raw: RawArgs, argv: Option<Vec<String>>) -> Result<ScanConfig, CliError> {
    if let Some(file) = &raw.resume {
        // `requested` takes every --resume before clap sees it; one that got here came in a
        // form it does not know, with other options.
        return Err(CliError::ResumeAlone {
            token: file.display().to_string(),
        });
    }
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
    let concurrency = threads.map_or(defaults::CONCURRENCY, |t| t as usize);
    let timeout = raw
        .timeout
        .as_deref()
        .map(|v| duration("--timeout", v))
        .transpose()?;
    let retries = match raw.retries.as_deref() {
        Some(v) => int_in("--retries", v, 0, u64::from(MAX_RETRIES))? as u32,
        None => defaults::retries(scan_type),
    };
    let rate = raw
        .rate
        .as_deref()
        .map(|v| positive("--rate", v))
        .transpose()?;
    let max_rate = raw
        .max_rate
        .as_deref()
        .map(|v| positive("--max-rate", v))
        .transpose()?;

    let syn = SynOptions {
        source_ports: match raw.source_port_range.as_deref() {
            Some(v) => source_ports(v)?,
            None => defaults::SOURCE_PORTS,
        },
        source_addr: raw.source_addr.as_deref().map(source_addr).transpose()?,
        interface: raw.interface.map(interface).transpose()?,
        // -sS draws its seed here when none is given, so the plan (and the -oJ header that
        // `tcprax merge` and a repeat of the scan read) names the order actually walked.
        seed: match raw.seed.as_deref() {
            Some(v) => Some(int_in("--seed", v, 0, u64::MAX)?),
            None => (scan_type == ScanType::Syn).then(rand::random),
        },
        shard: match raw.shard.as_deref() {
            Some(v) => shard(v)?,
            None => defaults::SHARD,
        },
        send_rst: !raw.no_rst,
        xdp_log: verbosity == Verbosity::Debug,
        include_broadcast: raw.include_broadcast,
        // clap accepts only the two names.
        send_path: match raw.send_path.as_deref() {
            Some("raw") => SendPath::Raw,
            Some("direct") => SendPath::Direct,
            _ => SendPath::Auto,
        },
        rst_path: match raw.rst_path.as_deref() {
            Some("xdp") if raw.no_rst => return Err(CliError::RstPathAndNoRst),
            Some("xdp") => RstPath::Xdp,
            Some("socket") => RstPath::Socket,
            _ => RstPath::Auto,
        },
        send_threads: match raw.send_threads.as_deref() {
            Some(v) => int_in("--send-threads", v, 0, MAX_SEND_THREADS as u64)? as usize,
            None => defaults::send_threads(),
        },
    };

    // Validated even without -sV so a typo never waits for the flag that would expose it.
    let probe_timeout = raw
        .probe_timeout
        .as_deref()
        .map(|v| duration("--probe-timeout", v))
        .transpose()?;
    let version_intensity = match raw.version_intensity.as_deref() {
        Some(v) => int_in("--version-intensity", v, 0, 9)? as u8,
        None => defaults::VERSION_INTENSITY,
    };

    let service = raw.service.then(|| {
        // -t bounds service probes as well; without it keep -sV's gentler default.
        let concurrency = threads.map_or(defaults::SERVICE_CONCURRENCY, |t| t as usize);
        ServiceOptions {
            probe_timeout: probe_timeout.unwrap_or(defaults::PROBE_TIMEOUT),
            concurrency,
            per_host: defaults::SERVICE_PER_HOST.min(concurrency),
            probe_file: raw.service_probes.clone(),
            version_intensity,
        }
    });

    let outputs = raw.outputs.specs()?;

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
    let resume = resume::settings(
        raw.resume_file.as_deref(),
        argv,
        &raw.input_list,
        &raw.excludefile,
    )?;

    Ok(ScanConfig {
        scan_type,
        targets,
        ports,
        concurrency,
        timeout,
        retries,
        rate,
        max_rate,
        syn,
        service,
        outputs,
        verbosity,
        resume,
    })
}

#[cfg(test)]
mod tests;
