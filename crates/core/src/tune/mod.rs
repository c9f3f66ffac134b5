//! Fine-tuning the embedding model on a collection's own domain, on the CPU, with
//! candle's autograd.
//!
//! [`tune`] trains every weight of a BERT-family sentence-transformers model on
//! (query, passage) [`Pair`]s with an in-batch-negatives contrastive loss (the
//! symmetric form of sentence-transformers' `MultipleNegativesRankingLoss`: cosine
//! similarities scaled by `1 / temperature`, cross-entropy from each query to every
//! passage of the batch and from each passage to every query). A pair's optional
//! negative joins the batch's passages. Passages or queries that appear twice in a
//! batch are not counted as each other's negatives.
//!
//! A batch larger than [`TuneOptions::token_budget`] is computed in pieces with
//! gradient caching: the embeddings of the whole batch first, without keeping the
//! graph, then the loss's gradient with respect to them, then each piece again with its
//! graph, back-propagating its share. The loss and update are those of the whole batch
//! at the memory of one piece.
//!
//! The run checkpoints at the end of each epoch (and every
//! [`TuneOptions::checkpoint_every`] steps) under `OUT/checkpoints`; calling [`tune`]
//! again with the same pairs and options resumes from the last checkpoint and ends
//! with the same weights as a run that never stopped. The result is a model directory
//! in the sentence-transformers layout (the base model's configuration, tokenizer and
//! pooling, and the tuned `model.safetensors`), which [`crate::BertEmbedder`] and
//! sentence-transformers load.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use trawl::tune::{tune, Pair, TuneOptions};
//!
//! let pairs = vec![Pair::new(
//!     "how long do sourdough starters keep?",
//!     "A starter kept in the fridge and fed weekly lasts for years.",
//! )];
//! let report = tune(
//!     "models/all-MiniLM-L6-v2".as_ref(),
//!     "models/bakery".as_ref(),
//!     &pairs,
//!     &TuneOptions::default(),
//!     &mut |_| ControlFlow::Continue(()),
//! )?;
//! println!("{} steps, {:.1} pairs/s", report.steps, report.pairs_per_second);
//! # Ok::<(), trawl::Error>(())
//! ```

mod label_free;
mod model;
mod ops;
mod optim;
mod pairs;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_transformers::models::bert::Config;
use serde::{Deserialize, Serialize};

use crate::embed::{BertEmbedder, Dir, Pooling, Precision};
use crate::error::{Error, Result};
use model::TrainableBert;
use optim::{AdamW, AdamWConfig};

pub use label_free::{pairs_from_collection, LabelFreeOptions, PairSource};
pub use pairs::{
    mine_negatives, pairs_from_documents, pairs_from_feedback, read_pairs_jsonl, Pair,
};

/// How [`tune`] trains.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TuneOptions {
    /// Passes over the pairs.
    pub epochs: usize,
    /// Pairs per optimizer step; every other passage of the batch is a negative for a
    /// query, so larger batches teach more (sentence-transformers' default is 32).
    pub batch_size: usize,
    /// AdamW's peak learning rate.
    pub learning_rate: f64,
    /// Share of the steps spent warming the learning rate up from 0; it then decays
    /// linearly to 0.
    pub warmup: f64,
    /// AdamW's decoupled weight decay (not applied to biases and LayerNorm weights).
    pub weight_decay: f64,
    /// Temperature of the softmax over cosine similarities (0.05: a scale of 20).
    pub temperature: f64,
    /// Seed of the order pairs are visited in; a run is repeatable with it.
    pub seed: u64,
    /// Most tokens (padding included) one forward pass with gradients holds; a larger
    /// batch is computed in pieces of this size (see the module documentation).
    pub token_budget: usize,
    /// Tokens per text, at most the model's own limit; `None`: the model's limit.
    pub max_tokens: Option<usize>,
    /// Also checkpoint every this many steps (0: at the end of each epoch only).
    pub checkpoint_every: usize,
    /// Stop after this many optimizer steps in this call (the run stays resumable);
    /// `None`: run to the end.
    pub max_steps: Option<usize>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            epochs: 1,
            batch_size: 32,
            learning_rate: 2e-5,
            warmup: 0.1,
            weight_decay: 0.01,
            temperature: 0.05,
            seed: 42,
            token_budget: 2048,
            max_tokens: None,
            checkpoint_every: 0,
            max_steps: None,
        }
    }
}

/// Where a run is, after each optimizer step.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TuneProgress {
    /// The epoch in progress, from 1.
    pub epoch: usize,
    /// Epochs in the run.
    pub epochs: usize,
    /// Steps done.
    pub step: usize,
    /// Steps in the run.
    pub steps: usize,
    /// This step's loss.
    pub loss: f32,
    /// Mean loss of the epoch so far.
    pub epoch_loss: f32,
    /// Pairs trained on per second in this call.
    pub pairs_per_second: f64,
}

/// What a finished [`tune`] call did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TuneReport {
    /// The tuned model's directory.
    pub out: PathBuf,
    /// Pairs trained on.
    pub pairs: usize,
    /// Optimizer steps in the whole run.
    pub steps: usize,
    /// Epochs in the whole run.
    pub epochs: usize,
    /// The step this call started from (0 unless it resumed a checkpoint).
    pub resumed_at: usize,
    /// Mean loss of each finished epoch.
    pub epoch_losses: Vec<f32>,
    /// Seconds this call trained for.
    pub seconds: f64,
    /// Pairs trained on per second in this call.
    pub pairs_per_second: f64,
    /// Whether the run is complete (false after [`TuneOptions::max_steps`]).
    pub complete: bool,
}

/// The file a finished run leaves in the model directory, naming its base and run.
const RUN_FILE: &str = "trawl_tune.json";
/// The checkpoints' folder inside the output directory.
const CHECKPOINTS: &str = "checkpoints";
/// The pointer to the last complete checkpoint, replaced atomically.
const LATEST: &str = "latest.json";

/// The record of a run, written with every checkpoint and with the finished model.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    /// Hash of the base model, the pairs and the options: a checkpoint resumes only
    /// the run it came from.
    fingerprint: String,
    base: PathBuf,
    pairs: usize,
    step: usize,
    steps: usize,
    epoch_losses: Vec<f32>,
    /// Sum and count of the losses of the epoch in progress.
    partial_loss: f64,
    partial_steps: usize,
    /// The checkpoint folder (under `checkpoints/`) holding this state's weights.
    dir: String,
}

/// Fine-tunes the model in `base` on `pairs` and writes the result to `out` (a new or
/// empty directory, or one this function wrote before: an unfinished run there
/// resumes from its last checkpoint, a finished one with the same pairs and options
/// returns at once). `progress` is called after each optimizer step; when it returns
/// [`ControlFlow::Break`], the run checkpoints and stops (the report says it is not
/// complete, and the same call later resumes it).
///
/// # Errors
/// [`Error::Invalid`] for empty pairs or options out of range; model loading errors
/// for `base`; [`Error::Tuning`] when the model is not a BERT-family encoder trawl can
/// train, when `out` holds something else, or on I/O errors while writing.
pub fn tune(
    base: &Path,
    out: &Path,
    pairs: &[Pair],
    options: &TuneOptions,
    progress: &mut dyn FnMut(&TuneProgress) -> ControlFlow<()>,
) -> Result<TuneReport> {
    validate(pairs, options)?;
    let fail = |reason: String| Error::Tuning {
        dir: out.to_owned(),
        reason,
    };
    let io = |what: &str, e: std::io::Error| fail(format!("{what}: {e}"));
    let dir = Dir(base);
    let config: Config = dir.json("config.json")?;
    if !model::trainable(&config) {
        return Err(fail(format!(
            "{} is not a BERT-family encoder with GELU and absolute positions",
            base.display()
        )));
    }
    let weights = dir.file("model.safetensors")?;
    let embedder = BertEmbedder::load_backend(base, Precision::F32, None)?;
    let max_tokens = options
        .max_tokens
        .map_or(embedder_max_tokens(&embedder), |m| {
            m.clamp(2, embedder_max_tokens(&embedder))
        });
    let fingerprint = fingerprint(&weights, &config, pairs, options, max_tokens)?;

    if same_path(base, out) {
        return Err(fail("the output directory is the base model's".into()));
    }
    if let Some(done) = finished_run(out, &fingerprint) {
        return Ok(done);
    }
    check_output(out).map_err(&fail)?;
    std::fs::create_dir_all(out.join(CHECKPOINTS)).map_err(|e| io("create", e))?;

    let resumed = match read_latest(out) {
        Some(s) if s.fingerprint == fingerprint => Some(s),
        Some(_) => {
            return Err(fail(
                "its checkpoints come from another run (other base model, pairs or \
                 options): remove the directory or choose another"
                    .into(),
            ))
        }
        None => None,
    };
    let model_file = resumed.as_ref().map_or_else(
        || weights.clone(),
        |s| out.join(CHECKPOINTS).join(&s.dir).join("model.safetensors"),
    );
    let model = TrainableBert::load(&model_file, &config, DType::F32)
        .map_err(|e| fail(format!("loading {}: {e}", model_file.display())))?;

    let per_epoch = pairs.len().div_ceil(options.batch_size);
    let steps = per_epoch * options.epochs;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let warmup_steps = (steps as f64 * options.warmup).ceil() as usize;
    let mut optimizer = AdamW::new(
        model.vars(),
        AdamWConfig {
            lr: options.learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: options.weight_decay,
            warmup_steps,
            total_steps: steps,
            max_grad_norm: 1.0,
        },
    )?;
    let mut state = match resumed {
        Some(state) => {
            let file = out
                .join(CHECKPOINTS)
                .join(&state.dir)
                .join("optimizer.safetensors");
            optimizer
                .load(&file)
                .map_err(|e| fail(format!("loading {}: {e}", file.display())))?;
            state
        }
        None => RunState {
            fingerprint,
            base: base.to_owned(),
            pairs: pairs.len(),
            step: 0,
            steps,
            epoch_losses: Vec::new(),
            partial_loss: 0.0,
            partial_steps: 0,
            dir: String::new(),
        },
    };
    let resumed_at = state.step;

    let queries: Vec<&str> = pairs.iter().map(|p| p.query.as_str()).collect();
    let passages: Vec<&str> = pairs
        .iter()
        .flat_map(|p| std::iter::once(p.positive.as_str()).chain(p.negative.as_deref()))
        .collect();
    let truncate = |mut ids: Vec<Vec<u32>>| {
        for t in &mut ids {
            if t.len() > max_tokens {
                // Keep the closing special token, as the tokenizer's truncation does.
                let last = t[t.len() - 1];
                t.truncate(max_tokens - 1);
                t.push(last);
            }
        }
        ids
    };
    let query_ids = truncate(embedder.token_ids(&queries, true)?);
    let mut passage_ids = truncate(embedder.token_ids(&passages, false)?).into_iter();
    let texts: Vec<Tokenized> = pairs
        .iter()
        .zip(query_ids)
        .map(|(p, q)| Tokenized {
            query: q,
            positive: passage_ids.next().unwrap_or_default(),
            negative: p.negative.as_ref().and_then(|_| passage_ids.next()),
        })
        .collect();
    let trainer = Trainer {
        model: &model,
        pooling: embedder.pooling(),
        pad_id: embedder.pad_id(),
        scale: 1.0 / options.temperature,
        token_budget: options.token_budget.max(max_tokens),
    };

    let started = Instant::now();
    let mut trained = 0usize;
    let mut order = Vec::new();
    let mut order_epoch = usize::MAX;
    let stop_at = options
        .max_steps
        .map_or(steps, |m| (state.step + m).min(steps));
    while state.step < stop_at {
        let epoch = state.step / per_epoch;
        if order_epoch != epoch {
            order = shuffled(pairs.len(), options.seed, epoch);
            order_epoch = epoch;
        }
        let within = state.step % per_epoch;
        let batch = &order
            [within * options.batch_size..((within + 1) * options.batch_size).min(pairs.len())];
        let (loss, grads) = trainer
            .step(pairs, &texts, batch)
            .map_err(|e| fail(format!("step {}: {e}", state.step + 1)))?;
        optimizer.step(&grads)?;
        state.step += 1;
        trained += batch.len();
        state.partial_loss += f64::from(loss);
        state.partial_steps += 1;
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let epoch_loss = (state.partial_loss / state.partial_steps as f64) as f32;
        let epoch_done = state.step.is_multiple_of(per_epoch);
        if epoch_done {
            state.epoch_losses.push(epoch_loss);
            state.partial_loss = 0.0;
            state.partial_steps = 0;
        }
        #[allow(clippy::cast_precision_loss)]
        let flow = progress(&TuneProgress {
            epoch: epoch + 1,
            epochs: options.epochs,
            step: state.step,
            steps,
            loss,
            epoch_loss,
            pairs_per_second: trained as f64 / started.elapsed().as_secs_f64().max(1e-9),
        });
        let stop = flow.is_break();
        let periodic =
            options.checkpoint_every > 0 && state.step.is_multiple_of(options.checkpoint_every);
        if (epoch_done || periodic || stop || state.step == stop_at) && state.step < steps {
            save_checkpoint(out, &model, &optimizer, &mut state)
                .map_err(|e| io("checkpoint", e))?;
        }
        if stop {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let mut report = TuneReport {
        out: out.to_owned(),
        pairs: pairs.len(),
        steps,
        epochs: options.epochs,
        resumed_at,
        epoch_losses: state.epoch_losses.clone(),
        seconds,
        pairs_per_second: trained as f64 / seconds.max(1e-9),
        complete: state.step >= steps,
    };
    if report.complete {
        write_model(base, out, &model, &state).map_err(|e| io("writing the model", e))?;
        report.complete = true;
    }
    Ok(report)
}

fn embedder_max_tokens(embedder: &BertEmbedder) -> usize {
    crate::Embedder::max_tokens(embedder)
}

fn validate(pairs: &[Pair], options: &TuneOptions) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::Invalid {
            what: "tuning options",
            reason: reason.to_owned(),
        })
    };
    if pairs.is_empty() {
        return invalid("no training pairs");
    }
    if options.epochs == 0 || options.epochs > 1000 {
        return invalid("epochs must be 1 to 1000");
    }
    if options.batch_size < 2 || options.batch_size > 65_536 {
        return invalid("batch size must be 2 to 65536 (in-batch negatives need two pairs)");
    }
    if !(options.learning_rate > 0.0 && options.learning_rate < 1.0) {
        return invalid("learning rate must be in (0, 1)");
    }
    if !(0.0..1.0).contains(&options.warmup) {
        return invalid("warm-up share must be in [0, 1)");
    }
    if !(0.0..1.0).contains(&options.weight_decay) {
        return invalid("weight decay must be in [0, 1)");
    }
    if !(options.temperature >= 0.001 && options.temperature <= 10.0) {
        return invalid("temperature must be in [0.001, 10]");
    }
    if options.token_budget == 0 {
        return invalid("token budget must be positive");
    }
    if options.max_steps == Some(0) {
        return invalid("max steps must be positive");
    }
    Ok(())
}

/// A pair's token ids.
struct Tokenized {
    query: Vec<u32>,
    positive: Vec<u32>,
    negative: Option<Vec<u32>>,
}

/// The token ids of a batch's texts (its queries, then its positives, then the
/// negatives there are) and the loss over their embeddings.
fn batch_rows<'t>(
    pairs: &[Pair],
    texts: &'t [Tokenized],
    batch: &[usize],
    scale: f64,
) -> candle_core::Result<(Vec<&'t [u32]>, ContrastiveLoss)> {
    let mut rows: Vec<&[u32]> = batch.iter().map(|&i| texts[i].query.as_slice()).collect();
    let mut passages: Vec<&str> = Vec::new();
    for &i in batch {
        rows.push(&texts[i].positive);
        passages.push(&pairs[i].positive);
    }
    for &i in batch {
        if let (Some(ids), Some(text)) = (&texts[i].negative, &pairs[i].negative) {
            rows.push(ids);
            passages.push(text);
        }
    }
    let queries: Vec<&str> = batch.iter().map(|&i| pairs[i].query.as_str()).collect();
    Ok((rows, ContrastiveLoss::new(&queries, &passages, scale)?))
}

/// What one optimizer step needs besides the batch.
struct Trainer<'a> {
    model: &'a TrainableBert,
    pooling: Pooling,
    pad_id: u32,
    scale: f64,
    token_budget: usize,
}

impl Trainer<'_> {
    /// The loss of `batch` (indices into `pairs`) and each var's gradient.
    fn step(
        &self,
        pairs: &[Pair],
        texts: &[Tokenized],
        batch: &[usize],
    ) -> candle_core::Result<(f32, Vec<Option<Tensor>>)> {
        let (rows, loss_fn) = batch_rows(pairs, texts, batch, self.scale)?;
        let groups = pack(&rows, self.token_budget);
        let vars = self.model.vars();
        if groups.len() == 1 {
            let reps = self.encode(&rows, &groups[0])?;
            let reps = reorder(&reps, &groups[0])?;
            let loss = loss_fn.forward(&reps)?;
            let grads = loss.backward()?;
            let out = vars.iter().map(|(_, v)| grads.get(v).cloned()).collect();
            return Ok((scalar(&loss)?, out));
        }
        // Gradient caching: embeddings without the graph, the loss's gradient with
        // respect to them, then each piece again with its graph.
        let mut pieces = Vec::with_capacity(groups.len());
        for g in &groups {
            pieces.push(self.encode(&rows, g)?.detach());
        }
        let order: Vec<usize> = groups.iter().flatten().copied().collect();
        let reps = reorder(&Tensor::cat(&pieces, 0)?, &order)?;
        let reps = Var::from_tensor(&reps)?;
        let loss = loss_fn.forward(reps.as_tensor())?;
        let cached = loss.backward()?;
        let d_reps = cached
            .get(reps.as_tensor())
            .ok_or_else(|| candle_core::Error::Msg("no gradient for the embeddings".into()))?
            .clone();
        let mut sums: Vec<Option<Tensor>> = vec![None; vars.len()];
        for g in &groups {
            let idx = Tensor::from_vec(
                g.iter()
                    .map(|&i| u32::try_from(i).unwrap_or(u32::MAX))
                    .collect(),
                g.len(),
                &Device::Cpu,
            )?;
            let upstream = d_reps.index_select(&idx, 0)?;
            let surrogate = (self.encode(&rows, g)? * upstream)?.sum_all()?;
            let grads = surrogate.backward()?;
            for ((_, v), sum) in vars.iter().zip(&mut sums) {
                if let Some(grad) = grads.get(v) {
                    *sum = Some(match sum.take() {
                        Some(s) => (s + grad)?,
                        None => grad.clone(),
                    });
                }
            }
        }
        Ok((scalar(&loss)?, sums))
    }

    /// Embeddings of `rows[i]` for `i` in `group`, in that order.
    fn encode(&self, rows: &[&[u32]], group: &[usize]) -> candle_core::Result<Tensor> {
        let seq = group
            .iter()
            .map(|&i| rows[i].len())
            .max()
            .unwrap_or(1)
            .max(1);
        let mut ids = Vec::with_capacity(group.len() * seq);
        let mut mask = Vec::with_capacity(group.len() * seq);
        for &i in group {
            let r = rows[i];
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(self.pad_id, seq - r.len()));
            mask.extend(std::iter::repeat_n(1f32, r.len()));
            mask.extend(std::iter::repeat_n(0f32, seq - r.len()));
        }
        let ids = Tensor::from_vec(ids, (group.len(), seq), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (group.len(), seq), &Device::Cpu)?;
        self.model.embed(&ids, &mask, self.pooling)
    }
}

#[allow(clippy::cast_possible_truncation)]
fn scalar(t: &Tensor) -> candle_core::Result<f32> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()? as f32)
}

/// Rows of `reps` (in the order of `order`) put back in row order: row `order[k]` of
/// the result is row `k` of `reps`.
fn reorder(reps: &Tensor, order: &[usize]) -> candle_core::Result<Tensor> {
    let mut inverse = vec![0u32; order.len()];
    for (k, &i) in order.iter().enumerate() {
        inverse[i] = u32::try_from(k).unwrap_or(u32::MAX);
    }
    let inverse = Tensor::from_vec(inverse, order.len(), &Device::Cpu)?;
    reps.index_select(&inverse, 0)
}

/// Groups of row indices whose padded size (rows times the longest row) stays within
/// `budget` tokens: rows sorted longest first, so that each group's padding is small.
fn pack(rows: &[&[u32]], budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rows[i].len()));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for i in order {
        let len = rows[i].len().max(1);
        if current.is_empty() {
            longest = len;
        }
        if !current.is_empty() && (current.len() + 1) * longest > budget {
            groups.push(std::mem::take(&mut current));
            longest = len;
        }
        current.push(i);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// The symmetric in-batch-negatives loss over embeddings laid out as `b` queries, `b`
/// positives, then the negatives.
struct ContrastiveLoss {
    b: usize,
    passages: usize,
    scale: f64,
    /// (b, passages): 0, or a large negative number where a passage other than the
    /// row's own positive has the same text.
    forward_mask: Tensor,
    /// (b, b): the same for queries.
    backward_mask: Tensor,
    /// (b, passages): 1 on the diagonal.
    eye: Tensor,
}

impl ContrastiveLoss {
    fn new(queries: &[&str], passages: &[&str], scale: f64) -> candle_core::Result<Self> {
        let b = queries.len();
        let n = passages.len();
        let mask = |texts: &[&str], cols: usize| {
            let mut m = vec![0f32; b * cols];
            for i in 0..b {
                for j in 0..cols {
                    if j != i && texts[j] == texts[i] {
                        m[i * cols + j] = -1e4;
                    }
                }
            }
            Tensor::from_vec(m, (b, cols), &Device::Cpu)
        };
        let mut eye = vec![0f32; b * n];
        for i in 0..b {
            eye[i * n + i] = 1.0;
        }
        Ok(ContrastiveLoss {
            b,
            passages: n,
            scale,
            forward_mask: mask(passages, n)?,
            backward_mask: mask(queries, b)?,
            eye: Tensor::from_vec(eye, (b, n), &Device::Cpu)?,
        })
    }

    fn forward(&self, reps: &Tensor) -> candle_core::Result<Tensor> {
        let dtype = reps.dtype();
        let (forward_mask, backward_mask, eye) = (
            self.forward_mask.to_dtype(dtype)?,
            self.backward_mask.to_dtype(dtype)?,
            self.eye.to_dtype(dtype)?,
        );
        let q = reps.narrow(0, 0, self.b)?;
        let p = reps.narrow(0, self.b, self.passages)?;
        let forward = ((q.matmul(&p.t()?)? * self.scale)? + forward_mask)?;
        let positives = p.narrow(0, 0, self.b)?;
        let backward = ((positives.matmul(&q.t()?)? * self.scale)? + backward_mask)?;
        let eye_b = eye.narrow(1, 0, self.b)?;
        let a = cross_entropy_diagonal(&forward, &eye)?;
        let c = cross_entropy_diagonal(&backward, &eye_b)?;
        (a + c)? / 2.0
    }
}

/// Mean cross-entropy of each row of `logits` against the column marked in `eye`.
fn cross_entropy_diagonal(logits: &Tensor, eye: &Tensor) -> candle_core::Result<Tensor> {
    let max = logits.max_keepdim(1)?.detach();
    let lse = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + &max)?;
    let picked = (logits * eye)?.sum_keepdim(1)?;
    (lse - picked)?.mean_all()
}

/// The pair order of `epoch`: a Fisher–Yates shuffle driven by the seed and the epoch.
fn shuffled(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = label_free::SplitMix(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        #[allow(clippy::cast_possible_truncation)]
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// FNV-1a over everything a run depends on.
fn fingerprint(
    weights: &Path,
    config: &Config,
    pairs: &[Pair],
    options: &TuneOptions,
    max_tokens: usize,
) -> Result<String> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    let meta = std::fs::metadata(weights).map_err(|e| Error::Tuning {
        dir: weights.to_owned(),
        reason: e.to_string(),
    })?;
    feed(&meta.len().to_le_bytes());
    feed(format!("{config:?}").as_bytes());
    for p in pairs {
        feed(p.query.as_bytes());
        feed(p.positive.as_bytes());
        feed(p.negative.as_deref().unwrap_or("\u{0}").as_bytes());
    }
    let o = options;
    feed(
        format!(
            "{} {} {} {} {} {} {} {} {max_tokens}",
            o.epochs,
            o.batch_size,
            o.learning_rate,
            o.warmup,
            o.weight_decay,
            o.temperature,
            o.seed,
            o.token_budget
        )
        .as_bytes(),
    );
    Ok(format!("{h:016x}"))
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The report of a finished run with this fingerprint in `out`, if there is one.
fn finished_run(out: &Path, fingerprint: &str) -> Option<TuneReport> {
    let bytes = std::fs::read(out.join(RUN_FILE)).ok()?;
    let run: FinishedRun = serde_json::from_slice(&bytes).ok()?;
    (run.fingerprint == fingerprint).then(|| TuneReport {
        out: out.to_owned(),
        pairs: run.pairs,
        steps: run.steps,
        epochs: run.epoch_losses.len(),
        resumed_at: run.steps,
        epoch_losses: run.epoch_losses,
        seconds: 0.0,
        pairs_per_second: 0.0,
        complete: true,
    })
}

/// `out` must be new, empty, or a directory [`tune`] wrote.
fn check_output(out: &Path) -> std::result::Result<(), String> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return if out.exists() {
            Err("exists and is not a directory".into())
        } else {
            Ok(())
        };
    };
    let mut any = false;
    for entry in entries.flatten() {
        any = true;
        if entry.file_name() == RUN_FILE {
            return Err(
                "holds a model tuned from other pairs or options: choose a new \
                        directory"
                    .into(),
            );
        }
        if entry.file_name() == CHECKPOINTS {
            return Ok(());
        }
    }
    if any {
        Err("is not empty and holds no earlier tuning run: choose a new directory".into())
    } else {
        Ok(())
    }
}

fn read_latest(out: &Path) -> Option<RunState> {
    let bytes = std::fs::read(out.join(CHECKPOINTS).join(LATEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the weights and optimizer state to a new folder, then points `latest.json`
/// at it (written to a temporary file and renamed), then removes older folders: a
/// crash at any moment leaves the last complete checkpoint in place.
fn save_checkpoint(
    out: &Path,
    model: &TrainableBert,
    optimizer: &AdamW,
    state: &mut RunState,
) -> std::io::Result<()> {
    let root = out.join(CHECKPOINTS);
    let name = format!("step-{:08}", state.step);
    let dir = root.join(&name);
    std::fs::create_dir_all(&dir)?;
    let candle_io = |e: candle_core::Error| std::io::Error::other(e.to_string());
    model
        .save(&dir.join("model.safetensors"))
        .map_err(candle_io)?;
    optimizer
        .save(&dir.join("optimizer.safetensors"))
        .map_err(candle_io)?;
    for f in ["model.safetensors", "optimizer.safetensors"] {
        std::fs::File::open(dir.join(f))?.sync_all()?;
    }
    state.dir = name;
    write_atomically(&root.join(LATEST), &serde_json::to_vec_pretty(state)?)?;
    for entry in std::fs::read_dir(&root)?.flatten() {
        let n = entry.file_name();
        if entry.path().is_dir() && n != *state.dir {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// What a finished run leaves beside the model.
#[derive(Serialize, Deserialize)]
struct FinishedRun {
    fingerprint: String,
    base: PathBuf,
    pairs: usize,
    steps: usize,
    epoch_losses: Vec<f32>,
}

/// Files of a base model directory that are not copied: weights in other formats,
/// which would no longer match the tuned ones, and the base model's card, which
/// describes another model.
fn is_left_out(name: &str) -> bool {
    if name.eq_ignore_ascii_case("README.md") {
        return true;
    }
    let weights = [
        ".safetensors",
        ".bin",
        ".onnx",
        ".h5",
        ".msgpack",
        ".ot",
        ".pt",
        ".ckpt",
    ];
    weights.iter().any(|w| name.ends_with(w))
}

/// Writes the tuned model: the base directory's files (configuration, tokenizer,
/// pooling and normalisation modules) and the tuned weights, then the run record; the
/// checkpoints go last.
fn write_model(
    base: &Path,
    out: &Path,
    model: &TrainableBert,
    state: &RunState,
) -> std::io::Result<()> {
    copy_model_files(base, out)?;
    let tmp = out.join("model.safetensors.tmp");
    model
        .save(&tmp)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, out.join("model.safetensors"))?;
    let run = FinishedRun {
        fingerprint: state.fingerprint.clone(),
        base: state.base.clone(),
        pairs: state.pairs,
        steps: state.steps,
        epoch_losses: state.epoch_losses.clone(),
    };
    write_atomically(&out.join(RUN_FILE), &serde_json::to_vec_pretty(&run)?)?;
    std::fs::remove_dir_all(out.join(CHECKPOINTS))
}

fn copy_model_files(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let kind = entry.file_type()?;
        if name_str.starts_with('.') || name == CHECKPOINTS || name == RUN_FILE {
            continue;
        }
        if kind.is_dir() {
            // Pooling and normalisation modules (1_Pooling, 2_Normalize); not nested
            // weight folders such as onnx/.
            if name_str.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                std::fs::create_dir_all(to.join(&name))?;
                copy_model_files(&entry.path(), &to.join(&name))?;
            }
        } else if kind.is_file() && !is_left_out(&name_str) {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
