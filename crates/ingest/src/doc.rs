//! Legacy Word documents (`.doc`, Word 97 to 2003: a compound file whose
//! `WordDocument` stream holds the text in pieces listed by a piece table). Headings
//! come from the paragraph styles (the built-in heading styles, or an outline level),
//! list items from list numbering, tables from the cell and row marks; fields keep
//! their result and drop their code; footnotes, comments, endnotes and text boxes
//! follow the body as notes. The summary information gives title, author and dates.
//! Word 6 and 95 files (an older layout) are reported as unsupported.

use crate::builder::{table_sections, Builder};
use crate::document::{Document, Input, Parsed, SectionKind};
use crate::error::{Error, Result};
use crate::ole::{le_u16, le_u32, utf16le, Compound};

const FORMAT: &str = "doc";
/// `wIdent` of a Word binary file.
const WORD_IDENT: u16 = 0xA5EC;
/// The first `nFib` of Word 97; older versions lay the FIB out differently.
const NFIB_WORD97: u16 = 0x00C1;
/// Bytes of a formatted disk page (FKP) of paragraph properties.
const FKP: usize = 512;

/// A Word 97-2003 document.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let mut file = Compound::open(input.bytes, input.name, FORMAT, input.limits)?;
    let word = file
        .stream("/WordDocument")?
        .ok_or_else(|| file.malformed("no WordDocument stream (not a Word document)"))?;
    let fib = Fib::read(&word)
        .ok_or_else(|| file.malformed("the file information block is cut short"))?;
    if fib.ident != WORD_IDENT {
        return Err(file.malformed("the WordDocument stream does not start a Word file"));
    }
    if fib.encrypted {
        return Err(Error::Encrypted {
            name: input.name.to_owned(),
            format: "Word document",
        });
    }
    if fib.nfib < NFIB_WORD97 {
        return Err(Error::Unsupported {
            name: input.name.to_owned(),
            reason: "Word 6 or Word 95 document (only Word 97 and later are read)".to_owned(),
        });
    }
    let table_name = if fib.table_one { "/1Table" } else { "/0Table" };
    let table = file
        .stream(table_name)?
        .ok_or_else(|| file.malformed(format!("no {} stream", &table_name[1..])))?;
    let mut parsed = Parsed::default();
    file.summary(&mut parsed)?;

    let pieces = pieces(&word, &table, &fib);
    let styles = styles(&table, &fib);
    let paragraphs = ParagraphProperties::read(&word, &table, &fib);
    let reader = Reader {
        word: &word,
        pieces: &pieces,
        styles: &styles,
        paragraphs: &paragraphs,
    };
    let mut b = Builder::new();
    let mut start = 0u32;
    for (part, len) in fib.parts() {
        let end = start.saturating_add(len);
        if len > 0 {
            if part != Part::Body {
                b.reset_headings();
            }
            reader.part(part, start, end, &mut b);
        }
        start = end;
    }
    parsed.sections = b.finish();
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    Ok(vec![parsed.into_document(input)])
}

/// What the file information block says about the document.
struct Fib {
    ident: u16,
    nfib: u16,
    encrypted: bool,
    /// The table stream is `1Table` (else `0Table`).
    table_one: bool,
    /// Character counts of the body, footnotes, headers, comments, endnotes, text
    /// boxes and header text boxes, in the order the text holds them.
    counts: [u32; 7],
    /// (offset, length) in the table stream of the stylesheet, the paragraph
    /// properties' bin table and the piece table.
    stylesheet: (u32, u32),
    paragraph_bins: (u32, u32),
    clx: (u32, u32),
    /// Where the text starts in the `WordDocument` stream, for a file without a
    /// piece table.
    fc_min: u32,
}

/// A part of the document's text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Body,
    Footnotes,
    Headers,
    Comments,
    Endnotes,
    TextBoxes,
    HeaderTextBoxes,
}

impl Fib {
    fn read(word: &[u8]) -> Option<Fib> {
        let ident = le_u16(word, 0)?;
        let nfib = le_u16(word, 2)?;
        let flags = le_u16(word, 0x0A)?;
        let fc_min = le_u32(word, 0x18)?;
        // FibBase, then counted arrays of 16-bit values, 32-bit values and
        // (offset, length) pairs.
        let csw = usize::from(le_u16(word, 32)?);
        let lw_at = 34 + 2 * csw;
        let cslw = usize::from(le_u16(word, lw_at)?);
        let lw = |i: usize| {
            if i < cslw {
                le_u32(word, lw_at + 2 + 4 * i)
            } else {
                Some(0)
            }
        };
        let pairs_at = lw_at + 2 + 4 * cslw;
        let pairs = usize::from(le_u16(word, pairs_at)?);
        let pair = |i: usize| {
            if i < pairs {
                let at = pairs_at + 2 + 8 * i;
                Some((le_u32(word, at)?, le_u32(word, at + 4)?))
            } else {
                Some((0, 0))
            }
        };
        Some(Fib {
            ident,
            nfib,
            encrypted: flags & 0x0100 != 0 || flags & 0x8000 != 0,
            table_one: flags & 0x0200 != 0,
            counts: [lw(3)?, lw(4)?, lw(5)?, lw(7)?, lw(8)?, lw(9)?, lw(10)?],
            stylesheet: pair(1)?,
            paragraph_bins: pair(13)?,
            clx: pair(33)?,
            fc_min,
        })
    }

    /// The parts of the text and their lengths in characters, in order.
    fn parts(&self) -> impl Iterator<Item = (Part, u32)> + '_ {
        [
            Part::Body,
            Part::Footnotes,
            Part::Headers,
            Part::Comments,
            Part::Endnotes,
            Part::TextBoxes,
            Part::HeaderTextBoxes,
        ]
        .into_iter()
        .zip(self.counts)
    }
}

/// A run of text: characters `cp..cp + len` stored at byte `fc` of the
/// `WordDocument` stream, one byte a character (Windows-1252) or two (UTF-16).
#[derive(Clone, Copy, Debug)]
struct Piece {
    cp: u32,
    len: u32,
    fc: u32,
    compressed: bool,
}

/// The piece table (the `Pcdt` of the `Clx` in the table stream), or one piece from
/// `fcMin` when the file has none.
fn pieces(word: &[u8], table: &[u8], fib: &Fib) -> Vec<Piece> {
    let (at, len) = fib.clx;
    let clx = table.get(at as usize..(at as usize).saturating_add(len as usize));
    let mut out = Vec::new();
    if let Some(clx) = clx.filter(|c| !c.is_empty()) {
        let mut i = 0;
        // Property modifiers (`Prc`, 0x01) come first; the piece table is 0x02.
        while let Some(&kind) = clx.get(i) {
            match kind {
                0x01 => i += 3 + usize::from(le_u16(clx, i + 1).unwrap_or(u16::MAX)),
                0x02 => {
                    let Some(lcb) = le_u32(clx, i + 1) else { break };
                    let plc = clx.get(i + 5..).unwrap_or(&[]);
                    let plc = &plc[..plc.len().min(lcb as usize)];
                    // n + 1 character positions, then n 8-byte piece descriptors.
                    let n = plc.len().saturating_sub(4) / 12;
                    for k in 0..n {
                        let (Some(cp), Some(next)) = (le_u32(plc, 4 * k), le_u32(plc, 4 * k + 4))
                        else {
                            break;
                        };
                        let Some(raw) = le_u32(plc, 4 * (n + 1) + 8 * k + 2) else {
                            break;
                        };
                        let compressed = raw & 0x4000_0000 != 0;
                        let fc = raw & 0x3FFF_FFFF;
                        out.push(Piece {
                            cp,
                            len: next.saturating_sub(cp),
                            fc: if compressed { fc / 2 } else { fc },
                            compressed,
                        });
                    }
                    break;
                }
                _ => break,
            }
        }
    }
    if out.is_empty() {
        let total: u32 = fib.counts.iter().fold(0, |a, &c| a.saturating_add(c));
        let available = word.len().saturating_sub(fib.fc_min as usize);
        out.push(Piece {
            cp: 0,
            len: total.min(u32::try_from(available).unwrap_or(u32::MAX)),
            fc: fib.fc_min,
            compressed: true,
        });
    }
    out
}

/// What a paragraph style means.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Style {
    #[default]
    Plain,
    Heading(u8),
    Title,
}

/// Styles by index (`istd`), from the stylesheet's built-in style identifiers.
fn styles(table: &[u8], fib: &Fib) -> Vec<Style> {
    let (at, len) = fib.stylesheet;
    let Some(sheet) = table.get(at as usize..(at as usize).saturating_add(len as usize)) else {
        return Vec::new();
    };
    let Some(header) = le_u16(sheet, 0) else {
        return Vec::new();
    };
    let count = le_u16(sheet, 2).unwrap_or(0);
    let mut out = Vec::with_capacity(usize::from(count));
    let mut i = 2 + usize::from(header);
    for _ in 0..count {
        let Some(size) = le_u16(sheet, i) else { break };
        let style = if size == 0 {
            Style::Plain
        } else {
            match le_u16(sheet, i + 2).map_or(0, |v| v & 0x0FFF) {
                sti @ 1..=9 => Style::Heading(sti as u8),
                62 => Style::Title,
                _ => Style::Plain,
            }
        };
        out.push(style);
        i += 2 + usize::from(size);
    }
    out
}

/// What a paragraph's own properties say, as far as trawl uses them.
#[derive(Clone, Copy, Default, Debug)]
struct ParagraphProps {
    /// Style index.
    istd: u16,
    /// Outline level 0..=8 (level 1..=9 headings); 9 is body text.
    outline: Option<u8>,
    list: bool,
    in_table: bool,
    /// The paragraph is a table row's end mark.
    row_end: bool,
}

/// Paragraph properties by the file offset of the text they cover.
struct ParagraphProperties {
    /// (first byte, end byte, properties), sorted.
    runs: Vec<(u32, u32, ParagraphProps)>,
}

impl ParagraphProperties {
    fn read(word: &[u8], table: &[u8], fib: &Fib) -> ParagraphProperties {
        let mut runs = Vec::new();
        let (at, len) = fib.paragraph_bins;
        let bins = table
            .get(at as usize..(at as usize).saturating_add(len as usize))
            .unwrap_or(&[]);
        let n = bins.len().saturating_sub(4) / 8;
        for k in 0..n {
            let Some(page) = le_u32(bins, 4 * (n + 1) + 4 * k) else {
                break;
            };
            let start = (page & 0x003F_FFFF) as usize * FKP;
            let Some(fkp) = word.get(start..start + FKP) else {
                continue;
            };
            let crun = usize::from(fkp[FKP - 1]);
            for r in 0..crun {
                let (Some(first), Some(end)) = (le_u32(fkp, 4 * r), le_u32(fkp, 4 * r + 4)) else {
                    break;
                };
                let offset = fkp
                    .get(4 * (crun + 1) + 13 * r)
                    .map_or(0, |&o| 2 * usize::from(o));
                runs.push((first, end, papx(fkp, offset)));
            }
        }
        runs.sort_by_key(|r| r.0);
        ParagraphProperties { runs }
    }

    /// The properties of the paragraph whose mark is at byte `fc`.
    fn at(&self, fc: u32) -> ParagraphProps {
        let i = self.runs.partition_point(|r| r.0 <= fc);
        match i.checked_sub(1).map(|i| self.runs[i]) {
            Some((_, end, props)) if fc < end => props,
            _ => ParagraphProps::default(),
        }
    }
}

/// The properties in the `PapxInFkp` at `offset` of an FKP (0: none).
fn papx(fkp: &[u8], offset: usize) -> ParagraphProps {
    let mut props = ParagraphProps::default();
    if offset == 0 {
        return props;
    }
    let Some(&cb) = fkp.get(offset) else {
        return props;
    };
    let (start, size) = if cb == 0 {
        let Some(&cb2) = fkp.get(offset + 1) else {
            return props;
        };
        (offset + 2, 2 * usize::from(cb2))
    } else {
        (offset + 1, (2 * usize::from(cb)).saturating_sub(1))
    };
    let Some(bytes) = fkp.get(start..(start + size).min(fkp.len())) else {
        return props;
    };
    props.istd = le_u16(bytes, 0).unwrap_or(0);
    let mut i = 2;
    while let Some(sprm) = le_u16(bytes, i) {
        let operand = i + 2;
        let byte = bytes.get(operand).copied().unwrap_or(0);
        let len = match sprm >> 13 {
            0 | 1 => 1,
            2 | 4 | 5 => 2,
            3 => 4,
            7 => 3,
            // Variable: a size byte first; the table definition and tab changes
            // give a 16-bit size.
            _ if sprm == 0xD608 || sprm == 0xC615 => {
                usize::from(le_u16(bytes, operand).unwrap_or(u16::MAX)) + 1
            }
            _ => 1 + usize::from(byte),
        };
        match sprm {
            0x2416 => props.in_table = byte != 0,
            0x2417 | 0x244C => props.row_end |= byte != 0,
            0x2640 => props.outline = Some(byte),
            0x460B => props.list = le_u16(bytes, operand).unwrap_or(0) != 0,
            _ => {}
        }
        i = operand + len;
    }
    props
}

/// Reads parts of the text into sections.
struct Reader<'a> {
    word: &'a [u8],
    pieces: &'a [Piece],
    styles: &'a [Style],
    paragraphs: &'a ParagraphProperties,
}

impl Reader<'_> {
    /// Characters `start..end` with, for each paragraph or cell mark, its file offset.
    fn text(&self, start: u32, end: u32, mut each: impl FnMut(char, u32)) {
        for piece in self.pieces {
            let from = piece.cp.max(start);
            let to = piece.cp.saturating_add(piece.len).min(end);
            if from >= to {
                continue;
            }
            let width = if piece.compressed { 1 } else { 2 };
            let first = piece.fc as usize + (from - piece.cp) as usize * width;
            let count = (to - from) as usize;
            let Some(bytes) = self
                .word
                .get(first..first.saturating_add(count * width).min(self.word.len()))
            else {
                continue;
            };
            if piece.compressed {
                let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                for (k, c) in text.chars().enumerate() {
                    each(c, (first + k) as u32);
                }
            } else {
                let mut fc = first as u32;
                for c in utf16le(bytes).chars() {
                    each(c, fc);
                    fc += 2 * c.len_utf16() as u32;
                }
            }
        }
    }

    /// The part's text, `start..end`, as sections.
    fn part(&self, part: Part, start: u32, end: u32, b: &mut Builder) {
        let mut para = String::new();
        // Field nesting: true while inside a field's code (before its separator).
        let mut fields: Vec<bool> = Vec::new();
        let mut cell = String::new();
        let mut cells: Vec<String> = Vec::new();
        let mut after_cell = false;
        let mut rows: Vec<Vec<String>> = Vec::new();
        self.text(start, end, |c, fc| {
            match c {
                '\u{13}' => return fields.push(true),
                '\u{14}' => {
                    if let Some(code) = fields.last_mut() {
                        *code = false;
                    }
                    return;
                }
                '\u{15}' => {
                    fields.pop();
                    return;
                }
                _ if fields.iter().any(|&code| code) => return,
                _ => {}
            }
            match c {
                '\r' | '\u{7}' | '\u{c}' => {
                    let props = self.paragraphs.at(fc);
                    let text = std::mem::take(&mut para);
                    // Without paragraph properties, a row's end mark is told by
                    // following a cell's end mark with nothing between.
                    let row_end = props.row_end
                        || (!props.in_table && after_cell && c == '\u{7}' && text.is_empty());
                    after_cell = c == '\u{7}' && !row_end;
                    if c == '\u{7}' && row_end {
                        if !cell.is_empty() {
                            cells.push(std::mem::take(&mut cell));
                        }
                        rows.push(std::mem::take(&mut cells));
                    } else if c == '\u{7}' {
                        cell.push_str(&text);
                        cells.push(std::mem::take(&mut cell));
                    } else if props.in_table {
                        // A paragraph within a cell.
                        cell.push_str(&text);
                        cell.push(' ');
                    } else {
                        if !rows.is_empty() || !cells.is_empty() {
                            rows.extend((!cells.is_empty()).then(|| std::mem::take(&mut cells)));
                            table_sections(b, &std::mem::take(&mut rows), None);
                        }
                        self.paragraph(part, &text, props, b);
                    }
                }
                '\u{b}' => para.push('\n'),
                '\u{1e}' => para.push('-'),
                '\u{1f}' | '\u{1}' | '\u{2}' | '\u{5}' | '\u{8}' => {}
                c => para.push(c),
            }
        });
        if !cell.is_empty() {
            cells.push(cell);
        }
        if !cells.is_empty() {
            rows.push(cells);
        }
        if !rows.is_empty() {
            table_sections(b, &rows, None);
        }
        let props = ParagraphProps::default();
        self.paragraph(part, &para, props, b);
    }

    fn paragraph(&self, part: Part, text: &str, props: ParagraphProps, b: &mut Builder) {
        if text.trim().is_empty() {
            return;
        }
        let label = match part {
            Part::Body => "",
            Part::Footnotes => "footnote: ",
            Part::Comments => "comment: ",
            Part::Endnotes => "endnote: ",
            Part::Headers | Part::TextBoxes | Part::HeaderTextBoxes => {
                return b.push(SectionKind::Paragraph, text);
            }
        };
        if !label.is_empty() {
            return b.push(SectionKind::Note, &format!("{label}{}", text.trim()));
        }
        let style = self
            .styles
            .get(usize::from(props.istd))
            .copied()
            .unwrap_or_default();
        match (style, props.outline) {
            (Style::Heading(level), _) => b.heading(level.min(6), text),
            (Style::Title, _) => b.heading(1, text),
            (_, Some(level @ 0..=8)) => b.heading(level.min(5) + 1, text),
            _ if props.list => b.push(SectionKind::ListItem, text),
            _ => b.push(SectionKind::Paragraph, text),
        }
    }
}
