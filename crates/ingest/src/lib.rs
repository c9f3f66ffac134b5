//! trawl-ingest: turns files and text into structured [`Document`]s.
//!
//! A document is a list of [`Section`]s (headings, paragraphs, list items, code, ...)
//! each with the heading path it sits under and its [`Location`] in the source, so a
//! search hit can say where it came from.
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

mod document;
mod error;
mod markdown;
mod parse;
mod text;
mod walk;

pub use document::{Document, Format, Location, MetaValue, Metadata, Section, SectionKind};
pub use error::{Error, Result};
pub use parse::{detect_format, parse_bytes, parse_path, MAX_FILE_BYTES};
pub use walk::walk;
