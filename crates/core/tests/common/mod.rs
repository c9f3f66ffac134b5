//! Helpers shared by the behaviour tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use trawl::BertEmbedder;

/// The all-MiniLM-L6-v2 directory: `$TRAWL_MODEL`, else `models/` at the workspace root.
/// Tests that need it fail (not skip) when it is missing: run `models/fetch.sh`.
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("TRAWL_MODEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "model not found at {}: run models/fetch.sh (the README's test command does)",
        dir.display()
    );
    dir
}

/// One loaded model shared by the tests of a binary.
pub fn embedder() -> Arc<BertEmbedder> {
    static MODEL: OnceLock<Arc<BertEmbedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(BertEmbedder::load(model_dir()).expect("model loads")))
        .clone()
}

/// The sample corpus shipped in examples/.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/corpus")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}
