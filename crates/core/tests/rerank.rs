//! Reranking: a cross-encoder loaded from a directory the test writes itself (no
//! cross-encoder weights are reachable here), a tiny XLM-RoBERTa one against
//! transformers' scores, the sentence-window reranker with the real model, and
//! rerankers wired into search.

mod common;

use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use trawl::{
    AddOptions, Collection, CrossEncoder, Error, Metadata, Mmr, SearchMode, SearchOptions,
};

const CONFIG: &str = r#"{
  "architectures": ["BertForSequenceClassification"],
  "vocab_size": 30522, "hidden_size": 16, "num_hidden_layers": 2,
  "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1, "max_position_embeddings": 128, "type_vocab_size": 2,
  "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
  "model_type": "bert"
}"#;

/// A small random `BertForSequenceClassification`, built here with candle (no
/// cross-encoder weights are reachable), scoring one pair directly: BERT, the `[CLS]`
/// vector, the tanh pooler, then the one-logit classifier.
struct RandomCrossEncoder {
    bert: BertModel,
    pooler: candle_nn::Linear,
    classifier: candle_nn::Linear,
    tokenizer: tokenizers::Tokenizer,
}

impl RandomCrossEncoder {
    /// Builds the model and writes it to `dir` as a cross-encoder directory.
    fn write(dir: &std::path::Path) -> RandomCrossEncoder {
        let config: Config = serde_json::from_str(CONFIG).unwrap();
        let tokenizer_path = common::model_dir().join("tokenizer.json");
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path).unwrap();
        // The file pads to 128 tokens; one pair is scored unpadded here.
        tokenizer.with_padding(None);
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let bert = BertModel::load(vb.clone(), &config).unwrap();
        let h = config.hidden_size;
        let pooler = candle_nn::linear(h, h, vb.pp("pooler.dense")).unwrap();
        let classifier = candle_nn::linear(h, 1, vb.pp("classifier")).unwrap();
        varmap.save(dir.join("model.safetensors")).unwrap();
        std::fs::write(dir.join("config.json"), CONFIG).unwrap();
        std::fs::copy(tokenizer_path, dir.join("tokenizer.json")).unwrap();
        RandomCrossEncoder {
            bert,
            pooler,
            classifier,
            tokenizer,
        }
    }

    /// The relevance logit of one (query, passage) pair, unbatched and unpadded.
    fn score(&self, query: &str, passage: &str) -> f32 {
        let enc = self.tokenizer.encode((query, passage), true).unwrap();
        let row = |v: &[u32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let (ids, types) = (row(enc.get_ids()), row(enc.get_type_ids()));
        let hidden = self.bert.forward(&ids, &types, None).unwrap();
        let cls = hidden.narrow(1, 0, 1).unwrap().squeeze(1).unwrap();
        let pooled = self.pooler.forward(&cls).unwrap().tanh().unwrap();
        let logit = self.classifier.forward(&pooled).unwrap();
        logit.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0]
    }
}

#[test]
fn a_cross_encoder_loaded_from_disk_scores_like_the_model_that_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let reference = RandomCrossEncoder::write(dir.path());
    let loaded = CrossEncoder::load(dir.path()).unwrap();
    let passages = [
        "Kites fly in wind.",
        "Bread needs salt and time.",
        "A much longer passage about the history of kites in China and Europe.",
    ];
    let want: Vec<f32> = passages
        .iter()
        .map(|p| reference.score("how do kites fly", p))
        .collect();
    let got = loaded.score("how do kites fly", &passages).unwrap();
    assert_eq!(got.len(), 3);
    for (x, y) in want.iter().zip(&got) {
        assert!((x - y).abs() < 1e-4, "{want:?} vs {got:?}");
    }
    // Scores depend on the passage (the model reads the pair, padding masked out).
    assert!(got.iter().any(|s| (s - got[0]).abs() > 1e-6), "{got:?}");
    let alone = loaded.score("how do kites fly", &passages[2..]).unwrap();
    assert!(
        (alone[0] - got[2]).abs() < 1e-5,
        "batching must not change a score"
    );
}

#[test]
fn an_xlm_roberta_cross_encoder_scores_as_transformers_does() {
    // A tiny random XLMRobertaForSequenceClassification and the scores transformers
    // gives it (benches/embed/make_tiny_xlmr_reranker.py), as multilingual rerankers
    // are built: positions counted after the padding id, `<s>` read by dense, tanh
    // and the output projection.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny-xlm-roberta-reranker");
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
    let passages: Vec<&str> = reference["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let want: Vec<f64> = reference["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect();
    let model = CrossEncoder::load(&dir).unwrap();
    let query = reference["query"].as_str().unwrap();
    let got = model.score(query, &passages).unwrap();
    for (x, y) in want.iter().zip(&got) {
        assert!((x - f64::from(*y)).abs() < 1e-4, "{want:?} vs {got:?}");
    }
    // Pairs of different lengths in one batch: the padding is masked.
    let alone = model.score(query, &passages[3..4]).unwrap();
    assert!((f64::from(alone[0]) - want[3]).abs() < 1e-4);
}

#[test]
fn a_cross_encoder_directory_missing_files_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = CrossEncoder::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::ModelFileMissing { file, .. } if file == "config.json"),
        "{err}"
    );
    std::fs::write(dir.path().join("config.json"), CONFIG).unwrap();
    std::fs::copy(
        common::model_dir().join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"junk").unwrap();
    let err = CrossEncoder::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::ModelInvalid { file, .. } if file == "model.safetensors"),
        "{err}"
    );
}

#[test]
fn search_results_come_back_in_the_rerankers_order() {
    let model_dir = tempfile::tempdir().unwrap();
    RandomCrossEncoder::write(model_dir.path());
    let ce = Arc::new(CrossEncoder::load(model_dir.path()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path())
        .embedder(common::embedder())
        .reranker(ce.clone())
        .open()
        .unwrap();
    c.add_paths(&[common::corpus_dir()], &AddOptions::default())
        .unwrap();
    c.commit().unwrap();
    let query = "lighthouse lens";
    let hits = c.search(query, 5, SearchMode::Hybrid).unwrap();
    assert_eq!(hits.len(), 5);
    let texts: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
    let scores = ce.score(query, &texts).unwrap();
    for (h, s) in hits.iter().zip(&scores) {
        assert!((h.score - s).abs() < 1e-5, "hit score is the reranker's");
    }
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    // rerank: false gives the first-stage order back.
    let plain = c
        .search_with(
            query,
            &SearchOptions {
                k: 5,
                rerank: false,
                ..SearchOptions::default()
            },
        )
        .unwrap();
    assert!(plain.windows(2).all(|w| w[0].score >= w[1].score));
    let plain_texts: Vec<&str> = plain.iter().map(|h| h.text.as_str()).collect();
    let ce_scores = ce.score(query, &plain_texts).unwrap();
    assert!(
        plain
            .iter()
            .zip(&ce_scores)
            .any(|(h, s)| (h.score - s).abs() > 1e-3),
        "first-stage scores, not cross-encoder scores"
    );
}

#[test]
fn mmr_in_search_spreads_results_over_documents() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path())
        .embedder(common::embedder())
        .reranker(Arc::new(Mmr { lambda: 0.3 }))
        .open()
        .unwrap();
    // Three near-identical notes and one different but still relevant.
    for i in 0..3 {
        c.add_text(
            &format!("dup-{i}"),
            &format!("The office coffee machine is on floor {}.", 3),
            Metadata::new(),
        )
        .unwrap();
    }
    c.add_text(
        "other",
        "Coffee beans are stored in the kitchen cupboard.",
        Metadata::new(),
    )
    .unwrap();
    c.commit().unwrap();
    let diverse = c
        .search("where is the coffee machine", 2, SearchMode::Dense)
        .unwrap();
    let ids: Vec<&str> = diverse.iter().map(|h| h.doc_id.as_str()).collect();
    assert!(
        ids.contains(&"other"),
        "MMR should pick the different note second: {ids:?}"
    );
    let plain = c
        .search_with(
            "where is the coffee machine",
            &SearchOptions {
                k: 2,
                mode: SearchMode::Dense,
                rerank: false,
                ..SearchOptions::default()
            },
        )
        .unwrap();
    assert!(
        plain.iter().all(|h| h.doc_id.starts_with("dup-")),
        "{plain:?}"
    );
}

/// A note that is about the query's topic throughout, and one about something else
/// except for one sentence that answers the query.
fn kitchen_and_garden(builder: trawl::CollectionBuilder) -> Collection {
    let c = builder.embedder(common::embedder()).open().unwrap();
    c.add_text(
        "kitchen",
        "Kitchen notes. The kitchen has a kettle, a toaster and several cupboards. \
         Tea and coffee are kept near the stove. The left side of the kitchen gets the \
         morning light. Mugs hang on hooks above the counter.",
        Metadata::new(),
    )
    .unwrap();
    c.add_text(
        "garden",
        "Garden notes. Roses and tulips bloom along the gravel path in May. The hedge \
         is trimmed every spring before the guests arrive. The kettle is in the left \
         cupboard under the sink. Birds nest in the old oak by the pond.",
        Metadata::new(),
    )
    .unwrap();
    c.commit().unwrap();
    c
}

#[test]
fn sentence_windows_promote_the_chunk_with_the_answering_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let c = kitchen_and_garden(Collection::builder(dir.path()).reranker_spec("sentences:0.6:30:2"));
    let query = "where is the kettle kept?";
    let ids = |rerank: bool| -> Vec<String> {
        c.search_with(
            query,
            &SearchOptions {
                k: 2,
                mode: SearchMode::Dense,
                rerank,
                ..SearchOptions::default()
            },
        )
        .unwrap()
        .into_iter()
        .map(|h| h.doc_id)
        .collect()
    };
    assert_eq!(
        ids(false),
        ["kitchen", "garden"],
        "whole chunks: the kitchen note is closer"
    );
    assert_eq!(
        ids(true),
        ["garden", "kitchen"],
        "its one sentence answers the query"
    );
}

#[test]
fn a_sentence_window_spec_needs_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let err = Collection::builder(dir.path())
        .keyword_only()
        .reranker_spec("sentences")
        .open()
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert!(
        !Collection::exists(dir.path()),
        "nothing is created for a bad spec"
    );
    let err = Collection::builder(dir.path())
        .embedder(common::embedder())
        .reranker_spec("sentences:2")
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("WEIGHT"), "{err}");
}
