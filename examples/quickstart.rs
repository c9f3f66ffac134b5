//! Builds a collection from the sample corpus and searches it in all three modes.
//!
//! ```sh
//! models/fetch.sh
//! cargo run --release --example quickstart -- "how hot should the oven be for bread?"
//! ```

use std::path::Path;

use trawl::{AddOptions, Collection, SearchMode};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let query = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "who made lighthouse lenses from rings of glass prisms?".to_owned());

    let dir = tempfile::tempdir()?;
    let collection = Collection::builder(dir.path())
        .model_dir(root.join("models/all-MiniLM-L6-v2"))
        .open()?;
    let report = collection.add_paths(&[root.join("examples/corpus")], &AddOptions::default())?;
    collection.commit()?;
    println!(
        "indexed {} documents as {} chunks ({} failed)\n",
        report.added,
        report.chunks,
        report.failures.len()
    );

    for mode in [SearchMode::Hybrid, SearchMode::Dense, SearchMode::Keyword] {
        println!("{mode} search for {query:?}:");
        for hit in collection.search(&query, 3, mode)? {
            let source = hit.source.as_deref().unwrap_or(&hit.doc_id);
            let line = hit.location.line.unwrap_or(0);
            let preview: String = hit.text.chars().take(120).collect();
            println!(
                "  {:.4}  {source}:{line}  [{}]",
                hit.score,
                hit.heading_path.join(" > ")
            );
            println!("          {}", preview.replace('\n', " "));
        }
        println!();
    }
    Ok(())
}
