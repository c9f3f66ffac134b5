//! Concurrency: searches on many threads while one writer adds, replaces and commits
//! see whole commits only; a commit is searchable as soon as `commit()` returns; other
//! handles read, reload to see new commits, and cannot write.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use trawl_index::{Error, Filter, Index, IndexOptions, Record};

const DIM: usize = 16;
const CHUNKS: usize = 4;

fn doc(id: usize, version: usize) -> Vec<Record> {
    let mut s = (id * 1000 + version + 1) as u64;
    (0..CHUNKS)
        .map(|c| {
            Record::new(
                format!("doc{id}"),
                c as u32,
                format!("shared words v{version} marker{id}"),
                common::xorshift_vector(&mut s, DIM),
            )
        })
        .collect()
}

/// The version of each chunk visible to one search, per document.
fn visible(index: &Index) -> HashMap<String, Vec<String>> {
    let view = index.view();
    let hits = view.search_keyword("shared", 10_000, None).unwrap();
    let mut by_doc: HashMap<String, Vec<String>> = HashMap::new();
    for (_, r) in view
        .fetch(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
        .unwrap()
    {
        let version = r.text.split(' ').nth(2).unwrap().to_owned();
        by_doc.entry(r.doc_id).or_default().push(version);
    }
    by_doc
}

#[test]
fn searches_during_writes_see_whole_commits_only() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(Index::create(dir.path(), IndexOptions::new(DIM)).unwrap());
    let committed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let (index, committed, done) = (
                Arc::clone(&index),
                Arc::clone(&committed),
                Arc::clone(&done),
            );
            std::thread::spawn(move || {
                let mut searches = 0;
                while !done.load(Ordering::SeqCst) || searches < 5 {
                    let at_least = committed.load(Ordering::SeqCst);
                    let docs = visible(&index);
                    assert!(docs.len() >= at_least, "{} < {at_least}", docs.len());
                    for (id, versions) in &docs {
                        // All chunks of one version: never a mix, never a part.
                        assert_eq!(versions.len(), CHUNKS, "{id}: {versions:?}");
                        assert!(
                            versions.iter().all(|v| v == &versions[0]),
                            "{id}: {versions:?}"
                        );
                    }
                    let q = common::xorshift_vector(&mut (t as u64 + 1 + searches), DIM);
                    let dense = index.search_vector(&q, 10, None).unwrap();
                    // A later snapshot than `docs`'s, and chunks only grow in number.
                    assert!(dense.len() >= (docs.len() * CHUNKS).min(10));
                    searches += 1;
                }
            })
        })
        .collect();
    for id in 0..40 {
        index.add(doc(id, 0)).unwrap();
        if id > 0 {
            // Replace the previous document in the same commit.
            index
                .delete_document("", &format!("doc{}", id - 1))
                .unwrap();
            index.add(doc(id - 1, 1)).unwrap();
        }
        index.commit().unwrap();
        committed.store(id + 1, Ordering::SeqCst);
        // Searchable as soon as commit returns, by both retrievers.
        let only = Filter::eq("doc_id", format!("doc{id}"));
        assert_eq!(
            index
                .search_vector(&doc(id, 0)[1].vector, 10, Some(&only))
                .unwrap()
                .len(),
            CHUNKS
        );
        assert_eq!(
            index
                .search_keyword(&format!("marker{id}"), 10, None)
                .unwrap()
                .len(),
            CHUNKS
        );
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn another_handle_reads_reloads_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
    writer.add(doc(0, 0)).unwrap();
    writer.commit().unwrap();

    let reader = Index::open(dir.path()).unwrap();
    assert_eq!(reader.stats().unwrap().chunks, CHUNKS);
    // The writer holds the lock: the second handle is refused at once.
    assert!(matches!(reader.add(doc(9, 0)), Err(Error::Locked { .. })));
    assert!(matches!(
        reader.delete_document("", "doc0"),
        Err(Error::Locked { .. })
    ));

    writer.add(doc(1, 0)).unwrap();
    writer.delete_document("", "doc0").unwrap();
    writer.commit().unwrap();
    // Not yet reloaded: the reader still sees its snapshot.
    assert_eq!(
        reader.search_keyword("marker0", 10, None).unwrap().len(),
        CHUNKS
    );
    reader.reload().unwrap();
    assert!(reader
        .search_keyword("marker0", 10, None)
        .unwrap()
        .is_empty());
    let hits = reader.search_vector(&doc(1, 0)[2].vector, 1, None).unwrap();
    assert_eq!(reader.fetch(&[hits[0].id]).unwrap()[0].1.doc_id, "doc1");
    assert_eq!(reader.stats().unwrap().chunks, CHUNKS);

    // Once the writer is gone, the reader may write, continuing from the last commit.
    drop(writer);
    reader.add(doc(2, 0)).unwrap();
    reader.commit().unwrap();
    drop(reader);
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.stats().unwrap().documents, 2);
    for id in [1, 2] {
        let hits = index.search_vector(&doc(id, 0)[3].vector, 1, None).unwrap();
        assert_eq!(
            index.fetch(&[hits[0].id]).unwrap()[0].1.doc_id,
            format!("doc{id}")
        );
    }
}

const CHILD_ENV: &str = "TRAWL_CONCURRENCY_CHILD_DIR";

/// The writer process for the test below: adds one document per line it reads
/// ("add N"), commits, and answers "committed N"; ends on "exit" or end of input.
#[test]
#[ignore = "a subprocess helper: the test below runs it in a child process"]
fn concurrency_writer_child() {
    use std::io::BufRead;
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // Only runs when spawned by the parent test.
    };
    let index = Index::open(std::path::Path::new(&dir)).unwrap();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let Some(n) = line.strip_prefix("add ") else {
            break;
        };
        let id: usize = n.trim().parse().unwrap();
        index.add(doc(id, 0)).unwrap();
        index.commit().unwrap();
        println!("committed {id}");
    }
}

#[test]
fn readers_in_this_process_follow_a_writer_in_another() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    drop(Index::create(dir.path(), IndexOptions::new(DIM)).unwrap());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "concurrency_writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut add = |id: usize| {
        writeln!(to_child, "add {id}").unwrap();
        loop {
            let line = from_child.next().expect("child answers").unwrap();
            // libtest may have printed the test's name on the same line first.
            if let Some((_, n)) = line.split_once("committed ") {
                assert_eq!(n.trim(), id.to_string());
                break;
            }
        }
    };
    let reader = Index::open(dir.path()).unwrap();
    add(0);
    // The child holds the writer lock: refused at once, not after a wait.
    assert!(matches!(reader.add(doc(5, 0)), Err(Error::Locked { .. })));
    assert_eq!(reader.stats().unwrap().chunks, 0);
    reader.reload().unwrap();
    assert_eq!(reader.stats().unwrap().chunks, CHUNKS);
    for id in 1..4 {
        add(id);
        reader.reload().unwrap();
        let hits = reader
            .search_vector(&doc(id, 0)[1].vector, 1, None)
            .unwrap();
        let (_, r) = reader.fetch(&[hits[0].id]).unwrap().remove(0);
        assert_eq!(
            (r.doc_id.as_str(), r.ordinal),
            (format!("doc{id}").as_str(), 1)
        );
        assert_eq!(
            reader
                .search_keyword(&format!("marker{id}"), 10, None)
                .unwrap()
                .len(),
            CHUNKS
        );
    }
    add(4);
    drop(to_child);
    assert!(child.wait().unwrap().success());
    // With the writer gone, this process may write, after the other's commits.
    reader.add(doc(5, 0)).unwrap();
    reader.commit().unwrap();
    assert_eq!(reader.stats().unwrap().documents, 6);
    for id in 0..6 {
        assert_eq!(
            reader
                .search_keyword(&format!("marker{id}"), 10, None)
                .unwrap()
                .len(),
            CHUNKS
        );
    }
}
