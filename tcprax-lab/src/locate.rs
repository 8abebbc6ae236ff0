//! Where the `tcprax` binary that the lab programs drive lives.
//!
//! In order: a path the user gave (`--tcprax PATH`), the `TCPRAX_BIN` environment variable
//! (`cargo xtask` sets it to the binary it just built), else `tcprax` next to the running
//! program (cargo builds both into the same target directory). A path that is not a file is an
//! error saying how to build one: `cargo build -p tcprax-lab` alone does not build `tcprax`.
//! tcprax's own tests do not use this: cargo gives them `CARGO_BIN_EXE_tcprax`.
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The environment variable that names the tcprax binary.
pub const ENV_VAR: &str = "TCPRAX_BIN";

/// Where a candidate path came from, for the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Given on the command line.
    Argument,
    /// From [`ENV_VAR`].
    Environment,
    /// `tcprax` next to the running program.
    NextToProgram,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Argument => f.write_str("given on the command line"),
            Origin::Environment => write!(f, "from {ENV_VAR}"),
            Origin::NextToProgram => f.write_str("next to this program"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(
        "the tcprax binary {path} ({origin}) does not exist: build it with \
         `cargo build --release -p tcprax --bin tcprax`, set {ENV_VAR}, or run this program \
         through `cargo xtask` (demo, bench, bench-sv), which builds both"
    )]
    Missing { path: PathBuf, origin: Origin },
    #[error("cannot find the path of this program: {source}")]
    CurrentExe { source: io::Error },
}

/// The tcprax binary: `explicit` if given, else [`ENV_VAR`], else `tcprax` next to this program.
pub fn tcprax_binary(explicit: Option<&Path>) -> Result<PathBuf, LocateError> {
    resolve(
        explicit,
        std::env::var_os(ENV_VAR),
        std::env::current_exe().map_err(|source| LocateError::CurrentExe { source }),
    )
}

/// [`tcprax_binary`] with its inputs as arguments. An empty environment value counts as unset.
fn resolve(
    explicit: Option<&Path>,
    env: Option<OsString>,
    current_exe: Result<PathBuf, LocateError>,
) -> Result<PathBuf, LocateError> {
    let (path, origin) = match (explicit, env.filter(|v| !v.is_empty())) {
        (Some(path), _) => (path.to_path_buf(), Origin::Argument),
        (None, Some(path)) => (PathBuf::from(path), Origin::Environment),
        (None, None) => (current_exe?.with_file_name("tcprax"), Origin::NextToProgram),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(LocateError::Missing { path, origin })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory holding an empty file `tcprax` and a file `tcprax-demo`; removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let dir = std::env::temp_dir()
                .join(format!("tcprax-lab-locate-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            for name in ["tcprax", "tcprax-demo"] {
                std::fs::write(dir.join(name), b"").unwrap();
            }
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn argument_then_environment_then_next_to_the_program() {
        let dir = Dir::new("order");
        let tcprax = dir.0.join("tcprax");
        let me = Ok(dir.0.join("tcprax-demo"));
        let other = dir.0.join("tcprax-demo");
        let env = Some(OsString::from(&other));
        let chosen = resolve(Some(&tcprax), env.clone(), Ok(other.clone())).unwrap();
        assert_eq!(chosen, tcprax, "the argument wins");
        assert_eq!(resolve(None, env, Ok(tcprax.clone())).unwrap(), other);
        assert_eq!(resolve(None, None, me).unwrap(), tcprax);
        let empty = Some(OsString::new());
        let me = Ok(dir.0.join("tcprax-demo"));
        assert_eq!(
            resolve(None, empty, me).unwrap(),
            tcprax,
            "an empty variable is unset"
        );
    }

    #[test]
    fn a_missing_binary_says_where_it_looked_and_how_to_build_it() {
        let dir = Dir::new("missing");
        let nowhere = dir.0.join("sub").join("tcprax");
        let err = resolve(None, Some(nowhere.clone().into()), Ok(dir.0.clone())).unwrap_err();
        assert!(matches!(
            &err,
            LocateError::Missing { path, origin: Origin::Environment } if *path == nowhere
        ));
        let text = err.to_string();
        assert!(text.contains("from TCPRAX_BIN"), "{text}");
        assert!(text.contains("cargo build --release -p tcprax"), "{text}");
        assert!(text.contains("cargo xtask"), "{text}");

        let me = dir.0.join("sub").join("tcprax-bench");
        let err = resolve(None, None, Ok(me)).unwrap_err();
        assert!(matches!(
            err,
            LocateError::Missing { path, origin: Origin::NextToProgram } if path == nowhere
        ));
        // A directory is not a binary.
        let err = resolve(Some(&dir.0), None, Ok(nowhere)).unwrap_err();
        assert!(matches!(
            err,
            LocateError::Missing {
                origin: Origin::Argument,
                ..
            }
        ));
    }
}
