//! How much of nmap's service probe file tcprax reads and compiles, and how long that takes:
//! `cargo run --release -p tcprax --example probe_file_stats [FILE]` (default: the file -sV
//! would find). The figures in docs/benchmark-sv.md come from this.
use std::time::Instant;
use tcprax::service::nmap::{self, Loaded, matcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let explicit = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let started = Instant::now();
    let source = match nmap::load(explicit.as_deref())? {
        Loaded::Found(source) => source,
        Loaded::Missing { searched } => return Err(format!("no probe file in {searched:?}").into()),
    };
    let read = started.elapsed();
    let started = Instant::now();
    let db = source.db_blocking().clone();
    let parsed = started.elapsed();
    let lines: usize = db.probes.iter().map(|p| p.spec.matches.len()).sum();
    println!(
        "{}: {} TCP probes, {} UDP probes (for their lines), {lines} match lines, {} lines skipped, read in {:.1} ms, parsed in {:.1} ms",
        db.path.display(),
        db.tcp_probes(),
        db.probes.len() - db.tcp_probes(),
        db.skipped.len(),
        read.as_secs_f64() * 1e3,
        parsed.as_secs_f64() * 1e3
    );
    for s in db.skipped.iter().take(5) {
        println!("  skipped line {}: {}", s.line, s.reason);
    }
    // Every line, and the reason of each refusal (a fresh compile, outside the db's cache).
    let started = Instant::now();
    let mut failures = Vec::new();
    for p in &db.probes {
        for m in &p.spec.matches {
            if let Err(e) = matcher::compile(m) {
                failures.push((m.line, e.to_string()));
            }
        }
    }
    let all = started.elapsed();
    println!(
        "compiled {} of {lines} ({} refused) with JIT in {:.0} ms ({:.1} µs a line)",
        lines - failures.len(),
        failures.len(),
        all.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e6 / lines.max(1) as f64
    );
    for (line, e) in failures.iter().take(10) {
        println!("  line {line}: {e}");
    }
    for name in ["NULL", "GetRequest", "GenericLines"] {
        if let Some(i) = db.index(name) {
            let started = Instant::now();
            let n = db.probes[i].compiled().len();
            println!(
                "first use of {name} ({n} lines): {:.0} ms",
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    // Matching cost once compiled: an answer no line knows is tried against every line.
    let unknown = b"220 nothing-any-line-knows 0.0 ready\r\n".repeat(8);
    for name in ["NULL", "GetRequest"] {
        if let Some(i) = db.index(name) {
            let rounds = 20;
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(db.test(i, &unknown, false));
            }
            println!(
                "matching a {}-byte answer no line knows through {name}'s chain: {:.2} ms",
                unknown.len(),
                started.elapsed().as_secs_f64() * 1e3 / f64::from(rounds)
            );
        }
    }
    for (port, tls) in [(9000, false), (53, false), (8443, true)] {
        let plan = db.plan(port, tls, 7, &[], None);
        println!("port {port}: {} probes at intensity 7", plan.len());
    }
    Ok(())
}
