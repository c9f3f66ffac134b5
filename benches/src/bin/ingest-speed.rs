//! End-to-end ingest throughput against its parts: how close does `add_paths`, which
//! parses the next files while the current ones are embedded, come to embedding alone?
//!
//! The corpus is built in a temporary folder: the parser test fixtures (PDF, DOCX,
//! PPTX, XLSX, XLS, EML; real files) copied `--copies` times, plus the first
//! `--scifact` SciFact abstracts as Markdown files. Four timings over the same files,
//! in one process, on the same model, each the best of `--rounds`:
//!
//! - `parse+chunk`: parsing and chunking only (no model);
//! - `embed`: embedding the chunk texts only, in groups of 256 as ingest does;
//! - `sequential`: parse a batch of 16 files, then embed and index it, batch after
//!   batch (what `add_paths` did before pipelining), then commit;
//! - `pipelined`: `Collection::add_paths` then commit.
//!
//! ```text
//! cargo run --release -p trawl-benches --bin ingest-speed -- [--copies 20] [--scifact 1500] [--rounds 2] [--precision bf16]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use trawl::{chunk_document, BertEmbedder, ChunkOptions, Collection, Embedder, Limits, Precision};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> AnyResult<()> {
    let mut args = std::env::args().skip(1);
    let (mut copies, mut scifact, mut rounds) = (20usize, 1500usize, 2usize);
    let mut precision = Precision::Bf16;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--copies" => copies = args.next().ok_or("--copies N")?.parse()?,
            "--scifact" => scifact = args.next().ok_or("--scifact N")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--precision" => precision = args.next().ok_or("--precision P")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let work = tempfile::tempdir()?;
    let corpus = work.path().join("corpus");
    let (files, bytes) = build_corpus(&corpus, copies, scifact)?;
    let model = Arc::new(BertEmbedder::load_with_precision(
        trawl_benches::model_dir(),
        precision,
    )?);
    let limits = Limits::default();
    let options = ChunkOptions::default();
    let paths: Vec<PathBuf> = trawl_ingest::walk(&corpus).filter_map(Result::ok).collect();

    // Parse and chunk only.
    let started = Instant::now();
    let mut texts = Vec::new();
    for batch in paths.chunks(16) {
        for (_, result) in trawl_ingest::parse_paths(batch, &limits) {
            for doc in result.into_iter().flatten() {
                let chunks = chunk_document(&doc, &options, &|t| model.count_tokens(t));
                texts.extend(
                    chunks
                        .iter()
                        .map(|c| c.embedding_text(doc.title.as_deref(), &options)),
                );
            }
        }
    }
    let parse_s = started.elapsed().as_secs_f64();

    // Each timing is the best of `--rounds`; sequential and pipelined alternate
    // which goes first, so a busy moment on the machine does not favour one.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    model.embed(&refs[..refs.len().min(32)])?; // warm-up
    let (mut embed_s, mut sequential_s, mut pipelined_s) = (f64::MAX, f64::MAX, f64::MAX);
    // CPU seconds of the whole process, a steadier measure on a shared machine.
    let (mut embed_cpu, mut sequential_cpu, mut pipelined_cpu) = (f64::MAX, f64::MAX, f64::MAX);
    let (mut sequential_chunks, mut pipelined_chunks, mut failed) = (0, 0, 0);
    for round in 0..rounds {
        // Embed only.
        let (started, cpu) = (Instant::now(), cpu_seconds());
        for group in refs.chunks(256) {
            std::hint::black_box(model.embed(group)?);
        }
        embed_s = embed_s.min(started.elapsed().as_secs_f64());
        embed_cpu = embed_cpu.min(cpu_seconds() - cpu);
        for pipelined in [round % 2 == 0, round % 2 == 1] {
            let collection = Collection::builder(work.path().join(format!("r{round}-{pipelined}")))
                .embedder(model.clone())
                .open()?;
            let (started, cpu) = (Instant::now(), cpu_seconds());
            if pipelined {
                let report = collection.add_paths(&[&corpus], &trawl::AddOptions::default())?;
                collection.commit()?;
                pipelined_s = pipelined_s.min(started.elapsed().as_secs_f64());
                pipelined_cpu = pipelined_cpu.min(cpu_seconds() - cpu);
                (pipelined_chunks, failed) = (report.chunks, report.failures.len());
            } else {
                // Parse a batch, then embed and index it: `add_paths` before pipelining.
                sequential_chunks = 0;
                for batch in paths.chunks(16) {
                    let docs: Vec<_> = trawl_ingest::parse_paths(batch, &limits)
                        .into_iter()
                        .filter_map(|(_, r)| r.ok())
                        .flatten()
                        .collect();
                    for outcome in collection.add_documents(docs, &trawl::AddOptions::default())? {
                        if let trawl::AddOutcome::Added { chunks } = outcome {
                            sequential_chunks += chunks;
                        }
                    }
                }
                collection.commit()?;
                sequential_s = sequential_s.min(started.elapsed().as_secs_f64());
                sequential_cpu = sequential_cpu.min(cpu_seconds() - cpu);
            }
        }
    }

    let chunks = texts.len() as f64;
    let rate = |s: f64| chunks / s;
    println!(
        "{}",
        serde_json::json!({
            "precision": precision.to_string(),
            "files": files,
            "mib": bytes as f64 / (1 << 20) as f64,
            "chunks": texts.len(),
            "chunks_sequential": sequential_chunks,
            "chunks_pipelined": pipelined_chunks,
            "failed_files": failed,
            "rounds": rounds,
            "threads": std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            "seconds": {
                "parse_chunk": parse_s,
                "embed": embed_s,
                "sequential": sequential_s,
                "pipelined": pipelined_s,
            },
            "cpu_seconds": {
                "embed": embed_cpu,
                "sequential": sequential_cpu,
                "pipelined": pipelined_cpu,
            },
            "chunks_per_s": {
                "parse_chunk": rate(parse_s),
                "embed": rate(embed_s),
                "sequential": rate(sequential_s),
                "pipelined": rate(pipelined_s),
            },
            "pipelined_over_embed": embed_s / pipelined_s,
            "sequential_over_embed": embed_s / sequential_s,
            "pipelined_speedup": sequential_s / pipelined_s,
        })
    );
    Ok(())
}

/// User + system CPU time of this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; the
    // clock runs at 100 ticks per second on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Copies the parser fixtures `copies` times and writes `scifact` abstracts as
/// Markdown. Returns the number of files and their bytes.
fn build_corpus(dir: &Path, copies: usize, scifact: usize) -> AnyResult<(usize, u64)> {
    let fixtures = trawl_benches::root().join("crates/ingest/tests/fixtures");
    let (mut files, mut bytes) = (0, 0);
    for copy in 0..copies {
        let to = dir.join(format!("copy-{copy:03}"));
        std::fs::create_dir_all(&to)?;
        for entry in std::fs::read_dir(&fixtures)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "md") {
                continue; // the fixtures' README
            }
            bytes += std::fs::copy(&path, to.join(path.file_name().ok_or("file name")?))?;
            files += 1;
        }
    }
    let corpus = trawl_benches::root().join("../shared/data/scifact/corpus.jsonl");
    if scifact > 0 {
        let to = dir.join("scifact");
        std::fs::create_dir_all(&to)?;
        for (i, line) in std::fs::read_to_string(&corpus)?
            .lines()
            .take(scifact)
            .enumerate()
        {
            let doc: serde_json::Value = serde_json::from_str(line)?;
            let text = format!(
                "# {}\n\n{}\n",
                doc["title"].as_str().unwrap_or_default(),
                doc["text"].as_str().unwrap_or_default()
            );
            bytes += text.len() as u64;
            std::fs::write(to.join(format!("{i:05}.md")), text)?;
            files += 1;
        }
    }
    Ok((files, bytes))
}
