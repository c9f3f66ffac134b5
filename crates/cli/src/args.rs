//! The command line: commands, their arguments and defaults.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use trawl::{
    ChunkOptions, Collection, CollectionBuilder, Filter, Fusion, Language, SearchMode,
    SearchOptions,
};

#[derive(Parser)]
#[command(
    name = "trawl",
    version,
    about = "Hybrid search over your documents, in one directory."
)]
pub(crate) struct Cli {
    /// Log more to stderr: -v for each ingest stage's timings, -vv for every batch.
    /// `RUST_LOG` (e.g. `RUST_LOG=trawl=debug`) overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
        /// Write a shard set of this many shards at the index directory (created if
        /// missing): each document goes to one shard by a hash of its tenant and id,
        /// and `search` and `context` search the set as one index. An existing shard
        /// set is written without it.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=4096))]
        shards: Option<u16>,
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
    /// Print what trawl reads from files (sections with their kind, headings, location
    /// and text; title and metadata), or why it cannot, without indexing anything.
    Extract {
        /// Files or folders (walked as `ingest` walks them).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print as JSON: one object per file, with its documents or its error.
        #[arg(long)]
        json: bool,
        /// Largest file to read, in MiB.
        #[arg(long, default_value_t = 64)]
        max_file_mb: u64,
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
    /// Verify an index: store checksums, every chunk, and the vector graph against
    /// the vectors. Exits with status 1 when a problem remains.
    Check {
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// Rebuild what can be rebuilt (the vector graph, from the vector files).
        #[arg(long)]
        repair: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record whether a document answers a query (relevance feedback, kept with the
    /// index per tenant; `trawl tune --feedback` learns from it).
    Feedback {
        /// The query as searched.
        query: String,
        /// The document judged (its id as search prints it).
        doc_id: String,
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// The document does not answer the query.
        #[arg(long)]
        not_relevant: bool,
        /// The tenant the document belongs to.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Fine-tune the embedding model on your own data: a BEIR benchmark's judged
    /// queries (--train) or JSON Lines pairs (--pairs). Writes a model directory in
    /// the sentence-transformers layout; run again to resume an interrupted run.
    Tune {
        /// The tuned model's directory (new, or an unfinished run to resume).
        #[arg(long)]
        out: PathBuf,
        /// Base model directory (default: as for a new index).
        #[arg(long)]
        model: Option<PathBuf>,
        /// A BEIR-format folder whose judged queries and documents become pairs.
        #[arg(long, value_name = "BEIR_DIR")]
        train: Option<PathBuf>,
        /// The qrels split of --train to learn from.
        #[arg(long, default_value = "train")]
        split: String,
        /// JSON Lines files of {"query", "positive"[, "negative"]} objects.
        #[arg(long = "pairs", value_name = "FILE")]
        pair_files: Vec<PathBuf>,
        /// The index the model serves: the source of --label-free pairs, --feedback
        /// and --hard-negatives.
        #[arg(long)]
        index: Option<PathBuf>,
        /// Also make pairs from the index's own text, without labels: headings
        /// (a section's heading to its text), sentences (a sentence to the rest of its
        /// passage), questions (a question to its answer); comma-separated.
        #[arg(long, value_name = "SOURCES", num_args = 0..=1, default_missing_value = "headings,sentences,questions", value_delimiter = ',')]
        label_free: Option<Vec<trawl::tune::PairSource>>,
        /// Most label-free pairs.
        #[arg(long, default_value_t = 20_000, value_name = "N")]
        max_pairs: usize,
        /// Also learn from the relevance feedback recorded in the index.
        #[arg(long)]
        feedback: bool,
        /// The tenant whose documents and feedback to learn from.
        #[arg(long)]
        tenant: Option<String>,
        /// Give each pair a hard negative: a top keyword hit for its query in the
        /// index that is not its answer.
        #[arg(long)]
        hard_negatives: bool,
        /// Then re-embed the index with the tuned model, in one commit (searches see
        /// the old vectors until it lands), and record it as the index's model.
        #[arg(long, requires = "index")]
        reembed: bool,
        /// Passes over the pairs.
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        /// Pairs per step (each query's negatives are the batch's other passages).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Peak learning rate.
        #[arg(long, default_value_t = 2e-5)]
        lr: f64,
        /// Seed of the pair order.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Most tokens one forward pass holds; larger batches run in pieces.
        #[arg(long, default_value_t = 2048)]
        token_budget: usize,
        /// Most tokens per text (default: the model's limit).
        #[arg(long)]
        max_tokens: Option<usize>,
        /// Also checkpoint every N steps (default: at each epoch's end).
        #[arg(long, default_value_t = 0, value_name = "N")]
        checkpoint_every: usize,
        /// Stop after N steps in this call (checkpointed; the same command resumes).
        #[arg(long, value_name = "N")]
        max_steps: Option<usize>,
        /// Print the report as JSON.
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
        /// Score a hit whose document id is its query's id. By default such a hit is
        /// dropped before scoring, as BEIR's own evaluation does: in ArguAna and Quora
        /// each query is also a document, and finding itself is no answer.
        #[arg(long)]
        keep_identical_ids: bool,
    },
}

#[derive(clap::Args)]
pub(crate) struct Tuning {
    /// How hybrid search fuses the lists: adaptive, adaptive:W:C:I, rrf, rrf:K, wrrf:W,
    /// minmax:W, z:W (W is the keyword weight, 0..1; C the full coverage, I the full IDF).
    #[arg(long, default_value = "adaptive")]
    pub(crate) fusion: Fusion,
    /// Candidates each retriever fetches before fusion.
    #[arg(long, default_value_t = 100)]
    pub(crate) candidates: usize,
    /// Only chunks matching this filter, e.g. 'format = "pdf" AND year >= 2020'
    /// (=, !=, <, <=, >, >=, IN (...), CONTAINS; AND, OR, NOT, parentheses; dates
    /// as 2021-03-04). Fields: metadata keys, format, source, doc_id.
    #[arg(long)]
    pub(crate) filter: Option<Filter>,
    /// Only chunks of this tenant.
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// `parent`: return each hit's whole parent section (one per section) instead of
    /// the matching chunk.
    #[arg(long, value_enum)]
    pub(crate) expand: Option<Expand>,
}

/// What a hit grows into.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Expand {
    /// The section the chunk belongs to.
    Parent,
}

impl Tuning {
    /// Search options with these settings.
    pub(crate) fn options(self, k: usize, mode: SearchMode) -> SearchOptions {
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
pub(crate) struct ModelArgs {
    /// Model directory (sentence-transformers layout). Default for a new index:
    /// $TRAWL_MODEL, else models/all-MiniLM-L6-v2 in the current directory, else in the
    /// checkout this binary was built in. An existing index uses the model it records.
    #[arg(long)]
    pub(crate) model: Option<PathBuf>,
    /// Build a keyword-only index (no model needed; a model given, or set in
    /// TRAWL_MODEL, is not used).
    #[arg(long)]
    pub(crate) keyword_only: bool,
    /// Language of the keyword analyzer for a new index: auto (each chunk analyzed in
    /// the language detected in it), or one for every chunk (english, german, ...,
    /// plain).
    #[arg(long, default_value = "auto")]
    pub(crate) language: Language,
    /// Most characters per chunk (new index).
    #[arg(long, value_name = "N")]
    pub(crate) max_chars: Option<usize>,
    /// Most model tokens per chunk (new index; capped by the model's limit).
    #[arg(long, value_name = "N")]
    pub(crate) max_tokens: Option<usize>,
    /// What neighbouring chunks repeat: none, tokens:N, chars:N or sentences:N.
    #[arg(long, value_name = "OVERLAP")]
    pub(crate) overlap: Option<trawl::Overlap>,
    /// Embed each chunk with its document title and heading path in front.
    #[arg(long)]
    pub(crate) context_prefix: bool,
    /// Precision of the model's matrix products for a new index: f32, bf16 (AVX-512
    /// BF16; vectors within cosine 0.999) or int8 (any CPU; within cosine 0.99);
    /// recorded with the index. Default: bf16 where the CPU has AMX, int8 on other
    /// AVX2 and AVX-512 CPUs, else f32.
    #[arg(long)]
    pub(crate) precision: Option<trawl::Precision>,
    /// How vector searches walk the graph of a new index: int8 (the default: one byte
    /// a dimension, a quarter of the memory; the hits found are rescored with the
    /// full-precision vectors), binary (one bit a dimension; needs a wider beam for
    /// the same recall) or none (full-precision vectors throughout).
    #[arg(long)]
    pub(crate) quantization: Option<trawl::Quantization>,
}

impl ModelArgs {
    /// A builder for `index`: the given model, else the one the index records, else
    /// the default location.
    pub(crate) fn builder(&self, index: &Path) -> CollectionBuilder {
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
        if let Some(quantization) = self.quantization {
            builder = builder.quantization(quantization);
        }
        if self.keyword_only {
            return builder.keyword_only();
        }
        match &self.model {
            Some(dir) => builder.model_dir(dir),
            None if Collection::exists(index) => builder,
            // With none found, the builder's error says where it looked.
            None => match trawl::default_model_dir(None).or_else(model_beside_exe) {
                Some(dir) => builder.model_dir(dir),
                None => builder,
            },
        }
    }
}

/// The model of the checkout this binary was built in (`target/release/trawl` finds
/// the checkout's `models/` two or three directories up), if there is one.
pub(crate) fn model_beside_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join(trawl::DEFAULT_MODEL_DIR))
        .find(|dir| dir.is_dir())
}
