//! The `-p` grammar (`PortList::parse`). Whatever parses is a non-empty ascending list of ports
//! 1-65535, and its compact form (`spec_string`) parses back to the same list.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::ports::PortList;

fuzz_target!(|data: &[u8]| {
    // Command-line arguments reach the grammar as UTF-8 (clap refuses anything else).
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    match PortList::parse(spec) {
        Ok(list) => {
            let ports = list.as_slice();
            assert!(!ports.is_empty());
            assert!(ports[0] >= 1);
            assert!(ports.windows(2).all(|w| w[0] < w[1]));
            let again = PortList::parse(&list.spec_string()).expect("spec_string parses");
            assert_eq!(again, list);
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
