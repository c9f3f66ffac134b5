use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong opening, writing or searching an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the index could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No index exists at the path.
    #[error("no trawl index at {path}")]
    NotFound {
        /// The folder.
        path: PathBuf,
    },
    /// The index was written by an incompatible version of trawl.
    #[error("index at {path} has format version {found}; this trawl reads version {expected}")]
    Incompatible {
        /// The folder.
        path: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The index cuts Japanese or Korean text with a MeCab dictionary that is not
    /// here (or another release of it is): its terms would not match new text or
    /// queries.
    #[error(
        "index at {path} cuts {language} text with the dictionary {recorded}, but this \
         process has {found}: run models/fetch.sh, or set TRAWL_DICTIONARIES to the \
         directory holding it"
    )]
    MissingDictionary {
        /// The folder.
        path: PathBuf,
        /// The language, in English.
        language: &'static str,
        /// The dictionary the index records (name, sizes).
        recorded: String,
        /// What this process found instead.
        found: String,
    },
    /// Another writer holds the index's lock.
    #[error("index at {path} is locked by another writer")]
    Locked {
        /// The folder.
        path: PathBuf,
    },
    /// A vector has the wrong number of dimensions.
    #[error("vector has {got} dimensions; the index holds {expected}")]
    Dimension {
        /// The index's dimension.
        expected: usize,
        /// The vector's dimension.
        got: usize,
    },
    /// [`crate::Index::create`] found an index at the path already.
    #[error("an index already exists at {path}")]
    AlreadyExists {
        /// The folder.
        path: PathBuf,
    },
    /// The HNSW graph's background work failed: the thread stopped, or a save did not
    /// complete. The store is intact; the next open catches the graph up from it.
    #[error("HNSW graph of the index at {path}: {reason}")]
    Graph {
        /// The index folder.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A file of the index is damaged.
    #[error("index at {path} is corrupt: {reason}")]
    Corrupt {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A filter could not be parsed or does not fit the fields it names.
    #[error("invalid filter {filter:?} at byte {position}: {reason}")]
    InvalidFilter {
        /// The filter text (empty for a filter built in code).
        filter: String,
        /// Byte offset of the problem in `filter`.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A tenant name holds the character (U+001F) that separates it from document
    /// ids inside the index.
    #[error("invalid tenant {tenant:?}: it must not contain U+001F")]
    InvalidTenant {
        /// The tenant.
        tenant: String,
    },
    /// The index was opened at a pinned commit (see [`crate::Index::open_at`]), which
    /// is read-only.
    #[error("index at {path} is open at a pinned commit, which is read-only")]
    ReadOnly {
        /// The folder.
        path: PathBuf,
    },
    /// No pin holds the commit asked for (it was never pinned, or was released).
    #[error("index at {path} has no pinned commit {commit}")]
    NotPinned {
        /// The folder.
        path: PathBuf,
        /// The commit's opstamp.
        commit: u64,
    },
    /// An error from tantivy.
    #[error("keyword index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}
