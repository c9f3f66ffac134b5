//! The values of a page's form fields, read from the fields themselves. A viewer shows a
//! field's value through its appearance stream, which pdf-extract draws with the page;
//! a field filled in by a program often has none, or one drawn before the value
//! changed (its form then asks viewers to redraw it, with `NeedAppearances`).

use lopdf::{Dictionary, Document as Pdf, Object, ObjectId};

use crate::pdf_outline::resolve;

/// Annotation flags that keep a field off the page.
const HIDDEN: i64 = 1 << 1;
const NO_VIEW: i64 = 1 << 5;
/// How far up a field's parents its type and value are looked for (a loop of parents
/// ends here too).
const MAX_DEPTH: usize = 32;
/// Annotations looked at on one page, at most (as many as pdf-extract draws).
const MAX_ANNOTATIONS: usize = 4096;

/// The values of the visible text and choice fields on page `page`, in annotation
/// order, whitespace squashed (a choice of several values joined by commas).
pub(crate) fn page_field_values(doc: &Pdf, page: ObjectId) -> Vec<String> {
    let Ok(page) = doc.get_dictionary(page) else {
        return Vec::new();
    };
    let Some(Ok(annots)) = deref(doc, page.get(b"Annots").ok()).map(Object::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for annot in annots.iter().take(MAX_ANNOTATIONS) {
        let Some(Ok(annot)) = deref(doc, Some(annot)).map(Object::as_dict) else {
            continue;
        };
        // A page that lists one annotation many times gives its value once.
        if !seen.insert(std::ptr::from_ref(annot)) {
            continue;
        }
        let widget = matches!(
            annot.get(b"Subtype").and_then(Object::as_name),
            Ok(b"Widget")
        );
        let flags = deref(doc, annot.get(b"F").ok()).and_then(|f| f.as_i64().ok());
        if !widget || flags.is_some_and(|f| f & (HIDDEN | NO_VIEW) != 0) {
            continue;
        }
        let kind = inherited(doc, annot, b"FT").and_then(|o| o.as_name().ok());
        if !matches!(kind, Some(b"Tx" | b"Ch")) {
            continue;
        }
        let text = match inherited(doc, annot, b"V") {
            Some(Object::String(bytes, _)) => crate::pdf::text_string(bytes),
            Some(Object::Array(items)) => items
                .iter()
                .filter_map(|item| match deref(doc, Some(item)) {
                    Some(Object::String(bytes, _)) => Some(crate::pdf::text_string(bytes)),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => continue,
        };
        let text = crate::builder::squash(&text);
        if !text.is_empty() {
            out.push(text);
        }
    }
    out
}

/// An object, or the object its references name (none when one is missing), through
/// the outline reader's [`resolve`].
fn deref<'a>(doc: &'a Pdf, object: Option<&'a Object>) -> Option<&'a Object> {
    Some(resolve(doc, object?)).filter(|o| o.as_reference().is_err())
}

/// `key` of a field, or of the nearest of its parents that has it.
fn inherited<'a>(doc: &'a Pdf, mut field: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    for _ in 0..MAX_DEPTH {
        if let Some(value) = deref(doc, field.get(key).ok()) {
            return Some(value);
        }
        field = deref(doc, field.get(b"Parent").ok())?.as_dict().ok()?;
    }
    None
}
