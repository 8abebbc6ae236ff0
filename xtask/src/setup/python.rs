//! The PyPI tools the tests use, in a virtual environment of their own, `target/pyenv` (the
//! system Python stays as Debian left it; its pip refuses to install into it anyway):
//! python-libnmap reads tcprax's `-oX` as other nmap consumers do, and kubernetes-validate checks
//! the manifests in `deploy/kubernetes/` against Kubernetes' schemas (bundled: no network).
//! Pinned, so that a fresh machine tests with what was tested here; installed only when a
//! version differs. The tests look for `target/pyenv/bin/python3` under the workspace.
use crate::exec;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// (PyPI name, pinned version).
const PACKAGES: &[(&str, &str)] = &[
    ("python-libnmap", "0.7.3"),
    ("kubernetes-validate", "1.37.0"),
];

/// Debian's interpreter (package `python3`, with `python3-venv` for `-m venv`), not whatever a
/// version manager puts first on PATH.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// `<workspace>/target/pyenv`.
pub fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("target/pyenv")
}

/// Creates the environment if absent and installs the pinned packages it lacks.
pub fn ensure() -> anyhow::Result<()> {
    let dir = venv_dir();
    let python = dir.join("bin/python3");
    if !python.exists() {
        eprintln!("xtask: setup: creating {}", dir.display());
        exec::run(exec::command(SYSTEM_PYTHON).args(["-m", "venv"]).arg(&dir))?;
    }
    let python = python
        .to_str()
        .context("the workspace path is not UTF-8")?
        .to_string();
    let missing: Vec<String> = PACKAGES
        .iter()
        .filter(|(name, version)| installed_version(&python, name).as_deref() != Some(*version))
        .map(|(name, version)| format!("{name}=={version}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: setup: installing from PyPI: {}", missing.join(" "));
    exec::run(
        exec::command(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(&missing),
    )
}

/// The version of `package` installed in the environment of `python`, if any.
fn installed_version(python: &str, package: &str) -> Option<String> {
    let script = format!("import importlib.metadata as m; print(m.version({package:?}))");
    exec::probe(python, &["-c", &script]).map(|v| v.trim().to_string())
}
