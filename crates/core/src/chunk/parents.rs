//! Parents: a document cut at hard boundaries (a heading; a change of page, slide,
//! sheet, message or attachment), and cut again between sections when too long.

use serde_json::Value;
use trawl_ingest::{Document, Location, SectionKind};

/// A run of sections under one heading and on one page/slide/sheet/message, and its
/// text: the sections' texts joined by blank lines.
pub(super) struct Parent {
    pub(super) sections: Vec<usize>,
    /// Byte offset of each section's text in `text`.
    pub(super) offsets: Vec<usize>,
    pub(super) text: String,
}

/// The location fields that separate parents (all but line, rows and key: the values
/// of one JSON document are chunked together, not one chunk each).
pub(super) fn boundary(location: &Location) -> Value {
    let mut v = serde_json::to_value(location).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("line");
        m.remove("rows");
        m.remove("key");
    }
    v
}

/// The key path that holds every value of a chunk: the common prefix of their paths,
/// cut back to whole keys (`items[0].title` and `items[1].body` are under `items`).
/// `None` when they share nothing.
pub(super) fn common_key(mut keys: impl Iterator<Item = Option<String>>) -> Option<String> {
    let mut common = keys.next()??;
    for key in keys {
        let key = key?;
        let shared = common
            .char_indices()
            .zip(key.chars())
            .find(|((_, a), b)| a != b)
            .map_or(common.len().min(key.len()), |((i, _), _)| i);
        // Whole keys only: a shared prefix that ends inside a key or an index of
        // either path is cut back to the key before it.
        let ends_there =
            |path: &str| path.len() == shared || path[shared..].starts_with(['.', '[']);
        let whole = ends_there(&common) && ends_there(&key);
        common.truncate(shared);
        if !whole {
            let cut = common.rfind(['.', '[']).unwrap_or(0);
            common.truncate(cut);
        }
    }
    (!common.is_empty()).then_some(common)
}

pub(super) fn parents(doc: &Document, max_chars: usize) -> Vec<Parent> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut last_boundary = None;
    for (i, s) in doc.sections.iter().enumerate() {
        if s.text.trim().is_empty() {
            continue;
        }
        let b = boundary(&s.location);
        let heading = |i: &usize| matches!(doc.sections[*i].kind, SectionKind::Heading { .. });
        // A heading opens a group, unless the open group holds only headings so far
        // ("# Guide" straight over "## Install"): those stay with the text under them
        // instead of becoming chunks of a few words.
        let starts = groups.is_empty()
            || last_boundary.as_ref() != Some(&b)
            || (heading(&i) && !groups.last().is_some_and(|g| g.iter().all(heading)));
        last_boundary = Some(b);
        if starts {
            groups.push(Vec::new());
        }
        groups.last_mut().expect("a group").push(i);
    }
    let mut out = Vec::new();
    for group in groups {
        let mut current = Parent {
            sections: Vec::new(),
            offsets: Vec::new(),
            text: String::new(),
        };
        let mut current_chars = 0;
        for i in group {
            let text = doc.sections[i].text.trim();
            let len = text.chars().count();
            if !current.sections.is_empty() && current_chars + 2 + len > max_chars {
                current_chars = 0;
                out.push(std::mem::replace(
                    &mut current,
                    Parent {
                        sections: Vec::new(),
                        offsets: Vec::new(),
                        text: String::new(),
                    },
                ));
            }
            if !current.text.is_empty() {
                current.text.push_str("\n\n");
            }
            current.sections.push(i);
            current.offsets.push(current.text.len());
            current.text.push_str(text);
            current_chars += len + 2;
        }
        if !current.sections.is_empty() {
            out.push(current);
        }
    }
    out
}
