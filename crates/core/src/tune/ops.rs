//! Fused operations with their own backward pass, where candle's composition of small
//! operations would allocate a tensor per step: the attention softmax under a padding
//! mask.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

/// `softmax(scores + bias)` over the last dimension of attention scores (batch, heads,
/// queries, keys), with `bias` (batch, keys) added to every head and query: 0 for a
/// token, a large negative number for padding.
pub(crate) struct MaskedSoftmax {
    pub(crate) bias: Arc<Vec<f32>>,
}

/// The input's contiguous values, or an error naming the operation.
fn contiguous<'a, T>(values: &'a [T], layout: &Layout, op: &str) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&values[start..end]),
        None => Err(candle_core::Error::Msg(format!(
            "{op}: input not contiguous"
        ))),
    }
}

macro_rules! masked_softmax_rows {
    ($t:ty, $scores:expr, $bias:expr, $dims:expr) => {{
        let (batch, heads, queries, keys) = $dims;
        let mut out = vec![0 as $t; $scores.len()];
        let per_batch = heads * queries * keys;
        out.par_chunks_mut(keys)
            .zip($scores.par_chunks(keys))
            .enumerate()
            .for_each(|(row, (out, scores))| {
                let b = (row * keys / per_batch).min(batch - 1);
                let bias = &$bias[b * keys..(b + 1) * keys];
                let mut max = <$t>::NEG_INFINITY;
                for (o, (&s, &m)) in out.iter_mut().zip(scores.iter().zip(bias)) {
                    *o = s + m as $t;
                    max = max.max(*o);
                }
                let mut sum = 0 as $t;
                for o in out.iter_mut() {
                    *o = (*o - max).exp();
                    sum += *o;
                }
                let inv = 1.0 / sum;
                for o in out.iter_mut() {
                    *o *= inv;
                }
            });
        out
    }};
}

impl CustomOp1 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, heads, queries, keys) = layout.shape().dims4()?;
        if self.bias.len() != batch * keys {
            return Err(candle_core::Error::Msg(format!(
                "masked-softmax: bias has {} values for {batch} x {keys}",
                self.bias.len()
            )));
        }
        let dims = (batch, heads, queries, keys);
        let out = match storage {
            CpuStorage::F32(v) => {
                let s = contiguous(v, layout, self.name())?;
                CpuStorage::F32(masked_softmax_rows!(f32, s, self.bias, dims))
            }
            CpuStorage::F64(v) => {
                let s = contiguous(v, layout, self.name())?;
                CpuStorage::F64(masked_softmax_rows!(f64, s, self.bias, dims))
            }
            _ => {
                return Err(candle_core::Error::Msg(
                    "masked-softmax: f32 or f64 only".into(),
                ))
            }
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(res.apply_op2_no_bwd(&grad, &SoftmaxGrad)?))
    }
}

/// The softmax's backward step: `p * (g - sum(g * p))` per row, from the softmax's
/// output `p` and the gradient `g` of its output.
struct SoftmaxGrad;

macro_rules! softmax_grad_rows {
    ($t:ty, $p:expr, $g:expr, $keys:expr) => {{
        let mut out = vec![0 as $t; $p.len()];
        out.par_chunks_mut($keys)
            .zip($p.par_chunks($keys).zip($g.par_chunks($keys)))
            .for_each(|(out, (p, g))| {
                let dot: $t = p.iter().zip(g).map(|(a, b)| a * b).sum();
                for ((o, &p), &g) in out.iter_mut().zip(p).zip(g) {
                    *o = p * (g - dot);
                }
            });
        out
    }};
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "softmax-grad"
    }

    fn cpu_fwd(
        &self,
        p: &CpuStorage,
        p_layout: &Layout,
        g: &CpuStorage,
        g_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let keys = p_layout.shape().dims().last().copied().unwrap_or(1).max(1);
        if p_layout.shape() != g_layout.shape() {
            return Err(candle_core::Error::Msg(
                "softmax-grad: shapes differ".into(),
            ));
        }
        let out = match (p, g) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => {
                let (p, g) = (
                    contiguous(p, p_layout, self.name())?,
                    contiguous(g, g_layout, self.name())?,
                );
                CpuStorage::F32(softmax_grad_rows!(f32, p, g, keys))
            }
            (CpuStorage::F64(p), CpuStorage::F64(g)) => {
                let (p, g) = (
                    contiguous(p, p_layout, self.name())?,
                    contiguous(g, g_layout, self.name())?,
                );
                CpuStorage::F64(softmax_grad_rows!(f64, p, g, keys))
            }
            _ => {
                return Err(candle_core::Error::Msg(
                    "softmax-grad: f32 or f64 only".into(),
                ))
            }
        };
        Ok((out, p_layout.shape().clone()))
    }
}
