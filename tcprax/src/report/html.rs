//! The page: one HTML document with its CSS inline and the plots as inline SVG.
//!
//! Every value that came from a file, which means from the network or the user (banners,
//! products, certificate names, host names, file names), goes through [`esc`]. The page
//! carries a Content-Security-Policy that allows no fetch, no script and no frame, so even a
//! value that slipped through could not load anything.
use super::data::{Cert, Port, ScanData};
use super::svg;
use crate::calendar::parse_rfc3339;
use crate::model::PortState;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Hosts without an open port listed in the hosts table; the rest are counted.
pub const QUIET_HOSTS_LISTED: usize = 1000;

/// Certificates that expire within this many days are marked.
const EXPIRY_WARNING_DAYS: i64 = 30;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = include_str!("style.css");

/// Text for HTML content or a quoted attribute: control and invisible characters become '.'
/// (as in every tcprax report), then `& < > " '` become entities.
pub fn esc(text: &str) -> String {
    let clean = crate::output::clean(text);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(text: Option<&str>) -> String {
    text.map(esc).unwrap_or_default()
}

/// The whole page for `data`; `now` decides the days a certificate has left.
pub fn render(data: &ScanData, now: SystemTime) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let totals = data.totals();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"tcprax {}\">\n\
         <title>tcprax report</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION")
    );
    page.push_str("<header>\n<h1>tcprax scan report</h1>\n");
    runs(&mut page, data);
    page.push_str(
        "<nav><a href=\"#summary\">Summary</a> <a href=\"#plots\">Plots</a> \
         <a href=\"#hosts\">Hosts</a> <a href=\"#ports\">Ports</a> \
         <a href=\"#services\">Services</a> <a href=\"#certificates\">TLS certificates</a></nav>\n\
         </header>\n<main>\n",
    );
    let certs = data.certificates();
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    summary(&mut page, data, &totals, &certs, now_s);
    plots(&mut page, data);
    hosts(&mut page, data);
    ports(&mut page, data);
    services(&mut page, data);
    certificates(&mut page, &certs, now_s);
    let _ = write!(
        page,
        "</main>\n<footer>Written by tcprax {} from {}. Nothing on this page is loaded from \
         the network.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        plural(data.runs.len() as u64, "file", "files")
    );
    page
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn runs(page: &mut String, data: &ScanData) {
    page.push_str("<ul class=\"runs\">\n");
    for run in &data.runs {
        let _ = write!(
            page,
            "<li><span class=\"file\">{}</span> ({})",
            esc(&run.source),
            run.format
        );
        if let Some(kind) = &run.scan_type {
            let _ = write!(page, ", scan type {}", esc(kind));
        }
        if let Some(ports) = &run.ports {
            let _ = write!(page, ", ports <span class=\"mono\">{}</span>", esc(ports));
        }
        if !run.targets.is_empty() {
            let targets: Vec<String> = run.targets.iter().map(|t| esc(t)).collect();
            let _ = write!(
                page,
                ", targets <span class=\"mono\">{}</span>",
                targets.join(", ")
            );
        }
        if let Some(command) = &run.command {
            let _ = write!(
                page,
                ", command <span class=\"mono\">{}</span>",
                esc(command)
            );
        }
        if let Some(s) = run.elapsed_s {
            let _ = write!(page, ", {s:.2} s");
        }
        match run.interrupted {
            Some(true) => page.push_str(" <span class=\"bad\">interrupted: partial results</span>"),
            None => {
                page.push_str(" <span class=\"bad\">no end record: the scan did not finish</span>")
            }
            Some(false) => {}
        }
        page.push_str("</li>\n");
    }
    page.push_str("</ul>\n");
}

fn summary(
    page: &mut String,
    data: &ScanData,
    totals: &super::data::Host,
    certs: &[(&Cert, Vec<(IpAddr, u16)>)],
    now_s: i64,
) {
    let with_open = data.hosts.values().filter(|h| h.open > 0).count();
    let expiring = certs
        .iter()
        .filter(|(c, _)| days_left(c, now_s).is_some_and(|d| d <= EXPIRY_WARNING_DAYS))
        .count();
    page.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n");
    let mut card = |value: String, what: &str, class: &str| {
        let _ = writeln!(
            page,
            "<div class=\"card {class}\"><b>{value}</b><span>{what}</span></div>"
        );
    };
    card(data.hosts.len().to_string(), "hosts", "");
    card(with_open.to_string(), "hosts with an open port", "");
    card(totals.open.to_string(), "open ports", "open");
    card(totals.closed.to_string(), "closed", "closed");
    card(totals.filtered.to_string(), "filtered", "filtered");
    if totals.unreachable > 0 {
        card(totals.unreachable.to_string(), "unreachable", "filtered");
    }
    card(certs.len().to_string(), "TLS certificates", "");
    card(
        expiring.to_string(),
        "expired or expiring within 30 days",
        if expiring > 0 { "warn" } else { "" },
    );
    page.push_str("</div>\n</section>\n");
}

fn figure(
    page: &mut String,
    id: &str,
    title: &str,
    note: &str,
    plot: Result<String, svg::PlotError>,
) {
    let _ = write!(
        page,
        "<figure id=\"{id}\">\n<figcaption>{title}</figcaption>\n"
    );
    match plot {
        Ok(svg) => page.push_str(&svg),
        Err(e) => {
            let _ = write!(page, "<p class=\"bad\">{}</p>", esc(&e.to_string()));
        }
    }
    if !note.is_empty() {
        let _ = write!(page, "<p class=\"note\">{note}</p>");
    }
    page.push_str("\n</figure>\n");
}

fn empty_figure(page: &mut String, id: &str, title: &str, why: &str) {
    let _ = writeln!(
        page,
        "<figure id=\"{id}\" class=\"empty\">\n<figcaption>{title}</figcaption>\n\
         <p class=\"note\">{why}</p>\n</figure>"
    );
}

fn plots(page: &mut String, data: &ScanData) {
    page.push_str("<section id=\"plots\">\n<h2>Plots</h2>\n<div class=\"plots\">\n");
    if data.open.is_empty() {
        empty_figure(
            page,
            "plot-services",
            "Open ports per service",
            "No open port.",
        );
    } else {
        figure(
            page,
            "plot-services",
            "Open ports per service",
            "Service named by -sV; tcp/PORT where none was found.",
            svg::services_plot(data),
        );
    }
    let (rows, left_out) = svg::heat_rows(data);
    if rows.is_empty() {
        empty_figure(
            page,
            "plot-heatmap",
            "Open ports per address, by /24",
            "No IPv4 address.",
        );
    } else {
        let mut note = String::from(
            "One square per /24, one cell per address (.0 top left, .255 bottom right): \
             grey = no open port, blue = open ports (darker = more), pale = no verdict.",
        );
        if left_out > 0 {
            let _ = write!(
                note,
                " {} with fewer open ports not shown.",
                plural(left_out as u64, "/24", "/24s")
            );
        }
        figure(
            page,
            "plot-heatmap",
            "Open ports per address, by /24",
            &note,
            svg::heat_map(&rows),
        );
    }
    if data.rtts_us.is_empty() {
        empty_figure(
            page,
            "plot-rtt",
            "Round-trip times",
            "No round-trip time in the input (nmap XML carries none per port).",
        );
    } else {
        let mut note = format!(
            "Open and closed ports whose answer was timed: {}.",
            data.rtts_us.len() as u64 + data.rtts_unsampled
        );
        if data.rtts_unsampled > 0 {
            let _ = write!(note, " Drawn from the first {}.", data.rtts_us.len());
        }
        figure(
            page,
            "plot-rtt",
            "Round-trip times",
            &note,
            svg::rtt_histogram(&data.rtts_us),
        );
    }
    if svg::version_counts(data).is_empty() {
        empty_figure(
            page,
            "plot-versions",
            "Versions seen",
            "No product or version (run -sV).",
        );
    } else {
        figure(
            page,
            "plot-versions",
            "Versions seen",
            "Open ports per product and version found by -sV.",
            svg::versions_plot(data),
        );
    }
    page.push_str("</div>\n</section>\n");
}

fn state_class(state: PortState) -> &'static str {
    match state {
        PortState::Open => "open",
        PortState::Closed => "closed",
        PortState::Filtered | PortState::Unreachable => "filtered",
    }
}

fn hosts(page: &mut String, data: &ScanData) {
    let unreachable = data.hosts.values().any(|h| h.unreachable > 0);
    page.push_str(
        "<section id=\"hosts\">\n<h2>Hosts</h2>\n<table>\n<thead><tr><th>address</th>\
         <th>name</th><th class=\"n\">open</th><th class=\"n\">closed</th>\
         <th class=\"n\">filtered</th>",
    );
    if unreachable {
        page.push_str("<th class=\"n\">unreachable</th>");
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    let mut quiet_listed = 0usize;
    let mut quiet_unlisted = 0u64;
    for (addr, h) in &data.hosts {
        if h.open == 0 {
            if quiet_listed >= QUIET_HOSTS_LISTED {
                quiet_unlisted += 1;
                continue;
            }
            quiet_listed += 1;
        }
        let _ = write!(
            page,
            "<tr><td class=\"mono\">{addr}</td><td>{}</td><td class=\"n open\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td>",
            opt(h.name.as_deref()),
            h.open,
            h.closed,
            h.filtered
        );
        if unreachable {
            let _ = write!(page, "<td class=\"n\">{}</td>", h.unreachable);
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
    if quiet_unlisted > 0 {
        let _ = writeln!(
            page,
            "<p class=\"note\">Not shown: {} without an open port.</p>",
            plural(quiet_unlisted, "more host", "more hosts")
        );
    }
    page.push_str("</section>\n");
}

fn rtt(us: Option<u64>) -> String {
    us.map(|us| format!("{:.2}", us as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

fn port_row(page: &mut String, p: &Port, names: &BTreeMap<IpAddr, Option<String>>) {
    let name = names.get(&p.addr).and_then(|n| n.as_deref());
    let host = match name {
        Some(n) => format!("{} <span class=\"dim\">{}</span>", esc(n), p.addr),
        None => p.addr.to_string(),
    };
    let s = p.service.as_ref();
    let service = s
        .and_then(|s| s.name.as_deref())
        .map(esc)
        .unwrap_or_default();
    let tls = if s.is_some_and(|s| s.tls) {
        " <span class=\"tag\">TLS</span>"
    } else {
        ""
    };
    let _ = writeln!(
        page,
        "<tr><td class=\"mono\">{host}</td><td class=\"n\">{}</td>\
         <td class=\"{}\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{service}{tls}</td>\
         <td>{}</td><td>{}</td></tr>",
        p.port,
        state_class(p.state),
        p.state,
        esc(&p.reason),
        rtt(p.rtt_us),
        opt(s.and_then(|s| s.product.as_deref())),
        version_cell(s),
    );
}

/// The version, and nmap's extra information beside it ("protocol 2.0") dimmed.
fn version_cell(service: Option<&super::data::Service>) -> String {
    let Some(s) = service else {
        return String::new();
    };
    let mut cell = opt(s.version.as_deref());
    if let Some(extra) = &s.extrainfo {
        let sep = if cell.is_empty() { "" } else { " " };
        let _ = write!(cell, "{sep}<span class=\"dim\">({})</span>", esc(extra));
    }
    cell
}

fn ports(page: &mut String, data: &ScanData) {
    let names: BTreeMap<IpAddr, Option<String>> = data
        .hosts
        .iter()
        .map(|(a, h)| (*a, h.name.clone()))
        .collect();
    page.push_str(
        "<section id=\"ports\">\n<h2>Ports</h2>\n<table>\n<thead><tr><th>host</th>\
         <th class=\"n\">port</th><th>state</th><th>reason</th><th class=\"n\">rtt ms</th>\
         <th>service</th><th>product</th><th>version</th></tr></thead>\n<tbody>\n",
    );
    for p in data.open.values() {
        port_row(page, p, &names);
    }
    let mut others: Vec<&Port> = data.others.iter().collect();
    others.sort_by_key(|p| (p.addr, p.port));
    for p in others {
        port_row(page, p, &names);
    }
    page.push_str("</tbody>\n</table>\n");
    if data.others_unlisted > 0 {
        let _ = writeln!(
            page,
            "<p class=\"note\">Not shown: {} (closed, filtered or unreachable; counted in \
             the hosts table).</p>",
            plural(data.others_unlisted, "more port", "more ports")
        );
    }
    page.push_str("</section>\n");
}

fn services(page: &mut String, data: &ScanData) {
    // (service, product, version) -> (open ports, hosts)
    let mut rows: BTreeMap<(String, String, String), (u64, std::collections::BTreeSet<IpAddr>)> =
        BTreeMap::new();
    for p in data.open.values() {
        let s = p.service.as_ref();
        let key = (
            s.and_then(|s| s.name.clone()).unwrap_or_default(),
            s.and_then(|s| s.product.clone()).unwrap_or_default(),
            s.and_then(|s| s.version.clone()).unwrap_or_default(),
        );
        let row = rows.entry(key).or_default();
        row.0 += 1;
        row.1.insert(p.addr);
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    page.push_str(
        "<section id=\"services\">\n<h2>Services</h2>\n<table>\n<thead><tr><th>service</th>\
         <th>product</th><th>version</th><th class=\"n\">open ports</th>\
         <th class=\"n\">hosts</th></tr></thead>\n<tbody>\n",
    );
    for ((service, product, version), (ports, hosts)) in &rows {
        let service = if service.is_empty() {
            "<span class=\"dim\">unknown</span>".to_owned()
        } else {
            esc(service)
        };
        let _ = writeln!(
            page,
            "<tr><td>{service}</td><td>{}</td><td>{}</td><td class=\"n\">{ports}</td>\
             <td class=\"n\">{}</td></tr>",
            esc(product),
            esc(version),
            hosts.len()
        );
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}

/// Whole days from `now_s` to the certificate's `not_after` (negative: expired), rounded
/// down; None when the date is missing or not RFC 3339.
pub fn days_left(cert: &Cert, now_s: i64) -> Option<i64> {
    let end = parse_rfc3339(cert.not_after.as_deref()?)?;
    Some((end - now_s).div_euclid(86_400))
}

fn certificates(page: &mut String, certs: &[(&Cert, Vec<(IpAddr, u16)>)], now_s: i64) {
    page.push_str(
        "<section id=\"certificates\">\n<h2>TLS certificates</h2>\n\
         <p class=\"note\">Soonest to expire first.</p>\n<table>\n<thead><tr>\
         <th>subject CN</th><th>SANs</th><th>issuer</th><th>not after</th>\
         <th class=\"n\">days left</th><th>self-signed</th><th>served on</th></tr></thead>\n\
         <tbody>\n",
    );
    if certs.is_empty() {
        page.push_str(
            "<tr><td colspan=\"7\" class=\"dim\">No TLS certificate (run -sV; nmap XML \
             carries certificates only in ssl-cert script output).</td></tr>\n",
        );
    }
    for (cert, at) in certs {
        let days = days_left(cert, now_s);
        let (class, days_text) = match days {
            Some(d) if d < 0 => (
                "bad",
                format!("expired {} ago", plural(d.unsigned_abs(), "day", "days")),
            ),
            Some(d) if d <= EXPIRY_WARNING_DAYS => ("warn", d.to_string()),
            Some(d) => ("", d.to_string()),
            None => ("", "?".to_owned()),
        };
        let sans: Vec<String> = cert.sans.iter().map(|s| esc(s)).collect();
        let mut served: Vec<String> = at.iter().take(8).map(|(a, p)| format!("{a}:{p}")).collect();
        if at.len() > 8 {
            served.push(format!("and {} more", at.len() - 8));
        }
        let _ = writeln!(
            page,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td>\
             <td class=\"n\">{days_text}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            opt(cert.subject_cn.as_deref()),
            sans.join(", "),
            opt(cert.issuer.as_deref()),
            opt(cert.not_after.as_deref()),
            if cert.self_signed { "yes" } else { "no" },
            served.join(", ")
        );
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}
