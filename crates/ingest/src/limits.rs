//! Limits against hostile or accidentally huge input.

use serde::{Deserialize, Serialize};

/// Bounds on what one file may make the parser do. Exceeding one is an
/// [`Error::LimitExceeded`](crate::Error::LimitExceeded) for that file; other files go on.
///
/// ```
/// let limits = trawl_ingest::Limits::default().max_pages(100);
/// assert_eq!(limits.max_pages, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest file read at all, in bytes (64 MiB).
    pub max_file_bytes: u64,
    /// Most bytes inflated from a zip-based file (DOCX, PPTX, XLSX, ODS) in total (256 MiB).
    pub max_decompressed_bytes: u64,
    /// Most entries in a zip-based file's central directory (10,000).
    pub max_zip_entries: usize,
    /// Most pages of a PDF (5,000).
    pub max_pages: usize,
    /// Most sheets of a workbook (1,000).
    pub max_sheets: usize,
    /// Most rows of one sheet or CSV file (1,000,000).
    pub max_rows: usize,
    /// Most cells a sheet may declare or span (rows x columns, 50,000,000).
    pub max_cells: u64,
    /// Most slides of a presentation (5,000).
    pub max_slides: usize,
    /// Most messages of a mailbox (100,000).
    pub max_messages: usize,
    /// How deep attachments of attachments are followed (3).
    pub max_attachment_depth: u32,
    /// Longest a file's parse may take in [`parse_paths`](crate::parse_paths), the
    /// batch form ingestion uses, in milliseconds (300,000: five minutes; 0: no limit).
    /// A file past it is a failure and the batch goes on; its parser's thread is left
    /// to finish on its own, since a thread cannot be stopped from outside (one that
    /// never returns keeps a core busy until the process exits).
    pub max_parse_millis: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 64 * 1024 * 1024,
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_zip_entries: 10_000,
            max_pages: 5_000,
            max_sheets: 1_000,
            max_rows: 1_000_000,
            max_cells: 50_000_000,
            max_slides: 5_000,
            max_messages: 100_000,
            max_attachment_depth: 3,
            max_parse_millis: 300_000,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_file_bytes`].
    #[must_use]
    pub fn max_file_bytes(mut self, v: u64) -> Self {
        self.max_file_bytes = v;
        self
    }
    /// Sets [`Limits::max_decompressed_bytes`].
    #[must_use]
    pub fn max_decompressed_bytes(mut self, v: u64) -> Self {
        self.max_decompressed_bytes = v;
        self
    }
    /// Sets [`Limits::max_zip_entries`].
    #[must_use]
    pub fn max_zip_entries(mut self, v: usize) -> Self {
        self.max_zip_entries = v;
        self
    }
    /// Sets [`Limits::max_pages`].
    #[must_use]
    pub fn max_pages(mut self, v: usize) -> Self {
        self.max_pages = v;
        self
    }
    /// Sets [`Limits::max_sheets`].
    #[must_use]
    pub fn max_sheets(mut self, v: usize) -> Self {
        self.max_sheets = v;
        self
    }
    /// Sets [`Limits::max_rows`].
    #[must_use]
    pub fn max_rows(mut self, v: usize) -> Self {
        self.max_rows = v;
        self
    }
    /// Sets [`Limits::max_cells`].
    #[must_use]
    pub fn max_cells(mut self, v: u64) -> Self {
        self.max_cells = v;
        self
    }
    /// Sets [`Limits::max_slides`].
    #[must_use]
    pub fn max_slides(mut self, v: usize) -> Self {
        self.max_slides = v;
        self
    }
    /// Sets [`Limits::max_messages`].
    #[must_use]
    pub fn max_messages(mut self, v: usize) -> Self {
        self.max_messages = v;
        self
    }
    /// Sets [`Limits::max_attachment_depth`].
    #[must_use]
    pub fn max_attachment_depth(mut self, v: u32) -> Self {
        self.max_attachment_depth = v;
        self
    }
    /// Sets [`Limits::max_parse_millis`].
    #[must_use]
    pub fn max_parse_millis(mut self, v: u64) -> Self {
        self.max_parse_millis = v;
        self
    }
}
