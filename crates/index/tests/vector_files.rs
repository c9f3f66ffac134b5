//! Each vector is stored once, in the index's vector files: not in the store and not in
//! the graph's file. The files survive reopening, a lost graph, a commit that crashed
//! after writing its rows, and give their space back when their chunks are deleted.

mod common;

use std::path::Path;

use trawl_index::{Index, IndexOptions, Record};

const DIM: usize = 64;

/// `docs` documents of `per_doc` chunks each, and their vectors (unit length).
fn documents(docs: usize, per_doc: usize, seed: u64) -> (Vec<Vec<Record>>, Vec<Vec<f32>>) {
    let mut state = seed;
    let mut all = Vec::new();
    let records = (0..docs)
        .map(|d| {
            (0..per_doc)
                .map(|c| {
                    let v = common::xorshift_vector(&mut state, DIM);
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    all.push(v.iter().map(|x| x / norm).collect());
                    Record::new(format!("doc{d}"), c as u32, format!("chunk {c} of {d}"), v)
                })
                .collect()
        })
        .collect();
    (records, all)
}

fn build(dir: &Path, docs: usize, per_doc: usize) -> (Index, Vec<Vec<f32>>) {
    let index = Index::create(dir, IndexOptions::new(DIM)).unwrap();
    let (records, vectors) = documents(docs, per_doc, 0x5EED);
    for r in records {
        index.add(r).unwrap();
    }
    index.commit().unwrap();
    index.flush_graph().unwrap();
    (index, vectors)
}

fn size_of(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        size_of(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn vector_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("vectors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The chunk found nearest `v` is `want`'s, with a score of 1 and `v` as its vector.
fn finds(index: &Index, v: &[f32], want: (&str, u32)) {
    let hits = index.search_vector(v, 1, None).unwrap();
    assert!((hits[0].score - 1.0).abs() < 1e-5, "{hits:?}");
    let (_, record) = index.fetch(&[hits[0].id]).unwrap().remove(0);
    assert_eq!((record.doc_id.as_str(), record.ordinal), want);
    assert_eq!(record.vector.len(), DIM);
    for (a, b) in record.vector.iter().zip(v) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn each_vector_is_stored_once_and_read_from_the_vector_files() {
    let dir = tempfile::tempdir().unwrap();
    // Past the point where the graph is quantized: it walks on codes and rescores
    // from the files.
    let (index, vectors) = build(dir.path(), 1_000, 10);
    let n = vectors.len() as u64;
    let row_bytes = DIM as u64 * 4;
    assert_eq!(size_of(&dir.path().join("vectors")), n * row_bytes);
    // The store and the graph file hold no vectors: with them, each would pass the
    // vectors' size (random floats do not compress).
    let store = size_of(&dir.path().join("store"));
    let graph = size_of(&dir.path().join("hnsw"));
    assert!(store < n * row_bytes / 2, "store {store} bytes");
    assert!(graph < n * row_bytes, "graph {graph} bytes");
    let stats = index.stats().unwrap();
    assert_eq!(stats.graph_vectors_in_memory, 0);
    for i in (0..vectors.len()).step_by(997) {
        finds(
            &index,
            &vectors[i],
            (&format!("doc{}", i / 10), (i % 10) as u32),
        );
    }
    drop(index);

    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().graph_vectors_in_memory, 0);
    finds(&index, &vectors[4_321], ("doc432", 1));
    assert!(index.check().unwrap().is_healthy());
    drop(index);

    // A lost graph is rebuilt from the vector files.
    std::fs::remove_dir_all(dir.path().join("hnsw")).unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().graph_points, vectors.len());
    finds(&index, &vectors[9_999], ("doc999", 9));
}

#[test]
fn a_graph_without_quantization_copies_the_rows_and_saves_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = IndexOptions::new(DIM);
    options.hnsw.quantization = trawl_index::Quantization::None;
    let index = Index::create(dir.path(), options).unwrap();
    let (records, vectors) = documents(300, 10, 7);
    for r in records {
        index.add(r).unwrap();
    }
    index.commit().unwrap();
    index.flush_graph().unwrap();
    drop(index);
    let n = vectors.len() as u64;
    assert!(size_of(&dir.path().join("hnsw")) < n * DIM as u64 * 4);
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(
        index.stats().unwrap().graph_vectors_in_memory,
        vectors.len()
    );
    finds(&index, &vectors[1_234], ("doc123", 4));
}

#[test]
fn rows_a_crashed_commit_wrote_are_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = build(dir.path(), 10, 10);
    drop(index);
    // A commit that wrote rows 100..150 and died before the store's commit.
    let file = dir.path().join("vectors").join("00000000.f32");
    let mut bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len(), 100 * DIM * 4);
    bytes.extend((0..50 * DIM).flat_map(|i| (i as f32).to_le_bytes()));
    std::fs::write(&file, bytes).unwrap();

    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().chunks, 100);
    let (records, vectors) = documents(5, 10, 99);
    for mut r in records {
        for chunk in &mut r {
            chunk.doc_id = format!("new-{}", chunk.doc_id);
        }
        index.add(r).unwrap();
    }
    index.commit().unwrap();
    for (i, v) in vectors.iter().enumerate().step_by(7) {
        finds(&index, v, (&format!("new-doc{}", i / 10), (i % 10) as u32));
    }
    index.flush_graph().unwrap();
    let report = index.check().unwrap();
    assert!(report.is_healthy(), "{:?}", report.problems());
}

#[test]
fn deleted_chunks_give_their_files_back_unless_a_pin_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    // 3,000 chunks: files of vids 0..1024, 1024..2048 and 2048..4096.
    let (index, vectors) = build(dir.path(), 300, 10);
    assert_eq!(
        vector_files(dir.path()),
        ["00000000.f32", "00000001.f32", "00000002.f32"]
    );
    // A pin holds the first commit: its chunks stay readable, so do their rows.
    let pinned = index.pin().unwrap();
    // Documents 0..=204 hold vids 0..2050: the first two files die.
    for d in 0..=204 {
        index.delete_document("", &format!("doc{d}")).unwrap();
    }
    index.commit().unwrap();
    index.flush_graph().unwrap();
    assert_eq!(vector_files(dir.path()).len(), 3);
    let old = Index::open_at(dir.path(), pinned).unwrap();
    let (_, record) = old.fetch(&[5]).unwrap().remove(0);
    assert_eq!(record.vector, vectors[5]);
    drop(old);
    Index::unpin(dir.path(), pinned).unwrap();

    // Without the pin, the next compaction of the graph gives them back.
    for d in 205..=210 {
        index.delete_document("", &format!("doc{d}")).unwrap();
    }
    index.commit().unwrap();
    index.rebuild_graph().unwrap();
    assert_eq!(vector_files(dir.path()), ["00000002.f32"]);
    finds(&index, &vectors[2_999], ("doc299", 9));
    assert!(index.fetch(&[5]).unwrap().is_empty());
    assert!(index.check().unwrap().is_healthy());
    drop(index);
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().chunks, 890);
    finds(&index, &vectors[2_500], ("doc250", 0));
    assert!(index.check().unwrap().is_healthy());
}

#[test]
fn check_reports_a_row_lost_from_the_vector_files() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = build(dir.path(), 10, 10);
    drop(index);
    let file = dir.path().join("vectors").join("00000000.f32");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[42 * DIM * 4..43 * DIM * 4].fill(0);
    bytes.truncate(95 * DIM * 4);
    std::fs::write(&file, bytes).unwrap();
    let index = Index::open(dir.path()).unwrap();
    let report = index.check().unwrap();
    assert_eq!(report.bad_vectors.count, 6, "{:?}", report.problems());
    assert!(!report.is_healthy());
}

#[test]
fn the_file_later_chunks_go_into_stays_when_all_its_chunks_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = build(dir.path(), 10, 10);
    for d in 0..10 {
        index.delete_document("", &format!("doc{d}")).unwrap();
    }
    index.commit().unwrap();
    // A compaction, saved: the 100 rows are dead, but the file's range goes on past
    // them, and the next commit's rows go into it.
    index.rebuild_graph().unwrap();
    assert_eq!(vector_files(dir.path()), ["00000000.f32"]);
    let (records, vectors) = documents(5, 10, 42);
    for mut r in records {
        for chunk in &mut r {
            chunk.doc_id = format!("later-{}", chunk.doc_id);
        }
        index.add(r).unwrap();
    }
    index.commit().unwrap();
    index.flush_graph().unwrap();
    for (i, v) in vectors.iter().enumerate().step_by(9) {
        finds(
            &index,
            v,
            (&format!("later-doc{}", i / 10), (i % 10) as u32),
        );
    }
    drop(index);
    let index = Index::open(dir.path()).unwrap();
    finds(&index, &vectors[17], ("later-doc1", 7));
    assert!(index.check().unwrap().is_healthy());
}
