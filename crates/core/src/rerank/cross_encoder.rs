//! A cross-encoder reranker: query and passage read together by a BERT or XLM-RoBERTa
//! classifier.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};
use candle_transformers::models::xlm_roberta::{
    Config as RobertaConfig, XLMRobertaForSequenceClassification,
};
use tokenizers::{Tokenizer, TruncationParams};

use crate::embed::{fast, Dir};
use crate::error::{Error, Result};

use super::{best_first, Candidate, Reranker};

/// A cross-encoder: reads query and passage together and scores their relevance.
/// Loads a sentence-transformers `CrossEncoder` / Hugging Face
/// `BertForSequenceClassification` or `XLMRobertaForSequenceClassification` directory
/// (`config.json`, `tokenizer.json`, `model.safetensors`): English rerankers such as
/// ms-marco-MiniLM, and multilingual ones such as bge-reranker. With one label the
/// logit is the score, with two the "relevant" logit minus the other.
pub struct CrossEncoder {
    model: Classifier,
    tokenizer: Tokenizer,
    name: String,
}

/// The model of a [`CrossEncoder`].
enum Classifier {
    /// `BertForSequenceClassification`: `[CLS]` through the pooler (dense, tanh), then
    /// the classifier.
    Bert {
        bert: BertModel,
        pooler: Linear,
        classifier: Linear,
    },
    /// `XLMRobertaForSequenceClassification`: `<s>` through a dense layer, tanh and
    /// the output projection. Pairs are padded with the padding id, after which the
    /// model counts positions.
    XlmRoberta {
        model: XLMRobertaForSequenceClassification,
        pad: u32,
    },
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
        let roberta = if fast::position_offset(&config) > 0 {
            Some(dir.json::<RobertaConfig>("config.json")?)
        } else {
            None
        };
        Self::from_var_builder(
            &vb,
            &config,
            roberta.as_ref(),
            tokenizer,
            dir.0
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        )
        .map_err(|e| dir.invalid("model.safetensors", e))
    }

    /// Builds the model from tensors under `vb`: weights named as in
    /// `XLMRobertaForSequenceClassification` when `roberta` is given (a RoBERTa-family
    /// config), else as in `BertForSequenceClassification`, with or without the `bert.`
    /// prefix. The tokenizer's own padding is switched off and truncation set to the
    /// positions the model has.
    ///
    /// # Errors
    /// When a tensor is missing or has the wrong shape.
    fn from_var_builder(
        vb: &VarBuilder,
        config: &Config,
        roberta: Option<&RobertaConfig>,
        mut tokenizer: Tokenizer,
        name: String,
    ) -> candle_core::Result<CrossEncoder> {
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: fast::max_positions(config).min(512),
                ..TruncationParams::default()
            }))
            .map_err(|e| candle_core::Error::Msg(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(None);
        let labels = |name: &str| {
            vb.get_unchecked(name)
                .map_or(1, |w| w.dims().first().copied().unwrap_or(1))
        };
        let model = match roberta {
            Some(roberta) => Classifier::XlmRoberta {
                model: XLMRobertaForSequenceClassification::new(
                    labels("classifier.out_proj.weight"),
                    roberta,
                    vb.clone(),
                )?,
                pad: roberta.pad_token_id,
            },
            None => {
                let bert = BertModel::load(vb.clone(), config)?;
                let h = config.hidden_size;
                let pooler = candle_nn::linear(h, h, vb.pp("pooler.dense"))
                    .or_else(|_| candle_nn::linear(h, h, vb.pp("bert.pooler.dense")))?;
                let classifier =
                    candle_nn::linear(h, labels("classifier.weight"), vb.pp("classifier"))?;
                Classifier::Bert {
                    bert,
                    pooler,
                    classifier,
                }
            }
        };
        Ok(CrossEncoder {
            model,
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
            let pad = match &self.model {
                Classifier::XlmRoberta { pad, .. } => *pad,
                Classifier::Bert { .. } => 0,
            };
            let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
            for e in &enc {
                let n = e.get_ids().len();
                ids.extend_from_slice(e.get_ids());
                ids.extend(std::iter::repeat_n(pad, seq - n));
                types.extend_from_slice(e.get_type_ids());
                mask.extend(std::iter::repeat_n(1u32, n));
                for v in [&mut types, &mut mask] {
                    v.extend(std::iter::repeat_n(0u32, seq - n));
                }
            }
            let shape = (enc.len(), seq);
            let dev = Device::Cpu;
            let ids = Tensor::from_vec(ids, shape, &dev)?;
            let types = Tensor::from_vec(types, shape, &dev)?;
            let mask = Tensor::from_vec(mask, shape, &dev)?;
            let logits = match &self.model {
                Classifier::Bert {
                    bert,
                    pooler,
                    classifier,
                } => {
                    let hidden = bert.forward(&ids, &types, Some(&mask))?;
                    let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
                    classifier.forward(&pooler.forward(&cls)?.tanh()?)?
                }
                Classifier::XlmRoberta { model, .. } => model.forward(&ids, &mask, &types)?,
            }
            .to_vec2::<f32>()?;
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
