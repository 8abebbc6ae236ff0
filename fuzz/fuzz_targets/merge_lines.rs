//! The `-oJ` reader of `tcprax merge` (`merge::parse_line`): any line gives a line or an error,
//! never a panic; a port line written back by the JSON printer reads as the same report, and
//! a plan as the same plan.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tcprax::merge::{Line, parse_line};
use tcprax::output::{JsonPrinter, Printer};

/// The line the JSON printer writes for `line`, read back.
fn reprinted(line: &Line) -> Line {
    let mut p = JsonPrinter::new(Vec::new());
    match line {
        Line::Plan(plan) => p.plan(plan),
        Line::Port(report) => p.port(report),
        Line::Summary(summary) => p.finish(summary),
    }
    .expect("printing into a Vec");
    let text = String::from_utf8(p.into_inner()).expect("the printer writes UTF-8");
    let text = text.strip_suffix('\n').expect("one whole line");
    parse_line(text).expect("what the printer writes reads back")
}

fuzz_target!(|data: &[u8]| {
    // Lines reach the reader as UTF-8 (`BufRead::lines` refuses anything else).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_line(text) {
        Ok(line) => match (&line, reprinted(&line)) {
            (Line::Plan(a), Line::Plan(b)) => assert_eq!(*a, b),
            (Line::Port(a), Line::Port(b)) => assert_eq!(*a, b),
            (Line::Summary(a), Line::Summary(b)) => {
                assert_eq!(
                    (a.ports_scanned, a.open, a.interrupted, a.xdp),
                    (b.ports_scanned, b.open, b.interrupted, b.xdp)
                );
            }
            (a, b) => panic!("{a:?} read back as {b:?}"),
        },
        Err(problem) => assert!(!problem.is_empty()),
    }
});
