//! DOCX: paragraphs with heading levels from their styles, list items, tables (header row
//! first), footnotes, endnotes and comments, and the core properties.

use std::collections::HashMap;

use crate::builder::{table_sections, Builder};
use crate::document::{Document, Input, Parsed};
use crate::document::{MetaValue, SectionKind};
use crate::error::Result;
use crate::limits::Limits;
use crate::xml::{Reader, Tok};
use crate::zipped::Zip;

const FORMAT: &str = "docx";

/// What a paragraph style means for the text.
#[derive(Clone, Copy, PartialEq)]
enum Style {
    Heading(u8),
    List,
    Quote,
    Code,
    Plain,
}

/// A DOCX file: one document.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    Ok(vec![
        parts(input.bytes, input.name, input.limits)?.into_document(input)
    ])
}

fn parts(bytes: &[u8], name: &str, limits: &Limits) -> Result<Parsed> {
    let mut zip = Zip::open(bytes, name, FORMAT, limits)?;
    let Some(body) = zip.text("word/document.xml")? else {
        return Err(crate::Error::malformed(
            name,
            FORMAT,
            "no word/document.xml",
        ));
    };
    let styles = zip
        .text("word/styles.xml")?
        .map(|s| styles(&s))
        .unwrap_or_default();
    let mut parsed = Parsed::default();
    if let Some(core) = zip.text("docProps/core.xml")? {
        core_properties(&core, &mut parsed);
    }
    let mut b = Builder::new();
    body_sections(&body, &styles, &mut b);
    for (part, what) in [
        ("word/footnotes.xml", "footnote"),
        ("word/endnotes.xml", "endnote"),
        ("word/comments.xml", "comment"),
    ] {
        if let Some(xml) = zip.text(part)? {
            b.reset_headings();
            notes(&xml, what, &mut b);
        }
    }
    parsed.sections = b.finish();
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    Ok(parsed)
}

/// Style id -> meaning, from the style names ("heading 2", "Title", "List Bullet") and
/// outline levels.
fn styles(xml: &str) -> HashMap<String, Style> {
    let mut out = HashMap::new();
    let mut id = None;
    let mut style = Style::Plain;
    for tok in Reader::new(xml) {
        match (&tok, tok.local()) {
            (Tok::Start { .. }, "style") => {
                id = tok.attr("w:styleId");
                style = Style::Plain;
            }
            (Tok::Start { .. }, "name") if id.is_some() => {
                style = style_from_name(&tok.attr("w:val").unwrap_or_default());
            }
            (Tok::Start { .. }, "outlineLvl") if style == Style::Plain => {
                if let Some(l) = tok.attr("w:val").and_then(|v| v.parse::<u8>().ok()) {
                    if l < 9 {
                        style = Style::Heading(l.saturating_add(1).min(6));
                    }
                }
            }
            (Tok::End { .. }, "style") => {
                if let Some(id) = id.take() {
                    out.insert(id, style);
                }
            }
            _ => {}
        }
    }
    out
}

fn style_from_name(name: &str) -> Style {
    let lower = name.to_ascii_lowercase();
    if lower == "title" {
        return Style::Heading(1);
    }
    if let Some(n) = lower.strip_prefix("heading") {
        if let Ok(l) = n.trim().parse::<u8>() {
            return Style::Heading(l.clamp(1, 6));
        }
    }
    if lower.starts_with("list") {
        return Style::List;
    }
    if lower.contains("quote") {
        return Style::Quote;
    }
    if lower.contains("code") || lower.contains("source") || lower == "html preformatted" {
        return Style::Code;
    }
    Style::Plain
}

/// The main body: paragraphs and tables in order. Nested tables are flattened into the
/// cell that holds them.
fn body_sections(xml: &str, styles: &HashMap<String, Style>, b: &mut Builder) {
    let mut para = String::new();
    let mut style = Style::Plain;
    let mut numbered = false;
    let mut skip = 0usize; // inside deleted text or field instructions
    let mut table_depth = 0usize;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell = String::new();
    // Text is the content of `w:t` (and `m:t` in equations) only: whitespace between
    // elements of a pretty-printed document.xml is not.
    let mut in_text = false;
    for tok in Reader::new(xml) {
        let start = matches!(tok, Tok::Start { empty: false, .. });
        let empty = matches!(tok, Tok::Start { empty: true, .. });
        match (&tok, tok.local()) {
            (Tok::Start { .. }, "t") if start => in_text = true,
            (Tok::End { .. }, "t") => in_text = false,
            (Tok::Text(t), _) if skip == 0 && in_text => {
                if table_depth > 0 {
                    cell.push_str(t);
                } else {
                    para.push_str(t);
                }
            }
            // Deleted text, field codes, and the fallback copy of text boxes that
            // the preferred `mc:Choice` already holds.
            (Tok::Start { .. }, "delText" | "instrText" | "Fallback") if start => skip += 1,
            (Tok::End { .. }, "delText" | "instrText" | "Fallback") => {
                skip = skip.saturating_sub(1);
            }
            (Tok::Start { .. }, "t") if empty => {}
            (Tok::Start { .. }, "tab" | "br" | "cr") => {
                if table_depth > 0 {
                    cell.push(' ');
                } else {
                    para.push(' ');
                }
            }
            (Tok::Start { .. }, "p") if start && table_depth == 0 && skip == 0 => {
                para.clear();
                style = Style::Plain;
                numbered = false;
            }
            (Tok::Start { .. }, "pStyle") if table_depth == 0 => {
                if let Some(id) = tok.attr("w:val") {
                    style = styles
                        .get(&id)
                        .copied()
                        .unwrap_or_else(|| style_from_name(&id));
                }
            }
            (Tok::Start { .. }, "numPr") if table_depth == 0 => numbered = true,
            (Tok::Start { .. }, "outlineLvl") if table_depth == 0 && style == Style::Plain => {
                if let Some(l) = tok.attr("w:val").and_then(|v| v.parse::<u8>().ok()) {
                    if l < 9 {
                        style = Style::Heading(l.saturating_add(1).min(6));
                    }
                }
            }
            (Tok::End { .. }, "p") if table_depth == 0 && skip == 0 => {
                let text = std::mem::take(&mut para);
                match style {
                    Style::Heading(level) => b.heading(level, &text),
                    Style::Code => b.push_raw(SectionKind::Code, &text),
                    Style::Quote => b.push(SectionKind::Quote, &text),
                    Style::List => b.push(SectionKind::ListItem, &text),
                    Style::Plain if numbered => b.push(SectionKind::ListItem, &text),
                    Style::Plain => b.push(SectionKind::Paragraph, &text),
                }
            }
            (Tok::End { .. }, "p") => cell.push(' '),
            (Tok::Start { .. }, "tbl") if start => {
                if table_depth == 0 {
                    rows.clear();
                }
                table_depth += 1;
            }
            (Tok::End { .. }, "tbl") => {
                table_depth = table_depth.saturating_sub(1);
                if table_depth == 0 {
                    table_sections(b, &std::mem::take(&mut rows), None);
                }
            }
            (Tok::Start { .. }, "tr") if start && table_depth == 1 => rows.push(Vec::new()),
            (Tok::Start { .. }, "tc") if start && table_depth == 1 => cell.clear(),
            (Tok::End { .. }, "tc") if table_depth == 1 => {
                if let Some(row) = rows.last_mut() {
                    row.push(crate::builder::squash(&cell));
                }
                cell.clear();
            }
            _ => {}
        }
    }
}

/// Footnotes, endnotes or comments (`what` is also the element name): one note
/// section each.
fn notes(xml: &str, what: &str, b: &mut Builder) {
    let mut text = String::new();
    let mut author = None;
    let mut inside = false;
    let mut skip = false;
    let mut in_text = false;
    for tok in Reader::new(xml) {
        match (&tok, tok.local()) {
            (Tok::Start { empty: false, .. }, "t") => in_text = true,
            (Tok::End { .. }, "t") => in_text = false,
            (Tok::Start { .. }, l) if l == what => {
                inside = true;
                text.clear();
                author = tok.attr("w:author").filter(|a| !a.trim().is_empty());
                // Separators are layout, not content.
                skip = tok.attr("w:type").is_some_and(|t| t != "normal");
            }
            (Tok::End { .. }, l) if l == what => {
                inside = false;
                if !skip && !text.trim().is_empty() {
                    let label = match &author {
                        Some(a) => format!("{what} by {a}: "),
                        None => format!("{what}: "),
                    };
                    b.push(SectionKind::Note, &format!("{label}{text}"));
                }
            }
            (Tok::End { .. }, "p") if inside => text.push(' '),
            (Tok::Text(t), _) if inside && in_text => text.push_str(t),
            _ => {}
        }
    }
}

/// docProps/core.xml: title, author, subject, keywords, description, dates.
pub(crate) fn core_properties(xml: &str, parsed: &mut Parsed) {
    let mut field: Option<&'static str> = None;
    let mut value = String::new();
    for tok in Reader::new(xml) {
        match &tok {
            Tok::Start { empty: false, .. } => {
                field = match tok.local() {
                    "title" => Some("title"),
                    "creator" => Some("author"),
                    "subject" => Some("subject"),
                    "keywords" => Some("keywords"),
                    "description" => Some("description"),
                    "lastModifiedBy" => Some("last_modified_by"),
                    "created" => Some("created"),
                    "modified" => Some("modified"),
                    "category" => Some("category"),
                    _ => None,
                };
                value.clear();
            }
            Tok::Text(t) if field.is_some() => value.push_str(t),
            Tok::End { .. } => {
                if let Some(f) = field.take() {
                    let v = crate::builder::squash(&value);
                    if !v.is_empty() {
                        if f == "title" {
                            parsed.title = Some(v.clone());
                        }
                        parsed.metadata.insert(f.into(), MetaValue::Str(v));
                    }
                }
            }
            _ => {}
        }
    }
}
