//! Embedding throughput of trawl's embedder on a file of texts, one JSON string per
//! line, embedded in batches as ingest does. `benches/embed/compare.py` runs it next to
//! sentence-transformers.
//!
//! `embed-speed TEXTS.jsonl [--batch 32] [--rounds 3] [--precision f32|bf16|int8]
//! [--path portable|neon|avx2|avx512|avx512-amx|candle] [--cold]`
//! prints one JSON object: the CPU, path and precision, texts, tokens, seconds (best
//! round), texts/s, tokens/s, and the model's load time. `--cold` times one round
//! with no warm-up (first-call costs included).

use std::time::Instant;

use trawl::{BertEmbedder, CpuPath, Embedder, Precision};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut batch = 32usize;
    let mut rounds = 3usize;
    let mut precision = Precision::F32;
    // `None`: candle-transformers' BertModel, the reference.
    let mut path = Some(CpuPath::selected());
    let mut cold = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--path" => {
                path = match args.next().ok_or("--path P")?.as_str() {
                    "candle" => None,
                    p => Some(p.parse()?),
                };
            }
            "--cold" => cold = true,
            "--batch" => batch = args.next().ok_or("--batch N")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--precision" => precision = args.next().ok_or("--precision P")?.parse()?,
            _ => file = Some(a),
        }
    }
    let file = file.ok_or("usage: embed-speed TEXTS.jsonl [--batch N] [--rounds N]")?;
    let texts: Vec<String> = std::fs::read_to_string(&file)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let loading = Instant::now();
    let model = match path {
        Some(path) => BertEmbedder::load_on(trawl_benches::model_dir(), precision, path)?,
        None => BertEmbedder::load_reference(trawl_benches::model_dir())?,
    };
    let load_seconds = loading.elapsed().as_secs_f64();
    // Tokens as sentence-transformers counts them: with [CLS]/[SEP], truncated.
    let tokens: usize = refs
        .iter()
        .map(|t| (model.count_tokens(t) + 2).min(model.max_tokens()))
        .sum();
    // Warm-up: page in the weights, size the buffers.
    if !cold {
        model.embed(&refs[..batch.min(refs.len())])?;
    }
    let mut best = f64::INFINITY;
    for _ in 0..if cold { 1 } else { rounds } {
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
            "cpu": CpuPath::cpu_description(),
            "path": model.cpu_path().map_or_else(|| "candle".to_owned(), |p| p.to_string()),
            "precision": model.precision().to_string(),
            "load_seconds": load_seconds,
            "texts": refs.len(),
            "tokens": tokens,
            "seconds": best,
            "texts_per_s": refs.len() as f64 / best,
            "tokens_per_s": tokens as f64 / best,
        })
    );
    Ok(())
}
