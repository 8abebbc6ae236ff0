//! Certificate reading (`service::cert_info`, and the raw commonName search it falls back on
//! when x509-parser refuses the DER): any bytes give a report, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::service::{cert_info, raw_common_names};

fuzz_target!(|data: &[u8]| {
    let info = cert_info(data);
    assert_eq!(info.sha256.len(), 64);
    let _ = raw_common_names(data);
});
