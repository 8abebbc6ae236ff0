//! The results as Markdown: one row per run, the fastest complete run of each tool, and the
//! conditions (CPUs, kernel, load, versions) that every number depends on.
use crate::measure::Measured;
use crate::tools::{Target, Tool};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `part` of `whole` in percent, rounded down so that only a complete result reads 100.00.
fn percent(part: u64, whole: u64) -> String {
    let hundredths = u128::from(part) * 10_000 / u128::from(whole.max(1));
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn fmt_rate(rate: Option<u32>) -> String {
    match rate {
        Some(r) if r.is_multiple_of(1000) => format!("{}k", r / 1000),
        Some(r) => r.to_string(),
        None => "max".into(),
    }
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The best rate at which a tool still found every open port: the row with the highest
/// achieved probes/s among the complete ones.
fn best_complete(results: &[Measured], tool: Tool) -> Option<&Measured> {
    results
        .iter()
        .filter(|m| m.spec.tool == tool && m.complete())
        .max_by(|a, b| a.pps().total_cmp(&b.pps()))
}

/// The results as Markdown: one row per run, then the best complete rate of each tool.
pub fn report(
    results: &[Measured],
    skipped: &[String],
    quick: bool,
    target: Target,
    total: Duration,
    load: &str,
    versions: &[String],
) -> String {
    let mut s = String::new();
    let tcprax_best = best_complete(results, Tool::Tcprax).map(Measured::pps);
    let _ = writeln!(
        s,
        "\n## tcprax-bench{} — {} CPUs, kernel {}, {:.0} s in all, load average {load}\n",
        if quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel_release(),
        total.as_secs_f64()
    );
    let _ = writeln!(s, "Target: {}.\n", target.label());
    if !versions.is_empty() {
        let _ = writeln!(s, "Versions: {}.\n", versions.join(", "));
    }
    let _ = writeln!(
        s,
        "| tool | range × ports | rate asked | probes | achieved pps | wall s | open found / truth | % | CPU s (user+sys) | host CPU s | SYNs/s while sending | SYNs at target | RSTs at target | vs tcprax best | notes |"
    );
    let _ = writeln!(
        s,
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    );
    for m in results {
        let truth = m.spec.scope.truth();
        let probes = match m.probes_reported {
            Some(p) => fmt_count(p),
            None => format!("{}*", fmt_count(m.syns_at_target)),
        };
        let ratio = tcprax_best.map_or("-".into(), |b| format!("{:.2}×", m.pps() / b));
        let _ = writeln!(
            s,
            "| {} | {} × {} | {} | {} | {} | {:.2} | {} / {} | {} | {:.2} ({:.2}+{:.2}) | {:.2} | {} | {} | {} | {} | {} |",
            m.spec.tool.label(),
            m.spec.scope.range,
            m.spec.scope.port_count(),
            fmt_rate(m.spec.rate),
            probes,
            fmt_count(m.pps().round() as u64),
            m.wall.as_secs_f64(),
            fmt_count(m.found.in_scope),
            fmt_count(truth),
            percent(m.found.in_scope, truth),
            m.cpu.total().as_secs_f64(),
            m.cpu.user.as_secs_f64(),
            m.cpu.system.as_secs_f64(),
            m.host_cpu.as_secs_f64(),
            m.sending_pps()
                .map_or("-".into(), |r| fmt_count(r.round() as u64)),
            fmt_count(m.syns_at_target),
            fmt_count(m.rsts_at_target),
            ratio,
            m.notes.join("; "),
        );
    }
    let _ = writeln!(s, "\n### Fastest run that found every open port\n");
    let _ = writeln!(
        s,
        "| tool | rate asked | achieved pps | wall s | CPU s | vs tcprax |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|");
    let mut seen = Vec::new();
    for m in results {
        let tool = m.spec.tool;
        if seen.contains(&tool) {
            continue;
        }
        seen.push(tool);
        match best_complete(results, tool) {
            Some(b) => {
                let ratio = tcprax_best.map_or("-".into(), |t| format!("{:.2}×", b.pps() / t));
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {:.2} | {} |",
                    tool.label(),
                    fmt_rate(b.spec.rate),
                    fmt_count(b.pps().round() as u64),
                    b.wall.as_secs_f64(),
                    b.cpu.total().as_secs_f64(),
                    ratio
                );
            }
            None => {
                let _ = writeln!(s, "| {} | none was 100 % | - | - | - | - |", tool.label());
            }
        }
    }
    let _ = writeln!(
        s,
        "\nprobes: the scanner's own count (tcprax, retries included); * = SYNs counted at the target \
         (the peers report none). achieved pps = probes / wall time, start-up and final wait included. \
         CPU s = user + system time of the scanner process (wait4); on a veth the target's receive work \
         runs on the sender's CPU, so it is partly counted there. host CPU s = busy time of all CPUs. \
         SYNs/s while sending = SYNs at the target / time from its first to its last SYN (only the \
         XDP responder times them; with it, SYNs and RSTs at target are its own counters)."
    );
    for note in skipped {
        let _ = writeln!(s, "\n{note}");
    }
    s
}

/// The first line of `program --version` that names a version, e.g. "Nmap version 7.93".
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|l| l.chars().any(|c| c.is_ascii_digit()))
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
}

/// Versions of the tools that ran, tcprax first.
pub fn versions(tcprax: &Path, tools: &[Tool]) -> Vec<String> {
    let mut programs: Vec<PathBuf> = Vec::new();
    for tool in tools {
        let p = match tool {
            Tool::Tcprax => tcprax.to_path_buf(),
            Tool::MasscanOwn | Tool::MasscanSpare => "masscan".into(),
            Tool::Nmap => "nmap".into(),
            Tool::Zmap => "zmap".into(),
        };
        if !programs.contains(&p) {
            programs.push(p);
        }
    }
    programs.iter().filter_map(|p| version_of(p)).collect()
}

/// The 1-minute load average, from `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub fn counts_and_rates_are_readable() {
        assert_eq!(fmt_count(262_144), "262,144");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_rate(Some(25_000)), "25k");
        assert_eq!(fmt_rate(Some(1_500)), "1500");
        assert_eq!(fmt_rate(None), "max");
        assert_eq!(percent(65_535, 65_536), "99.99");
        assert_eq!(percent(262_144, 262_144), "100.00");
        assert_eq!(percent(1, 3), "33.33");
        assert_eq!(percent(0, 0), "0.00");
    }
}
