//! PPTX: one group of sections per slide (title heading, body paragraphs, tables,
//! speaker notes), each with its slide number.

use crate::builder::{table_sections, Builder};
use crate::document::{Document, Input, Parsed};
use crate::document::{MetaValue, SectionKind};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::xml::{Reader, Tok};
use crate::zipped::Zip;

const FORMAT: &str = "pptx";

/// A PPTX file: one document, its slides as sections.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    Ok(vec![
        parts(input.bytes, input.name, input.limits)?.into_document(input)
    ])
}

fn parts(bytes: &[u8], name: &str, limits: &Limits) -> Result<Parsed> {
    let mut zip = Zip::open(bytes, name, FORMAT, limits)?;
    let slides = slide_order(&mut zip)?;
    if slides.is_empty() && zip.read("ppt/presentation.xml")?.is_none() {
        return Err(Error::malformed(name, FORMAT, "no ppt/presentation.xml"));
    }
    if slides.len() > limits.max_slides {
        return Err(Error::limit(
            name,
            "slides",
            slides.len() as u64,
            limits.max_slides as u64,
        ));
    }
    let mut parsed = Parsed::default();
    if let Some(core) = zip.text("docProps/core.xml")? {
        crate::docx::core_properties(&core, &mut parsed);
    }
    parsed
        .metadata
        .insert("slides".into(), MetaValue::Int(slides.len() as i64));
    let mut b = Builder::new();
    for (i, path) in slides.iter().enumerate() {
        let Some(xml) = zip.text(path)? else { continue };
        b.reset_headings();
        b.location.slide = Some(u32::try_from(i + 1).unwrap_or(u32::MAX));
        slide(&xml, &mut b);
        if let Some(notes_path) = notes_of(&mut zip, path)? {
            if let Some(notes_xml) = zip.text(&notes_path)? {
                notes(&notes_xml, &mut b);
            }
        }
    }
    parsed.sections = b.finish();
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    Ok(parsed)
}

/// Slide part paths in presentation order (the `sldIdLst` through the relationships),
/// falling back to the slide file numbers.
fn slide_order(zip: &mut Zip<'_>) -> Result<Vec<String>> {
    let rels = zip
        .text("ppt/_rels/presentation.xml.rels")?
        .map(|x| relationships(&x))
        .unwrap_or_default();
    let mut order = Vec::new();
    if let Some(pres) = zip.text("ppt/presentation.xml")? {
        for tok in Reader::new(&pres) {
            if tok.local() == "sldId" {
                if let Some(id) = tok.attr("r:id") {
                    if let Some((_, target)) = rels.iter().find(|(i, _)| *i == id) {
                        order.push(resolve("ppt", target));
                    }
                }
            }
        }
    }
    if order.is_empty() {
        let mut numbered: Vec<(u32, String)> = zip
            .names()
            .into_iter()
            .filter_map(|n| {
                let num = n
                    .strip_prefix("ppt/slides/slide")?
                    .strip_suffix(".xml")?
                    .parse()
                    .ok()?;
                Some((num, n))
            })
            .collect();
        numbered.sort();
        order = numbered.into_iter().map(|(_, n)| n).collect();
    }
    Ok(order)
}

/// (Id, Target) pairs of a relationships part.
fn relationships(xml: &str) -> Vec<(String, String)> {
    Reader::new(xml)
        .filter(|t| t.local() == "Relationship")
        .filter_map(|t| Some((t.attr("Id")?, t.attr("Target")?)))
        .collect()
}

/// A relationship target relative to the folder `base`, as a zip path.
pub(crate) fn resolve(base: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return abs.to_owned();
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in target.split('/') {
        match p {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The notes slide of a slide, from the slide's relationships.
fn notes_of(zip: &mut Zip<'_>, slide: &str) -> Result<Option<String>> {
    let (dir, file) = slide.rsplit_once('/').unwrap_or(("", slide));
    let Some(rels) = zip.text(&format!("{dir}/_rels/{file}.rels"))? else {
        return Ok(None);
    };
    for tok in Reader::new(&rels) {
        if tok.local() == "Relationship"
            && tok.attr("Type").is_some_and(|t| t.ends_with("/notesSlide"))
        {
            return Ok(tok.attr("Target").map(|t| resolve(dir, &t)));
        }
    }
    Ok(None)
}

/// A slide's shapes: the title placeholder becomes the heading, other text frames
/// paragraphs (or list items when bulleted), tables tables.
fn slide(xml: &str, b: &mut Builder) {
    let mut title: Option<String> = None;
    let mut body: Vec<(SectionKind, String)> = Vec::new();
    let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
    let mut is_title = false;
    let mut para = String::new();
    let mut bullet = false;
    let mut in_table = 0usize;
    let mut cell = String::new();
    for tok in Reader::new(xml) {
        let start = matches!(tok, Tok::Start { empty: false, .. });
        match (&tok, tok.local()) {
            (Tok::Start { .. }, "sp") if start => is_title = false,
            (Tok::Start { .. }, "ph") => {
                is_title = tok
                    .attr("type")
                    .is_some_and(|t| t == "title" || t == "ctrTitle");
            }
            (Tok::Start { .. }, "tbl") if start => {
                in_table += 1;
                if in_table == 1 {
                    tables.push(Vec::new());
                }
            }
            (Tok::End { .. }, "tbl") => in_table = in_table.saturating_sub(1),
            (Tok::Start { .. }, "tr") if start && in_table == 1 => {
                if let Some(t) = tables.last_mut() {
                    t.push(Vec::new());
                }
            }
            (Tok::Start { .. }, "tc") if in_table == 1 => {
                cell.clear();
                if !start {
                    if let Some(row) = tables.last_mut().and_then(|t| t.last_mut()) {
                        row.push(String::new());
                    }
                }
            }
            (Tok::End { .. }, "tc") if in_table == 1 => {
                if let Some(row) = tables.last_mut().and_then(|t| t.last_mut()) {
                    row.push(crate::builder::squash(&cell));
                }
            }
            (Tok::Start { .. }, "p") if start => {
                para.clear();
                bullet = false;
            }
            (Tok::Start { .. }, "buChar" | "buAutoNum") => bullet = true,
            (Tok::Start { .. }, "pPr") if tok.attr("lvl").is_some_and(|l| l != "0") => {
                bullet = true;
            }
            (Tok::Start { .. }, "br") => para.push(' '),
            (Tok::Text(t), _) => {
                if in_table > 0 {
                    cell.push_str(t);
                } else {
                    para.push_str(t);
                }
            }
            (Tok::End { .. }, "p") if in_table > 0 => cell.push(' '),
            (Tok::End { .. }, "p") => {
                let text = std::mem::take(&mut para);
                if text.trim().is_empty() {
                    continue;
                }
                if is_title {
                    let t = title.get_or_insert_with(String::new);
                    if !t.is_empty() {
                        t.push(' ');
                    }
                    t.push_str(&text);
                } else {
                    let kind = if bullet {
                        SectionKind::ListItem
                    } else {
                        SectionKind::Paragraph
                    };
                    body.push((kind, text));
                }
            }
            _ => {}
        }
    }
    if let Some(t) = title {
        b.heading(1, &t);
    }
    for (kind, text) in body {
        b.push(kind, &text);
    }
    for rows in tables {
        table_sections(b, &rows, None);
    }
}

/// Speaker notes: the body placeholder's text (the slide image placeholder and the
/// slide number are skipped).
fn notes(xml: &str, b: &mut Builder) {
    let mut text = String::new();
    let mut in_body = false;
    let mut para = String::new();
    for tok in Reader::new(xml) {
        match (&tok, tok.local()) {
            (Tok::Start { .. }, "sp") => in_body = false,
            (Tok::Start { .. }, "ph") => in_body = tok.attr("type").is_some_and(|t| t == "body"),
            (Tok::Start { .. }, "p") => para.clear(),
            (Tok::Text(t), _) => para.push_str(t),
            (Tok::End { .. }, "p") if in_body => {
                text.push_str(&para);
                text.push(' ');
            }
            _ => {}
        }
    }
    if !text.trim().is_empty() {
        b.push(SectionKind::Note, &format!("Speaker notes: {text}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_targets_resolve_against_their_folder() {
        assert_eq!(resolve("ppt", "slides/slide1.xml"), "ppt/slides/slide1.xml");
        assert_eq!(
            resolve("ppt/slides", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(resolve("ppt", "/ppt/slides/s.xml"), "ppt/slides/s.xml");
    }
}
