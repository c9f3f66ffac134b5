//! What a search takes and returns: [`SearchMode`], [`SearchOptions`], [`Hit`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use trawl_index::Filter;
use trawl_ingest::{Location, Metadata};

use crate::error::Result;
use crate::fuse::Fusion;

/// Which retriever answers a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Nearest neighbours of the query embedding (HNSW).
    Dense,
    /// BM25 over title, headings and text (tantivy).
    Keyword,
    /// Both, fused (adaptive z-score fusion by default; see [`Fusion`]).
    #[default]
    Hybrid,
}

impl SearchMode {
    /// Lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Dense => "dense",
            SearchMode::Keyword => "keyword",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

impl fmt::Display for SearchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "dense" | "vector" => Ok(SearchMode::Dense),
            "keyword" | "bm25" => Ok(SearchMode::Keyword),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(format!(
                "unknown search mode {other:?} (dense, keyword or hybrid)"
            )),
        }
    }
}

/// Options for one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchOptions {
    /// Hits to return.
    pub k: usize,
    /// Which retriever(s).
    pub mode: SearchMode,
    /// Candidates each retriever fetches before fusion (hybrid); at least `k`.
    pub candidates: usize,
    /// How a hybrid search fuses the two lists.
    pub fusion: Fusion,
    /// Whether the collection's reranker (if it has one) reorders the results.
    pub rerank: bool,
    /// How many first-stage results the reranker looks at (at least `k`).
    pub rerank_depth: usize,
    /// Only chunks matching this filter, applied inside both retrievers (so `k` hits
    /// come back whenever `k` chunks match). In serialised options, the filter's
    /// string syntax (see [`Filter::parse`]).
    pub filter: Option<Filter>,
    /// Only chunks of this tenant; a hard boundary. `None`: the tenant the collection
    /// was opened for ([`CollectionBuilder::tenant`](crate::CollectionBuilder::tenant)), or every tenant when it was
    /// opened for none.
    pub tenant: Option<String>,
    /// Return each hit's whole parent section (merged from its chunks) instead of the
    /// chunk, one hit per parent: small chunks to find, larger context to read.
    pub expand_parent: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            k: 10,
            mode: SearchMode::Hybrid,
            candidates: 100,
            fusion: Fusion::default(),
            rerank: true,
            rerank_depth: 50,
            filter: None,
            tenant: None,
            expand_parent: false,
        }
    }
}

/// One search result: a chunk, its score and exactly where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// `doc_id#ordinal`.
    pub chunk_id: String,
    /// The document's id (the path for files).
    pub doc_id: String,
    /// Position of the chunk in the document.
    pub ordinal: u32,
    /// The chunk's text.
    pub text: String,
    /// Score: cosine similarity (dense), BM25 (keyword), the fused score (hybrid), or
    /// the reranker's score.
    pub score: f32,
    /// The document's title.
    pub title: String,
    /// The file the document came from, if any.
    pub source: Option<String>,
    /// The format it was parsed from.
    pub format: String,
    /// Headings the chunk sits under, outermost first.
    pub heading_path: Vec<String>,
    /// Where in the source (line, page, slide, sheet...).
    pub location: Location,
    /// The document's metadata.
    pub metadata: Metadata,
    /// Where the chunk sits in its parent section.
    pub span: ChunkSpan,
    /// The tenant the document belongs to (`""` for none).
    pub tenant: String,
}

/// Where a chunk sits in its parent section (see [`Chunk`](crate::Chunk)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkSpan {
    /// The parent section, numbered from 0 within the document.
    pub parent: u32,
    /// Character offset of the chunk's own text in the parent's text.
    pub start: usize,
    /// End of it (exclusive).
    pub end: usize,
    /// Characters at the start of the text that repeat a table header.
    pub header_chars: usize,
}
