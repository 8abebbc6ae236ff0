//! The scanners the benchmark runs and what each run scans: the tool list, the plan of rates
//! and ranges, the scope every open port is checked against, and each run's command line.
use anyhow::Context as _;
use ipnet::Ipv4Net;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use tcprax_lab::testbed::SCANNER_V4;

/// Listening in the target namespace, so open on every address of the AnyIP range.
pub const PORTS: &[u16] = &[22, 80, 443, 8080];
/// zmap 2.1.1 scans one port per run.
pub const ZMAP_PORT: u16 = 80;
/// The range the target answers for.
pub const ANYIP: &str = "198.19.0.0/16";
/// With the XDP responder: a port scanned too but closed (RST+ACK) on every address.
pub const RESPONDER_CLOSED: u16 = 25;
/// With the XDP responder: the last /24 of the scanned range is silent (filtered).
const SILENT_PREFIX: u8 = 24;
/// Source address for masscan's "spare address" runs: on the scanner's link but not on its
/// interface, so the scanner's kernel ignores the answers instead of resetting them.
const SPARE_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);

/// A scanner and the way it is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Tcprax,
    /// masscan with the interface's own address: the scanner's kernel RSTs every SYN-ACK.
    MasscanOwn,
    /// masscan with [`SPARE_V4`]: nothing RSTs but masscan itself.
    MasscanSpare,
    Nmap,
    Zmap,
}

impl Tool {
    pub fn label(self) -> &'static str {
        match self {
            Tool::Tcprax => "tcprax -sS",
            Tool::MasscanOwn => "masscan (own addr)",
            Tool::MasscanSpare => "masscan (spare addr)",
            Tool::Nmap => "nmap -sS",
            Tool::Zmap => "zmap",
        }
    }

    /// Packets the scanner sends per probe when every port is open: masscan's `--rate` counts
    /// its own RSTs too.
    fn packets_per_probe(self) -> u64 {
        match self {
            Tool::MasscanOwn | Tool::MasscanSpare => 2,
            _ => 1,
        }
    }
}

/// What answers the probes in the target namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The target's kernel TCP stack (AnyIP and listeners): the realistic one, ~60k answers/s.
    Kernel,
    /// The XDP responder (`tcprax_lab::responder`): answers in the driver, for measuring senders.
    Responder,
    /// The XDP responder answering nothing (every address silent): the sender alone, into a
    /// sink; tcprax runs with `--retries 0`.
    Sink,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::Kernel => "the target's kernel TCP stack",
            Target::Responder => "the XDP responder",
            Target::Sink => "the XDP responder as a sink (every SYN dropped unanswered)",
        }
    }
}

/// What one run scans, and the truth about it.
#[derive(Clone, Debug)]
pub struct Scope {
    pub range: Ipv4Net,
    /// Open on every address outside `silent`.
    pub ports: Vec<u16>,
    /// Scanned too, closed on every address outside `silent`.
    pub closed: Vec<u16>,
    /// Addresses that never answer (filtered).
    pub silent: Option<Ipv4Net>,
}

impl Scope {
    fn hosts(net: &Ipv4Net) -> u64 {
        1u64 << (32 - net.prefix_len())
    }

    /// Addresses that answer.
    fn answering(&self) -> u64 {
        Scope::hosts(&self.range) - self.silent.as_ref().map_or(0, Scope::hosts)
    }

    /// The open (address, port) pairs.
    pub fn truth(&self) -> u64 {
        self.answering() * self.ports.len() as u64
    }

    /// The closed pairs.
    pub fn truth_closed(&self) -> u64 {
        self.answering() * self.closed.len() as u64
    }

    /// The filtered pairs.
    pub fn truth_filtered(&self) -> u64 {
        self.silent.as_ref().map_or(0, Scope::hosts) * self.port_count() as u64
    }

    /// Every pair scanned: the number of probes without retries.
    pub fn probes(&self) -> u64 {
        Scope::hosts(&self.range) * self.port_count() as u64
    }

    pub fn port_count(&self) -> usize {
        self.ports.len() + self.closed.len()
    }

    fn contains(&self, addr: Ipv4Addr, port: u16) -> bool {
        self.range.contains(&addr)
            && !self.silent.is_some_and(|s| s.contains(&addr))
            && self.ports.contains(&port)
    }

    fn port_list(&self) -> String {
        let mut all: Vec<u16> = self.ports.iter().chain(&self.closed).copied().collect();
        all.sort_unstable();
        all.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
    }
}

/// One planned run.
#[derive(Clone, Debug)]
pub struct Spec {
    pub tool: Tool,
    /// Packets per second asked for; `None` = the tool's maximum.
    pub rate: Option<u32>,
    pub scope: Scope,
}

/// Open ports a tool reported, checked against the scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Distinct (address, port) pairs inside the scope.
    pub in_scope: u64,
    /// Open ports reported outside the scope: always wrong.
    pub out_of_scope: u64,
}

/// Count the distinct open (address, port) pairs a tool reported, inside and outside `scope`.
pub fn count_found(pairs: impl IntoIterator<Item = (Ipv4Addr, u16)>, scope: &Scope) -> Found {
    let mut seen = HashSet::new();
    let mut found = Found::default();
    for (addr, port) in pairs {
        if !seen.insert((addr, port)) {
            continue;
        }
        if scope.contains(addr, port) {
            found.in_scope += 1;
        } else {
            found.out_of_scope += 1;
        }
    }
    found
}

/// Facts about the testbed the scanner command lines need.
pub struct Link {
    pub scanner_if: String,
    pub scanner_mac: String,
    pub target_mac: String,
}

/// The MAC address of `ifname` in namespace `ns`.
pub fn mac_of(ns: &str, ifname: &str) -> anyhow::Result<String> {
    let out = tcprax_lab::testbed::run("ip", &["-n", ns, "-br", "link", "show", ifname])?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)
        .filter(|m| m.len() == 17 && m.matches(':').count() == 5)
        .map(str::to_string)
        .with_context(|| format!("no MAC address for {ifname} in `{}`", text.trim()))
}

/// The command line of one run (the program and its arguments, without `ip netns exec`).
pub fn command_line(
    spec: &Spec,
    tcprax: &Path,
    link: &Link,
    out: &Path,
    blocklist: &Path,
) -> Vec<String> {
    let range = spec.scope.range.to_string();
    let ports = spec.scope.port_list();
    let out = out.display().to_string();
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    match spec.tool {
        Tool::Tcprax => {
            push(&[&tcprax.display().to_string(), &range, "-sS", "-p", &ports]);
            if let Some(r) = spec.rate {
                push(&["--rate", &r.to_string()]);
            }
            push(&["-oJ", &out, "-q"]);
        }
        Tool::MasscanOwn | Tool::MasscanSpare => {
            let src = if spec.tool == Tool::MasscanOwn {
                SCANNER_V4
            } else {
                SPARE_V4
            };
            // masscan has no "unlimited": its rate then is far above what the link carries.
            let rate = spec.rate.unwrap_or(10_000_000).to_string();
            push(&[
                "masscan",
                "-e",
                &link.scanner_if,
                "--adapter-ip",
                &src.to_string(),
                "--adapter-mac",
                &link.scanner_mac,
                "--router-mac",
                &link.target_mac,
                "--rate",
                &rate,
                "--wait",
                "2",
                "-p",
                &ports,
                &range,
                "-oL",
                &out,
            ]);
        }
        Tool::Nmap => {
            push(&["nmap", "-sS", "-n", "-Pn", "-T4"]);
            if let Some(r) = spec.rate {
                push(&["--min-rate", &r.to_string()]);
            }
            push(&["--max-retries", "1", "-p", &ports, "-oG", &out, &range]);
        }
        Tool::Zmap => {
            push(&[
                "zmap",
                "-p",
                &ports,
                "-i",
                &link.scanner_if,
                "-G",
                &link.target_mac,
                "-S",
                &SCANNER_V4.to_string(),
                "-b",
                &blocklist.display().to_string(),
                "-c",
                "2",
                "-q",
                "-o",
                &out,
            ]);
            // Like masscan: "unlimited" is a rate far above what the link carries.
            let rate = spec.rate.unwrap_or(10_000_000).to_string();
            push(&["-r", &rate, &range]);
        }
    }
    args
}

/// An upper bound for one run: three times the time its packets need at the asked rate, plus
/// start-up and the tail; never more than two minutes.
pub fn time_limit(spec: &Spec) -> Duration {
    let packets = spec.scope.probes() * spec.tool.packets_per_probe();
    let rate = u64::from(spec.rate.unwrap_or(50_000).max(1));
    Duration::from_secs((15 + 3 * packets / rate).min(120))
}

/// Rates and ranges for the whole benchmark against `target`.
pub fn plan(quick: bool, tools: &[Tool], target: Target) -> Vec<Spec> {
    let anyip: Ipv4Net = ANYIP.parse().expect("ANYIP is a valid prefix");
    let sub = |prefix: u8| Ipv4Net::new(anyip.network(), prefix).expect("prefix <= 32");
    let (big, nmap_range) = if quick {
        (sub(20), sub(20))
    } else {
        (anyip, sub(18))
    };
    // Against the responder: one closed port more, and the range's last /24 silent.
    let scope_of = |range: Ipv4Net| match target {
        Target::Kernel => Scope {
            range,
            ports: PORTS.to_vec(),
            closed: Vec::new(),
            silent: None,
        },
        Target::Responder => Scope {
            range,
            ports: PORTS.to_vec(),
            closed: vec![RESPONDER_CLOSED],
            silent: Ipv4Net::new(range.broadcast(), SILENT_PREFIX)
                .ok()
                .map(|n| n.trunc()),
        },
        Target::Sink => Scope {
            range,
            ports: Vec::new(),
            closed: PORTS.to_vec(),
            silent: Some(range),
        },
    };
    let all = scope_of(big);
    let k = |n: u32| Some(n * 1000);
    let rates = |tool: Tool| -> Vec<Option<u32>> {
        match (tool, quick) {
            (Tool::Tcprax, false) if target == Target::Responder => {
                vec![k(100), k(250), None, None, None]
            }
            (Tool::Tcprax, true) if target == Target::Responder => vec![k(100), None],
            (Tool::Tcprax, false) if target == Target::Sink => vec![None, None, None],
            (Tool::Tcprax, true) if target == Target::Sink => vec![None],
            (Tool::Tcprax, false) => vec![k(10), k(25), k(50), k(100), None],
            (Tool::Tcprax, true) => vec![k(25), None],
            (Tool::MasscanOwn, false) => vec![k(15), k(30), k(60), k(120)],
            (Tool::MasscanOwn, true) => vec![k(30)],
            (Tool::MasscanSpare, false) => vec![k(60), k(120), None],
            (Tool::MasscanSpare, true) => vec![k(120)],
            (Tool::Nmap, false) => vec![k(5), k(10), k(20)],
            (Tool::Nmap, true) => vec![k(10)],
            (Tool::Zmap, false) => vec![k(25), k(50), k(100)],
            (Tool::Zmap, true) => vec![k(50)],
        }
    };
    let mut specs = Vec::new();
    for &tool in tools {
        let scope = match tool {
            Tool::Nmap => scope_of(nmap_range),
            Tool::Zmap => Scope {
                ports: vec![ZMAP_PORT],
                closed: Vec::new(),
                ..all.clone()
            },
            _ => all.clone(),
        };
        for rate in rates(tool) {
            specs.push(Spec {
                tool,
                rate,
                scope: scope.clone(),
            });
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(cidr: &str, ports: &[u16]) -> Scope {
        Scope {
            range: cidr.parse().unwrap(),
            ports: ports.to_vec(),
            closed: Vec::new(),
            silent: None,
        }
    }

    #[test]
    pub fn responder_scope_is_the_issues_case() {
        let specs = plan(false, &[Tool::Tcprax], Target::Responder);
        let s = &specs[0].scope;
        assert_eq!(s.probes(), 327_680);
        assert_eq!(s.truth(), 261_120);
        assert_eq!(s.truth_closed(), 65_280);
        assert_eq!(s.truth_filtered(), 1_280);
        assert_eq!(s.silent, Some("198.19.255.0/24".parse().unwrap()));
        assert_eq!(s.port_list(), "22,25,80,443,8080");
        let silent: Ipv4Addr = "198.19.255.9".parse().unwrap();
        assert!(!s.contains(silent, 22));
        assert!(!s.contains("198.19.3.9".parse().unwrap(), RESPONDER_CLOSED));
        assert!(s.contains("198.19.3.9".parse().unwrap(), 22));
    }

    #[test]
    pub fn the_sink_answers_nothing() {
        let specs = plan(true, &[Tool::Tcprax], Target::Sink);
        let s = &specs[0].scope;
        assert_eq!((s.truth(), s.truth_closed()), (0, 0));
        assert_eq!(s.truth_filtered(), 4096 * 4);
        assert_eq!(s.probes(), 4096 * 4);
    }

    #[test]
    pub fn truth_counts_network_and_broadcast_addresses() {
        assert_eq!(scope("198.19.0.0/16", PORTS).truth(), 262_144);
        assert_eq!(scope("198.19.0.0/20", &[80]).truth(), 4096);
    }

    #[test]
    pub fn found_counts_duplicates_once_and_flags_strays() {
        let s = scope("198.19.0.0/24", &[22, 80]);
        let a: Ipv4Addr = "198.19.0.7".parse().unwrap();
        let stray: Ipv4Addr = "198.19.1.7".parse().unwrap();
        let found = count_found([(a, 22), (a, 22), (a, 80), (a, 443), (stray, 22)], &s);
        assert_eq!(
            found,
            Found {
                in_scope: 2,
                out_of_scope: 2
            }
        );
    }

    #[test]
    pub fn quick_plan_is_small_and_zmap_scans_one_port() {
        let specs = plan(
            true,
            &[Tool::Tcprax, Tool::Zmap, Tool::Nmap],
            Target::Kernel,
        );
        assert!(specs.iter().all(|s| s.scope.range.prefix_len() == 20));
        let zmap = specs.iter().find(|s| s.tool == Tool::Zmap).unwrap();
        assert_eq!(zmap.scope.ports, vec![ZMAP_PORT]);
        assert!(
            specs
                .iter()
                .all(|s| time_limit(s) <= Duration::from_secs(120))
        );
    }
}
