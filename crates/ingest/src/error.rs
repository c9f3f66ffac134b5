use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a file or text could not be turned into a [`crate::Document`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file's format is not one trawl can parse.
    #[error("unsupported format for {name}: {reason}")]
    Unsupported {
        /// File name or path.
        name: String,
        /// What was detected.
        reason: String,
    },
    /// The file is larger than the configured limit.
    #[error("{name} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// File name or path.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is of a supported format but its content is broken.
    #[error("cannot parse {name} as {format}: {reason}")]
    Malformed {
        /// File name or path.
        name: String,
        /// The format it was parsed as.
        format: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The file has no content at all.
    #[error("{name} is empty")]
    Empty {
        /// File name or path.
        name: String,
    },
    /// The file is encrypted and needs a password.
    #[error("{name} is an encrypted {format} and needs a password")]
    Encrypted {
        /// File name or path.
        name: String,
        /// The format.
        format: &'static str,
    },
    /// The file has no text to index (a scanned PDF without a text layer, an image
    /// without OCR).
    #[error("{name} has no text layer ({format}): a scan or image needs OCR")]
    NoText {
        /// File name or path.
        name: String,
        /// The format.
        format: &'static str,
    },
    /// Optical character recognition failed (feature `ocr`): tesseract or pdftoppm is
    /// missing or refused the file.
    #[error("OCR of {name} failed: {reason}")]
    Ocr {
        /// File name or path.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// Reading the file would pass one of the [`crate::Limits`].
    #[error("{name}: {what} is {value}, over the limit of {limit}")]
    LimitExceeded {
        /// File name or path.
        name: String,
        /// Which limit (`"pages"`, `"decompressed bytes"`, `"zip entries"`, ...).
        what: &'static str,
        /// The value found (or reached before stopping).
        value: u64,
        /// The configured limit.
        limit: u64,
    },
}

impl Error {
    /// True when the file was skipped because trawl does not handle its format.
    #[must_use]
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }

    // Taking the reason by value lets callers pass an error, a String or a &str.
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) fn malformed(name: &str, format: &'static str, reason: impl ToString) -> Error {
        Error::Malformed {
            name: name.to_owned(),
            format,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn limit(name: &str, what: &'static str, value: u64, limit: u64) -> Error {
        Error::LimitExceeded {
            name: name.to_owned(),
            what,
            value,
            limit,
        }
    }
}
