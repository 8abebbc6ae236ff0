//! The quiet table (-q): every open port of the scan in one table, one self-contained line
//! each, sorted by address and port, aligned over all hosts. The rows are held compact until
//! the end and formatted only then, twice (the column widths first, then the lines), rather
//! than held as text: a few dozen bytes per open port for the whole scan.
use super::super::{OpenPort, Row, reason_str};
use super::table::{self, Table};
use crate::model::errno_name;
use std::io::{self, Write};
use std::net::IpAddr;

/// The table is written in pieces of about this many bytes (whole lines): one string of
/// every line of a /8 would double the memory the rows take.
const CHUNK: usize = 1 << 16;

/// An open port of the quiet table (-q), as it was when its host completed: 40 bytes (the
/// port as its host kept it).
#[derive(Debug)]
pub(super) struct QuietRow {
    pub(super) addr: IpAddr,
    /// Whether the SERVICE and VERSION columns were on when the port was reported.
    pub(super) service_column: bool,
    pub(super) open: OpenPort,
}

impl QuietRow {
    fn row(&self) -> Row<'_> {
        self.open.row()
    }

    /// Its cells as a row of `t`: the address, then the port line's.
    fn cells(&self, t: &mut Table, scratch: &mut String) {
        scratch.clear();
        table::push_addr(scratch, self.addr);
        t.cell(scratch);
        table::port_cells(t, &self.row(), self.service_column, false);
        t.end_row();
    }

    /// A row without the service columns: its five cells are plain ASCII, counted or
    /// written straight, with no table in between. The service columns go through a
    /// [`Table`] (`cells`).
    fn plain(&self) -> bool {
        !self.service_column
    }

    /// The widths of a plain row's cells, as [`Table::measure`] counts them.
    fn plain_widths(&self, scratch: &mut String) -> [usize; 5] {
        let row = self.row();
        let errno = row.reason.errno().map(errno_name);
        [
            table::addr_width(self.addr, scratch),
            table::decimal_width(row.port) + "/tcp".len(),
            "open".len(),
            reason_str(row.reason).len() + errno.map_or(0, |e| e.len() + 1),
            table::rtt_width(row.rtt, scratch),
        ]
    }

    /// A plain row as [`Table::write_line`] writes it.
    fn write_plain(&self, widths: &[usize], out: &mut String) {
        let pad = |out: &mut String, from: usize, width: usize| {
            let len = out.len() - from;
            out.extend(std::iter::repeat_n(' ', width.saturating_sub(len) + 2));
        };
        let row = self.row();
        let mut from = out.len();
        table::push_addr(out, self.addr);
        pad(out, from, widths[0]);
        from = out.len();
        let mut num = itoa::Buffer::new();
        out.push_str(num.format(row.port));
        out.push_str("/tcp");
        pad(out, from, widths[1]);
        from = out.len();
        out.push_str("open");
        pad(out, from, widths[2]);
        from = out.len();
        out.push_str(reason_str(row.reason));
        if let Some(errno) = row.reason.errno() {
            out.push(' ');
            out.push_str(&errno_name(errno));
        }
        pad(out, from, widths[3]);
        table::push_rtt(out, row.rtt);
        out.push('\n');
    }
}

/// Sorts `rows` and writes them as the aligned table, a chunk of whole lines at a time.
pub(super) fn write_table(
    mut rows: Vec<QuietRow>,
    t: &mut Table,
    wtr: &mut impl Write,
) -> io::Result<()> {
    // Stable: a port reported twice keeps its order of arrival, as in a host's own rows. By
    // integers (IPv4 before IPv6, as `IpAddr` orders them): comparing the enums directly took
    // a third longer.
    rows.sort_by_key(|r| {
        let (v6, a) = match r.addr {
            IpAddr::V4(a) => (false, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, u128::from(a)),
        };
        (v6, a, r.open.port())
    });
    let mut scratch = String::new();
    let mut widths = Vec::new();
    for row in &rows {
        if row.plain() {
            let cells = row.plain_widths(&mut scratch);
            if widths.len() < cells.len() {
                widths.resize(cells.len(), 0);
            }
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c);
            }
        } else {
            t.clear();
            row.cells(t, &mut scratch);
            t.measure(&mut widths);
        }
    }
    let mut out = String::new();
    for row in &rows {
        if row.plain() {
            row.write_plain(&widths, &mut out);
        } else {
            t.clear();
            row.cells(t, &mut scratch);
            t.write_line(0, &widths, &mut out);
        }
        if out.len() >= CHUNK {
            wtr.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    t.clear();
    wtr.write_all(out.as_bytes())
}

#[cfg(test)]
mod tests {
    /// A /8 with every port open holds 16M of these until the end.
    #[test]
    fn rows_stay_small() {
        assert!(size_of::<super::QuietRow>() <= 40);
    }
}
