//! The report's plots, drawn by `plotters` into SVG strings that the page inlines.
//!
//! plotters is built with only its SVG backend (no `ttf` feature, so no font-kit, fontconfig or
//! FreeType): text is written as SVG `<text>` with a generic `sans-serif` family that the
//! browser renders with whatever font it has, and its size is estimated when laying out axes.
//! plotters escapes `< > & " '` in text and attributes; labels that came from the network also
//! lose their control characters here ([`label`]).
use super::data::ScanData;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Bars shown in a bar chart; the rest are summed into one "others" bar.
const MAX_BARS: usize = 15;
/// /24 networks shown in the heat map: those with the most open ports.
const MAX_ROWS: usize = 16;
/// Characters of a label kept on an axis.
const LABEL_CHARS: usize = 32;

const WIDTH: u32 = 640;
const BAR: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const VERSION_BAR: RGBColor = RGBColor(0x2f, 0x85, 0x5a);
const RTT_BAR: RGBColor = RGBColor(0xc0, 0x56, 0x21);
const AXIS_TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);
const NO_OPEN: RGBColor = RGBColor(0xc4, 0xc9, 0xd0);
const BLANK: RGBColor = RGBColor(0xf1, 0xf3, 0xf5);

/// A plot that plotters could not draw. With a String as the target this does not happen in
/// practice; the page then shows the message instead of the plot.
#[derive(Debug, thiserror::Error)]
#[error("the {plot} plot could not be drawn: {message}")]
pub struct PlotError {
    pub plot: &'static str,
    pub message: String,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Renders `draw` into an SVG string [`WIDTH`] wide and `height` pixels high.
fn render(
    plot: &'static str,
    height: u32,
    draw: impl FnOnce(&Area<'_>) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<String, PlotError> {
    render_sized(plot, (WIDTH, height), draw)
}

fn render_sized(
    plot: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<String, PlotError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let result = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root).map_err(|e| e.to_string()))
            .and_then(|()| root.present().map_err(|e| e.to_string()));
        result.map_err(|message| PlotError { plot, message })?;
    }
    Ok(out)
}

/// A label from a file (so from the network): control and invisible characters become '.',
/// and it is cut to [`LABEL_CHARS`].
pub fn label(text: &str) -> String {
    let clean = crate::output::clean(text);
    let mut chars = clean.chars();
    let mut out: String = chars.by_ref().take(LABEL_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// The largest `MAX_BARS` - 1 counts, and the rest summed as "others", largest first.
fn top_bars(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut bars: Vec<(String, u64)> = counts.into_iter().collect();
    bars.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if bars.len() > MAX_BARS {
        let rest: u64 = bars[MAX_BARS - 1..].iter().map(|b| b.1).sum();
        let n = bars.len() - (MAX_BARS - 1);
        bars.truncate(MAX_BARS - 1);
        bars.push((format!("{n} others"), rest));
    }
    bars
}

/// Open ports per service: the -sV service name, or "tcp/PORT" where none was found.
pub fn service_counts(data: &ScanData) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for p in data.open.values() {
        let name = p
            .service
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| format!("tcp/{}", p.port));
        *counts.entry(label(&name)).or_default() += 1;
    }
    top_bars(counts)
}

/// Open ports per product and version seen by -sV.
pub fn version_counts(data: &ScanData) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for p in data.open.values() {
        if let Some(pv) = p.service.as_ref().and_then(|s| s.product_version()) {
            *counts.entry(label(&pv)).or_default() += 1;
        }
    }
    top_bars(counts)
}

/// A horizontal bar chart of `bars` (label, count), largest on top.
pub fn bar_chart(
    plot: &'static str,
    bars: &[(String, u64)],
    colour: RGBColor,
    x_desc: &str,
) -> Result<String, PlotError> {
    let n = u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(4);
    let label_area = u32::try_from(longest * 8 + 16)
        .unwrap_or(280)
        .clamp(60, 280);
    let height = 70 + 26 * n;
    render(plot, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0u64..max + max.div_ceil(10), (0u32..n).into_segmented())?;
        let names = |v: &SegmentValue<u32>| match v {
            // Row 0 is at the bottom: the largest bar (first) goes on top.
            SegmentValue::CenterOf(i) => n
                .checked_sub(i + 1)
                .and_then(|i| bars.get(usize::try_from(i).ok()?))
                .map(|b| b.0.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(bars.len().max(1))
            .y_label_formatter(&names)
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v}"))
            .x_desc(x_desc)
            .label_style(("sans-serif", 16).into_font().color(&AXIS_TEXT))
            .axis_desc_style(("sans-serif", 16).into_font().color(&AXIS_TEXT))
            .draw()?;
        chart.draw_series(
            Histogram::horizontal(&chart)
                .style(colour.filled())
                .margin(4)
                .data(bars.iter().enumerate().map(|(i, b)| {
                    let row = n - 1 - u32::try_from(i).unwrap_or(0);
                    (row, b.1)
                })),
        )?;
        Ok(())
    })
}

pub fn services_plot(data: &ScanData) -> Result<String, PlotError> {
    bar_chart("services", &service_counts(data), BAR, "open ports")
}

pub fn versions_plot(data: &ScanData) -> Result<String, PlotError> {
    bar_chart("versions", &version_counts(data), VERSION_BAR, "open ports")
}

/// One row of the heat map: a /24, and per last octet the open ports of that address
/// (`None`: no verdict for it).
pub struct HeatRow {
    pub prefix: [u8; 3],
    pub cells: Box<[Option<u64>; 256]>,
}

/// The IPv4 /24s with a verdict, those with the most open ports first (at most
/// [`MAX_ROWS`]), then in address order; and how many /24s were left out. Cells are built only
/// for the /24s shown: a /8 has 65,536 /24s.
pub fn heat_rows(data: &ScanData) -> (Vec<HeatRow>, usize) {
    let mut open: BTreeMap<[u8; 3], u64> = BTreeMap::new();
    for (addr, host) in &data.hosts {
        if let IpAddr::V4(v4) = addr {
            let [a, b, c, _] = v4.octets();
            *open.entry([a, b, c]).or_default() += host.open;
        }
    }
    let total = open.len();
    let mut shown: Vec<([u8; 3], u64)> = open.into_iter().collect();
    shown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    shown.truncate(MAX_ROWS);
    shown.sort_by_key(|r| r.0);
    let rows = shown
        .into_iter()
        .map(|(prefix, _)| {
            let [a, b, c] = prefix;
            let mut cells = Box::new([None; 256]);
            let first = IpAddr::from([a, b, c, 0]);
            let last = IpAddr::from([a, b, c, 255]);
            for (addr, host) in data.hosts.range(first..=last) {
                if let IpAddr::V4(v4) = addr {
                    cells[usize::from(v4.octets()[3])] = Some(host.open);
                }
            }
            HeatRow { prefix, cells }
        })
        .collect::<Vec<_>>();
    let left_out = total - rows.len();
    (rows, left_out)
}

/// The colour of a cell: grey for an address without an open port, then from light to dark
/// blue as its open ports approach `max`.
fn heat_colour(open: u64, max: u64) -> RGBColor {
    if open == 0 {
        return NO_OPEN;
    }
    let t = if max <= 1 {
        1.0
    } else {
        (open - 1) as f64 / (max - 1) as f64
    };
    let mix = |lo: u8, hi: u8| (f64::from(lo) + (f64::from(hi) - f64::from(lo)) * t).round() as u8;
    RGBColor(mix(0x9e, 0x08), mix(0xca, 0x30), mix(0xe1, 0x6b))
}

/// The per-/24 heat map: one 16 × 16 panel per /24, a cell per last octet (row by row:
/// .0-.15 on top), coloured by the address's open ports; at most four panels a row.
pub fn heat_map(rows: &[HeatRow]) -> Result<String, PlotError> {
    let max = rows
        .iter()
        .flat_map(|r| r.cells.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0);
    let count = u32::try_from(rows.len()).unwrap_or(1).max(1);
    let cols = count.min(4);
    let lines = count.div_ceil(cols);
    let panel = (WIDTH / cols).min(300);
    render_sized("heat map", (panel * cols, panel * lines), |root| {
        let panels = root.split_evenly((lines as usize, cols as usize));
        for (area, row) in panels.iter().zip(rows) {
            let [a, b, c] = row.prefix;
            let mut chart = ChartBuilder::on(area)
                .margin(6)
                .caption(
                    format!("{a}.{b}.{c}.0/24"),
                    ("sans-serif", 16).into_font().color(&AXIS_TEXT),
                )
                .build_cartesian_2d(0u32..16, 0u32..16)?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0, 0), (16, 16)],
                BLANK.filled(),
            )))?;
            let cells = row.cells.iter().enumerate().filter_map(|(octet, cell)| {
                let octet = u32::try_from(octet).ok()?;
                let (x, y) = (octet % 16, 15 - octet / 16);
                let colour = heat_colour((*cell)?, max);
                Some(Rectangle::new([(x, y), (x + 1, y + 1)], colour.filled()))
            });
            chart.draw_series(cells)?;
            // Thin white lines between the cells.
            let grid = (0..=16u32).flat_map(|i| {
                [
                    PathElement::new(vec![(i, 0), (i, 16)], WHITE.stroke_width(1)),
                    PathElement::new(vec![(0, i), (16, i)], WHITE.stroke_width(1)),
                ]
            });
            chart.draw_series(grid)?;
        }
        Ok(())
    })
}

/// Round-trip-time bins: a "nice" width (1, 2 or 5 × 10^k µs) giving at most 24 bins from 0
/// to the largest sample.
pub fn rtt_bins(rtts_us: &[u64]) -> (u64, Vec<u64>) {
    let max = rtts_us.iter().copied().max().unwrap_or(0);
    let mut width = 1u64;
    'find: for exp in 0..19u32 {
        for step in [1, 2, 5] {
            width = step * 10u64.pow(exp);
            if max / width < 24 {
                break 'find;
            }
        }
    }
    let bins = usize::try_from(max / width + 1).unwrap_or(1);
    let mut counts = vec![0u64; bins];
    for &rtt in rtts_us {
        if let Some(c) = usize::try_from(rtt / width)
            .ok()
            .and_then(|i| counts.get_mut(i))
        {
            *c += 1;
        }
    }
    (width, counts)
}

/// Milliseconds for an axis label: "0.2", "15", "1200".
fn ms(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{}", us / 1000)
    } else {
        let text = format!("{:.3}", us as f64 / 1000.0);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The RTT histogram: ports per round-trip-time bin, on a continuous axis in milliseconds.
pub fn rtt_histogram(rtts_us: &[u64]) -> Result<String, PlotError> {
    let (width, counts) = rtt_bins(rtts_us);
    let end = width * u64::try_from(counts.len()).unwrap_or(1);
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    render("RTT histogram", 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0u64..end, 0u64..max + max.div_ceil(10))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(9)
            .x_label_formatter(&|us| ms(*us))
            .y_labels(6)
            .x_desc("round-trip time, ms")
            .y_desc("ports")
            .label_style(("sans-serif", 15).into_font().color(&AXIS_TEXT))
            .axis_desc_style(("sans-serif", 16).into_font().color(&AXIS_TEXT))
            .draw()?;
        let bars = counts
            .iter()
            .zip(0u64..)
            .filter(|(c, _)| **c > 0)
            .map(|(&c, i)| {
                let mut bar =
                    Rectangle::new([(i * width, 0), ((i + 1) * width, c)], RTT_BAR.filled());
                bar.set_margin(0, 0, 1, 1);
                bar
            });
        chart.draw_series(bars)?;
        Ok(())
    })
}
