//! Legacy PowerPoint presentations (`.ppt`, PowerPoint 97 to 2003: a compound file
//! whose `PowerPoint Document` stream is a tree of records). The slides are found as
//! PowerPoint finds them, through the current edit's persist directory (a file saved
//! incrementally keeps older copies of its slides, which are skipped), in
//! presentation order; each gives its title as heading, its other text as paragraphs,
//! and its speaker notes as notes. A file whose persist directory is broken is read
//! slide container by slide container, in stream order.

use std::collections::{HashMap, HashSet};

use crate::builder::Builder;
use crate::document::{Document, Input, MetaValue, Parsed, SectionKind};
use crate::error::{Error, Result};
use crate::ole::{le_u16, le_u32, utf16le, Compound};

const FORMAT: &str = "ppt";
/// `headerToken` of the current user record of an encrypted presentation.
const ENCRYPTED_TOKEN: u32 = 0xF3D1_C4DF;
/// Records nest no deeper than this (a deeper file is read as far as this).
const MAX_DEPTH: usize = 32;

const DOCUMENT: u16 = 0x03E8;
const SLIDE: u16 = 0x03EE;
const SLIDE_ATOM: u16 = 0x03EF;
const NOTES: u16 = 0x03F0;
const SLIDE_PERSIST: u16 = 0x03F3;
const TEXT_HEADER: u16 = 0x0F9F;
const TEXT_CHARS: u16 = 0x0FA0;
const TEXT_BYTES: u16 = 0x0FA8;
const SLIDE_LIST: u16 = 0x0FF0;
const USER_EDIT: u16 = 0x0FF5;
/// Text type of speaker notes (`TextHeaderAtom`).
const NOTES_TEXT: u32 = 2;
const PERSIST_DIRECTORY: u16 = 0x1772;

/// A PowerPoint 97-2003 presentation.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let mut file = Compound::open(input.bytes, input.name, FORMAT, input.limits)?;
    let stream = file
        .stream("/PowerPoint Document")?
        .ok_or_else(|| file.malformed("no PowerPoint Document stream (not a presentation)"))?;
    let current = file.stream("/Current User")?.unwrap_or_default();
    if le_u32(&current, 12) == Some(ENCRYPTED_TOKEN) || file.file.is_stream("/EncryptedSummary") {
        return Err(Error::Encrypted {
            name: input.name.to_owned(),
            format: "PowerPoint presentation",
        });
    }
    let mut parsed = Parsed::default();
    file.summary(&mut parsed)?;
    let slides = le_u32(&current, 16)
        .and_then(|edit| slides_by_persist(&stream, edit as usize))
        .unwrap_or_else(|| slides_in_stream_order(&stream));
    if slides.len() > input.limits.max_slides {
        return Err(Error::limit(
            input.name,
            "slides",
            slides.len() as u64,
            input.limits.max_slides as u64,
        ));
    }
    parsed
        .metadata
        .insert("slides".into(), MetaValue::Int(slides.len() as i64));
    let mut b = Builder::new();
    for (i, slide) in slides.iter().enumerate() {
        b.reset_headings();
        b.location.slide = Some(u32::try_from(i + 1).unwrap_or(u32::MAX));
        for (kind, text) in &slide.texts {
            let title = matches!(kind, 0 | 6);
            for line in text.split(['\r', '\n']) {
                let line = line.replace('\u{b}', " ");
                if title {
                    b.heading(1, &line);
                } else {
                    b.push(SectionKind::Paragraph, &line);
                }
            }
        }
        let notes = slide.notes.join(" ").replace(['\r', '\u{b}'], " ");
        if !notes.trim().is_empty() {
            b.push(SectionKind::Note, &format!("Speaker notes: {notes}"));
        }
    }
    parsed.sections = b.finish();
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    Ok(vec![parsed.into_document(input)])
}

/// A slide's text: (text type, text) pairs in order, type 0 or 6 a title; and the
/// text of its notes.
#[derive(Default, Debug)]
struct Slide {
    texts: Vec<(u32, String)>,
    notes: Vec<String>,
}

/// A record's header: kind, instance, whether it is a container, and where its body
/// lies.
#[derive(Clone, Copy, Debug)]
struct Record {
    kind: u16,
    instance: u16,
    container: bool,
    body: usize,
    end: usize,
}

/// The record at `at`, its body clipped to `limit`.
fn record(bytes: &[u8], at: usize, limit: usize) -> Option<Record> {
    let head = le_u16(bytes, at)?;
    let kind = le_u16(bytes, at + 2)?;
    let len = le_u32(bytes, at + 4)? as usize;
    let body = at + 8;
    if body > limit {
        return None;
    }
    Some(Record {
        kind,
        instance: head >> 4,
        container: head & 0xF == 0xF,
        body,
        end: body.saturating_add(len).min(limit),
    })
}

/// The records directly inside `start..end`.
fn children(bytes: &[u8], start: usize, end: usize) -> impl Iterator<Item = Record> + '_ {
    let end = end.min(bytes.len());
    let mut at = start;
    std::iter::from_fn(move || {
        let r = record(bytes, at, end)?;
        // A record always moves on by its header, so a zero length cannot loop.
        at = r.end.max(r.body);
        Some(r)
    })
}

/// Slides through the persist directory of the edit at `edit` and the ones before
/// it; `None` when the chain or the document record cannot be read.
fn slides_by_persist(stream: &[u8], edit: usize) -> Option<Vec<Slide>> {
    let mut offsets: HashMap<u32, usize> = HashMap::new();
    let mut document = None;
    let mut seen = HashSet::new();
    let mut at = edit;
    // The newest edit first: an id keeps the first offset found for it.
    while at != 0 && seen.insert(at) {
        let r = record(stream, at, stream.len()).filter(|r| r.kind == USER_EDIT)?;
        document.get_or_insert(le_u32(stream, r.body + 16)?);
        let directory = le_u32(stream, r.body + 12)? as usize;
        let dir =
            record(stream, directory, stream.len()).filter(|r| r.kind == PERSIST_DIRECTORY)?;
        let mut i = dir.body;
        while i + 4 <= dir.end {
            let entry = le_u32(stream, i)?;
            let (first, count) = (entry & 0x000F_FFFF, entry >> 20);
            for k in 0..count {
                let offset = le_u32(stream, i + 4 + 4 * k as usize)?;
                offsets.entry(first + k).or_insert(offset as usize);
            }
            i += 4 + 4 * count as usize;
        }
        at = le_u32(stream, r.body + 8)? as usize;
    }
    let doc =
        record(stream, *offsets.get(&document?)?, stream.len()).filter(|r| r.kind == DOCUMENT)?;
    let list =
        children(stream, doc.body, doc.end).find(|r| r.kind == SLIDE_LIST && r.instance == 0);
    // A slide names its notes by the notes' id, which the notes list (instance 2)
    // maps to a persist id.
    let mut notes_ids: HashMap<u32, u32> = HashMap::new();
    for notes_list in
        children(stream, doc.body, doc.end).filter(|r| r.kind == SLIDE_LIST && r.instance == 2)
    {
        for r in children(stream, notes_list.body, notes_list.end) {
            if let (SLIDE_PERSIST, Some(persist), Some(id)) =
                (r.kind, le_u32(stream, r.body), le_u32(stream, r.body + 12))
            {
                notes_ids.entry(id).or_insert(persist);
            }
        }
    }
    let mut slides = Vec::new();
    let Some(list) = list else {
        return Some(slides);
    };
    for r in children(stream, list.body, list.end) {
        match r.kind {
            SLIDE_PERSIST => {
                let mut slide = Slide::default();
                let container = le_u32(stream, r.body)
                    .and_then(|id| offsets.get(&id))
                    .and_then(|&at| record(stream, at, stream.len()))
                    .filter(|s| s.kind == SLIDE);
                if let Some(container) = container {
                    let mut notes = None;
                    texts(stream, container, 0, &mut slide.texts, &mut notes);
                    let notes = notes
                        .and_then(|id| notes_ids.get(&id))
                        .and_then(|id| offsets.get(id))
                        .and_then(|&at| record(stream, at, stream.len()))
                        .filter(|n| n.kind == NOTES);
                    if let Some(notes) = notes {
                        let mut found = Vec::new();
                        texts(stream, notes, 0, &mut found, &mut None);
                        // The notes' body text; the slide number and the
                        // placeholders' stand-ins ("*") are of other types.
                        slide.notes = found
                            .into_iter()
                            .filter(|(kind, _)| *kind == NOTES_TEXT)
                            .map(|(_, t)| t)
                            .collect();
                    }
                }
                slides.push(slide);
            }
            // Text kept in the slide list (older files) belongs to the slide before.
            TEXT_HEADER | TEXT_CHARS | TEXT_BYTES => {
                if let Some(slide) = slides.last_mut() {
                    text_atom(stream, r, &mut slide.texts);
                }
            }
            _ => {}
        }
    }
    Some(slides)
}

/// Every slide container at the top level of the stream, in stream order.
fn slides_in_stream_order(stream: &[u8]) -> Vec<Slide> {
    children(stream, 0, stream.len())
        .filter(|r| r.kind == SLIDE && r.container)
        .map(|r| {
            let mut slide = Slide::default();
            texts(stream, r, 0, &mut slide.texts, &mut None);
            slide
        })
        .collect()
}

/// The text atoms under `container`, in order, and the notes id of its slide atom.
fn texts(
    stream: &[u8],
    container: Record,
    depth: usize,
    out: &mut Vec<(u32, String)>,
    notes: &mut Option<u32>,
) {
    if depth >= MAX_DEPTH {
        return;
    }
    for r in children(stream, container.body, container.end) {
        if r.container {
            texts(stream, r, depth + 1, out, notes);
        } else if r.kind == SLIDE_ATOM {
            *notes = le_u32(stream, r.body + 16).filter(|&id| id != 0);
        } else {
            text_atom(stream, r, out);
        }
    }
}

/// A text header (its type opens a new text) or a text atom (UTF-16 or 8-bit).
fn text_atom(stream: &[u8], r: Record, out: &mut Vec<(u32, String)>) {
    let body = stream.get(r.body..r.end).unwrap_or(&[]);
    match r.kind {
        TEXT_HEADER => out.push((le_u32(body, 0).unwrap_or(4), String::new())),
        TEXT_CHARS | TEXT_BYTES => {
            let text = if r.kind == TEXT_CHARS {
                utf16le(body)
            } else {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(body)
                    .0
                    .into_owned()
            };
            match out.last_mut() {
                Some((_, t)) if t.is_empty() => *t = text,
                _ => out.push((4, text)),
            }
        }
        _ => {}
    }
}
