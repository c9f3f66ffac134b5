//! Reranking: a second look at a search's best candidates.
//!
//! A [`Reranker`] reorders the top candidates of a search. Three are built in: [`Mmr`]
//! (maximal marginal relevance: trades relevance for diversity using the stored
//! embeddings), [`CrossEncoder`] (a sentence-transformers cross-encoder, i.e. a
//! `BertForSequenceClassification` directory, run with Candle) and [`SentenceWindows`]
//! (scores the best-matching run of sentences inside each candidate with the
//! collection's own embedding model).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};
use unicode_segmentation::UnicodeSegmentation;

use crate::embed::{Dir, Embedder};
use crate::error::{Error, Result};
use crate::search::Hit;

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

/// Maximal marginal relevance (Carbonell & Goldstein, 1998): picks, one at a time, the
/// candidate maximising `lambda * rel(c) - (1 - lambda) * max sim(c, picked)`, with
/// `sim` the cosine of the chunk embeddings. `rel` is the first-stage score min-max
/// scaled to 0..1, so the hybrid ranking is kept (cosine to the query when the
/// candidates carry no distinct scores). `lambda = 1` keeps the first-stage order;
/// lower values favour diversity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmr {
    /// Relevance weight, 0..=1.
    pub lambda: f32,
}

impl Default for Mmr {
    fn default() -> Self {
        Mmr { lambda: 0.7 }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Reranker for Mmr {
    fn rerank(
        &self,
        _query: &str,
        query_vector: Option<&[f32]>,
        mut candidates: Vec<Candidate>,
        k: usize,
    ) -> Result<Vec<Candidate>> {
        let Some(q) = query_vector else {
            candidates.truncate(k);
            return Ok(candidates);
        };
        let (lo, hi) = candidates
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c.hit.score), hi.max(c.hit.score))
            });
        let relevance: Vec<f32> = if hi > lo {
            candidates
                .iter()
                .map(|c| (c.hit.score - lo) / (hi - lo))
                .collect()
        } else {
            candidates.iter().map(|c| dot(q, &c.vector)).collect()
        };
        let mut redundancy = vec![f32::NEG_INFINITY; candidates.len()];
        let mut left: Vec<usize> = (0..candidates.len()).collect();
        let mut order = Vec::with_capacity(k.min(candidates.len()));
        while order.len() < k && !left.is_empty() {
            let score = |i: usize| {
                let red = if redundancy[i].is_finite() {
                    redundancy[i]
                } else {
                    0.0
                };
                self.lambda * relevance[i] - (1.0 - self.lambda) * red
            };
            let (pos, &best) = left
                .iter()
                .enumerate()
                .max_by(|a, b| score(*a.1).total_cmp(&score(*b.1)).then(b.1.cmp(a.1)))
                .expect("left is not empty");
            order.push((best, score(best)));
            left.swap_remove(pos);
            for &i in &left {
                let sim = dot(&candidates[i].vector, &candidates[best].vector);
                redundancy[i] = redundancy[i].max(sim);
            }
        }
        let mut slots: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
        Ok(order
            .into_iter()
            .filter_map(|(i, score)| {
                slots[i].take().map(|mut c| {
                    c.hit.score = score;
                    c
                })
            })
            .collect())
    }

    fn name(&self) -> String {
        format!("mmr:{}", self.lambda)
    }
}

/// A cross-encoder: reads query and passage together and scores their relevance.
/// Loads a sentence-transformers `CrossEncoder` / Hugging Face
/// `BertForSequenceClassification` directory (`config.json`, `tokenizer.json`,
/// `model.safetensors`); with one label the logit is the score, with two the
/// "relevant" logit minus the other.
pub struct CrossEncoder {
    bert: BertModel,
    pooler: Linear,
    classifier: Linear,
    tokenizer: Tokenizer,
    name: String,
}

impl std::fmt::Debug for CrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrossEncoder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Pairs scored per forward pass.
const PAIR_BATCH: usize = 16;

impl CrossEncoder {
    /// Loads the cross-encoder in `dir`.
    ///
    /// # Errors
    /// [`Error::ModelFileMissing`] / [`Error::ModelInvalid`] naming the file.
    pub fn load(dir: impl AsRef<Path>) -> Result<CrossEncoder> {
        let dir = Dir(dir.as_ref());
        let config: Config = dir.json("config.json")?;
        let tokenizer = Tokenizer::from_file(dir.file("tokenizer.json")?)
            .map_err(|e| dir.invalid("tokenizer.json", e))?;
        let weights = dir.file("model.safetensors")?;
        // SAFETY: the weights file is mapped read-only and never written by trawl.
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &Device::Cpu) }
                .map_err(|e| dir.invalid("model.safetensors", e))?;
        Self::from_var_builder(
            &vb,
            &config,
            tokenizer,
            dir.0
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        )
        .map_err(|e| dir.invalid("model.safetensors", e))
    }

    /// Builds the model from tensors under `vb` (weights named as in
    /// `BertForSequenceClassification`, with or without the `bert.` prefix). The
    /// tokenizer's own padding is switched off and truncation set to the model's limit.
    ///
    /// # Errors
    /// When a tensor is missing or has the wrong shape.
    pub fn from_var_builder(
        vb: &VarBuilder,
        config: &Config,
        mut tokenizer: Tokenizer,
        name: String,
    ) -> candle_core::Result<CrossEncoder> {
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: config.max_position_embeddings.min(512),
                ..TruncationParams::default()
            }))
            .map_err(|e| candle_core::Error::Msg(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(None);
        let bert = BertModel::load(vb.clone(), config)?;
        let h = config.hidden_size;
        let pooler = candle_nn::linear(h, h, vb.pp("pooler.dense"))
            .or_else(|_| candle_nn::linear(h, h, vb.pp("bert.pooler.dense")))?;
        let labels = vb
            .get_unchecked("classifier.weight")
            .map_or(1, |w| w.dims().first().copied().unwrap_or(1));
        let classifier = candle_nn::linear(h, labels, vb.pp("classifier"))?;
        Ok(CrossEncoder {
            bert,
            pooler,
            classifier,
            tokenizer,
            name,
        })
    }

    /// Relevance scores of `passages` for `query`, in order.
    ///
    /// # Errors
    /// When tokenising or the model fails.
    pub fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(passages.len());
        for batch in passages.chunks(PAIR_BATCH) {
            let pairs: Vec<(String, String)> = batch
                .iter()
                .map(|p| (query.to_owned(), (*p).to_owned()))
                .collect();
            let enc = self
                .tokenizer
                .encode_batch(pairs, true)
                .map_err(|e| Error::Embedding(e.to_string()))?;
            let seq = enc
                .iter()
                .map(|e| e.get_ids().len())
                .max()
                .unwrap_or(1)
                .max(1);
            let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
            for e in &enc {
                let n = e.get_ids().len();
                ids.extend_from_slice(e.get_ids());
                types.extend_from_slice(e.get_type_ids());
                mask.extend(std::iter::repeat_n(1u32, n));
                for v in [&mut ids, &mut types, &mut mask] {
                    v.extend(std::iter::repeat_n(0u32, seq - n));
                }
            }
            let shape = (enc.len(), seq);
            let dev = Device::Cpu;
            let ids = Tensor::from_vec(ids, shape, &dev)?;
            let types = Tensor::from_vec(types, shape, &dev)?;
            let mask = Tensor::from_vec(mask, shape, &dev)?;
            let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
            let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
            let pooled = self.pooler.forward(&cls)?.tanh()?;
            let logits = self.classifier.forward(&pooled)?.to_vec2::<f32>()?;
            out.extend(logits.into_iter().map(|row| match row.as_slice() {
                [only] => *only,
                [.., neg, pos] => pos - neg,
                [] => 0.0,
            }));
        }
        Ok(out)
    }
}

impl Reranker for CrossEncoder {
    fn rerank(
        &self,
        query: &str,
        _query_vector: Option<&[f32]>,
        candidates: Vec<Candidate>,
        k: usize,
    ) -> Result<Vec<Candidate>> {
        let texts: Vec<&str> = candidates.iter().map(|c| c.hit.text.as_str()).collect();
        let scores = self.score(query, &texts)?;
        let scored: Vec<(f32, usize, Candidate)> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| (scores[i], i, c))
            .collect();
        Ok(best_first(scored, k))
    }

    fn name(&self) -> String {
        format!("cross-encoder:{}", self.name)
    }
}

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
    embedder: Arc<dyn Embedder>,
    weight: f32,
    depth: usize,
    max_sentences: usize,
    cache: SentenceCache,
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
fn best_windows(q: &[f32], vectors: &[&[f32]], lens: &[f32], max: usize) -> Vec<f32> {
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
fn mean_sd(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

fn z(x: f32, (mean, sd): (f32, f32)) -> f32 {
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
struct SentenceCache {
    capacity: usize,
    vectors: Mutex<HashMap<String, Arc<[f32]>>>,
}

impl SentenceCache {
    fn new(capacity: usize) -> SentenceCache {
        SentenceCache {
            capacity,
            vectors: Mutex::new(HashMap::new()),
        }
    }

    /// Vectors for `texts`, in order, embedding only those not cached (once each).
    fn embed(&self, embedder: &dyn Embedder, texts: &[&str]) -> Result<Vec<Arc<[f32]>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, vector: Vec<f32>) -> Candidate {
        let hit = Hit {
            chunk_id: format!("{id}#0"),
            doc_id: id.to_owned(),
            ordinal: 0,
            text: id.to_owned(),
            score: 0.0,
            title: String::new(),
            source: None,
            format: String::new(),
            heading_path: Vec::new(),
            location: trawl_ingest::Location::default(),
            metadata: trawl_ingest::Metadata::new(),
            span: crate::search::ChunkSpan::default(),
            tenant: String::new(),
        };
        Candidate { hit, vector }
    }

    fn unit(x: f32, y: f32) -> Vec<f32> {
        let n = (x * x + y * y).sqrt();
        vec![x / n, y / n]
    }

    fn order(mmr: Mmr, q: &[f32], k: usize) -> Vec<String> {
        // a and its near-duplicate a2 are most relevant; b is less relevant but different.
        let cands = vec![
            candidate("a", unit(1.0, 0.1)),
            candidate("a2", unit(1.0, 0.12)),
            candidate("b", unit(0.6, -0.8)),
        ];
        mmr.rerank("", Some(q), cands, k)
            .unwrap()
            .into_iter()
            .map(|c| c.hit.doc_id)
            .collect()
    }

    #[test]
    fn mmr_trades_relevance_for_diversity() {
        let q = unit(1.0, 0.0);
        assert_eq!(order(Mmr { lambda: 1.0 }, &q, 3), ["a", "a2", "b"]);
        assert_eq!(order(Mmr { lambda: 0.5 }, &q, 3), ["a", "b", "a2"]);
        assert_eq!(order(Mmr { lambda: 0.5 }, &q, 2), ["a", "b"]);
    }

    #[test]
    fn mmr_relevance_follows_first_stage_scores_when_there_are_any() {
        let mut cands = vec![
            candidate("a", unit(1.0, 0.1)),
            candidate("a2", unit(1.0, 0.12)),
            candidate("b", unit(0.6, -0.8)),
        ];
        // The first stage ranked b first (say, on keywords), then a, then a2.
        for (c, s) in cands.iter_mut().zip([0.5, 0.4, 0.9]) {
            c.hit.score = s;
        }
        let q = unit(1.0, 0.0);
        let ids = |mmr: Mmr, cands: Vec<Candidate>| -> Vec<String> {
            mmr.rerank("", Some(&q), cands, 3)
                .unwrap()
                .into_iter()
                .map(|c| c.hit.doc_id)
                .collect()
        };
        assert_eq!(ids(Mmr { lambda: 1.0 }, cands.clone()), ["b", "a", "a2"]);
        assert_eq!(ids(Mmr { lambda: 0.5 }, cands), ["b", "a", "a2"]);
    }

    #[test]
    fn mmr_without_a_query_vector_keeps_the_order() {
        let cands = vec![candidate("x", vec![]), candidate("y", vec![])];
        let out = Mmr::default().rerank("", None, cands, 1).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].hit.doc_id, "x");
    }

    /// Bag of words hashed into 512 dimensions, unit length: texts sharing words are
    /// close, the same words give the same vector. Counts the texts it embeds.
    struct BagOfWords(std::sync::atomic::AtomicUsize);

    impl BagOfWords {
        fn vector(text: &str) -> Vec<f32> {
            let mut v = vec![0.0f32; 512];
            for word in text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                let h = word
                    .to_lowercase()
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                v[(h % 512) as usize] += 1.0;
            }
            let norm = dot(&v, &v).sqrt();
            v.iter().map(|x| x / norm).collect()
        }
    }

    impl Embedder for BagOfWords {
        fn dim(&self) -> usize {
            512
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.0
                .fetch_add(texts.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(texts.iter().map(|t| Self::vector(t)).collect())
        }
        fn name(&self) -> String {
            "bag-of-words".into()
        }
    }

    fn bag() -> Arc<BagOfWords> {
        Arc::new(BagOfWords(std::sync::atomic::AtomicUsize::new(0)))
    }

    const QUERY: &str = "the kettle is kept in the left cupboard";

    /// `vague` shares a few of the query's words in every sentence; `exact` is about
    /// something else except for one sentence that is the query itself; `other` is
    /// unrelated. The first stage ranked them vague, exact, other.
    fn kitchen() -> Vec<Candidate> {
        let texts = [
            (
                "vague",
                "The kettle whistles. A cupboard door is open. \
                 The left drawer is kept for spoons. Tea is in the pot.",
                0.9,
            ),
            (
                "exact",
                "Our garden has roses, tulips, lilies and daisies along a winding gravel \
                 path. Hedges need trimming every spring before visitors arrive from town. \
                 The kettle is kept in the left cupboard. Birds nest in an old oak beside \
                 a quiet pond full of frogs.",
                0.8,
            ),
            (
                "other",
                "Quarterly revenue rose by four percent. Costs fell.",
                0.1,
            ),
        ];
        texts
            .iter()
            .map(|(id, text, score)| {
                let mut c = candidate(id, BagOfWords::vector(text));
                c.hit.text = (*text).to_owned();
                c.hit.score = *score;
                c
            })
            .collect()
    }

    fn ids(out: &[Candidate]) -> Vec<&str> {
        out.iter().map(|c| c.hit.doc_id.as_str()).collect()
    }

    #[test]
    fn one_matching_sentence_beats_vague_similarity_throughout() {
        let q = BagOfWords::vector(QUERY);
        let cands = kitchen();
        // Whole chunks: the vague one is closer, so a plain dense rerank keeps it first.
        assert!(dot(&q, &cands[0].vector) > dot(&q, &cands[1].vector));
        let windows = SentenceWindows::new(bag());
        let out = windows.rerank(QUERY, Some(&q), cands, 3).unwrap();
        assert_eq!(ids(&out), ["exact", "vague", "other"]);
        assert!(out[0].hit.score > out[1].hit.score);
    }

    #[test]
    fn zero_weight_keeps_the_first_stage_order() {
        let q = BagOfWords::vector(QUERY);
        let windows = SentenceWindows::new(bag()).weight(0.0);
        let out = windows.rerank(QUERY, Some(&q), kitchen(), 3).unwrap();
        assert_eq!(ids(&out), ["vague", "exact", "other"]);
    }

    #[test]
    fn candidates_past_the_depth_stay_below_in_order() {
        let q = BagOfWords::vector(QUERY);
        let mut cands = kitchen();
        // Two more after the depth of 2; the last would win on its text alone.
        for (id, score) in [("tail-a", 0.05), ("tail-b", 0.01)] {
            let mut c = candidate(id, vec![]);
            c.hit.text = QUERY.to_owned();
            c.hit.score = score;
            cands.push(c);
        }
        // vague, other | exact (not rescored), tails; scores descending, as from a search.
        cands.swap(1, 2);
        cands[1].hit.score = 0.85;
        let embedder = bag();
        let windows = SentenceWindows::new(embedder.clone()).depth(2);
        let out = windows.rerank(QUERY, Some(&q), cands, 10).unwrap();
        assert_eq!(ids(&out), ["vague", "other", "exact", "tail-a", "tail-b"]);
        // Only the two rescored candidates' sentences were embedded (4 + 2).
        assert_eq!(embedder.0.load(std::sync::atomic::Ordering::Relaxed), 6);
        // k is honoured after reranking.
        let out = SentenceWindows::new(bag())
            .rerank(QUERY, Some(&q), kitchen(), 1)
            .unwrap();
        assert_eq!(ids(&out), ["exact"]);
    }

    #[test]
    fn sentences_are_embedded_once_and_cached_across_queries() {
        let q = BagOfWords::vector(QUERY);
        let embedder = bag();
        let windows = SentenceWindows::new(embedder.clone());
        windows.rerank(QUERY, Some(&q), kitchen(), 3).unwrap();
        let first = embedder.0.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(first, 4 + 4 + 2);
        windows.rerank("cupboard", None, kitchen(), 3).unwrap();
        // Only the second query itself was embedded.
        assert_eq!(
            embedder.0.load(std::sync::atomic::Ordering::Relaxed),
            first + 1
        );
        let uncached = SentenceWindows::new(embedder.clone()).cache_capacity(0);
        uncached.rerank(QUERY, Some(&q), kitchen(), 3).unwrap();
        assert_eq!(
            embedder.0.load(std::sync::atomic::Ordering::Relaxed),
            first + 1 + 10
        );
    }

    #[test]
    fn window_scores_find_the_matching_run_of_sentences() {
        let q = BagOfWords::vector("red apples. green pears");
        let windows = SentenceWindows::new(bag()).max_sentences(3);
        let scores = windows
            .window_scores(
                &q,
                &[
                    "Bread is baked daily. Red apples. Green pears. Milk is cold.",
                    "",
                    "Red apples.",
                ],
            )
            .unwrap();
        // One sentence matches half the query; the two together match all of it.
        assert!(scores[0][0] < 0.8, "{:?}", scores[0]);
        assert!(scores[0][1] > 0.99, "{:?}", scores[0]);
        assert!(scores[0][2] < scores[0][1]);
        assert!(scores[1].is_empty());
        // A one-sentence text gives its only window for every size.
        assert_eq!(scores[2].len(), 3);
        assert!(scores[2].iter().all(|&s| (s - scores[2][0]).abs() < 1e-6));
    }

    #[test]
    fn texts_without_sentences_do_not_break_reranking() {
        let q = BagOfWords::vector(QUERY);
        let mut cands = kitchen();
        cands[0].hit.text = String::new();
        let out = SentenceWindows::new(bag())
            .rerank(QUERY, Some(&q), cands, 3)
            .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].hit.doc_id, "exact");
        assert!(SentenceWindows::new(bag())
            .rerank(QUERY, Some(&q), Vec::new(), 3)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn specs_parse_and_sentences_need_an_embedder() {
        let e: Arc<dyn Embedder> = bag();
        let r = reranker_from_spec_with("sentences", Some(e.clone())).unwrap();
        assert_eq!(r.name(), "sentences:0.5:30:2");
        let r = reranker_from_spec_with("sentences:0.3:10:2", Some(e.clone())).unwrap();
        assert_eq!(r.name(), "sentences:0.3:10:2");
        assert_eq!(reranker_from_spec("mmr:0.9").unwrap().name(), "mmr:0.9");
        for bad in [
            "sentences:1.5",
            "sentences:x",
            "sentences:0.5:-1",
            "sentences:0.5:10:0",
            "sentences:0.5:10:2:9",
            "windows",
        ] {
            let Err(err) = reranker_from_spec_with(bad, Some(e.clone())) else {
                panic!("{bad} parsed");
            };
            assert!(matches!(err, Error::Invalid { .. }), "{bad}: {err}");
        }
        let Err(err) = reranker_from_spec("sentences") else {
            panic!("sentences without an embedder parsed");
        };
        assert!(err.to_string().contains("embedding model"), "{err}");
    }
}
