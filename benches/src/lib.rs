//! Shared setup for trawl's benchmarks: the model, the sample corpus, texts.

use std::path::PathBuf;
use std::sync::Arc;

use trawl::{AddOptions, BertEmbedder, Collection};

/// The workspace root.
#[must_use]
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// all-MiniLM-L6-v2 from `models/` (run `models/fetch.sh` first).
///
/// # Panics
/// When the model is missing.
#[must_use]
pub fn embedder() -> Arc<BertEmbedder> {
    Arc::new(BertEmbedder::load(model_dir()).unwrap_or_else(|e| panic!("{e}: run models/fetch.sh")))
}

/// The model directory: `$TRAWL_MODEL`, else `models/all-MiniLM-L6-v2`.
#[must_use]
pub fn model_dir() -> PathBuf {
    std::env::var_os("TRAWL_MODEL")
        .map_or_else(|| root().join("models/all-MiniLM-L6-v2"), PathBuf::from)
}

/// All text of the sample corpus, concatenated.
#[must_use]
pub fn corpus_text() -> String {
    let mut out = String::new();
    for name in [
        "sourdough-bread.md",
        "rust-ownership.md",
        "tide-pools.txt",
        "solar-panels.md",
        "history/printing-press.txt",
        "history/lighthouse-keepers.md",
    ] {
        out.push_str(
            &std::fs::read_to_string(root().join("examples/corpus").join(name))
                .expect("sample corpus"),
        );
        out.push_str("\n\n");
    }
    out
}

/// A collection of the sample corpus in a temporary directory (kept alive by the
/// returned guard).
///
/// # Panics
/// When indexing fails.
#[must_use]
pub fn sample_collection(embedder: Arc<BertEmbedder>) -> (tempfile::TempDir, Collection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = Collection::builder(dir.path())
        .embedder(embedder)
        .open()
        .expect("collection");
    c.add_paths(&[root().join("examples/corpus")], &AddOptions::default())
        .expect("ingest");
    c.commit().expect("commit");
    (dir, c)
}
