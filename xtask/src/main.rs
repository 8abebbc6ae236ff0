//! `cargo xtask`: the workspace's developer tasks (setup, build, run, test, demo, benchmarks, fuzz).
//!
//! xtask depends on no crate of this workspace: it is what installs the toolchain pieces that
//! `tcprax/build.rs` needs (nightly's rust-src, LLVM 22, bpf-linker), so it must build with
//! nothing but stable Rust. `main` parses, runs the task and maps the outcome to an exit code:
//! 0 done, 1 failed, 2 usage error, 130 interrupted.
mod exec;
mod fuzz;
mod setup;
mod tasks;

use std::process::ExitCode;

fn main() -> ExitCode {
    exec::install_interrupt_handler();
    let task = match tasks::parse(std::env::args_os().skip(1).collect()) {
        Ok(task) => task,
        Err(message) => {
            eprintln!("xtask: {message}\n\n{}", tasks::USAGE);
            return ExitCode::from(2);
        }
    };
    match tasks::execute(task) {
        Ok(code) => code,
        Err(err) if err.is::<exec::Interrupted>() => {
            eprintln!("xtask: interrupted");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
