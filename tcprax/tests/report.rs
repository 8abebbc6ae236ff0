//! `tcprax report` through the real binary.
//!
//! Without root: the command line (stdout, stdin, several files, the output refusing to
//! overwrite an input) and its errors (one line naming the file and the line, exit 2, no
//! panic) on a truncated file, a non-JSON line and a missing file.
//!
//! With root, end to end: a real -sT -sV scan in namespaces (the dozen -sV test services of
//! `tcprax_lab::servers`, TLS included, a fake SSH server whose banner is markup, and a /28 of
//! AnyIP addresses with one listener) writes -oJ; `tcprax report` turns it into a page; headless
//! Chromium, run inside the scanner namespace (no route out) with its network features off,
//! renders it twice: `--dump-dom` of a copy that measures every heading and plot after layout,
//! and `--screenshot` of the page itself. The DOM must hold every section heading and the four
//! plots with a real size, no element the hostile banner tried to inject, and the screenshot
//! must show each plot's own colour inside the rectangle where the DOM says the plot is: an
//! empty or unstyled page fails. Package: chromium (installed by `cargo xtask test`).
mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tcprax_lab::servers::{self, Behaviour, Place, TempDir, TestCert};
use tcprax_lab::testbed::TARGET_V4;

fn report(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(common::bin());
    cmd.arg("report").args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run tcprax report");
    if let Some(input) = stdin {
        use std::io::Write as _;
        let mut pipe = child.stdin.take().expect("stdin pipe");
        // tcprax may refuse the command line before reading stdin: a broken pipe is fine.
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().expect("wait for tcprax report")
}

const SCAN: &str = concat!(
    r#"{"type":"plan","tcprax":"0.1.0","scan_type":"connect","targets":[{"spec":"198.18.0.2","resolved":"198.18.0.2","addresses":1}],"port_count":3,"ports":"22,80,443","concurrency":512,"rate":null,"service_detection":true}"#,
    "\n",
    r#"{"type":"port","addr":"198.18.0.2","port":22,"state":"open","reason":"connected","rtt_us":150,"ttl":null,"service":{"class":"tcp-server-initiated","service":"ssh","product":"OpenSSH","version":"9.2p1","title":null,"response":"SSH-2.0-OpenSSH_9.2p1","tls":null}}"#,
    "\n",
    r#"{"type":"port","addr":"198.18.0.2","port":80,"state":"closed","reason":"refused","rtt_us":90,"ttl":null}"#,
    "\n",
    r#"{"type":"summary","elapsed_s":0.5,"ports_scanned":2,"open":1,"closed":1,"filtered":0,"unreachable":0,"skipped":0,"probes_sent":2,"interrupted":false,"service_detection_s":0.1,"xdp":null}"#,
    "\n"
);

#[track_caller]
fn assert_read_error(out: &Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout not empty");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with(want), "want {want:?}, got {stderr:?}");
}

#[test]
fn page_on_stdout_from_a_file_and_from_stdin() {
    let dir = TempDir::new("report-cli");
    let file = dir.join("scan.jsonl");
    std::fs::write(&file, SCAN).expect("write scan");
    let file = file.to_str().expect("utf-8 path");
    let from_file = report(&[file, "-o", "-"], None);
    assert!(from_file.status.success(), "{from_file:?}");
    let page = String::from_utf8(from_file.stdout).expect("utf-8 page");
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert!(page.contains("<td>OpenSSH</td>"));
    let from_stdin = report(&["-", "-o", "-"], Some(SCAN.as_bytes()));
    assert!(from_stdin.status.success(), "{from_stdin:?}");
    let stdin_page = String::from_utf8(from_stdin.stdout).expect("utf-8 page");
    assert!(stdin_page.contains("<span class=\"file\">&lt;stdin&gt;</span>"));
    assert!(stdin_page.contains("<td>OpenSSH</td>"));

    // The default output is report.html in the working directory.
    let out = Command::new(common::bin())
        .args(["report", file])
        .current_dir(dir.path())
        .output()
        .expect("run tcprax report");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(written.contains("<td>OpenSSH</td>"));
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = TempDir::new("report-err");
    let truncated = dir.join("truncated.jsonl");
    std::fs::write(&truncated, &SCAN[..SCAN.len() - 40]).expect("write");
    let truncated = truncated.to_str().expect("utf-8 path");
    assert_read_error(
        &report(&[truncated, "-o", "-"], None),
        &format!("tcprax report: error: {truncated}:4: the file ends in the middle of a record"),
    );
    let mixed = dir.join("mixed.jsonl");
    std::fs::write(&mixed, SCAN.replacen('\n', "\nStarting tcprax\n", 1)).expect("write");
    let mixed = mixed.to_str().expect("utf-8 path");
    assert_read_error(
        &report(&[mixed, "-o", "-"], None),
        &format!("tcprax report: error: {mixed}:2: not a valid JSON lines record: "),
    );
    assert_read_error(
        &report(&["-", "-o", "-"], Some(b"{\"type\":\"port\",\"addr\":1}\n")),
        "tcprax report: error: <stdin>:1: not a valid JSON lines record: ",
    );
    let missing = dir.join("missing.jsonl");
    let missing = missing.to_str().expect("utf-8 path");
    assert_read_error(
        &report(&[missing], None),
        &format!("tcprax report: error: cannot open '{missing}': "),
    );
    let good = dir.join("good.jsonl");
    std::fs::write(&good, SCAN).expect("write");
    let good = good.to_str().expect("utf-8 path");
    assert_read_error(
        &report(&[good, "-o", good], None),
        &format!("tcprax report: error: the output '{good}' is also an input"),
    );
    assert_eq!(
        std::fs::read_to_string(good).expect("read"),
        SCAN,
        "input untouched"
    );
    assert_read_error(
        &report(&["-", "-", "-o", "-"], Some(SCAN.as_bytes())),
        "tcprax report: error: stdin ('-') is given more than once",
    );
    // No file at all is clap's usage error.
    let out = report(&[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<FILE>"));
}

/// Chromium with everything that could reach the network switched off (it runs in the scanner
/// namespace as well, which has no route beyond the testbed).
fn chromium(tb_scanner_ns: &str, profile: &Path) -> Command {
    let binary = servers::require("chromium", "chromium");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", tb_scanner_ns])
        .arg(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-breakpad",
            "--no-pings",
            "--dns-prefetch-disable",
            "--proxy-server=socks5://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1400,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .env("HOME", profile);
    cmd
}

/// What the probe script records: x, y, width and height of an element after layout.
type Rect = [f64; 4];

/// A copy of `page` that, once laid out, writes each `h2`'s and each figure's SVG's box into
/// a `data-rect` attribute, for `--dump-dom` to show. The page's CSP allows no script: the copy
/// allows inline script and nothing else.
fn probe_copy(page: &str) -> String {
    const PROBE: &str = "<script>for (const e of document.querySelectorAll('h2, figure svg')) {\
        const r = e.getBoundingClientRect(); e.setAttribute('data-rect', \
        [r.x, r.y, r.width, r.height].join(',')); }</script>";
    let csp = "default-src 'none';";
    assert!(page.contains(csp), "the page has no CSP to relax");
    page.replacen(csp, "default-src 'none'; script-src 'unsafe-inline';", 1)
        .replacen("</body>", &format!("{PROBE}</body>"), 1)
}

fn rect_of(element: &str) -> Option<Rect> {
    let at = element.find("data-rect=\"")? + 11;
    let text = &element[at..at + element[at..].find('"')?];
    let v: Vec<f64> = text.split(',').filter_map(|n| n.parse().ok()).collect();
    <[f64; 4]>::try_from(v).ok()
}

/// The measured box of each `<h2>` (by its text) and of the SVG in each `<figure id>`.
fn measured(dom: &str) -> (BTreeMap<String, Rect>, BTreeMap<String, Rect>) {
    let mut headings = BTreeMap::new();
    for (at, _) in dom.match_indices("<h2") {
        let tag_end = at + dom[at..].find('>').expect("h2 tag end");
        let close = tag_end + dom[tag_end..].find("</h2>").expect("h2 close");
        if let Some(rect) = rect_of(&dom[at..tag_end]) {
            headings.insert(dom[tag_end + 1..close].to_owned(), rect);
        }
    }
    let mut plots = BTreeMap::new();
    for (at, _) in dom.match_indices("<figure id=\"") {
        let id_end = at + 12 + dom[at + 12..].find('"').expect("id end");
        let id = dom[at + 12..id_end].to_owned();
        let end = at + dom[at..].find("</figure>").expect("figure end");
        let figure = &dom[at..end];
        if let Some(svg) = figure.find("<svg") {
            let tag = &figure[svg..svg + figure[svg..].find('>').expect("svg tag end")];
            if let Some(rect) = rect_of(tag) {
                plots.insert(id, rect);
            }
        }
    }
    (headings, plots)
}

struct Screenshot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

fn decode_png(path: &Path) -> Screenshot {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|px| match channels {
            1 | 2 => [px[0]; 3],
            _ => [px[0], px[1], px[2]],
        })
        .collect();
    Screenshot {
        width: info.width as usize,
        height: info.height as usize,
        rgb,
    }
}

impl Screenshot {
    /// Pixels inside `rect` (CSS pixels = device pixels at scale factor 1).
    fn region(&self, rect: Rect) -> Vec<[u8; 3]> {
        let [x, y, w, h] = rect.map(|v| v.max(0.0) as usize);
        let mut out = Vec::new();
        for row in y..(y + h).min(self.height) {
            for col in x..(x + w).min(self.width) {
                out.push(self.rgb[row * self.width + col]);
            }
        }
        out
    }
}

/// Whether `pixels` hold `colour` (±6 per channel: anti-aliasing at edges, none inside bars).
fn has_colour(pixels: &[[u8; 3]], colour: [u8; 3], at_least: usize) -> bool {
    let near = |p: &[u8; 3]| p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 6);
    pixels.iter().filter(|p| near(p)).count() >= at_least
}

#[test]
fn report_of_a_real_scan_renders_in_headless_chromium() {
    let Some(sv) = common::sv_target(
        "trxrep",
        2,
        "report-e2e",
        &["report.tcprax.test", "www.report.tcprax.test"],
    ) else {
        return;
    };
    let (tb, rt, place, dir, cert) = (&sv.tb, &sv.rt, &sv.place, &sv.dir, &sv.cert);
    let dozen = servers::start_dozen(dir, cert, place, rt.handle());
    const HOSTILE: &str = "SSH-2.0-<img/src=x/onerror=alert(1)>\r\n";
    let _hostile = rt.block_on(servers::start_fake_at(
        Behaviour::Banner(HOSTILE),
        place,
        2222,
    ));
    // A /28 of further addresses answering on 8080 (and refusing the rest): the heat map.
    tb.target_anyip("198.18.1.0/28").expect("AnyIP /28");
    let _listen = tb.target_listen(&[8080]).expect("listen on 8080");

    let mut ports: Vec<u16> = dozen.ports();
    ports.extend([23, 2222, 8080]);
    let ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let scan = dir.join("scan.jsonl");
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sT",
            "-sV",
            &TARGET_V4.to_string(),
            "198.18.1.0/28",
            "-p",
            &ports,
            "-oJ",
        ])
        .arg(&scan)
        .args(["-oN", "-"])
        .output()
        .expect("run tcprax");
    assert!(
        out.status.success(),
        "scan failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );

    let page_path = dir.join("report.html");
    let out = Command::new(common::bin())
        .args(["report", "scan.jsonl", "-o", "report.html"])
        .current_dir(dir.path())
        .output()
        .expect("run tcprax report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&page_path).expect("read the page");
    assert!(
        page.contains("report.tcprax.test"),
        "the certificate is in the page"
    );
    assert!(page.contains("<td>OpenSSH</td>"));

    // 1. The DOM after layout, from the measuring copy.
    let probe_path = dir.join("probe.html");
    std::fs::write(&probe_path, probe_copy(&page)).expect("write probe copy");
    let profile = dir.join("chromium-dom");
    let out = chromium(&tb.scanner_ns, &profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", probe_path.display()))
        .output()
        .expect("run chromium --dump-dom");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium --dump-dom failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (headings, plots) = measured(&dom);
    for heading in [
        "Summary",
        "Plots",
        "Hosts",
        "Ports",
        "Services",
        "TLS certificates",
    ] {
        let rect = headings
            .get(heading)
            .unwrap_or_else(|| panic!("no rendered heading {heading:?}: {headings:?}"));
        assert!(rect[2] > 100.0 && rect[3] > 10.0, "{heading}: {rect:?}");
    }
    let plot_colours: [(&str, [u8; 3]); 4] = [
        ("plot-services", [0x2b, 0x6c, 0xb0]),
        ("plot-heatmap", [0x08, 0x30, 0x6b]),
        ("plot-rtt", [0xc0, 0x56, 0x21]),
        ("plot-versions", [0x2f, 0x85, 0x5a]),
    ];
    for (id, _) in plot_colours {
        let rect = plots
            .get(id)
            .unwrap_or_else(|| panic!("no rendered SVG in {id}: {plots:?}"));
        assert!(
            rect[2] >= 200.0 && rect[3] >= 100.0,
            "{id} too small: {rect:?}"
        );
    }
    // The hostile banner is text, not an element.
    assert!(
        !dom.contains("<img"),
        "markup from the banner became an element"
    );
    assert!(
        dom.contains("&lt;img/src=x/onerror=alert(1)&gt;"),
        "the banner text is shown"
    );

    // 2. A screenshot of the page itself (its own CSP: no script).
    let shot = dir.join("report.png");
    let profile = dir.join("chromium-shot");
    let out = chromium(&tb.scanner_ns, &profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page_path.display()))
        .output()
        .expect("run chromium --screenshot");
    assert!(
        out.status.success() && shot.exists(),
        "chromium --screenshot failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let png = decode_png(&shot);
    assert_eq!((png.width, png.height), (1400, 2400));
    let distinct: HashSet<[u8; 3]> = png.rgb.iter().copied().collect();
    assert!(
        distinct.len() > 50,
        "a near-blank screenshot: {} colours",
        distinct.len()
    );
    for (id, colour) in plot_colours {
        let rect = plots[id];
        assert!(
            rect[1] + rect[3] <= png.height as f64,
            "{id} at {rect:?} is below the screenshot"
        );
        let pixels = png.region(rect);
        let colours: HashSet<[u8; 3]> = pixels.iter().copied().collect();
        assert!(
            colours.len() >= 4,
            "{id}: {} colours in {rect:?}",
            colours.len()
        );
        assert!(
            has_colour(&pixels, colour, 40),
            "{id}: its colour {colour:02x?} is not in the screenshot at {rect:?}"
        );
    }
    // TCPRAX_REPORT_KEEP=DIR keeps the scan, the page and the screenshot (docs/report.png is
    // a screenshot of that page).
    if let Some(keep) = std::env::var_os("TCPRAX_REPORT_KEEP").map(PathBuf::from) {
        let files = [
            (&scan, "scan.jsonl"),
            (&page_path, "report.html"),
            (&shot, "report.png"),
        ];
        for (from, name) in files {
            std::fs::copy(from, keep.join(name))
                .unwrap_or_else(|e| panic!("keep {name} in {}: {e}", keep.display()));
        }
        eprintln!("page and screenshot kept in {}", keep.display());
    }
    drop(dozen);
}

/// nmap's own XML (with its `ssl-cert` script) and tcprax's -oX of the same two services, as
/// root in namespaces: one page from both, with the certificate nmap read.
#[test]
fn report_from_nmap_and_tcprax_xml() {
    let Some(tb) = common::testbed("trxrepx") else {
        return;
    };
    let nmap = servers::require("nmap", "nmap");
    let dir = TempDir::new("report-xml");
    let place = Place::netns(&tb.target_ns, IpAddr::V4(TARGET_V4));
    let cert = TestCert::generate_for(
        &dir,
        "xml.tcprax.test",
        &["xml.tcprax.test", "alt.tcprax.test"],
        &[IpAddr::V4(TARGET_V4)],
    );
    let _sshd = servers::start_sshd_at(&dir, &place, 22);
    let _nginx = servers::start_nginx_at(&dir, &cert, &place, 80, 443);
    let target = TARGET_V4.to_string();

    let nmap_xml = dir.join("nmap.xml");
    let out = tb
        .scanner_command(nmap.to_str().expect("utf-8 path"))
        .args([
            "-n",
            "-Pn",
            "-sT",
            "-sV",
            "--version-light",
            "--script",
            "ssl-cert",
        ])
        .args(["-p", "22,23,443", &target, "-oX"])
        .arg(&nmap_xml)
        .output()
        .expect("run nmap");
    assert!(
        out.status.success(),
        "nmap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tcprax_xml = dir.join("tcprax.xml");
    let out = tb
        .scanner_command(common::bin())
        .args(["-sT", "-sV", "-p", "22,23,443", &target, "-oX"])
        .arg(&tcprax_xml)
        .output()
        .expect("run tcprax");
    assert!(
        out.status.success(),
        "tcprax: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new(common::bin())
        .args(["report", "nmap.xml", "tcprax.xml", "-o", "-"])
        .current_dir(dir.path())
        .output()
        .expect("run tcprax report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tcprax report: {stderr}");
    let page = String::from_utf8(out.stdout).expect("utf-8 page");
    for needle in [
        "<span class=\"file\">nmap.xml</span> (nmap XML)",
        "<span class=\"file\">tcprax.xml</span> (nmap XML)",
        // nmap's ssl-cert script output became a certificate row.
        "<td>xml.tcprax.test</td><td>xml.tcprax.test, alt.tcprax.test, 198.18.0.2</td>\
         <td>CN=xml.tcprax.test</td>",
        "<td>OpenSSH</td>",
        "<td>nginx</td>",
        "<td class=\"closed\">closed</td>",
    ] {
        let certs = page
            .split("<section id=\"certificates\">")
            .nth(1)
            .unwrap_or_default();
        assert!(
            page.contains(needle),
            "page lacks {needle:?}; certificates: {certs}"
        );
    }
    // Both files say 22 and 443 are open: one row each (tcprax's, read last, keeping the
    // certificate only nmap's had).
    assert_eq!(
        page.matches("<td class=\"open\">open</td>").count(),
        2,
        "{page}"
    );
    assert!(page.contains("<b>1</b><span>TLS certificates</span>"));
}
