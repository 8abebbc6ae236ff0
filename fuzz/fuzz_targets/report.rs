//! `tcprax report`'s readers and page: the input as a file (JSON lines or nmap XML, told apart
//! by content), then the page when it was read. Whatever the input, the page is one HTML
//! document whose only markup is tcprax's own: no element a value could have smuggled in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};
use tcprax::report::{ScanData, read, render};

fuzz_target!(|data: &[u8]| {
    let mut scan = ScanData::new();
    match read("fuzz.input", data, &mut scan) {
        Ok(()) => {
            let page = render(&scan, UNIX_EPOCH + Duration::from_secs(1_780_000_000));
            assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
            // Tags the page never writes itself (the seeds carry `<b>nginx</b>` and `<i>`).
            for smuggled in ["<script", "<img", "<iframe", "<link", "<object", "<i>", "<b>nginx"] {
                assert!(!page.contains(smuggled), "{smuggled} in the page");
            }
            assert_eq!(page.matches("<style").count(), 1, "one stylesheet, tcprax's");
        }
        Err(err) => {
            // Every error names the input.
            assert!(err.to_string().starts_with("fuzz.input"));
        }
    }
});
