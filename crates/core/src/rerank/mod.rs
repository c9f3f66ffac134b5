//! Reranking: a second look at a search's best candidates.
//!
//! A [`Reranker`] reorders the top candidates of a search. Three are built in: [`Mmr`]
//! (maximal marginal relevance: trades relevance for diversity using the stored
//! embeddings), [`CrossEncoder`] (a sentence-transformers cross-encoder, i.e. a
//! `BertForSequenceClassification` directory, run with Candle) and [`SentenceWindows`]
//! (scores the best-matching run of sentences inside each candidate with the
//! collection's own embedding model).

use std::sync::Arc;

use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::search::Hit;

pub use self::cross_encoder::CrossEncoder;
pub use self::mmr::Mmr;
pub use self::sentences::SentenceWindows;

mod cross_encoder;
mod mmr;
mod sentences;
#[cfg(test)]
mod tests;

/// A candidate for reranking: a hit and its stored embedding (empty for keyword-only
/// collections).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The hit.
    pub hit: Hit,
    /// Its chunk's embedding, unit length.
    pub vector: Vec<f32>,
}

/// Reorders candidates for a query. Implementations set each hit's `score` to their
/// own score and return at most `k` candidates, best first.
pub trait Reranker: Send + Sync {
    /// Reranks `candidates` (best first by the first-stage search).
    ///
    /// # Errors
    /// When the model fails.
    fn rerank(
        &self,
        query: &str,
        query_vector: Option<&[f32]>,
        candidates: Vec<Candidate>,
        k: usize,
    ) -> Result<Vec<Candidate>>;

    /// A short name for reports.
    fn name(&self) -> String;
}

/// The `k` best of `(score, first-stage position, candidate)` triples, each carrying
/// its new score; ties keep the first-stage order.
fn best_first(mut scored: Vec<(f32, usize, Candidate)>, k: usize) -> Vec<Candidate> {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|(s, _, mut c)| {
            c.hit.score = s;
            c
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A reranker from its text form: `mmr:LAMBDA` (for example `mmr:0.9`) or
/// `cross-encoder:DIR` (a sentence-transformers CrossEncoder directory). Forms that
/// need the collection's embedding model (`sentences...`, see
/// [`reranker_from_spec_with`]) are an error here; give them to
/// [`CollectionBuilder::reranker_spec`](crate::CollectionBuilder::reranker_spec).
///
/// # Errors
/// [`Error::Invalid`] for an unknown form; model errors for a cross-encoder.
pub fn reranker_from_spec(spec: &str) -> Result<Arc<dyn Reranker>> {
    reranker_from_spec_with(spec, None)
}

/// A reranker from its text form, with the collection's embedder for those that need
/// one: `mmr:LAMBDA`, `cross-encoder:DIR`, or `sentences[:WEIGHT[:DEPTH[:MAX]]]` (a
/// [`SentenceWindows`] reranker: window weight, candidates rescored, most sentences per
/// window; for example `sentences:0.5:20:3`; omitted parts take the defaults).
///
/// # Errors
/// [`Error::Invalid`] for an unknown or malformed form, or `sentences` without an
/// embedder; model errors for a cross-encoder.
pub fn reranker_from_spec_with(
    spec: &str,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<Arc<dyn Reranker>> {
    let invalid = |reason: String| Error::Invalid {
        what: "reranker",
        reason: format!("{spec:?}: {reason}"),
    };
    if let Some(lambda) = spec.strip_prefix("mmr:") {
        let lambda: f32 = lambda
            .trim()
            .parse()
            .map_err(|_| invalid("mmr:LAMBDA needs a number".into()))?;
        return Ok(Arc::new(Mmr { lambda }));
    }
    if let Some(dir) = spec.strip_prefix("cross-encoder:") {
        return Ok(Arc::new(CrossEncoder::load(dir)?));
    }
    let mut parts = spec.trim().split(':');
    if parts.next() == Some("sentences") {
        let embedder = embedder.ok_or_else(|| {
            invalid("the sentence-window reranker needs the collection's embedding model".into())
        })?;
        let mut windows = SentenceWindows::new(embedder);
        if let Some(w) = parts.next() {
            let w: f32 = w
                .parse()
                .ok()
                .filter(|w| (0.0..=1.0).contains(w))
                .ok_or_else(|| invalid("WEIGHT must be a number from 0 to 1".into()))?;
            windows = windows.weight(w);
        }
        if let Some(d) = parts.next() {
            let d: usize = d
                .parse()
                .map_err(|_| invalid("DEPTH must be a whole number".into()))?;
            windows = windows.depth(d);
        }
        if let Some(m) = parts.next() {
            let m: usize = m
                .parse()
                .ok()
                .filter(|&m| m >= 1)
                .ok_or_else(|| invalid("MAX must be a whole number of at least 1".into()))?;
            windows = windows.max_sentences(m);
        }
        if parts.next().is_some() {
            return Err(invalid(
                "sentences[:WEIGHT[:DEPTH[:MAX]]] has at most 3 parts".into(),
            ));
        }
        return Ok(Arc::new(windows));
    }
    Err(invalid(
        "expected mmr:LAMBDA, cross-encoder:DIR or sentences[:WEIGHT[:DEPTH[:MAX]]]".into(),
    ))
}
