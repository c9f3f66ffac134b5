//! Embedding: the [`Embedder`] seam and the Candle BERT implementation.

mod bert;
mod default_model;
pub(crate) mod fast;
mod kernels;
mod pooling;

pub use bert::BertEmbedder;
pub(crate) use bert::Dir;
pub use default_model::{default_model_dir, DEFAULT_MODEL_DIR, MODEL_ENV};
pub use kernels::CpuPath;
pub(crate) use pooling::l2_normalize;
pub use pooling::Pooling;

use crate::error::Result;

/// Numeric precision of the embedding model's matrix products, chosen per collection
/// (recorded with it, so queries embed the way its chunks were embedded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Precision {
    /// 32-bit floats throughout: vectors match sentence-transformers (cosine ≥ 0.9999).
    #[default]
    F32,
    /// Weights and activations of the linear layers rounded to bfloat16, f32
    /// accumulation (AVX-512 BF16); attention, layer norm and GELU stay f32. Faster,
    /// with vectors within cosine 0.999 of the f32 ones. Computed in f32, with a
    /// logged warning, on CPUs without AVX-512 BF16.
    Bf16,
    /// The linear layers in 8-bit integers: weights quantized per output channel (7
    /// bits), activations per token as they are computed, exact integer dot products
    /// (`vpmaddubsw`, or `vpdpbusd` with VNNI); attention, layer norm and GELU stay
    /// f32. Runs on every CPU path; the integer products are exact on each, so the
    /// vectors of two paths differ only by the rounding of the f32 steps.
    Int8,
}

impl Precision {
    /// The precision a new collection gets on this CPU ([`CpuPath::selected`]):
    /// bfloat16 on AMX tiles; int8 on the other AVX2 and AVX-512 CPUs, where it is the
    /// fastest (bfloat16 with `vdpbf16ps` alone measured slower than f32; on SciFact,
    /// test and train, int8's nDCG@10 is within 0.003 of f32's, dense and hybrid); f32
    /// on the portable and NEON paths, whose int8 products are not vectorised.
    #[must_use]
    pub fn default_for_cpu() -> Precision {
        let path = CpuPath::selected();
        if path == CpuPath::Avx512Amx && path.runs(Precision::Bf16) {
            Precision::Bf16
        } else if matches!(path, CpuPath::Avx2 | CpuPath::Avx512) {
            Precision::Int8
        } else {
            Precision::F32
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            "int8" | "i8" => Ok(Precision::Int8),
            _ => Err(format!(
                "unknown precision {s:?} (expected f32, bf16 or int8)"
            )),
        }
    }
}

/// Turns texts into vectors. Implement it to bring your own model or precomputed
/// vectors; [`BertEmbedder`] is the built-in one.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;

    /// Embeds passages (document chunks), one vector per text, in order.
    ///
    /// # Errors
    /// When the model fails.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// Embeds a search query. Models that use a query prefix override this.
    ///
    /// # Errors
    /// When the model fails.
    fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        Ok(self.embed(&[query])?.pop().unwrap_or_default())
    }

    /// The most tokens one input may have before the model truncates it.
    fn max_tokens(&self) -> usize {
        usize::MAX
    }

    /// Tokens `text` takes, without special tokens. The default estimates four
    /// characters a token.
    fn count_tokens(&self, text: &str) -> usize {
        text.len().div_ceil(4)
    }

    /// How the model's tokenizer reads `text`: its tokens, how many of them are the
    /// unknown token, and the words they come from. Hybrid search uses it to notice a
    /// query the model cannot read (a script its vocabulary lacks). `None` for
    /// embedders that do not say.
    fn token_stats(&self, text: &str) -> Option<TokenStats> {
        let _ = text;
        None
    }

    /// A name that identifies the model, recorded with the collection.
    fn name(&self) -> String;

    /// How the model computes on this machine (precision and CPU kernels), for
    /// reports; `None` for embedders that do not say.
    fn runtime(&self) -> Option<Runtime> {
        None
    }
}

/// What a model's tokenizer makes of a text, without special tokens
/// ([`Embedder::token_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenStats {
    /// Tokens, as the model counts them.
    pub tokens: usize,
    /// Tokens that are the tokenizer's unknown token.
    pub unknown: usize,
    /// Words the tokenizer split the text into before cutting them into pieces (a CJK
    /// character is a word of its own for BERT's tokenizer).
    pub words: usize,
    /// The text's characters, whitespace left out.
    pub chars: usize,
    /// The characters the unknown tokens stand for: BERT's tokenizer makes one
    /// unknown token of a whole word it cannot cut into pieces (a run of Katakana,
    /// a Hangul word).
    pub unknown_chars: usize,
}

impl TokenStats {
    /// Characters per token, an unknown token counted as one token per character it
    /// stands for (the model reads none of them): about 4 for English read by an
    /// English model, 1 or less where the vocabulary lacks the script's words and cuts
    /// them into letters or unknown tokens; `None` for no tokens.
    #[must_use]
    pub fn chars_per_token(&self) -> Option<f32> {
        let tokens = self.tokens - self.unknown.min(self.tokens)
            + self.unknown_chars.max(self.unknown.min(self.tokens));
        (tokens > 0).then(|| self.chars as f32 / tokens as f32)
    }
}

/// How an embedder computes: the precision of its products and the CPU kernels they
/// run on. Displays as `int8, avx2 kernels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// The precision the products run at (which may be lower than asked for where the
    /// CPU lacks an instruction set: see [`Precision::Bf16`]).
    pub precision: Precision,
    /// The kernels in use; `None` when candle-transformers' `BertModel` computes.
    pub cpu_path: Option<CpuPath>,
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cpu_path {
            Some(path) => write!(f, "{}, {path} kernels", self.precision),
            None => write!(f, "{}, candle BertModel", self.precision),
        }
    }
}
