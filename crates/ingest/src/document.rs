use std::collections::BTreeMap;
use std::fmt;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// Typed metadata attached to a document (front matter, file facts, caller's fields).
pub type Metadata = BTreeMap<String, MetaValue>;

/// One metadata value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetaValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A list of strings (tags).
    List(Vec<String>),
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::Bool(v) => write!(f, "{v}"),
            MetaValue::Int(v) => write!(f, "{v}"),
            MetaValue::Float(v) => write!(f, "{v}"),
            MetaValue::Str(v) => f.write_str(v),
            MetaValue::List(v) => f.write_str(&v.join(", ")),
        }
    }
}

impl From<&str> for MetaValue {
    fn from(v: &str) -> Self {
        MetaValue::Str(v.to_owned())
    }
}
impl From<String> for MetaValue {
    fn from(v: String) -> Self {
        MetaValue::Str(v)
    }
}
impl From<i64> for MetaValue {
    fn from(v: i64) -> Self {
        MetaValue::Int(v)
    }
}
impl From<f64> for MetaValue {
    fn from(v: f64) -> Self {
        MetaValue::Float(v)
    }
}
impl From<bool> for MetaValue {
    fn from(v: bool) -> Self {
        MetaValue::Bool(v)
    }
}
impl From<Vec<String>> for MetaValue {
    fn from(v: Vec<String>) -> Self {
        MetaValue::List(v)
    }
}

/// The format a document was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// Plain text.
    Text,
    /// Markdown (CommonMark).
    Markdown,
    /// PDF.
    Pdf,
    /// Word document (DOCX).
    Docx,
    /// PowerPoint presentation (PPTX).
    Pptx,
    /// Excel workbook (XLSX, XLSM).
    Xlsx,
    /// Legacy Excel workbook (XLS).
    Xls,
    /// OpenDocument spreadsheet (ODS).
    Ods,
    /// Comma- or tab-separated values.
    Csv,
    /// HTML.
    Html,
    /// An e-mail message (EML) or a mailbox (MBOX).
    Email,
    /// JSON or JSON Lines.
    Json,
    /// An image, read with OCR (feature `ocr`).
    Image,
    /// OpenDocument text (ODT).
    Odt,
    /// OpenDocument presentation (ODP).
    Odp,
    /// EPUB e-book.
    Epub,
    /// ZIP archive, its members read by their own formats.
    Zip,
    /// XML, read as text.
    Xml,
    /// Outlook message (MSG).
    Msg,
    /// Legacy Word document (DOC, Word 97-2003).
    Doc,
    /// Legacy PowerPoint presentation (PPT, PowerPoint 97-2003).
    Ppt,
    /// Rich Text Format (RTF).
    Rtf,
}

impl Format {
    /// Short lowercase name, as stored in the index (`"text"`, `"markdown"`, `"pdf"`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Pptx => "pptx",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::Email => "email",
            Format::Json => "json",
            Format::Image => "image",
            Format::Odt => "odt",
            Format::Odp => "odp",
            Format::Epub => "epub",
            Format::Zip => "zip",
            Format::Xml => "xml",
            Format::Msg => "msg",
            Format::Doc => "doc",
            Format::Ppt => "ppt",
            Format::Rtf => "rtf",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of block a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum SectionKind {
    /// A heading of the given level (1 = top).
    Heading {
        /// 1..=6.
        level: u8,
    },
    /// A paragraph of prose.
    Paragraph,
    /// One item of a list.
    ListItem,
    /// A code block.
    Code,
    /// A table, as text rows.
    Table,
    /// A block quote.
    Quote,
    /// A footnote, endnote or comment attached to the text.
    Note,
}

/// Where in the source a section sits. Fields a format does not have stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// 1-based line of the section's first line in a text source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based page number (paged formats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// 1-based slide number (presentations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slide: Option<u32>,
    /// Sheet name (spreadsheets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// 1-based first and last row (tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<(u32, u32)>,
    /// 1-based index of the message in a mailbox (e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<u32>,
    /// File name of the e-mail attachment the section comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    /// Key path of the value (JSON), e.g. `items[2].title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// 1-based chapter, in reading order (EPUB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chapter: Option<u32>,
    /// Path of the archive member the section comes from (ZIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// What the block is.
    pub kind: SectionKind,
    /// Its text, without markup.
    pub text: String,
    /// Titles of the headings it sits under, outermost first. A heading's own path
    /// ends with itself.
    pub heading_path: Vec<String>,
    /// Where it is in the source.
    pub location: Location,
    /// For a table whose source numbers its rows (spreadsheets, CSV): the 1-based
    /// source row of each line of `text`, its header line first, so a chunk holding
    /// some of its lines can say exactly which rows. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_numbers: Vec<u32>,
}

/// A parsed document: structured text plus metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Stable identifier: the path for files, the caller's id for text.
    pub id: String,
    /// Title from metadata, the first top-level heading, or the file name.
    pub title: Option<String>,
    /// Source path, when the document came from a file.
    pub source: Option<String>,
    /// The format it was parsed from.
    pub format: Format,
    /// Metadata (front matter, caller's fields).
    pub metadata: Metadata,
    /// The blocks, in reading order.
    pub sections: Vec<Section>,
}

/// The text of the first heading: the title of a document whose metadata names none.
pub(crate) fn first_heading(sections: &[Section]) -> Option<String> {
    sections
        .iter()
        .find(|s| matches!(s.kind, SectionKind::Heading { .. }))
        .map(|s| s.text.clone())
}

impl Document {
    /// A plain-text document from text the caller already has; paragraphs are split on
    /// blank lines.
    #[must_use]
    pub fn from_text(id: impl Into<String>, text: &str) -> Document {
        Document {
            id: id.into(),
            title: None,
            source: None,
            format: Format::Text,
            metadata: Metadata::new(),
            sections: crate::text::paragraphs(text),
        }
    }

    /// Sets the title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Document {
        self.title = Some(title.into());
        self
    }

    /// Adds one metadata field.
    #[must_use]
    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<MetaValue>) -> Document {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// All section text joined with blank lines: what the document says.
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&s.text);
        }
        out
    }
}

/// What a parser is given: one file's bytes and what is known about them.
pub(crate) struct Input<'a> {
    /// The file's content.
    pub(crate) bytes: &'a [u8],
    /// Its name: the path as given, or an attachment's name; the id of its first
    /// document.
    pub(crate) name: &'a str,
    /// The format detected for it.
    pub(crate) format: Format,
    /// The limits it is read within.
    pub(crate) limits: &'a Limits,
    /// How deep in attachments it is (0 for a file of its own).
    pub(crate) depth: u32,
}

/// The parts of one document as a single-document format's parser finds them.
#[derive(Default)]
pub(crate) struct Parsed {
    pub(crate) title: Option<String>,
    pub(crate) metadata: Metadata,
    pub(crate) sections: Vec<Section>,
}

impl Parsed {
    /// The document these parts make for `input`: its id is the input's name, its title
    /// the one found or else one taken from the metadata, the first heading or line, or
    /// the file name.
    pub(crate) fn into_document(self, input: &Input<'_>) -> Document {
        let title = self
            .title
            .or_else(|| title_of(&self.metadata, &self.sections, input.format, input.name));
        Document {
            id: input.name.to_owned(),
            title,
            source: None,
            format: input.format,
            metadata: self.metadata,
            sections: self.sections,
        }
    }
}

/// A title for a document whose parser found none: a `title` in the metadata, the first
/// level-1 heading of Markdown, a short first line of plain text standing alone, or the
/// file name without its extension.
fn title_of(meta: &Metadata, sections: &[Section], format: Format, name: &str) -> Option<String> {
    if let Some(MetaValue::Str(t)) = meta.get("title") {
        return Some(t.clone());
    }
    if format == Format::Markdown {
        let h1 = sections
            .iter()
            .find(|s| matches!(s.kind, SectionKind::Heading { level: 1 }));
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
