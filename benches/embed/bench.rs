//! The embedder: a batch of 32 passages of about 100 tokens and one query, on every
//! CPU path this machine runs at every precision that path runs (a combination the
//! CPU cannot run is listed as skipped, never measured under another name). The CPU
//! model and features are printed above the results.
//!
//! `cargo bench -p trawl-benches --bench embed` (needs `models/fetch.sh`);
//! `benches/embed/compare.py` sets it beside sentence-transformers.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trawl::{BertEmbedder, CpuPath, Embedder, Precision};

fn embedding(c: &mut Criterion) {
    let words: Vec<&str> = trawl_benches::corpus_text()
        .leak()
        .split_whitespace()
        .collect();
    let texts: Vec<String> = words.chunks(75).take(32).map(|w| w.join(" ")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let dir = trawl_benches::model_dir();
    println!("CPU: {}", CpuPath::cpu_description());
    let mut g = c.benchmark_group("embed");
    g.sample_size(10);
    let combinations = CpuPath::ALL
        .into_iter()
        .flat_map(|p| [Precision::F32, Precision::Bf16, Precision::Int8].map(|q| (p, q)));
    for (path, precision) in combinations {
        if !path.runs(precision) {
            println!("skipped: {path}/{precision} (this CPU cannot run it)");
            continue;
        }
        let model = BertEmbedder::load_on(&dir, precision, path).expect("model loads");
        assert_eq!(model.precision(), precision, "{path} runs {precision}");
        let id = format!("{path}/{precision}");
        g.throughput(Throughput::Elements(refs.len() as u64));
        g.bench_with_input(BenchmarkId::new("batch32_100tok", &id), &refs, |b, refs| {
            b.iter(|| model.embed(refs).unwrap());
        });
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("query", &id), &refs[0], |b, q| {
            b.iter(|| model.embed_query(q).unwrap());
        });
    }
    g.finish();
}

criterion_group!(benches, embedding);
criterion_main!(benches);
