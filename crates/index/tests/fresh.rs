//! Committed vectors are searchable before the background thread has put them into the
//! HNSW graph: searches compare the query with them exactly, honour filters, tenants and
//! deletes, and the index reopens whether or not the graph caught up.
//!
//! `set_graph_indexing(false)` holds the background thread, so these tests exercise the
//! unindexed path deterministically (`Stats::unindexed_points` says they do).

mod common;

use std::collections::HashSet;

use trawl_index::{Filter, Index, IndexOptions, Record, Scored};

const DIM: usize = 16;

fn unit_vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            let mut v = common::xorshift_vector(&mut s, DIM);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

fn records(doc: &str, tenant: &str, vs: &[Vec<f32>]) -> Vec<Record> {
    vs.iter()
        .enumerate()
        .map(|(i, v)| {
            Record::new(doc, i as u32, format!("chunk {i} of {doc}"), v.clone()).with_tenant(tenant)
        })
        .collect()
}

/// An index whose graph holds `base` (flushed), with graph indexing then paused.
fn indexed_then_paused(dir: &std::path::Path, base: &[Vec<f32>]) -> Index {
    let index = Index::create(dir, IndexOptions::new(DIM)).unwrap();
    index.add(records("base", "", base)).unwrap();
    index.commit().unwrap();
    index.flush_graph().unwrap();
    assert_eq!(index.stats().unwrap().unindexed_points, 0);
    index.set_graph_indexing(false);
    index
}

/// (doc_id, ordinal) of each hit.
fn located(index: &Index, hits: &[Scored]) -> Vec<(String, u32)> {
    let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    index
        .fetch(&ids)
        .unwrap()
        .into_iter()
        .map(|(_, r)| (r.doc_id, r.ordinal))
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The `k` best of `candidates` for `q` by brute force, as (doc, ordinal, score).
fn brute_force(
    q: &[f32],
    k: usize,
    candidates: &[(&str, u32, &Vec<f32>)],
) -> Vec<(String, u32, f32)> {
    let mut all: Vec<(String, u32, f32)> = candidates
        .iter()
        .map(|(d, o, v)| ((*d).to_owned(), *o, dot(q, v)))
        .collect();
    all.sort_by(|a, b| b.2.total_cmp(&a.2));
    all.truncate(k);
    all
}

#[test]
fn a_just_committed_chunk_is_found_at_once_also_with_a_filter_and_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed_then_paused(dir.path(), &unit_vectors(400, 3));
    let new = unit_vectors(30, 77);
    index.add(records("new", "acme", &new)).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats().unwrap().unindexed_points, 30);

    let acme = Filter::tenant("acme");
    let doc_new = Filter::eq("doc_id", "new");
    for (i, v) in new.iter().enumerate() {
        let want = ("new".to_owned(), i as u32);
        let hits = index.search_vector(v, 1, None).unwrap();
        assert_eq!(located(&index, &hits), vec![want.clone()], "point {i}");
        assert!(hits[0].score > 0.999);
        for filter in [&acme, &doc_new] {
            let hits = index.search_vector(v, 5, Some(filter)).unwrap();
            let found = located(&index, &hits);
            assert_eq!(found[0], want, "point {i} with {filter}");
            assert_eq!(found.len(), 5);
            assert!(found.iter().all(|(d, _)| d == "new"), "{filter}: {found:?}");
        }
    }
    // The default tenant never sees them.
    let hits = index
        .search_vector(&new[0], 10, Some(&Filter::tenant("")))
        .unwrap();
    assert!(located(&index, &hits).iter().all(|(d, _)| d == "base"));
}

#[test]
fn unindexed_chunks_are_ranked_exactly_and_merged_with_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let base = unit_vectors(300, 5);
    let index = indexed_then_paused(dir.path(), &base);
    let new = unit_vectors(200, 6);
    index.add(records("new", "", &new)).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats().unwrap().unindexed_points, 200);

    let fresh_only: Vec<(&str, u32, &Vec<f32>)> = new
        .iter()
        .enumerate()
        .map(|(i, v)| ("new", i as u32, v))
        .collect();
    let mut everything = fresh_only.clone();
    everything.extend(base.iter().enumerate().map(|(i, v)| ("base", i as u32, v)));
    let only_new = Filter::eq("doc_id", "new");
    for q in unit_vectors(25, 901) {
        // Only unindexed chunks match: the result is the exact top 10, in order.
        let hits = index.search_vector(&q, 10, Some(&only_new)).unwrap();
        let want = brute_force(&q, 10, &fresh_only);
        let got = located(&index, &hits);
        assert_eq!(
            got,
            want.iter()
                .map(|(d, o, _)| (d.clone(), *o))
                .collect::<Vec<_>>()
        );
        for (h, w) in hits.iter().zip(&want) {
            assert!((h.score - w.2).abs() < 1e-5, "{} vs {}", h.score, w.2);
        }
        // Unfiltered: graph and unindexed hits merged; a 300-point graph searched with
        // ef=96 is exhaustive, so this too is the exact top 10.
        let hits = index.search_vector(&q, 10, None).unwrap();
        let want = brute_force(&q, 10, &everything);
        assert_eq!(
            located(&index, &hits),
            want.iter()
                .map(|(d, o, _)| (d.clone(), *o))
                .collect::<Vec<_>>()
        );
        let distinct: HashSet<u64> = hits.iter().map(|h| h.id).collect();
        assert_eq!(distinct.len(), hits.len());
    }

    // Inserted into the graph, the same searches give the same chunks.
    let top5 = || -> Vec<Vec<u64>> {
        unit_vectors(10, 902)
            .iter()
            .map(|q| {
                index
                    .search_vector(q, 5, None)
                    .unwrap()
                    .iter()
                    .map(|h| h.id)
                    .collect()
            })
            .collect()
    };
    let before = top5();
    index.set_graph_indexing(true);
    index.flush_graph().unwrap();
    let stats = index.stats().unwrap();
    assert_eq!((stats.unindexed_points, stats.graph_points), (0, 500));
    let after = top5();
    assert_eq!(before, after);
}

#[test]
fn deleted_unindexed_chunks_are_never_found() {
    let dir = tempfile::tempdir().unwrap();
    let index = indexed_then_paused(dir.path(), &unit_vectors(200, 8));
    let gone = unit_vectors(20, 9);
    let kept = unit_vectors(20, 10);
    index.add(records("gone", "t", &gone)).unwrap();
    index.add(records("kept", "t", &kept)).unwrap();
    index.commit().unwrap();
    index.delete_document("t", "gone").unwrap();
    index.commit().unwrap();
    let stats = index.stats().unwrap();
    assert_eq!(stats.unindexed_points, 40);
    assert_eq!(stats.tombstones, 20);
    let tenant = Filter::tenant("t");
    for v in &gone {
        for filter in [None, Some(&tenant)] {
            let hits = index.search_vector(v, 20, filter).unwrap();
            assert!(
                located(&index, &hits).iter().all(|(d, _)| d != "gone"),
                "a deleted chunk was found with filter {filter:?}"
            );
        }
        let hits = index.search_vector(v, 30, Some(&tenant)).unwrap();
        assert_eq!(hits.len(), 20, "only the 20 kept chunks match");
    }
    // Inserted into the graph by the background thread, they stay gone.
    index.set_graph_indexing(true);
    index.flush_graph().unwrap();
    let hits = index.search_vector(&gone[3], 5, None).unwrap();
    assert!(located(&index, &hits).iter().all(|(d, _)| d != "gone"));
}

#[test]
fn reopens_whether_or_not_the_graph_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let base = unit_vectors(150, 11);
    let first = unit_vectors(50, 12);
    let second = unit_vectors(50, 13);
    {
        // Dropped while paused: the new points never reached the graph.
        let index = indexed_then_paused(dir.path(), &base);
        index.add(records("first", "", &first)).unwrap();
        index.commit().unwrap();
        assert_eq!(index.stats().unwrap().unindexed_points, 50);
    }
    {
        let index = Index::open(dir.path()).unwrap();
        let stats = index.stats().unwrap();
        assert_eq!((stats.graph_points, stats.unindexed_points), (200, 0));
        let hits = index.search_vector(&first[7], 1, None).unwrap();
        assert_eq!(located(&index, &hits), vec![("first".to_owned(), 7)]);
        // Dropped with indexing on: the drop waits for the insertion.
        index.add(records("second", "", &second)).unwrap();
        index.commit().unwrap();
    }
    let index = Index::open(dir.path()).unwrap();
    let stats = index.stats().unwrap();
    assert_eq!((stats.chunks, stats.graph_points), (250, 250));
    for (doc, vs) in [("base", &base), ("first", &first), ("second", &second)] {
        for (i, v) in vs.iter().enumerate().step_by(9) {
            let hits = index.search_vector(v, 1, None).unwrap();
            assert_eq!(located(&index, &hits), vec![(doc.to_owned(), i as u32)]);
        }
    }
}

#[test]
fn searches_during_background_insertion_find_every_point_once() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
    let vs = unit_vectors(5_000, 21);
    index.add(records("big", "", &vs)).unwrap();
    index.commit().unwrap();
    // Whatever the thread has inserted by now, each point is found, and found once.
    for (i, v) in vs.iter().enumerate().step_by(50) {
        let hits = index.search_vector(v, 10, None).unwrap();
        assert_eq!(
            located(&index, &hits[..1]),
            vec![("big".to_owned(), i as u32)]
        );
        let distinct: HashSet<u64> = hits.iter().map(|h| h.id).collect();
        assert_eq!(distinct.len(), 10);
    }
    index.flush_graph().unwrap();
    assert_eq!(index.stats().unwrap().graph_points, 5_000);
}

#[test]
fn a_reader_handle_sees_another_handles_commits_before_its_graph_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
    writer
        .add(records("a", "", &unit_vectors(100, 31)))
        .unwrap();
    writer.commit().unwrap();
    let reader = Index::open(dir.path()).unwrap();
    reader.set_graph_indexing(false);
    let later = unit_vectors(40, 32);
    writer.add(records("b", "", &later)).unwrap();
    writer.commit().unwrap();
    reader.reload().unwrap();
    assert_eq!(reader.stats().unwrap().unindexed_points, 40);
    let hits = reader.search_vector(&later[5], 1, None).unwrap();
    assert_eq!(located(&reader, &hits), vec![("b".to_owned(), 5)]);
    reader.reload().unwrap();
    assert_eq!(
        reader.stats().unwrap().unindexed_points,
        40,
        "nothing twice"
    );
}
