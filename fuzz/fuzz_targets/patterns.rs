//! What -sV does with a server's bytes: the pattern table (`identify`, `tls_service`), the HTML
//! title, and the printable form of the response.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::service::patterns::{http_title, identify, tls_service};
use tcprax::service::sanitize::{MAX_RESPONSE, sanitize};

fuzz_target!(|data: &[u8]| {
    if let Some(id) = identify(data) {
        assert!(!id.service.is_empty());
        // An empty template expansion means "unknown", reported as None, never as "".
        assert_ne!(id.product.as_deref(), Some(""));
        assert_ne!(id.version.as_deref(), Some(""));
        assert!(!tls_service(&id.service).is_empty());
    }
    if let Some(title) = http_title(data) {
        assert!(!title.is_empty());
        assert_eq!(title.trim(), title, "whitespace is collapsed");
    }
    let shown = sanitize(data);
    assert!(shown.chars().count() <= MAX_RESPONSE);
    assert!(shown.chars().all(|c| c == '\n' || (' '..='~').contains(&c)));
});
