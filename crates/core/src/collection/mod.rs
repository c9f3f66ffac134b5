//! The `Collection` facade: documents in, cited passages out.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trawl_index::{DocumentInfo, Index, Language};

use crate::chunk::ChunkOptions;
use crate::embed::{Embedder, Precision};
use crate::error::{Error, Result};
use crate::rerank::Reranker;

pub use self::builder::CollectionBuilder;
pub use self::ingest::{AddOutcome, Failure, IngestReport, Progress};

mod builder;
mod ingest;
mod query;

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

    /// Documents, chunks and size on disk.
    ///
    /// # Errors
    /// Index errors.
    pub fn stats(&self) -> Result<trawl_index::Stats> {
        Ok(self.index.stats()?)
    }
}
