//! A cross-encoder reranker: query and passage read together by a BERT classifier.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::embed::Dir;
use crate::error::{Error, Result};

use super::{best_first, Candidate, Reranker};

/// A cross-encoder: reads query and passage together and scores their relevance.
/// Loads a sentence-transformers `CrossEncoder` / Hugging Face
/// `BertForSequenceClassification` directory (`config.json`, `tokenizer.json`,
/// `model.safetensors`); with one label the logit is the score, with two the
/// "relevant" logit minus the other.
pub struct CrossEncoder {
    pub(super) bert: BertModel,
    pub(super) pooler: Linear,
    pub(super) classifier: Linear,
    pub(super) tokenizer: Tokenizer,
    pub(super) name: String,
}

impl std::fmt::Debug for CrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrossEncoder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Pairs scored per forward pass.
pub(super) const PAIR_BATCH: usize = 16;

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
    fn from_var_builder(
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
                .map_err(Error::embedding_from)?;
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
