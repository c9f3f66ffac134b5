use std::path::PathBuf;

/// Result alias for trawl.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in trawl.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model directory lacks a file it needs.
    #[error("model directory {dir}: missing {file}")]
    ModelFileMissing {
        /// The model directory.
        dir: PathBuf,
        /// The file that is not there.
        file: String,
    },
    /// A model file exists but cannot be used.
    #[error("model directory {dir}: cannot use {file}: {reason}")]
    ModelInvalid {
        /// The model directory.
        dir: PathBuf,
        /// The offending file.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The model failed while embedding.
    #[error("embedding failed: {reason}")]
    Embedding {
        /// What failed.
        reason: String,
        /// The model's or tokenizer's own error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A dense or hybrid search, or an add, needs an embedding model the collection
    /// does not have.
    #[error(
        "collection at {path} has no embedding model loaded: open it with the model its \
         vectors came from (`--model DIR` on the command line) or search keyword-only"
    )]
    NoEmbedder {
        /// The collection folder.
        path: PathBuf,
    },
    /// The embedder's dimension differs from the collection's.
    #[error("embedder makes {got}-dimensional vectors; the collection at {path} holds {expected}")]
    DimensionMismatch {
        /// The collection folder.
        path: PathBuf,
        /// The collection's dimension.
        expected: usize,
        /// The embedder's dimension.
        got: usize,
    },
    /// Creating a collection needs a model, and none was given or found where
    /// [`default_model_dir`](crate::default_model_dir) looks.
    #[error("no embedding model for the new collection at {path}: give a model directory or an embedder, set TRAWL_MODEL to a model directory, put all-MiniLM-L6-v2 in models/all-MiniLM-L6-v2 under the current directory, or ask for keyword_only")]
    ModelRequired {
        /// The collection folder.
        path: PathBuf,
    },
    /// An option given as text (a reranker or fusion spec, say) cannot be understood.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which option.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A shard set's manifest or shards do not make a valid set.
    #[error("shard set at {path}: {reason}")]
    InvalidShardSet {
        /// The set's folder.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Fine-tuning a model ([`crate::tune`]) cannot start or go on.
    #[error("tuning into {dir}: {reason}")]
    Tuning {
        /// The output model directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An ingest was stopped by [`crate::Collection::cancel`].
    #[error("cancelled")]
    Cancelled,
    /// A file could not be parsed.
    #[error(transparent)]
    Ingest(#[from] trawl_ingest::Error),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] trawl_index::Error),
}

impl Error {
    /// An embedding failure described by `reason`, for [`Embedder`](crate::Embedder)
    /// implementations.
    pub fn embedding(reason: impl Into<String>) -> Error {
        Error::Embedding {
            reason: reason.into(),
            source: None,
        }
    }

    /// An embedding failure caused by `source` (a tokenizer's or a model's error), kept
    /// as this error's [`source`](std::error::Error::source).
    pub fn embedding_from(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        let source = source.into();
        Error::Embedding {
            reason: source.to_string(),
            source: Some(source),
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::embedding_from(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embedding_error_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad weights");
        let e = Error::embedding_from(io);
        assert_eq!(e.to_string(), "embedding failed: bad weights");
        let source = std::error::Error::source(&e).expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        let e = Error::embedding("the service is down");
        assert!(std::error::Error::source(&e).is_none());
    }
}
