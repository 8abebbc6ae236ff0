//! The whole target set (`TargetSet::parse_with`): command-line targets and exclusions, and
//! `-iL`/`--excludefile` files read from disk as the CLI reads them. Host names go to
//! `fake_lookup`, never to DNS.
//!
//! The input is up to four parts separated by NUL bytes: targets argument, `--exclude`
//! argument, `-iL` file contents, `--excludefile` contents (an empty part is left out).
//! Properties: the two ways of walking the set (`get` by index, which the SYN scan's
//! permutation uses, and `iter`, which skips excluded stretches) agree, neither yields an
//! excluded address, and small sets hold exactly `included_len` addresses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use tcprax::targets::TargetSet;
use tcprax_fuzz::fake_lookup;

/// Indices compared between `get` and `iter`, and the largest set walked to the end.
const WALK: u128 = 512;

/// A file in the temp directory, unique to this process, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, contents: &[u8]) -> Option<TempFile> {
        let path = std::env::temp_dir().join(format!("tcprax-fuzz-{}-{tag}", std::process::id()));
        std::fs::write(&path, contents).ok()?;
        Some(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A command-line argument (UTF-8, as clap hands it over); empty means "not given".
fn arg(part: Option<&[u8]>) -> Option<Vec<String>> {
    match part {
        None | Some([]) => Some(Vec::new()),
        Some(bytes) => std::str::from_utf8(bytes).ok().map(|s| vec![s.to_owned()]),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0);
    let (Some(specs), Some(exclude)) = (arg(parts.next()), arg(parts.next())) else {
        return;
    };
    // File contents go to disk as bytes: non-UTF-8 files are the reader's problem to report.
    let file = |tag: &str, part: Option<&[u8]>| match part {
        None | Some([]) => None,
        Some(bytes) => TempFile::new(tag, bytes),
    };
    let list = file("iL", parts.next());
    let exclude_list = file("excludefile", parts.next());
    let paths = |f: &Option<TempFile>| f.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    let Ok(set) = TargetSet::parse_with(
        &specs,
        &paths(&list),
        &exclude,
        &paths(&exclude_list),
        &fake_lookup,
    ) else {
        return;
    };
    assert!(set.included_len() >= 1);
    assert!(set.included_len() <= set.len());
    let by_index: Vec<_> = (0..set.len().min(WALK))
        .filter_map(|i| set.get(i))
        .collect();
    assert!(by_index.iter().all(|a| !set.is_excluded(a)));
    let walked: Vec<_> = set.iter().take(by_index.len()).collect();
    assert_eq!(walked, by_index);
    if set.len() <= WALK {
        assert_eq!(set.iter().count() as u128, set.included_len());
    }
});
