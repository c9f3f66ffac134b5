//! Re-embedding a collection with another model, in one commit.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::{Collection, Manifest};
use crate::chunk::embedding_text;
use crate::error::{Error, Result};

/// Chunks embedded per call.
const BATCH_CHUNKS: usize = 512;

/// What [`Collection::reembed`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReembedReport {
    /// Documents re-embedded (every tenant's).
    pub documents: usize,
    /// Chunks re-embedded.
    pub chunks: usize,
    /// Seconds it took, commit included.
    pub seconds: f64,
}

impl Collection {
    /// Re-embeds every chunk of the collection at `path` (every tenant's) with the
    /// model in `model_dir` (a tuned version of its model, say) and records that model
    /// as the collection's, all in one commit: until the commit lands, searches see the
    /// old vectors with the old model; after it, the new ones; a crash in between
    /// leaves the old. Handles opened before must be reopened to embed queries with the
    /// new model. Text, chunking and metadata are kept as they are. The new vectors are
    /// held in memory until the commit.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the model's vectors have another length than
    /// the collection's; [`Error::NoEmbedder`] for a keyword-only collection; model,
    /// embedding and index errors (the collection is left at its last commit).
    pub fn reembed(path: impl AsRef<Path>, model_dir: impl AsRef<Path>) -> Result<ReembedReport> {
        let started = Instant::now();
        let path = path.as_ref();
        let model_dir = model_dir.as_ref();
        let probe = Collection::builder(path).keyword_only().open()?;
        if probe.dimension() == 0 {
            return Err(Error::NoEmbedder {
                path: path.to_owned(),
            });
        }
        drop(probe);
        let collection = Collection::builder(path).model_dir(model_dir).open()?;
        let embedder = collection
            .embedder()
            .cloned()
            .ok_or_else(|| Error::NoEmbedder {
                path: path.to_owned(),
            })?;
        let index = collection.index();
        let view = index.view();
        let docs = index.documents(None)?;
        let mut chunks = 0;
        let mut batch: Vec<Vec<trawl_index::Record>> = Vec::new();
        let mut batch_chunks = 0;
        let flush = |batch: &mut Vec<Vec<trawl_index::Record>>| -> Result<()> {
            let texts: Vec<String> = batch
                .iter()
                .flatten()
                .map(|r| {
                    let title = Some(r.title.as_str()).filter(|t| !t.is_empty());
                    embedding_text(&r.text, title, &r.heading_path, &collection.chunking)
                })
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut vectors = embedder.embed(&refs)?.into_iter();
            for records in batch.drain(..) {
                let Some(first) = records.first() else {
                    continue;
                };
                index.delete_document(&first.tenant, &first.doc_id)?;
                let records = records
                    .into_iter()
                    .map(|mut r| {
                        r.vector = vectors.next().unwrap_or_default();
                        r
                    })
                    .collect();
                index.add(records)?;
            }
            Ok(())
        };
        let result = (|| -> Result<()> {
            for doc in &docs {
                let mut records: Vec<trawl_index::Record> = view
                    .document(&doc.tenant, &doc.doc_id)?
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect();
                records.sort_by_key(|r| r.ordinal);
                chunks += records.len();
                batch_chunks += records.len();
                batch.push(records);
                if batch_chunks >= BATCH_CHUNKS {
                    flush(&mut batch)?;
                    batch_chunks = 0;
                }
            }
            flush(&mut batch)?;
            let mut manifest: Manifest = serde_json::from_value(Value::Object(index.extra()))
                .map_err(|e| Error::Invalid {
                    what: "collection manifest",
                    reason: e.to_string(),
                })?;
            manifest.model = Some(embedder.name());
            manifest.model_dir =
                Some(std::fs::canonicalize(model_dir).unwrap_or_else(|_| model_dir.to_owned()));
            if let Value::Object(extra) =
                serde_json::to_value(&manifest).expect("manifest serialises")
            {
                index.set_extra(extra);
            }
            index.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = index.rollback();
            return Err(e);
        }
        Ok(ReembedReport {
            documents: docs.len(),
            chunks,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
