//! Documents chunked and embedded away from the collection they go to: the stages of
//! a distributed ingest (parse here, embed there, write in the process that holds the
//! collection), with the same chunks, vectors and content hashes as
//! [`Collection::add_documents`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trawl_index::{Index, Record};
use trawl_ingest::Document;

use crate::chunk::ChunkOptions;
use crate::embed::{BertEmbedder, Embedder};
use crate::error::{Error, Result};

use super::ingest::{chunk_with, content_hash, embed_with, records_of, Prepared};
use super::{AddOutcome, Collection, Manifest};

/// A document cut into chunks and embedded for one collection, ready for
/// [`Collection::add_prepared`]. Serialisable, to cross process boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedDocument {
    /// The tenant it is added to.
    pub tenant: String,
    /// Its id.
    pub doc_id: String,
    /// Its content hash (see [`Preparer::content_hash`]).
    pub hash: String,
    /// Its chunks, vectors included.
    pub records: Vec<Record>,
}

/// Chunks, hashes and embeds documents as a collection would, without opening it: the
/// collection's recorded model, precision and chunking, read from its folder.
pub struct Preparer {
    path: PathBuf,
    /// The model's name as the collection recorded it (part of the content hash).
    model: String,
    embedder: Option<Arc<dyn Embedder>>,
    chunking: ChunkOptions,
}

impl std::fmt::Debug for Preparer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preparer")
            .field("path", &self.path)
            .field("model", &self.model)
            .field("loaded", &self.embedder.is_some())
            .finish_non_exhaustive()
    }
}

impl Preparer {
    /// A preparer for the collection at `path`. With `load_model`, its recorded model
    /// is loaded (from `model_dir` when given) for [`Preparer::prepare`]; without, the
    /// preparer only hashes, which needs no model.
    ///
    /// # Errors
    /// Index errors reading the collection's manifest; [`Error::InvalidShardSet`]
    /// when it records no model settings; model loading errors.
    pub fn open(
        path: impl Into<PathBuf>,
        load_model: bool,
        model_dir: Option<&Path>,
    ) -> Result<Preparer> {
        let path = path.into();
        let options = Index::read_options(&path)?;
        let manifest: Manifest =
            serde_json::from_value(Value::Object(options.extra)).map_err(|e| {
                Error::InvalidShardSet {
                    path: path.clone(),
                    reason: format!("the collection records no model settings: {e}"),
                }
            })?;
        let dir = model_dir.map(Path::to_owned).or(manifest.model_dir);
        let embedder: Option<Arc<dyn Embedder>> = match (load_model, &manifest.model, dir) {
            (true, Some(_), Some(dir)) => Some(Arc::new(BertEmbedder::load_with_precision(
                dir,
                manifest.precision,
            )?)),
            (true, Some(_), None) => return Err(Error::ModelRequired { path }),
            _ => None,
        };
        let mut chunking = manifest.chunking;
        if let Some(e) = &embedder {
            chunking.max_tokens = chunking.max_tokens.min(e.max_tokens());
        }
        Ok(Preparer {
            path,
            model: manifest.model.unwrap_or_default(),
            embedder,
            chunking,
        })
    }

    /// The content hash the collection records for `doc`: an unchanged document has
    /// the same one, so a writer can skip it before it is embedded.
    #[must_use]
    pub fn content_hash(&self, doc: &Document) -> String {
        content_hash(&self.model, &self.chunking, doc)
    }

    /// Chunks and embeds `docs` for `tenant`, as [`Collection::add_documents`] would.
    ///
    /// # Errors
    /// [`Error::NoEmbedder`] when the collection has a model and it was not loaded;
    /// embedding errors.
    pub fn prepare(&self, tenant: &str, docs: Vec<Document>) -> Result<Vec<PreparedDocument>> {
        use rayon::prelude::*;
        trawl_index::check_tenant(tenant)?;
        if !self.model.is_empty() && self.embedder.is_none() {
            return Err(Error::NoEmbedder {
                path: self.path.clone(),
            });
        }
        let embedder = self.embedder.as_deref();
        let prepared: Vec<Prepared> = docs
            .into_par_iter()
            .map(|doc| {
                let hash = self.content_hash(&doc);
                let chunks = chunk_with(embedder, &self.chunking, &doc);
                Prepared { doc, hash, chunks }
            })
            .collect();
        let mut vectors = embed_with(embedder, &self.chunking, &prepared, &|| Ok(()))?.into_iter();
        Ok(prepared
            .into_iter()
            .map(|p| PreparedDocument {
                tenant: tenant.to_owned(),
                doc_id: p.doc.id.clone(),
                hash: p.hash.clone(),
                records: records_of(tenant, p, &mut vectors),
            })
            .collect())
    }
}

impl Collection {
    /// Writes documents prepared by a [`Preparer`] (in this process or another),
    /// replacing earlier versions; a document whose content hash is already indexed
    /// is skipped. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for vectors of the wrong length (nothing is added
    /// then); index errors.
    pub fn add_prepared(&self, docs: Vec<PreparedDocument>) -> Result<Vec<AddOutcome>> {
        let dim = self.dimension();
        for d in &docs {
            trawl_index::check_tenant(&d.tenant)?;
            if let Some(r) = d.records.iter().find(|r| r.vector.len() != dim) {
                return Err(Error::DimensionMismatch {
                    path: self.path.clone(),
                    expected: dim,
                    got: r.vector.len(),
                });
            }
        }
        let mut outcomes = Vec::with_capacity(docs.len());
        let mut records = Vec::new();
        for d in docs {
            if self.index.document_hash(&d.tenant, &d.doc_id)?.as_deref() == Some(d.hash.as_str()) {
                outcomes.push(AddOutcome::Unchanged);
                continue;
            }
            self.index.delete_document(&d.tenant, &d.doc_id)?;
            outcomes.push(AddOutcome::Added {
                chunks: d.records.len(),
            });
            records.extend(d.records.into_iter().map(|mut r| {
                r.tenant.clone_from(&d.tenant);
                r.doc_id.clone_from(&d.doc_id);
                r.doc_hash.clone_from(&d.hash);
                r
            }));
        }
        self.index.add(records)?;
        Ok(outcomes)
    }

    /// The content hash recorded for document `doc_id` of `tenant`, if it is in the
    /// collection (compare with [`Preparer::content_hash`] to skip unchanged documents
    /// before embedding them).
    ///
    /// # Errors
    /// Index errors.
    pub fn document_hash(&self, doc_id: &str, tenant: &str) -> Result<Option<String>> {
        Ok(self.index.document_hash(tenant, doc_id)?)
    }
}
