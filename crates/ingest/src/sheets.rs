//! Spreadsheets (XLSX/XLSM, XLS, ODS through calamine) and CSV/TSV: one heading per
//! sheet, rows in table sections that repeat the header row, sheet and row range as the
//! location.
//!
//! calamine trusts a sheet's declared dimensions and sizes a dense grid from the cells'
//! bounding box, so a tiny hostile file can ask for gigabytes. XLSX sheets are therefore
//! streamed cell by cell after their declared dimensions pass [`Limits::max_cells`];
//! XLS dimension records are checked before calamine sees the file; ODS sheets have the
//! bounding box of their non-empty cells measured first (a few bytes of repeat counts
//! can place two cells a hundred million cells apart).

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, DataRef, Reader};

use crate::builder::{table_sections, Builder};
use crate::document::{Document, Input, Parsed};
use crate::document::{Format, MetaValue};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// Rows of one sheet: (1-based row number, cells).
type Rows = Vec<(u32, Vec<String>)>;

/// A workbook (XLSX, XLS, ODS) or a CSV/TSV file: one document, its sheets' rows as
/// sections.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let parsed = match input.format {
        Format::Csv => parse_csv(input.bytes, input.name, input.limits)?,
        format => workbook(input.bytes, input.name, format, input.limits)?,
    };
    Ok(vec![parsed.into_document(input)])
}

fn workbook(bytes: &[u8], name: &str, format: Format, limits: &Limits) -> Result<Parsed> {
    let fmt = format.as_str();
    let err = |e: &dyn std::fmt::Display| Error::malformed(name, fmt, e);
    let sheets: Vec<(String, Rows)> = match format {
        Format::Xlsx => {
            crate::zipped::Zip::open(bytes, name, fmt, limits)?;
            let mut wb = calamine::Xlsx::new(Cursor::new(bytes)).map_err(|e| err(&e))?;
            let names = checked_names(wb.sheet_names(), name, limits)?;
            let mut out = Vec::new();
            for sheet in names {
                let rows = xlsx_rows(&mut wb, &sheet, name, limits)?;
                out.push((sheet, rows));
            }
            out
        }
        Format::Xls => {
            xls_dimensions(bytes, name, limits)?;
            let wb = calamine::Xls::new(Cursor::new(bytes)).map_err(|e| err(&e))?;
            ranges(wb, name, fmt, limits)?
        }
        Format::Ods => {
            let mut zip = crate::zipped::Zip::open(bytes, name, fmt, limits)?;
            let content = zip.text("content.xml")?;
            if let Some(content) = &content {
                ods_extent(content, name, limits)?;
            }
            match content.as_deref().and_then(unknown_value_types_as_strings) {
                Some(content) => {
                    let fixed =
                        with_part(bytes, "content.xml", content.as_bytes()).map_err(|e| err(&e))?;
                    let wb = calamine::Ods::new(Cursor::new(fixed)).map_err(|e| err(&e))?;
                    ranges(wb, name, fmt, limits)?
                }
                None => {
                    let wb = calamine::Ods::new(Cursor::new(bytes)).map_err(|e| err(&e))?;
                    ranges(wb, name, fmt, limits)?
                }
            }
        }
        _ => return Err(err(&"not a spreadsheet")),
    };
    let mut b = Builder::new();
    for (sheet, rows) in &sheets {
        b.reset_headings();
        b.location.sheet = Some(sheet.clone());
        b.location.rows = None;
        if !rows.is_empty() {
            b.heading(1, sheet);
            push_rows(&mut b, rows);
        }
    }
    let mut parsed = Parsed::default();
    parsed
        .metadata
        .insert("sheets".into(), MetaValue::Int(sheets.len() as i64));
    parsed.sections = b.finish();
    Ok(parsed)
}

/// CSV or TSV: the same table model, one sheet named after nothing.
fn parse_csv(bytes: &[u8], name: &str, limits: &Limits) -> Result<Parsed> {
    let text = crate::text::decode(bytes);
    let tsv =
        name.to_ascii_lowercase().ends_with(".tsv") || name.to_ascii_lowercase().ends_with(".tab");
    let delimiter = if tsv { b'\t' } else { sniff_delimiter(&text) };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::malformed(name, "csv", e))?;
        if rows.len() >= limits.max_rows {
            return Err(Error::limit(
                name,
                "rows",
                rows.len() as u64 + 1,
                limits.max_rows as u64,
            ));
        }
        let line = record.position().map_or(0, csv::Position::line);
        let row = u32::try_from(line).unwrap_or(u32::MAX);
        rows.push((row, record.iter().map(str::to_owned).collect()));
    }
    let mut b = Builder::new();
    push_rows(&mut b, &rows);
    let mut parsed = Parsed::default();
    parsed.metadata.insert(
        "delimiter".into(),
        MetaValue::Str(char::from(delimiter).to_string()),
    );
    parsed.sections = b.finish();
    Ok(parsed)
}

/// The delimiter among `, ; \t |` that splits the first lines into the most columns
/// consistently (same count on each line).
fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let mut best = (b',', 0usize);
    for d in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        let consistent = counts.iter().filter(|&&c| c == first).count();
        // Consistency first, then width.
        let score = if first == 0 {
            0
        } else {
            consistent * 1000 + first
        };
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

fn push_rows(b: &mut Builder, rows: &Rows) {
    let numbers: Vec<u32> = rows.iter().map(|(n, _)| *n).collect();
    let cells: Vec<Vec<String>> = rows.iter().map(|(_, r)| r.clone()).collect();
    table_sections(b, &cells, Some(&numbers));
}

fn checked_names(names: Vec<String>, name: &str, limits: &Limits) -> Result<Vec<String>> {
    if names.len() > limits.max_sheets {
        return Err(Error::limit(
            name,
            "sheets",
            names.len() as u64,
            limits.max_sheets as u64,
        ));
    }
    Ok(names)
}

/// Streams an XLSX sheet's cells into rows, after checking its declared dimensions.
fn xlsx_rows<RS: std::io::Read + std::io::Seek>(
    wb: &mut calamine::Xlsx<RS>,
    sheet: &str,
    name: &str,
    limits: &Limits,
) -> Result<Rows> {
    let err =
        |e: &dyn std::fmt::Display| Error::malformed(name, "xlsx", format!("sheet {sheet}: {e}"));
    let mut reader = wb.worksheet_cells_reader(sheet).map_err(|e| err(&e))?;
    let declared = reader.dimensions().len();
    if declared > limits.max_cells {
        return Err(Error::limit(
            name,
            "declared cells",
            declared,
            limits.max_cells,
        ));
    }
    let mut rows: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
    let mut cells = 0u64;
    while let Some(cell) = reader.next_cell().map_err(|e| err(&e))? {
        let (r, c) = cell.get_position();
        let text = data_ref_text(cell.get_value());
        if text.is_empty() {
            continue;
        }
        cells += 1;
        if cells > limits.max_cells {
            return Err(Error::limit(name, "cells", cells, limits.max_cells));
        }
        if !rows.contains_key(&r) && rows.len() >= limits.max_rows {
            return Err(Error::limit(
                name,
                "rows",
                rows.len() as u64 + 1,
                limits.max_rows as u64,
            ));
        }
        rows.entry(r).or_default().insert(c, text);
    }
    Ok(dense(rows))
}

/// Sparse rows to dense ones, starting at the first used column.
fn dense(rows: BTreeMap<u32, BTreeMap<u32, String>>) -> Rows {
    let first_col = rows
        .values()
        .filter_map(|r| r.keys().next().copied())
        .min()
        .unwrap_or(0);
    rows.into_iter()
        .map(|(r, cells)| {
            let mut row = Vec::new();
            for (c, v) in cells {
                let at = (c - first_col) as usize;
                // Cells are bounded by the file size; columns by the format (16,384).
                if at > 16_384 {
                    break;
                }
                row.resize(at, String::new());
                row.push(v);
            }
            (r.saturating_add(1), row)
        })
        .collect()
}

/// Every sheet of an XLS or ODS workbook through calamine's ranges.
fn ranges<RS, R>(
    mut wb: R,
    name: &str,
    fmt: &'static str,
    limits: &Limits,
) -> Result<Vec<(String, Rows)>>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    let names = checked_names(wb.sheet_names(), name, limits)?;
    let mut out = Vec::new();
    for sheet in names {
        let range = wb
            .worksheet_range(&sheet)
            .map_err(|e| Error::malformed(name, fmt, format!("sheet {sheet}: {e}")))?;
        if range.get_size().0 > limits.max_rows {
            return Err(Error::limit(
                name,
                "rows",
                range.get_size().0 as u64,
                limits.max_rows as u64,
            ));
        }
        let start_row = range.start().map_or(0, |(r, _)| r);
        let mut sparse: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
        for (r, c, v) in range.used_cells() {
            let text = data_text(v);
            if !text.is_empty() {
                let r = start_row.saturating_add(u32::try_from(r).unwrap_or(u32::MAX));
                sparse
                    .entry(r)
                    .or_default()
                    .insert(u32::try_from(c).unwrap_or(u32::MAX), text);
            }
        }
        out.push((sheet, dense(sparse)));
    }
    Ok(out)
}

fn data_text(d: &Data) -> String {
    match d {
        Data::Float(f) => number(*f),
        Data::DateTime(dt) if dt.is_datetime() => excel_date(dt.as_f64()),
        Data::Error(_) => String::new(),
        other => other.to_string().trim().to_owned(),
    }
}

fn data_ref_text(d: &DataRef<'_>) -> String {
    match d {
        DataRef::Float(f) => number(*f),
        DataRef::DateTime(dt) if dt.is_datetime() => excel_date(dt.as_f64()),
        DataRef::Error(_) | DataRef::Empty => String::new(),
        other => Data::from(other.clone()).to_string().trim().to_owned(),
    }
}

/// Integral floats without the `.0` that spreadsheets never show.
fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else if f.is_finite() && f.abs() >= 1e-4 && f.abs() < 1e15 {
        // Ten decimals hide binary noise (0.20000999999999182) as a spreadsheet would.
        let s = format!("{f:.10}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{f}")
    }
}

/// An Excel serial date (1900 system) as ISO 8601: `2024-03-01` or `2024-03-01 13:30`;
/// a time of day alone (a serial below 1, as in an `hh:mm` column) as `13:30`.
fn excel_date(serial: f64) -> String {
    if !(0.0..3_000_000.0).contains(&serial) {
        return number(serial);
    }
    // Rounded to the minute first, so 23:59:59.9 is the next day's 00:00.
    let total = (serial * 1440.0).round() as i64;
    let minutes = total % 1440;
    if serial < 1.0 {
        return format!("{:02}:{:02}", total / 60, total % 60);
    }
    // Serial 25569 is 1970-01-01 (Excel counts the fictional 1900-02-29).
    let days = total / 1440 - 25_569;
    let (y, m, d) = civil_from_days(days);
    if minutes == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}",
            minutes / 60,
            minutes % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Checks the DIMENSIONS records of an XLS file before calamine reserves memory for
/// them. The workbook stream is not reassembled from its sectors: every well-formed
/// BIFF8 DIMENSIONS record (type 0x0200, length 14) in the file is checked, which finds
/// the records calamine will read wherever the stream's sectors lie.
fn xls_dimensions(bytes: &[u8], name: &str, limits: &Limits) -> Result<()> {
    let pattern = [0x00, 0x02, 0x0E, 0x00];
    let mut i = 0;
    while let Some(pos) = bytes
        .get(i..)
        .and_then(|rest| rest.windows(4).position(|w| w == pattern))
    {
        let at = i + pos + 4;
        i = at;
        let Some(rec) = bytes.get(at..at + 14) else {
            break;
        };
        let u32_at = |o: usize| u32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
        let u16_at = |o: usize| u16::from_le_bytes([rec[o], rec[o + 1]]);
        let (r0, r1, c0, c1) = (u32_at(0), u32_at(4), u16_at(8), u16_at(10));
        if r1 < r0 || c1 < c0 || u16_at(12) != 0 {
            continue;
        }
        let cells = u64::from(r1 - r0).saturating_mul(u64::from(c1 - c0));
        if cells > limits.max_cells {
            return Err(Error::limit(
                name,
                "declared cells",
                cells,
                limits.max_cells,
            ));
        }
    }
    Ok(())
}

/// Refuses an ODS workbook when a sheet's non-empty cells span more than
/// [`Limits::max_cells`]: calamine sizes each sheet's grid from that bounding box
/// (32 bytes a cell, up to its own cap of 100 million cells), and row and column repeat
/// counts let a tiny `content.xml` stretch it.
fn ods_extent(content: &str, name: &str, limits: &Limits) -> Result<()> {
    use crate::xml::{Reader, Tok};
    let repeat = |tok: &Tok, key| {
        tok.attr(key)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    // Per sheet: the next row and column, and the bounding box (rows, columns).
    let (mut row, mut col) = (0u64, 0u64);
    let mut row_span = 1u64;
    let mut bbox: Option<Extent> = None;
    // The open cell: its first column, its span, and whether it holds anything.
    let mut cell: Option<(u64, u64, bool)> = None;
    // Tables open here: calamine's ODS reader never returns from a part that ends
    // inside one, so such a part is refused before calamine sees it.
    let mut open_tables = 0usize;
    let check = |bbox: Option<Extent>| -> Result<()> {
        if let Some((r0, r1, c0, c1)) = bbox {
            let cells = (r1 - r0 + 1).saturating_mul(c1 - c0 + 1);
            if cells > limits.max_cells {
                return Err(Error::limit(name, "cells", cells, limits.max_cells));
            }
        }
        Ok(())
    };
    for tok in Reader::new(content) {
        match (&tok, tok.local()) {
            (Tok::Start { empty, .. }, "table") => {
                (row, bbox) = (0, None);
                open_tables += usize::from(!*empty);
            }
            (Tok::End { .. }, "table") => {
                open_tables = open_tables.saturating_sub(1);
                check(bbox)?;
            }
            (Tok::Start { empty, .. }, "table-row") => {
                row_span = repeat(&tok, "table:number-rows-repeated");
                col = 0;
                if *empty {
                    row = row.saturating_add(row_span);
                }
            }
            (Tok::End { .. }, "table-row") => row = row.saturating_add(row_span),
            (Tok::Start { empty, .. }, "table-cell" | "covered-table-cell") => {
                let span = repeat(&tok, "table:number-columns-repeated");
                let valued = tok.attr("office:value-type").is_some();
                cell = Some((col, span, valued));
                if *empty {
                    close_cell(cell.take(), (row, row_span), &mut col, &mut bbox);
                }
            }
            (Tok::Text(t), _) if !t.trim().is_empty() => {
                if let Some((_, _, has)) = &mut cell {
                    *has = true;
                }
            }
            (Tok::End { .. }, "table-cell" | "covered-table-cell") => {
                close_cell(cell.take(), (row, row_span), &mut col, &mut bbox);
            }
            _ => {}
        }
    }
    if open_tables > 0 {
        return Err(Error::malformed(
            name,
            "ods",
            "content.xml ends inside a table (truncated)",
        ));
    }
    check(bbox)
}

/// The value types OpenDocument defines for a cell.
const ODS_VALUE_TYPES: &[&str] = &[
    "float",
    "percentage",
    "currency",
    "date",
    "time",
    "boolean",
    "string",
    "void",
];

/// `content` with every cell value type OpenDocument does not define (such as
/// `unknown`, which some writers emit for text) made `string`, so its text is read
/// rather than dropped; `None` when every value type is a defined one.
fn unknown_value_types_as_strings(content: &str) -> Option<String> {
    const KEY: &str = "office:value-type=";
    let mut out = String::new();
    let mut rest = content;
    let mut changed = false;
    while let Some(at) = rest.find(KEY) {
        let value_at = at + KEY.len();
        out.push_str(&rest[..value_at]);
        rest = &rest[value_at..];
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
            continue;
        };
        let Some(len) = rest[1..].find(quote) else {
            break;
        };
        let value = &rest[1..1 + len];
        if ODS_VALUE_TYPES.contains(&value) {
            out.push_str(&rest[..len + 2]);
        } else {
            out.push(quote);
            out.push_str("string");
            out.push(quote);
            changed = true;
        }
        rest = &rest[len + 2..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The zip `bytes` with the part `path` replaced by `content` (stored); the other
/// parts are copied as they are.
fn with_part(bytes: &[u8], path: &str, content: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len())));
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i)?;
        if file.name()? == path {
            drop(file);
            out.start_file(
                path,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored),
            )?;
            std::io::Write::write_all(&mut out, content)?;
        } else {
            out.raw_copy_file(file)?;
        }
    }
    Ok(out.finish()?.into_inner())
}

/// First and last row, first and last column of a sheet's filled cells.
type Extent = (u64, u64, u64, u64);

/// Ends an ODS cell (first column, column span, whether it holds anything) in the rows
/// `(first, span)`: a filled one widens `bbox`; the next cell starts after it.
fn close_cell(
    cell: Option<(u64, u64, bool)>,
    (r0, r_span): (u64, u64),
    col: &mut u64,
    bbox: &mut Option<Extent>,
) {
    let Some((c0, c_span, filled)) = cell else {
        return;
    };
    if filled {
        let (r1, c1) = (r0.saturating_add(r_span - 1), c0.saturating_add(c_span - 1));
        *bbox = Some(match *bbox {
            None => (r0, r1, c0, c1),
            Some((a, b, c, d)) => (a.min(r0), b.max(r1), c.min(c0), d.max(c1)),
        });
    }
    *col = c0.saturating_add(c_span);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_extent_spans_each_sheets_filled_cells() {
        let limits = Limits::default().max_cells(100);
        let cell = r#"<table:table-cell office:value-type="float" office:value="1"/>"#;
        let far = |rows: u32, cols: u32| {
            format!(
                r#"<table:table><table:table-row>{cell}</table:table-row><table:table-row table:number-rows-repeated="{rows}"/><table:table-row><table:table-cell table:number-columns-repeated="{cols}"/>{cell}</table:table-row></table:table>"#
            )
        };
        // 10 x 10 in each of two sheets: each sheet is measured alone.
        let two = format!("{}{}", far(8, 9), far(8, 9));
        assert!(ods_extent(&two, "ok.ods", &limits).is_ok());
        // 10 x 11.
        let err = ods_extent(&far(8, 10), "wide.ods", &limits).unwrap_err();
        assert!(
            matches!(err, Error::LimitExceeded { value: 110, .. }),
            "{err}"
        );
        // Empty cells, however many, span nothing; text makes a cell count.
        let blank = r#"<table:table><table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="1000"/><table:table-cell><text:p> </text:p></table:table-cell></table:table-row></table:table>"#;
        assert!(ods_extent(blank, "blank.ods", &limits).is_ok());
        let texted = blank.replace("<text:p> </text:p>", "<text:p>x</text:p>");
        assert!(ods_extent(&texted, "texted.ods", &limits).is_err());
    }

    #[test]
    fn undefined_cell_value_types_become_strings() {
        let xml = r#"<c office:value-type="unknown"/><c office:value-type='float'/><c office:value-type="string"/>"#;
        assert_eq!(
            unknown_value_types_as_strings(xml).as_deref(),
            Some(
                r#"<c office:value-type="string"/><c office:value-type='float'/><c office:value-type="string"/>"#
            )
        );
        assert_eq!(
            unknown_value_types_as_strings(r#"<c office:value-type="date"/>"#),
            None
        );
        assert_eq!(
            unknown_value_types_as_strings("office:value-type=x office:value-type=\"cut"),
            None
        );
    }

    #[test]
    fn excel_serial_dates_become_iso() {
        assert_eq!(excel_date(45_352.0), "2024-03-01");
        assert_eq!(excel_date(45_352.562_5), "2024-03-01 13:30");
        assert_eq!(excel_date(45_352.999_999_9), "2024-03-02");
        assert_eq!(excel_date(0.273_611_1), "06:34");
        assert_eq!(excel_date(0.0), "00:00");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(2.5), "2.5");
    }

    #[test]
    fn delimiter_is_sniffed() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter("name,note\nx,\"a;b;c\"\n"), b',');
    }
}
