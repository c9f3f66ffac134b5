//! JSON and JSON Lines: every string value becomes a paragraph, "key: value" under its
//! nearest key, located by its key path (`items[2].title`); a top-level `title` or
//! `name` string is the title.

use serde_json::Value;

use crate::builder::Builder;
use crate::document::SectionKind;
use crate::document::{Document, Input, Parsed};
use crate::error::{Error, Result};

/// Nesting deeper than this is not descended (serde_json already stops at 128).
const MAX_DEPTH: usize = 128;

/// A JSON or JSON Lines file: one document.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    Ok(vec![parts(input.bytes, input.name)?.into_document(input)])
}

fn parts(bytes: &[u8], name: &str) -> Result<Parsed> {
    let text = crate::text::decode(bytes);
    let lower = name.to_ascii_lowercase();
    let lines = lower.ends_with(".jsonl") || lower.ends_with(".ndjson");
    let mut b = Builder::new();
    let mut parsed = Parsed::default();
    if lines {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| Error::malformed(name, "json", format!("line {}: {e}", i + 1)))?;
            b.location.line = Some(u32::try_from(i + 1).unwrap_or(u32::MAX));
            flatten(&value, &mut String::new(), None, &mut b, 0);
        }
    } else {
        let value: Value =
            serde_json::from_str(&text).map_err(|e| Error::malformed(name, "json", e))?;
        if let Some(obj) = value.as_object() {
            parsed.title = ["title", "name"]
                .iter()
                .find_map(|k| obj.get(*k).and_then(Value::as_str))
                .map(crate::builder::squash)
                .filter(|t| !t.is_empty());
        }
        flatten(&value, &mut String::new(), None, &mut b, 0);
    }
    parsed.sections = b.finish();
    Ok(parsed)
}

/// Pushes every string under `value`; `key` is the nearest object key above it, said
/// in front of the value ("city: Paris") so what a value is stays searchable.
fn flatten(value: &Value, path: &mut String, key: Option<&str>, b: &mut Builder, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::String(s) => {
            if s.trim().is_empty() {
                return;
            }
            b.location.key = Some(path.clone());
            match key {
                Some(k) => b.push(SectionKind::Paragraph, &format!("{k}: {s}")),
                None => b.push(SectionKind::Paragraph, s),
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                flatten(v, path, key, b, depth + 1);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                flatten(v, path, Some(k), b, depth + 1);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_flattened_with_key_paths() {
        let p = parts(
            br#"{"title": "Doc", "items": [{"text": "first"}, {"n": 1, "text": "second"}]}"#,
            "a.json",
        )
        .unwrap();
        assert_eq!(p.title.as_deref(), Some("Doc"));
        let got: Vec<_> = p
            .sections
            .iter()
            .map(|s| (s.location.key.as_deref().unwrap(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("items[0].text", "text: first"),
                ("items[1].text", "text: second"),
                ("title", "title: Doc")
            ]
        );
    }

    #[test]
    fn json_lines_keep_their_line() {
        let p = parts(b"{\"a\": \"x\"}\n\n{\"a\": \"y\"}\n", "a.jsonl").unwrap();
        assert_eq!(p.sections[1].location.line, Some(3));
        assert!(parts(b"{\"a\": \n", "a.jsonl").is_err());
    }
}
