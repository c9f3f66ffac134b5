//! `trawl eval`: retrieval quality on a BEIR-format dataset.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;
use trawl::{AddOptions, Fusion, SearchMode, SearchOptions};
use trawl_eval::{mrr_at, ndcg_at, percentile, recall_at, Beir};

use crate::args::ModelArgs;
use crate::output::bar;

pub(crate) struct EvalTarget<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) split: &'a str,
    pub(crate) index: Option<&'a Path>,
    pub(crate) rerank: Option<&'a str>,
    pub(crate) keep_identical_ids: bool,
}

pub(crate) fn eval(
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
            batch.iter().map(trawl_eval::BeirDoc::to_document).collect(),
            &AddOptions::default(),
        )?;
        progress.inc(batch.len() as u64);
    }
    collection.commit()?;
    progress.finish_and_clear();
    let ingest_secs = started.elapsed().as_secs_f64();

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

/// Documents ranked per query; chunks are grouped to documents, each scored by its best
/// chunk.
pub(crate) const DEPTH: usize = 100;

/// Runs every query through `search` and scores the ranked documents. A query whose
/// search fails is reported on stderr, scored as finding nothing and listed under
/// `failures`; the run goes on. Only a run in which every query fails is an error.
pub(crate) fn run_queries(
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
                Err(trawl::Error::embedding("the model failed"))
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
        let fail_all =
            |_: &str| -> trawl::Result<Vec<trawl::Hit>> { Err(trawl::Error::embedding("down")) };
        let e = run_queries(&fail_all, &b, SearchMode::Keyword, false).unwrap_err();
        assert!(e.to_string().contains("every query failed"), "{e}");
    }
}
