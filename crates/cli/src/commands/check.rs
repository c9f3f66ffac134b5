//! `trawl check`: verify an index, and repair what can be rebuilt.

use std::path::Path;

use anyhow::{bail, Result};
use trawl::Collection;

/// Checks the index at `index` (repairing with `repair`), prints the report, and fails
/// when a problem remains.
pub(crate) fn check(index: &Path, repair: bool, json: bool) -> Result<()> {
    if !Collection::exists(index) {
        bail!("no trawl index at {}", index.display());
    }
    // Checking needs no model: the vectors are compared as stored.
    let collection = Collection::builder(index).keyword_only().open()?;
    let report = collection.check(repair)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("index:         {}", index.display());
        println!(
            "chunks:        {} in {} documents",
            report.chunks, report.documents
        );
        println!(
            "vector graph:  {} points ({} deleted, {} chunks waiting)",
            report.graph_points, report.tombstones, report.pending
        );
        for line in &report.repaired {
            println!("repaired:      {line}");
        }
        for problem in report.problems() {
            println!("problem:       {problem}");
        }
        if report.is_healthy() {
            println!("ok");
        } else if !repair && report.graph_needs_rebuild() {
            println!("run `trawl check --repair` to rebuild the vector graph");
        }
    }
    if !report.is_healthy() {
        std::process::exit(1);
    }
    Ok(())
}
