//! The `Collection` facade: documents in, cited passages out.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trawl_index::{DocumentInfo, Filter, Index, IndexOptions, Language, Record, Scored};
use trawl_ingest::{Document, Format, Location, Metadata};

use crate::chunk::{chunk_document, Chunk, ChunkOptions};
use crate::context::{self, Context, ContextOptions};
use crate::embed::{BertEmbedder, Embedder, Precision};
use crate::error::{Error, Result};
use crate::fuse::{Fusion, QuerySignals};
use crate::rerank::{Candidate, Reranker};

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
    /// was opened for ([`CollectionBuilder::tenant`]), or every tenant when it was
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

/// Where a chunk sits in its parent section (see [`Chunk`]).
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

/// What adding one document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The document was new or changed, and this many chunks were written.
    Added {
        /// Chunks written.
        chunks: usize,
    },
    /// The same content was already indexed; nothing was re-embedded.
    Unchanged,
}

/// A file that could not be ingested, and why.
#[derive(Debug)]
pub struct Failure {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: Error,
}

/// What an ingest run did. Failures are per file; the other files are indexed.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// Files found.
    pub files: usize,
    /// Files parsed into documents (the rest are unsupported or failed).
    pub indexed: usize,
    /// Documents added or replaced (a mailbox or a mail with attachments gives several).
    pub added: usize,
    /// Documents skipped because their content was already indexed.
    pub unchanged: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Files skipped because trawl does not read their format.
    pub unsupported: Vec<PathBuf>,
    /// Files that failed, with the reason.
    pub failures: Vec<Failure>,
}

/// Progress of an ingest run, reported after each batch of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files processed so far.
    pub files_done: usize,
    /// Files in the run.
    pub files_total: usize,
    /// Chunks written so far.
    pub chunks: usize,
}

/// Files parsed together; bounds memory on huge folders.
const FILE_BATCH: usize = 16;

/// A document chunked and hashed, ready to embed.
struct Prepared {
    doc: Document,
    hash: String,
    chunks: Vec<Chunk>,
}

/// What the parsing thread of an ingest hands to the embedding one.
#[derive(Default)]
struct Parsed {
    files: usize,
    indexed: usize,
    unsupported: Vec<PathBuf>,
    failures: Vec<Failure>,
    outcomes: Vec<AddOutcome>,
    fresh: Vec<Prepared>,
    chunks: usize,
}

/// Texts embedded between checks for a cancelled ingest.
const EMBED_GROUP: usize = 256;

/// Builds or opens a [`Collection`].
#[derive(Clone)]
#[must_use]
pub struct CollectionBuilder {
    path: PathBuf,
    model_dir: Option<PathBuf>,
    embedder: Option<Arc<dyn Embedder>>,
    keyword_only: bool,
    chunking: Option<ChunkOptions>,
    language: Language,
    reranker: Option<Arc<dyn Reranker>>,
    reranker_spec: Option<String>,
    dimension: Option<usize>,
    precision: Option<Precision>,
    tenant: Option<String>,
}

impl CollectionBuilder {
    /// Add documents to `tenant` and scope searches to it unless a search names
    /// another (see [`SearchOptions::tenant`]).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// No embedding model: the caller supplies `dim`-dimensional vectors with
    /// [`Collection::add_embedded`] and searches with [`Collection::search_by_vector`]
    /// (bring your own embeddings). Keyword search works as usual.
    pub fn dimension(mut self, dim: usize) -> Self {
        self.dimension = Some(dim);
        self
    }

    /// Rerank search results with `reranker` (see [`SearchOptions::rerank`]).
    pub fn reranker(mut self, reranker: Arc<dyn Reranker>) -> Self {
        self.reranker = Some(reranker);
        self
    }

    /// Rerank search results with the reranker `spec` names (see
    /// [`reranker_from_spec_with`](crate::reranker_from_spec_with)), built when the
    /// collection opens, so that forms like `sentences` get the collection's own
    /// embedding model. Replaces [`CollectionBuilder::reranker`].
    pub fn reranker_spec(mut self, spec: impl Into<String>) -> Self {
        self.reranker_spec = Some(spec.into());
        self
    }

    /// Language of the keyword (BM25) analyzer, fixed when the collection is created
    /// (English by default).
    pub fn language(mut self, language: Language) -> Self {
        self.language = language;
        self
    }

    /// Use the sentence-transformers model in `dir` (loaded with Candle).
    pub fn model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dir = Some(dir.into());
        self
    }

    /// Precision of the model given by [`CollectionBuilder::model_dir`], recorded with
    /// a new collection and used again when it is reopened. New collections default to
    /// [`Precision::default_for_cpu`]: [`Precision::Bf16`] where the CPU has AMX (on
    /// SciFact it moved nDCG@10 by less than 0.001 at about 2.6 times f32's speed),
    /// [`Precision::Int8`] on other AVX2 and AVX-512 CPUs (within 0.003, 1.7 times
    /// f32's speed on AVX2), [`Precision::F32`] elsewhere. Collections made before
    /// precision was an option stay [`Precision::F32`].
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Use your own embedder.
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// No embedding model: keyword search only.
    pub fn keyword_only(mut self) -> Self {
        self.keyword_only = true;
        self
    }

    /// How documents are chunked.
    pub fn chunking(mut self, options: ChunkOptions) -> Self {
        self.chunking = Some(options);
        self
    }

    /// Opens the collection at the path, creating it if there is none.
    ///
    /// # Errors
    /// Model loading errors, [`Error::ModelRequired`] when creating a collection with no
    /// model, [`Error::DimensionMismatch`] when the model does not fit the collection,
    /// and index errors.
    pub fn open(self) -> Result<Collection> {
        let existing = match Index::open(&self.path) {
            Ok(index) => Some(index),
            Err(trawl_index::Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let recorded: Option<Manifest> = existing
            .as_ref()
            .and_then(|i| serde_json::from_value(Value::Object(i.options().extra.clone())).ok());
        let precision = self
            .precision
            .or_else(|| recorded.as_ref().map(|m| m.precision))
            .unwrap_or(if existing.is_some() {
                Precision::F32
            } else {
                Precision::default_for_cpu()
            });
        let embedder: Option<Arc<dyn Embedder>> = if self.keyword_only {
            None
        } else if let Some(e) = self.embedder {
            Some(e)
        } else if let Some(dir) = &self.model_dir {
            Some(Arc::new(BertEmbedder::load_with_precision(dir, precision)?))
        } else if let Some(dir) = recorded.as_ref().and_then(|m| m.model_dir.as_ref()) {
            Some(Arc::new(BertEmbedder::load_with_precision(dir, precision)?))
        } else if self.dimension.is_some() || existing.is_some() {
            // Keyword-only, or vectors brought by the caller.
            None
        } else {
            return Err(Error::ModelRequired { path: self.path });
        };
        let mut chunking = self
            .chunking
            .or_else(|| recorded.as_ref().map(|m| m.chunking))
            .unwrap_or_default();
        if let Some(e) = &embedder {
            chunking.max_tokens = chunking.max_tokens.min(e.max_tokens());
        }
        let dim = embedder
            .as_ref()
            .map(|e| e.dim())
            .or(self.dimension)
            .unwrap_or(0);
        // Before anything is created on disk: a bad spec leaves no empty collection.
        let reranker = match &self.reranker_spec {
            Some(spec) => Some(crate::rerank::reranker_from_spec_with(
                spec,
                embedder.clone(),
            )?),
            None => self.reranker,
        };
        let index = match existing {
            Some(index) => {
                let expected = index.options().dim;
                if (embedder.is_some() || self.dimension.is_some()) && expected != dim {
                    return Err(Error::DimensionMismatch {
                        path: self.path,
                        expected,
                        got: dim,
                    });
                }
                index
            }
            None => {
                let manifest = Manifest {
                    model: embedder.as_ref().map(|e| e.name()),
                    model_dir: self
                        .model_dir
                        .as_ref()
                        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
                    chunking,
                    precision,
                };
                let mut options = IndexOptions::new(dim);
                options.language = self.language;
                if let Value::Object(extra) =
                    serde_json::to_value(&manifest).expect("manifest serialises")
                {
                    options.extra = extra;
                }
                Index::create(&self.path, options)?
            }
        };
        Ok(Collection {
            path: self.path,
            index,
            embedder,
            chunking,
            reranker,
            tenant: self.tenant,
            cancelled: std::sync::atomic::AtomicBool::new(false),
            ingesting: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

/// What a collection records about itself beside the index.
#[derive(Serialize, Deserialize)]
struct Manifest {
    model: Option<String>,
    model_dir: Option<PathBuf>,
    chunking: ChunkOptions,
    /// Absent in collections made before precision was an option: f32.
    #[serde(default)]
    precision: Precision,
}

/// A searchable collection of documents in one directory.
///
/// `Send + Sync`: share it with an `Arc`; searches see the last commit while another
/// thread adds documents.
pub struct Collection {
    path: PathBuf,
    index: Index,
    embedder: Option<Arc<dyn Embedder>>,
    chunking: ChunkOptions,
    reranker: Option<Arc<dyn Reranker>>,
    /// The tenant adds go to and searches default to (`None`: adds go to `""`,
    /// searches see every tenant).
    tenant: Option<String>,
    /// Set by [`Collection::cancel`]; a running ingest stops at its next check.
    cancelled: std::sync::atomic::AtomicBool,
    /// Ingests running now (a cancel outside one has no effect).
    ingesting: std::sync::atomic::AtomicUsize,
}

impl fmt::Debug for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collection")
            .field("path", &self.path)
            .field("model", &self.embedder.as_ref().map(|e| e.name()))
            .field("chunking", &self.chunking)
            .finish_non_exhaustive()
    }
}

impl Collection {
    /// Starts building a collection at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> CollectionBuilder {
        CollectionBuilder {
            path: path.into(),
            model_dir: None,
            embedder: None,
            keyword_only: false,
            chunking: None,
            language: Language::default(),
            reranker: None,
            reranker_spec: None,
            dimension: None,
            precision: None,
            tenant: None,
        }
    }

    /// Whether a collection exists at `path`.
    #[must_use]
    pub fn exists(path: impl AsRef<Path>) -> bool {
        Index::exists(path.as_ref())
    }

    /// Opens an existing collection with the model it was created with.
    ///
    /// # Errors
    /// As [`CollectionBuilder::open`]; a missing collection is an index `NotFound`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Collection> {
        let path = path.into();
        if !Index::exists(&path) {
            return Err(trawl_index::Error::NotFound { path }.into());
        }
        Collection::builder(path).open()
    }

    /// The collection's folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The embedder, unless the collection is keyword-only.
    #[must_use]
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// The chunking in effect.
    #[must_use]
    pub fn chunking(&self) -> &ChunkOptions {
        &self.chunking
    }

    /// The underlying index.
    #[must_use]
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Adds text the caller already has as a document with id `id`, replacing any
    /// document with that id. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// Embedding and index errors.
    pub fn add_text(&self, id: &str, text: &str, metadata: Metadata) -> Result<AddOutcome> {
        let mut doc = Document::from_text(id, text);
        doc.metadata = metadata;
        self.add_document(doc)
    }

    /// Adds a parsed document, replacing any document with the same id; skipped when
    /// its content is unchanged. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// Embedding and index errors.
    pub fn add_document(&self, doc: Document) -> Result<AddOutcome> {
        Ok(self
            .add_documents(vec![doc])?
            .pop()
            .unwrap_or(AddOutcome::Unchanged))
    }

    /// Adds many documents, embedding their chunks together (faster than one by one).
    /// They go to the collection's tenant ([`CollectionBuilder::tenant`]).
    ///
    /// # Errors
    /// Embedding and index errors; nothing of the batch is added then.
    pub fn add_documents(&self, docs: Vec<Document>) -> Result<Vec<AddOutcome>> {
        self.add_tenant_documents(self.tenant.as_deref().unwrap_or(""), docs)
    }

    /// As [`Collection::add_documents`], into `tenant`. A document id names one
    /// document per tenant: the same id in two tenants is two documents.
    ///
    /// # Errors
    /// Embedding and index errors; nothing of the batch is added then.
    pub fn add_tenant_documents(
        &self,
        tenant: &str,
        docs: Vec<Document>,
    ) -> Result<Vec<AddOutcome>> {
        let (outcomes, fresh) = self.prepare(tenant, docs)?;
        self.store(tenant, fresh)?;
        Ok(outcomes)
    }

    /// Sets aside the documents of `docs` whose content is already indexed in `tenant`
    /// and chunks the rest: the CPU work of an add that does not need the model.
    fn prepare(
        &self,
        tenant: &str,
        docs: Vec<Document>,
    ) -> Result<(Vec<AddOutcome>, Vec<Prepared>)> {
        // Hashing is cheap; chunking (tokenising every piece) is not, so only what
        // changed is chunked.
        let hashed: Vec<(Document, String)> = docs
            .into_par_iter()
            .map(|doc| {
                let hash = self.content_hash(&doc);
                (doc, hash)
            })
            .collect();
        let mut changed = Vec::new();
        let mut unchanged = Vec::with_capacity(hashed.len());
        for (doc, hash) in hashed {
            let same =
                self.index.tenant_document_hash(tenant, &doc.id)?.as_deref() == Some(hash.as_str());
            unchanged.push(same);
            if !same {
                changed.push((doc, hash));
            }
        }
        let fresh: Vec<Prepared> = changed
            .into_par_iter()
            .map(|(doc, hash)| {
                let chunks = self.chunk(&doc);
                Prepared { doc, hash, chunks }
            })
            .collect();
        // Outcomes in the order of `docs`; the changed ones are in `fresh`, in order.
        let mut chunk_counts = fresh.iter().map(|p| p.chunks.len());
        let outcomes = unchanged
            .into_iter()
            .map(|same| {
                if same {
                    AddOutcome::Unchanged
                } else {
                    AddOutcome::Added {
                        chunks: chunk_counts.next().unwrap_or_default(),
                    }
                }
            })
            .collect();
        Ok((outcomes, fresh))
    }

    /// Embeds the chunks of prepared documents and writes them to the index, replacing
    /// earlier versions of the same documents in `tenant`.
    fn store(&self, tenant: &str, fresh: Vec<Prepared>) -> Result<()> {
        let started = std::time::Instant::now();
        let texts: Vec<String> = fresh
            .iter()
            .flat_map(|p| {
                p.chunks
                    .iter()
                    .map(|c| c.embedding_text(p.doc.title.as_deref(), &self.chunking))
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut vectors = match &self.embedder {
            Some(e) if !texts.is_empty() => {
                let mut all = Vec::with_capacity(texts.len());
                for group in texts.chunks(EMBED_GROUP) {
                    self.check_cancelled()?;
                    all.extend(e.embed(group)?);
                }
                all.into_iter()
            }
            _ => Vec::new().into_iter(),
        };
        let embedded = started.elapsed();
        let mut records = Vec::with_capacity(texts.len());
        let fresh_len = fresh.len();
        // Deleted before the new chunks are added, so the delete spares them.
        for p in &fresh {
            self.index.delete_tenant_document(tenant, &p.doc.id)?;
        }
        for Prepared { doc, hash, chunks } in fresh {
            let metadata = to_json_object(&doc.metadata);
            let title = doc.title.unwrap_or_default();
            let format = doc.format.as_str().to_owned();
            for chunk in chunks {
                records.push(Record {
                    doc_id: doc.id.clone(),
                    tenant: tenant.to_owned(),
                    ordinal: chunk.ordinal,
                    location: chunk_location(&chunk),
                    text: chunk.text,
                    title: title.clone(),
                    heading_path: chunk.heading_path,
                    source: doc.source.clone(),
                    format: format.clone(),
                    metadata: metadata.clone(),
                    doc_hash: hash.clone(),
                    vector: vectors.next().unwrap_or_default(),
                });
            }
        }
        self.index.add(records)?;
        tracing::debug!(
            documents = fresh_len,
            chunks = texts.len(),
            embed_ms = embedded.as_millis(),
            index_ms = (started.elapsed() - embedded).as_millis(),
            "embedded and indexed a batch"
        );
        Ok(())
    }

    /// Adds a document whose chunks the caller has already embedded (bring your own
    /// embeddings): one chunk per `(text, vector)` pair, in order, replacing any
    /// document with id `id` (of the collection's tenant). Skipped when texts, vectors and metadata are unchanged.
    /// Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when a vector's length is not the collection's
    /// dimension (nothing is added then); index errors.
    pub fn add_embedded(
        &self,
        id: &str,
        chunks: Vec<(String, Vec<f32>)>,
        metadata: &Metadata,
    ) -> Result<AddOutcome> {
        let dim = self.index.options().dim;
        if let Some((_, v)) = chunks.iter().find(|(_, v)| v.len() != dim) {
            return Err(Error::DimensionMismatch {
                path: self.path.clone(),
                expected: dim,
                got: v.len(),
            });
        }
        let mut h = Fnv64::default();
        h.write(b"embedded");
        h.write(
            serde_json::to_string(&metadata)
                .unwrap_or_default()
                .as_bytes(),
        );
        for (text, vector) in &chunks {
            h.write(text.as_bytes());
            for x in vector {
                h.write(&x.to_le_bytes());
            }
        }
        let hash = format!("{:016x}", h.0);
        let tenant = self.tenant.as_deref().unwrap_or("");
        if self.index.tenant_document_hash(tenant, id)?.as_deref() == Some(hash.as_str()) {
            return Ok(AddOutcome::Unchanged);
        }
        let metadata = to_json_object(metadata);
        let count = chunks.len();
        let records = chunks
            .into_iter()
            .zip(0u32..)
            .map(|((text, vector), ordinal)| Record {
                doc_id: id.to_owned(),
                ordinal,
                text,
                title: String::new(),
                heading_path: Vec::new(),
                source: None,
                format: Format::Text.as_str().to_owned(),
                location: Map::new(),
                metadata: metadata.clone(),
                doc_hash: hash.clone(),
                vector,
                tenant: tenant.to_owned(),
            })
            .collect();
        self.index.delete_tenant_document(tenant, id)?;
        self.index.add(records)?;
        Ok(AddOutcome::Added { chunks: count })
    }

    /// Embeds `texts` with the collection's model, as documents are embedded.
    ///
    /// # Errors
    /// [`Error::NoEmbedder`] when the collection has no model; embedding errors.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        match &self.embedder {
            Some(e) => e.embed(texts),
            None => Err(Error::NoEmbedder {
                path: self.path.clone(),
            }),
        }
    }

    /// Ingests files and folders (recursively). Unsupported and broken files are
    /// reported in the [`IngestReport`] and the rest are indexed. Call
    /// [`Collection::commit`] afterwards to make them durable and visible.
    ///
    /// # Errors
    /// Only errors that stop the whole run (embedding or index failures).
    pub fn add_path(&self, path: impl AsRef<Path>) -> Result<IngestReport> {
        self.add_paths(&[path.as_ref().to_owned()], &|_| {})
    }

    /// As [`Collection::add_path`] for several roots, calling `progress` after each
    /// batch of files.
    ///
    /// # Errors
    /// Only errors that stop the whole run (embedding or index failures).
    pub fn add_paths(
        &self,
        roots: &[PathBuf],
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        self.add_paths_with(roots, &trawl_ingest::Limits::default(), progress)
    }

    /// As [`Collection::add_paths`], parsing under `limits` (file size, zip bombs,
    /// pages, sheets, rows, ...). A file over a limit is a failure in the report.
    ///
    /// # Errors
    /// Only errors that stop the whole run (embedding or index failures).
    pub fn add_paths_with(
        &self,
        roots: &[PathBuf],
        limits: &trawl_ingest::Limits,
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        self.add_tenant_paths(
            self.tenant.as_deref().unwrap_or(""),
            roots,
            limits,
            progress,
        )
    }

    /// As [`Collection::add_paths_with`], into `tenant` instead of the collection's
    /// (as [`Collection::add_tenant_documents`] is to [`Collection::add_documents`]).
    ///
    /// # Errors
    /// [`Error::Index`] for a tenant name with U+001F (nothing is added then); errors
    /// that stop the whole run (embedding or index failures).
    pub fn add_tenant_paths(
        &self,
        tenant: &str,
        roots: &[PathBuf],
        limits: &trawl_ingest::Limits,
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        use std::sync::atomic::Ordering;
        trawl_index::check_tenant(tenant)?;
        self.cancelled.store(false, Ordering::SeqCst);
        self.ingesting.fetch_add(1, Ordering::SeqCst);
        let result = self.ingest(tenant, roots, limits, progress);
        if self.ingesting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.cancelled.store(false, Ordering::SeqCst);
        }
        result
    }

    /// Walks `roots`, then parses and chunks files on a second thread while this one
    /// embeds and indexes the batch before, so that parsing hides behind embedding.
    fn ingest(
        &self,
        tenant: &str,
        roots: &[PathBuf],
        limits: &trawl_ingest::Limits,
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        let started = std::time::Instant::now();
        let mut report = IngestReport::default();
        let mut files = Vec::new();
        for root in roots {
            for entry in trawl_ingest::walk(root) {
                match entry {
                    Ok(p) => files.push(p),
                    Err(e) => report.failures.push(Failure {
                        path: match &e {
                            trawl_ingest::Error::Io { path, .. } => path.clone(),
                            _ => root.clone(),
                        },
                        error: e.into(),
                    }),
                }
            }
        }
        report.files = files.len();
        tracing::info!(
            files = files.len(),
            ms = started.elapsed().as_millis(),
            "walked {} roots",
            roots.len()
        );
        // One batch waits while the next is parsed: memory stays bounded by two.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Parsed>>(1);
        // Parsing gets threads of its own. In the shared pool its jobs would queue
        // behind the model's and run only while the model waits for them, which
        // undoes the overlap.
        let parsers = rayon::ThreadPoolBuilder::new()
            .num_threads((rayon::current_num_threads() / 4).max(1))
            .thread_name(|i| format!("trawl-parse-{i}"))
            .build()
            .ok();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let tx = tx;
                let mut parsed = Parsed::default();
                for batch in files.chunks(FILE_BATCH) {
                    if self.check_cancelled().is_err() {
                        return;
                    }
                    let mut docs = Vec::new();
                    let parse_started = std::time::Instant::now();
                    // A file may hold several documents (mailboxes, attachments). No
                    // parser panic escapes trawl-ingest.
                    let results = run_on(parsers.as_ref(), || {
                        trawl_ingest::parse_paths(batch, limits)
                    });
                    for (path, result) in results {
                        match result {
                            Ok(found) => {
                                parsed.indexed += 1;
                                docs.extend(found);
                            }
                            Err(e) if e.is_unsupported() => parsed.unsupported.push(path),
                            Err(e) => parsed.failures.push(Failure {
                                path,
                                error: e.into(),
                            }),
                        }
                    }
                    parsed.files += batch.len();
                    let parse_ms = parse_started.elapsed().as_millis();
                    match run_on(parsers.as_ref(), || self.prepare(tenant, docs)) {
                        Ok((outcomes, fresh)) => {
                            tracing::debug!(
                                files = batch.len(),
                                parse_ms,
                                chunk_ms = parse_started.elapsed().as_millis() - parse_ms,
                                "parsed and chunked a batch"
                            );
                            parsed.outcomes.extend(outcomes);
                            parsed.chunks += fresh.iter().map(|p| p.chunks.len()).sum::<usize>();
                            parsed.fresh.extend(fresh);
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                    // Small files are sent together, so the model sees full batches.
                    if (parsed.chunks >= EMBED_GROUP || parsed.files >= 4 * FILE_BATCH)
                        && tx.send(Ok(std::mem::take(&mut parsed))).is_err()
                    {
                        return;
                    }
                }
                if parsed.files > 0 {
                    let _ = tx.send(Ok(parsed));
                }
            });
            let mut done = 0;
            // Leaving early drops the receiver, which stops the parsing thread at its
            // next send.
            for parsed in rx {
                let parsed = parsed?;
                self.check_cancelled()?;
                report.indexed += parsed.indexed;
                report.unsupported.extend(parsed.unsupported);
                report.failures.extend(parsed.failures);
                for outcome in parsed.outcomes {
                    match outcome {
                        AddOutcome::Added { chunks } => {
                            report.added += 1;
                            report.chunks += chunks;
                        }
                        AddOutcome::Unchanged => report.unchanged += 1,
                    }
                }
                self.store(tenant, parsed.fresh)?;
                done += parsed.files;
                progress(Progress {
                    files_done: done,
                    files_total: report.files,
                    chunks: report.chunks,
                });
            }
            self.check_cancelled()?;
            tracing::info!(
                files = report.files,
                indexed = report.indexed,
                failed = report.failures.len(),
                added = report.added,
                unchanged = report.unchanged,
                chunks = report.chunks,
                ms = started.elapsed().as_millis(),
                "ingest done"
            );
            Ok(report)
        })
    }

    /// Deletes a document (all its chunks) of the collection's tenant at the next
    /// commit.
    ///
    /// # Errors
    /// Index errors.
    pub fn delete(&self, doc_id: &str) -> Result<()> {
        self.delete_tenant_document(self.tenant.as_deref().unwrap_or(""), doc_id)
    }

    /// Deletes a document of `tenant` at the next commit.
    ///
    /// # Errors
    /// Index errors.
    pub fn delete_tenant_document(&self, tenant: &str, doc_id: &str) -> Result<()> {
        Ok(self.index.delete_tenant_document(tenant, doc_id)?)
    }

    /// The documents in the collection (of `tenant` only, when given), with their
    /// source files and chunk counts.
    ///
    /// # Errors
    /// Index errors.
    pub fn documents(&self, tenant: Option<&str>) -> Result<Vec<DocumentInfo>> {
        Ok(self.index.documents(tenant)?)
    }

    /// Deletes, at the next commit, the documents of the collection's tenant whose
    /// source file lies under one of `roots` and no longer exists. Returns their ids.
    /// Paths are compared made absolute against the working directory, with `.` and
    /// `..` resolved, so `docs`, `./docs` and `/home/me/docs` name the same root.
    ///
    /// # Errors
    /// Index errors.
    pub fn remove_missing(&self, roots: &[PathBuf]) -> Result<Vec<String>> {
        let tenant = self.tenant.as_deref().unwrap_or("");
        let roots: Vec<PathBuf> = roots.iter().map(|r| comparable(r)).collect();
        let mut removed = Vec::new();
        for doc in self.index.documents(Some(tenant))? {
            let Some(source) = doc.source.as_deref().map(Path::new) else {
                continue;
            };
            let under = comparable(source);
            if roots.iter().any(|r| under.starts_with(r)) && !source.exists() {
                self.index.delete_tenant_document(tenant, &doc.doc_id)?;
                removed.push(doc.doc_id);
            }
        }
        Ok(removed)
    }

    /// Asks an ingest running on this collection (on another thread, or from its
    /// progress callback) to stop soon: it returns [`Error::Cancelled`], and what it had
    /// added stays uncommitted — [`Index::rollback`] via [`Collection::rollback`]
    /// discards it, or [`Collection::commit`] keeps it.
    pub fn cancel(&self) {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Discards the adds and deletes made since the last commit.
    ///
    /// # Errors
    /// Index errors.
    pub fn rollback(&self) -> Result<()> {
        Ok(self.index.rollback()?)
    }

    /// Discards uncommitted changes and gives up the writer lock, so that another
    /// handle or process can write (commit first to keep them). The collection still
    /// searches; a later add or delete takes the lock again.
    ///
    /// # Errors
    /// Index errors.
    pub fn release_writer(&self) -> Result<()> {
        Ok(self.index.release_writer()?)
    }

    fn check_cancelled(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.ingesting.load(Ordering::SeqCst) > 0 && self.cancelled.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// Makes commits by other processes visible to this handle's searches. A
    /// collection's own commits are visible as soon as [`Collection::commit`] returns.
    ///
    /// # Errors
    /// Index errors.
    pub fn reload(&self) -> Result<()> {
        Ok(self.index.reload()?)
    }

    /// Makes all adds and deletes durable and visible, atomically.
    ///
    /// # Errors
    /// Index errors; the previous commit stays intact.
    pub fn commit(&self) -> Result<()> {
        self.index.commit()?;
        Ok(())
    }

    /// The `k` best chunks for `query`.
    ///
    /// # Errors
    /// [`Error::NoEmbedder`] for a dense search on a keyword-only collection;
    /// embedding and index errors.
    pub fn search(&self, query: &str, k: usize, mode: SearchMode) -> Result<Vec<Hit>> {
        self.search_with(
            query,
            &SearchOptions {
                k,
                mode,
                ..SearchOptions::default()
            },
        )
    }

    /// A search with every option. A hybrid search on a keyword-only collection is a
    /// keyword search.
    ///
    /// # Errors
    /// As [`Collection::search`].
    pub fn search_with(&self, query: &str, options: &SearchOptions) -> Result<Vec<Hit>> {
        self.search_inner(query, None, options)
    }

    /// A search with a query vector the caller embedded (bring your own embeddings).
    /// `query` is the text for the keyword side of a hybrid search and for rerankers
    /// that read text; it may be empty for a dense search.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector of the wrong length; index errors.
    pub fn search_by_vector(
        &self,
        vector: &[f32],
        query: &str,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let dim = self.index.options().dim;
        if vector.len() != dim {
            return Err(Error::DimensionMismatch {
                path: self.path.clone(),
                expected: dim,
                got: vector.len(),
            });
        }
        let options = match (options.mode, query.trim().is_empty()) {
            (SearchMode::Hybrid, true) => SearchOptions {
                mode: SearchMode::Dense,
                ..options.clone()
            },
            _ => options.clone(),
        };
        self.search_inner(query, Some(vector), &options)
    }

    /// The best passages for `query` packed into a prompt-ready context of at most
    /// `options.budget` tokens, each numbered and cited by source and location, with no
    /// text repeated (see [`crate::context`]).
    ///
    /// # Errors
    /// As [`Collection::search_with`].
    pub fn context(&self, query: &str, options: &ContextOptions) -> Result<Context> {
        let hits = self.search_with(query, &options.search)?;
        Ok(match &self.embedder {
            Some(e) => context::build(&hits, options.budget, &|t| e.count_tokens(t)),
            None => context::build(&hits, options.budget, &|t| t.chars().count().div_ceil(4)),
        })
    }

    fn search_inner(
        &self,
        query: &str,
        given_vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let k = options.k;
        let has_query = !query.trim().is_empty() || given_vector.is_some();
        if !has_query || k == 0 {
            return Ok(Vec::new());
        }
        // The embedding to search with: the caller's, or the model's.
        let embedder: Option<&dyn Embedder> = self.embedder.as_deref();
        let embed_query = |q: &str| -> Result<Vec<f32>> {
            match (&given_vector, embedder) {
                (Some(v), _) => Ok(v.to_vec()),
                (None, Some(e)) => e.embed_query(q),
                (None, None) => Err(Error::NoEmbedder {
                    path: self.path.clone(),
                }),
            }
        };
        let dense_available = given_vector.is_some() || embedder.is_some();
        let reranker = self.reranker.as_ref().filter(|_| options.rerank);
        // A reranker looks at more candidates than it returns.
        let depth = match reranker {
            Some(_) => k.max(options.rerank_depth),
            None => k,
        };
        let candidates = options.candidates.max(depth);
        let scope = self.scope(options);
        let scope = scope.as_ref();
        // One committed state for the searches and the fetch, whatever commits meanwhile.
        let view = self.index.view();
        let mut query_vector = None;
        let ranked: Vec<Scored> = match (options.mode, dense_available) {
            (SearchMode::Keyword, _) | (SearchMode::Hybrid, false) => {
                view.search_keyword(query, depth, scope)?
            }
            (SearchMode::Dense, _) => {
                let vector = query_vector.insert(embed_query(query)?);
                view.search_vector(vector, depth, scope)?
            }
            (SearchMode::Hybrid, true) => {
                let vector = query_vector.insert(embed_query(query)?);
                let (dense, keyword) = rayon::join(
                    || view.search_vector(vector, candidates, scope),
                    || view.search_keyword(query, candidates, scope),
                );
                let (dense, keyword) = (dense?, keyword?);
                let signals = match options.fusion {
                    Fusion::Adaptive { .. } => QuerySignals::from_keyword(
                        view.keyword_signals(query, keyword.first().map_or(0.0, |s| s.score))?,
                    ),
                    _ => QuerySignals::default(),
                };
                let mut fused = options.fusion.fuse_with(&dense, &keyword, &signals);
                fused.truncate(depth);
                fused
            }
        };
        let ids: Vec<u64> = ranked.iter().map(|s| s.id).collect();
        let records = view.fetch(&ids)?;
        let scores: std::collections::HashMap<u64, f32> =
            ranked.iter().map(|s| (s.id, s.score)).collect();
        let Some(reranker) = reranker else {
            let hits = records
                .into_iter()
                .map(|(id, r)| to_hit(r, scores[&id]))
                .collect();
            return self.finish(&view, hits, options);
        };
        if query_vector.is_none() && dense_available {
            query_vector = Some(embed_query(query)?);
        }
        let candidates: Vec<Candidate> = records
            .into_iter()
            .map(|(id, mut r)| {
                let vector = std::mem::take(&mut r.vector);
                Candidate {
                    hit: to_hit(r, scores[&id]),
                    vector,
                }
            })
            .collect();
        let reranked = reranker.rerank(query, query_vector.as_deref(), candidates, k)?;
        let hits = reranked.into_iter().map(|c| c.hit).collect();
        self.finish(&view, hits, options)
    }

    /// Applies the options that reshape ranked hits (parent expansion).
    fn finish(
        &self,
        view: &trawl_index::View<'_>,
        hits: Vec<Hit>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        if !options.expand_parent {
            return Ok(hits);
        }
        let mut seen = std::collections::HashSet::new();
        let mut documents: std::collections::HashMap<(String, String), Vec<Hit>> =
            std::collections::HashMap::new();
        let mut out = Vec::new();
        for hit in hits {
            let key = (hit.tenant.clone(), hit.doc_id.clone());
            if !seen.insert((key.clone(), hit.span.parent)) {
                continue;
            }
            if !documents.contains_key(&key) {
                let chunks = view
                    .document(&key.0, &key.1)?
                    .into_iter()
                    .map(|(_, r)| to_hit(r, 0.0))
                    .collect();
                documents.insert(key.clone(), chunks);
            }
            let siblings: Vec<&Hit> = documents[&key]
                .iter()
                .filter(|h| h.span.parent == hit.span.parent)
                .collect();
            out.push(parent_hit(hit, &siblings));
        }
        Ok(out)
    }

    /// Documents, chunks and size on disk.
    ///
    /// # Errors
    /// Index errors.
    pub fn stats(&self) -> Result<trawl_index::Stats> {
        Ok(self.index.stats()?)
    }

    /// The filter a search runs with: its own filter, within its tenant.
    fn scope(&self, options: &SearchOptions) -> Option<Filter> {
        let tenant = options.tenant.as_ref().or(self.tenant.as_ref());
        match (tenant, &options.filter) {
            (Some(t), Some(f)) => Some(Filter::tenant(t.as_str()).and(f.clone())),
            (Some(t), None) => Some(Filter::tenant(t.as_str())),
            (None, f) => f.clone(),
        }
    }

    fn chunk(&self, doc: &Document) -> Vec<Chunk> {
        match &self.embedder {
            Some(e) => chunk_document(doc, &self.chunking, &|t| e.count_tokens(t)),
            None => chunk_document(doc, &self.chunking, &|t| t.len().div_ceil(4)),
        }
    }

    /// Identifies a document's indexed form: its content plus everything that changes
    /// how it is chunked and embedded.
    fn content_hash(&self, doc: &Document) -> String {
        let mut h = Fnv64::default();
        h.write(
            self.embedder
                .as_ref()
                .map(|e| e.name())
                .unwrap_or_default()
                .as_bytes(),
        );
        h.write(
            serde_json::to_string(&self.chunking)
                .unwrap_or_default()
                .as_bytes(),
        );
        h.write(serde_json::to_string(doc).unwrap_or_default().as_bytes());
        format!("{:016x}", h.0)
    }
}

/// Runs `work` in `pool` (its parallel iterators use that pool's threads), or in the
/// caller's pool when there is none.
fn run_on<T: Send>(pool: Option<&rayon::ThreadPool>, work: impl FnOnce() -> T + Send) -> T {
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// FNV-1a, 64-bit: stable across Rust releases, unlike `DefaultHasher`.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

fn to_json_object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// `hit` widened to its whole parent section, rebuilt from the parent's chunks.
fn parent_hit(hit: Hit, siblings: &[&Hit]) -> Hit {
    let Some(first) = siblings.iter().min_by_key(|h| h.span.start) else {
        return hit;
    };
    let header: String = first.text.chars().take(first.span.header_chars).collect();
    let body = crate::chunk::merge_chunk_texts(siblings.iter().map(|h| {
        let skip = h
            .text
            .char_indices()
            .nth(h.span.header_chars)
            .map_or(h.text.len(), |(i, _)| i);
        (h.span.start, h.span.end, &h.text[skip..])
    }));
    let end = siblings
        .iter()
        .map(|h| h.span.end)
        .max()
        .unwrap_or(hit.span.end);
    Hit {
        text: header + &body,
        location: first.location.clone(),
        heading_path: first.heading_path.clone(),
        span: ChunkSpan {
            parent: hit.span.parent,
            start: first.span.start,
            end,
            header_chars: first.span.header_chars,
        },
        ..hit
    }
}

/// The chunk's location with its place in the parent section under `"chunk"`.
fn chunk_location(chunk: &Chunk) -> Map<String, Value> {
    let mut location = to_json_object(&chunk.location);
    let span = ChunkSpan {
        parent: chunk.parent,
        start: chunk.start,
        end: chunk.end,
        header_chars: chunk.header_chars,
    };
    location.insert("chunk".to_owned(), Value::Object(to_json_object(&span)));
    location
}

fn to_hit(r: Record, score: f32) -> Hit {
    let span = r
        .location
        .get("chunk")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Hit {
        chunk_id: r.chunk_id(),
        doc_id: r.doc_id,
        ordinal: r.ordinal,
        text: r.text,
        score,
        title: r.title,
        source: r.source,
        format: r.format,
        heading_path: r.heading_path,
        location: serde_json::from_value(Value::Object(r.location)).unwrap_or_default(),
        metadata: serde_json::from_value(Value::Object(r.metadata)).unwrap_or_default(),
        span,
        tenant: r.tenant,
    }
}

/// `path` made absolute (against the working directory) with `.` and `..` resolved
/// lexically, so that two spellings of one path (`docs/a.md`, `./docs/a.md`,
/// `/home/me/docs/a.md`) compare equal.
fn comparable(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
