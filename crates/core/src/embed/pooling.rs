//! Pooling of token embeddings into one vector per text.

use candle_core::{Tensor, D};

/// How token embeddings become one sentence embedding (sentence-transformers'
/// `1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean of the token embeddings, padding excluded.
    Mean,
    /// The first (`[CLS]`) token's embedding.
    Cls,
    /// Element-wise maximum over the tokens, padding excluded.
    Max,
}

impl Pooling {
    /// Pools `hidden` (batch, seq, dim) under `mask` (batch, seq; 1 for real tokens).
    ///
    /// # Errors
    /// On shape mismatches.
    pub(crate) fn apply(self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
        match self {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1),
            Pooling::Mean => {
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)
            }
            Pooling::Max => {
                // Padding positions get a large negative value so they never win.
                let penalty = ((mask.ones_like()? - &mask)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)
            }
        }
    }
}

/// Scales each row of `x` (batch, dim) to unit L2 norm.
///
/// # Errors
/// On shape errors.
pub(crate) fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        t.to_vec2().unwrap()
    }

    #[test]
    fn mean_pooling_ignores_padding() {
        let d = Device::Cpu;
        // batch 1, 3 tokens, dim 2; third token is padding with huge values.
        let h = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., 100.]]], &d).unwrap();
        let m = Tensor::new(&[[1u32, 1, 0]], &d).unwrap();
        assert_eq!(rows(&Pooling::Mean.apply(&h, &m).unwrap()), [[2., 3.]]);
        assert_eq!(rows(&Pooling::Max.apply(&h, &m).unwrap()), [[3., 4.]]);
        assert_eq!(rows(&Pooling::Cls.apply(&h, &m).unwrap()), [[1., 2.]]);
    }

    #[test]
    fn normalize_gives_unit_rows() {
        let d = Device::Cpu;
        let x = Tensor::new(&[[3f32, 4.], [0., 2.]], &d).unwrap();
        assert_eq!(rows(&l2_normalize(&x).unwrap()), [[0.6, 0.8], [0., 1.]]);
    }
}
