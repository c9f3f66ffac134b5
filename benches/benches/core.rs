//! Micro-benchmarks of the hot paths: chunking, fusion and search (embedding: the
//! `embed` bench).
//!
//! `cargo bench -p trawl-benches` (needs `models/fetch.sh`).

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trawl::{
    chunk_document, reciprocal_rank_fusion, ChunkOptions, Document, Embedder, Scored, SearchMode,
};

fn chunking(c: &mut Criterion) {
    let model = trawl_benches::embedder();
    let text = trawl_benches::corpus_text().repeat(4);
    let doc = Document::from_text("bench", &text);
    let options = ChunkOptions::default();
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("model_tokenizer", |b| {
        b.iter(|| chunk_document(&doc, &options, &|t| model.count_tokens(t)));
    });
    // The same without the tokenizer: what the chunker itself costs.
    g.bench_function("word_count", |b| {
        b.iter(|| chunk_document(&doc, &options, &|t| t.split_whitespace().count()));
    });
    g.finish();
}

fn fusion(c: &mut Criterion) {
    let a: Vec<Scored> = (0..100).map(|i| Scored { id: i, score: 0.0 }).collect();
    let b: Vec<Scored> = (50..150)
        .rev()
        .map(|i| Scored { id: i, score: 0.0 })
        .collect();
    c.bench_function("fuse/rrf_2x100", |bench| {
        bench.iter(|| reciprocal_rank_fusion(&[&a, &b], 60.0));
    });
}

fn search(c: &mut Criterion) {
    let (_dir, collection) = trawl_benches::sample_collection(trawl_benches::embedder());
    let mut g = c.benchmark_group("search_sample_corpus");
    for mode in [SearchMode::Keyword, SearchMode::Dense, SearchMode::Hybrid] {
        g.bench_with_input(BenchmarkId::from_parameter(mode), &mode, |b, &mode| {
            b.iter(|| {
                collection
                    .search("how hot should the oven be for bread", 10, mode)
                    .unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, chunking, fusion, search);
criterion_main!(benches);
