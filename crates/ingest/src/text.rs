//! Plain text: decoding from the common encodings and splitting into paragraphs.

use crate::document::{Document, Input, Location, Parsed, Section, SectionKind};
use crate::error::Result;

/// A plain-text file: one document, its paragraphs as sections.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let parsed = Parsed {
        sections: paragraphs(&decode(input.bytes)),
        ..Parsed::default()
    };
    Ok(vec![parsed.into_document(input)])
}

/// Decodes bytes as text: UTF-8 (with or without BOM), UTF-16 with a BOM, and otherwise
/// Windows-1252, which never fails and is what most legacy "ANSI" files are.
pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return decode_utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return decode_utf16(rest, u16::from_be_bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    }
}

/// UTF-16 text in the byte order `unit` reads (an odd last byte is dropped).
pub(crate) fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn windows_1252(b: u8) -> char {
    // 0x80..=0x9F differ from Latin-1; the rest map to the same code point.
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Splits text into paragraph sections on blank lines; whitespace inside a paragraph
/// is kept as is apart from trimming.
pub(crate) fn paragraphs(text: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut buf: Vec<&str> = Vec::new();
    let mut start = 0u32;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            flush(&mut out, &mut buf, start);
        } else {
            if buf.is_empty() {
                start = u32::try_from(i + 1).unwrap_or(u32::MAX);
            }
            buf.push(line.trim_end());
        }
    }
    flush(&mut out, &mut buf, start);
    out
}

fn flush(out: &mut Vec<Section>, buf: &mut Vec<&str>, line: u32) {
    if buf.is_empty() {
        return;
    }
    out.push(Section {
        kind: SectionKind::Paragraph,
        text: buf.join("\n").trim().to_owned(),
        heading_path: Vec::new(),
        location: Location {
            line: Some(line),
            ..Location::default()
        },
        row_numbers: Vec::new(),
    });
    buf.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_bom_utf16_and_windows_1252() {
        assert_eq!(decode(b"\xEF\xBB\xBFcaf\xC3\xA9"), "café");
        assert_eq!(decode(b"\xFF\xFEh\0i\0"), "hi");
        assert_eq!(decode(b"\xFE\xFF\0h\0i"), "hi");
        assert_eq!(decode(b"caf\xE9 \x93quoted\x94"), "café “quoted”");
    }

    #[test]
    fn paragraphs_split_on_blank_lines_with_line_numbers() {
        let s = paragraphs("one\ntwo\n\n\nthree\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "one\ntwo");
        assert_eq!(s[1].text, "three");
        assert_eq!(s[1].location.line, Some(5));
    }
}
