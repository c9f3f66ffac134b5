//! The Candle BERT embedder reproduces sentence-transformers exactly.

mod common;

use std::path::Path;

use serde::Deserialize;
use trawl::{BertEmbedder, Embedder, Error, Pooling, Precision};

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/all-MiniLM-L6-v2.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn reproduces_every_reference_vector_in_one_padded_batch() {
    let reference = reference();
    let model = common::embedder();
    let texts: Vec<&str> = reference.cases.iter().map(|c| c.text.as_str()).collect();
    let got = model.embed(&texts).unwrap();
    let mut worst = f32::INFINITY;
    for (case, v) in reference.cases.iter().zip(&got) {
        let cos = common::cosine(v, &case.embedding);
        worst = worst.min(cos);
        assert!(
            cos >= 0.9999,
            "cosine {cos} for {:?}",
            &case.text[..case.text.len().min(40)]
        );
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
    }
    eprintln!("worst cosine {worst}");
}

/// The reduced-precision path trades exactness for speed within a documented bound:
/// cosine >= 0.999 to the reference on every case (f32: 0.9999).
#[test]
fn bf16_precision_stays_within_cosine_0_999_of_every_reference_vector() {
    let reference = reference();
    let model = BertEmbedder::load_with_precision(common::model_dir(), Precision::Bf16).unwrap();
    let texts: Vec<&str> = reference.cases.iter().map(|c| c.text.as_str()).collect();
    let got = model.embed(&texts).unwrap();
    let worst = reference
        .cases
        .iter()
        .zip(&got)
        .map(|(case, v)| common::cosine(v, &case.embedding))
        .fold(f32::INFINITY, f32::min);
    eprintln!("{:?}: worst cosine {worst}", model.precision());
    assert!(worst >= 0.999, "worst cosine {worst}");
    let f32_model = common::embedder();
    assert_eq!(f32_model.precision(), Precision::F32);
}

#[test]
fn each_text_alone_gives_the_same_vector_as_in_a_batch() {
    let reference = reference();
    let model = common::embedder();
    for case in reference.cases.iter().take(4) {
        let alone = model.embed(&[&case.text]).unwrap().remove(0);
        assert!(common::cosine(&alone, &case.embedding) >= 0.9999);
        let query = model.embed_query(&case.text).unwrap();
        assert!(common::cosine(&query, &case.embedding) >= 0.9999);
    }
}

#[test]
fn reads_settings_from_the_model_directory() {
    let reference = reference();
    let model = common::embedder();
    assert_eq!(model.dim(), 384);
    assert_eq!(
        model.max_tokens(),
        reference.max_seq_length,
        "sentence_bert_config.json wins over tokenizer.json"
    );
    assert_eq!(model.pooling(), Pooling::Mean);
    assert!(model.normalizes());
    for case in &reference.cases {
        // The reference counts include [CLS] and [SEP] and are truncated at 256.
        let counted = (model.count_tokens(&case.text) + 2).min(reference.max_seq_length);
        assert_eq!(
            counted,
            case.tokens,
            "{:?}",
            &case.text[..case.text.len().min(40)]
        );
    }
}

#[test]
fn cls_pooling_and_no_normalisation_follow_the_config_files() {
    let src = common::model_dir();
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#,
    )
    .unwrap();
    let model = BertEmbedder::load(dir.path()).unwrap();
    assert_eq!(model.pooling(), Pooling::Cls);
    assert!(!model.normalizes());
    // No sentence_bert_config.json: the model's position limit applies.
    assert_eq!(model.max_tokens(), 512);
    let v = model.embed(&["a short text"]).unwrap().remove(0);
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() > 0.01,
        "CLS vector should not be normalised"
    );
    let mean = common::embedder()
        .embed(&["a short text"])
        .unwrap()
        .remove(0);
    assert!(
        common::cosine(&v, &mean) < 0.999,
        "CLS pooling should differ from mean pooling"
    );
}

#[test]
fn missing_or_malformed_model_files_are_typed_errors_naming_them() {
    let src = common::model_dir();
    let dir = tempfile::tempdir().unwrap();
    let err = BertEmbedder::load(dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, Error::ModelFileMissing { .. }), "{err}");

    let err = BertEmbedder::load(dir.path()).unwrap_err();
    match &err {
        Error::ModelFileMissing { dir: d, file } => {
            assert_eq!(d, dir.path());
            assert_eq!(file, "config.json");
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains("config.json")
            && err.to_string().contains(&*dir.path().to_string_lossy())
    );

    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    std::fs::copy(
        src.join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::ModelFileMissing { file, .. } if file == "model.safetensors"),
        "{err}"
    );

    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::ModelInvalid { file, .. } if file == "model.safetensors"),
        "{err}"
    );

    std::fs::write(dir.path().join("config.json"), b"{ broken").unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::ModelInvalid { file, .. } if file == "config.json"),
        "{err}"
    );
}

#[test]
fn a_collection_remembers_its_precision_so_queries_embed_like_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    drop(
        trawl::Collection::builder(&path)
            .model_dir(common::model_dir())
            .precision(Precision::Bf16)
            .open()
            .unwrap(),
    );
    let reopened = trawl::Collection::open(&path).unwrap();
    let query = "does the tide pool hold anemones?";
    let got = reopened.embedder().unwrap().embed_query(query).unwrap();
    let bf16 = BertEmbedder::load_with_precision(common::model_dir(), Precision::Bf16).unwrap();
    assert_eq!(got, bf16.embed_query(query).unwrap());
    if bf16.precision() == Precision::Bf16 {
        assert_ne!(got, common::embedder().embed_query(query).unwrap());
    }
}

/// int8 products stay within a documented bound of the reference vectors on every
/// case, on the kernels this CPU selects.
#[test]
fn int8_precision_stays_within_cosine_0_99_of_every_reference_vector() {
    let reference = reference();
    let model = BertEmbedder::load_with_precision(common::model_dir(), Precision::Int8).unwrap();
    assert_eq!(model.precision(), Precision::Int8);
    let texts: Vec<&str> = reference.cases.iter().map(|c| c.text.as_str()).collect();
    let got = model.embed(&texts).unwrap();
    let cosines: Vec<f32> = reference
        .cases
        .iter()
        .zip(&got)
        .map(|(case, v)| common::cosine(v, &case.embedding))
        .collect();
    let worst = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    eprintln!("{:?}: worst cosine {worst}, mean {mean}", model.cpu_path());
    assert!(worst >= 0.99, "worst cosine {worst}");
    assert!(mean >= 0.995, "mean cosine {mean}");
}
