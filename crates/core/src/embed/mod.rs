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
