//! Running the two scanners from the scanner namespace and reading what they said: tcprax's
//! JSON lines, nmap's XML (`-oX`, which keeps product, version and extrainfo apart, and says
//! with `method="table"` when a service name is only the port table's guess).
use anyhow::{Context as _, ensure};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tcprax_lab::interrupt;
use tcprax_lab::process::{Child, Stop};
use tcprax_lab::servers::TempDir;
use tcprax_lab::servers::zoo::score::Answer;
use tcprax_lab::testbed::Testbed;

/// After Ctrl-C: SIGINT to the running scan at once (nmap -sV takes minutes), SIGKILL if it is
/// still there 5 s later.
const ON_INTERRUPT: Stop = Stop {
    signal: libc::SIGINT,
    signal_after: Duration::ZERO,
    kill_after: Duration::from_secs(5),
};

/// What a program run by [`run_captured`] left behind.
pub struct Captured {
    pub status: ExitStatus,
    pub wall: Duration,
    pub stderr: String,
}

/// Run `cmd` to the end with stdout and stderr in files `<dir>/<name>.out` and `.err`, stopping it
/// by pid if Ctrl-C comes first (then the result is [`interrupt::Interrupted`]).
pub fn run_captured(cmd: &mut Command, dir: &TempDir, name: &str) -> anyhow::Result<Captured> {
    let (out_path, err_path) = (
        dir.join(&format!("{name}.out")),
        dir.join(&format!("{name}.err")),
    );
    let out = File::create(&out_path).with_context(|| format!("create {}", out_path.display()))?;
    let err = File::create(&err_path).with_context(|| format!("create {}", err_path.display()))?;
    let started = Instant::now();
    let mut child = Child::spawn(cmd.stdin(Stdio::null()).stdout(out).stderr(err))?;
    let finished = child.wait(interrupt::requested, ON_INTERRUPT)?;
    let wall = started.elapsed();
    interrupt::check()?;
    Ok(Captured {
        status: finished.status,
        wall,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    })
}

/// What tcprax's JSON said about one port.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpraxPort {
    pub state: String,
    pub class: Option<String>,
    pub answer: Answer,
    pub tls: Option<String>,
}

/// One tcprax run.
pub struct TcpraxRun {
    pub label: String,
    /// 1-based run number of this scan type.
    pub number: u32,
    pub wall: Duration,
    pub service_detection_s: f64,
    pub ports: BTreeMap<(String, u16), TcpraxPort>,
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_owned)
}

/// One tcprax command line: `tcprax SCAN [-sV] TARGET -p PORTS -oJ FILE EXTRA...`.
pub struct Scan<'a> {
    /// `-sS` or `-sT`.
    pub scan: &'a str,
    /// Whether to add `-sV` (without it, the run's -sV time is NaN).
    pub service_detection: bool,
    pub target: &'a str,
    pub ports: &'a str,
    pub extra: &'a [&'a str],
}

/// Run `what` in the scanner namespace; `number` names its files. Says on stderr how it went.
pub fn run_tcprax(
    tb: &Testbed,
    tcprax: &Path,
    what: &Scan,
    dir: &TempDir,
    number: u32,
) -> anyhow::Result<TcpraxRun> {
    let Scan {
        scan,
        service_detection,
        target,
        ports,
        extra,
    } = *what;
    let sv: &[&str] = if service_detection { &["-sV"] } else { &[] };
    let name = format!("tcprax{scan}{}-{number}", sv.join(""));
    let json = dir.join(&format!("{name}.json"));
    let out = run_captured(
        tb.scanner_command(&tcprax.to_string_lossy())
            .arg(scan)
            .args(sv)
            .args([target, "-p", ports, "-oJ"])
            .arg(&json)
            .args(extra),
        dir,
        &name,
    )
    .with_context(|| format!("run {}", tcprax.display()))?;
    ensure!(
        out.status.success(),
        "tcprax {scan} -sV failed ({}): {}",
        out.status,
        out.stderr
    );
    let text =
        std::fs::read_to_string(&json).with_context(|| format!("read {}", json.display()))?;
    let mut run = TcpraxRun {
        label: format!(
            "tcprax {scan}{}",
            if service_detection { " -sV" } else { "" }
        ),
        number,
        wall: out.wall,
        service_detection_s: f64::NAN,
        ports: BTreeMap::new(),
    };
    let mut summary = false;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).with_context(|| format!("JSON line {line}"))?;
        match v["type"].as_str() {
            Some("port") => {
                let port = v["port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .with_context(|| format!("port in {line}"))?;
                let addr = str_field(&v, "addr").unwrap_or_default();
                let s = &v["service"];
                run.ports.insert(
                    (addr, port),
                    TcpraxPort {
                        state: str_field(&v, "state").unwrap_or_default(),
                        class: str_field(s, "class"),
                        answer: Answer {
                            service: str_field(s, "service"),
                            product: str_field(s, "product"),
                            version: str_field(s, "version"),
                        },
                        tls: str_field(&s["tls"], "version"),
                    },
                );
            }
            Some("summary") => {
                summary = true;
                if service_detection {
                    run.service_detection_s = v["service_detection_s"]
                        .as_f64()
                        .context("summary without service_detection_s")?;
                }
            }
            _ => {}
        }
    }
    ensure!(summary, "no summary line in {}", json.display());
    eprintln!(
        "{} #{}: wall {:.2} s, -sV {:.2} s",
        run.label,
        run.number,
        run.wall.as_secs_f64(),
        run.service_detection_s
    );
    Ok(run)
}

/// What nmap's XML said about one port.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NmapPort {
    pub state: String,
    /// `ssl/` + name when nmap found TLS, name + `?` when the name is the port table's guess
    /// (as nmap's normal output prints them).
    pub answer: Answer,
    pub extrainfo: Option<String>,
}

/// The `<port>` elements of nmap's XML output.
pub fn parse_nmap_xml(xml: &str) -> anyhow::Result<BTreeMap<u16, NmapPort>> {
    // nmap's XML starts with `<!DOCTYPE nmaprun>`, which roxmltree refuses unless asked.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, options).context("nmap's XML")?;
    let mut ports = BTreeMap::new();
    for port in doc.descendants().filter(|n| n.has_tag_name("port")) {
        let Some(id) = port.attribute("portid").and_then(|p| p.parse::<u16>().ok()) else {
            continue;
        };
        let child = |tag: &str| port.children().find(|n| n.has_tag_name(tag));
        let state = child("state")
            .and_then(|s| s.attribute("state"))
            .unwrap_or_default()
            .to_owned();
        let mut entry = NmapPort {
            state,
            ..NmapPort::default()
        };
        if let Some(s) = child("service") {
            let attr = |a: &str| s.attribute(a).filter(|v| !v.is_empty()).map(str::to_owned);
            entry.answer.service = attr("name").map(|name| {
                let tls = if s.attribute("tunnel") == Some("ssl") {
                    "ssl/"
                } else {
                    ""
                };
                let guess = if s.attribute("method") == Some("table") {
                    "?"
                } else {
                    ""
                };
                format!("{tls}{name}{guess}")
            });
            entry.answer.product = attr("product");
            entry.answer.version = attr("version");
            entry.extrainfo = attr("extrainfo");
        }
        ports.insert(id, entry);
    }
    Ok(ports)
}

pub fn nmap_installed() -> bool {
    Command::new("nmap")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `nmap -sV -n -Pn -p PORTS TARGET -oX FILE` in the scanner namespace.
pub fn run_nmap(
    tb: &Testbed,
    target: &str,
    ports: &str,
    dir: &TempDir,
) -> anyhow::Result<(Duration, BTreeMap<u16, NmapPort>)> {
    let xml = dir.join("nmap.xml");
    let out = run_captured(
        tb.scanner_command("nmap")
            .args(["-sV", "-n", "-Pn", "-p", ports, target, "-oX"])
            .arg(&xml),
        dir,
        "nmap",
    )
    .context("run nmap")?;
    ensure!(
        out.status.success(),
        "nmap failed ({}): {}",
        out.status,
        out.stderr
    );
    let text = std::fs::read_to_string(&xml).with_context(|| format!("read {}", xml.display()))?;
    Ok((out.wall, parse_nmap_xml(&text)?))
}

/// `nmap --version`'s first line, e.g. "Nmap version 7.93 ( https://nmap.org )".
pub fn nmap_version() -> String {
    Command::new("nmap")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmap_xml_ports_with_tunnel_and_guesses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<nmaprun><host><ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u10" extrainfo="protocol 2.0" method="probed" conf="10"/></port>
<port protocol="tcp" portid="993"><state state="open"/><service name="imap" product="Dovecot imapd" tunnel="ssl" method="probed" conf="10"/></port>
<port protocol="tcp" portid="9000"><state state="open"/><service name="cslistener" method="table" conf="3"/></port>
<port protocol="tcp" portid="9001"><state state="open"/></port>
</ports></host></nmaprun>"#;
        let ports = parse_nmap_xml(xml).unwrap();
        assert_eq!(ports[&22].answer.service.as_deref(), Some("ssh"));
        assert_eq!(ports[&22].answer.product.as_deref(), Some("OpenSSH"));
        assert_eq!(
            ports[&22].answer.version.as_deref(),
            Some("9.2p1 Debian 2+deb12u10")
        );
        assert_eq!(ports[&22].extrainfo.as_deref(), Some("protocol 2.0"));
        assert_eq!(ports[&993].answer.service.as_deref(), Some("ssl/imap"));
        assert_eq!(ports[&993].answer.version, None);
        assert_eq!(ports[&9000].answer.service.as_deref(), Some("cslistener?"));
        assert_eq!(ports[&9001].state, "open");
        assert_eq!(ports[&9001].answer, Answer::default());
        assert!(parse_nmap_xml("<nmaprun").is_err());
    }
}
