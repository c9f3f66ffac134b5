//! trawl-index: a durable chunk store with a BM25 keyword index (tantivy) and an HNSW
//! vector index (trawl's own graph, `graph.rs`) over the same chunks, in one directory.
//!
//! Tantivy's commit is the single source of truth: each chunk's text and metadata are
//! stored there, and its commit payload says which rows of the vector files (each
//! chunk's vector, stored once, by vid) belong to the index. The HNSW graph is derived
//! from both: a commit's vectors are searchable at once by exact comparison while a
//! background thread inserts them into the graph and saves it; a graph that is behind
//! or missing is caught up from the vector files on open. Deleted chunks are excluded inside both searches and
//! compacted away when they pass a share of the index.
//!
//! Every chunk belongs to a tenant (`""` by default) and carries typed metadata; a
//! [`Filter`] on metadata and built-in fields (format, source, doc_id, tenant) runs
//! inside both retrievers.
//!
//! ```
//! use trawl_index::{Filter, Index, IndexOptions, Record};
//!
//! let dir = tempfile::tempdir()?;
//! let index = Index::create(dir.path(), IndexOptions::new(2))?;
//! index.add(vec![Record::new("doc", 0, "hello world", vec![1.0, 0.0])])?;
//! index.commit()?;
//! let hits = index.search_vector(&[0.9, 0.1], 1, None)?;
//! let chunks = index.fetch(&hits.iter().map(|h| h.id).collect::<Vec<_>>())?;
//! assert_eq!(chunks[0].1.text, "hello world");
//! assert_eq!(index.search_keyword("hello", 1, None)?.len(), 1);
//!
//! let mut pdf = Record::new("report", 0, "hello again", vec![0.0, 1.0]).with_tenant("acme");
//! pdf.format = "pdf".into();
//! pdf.metadata.insert("year".into(), 2021.into());
//! index.add(vec![pdf])?;
//! index.commit()?;
//! let filter = Filter::tenant("acme").and("format = \"pdf\" AND year >= 2020".parse()?);
//! let hits = index.search_vector(&[0.9, 0.1], 5, Some(&filter))?;
//! assert_eq!(hits.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
mod filter;
mod fresh;
mod graph;
mod index;
mod language;
pub mod mecab;
mod quantize;
mod record;
mod schema;
mod tokenize;
mod vector_log;
mod vectors;

pub use error::{Error, Result};
pub use filter::{Filter, FilterValue};
pub use index::{
    check_tenant, CheckReport, DocumentInfo, Index, IndexOptions, KeywordSignals, KeywordStats,
    Problem, Scored, Stats, TenantStats, View, FORMAT_VERSION,
};
pub use language::Language;
pub use record::Record;
pub use vectors::{HnswParams, Quantization};
