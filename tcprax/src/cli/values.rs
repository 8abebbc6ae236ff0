//! Option values: each parser turns one string from the command line into a library value or
//! a one-line [`CliError::BadValue`] naming the option, the value and what is wrong with it.
use super::{CliError, Problem};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use tcprax::config::{OutputFormat, OutputSpec, Shard};

pub(super) fn bad(option: &'static str, value: &str, problem: Problem) -> CliError {
    CliError::BadValue {
        option,
        value: value.to_string(),
        problem,
    }
}

/// A decimal integer in `min..=max`. Digits only: `+5` and `-1` are not whole numbers here.
pub(super) fn int_in(
    option: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, CliError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(option, value, Problem::NotANumber));
    }
    // All digits, so a parse failure is overflow: out of range like any other big number.
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(option, value, Problem::OutOfRange { min, max })),
    }
}

pub(super) fn positive(option: &'static str, value: &str) -> Result<u64, CliError> {
    match int_in(option, value, 0, u64::MAX)? {
        0 => Err(bad(option, value, Problem::Zero)),
        n => Ok(n),
    }
}

/// `500ms`, `2s`, `1m`, `1h`, or a bare number of seconds (`1.5`). Computed in integer
/// nanoseconds so `0.1` is exactly 100ms.
pub(super) fn duration(option: &'static str, value: &str) -> Result<Duration, CliError> {
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

pub(super) fn source_ports(value: &str) -> Result<(u16, u16), CliError> {
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

pub(super) fn source_addr(value: &str) -> Result<IpAddr, CliError> {
    value
        .parse()
        .map_err(|_| bad("-S", value, Problem::BadAddress))
}

/// Linux interface names: 1-15 bytes (IFNAMSIZ - 1), no '/', no whitespace, not `.`/`..`.
pub(super) fn interface(value: String) -> Result<String, CliError> {
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

pub(super) fn shard(value: &str) -> Result<Shard, CliError> {
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

/// The file names `-oA BASE` stands for, in the order of [`outputs`]: nmap's three
/// (`BASE.nmap`, `BASE.gnmap`, `BASE.xml`) and our JSON lines (`BASE.jsonl`).
const ALL_SUFFIXES: [(OutputFormat, &str); 4] = [
    (OutputFormat::Normal, "nmap"),
    (OutputFormat::Json, "jsonl"),
    (OutputFormat::Grep, "gnmap"),
    (OutputFormat::Xml, "xml"),
];

/// `-oA BASE` as the four file names it stands for. Not `-` (four formats cannot share
/// stdout), not empty, and not a directory (`out/` would make `out/.nmap`).
fn all_paths(base: &str) -> Result<[(OutputFormat, String); 4], CliError> {
    match base {
        "" => return Err(bad("-oA", base, Problem::EmptyPath)),
        "-" => return Err(CliError::AllToStdout),
        _ if base.ends_with('/') || base == "." || base == ".." || base.ends_with("/.") => {
            return Err(bad("-oA", base, Problem::DirectoryBase));
        }
        _ => {}
    }
    Ok(ALL_SUFFIXES.map(|(format, suffix)| (format, format!("{base}.{suffix}"))))
}

/// The output options, as the scan and `tcprax merge` take them.
#[derive(clap::Args, Debug)]
pub(super) struct OutputArgs {
    #[arg(
        long = "output-normal",
        value_name = "FILE",
        action = clap::ArgAction::Append,
        help_heading = "Output",
        help = "-oN: human-readable report to FILE ('-' = stdout)"
    )]
    output_normal: Vec<String>,
    #[arg(
        long = "output-json",
        value_name = "FILE",
        action = clap::ArgAction::Append,
        help_heading = "Output",
        help = "-oJ: JSON lines to FILE ('-' = stdout)"
    )]
    output_json: Vec<String>,
    #[arg(
        long = "output-grep",
        value_name = "FILE",
        action = clap::ArgAction::Append,
        help_heading = "Output",
        help = "-oG: grepable output to FILE ('-' = stdout)"
    )]
    output_grep: Vec<String>,
    #[arg(
        long = "output-xml",
        value_name = "FILE",
        action = clap::ArgAction::Append,
        help_heading = "Output",
        help = "-oX: nmap-compatible XML to FILE ('-' = stdout)"
    )]
    output_xml: Vec<String>,
    #[arg(
        long = "output-all",
        value_name = "BASE",
        action = clap::ArgAction::Append,
        help_heading = "Output",
        help = "-oA: all four formats: BASE.nmap, .gnmap, .xml and .jsonl"
    )]
    output_all: Vec<String>,
}

impl OutputArgs {
    /// The outputs asked for (see [`outputs`]).
    pub(super) fn specs(&self) -> Result<Vec<OutputSpec>, CliError> {
        outputs(
            &self.output_normal,
            &self.output_json,
            &self.output_grep,
            &self.output_xml,
            &self.output_all,
        )
    }
}

/// The -o options in a fixed order (normal, JSON, grepable, XML; then each `-oA` base's four
/// files). Without any, the normal report goes to stdout; if none of the given ones writes to
/// stdout, normal goes there as well. A file named twice (`-oA scan -oX scan.xml` included)
/// is an error.
pub(super) fn outputs(
    normal: &[String],
    json: &[String],
    grep: &[String],
    xml: &[String],
    all: &[String],
) -> Result<Vec<OutputSpec>, CliError> {
    let mut given: Vec<(&'static str, OutputFormat, String)> = Vec::new();
    for (option, format, paths) in [
        ("-oN", OutputFormat::Normal, normal),
        ("-oJ", OutputFormat::Json, json),
        ("-oG", OutputFormat::Grep, grep),
        ("-oX", OutputFormat::Xml, xml),
    ] {
        given.extend(paths.iter().map(|p| (option, format, p.clone())));
    }
    for base in all {
        given.extend(all_paths(base)?.map(|(format, path)| ("-oA", format, path)));
    }
    let mut specs = Vec::new();
    let mut stdout_user: Option<&'static str> = None;
    for (option, format, path) in &given {
        let (option, format) = (*option, *format);
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
