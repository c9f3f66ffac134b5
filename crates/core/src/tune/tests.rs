use std::path::PathBuf;

use super::*;
use crate::Embedder;

/// A 2-layer BERT with hidden size 32 and random weights (a test fixture).
fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-multilingual-bert")
}

fn tiny_config() -> Config {
    Dir(&tiny()).json("config.json").unwrap()
}

fn model_dir() -> PathBuf {
    std::env::var_os("TRAWL_MODEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"),
        PathBuf::from,
    )
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

const TEXTS: [&str; 4] = [
    "the cat sat on the mat",
    "Der Hund schläft im Garten.",
    "a",
    "tide pools hold anemones and crabs between the rocks; the water warms at low tide",
];

/// The trainable forward pass computes what inference computes.
fn forward_matches_inference(dir: &std::path::Path) {
    let config: Config = Dir(dir).json("config.json").unwrap();
    let reference = BertEmbedder::load_reference(dir).unwrap();
    let model = TrainableBert::load(&dir.join("model.safetensors"), &config, DType::F32).unwrap();
    let trainer = Trainer {
        model: &model,
        pooling: reference.pooling(),
        pad_id: reference.pad_id(),
        scale: 20.0,
        token_budget: 4096,
    };
    let ids = reference.token_ids(&TEXTS, false).unwrap();
    let rows: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let got = trainer
        .encode(&rows, &(0..rows.len()).collect::<Vec<_>>())
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let want = reference.embed(&TEXTS).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!(cosine(g, w) >= 0.99999, "cosine {}", cosine(g, w));
    }
}

#[test]
fn the_trainable_forward_pass_matches_inference_on_a_tiny_bert() {
    forward_matches_inference(&tiny());
}

#[test]
fn the_trainable_forward_pass_matches_inference_on_minilm() {
    forward_matches_inference(&model_dir());
}

#[test]
fn the_trainable_forward_pass_matches_inference_on_xlm_roberta() {
    forward_matches_inference(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-xlm-roberta"),
    );
}

fn pairs() -> Vec<Pair> {
    vec![
        Pair::new("cat on a mat", "the cat sat on the mat"),
        Pair {
            negative: Some("the dog slept in the garden".into()),
            ..Pair::new("where does the dog sleep", "Der Hund schläft im Garten.")
        },
        Pair::new("tide pools", "tide pools hold anemones and crabs"),
        // The same positive as the first pair: not a negative for it.
        Pair::new("a mat and a cat", "the cat sat on the mat"),
    ]
}

fn tokenized(embedder: &BertEmbedder, pairs: &[Pair]) -> Vec<Tokenized> {
    pairs
        .iter()
        .map(|p| Tokenized {
            query: embedder.token_ids(&[&p.query], true).unwrap().remove(0),
            positive: embedder.token_ids(&[&p.positive], false).unwrap().remove(0),
            negative: p
                .negative
                .as_ref()
                .map(|n| embedder.token_ids(&[n], false).unwrap().remove(0)),
        })
        .collect()
}

/// The tiny BERT in f64 with the test pairs, tokenized.
struct F64Tiny {
    embedder: BertEmbedder,
    model: TrainableBert,
    pairs: Vec<Pair>,
    texts: Vec<Tokenized>,
}

impl F64Tiny {
    fn load() -> F64Tiny {
        let dir = tiny();
        let embedder = BertEmbedder::load_reference(&dir).unwrap();
        let model = TrainableBert::load(&dir.join("model.safetensors"), &tiny_config(), DType::F64)
            .unwrap();
        let pairs = pairs();
        let texts = tokenized(&embedder, &pairs);
        F64Tiny {
            embedder,
            model,
            pairs,
            texts,
        }
    }

    fn trainer(&self, token_budget: usize) -> Trainer<'_> {
        Trainer {
            model: &self.model,
            pooling: self.embedder.pooling(),
            pad_id: self.embedder.pad_id(),
            scale: 20.0,
            token_budget,
        }
    }
}

/// Every weight's gradient, through the loss and all layers, agrees with central
/// finite differences of the loss (in f64, on a few elements of each weight).
#[test]
fn gradients_of_every_layer_match_finite_differences() {
    let f = F64Tiny::load();
    let (model, pairs, texts) = (&f.model, &f.pairs, &f.texts);
    let trainer = f.trainer(4096);
    let batch = [0, 1, 2, 3];
    let (_, grads) = trainer.step(pairs, texts, &batch).unwrap();
    let mut checked = 0;
    for ((name, var), grad) in model.vars().iter().zip(&grads) {
        let grad = grad
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let flat_grad = grad.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let original = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        // The largest-gradient element and two spread over the tensor (a word
        // embedding row no token uses has a zero gradient, which must also hold).
        let largest = (0..flat_grad.len())
            .max_by(|&a, &b| flat_grad[a].abs().total_cmp(&flat_grad[b].abs()))
            .unwrap();
        for k in [largest, flat_grad.len() / 3, flat_grad.len() - 1] {
            let eps = 1e-5;
            let mut bumped = original.clone();
            let mut at = |delta: f64| {
                bumped[k] = original[k] + delta;
                var.set(&Tensor::from_vec(bumped.clone(), var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                loss_f64(&trainer, pairs, texts, &batch)
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
            var.set(&Tensor::from_vec(original.clone(), var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            let analytic = flat_grad[k];
            let tolerance = 1e-6 + 1e-4 * analytic.abs().max(numeric.abs());
            assert!(
                (numeric - analytic).abs() <= tolerance,
                "{name}[{k}]: analytic {analytic:e}, finite differences {numeric:e}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3 * 30, "checked {checked} elements");
}

/// The batch loss in f64, as [`Trainer::step`] computes it.
fn loss_f64(trainer: &Trainer, pairs: &[Pair], texts: &[Tokenized], batch: &[usize]) -> f64 {
    let (rows, loss) = batch_rows(pairs, texts, batch, trainer.scale).unwrap();
    let all: Vec<usize> = (0..rows.len()).collect();
    let reps = trainer.encode(&rows, &all).unwrap();
    loss.forward(&reps).unwrap().to_scalar::<f64>().unwrap()
}

/// A batch split into pieces by a small token budget (gradient caching) gets the
/// gradients and loss of the whole batch at once.
#[test]
fn gradient_caching_gives_the_whole_batch_gradients() {
    let f = F64Tiny::load();
    let (model, pairs, texts) = (&f.model, &f.pairs, &f.texts);
    let whole = f.trainer(100_000);
    let pieces = f.trainer(24);
    let rows: Vec<&[u32]> = texts.iter().map(|t| t.positive.as_slice()).collect();
    assert!(
        pack(&rows, 24).len() > 1,
        "the small budget splits the batch"
    );
    let batch = [0, 1, 2, 3];
    let (loss_a, grads_a) = whole.step(pairs, texts, &batch).unwrap();
    let (loss_b, grads_b) = pieces.step(pairs, texts, &batch).unwrap();
    assert!((loss_a - loss_b).abs() < 1e-6, "{loss_a} vs {loss_b}");
    for ((name, _), (a, b)) in model.vars().iter().zip(grads_a.iter().zip(&grads_b)) {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        let diff = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let size = a
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!(diff <= 1e-9 + 1e-7 * size, "{name}: differs by {diff}");
    }
}

#[test]
fn packing_keeps_every_row_once_within_the_budget() {
    let lens = [5usize, 1, 9, 3, 3, 7, 2];
    let data: Vec<Vec<u32>> = lens.iter().map(|&n| vec![0; n]).collect();
    let rows: Vec<&[u32]> = data.iter().map(Vec::as_slice).collect();
    for budget in [1, 9, 10, 20, 1000] {
        let groups = pack(&rows, budget);
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for g in &groups {
            let longest = g.iter().map(|&i| lens[i]).max().unwrap();
            assert!(
                g.len() == 1 || g.len() * longest <= budget,
                "{budget}: {g:?}"
            );
        }
    }
    assert_eq!(pack(&rows, 1000).len(), 1);
}

#[test]
fn duplicate_texts_are_not_negatives_of_each_other() {
    let loss = ContrastiveLoss::new(&["q1", "q2", "q1"], &["p", "x", "p", "n"], 20.0).unwrap();
    let forward = loss.forward_mask.to_vec2::<f32>().unwrap();
    assert_eq!(forward[0], [0.0, 0.0, -1e4, 0.0]);
    assert_eq!(forward[2], [-1e4, 0.0, 0.0, 0.0]);
    assert_eq!(forward[1], [0.0; 4]);
    let backward = loss.backward_mask.to_vec2::<f32>().unwrap();
    assert_eq!(backward[0], [0.0, 0.0, -1e4]);
    assert_eq!(backward[1], [0.0; 3]);
}

#[test]
fn shuffles_are_permutations_fixed_by_seed_and_epoch() {
    let a = shuffled(100, 7, 0);
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_eq!(a, shuffled(100, 7, 0));
    assert_ne!(a, shuffled(100, 7, 1));
    assert_ne!(a, shuffled(100, 8, 0));
}

/// Saving writes every tensor of the checkpoint under its name, shape and dtype, and
/// loading the saved file gives the same values.
#[test]
fn save_and_load_round_trip_exactly() {
    let dir = tiny();
    let model =
        TrainableBert::load(&dir.join("model.safetensors"), &tiny_config(), DType::F32).unwrap();
    // Move the weights off their stored values first.
    for (_, var) in model.vars() {
        var.set(&(var.as_tensor() * 1.5).unwrap()).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("model.safetensors");
    model.save(&file).unwrap();
    let original =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let saved = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    assert_eq!(
        original.keys().collect::<std::collections::BTreeSet<_>>(),
        saved.keys().collect()
    );
    for (name, t) in &original {
        assert_eq!(t.dtype(), saved[name].dtype(), "{name}");
        assert_eq!(t.shape(), saved[name].shape(), "{name}");
    }
    let reloaded = TrainableBert::load(&file, &tiny_config(), DType::F32).unwrap();
    for ((name, a), (_, b)) in model.vars().iter().zip(reloaded.vars()) {
        let (a, b) = (
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(a, b, "{name}");
    }
}
