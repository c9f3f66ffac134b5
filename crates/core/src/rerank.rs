//! Reranking: a second look at a search's best candidates.
//!
//! A [`Reranker`] reorders the top candidates of a search. Two are built in: [`Mmr`]
//! (maximal marginal relevance: trades relevance for diversity using the stored
//! embeddings) and [`CrossEncoder`] (a sentence-transformers cross-encoder, i.e. a
//! `BertForSequenceClassification` directory, run with Candle).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::collection::Hit;
use crate::embed::Dir;
use crate::error::{Error, Result};

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
        let mut scored: Vec<(f32, usize, Candidate)> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| (scores[i], i, c))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(s, _, mut c)| {
                c.hit.score = s;
                c
            })
            .collect())
    }

    fn name(&self) -> String {
        format!("cross-encoder:{}", self.name)
    }
}

/// A reranker from its text form: `mmr:LAMBDA` (for example `mmr:0.9`) or
/// `cross-encoder:DIR` (a sentence-transformers CrossEncoder directory).
///
/// # Errors
/// [`Error::Invalid`] for an unknown form; model errors for a cross-encoder.
pub fn reranker_from_spec(spec: &str) -> Result<std::sync::Arc<dyn Reranker>> {
    if let Some(lambda) = spec.strip_prefix("mmr:") {
        let lambda: f32 = lambda.trim().parse().map_err(|_| Error::Invalid {
            what: "reranker",
            reason: format!("{spec:?}: mmr:LAMBDA needs a number"),
        })?;
        return Ok(std::sync::Arc::new(Mmr { lambda }));
    }
    if let Some(dir) = spec.strip_prefix("cross-encoder:") {
        return Ok(std::sync::Arc::new(CrossEncoder::load(dir)?));
    }
    Err(Error::Invalid {
        what: "reranker",
        reason: format!("{spec:?} (expected mmr:LAMBDA or cross-encoder:DIR)"),
    })
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
            span: crate::collection::ChunkSpan::default(),
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
}
