//! tcprax-lab: everything around the scanner that is not the scanner, and never ships with it.
//!
//! - [`testbed`]: throw-away networks in Linux network namespaces (shell-outs to `ip`, `nft`,
//!   and `setns` for code that runs inside one);
//! - [`servers`]: real daemons and tokio fakes for the -sV tests and the -sV benchmark;
//! - [`process`]: the one guard for the child processes the lab starts (stop by pid, reap,
//!   CPU time);
//! - [`locate`]: where the `tcprax` binary the lab programs drive lives;
//! - [`interrupt`]: the Ctrl-C/SIGTERM flag of the lab programs;
//! - [`responder`]: a target that answers SYNs in XDP (the `tcprax-lab-ebpf` program), for the
//!   benchmark and the tests that check it.
//!
//! The programs built on it are `tcprax-demo`, `tcprax-bench` and `tcprax-bench-sv`; tcprax's
//! integration tests use the testbed and the servers. The lab talks to tcprax only through its
//! binary and its output (text and JSON lines), so it does not depend on the tcprax library.
pub mod interrupt;
pub mod locate;
pub mod process;
pub mod responder;
pub mod servers;
pub mod testbed;
