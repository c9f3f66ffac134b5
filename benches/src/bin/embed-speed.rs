//! Embedding throughput of trawl's embedder on a file of texts, one JSON string per
//! line, embedded in batches as ingest does. `benches/embed/compare.py` runs it next to
//! sentence-transformers.
//!
//! `embed-speed TEXTS.jsonl [--batch 32] [--rounds 3] [--precision f32|bf16]`
//! prints one JSON object: texts, tokens, seconds (best round), texts/s, tokens/s.

use std::time::Instant;

use trawl::{BertEmbedder, Embedder, Precision};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut batch = 32usize;
    let mut rounds = 3usize;
    let mut precision = Precision::F32;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--batch" => batch = args.next().ok_or("--batch N")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--precision" => precision = args.next().ok_or("--precision P")?.parse()?,
            _ => path = Some(a),
        }
    }
    let path = path.ok_or("usage: embed-speed TEXTS.jsonl [--batch N] [--rounds N]")?;
    let texts: Vec<String> = std::fs::read_to_string(&path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let model = BertEmbedder::load_with_precision(trawl_benches::model_dir(), precision)?;
    // Tokens as sentence-transformers counts them: with [CLS]/[SEP], truncated.
    let tokens: usize = refs
        .iter()
        .map(|t| (model.count_tokens(t) + 2).min(model.max_tokens()))
        .sum();
    // Warm-up: page in the weights, size the buffers.
    model.embed(&refs[..batch.min(refs.len())])?;
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        for b in refs.chunks(batch) {
            std::hint::black_box(model.embed(b)?);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{}",
        serde_json::json!({
            "engine": format!("trawl ({})", model.precision()),
            "texts": refs.len(),
            "tokens": tokens,
            "seconds": best,
            "texts_per_s": refs.len() as f64 / best,
            "tokens_per_s": tokens as f64 / best,
        })
    );
    Ok(())
}
