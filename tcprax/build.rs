//! Builds the XDP program (`tcprax-ebpf`) for bpfel-unknown-none with the nightly toolchain and
//! leaves the object at `$OUT_DIR/tcprax`, where `src/engine/syn/capture.rs` embeds it.
//!
//! With `AYA_BUILD_SKIP=1` (handy for `cargo clippy` on a machine without bpf-linker) an empty
//! placeholder is written instead; loading it fails with a message that says so.
use anyhow::{Context as _, anyhow};
use std::{env, fs, path::PathBuf};

fn main() -> anyhow::Result<()> {
    let cargo_metadata::Metadata { packages, .. } = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = packages
        .into_iter()
        .find(|p| p.name.as_str() == "tcprax-ebpf")
        .ok_or_else(|| anyhow!("tcprax-ebpf package not found in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("no parent for {}", ebpf.manifest_path))?;
    let out = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?).join("tcprax");
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        fs::write(&out, []).with_context(|| format!("writing placeholder {}", out.display()))?;
    }
    aya_build::build_ebpf(
        [aya_build::Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    )
}
