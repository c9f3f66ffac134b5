//! `trawl tune`: fine-tune the embedding model on judged queries or pairs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use serde_json::json;
use trawl::tune::{
    mine_negatives, pairs_from_collection, pairs_from_documents, pairs_from_feedback,
    read_pairs_jsonl, tune, LabelFreeOptions, Pair, PairSource, TuneOptions,
};
use trawl::{BertEmbedder, ChunkOptions, Precision};

use crate::output::bar;

/// Where the pairs come from, and how to train.
pub(crate) struct TuneArgs<'a> {
    pub(crate) base: &'a Path,
    pub(crate) out: &'a Path,
    /// A BEIR benchmark folder and the qrels split whose judged queries become pairs.
    pub(crate) beir: Option<(&'a Path, &'a str)>,
    /// JSON Lines files of pairs.
    pub(crate) pair_files: &'a [PathBuf],
    /// Pairs and negatives taken from an index.
    pub(crate) from_index: Option<FromIndex<'a>>,
    pub(crate) options: TuneOptions,
    pub(crate) json: bool,
}

/// What `trawl tune` takes from the index the model serves.
pub(crate) struct FromIndex<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) label_free: Option<Vec<PairSource>>,
    pub(crate) max_pairs: usize,
    pub(crate) feedback: bool,
    pub(crate) tenant: Option<String>,
    pub(crate) hard_negatives: bool,
    pub(crate) reembed: bool,
}

pub(crate) fn run(args: &TuneArgs<'_>) -> Result<()> {
    keep_freed_memory();
    let mut pairs = Vec::new();
    if let Some((dir, split)) = args.beir {
        pairs.extend(beir_pairs(args.base, dir, split)?);
    }
    for file in args.pair_files {
        pairs.extend(read_pairs_jsonl(file)?);
    }
    if let Some(from) = &args.from_index {
        let collection = crate::commands::open_existing(from.dir, None)?;
        if let Some(sources) = &from.label_free {
            let mut options = LabelFreeOptions::default();
            options.sources.clone_from(sources);
            options.max_pairs = from.max_pairs;
            options.seed = args.options.seed;
            options.tenant.clone_from(&from.tenant);
            let made = pairs_from_collection(&collection, &options)?;
            eprintln!(
                "{} label-free pairs from {}",
                made.len(),
                from.dir.display()
            );
            pairs.extend(made);
        }
        if from.feedback {
            let made = pairs_from_feedback(&collection, from.tenant.as_deref())?;
            eprintln!("{} pairs from recorded feedback", made.len());
            pairs.extend(made);
        }
        if from.hard_negatives {
            let mined = mine_negatives(&collection, &mut pairs, 30)?;
            eprintln!("{mined} hard negatives mined from {}", from.dir.display());
        }
    }
    if pairs.is_empty() {
        bail!(
            "no training pairs: give --train BEIR_DIR, --pairs FILE.jsonl, or --index DIR \
             with --label-free or --feedback"
        );
    }
    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        bar(0, "steps")
    };
    let report = tune(args.base, args.out, &pairs, &args.options, &mut |p| {
        progress.set_length(p.steps as u64);
        progress.set_position(p.step as u64);
        progress.set_message(format!(
            "epoch {}/{} loss {:.4} {:.1} pairs/s",
            p.epoch, p.epochs, p.epoch_loss, p.pairs_per_second
        ));
        std::ops::ControlFlow::Continue(())
    })?;
    progress.finish_and_clear();
    let reembedded = match &args.from_index {
        Some(from) if from.reembed && report.complete => {
            Some(trawl::Collection::reembed(from.dir, &report.out)?)
        }
        _ => None,
    };
    let peak = peak_rss_mib();
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["peak_rss_mib"] = json!(peak);
        if let Some(r) = &reembedded {
            value["reembedded"] = json!({
                "documents": r.documents,
                "chunks": r.chunks,
                "seconds": r.seconds,
            });
        }
        println!("{value}");
        return Ok(());
    }
    if report.complete {
        println!("tuned model written to {}", report.out.display());
    } else {
        println!(
            "stopped after {} of {} steps; run the same command again to go on",
            report.resumed_at, report.steps
        );
    }
    println!(
        "{} pairs, {} epochs, {} steps{}",
        report.pairs,
        report.epochs,
        report.steps,
        if report.resumed_at > 0 {
            format!(" (resumed at step {})", report.resumed_at)
        } else {
            String::new()
        }
    );
    for (i, loss) in report.epoch_losses.iter().enumerate() {
        println!("epoch {}: mean loss {loss:.4}", i + 1);
    }
    println!(
        "{:.0} s, {:.1} pairs/s{}",
        report.seconds,
        report.pairs_per_second,
        peak.map_or_else(String::new, |m| format!(", peak memory {m} MiB"))
    );
    if let (Some(r), Some(from)) = (&reembedded, &args.from_index) {
        println!(
            "re-embedded {} chunks of {} documents in {} with the tuned model ({:.0} s)",
            r.chunks,
            r.documents,
            from.dir.display(),
            r.seconds
        );
    }
    Ok(())
}

/// Each judged (query, document) of the split with a positive grade, as a pair with
/// the document's chunk closest to the query.
fn beir_pairs(base: &Path, dir: &Path, split: &str) -> Result<Vec<Pair>> {
    let beir = trawl_eval::Beir::load(dir, split)?;
    let docs: HashMap<&str, trawl::Document> = beir
        .corpus
        .iter()
        .map(|d| (d.id.as_str(), d.to_document()))
        .collect();
    let mut judged = Vec::new();
    for (id, text) in &beir.queries {
        let Some(grades) = beir.qrels.get(id) else {
            continue;
        };
        let mut relevant: Vec<&String> = grades
            .iter()
            .filter(|(_, &g)| g > 0)
            .map(|(d, _)| d)
            .collect();
        relevant.sort();
        for doc in relevant {
            if let Some(d) = docs.get(doc.as_str()) {
                judged.push((text.clone(), d));
            }
        }
    }
    let embedder = BertEmbedder::load_with_precision(base, Precision::F32)
        .with_context(|| format!("loading {}", base.display()))?;
    Ok(pairs_from_documents(
        &embedder,
        &judged,
        &ChunkOptions::default(),
    )?)
}

/// The process's peak resident memory, from /proc (Linux).
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Training allocates and frees tensors of tens of MiB at every step; glibc returns
/// such blocks to the kernel at once, and the next step pays page faults to get them
/// back (a fifth of the run's time). Keeping them in the heap avoids that.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before training
    // starts, and the values are within the ranges glibc documents.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
