//! An index written before the graph had its own format opens: its store is read as
//! it is and the graph is rebuilt from the store's vectors. The fixture in
//! `fixtures/index-hnsw-rs` was written by trawl when its graph was hnsw_rs 0.3.5 (the
//! program is `generate.rs.txt` there): 300 chunks of 8-dimensional vectors in 100
//! documents, committed, the graph saved in hnsw_rs's dump format.

mod common;

use std::path::Path;

use trawl_index::{Index, Quantization};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/index-hnsw-rs");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "generate.rs.txt" {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The fixture's vectors, made by the same generator as `generate.rs.txt`.
fn vectors() -> Vec<Vec<f32>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..300)
        .map(|_| common::xorshift_vector(&mut state, 8))
        .collect()
}

#[test]
fn an_index_whose_graph_was_saved_by_hnsw_rs_opens_with_the_graph_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(FIXTURE), dir.path());
    let index = Index::open(dir.path()).unwrap();
    // Its manifest names no quantization: it keeps walking on full vectors.
    assert_eq!(index.options().hnsw.quantization, Quantization::None);
    let stats = index.stats().unwrap();
    assert_eq!((stats.documents, stats.chunks), (100, 300));
    assert_eq!(stats.graph_points, 300);
    assert_eq!(stats.unindexed_points, 0);
    for (i, v) in vectors().iter().enumerate().step_by(7) {
        let hits = index.search_vector(v, 1, None).unwrap();
        let (_, record) = index.fetch(&[hits[0].id]).unwrap().remove(0);
        assert_eq!(
            (record.doc_id.as_str(), record.ordinal),
            (format!("doc-{}", i / 3).as_str(), (i % 3) as u32)
        );
    }
    // The first commit saves the graph in its own format, and the old dump goes.
    let extra = trawl_index::Record::new(
        "doc-new",
        0,
        "a chunk added after the upgrade",
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    );
    index.add(vec![extra]).unwrap();
    index.commit().unwrap();
    index.flush_graph().unwrap();
    drop(index);
    let files: Vec<String> = std::fs::read_dir(dir.path().join("hnsw"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.contains(".hnsw.")), "{files:?}");
    assert!(
        files.iter().any(|f| f.ends_with(".trawl-graph")),
        "{files:?}"
    );
    // It keeps its format: vectors stay in the store, and no vector files appear.
    assert!(!dir.path().join("vectors").exists());
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().graph_points, 301);
    let hits = index.search_vector(&vectors()[42], 1, None).unwrap();
    let (_, record) = index.fetch(&[hits[0].id]).unwrap().remove(0);
    assert_eq!((record.doc_id.as_str(), record.ordinal), ("doc-14", 0));
}
