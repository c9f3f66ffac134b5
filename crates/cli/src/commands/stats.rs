//! `trawl stats`: what an index holds and how it computes.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{json, Value};
use trawl::Collection;

pub(crate) fn stats(index: &Path, json: bool) -> Result<()> {
    if !Collection::exists(index) {
        bail!("no trawl index at {}", index.display());
    }
    // Stats need no model: open keyword-only so a missing model does not stop them.
    let collection = Collection::builder(index).keyword_only().open()?;
    let s = collection.stats()?;
    let extra = collection.index().extra();
    let model = extra.get("model").cloned().unwrap_or_default();
    // The precision recorded with the index, and the kernels this machine embeds its
    // queries (and new chunks) with.
    let precision = extra
        .get("precision")
        .and_then(Value::as_str)
        .unwrap_or("f32")
        .to_owned();
    let path = trawl::CpuPath::selected();
    let analyzer = collection.index().options().language;
    let languages = collection.index().languages()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "documents": s.documents, "chunks": s.chunks, "dim": s.dim,
                "graph_points": s.graph_points, "unindexed_points": s.unindexed_points,
                "graph_vectors_in_memory": s.graph_vectors_in_memory,
                "quantization": collection.index().options().hnsw.quantization.to_string(),
                "tombstones": s.tombstones,
                "deleted_chunks": s.deleted_chunks, "segments": s.segments,
                "disk_bytes": s.disk_bytes, "model": model, "tenants": s.tenants,
                "precision": precision, "cpu_path": path.to_string(),
                "cpu": trawl::CpuPath::cpu_description(),
                "analyzer": analyzer.to_string(),
                "chunks_without_terms": s.chunks_without_terms,
                "dictionaries": collection.index().dictionaries(),
                "languages": languages
                    .iter()
                    .map(|(l, n)| (l.to_string(), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
            }))?
        );
    } else {
        println!("index:      {}", index.display());
        println!("model:      {}", model.as_str().unwrap_or("(keyword-only)"));
        if model.is_string() {
            println!("precision:  {precision}");
        }
        println!(
            "kernels:    {path} on this CPU: {}",
            trawl::CpuPath::cpu_description()
        );
        println!("documents:  {}", s.documents);
        println!("chunks:     {}", s.chunks);
        println!("dimensions: {}", s.dim);
        if s.unindexed_points > 0 {
            println!(
                "unindexed:  {} vectors not in the graph yet (searched exactly)",
                s.unindexed_points
            );
        }
        println!(
            "tombstones: {} in the vector graph, {} in the keyword store",
            s.tombstones, s.deleted_chunks
        );
        println!("segments:   {}", s.segments);
        let held: Vec<String> = languages.iter().map(|(l, n)| format!("{l} {n}")).collect();
        if held.is_empty() {
            println!("analyzer:   {analyzer}");
        } else {
            println!("analyzer:   {analyzer} (chunks: {})", held.join(", "));
        }
        let dictionaries: Vec<&str> = collection
            .index()
            .dictionaries()
            .iter()
            .filter_map(|d| d.split(':').next())
            .collect();
        if dictionaries.is_empty() {
            println!("dictionaries: none (Japanese and Korean cut into pairs of characters)");
        } else {
            println!("dictionaries: {}", dictionaries.join(", "));
        }
        if s.chunks_without_terms > 0 {
            println!(
                "no terms:   {} chunks make no keyword terms (found by vector only)",
                s.chunks_without_terms
            );
        }
        println!(
            "disk:       {:.1} MiB",
            s.disk_bytes as f64 / (1024.0 * 1024.0)
        );
        if s.tenants.len() > 1 || s.tenants.keys().any(|t| !t.is_empty()) {
            println!("tenants:");
            for (tenant, t) in &s.tenants {
                let name = if tenant.is_empty() { "(none)" } else { tenant };
                println!("  {name}: {} documents, {} chunks", t.documents, t.chunks);
            }
        }
    }
    Ok(())
}
