//! Throw-away test networks in Linux network namespaces, for tcprax's tests, the demo and the
//! benchmarks.
//!
//! A [`Testbed`] is two namespaces joined by one veth pair: the *scanner* side (198.18.0.1,
//! 2001:2::1) and the *target* side (198.18.0.2, 2001:2::2), both in the benchmarking ranges
//! and with no route anywhere else. Names carry a prefix, the pid and a counter, so tests
//! running in parallel never collide. Dropping the testbed deletes both namespaces (which
//! deletes the veth pair and anything attached to it, XDP programs included).
//!
//! [`Testbed::add_uplink`] gives the scanner a second way out: an [`Uplink`], a third namespace
//! on a veth pair of its own, for scans whose targets leave through different interfaces.
//!
//! [`Testbed::add_scanner`] gives the target more scanners: an [`ExtraScanner`] is a namespace
//! on a veth pair of its own to the target namespace (the shards of one scan, side by side).
//!
//! Code can run *inside* a namespace without forking: [`Testbed::in_scanner`] and
//! [`Testbed::in_target`] run a closure on a fresh thread that has `setns`-ed into it; sockets
//! created there stay in that namespace after the thread ends.
use std::io::{self, Read as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

mod scanners;
pub use scanners::ExtraScanner;

pub const SCANNER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SCANNER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("cannot run `{command}`: {source}")]
    Spawn { command: String, source: io::Error },
    #[error("cannot enter namespace {name}: {source}")]
    Setns { name: String, source: io::Error },
    #[error("network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)")]
    NotPermitted,
}

/// Whether this process can create namespaces (root). Tests skip with a message when not.
pub fn have_privileges() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Run a command, returning its output if it succeeded.
pub fn run(program: &str, args: &[&str]) -> Result<Output, TestbedError> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| TestbedError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(TestbedError::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

/// Two namespaces joined by a veth pair. Deleted on drop.
#[derive(Debug)]
pub struct Testbed {
    pub scanner_ns: String,
    pub target_ns: String,
    /// The veth end inside the scanner namespace.
    pub scanner_if: String,
    /// The veth end inside the target namespace.
    pub target_if: String,
}

impl Testbed {
    /// Create both namespaces, the veth pair and the addresses; bring everything up.
    pub fn new(prefix: &str) -> Result<Testbed, TestbedError> {
        if !have_privileges() {
            return Err(TestbedError::NotPermitted);
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}", std::process::id(), n);
        // Interface names are limited to 15 bytes; namespace names are not.
        let short: String = prefix.chars().take(3).collect();
        let tb = Testbed {
            scanner_ns: format!("{prefix}-{id}-s"),
            target_ns: format!("{prefix}-{id}-t"),
            scanner_if: trunc15(format!("{short}{id}s")),
            target_if: trunc15(format!("{short}{id}t")),
        };
        // From here on, Drop cleans up whatever part was created.
        run("ip", &["netns", "add", &tb.scanner_ns])?;
        run("ip", &["netns", "add", &tb.target_ns])?;
        for ns in [&tb.scanner_ns, &tb.target_ns] {
            // No duplicate address detection: addresses (link-local ones included) are usable
            // at once, so the first IPv6 probes do not race neighbour discovery.
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ],
            )?;
        }
        run(
            "ip",
            &[
                "link",
                "add",
                &tb.scanner_if,
                "netns",
                &tb.scanner_ns,
                "type",
                "veth",
                "peer",
                "name",
                &tb.target_if,
                "netns",
                &tb.target_ns,
            ],
        )?;
        for (ns, ifname, v4, v6) in [
            (&tb.scanner_ns, &tb.scanner_if, SCANNER_V4, SCANNER_V6),
            (&tb.target_ns, &tb.target_if, TARGET_V4, TARGET_V6),
        ] {
            tb.ip(ns, &["link", "set", "lo", "up"])?;
            tb.ip(ns, &["addr", "add", &format!("{v4}/24"), "dev", ifname])?;
            tb.ip(
                ns,
                &[
                    "-6",
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    ifname,
                    "nodad",
                ],
            )?;
            tb.ip(ns, &["link", "set", ifname, "up"])?;
        }
        tb.wait_ready()?;
        Ok(tb)
    }

    /// Wait until both families carry traffic end to end (carrier up, neighbours resolved):
    /// a connection to a closed port on the target must be refused. Without this, the first
    /// probes of a test can vanish while the veth comes up and look like filtered ports.
    fn wait_ready(&self) -> Result<(), TestbedError> {
        let ready = self.in_scanner(|| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            for target in [IpAddr::V4(TARGET_V4), IpAddr::V6(TARGET_V6)] {
                loop {
                    let to = SocketAddr::new(target, 9);
                    match std::net::TcpStream::connect_timeout(&to, Duration::from_millis(100)) {
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => break,
                        _ if std::time::Instant::now() > deadline => return false,
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
            true
        })?;
        if ready {
            Ok(())
        } else {
            Err(TestbedError::Command {
                command: "wait for the veth link".into(),
                stderr: "target did not answer within 10 s".into(),
            })
        }
    }

    fn ip(&self, ns: &str, args: &[&str]) -> Result<Output, TestbedError> {
        let mut full = vec!["-n", ns];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Run a shell command inside the target namespace.
    pub fn target_sh(&self, script: &str) -> Result<Output, TestbedError> {
        run(
            "ip",
            &["netns", "exec", &self.target_ns, "sh", "-c", script],
        )
    }

    /// Run a shell command inside the scanner namespace.
    pub fn scanner_sh(&self, script: &str) -> Result<Output, TestbedError> {
        run(
            "ip",
            &["netns", "exec", &self.scanner_ns, "sh", "-c", script],
        )
    }

    /// A `Command` that runs `program` inside the scanner namespace.
    pub fn scanner_command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.scanner_ns, program]);
        cmd
    }

    /// Make the target answer for a whole prefix (AnyIP) and route it from the scanner.
    pub fn target_anyip(&self, cidr: &str) -> Result<(), TestbedError> {
        let v6 = cidr.contains(':');
        let fam = if v6 { "-6" } else { "-4" };
        self.ip(
            &self.target_ns,
            &[fam, "route", "add", "local", cidr, "dev", "lo"],
        )?;
        let via = if v6 {
            TARGET_V6.to_string()
        } else {
            TARGET_V4.to_string()
        };
        self.ip(&self.scanner_ns, &[fam, "route", "add", cidr, "via", &via])?;
        Ok(())
    }

    /// Drop incoming TCP to `ports` in the target namespace (nftables): they scan as filtered.
    pub fn target_filter_ports(&self, ports: &[u16]) -> Result<(), TestbedError> {
        self.target_tcp_rule("tcprax_drop", ports, "drop")
    }

    /// Answer TCP to `ports` in the target namespace with ICMP/ICMPv6 "administratively
    /// prohibited" (nftables `reject`): they scan as filtered, by an ICMP error.
    pub fn target_reject_ports_icmp(&self, ports: &[u16]) -> Result<(), TestbedError> {
        self.target_tcp_rule(
            "tcprax_reject",
            ports,
            "reject with icmpx type admin-prohibited",
        )
    }

    /// One nftables table in the target namespace applying `verdict` to TCP to `ports`.
    fn target_tcp_rule(
        &self,
        table: &str,
        ports: &[u16],
        verdict: &str,
    ) -> Result<(), TestbedError> {
        let list = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        self.target_sh(&format!(
            "nft add table inet {table} && \
             nft add chain inet {table} input '{{ type filter hook input priority 0; }}' && \
             nft add rule inet {table} input tcp dport '{{ {list} }}' {verdict}"
        ))?;
        Ok(())
    }

    /// Start counting, in the target namespace, TCP segments with RST set that come from
    /// the scanner (both address families). Read with [`Testbed::target_rst_count`].
    pub fn target_count_rst(&self) -> Result<(), TestbedError> {
        self.target_sh(&format!(
            "nft add table inet tcprax_count && \
             nft add chain inet tcprax_count input '{{ type filter hook input priority -10; }}' && \
             nft add rule inet tcprax_count input ip saddr {SCANNER_V4} 'tcp flags & rst == rst' counter && \
             nft add rule inet tcprax_count input ip6 saddr {SCANNER_V6} 'tcp flags & rst == rst' counter"
        ))?;
        Ok(())
    }

    /// RST segments from the scanner seen by the target since [`Testbed::target_count_rst`].
    pub fn target_rst_count(&self) -> Result<u64, TestbedError> {
        let out = self.target_sh("nft list table inet tcprax_count")?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "packets")
            .filter_map(|w| w[1].parse::<u64>().ok())
            .sum())
    }

    /// Run `f` on a thread that has entered the scanner namespace.
    pub fn in_scanner<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, TestbedError> {
        in_netns(&self.scanner_ns, f)
    }

    /// Run `f` on a thread that has entered the target namespace.
    pub fn in_target<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, TestbedError> {
        in_netns(&self.target_ns, f)
    }

    /// Listen on `ports` (all addresses, v4 and v6) inside the target namespace, accepting and
    /// closing connections on a background thread until the returned value is dropped.
    pub fn target_listen(&self, ports: &[u16]) -> Result<Listeners, TestbedError> {
        listen_in(&self.target_ns, ports)
    }
}

/// Listeners on `ports` (all addresses, v4 and v6) bound inside namespace `ns`, accepting and
/// closing connections on a background thread until dropped.
fn listen_in(ns: &str, ports: &[u16]) -> Result<Listeners, TestbedError> {
    let ports = ports.to_vec();
    let listeners = in_netns(ns, move || -> io::Result<Vec<TcpListener>> {
        ports
            .iter()
            .map(|&p| {
                let l = TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), p))?;
                l.set_nonblocking(true)?;
                Ok(l)
            })
            .collect()
    })?;
    let listeners = listeners.map_err(|source| TestbedError::Spawn {
        command: format!("bind listeners in namespace {ns}"),
        source,
    })?;
    Ok(Listeners::spawn(listeners))
}

fn trunc15(mut s: String) -> String {
    s.truncate(15);
    s
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the peer and any
        // XDP program attached to either end.
        for ns in [&self.scanner_ns, &self.target_ns] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Run `f` on a fresh thread that has entered the named namespace (as `ip netns` names it), and
/// return its result; a panic in `f` is resumed here. Sockets `f` creates stay in that namespace.
pub fn in_netns<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestbedError> {
    let path = format!("/var/run/netns/{name}");
    let fd: OwnedFd = std::fs::File::open(&path)
        .map_err(|source| TestbedError::Setns {
            name: name.to_string(),
            source,
        })?
        .into();
    let name_owned = name.to_string();
    let handle = std::thread::spawn(move || -> Result<T, TestbedError> {
        // SAFETY: setns on a valid namespace fd affects only this thread.
        if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(TestbedError::Setns {
                name: name_owned,
                source: io::Error::last_os_error(),
            });
        }
        Ok(f())
    });
    match handle.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Listening sockets with an accept-and-close loop; stopped and closed on drop.
pub struct Listeners {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listeners {
    fn spawn(listeners: Vec<TcpListener>) -> Listeners {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let mut idle = true;
                for l in &listeners {
                    while let Ok((mut s, _)) = l.accept() {
                        idle = false;
                        // Read nothing, just close: a scanner only needs the handshake.
                        let _ = s.set_nonblocking(true);
                        let mut buf = [0u8; 64];
                        let _ = s.read(&mut buf);
                    }
                }
                if idle {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        Listeners {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A second way out of the scanner namespace: a namespace of its own joined to the scanner by
/// its own veth pair, with one IPv4 subnet between them (see [`Testbed::add_uplink`]). Deleted
/// on drop (deleting the namespace deletes the veth pair, and whatever the scanner attached
/// to its end).
#[derive(Debug)]
pub struct Uplink {
    pub ns: String,
    /// The veth end inside the scanner namespace.
    pub scanner_if: String,
    /// The veth end inside this uplink's namespace.
    pub target_if: String,
    pub scanner_addr: Ipv4Addr,
    pub target_addr: Ipv4Addr,
}

impl Testbed {
    /// Give the scanner a second uplink: a new namespace, a veth pair to it, `scanner` (an
    /// address with its prefix, e.g. `198.19.2.1/24`) on the scanner's end and `target` on
    /// the far end, both up, and the link carrying traffic before this returns.
    pub fn add_uplink(&self, scanner: &str, target: &str) -> Result<Uplink, TestbedError> {
        let command = format!("add_uplink {scanner} {target}");
        let scanner_addr = cidr_addr(scanner, &command)?;
        let target_addr = cidr_addr(target, &command)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let up = Uplink {
            ns: format!("{}-up{n}", self.target_ns),
            scanner_if: trunc15(format!("u{n}{pid}s")),
            target_if: trunc15(format!("u{n}{pid}t")),
            scanner_addr,
            target_addr,
        };
        // From here on, Drop cleans up whatever part was created.
        veth_to_new_ns(
            (&up.ns, &up.target_if, target),
            (&self.scanner_ns, &up.scanner_if, scanner),
        )?;
        wait_link(&self.scanner_ns, target_addr, "the uplink")?;
        Ok(up)
    }
}

/// A new namespace tied to an existing one by a veth pair, each end given its address (with
/// prefix) and brought up, as `(namespace, interface, cidr)`: the new one first (created here,
/// with its loopback up), then the existing one. The caller deletes the new namespace, from
/// the moment this is called, whatever part of it was made.
fn veth_to_new_ns(
    (new_ns, new_if, new_cidr): (&str, &str, &str),
    (old_ns, old_if, old_cidr): (&str, &str, &str),
) -> Result<(), TestbedError> {
    run("ip", &["netns", "add", new_ns])?;
    run(
        "ip",
        &[
            "link", "add", new_if, "netns", new_ns, "type", "veth", "peer", "name", old_if,
            "netns", old_ns,
        ],
    )?;
    let ip = |ns: &str, args: &[&str]| {
        let mut full = vec!["-n", ns];
        full.extend_from_slice(args);
        run("ip", &full)
    };
    ip(new_ns, &["link", "set", "lo", "up"])?;
    for (ns, dev, cidr) in [(new_ns, new_if, new_cidr), (old_ns, old_if, old_cidr)] {
        ip(ns, &["addr", "add", cidr, "dev", dev])?;
        ip(ns, &["link", "set", dev, "up"])?;
    }
    Ok(())
}

/// The address of `cidr` (`198.18.11.1/24`), or an error naming `command`.
fn cidr_addr(cidr: &str, command: &str) -> Result<Ipv4Addr, TestbedError> {
    cidr.split_once('/')
        .and_then(|(addr, _)| addr.parse().ok())
        .ok_or_else(|| TestbedError::Command {
            command: command.to_owned(),
            stderr: format!("{cidr} is not an IPv4 address with a prefix length"),
        })
}

/// Returns once `to` answers a connect to port 9 from inside `ns` (a refusal is an answer: the
/// link carries traffic), or an error naming `what` after 10 s.
fn wait_link(ns: &str, to: Ipv4Addr, what: &str) -> Result<(), TestbedError> {
    let addr = SocketAddr::new(IpAddr::V4(to), 9);
    let ready = in_netns(ns, move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return true,
                _ if std::time::Instant::now() > deadline => return false,
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    })?;
    if ready {
        Ok(())
    } else {
        Err(TestbedError::Command {
            command: format!("wait for {what} to {to}"),
            stderr: "the far end did not answer within 10 s".into(),
        })
    }
}

impl Uplink {
    /// Run a shell command inside this uplink's namespace.
    pub fn sh(&self, script: &str) -> Result<Output, TestbedError> {
        run("ip", &["netns", "exec", &self.ns, "sh", "-c", script])
    }

    /// Listen on `ports` (all addresses, v4 and v6) inside this uplink's namespace, as
    /// [`Testbed::target_listen`] does in the target's.
    pub fn listen(&self, ports: &[u16]) -> Result<Listeners, TestbedError> {
        listen_in(&self.ns, ports)
    }

    /// Start counting every TCP segment with RST set that reaches this namespace, whatever
    /// its source (one from a wrong source address counts too). Read with
    /// [`Uplink::rst_count`].
    pub fn count_rst(&self) -> Result<(), TestbedError> {
        self.sh("nft add table inet tcprax_count && \
             nft add chain inet tcprax_count input '{ type filter hook input priority -10; }' && \
             nft add rule inet tcprax_count input 'tcp flags & rst == rst' counter")?;
        Ok(())
    }

    /// RST segments seen since [`Uplink::count_rst`].
    pub fn rst_count(&self) -> Result<u64, TestbedError> {
        let out = self.sh("nft list table inet tcprax_count")?;
        Ok(nft_packets(&String::from_utf8_lossy(&out.stdout)))
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(Stdio::null())
            .status();
    }
}

/// The sum of the `packets N` counters in an `nft list` output.
fn nft_packets(text: &str) -> u64 {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "packets")
        .filter_map(|w| w[1].parse::<u64>().ok())
        .sum()
}

/// Whether `ip link show` in `ns` reports an XDP program on `ifname`.
pub fn xdp_attached(ns: &str, ifname: &str) -> Result<bool, TestbedError> {
    let out = run("ip", &["-n", ns, "-d", "link", "show", "dev", ifname])?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.contains("prog/xdp"))
}
