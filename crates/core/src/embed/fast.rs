//! The BERT encoder on trawl's kernels ([`super::kernels`]), over packed token rows,
//! on the instruction set chosen at load ([`CpuPath`]).
//!
//! Differences from candle-transformers' `BertModel`, each for speed, none for the
//! result: the texts of a group are packed back to back without padding (attention
//! runs per text, so no mask is needed and no work is spent on padding); the query,
//! key and value projections are one product with the `1/√d` scale folded into the
//! query weights; residual additions and biases happen inside the products; weights are
//! packed once at load.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct, PositionEmbeddingType};

#[cfg(target_arch = "aarch64")]
use super::kernels::neon::Neon;
use super::kernels::{self, int8, portable::Portable, Act, CpuPath, Kernels, PackedB, PackedI8};
#[cfg(target_arch = "x86_64")]
use super::kernels::{avx2::Avx2, avx512, avx512::Avx512};
use super::{Pooling, Precision};

/// A linear layer's weight, packed for the product of its precision.
enum Weight {
    F32(PackedB),
    I8(PackedI8),
    #[cfg(target_arch = "x86_64")]
    Bf16(avx512::PackedB16),
    /// bfloat16 on AMX tiles.
    #[cfg(target_arch = "x86_64")]
    Amx(avx512::PackedB16),
}

impl Weight {
    /// Packs `w` (`n x k`) for `path`; `precision` must be one `path` runs.
    fn new(w: &[f32], n: usize, k: usize, precision: Precision, path: CpuPath) -> Weight {
        match (precision, path) {
            (Precision::Int8, _) => Weight::I8(PackedI8::transposed(w, n, k)),
            #[cfg(target_arch = "x86_64")]
            (Precision::Bf16, CpuPath::Avx512Amx) if avx512::amx_fits(k) => {
                Weight::Amx(avx512::PackedB16::transposed(w, n, k))
            }
            #[cfg(target_arch = "x86_64")]
            (Precision::Bf16, _) => Weight::Bf16(avx512::PackedB16::transposed(w, n, k)),
            #[cfg(target_arch = "x86_64")]
            (_, CpuPath::Avx2) => Weight::F32(PackedB::transposed::<Avx2>(w, n, k)),
            #[cfg(target_arch = "x86_64")]
            (_, CpuPath::Avx512 | CpuPath::Avx512Amx) => {
                Weight::F32(PackedB::transposed::<Avx512>(w, n, k))
            }
            #[cfg(target_arch = "aarch64")]
            (_, CpuPath::Neon) => Weight::F32(PackedB::transposed::<Neon>(w, n, k)),
            _ => Weight::F32(PackedB::transposed::<Portable>(w, n, k)),
        }
    }

    fn n(&self) -> usize {
        match self {
            Weight::F32(b) => b.n(),
            Weight::I8(b) => b.n(),
            #[cfg(target_arch = "x86_64")]
            Weight::Bf16(b) | Weight::Amx(b) => b.n(),
        }
    }

    /// `c = act(a · Wᵀ (+ c) + bias)` over `m` rows.
    ///
    /// # Safety
    /// The CPU runs `K`, AVX-512 BF16 for a bfloat16 weight, granted AMX for an AMX one.
    #[allow(clippy::too_many_arguments)]
    unsafe fn apply<K: Kernels>(
        &self,
        m: usize,
        a: &[f32],
        lda: usize,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
        bias: &[f32],
        act: Act,
        s: &mut Packs,
    ) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            let bias = Some(bias);
            match self {
                Weight::F32(b) => {
                    kernels::gemm::<K>(m, a, lda, b, c, ldc, accumulate, bias, act, &mut s.f32);
                }
                Weight::I8(b) => {
                    int8::gemm_i8::<K>(m, a, lda, b, c, ldc, accumulate, bias, act, &mut s.i8);
                }
                #[cfg(target_arch = "x86_64")]
                Weight::Bf16(b) => {
                    avx512::gemm_bf16(m, a, lda, b, c, ldc, accumulate, bias, act, &mut s.bf16);
                }
                #[cfg(target_arch = "x86_64")]
                Weight::Amx(b) => {
                    avx512::gemm_amx(m, a, lda, b, c, ldc, accumulate, bias, act, &mut s.amx);
                }
            }
        }
    }
}

struct Layer {
    qkv: Weight,
    qkv_bias: Vec<f32>,
    out: Weight,
    out_bias: Vec<f32>,
    ln1: (Vec<f32>, Vec<f32>),
    up: Weight,
    up_bias: Vec<f32>,
    down: Weight,
    down_bias: Vec<f32>,
    ln2: (Vec<f32>, Vec<f32>),
}

/// Packing scratch of the products.
#[derive(Default)]
struct Packs {
    f32: Vec<f32>,
    i8: int8::QuantScratch,
    #[cfg(target_arch = "x86_64")]
    bf16: Vec<u32>,
    #[cfg(target_arch = "x86_64")]
    amx: Vec<u16>,
}

/// A BERT encoder whose forward pass runs on [`kernels`].
pub(crate) struct FastBert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    intermediate: usize,
    eps: f32,
    max_positions: usize,
    /// The position embedding of a text's first token ([`position_offset`]).
    position_offset: usize,
    vocab: usize,
    path: CpuPath,
}

/// The row of the position embeddings a text's first token reads. RoBERTa-family
/// models (XLM-RoBERTa, CamemBERT) number positions from just after the padding id,
/// as transformers' `create_position_ids_from_input_ids` does; BERT from 0.
pub(crate) fn position_offset(config: &Config) -> usize {
    match config.model_type.as_deref() {
        Some("roberta" | "xlm-roberta" | "camembert") => config.pad_token_id + 1,
        _ => 0,
    }
}

/// The tokens a text may have: the position embeddings past [`position_offset`].
pub(crate) fn max_positions(config: &Config) -> usize {
    config
        .max_position_embeddings
        .saturating_sub(position_offset(config))
}

/// The encoder's weights in a checkpoint saved with or without the prefix of a
/// task model (`bert.`, `roberta.`, or the model type).
pub(crate) fn encoder_root<'a>(vb: &VarBuilder<'a>, config: &Config) -> VarBuilder<'a> {
    let mut prefixes = vec![String::new(), "bert.".to_owned(), "roberta.".to_owned()];
    if let Some(t) = &config.model_type {
        prefixes.push(format!("{t}."));
    }
    let prefix = prefixes
        .into_iter()
        .find(|p| vb.contains_tensor(&format!("{p}embeddings.word_embeddings.weight")))
        .unwrap_or_default();
    if prefix.is_empty() {
        vb.clone()
    } else {
        vb.pp(prefix.trim_end_matches('.'))
    }
}

/// An encoder with GELU and absolute positions whose heads divide its hidden size: the
/// models trawl computes itself (for inference and for training).
pub(crate) fn plain_encoder(config: &Config) -> bool {
    matches!(config.hidden_act, HiddenAct::Gelu)
        && matches!(
            config.position_embedding_type,
            PositionEmbeddingType::Absolute
        )
        && config.num_attention_heads > 0
        && config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
}

thread_local! {
    /// Each thread keeps its buffers between forward passes: fresh ones cost page
    /// faults and zeroing on every batch.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Buffers of one forward pass.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    ffn: Vec<f32>,
    /// One head's attention scores, keys by queries.
    scores: Vec<f32>,
    /// `1 / Σ` of each query's softmax.
    inv_sums: Vec<f32>,
    queries: PackedB,
    values: PackedB,
    pack: Packs,
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

impl FastBert {
    /// Whether this model configuration runs on trawl's kernels.
    pub(crate) fn supports(config: &Config) -> bool {
        plain_encoder(config) && config.hidden_size.is_multiple_of(16)
    }

    /// The instruction set the forward pass runs on.
    pub(crate) fn path(&self) -> CpuPath {
        self.path
    }

    /// Loads the weights of a `BertModel` checkpoint (with or without a `bert.` or
    /// model-type prefix) for `path`, which the CPU must run at `precision`
    /// ([`CpuPath::runnable`], [`CpuPath::runs`]).
    pub(crate) fn load(
        vb: &VarBuilder,
        config: &Config,
        precision: Precision,
        path: CpuPath,
    ) -> candle_core::Result<FastBert> {
        assert!(path.runs(precision), "{path} cannot run {precision}");
        let vb = encoder_root(vb, config);
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let get = |vb: &VarBuilder,
                   shape: (usize, usize),
                   name: &str|
         -> candle_core::Result<Vec<f32>> { values(&vb.get(shape, name)?) };
        let vec = |vb: &VarBuilder, n: usize, name: &str| values(&vb.get(n, name)?);
        let ln = |vb: VarBuilder| -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
            Ok((vec(&vb, h, "weight")?, vec(&vb, h, "bias")?))
        };
        let e = vb.pp("embeddings");
        let word = get(&e, (config.vocab_size, h), "word_embeddings.weight")?;
        let position = get(
            &e,
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?;
        let token_type = get(
            &e,
            (config.type_vocab_size, h),
            "token_type_embeddings.weight",
        )?;
        let embed_ln = ln(e.pp("LayerNorm"))?;

        let head_dim = h / config.num_attention_heads;
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / (head_dim as f32).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let vb = vb.pp(format!("encoder.layer.{l}"));
            let att = vb.pp("attention");
            let s = att.pp("self");
            let mut qkv_w = get(&s, (h, h), "query.weight")?;
            let mut qkv_bias = vec(&s, h, "query.bias")?;
            qkv_w.iter_mut().for_each(|w| *w *= scale);
            qkv_bias.iter_mut().for_each(|b| *b *= scale);
            for name in ["key", "value"] {
                qkv_w.extend(get(&s, (h, h), &format!("{name}.weight"))?);
                qkv_bias.extend(vec(&s, h, &format!("{name}.bias"))?);
            }
            let o = att.pp("output");
            let inter = vb.pp("intermediate.dense");
            let out = vb.pp("output");
            layers.push(Layer {
                qkv: Weight::new(&qkv_w, 3 * h, h, precision, path),
                qkv_bias,
                out: Weight::new(&get(&o, (h, h), "dense.weight")?, h, h, precision, path),
                out_bias: vec(&o, h, "dense.bias")?,
                ln1: ln(o.pp("LayerNorm"))?,
                up: Weight::new(&get(&inter, (i, h), "weight")?, i, h, precision, path),
                up_bias: vec(&inter, i, "bias")?,
                down: Weight::new(&get(&out, (h, i), "dense.weight")?, h, i, precision, path),
                down_bias: vec(&out, h, "dense.bias")?,
                ln2: ln(out.pp("LayerNorm"))?,
            });
        }
        #[allow(clippy::cast_possible_truncation)]
        let eps = config.layer_norm_eps as f32;
        Ok(FastBert {
            word,
            position,
            token_type,
            embed_ln,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            intermediate: i,
            eps,
            max_positions: config.max_position_embeddings,
            position_offset: position_offset(config),
            vocab: config.vocab_size,
            path,
        })
    }

    /// Encodes texts (token ids, special tokens included) and pools each into one
    /// vector.
    pub(crate) fn embed(&self, texts: &[&[u32]], pooling: Pooling) -> Vec<Vec<f32>> {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.embed_with(texts, pooling, &mut s),
            // Re-entered on this thread (rayon may run another group inside a wait).
            Err(_) => self.embed_with(texts, pooling, &mut Scratch::default()),
        })
    }

    fn embed_with(&self, texts: &[&[u32]], pooling: Pooling, s: &mut Scratch) -> Vec<Vec<f32>> {
        match self.path {
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx2 => self.forward::<Avx2>(texts, pooling, s),
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx512 | CpuPath::Avx512Amx => self.forward::<Avx512>(texts, pooling, s),
            #[cfg(target_arch = "aarch64")]
            CpuPath::Neon => self.forward::<Neon>(texts, pooling, s),
            _ => self.forward::<Portable>(texts, pooling, s),
        }
    }

    fn forward<K: Kernels>(
        &self,
        texts: &[&[u32]],
        pooling: Pooling,
        s: &mut Scratch,
    ) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let room = self.max_positions.saturating_sub(self.position_offset);
        let lens: Vec<usize> = texts.iter().map(|t| t.len().min(room)).collect();
        let total: usize = lens.iter().sum();
        grow(&mut s.x, total * h);
        let mut row = 0;
        for (t, &n) in texts.iter().zip(&lens) {
            for (p, &id) in t[..n].iter().enumerate() {
                let id = (id as usize).min(self.vocab - 1);
                let dst = &mut s.x[row * h..(row + 1) * h];
                let w = &self.word[id * h..(id + 1) * h];
                let p = p + self.position_offset;
                let pos = &self.position[p * h..(p + 1) * h];
                for (((d, w), p), t) in dst.iter_mut().zip(w).zip(pos).zip(&self.token_type) {
                    *d = w + p + t;
                }
                row += 1;
            }
        }
        // SAFETY: FastBert is only built for a path the CPU runs (`load`), and `K` is
        // that path's kernels.
        unsafe {
            K::layer_norm_rows(
                &mut s.x[..total * h],
                &self.embed_ln.0,
                &self.embed_ln.1,
                self.eps,
            );
            for layer in &self.layers {
                self.layer::<K>(layer, &lens, total, s);
            }
        }
        let mut out = Vec::with_capacity(texts.len());
        let mut row = 0;
        for &n in &lens {
            let rows = &s.x[row * h..(row + n) * h];
            out.push(pool(rows, h, pooling));
            row += n;
        }
        out
    }

    /// One encoder layer over the packed rows in `s.x`.
    ///
    /// # Safety
    /// The CPU runs `K` (and AVX-512 BF16 for bfloat16 weights).
    unsafe fn layer<K: Kernels>(&self, l: &Layer, lens: &[usize], total: usize, s: &mut Scratch) {
        // SAFETY: within this function's # Safety contract, which its caller upholds.
        unsafe {
            let h = self.hidden;
            let d = h / self.heads;
            let h3 = 3 * h;
            grow(&mut s.qkv, total * h3);
            grow(&mut s.ctx, total * h);
            grow(&mut s.ffn, total * self.intermediate);
            l.qkv.apply::<K>(
                total,
                &s.x,
                h,
                &mut s.qkv,
                h3,
                false,
                &l.qkv_bias,
                Act::None,
                &mut s.pack,
            );
            // Attention per text and head, on the scores transposed (keys by queries):
            // the softmax then runs down columns, 16 queries per register, and its
            // result is read in place as the left operand of the product with the values.
            let mut t0 = 0;
            for &n in lens {
                if n == 0 {
                    // A text of no tokens has no attention (and no rows in `s.qkv`).
                    continue;
                }
                grow(&mut s.scores, n * n);
                grow(&mut s.inv_sums, n);
                for head in 0..self.heads {
                    let base = t0 * h3 + head * d;
                    // Sᵀ = K · Qᵀ (the 1/√d scale is in the query weights).
                    s.queries.pack_from::<K>(&s.qkv[base..], d, n, 1, h3);
                    kernels::gemm::<K>(
                        n,
                        &s.qkv[base + h..],
                        h3,
                        &s.queries,
                        &mut s.scores,
                        n,
                        false,
                        None,
                        Act::None,
                        &mut s.pack.f32,
                    );
                    K::softmax_columns(&mut s.scores, n, n, n, &mut s.inv_sums);
                    // ctx = softmax(S) · V, each query's row divided by its sum.
                    s.values
                        .pack_whole::<K>(&s.qkv[base + 2 * h..], n, d, h3, 1);
                    kernels::gemm_at::<K>(
                        n,
                        &s.scores,
                        n,
                        &s.values,
                        &mut s.ctx[t0 * h + head * d..],
                        h,
                        Some(&s.inv_sums),
                        &mut s.pack.f32,
                    );
                }
                t0 += n;
            }
            // x = LayerNorm(x + ctx·Woᵀ + bo)
            l.out.apply::<K>(
                total,
                &s.ctx,
                h,
                &mut s.x,
                h,
                true,
                &l.out_bias,
                Act::None,
                &mut s.pack,
            );
            K::layer_norm_rows(&mut s.x[..total * h], &l.ln1.0, &l.ln1.1, self.eps);
            // x = LayerNorm(x + gelu(x·W1ᵀ + b1)·W2ᵀ + b2)
            let i = l.up.n();
            l.up.apply::<K>(
                total,
                &s.x,
                h,
                &mut s.ffn,
                i,
                false,
                &l.up_bias,
                Act::Gelu,
                &mut s.pack,
            );
            l.down.apply::<K>(
                total,
                &s.ffn,
                i,
                &mut s.x,
                h,
                true,
                &l.down_bias,
                Act::None,
                &mut s.pack,
            );
            K::layer_norm_rows(&mut s.x[..total * h], &l.ln2.0, &l.ln2.1, self.eps);
        }
    }
}

/// Makes `v` at least `len` long. Buffers only grow: every pass overwrites what it
/// reads, and shrinking would make the next, longer group zero the tail again.
fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// Pools the `n x h` token rows of one text.
fn pool(rows: &[f32], h: usize, pooling: Pooling) -> Vec<f32> {
    let n = rows.len() / h;
    if n == 0 {
        return vec![0.0; h];
    }
    match pooling {
        Pooling::Cls => rows[..h].to_vec(),
        Pooling::Mean => {
            let mut v = vec![0.0f32; h];
            for r in rows.chunks_exact(h) {
                v.iter_mut().zip(r).for_each(|(v, x)| *v += x);
            }
            #[allow(clippy::cast_precision_loss)]
            let inv = 1.0 / n.max(1) as f32;
            v.iter_mut().for_each(|v| *v *= inv);
            v
        }
        Pooling::Max => {
            let mut v = vec![f32::NEG_INFINITY; h];
            for r in rows.chunks_exact(h) {
                v.iter_mut().zip(r).for_each(|(v, x)| *v = v.max(*x));
            }
            v
        }
    }
}
