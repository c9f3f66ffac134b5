//! OpenDocument text (ODT) and presentations (ODP): `content.xml` as sections, with
//! `meta.xml` as metadata.
//!
//! Text documents give headings (`text:h` at their outline level), paragraphs, list
//! items, tables (one row per line, the header row repeated when a table is split)
//! and notes. Presentations give one group of sections per slide (`draw:page`): the
//! title frame as a heading, the other frames' paragraphs, tables, and the speaker
//! notes, each located by slide number.

use crate::builder::{table_sections, Builder};
use crate::document::{Document, Input, MetaValue, Parsed, SectionKind};
use crate::error::{Error, Result};
use crate::xml::{Reader, Tok};
use crate::zipped::Zip;

/// An ODT or ODP file: one document.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let format = input.format.as_str();
    let mut zip = Zip::open(input.bytes, input.name, format, input.limits)?;
    let Some(content) = zip.text("content.xml")? else {
        return Err(Error::malformed(input.name, format, "no content.xml"));
    };
    let mut parsed = Parsed::default();
    if let Some(meta) = zip.text("meta.xml")? {
        meta_properties(&meta, &mut parsed);
    }
    let mut body = Body::new(matches!(input.format, crate::Format::Odp));
    for tok in Reader::new(&content) {
        body.token(&tok);
    }
    if body.slides > input.limits.max_slides {
        return Err(Error::limit(
            input.name,
            "slides",
            body.slides as u64,
            input.limits.max_slides as u64,
        ));
    }
    if body.presentation {
        parsed
            .metadata
            .insert("slides".into(), MetaValue::Int(body.slides as i64));
    }
    parsed.sections = body.b.finish();
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    Ok(vec![parsed.into_document(input)])
}

/// Dublin Core and ODF metadata (`meta.xml`) as the document's title and metadata.
fn meta_properties(xml: &str, parsed: &mut Parsed) {
    let mut field: Option<&'static str> = None;
    let mut value = String::new();
    for tok in Reader::new(xml) {
        match &tok {
            Tok::Start { empty: false, .. } => {
                field = match tok.local() {
                    "title" => Some("title"),
                    "initial-creator" | "creator" => Some("author"),
                    "subject" => Some("subject"),
                    "keyword" => Some("keywords"),
                    "description" => Some("description"),
                    "creation-date" => Some("created"),
                    "date" => Some("modified"),
                    _ => None,
                };
                value.clear();
            }
            Tok::Text(t) if field.is_some() => value.push_str(t),
            Tok::End { .. } => {
                if let Some(f) = field.take() {
                    let v = crate::builder::squash(&value);
                    if v.is_empty() {
                        continue;
                    }
                    if f == "title" {
                        parsed.title = Some(v.clone());
                    }
                    // Several keywords, one element each.
                    match parsed.metadata.get_mut(f) {
                        Some(MetaValue::Str(old)) if f == "keywords" => {
                            old.push_str(", ");
                            old.push_str(&v);
                        }
                        // The first creator is the author; a later one edited it.
                        Some(_) if f == "author" => {}
                        _ => {
                            parsed.metadata.insert(f.into(), MetaValue::Str(v));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// What a paragraph being read will become.
#[derive(Clone, Copy, PartialEq)]
enum Block {
    Heading(u8),
    Paragraph,
    ListItem,
    Note,
    Title,
}

/// The state of the walk through `content.xml`.
struct Body {
    b: Builder,
    presentation: bool,
    slides: usize,
    /// Paragraphs being read, innermost last (a note's paragraphs sit inside the
    /// paragraph that cites it).
    open: Vec<(Block, String)>,
    /// List nesting depth.
    lists: usize,
    /// Inside a note's citation mark (its number, not its text).
    citation: usize,
    /// Tables being read, innermost last: rows of cells, and the cell being read.
    tables: Vec<Table>,
    /// Inside `presentation:notes`.
    notes: bool,
    /// Inside a frame whose class is `title`.
    title_frame: bool,
    /// Inside the body (`office:text` or `office:presentation`), not styles or forms.
    in_body: bool,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
    cell: Option<String>,
    header_rows: usize,
    in_header: bool,
}

impl Body {
    fn new(presentation: bool) -> Body {
        Body {
            b: Builder::new(),
            presentation,
            slides: 0,
            open: Vec::new(),
            lists: 0,
            citation: 0,
            tables: Vec::new(),
            notes: false,
            title_frame: false,
            in_body: false,
        }
    }

    fn token(&mut self, tok: &Tok<'_>) {
        match tok {
            Tok::Start { empty, .. } => self.start(tok, *empty),
            Tok::End { .. } => self.end(tok.local()),
            Tok::Text(t) => self.text(t),
        }
    }

    fn start(&mut self, tok: &Tok<'_>, empty: bool) {
        let name = tok.local();
        if matches!(name, "text" | "presentation") && !empty && !self.in_body {
            // office:text / office:presentation (text:* elements have other names).
            if tok_name_is(tok, "office") {
                self.in_body = true;
            }
            return;
        }
        if !self.in_body {
            return;
        }
        match name {
            "page" if !empty => {
                self.slides += 1;
                self.b.reset_headings();
                self.b.location.slide = Some(u32::try_from(self.slides).unwrap_or(u32::MAX));
            }
            "frame" => {
                self.title_frame = tok.attr("presentation:class").as_deref() == Some("title");
            }
            "notes" if !empty => self.notes = true,
            "h" if !empty => {
                let level = tok
                    .attr("text:outline-level")
                    .and_then(|l| l.parse::<u8>().ok())
                    .unwrap_or(1)
                    .clamp(1, 6);
                self.open.push((Block::Heading(level), String::new()));
            }
            "p" if !empty => {
                let block = if self.notes || self.in_note() {
                    Block::Note
                } else if self.title_frame {
                    Block::Title
                } else if self.lists > 0 {
                    Block::ListItem
                } else {
                    Block::Paragraph
                };
                self.open.push((block, String::new()));
            }
            "list" if !empty => self.lists += 1,
            "note-citation" if !empty => self.citation += 1,
            "note-body" if !empty => self.open.push((Block::Note, String::new())),
            "s" => {
                let n = tok
                    .attr("text:c")
                    .and_then(|c| c.parse::<usize>().ok())
                    .unwrap_or(1)
                    .min(64);
                self.append(&" ".repeat(n));
            }
            "tab" => self.append("\t"),
            "line-break" => self.append("\n"),
            "table" if !empty => self.tables.push(Table::default()),
            "table-header-rows" if !empty => {
                if let Some(t) = self.tables.last_mut() {
                    t.in_header = true;
                }
            }
            "table-row" if !empty => {
                if let Some(t) = self.tables.last_mut() {
                    t.rows.push(Vec::new());
                    if t.in_header {
                        t.header_rows += 1;
                    }
                }
            }
            "table-cell" | "covered-table-cell" => {
                if let Some(t) = self.tables.last_mut() {
                    if empty {
                        if let Some(row) = t.rows.last_mut() {
                            row.push(String::new());
                        }
                    } else {
                        t.cell = Some(String::new());
                    }
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        if !self.in_body {
            return;
        }
        match name {
            "text" | "presentation" if self.open.is_empty() && self.tables.is_empty() => {
                // The end of office:text / office:presentation (or of a stray element
                // of that name, which changes nothing).
            }
            "h" | "p" | "note-body" => self.close_block(),
            "list" => self.lists = self.lists.saturating_sub(1),
            "note-citation" => self.citation = self.citation.saturating_sub(1),
            "frame" => self.title_frame = false,
            "notes" => self.notes = false,
            "table-header-rows" => {
                if let Some(t) = self.tables.last_mut() {
                    t.in_header = false;
                }
            }
            "table-cell" | "covered-table-cell" => {
                if let Some(t) = self.tables.last_mut() {
                    if let Some(cell) = t.cell.take() {
                        let cell = crate::builder::squash(&cell);
                        if let Some(row) = t.rows.last_mut() {
                            row.push(cell);
                        }
                    }
                }
            }
            "table" => {
                if let Some(t) = self.tables.pop() {
                    self.emit_table(t);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, t: &str) {
        if self.in_body && self.citation == 0 {
            self.append(t);
        }
    }

    fn in_note(&self) -> bool {
        self.open.iter().any(|(b, _)| *b == Block::Note)
    }

    /// Adds text to the paragraph being read (or to the table cell it sits in).
    fn append(&mut self, s: &str) {
        if let Some((_, buf)) = self.open.last_mut() {
            buf.push_str(s);
        } else if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
            cell.push_str(s);
        }
    }

    fn close_block(&mut self) {
        let Some((block, text)) = self.open.pop() else {
            return;
        };
        // A paragraph inside a table cell belongs to the cell.
        let in_cell = self.tables.last().is_some_and(|t| t.cell.is_some());
        if in_cell && self.open.is_empty() {
            if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(&text);
            }
            return;
        }
        if block == Block::Note && !self.open.is_empty() {
            // A note's body: its paragraphs were emitted as they closed.
            if text.trim().is_empty() {
                return;
            }
        }
        let text = crate::builder::squash(&text);
        if text.is_empty() {
            return;
        }
        match block {
            Block::Heading(level) => self.b.heading(level, &text),
            Block::Title => self.b.heading(1, &text),
            Block::Paragraph => self.b.push(SectionKind::Paragraph, &text),
            Block::ListItem => self.b.push(SectionKind::ListItem, &text),
            Block::Note => self.b.push(SectionKind::Note, &text),
        }
    }

    fn emit_table(&mut self, t: Table) {
        let rows: Vec<Vec<String>> = t
            .rows
            .into_iter()
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .map(|mut r| {
                // Trailing empty cells (a sheet-wide row) carry nothing.
                while r.last().is_some_and(String::is_empty) {
                    r.pop();
                }
                r
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        if let Some(cell) = self.tables.last_mut().and_then(|outer| outer.cell.as_mut()) {
            // A table nested in a cell: its text joins the cell.
            let flat: Vec<String> = rows.iter().map(|r| r.join(" ")).collect();
            cell.push_str(&flat.join(" "));
            return;
        }
        table_sections(&mut self.b, &rows, None);
    }
}

/// Whether the element's qualified name has the namespace prefix `prefix`.
fn tok_name_is(tok: &Tok<'_>, prefix: &str) -> bool {
    match tok {
        Tok::Start { name, .. } => name.split_once(':').is_some_and(|(p, _)| p == prefix),
        _ => false,
    }
}
