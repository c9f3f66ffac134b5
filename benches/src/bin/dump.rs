//! Writes what trawl's retrievers and rerankers see on a BEIR-format dataset, as JSON
//! lines, for studying fusion and reranking offline (benches/quality/*_study.py).
//!
//! ```text
//! cargo run --release -p trawl-benches --bin dump -- candidates BEIR_DIR --split train \
//!     --index IDX --out candidates-train.jsonl [--depth 300]
//! cargo run --release -p trawl-benches --bin dump -- windows BEIR_DIR --split train \
//!     --index IDX --out windows-train.jsonl [--depth 40] [--candidates 300]
//! ```
//!
//! - `candidates`: per query, the dense and keyword candidate lists (chunk id,
//!   document id, raw score), the keyword signals (coverage, mean IDF) and each query
//!   term's IDF.
//! - `windows`: per query, the default hybrid search's first `depth` chunk hits
//!   (reranking off), each with its first-stage score, its chunk's cosine to the query
//!   and its best sentence-window cosines for windows of 1 to 3 sentences.
//!
//! The corpus is indexed into `--index` first (documents already there with the same
//! content are skipped), with the model in `$TRAWL_MODEL` or models/.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use trawl::{AddOptions, Collection, SearchMode, SearchOptions, SentenceWindows};
use trawl_eval::{Beir, BeirDoc};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Hybrid candidates per retriever, as `trawl eval` fetches them by default.
const EVAL_CANDIDATES: usize = 300;

fn main() -> AnyResult<()> {
    let mut args = std::env::args().skip(1);
    let what = args
        .next()
        .ok_or("usage: dump candidates|windows BEIR_DIR ...")?;
    let dir = PathBuf::from(args.next().ok_or("BEIR_DIR")?);
    let (mut split, mut index, mut out) = ("test".to_owned(), None, None);
    let (mut depth, mut candidates) = (None, EVAL_CANDIDATES);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--split" => split = args.next().ok_or("--split S")?,
            "--index" => index = Some(PathBuf::from(args.next().ok_or("--index DIR")?)),
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out FILE")?)),
            "--depth" => depth = Some(args.next().ok_or("--depth N")?.parse()?),
            "--candidates" => candidates = args.next().ok_or("--candidates N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let index = index.ok_or("--index DIR is required")?;
    let out = out.ok_or("--out FILE is required")?;
    let beir = Beir::load(&dir, &split)?;
    let collection = indexed(&beir, &index)?;
    match what.as_str() {
        "candidates" => dump_candidates(&collection, &beir, depth.unwrap_or(300), &out),
        "windows" => dump_windows(&collection, &beir, candidates, depth.unwrap_or(40), &out),
        other => Err(format!("unknown dump {other} (candidates or windows)").into()),
    }
}

/// The dataset's corpus in the collection at `index`, opened with the model in
/// `$TRAWL_MODEL` (or models/) at the precision the collection records (a new one: this
/// CPU's default), so that passages and queries are embedded as `trawl eval` embeds
/// them.
fn indexed(beir: &Beir, index: &Path) -> AnyResult<Collection> {
    let collection = Collection::builder(index)
        .model_dir(trawl_benches::model_dir())
        .open()?;
    for batch in beir.corpus.chunks(256) {
        let docs = batch.iter().map(BeirDoc::to_document).collect();
        collection.add_documents(docs, &AddOptions::default())?;
    }
    collection.commit()?;
    Ok(collection)
}

fn dump_candidates(
    collection: &Collection,
    beir: &Beir,
    depth: usize,
    path: &Path,
) -> AnyResult<()> {
    let embedder = collection
        .embedder()
        .ok_or("dumping candidates needs a model")?;
    let index = collection.index();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (qid, text) in &beir.queries {
        let dense = index.search_vector(&embedder.embed_query(text)?, depth, None)?;
        let keyword = index.search_keyword(text, depth, None)?;
        let describe = |list: &[trawl::Scored]| -> AnyResult<Vec<serde_json::Value>> {
            let ids: Vec<u64> = list.iter().map(|s| s.id).collect();
            let records: HashMap<u64, _> = index.fetch(&ids)?.into_iter().collect();
            Ok(list
                .iter()
                .filter_map(|s| records.get(&s.id).map(|r| json!([s.id, r.doc_id, s.score])))
                .collect())
        };
        let signals = index.keyword_signals(text, keyword.first().map_or(0.0, |s| s.score))?;
        let terms = index.term_idfs(text)?;
        let read = embedder
            .token_stats(text)
            .map(|t| json!({"tokens": t.tokens, "unknown": t.unknown, "words": t.words, "chars": t.chars, "unknown_chars": t.unknown_chars}));
        let line = json!({
            "qid": qid,
            "query": text,
            "coverage": signals.coverage,
            "mean_idf": signals.mean_idf,
            "terms": terms,
            "read": read,
            "dense": describe(&dense)?,
            "keyword": describe(&keyword)?,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

fn dump_windows(
    collection: &Collection,
    beir: &Beir,
    candidates: usize,
    depth: usize,
    path: &Path,
) -> AnyResult<()> {
    let embedder = collection
        .embedder()
        .ok_or("dumping sentence windows needs a model")?;
    // Every sentence of the corpus fits in this cache; each is embedded once.
    let windows = SentenceWindows::new(embedder.clone())
        .max_sentences(3)
        .cache_capacity(1 << 20);
    // The first stage exactly as the evaluation runs it (the candidate count changes how
    // fused scores normalise).
    let options = SearchOptions {
        k: depth,
        candidates,
        rerank: false,
        ..SearchOptions::default()
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (qid, text) in &beir.queries {
        let hits = collection.search_with(text, &options)?;
        // Chunk cosines from a dense search as deep as the hybrid one's candidates
        // (null for a hit only the keyword side found).
        let dense_options = SearchOptions {
            k: options.candidates,
            mode: SearchMode::Dense,
            ..options.clone()
        };
        let dense: HashMap<String, f32> = collection
            .search_with(text, &dense_options)?
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
    }
    out.flush()?;
    Ok(())
}
