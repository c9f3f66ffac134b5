//! Embedding: the [`Embedder`] seam and the Candle BERT implementation.

mod bert;
#[cfg(target_arch = "x86_64")]
mod fast;
#[cfg(target_arch = "x86_64")]
mod kernels;
mod pooling;

pub use bert::BertEmbedder;
pub(crate) use bert::Dir;
pub use pooling::{l2_normalize, Pooling};

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
    /// with vectors within cosine 0.999 of the f32 ones. Falls back to f32 on CPUs
    /// without AVX-512 BF16.
    Bf16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("unknown precision {s:?} (expected f32 or bf16)")),
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

    /// A name that identifies the model, recorded with the collection.
    fn name(&self) -> String;
}
