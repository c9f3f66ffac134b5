//! XML as text: the character data of every element, one paragraph per element that
//! holds text directly, located by the line its text starts on. Markup, comments and
//! processing instructions are dropped; the first `title` element gives the title.

use crate::builder::{squash, Builder};
use crate::document::{Document, Input, Parsed, SectionKind};
use crate::error::{Error, Result};
use crate::xml::{Reader, Tok};

/// An XML file: one document.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let text = crate::text::decode(input.bytes);
    let mut parsed = Parsed::default();
    let mut out = Paragraphs {
        b: Builder::new(),
        text: &text,
        line: 1,
        counted: 0,
        current: String::new(),
        start: None,
    };
    let mut in_title = false;
    let mut reader = Reader::new(&text);
    loop {
        let at = reader.position();
        let Some(tok) = reader.next() else { break };
        match &tok {
            Tok::Text(t) => {
                if in_title && parsed.title.is_none() {
                    let t = squash(t);
                    if !t.is_empty() {
                        parsed.title = Some(t);
                    }
                }
                if out.start.is_none() && !t.trim().is_empty() {
                    out.start = Some(at);
                }
                out.current.push_str(t);
            }
            Tok::Start { empty, .. } => {
                out.flush();
                in_title = !empty && tok.local() == "title";
            }
            Tok::End { .. } => {
                out.flush();
                in_title = false;
            }
        }
    }
    out.flush();
    parsed.sections = out.b.finish();
    if parsed.sections.is_empty() {
        return Err(Error::Empty {
            name: input.name.to_owned(),
        });
    }
    Ok(vec![parsed.into_document(input)])
}

/// The paragraphs being made, and where the text read so far ends in lines.
struct Paragraphs<'a> {
    b: Builder,
    text: &'a str,
    /// The line at byte `counted`.
    line: u32,
    counted: usize,
    current: String,
    /// Where the current paragraph's text starts.
    start: Option<usize>,
}

impl Paragraphs<'_> {
    fn flush(&mut self) {
        let t = squash(&self.current);
        self.current.clear();
        let Some(at) = self.start.take() else { return };
        if t.is_empty() {
            return;
        }
        let at = at.min(self.text.len());
        let newlines = self.text.as_bytes()[self.counted.min(at)..at]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        self.line = self
            .line
            .saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        self.counted = at;
        self.b.location.line = Some(self.line);
        self.b.push(SectionKind::Paragraph, &t);
    }
}
