//! Scale harness: builds an index of N chunks straight through `trawl_index::Index` and
//! measures build time, size on disk, memory, open time, query latency (dense, keyword,
//! hybrid; one thread and two), recall against exact search, filters, and how fast a
//! small batch added to the big index becomes searchable.
//!
//! Texts are SciFact passages repeated with variation; vectors are synthetic 384-d unit
//! vectors with a low-dimensional cluster structure (so a graph search has real work to
//! do), derived deterministically from each chunk's number, so the run never waits on
//! the embedding model. Everything the Python comparison (`benches/scale/compare.py`)
//! needs is written next to the index: vectors, texts, queries and the exact neighbours.
//!
//! ```text
//! cargo run --release -p trawl-benches --bin scale -- --chunks 100000
//! cargo run --release -p trawl-benches --bin scale -- --smoke
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use trawl::{reciprocal_rank_fusion, Scored, RRF_K};
use trawl_index::{Filter, HnswParams, Index, IndexOptions, Language, Record};

/// `--features mimalloc` measures the harness with mimalloc as the global allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DIM: usize = 384;
/// Dimension of the latent space the vectors are drawn in before projection.
const LATENT: usize = 48;
const TOPICS: u64 = 256;
const K: usize = 10;
/// Candidates per retriever in a hybrid search (as `SearchOptions::default()`).
const CANDIDATES: usize = 100;
/// `bucket = 7` keeps one chunk in this many (0.5%).
const BUCKETS: u64 = 200;
const ADDED: usize = 1_000;

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = Config::parse(&args)?;
    if cfg.serve {
        let report = serve(&cfg)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let build_report = if cfg.remeasure {
        // build.json is written as soon as the build ends, so a long build survives a
        // failed or interrupted serve phase.
        let old = std::fs::read(cfg.dir.join("build.json"))
            .or_else(|_| std::fs::read(cfg.dir.join("results.json")))?;
        let old: Value = serde_json::from_slice(&old)?;
        old["build"].clone()
    } else {
        let report = build(&cfg)?;
        std::fs::write(
            cfg.dir.join("build.json"),
            serde_json::to_vec_pretty(&json!({ "config": cfg.to_json(), "build": report }))?,
        )?;
        report
    };
    if cfg.build_only {
        return Ok(());
    }
    // Serving is measured in a fresh process, so its peak memory is the index's alone.
    let exe = std::env::current_exe()?;
    let mut child_args = args.clone();
    child_args.push("--serve".into());
    let out = std::process::Command::new(exe).args(&child_args).output()?;
    if !out.status.success() {
        return Err(format!(
            "serve phase failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let serve_report: Value = serde_json::from_slice(&out.stdout)?;
    let report = json!({ "config": cfg.to_json(), "build": build_report, "serve": serve_report });
    std::fs::write(
        cfg.dir.join("results.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    let table = markdown(&report);
    std::fs::write(cfg.dir.join("results.md"), &table)?;
    println!("{table}");
    println!(
        "(written to {})",
        cfg.dir.join("results.{json,md}").display()
    );
    if !cfg.keep {
        std::fs::remove_dir_all(cfg.dir.join("index"))?;
    }
    Ok(())
}

struct Config {
    chunks: usize,
    queries: usize,
    rounds: usize,
    dir: PathBuf,
    hnsw: HnswParams,
    commit_every: usize,
    keep: bool,
    serve: bool,
    remeasure: bool,
    build_only: bool,
    /// Write `vectors.f32` (the baselines' input for compare.py).
    vectors_file: bool,
    /// `--ef-search` was given: it also applies to a kept index (`--remeasure`).
    ef_search_given: bool,
}

impl Config {
    fn parse(args: &[String]) -> AnyResult<Config> {
        let mut cfg = Config {
            chunks: 100_000,
            queries: 500,
            rounds: 3,
            dir: PathBuf::new(),
            hnsw: HnswParams::default(),
            commit_every: 250_000,
            keep: false,
            serve: false,
            remeasure: false,
            build_only: false,
            vectors_file: true,
            ef_search_given: false,
        };
        let mut dir = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || -> AnyResult<&String> {
                it.next().ok_or_else(|| format!("{a} needs a value").into())
            };
            match a.as_str() {
                "--chunks" => cfg.chunks = value()?.parse()?,
                "--queries" => cfg.queries = value()?.parse()?,
                "--rounds" => cfg.rounds = value()?.parse()?,
                "--dir" => dir = Some(PathBuf::from(value()?)),
                "--m" => cfg.hnsw.max_connections = value()?.parse()?,
                "--ef-construction" => cfg.hnsw.ef_construction = value()?.parse()?,
                "--quantization" => cfg.hnsw.quantization = value()?.parse()?,
                "--ef-search" => {
                    cfg.hnsw.ef_search = value()?.parse()?;
                    cfg.ef_search_given = true;
                }
                "--commit-every" => cfg.commit_every = value()?.parse()?,
                "--keep" => cfg.keep = true,
                "--serve" => cfg.serve = true,
                "--remeasure" => cfg.remeasure = true,
                "--no-vectors-file" => cfg.vectors_file = false,
                "--build-only" => {
                    cfg.build_only = true;
                    cfg.keep = true;
                }
                "--smoke" => {
                    cfg.chunks = 3_000;
                    cfg.queries = 20;
                    cfg.rounds = 1;
                }
                "-h" | "--help" => {
                    println!(
                        "scale [--chunks N] [--queries Q] [--rounds R] [--dir DIR] [--m M] \
                         [--ef-construction N] [--ef-search N] [--quantization none|int8|binary] [--commit-every N]\n\
                         [--keep] [--smoke] [--no-vectors-file]\n\
                         --remeasure measures a kept index (--keep) again without building it\n\
                         (--ef-search applies to it; the other HNSW parameters are the build's)\n\
                         --build-only builds and keeps the index (build.json), measures nothing\n\
                         --no-vectors-file skips vectors.f32 (compare.py's input: 1.5 GB per 1M chunks)"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}").into()),
            }
        }
        cfg.dir = dir.unwrap_or_else(|| {
            trawl_benches::root()
                .join("target/scale")
                .join(cfg.chunks.to_string())
        });
        Ok(cfg)
    }

    fn to_json(&self) -> Value {
        json!({
            "chunks": self.chunks, "queries": self.queries, "rounds": self.rounds,
            "m": self.hnsw.max_connections, "ef_construction": self.hnsw.ef_construction,
            "ef_search": self.hnsw.ef_search, "commit_every": self.commit_every,
            "quantization": format!("{:?}", self.hnsw.quantization).to_lowercase(),
            "dim": DIM, "k": K, "hybrid_candidates": CANDIDATES,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Data: passages, vectors, queries.

/// A SciFact passage: a few sentences of one abstract.
struct Passage {
    doc: String,
    title: String,
    ordinal: u32,
    text: String,
}

fn passages() -> AnyResult<Vec<Passage>> {
    let path = std::env::var_os("TRAWL_SCIFACT")
        .map_or_else(|| PathBuf::from("/work/shared/data/scifact"), PathBuf::from);
    let file = std::fs::File::open(path.join("corpus.jsonl"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let v: Value = serde_json::from_str(&line?)?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let (doc, title, text) = (s("_id"), s("title"), s("text"));
        // Sentences grouped into passages of at most ~80 words, as a chunker would.
        let mut current = String::new();
        let mut ordinal = 0;
        for sentence in text.split_inclusive(". ") {
            if !current.is_empty()
                && current.split_whitespace().count() + sentence.split_whitespace().count() > 80
            {
                out.push(Passage {
                    doc: doc.clone(),
                    title: title.clone(),
                    ordinal,
                    text: std::mem::take(&mut current).trim().to_owned(),
                });
                ordinal += 1;
            }
            current.push_str(sentence);
        }
        if !current.trim().is_empty() {
            out.push(Passage {
                doc,
                title,
                ordinal,
                text: current.trim().to_owned(),
            });
        }
    }
    Ok(out)
}

fn scifact_queries() -> AnyResult<Vec<String>> {
    let path = std::env::var_os("TRAWL_SCIFACT")
        .map_or_else(|| PathBuf::from("/work/shared/data/scifact"), PathBuf::from);
    let file = std::fs::File::open(path.join("queries.jsonl"))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let v: Value = serde_json::from_str(&line?)?;
        out.push(v["text"].as_str().unwrap_or_default().to_owned());
    }
    Ok(out)
}

/// splitmix64: small, fast, deterministic per seed.
struct Rng(u64);

impl Rng {
    fn new(stream: u64, id: u64) -> Rng {
        Rng(stream
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(id.wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[allow(clippy::cast_precision_loss)]
    fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// Standard normal pairs (Box-Muller).
    fn gauss_into(&mut self, out: &mut [f32], scale: f32) {
        for pair in out.chunks_mut(2) {
            let (u, v) = (self.unit(), self.unit());
            let r = (-2.0 * u.ln()).sqrt() * scale;
            let t = std::f32::consts::TAU * v;
            pair[0] += r * t.cos();
            if pair.len() > 1 {
                pair[1] += r * t.sin();
            }
        }
    }
}

/// Draws the vectors: topic centroid + passage offset + copy offset in a 48-d latent
/// space, projected to 384-d with a fixed random matrix, plus a little full-rank noise,
/// normalised. Copies of one passage are near each other, passages of a topic less so.
struct Generator {
    projection: Vec<f32>,
    topics: Vec<f32>,
    passages: Vec<Passage>,
    queries: Vec<String>,
}

impl Generator {
    fn new() -> AnyResult<Generator> {
        let mut projection = vec![0.0; DIM * LATENT];
        #[allow(clippy::cast_precision_loss)]
        Rng::new(1, 0).gauss_into(&mut projection, 1.0 / (LATENT as f32).sqrt());
        let mut topics = vec![0.0; TOPICS as usize * LATENT];
        Rng::new(2, 0).gauss_into(&mut topics, 1.0);
        Ok(Generator {
            projection,
            topics,
            passages: passages()?,
            queries: scifact_queries()?,
        })
    }

    fn passage_of(&self, i: u64) -> (usize, u64) {
        let n = self.passages.len() as u64;
        (usize::try_from(i % n).expect("fits"), i / n)
    }

    fn vector(&self, passage: u64, copy_stream: u64, copy_id: u64, copy_spread: f32) -> Vec<f32> {
        let topic = usize::try_from(Rng::new(3, passage).next_u64() % TOPICS).expect("fits");
        let mut z = self.topics[topic * LATENT..(topic + 1) * LATENT].to_vec();
        Rng::new(4, passage).gauss_into(&mut z, 0.8);
        let mut rng = Rng::new(copy_stream, copy_id);
        rng.gauss_into(&mut z, copy_spread);
        let mut x = vec![0.0f32; DIM];
        rng.gauss_into(&mut x, 0.15);
        for (d, xd) in x.iter_mut().enumerate() {
            let row = &self.projection[d * LATENT..(d + 1) * LATENT];
            *xd += row.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>();
        }
        let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt();
        x.iter_mut().for_each(|v| *v /= norm);
        x
    }

    /// Chunk `i`'s vector.
    fn chunk_vector(&self, i: u64) -> Vec<f32> {
        let (p, _) = self.passage_of(i);
        self.vector(p as u64, 5, i, 0.5)
    }

    /// Query `j`'s vector: near a random passage, but not a copy in the index.
    fn query_vector(&self, j: u64) -> Vec<f32> {
        let p = Rng::new(6, j).next_u64() % self.passages.len() as u64;
        self.vector(p, 7, j, 0.5)
    }

    fn query_text(&self, j: u64) -> &str {
        &self.queries[usize::try_from(j).expect("fits") % self.queries.len()]
    }

    fn bucket(i: u64) -> u64 {
        i % BUCKETS
    }

    fn group(i: u64) -> &'static str {
        if Rng::new(8, i).next_u64().is_multiple_of(2) {
            "a"
        } else {
            "b"
        }
    }

    /// Chunk `i`: a passage; copies after the first drop about one word in nine.
    fn record(&self, i: u64) -> Record {
        let (p, copy) = self.passage_of(i);
        let passage = &self.passages[p];
        let text = if copy == 0 {
            passage.text.clone()
        } else {
            let mut rng = Rng::new(9, i);
            passage
                .text
                .split(' ')
                .filter(|_| !rng.next_u64().is_multiple_of(9))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut r = Record::new(
            format!("{}~{copy}", passage.doc),
            passage.ordinal,
            text,
            self.chunk_vector(i),
        );
        r.title.clone_from(&passage.title);
        r.format = "text".into();
        let mut meta = Map::new();
        meta.insert("bucket".into(), json!(Self::bucket(i)));
        meta.insert("group".into(), json!(Self::group(i)));
        r.metadata = meta;
        r
    }
}

fn selective() -> Filter {
    Filter::eq("bucket", 7u64)
}

fn broad() -> Filter {
    Filter::eq("group", "a")
}

// ---------------------------------------------------------------------------------------
// Build phase.

/// Exact top-k for each query, kept while the vectors stream past.
struct Exact {
    top: Vec<Vec<(f32, u64)>>,
}

impl Exact {
    fn new(n: usize) -> Exact {
        Exact {
            top: vec![Vec::with_capacity(K + 1); n],
        }
    }

    fn offer(top: &mut Vec<(f32, u64)>, score: f32, id: u64) {
        if top.len() == K && top[K - 1].0 >= score {
            return;
        }
        let at = top.partition_point(|(s, _)| *s >= score);
        top.insert(at, (score, id));
        top.truncate(K);
    }

    fn ids(&self) -> Vec<Vec<u64>> {
        self.top
            .iter()
            .map(|t| t.iter().map(|(_, id)| *id).collect())
            .collect()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum()
}

#[allow(clippy::too_many_lines)]
fn build(cfg: &Config) -> AnyResult<Value> {
    let gen = Generator::new()?;
    std::fs::create_dir_all(&cfg.dir)?;
    let index_dir = cfg.dir.join("index");
    if index_dir.exists() {
        std::fs::remove_dir_all(&index_dir)?;
    }
    eprintln!(
        "scale: {} chunks from {} SciFact passages into {}",
        cfg.chunks,
        gen.passages.len(),
        index_dir.display()
    );
    let queries: Vec<Vec<f32>> = (0..cfg.queries as u64)
        .map(|j| gen.query_vector(j))
        .collect();
    // Exact neighbours: unfiltered, selective filter, broad filter.
    let mut exact = [
        Exact::new(cfg.queries),
        Exact::new(cfg.queries),
        Exact::new(cfg.queries),
    ];

    let mut vectors_out = if cfg.vectors_file {
        Some(BufWriter::new(std::fs::File::create(
            cfg.dir.join("vectors.f32"),
        )?))
    } else {
        None
    };
    let mut texts_out = BufWriter::new(std::fs::File::create(cfg.dir.join("texts.jsonl"))?);
    // The generated text is English-like: the English analyzer, as the published
    // builds ran, without per-chunk language detection (measured in docs/benchmarks.md).
    let options = IndexOptions {
        hnsw: cfg.hnsw,
        language: Language::English,
        ..IndexOptions::new(DIM)
    };
    let started = Instant::now();
    let index = Index::create(&index_dir, options)?;
    let (mut add_time, mut commit_time, mut gen_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut text_bytes = 0u64;
    let batch = 5_000usize;
    let mut since_commit = 0;
    let mut i = 0u64;
    while (i as usize) < cfg.chunks {
        let t = Instant::now();
        let end = (i as usize + batch).min(cfg.chunks) as u64;
        let records: Vec<Record> = (i..end).map(|i| gen.record(i)).collect();
        // Exact search over this batch, queries split over two threads.
        for (which, ex) in exact.iter_mut().enumerate() {
            let half = cfg.queries.div_ceil(2).max(1);
            std::thread::scope(|s| {
                for (part, tops) in ex.top.chunks_mut(half).enumerate() {
                    let (records, queries) = (&records, &queries);
                    s.spawn(move || {
                        for (qi, top) in tops.iter_mut().enumerate() {
                            let q = &queries[part * half + qi];
                            for (off, r) in records.iter().enumerate() {
                                let id = i + off as u64;
                                let keep = match which {
                                    0 => true,
                                    1 => Generator::bucket(id) == 7,
                                    _ => Generator::group(id) == "a",
                                };
                                if keep {
                                    Exact::offer(top, dot(q, &r.vector), id);
                                }
                            }
                        }
                    });
                }
            });
        }
        for (off, r) in records.iter().enumerate() {
            if let Some(out) = vectors_out.as_mut() {
                for x in &r.vector {
                    out.write_all(&x.to_le_bytes())?;
                }
            }
            text_bytes += (r.text.len() + r.title.len()) as u64;
            let id = i + off as u64;
            serde_json::to_writer(
                &mut texts_out,
                &json!({"id": id, "title": r.title, "text": r.text,
                        "bucket": Generator::bucket(id), "group": Generator::group(id)}),
            )?;
            texts_out.write_all(b"\n")?;
        }
        gen_time += t.elapsed();
        let t = Instant::now();
        since_commit += records.len();
        index.add(records)?;
        add_time += t.elapsed();
        if since_commit >= cfg.commit_every || end as usize == cfg.chunks {
            let t = Instant::now();
            index.commit()?;
            commit_time += t.elapsed();
            since_commit = 0;
            eprintln!(
                "scale: {end} chunks committed, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        i = end;
    }
    // Commits return before the graph has their vectors: the build ends when it has.
    let t = Instant::now();
    index.flush_graph()?;
    let graph_wait = t.elapsed();
    let total = started.elapsed();
    let stats = index.stats()?;
    drop(index);
    if let Some(mut out) = vectors_out {
        out.flush()?;
    }
    texts_out.flush()?;

    let mut qv = BufWriter::new(std::fs::File::create(cfg.dir.join("queries.f32"))?);
    for q in &queries {
        for x in q {
            qv.write_all(&x.to_le_bytes())?;
        }
    }
    qv.flush()?;
    let mut qt = BufWriter::new(std::fs::File::create(cfg.dir.join("queries.jsonl"))?);
    for j in 0..cfg.queries as u64 {
        serde_json::to_writer(&mut qt, &json!({"text": gen.query_text(j)}))?;
        qt.write_all(b"\n")?;
    }
    qt.flush()?;
    std::fs::write(
        cfg.dir.join("exact.json"),
        serde_json::to_vec(&json!({
            "all": exact[0].ids(), "selective": exact[1].ids(), "broad": exact[2].ids(),
        }))?,
    )?;

    let vector_bytes = (cfg.chunks * DIM * 4) as u64;
    Ok(json!({
        "seconds": total.as_secs_f64() - gen_time.as_secs_f64(),
        "add_seconds": add_time.as_secs_f64(),
        "commit_seconds": commit_time.as_secs_f64(),
        "graph_wait_seconds": graph_wait.as_secs_f64(),
        "data_generation_seconds": gen_time.as_secs_f64(),
        "disk_bytes": dir_size(&index_dir),
        "store_bytes": dir_size(&index_dir.join("store")),
        "graph_bytes": dir_size(&index_dir.join("hnsw")),
        "vector_file_bytes": dir_size(&index_dir.join("vectors")),
        "segments": stats.segments,
        "chunks": stats.chunks,
        "vector_bytes": vector_bytes,
        "text_bytes": text_bytes,
        "peak_rss_bytes": proc_status("VmHWM:"),
    }))
}

// ---------------------------------------------------------------------------------------
// Serve phase.

/// Latencies of one pass (or the best of several).
struct Lat {
    samples: Vec<Duration>,
    wall: Duration,
}

impl Lat {
    fn pct(&self, p: f64) -> f64 {
        let mut v: Vec<f64> = self.samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let at = ((v.len() - 1) as f64 * p).round() as usize;
        v[at]
    }

    #[allow(clippy::cast_precision_loss)]
    fn json(&self) -> Value {
        json!({
            "p50_ms": self.pct(0.5), "p95_ms": self.pct(0.95), "p99_ms": self.pct(0.99),
            "qps": self.samples.len() as f64 / self.wall.as_secs_f64(),
        })
    }
}

/// Runs `f` over every query, `rounds` times, on `threads` threads; reports the round
/// with the lowest median (the machine is shared) and every round's median.
fn measure(
    rounds: usize,
    threads: usize,
    queries: usize,
    f: &(dyn Fn(usize) -> AnyResult<()> + Sync),
) -> AnyResult<Value> {
    let mut best: Option<Lat> = None;
    let mut medians = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let results: Vec<AnyResult<Vec<Duration>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut out = Vec::with_capacity(queries);
                        for j in 0..queries {
                            let q = (j + t * queries / threads) % queries;
                            let start = Instant::now();
                            f(q)?;
                            out.push(start.elapsed());
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("query thread"))
                .collect()
        });
        let wall = started.elapsed();
        let mut samples = Vec::new();
        for r in results {
            samples.extend(r?);
        }
        let lat = Lat { samples, wall };
        medians.push(lat.pct(0.5));
        if best.as_ref().is_none_or(|b| lat.pct(0.5) < b.pct(0.5)) {
            best = Some(lat);
        }
    }
    let mut out = best.expect("at least one round").json();
    out["round_p50s_ms"] = json!(medians);
    Ok(out)
}

fn recall(found: &[Vec<u64>], exact: &[Vec<u64>]) -> f64 {
    let (mut hit, mut all) = (0usize, 0usize);
    for (f, e) in found.iter().zip(exact) {
        let e: HashSet<&u64> = e.iter().collect();
        hit += f.iter().filter(|id| e.contains(id)).count();
        all += e.len();
    }
    #[allow(clippy::cast_precision_loss)]
    if all == 0 {
        1.0
    } else {
        hit as f64 / all as f64
    }
}

/// A hybrid search: both retrievers, RRF, then the top `K` fetched. `parallel` runs the
/// two retrievers at once, as `Collection::search` does; otherwise one after the other.
fn hybrid(
    index: &Index,
    vector: &[f32],
    text: &str,
    filter: Option<&Filter>,
    parallel: bool,
) -> AnyResult<Vec<u64>> {
    let view = index.view();
    let (dense, keyword) = if parallel {
        rayon::join(
            || view.search_vector(vector, CANDIDATES, filter),
            || view.search_keyword(text, CANDIDATES, filter),
        )
    } else {
        (
            view.search_vector(vector, CANDIDATES, filter),
            view.search_keyword(text, CANDIDATES, filter),
        )
    };
    let mut fused: Vec<Scored> = reciprocal_rank_fusion(&[&dense?, &keyword?], RRF_K);
    fused.truncate(K);
    let ids: Vec<u64> = fused.iter().map(|s| s.id).collect();
    let records = view.fetch(&ids)?;
    Ok(records.into_iter().map(|(id, _)| id).collect())
}

#[allow(clippy::too_many_lines)]
fn serve(cfg: &Config) -> AnyResult<Value> {
    let gen = Generator::new()?;
    let queries: Vec<Vec<f32>> = std::fs::read(cfg.dir.join("queries.f32"))?
        .chunks_exact(4 * DIM)
        .map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect();
    let texts: Vec<&str> = (0..cfg.queries as u64).map(|j| gen.query_text(j)).collect();
    let exact: Value = serde_json::from_slice(&std::fs::read(cfg.dir.join("exact.json"))?)?;
    let exact_of = |name: &str| -> Vec<Vec<u64>> {
        serde_json::from_value(exact[name].clone()).expect("exact neighbours")
    };
    let mem_before_open = memory();
    let t = Instant::now();
    let index = Index::open(&cfg.dir.join("index"))?;
    let open_seconds = t.elapsed().as_secs_f64();
    if cfg.ef_search_given {
        index.set_ef_search(cfg.hnsw.ef_search);
    }
    let mem_open = memory();
    let n = queries.len();
    let (sel, brd) = (selective(), broad());
    // Warm-up: one pass of each kind touches the mmaped store and the graph.
    for j in 0..n {
        index.search_vector(&queries[j], K, None)?;
        index.search_keyword(texts[j], K, None)?;
    }
    let mut report = Map::new();
    report.insert("open_seconds".into(), json!(open_seconds));
    let t = Instant::now();
    index.stats()?;
    report.insert("stats_seconds".into(), json!(t.elapsed().as_secs_f64()));
    report.insert(
        "rss_open_bytes".into(),
        json!(mem_open["rss"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(mem_before_open["rss"].as_u64().unwrap_or(0))),
    );
    report.insert(
        "memory".into(),
        json!({ "before_open": mem_before_open, "after_open": mem_open,
                "after_warmup": memory() }),
    );

    // Recall (deterministic, one pass).
    let search_all = |filter: Option<&Filter>| -> AnyResult<Vec<Vec<u64>>> {
        queries
            .iter()
            .map(|q| {
                Ok(index
                    .search_vector(q, K, filter)?
                    .into_iter()
                    .map(|s| s.id)
                    .collect())
            })
            .collect()
    };
    report.insert(
        "recall_at_10".into(),
        json!(recall(&search_all(None)?, &exact_of("all"))),
    );
    report.insert(
        "recall_at_10_selective".into(),
        json!(recall(&search_all(Some(&sel))?, &exact_of("selective"))),
    );
    report.insert(
        "recall_at_10_broad".into(),
        json!(recall(&search_all(Some(&brd))?, &exact_of("broad"))),
    );
    report.insert(
        "filter_matches".into(),
        json!({
            "selective": index.count(&sel)?, "broad": index.count(&brd)?,
        }),
    );

    let r = cfg.rounds;
    let dense = |filter: Option<&Filter>| {
        let (queries, index) = (&queries, &index);
        let filter = filter.cloned();
        move |j: usize| -> AnyResult<()> {
            index.search_vector(&queries[j], K, filter.as_ref())?;
            Ok(())
        }
    };
    let keyword = |filter: Option<&Filter>| {
        let (texts, index) = (&texts, &index);
        let filter = filter.cloned();
        move |j: usize| -> AnyResult<()> {
            index.search_keyword(texts[j], K, filter.as_ref())?;
            Ok(())
        }
    };
    let hyb_with = |filter: Option<&Filter>, parallel: bool| {
        let (queries, texts, index) = (&queries, &texts, &index);
        let filter = filter.cloned();
        move |j: usize| -> AnyResult<()> {
            hybrid(index, &queries[j], texts[j], filter.as_ref(), parallel)?;
            Ok(())
        }
    };
    let hyb = |filter: Option<&Filter>| hyb_with(filter, false);
    // The fetch alone: the stored chunks of each query's dense top K.
    let tops: Vec<Vec<u64>> = search_all(None)?;
    let fetch = |j: usize| -> AnyResult<()> {
        index.view().fetch(&tops[j % tops.len()])?;
        Ok(())
    };
    let mut lat = Map::new();
    for threads in [1usize, 2] {
        let suffix = format!("_{threads}t");
        lat.insert(
            format!("dense{suffix}"),
            measure(r, threads, n, &dense(None))?,
        );
        lat.insert(
            format!("keyword{suffix}"),
            measure(r, threads, n, &keyword(None))?,
        );
        lat.insert(
            format!("hybrid{suffix}"),
            measure(r, threads, n, &hyb(None))?,
        );
    }
    lat.insert(
        "hybrid_parallel_1t".into(),
        measure(r, 1, n, &hyb_with(None, true))?,
    );
    // The same keyword and hybrid searches with tantivy's block-max WAND in place of
    // MaxScore, in this process, as the baseline of the ratio.
    index.set_keyword_maxscore(false);
    lat.insert("keyword_wand_1t".into(), measure(r, 1, n, &keyword(None))?);
    lat.insert(
        "hybrid_parallel_wand_1t".into(),
        measure(r, 1, n, &hyb_with(None, true))?,
    );
    index.set_keyword_maxscore(true);
    lat.insert("fetch_1t".into(), measure(r, 1, n, &fetch)?);
    lat.insert(
        "dense_selective_1t".into(),
        measure(r, 1, n, &dense(Some(&sel)))?,
    );
    lat.insert(
        "dense_broad_1t".into(),
        measure(r, 1, n, &dense(Some(&brd)))?,
    );
    lat.insert(
        "keyword_selective_1t".into(),
        measure(r, 1, n, &keyword(Some(&sel)))?,
    );
    lat.insert(
        "keyword_broad_1t".into(),
        measure(r, 1, n, &keyword(Some(&brd)))?,
    );
    lat.insert(
        "hybrid_selective_1t".into(),
        measure(r, 1, n, &hyb(Some(&sel)))?,
    );
    lat.insert(
        "hybrid_broad_1t".into(),
        measure(r, 1, n, &hyb(Some(&brd)))?,
    );
    report.insert("latency".into(), Value::Object(lat));
    report.insert("peak_rss_bytes".into(), json!(proc_status("VmHWM:")));
    report.insert("rss_bytes".into(), json!(proc_status("VmRSS:")));
    report["memory"]["after_queries"] = memory();

    // A small batch into the big index: how long until it is searchable.
    let first = cfg.chunks as u64;
    let records: Vec<Record> = (first..first + ADDED as u64)
        .map(|i| Record {
            doc_id: format!("added-{i}"),
            ..gen.record(i)
        })
        .collect();
    let probe = records[ADDED / 2].vector.clone();
    // Graph insertion is held until the unindexed path has been measured; it never
    // delays a commit either way (a commit does not wait for the graph).
    index.set_graph_indexing(false);
    let t = Instant::now();
    index.add(records)?;
    let add_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    index.commit()?;
    let commit_seconds = t.elapsed().as_secs_f64();
    let probe_doc = format!("added-{}", first + (ADDED / 2) as u64);
    let t = Instant::now();
    let hits: Vec<u64> = index
        .search_vector(&probe, K, None)?
        .iter()
        .map(|s| s.id)
        .collect();
    let probe_seconds = t.elapsed().as_secs_f64();
    let found = index
        .fetch(&hits)?
        .iter()
        .any(|(_, r)| r.doc_id == probe_doc);
    // Dense queries while the whole batch is outside the graph (compared exactly).
    let dense_unindexed = measure(1, 1, n, &dense(None))?;
    index.set_graph_indexing(true);
    let t = Instant::now();
    index.flush_graph()?;
    let graph_seconds = t.elapsed().as_secs_f64();
    report.insert(
        "add_1000".into(),
        json!({
            "add_seconds": add_seconds, "commit_seconds": commit_seconds,
            "searchable_seconds": add_seconds + commit_seconds, "probe_found": found,
            "probe_search_seconds": probe_seconds,
            "unindexed_after_commit": ADDED,
            "dense_while_unindexed_1t": dense_unindexed,
            "graph_insert_wait_seconds": graph_seconds,
        }),
    );
    // Back to the measured chunks (as tombstones), so a rerun of the serve phase on a
    // kept index (`--serve --keep`) sees the same live set and exact neighbours.
    for i in first..first + ADDED as u64 {
        index.delete_document("", &format!("added-{i}"))?;
    }
    let t = Instant::now();
    index.commit()?;
    report["add_1000"]["delete_commit_seconds"] = json!(t.elapsed().as_secs_f64());
    index.flush_graph()?;
    Ok(Value::Object(report))
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// Resident memory now: all, anonymous (heap) and file-backed (mmaped index files),
/// and the peak so far, in bytes.
fn memory() -> Value {
    json!({
        "rss": proc_status("VmRSS:"), "anon": proc_status("RssAnon:"),
        "file": proc_status("RssFile:"), "peak": proc_status("VmHWM:"),
        "file_by_part": mapped_by_part(),
    })
}

/// Resident bytes of mapped files, by the part of the index that holds them (the
/// folder below the index directory: `vectors`, `hnsw`, and the keyword store's files
/// by extension), from `/proc/self/smaps`; files outside an index go under `other`.
fn mapped_by_part() -> Value {
    let mut parts = Map::new();
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return Value::Object(parts);
    };
    let mut part: Option<String> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, perms, offset, device, inode, path.
            part = fields.nth(4).filter(|p| p.starts_with('/')).map(|path| {
                let mut names = path.rsplit('/');
                let file = names.next().unwrap_or("");
                match names.next().unwrap_or("") {
                    "store" => format!("store .{}", file.rsplit('.').next().unwrap_or("")),
                    folder @ ("vectors" | "hnsw") => folder.to_string(),
                    _ => "other".to_string(),
                }
            });
        } else if first == "Rss:" {
            if let (Some(p), Some(kb)) = (&part, fields.next().and_then(|v| v.parse::<u64>().ok()))
            {
                let total = parts.entry(p.clone()).or_insert(json!(0u64));
                *total = json!(total.as_u64().unwrap_or(0) + kb * 1024);
            }
        }
    }
    Value::Object(parts)
}

/// A `/proc/self/status` field in bytes (0 where there is none).
fn proc_status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[allow(clippy::cast_precision_loss)]
fn mib(v: &Value) -> String {
    format!("{:.0} MiB", v.as_f64().unwrap_or(0.0) / (1024.0 * 1024.0))
}

fn ms(v: &Value) -> String {
    format!("{:.2}", v.as_f64().unwrap_or(0.0))
}

/// The report as a markdown table.
fn markdown(r: &Value) -> String {
    let (b, s, c) = (&r["build"], &r["serve"], &r["config"]);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trawl scale: {} chunks, {}-d, M={} ef_construction={} ef_search={}, {} queries x {} rounds (best round by p50)\n",
        c["chunks"], c["dim"], c["m"], c["ef_construction"], c["ef_search"], c["queries"], c["rounds"]
    );
    let _ = writeln!(out, "| measure | value |\n|---|---|");
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "| {k} | {v} |");
    };
    row(
        &mut out,
        "build (add + commit, excl. data generation)",
        format!(
            "{:.1} s (add {:.1} s, commit {:.1} s, then waiting for the graph {:.1} s)",
            b["seconds"].as_f64().unwrap_or(0.0),
            b["add_seconds"].as_f64().unwrap_or(0.0),
            b["commit_seconds"].as_f64().unwrap_or(0.0),
            b["graph_wait_seconds"].as_f64().unwrap_or(0.0)
        ),
    );
    row(
        &mut out,
        "index on disk",
        format!(
            "{} (store {}, vectors {}, graph {})",
            mib(&b["disk_bytes"]),
            mib(&b["store_bytes"]),
            mib(&b["vector_file_bytes"]),
            mib(&b["graph_bytes"])
        ),
    );
    row(
        &mut out,
        "vector bytes + stored text",
        format!("{} + {}", mib(&b["vector_bytes"]), mib(&b["text_bytes"])),
    );
    let base = b["vector_bytes"].as_f64().unwrap_or(0.0) + b["text_bytes"].as_f64().unwrap_or(0.0);
    let ratio = |v: &Value| v.as_f64().unwrap_or(0.0) / base.max(1.0);
    row(
        &mut out,
        "peak RSS, serving (open + all queries)",
        format!(
            "{} ({:.2}x vectors+text)",
            mib(&s["peak_rss_bytes"]),
            ratio(&s["peak_rss_bytes"])
        ),
    );
    row(
        &mut out,
        "peak RSS, build process (incl. harness data)",
        format!(
            "{} ({:.2}x)",
            mib(&b["peak_rss_bytes"]),
            ratio(&b["peak_rss_bytes"])
        ),
    );
    row(
        &mut out,
        "open",
        format!("{:.2} s", s["open_seconds"].as_f64().unwrap_or(0.0)),
    );
    row(
        &mut out,
        "`Index::stats()` (documents grouped by key)",
        format!("{:.2} s", s["stats_seconds"].as_f64().unwrap_or(0.0)),
    );
    row(
        &mut out,
        "HNSW recall@10 (no filter / selective / broad)",
        format!(
            "{:.3} / {:.3} / {:.3}",
            s["recall_at_10"].as_f64().unwrap_or(0.0),
            s["recall_at_10_selective"].as_f64().unwrap_or(0.0),
            s["recall_at_10_broad"].as_f64().unwrap_or(0.0)
        ),
    );
    let a = &s["add_1000"];
    row(
        &mut out,
        "add + commit 1,000 chunks, searchable after",
        format!(
            "{:.2} s (add {:.2} s, commit {:.2} s; found: {}; dense p50 with the {} \
             chunks not yet in the graph {:.2} ms; graph insertion afterwards {:.1} s)",
            a["searchable_seconds"].as_f64().unwrap_or(0.0),
            a["add_seconds"].as_f64().unwrap_or(0.0),
            a["commit_seconds"].as_f64().unwrap_or(0.0),
            a["probe_found"],
            a["unindexed_after_commit"],
            a["dense_while_unindexed_1t"]["p50_ms"]
                .as_f64()
                .unwrap_or(0.0),
            a["graph_insert_wait_seconds"].as_f64().unwrap_or(0.0),
        ),
    );
    let m = &s["memory"];
    let part = |v: &Value| {
        let mut by_part: Vec<(&String, &Value)> = v["file_by_part"]
            .as_object()
            .map(|o| o.iter().collect())
            .unwrap_or_default();
        by_part.sort_by_key(|(_, bytes)| std::cmp::Reverse(bytes.as_u64().unwrap_or(0)));
        let by_part: Vec<String> = by_part
            .iter()
            .map(|(name, bytes)| format!("{name} {}", mib(bytes)))
            .collect();
        format!(
            "{} (heap {}, mmaped files {}{}{})",
            mib(&v["rss"]),
            mib(&v["anon"]),
            mib(&v["file"]),
            if by_part.is_empty() { "" } else { ": " },
            by_part.join(", ")
        )
    };
    row(&mut out, "RSS after open", part(&m["after_open"]));
    row(&mut out, "RSS after all queries", part(&m["after_queries"]));
    let _ = writeln!(
        out,
        "\n| query (k=10; hybrid = 100+100 candidates, RRF, fetch 10) | p50 ms | p95 ms | p99 ms | QPS |\n|---|---|---|---|---|"
    );
    if let Some(lat) = s["latency"].as_object() {
        for (name, v) in lat {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {:.0} |",
                ms(&v["p50_ms"]),
                ms(&v["p95_ms"]),
                ms(&v["p99_ms"]),
                v["qps"].as_f64().unwrap_or(0.0)
            );
        }
    }
    out
}
