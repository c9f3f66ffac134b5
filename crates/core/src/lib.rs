//! trawl: an embedded retrieval library for RAG.
//!
//! Point a [`Collection`] at a folder of documents; it parses them, cuts them into
//! chunks, embeds the chunks locally with Candle, and keeps a hybrid index (HNSW
//! vectors beside BM25) in one directory. Every [`Hit`] carries its text, score and
//! exact source.
//!
//! ```no_run
//! use trawl::{AddOptions, Collection, SearchMode};
//!
//! let collection = Collection::builder("my-index")
//!     .model_dir("models/all-MiniLM-L6-v2")
//!     .open()?;
//! let report = collection.add_paths(&["examples/corpus"], &AddOptions::default())?;
//! collection.commit()?;
//! println!("{} documents, {} failures", report.added, report.failures.len());
//! for hit in collection.search("how do I keep a sourdough starter alive?", 5, SearchMode::Hybrid)? {
//!     println!("{:.3} {} {:?}\n{}", hit.score, hit.doc_id, hit.heading_path, hit.text);
//! }
//! # Ok::<(), trawl::Error>(())
//! ```
//!
//! Without `model_dir`, a new collection takes the model [`default_model_dir`] finds:
//! `$TRAWL_MODEL`, else `models/all-MiniLM-L6-v2` under the current directory. An
//! existing collection reopens with the model it was created with.
//!
//! Without a model, a collection can still do keyword search, and any [`Embedder`] can
//! be plugged in:
//!
//! ```
//! use trawl::{Collection, Metadata, SearchMode};
//!
//! let dir = tempfile::tempdir()?;
//! let collection = Collection::builder(dir.path()).keyword_only().open()?;
//! collection.add_text("note-1", "The kettle is in the left cupboard.", Metadata::new())?;
//! collection.commit()?;
//! let hits = collection.search("where is the kettle", 3, SearchMode::Keyword)?;
//! assert_eq!(hits[0].doc_id, "note-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod chunk;
mod collection;
pub mod context;
mod embed;
mod error;
mod fuse;
mod rerank;
mod search;
pub mod shards;
pub mod tune;

pub use chunk::{chunk_document, Chunk, ChunkOptions, Overlap};
pub use collection::{
    AddOptions, AddOutcome, CancelToken, Collection, CollectionBuilder, Failure, Feedback,
    IngestReport, PreparedDocument, Preparer, Progress, ReembedReport,
};
pub use context::{Citation, Context, ContextOptions};
pub use embed::{
    default_model_dir, BertEmbedder, CpuPath, Embedder, Pooling, Precision, Runtime, TokenStats,
    DEFAULT_MODEL_DIR, MODEL_ENV,
};
pub use error::{Error, Result};
pub use fuse::{
    is_question, reciprocal_rank_fusion, Fusion, Normalization, QuerySignals, FADE_IDF_FROM,
    FADE_IDF_TO, QUESTION_WORDS, RRF_K, UNREAD_BIAS, UNREAD_SLOPE,
};
pub use rerank::{
    reranker_from_spec, reranker_from_spec_with, Candidate, CrossEncoder, Mmr, Reranker,
    SentenceWindows,
};
pub use search::{ChunkSpan, Hit, SearchMode, SearchOptions};
pub use shards::{shard_of, ShardManifest, ShardSet, ShardWriter};
pub use trawl_index::{
    CheckReport, DocumentInfo, Filter, FilterValue, Index, IndexOptions, KeywordStats, Language,
    Problem, Quantization, Record, Scored, Stats, TenantStats,
};
pub use trawl_ingest::{
    Document, Format, Limits, Location, MetaValue, Metadata, Section, SectionKind,
};
