//! A multi-process soak: one writer process upserting and deleting documents, killed
//! with SIGKILL at random moments and restarted, while three reader processes search,
//! fetch and reload without pause. Afterwards: no reader saw an error or a torn
//! document (chunks of two versions, or part of one), nothing committed was lost, and
//! the directory stayed small.
//!
//! It runs for 4 seconds here; `TRAWL_SOAK_SECS=300 cargo test -p trawl-index --test
//! soak --release` runs it for five minutes, and `TRAWL_SOAK_KEEP=1` keeps the
//! directory of a torn state for inspection.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trawl_index::{Index, IndexOptions, Record};

const DIM: usize = 8;
const DOCS: u64 = 12;
const CHUNKS: usize = 6;
const DIR_ENV: &str = "TRAWL_SOAK_DIR";
const SEED_ENV: &str = "TRAWL_SOAK_SEED";
const UNTIL_ENV: &str = "TRAWL_SOAK_UNTIL";

/// The writer's n-th operation: upsert `doc` at version `n`, or delete it.
#[derive(Debug, Clone, Copy)]
enum Op {
    Upsert(u64, u64),
    Delete(u64),
}

fn op(seed: u64, n: u64) -> Op {
    let mut s = (seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).max(1);
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    let doc = s % DOCS;
    if (s >> 20).is_multiple_of(5) {
        Op::Delete(doc)
    } else {
        Op::Upsert(doc, n)
    }
}

fn records(doc: u64, version: u64) -> Vec<Record> {
    (0..CHUNKS)
        .map(|c| {
            let mut s = (doc * 7_919 + version * 104_729 + c as u64 + 1) | 1;
            Record::new(
                format!("doc{doc}"),
                c as u32,
                format!("shared doc{doc} version{version} chunk{c}"),
                common::xorshift_vector(&mut s, DIM),
            )
        })
        .collect()
}

fn apply(state: &mut BTreeMap<u64, u64>, op: Op) {
    match op {
        Op::Upsert(doc, version) => state.insert(doc, version),
        Op::Delete(doc) => state.remove(&doc),
    };
}

/// Every visible document, by id: its version, from whole documents only. A torn
/// document (chunks of two versions, or fewer than all) is an error.
fn visible(index: &Index) -> Result<BTreeMap<u64, u64>, String> {
    let view = index.view();
    let hits = view
        .search_keyword("shared", 10_000, None)
        .map_err(|e| e.to_string())?;
    let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    let mut docs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (_, r) in view.fetch(&ids).map_err(|e| e.to_string())? {
        let doc: u64 = r.doc_id[3..].parse().map_err(|_| r.doc_id.clone())?;
        let version = r
            .text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("version"))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| r.text.clone())?;
        docs.entry(doc).or_default().push(version);
    }
    let mut out = BTreeMap::new();
    for (doc, versions) in docs {
        if versions.len() != CHUNKS || versions.iter().any(|v| *v != versions[0]) {
            return Err(format!("torn doc{doc}: versions {versions:?}"));
        }
        out.insert(doc, versions[0]);
    }
    Ok(out)
}

/// The writer: operations from `TRAWL_SOAK_SEED`, one commit each, forever, saying
/// which operation it is about to commit and which it has committed.
#[test]
#[ignore = "a subprocess helper: the soak test runs it in a child process"]
fn soak_writer_child() {
    let (Some(dir), Some(seed)) = (std::env::var_os(DIR_ENV), std::env::var(SEED_ENV).ok()) else {
        return;
    };
    let seed: u64 = seed.parse().unwrap();
    let start: u64 = std::env::var("TRAWL_SOAK_START").unwrap().parse().unwrap();
    let index = Index::open(Path::new(&dir)).unwrap();
    for n in start.. {
        match op(seed, n) {
            Op::Upsert(doc, version) => {
                index.delete_document("", &format!("doc{doc}")).unwrap();
                index.add(records(doc, version)).unwrap();
            }
            Op::Delete(doc) => index.delete_document("", &format!("doc{doc}")).unwrap(),
        }
        println!("committing {n}");
        index.commit().unwrap();
        println!("committed {n}");
    }
}

/// A reader: reloads and reads until `TRAWL_SOAK_UNTIL` (seconds since the epoch),
/// exiting with an error on the first failed or torn read.
#[test]
#[ignore = "a subprocess helper: the soak test runs it in a child process"]
fn soak_reader_child() {
    let (Some(dir), Some(until)) = (std::env::var_os(DIR_ENV), std::env::var(UNTIL_ENV).ok())
    else {
        return;
    };
    let until = Duration::from_secs_f64(until.parse().unwrap());
    let index = Index::open(Path::new(&dir)).unwrap();
    let mut reads = 0u64;
    while std::time::UNIX_EPOCH.elapsed().unwrap() < until {
        index.reload().unwrap();
        if let Err(e) = visible(&index) {
            panic!("reader saw: {e}");
        }
        reads += 1;
    }
    println!("reads {reads}");
}

fn child(name: &str, envs: &[(&str, String)], stdout: Stdio) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .stdout(stdout)
    .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[test]
fn readers_never_see_torn_or_lost_commits_while_the_writer_is_killed() {
    let secs: f64 = std::env::var("TRAWL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_owned();
    drop(Index::create(tmp.path(), IndexOptions::new(DIM)).unwrap());
    let until = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs_f64() + secs;
    // Readers stop at `until`; the writer loop may go on (slow machines) without them.
    let readers: Vec<Child> = (0..3)
        .map(|_| {
            child(
                "soak_reader_child",
                &[(DIR_ENV, dir.clone()), (UNTIL_ENV, until.to_string())],
                Stdio::piped(),
            )
        })
        .collect();

    let seed = 0x5eed_u64;
    let mut state: BTreeMap<u64, u64> = BTreeMap::new();
    let mut next = 0u64;
    let mut rng = 99u64;
    let (mut restarts, started) = (0, Instant::now());
    // At least a few commits, however slow the machine (within four times the time).
    while started.elapsed().as_secs_f64() < secs
        || (next < 5 && started.elapsed().as_secs_f64() < 4.0 * secs)
    {
        let mut writer = child(
            "soak_writer_child",
            &[
                (DIR_ENV, dir.clone()),
                (SEED_ENV, seed.to_string()),
                ("TRAWL_SOAK_START", next.to_string()),
            ],
            Stdio::piped(),
        );
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let life = Duration::from_millis(200 + (rng >> 33) % 800);
        let stdout = writer.stdout.take().unwrap();
        let lines = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(life);
        writer.kill().unwrap();
        writer.wait().unwrap();
        restarts += 1;
        // Apply what was committed; an operation announced but not confirmed may or
        // may not have been committed: the store says which.
        let mut pending = None;
        for line in lines.join().unwrap() {
            // The first line follows libtest's "test NAME ... ".
            let line = line.rsplit("... ").next().unwrap_or_default();
            if let Some(n) = line.strip_prefix("committed ") {
                let n: u64 = n.parse().unwrap();
                apply(&mut state, op(seed, n));
                next = n + 1;
                pending = None;
            } else if let Some(n) = line.strip_prefix("committing ") {
                pending = Some(n.parse::<u64>().unwrap());
            }
        }
        if std::env::var_os("TRAWL_SOAK_KEEP").is_some() {
            if let Err(e) = visible(&Index::open(tmp.path()).unwrap()) {
                let kept = tmp.keep();
                panic!("{e}: kept {}, pending {pending:?}", kept.display());
            }
        }
        if let Some(n) = pending {
            let on_disk = visible(&Index::open(tmp.path()).unwrap()).unwrap();
            let mut with = state.clone();
            apply(&mut with, op(seed, n));
            if on_disk == with {
                state = with;
                next = n + 1;
            } else {
                assert_eq!(on_disk, state, "after op {n} was announced");
            }
        }
        let on_disk = visible(&Index::open(tmp.path()).unwrap()).unwrap();
        assert_eq!(
            on_disk, state,
            "nothing committed is lost (restart {restarts})"
        );
    }
    let mut reads = 0u64;
    for mut reader in readers {
        let status = reader.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(reader.stderr.as_mut().unwrap(), &mut err).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(reader.stdout.as_mut().unwrap(), &mut out).unwrap();
        assert!(status.success(), "a reader failed: {err}");
        let n = out
            .split("reads ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok());
        reads += n.unwrap_or_else(|| panic!("no read count: {out}"));
    }
    eprintln!("soak: {secs} s, {restarts} writer kills, {next} commits, {reads} reader passes");
    assert!(next >= 5, "the writer committed only {next} operations");
    // Kills leave no growing litter: the store is garbage-collected on later commits.
    let size = dir_size(tmp.path());
    assert!(size < 16 << 20, "{size} bytes for {DOCS} documents");
}
