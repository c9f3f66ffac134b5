//! Multilingual model families load and reproduce transformers' vectors: an
//! XLM-RoBERTa encoder (positions numbered from after the padding id) and a BERT
//! encoder, each with a SentencePiece Unigram tokenizer and query/passage prompts.
//!
//! The models are tiny, random and committed (tests/fixtures/tiny-*), with reference
//! vectors written by `benches/embed/make_tiny_multilingual.py` from transformers.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use trawl::{BertEmbedder, CpuPath, Embedder, Precision};

#[derive(Deserialize)]
struct Reference {
    max_tokens: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    kind: String,
    text: String,
    ids: Vec<u32>,
    unknown: usize,
    embedding: Vec<f32>,
}

const FAMILIES: [&str; 2] = ["tiny-xlm-roberta", "tiny-multilingual-bert"];

fn dir(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(family)
}

fn reference(family: &str) -> Reference {
    let path = dir(family).join("reference.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Embeds every case as the model would (passages together, queries one by one) and
/// returns the lowest cosine to the reference.
fn worst_cosine(model: &BertEmbedder, reference: &Reference) -> (f32, String) {
    let passages: Vec<&Case> = reference
        .cases
        .iter()
        .filter(|c| c.kind == "passage")
        .collect();
    let texts: Vec<&str> = passages.iter().map(|c| c.text.as_str()).collect();
    let mut got: Vec<(&Case, Vec<f32>)> = passages
        .iter()
        .copied()
        .zip(model.embed(&texts).unwrap())
        .collect();
    for case in reference.cases.iter().filter(|c| c.kind == "query") {
        got.push((case, model.embed_query(&case.text).unwrap()));
    }
    assert_eq!(got.len(), reference.cases.len());
    got.iter()
        .map(|(case, v)| (cosine(v, &case.embedding), case.text.clone()))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
}

#[test]
fn the_tokenizer_gives_transformers_ids_with_the_prompts() {
    for family in FAMILIES {
        let reference = reference(family);
        let tokenizer =
            tokenizers::Tokenizer::from_file(dir(family).join("tokenizer.json")).unwrap();
        for case in &reference.cases {
            let prompt = if case.kind == "query" {
                "query: "
            } else {
                "passage: "
            };
            let ids = tokenizer
                .encode(format!("{prompt}{}", case.text), true)
                .unwrap()
                .get_ids()
                .to_vec();
            // The reference truncates to the model's positions; the tokenizer file
            // itself does not.
            if ids.len() <= reference.max_tokens {
                assert_eq!(ids, case.ids, "{family}: {}", case.text);
            } else {
                assert_eq!(
                    ids[..reference.max_tokens - 1],
                    case.ids[..reference.max_tokens - 1]
                );
            }
        }
    }
}

#[test]
fn settings_come_from_the_model_directory() {
    for family in FAMILIES {
        let reference = reference(family);
        let model = BertEmbedder::load(dir(family)).unwrap();
        assert_eq!(model.dim(), 32);
        assert!(model.normalizes());
        // sentence_bert_config.json asks for 128; the positions allow fewer, and
        // XLM-RoBERTa's start two rows in.
        assert_eq!(model.max_tokens(), reference.max_tokens, "{family}");
        let emoji = reference
            .cases
            .iter()
            .find(|c| c.text.starts_with("Emoji"))
            .unwrap();
        let stats = model.token_stats(&emoji.text).unwrap();
        assert!(emoji.unknown > 0);
        assert_eq!(stats.unknown, emoji.unknown, "{family}: <unk> is counted");
    }
}

/// On every kernel path this CPU runs (and on candle-transformers' models), in f32:
/// cosine >= 0.9999 to transformers on every case. The long case is cut to the
/// model's positions; queries and passages get their own prompts.
#[test]
fn every_cpu_path_reproduces_transformers_in_f32() {
    for family in FAMILIES {
        let reference = reference(family);
        let candle = BertEmbedder::load_reference(dir(family)).unwrap();
        assert_eq!(candle.cpu_path(), None);
        let (worst, text) = worst_cosine(&candle, &reference);
        assert!(
            worst >= 0.9999,
            "{family} on candle: cosine {worst} for {text:?}"
        );
        let mut ran = Vec::new();
        for path in CpuPath::ALL.into_iter().filter(|p| p.runnable()) {
            let model = BertEmbedder::load_on(dir(family), Precision::F32, path).unwrap();
            assert_eq!(model.cpu_path(), Some(path));
            let (worst, text) = worst_cosine(&model, &reference);
            assert!(
                worst >= 0.9999,
                "{family} on {path}: cosine {worst} for {text:?}"
            );
            ran.push(path.to_string());
        }
        eprintln!(
            "{family}: candle and {} reproduce transformers",
            ran.join(", ")
        );
    }
}

/// The reduced precisions keep the bounds they keep on the English model: bf16
/// cosine >= 0.999, int8 >= 0.99.
#[test]
fn reduced_precisions_stay_within_their_bounds() {
    for family in FAMILIES {
        let reference = reference(family);
        for (precision, bound) in [(Precision::Bf16, 0.999), (Precision::Int8, 0.99)] {
            let model = BertEmbedder::load_with_precision(dir(family), precision).unwrap();
            if model.precision() != precision {
                eprintln!("{family}: {precision} skipped, this CPU lacks it");
                continue;
            }
            let (worst, text) = worst_cosine(&model, &reference);
            assert!(
                worst >= bound,
                "{family} at {precision}: cosine {worst} for {text:?}"
            );
        }
    }
}
