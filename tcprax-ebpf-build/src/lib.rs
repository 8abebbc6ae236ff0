//! Builds a workspace's aya eBPF crate for bpfel-unknown-none with the nightly toolchain, for a
//! userspace crate's build script to embed: `tcprax/build.rs` builds the scanner's XDP program
//! (`tcprax-ebpf`), `tcprax-lab/build.rs` the benchmark's responder (`tcprax-lab-ebpf`).
//!
//! Quiet unless it fails: the nested cargo's output is captured and only shown (on stderr, which
//! cargo prints for a failed build script) when that build fails. aya-build, which this replaces,
//! forwarded every line of it as a `cargo:warning`, so each build printed the eBPF crate's
//! `Compiling ...` lines as warnings.
//!
//! With `AYA_BUILD_SKIP=1` (handy for `cargo clippy` on a machine without bpf-linker) an empty
//! placeholder is written instead; loading it must fail with a message that says so.
use anyhow::{Context as _, anyhow, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// The toolchain the eBPF crate needs: `-Z build-std` is nightly-only.
const TOOLCHAIN: &str = "nightly";

/// One eBPF crate to build.
pub struct EbpfCrate<'a> {
    /// Its package name in the workspace, e.g. "tcprax-ebpf".
    pub package: &'a str,
    /// Its binary: the object left at `$OUT_DIR/<object>` (an empty placeholder under
    /// `AYA_BUILD_SKIP=1`).
    pub object: &'a str,
    /// What it is, for messages: "the XDP program".
    pub what: &'a str,
    /// What `AYA_BUILD_SKIP=1` leaves the caller without, for the failure message.
    pub without: &'a str,
}

/// Builds `krate` and copies its binaries into `OUT_DIR`. Call from a build script that has the
/// eBPF crate as a build-dependency (so cargo reruns it when the crate's library changes).
pub fn build(krate: &EbpfCrate<'_>) -> anyhow::Result<()> {
    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        let out = out_dir.join(krate.object);
        fs::write(&out, []).with_context(|| format!("writing placeholder {}", out.display()))?;
        return Ok(());
    }

    let cargo_metadata::Metadata { packages, .. } = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = packages
        .into_iter()
        .find(|p| p.name.as_str() == krate.package)
        .ok_or_else(|| anyhow!("{} package not found in the workspace", krate.package))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("no parent for {}", ebpf.manifest_path))?;
    // The build-dependency on the eBPF crate reruns us when its *library* (or anything it
    // depends on) changes; the program is its *binary*, so watch the crate's files as well.
    println!("cargo:rerun-if-changed={root_dir}");

    let target = bpf_target()?;
    // The directory aya-build used, so caches built before this replaced it stay warm. It must
    // differ from OUT_DIR itself: cargo locks its target directory, and the copied object
    // `OUT_DIR/<object>` would collide with a directory of that name there.
    let target_dir = out_dir.join("aya-build").join("target").join(krate.package);
    let output = nested_cargo()
        .args([
            "build",
            "--package",
            ebpf.name.as_str(),
            "--bins",
            "--release",
        ])
        .args(["--target", &target.triple, "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", target.rustflags())
        .output()
        .with_context(|| {
            format!(
                "cannot run cargo to build {} (is rustup on PATH?)",
                krate.what
            )
        })?;
    if !output.status.success() {
        // The compiler's errors are in here; cargo shows a failed build script's stderr.
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        bail!(
            "building {} ({}) failed ({}); its output is above. AYA_BUILD_SKIP=1 builds without it ({})",
            krate.what,
            krate.package,
            output.status,
            krate.without
        );
    }

    let built = target_dir.join(&target.triple).join("release");
    for bin in ebpf.targets.iter().filter(|t| t.is_bin()) {
        copy(&built.join(&bin.name), &out_dir.join(&bin.name))?;
    }
    Ok(())
}

/// `cargo` of the nightly toolchain, with what the outer (stable) build put in the environment
/// for rustc taken out, so nothing pins the nested build to the outer toolchain.
fn nested_cargo() -> Command {
    let mut cmd = match which_rustup() {
        Some(rustup) => {
            let mut cmd = Command::new(rustup);
            cmd.args(["run", TOOLCHAIN, "cargo"]);
            cmd
        }
        // No rustup: whatever cargo is on PATH, which must then be a nightly one.
        None => Command::new("cargo"),
    };
    for var in [
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn which_rustup() -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join("rustup"))
        .find(|candidate| candidate.is_file())
}

/// The BPF target matching the host's byte order, and the architecture whose kernel ABI
/// (`pt_regs` layouts and the like) aya-ebpf compiles for.
struct BpfTarget {
    triple: String,
    arch: String,
}

impl BpfTarget {
    /// The flags the eBPF crate is compiled with: BTF (the loader needs it for maps and
    /// globals, and bpf-linker emits it only from debug info) and the architecture cfg.
    fn rustflags(&self) -> OsString {
        [
            format!("--cfg=bpf_target_arch=\"{}\"", self.arch),
            "-Cdebuginfo=2".to_string(),
            "-Clink-arg=--btf".to_string(),
        ]
        .join("\x1f")
        .into()
    }
}

fn bpf_target() -> anyhow::Result<BpfTarget> {
    let endian = env::var("CARGO_CFG_TARGET_ENDIAN").context("CARGO_CFG_TARGET_ENDIAN not set")?;
    let triple = match endian.as_str() {
        "little" => "bpfel-unknown-none",
        "big" => "bpfeb-unknown-none",
        other => bail!("unsupported target endianness {other}"),
    };
    let arch = env::var("CARGO_CFG_TARGET_ARCH").context("CARGO_CFG_TARGET_ARCH not set")?;
    Ok(BpfTarget {
        triple: triple.to_string(),
        arch,
    })
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}
