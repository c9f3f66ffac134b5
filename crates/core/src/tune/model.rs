//! A BERT-family encoder whose weights are candle `Var`s, written with differentiable
//! tensor operations only, so that candle's autograd computes every weight's gradient.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_transformers::models::bert::Config;

use super::ops::MaskedSoftmax;
use crate::embed::fast;
use crate::embed::Pooling;

/// A LayerNorm's scale and shift.
struct Norm {
    weight: Var,
    bias: Var,
}

/// A linear layer: `x Wᵀ + b`.
struct Linear {
    weight: Var,
    bias: Var,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    norm1: Norm,
    up: Linear,
    down: Linear,
    norm2: Norm,
}

/// The trainable encoder. Every tensor of the checkpoint is kept: the encoder's as
/// `Var`s, the rest (a pooler, a task head) as they were, so that
/// [`TrainableBert::save`] writes a file with the same names, shapes and dtypes.
pub(crate) struct TrainableBert {
    word: Var,
    position: Var,
    token_type: Var,
    embed_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    eps: f64,
    position_offset: usize,
    /// Every tensor of the checkpoint by name: the trained ones share storage with
    /// the `Var`s above.
    tensors: BTreeMap<String, Tensor>,
    /// Each tensor's dtype in the checkpoint (the model trains in f32).
    dtypes: BTreeMap<String, DType>,
    /// Names of the trained tensors, in a fixed order, with their `Var`s.
    vars: Vec<(String, Var)>,
}

/// Whether a config describes a model [`TrainableBert`] computes exactly.
pub(crate) fn trainable(config: &Config) -> bool {
    fast::plain_encoder(config)
}

impl TrainableBert {
    /// Loads `model.safetensors` (f32, f16 or bf16) of a model with `config`, to train
    /// in `dtype` (f32; f64 for gradient checks).
    pub(crate) fn load(
        weights: &Path,
        config: &Config,
        dtype: DType,
    ) -> candle_core::Result<TrainableBert> {
        let device = Device::Cpu;
        let raw = candle_core::safetensors::load(weights, &device)?;
        let prefix = ["", "bert.", "roberta."]
            .into_iter()
            .map(str::to_owned)
            .chain(config.model_type.iter().map(|t| format!("{t}.")))
            .find(|p| raw.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
            .ok_or_else(|| {
                candle_core::Error::Msg("no embeddings.word_embeddings.weight".into())
            })?;
        let mut dtypes = BTreeMap::new();
        let mut tensors = BTreeMap::new();
        for (name, t) in raw {
            dtypes.insert(name.clone(), t.dtype());
            tensors.insert(name, t.to_dtype(dtype)?);
        }
        let mut vars = Vec::new();
        let mut var = |name: &str, shape: &[usize]| -> candle_core::Result<Var> {
            let full = format!("{prefix}{name}");
            let t = tensors
                .get(&full)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {full}")))?;
            if t.dims() != shape {
                return Err(candle_core::Error::Msg(format!(
                    "{full} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            let v = Var::from_tensor(t)?;
            tensors.insert(full.clone(), v.as_tensor().clone());
            vars.push((full, v.clone()));
            Ok(v)
        };
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let embed_norm = Norm::load(&mut var, "embeddings.LayerNorm", h)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            layers.push(Layer {
                norm1: Norm::load(&mut var, &format!("{p}.attention.output.LayerNorm"), h)?,
                norm2: Norm::load(&mut var, &format!("{p}.output.LayerNorm"), h)?,
                query: Linear::load(&mut var, &format!("{p}.attention.self.query"), h, h)?,
                key: Linear::load(&mut var, &format!("{p}.attention.self.key"), h, h)?,
                value: Linear::load(&mut var, &format!("{p}.attention.self.value"), h, h)?,
                out: Linear::load(&mut var, &format!("{p}.attention.output.dense"), h, h)?,
                up: Linear::load(&mut var, &format!("{p}.intermediate.dense"), i, h)?,
                down: Linear::load(&mut var, &format!("{p}.output.dense"), h, i)?,
            });
        }
        let word = var("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let position = var(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let token_type = var(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        Ok(TrainableBert {
            word,
            position,
            token_type,
            embed_norm,
            layers,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps,
            position_offset: fast::position_offset(config),
            tensors,
            dtypes,
            vars,
        })
    }

    /// The trained tensors by name, in a fixed order.
    pub(crate) fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// Writes every tensor of the checkpoint, trained ones with their current values,
    /// each in its original dtype.
    pub(crate) fn save(&self, path: &Path) -> candle_core::Result<()> {
        let mut out = std::collections::HashMap::new();
        for (name, t) in &self.tensors {
            let dtype = self.dtypes.get(name).copied().unwrap_or(DType::F32);
            out.insert(name.clone(), t.to_dtype(dtype)?);
        }
        candle_core::safetensors::save(&out, path)
    }

    /// Hidden states (batch, seq, hidden) of `ids` (batch, seq; u32) under `mask`
    /// (batch, seq; 1.0 for a token, 0.0 for padding).
    pub(crate) fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let hidden = self.word.dim(1)?;
        let words = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((batch, seq, hidden))?;
        let positions = self.position.narrow(0, self.position_offset, seq)?;
        let token_type = self.token_type.narrow(0, 0, 1)?;
        let x = words
            .broadcast_add(&positions.unsqueeze(0)?)?
            .broadcast_add(&token_type.unsqueeze(0)?)?;
        let mut x = self.embed_norm.forward(&x, self.eps)?;
        // 0 where a key is a token, a large negative number where it is padding.
        let bias: Vec<f32> = mask
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?
            .into_iter()
            .map(|m| (m - 1.0) * 1e4)
            .collect();
        let bias = Arc::new(bias);
        for layer in &self.layers {
            x = layer.forward(&x, &bias, self.heads, self.eps)?;
        }
        Ok(x)
    }

    /// Pooled sentence embeddings (batch, hidden), L2-normalised.
    pub(crate) fn embed(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        pooling: Pooling,
    ) -> candle_core::Result<Tensor> {
        let mask = mask.to_dtype(self.word.dtype())?;
        let hidden = self.forward(ids, &mask)?;
        let pooled = pooling.apply(&hidden, &mask)?;
        crate::embed::l2_normalize(&pooled)
    }
}

impl Linear {
    fn load(
        var: &mut impl FnMut(&str, &[usize]) -> candle_core::Result<Var>,
        name: &str,
        out: usize,
        input: usize,
    ) -> candle_core::Result<Linear> {
        Ok(Linear {
            weight: var(&format!("{name}.weight"), &[out, input])?,
            bias: var(&format!("{name}.bias"), &[out])?,
        })
    }

    /// `x` (batch, seq, in) to (batch, seq, out).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq, input) = x.dims3()?;
        x.reshape((batch * seq, input))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?
            .reshape((batch, seq, ()))
    }
}

impl Norm {
    fn load(
        var: &mut impl FnMut(&str, &[usize]) -> candle_core::Result<Var>,
        name: &str,
        size: usize,
    ) -> candle_core::Result<Norm> {
        Ok(Norm {
            weight: var(&format!("{name}.weight"), &[size])?,
            bias: var(&format!("{name}.bias"), &[size])?,
        })
    }

    fn forward(&self, x: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        centered
            .broadcast_div(&(var + eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

impl Layer {
    fn forward(
        &self,
        x: &Tensor,
        bias: &Arc<Vec<f32>>,
        heads: usize,
        eps: f64,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq, hidden) = x.dims3()?;
        let head_dim = hidden / heads;
        let split = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((batch, seq, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / (head_dim as f64).sqrt();
        let q = split((self.query.forward(x)? * scale)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let probs = q
            .matmul(&k.t()?.contiguous()?)?
            .apply_op1(MaskedSoftmax { bias: bias.clone() })?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, seq, hidden))?;
        let x = self
            .norm1
            .forward(&(self.out.forward(&context)? + x)?, eps)?;
        let up = self.up.forward(&x)?.gelu_erf()?;
        self.norm2.forward(&(self.down.forward(&up)? + x)?, eps)
    }
}
