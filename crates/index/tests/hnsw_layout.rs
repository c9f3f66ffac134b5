//! The vendored hnsw_rs (vendor/hnsw_rs, see its PATCHES.md) keeps a smaller graph in
//! memory than upstream 0.3.5 but reads and writes the same files. The fixture in
//! `fixtures/upstream-hnsw` was dumped by upstream hnsw_rs 0.3.5 from crates.io, with the
//! program in `generate.rs.txt`: 200 points of 8 dimensions, M=6, ef_construction=50, L2.

use std::path::Path;

use hnsw_rs::prelude::{AnnT, DistL2, Hnsw, HnswIo};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream-hnsw");

/// The fixture's points, made by the same generator as `generate.rs.txt`.
fn points() -> Vec<Vec<f32>> {
    let mut state: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32) / (1u64 << 24) as f32
    };
    (0..200).map(|_| (0..8).map(|_| next()).collect()).collect()
}

fn exact_top(points: &[Vec<f32>], query: &[f32], k: usize) -> Vec<usize> {
    let mut by_distance: Vec<(f32, usize)> = points
        .iter()
        .enumerate()
        .map(|(id, p)| {
            let d: f32 = p.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
            (d, id)
        })
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_distance.into_iter().take(k).map(|(_, id)| id).collect()
}

/// Each point's top 10 (ids in order) when every point is the query.
fn answers(graph: &Hnsw<f32, DistL2>, points: &[Vec<f32>]) -> Vec<Vec<usize>> {
    points
        .iter()
        .map(|q| graph.search(q, 10, 64).iter().map(|n| n.d_id).collect())
        .collect()
}

fn recall(answers: &[Vec<usize>], points: &[Vec<f32>]) -> f64 {
    let found: usize = answers
        .iter()
        .zip(points)
        .map(|(got, q)| {
            let truth = exact_top(points, q, 10);
            got.iter().filter(|id| truth.contains(id)).count()
        })
        .sum();
    found as f64 / (10 * points.len()) as f64
}

#[test]
fn an_upstream_dump_loads_into_the_patched_layout_and_searches() {
    let points = points();
    let mut io = HnswIo::new(Path::new(FIXTURE), "upstream");
    let graph: Hnsw<f32, DistL2> = io.load_hnsw().expect("upstream dump loads");
    assert_eq!(graph.get_nb_point(), 200);
    assert!(
        graph.get_max_level_observed() >= 2,
        "the fixture has upper layers"
    );

    let mut edges = 0;
    for point in graph.get_point_indexation() {
        let id = point.get_origin_id();
        assert_eq!(point.get_v(), points[id].as_slice(), "vector of point {id}");
        let level = point.get_point_id().0 as usize;
        let lists = point.get_neighborhood_id();
        assert!(!lists[0].is_empty(), "point {id} has layer-0 neighbours");
        for (layer, list) in lists.iter().enumerate() {
            // Upstream also kept entries above a point's level;
            // the patched loader drops them.
            if layer > level {
                assert!(
                    list.is_empty(),
                    "point {id} (level {level}) has a list at {layer}"
                );
            }
            // (a neighbour can have a lower level: upstream links a point that rises
            // above the entry point to that entry point at every level)
            assert!(
                list.iter().all(|n| n.d_id != id),
                "point {id} is its own neighbour"
            );
            edges += list.len();
        }
    }
    assert!(edges > 200 * 6, "the graph is connected: {edges} edges");

    let loaded = answers(&graph, &points);
    for (id, got) in loaded.iter().enumerate() {
        assert_eq!(got[0], id, "point {id} finds itself first");
    }
    let r = recall(&loaded, &points);
    assert!(r >= 0.95, "recall@10 {r}");
}

#[test]
fn a_patched_dump_reloads_to_the_same_answers() {
    let points = points();
    let mut io = HnswIo::new(Path::new(FIXTURE), "upstream");
    let graph: Hnsw<f32, DistL2> = io.load_hnsw().expect("upstream dump loads");
    let before = answers(&graph, &points);

    let dir = tempfile::tempdir().unwrap();
    graph.file_dump(dir.path(), "patched").unwrap();
    let mut io = HnswIo::new(dir.path(), "patched");
    let reloaded: Hnsw<f32, DistL2> = io.load_hnsw().expect("patched dump loads");
    assert_eq!(answers(&reloaded, &points), before);

    // a graph built by the patched code answers as well as upstream's
    let built: Hnsw<f32, DistL2> = Hnsw::new(6, 200, 16, 50, DistL2 {});
    for (id, p) in points.iter().enumerate() {
        built.insert((p, id));
    }
    let r = recall(&answers(&built, &points), &points);
    assert!(r >= 0.95, "recall@10 of a patched build {r}");
}
