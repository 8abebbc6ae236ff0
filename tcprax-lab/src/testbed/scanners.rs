//! More scanners for one target: [`Testbed::add_scanner`] makes a namespace of its own joined to
//! the *target* namespace by its own veth pair, with routes to the target's addresses through
//! it, so that several scanners (the shards of one scan) probe the same target side by side,
//! each with its own interface, XDP program and source address.
use super::{COUNTER, Testbed, TestbedError, cidr_addr, trunc15, veth_to_new_ns, wait_link};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

/// A scanner namespace besides the testbed's own. Deleted on drop (with its veth pair and
/// whatever a scanner attached to its end).
#[derive(Debug)]
pub struct ExtraScanner {
    pub ns: String,
    /// The veth end inside this scanner's namespace.
    pub scanner_if: String,
    /// The veth end inside the target namespace.
    pub target_if: String,
    pub scanner_addr: Ipv4Addr,
    pub target_addr: Ipv4Addr,
}

impl Testbed {
    /// A new scanner namespace: a veth pair to the target namespace with `scanner` (an IPv4
    /// address with its prefix, e.g. `198.18.11.1/24`) on the new end and `target` on the
    /// target's, both up; `routes` (IPv4 CIDRs of the target's addresses, e.g. `198.18.0.0/24`)
    /// go through the target's end. Returns once the link carries traffic.
    pub fn add_scanner(
        &self,
        scanner: &str,
        target: &str,
        routes: &[&str],
    ) -> Result<ExtraScanner, TestbedError> {
        let command = format!("add_scanner {scanner} {target}");
        let scanner_addr = cidr_addr(scanner, &command)?;
        let target_addr = cidr_addr(target, &command)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let extra = ExtraScanner {
            ns: format!("{}-sc{n}", self.target_ns),
            scanner_if: trunc15(format!("x{n}{pid}s")),
            target_if: trunc15(format!("x{n}{pid}t")),
            scanner_addr,
            target_addr,
        };
        // From here on, Drop cleans up whatever part was created.
        veth_to_new_ns(
            (&extra.ns, &extra.scanner_if, scanner),
            (&self.target_ns, &extra.target_if, target),
        )?;
        let via = target_addr.to_string();
        for route in routes {
            self.ip(&extra.ns, &["route", "add", route, "via", &via])?;
        }
        wait_link(&extra.ns, target_addr, "the scanner link")?;
        Ok(extra)
    }
}

impl ExtraScanner {
    /// A `Command` that runs `program` inside this scanner's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, program]);
        cmd
    }
}

impl Drop for ExtraScanner {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(Stdio::null())
            .status();
    }
}
