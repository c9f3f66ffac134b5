//! `trawl ingest`: files and folders into an index, with a progress bar and a report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use serde_json::json;
use trawl::{AddOptions, ShardSet, ShardWriter};

use crate::args::ModelArgs;
use crate::output::bar;

pub(crate) fn ingest(
    paths: &[PathBuf],
    index: &Path,
    model: &ModelArgs,
    options: &IngestArgs<'_>,
) -> Result<()> {
    let IngestArgs {
        limits,
        json,
        tenant,
        prune,
        shards,
    } = *options;
    let started = Instant::now();
    let progress = if json {
        ProgressBar::hidden()
    } else {
        bar(0, "files")
    };
    let show = |p: trawl::Progress| {
        progress.set_length(p.files_total as u64);
        progress.set_position(p.files_done as u64);
        progress.set_message(format!("{} chunks", p.chunks));
    };
    let mut options = AddOptions::new().limits(limits.clone()).progress(&show);
    let (report, removed, runtime) = if shards.is_some() || ShardSet::exists(index) {
        // A shard set: each document goes to its shard, and the commit publishes.
        if prune {
            bail!("--prune works on a single index, not on a shard set");
        }
        let template = model.builder(index);
        let writer = match shards {
            Some(n) if !ShardSet::exists(index) => ShardWriter::create(index, n, &template),
            _ => ShardWriter::open_with(index, &template),
        }
        .context("opening the shard set")?;
        if let Some(t) = tenant {
            options = options.tenant(t);
        }
        let report = writer.add_paths(paths, &options)?;
        writer.commit()?;
        progress.set_message("adding vectors to the graph");
        if let Err(e) = writer.flush_graph() {
            eprintln!("warning: {e}");
        }
        let runtime = writer.shards()[0].embedder().and_then(|e| e.runtime());
        (report, Vec::new(), runtime)
    } else {
        let mut builder = model.builder(index);
        if let Some(t) = tenant {
            builder = builder.tenant(t);
        }
        let collection = builder.open().context("opening the index")?;
        let report = collection.add_paths(paths, &options)?;
        let removed = if prune {
            collection.remove_missing(paths)?
        } else {
            Vec::new()
        };
        collection.commit()?;
        // Committed chunks are searchable already; the HNSW graph takes them in the
        // background, and the process would wait for that on exit anyway: say so.
        progress.set_message("adding vectors to the graph");
        if let Err(e) = collection.flush_graph() {
            eprintln!("warning: {e}");
        }
        let runtime = collection.embedder().and_then(|e| e.runtime());
        (report, removed, runtime)
    };
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    for id in &removed {
        eprintln!("removed (file gone): {id}");
    }
    if json {
        let summary = json!({
            "embedding": runtime.map(|r| json!({
                "precision": r.precision.to_string(),
                "cpu_path": r.cpu_path.map(|p| p.to_string()),
            })),
            "files": report.files,
            "indexed": report.indexed,
            "skipped": report.unsupported.len(),
            "failed": report.failures.len(),
            "documents_added": report.added,
            "documents_unchanged": report.unchanged,
            "chunks": report.chunks,
            "removed": removed,
            "seconds": secs,
            "skipped_files": report.unsupported.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "failures": report.failures.iter().map(|f| json!({
                "path": f.path.display().to_string(),
                "reason": f.error.to_string(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    for p in &report.unsupported {
        eprintln!("skipped (unsupported format): {}", p.display());
    }
    for f in &report.failures {
        eprintln!("failed: {}: {}", f.path.display(), f.error);
    }
    println!(
        "{} files seen: {} indexed, {} skipped (unsupported), {} failed; \
         {} added, {} unchanged documents, {} chunks in {secs:.1}s",
        report.files,
        report.indexed,
        report.unsupported.len(),
        report.failures.len(),
        report.added,
        report.unchanged,
        report.chunks,
    );
    if let Some(r) = runtime {
        println!("embedded at {r}");
    }
    if prune {
        println!("removed {} documents whose files are gone", removed.len());
    }
    Ok(())
}

/// How `trawl ingest` runs.
#[derive(Clone, Copy)]
pub(crate) struct IngestArgs<'a> {
    pub(crate) limits: &'a trawl::Limits,
    pub(crate) json: bool,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) prune: bool,
    /// Write a shard set of this many shards (created if missing).
    pub(crate) shards: Option<usize>,
}
