//! Shared helpers for the namespace tests: a testbed or a clear skip.
#![allow(dead_code, reason = "each test binary uses a different subset")]
use tcprax::testbed::{Testbed, have_privileges};

/// A fresh testbed, or None (with a message on stderr) when this process is not root.
/// On a machine where we are root, failing to build one is a test failure, not a skip.
pub fn testbed(prefix: &str) -> Option<Testbed> {
    if !have_privileges() {
        eprintln!("SKIP: needs root for network namespaces and XDP");
        return None;
    }
    Some(Testbed::new(prefix).expect("create namespace testbed"))
}

/// Path of the tcprax binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tcprax")
}
