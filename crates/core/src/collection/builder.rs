//! Opening or creating a collection: [`CollectionBuilder`].

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use trawl_index::{Index, IndexOptions, Language, Quantization};

use crate::chunk::ChunkOptions;
use crate::embed::{BertEmbedder, Embedder, Precision};
use crate::error::{Error, Result};
use crate::rerank::Reranker;

use super::{Collection, Manifest};

/// Builds or opens a [`Collection`].
#[derive(Clone)]
#[must_use]
pub struct CollectionBuilder {
    pub(crate) path: PathBuf,
    pub(crate) model_dir: Option<PathBuf>,
    pub(crate) installed_model_dir: Option<PathBuf>,
    pub(crate) embedder: Option<Arc<dyn Embedder>>,
    pub(crate) keyword_only: bool,
    pub(crate) chunking: Option<ChunkOptions>,
    pub(crate) language: Language,
    pub(crate) quantization: Option<Quantization>,
    pub(crate) reranker: Option<Arc<dyn Reranker>>,
    pub(crate) reranker_spec: Option<String>,
    pub(crate) dimension: Option<usize>,
    pub(crate) precision: Option<Precision>,
    pub(crate) tenant: Option<String>,
    pub(crate) commit: Option<u64>,
}

impl CollectionBuilder {
    /// Open the collection as it was at commit `commit`, which must be pinned (see
    /// [`Collection::pin`]): read-only, and fixed at that commit whatever is committed
    /// later. Only for an existing collection.
    pub fn at_commit(mut self, commit: u64) -> Self {
        self.commit = Some(commit);
        self
    }

    /// Add documents to `tenant` and scope searches to it unless a search names
    /// another (see [`SearchOptions::tenant`](crate::SearchOptions::tenant)).
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

    /// Rerank search results with `reranker` (see [`SearchOptions::rerank`](crate::SearchOptions::rerank)).
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

    /// How vector searches walk the HNSW graph (see [`Quantization`]; int8 by
    /// default), fixed when the collection is created; an existing collection keeps
    /// its own.
    pub fn quantization(mut self, quantization: Quantization) -> Self {
        self.quantization = Some(quantization);
        self
    }

    /// Use the sentence-transformers model in `dir` (loaded with Candle). Without it, a
    /// new collection that is not keyword-only and brings no embedder or vectors gets
    /// the model [`default_model_dir`](crate::default_model_dir) finds; an existing one
    /// reopens with the model it was created with.
    pub fn model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dir = Some(dir.into());
        self
    }

    /// A model directory installed with the application (the Python package passes the
    /// one of its `model` extra): a new collection given no model uses it when
    /// `$TRAWL_MODEL` is unset, before `models/all-MiniLM-L6-v2` under the current
    /// directory (see [`default_model_dir`](crate::default_model_dir)).
    pub fn installed_model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.installed_model_dir = Some(dir.into());
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
    /// model given or found, [`Error::DimensionMismatch`] when the model does not fit the
    /// collection, and index errors.
    pub fn open(self) -> Result<Collection> {
        let opened = match self.commit {
            Some(commit) => Index::open_at(&self.path, commit),
            None => Index::open(&self.path),
        };
        let existing = match opened {
            Ok(index) => Some(index),
            Err(trawl_index::Error::NotFound { .. }) if self.commit.is_none() => None,
            Err(e) => return Err(e.into()),
        };
        let recorded: Option<Manifest> = existing
            .as_ref()
            .and_then(|i| serde_json::from_value(Value::Object(i.extra())).ok());
        let precision = self
            .precision
            .or_else(|| recorded.as_ref().map(|m| m.precision))
            // A model given ready-made records the precision it computes at.
            .or_else(|| {
                self.embedder
                    .as_ref()
                    .and_then(|e| e.runtime())
                    .map(|r| r.precision)
            })
            .unwrap_or(if existing.is_some() {
                Precision::F32
            } else {
                Precision::default_for_cpu()
            });
        // The model given, else the default one for a new collection that needs a model.
        let model_dir = self.model_dir.or_else(|| {
            let needs_model = existing.is_none()
                && !self.keyword_only
                && self.embedder.is_none()
                && self.dimension.is_none();
            needs_model
                .then(|| crate::embed::default_model_dir(self.installed_model_dir.as_deref()))
                .flatten()
        });
        let embedder: Option<Arc<dyn Embedder>> = if self.keyword_only {
            None
        } else if let Some(e) = self.embedder {
            Some(e)
        } else if let Some(dir) = &model_dir {
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
                    model_dir: model_dir
                        .as_ref()
                        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
                    chunking,
                    precision,
                };
                let mut options = IndexOptions::new(dim);
                options.language = self.language;
                if let Some(quantization) = self.quantization {
                    options.hnsw.quantization = quantization;
                }
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
            feedback_lock: std::sync::Mutex::new(()),
        })
    }
}
