//! Heavy update churn keeps the index bounded: deleted chunks leave the HNSW graph and
//! the store's segments, so the directory stays near the size of a fresh build.
#![cfg(unix)]

mod common;

use std::path::Path;

use trawl_index::{Index, IndexOptions, Record};

const DIM: usize = 32;
const DOCS: usize = 200;
const CHUNKS: usize = 5;

fn doc(id: usize, version: u64) -> Vec<Record> {
    let mut s = (id as u64 * 7919 + version * 104_729 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..CHUNKS)
        .map(|c| {
            let mut r = Record::new(
                format!("doc{id}"),
                c as u32,
                format!("document {id} version {version} chunk {c} with some filler text"),
                common::xorshift_vector(&mut s, DIM),
            );
            r.doc_hash = format!("{id}-{version}");
            r
        })
        .collect()
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_size(&e.path())
            } else {
                // The space taken: vector files give back pages of deleted rows as
                // holes, keeping their length.
                std::os::unix::fs::MetadataExt::blocks(&m) * 512
            }
        })
        .sum()
}

#[test]
fn twenty_rounds_replacing_half_stay_within_twice_a_fresh_build() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
    let mut version = vec![0u64; DOCS];
    for id in 0..DOCS {
        index.add(doc(id, 0)).unwrap();
    }
    index.commit().unwrap();
    let mut max_ratio_graph = 0.0f64;
    for round in 1..=20u64 {
        // A different half each round.
        for id in (0..DOCS).filter(|id| (id + round as usize).is_multiple_of(2)) {
            version[id] = round;
            index.delete_document("", &format!("doc{id}")).unwrap();
            index.add(doc(id, round)).unwrap();
        }
        index.commit().unwrap();
        let stats = index.stats().unwrap();
        assert_eq!(stats.chunks, DOCS * CHUNKS);
        assert_eq!(stats.documents, DOCS);
        max_ratio_graph = max_ratio_graph.max(stats.graph_points as f64 / stats.chunks as f64);
    }
    // The graph never held much more than the live chunks.
    assert!(
        max_ratio_graph <= 1.0 + 0.5,
        "graph grew to {max_ratio_graph}x the chunks"
    );
    let stats = index.stats().unwrap();
    drop(index);
    let churned = dir_size(dir.path());

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Index::create(fresh_dir.path(), IndexOptions::new(DIM)).unwrap();
    for (id, v) in version.iter().enumerate() {
        fresh.add(doc(id, *v)).unwrap();
    }
    fresh.commit().unwrap();
    drop(fresh);
    let fresh = dir_size(fresh_dir.path());
    let ratio = churned as f64 / fresh as f64;
    eprintln!("churned {churned} bytes, fresh {fresh} bytes: {ratio:.2}x");
    assert!(
        ratio <= 2.0,
        "churned index is {churned} bytes, a fresh build {fresh} ({ratio:.2}x); {stats:?}"
    );

    // Still correct: the newest version of every document is what is found.
    let index = Index::open(dir.path()).unwrap();
    for (id, v) in version.iter().enumerate().step_by(17) {
        let want = doc(id, *v);
        let hits = index.search_vector(&want[2].vector, 1, None).unwrap();
        let (_, got) = index.fetch(&[hits[0].id]).unwrap().remove(0);
        assert_eq!(got.text, want[2].text);
    }
}

fn saved_next_vid(dir: &Path) -> u64 {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("hnsw/state.json")).unwrap()).unwrap();
    state["next_vid"].as_u64().unwrap()
}

#[test]
fn small_commits_do_not_rewrite_the_whole_graph_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
        for id in 0..100 {
            index.add(doc(id, 0)).unwrap();
        }
        index.commit().unwrap();
        index.flush_graph().unwrap();
        assert_eq!(saved_next_vid(dir.path()), (100 * CHUNKS) as u64);
        // A few chunks more: searchable at once, but the saved graph is left as it is.
        index.add(doc(100, 0)).unwrap();
        index.commit().unwrap();
        index.flush_graph().unwrap();
        assert_eq!(saved_next_vid(dir.path()), (100 * CHUNKS) as u64);
        let hits = index
            .search_vector(&doc(100, 0)[1].vector, 1, None)
            .unwrap();
        assert_eq!(index.fetch(&[hits[0].id]).unwrap()[0].1.doc_id, "doc100");
    }
    // Reopened, the graph is caught up from the store.
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().graph_points, 101 * CHUNKS);
    let hits = index
        .search_vector(&doc(100, 0)[3].vector, 1, None)
        .unwrap();
    let (_, r) = index.fetch(&[hits[0].id]).unwrap().remove(0);
    assert_eq!((r.doc_id.as_str(), r.ordinal), ("doc100", 3));
}

/// `fetch` finds chunks by vid through the store addresses recorded with each
/// committed state: after replacements across many segments and store merges, and
/// after reopening, it returns exactly the live chunks asked for, in the order asked.
#[test]
fn fetch_returns_live_chunks_in_order_after_churn_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut dead = Vec::new();
    {
        let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
        for id in 0..DOCS {
            index.add(doc(id, 0)).unwrap();
            if id % 50 == 49 {
                index.commit().unwrap();
            }
        }
        for round in 1..=6u64 {
            for id in (0..DOCS).filter(|id| (id + round as usize).is_multiple_of(3)) {
                let old = index.view().document("", &format!("doc{id}")).unwrap();
                dead.extend(old.iter().map(|(vid, _)| *vid));
                index.delete_document("", &format!("doc{id}")).unwrap();
                index.add(doc(id, round)).unwrap();
            }
            index.commit().unwrap();
        }
        // A few small commits last, so that the store has several segments.
        for id in DOCS..DOCS + 3 {
            index.add(doc(id, 0)).unwrap();
            index.commit().unwrap();
        }
        check_fetch(&index, &dead);
    }
    let index = Index::open(dir.path()).unwrap();
    check_fetch(&index, &dead);
}

fn check_fetch(index: &Index, dead: &[u64]) {
    let view = index.view();
    let mut live: Vec<(u64, Record)> = (0..DOCS + 3)
        .flat_map(|id| view.document("", &format!("doc{id}")).unwrap())
        .collect();
    assert_eq!(live.len(), (DOCS + 3) * CHUNKS);
    live.reverse();
    // Live ids, backwards, with deleted and never-assigned ids mixed in.
    let mut ids: Vec<u64> = live.iter().map(|(vid, _)| *vid).collect();
    ids.splice(7..7, dead.iter().copied().take(40));
    ids.push(u64::MAX);
    ids.push(1 << 40);
    let got = view.fetch(&ids).unwrap();
    assert_eq!(got.len(), live.len(), "exactly the live chunks");
    for ((vid, want), (got_vid, got)) in live.iter().zip(&got) {
        assert_eq!(vid, got_vid);
        assert_eq!(
            (&got.doc_id, got.ordinal, &got.text, &got.vector),
            (&want.doc_id, want.ordinal, &want.text, &want.vector)
        );
    }
}
