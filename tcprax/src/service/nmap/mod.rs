//! nmap's service probe file (`nmap-service-probes`), read at run time from the user's nmap
//! installation and never bundled (its licence does not allow it).
//!
//! [`load`] finds and reads the file once per scan, before privileges are dropped (a file only
//! root can read still works); [`ProbeSource`] parses it once, off the async workers, while the
//! scan already runs; [`ProbeDb`] holds its probes and compiles each probe's regexes the first
//! time they are needed ([`matcher`]); `run` is the engine that takes over the ports tcprax's
//! own fast path left unnamed.
pub mod matcher;
pub mod parse;
mod run;
pub mod template;

pub use matcher::Hit;
pub use parse::{ProbeFile, ProbeSpec, SkippedLine};
pub(crate) use run::Seen;

use pcre2::bytes::Regex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The file's name in an nmap data directory.
pub const FILE_NAME: &str = "nmap-service-probes";

/// Why an explicitly named (or found) probe file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProbeFileError {
    #[error("cannot read the service probe file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is not an nmap service probe file: it has no TCP Probe line{}",
        path.display(),
        first_skip(skipped)
    )]
    NoProbes {
        path: PathBuf,
        skipped: Vec<SkippedLine>,
    },
}

fn first_skip(skipped: &[SkippedLine]) -> String {
    skipped
        .first()
        .map(|s| format!(" (line {}: {})", s.line, s.reason))
        .unwrap_or_default()
}

/// Where tcprax looks for the file when `--service-probes` is not given, in this order:
/// `$NMAPDIR`, then the data directories of a source build and of the distribution's package.
pub fn search_paths() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("NMAPDIR").filter(|d| !d.is_empty()) {
        dirs.push(dir.into());
    }
    dirs.push("/usr/local/share/nmap".into());
    dirs.push("/usr/share/nmap".into());
    dirs.into_iter().map(|d| d.join(FILE_NAME)).collect()
}

/// The outcome of looking for the file.
#[derive(Debug)]
pub enum Loaded {
    Found(Arc<ProbeSource>),
    /// No readable file in any of these places.
    Missing {
        searched: Vec<PathBuf>,
    },
}

/// Read `explicit`, or the first readable file of [`search_paths`]. A named file that cannot
/// be read or holds no TCP probe is an error; the search just moves on.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ProbeFileError> {
    if let Some(path) = explicit {
        return ProbeSource::read(path).map(|src| Loaded::Found(Arc::new(src)));
    }
    let searched = search_paths();
    for path in &searched {
        if let Ok(src) = ProbeSource::read(path) {
            return Ok(Loaded::Found(Arc::new(src)));
        }
    }
    Ok(Loaded::Missing { searched })
}

/// A probe file read into memory, parsed on first use. Reading is all a scan's privileged
/// set-up does (a few ms); parsing (tens of ms for nmap's 2.5 MB) happens in the runtime,
/// beside the port scan.
#[derive(Debug)]
pub struct ProbeSource {
    pub path: PathBuf,
    text: Vec<u8>,
    db: OnceLock<Arc<ProbeDb>>,
}

impl ProbeSource {
    /// Read one file. A file without a valid `Probe TCP` line is refused at once.
    pub fn read(path: &Path) -> Result<ProbeSource, ProbeFileError> {
        let text = std::fs::read(path).map_err(|source| ProbeFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        // Only the Probe lines are read here: the whole parse waits for the runtime.
        let has_tcp_probe = text.split(|&b| b == b'\n').any(|line| {
            line.trim_ascii_start()
                .strip_prefix(b"Probe")
                .and_then(|rest| parse::parse_probe(rest).ok())
                .is_some_and(|probe| probe.tcp)
        });
        let source = ProbeSource {
            path: path.to_owned(),
            text,
            db: OnceLock::new(),
        };
        if !has_tcp_probe {
            // Parsed to say which line is wrong: a file without probes is small.
            return Err(ProbeFileError::NoProbes {
                path: path.to_owned(),
                skipped: source.db_blocking().skipped.clone(),
            });
        }
        Ok(source)
    }

    /// The parsed file, parsing it here on first use (blocks for tens of ms).
    pub fn db_blocking(&self) -> &Arc<ProbeDb> {
        self.db
            .get_or_init(|| Arc::new(ProbeDb::new(self.path.clone(), parse::parse(&self.text))))
    }

    /// The parsed file; the first caller parses it on a blocking thread, the others wait.
    pub async fn db(self: &Arc<Self>) -> Arc<ProbeDb> {
        if let Some(db) = self.db.get() {
            return db.clone();
        }
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.db_blocking().clone()).await {
            Ok(db) => db,
            // The runtime is shutting down: parse right here.
            Err(_) => self.db_blocking().clone(),
        }
    }
}

/// One TCP probe and its lazily compiled match lines.
#[derive(Debug)]
pub struct Probe {
    pub spec: ProbeSpec,
    /// Indexes (into [`ProbeDb::probes`]) of the probes whose lines apply to this probe's
    /// answers, in order: itself, its fallbacks, NULL.
    chain: Vec<usize>,
    compiled: OnceLock<Vec<Option<Regex>>>,
}

impl Probe {
    /// The compiled lines (None where PCRE2 refused a pattern), compiling them on first use.
    pub fn compiled(&self) -> &[Option<Regex>] {
        self.compiled.get_or_init(|| {
            self.spec
                .matches
                .iter()
                .map(|m| matcher::compile(m).ok())
                .collect()
        })
    }

    /// Whether one of this probe's lines can name `service` (nmap sends only such probes once
    /// a softmatch has named the service).
    fn names(&self, service: &str) -> bool {
        self.spec.matches.iter().any(|m| m.service == service)
    }
}

/// Whether a payload opens a TLS handshake (a TLS record, or an SSLv2 ClientHello), as nmap's
/// SSLSessionReq, TLSSessionReq and SSLv23SessionReq do.
fn is_tls_hello(payload: &[u8]) -> bool {
    match payload {
        [0x16, 0x03, ..] => true,
        [b0, _, 0x01, 0x00 | 0x03, ..] => b0 & 0x80 != 0,
        _ => false,
    }
}

/// A parsed probe file, shared by every detection of a scan.
#[derive(Debug)]
pub struct ProbeDb {
    pub path: PathBuf,
    pub probes: Vec<Probe>,
    by_name: HashMap<String, usize>,
    exclude: parse::PortSet,
    /// Lines of the file that could not be read.
    pub skipped: Vec<SkippedLine>,
}

impl ProbeDb {
    pub fn new(path: PathBuf, file: ProbeFile) -> Self {
        // A name means the TCP probe when there is one (fallbacks and the reused answers look
        // probes up by name; RPCCheck, Help and others exist in both protocols).
        let mut by_name = HashMap::new();
        for tcp in [true, false] {
            for (i, p) in file.probes.iter().enumerate().filter(|(_, p)| p.tcp == tcp) {
                by_name.entry(p.name.clone()).or_insert(i);
            }
        }
        let null = by_name.get("NULL").copied();
        let probes = file
            .probes
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut chain = vec![i];
                let named = spec.fallback.iter().filter_map(|n| by_name.get(n).copied());
                for j in named.chain(null) {
                    if !chain.contains(&j) {
                        chain.push(j);
                    }
                }
                Probe {
                    spec,
                    chain,
                    compiled: OnceLock::new(),
                }
            })
            .collect();
        ProbeDb {
            path,
            probes,
            by_name,
            exclude: file.exclude,
            skipped: file.skipped,
        }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// `Exclude`d ports get no probe from the file.
    pub fn excluded(&self, port: u16) -> bool {
        self.exclude.contains(port)
    }

    /// Match an answer to probe `index` in nmap's order (see [`matcher`]). Compiles what it
    /// needs on first use: call it off the async workers.
    pub fn test(&self, index: usize, answer: &[u8], soft_seen: bool) -> Option<Hit> {
        let probe = self.probes.get(index)?;
        let mut soft = None;
        for &j in &probe.chain {
            let lines = &self.probes[j];
            let hit = matcher::test_lines(
                &probe.spec.name,
                &lines.spec.matches,
                lines.compiled(),
                answer,
                soft_seen || soft.is_some(),
            );
            match hit {
                Some(h) if !h.soft => return Some(h),
                Some(h) => soft = Some(h),
                None => {}
            }
        }
        soft
    }

    /// The probes to send to `port`, in order: those whose `ports` or `sslports` list it
    /// (whatever their rarity, as nmap does: port 53 always gets the DNS probes), then the
    /// rest with a rarity of at most `intensity`; never NULL (the fast path
    /// already listened), nor one in `skip` (answers the fast path already has), nor a
    /// `no-payload` one, nor on a TLS port a TLS ClientHello (tcprax sends every probe inside
    /// TLS there: a hello inside TLS asks nothing); after a softmatch, only probes whose lines
    /// can name that service.
    pub fn plan(
        &self,
        port: u16,
        tls: bool,
        intensity: u8,
        skip: &[usize],
        soft: Option<&str>,
    ) -> Vec<usize> {
        // nmap lists TLS ports in `sslports`; tcprax wraps every probe in TLS on a TLS port
        // anyway, so either list makes a probe likely.
        let listed = |p: &Probe| p.spec.ports.contains(port) || p.spec.sslports.contains(port);
        let eligible = |(i, p): &(usize, &Probe)| {
            p.spec.tcp
                && !p.spec.payload.is_empty()
                && !p.spec.no_payload
                && !skip.contains(i)
                && (!tls || !is_tls_hello(&p.spec.payload))
                && soft.is_none_or(|s| self.possible(*i, s))
        };
        let all: Vec<(usize, &Probe)> = self.probes.iter().enumerate().collect();
        let first = all.iter().filter(|e| eligible(e) && listed(e.1));
        let rest = all
            .iter()
            .filter(|e| eligible(e) && !listed(e.1) && e.1.spec.rarity <= intensity);
        first.chain(rest).map(|(i, _)| *i).collect()
    }

    /// Whether probe `index` (with its fallbacks) can still name `service`.
    pub fn possible(&self, index: usize, service: &str) -> bool {
        self.probes[index]
            .chain
            .iter()
            .filter(|&&j| self.probes[j].spec.name != "NULL")
            .any(|&j| self.probes[j].names(service))
    }

    /// TCP probes (those tcprax may send).
    pub fn tcp_probes(&self) -> usize {
        self.probes.iter().filter(|p| p.spec.tcp).count()
    }

    /// How many match lines (of TCP and UDP probes) compile, and how many PCRE2 refuses
    /// (compiles everything).
    pub fn compile_all(&self) -> (usize, usize) {
        let mut ok = 0;
        let mut failed = 0;
        for p in &self.probes {
            for r in p.compiled() {
                if r.is_some() {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
        }
        (ok, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(text: &[u8]) -> ProbeDb {
        ProbeDb::new("test".into(), parse::parse(text))
    }

    const FILE: &[u8] = b"Probe TCP NULL q||\n\
match ssh m|^SSH-2\\.0-(\\S+)| p/$1/\n\
softmatch ftp m|^220 |\n\
Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\n\
rarity 1\n\
ports 80\n\
match http m|^HTTP/1\\.[01] \\d\\d\\d .*\\r\\nServer: (\\S+)|s p/$1/\n\
Probe TCP Rare q|x|\n\
rarity 9\n\
ports 7000\n\
match rare m|^rare| p/Rare/\n\
Probe TCP Ftpish q|FEAT\\r\\n|\n\
rarity 3\n\
fallback GetRequest\n\
match ftp m|^211-Features| p/ftpd/\n\
Probe TCP Tls q|y|\n\
rarity 2\n\
sslports 7000\n\
fallback Udp\n\
match foo m|^foo|\n\
Probe UDP Udp q|u|\n\
rarity 1\n\
match domain m|^dns| p/D/\n\
Probe TCP Hello q|\\x16\\x03\\x01\\0\\x05\\x01|\n\
rarity 9\n\
Probe TCP Script q|z| no-payload\n\
rarity 1\n";

    #[test]
    fn chains_run_fallbacks_then_null() {
        let db = db(FILE);
        let ftpish = db.index("Ftpish").unwrap();
        // The answer to Ftpish, matched by NULL's line (via the chain) and named after Ftpish.
        let hit = db.test(ftpish, b"SSH-2.0-OpenSSH_9.2\r\n", false).unwrap();
        assert_eq!(
            (hit.probe.as_str(), hit.version.product.as_deref()),
            ("Ftpish", Some("OpenSSH_9.2"))
        );
        let hit = db
            .test(ftpish, b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n", false)
            .unwrap();
        assert_eq!(hit.service, "http", "fallback GetRequest's lines apply");
        let get = db.index("GetRequest").unwrap();
        assert!(db.test(get, b"220 hi\r\n", false).unwrap().soft);
        assert!(db.test(get, b"nothing\r\n", false).is_none());
        // A TCP probe may fall back to a UDP probe's lines.
        let tls = db.index("Tls").unwrap();
        let hit = db.test(tls, b"dns", false).unwrap();
        assert_eq!(
            (hit.service.as_str(), hit.probe.as_str()),
            ("domain", "Tls")
        );
    }

    #[test]
    fn plan_orders_filters_and_narrows() {
        let db = db(FILE);
        let names = |plan: Vec<usize>| -> Vec<&str> {
            plan.iter()
                .map(|&i| db.probes[i].spec.name.as_str())
                .collect()
        };
        assert_eq!(
            names(db.plan(80, false, 7, &[], None)),
            ["GetRequest", "Ftpish", "Tls"]
        );
        assert_eq!(
            names(db.plan(7000, false, 9, &[], None)),
            ["Rare", "Tls", "GetRequest", "Ftpish", "Hello"]
        );
        // On a TLS port, no TLS ClientHello inside TLS.
        assert_eq!(
            names(db.plan(7000, true, 9, &[], None)),
            ["Rare", "Tls", "GetRequest", "Ftpish"]
        );
        assert!(is_tls_hello(b"\x80\x9e\x01\x03\x01"));
        assert!(!is_tls_hello(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(!is_tls_hello(b"\x80\0\0\x28\x72"));
        // A probe listed for the port goes out whatever its rarity.
        assert_eq!(
            names(db.plan(7000, true, 7, &[], None)),
            ["Rare", "Tls", "GetRequest", "Ftpish"]
        );
        assert_eq!(
            names(db.plan(8000, true, 7, &[], None)),
            ["GetRequest", "Ftpish", "Tls"]
        );
        let get = db.index("GetRequest").unwrap();
        assert_eq!(
            names(db.plan(80, false, 7, &[get], None)),
            ["Ftpish", "Tls"]
        );
        assert_eq!(names(db.plan(21, false, 7, &[], Some("ftp"))), ["Ftpish"]);
        assert_eq!(names(db.plan(21, false, 0, &[], None)), Vec::<&str>::new());
        assert_eq!(names(db.plan(80, false, 0, &[], None)), ["GetRequest"]);
    }

    #[test]
    fn explicit_files_that_are_missing_or_not_probe_files_are_errors() {
        let missing = load(Some(Path::new("/nonexistent/nmap-service-probes")));
        assert!(matches!(missing, Err(ProbeFileError::Read { .. })));
        let dir = std::env::temp_dir().join(format!("tcprax-probes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bogus");
        std::fs::write(&path, "hello world\n").unwrap();
        let err = load(Some(&path)).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("no TCP Probe line") && err.contains("line 1"),
            "{err}"
        );
        // Only UDP probes: not a file tcprax can use either.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, "Probe UDP x q|a|\nProbe TCP\n").unwrap();
        let err = load(Some(&path)).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("no TCP Probe line"), "{err}");
    }
}
