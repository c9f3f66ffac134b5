//! Format detection and dispatch.

use std::path::Path;

use crate::document::{Document, Format, MetaValue, Metadata};
use crate::error::{Error, Result};
use crate::{markdown, text};

/// Files larger than this are refused with [`Error::TooLarge`] before being read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

const MARKDOWN_EXT: &[&str] = &["md", "markdown", "mdown", "mkd", "mdx"];
const TEXT_EXT: &[&str] = &["txt", "text", "rst", "log", "org", "adoc", "asciidoc"];

/// Known binary signatures, so a mislabelled binary is reported as what it is rather
/// than indexed as garbage text.
const MAGIC: &[(&[u8], &str)] = &[
    (b"%PDF-", "PDF"),
    (b"PK\x03\x04", "ZIP container (DOCX/XLSX/PPTX/ODF)"),
    (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "OLE2 (DOC/XLS/PPT)"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xFF\xD8\xFF", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"II*\0", "TIFF image"),
    (b"MM\0*", "TIFF image"),
    (b"\x7FELF", "ELF executable"),
    (b"\x1F\x8B", "gzip archive"),
];

/// Decides the format of `bytes` named `name`: magic bytes first, then the extension.
///
/// # Errors
/// [`Error::Unsupported`] for binary content or an extension trawl does not read.
pub fn detect_format(bytes: &[u8], name: &str) -> Result<Format> {
    let unsupported = |reason: String| Error::Unsupported {
        name: name.to_owned(),
        reason,
    };
    if let Some((_, what)) = MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Err(unsupported(format!("{what} content is not supported yet")));
    }
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    if !utf16 && bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(unsupported("binary content".to_owned()));
    }
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some(e) if MARKDOWN_EXT.contains(&e) => Ok(Format::Markdown),
        Some(e) if TEXT_EXT.contains(&e) => Ok(Format::Text),
        None => Ok(Format::Text),
        Some(e) => Err(unsupported(format!("extension .{e}"))),
    }
}

/// Parses in-memory bytes; `name` (a file name or path) is used for format detection,
/// the document id and the fallback title.
///
/// # Errors
/// [`Error::Unsupported`] when the format is not one trawl reads.
pub fn parse_bytes(bytes: &[u8], name: &str) -> Result<Document> {
    let format = detect_format(bytes, name)?;
    let text = text::decode(bytes);
    let (metadata, sections) = match format {
        Format::Markdown => {
            let p = markdown::parse(&text);
            (p.metadata, p.sections)
        }
        Format::Text => (Metadata::new(), text::paragraphs(&text)),
    };
    let title = title_of(&metadata, &sections, format, name);
    Ok(Document {
        id: name.to_owned(),
        title,
        source: None,
        format,
        metadata,
        sections,
    })
}

/// Reads and parses one file. The document id and `source` are the path as given.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::TooLarge`] over [`MAX_FILE_BYTES`],
/// [`Error::Unsupported`] for formats trawl does not read.
pub fn parse_path(path: &Path) -> Result<Document> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    let name = path.to_string_lossy().into_owned();
    if size > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            name,
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let mut doc = parse_bytes(&bytes, &name)?;
    doc.source = Some(name);
    Ok(doc)
}

fn title_of(
    meta: &Metadata,
    sections: &[crate::Section],
    format: Format,
    name: &str,
) -> Option<String> {
    if let Some(MetaValue::Str(t)) = meta.get("title") {
        return Some(t.clone());
    }
    if format == Format::Markdown {
        let h1 = sections
            .iter()
            .find(|s| matches!(s.kind, crate::SectionKind::Heading { level: 1 }));
        if let Some(h) = h1 {
            return Some(h.text.clone());
        }
    }
    if format == Format::Text {
        // A short first line standing alone is a title in most plain-text articles.
        if let Some(first) = sections.first() {
            let line = first.text.trim();
            if !line.contains('\n') && line.chars().count() <= 100 && !line.ends_with('.') {
                return Some(line.to_owned());
            }
        }
    }
    Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_win_over_extension() {
        let err = parse_bytes(b"%PDF-1.7 ...", "notes.txt").unwrap_err();
        assert!(err.is_unsupported(), "{err}");
        assert!(err.to_string().contains("PDF"), "{err}");
    }

    #[test]
    fn binary_and_unknown_extensions_are_unsupported() {
        assert!(parse_bytes(b"ab\0cd", "x.txt")
            .unwrap_err()
            .is_unsupported());
        assert!(parse_bytes(b"hello", "x.exe").unwrap_err().is_unsupported());
    }

    #[test]
    fn titles_come_from_front_matter_then_h1_then_first_line_then_name() {
        let t = |b: &[u8], n| parse_bytes(b, n).unwrap().title.unwrap();
        assert_eq!(t(b"---\ntitle: FM\n---\n# H1\n", "a.md"), "FM");
        assert_eq!(t(b"intro\n\n# H1\n", "a.md"), "H1");
        assert_eq!(
            t(b"Tide Pools\n\nA long paragraph.\n", "a.txt"),
            "Tide Pools"
        );
        assert_eq!(t(b"Just one sentence here.\n", "dir/notes.txt"), "notes");
    }
}
