//! The `Collection` facade: documents in, cited passages out.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trawl_index::{CheckReport, DocumentInfo, Index, Language};

use crate::chunk::ChunkOptions;
use crate::embed::{Embedder, Precision};
use crate::error::{Error, Result};
use crate::rerank::Reranker;

pub use self::builder::CollectionBuilder;
pub use self::feedback::Feedback;
pub(crate) use self::ingest::{add_documents_routed, ingest_routed};
pub use self::ingest::{AddOptions, AddOutcome, CancelToken, Failure, IngestReport, Progress};
pub use self::prepared::{PreparedDocument, Preparer};
pub(crate) use self::query::{build_context, by_vector_options, Source};
pub use self::reembed::ReembedReport;

mod builder;
mod feedback;
mod ingest;
mod prepared;
mod query;
mod reembed;

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
    /// Serialises appends to the feedback file.
    feedback_lock: std::sync::Mutex<()>,
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
            installed_model_dir: None,
            embedder: None,
            keyword_only: false,
            chunking: None,
            language: Language::default(),
            reranker: None,
            reranker_spec: None,
            quantization: None,
            dimension: None,
            precision: None,
            tenant: None,
            commit: None,
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

    /// The tenant adds go to and searches default to, if the collection was opened
    /// for one ([`CollectionBuilder::tenant`]).
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The chunking in effect.
    #[must_use]
    pub fn chunking(&self) -> &ChunkOptions {
        &self.chunking
    }

    /// The reranker searches use when asked to rerank.
    pub(crate) fn reranker(&self) -> Option<&Arc<dyn Reranker>> {
        self.reranker.as_ref()
    }

    /// The underlying index: the chunk store with its keyword and vector retrievers,
    /// for what the collection does not wrap (raw retriever lists, graph settings).
    #[must_use]
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Verifies the collection's index (see [`Index::check`]): store checksums, every
    /// chunk against the writer's rules, and the vector graph against the stored
    /// vectors. With `repair`, a graph that misses chunks or holds wrong vectors is
    /// rebuilt from the store and saved, the index is checked again, and
    /// [`CheckReport::repaired`] says what was done. Store damage cannot be repaired
    /// (the store is the source of truth).
    ///
    /// # Errors
    /// Index errors reading the store or saving the graph.
    pub fn check(&self, repair: bool) -> Result<CheckReport> {
        let report = self.index.check()?;
        if !repair || !report.graph_needs_rebuild() {
            return Ok(report);
        }
        let lost = report.missing_from_graph.count + report.graph_mismatches.count;
        self.index.rebuild_graph()?;
        let mut after = self.index.check()?;
        after.repaired.push(format!(
            "rebuilt the vector graph from the store ({lost} chunks were missing or wrong)"
        ));
        Ok(after)
    }

    /// The length of the collection's vectors.
    #[must_use]
    pub fn dimension(&self) -> usize {
        self.index.options().dim
    }

    /// Blocks until every committed chunk is in the vector graph and the graph is
    /// saved. Searches do not need it (they see every commit at once); a process that
    /// ingests and exits calls it to leave a saved graph behind, so the next open does
    /// not rebuild it.
    ///
    /// # Errors
    /// [`Error::Index`] when the background graph thread has died or the save failed
    /// (the chunks are intact; the next open catches the graph up).
    pub fn flush_graph(&self) -> Result<()> {
        Ok(self.index.flush_graph()?)
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

    /// Deletes document `doc_id` (all its chunks) of `tenant` at the next commit;
    /// `None`: the collection's tenant, else `""`.
    ///
    /// # Errors
    /// Index errors; [`Error::Index`] for a tenant name with U+001F.
    pub fn delete(&self, doc_id: &str, tenant: Option<&str>) -> Result<()> {
        let tenant = tenant.or(self.tenant.as_deref()).unwrap_or("");
        Ok(self.index.delete_document(tenant, doc_id)?)
    }

    /// The documents in the collection (of `tenant` only, when given), with their
    /// source files and chunk counts.
    ///
    /// # Errors
    /// Index errors.
    pub fn documents(&self, tenant: Option<&str>) -> Result<Vec<DocumentInfo>> {
        Ok(self.index.documents(tenant)?)
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

    /// Fails with [`Error::Cancelled`] when [`Collection::cancel`] was called during
    /// this add, or its own token was cancelled.
    fn check_cancelled(&self, options: &AddOptions) -> Result<()> {
        use std::sync::atomic::Ordering;
        let handle =
            self.ingesting.load(Ordering::SeqCst) > 0 && self.cancelled.load(Ordering::SeqCst);
        if handle
            || options
                .cancel
                .as_ref()
                .is_some_and(CancelToken::is_cancelled)
        {
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

    /// Pins the last commit, so that it stays readable with
    /// [`CollectionBuilder::at_commit`] through later commits until
    /// [`Index::unpin`] releases it (see [`Index::pin`]). Returns its opstamp.
    ///
    /// # Errors
    /// Index errors; a collection opened at a pinned commit is read-only.
    pub fn pin(&self) -> Result<u64> {
        Ok(self.index.pin()?)
    }

    /// Documents, chunks and size on disk.
    ///
    /// # Errors
    /// Index errors.
    pub fn stats(&self) -> Result<trawl_index::Stats> {
        Ok(self.index.stats()?)
    }
}
