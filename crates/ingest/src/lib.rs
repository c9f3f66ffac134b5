//! trawl-ingest: turns files and text into structured [`Document`]s.
//!
//! A document is a list of [`Section`]s (headings, paragraphs, list items, tables, code,
//! notes, ...) each with the heading path it sits under and its [`Location`] in the
//! source (line, page, slide, sheet and rows, message and attachment, JSON key), so a
//! search hit can say where it came from.
//!
//! Formats: Markdown, plain text, PDF, DOCX, PPTX, XLSX/XLSM, XLS, ODS, CSV/TSV, HTML,
//! EML/MBOX e-mail (attachments parsed as documents of their own), JSON/JSONL. The format
//! is detected from the content first and the extension second. Broken, encrypted,
//! text-less and over-[`Limits`] files are typed [`Error`]s; no parser panic escapes.
//!
//! ```
//! use trawl_ingest::{parse_bytes, SectionKind};
//!
//! let doc = parse_bytes(b"# Guide\n\n## Install\n\nRun the installer.\n", "guide.md")?;
//! assert_eq!(doc.title.as_deref(), Some("Guide"));
//! let para = doc.sections.iter().find(|s| s.kind == SectionKind::Paragraph).unwrap();
//! assert_eq!(para.heading_path, ["Guide", "Install"]);
//! # Ok::<(), trawl_ingest::Error>(())
//! ```
#![warn(missing_docs)]

mod archive;
mod builder;
mod doc;
mod document;
mod docx;
mod email;
mod epub;
mod error;
mod html;
mod json;
mod limits;
mod markdown;
mod msg;
#[cfg(feature = "ocr")]
mod ocr;
mod odf;
mod ole;
mod panics;
mod parse;
mod pdf;
mod pdf_forms;
mod pdf_layout;
mod pdf_outline;
mod pdf_repair;
mod ppt;
mod pptx;
mod rtf;
mod sheets;
mod text;
mod walk;
mod xml;
mod xmltext;
mod zipped;

pub use document::{Document, Format, Location, MetaValue, Metadata, Section, SectionKind};
pub use error::{Error, Result};
pub use limits::Limits;
pub use parse::{
    detect_format, parse_bytes, parse_bytes_all, parse_bytes_as, parse_path, parse_path_all,
    parse_paths, MAX_FILE_BYTES,
};
pub use walk::walk;
