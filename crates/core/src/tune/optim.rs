//! AdamW with decoupled weight decay, a linear warm-up and decay of the learning rate,
//! gradient clipping, and a state that is saved and restored exactly (a resumed run
//! continues as if it had never stopped).

use std::path::Path;

use candle_core::{Device, Tensor, Var};

/// AdamW's settings (transformers' defaults for fine-tuning sentence-transformers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AdamWConfig {
    pub(crate) lr: f64,
    pub(crate) beta1: f64,
    pub(crate) beta2: f64,
    pub(crate) eps: f64,
    pub(crate) weight_decay: f64,
    /// Steps of linear warm-up from 0 to `lr`, then linear decay to 0 at `total_steps`.
    pub(crate) warmup_steps: usize,
    pub(crate) total_steps: usize,
    /// The gradients' global L2 norm is clipped to this.
    pub(crate) max_grad_norm: f64,
}

/// One weight's moments.
struct Moments {
    m: Tensor,
    v: Tensor,
}

pub(crate) struct AdamW {
    config: AdamWConfig,
    vars: Vec<(String, Var)>,
    moments: Vec<Moments>,
    /// Optimizer steps taken.
    step: usize,
}

impl AdamW {
    pub(crate) fn new(vars: &[(String, Var)], config: AdamWConfig) -> candle_core::Result<AdamW> {
        let moments = vars
            .iter()
            .map(|(_, v)| {
                Ok(Moments {
                    m: v.zeros_like()?,
                    v: v.zeros_like()?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(AdamW {
            config,
            vars: vars.to_vec(),
            moments,
            step: 0,
        })
    }

    /// The learning rate of the next step.
    pub(crate) fn lr(&self) -> f64 {
        let c = &self.config;
        #[allow(clippy::cast_precision_loss)]
        let (step, warmup, total) = (
            self.step as f64,
            c.warmup_steps as f64,
            c.total_steps as f64,
        );
        if step < warmup {
            c.lr * (step + 1.0) / warmup
        } else {
            c.lr * ((total - step) / (total - warmup).max(1.0)).max(0.0)
        }
    }

    /// One update from `grads` (one per var, in the order of `vars`; `None` where a
    /// weight got no gradient). Returns the gradients' norm before clipping.
    pub(crate) fn step(&mut self, grads: &[Option<Tensor>]) -> candle_core::Result<f64> {
        let c = self.config;
        let mut sum_sq = 0f64;
        for g in grads.iter().flatten() {
            sum_sq += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
        }
        let norm = sum_sq.sqrt();
        let clip = if norm > c.max_grad_norm && norm > 0.0 {
            c.max_grad_norm / norm
        } else {
            1.0
        };
        let lr = self.lr();
        self.step += 1;
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let t = self.step as i32;
        let (bias1, bias2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        for (((name, var), moments), grad) in self.vars.iter().zip(&mut self.moments).zip(grads) {
            let Some(grad) = grad else { continue };
            let g = (grad * clip)?;
            moments.m = ((&moments.m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            moments.v = ((&moments.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let m_hat = (&moments.m / bias1)?;
            let v_hat = (&moments.v / bias2)?;
            let update = (m_hat / (v_hat.sqrt()? + c.eps)?)?;
            let decay = if decays(name) { c.weight_decay } else { 0.0 };
            let w = var.as_tensor();
            let next = ((w * (1.0 - lr * decay))? - (update * lr)?)?;
            var.set(&next)?;
        }
        Ok(norm)
    }

    /// Writes the moments and the step count.
    pub(crate) fn save(&self, path: &Path) -> candle_core::Result<()> {
        let mut out = std::collections::HashMap::new();
        for ((name, _), moments) in self.vars.iter().zip(&self.moments) {
            out.insert(format!("m.{name}"), moments.m.clone());
            out.insert(format!("v.{name}"), moments.v.clone());
        }
        #[allow(clippy::cast_precision_loss)]
        out.insert(
            "step".to_owned(),
            Tensor::new(&[self.step as f64], &Device::Cpu)?,
        );
        candle_core::safetensors::save(&out, path)
    }

    /// Restores what [`AdamW::save`] wrote.
    pub(crate) fn load(&mut self, path: &Path) -> candle_core::Result<()> {
        let mut saved = candle_core::safetensors::load(path, &Device::Cpu)?;
        let mut take = |key: String, like: &Tensor| -> candle_core::Result<Tensor> {
            let t = saved
                .remove(&key)
                .ok_or_else(|| candle_core::Error::Msg(format!("optimizer state lacks {key}")))?;
            if t.shape() != like.shape() {
                return Err(candle_core::Error::Msg(format!("{key}: shape differs")));
            }
            Ok(t)
        };
        for ((name, _), moments) in self.vars.iter().zip(&mut self.moments) {
            moments.m = take(format!("m.{name}"), &moments.m)?;
            moments.v = take(format!("v.{name}"), &moments.v)?;
        }
        let step = take(
            "step".to_owned(),
            &Tensor::zeros(1, candle_core::DType::F64, &Device::Cpu)?,
        )?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let step = step.to_vec1::<f64>()?[0] as usize;
        self.step = step;
        Ok(())
    }
}

/// Biases and LayerNorm weights are not decayed (as in transformers' and
/// sentence-transformers' fine-tuning).
fn decays(name: &str) -> bool {
    !(name.ends_with(".bias") || name.contains("LayerNorm"))
}
