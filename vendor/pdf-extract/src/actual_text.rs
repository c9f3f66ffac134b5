//! Marked content that names its own text (trawl).
//!
//! A span of marked content may carry `/ActualText` (PDF 32000-1 14.9.4): the text its
//! glyphs stand for. Producers use it where the glyphs cannot say it themselves: digits
//! drawn from a font whose character map gives U+0000, a ligature, a hyphen that only
//! breaks a line. The span's glyphs are then replaced by that text, placed where the
//! first of them starts and as wide as all of them, as readers such as poppler do.
#![warn(clippy::all, unused)]

use encoding_rs::UTF_16BE;
use lopdf::content::Operation;
use lopdf::{Dictionary, Document, Object};

use crate::{maybe_deref, OutputDev, OutputError, Transform};

/// The longest replacement text kept, in bytes; the rest of a longer one is cut.
const MAX_TEXT: usize = 4096;

/// A marked-content span whose glyphs are replaced by its `/ActualText`.
pub(crate) struct ActualText {
    text: String,
    /// Where the span began: the form nesting depth of the stream that holds it, and
    /// that stream's marked-content depth. It ends when that stream's stack is back
    /// to that depth.
    depth: (usize, usize),
    /// The first glyph's text rendering matrix and font size, once a glyph is shown.
    first: Option<(Transform, f64)>,
    /// The span's width so far, in the first glyph's text-space units (as a glyph's
    /// width is given to `OutputDev::output_character`).
    width: f64,
    /// The spacing after the last glyph.
    spacing: f64,
}

impl ActualText {
    /// The span a `BDC` operation begins, if its properties (inline, or named in the
    /// resources' `/Properties`) carry `/ActualText`. `depth` is the form nesting
    /// depth of the stream and its marked-content depth before the operation.
    pub(crate) fn begins(
        doc: &Document,
        resources: &Dictionary,
        operation: &Operation,
        depth: (usize, usize),
    ) -> Option<ActualText> {
        if operation.operator != "BDC" {
            return None;
        }
        let properties = match operation.operands.get(1)? {
            Object::Dictionary(dict) => dict,
            Object::Name(name) => {
                let named = maybe_deref(doc, resources.get(b"Properties").ok()?);
                let named = named.as_dict().ok()?;
                maybe_deref(doc, named.get(name).ok()?).as_dict().ok()?
            }
            _ => return None,
        };
        let text = match maybe_deref(doc, properties.get(b"ActualText").ok()?) {
            Object::String(bytes, _) => text_string(bytes),
            _ => return None,
        };
        Some(ActualText {
            text,
            depth,
            first: None,
            width: 0.0,
            spacing: 0.0,
        })
    }

    /// Takes a glyph the span covers in place of showing it.
    pub(crate) fn cover(&mut self, trm: &Transform, width: f64, spacing: f64, font_size: f64) {
        match self.first {
            None => {
                self.first = Some((*trm, font_size));
                self.width = width;
            }
            Some((_, size)) => {
                let gap = if size.is_normal() {
                    self.spacing / size.abs()
                } else {
                    0.0
                };
                self.width += gap + width;
            }
        }
        self.spacing = spacing;
    }

    /// Shows the replacement text where the span's glyphs were, if it covered any
    /// (a span that shows no glyph adds no text, as it draws none).
    fn end(self, output: &mut dyn OutputDev) -> Result<(), OutputError> {
        let Some((trm, font_size)) = self.first else {
            return Ok(());
        };
        if self.text.is_empty() {
            return Ok(());
        }
        output.begin_word()?;
        output.output_character(&trm, self.width, self.spacing, font_size, &self.text)?;
        output.end_word()
    }
}

/// Ends `span`, showing its text, if it ends when the stream at form depth `depth.0`
/// has a marked-content stack `depth.1` deep.
pub(crate) fn end_at(
    span: &mut Option<ActualText>,
    depth: (usize, usize),
    output: &mut dyn OutputDev,
) -> Result<(), OutputError> {
    match span.take() {
        Some(s) if depth.0 == s.depth.0 && depth.1 <= s.depth.1 => s.end(output),
        open => {
            *span = open;
            Ok(())
        }
    }
}

/// A PDF text string (7.9.2.2): UTF-16BE or UTF-8 after a byte-order mark, else
/// PDFDocEncoding. Bytes that do not decode become U+FFFD; control characters are
/// dropped.
fn text_string(bytes: &[u8]) -> String {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        UTF_16BE.decode_without_bom_handling(rest).0.into_owned()
    } else if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        bytes
            .iter()
            .map(|&b| {
                char::from_u32(u32::from(crate::PDFDocEncoding[usize::from(b)]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect()
    };
    let mut text: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strings_decode_in_each_encoding() {
        assert_eq!(text_string(b"fi"), "fi");
        assert_eq!(
            text_string(&[0xfe, 0xff, 0x00, 0x31, 0x4e, 0x2d]),
            "1\u{4e2d}"
        );
        assert_eq!(text_string(&[0xef, 0xbb, 0xbf, b'f', b'f']), "ff");
        // PDFDocEncoding's 0x84 is an em dash; a lone byte of UTF-16 is replaced.
        assert_eq!(text_string(&[0x84]), "\u{2014}");
        assert_eq!(text_string(&[0xfe, 0xff, 0x00]), "\u{fffd}");
        assert_eq!(text_string(b"a\nb\0"), "ab");
        assert!(text_string(&[b'x'; 5000]).len() == MAX_TEXT);
    }
}
