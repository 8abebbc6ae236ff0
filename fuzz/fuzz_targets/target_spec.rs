//! One target spec (`targets::parse_spec_with`): literals, CIDR, ranges and host names, the
//! names looked up by `fake_lookup`, never by DNS.
//!
//! Properties: a range never runs backwards, IPv4 stays within 32 bits, and an address range
//! written back as `first-last` parses to the same range.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::targets::{Family, parse_spec_with};
use tcprax_fuzz::fake_lookup;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(range) = parse_spec_with(spec, &fake_lookup) else {
        return;
    };
    assert!(range.first <= range.last);
    if range.family == Family::V4 {
        assert!(range.last <= u128::from(u32::MAX));
    }
    match &range.name {
        Some(name) => {
            assert_eq!(name, spec);
            assert_eq!(range.first, range.last);
        }
        None => {
            let written = format!("{}-{}", range.first_addr(), range.last_addr());
            let again = parse_spec_with(&written, &fake_lookup).expect("a written range parses");
            assert_eq!(again, range, "{written}");
        }
    }
});
