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
}

impl Error {
    /// True when the file was skipped because trawl does not handle its format.
    #[must_use]
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}
