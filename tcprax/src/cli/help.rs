//! What `tcprax -h` and `tcprax --help` say around clap's option list, and the option texts
//! that quote a default: those are built from [`tcprax::config::defaults`], so the help cannot
//! drift from what the scan does. Written for users: no word here is about the code.
use super::MAX_RETRIES;
use tcprax::config::defaults;

pub(super) const ABOUT: &str =
    "TCP reconnaissance: XDP-assisted SYN scan, connect scan, service fingerprinting";

pub(super) const LONG_ABOUT: &str = "\
TCP reconnaissance: a SYN scan whose replies an XDP program catches (-sS), a connect scan
through the kernel (-sT, the default) and service fingerprinting over TCP and TLS (-sV).

Reports go to stdout; progress and errors go to stderr.";

pub(super) const USAGE: &str = "tcprax [-sS | -sT] [-sV] [OPTIONS] <TARGET>...";

const EXAMPLES: &str = "\
Examples:
  tcprax 198.18.0.2                              connect scan (-sT) of nmap's top 100 ports
  tcprax -sT -p 22,80-90,443 198.18.0.2
  tcprax -sS -p- --rate 20000 198.18.0.0/24      SYN scan of every port (needs root)
  tcprax -sSV -p 1-1024 -oJ scan.json 198.18.0.0/24 --exclude 198.18.0.1
  tcprax -sTV --probe-timeout 3s localhost 198.18.0.1-20
  tcprax -iL hosts.txt --excludefile skip.txt -oG - -q
  tcprax -sS --seed 7 --shard 2/4 198.18.0.0/16  the second of four machines sharing one scan
  tcprax --resume tcprax.resume                  continue a scan Ctrl-C stopped
  tcprax merge shard-*.jsonl -oX scan.xml        the report of the whole sharded scan";

const NMAP_FORMS: &str = "\
nmap's spellings work as well:
  -sS = --syn, -sT = --connect, -sV = --service (combinable: -sSV, -sTV)
  -oN/-oJ/-oG/-oX FILE = --output-{normal,json,grep,xml} FILE ('-' = stdout)
  -oA BASE = --output-all BASE: BASE.nmap, BASE.gnmap, BASE.xml and BASE.jsonl
  -iL FILE = --input-list FILE, -p- = --ports 1-65535";

const FORMS: &str = "\
Targets: 198.18.0.2, 2001:db8::1, localhost, 198.18.0.0/24, 2001:db8::/120, 198.18.0.1-20,
198.18.0.1-198.18.0.20 and comma lists of these. CIDR blocks include network and broadcast.
Ports: 22, 80-90, 22,80-90,443, 1024- (to 65535), -100 (from 1; write -p-100), - (all).

Output: without -o options the normal report goes to stdout; when every -o option writes a
file, the normal report still goes to stdout as well. Formats: docs/output.md.
`tcprax report FILE... [-o OUT]` turns -oJ or -oX files into one HTML page (tcprax report -h).

Exit status: 0 done, 1 the scan could not run (e.g. XDP could not be attached: try -sT),
2 bad command line, 128 + the signal number when a signal stopped the scan: 130 SIGINT
(Ctrl-C), 143 SIGTERM, 129 SIGHUP. The first signal stops sending, cancels running service
probes and finishes every report with the results so far (marked interrupted), and saves the
scan's state for --resume (tcprax.resume, or --resume-file); a second one exits at once
(report files then end at their last whole line).";

/// After the options with `-h`: examples, the nmap spellings, and where to read more.
pub(super) fn after_short() -> String {
    format!(
        "{EXAMPLES}\n\n{NMAP_FORMS}\n\nMore (target and port forms, exit status): tcprax --help"
    )
}

/// After the options with `--help`: examples, the nmap spellings and the grammar.
pub(super) fn after_long() -> String {
    format!("{EXAMPLES}\n\n{NMAP_FORMS}\n\n{FORMS}")
}

pub(super) fn threads() -> String {
    format!(
        "Simultaneous connects (-sT) / service probes (-sV) [default: {} / {}]",
        defaults::CONCURRENCY,
        defaults::SERVICE_CONCURRENCY
    )
}

pub(super) fn threads_long() -> String {
    format!(
        "Simultaneous connects (-sT) and service probes (-sV), 1-65535\n\
         [default: {} connects, {} service probes]. Service detection also keeps\n\
         at most {} probes on one host (N if smaller)",
        defaults::CONCURRENCY,
        defaults::SERVICE_CONCURRENCY,
        defaults::SERVICE_PER_HOST
    )
}

pub(super) const TIMEOUT: &str = "Longest wait for one probe: 500ms, 2s, 1.5 [default: adaptive]";

pub(super) fn timeout_long() -> String {
    format!(
        "Longest wait for one probe: 500ms, 2s, 1m, 1h or seconds (1.5). tcprax waits\n\
         as long as the round-trip times it measures suggest (smoothed RTT plus four\n\
         times its variation, as nmap does), never longer than this\n\
         [default: {} for -sT, {} for -sS]",
        secs(defaults::MAX_TIMEOUT_CONNECT),
        secs(defaults::MAX_TIMEOUT_SYN)
    )
}

pub(super) fn retries() -> String {
    format!(
        "Extra attempts for an unanswered probe [default: {} for -sT, {} for -sS]",
        defaults::RETRIES_CONNECT,
        defaults::RETRIES_SYN
    )
}

pub(super) fn retries_long() -> String {
    format!(
        "Extra attempts for an unanswered probe, 0-{MAX_RETRIES}\n\
         [default: {} for -sT, {} for -sS]",
        defaults::RETRIES_CONNECT,
        defaults::RETRIES_SYN
    )
}

pub(super) fn source_port_range() -> String {
    let (lo, hi) = defaults::SOURCE_PORTS;
    format!("-sS: source ports LO-HI [default: {lo}-{hi}]")
}

pub(super) fn source_port_range_long() -> String {
    let (lo, hi) = defaults::SOURCE_PORTS;
    format!(
        "-sS: source ports LO-HI [default: {lo}-{hi}: above Linux's ephemeral range,\n\
         so probes never collide with this host's own connections]"
    )
}

pub(super) fn shard() -> String {
    let s = defaults::SHARD;
    format!(
        "-sS: scan only shard I of N [default: {}/{}]",
        s.index, s.count
    )
}

pub(super) fn shard_long() -> String {
    let s = defaults::SHARD;
    format!(
        "-sS: scan only shard I of N, 1 <= I <= N [default: {}/{}]. Give every shard\n\
         the same --seed: together they then send every probe exactly once",
        s.index, s.count
    )
}

pub(super) fn probe_timeout() -> String {
    format!(
        "-sV: longest wait for a banner, handshake or reply [default: {}]",
        secs(defaults::PROBE_TIMEOUT)
    )
}

pub(super) fn version_intensity() -> String {
    format!(
        "-sV: send nmap's probes up to this rarity, 0-9 [default: {}]",
        defaults::VERSION_INTENSITY
    )
}

pub(super) const SERVICE_PROBES_LONG: &str = "-sV: nmap's service probe file. Ports tcprax's own probes leave unnamed are\n\
     matched against its lines and sent its probes. Default: the first of\n\
     $NMAPDIR/nmap-service-probes, /usr/local/share/nmap/nmap-service-probes and\n\
     /usr/share/nmap/nmap-service-probes (apt install nmap-common); without one,\n\
     only the built-in table names services";

pub(super) fn version_intensity_long() -> String {
    format!(
        "-sV: send the probe file's probes up to this rarity, 0-9 [default: {}].\n\
         Probes whose ports or sslports list the port go out whatever their rarity",
        defaults::VERSION_INTENSITY
    )
}

/// A default duration the way the options take it: "2s", "1.5s", "500ms".
fn secs(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}
