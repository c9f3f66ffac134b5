//! An index whose graph walks on int8 codes: the hits it returns, after rescoring with
//! the full-precision vectors, against exact search on a seeded dataset.

mod common;

use trawl_index::{Filter, HnswParams, Index, IndexOptions, Quantization, Record};

const DIM: usize = 48;
/// More than a quantized graph holds before it trains its quantizer.
const POINTS: usize = 12_000;

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Points around 30 centres, so near neighbours are close and far ones far.
fn dataset(state: &mut u64) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..30)
        .map(|_| unit(common::xorshift_vector(state, DIM)))
        .collect();
    (0..POINTS)
        .map(|i| {
            let noise = common::xorshift_vector(state, DIM);
            let c = &centres[i % centres.len()];
            unit(c.iter().zip(&noise).map(|(a, b)| a + 0.35 * b).collect())
        })
        .collect()
}

/// `n` queries near the data, as a question is near its answers: every `step`-th point
/// with noise added.
fn queries_near(points: &[Vec<f32>], n: usize, step: usize, state: &mut u64) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            let noise = common::xorshift_vector(state, DIM);
            let p = &points[i * step % POINTS];
            unit(p.iter().zip(&noise).map(|(a, b)| a + 0.3 * b).collect())
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Ordinals of the `k` points nearest `q` by exact comparison, among those `keep`
/// accepts.
fn exact(points: &[Vec<f32>], q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut all: Vec<(f32, u32)> = points
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, p)| (dot(q, p), i as u32))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all.into_iter().take(k).map(|(_, i)| i).collect()
}

/// Recall@10 over `queries`, and the largest gap between a hit's score and its exact
/// cosine.
fn measure(
    index: &Index,
    points: &[Vec<f32>],
    queries: &[Vec<f32>],
    filter: Option<&Filter>,
    keep: impl Fn(usize) -> bool + Copy,
) -> (f64, f32) {
    let (mut found, mut worst) = (0, 0f32);
    for q in queries {
        let hits = index.search_vector(q, 10, filter).unwrap();
        assert_eq!(hits.len(), 10);
        let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        let chunks = index.fetch(&ids).unwrap();
        let want = exact(points, q, 10, keep);
        for (hit, (_, chunk)) in hits.iter().zip(&chunks) {
            assert!(keep(chunk.ordinal as usize), "a hit outside the filter");
            // The fetched chunk carries its own vector, read from the vector files.
            let stored = dot(&chunk.vector, &points[chunk.ordinal as usize]);
            assert!((stored - 1.0).abs() < 1e-5, "fetched vector off: {stored}");
            found += usize::from(want.contains(&chunk.ordinal));
            worst = worst.max((hit.score - dot(q, &points[chunk.ordinal as usize])).abs());
        }
    }
    (found as f64 / (10 * queries.len()) as f64, worst)
}

/// An index of `points` with `quantization`, added in three commits (so a quantized
/// graph trains its quantizer part way and codes the points before it), with its
/// graph caught up.
fn build(dir: &std::path::Path, points: &[Vec<f32>], quantization: Quantization) -> Index {
    let options = IndexOptions {
        hnsw: HnswParams {
            quantization,
            ..HnswParams::default()
        },
        ..IndexOptions::new(DIM)
    };
    let index = Index::create(dir, options).unwrap();
    for (c, part) in points.chunks(POINTS / 3).enumerate() {
        let records = part
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ordinal = (c * (POINTS / 3) + i) as u32;
                let mut r = Record::new("d", ordinal, format!("point {ordinal}"), v.clone());
                r.metadata
                    .insert("even".into(), ordinal.is_multiple_of(2).into());
                r.metadata
                    .insert("fiftieth".into(), ordinal.is_multiple_of(50).into());
                r
            })
            .collect();
        index.add(records).unwrap();
        index.commit().unwrap();
    }
    index.flush_graph().unwrap();
    if quantization != Quantization::None {
        // Saved and opened again from its file, where its vectors stay.
        assert_eq!(index.stats().unwrap().graph_vectors_in_memory, 0);
    } else {
        assert_eq!(index.stats().unwrap().graph_vectors_in_memory, POINTS);
    }
    index
}

/// Recall@10 against exact search: at least 0.95 (0.9 inside a filter that keeps half
/// the points, 0.99 inside one of a fiftieth, compared point by point), and at most
/// 0.01 below the same graph walked on full-precision vectors; scores exact to float
/// rounding; the same after reopening.
#[test]
fn int8_walks_keep_recall_and_exact_scores_and_survive_a_reopen() {
    let mut state = 0x5EED_u64;
    let points = dataset(&mut state);
    let queries = queries_near(&points, 60, 97, &mut state);
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = build(plain_dir.path(), &points, Quantization::None);
    let even: Filter = "even = true".parse().unwrap();
    let is_even = |i: usize| i.is_multiple_of(2);
    let rare: Filter = "fiftieth = true".parse().unwrap();
    let is_rare = |i: usize| i.is_multiple_of(50);
    let (baseline, _) = measure(&plain, &points, &queries, None, |_| true);
    let (filtered_baseline, _) = measure(&plain, &points, &queries, Some(&even), is_even);
    drop(plain);
    let dir = tempfile::tempdir().unwrap();
    {
        let index = build(dir.path(), &points, Quantization::Int8);
        let (recall, worst) = measure(&index, &points, &queries, None, |_| true);
        assert!(
            recall >= 0.95 && recall >= baseline - 0.01,
            "recall@10 {recall}, walking on vectors {baseline}"
        );
        assert!(worst < 1e-5, "score off by {worst}");
        let (filtered, _) = measure(&index, &points, &queries, Some(&even), is_even);
        assert!(
            filtered >= 0.9 && filtered >= filtered_baseline - 0.01,
            "filtered recall@10 {filtered}, walking on vectors {filtered_baseline}"
        );
        // A filter too selective to walk: every match compared on its codes, the
        // nearest by them rescored; next to exact.
        let (rare, worst) = measure(&index, &points, &queries, Some(&rare), is_rare);
        assert!(rare >= 0.99 && worst < 1e-5, "selective: {rare}, {worst}");
    }
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.options().hnsw.quantization, Quantization::Int8);
    let (recall, worst) = measure(&index, &points, &queries, None, |_| true);
    assert!(
        recall >= 0.95 && recall >= baseline - 0.01 && worst < 1e-5,
        "after reopening: {recall} ({baseline}), {worst}"
    );
}

/// A binary index under a filter too selective to walk: each match compared with its
/// full vector (bits order too loosely to cut on), so the hits are the exact ones.
#[test]
fn binary_codes_under_a_selective_filter_give_the_exact_hits() {
    let mut state = 0xB17_u64;
    let points = dataset(&mut state);
    let queries = queries_near(&points, 20, 131, &mut state);
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &points, Quantization::Binary);
    let rare: Filter = "fiftieth = true".parse().unwrap();
    let (recall, worst) = measure(&index, &points, &queries, Some(&rare), |i| {
        i.is_multiple_of(50)
    });
    assert!(recall >= 0.999 && worst < 1e-5, "{recall}, {worst}");
}
