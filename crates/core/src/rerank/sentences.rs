//! Sentence windows: the best-matching run of sentences inside each candidate, scored
//! with the collection's own embedding model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use unicode_segmentation::UnicodeSegmentation;

use crate::embed::Embedder;
use crate::error::Result;

use super::{best_first, dot, Candidate, Reranker};

/// Sentence-window reranking: a chunk is often relevant because of one or two of its
/// sentences, while its embedding averages over all of them. For each of the first
/// [`depth`](SentenceWindows::depth) candidates, this embeds the chunk's sentences
/// (Unicode sentence boundaries) with the collection's own bi-encoder, scores every
/// window of 1 to [`max_sentences`](SentenceWindows::max_sentences) consecutive
/// sentences by cosine to the query, and keeps the best. The new score is
/// `(1 - weight) * z(first-stage score) + weight * z(best window)`, z-scored over
/// those candidates. Candidates past the depth keep their order below them (they take
/// the lowest window score, so they cannot overtake a rescored one).
///
/// A window's vector is the length-weighted mean of its sentences' vectors (each
/// sentence is embedded once, not once per window), so single sentences are exact and
/// longer windows an approximation. Sentence vectors are cached (bounded) across
/// queries, since the same chunks come back for similar queries.
///
/// Cost: one embedding pass over the text of `depth` chunks per query (about the
/// tokens of `depth` chunks, in short sequences), minus what the cache holds.
pub struct SentenceWindows {
    pub(super) embedder: Arc<dyn Embedder>,
    pub(super) weight: f32,
    pub(super) depth: usize,
    pub(super) max_sentences: usize,
    pub(super) cache: SentenceCache,
}

impl std::fmt::Debug for SentenceWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceWindows")
            .field("model", &self.embedder.name())
            .field("weight", &self.weight)
            .field("depth", &self.depth)
            .field("max_sentences", &self.max_sentences)
            .finish_non_exhaustive()
    }
}

impl SentenceWindows {
    /// Weight of the window score by default (this and the next two were tuned on
    /// SciFact train; see README's results).
    pub const DEFAULT_WEIGHT: f32 = 0.5;
    /// Candidates rescored by default.
    pub const DEFAULT_DEPTH: usize = 30;
    /// Most sentences per window by default.
    pub const DEFAULT_MAX_SENTENCES: usize = 2;
    /// Sentence vectors cached by default (about 1.5 KiB each at 384 dimensions).
    pub const DEFAULT_CACHE: usize = 8192;

    /// A reranker that embeds with `embedder` (use the collection's own, so sentences
    /// and chunks share one vector space with the query), with the default settings.
    pub fn new(embedder: Arc<dyn Embedder>) -> SentenceWindows {
        SentenceWindows {
            embedder,
            weight: Self::DEFAULT_WEIGHT,
            depth: Self::DEFAULT_DEPTH,
            max_sentences: Self::DEFAULT_MAX_SENTENCES,
            cache: SentenceCache::new(Self::DEFAULT_CACHE),
        }
    }

    /// Weight of the best window's score against the first-stage score, clamped to
    /// 0..=1 (0 keeps the first-stage order).
    #[must_use]
    pub fn weight(mut self, weight: f32) -> Self {
        self.weight = if weight.is_nan() {
            0.0
        } else {
            weight.clamp(0.0, 1.0)
        };
        self
    }

    /// How many of the first-stage candidates are rescored; the cost grows with it.
    #[must_use]
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Most consecutive sentences in a window (at least 1).
    #[must_use]
    pub fn max_sentences(mut self, n: usize) -> Self {
        self.max_sentences = n.max(1);
        self
    }

    /// How many sentence vectors are kept between queries (0: none).
    #[must_use]
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.cache = SentenceCache::new(n);
        self
    }

    /// For each text, the best cosine to `query_vector` of its windows of exactly
    /// 1, 2, ..., `max_sentences` sentences (entry `w - 1` for `w` sentences; a text
    /// of fewer than `w` sentences gives its whole-text window there). Empty for a text
    /// with no sentence.
    ///
    /// # Errors
    /// When the embedder fails.
    pub fn window_scores(&self, query_vector: &[f32], texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let split: Vec<Vec<&str>> = texts
            .iter()
            .map(|t| t.unicode_sentences().map(str::trim).collect())
            .collect();
        let all: Vec<&str> = split.iter().flatten().copied().collect();
        let vectors = self.cache.embed(self.embedder.as_ref(), &all)?;
        let mut vectors = vectors.iter();
        Ok(split
            .iter()
            .map(|sentences| {
                let vs: Vec<&[f32]> = vectors
                    .by_ref()
                    .take(sentences.len())
                    .map(AsRef::as_ref)
                    .collect();
                let lens: Vec<f32> = sentences.iter().map(|s| s.chars().count() as f32).collect();
                best_windows(query_vector, &vs, &lens, self.max_sentences)
            })
            .collect())
    }
}

/// Best cosine to `q` of the windows of exactly `w` sentences, `w = 1..=max`, a window
/// being the `lens`-weighted sum of its sentence vectors.
pub(super) fn best_windows(q: &[f32], vectors: &[&[f32]], lens: &[f32], max: usize) -> Vec<f32> {
    let n = vectors.len();
    if n == 0 {
        return Vec::new();
    }
    let dim = q.len();
    (1..=max)
        .map(|w| {
            let w = w.min(n);
            (0..=n - w)
                .map(|start| {
                    let mut sum = vec![0.0f32; dim];
                    for (v, &len) in vectors[start..start + w].iter().zip(&lens[start..]) {
                        for (s, x) in sum.iter_mut().zip(v.iter()) {
                            *s += len * x;
                        }
                    }
                    let norm = dot(&sum, &sum).sqrt();
                    if norm > 0.0 {
                        dot(q, &sum) / norm
                    } else {
                        0.0
                    }
                })
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .collect()
}

/// Mean and (population) standard deviation.
pub(super) fn mean_sd(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

pub(super) fn z(x: f32, (mean, sd): (f32, f32)) -> f32 {
    if sd > 0.0 {
        (x - mean) / sd
    } else {
        0.0
    }
}

impl Reranker for SentenceWindows {
    fn rerank(
        &self,
        query: &str,
        query_vector: Option<&[f32]>,
        candidates: Vec<Candidate>,
        k: usize,
    ) -> Result<Vec<Candidate>> {
        if candidates.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let q = match query_vector {
            Some(v) => v.to_vec(),
            None => self.embedder.embed_query(query)?,
        };
        let n = self.depth.min(candidates.len());
        let texts: Vec<&str> = candidates[..n]
            .iter()
            .map(|c| c.hit.text.as_str())
            .collect();
        let best: Vec<Option<f32>> = self
            .window_scores(&q, &texts)?
            .into_iter()
            .map(|w| w.into_iter().reduce(f32::max))
            .collect();
        let first: Vec<f32> = candidates[..n].iter().map(|c| c.hit.score).collect();
        let first_stats = mean_sd(&first);
        let found: Vec<f32> = best.iter().flatten().copied().collect();
        let window_stats = mean_sd(&found);
        let floor = found
            .iter()
            .map(|&w| z(w, window_stats))
            .reduce(f32::min)
            .unwrap_or(0.0);
        let scored: Vec<(f32, usize, Candidate)> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let window = best
                    .get(i)
                    .copied()
                    .flatten()
                    .map_or(floor, |w| z(w, window_stats));
                let score =
                    (1.0 - self.weight) * z(c.hit.score, first_stats) + self.weight * window;
                (score, i, c)
            })
            .collect();
        Ok(best_first(scored, k))
    }

    fn name(&self) -> String {
        format!(
            "sentences:{}:{}:{}",
            self.weight, self.depth, self.max_sentences
        )
    }
}

/// Sentence vectors kept across queries, bounded: emptied when full (simple, and the
/// chunks a workload keeps returning are embedded again soon after).
pub(super) struct SentenceCache {
    pub(super) capacity: usize,
    pub(super) vectors: Mutex<HashMap<String, Arc<[f32]>>>,
}

impl SentenceCache {
    pub(super) fn new(capacity: usize) -> SentenceCache {
        SentenceCache {
            capacity,
            vectors: Mutex::new(HashMap::new()),
        }
    }

    /// Vectors for `texts`, in order, embedding only those not cached (once each).
    pub(super) fn embed(&self, embedder: &dyn Embedder, texts: &[&str]) -> Result<Vec<Arc<[f32]>>> {
        let mut known: HashMap<&str, Arc<[f32]>> = HashMap::new();
        {
            let cached = self.vectors.lock().unwrap_or_else(PoisonError::into_inner);
            for &t in texts {
                if let Some(v) = cached.get(t) {
                    known.insert(t, Arc::clone(v));
                }
            }
        }
        let mut missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !known.contains_key(t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let fresh = embedder.embed(&missing)?;
            let mut cached = self.vectors.lock().unwrap_or_else(PoisonError::into_inner);
            if cached.len() + missing.len() > self.capacity {
                cached.clear();
            }
            for (t, v) in missing.into_iter().zip(fresh) {
                let v: Arc<[f32]> = v.into();
                if cached.len() < self.capacity {
                    cached.insert(t.to_owned(), Arc::clone(&v));
                }
                known.insert(t, v);
            }
        }
        Ok(texts
            .iter()
            .map(|t| {
                known
                    .get(t)
                    .map_or_else(|| Arc::from(Vec::new()), Arc::clone)
            })
            .collect())
    }
}
