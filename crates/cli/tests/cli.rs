//! The `trawl` binary, driven as a user would.

mod common;

use std::path::{Path, PathBuf};

use common::{ok, trawl};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> PathBuf {
    let dir = std::env::var_os("TRAWL_MODEL")
        .map_or_else(|| root().join("models/all-MiniLM-L6-v2"), PathBuf::from);
    assert!(
        dir.join("model.safetensors").is_file(),
        "run models/fetch.sh first"
    );
    dir
}

/// A tiny BEIR-format benchmark where each query has one clearly right document.
fn tiny_beir(dir: &Path) {
    let docs = [
        (
            "d1",
            "Volcanoes",
            "Magma rises through the crust and erupts as lava from volcanoes.",
        ),
        (
            "d2",
            "Honeybees",
            "Worker bees dance to tell the hive where nectar-rich flowers are.",
        ),
        (
            "d3",
            "Glaciers",
            "Compacted snow turns to ice that flows slowly downhill as a glacier.",
        ),
        (
            "d4",
            "Chess",
            "The queen is the most powerful chess piece on the board.",
        ),
        (
            "d5",
            "Tea",
            "Green tea leaves are steamed or pan-fired to stop oxidation.",
        ),
    ];
    let corpus: Vec<String> = docs
        .iter()
        .map(|(id, title, text)| {
            serde_json::json!({"_id": id, "title": title, "text": text}).to_string()
        })
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus.join("\n")).unwrap();
    let queries = [
        ("q1", "how do bees communicate flower locations"),
        ("q2", "molten rock erupting from a mountain"),
        ("q3", "slow rivers of ice"),
        ("q9", "a query with no judgements in this split"),
    ];
    let queries: Vec<String> = queries
        .iter()
        .map(|(id, text)| serde_json::json!({"_id": id, "text": text}).to_string())
        .collect();
    std::fs::write(dir.join("queries.jsonl"), queries.join("\n")).unwrap();
    std::fs::create_dir(dir.join("qrels")).unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t1\nq3\td3\t1\n",
    )
    .unwrap();
}

#[test]
fn eval_prints_every_metric_as_one_json_object() {
    let beir = tempfile::tempdir().unwrap();
    tiny_beir(beir.path());
    let model = model();
    for mode in ["dense", "keyword", "hybrid"] {
        let out = ok(&[
            "eval",
            beir.path().to_str().unwrap(),
            "--mode",
            mode,
            "--json",
            "--model",
            model.to_str().unwrap(),
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        for key in [
            "ndcg@10",
            "recall@100",
            "mrr@10",
            "queries",
            "docs",
            "ingest_secs",
            "query_p50_ms",
            "query_p99_ms",
            "mode",
        ] {
            assert!(v.get(key).is_some(), "{mode}: missing {key} in {v}");
        }
        assert_eq!(v["queries"], 3);
        assert_eq!(v["docs"], 5);
        assert_eq!(v["mode"], mode);
        assert_eq!(v["recall@100"], 1.0, "{mode}: {v}");
        if mode != "keyword" {
            // Paraphrased queries: the model finds every answer first.
            assert_eq!(v["ndcg@10"], 1.0, "{mode}: {v}");
            assert_eq!(v["mrr@10"], 1.0, "{mode}: {v}");
        }
    }
}

#[test]
fn eval_reuses_a_given_index_and_works_keyword_only() {
    let beir = tempfile::tempdir().unwrap();
    tiny_beir(beir.path());
    let index = tempfile::tempdir().unwrap();
    let idx = index.path().join("idx");
    let args = [
        "eval",
        beir.path().to_str().unwrap(),
        "--keyword-only",
        "--mode",
        "keyword",
        "--json",
        "--index",
        idx.to_str().unwrap(),
    ];
    let first: Value = serde_json::from_str(ok(&args).trim()).unwrap();
    let second: Value = serde_json::from_str(ok(&args).trim()).unwrap();
    assert_eq!(first["ndcg@10"], second["ndcg@10"]);
    let stats: Value =
        serde_json::from_str(&ok(&["stats", "--index", idx.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(
        stats["documents"], 5,
        "re-running eval must not duplicate documents"
    );
}

#[test]
fn eval_drops_a_query_finding_itself_as_beir_does() {
    // As in ArguAna: the query is also a document (same id), and the answer is another.
    let beir = tempfile::tempdir().unwrap();
    let docs = [
        (
            "a1",
            "Cities should ban cars from their centres to cut air pollution.",
        ),
        (
            "a2",
            "Banning cars from centres hurts shops; pollution needs cleaner cars.",
        ),
        ("a3", "Honeybees dance to tell the hive where flowers are."),
    ];
    let corpus: Vec<String> = docs
        .iter()
        .map(|(id, text)| serde_json::json!({"_id": id, "title": "", "text": text}).to_string())
        .collect();
    std::fs::write(beir.path().join("corpus.jsonl"), corpus.join("\n")).unwrap();
    let query = serde_json::json!({"_id": "a1", "text": docs[0].1}).to_string();
    std::fs::write(beir.path().join("queries.jsonl"), query).unwrap();
    std::fs::create_dir(beir.path().join("qrels")).unwrap();
    std::fs::write(
        beir.path().join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\na1\ta2\t1\n",
    )
    .unwrap();
    let eval = |extra: &[&str]| -> Value {
        let mut args = vec![
            "eval",
            beir.path().to_str().unwrap(),
            "--keyword-only",
            "--mode",
            "keyword",
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(ok(&args).trim()).unwrap()
    };
    let dropped = eval(&[]);
    assert_eq!(dropped["ignore_identical_ids"], true);
    assert_eq!(dropped["mrr@10"], 1.0, "{dropped}");
    // Kept, the query finds itself first and its answer second.
    let kept = eval(&["--keep-identical-ids"]);
    assert_eq!(kept["ignore_identical_ids"], false);
    assert_eq!(kept["mrr@10"], 0.5, "{kept}");
}

#[test]
fn ingest_search_and_stats_on_the_sample_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    let idx = idx.to_str().unwrap();
    let corpus = root().join("examples/corpus");
    let model = model();
    let out = ok(&[
        "ingest",
        corpus.to_str().unwrap(),
        "--index",
        idx,
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(out.contains("6 added"), "{out}");
    // The summary says how the model computed: precision and CPU kernels.
    let path = trawl::CpuPath::selected().to_string();
    assert!(out.contains(&format!(", {path} kernels")), "{out}");

    // The model is recorded in the index: search needs only the index.
    let out = ok(&[
        "search",
        "who invented the lens used in lighthouses",
        "--index",
        idx,
        "-k",
        "2",
    ]);
    assert!(out.starts_with("1. ["), "{out}");
    assert!(out.contains("lighthouse-keepers.md"), "{out}");

    let hits: Value = serde_json::from_str(&ok(&[
        "search",
        "sourdough starter",
        "--index",
        idx,
        "--json",
        "--mode",
        "keyword",
    ]))
    .unwrap();
    let top = &hits[0];
    assert!(top["source"]
        .as_str()
        .unwrap()
        .ends_with("sourdough-bread.md"));
    assert!(top["text"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("starter"));
    assert!(top["heading_path"].is_array() && top["score"].is_number());

    let stats: Value = serde_json::from_str(&ok(&["stats", "--index", idx, "--json"])).unwrap();
    assert_eq!(stats["documents"], 6);
    assert_eq!(stats["dim"], 384);
    // Every chunk of the sample corpus has words the English analyzer keeps.
    assert_eq!(stats["chunks_without_terms"], 0);
    assert_eq!(stats["cpu_path"], path.as_str());
    assert!(stats["cpu"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        stats["precision"],
        trawl::Precision::default_for_cpu().to_string()
    );
    // models/fetch.sh put the Japanese and Korean dictionaries beside the model.
    let dictionaries: Vec<&str> = stats["dictionaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().split(':').next().unwrap())
        .collect();
    assert_eq!(dictionaries, ["ipadic", "mecab-ko-dic"]);
    let text = ok(&["stats", "--index", idx]);
    assert!(
        text.contains(&format!("kernels:    {path} on this CPU")),
        "{text}"
    );
    assert!(
        text.contains("dictionaries: ipadic, mecab-ko-dic"),
        "{text}"
    );

    // Ingesting again skips unchanged files.
    let out = ok(&["ingest", corpus.to_str().unwrap(), "--index", idx]);
    assert!(out.contains("0 added, 6 unchanged"), "{out}");
}

#[test]
fn a_binary_built_in_the_checkout_finds_its_model_from_any_directory() {
    model();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("tides.md"),
        "# Tides\n\nThe moon's pull raises the tides twice a day.",
    )
    .unwrap();
    let run = |args: &[&str], model: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trawl"));
        cmd.current_dir(tmp.path())
            .env_remove("TRAWL_MODEL")
            .args(args);
        if let Some(dir) = model {
            cmd.env("TRAWL_MODEL", dir);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "trawl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // No models/ here and no TRAWL_MODEL: the checkout's model, found from the binary.
    run(&["ingest", "tides.md", "--index", "idx"], None);
    let stats: Value =
        serde_json::from_str(&run(&["stats", "--index", "idx", "--json"], None)).unwrap();
    assert_eq!(stats["dim"], 384, "{stats}");
    // A keyword-only index is built even with TRAWL_MODEL set.
    run(
        &["ingest", "tides.md", "--index", "kw", "--keyword-only"],
        Some(&model()),
    );
    let out = run(
        &["search", "moon tides", "--index", "kw", "--mode", "keyword"],
        None,
    );
    assert!(out.contains("tides.md"), "{out}");
}

#[test]
fn ingest_summary_counts_seen_indexed_skipped_and_failed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("good.md"), "# Good\n\nSome text.\n").unwrap();
    std::fs::write(docs.join("broken.pdf"), "%PDF-1.7\ngarbage").unwrap();
    std::fs::write(docs.join("photo.png"), b"\x89PNG\r\n\x1a\n....").unwrap();
    let idx = tmp.path().join("idx");
    let args = [
        "ingest",
        docs.to_str().unwrap(),
        "--index",
        idx.to_str().unwrap(),
        "--keyword-only",
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let summary: Value = serde_json::from_str(&ok(&json_args)).unwrap();
    assert_eq!(summary["files"], 3, "{summary}");
    assert_eq!(summary["indexed"], 1, "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    let failure = &summary["failures"][0];
    assert!(
        failure["path"].as_str().unwrap().ends_with("broken.pdf"),
        "{summary}"
    );
    assert!(
        failure["reason"].as_str().unwrap().contains("pdf"),
        "{summary}"
    );

    let out = trawl(&args);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("3 files seen: 1 indexed, 1 skipped (unsupported), 1 failed"),
        "{stdout}"
    );
    assert!(
        stderr.contains("failed: ") && stderr.contains("broken.pdf"),
        "{stderr}"
    );
    assert!(stderr.contains("skipped (unsupported format): ") && stderr.contains("photo.png"));
}

#[test]
fn errors_are_reported_with_a_nonzero_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none");
    let out = trawl(&["search", "x", "--index", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no trawl index") && err.contains("none"),
        "{err}"
    );

    let out = trawl(&["eval", missing.to_str().unwrap(), "--keyword-only"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("corpus.jsonl"));

    let out = trawl(&["search", "x", "--index", "y", "--mode", "fuzzy"]);
    assert!(!out.status.success());
}

#[test]
fn eval_reranks_with_sentence_windows() {
    let beir = tempfile::tempdir().unwrap();
    tiny_beir(beir.path());
    let model = model();
    let out = ok(&[
        "eval",
        beir.path().to_str().unwrap(),
        "--json",
        "--model",
        model.to_str().unwrap(),
        "--rerank",
        "sentences:0.5:10:3",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["rerank"], "sentences:0.5:10:3");
    assert_eq!(v["queries"], 3);
    let bad = trawl(&[
        "eval",
        beir.path().to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--rerank",
        "sentences:5",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("WEIGHT"));
}

#[test]
fn eval_compare_runs_every_mode_and_fusion_over_one_ingest() {
    let beir = tempfile::tempdir().unwrap();
    tiny_beir(beir.path());
    let model = model();
    let dir = beir.path().to_str().unwrap();
    let out = ok(&[
        "eval",
        dir,
        "--compare",
        "--fusion",
        "rrf",
        "--fusion",
        "z:0.5",
        "--json",
        "--model",
        model.to_str().unwrap(),
        "--rerank",
        "mmr:0.9",
    ]);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let runs: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["mode"].as_str().unwrap().to_owned(),
                r["fusion"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("dense", "-"),
        ("keyword", "-"),
        ("hybrid", "rrf:60"),
        ("hybrid", "z:0.5"),
    ];
    assert_eq!(runs, expected.map(|(m, f)| (m.to_owned(), f.to_owned())));
    assert!(rows
        .iter()
        .all(|r| r["rerank"] == "mmr:0.9" && r["queries"] == 3));

    let table = ok(&["eval", dir, "--compare", "--model", model.to_str().unwrap()]);
    assert!(
        table.contains("| mode | fusion | nDCG@10 |")
            && table.contains("| hybrid | adaptive:0.5:0.2:4 |"),
        "{table}"
    );

    let bad = trawl(&["eval", dir, "--fusion", "z:7", "--keyword-only"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("between 0 and 1"));
}

#[test]
fn context_prints_cited_passages_within_the_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    let idx = idx.to_str().unwrap();
    let corpus = root().join("examples/corpus");
    ok(&[
        "ingest",
        corpus.to_str().unwrap(),
        "--index",
        idx,
        "--keyword-only",
    ]);
    let query = "lighthouse keepers trimming lamp wicks";
    let out = ok(&["context", query, "--index", idx, "--budget", "400"]);
    assert!(out.starts_with("[1] lighthouse-keepers.md, line "), "{out}");
    assert!(out.contains("wick"), "{out}");
    let ctx: Value = serde_json::from_str(&ok(&[
        "context", query, "--index", idx, "--budget", "400", "--json",
    ]))
    .unwrap();
    let tokens = ctx["tokens"].as_u64().unwrap();
    assert!(tokens > 0 && tokens <= 400, "{tokens}");
    let citations = ctx["citations"].as_array().unwrap();
    assert_eq!(citations[0]["number"], 1);
    for c in citations {
        let n = c["number"].as_u64().unwrap();
        assert!(ctx["text"].as_str().unwrap().contains(&format!("[{n}] ")));
    }
    // A bigger budget holds more, never more than asked.
    let big: Value = serde_json::from_str(&ok(&[
        "context", query, "--index", idx, "--budget", "3000", "--json",
    ]))
    .unwrap();
    let big_tokens = big["tokens"].as_u64().unwrap();
    assert!(big_tokens > tokens && big_tokens <= 3000, "{big_tokens}");
}

#[test]
fn an_int8_index_records_its_precision_and_reports_its_kernels() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "The harbour crane lifts containers.\n").unwrap();
    std::fs::write(docs.join("b.txt"), "Sourdough needs a lively starter.\n").unwrap();
    let idx = tmp.path().join("idx");
    let (idx, docs) = (idx.to_str().unwrap(), docs.to_str().unwrap());
    let model = model();
    let args = [
        "ingest",
        docs,
        "--index",
        idx,
        "--model",
        model.to_str().unwrap(),
        "--precision",
        "int8",
        "--json",
    ];
    let summary: Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(summary["embedding"]["precision"], "int8", "{summary}");
    assert_eq!(
        summary["embedding"]["cpu_path"],
        trawl::CpuPath::selected().to_string().as_str()
    );
    let stats: Value = serde_json::from_str(&ok(&["stats", "--index", idx, "--json"])).unwrap();
    assert_eq!(stats["precision"], "int8");
    let hits: Value = serde_json::from_str(&ok(&[
        "search",
        "bread fermentation",
        "--index",
        idx,
        "--mode",
        "dense",
        "--json",
    ]))
    .unwrap();
    assert!(
        hits[0]["doc_id"].as_str().unwrap().ends_with("b.txt"),
        "{hits}"
    );
}

/// Logs go to stderr: stage timings with -v, the portable path's warning always, and
/// `RUST_LOG` chooses for itself.
#[test]
fn verbose_ingest_logs_its_stages_and_the_portable_path_warns() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "The harbour crane lifts containers.\n").unwrap();
    let model = model();
    let run = |idx: &str, verbose: bool, env: &[(&str, &str)]| {
        let mut args = vec!["ingest", docs.to_str().unwrap(), "--index", idx];
        args.extend(["--model", model.to_str().unwrap()]);
        if verbose {
            args.push("-v");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trawl"))
            .args(&args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
    let quiet = run(&dir("quiet"), false, &[]);
    assert!(!quiet.contains("ingest done"), "{quiet}");
    let verbose = run(&dir("verbose"), true, &[]);
    assert!(
        verbose.contains("ingest done") && verbose.contains("ms="),
        "{verbose}"
    );
    let debug = run(&dir("debug"), false, &[("RUST_LOG", "trawl=debug")]);
    assert!(debug.contains("embedded and indexed a batch"), "{debug}");
    let portable = run(&dir("portable"), false, &[("TRAWL_CPU_PATH", "portable")]);
    assert!(portable.contains("portable kernels"), "{portable}");
}

/// Copies every file of `from` into `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn check_finds_a_stale_vector_graph_and_repair_rebuilds_it() {
    let model = model();
    let tmp = tempfile::tempdir().unwrap();
    let corpus = root().join("examples/corpus");
    let (stale, good) = (tmp.path().join("stale"), tmp.path().join("good"));
    for idx in [&stale, &good] {
        ok(&[
            "ingest",
            corpus.to_str().unwrap(),
            "--index",
            idx.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ]);
    }
    let out = ok(&["check", "--index", good.to_str().unwrap()]);
    assert!(out.trim_end().ends_with("ok"), "{out}");
    // Half the documents deleted: the graph is compacted without their chunks and
    // saved. That graph put beside the full store lacks chunks it claims to cover.
    let docs: Value = serde_json::from_str(&ok(&[
        "stats",
        "--index",
        stale.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(docs["documents"], 6);
    for name in ["sourdough-bread.md", "solar-panels.md", "rust-ownership.md"] {
        let id = corpus.join(name);
        ok(&[
            "delete",
            id.to_str().unwrap(),
            "--index",
            stale.to_str().unwrap(),
        ]);
    }
    copy_dir(&stale.join("hnsw"), &good.join("hnsw"));

    let out = trawl(&["check", "--index", good.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = report["missing_from_graph"]["count"].as_u64().unwrap();
    assert!(missing > 0, "{report}");
    assert_eq!(report["chunks"], docs["chunks"]);

    let out = ok(&["check", "--index", good.to_str().unwrap(), "--repair"]);
    assert!(
        out.contains("repaired:      rebuilt the vector graph"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");
    let out = ok(&["check", "--index", good.to_str().unwrap()]);
    assert!(out.trim_end().ends_with("ok"), "{out}");
}

#[test]
fn ingest_with_shards_writes_a_set_that_search_and_context_read_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (single, set) = (tmp.path().join("single"), tmp.path().join("set"));
    let corpus = root().join("examples/corpus");
    let model = model();
    let ingest = |index: &Path, extra: &[&str]| {
        let mut args = vec![
            "ingest",
            corpus.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str::<Value>(&ok(&args)).unwrap()
    };
    let one = ingest(&single, &[]);
    let three = ingest(&set, &["--shards", "3"]);
    assert_eq!(one["chunks"], three["chunks"]);
    assert!(set.join("shards.json").is_file() && set.join("shard-002").is_dir());
    // Again, without --shards: the set is found and nothing changed is re-added.
    let again = ingest(&set, &[]);
    assert_eq!(again["documents_added"], 0);
    for mode in ["keyword", "dense", "hybrid"] {
        let search = |index: &Path| {
            let out = ok(&[
                "search",
                "lighthouse lens",
                "--index",
                index.to_str().unwrap(),
                "--mode",
                mode,
                "-k",
                "5",
                "--json",
            ]);
            let hits: Value = serde_json::from_str(&out).unwrap();
            hits.as_array()
                .unwrap()
                .iter()
                .map(|h| h["chunk_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(search(&set), search(&single), "{mode}");
    }
    let out = ok(&[
        "context",
        "lighthouse keepers",
        "--index",
        set.to_str().unwrap(),
    ]);
    assert!(out.starts_with("[1] lighthouse-keepers.md"), "{out}");
    let out = trawl(&[
        "ingest",
        corpus.to_str().unwrap(),
        "--index",
        set.to_str().unwrap(),
        "--prune",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard set"), "{err}");
}

#[test]
fn extract_prints_what_each_file_reads_as_or_why_not() {
    let fixtures = root().join("crates/ingest/tests/fixtures");
    let odt = fixtures.join("simpletable.odt");
    let epub = fixtures.join("live-manual.en.epub");
    let out = ok(&["extract", odt.to_str().unwrap()]);
    assert!(
        out.contains("(odt, 1 sections)") && out.contains("[table]"),
        "{out}"
    );
    assert!(out.contains("Cell 1 | Cell 2"), "{out}");
    let json: Value =
        serde_json::from_str(&ok(&["extract", epub.to_str().unwrap(), "--json"])).unwrap();
    let doc = &json[0]["documents"][0];
    assert_eq!(doc["format"], "epub");
    assert_eq!(doc["title"], "Live Systems Manual");
    assert_eq!(doc["sections"][0]["location"]["chapter"], 1);
    // A broken file: its typed error, and a failing exit status.
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.7\n%\xe2\xe3 truncated").unwrap();
    let out = trawl(&["extract", broken.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["error"]["kind"], "malformed");
    // Unsupported files are reported and do not fail the run.
    let png = tmp.path().join("logo.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nxxxx").unwrap();
    let out = ok(&["extract", png.to_str().unwrap()]);
    assert!(out.contains("skipped"), "{out}");
}

/// `trawl tune` learns from a BEIR split, from JSON Lines pairs and from feedback
/// recorded with `trawl feedback`, on a tiny committed model, and writes a model
/// directory that `trawl ingest` then uses.
#[test]
fn tune_learns_from_judgements_pairs_and_feedback() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    let beir = tmp.path().join("beir");
    std::fs::create_dir(&beir).unwrap();
    tiny_beir(&beir);
    let corpus = beir.join("corpus.jsonl").display().to_string();
    let tiny = root()
        .join("crates/core/tests/fixtures/tiny-multilingual-bert")
        .display()
        .to_string();
    std::fs::write(
        path("pairs.jsonl"),
        "{\"query\": \"tea leaves\", \"positive\": \"Green tea leaves are steamed.\"}\n\n\
         {\"anchor\": \"chess queen\", \"positive\": \"The queen moves far.\", \"negative\": \"Tea.\"}\n",
    )
    .unwrap();
    let index = path("idx");
    ok(&["ingest", "--model", &tiny, "--index", &index, &corpus]);
    ok(&["feedback", "volcano lava", &corpus, "--index", &index]);
    // A document the index does not hold is refused.
    let refused = trawl(&["feedback", "volcano lava", "no-such-doc", "--index", &index]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no document"));

    let out = path("tuned");
    let report = ok(&[
        "tune",
        "--model",
        &tiny,
        "--out",
        &out,
        "--train",
        &beir.display().to_string(),
        "--split",
        "test",
        "--pairs",
        &path("pairs.jsonl"),
        "--index",
        &index,
        "--feedback",
        "--hard-negatives",
        "--reembed",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--json",
    ]);
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    // 3 judged queries, 2 pairs from the file, 1 from feedback.
    assert_eq!(report["pairs"], 6, "{report}");
    assert_eq!(report["complete"], true);
    assert_eq!(report["steps"], 4);
    assert!(tmp.path().join("tuned/model.safetensors").is_file());
    assert_eq!(report["reembedded"]["documents"], 1, "{report}");
    let stats = ok(&["stats", "--index", &index]);
    assert!(stats.contains("tuned"), "{stats}");
    ok(&["ingest", "--model", &out, "--index", &path("idx2"), &corpus]);
}

/// A `trawl tune` process killed after a checkpoint resumes from it when run again,
/// and ends with the weights of a run that was never killed.
#[test]
fn a_killed_tune_resumes_from_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let beir = tmp.path().join("beir");
    std::fs::create_dir(&beir).unwrap();
    tiny_beir(&beir);
    let tiny = root()
        .join("crates/core/tests/fixtures/tiny-multilingual-bert")
        .display()
        .to_string();
    let args = |out: &Path| -> Vec<String> {
        [
            "tune",
            "--model",
            &tiny,
            "--out",
            &out.display().to_string(),
            "--train",
            &beir.display().to_string(),
            "--split",
            "test",
            "--epochs",
            "100",
            "--batch-size",
            "2",
            "--checkpoint-every",
            "5",
            "--json",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let whole = tmp.path().join("whole");
    let refs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    let whole_args = args(&whole);
    ok(&whole_args.iter().map(String::as_str).collect::<Vec<_>>());

    let killed = tmp.path().join("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args(&killed))
        .env_remove("TRAWL_MODEL")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let latest = killed.join("checkpoints/latest.json");
    let started = std::time::Instant::now();
    while !latest.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no checkpoint from {}",
            refs(&args(&killed))
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();
    if killed.join("model.safetensors").exists() {
        // The run finished before the kill landed: nothing left to resume.
        return;
    }
    let report = ok(&args(&killed).iter().map(String::as_str).collect::<Vec<_>>());
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    // Checkpoints come at each epoch's end (2 steps) and every 5 steps.
    let resumed_at = report["resumed_at"].as_u64().unwrap();
    assert!((2..200).contains(&resumed_at), "resumed at {resumed_at}");
    assert_eq!(
        std::fs::read(whole.join("model.safetensors")).unwrap(),
        std::fs::read(killed.join("model.safetensors")).unwrap()
    );
}
