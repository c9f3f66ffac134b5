//! Crash safety: a writer process killed with SIGKILL at arbitrary moments (during an
//! add, a commit or the HNSW save) reopens to its last commit with nothing committed
//! lost, and both retrievers find every committed chunk.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trawl_index::{Index, IndexOptions, Record};

const DIM: usize = 16;
const CHUNKS_PER_DOC: usize = 20;
const CHILD_ENV: &str = "TRAWL_CRASH_CHILD_DIR";

fn vector(doc: u64, chunk: usize) -> Vec<f32> {
    let mut s = (doc * 1_000 + chunk as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    common::xorshift_vector(&mut s, DIM)
}

fn records(doc: u64) -> Vec<Record> {
    (0..CHUNKS_PER_DOC)
        .map(|c| {
            Record::new(
                format!("doc{doc}"),
                c as u32,
                format!("marker{doc}x{c} text"),
                vector(doc, c),
            )
        })
        .collect()
}

/// The child: adds and commits one document at a time, forever, announcing each
/// commit on stdout only after `commit()` has returned.
#[test]
#[ignore = "a subprocess helper: the test below runs it in a child process"]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // Only runs when spawned by the parent test.
    };
    let index = Index::open_or_create(Path::new(&dir), IndexOptions::new(DIM)).unwrap();
    let start = index.stats().unwrap().documents as u64;
    for doc in start.. {
        index.add(records(doc)).unwrap();
        index.commit().unwrap();
        println!("committed {doc}");
    }
}

#[test]
fn killed_writers_lose_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut committed: Option<u64> = None;
    let mut seed = 12_345u64;
    for round in 0..12 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let wait = Duration::from_millis(50 + (seed >> 33) % 400);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("committed ") {
                    last = n.trim().parse::<u64>().ok();
                    let _ = tx.send(());
                }
            }
            last
        });
        // The kill lands a random time after this round's first commit, so every round
        // makes progress however loaded the machine is, and the kill still falls
        // anywhere in an add, a commit or a graph save.
        let _ = rx.recv_timeout(Duration::from_secs(120));
        let started = Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        if let Some(n) = reader.join().unwrap() {
            committed = Some(committed.map_or(n, |c| c.max(n)));
        }

        eprintln!("round {round}: killed after {wait:?}; last commit seen: {committed:?}");
        let index =
            Index::open(dir.path()).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let Some(last) = committed else { continue };
        let stats = index.stats().unwrap();
        assert!(
            stats.documents as u64 > last,
            "round {round}: {} documents, doc{last} was committed",
            stats.documents
        );
        assert_eq!(
            stats.chunks,
            stats.documents * CHUNKS_PER_DOC,
            "round {round}: a document is half there"
        );
        for doc in 0..=last {
            let c = (doc as usize * 7) % CHUNKS_PER_DOC;
            let kw = index
                .search_keyword(&format!("marker{doc}x{c}"), 1, None)
                .unwrap();
            assert_eq!(
                kw.len(),
                1,
                "round {round}: doc{doc} chunk {c} lost from the keyword index"
            );
            let hits = index.search_vector(&vector(doc, c), 1, None).unwrap();
            let (_, r) = index.fetch(&[hits[0].id]).unwrap().remove(0);
            assert_eq!(
                (r.doc_id.as_str(), r.ordinal),
                (format!("doc{doc}").as_str(), c as u32),
                "round {round}: vector search lost doc{doc}#{c}"
            );
        }
    }
    assert!(
        committed.is_some_and(|c| c >= 3),
        "the writer never got far: {committed:?}"
    );
}
