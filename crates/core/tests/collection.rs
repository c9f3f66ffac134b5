//! The Collection facade end to end: folder in, cited hits out, with the real model.

mod common;

use std::sync::Arc;

use trawl::{AddOptions, AddOutcome, Collection, Error, MetaValue, Metadata, Progress, SearchMode};

fn build(dir: &std::path::Path) -> Collection {
    let c = Collection::builder(dir)
        .embedder(common::embedder())
        .open()
        .unwrap();
    let report = c
        .add_paths(&[common::corpus_dir()], &AddOptions::default())
        .unwrap();
    assert_eq!(report.failures.len(), 0, "{:?}", report.failures);
    assert_eq!(report.added, 6);
    c.commit().unwrap();
    c
}

/// Paraphrased questions and the file that answers them.
const QUESTIONS: &[(&str, &str)] = &[
    (
        "how often and in what proportions should I refresh my wild yeast culture",
        "sourdough-bread.md",
    ),
    (
        "why can't I use a variable after passing it by value to a function",
        "rust-ownership.md",
    ),
    (
        "predator removal experiment that led to mussels taking over the shore",
        "tide-pools.txt",
    ),
    (
        "getting credit from the utility for surplus electricity sent back to the grid",
        "solar-panels.md",
    ),
    (
        "fifteenth century goldsmith who cast reusable metal letters",
        "printing-press.txt",
    ),
    (
        "French physicist who replaced reflectors with rings of glass prisms",
        "lighthouse-keepers.md",
    ),
];

#[test]
fn every_mode_finds_the_answering_document() {
    let dir = tempfile::tempdir().unwrap();
    let c = build(dir.path());
    for mode in [SearchMode::Dense, SearchMode::Hybrid] {
        for (q, file) in QUESTIONS {
            let hits = c.search(q, 3, mode).unwrap();
            assert!(
                hits[0].doc_id.ends_with(file),
                "{mode}: {q:?} -> {}",
                hits[0].doc_id
            );
        }
    }
    // Keyword search wants the words themselves.
    for (q, file) in [
        ("Gutenberg movable type Mainz", "printing-press.txt"),
        ("acrorhagi anemone", "tide-pools.txt"),
    ] {
        let hits = c.search(q, 3, SearchMode::Keyword).unwrap();
        assert!(
            hits[0].doc_id.ends_with(file),
            "{q:?} -> {}",
            hits[0].doc_id
        );
    }
}

#[test]
fn hits_carry_text_score_source_headings_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let c = build(dir.path());
    let hits = c
        .search("Fresnel lens orders", 5, SearchMode::Hybrid)
        .unwrap();
    assert_eq!(hits.len(), 5);
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "sorted by score"
    );
    let top = &hits[0];
    assert!(top.text.contains("Fresnel"), "{}", top.text);
    assert!(top
        .source
        .as_deref()
        .unwrap()
        .ends_with("history/lighthouse-keepers.md"));
    assert_eq!(top.format, "markdown");
    assert!(!top.heading_path.is_empty());
    assert!(top.location.line.unwrap() > 1);
    assert_eq!(top.chunk_id, format!("{}#{}", top.doc_id, top.ordinal));

    let bread = c
        .search("starter feeding ratio", 1, SearchMode::Dense)
        .unwrap()
        .remove(0);
    assert_eq!(bread.title, "Baking Sourdough Bread");
    assert_eq!(
        bread.metadata.get("author"),
        Some(&MetaValue::Str("trawl examples".into()))
    );
    assert_eq!(
        bread.metadata.get("tags"),
        Some(&MetaValue::List(vec!["baking".into(), "bread".into()]))
    );
}

#[test]
fn reopening_gives_the_same_hits() {
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<_> = {
        let c = build(dir.path());
        QUESTIONS
            .iter()
            .map(|(q, _)| c.search(q, 5, SearchMode::Hybrid).unwrap())
            .collect()
    };
    // Opening by path alone finds the model recorded in the collection... here the
    // test's shared embedder, so pass it again.
    let c = Collection::builder(dir.path())
        .embedder(common::embedder())
        .open()
        .unwrap();
    let after: Vec<_> = QUESTIONS
        .iter()
        .map(|(q, _)| c.search(q, 5, SearchMode::Hybrid).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn open_by_path_uses_the_recorded_model() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = Collection::builder(dir.path())
            .model_dir(common::model_dir())
            .open()
            .unwrap();
        c.add_text(
            "n1",
            "Otters hold hands while sleeping so they do not drift apart.",
            Metadata::new(),
        )
        .unwrap();
        c.commit().unwrap();
    }
    let c = Collection::open(dir.path()).unwrap();
    let hits = c
        .search("why do sea otters link paws at night", 1, SearchMode::Dense)
        .unwrap();
    assert_eq!(hits[0].doc_id, "n1");
}

#[test]
fn broken_and_unsupported_files_are_reported_and_the_rest_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("good.md"),
        "# Kites\n\nKites fly best in steady wind.",
    )
    .unwrap();
    std::fs::write(docs.path().join("fake.txt"), b"%PDF-1.4 binary junk").unwrap();
    std::fs::write(docs.path().join("image.png"), b"\x89PNG\r\n\x1a\nxxxx").unwrap();
    // Unreadable file: root reads it anyway, so only expect a failure when it is not.
    let locked = docs.path().join("locked.txt");
    std::fs::write(&locked, "secret").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let readable = std::fs::read(&locked).is_ok();
    // Oversized (sparse, so cheap): refused before reading, whoever runs the test.
    let big = std::fs::File::create(docs.path().join("huge.txt")).unwrap();
    big.set_len(trawl_ingest::MAX_FILE_BYTES + 1).unwrap();
    let c = Collection::builder(dir.path())
        .embedder(common::embedder())
        .open()
        .unwrap();
    let report = c.add_paths(&[docs.path()], &AddOptions::default()).unwrap();
    c.commit().unwrap();
    assert_eq!(report.files, 5);
    assert_eq!(report.added, if readable { 2 } else { 1 });
    // image.png; fake.txt is a (broken) PDF by its content, so it fails.
    assert_eq!(report.unsupported.len(), 1, "{:?}", report.unsupported);
    let failed: Vec<_> = report
        .failures
        .iter()
        .map(|f| {
            (
                f.path.file_name().unwrap().to_str().unwrap(),
                f.error.to_string(),
            )
        })
        .collect();
    assert_eq!(failed.len(), if readable { 2 } else { 3 }, "{failed:?}");
    assert_eq!(failed[0].0, "fake.txt");
    assert!(failed[0].1.contains("pdf"), "{}", failed[0].1);
    assert_eq!(failed[1].0, "huge.txt");
    assert!(
        failed[1].1.contains("huge.txt") && failed[1].1.contains("limit"),
        "{}",
        failed[1].1
    );
    if !readable {
        assert_eq!(failed[2].0, "locked.txt");
        assert!(failed[2].1.contains("locked.txt"));
    }
    assert_eq!(
        c.search("kite wind", 1, SearchMode::Hybrid).unwrap()[0].title,
        "Kites"
    );

    let missing = c
        .add_paths(&[docs.path().join("no-such-dir")], &AddOptions::default())
        .unwrap();
    assert_eq!(missing.failures.len(), 1);
    assert!(missing.failures[0]
        .error
        .to_string()
        .contains("no-such-dir"));
}

#[test]
fn re_adding_replaces_and_unchanged_content_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path())
        .embedder(common::embedder())
        .open()
        .unwrap();
    let first = c
        .add_text(
            "doc",
            "The meeting is on Tuesday in room 4.",
            Metadata::new(),
        )
        .unwrap();
    assert_eq!(first, AddOutcome::Added { chunks: 1 });
    c.commit().unwrap();
    assert_eq!(
        c.add_text(
            "doc",
            "The meeting is on Tuesday in room 4.",
            Metadata::new()
        )
        .unwrap(),
        AddOutcome::Unchanged
    );
    c.add_text(
        "doc",
        "The meeting moved to Friday in the library.",
        Metadata::new(),
    )
    .unwrap();
    c.commit().unwrap();
    let hits = c
        .search("when is the meeting", 10, SearchMode::Hybrid)
        .unwrap();
    assert_eq!(hits.len(), 1, "old chunks must be gone: {hits:?}");
    assert!(hits[0].text.contains("Friday"));
    assert_eq!(c.stats().unwrap().documents, 1);

    c.delete("doc", None).unwrap();
    c.commit().unwrap();
    assert!(c
        .search("when is the meeting", 10, SearchMode::Hybrid)
        .unwrap()
        .is_empty());
}

#[test]
fn long_documents_are_chunked_within_the_model_limit() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::embedder();
    let c = Collection::builder(dir.path())
        .embedder(model.clone())
        .open()
        .unwrap();
    let text = std::fs::read_to_string(common::corpus_dir().join("tide-pools.txt"))
        .unwrap()
        .repeat(3);
    let AddOutcome::Added { chunks } = c.add_text("long", &text, Metadata::new()).unwrap() else {
        panic!()
    };
    c.commit().unwrap();
    assert!(chunks >= 6, "{chunks}");
    let hits = c.search("tide", 100, SearchMode::Keyword).unwrap();
    assert_eq!(hits.len(), chunks);
    for h in hits {
        let tokens = trawl::Embedder::count_tokens(&*model, &h.text) + 2;
        assert!(tokens <= 256, "{tokens} tokens");
    }
}

#[test]
fn keyword_only_collections_need_no_model() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = Collection::builder(dir.path())
            .keyword_only()
            .open()
            .unwrap();
        c.add_paths(&[common::corpus_dir()], &AddOptions::default())
            .unwrap();
        c.commit().unwrap();
    }
    let c = Collection::open(dir.path()).unwrap();
    assert!(c.embedder().is_none());
    let hits = c.search("Gutenberg", 2, SearchMode::Hybrid).unwrap();
    assert!(hits[0].doc_id.ends_with("printing-press.txt"));
    assert!(matches!(
        c.search("Gutenberg", 2, SearchMode::Dense),
        Err(Error::NoEmbedder { .. })
    ));
}

#[test]
fn searches_run_while_another_thread_ingests() {
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(build(dir.path()));
    let writer = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || {
            for i in 0..5 {
                c.add_text(
                    &format!("extra-{i}"),
                    &format!("Extra note number {i} about kites."),
                    Metadata::new(),
                )
                .unwrap();
                c.commit().unwrap();
            }
        })
    };
    for _ in 0..10 {
        let hits = c.search(QUESTIONS[0].0, 3, SearchMode::Hybrid).unwrap();
        assert!(hits[0].doc_id.ends_with(QUESTIONS[0].1));
    }
    writer.join().unwrap();
    let extra = c
        .search("extra note kites", 20, SearchMode::Keyword)
        .unwrap();
    assert_eq!(
        extra
            .iter()
            .filter(|h| h.doc_id.starts_with("extra-"))
            .count(),
        5
    );
}

#[test]
fn collection_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Collection>();
}

#[test]
fn opening_a_missing_collection_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let err = Collection::open(dir.path().join("nothing-here")).unwrap_err();
    assert!(
        matches!(err, Error::Index(trawl_index::Error::NotFound { .. })),
        "{err}"
    );
    assert!(
        !dir.path().join("nothing-here").exists(),
        "open must not create"
    );
}

/// Bring your own embeddings: the caller's vectors go in, and the caller's query vector
/// finds its nearest neighbours, ranked as exact cosine similarity ranks them.
#[test]
fn caller_supplied_vectors_are_searched_by_caller_supplied_queries() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path()).dimension(4).open().unwrap();
    let vectors: Vec<Vec<f32>> = (0..40u8)
        .map(|i| {
            let t = f32::from(i) * 0.3;
            vec![t.sin(), t.cos(), (t * 0.5).sin(), 0.1]
        })
        .collect();
    for (d, group) in vectors.chunks(10).enumerate() {
        let chunks = group
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("point {}", d * 10 + i), v.clone()))
            .collect();
        let outcome = c
            .add_embedded(
                &format!("doc-{d}"),
                chunks,
                &Metadata::new(),
                &AddOptions::default(),
            )
            .unwrap();
        assert_eq!(outcome, AddOutcome::Added { chunks: 10 });
    }
    c.commit().unwrap();
    let options = trawl::SearchOptions {
        k: 3,
        mode: SearchMode::Dense,
        ..Default::default()
    };
    let query = [0.5f32, 0.8, 0.2, 0.1];
    let hits = c.search_by_vector(&query, "", &options).unwrap();
    let cosine = |v: &[f32]| {
        let dot: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
        dot / v.iter().map(|x| x * x).sum::<f32>().sqrt()
    };
    let mut exact: Vec<usize> = (0..vectors.len()).collect();
    exact.sort_by(|&a, &b| cosine(&vectors[b]).total_cmp(&cosine(&vectors[a])));
    let expected: Vec<String> = exact[..3].iter().map(|i| format!("point {i}")).collect();
    let got: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
    assert_eq!(got, expected);

    // Same vectors again: nothing to do. A wrong length: a typed error.
    let again = vec![("point 0".to_owned(), vectors[0].clone())];
    c.add_embedded(
        "solo",
        again.clone(),
        &Metadata::new(),
        &AddOptions::default(),
    )
    .unwrap();
    c.commit().unwrap();
    assert_eq!(
        c.add_embedded("solo", again, &Metadata::new(), &AddOptions::default())
            .unwrap(),
        AddOutcome::Unchanged
    );
    let short = vec![("x".to_owned(), vec![1.0, 2.0])];
    assert!(matches!(
        c.add_embedded("bad", short, &Metadata::new(), &AddOptions::default()),
        Err(Error::DimensionMismatch {
            expected: 4,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        c.search_by_vector(&[1.0], "", &options),
        Err(Error::DimensionMismatch { .. })
    ));
    // A text query needs a model this collection does not have, and so does a text
    // to add: its chunks would have no vectors.
    assert!(matches!(
        c.search("point", 3, SearchMode::Dense),
        Err(Error::NoEmbedder { .. })
    ));
    let err = c
        .add_text("text", "a text with no vector", Metadata::new())
        .unwrap_err();
    assert!(matches!(err, Error::NoEmbedder { .. }), "{err}");
    assert!(err.to_string().contains("--model"), "{err}");
    drop(c);
    let reopened = Collection::open(dir.path()).unwrap();
    assert_eq!(reopened.index().options().dim, 4);
}

/// Small chunks to find, whole sections to read: a parent-expanded search returns each
/// matching section once, rebuilt from its chunks without repeating their overlap.
#[test]
fn parent_expansion_returns_whole_sections_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path())
        .keyword_only()
        .chunking(trawl::ChunkOptions {
            max_chars: 120,
            min_chars: 0,
            overlap: trawl::Overlap::Sentences(1),
            ..Default::default()
        })
        .open()
        .unwrap();
    let install: Vec<String> = (0..12)
        .map(|i| format!("Install step {i} copies the kettle files."))
        .collect();
    let text = format!(
        "# Guide\n\n## Install\n\n{}\n\n## Usage\n\nRun the kettle tool daily.\n",
        install.join(" ")
    );
    let doc = trawl_ingest::parse_bytes(text.as_bytes(), "guide.md").unwrap();
    c.add_documents(vec![doc], &AddOptions::default()).unwrap();
    c.commit().unwrap();
    let options = trawl::SearchOptions {
        k: 10,
        mode: SearchMode::Keyword,
        ..Default::default()
    };
    let chunks = c.search_with("kettle", &options).unwrap();
    let install_chunks = chunks
        .iter()
        .filter(|h| h.text.contains("Install step"))
        .count();
    assert!(install_chunks >= 3, "{chunks:#?}");

    let parents = c
        .search_with(
            "kettle",
            &trawl::SearchOptions {
                expand_parent: true,
                ..options
            },
        )
        .unwrap();
    let install_parents: Vec<_> = parents
        .iter()
        .filter(|h| h.text.contains("Install step"))
        .collect();
    assert_eq!(install_parents.len(), 1, "{parents:#?}");
    let section = install_parents[0];
    // "# Guide" straight over "## Install" stays with the text under them.
    assert_eq!(
        section.text,
        format!("Guide\n\nInstall\n\n{}", install.join(" "))
    );
    assert_eq!(section.heading_path, ["Guide", "Install"]);
    assert!(parents
        .iter()
        .any(|h| h.text.contains("Run the kettle tool daily.")));
}

/// `cancel()` stops an ingest at its next check with `Error::Cancelled`; rolling back
/// leaves the last commit, and the collection keeps working.
#[test]
fn a_cancelled_ingest_stops_early_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    for i in 0..100 {
        std::fs::write(
            docs.join(format!("n{i:03}.txt")),
            format!("note {i} on kelp"),
        )
        .unwrap();
    }
    let c = Collection::builder(tmp.path().join("idx"))
        .keyword_only()
        .open()
        .unwrap();
    c.add_text("kept", "committed first", Metadata::new())
        .unwrap();
    c.commit().unwrap();
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let stop = |p: Progress| {
        seen.store(p.files_done, std::sync::atomic::Ordering::SeqCst);
        c.cancel();
    };
    let result = c.add_paths(&[&docs], &AddOptions::new().progress(&stop));
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) < 100);
    c.rollback().unwrap();
    c.commit().unwrap();
    assert_eq!(c.stats().unwrap().documents, 1);
    // A cancel outside an ingest does not touch the next one.
    c.cancel();
    let report = c.add_paths(&[&docs], &AddOptions::default()).unwrap();
    assert_eq!(report.added, 100);
}

/// `add_paths` parses the next files while it embeds the current ones; what it
/// indexes must be what adding each parsed file in order gives: the same documents,
/// chunks, vectors and report, with failures in file order and progress counting up.
#[test]
fn a_pipelined_ingest_indexes_what_adding_file_by_file_does() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    let topics = [
        "kelp forests",
        "glacier retreat",
        "bee navigation",
        "tidal power",
    ];
    // Enough files for several batches between the two threads.
    for i in 0..150 {
        let topic = topics[i % topics.len()];
        std::fs::write(
            docs.join(format!("n{i:03}.md")),
            format!("# Note {i}\n\nField note {i} about {topic}.\n\nSecond paragraph {i}."),
        )
        .unwrap();
    }
    std::fs::write(docs.join("n050-broken.pdf"), b"%PDF-1.4 truncated").unwrap();
    std::fs::write(docs.join("n120-broken.docx"), b"PK\x03\x04 not a zip").unwrap();
    let pipelined = Collection::builder(tmp.path().join("a"))
        .embedder(common::embedder())
        .open()
        .unwrap();
    let steps = std::sync::Mutex::new(Vec::new());
    let report = pipelined
        .add_paths(
            &[&docs],
            &AddOptions::new().progress(&|p| {
                steps.lock().unwrap().push((p.files_done, p.files_total));
            }),
        )
        .unwrap();
    pipelined.commit().unwrap();

    let one_by_one = Collection::builder(tmp.path().join("b"))
        .embedder(common::embedder())
        .open()
        .unwrap();
    let mut paths: Vec<_> = trawl_ingest::walk(&docs).map(Result::unwrap).collect();
    paths.sort();
    let (mut added, mut chunks) = (0, 0);
    for (_, parsed) in trawl_ingest::parse_paths(&paths, &trawl_ingest::Limits::default()) {
        for doc in parsed.into_iter().flatten() {
            if let [AddOutcome::Added { chunks: n }] = one_by_one
                .add_documents(vec![doc], &AddOptions::default())
                .unwrap()[..]
            {
                added += 1;
                chunks += n;
            }
        }
    }
    one_by_one.commit().unwrap();

    assert_eq!((report.files, report.indexed), (152, 150));
    assert_eq!((report.added, report.chunks), (added, chunks));
    let failed: Vec<_> = report
        .failures
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, ["n050-broken.pdf", "n120-broken.docx"]);
    let steps = steps.into_inner().unwrap();
    assert!(steps.len() > 1, "{steps:?}");
    assert!(steps.windows(2).all(|w| w[0].0 < w[1].0), "{steps:?}");
    assert_eq!(steps.last(), Some(&(152, 152)));

    let ids = |c: &Collection| {
        let mut d: Vec<_> = c
            .documents(None)
            .unwrap()
            .into_iter()
            .map(|d| (d.doc_id, d.chunks))
            .collect();
        d.sort();
        d
    };
    assert_eq!(ids(&pipelined), ids(&one_by_one));
    // Every chunk carries its own vector: each note's exact text finds that note first.
    for i in [0usize, 63, 64, 99, 149] {
        let text = format!("Field note {i} about {}.", topics[i % topics.len()]);
        let top = |c: &Collection| {
            c.search(&text, 1, SearchMode::Dense).unwrap()[0]
                .doc_id
                .clone()
        };
        assert_eq!(top(&pipelined), top(&one_by_one), "{text}");
        assert!(top(&pipelined).ends_with(&format!("n{i:03}.md")), "{text}");
    }
}
