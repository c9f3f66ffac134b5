//! EPUB (2 and 3): the chapters in reading order (the package's spine), each read as
//! XHTML with its headings, located by chapter number; the package's Dublin Core
//! metadata as the document's.

use std::collections::HashMap;

use crate::document::{Document, Input, MetaValue, Parsed};
use crate::error::{Error, Result};
use crate::pptx::resolve;
use crate::xml::{Reader, Tok};
use crate::zipped::Zip;

const FORMAT: &str = "epub";

/// An EPUB file: one document, its chapters as sections.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let name = input.name;
    let mut zip = Zip::open(input.bytes, name, FORMAT, input.limits)?;
    let container = zip
        .text("META-INF/container.xml")?
        .ok_or_else(|| Error::malformed(name, FORMAT, "no META-INF/container.xml"))?;
    let package_path = Reader::new(&container)
        .find(|t| t.local() == "rootfile")
        .and_then(|t| t.attr("full-path"))
        .ok_or_else(|| Error::malformed(name, FORMAT, "the container names no package"))?;
    let package = zip
        .text(&package_path)?
        .ok_or_else(|| Error::malformed(name, FORMAT, "the package file is missing"))?;
    let base = package_path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let Package {
        mut parsed,
        manifest,
        spine,
    } = read_package(&package);
    if spine.len() > input.limits.max_slides {
        return Err(Error::limit(
            name,
            "chapters",
            spine.len() as u64,
            input.limits.max_slides as u64,
        ));
    }
    let mut chapters = 0u32;
    for idref in &spine {
        let Some((href, media)) = manifest.get(idref) else {
            continue;
        };
        if !media.contains("html") {
            continue;
        }
        let path = resolve(
            base,
            &percent_decoded(href.split('#').next().unwrap_or(href)),
        );
        let Some(xhtml) = zip.text(&path)? else {
            continue;
        };
        chapters += 1;
        let chapter = crate::html::parse_str(&xhtml);
        for mut section in chapter.sections {
            section.location.chapter = Some(chapters);
            parsed.sections.push(section);
        }
    }
    if chapters == 0 {
        return Err(Error::malformed(
            name,
            FORMAT,
            "the spine holds no readable chapter",
        ));
    }
    parsed
        .metadata
        .insert("chapters".into(), MetaValue::Int(i64::from(chapters)));
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    Ok(vec![parsed.into_document(input)])
}

/// What the package file (`.opf`) says: metadata, the manifest (id to href and media
/// type) and the spine (reading order, as manifest ids).
struct Package {
    parsed: Parsed,
    manifest: HashMap<String, (String, String)>,
    spine: Vec<String>,
}

fn read_package(xml: &str) -> Package {
    let mut parsed = Parsed::default();
    let mut manifest = HashMap::new();
    let mut spine = Vec::new();
    let mut field: Option<&'static str> = None;
    let mut value = String::new();
    for tok in Reader::new(xml) {
        match &tok {
            Tok::Start { .. } if tok.local() == "item" => {
                if let (Some(id), Some(href)) = (tok.attr("id"), tok.attr("href")) {
                    let media = tok.attr("media-type").unwrap_or_default();
                    manifest.insert(id, (href, media));
                }
            }
            Tok::Start { .. }
                if tok.local() == "itemref" && tok.attr("linear").as_deref() != Some("no") =>
            {
                if let Some(id) = tok.attr("idref") {
                    spine.push(id);
                }
            }
            Tok::Start {
                name, empty: false, ..
            } if name.starts_with("dc:") => {
                field = match tok.local() {
                    "title" => Some("title"),
                    "creator" => Some("author"),
                    "subject" => Some("subject"),
                    "description" => Some("description"),
                    "publisher" => Some("publisher"),
                    "language" => Some("language"),
                    "date" => Some("date"),
                    _ => None,
                };
                value.clear();
            }
            Tok::Text(t) if field.is_some() => value.push_str(t),
            Tok::End { .. } => {
                if let Some(f) = field.take() {
                    let v = crate::builder::squash(&value);
                    // The first of a repeated element (several creators, dates) wins.
                    if !v.is_empty() && !parsed.metadata.contains_key(f) {
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
    Package {
        parsed,
        manifest,
        spine,
    }
}

/// `%XX` escapes in a package href decoded (bytes that do not make UTF-8 stay escaped).
fn percent_decoded(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| href.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_percent_decoded() {
        assert_eq!(percent_decoded("chapter%201.xhtml"), "chapter 1.xhtml");
        assert_eq!(percent_decoded("a%2"), "a%2");
        assert_eq!(percent_decoded("plain.xhtml"), "plain.xhtml");
    }
}
