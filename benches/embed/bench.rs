//! The embedder: a batch of 32 passages of about 100 tokens (as the embedding issue
//! measures) at each precision, and one query.
//!
//! `cargo bench -p trawl-benches --bench embed` (needs `models/fetch.sh`);
//! `benches/embed/compare.py` sets it beside sentence-transformers.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trawl::{BertEmbedder, Embedder, Precision};

fn embedding(c: &mut Criterion) {
    let words: Vec<&str> = trawl_benches::corpus_text()
        .leak()
        .split_whitespace()
        .collect();
    let texts: Vec<String> = words.chunks(75).take(32).map(|w| w.join(" ")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let dir = trawl_benches::model_dir();
    let mut g = c.benchmark_group("embed");
    g.sample_size(10);
    for precision in [Precision::F32, Precision::Bf16] {
        let model = BertEmbedder::load_with_precision(&dir, precision).expect("model loads");
        let id = model.precision().to_string();
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
