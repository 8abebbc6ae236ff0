//! The zoo benchmark's Markdown: times, totals per tool, and the per-port table with the truth
//! beside each tool's answer and its score (S = service, P = product, V = version right).
use crate::scan::{NmapPort, TcpraxRun};
use std::collections::BTreeMap;
use std::time::Duration;
use tcprax_lab::servers::zoo::score::{Answer, Score, score};
use tcprax_lab::servers::zoo::{Exhibit, Zoo};
use tcprax_lab::testbed::TARGET_V4;

/// What the report says about the run besides the results.
pub struct Context {
    pub tcprax: String,
    pub nmap: Option<String>,
    pub load_before: String,
    pub load_after: String,
    pub runs_per_scan: u32,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// Service, product and version right, counted over ports.
#[derive(Default, Clone, Copy)]
struct Totals {
    service: usize,
    product: usize,
    version: usize,
}

impl Totals {
    fn add(&mut self, s: Score) {
        self.service += usize::from(s.service);
        self.product += usize::from(s.product);
        self.version += usize::from(s.version);
    }
}

fn marks(s: Score) -> String {
    let m = |ok: bool, c: char| if ok { c } else { '-' };
    format!(
        "{}{}{}",
        m(s.service, 'S'),
        m(s.product, 'P'),
        m(s.version, 'V')
    )
}

fn cell(s: &str) -> String {
    s.replace('|', "/")
}

/// `service product version`, `-` for nothing.
fn shown(a: &Answer, tls: bool, extra: Option<&str>) -> String {
    let service = a.service.as_deref().map(|s| {
        if tls && !s.starts_with("ssl/") && !s.ends_with('s') {
            format!("ssl/{s}")
        } else {
            s.to_owned()
        }
    });
    let parts: Vec<String> = [
        service,
        a.product.clone(),
        a.version.clone(),
        extra.map(|e| format!("({e})")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        cell(&parts.join(" "))
    }
}

fn truth_cell(e: &Exhibit) -> String {
    let t = &e.truth;
    let service = if t.tls {
        format!("ssl/{}", t.service)
    } else {
        t.service.to_owned()
    };
    let unannounced = if t.announced { "" } else { " †" };
    format!("{service} {} {}{unannounced}", t.products[0], t.version)
}

fn tcprax_answer(run: &TcpraxRun, port: u16) -> Option<&crate::scan::TcpraxPort> {
    run.ports.get(&(TARGET_V4.to_string(), port))
}

/// `writeln!` into a String, which cannot fail.
macro_rules! wln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use wln;

/// The report as Markdown.
pub fn render(
    ctx: &Context,
    zoo: &Zoo,
    runs: &[TcpraxRun],
    nmap: Option<&(Duration, BTreeMap<u16, NmapPort>)>,
) -> String {
    let mut out = String::new();
    let n = zoo.exhibits.len();
    wln!(
        out,
        "tcprax -sV vs nmap -sV: {n} ports of {} real daemons on {TARGET_V4} (veth between two \
         namespaces), {} tcprax runs per scan type; load average before {}, after {}\n",
        zoo.exhibits
            .iter()
            .map(|e| e.animal)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        ctx.runs_per_scan,
        ctx.load_before,
        ctx.load_after
    );
    wln!(
        out,
        "tcprax: `{}`; nmap: {}\n",
        ctx.tcprax,
        ctx.nmap.as_deref().unwrap_or("not run")
    );
    for (animal, why) in &zoo.failed {
        let first = why.lines().next().unwrap_or_default();
        wln!(out, "- did not start: {animal:?}: {}", cell(first));
    }
    if !zoo.failed.is_empty() {
        out.push('\n');
    }

    wln!(
        out,
        "| run | wall time | -sV time (`service_detection_s`) |"
    );
    wln!(out, "|---|---:|---:|");
    for run in runs {
        wln!(
            out,
            "| `{}` #{} | {:.2} s | {:.2} s |",
            run.label,
            run.number,
            run.wall.as_secs_f64(),
            run.service_detection_s
        );
    }
    let mut labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    labels.dedup();
    let mut medians = Vec::new();
    for label in &labels {
        let of = |f: &dyn Fn(&TcpraxRun) -> f64| {
            median(runs.iter().filter(|r| r.label == *label).map(f).collect())
        };
        let wall = of(&|r| r.wall.as_secs_f64());
        medians.push((*label, wall));
        wln!(
            out,
            "| **`{label}`, median** | **{wall:.2} s** | **{:.2} s** |",
            of(&|r| r.service_detection_s)
        );
    }
    match nmap {
        Some((wall, _)) => wln!(
            out,
            "| `nmap -sV -n -Pn` | {:.2} s | (not reported separately) |",
            wall.as_secs_f64()
        ),
        None => wln!(out, "| `nmap -sV` | not run | |"),
    }

    // Totals: the first run of each tcprax scan type, and nmap.
    wln!(
        out,
        "\nTotals over {n} ports (S = service, P = product, V = version right; rules in the doc):\n"
    );
    wln!(
        out,
        "| tool | service | product | version | wall time | every run agreed |"
    );
    wln!(out, "|---|---:|---:|---:|---:|---|");
    for (label, wall) in &medians {
        let same: Vec<&TcpraxRun> = runs.iter().filter(|r| r.label == *label).collect();
        let first = same[0];
        let mut t = Totals::default();
        for e in &zoo.exhibits {
            let a = tcprax_answer(first, e.port)
                .map(|p| p.answer.clone())
                .unwrap_or_default();
            t.add(score(&e.truth, &a));
        }
        let agreed = same.iter().all(|r| r.ports == first.ports);
        wln!(
            out,
            "| `{label}` (run 1; time: median) | {} | {} | {} | {wall:.2} s | {} |",
            t.service,
            t.product,
            t.version,
            if agreed { "yes" } else { "no" }
        );
    }
    if let Some((wall, ports)) = nmap {
        let mut t = Totals::default();
        for e in &zoo.exhibits {
            let a = ports
                .get(&e.port)
                .map(|p| p.answer.clone())
                .unwrap_or_default();
            t.add(score(&e.truth, &a));
        }
        wln!(
            out,
            "| `nmap -sV -n -Pn` | {} | {} | {} | {:.2} s | (one run) |",
            t.service,
            t.product,
            t.version,
            wall.as_secs_f64()
        );
        if let Some((label, tw)) = medians.first() {
            wln!(
                out,
                "\n`{label}` took {:.0}× less wall time than nmap -sV.",
                wall.as_secs_f64() / tw
            );
        }
    }
    let announced = zoo.exhibits.iter().filter(|e| e.truth.announced).count();
    wln!(
        out,
        "\n{announced} of the {n} daemons tell their version to an unauthenticated client; the \
         others (marked †) do not, so no tool can get their version right.\n"
    );

    let Some(first) = runs.first() else {
        return out;
    };
    wln!(
        out,
        "| port | daemon | truth (package version) | `{}` #1 | score | nmap -sV | score |",
        first.label
    );
    wln!(out, "|---:|---|---|---|---|---|---|");
    for e in &zoo.exhibits {
        let t = tcprax_answer(first, e.port);
        let t_answer = t.map(|p| p.answer.clone()).unwrap_or_default();
        let t_tls = t.is_some_and(|p| p.tls.is_some());
        let t_cell = match t {
            None => "(not reported)".to_owned(),
            Some(p) if p.state != "open" => p.state.clone(),
            Some(_) => shown(&t_answer, t_tls, None),
        };
        let (n_cell, n_score) = match nmap {
            None => ("not run".to_owned(), String::new()),
            Some((_, ports)) => match ports.get(&e.port) {
                None => ("(not reported)".to_owned(), marks(Score::default())),
                Some(p) => (
                    shown(&p.answer, false, p.extrainfo.as_deref()),
                    marks(score(&e.truth, &p.answer)),
                ),
            },
        };
        wln!(
            out,
            "| {} | {} | {} ({} {}) | {} | {} | {} | {} |",
            e.port,
            e.label,
            truth_cell(e),
            e.truth.package,
            e.truth.package_version,
            t_cell,
            marks(score(&e.truth, &t_answer)),
            n_cell,
            n_score
        );
    }
    out
}
