//! The port tables of the human report: the cells of a port line, and columns padded to their
//! widest cell, two spaces apart, without trailing blanks.
//!
//! Cells are formatted into one reused string, each remembered by where it ends: a table of a
//! thousand lines costs a few growing buffers, not a `String` per cell.
use super::super::{Row, clean, product_version, reason_str};
use crate::model::errno_name;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::time::Duration;

/// Rows of cells, to be aligned. Cleared and refilled, it keeps its buffers.
#[derive(Debug, Default)]
pub(super) struct Table {
    text: String,
    /// Where each cell ends in `text`.
    cell_ends: Vec<usize>,
    /// Where each row ends in `cell_ends`.
    row_ends: Vec<usize>,
}

impl Table {
    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.cell_ends.clear();
        self.row_ends.clear();
    }

    pub(super) fn rows(&self) -> usize {
        self.row_ends.len()
    }

    pub(super) fn cell(&mut self, s: &str) {
        self.text.push_str(s);
        self.cell_ends.push(self.text.len());
    }

    fn cell_fmt(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.text.write_fmt(args);
        self.cell_ends.push(self.text.len());
    }

    pub(super) fn end_row(&mut self) {
        self.row_ends.push(self.cell_ends.len());
    }

    /// The cells of row `r`.
    fn row(&self, r: usize) -> impl Iterator<Item = &str> {
        let first = if r == 0 { 0 } else { self.row_ends[r - 1] };
        let ends = &self.cell_ends[first..self.row_ends[r]];
        let mut start = match first {
            0 => 0,
            i => self.cell_ends[i - 1],
        };
        ends.iter().map(move |&end| {
            let cell = &self.text[start..end];
            start = end;
            cell
        })
    }

    /// Widens `widths` (one per column, in characters) to fit every row.
    pub(super) fn measure(&self, widths: &mut Vec<usize>) {
        for r in 0..self.rows() {
            for (i, cell) in self.row(r).enumerate() {
                if widths.len() <= i {
                    widths.push(0);
                }
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }

    /// Row `r` as a line, `\n` included, onto `out`: every cell but the last padded to its
    /// column's width and followed by two spaces, the line's trailing blanks dropped.
    pub(super) fn write_line(&self, r: usize, widths: &[usize], out: &mut String) {
        let start = out.len();
        let last = self.row(r).count().saturating_sub(1);
        for (i, cell) in self.row(r).enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let kept = out[start..].trim_end().len();
        out.truncate(start + kept);
        out.push('\n');
    }
}

/// The header row of a port table.
pub(super) fn header(t: &mut Table, service_column: bool) {
    for h in ["PORT", "STATE", "REASON", "RTT"] {
        t.cell(h);
    }
    if service_column {
        t.cell("SERVICE");
        t.cell("VERSION");
    }
    t.end_row();
}

/// The cells of one port line, as a row of `t`. With `ttl` (-v), the reason carries the
/// reply's TTL as nmap's `--reason` shows it ("syn-ack ttl 64"), when the engine saw one.
pub(super) fn port_row(t: &mut Table, row: &Row<'_>, service_column: bool, ttl: bool) {
    port_cells(t, row, service_column, ttl);
    t.end_row();
}

/// [`port_row`]'s cells, without ending the row (the quiet table puts the address first).
pub(super) fn port_cells(t: &mut Table, row: &Row<'_>, service_column: bool, ttl: bool) {
    t.cell_fmt(format_args!("{}/tcp", row.port));
    t.cell(row.state.as_str());
    let reason = reason_str(row.reason);
    // send-failed says which errno: "send-failed EACCES".
    let errno = row.reason.errno().map(errno_name);
    match (row.ttl.filter(|_| ttl), errno) {
        (None, None) => t.cell(reason),
        (Some(ttl), None) => t.cell_fmt(format_args!("{reason} ttl {ttl}")),
        (None, Some(e)) => t.cell_fmt(format_args!("{reason} {e}")),
        (Some(ttl), Some(e)) => t.cell_fmt(format_args!("{reason} ttl {ttl} {e}")),
    }
    push_rtt(&mut t.text, row.rtt);
    t.cell_ends.push(t.text.len());
    if service_column {
        match row.service {
            Some(s) => {
                let name = clean(s.service.as_deref().unwrap_or("unknown"));
                // nmap's convention: a service found inside TLS is "ssl/<service>".
                if s.tls.is_some() {
                    t.cell_fmt(format_args!("ssl/{name}"));
                } else {
                    t.cell(&name);
                }
                t.cell(&clean(&product_version(s)));
            }
            None => {
                t.cell("");
                t.cell("");
            }
        }
    }
}

fn rtt_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The RTT cell ("0.21ms", "-"), appended to `out`.
pub(super) fn push_rtt(out: &mut String, rtt: Option<Duration>) {
    match rtt {
        Some(d) => {
            // In whole hundredths of a millisecond, rounded to the nearest: what `{:.2}` of
            // the f64 prints, without core::fmt's float formatting (a third of a -q line's
            // cost). A value halfway between two hundredths, or beyond a day, is left to
            // core::fmt, whose rounding of the nearest f64 decides those.
            let ns = d.as_nanos();
            let (hundredths, rest) = (ns / 10_000, ns % 10_000);
            if rest == 5_000 || ns >= 86_400_000_000_000 {
                let _ = write!(out, "{:.2}ms", rtt_ms(d));
            } else {
                let hundredths = hundredths + u128::from(rest > 5_000);
                let mut num = itoa::Buffer::new();
                out.push_str(num.format(hundredths / 100));
                out.push('.');
                let cents = (hundredths % 100) as u8;
                out.push(char::from(b'0' + cents / 10));
                out.push(char::from(b'0' + cents % 10));
                out.push_str("ms");
            }
        }
        None => out.push('-'),
    }
}

/// The width of the RTT cell, counted where the digits before the point are plain and
/// formatted otherwise (rounding to two decimals moves a value by 0.005 at most, so below
/// 9.99 it prints one such digit, from 10 to 99.99 two, ...).
pub(super) fn rtt_width(rtt: Option<Duration>, scratch: &mut String) -> usize {
    let Some(d) = rtt else { return 1 };
    let ms = rtt_ms(d);
    let digits = if ms < 9.99 {
        1
    } else if (10.0..99.99).contains(&ms) {
        2
    } else if (100.0..999.99).contains(&ms) {
        3
    } else {
        scratch.clear();
        push_rtt(scratch, rtt);
        return scratch.len();
    };
    digits + ".00ms".len()
}

/// An address as its `Display` writes it, appended to `out`; IPv4 without core::fmt.
pub(super) fn push_addr(out: &mut String, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            let mut num = itoa::Buffer::new();
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(num.format(octet));
            }
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// The width of an address as its `Display` writes it; IPv4 counted, IPv6 formatted.
pub(super) fn addr_width(addr: IpAddr, scratch: &mut String) -> usize {
    match addr {
        IpAddr::V4(a) => a.octets().into_iter().map(decimal_width).sum::<usize>() + 3,
        IpAddr::V6(_) => {
            scratch.clear();
            push_addr(scratch, addr);
            scratch.len()
        }
    }
}

/// Digits of `n` in decimal.
pub(super) fn decimal_width(n: impl Into<u64>) -> usize {
    let n: u64 = n.into();
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &Table) -> String {
        let mut widths = Vec::new();
        t.measure(&mut widths);
        let mut out = String::new();
        for r in 0..t.rows() {
            t.write_line(r, &widths, &mut out);
        }
        out
    }

    /// The RTT cell without core::fmt's float formatting prints what `{:.2}` of the f64 does,
    /// over every hundredth's neighbourhood, ties, zero and long waits.
    #[test]
    fn rtt_cells_match_float_formatting() {
        let mut ns: Vec<u64> = vec![0, 1, 4_999, 5_000, 5_001, 9_999, 10_000, 86_399_999_999_999];
        ns.extend([86_400_000_000_000, 86_400_000_005_000, u64::MAX / 3]);
        for hundredths in [0u64, 1, 9, 10, 99, 100, 12_345, 99_999, 123_456_789] {
            for delta in [0u64, 1, 4_999, 5_000, 5_001, 9_999] {
                ns.push(hundredths * 10_000 + delta);
            }
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ns.push(x % 10_000_000_000);
        }
        for n in ns {
            let d = Duration::from_nanos(n);
            let mut got = String::new();
            push_rtt(&mut got, Some(d));
            assert_eq!(got, format!("{:.2}ms", rtt_ms(d)), "{n} ns");
        }
    }

    /// Rows of different lengths, an empty row, wide characters, a cell ending in blanks.
    #[test]
    fn pads_all_but_the_last_cell_and_trims_the_line() {
        let mut t = Table::default();
        for row in [
            &["a", "bb", "c"][..],
            &["ééé", "b", "", ""],
            &[],
            &["x", "y "],
        ] {
            for cell in row {
                t.cell(cell);
            }
            t.end_row();
        }
        assert_eq!(lines(&t), "a    bb  c\néé\u{e9}  b\n\nx    y\n");
        t.clear();
        assert_eq!(t.rows(), 0);
        assert_eq!(lines(&t), "");
    }

    /// The counted widths are the formatted ones, rounding up to another digit included.
    #[test]
    fn counted_widths_match_the_formatted_cells() {
        let mut scratch = String::new();
        let mut ns = vec![
            0, 1, 4_999, 5_000, 9_985_000, 9_994_999, 9_995_000, 9_999_999,
        ];
        ns.extend([
            10_000_000,
            99_994_999,
            99_995_000,
            999_995_000,
            1_000_000_000,
        ]);
        ns.extend([u64::MAX, 123_456_789_012]);
        for n in (0..200_000).map(|i| i * 5_003) {
            ns.push(n);
        }
        for &n in &ns {
            let rtt = Some(Duration::from_nanos(n));
            let mut cell = String::new();
            push_rtt(&mut cell, rtt);
            assert_eq!(rtt_width(rtt, &mut scratch), cell.len(), "{cell}");
        }
        let max = Some(Duration::MAX);
        let mut cell = String::new();
        push_rtt(&mut cell, max);
        assert_eq!(rtt_width(max, &mut scratch), cell.len());
        assert_eq!(rtt_width(None, &mut scratch), 1);
        for addr in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "2001:2::1",
            "::",
        ] {
            let addr: IpAddr = addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
            let mut cell = String::new();
            push_addr(&mut cell, addr);
            assert_eq!(cell, addr.to_string());
            assert_eq!(addr_width(addr, &mut scratch), cell.len());
        }
        for n in [0u64, 9, 10, 99, 100, 65535, u64::MAX] {
            assert_eq!(decimal_width(n), n.to_string().len());
        }
    }
}
