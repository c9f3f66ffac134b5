//! The `trawl` command: ingest, search, stats and eval.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use trawl::eval::{mrr_at, ndcg_at, percentile, recall_at, Beir};
use trawl::{
    ChunkOptions, Collection, CollectionBuilder, ContextOptions, Filter, Fusion, Hit, Language,
    SearchMode, SearchOptions,
};

/// Where the model is looked for when --model is not given.
const DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

#[derive(Parser)]
#[command(
    name = "trawl",
    version,
    about = "Hybrid search over your documents, in one directory."
)]
struct Cli {
    /// Log more to stderr: -v for each ingest stage's timings, -vv for every batch.
    /// `RUST_LOG` (e.g. `RUST_LOG=trawl=debug`) overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Logs to stderr: warnings by default (a slow CPU path, a graph not saved), more with
/// `-v`, or whatever `RUST_LOG` says.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "warn,trawl=info,trawl_index=info,trawl_ingest=info",
            _ => "warn,trawl=debug,trawl_index=debug,trawl_ingest=debug",
        })
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

#[derive(Subcommand)]
enum Command {
    /// Index files and folders (recursively) into an index directory.
    Ingest {
        /// Files or folders to index.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The index directory (created if missing).
        #[arg(long)]
        index: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        /// Add the documents to this tenant (and prune within it).
        #[arg(long)]
        tenant: Option<String>,
        /// Also delete indexed documents whose files under the given paths no longer
        /// exist.
        #[arg(long)]
        prune: bool,
        /// Print the summary as a JSON object.
        #[arg(long)]
        json: bool,
        /// Largest file to read, in MiB.
        #[arg(long, default_value_t = 64)]
        max_file_mb: u64,
    },
    /// Delete documents (all their chunks) by id.
    Delete {
        /// Document ids (for files: the path as given to `trawl ingest`).
        #[arg(required = true)]
        doc_ids: Vec<String>,
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// The tenant the documents belong to.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Search an index.
    Search {
        /// The query.
        query: String,
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// Number of hits.
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// dense, keyword or hybrid.
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        /// Print hits as JSON.
        #[arg(long)]
        json: bool,
        /// Model directory (default: the one the index was built with).
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Print the best passages for a query as a prompt-ready context with numbered
    /// citations, within a token budget.
    Context {
        /// The query.
        query: String,
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// Most tokens the context may take (model tokens, citation lines included).
        #[arg(long, default_value_t = 2000)]
        budget: usize,
        /// Chunks considered before packing.
        #[arg(short, default_value_t = 30)]
        k: usize,
        /// dense, keyword or hybrid.
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        /// Print the context and its citations as JSON.
        #[arg(long)]
        json: bool,
        /// Model directory (default: the one the index was built with).
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Show what an index holds.
    Stats {
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate retrieval on a BEIR-format benchmark directory.
    Eval {
        /// Folder with corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv.
        beir_dir: PathBuf,
        /// Which qrels split to evaluate.
        #[arg(long, default_value = "test")]
        split: String,
        /// dense, keyword or hybrid.
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        /// Run dense, keyword and hybrid (with each --fusion given) over one ingest and
        /// print a table (with --json, one object per line).
        #[arg(long)]
        compare: bool,
        /// Index directory to build (or reuse, if it already holds the corpus);
        /// a temporary one when omitted.
        #[arg(long)]
        index: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
        /// Fusion for hybrid runs; repeat to evaluate several (adaptive, adaptive:W:C:I,
        /// rrf, rrf:K, wrrf:W, minmax:W, z:W; W is the keyword weight, C the full
        /// coverage, I the full IDF). Default: adaptive.
        #[arg(long = "fusion", value_name = "FUSION")]
        fusions: Vec<Fusion>,
        /// Candidates each retriever fetches before fusion.
        #[arg(long, default_value_t = 100)]
        candidates: usize,
        /// Rerank the results: `mmr:LAMBDA` (diversity), `cross-encoder:DIR` (a
        /// sentence-transformers cross-encoder directory) or
        /// `sentences[:WEIGHT[:DEPTH[:MAX]]]` (best-matching sentence window, scored
        /// with the collection's own model).
        #[arg(long, value_name = "RERANKER")]
        rerank: Option<String>,
        /// Also write, per query, the default hybrid search's first N chunk hits with
        /// their first-stage score, chunk cosine and best sentence-window cosine for
        /// windows of 1 to 3 sentences, as JSON lines, for tuning the sentence-window
        /// reranker offline (benches/quality/rerank_study.py).
        #[arg(long, value_name = "FILE")]
        dump_windows: Option<PathBuf>,
        /// Hits per query in --dump-windows.
        #[arg(long, value_name = "N", default_value_t = 40)]
        dump_windows_depth: usize,
        /// Also write each query's dense and keyword candidates (chunk id, document
        /// id, raw score) and keyword signals (coverage, mean IDF) as JSON lines to this
        /// file, for studying fusion offline (benches/quality/fusion_study.py).
        #[arg(long, value_name = "FILE")]
        dump_candidates: Option<PathBuf>,
        /// Score a hit whose document id is its query's id. By default such a hit is
        /// dropped before scoring, as BEIR's own evaluation does: in ArguAna and Quora
        /// each query is also a document, and finding itself is no answer.
        #[arg(long)]
        keep_identical_ids: bool,
    },
}

#[derive(clap::Args)]
struct Tuning {
    /// How hybrid search fuses the lists: adaptive, adaptive:W:C:I, rrf, rrf:K, wrrf:W,
    /// minmax:W, z:W (W is the keyword weight, 0..1; C the full coverage, I the full IDF).
    #[arg(long, default_value = "adaptive")]
    fusion: Fusion,
    /// Candidates each retriever fetches before fusion.
    #[arg(long, default_value_t = 100)]
    candidates: usize,
    /// Only chunks matching this filter, e.g. 'format = "pdf" AND year >= 2020'
    /// (=, !=, <, <=, >, >=, IN (...), CONTAINS; AND, OR, NOT, parentheses; dates
    /// as 2021-03-04). Fields: metadata keys, format, source, doc_id.
    #[arg(long)]
    filter: Option<Filter>,
    /// Only chunks of this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// `parent`: return each hit's whole parent section (one per section) instead of
    /// the matching chunk.
    #[arg(long, value_enum)]
    expand: Option<Expand>,
}

/// What a hit grows into.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Expand {
    /// The section the chunk belongs to.
    Parent,
}

impl Tuning {
    /// Search options with these settings.
    fn options(self, k: usize, mode: SearchMode) -> SearchOptions {
        SearchOptions {
            k,
            mode,
            candidates: self.candidates,
            fusion: self.fusion,
            filter: self.filter,
            tenant: self.tenant,
            expand_parent: matches!(self.expand, Some(Expand::Parent)),
            ..SearchOptions::default()
        }
    }
}

#[derive(clap::Args)]
struct ModelArgs {
    /// Model directory (sentence-transformers layout).
    #[arg(long, env = "TRAWL_MODEL")]
    model: Option<PathBuf>,
    /// Build a keyword-only index (no model needed; a model given, or set in
    /// TRAWL_MODEL, is not used).
    #[arg(long)]
    keyword_only: bool,
    /// Language of the keyword analyzer for a new index (english, german, ..., plain).
    #[arg(long, default_value = "english")]
    language: Language,
    /// Most characters per chunk (new index).
    #[arg(long, value_name = "N")]
    max_chars: Option<usize>,
    /// Most model tokens per chunk (new index; capped by the model's limit).
    #[arg(long, value_name = "N")]
    max_tokens: Option<usize>,
    /// What neighbouring chunks repeat: none, tokens:N, chars:N or sentences:N.
    #[arg(long, value_name = "OVERLAP")]
    overlap: Option<trawl::Overlap>,
    /// Embed each chunk with its document title and heading path in front.
    #[arg(long)]
    context_prefix: bool,
    /// Precision of the model's matrix products for a new index: f32, bf16 (AVX-512
    /// BF16; vectors within cosine 0.999) or int8 (any CPU; within cosine 0.99);
    /// recorded with the index. Default: bf16 where the CPU has AMX, int8 on other
    /// AVX2 and AVX-512 CPUs, else f32.
    #[arg(long)]
    precision: Option<trawl::Precision>,
}

impl ModelArgs {
    /// A builder for `index`: the given model, else the one the index records, else
    /// the default location.
    fn builder(&self, index: &Path) -> CollectionBuilder {
        let mut builder = Collection::builder(index).language(self.language);
        if self.max_chars.is_some()
            || self.max_tokens.is_some()
            || self.overlap.is_some()
            || self.context_prefix
        {
            let default = ChunkOptions::default();
            builder = builder.chunking(ChunkOptions {
                max_chars: self.max_chars.unwrap_or(default.max_chars),
                max_tokens: self.max_tokens.unwrap_or(default.max_tokens),
                overlap: self.overlap.unwrap_or(default.overlap),
                context_prefix: self.context_prefix,
                ..default
            });
        }
        if let Some(precision) = self.precision {
            builder = builder.precision(precision);
        }
        if self.keyword_only {
            return builder.keyword_only();
        }
        match &self.model {
            Some(dir) => builder.model_dir(dir),
            None if Collection::exists(index) => builder,
            None => builder.model_dir(default_model()),
        }
    }
}

/// The model a new index gets when none is named: `models/all-MiniLM-L6-v2` under the
/// current directory, else under the directory of the `trawl` executable or one of its
/// two parents (a binary built in a checkout, `target/release/trawl`, finds the
/// checkout's `models/`). When none exists, the first, so the error names it.
fn default_model() -> PathBuf {
    let beside_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .take(3)
            .map(|dir| dir.join(DEFAULT_MODEL))
            .find(|dir| dir.is_dir())
    });
    match beside_exe {
        Some(dir) if !Path::new(DEFAULT_MODEL).is_dir() => dir,
        _ => PathBuf::from(DEFAULT_MODEL),
    }
}

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`trawl search ... | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition at start-up, before any
    // thread exists, is what the C runtime does for every C program.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Ingest {
            paths,
            index,
            model,
            tenant,
            prune,
            json,
            max_file_mb,
        } => {
            let limits = trawl::Limits::default().max_file_bytes(max_file_mb * 1024 * 1024);
            let options = IngestArgs {
                limits: &limits,
                json,
                tenant: tenant.as_deref(),
                prune,
            };
            ingest(&paths, &index, &model, &options)
        }
        Command::Delete {
            doc_ids,
            index,
            tenant,
        } => delete(&doc_ids, &index, tenant.as_deref()),
        Command::Search {
            query,
            index,
            k,
            mode,
            json,
            model,
            tuning,
        } => {
            let options = tuning.options(k, mode);
            search(&query, &index, &options, json, model.as_deref())
        }
        Command::Context {
            query,
            index,
            budget,
            k,
            mode,
            json,
            model,
            tuning,
        } => {
            let options = ContextOptions {
                budget,
                search: tuning.options(k, mode),
            };
            context(&query, &index, &options, json, model.as_deref())
        }
        Command::Stats { index, json } => stats(&index, json),
        Command::Eval {
            beir_dir,
            split,
            mode,
            compare,
            index,
            json,
            model,
            fusions,
            candidates,
            dump_candidates,
            rerank,
            dump_windows,
            dump_windows_depth,
            keep_identical_ids,
        } => {
            let fusions = if fusions.is_empty() {
                vec![Fusion::default()]
            } else {
                fusions
            };
            let mut runs = Vec::new();
            if compare {
                runs.push((SearchMode::Dense, Fusion::default()));
                runs.push((SearchMode::Keyword, Fusion::default()));
            }
            if compare || mode == SearchMode::Hybrid {
                runs.extend(fusions.iter().map(|f| (SearchMode::Hybrid, *f)));
            } else {
                runs.push((mode, Fusion::default()));
            }
            let target = EvalTarget {
                dir: &beir_dir,
                split: &split,
                index: index.as_deref(),
                dump: dump_candidates.as_deref(),
                dump_windows: dump_windows.as_deref().map(|p| (p, dump_windows_depth)),
                rerank: rerank.as_deref(),
                keep_identical_ids,
            };
            eval(&target, &runs, candidates, json, &model)
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}}) {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

fn ingest(
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
    } = *options;
    let mut builder = model.builder(index);
    if let Some(t) = tenant {
        builder = builder.tenant(t);
    }
    let collection = builder.open().context("opening the index")?;
    let started = Instant::now();
    let progress = if json {
        ProgressBar::hidden()
    } else {
        bar(0, "files")
    };
    let report = collection.add_paths_with(paths, limits, &|p| {
        progress.set_length(p.files_total as u64);
        progress.set_position(p.files_done as u64);
        progress.set_message(format!("{} chunks", p.chunks));
    })?;
    let removed = if prune {
        collection.remove_missing(paths)?
    } else {
        Vec::new()
    };
    collection.commit()?;
    // Committed chunks are searchable already; the HNSW graph takes them in the
    // background, and the process would wait for that on exit anyway: say so.
    progress.set_message("adding vectors to the graph");
    if let Err(e) = collection.index().flush_graph() {
        eprintln!("warning: {e}");
    }
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    for id in &removed {
        eprintln!("removed (file gone): {id}");
    }
    let runtime = collection.embedder().and_then(|e| e.runtime());
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
struct IngestArgs<'a> {
    limits: &'a trawl::Limits,
    json: bool,
    tenant: Option<&'a str>,
    prune: bool,
}

fn delete(doc_ids: &[String], index: &Path, tenant: Option<&str>) -> Result<()> {
    if !Collection::exists(index) {
        bail!("no trawl index at {}", index.display());
    }
    // Deleting needs no model.
    let collection = Collection::builder(index).keyword_only().open()?;
    let tenant = tenant.unwrap_or("");
    let known: std::collections::HashSet<String> = collection
        .documents(Some(tenant))?
        .into_iter()
        .map(|d| d.doc_id)
        .collect();
    let mut missing = Vec::new();
    for id in doc_ids {
        if known.contains(id) {
            collection.delete_tenant_document(tenant, id)?;
        } else {
            missing.push(id.as_str());
        }
    }
    collection.commit()?;
    println!("deleted {} documents", doc_ids.len() - missing.len());
    if !missing.is_empty() {
        bail!("not in the index: {}", missing.join(", "));
    }
    Ok(())
}

fn open_existing(index: &Path, model: Option<&Path>) -> Result<Collection> {
    if !Collection::exists(index) {
        bail!(
            "no trawl index at {} (run `trawl ingest` first)",
            index.display()
        );
    }
    let builder = Collection::builder(index);
    let builder = match model {
        Some(m) => builder.model_dir(m),
        None => builder,
    };
    Ok(builder.open()?)
}

fn search(
    query: &str,
    index: &Path,
    options: &SearchOptions,
    json: bool,
    model: Option<&Path>,
) -> Result<()> {
    let collection = open_existing(index, model)?;
    let hits = collection.search_with(query, options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no hits");
    }
    for (i, hit) in hits.iter().enumerate() {
        print_hit(i + 1, hit);
    }
    Ok(())
}

fn context(
    query: &str,
    index: &Path,
    options: &ContextOptions,
    json: bool,
    model: Option<&Path>,
) -> Result<()> {
    let collection = open_existing(index, model)?;
    let context = collection.context(query, options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&context)?);
    } else if context.citations.is_empty() {
        println!("no passages");
    } else {
        println!("{}", context.text);
    }
    Ok(())
}

fn print_hit(rank: usize, hit: &Hit) {
    let mut place = hit.source.clone().unwrap_or_else(|| hit.doc_id.clone());
    if let Some(line) = hit.location.line {
        place.push_str(&format!(":{line}"));
    }
    if let Some(page) = hit.location.page {
        place.push_str(&format!(" page {page}"));
    }
    println!("{rank}. [{:.4}] {place}", hit.score);
    if !hit.heading_path.is_empty() {
        println!("   {}", hit.heading_path.join(" > "));
    }
    let text: String = hit.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let preview: String = text.chars().take(300).collect();
    let ellipsis = if text.chars().count() > 300 {
        "..."
    } else {
        ""
    };
    println!("   {preview}{ellipsis}\n");
}

fn stats(index: &Path, json: bool) -> Result<()> {
    if !Collection::exists(index) {
        bail!("no trawl index at {}", index.display());
    }
    // Stats need no model: open keyword-only so a missing model does not stop them.
    let collection = Collection::builder(index).keyword_only().open()?;
    let s = collection.stats()?;
    let extra = &collection.index().options().extra;
    let model = extra.get("model").cloned().unwrap_or_default();
    // The precision recorded with the index, and the kernels this machine embeds its
    // queries (and new chunks) with.
    let precision = extra
        .get("precision")
        .and_then(Value::as_str)
        .unwrap_or("f32")
        .to_owned();
    let path = trawl::CpuPath::selected();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "documents": s.documents, "chunks": s.chunks, "dim": s.dim,
                "graph_points": s.graph_points, "unindexed_points": s.unindexed_points,
                "tombstones": s.tombstones,
                "deleted_chunks": s.deleted_chunks, "segments": s.segments,
                "disk_bytes": s.disk_bytes, "model": model, "tenants": s.tenants,
                "precision": precision, "cpu_path": path.to_string(),
                "cpu": trawl::CpuPath::cpu_description(),
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

struct EvalTarget<'a> {
    dir: &'a Path,
    split: &'a str,
    index: Option<&'a Path>,
    dump: Option<&'a Path>,
    dump_windows: Option<(&'a Path, usize)>,
    rerank: Option<&'a str>,
    keep_identical_ids: bool,
}

fn eval(
    target: &EvalTarget<'_>,
    runs: &[(SearchMode, Fusion)],
    candidates: usize,
    json: bool,
    model: &ModelArgs,
) -> Result<()> {
    let beir = Beir::load(target.dir, target.split)?;
    if beir.queries.is_empty() {
        bail!(
            "no judged queries for split {:?} in {}",
            target.split,
            target.dir.display()
        );
    }
    let tmp;
    let index = match target.index {
        Some(p) => p.to_owned(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().join("index")
        }
    };
    let mut builder = model.builder(&index);
    if let Some(spec) = target.rerank {
        builder = builder.reranker_spec(spec);
    }
    let collection = builder.open().context("opening the index")?;

    // Ingest (documents already indexed with the same content are skipped).
    let started = Instant::now();
    let progress = bar(beir.corpus.len() as u64, "indexing");
    for batch in beir.corpus.chunks(256) {
        collection.add_documents(
            batch
                .iter()
                .map(trawl::eval::BeirDoc::to_document)
                .collect(),
        )?;
        progress.inc(batch.len() as u64);
    }
    collection.commit()?;
    progress.finish_and_clear();
    let ingest_secs = started.elapsed().as_secs_f64();

    if let Some(path) = target.dump {
        dump_candidates(&collection, &beir, candidates, path)?;
    }
    if let Some((path, depth)) = target.dump_windows {
        dump_windows(&collection, &beir, candidates, depth, path)?;
    }
    let mut table = Vec::new();
    for &(mode, fusion) in runs {
        let options = SearchOptions {
            k: DEPTH * 3,
            mode,
            candidates,
            fusion,
            ..SearchOptions::default()
        };
        let search = |text: &str| collection.search_with(text, &options);
        let mut result = run_queries(&search, &beir, options.mode, target.keep_identical_ids)?;
        result["ingest_secs"] = json!(ingest_secs);
        if mode == SearchMode::Hybrid {
            result["fusion"] = json!(fusion.to_string());
            // Each retriever fetches at least as many as the search asks for.
            result["candidates"] = json!(candidates.max(options.k));
        }
        if let Some(spec) = target.rerank {
            result["rerank"] = json!(spec);
        }
        if json {
            println!("{result}");
        }
        table.push(result);
    }
    if !json {
        println!(
            "{} ({} split): {} queries, {} documents, ingest {ingest_secs:.1} s",
            target.dir.display(),
            target.split,
            beir.queries.len(),
            beir.corpus.len()
        );
        println!("| mode | fusion | nDCG@10 | recall@100 | MRR@10 | p50 ms | p99 ms |");
        println!("|---|---|---|---|---|---|---|");
        for r in table
            .iter()
            .filter(|r| r["failed_queries"].as_u64() > Some(0))
        {
            eprintln!(
                "warning: {} of {} queries failed in the {} run and scored 0",
                r["failed_queries"], r["queries"], r["mode"]
            );
        }
        for r in &table {
            println!(
                "| {} | {} | {:.4} | {:.4} | {:.4} | {:.2} | {:.2} |",
                r["mode"].as_str().unwrap_or_default(),
                r["fusion"].as_str().unwrap_or("-"),
                r["ndcg@10"].as_f64().unwrap_or_default(),
                r["recall@100"].as_f64().unwrap_or_default(),
                r["mrr@10"].as_f64().unwrap_or_default(),
                r["query_p50_ms"].as_f64().unwrap_or_default(),
                r["query_p99_ms"].as_f64().unwrap_or_default(),
            );
        }
    }
    Ok(())
}

/// Writes, per query, what the sentence-window reranker sees: the first `depth` chunk
/// hits of the default hybrid search (reranking off), each with its first-stage score,
/// its chunk's cosine to the query and its best window cosines (1, 2, 3 sentences).
fn dump_windows(
    collection: &Collection,
    beir: &Beir,
    candidates: usize,
    depth: usize,
    path: &Path,
) -> Result<()> {
    use std::io::Write;
    let embedder = collection
        .embedder()
        .context("dumping sentence windows needs a model")?;
    // Every sentence of the corpus fits in this cache; each is embedded once.
    let windows = trawl::SentenceWindows::new(embedder.clone())
        .max_sentences(3)
        .cache_capacity(1 << 20);
    // The first stage exactly as the evaluation runs it: each retriever fetches as many
    // candidates as there (the candidate count changes how fused scores normalise).
    let options = SearchOptions {
        k: depth,
        candidates: candidates.max(DEPTH * 3),
        rerank: false,
        ..SearchOptions::default()
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let progress = bar(beir.queries.len() as u64, "windows");
    for (qid, text) in &beir.queries {
        let hits = collection.search_with(text, &options)?;
        // Chunk cosines from a dense search as deep as the hybrid one's candidates
        // (null for a hit only the keyword side found).
        let dense: std::collections::HashMap<String, f32> = collection
            .search_with(
                text,
                &SearchOptions {
                    k: options.candidates,
                    mode: SearchMode::Dense,
                    ..options.clone()
                },
            )?
            .into_iter()
            .map(|h| (h.chunk_id, h.score))
            .collect();
        let q = embedder.embed_query(text)?;
        let texts: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
        let scores = windows.window_scores(&q, &texts)?;
        let hits: Vec<serde_json::Value> = hits
            .iter()
            .zip(&scores)
            .map(|(h, w)| json!([h.doc_id, h.score, dense.get(&h.chunk_id), w]))
            .collect();
        writeln!(out, "{}", json!({"qid": qid, "hits": hits}))?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(())
}

fn dump_candidates(collection: &Collection, beir: &Beir, depth: usize, path: &Path) -> Result<()> {
    use std::io::Write;
    let embedder = collection
        .embedder()
        .context("dumping candidates needs a model")?;
    let index = collection.index();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let progress = bar(beir.queries.len() as u64, "dumping");
    for (qid, text) in &beir.queries {
        let dense = index.search_vector(&embedder.embed_query(text)?, depth)?;
        let keyword = index.search_keyword(text, depth)?;
        let describe = |list: &[trawl::Scored]| -> Result<Vec<serde_json::Value>> {
            let ids: Vec<u64> = list.iter().map(|s| s.id).collect();
            let records: std::collections::HashMap<u64, _> =
                index.fetch(&ids)?.into_iter().collect();
            Ok(list
                .iter()
                .filter_map(|s| records.get(&s.id).map(|r| json!([s.id, r.doc_id, s.score])))
                .collect())
        };
        let signals = index.keyword_signals(text, keyword.first().map_or(0.0, |s| s.score))?;
        let terms = index.term_idfs(text)?;
        let line = json!({"qid": qid, "query": text, "coverage": signals.coverage, "mean_idf": signals.mean_idf, "terms": terms, "dense": describe(&dense)?, "keyword": describe(&keyword)?});
        writeln!(out, "{line}")?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(())
}

/// Documents ranked per query; chunks are grouped to documents, each scored by its best
/// chunk.
const DEPTH: usize = 100;

/// Runs every query through `search` and scores the ranked documents. A query whose
/// search fails is reported on stderr, scored as finding nothing and listed under
/// `failures`; the run goes on. Only a run in which every query fails is an error.
fn run_queries(
    search: &dyn Fn(&str) -> trawl::Result<Vec<trawl::Hit>>,
    beir: &Beir,
    mode: SearchMode,
    keep_identical_ids: bool,
) -> Result<serde_json::Value> {
    let progress = bar(beir.queries.len() as u64, mode.as_str());
    let (mut ndcg, mut recall, mut mrr, mut latencies) = (0.0, 0.0, 0.0, Vec::new());
    let mut failures = Vec::new();
    for (qid, text) in &beir.queries {
        let t = Instant::now();
        let hits = match search(text) {
            Ok(hits) => hits,
            Err(e) => {
                progress.suspend(|| eprintln!("warning: query {qid} failed: {e}"));
                failures.push(json!({"qid": qid, "error": e.to_string()}));
                progress.inc(1);
                continue;
            }
        };
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let mut seen = std::collections::HashSet::new();
        let ranked: Vec<String> = hits
            .into_iter()
            .filter(|h| keep_identical_ids || h.doc_id != *qid)
            .filter(|h| seen.insert(h.doc_id.clone()))
            .map(|h| h.doc_id)
            .take(DEPTH)
            .collect();
        let judged = &beir.qrels[qid];
        ndcg += ndcg_at(&ranked, judged, 10);
        recall += recall_at(&ranked, judged, 100);
        mrr += mrr_at(&ranked, judged, 10);
        progress.inc(1);
    }
    progress.finish_and_clear();
    if !beir.queries.is_empty() && failures.len() == beir.queries.len() {
        bail!(
            "every query failed ({} of them); the first: {}",
            failures.len(),
            failures[0]["error"].as_str().unwrap_or_default()
        );
    }
    let n = beir.queries.len() as f64;
    Ok(json!({
        "ndcg@10": ndcg / n,
        "recall@100": recall / n,
        "mrr@10": mrr / n,
        "queries": beir.queries.len(),
        "failed_queries": failures.len(),
        "failures": failures,
        "docs": beir.corpus.len(),
        "query_p50_ms": percentile(&latencies, 0.5),
        "query_p99_ms": percentile(&latencies, 0.99),
        "mode": mode.as_str(),
        "ignore_identical_ids": !keep_identical_ids,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beir(queries: &[(&str, &str)]) -> Beir {
        let mut b = Beir::default();
        for (qid, text) in queries {
            b.queries.push(((*qid).to_owned(), (*text).to_owned()));
            b.qrels.insert(
                (*qid).to_owned(),
                [("d1".to_owned(), 1)].into_iter().collect(),
            );
        }
        b
    }

    fn hit(doc_id: &str) -> trawl::Hit {
        trawl::Hit {
            chunk_id: format!("{doc_id}#0"),
            doc_id: doc_id.to_owned(),
            ordinal: 0,
            text: "t".to_owned(),
            score: 1.0,
            title: String::new(),
            source: None,
            format: "text".to_owned(),
            heading_path: Vec::new(),
            location: trawl::Location::default(),
            metadata: trawl::Metadata::new(),
            span: trawl::ChunkSpan::default(),
            tenant: String::new(),
        }
    }

    /// One failing query is reported and scored 0; the others are still measured.
    #[test]
    fn one_failing_query_does_not_stop_the_run() {
        let b = beir(&[("q1", "good"), ("q2", "bad"), ("q3", "good")]);
        let search = |text: &str| -> trawl::Result<Vec<trawl::Hit>> {
            if text == "bad" {
                Err(trawl::Error::Embedding("the model failed".into()))
            } else {
                Ok(vec![hit("d1")])
            }
        };
        let r = run_queries(&search, &b, SearchMode::Keyword, false).unwrap();
        assert_eq!(r["failed_queries"], 2 - 1);
        assert_eq!(r["failures"][0]["qid"], "q2");
        assert!(r["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("the model failed"));
        // Two of three queries found their document first.
        let mrr = r["mrr@10"].as_f64().unwrap();
        assert!((mrr - 2.0 / 3.0).abs() < 1e-9, "{mrr}");
        let fail_all = |_: &str| -> trawl::Result<Vec<trawl::Hit>> {
            Err(trawl::Error::Embedding("down".into()))
        };
        let e = run_queries(&fail_all, &b, SearchMode::Keyword, false).unwrap_err();
        assert!(e.to_string().contains("every query failed"), "{e}");
    }
}
