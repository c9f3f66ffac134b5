//! Shard sets: several collections searched as one, with routing, whole-set BM25
//! statistics, and generations that readers see whole. Uses the real model.

mod common;

use std::collections::HashSet;
use std::path::Path;

use trawl::{
    shard_of, AddOptions, Collection, CollectionBuilder, ContextOptions, Document, Error, Metadata,
    SearchMode, SearchOptions, ShardManifest, ShardSet, ShardWriter,
};

fn template() -> CollectionBuilder {
    at("")
}

fn at(path: impl Into<std::path::PathBuf>) -> CollectionBuilder {
    // The shared model computes at f32: recorded so, a preparer loads it the same way.
    Collection::builder(path)
        .model_dir(common::model_dir())
        .embedder(common::embedder())
        .precision(trawl::Precision::F32)
}

/// Short documents on a few topics, with words of varied frequency.
fn documents() -> Vec<Document> {
    let subjects = [
        "The river",
        "A glacier",
        "The central bank",
        "A small bakery",
        "The orchestra",
        "A comet",
        "The hospital",
        "A vineyard",
        "The library",
        "A volcano",
    ];
    let verbs = [
        "feeds",
        "threatens",
        "funds",
        "warms",
        "surprises",
        "records",
    ];
    let objects = [
        "the farmers downstream",
        "interest rates",
        "the morning bread",
        "a symphony in D minor",
        "the night sky",
        "patients with fever",
        "old grape varieties",
        "rare manuscripts",
        "the coastal villages",
        "melting ice sheets",
        "the city budget",
        "young musicians",
    ];
    let mut docs = Vec::new();
    for i in 0..120usize {
        let text = format!(
            "{} {} {}. {} {} {} every year.{} Note {i}.",
            subjects[i % subjects.len()],
            verbs[i % verbs.len()],
            objects[(i * 7) % objects.len()],
            subjects[(i * 3 + 1) % subjects.len()],
            verbs[(i / 2) % verbs.len()],
            objects[(i * 5 + 2) % objects.len()],
            " Indeed.".repeat(i % 7),
        );
        let mut doc = Document::from_text(format!("doc-{i:03}"), &text);
        doc.metadata
            .insert("year".into(), trawl::MetaValue::Int(2000 + (i % 10) as i64));
        docs.push(doc);
    }
    docs
}

const QUERIES: &[&str] = &[
    "melting ice",
    "interest rates and the central bank",
    "bread from a bakery",
    "music for young musicians",
    "stars and comets at night",
    "fever in hospital patients",
    "wine grapes",
    "old books in a library",
    "volcano near villages",
    "budget of the city",
];

fn ids(hits: &[trawl::Hit]) -> Vec<String> {
    hits.iter().map(|h| h.doc_id.clone()).collect()
}

fn options(mode: SearchMode) -> SearchOptions {
    SearchOptions {
        k: 10,
        mode,
        ..SearchOptions::default()
    }
}

/// A single collection and a four-shard set holding the same documents.
fn both(dir: &Path) -> (Collection, ShardSet) {
    let single = at(dir.join("single")).open().unwrap();
    single
        .add_documents(documents(), &AddOptions::default())
        .unwrap();
    single.commit().unwrap();
    let writer = ShardWriter::create(dir.join("set"), 4, &template()).unwrap();
    let outcomes = writer
        .add_documents(documents(), &AddOptions::default())
        .unwrap();
    assert_eq!(outcomes.len(), 120);
    assert_eq!(writer.commit().unwrap(), 2);
    let set = ShardSet::open_with(dir.join("set"), template()).unwrap();
    (single, set)
}

#[test]
fn a_shard_set_ranks_as_one_collection_of_the_same_documents() {
    let dir = tempfile::tempdir().unwrap();
    let (single, set) = both(dir.path());
    assert_eq!(set.shard_count(), 4);
    // Each shard opens on its own, with the set's model.
    let shard = Collection::open(dir.path().join("set").join("shard-003")).unwrap();
    assert_eq!(shard.dimension(), 384);
    assert!(shard.embedder().is_some());
    assert_eq!(set.stats().unwrap().documents, 120);
    // Every shard got some documents, routed by tenant and id.
    for (i, shard) in set.manifest().shard_paths(set.path()).iter().enumerate() {
        let docs = Collection::open(shard).unwrap().documents(None).unwrap();
        assert!(!docs.is_empty());
        assert!(docs.iter().all(|d| shard_of("", &d.doc_id, 4) == i));
    }
    for mode in [SearchMode::Keyword, SearchMode::Dense, SearchMode::Hybrid] {
        for q in QUERIES {
            let want = single.search_with(q, &options(mode)).unwrap();
            let got = set.search_with(q, &options(mode)).unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                // Keyword scores use the whole set's statistics: the same as one index.
                assert!((g.score - w.score).abs() < 1e-4, "{mode:?} {q:?}");
            }
            // The same ranking; documents tied with the last score may differ.
            let last = want.last().unwrap().score;
            let above = |hits: &[trawl::Hit]| -> HashSet<String> {
                hits.iter()
                    .filter(|h| h.score > last + 1e-4)
                    .map(|h| h.doc_id.clone())
                    .collect()
            };
            assert_eq!(above(&got), above(&want), "{mode:?} {q:?}");
            let untied = |hits: &[trawl::Hit]| {
                hits.windows(2)
                    .all(|w| (w[0].score - w[1].score).abs() > 1e-4)
            };
            if untied(&want) {
                assert_eq!(ids(&got), ids(&want), "{mode:?} {q:?}");
            }
        }
    }
}

#[test]
fn filters_tenants_parents_and_context_work_across_shards() {
    let dir = tempfile::tempdir().unwrap();
    let writer = ShardWriter::create(dir.path(), 3, &template()).unwrap();
    writer
        .add_documents(documents(), &AddOptions::default().tenant("acme"))
        .unwrap();
    writer
        .add_documents(
            vec![Document::from_text(
                "doc-000",
                "A glacier melts in the acme-free zone.",
            )],
            &AddOptions::default().tenant("globex"),
        )
        .unwrap();
    writer.commit().unwrap();
    let set = ShardSet::open_with(dir.path(), template()).unwrap();
    let filtered = SearchOptions {
        filter: Some("year >= 2008".parse().unwrap()),
        ..options(SearchMode::Hybrid)
    };
    let hits = set.search_with("melting ice", &filtered).unwrap();
    assert_eq!(hits.len(), 10, "a filter still returns k hits");
    assert!(hits
        .iter()
        .all(|h| matches!(h.metadata.get("year"), Some(trawl::MetaValue::Int(y)) if *y >= 2008)));
    let globex = SearchOptions {
        tenant: Some("globex".into()),
        ..options(SearchMode::Hybrid)
    };
    let hits = set.search_with("glacier", &globex).unwrap();
    assert_eq!(ids(&hits), vec!["doc-000"]);
    assert_eq!(hits[0].tenant, "globex");
    let expanded = SearchOptions {
        expand_parent: true,
        tenant: Some("acme".into()),
        ..options(SearchMode::Keyword)
    };
    let hits = set.search_with("glacier", &expanded).unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.tenant == "acme"));
    let context = set
        .context(
            "glacier",
            &ContextOptions {
                search: options(SearchMode::Hybrid),
                ..ContextOptions::default()
            },
        )
        .unwrap();
    assert!(context.text.contains("glacier") || context.text.contains("Glacier"));
}

#[test]
fn updates_and_deletes_reach_the_shard_that_holds_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let writer = ShardWriter::create(dir.path(), 4, &template()).unwrap();
    writer
        .add_text("note", "The red kettle whistles.", Metadata::new())
        .unwrap();
    writer.commit().unwrap();
    writer
        .add_text("note", "The blue kettle hums.", Metadata::new())
        .unwrap();
    writer.commit().unwrap();
    let set = ShardSet::open_with(dir.path(), template()).unwrap();
    let hits = set.search("kettle", 10, SearchMode::Keyword).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].text.contains("blue"));
    writer.delete("note", None).unwrap();
    writer.commit().unwrap();
    assert!(set.reload().unwrap());
    assert!(set
        .search("kettle", 10, SearchMode::Keyword)
        .unwrap()
        .is_empty());
    assert_eq!(set.stats().unwrap().documents, 0);
}

#[test]
fn readers_see_the_published_generation_whole_until_they_reload() {
    let dir = tempfile::tempdir().unwrap();
    let writer = ShardWriter::create(dir.path(), 4, &template()).unwrap();
    let docs = documents();
    writer
        .add_documents(docs[..60].to_vec(), &AddOptions::default())
        .unwrap();
    writer.commit().unwrap();
    let reader = ShardSet::open_with(dir.path(), template()).unwrap();
    assert_eq!(reader.stats().unwrap().documents, 60);

    // The shards commit on their own (as writers do between publications), with
    // deletes and merges, but nothing is published.
    writer
        .add_documents(docs[60..].to_vec(), &AddOptions::default())
        .unwrap();
    writer.delete("doc-000", None).unwrap();
    for shard in writer.shards() {
        shard.commit().unwrap();
    }
    for i in 0..12 {
        writer
            .add_text(&format!("extra-{i}"), "An extra line.", Metadata::new())
            .unwrap();
        for shard in writer.shards() {
            shard.commit().unwrap();
        }
    }
    // An open reader, and one opened now, both see generation 2 exactly.
    let fresh = ShardSet::open_with(dir.path(), template()).unwrap();
    for set in [&reader, &fresh] {
        assert_eq!(set.manifest().generation, 2);
        let all: HashSet<String> = set
            .documents(None)
            .unwrap()
            .into_iter()
            .map(|d| d.doc_id)
            .collect();
        assert_eq!(all.len(), 60);
        assert!(all.contains("doc-000"));
        assert!(set
            .search("extra line", 5, SearchMode::Keyword)
            .unwrap()
            .is_empty());
    }
    assert!(!reader.reload().unwrap());

    // Published: a reload moves to the new generation, whole.
    assert_eq!(writer.commit().unwrap(), 3);
    assert!(reader.reload().unwrap());
    assert_eq!(reader.stats().unwrap().documents, 120 - 1 + 12);
    assert_eq!(
        reader
            .search("extra line", 20, SearchMode::Keyword)
            .unwrap()
            .len(),
        12
    );
    // Older pins are released once a newer generation is published.
    for shard in reader.manifest().shard_paths(dir.path()) {
        assert_eq!(trawl::Index::pins(&shard).unwrap().len(), 1);
    }
}

#[test]
fn a_writer_that_stops_before_publishing_is_completed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = common::corpus_dir();
    {
        let writer = ShardWriter::create(dir.path(), 2, &template()).unwrap();
        let report = writer
            .add_paths(&[&corpus], &AddOptions::default())
            .unwrap();
        assert!(report.added > 0 && report.failures.is_empty());
        // Shards committed, the set never published: as if the process died here.
        for shard in writer.shards() {
            shard.commit().unwrap();
        }
    }
    let set = ShardSet::open_with(dir.path(), template()).unwrap();
    assert_eq!(set.stats().unwrap().documents, 0);
    let writer = ShardWriter::open_with(dir.path(), &template()).unwrap();
    let again = writer
        .add_paths(&[&corpus], &AddOptions::default())
        .unwrap();
    // Committed documents are skipped by content hash: nothing twice.
    assert_eq!(again.added, 0);
    assert!(again.unchanged > 0);
    writer.commit().unwrap();
    set.reload().unwrap();
    let single = at(dir.path().join("single")).open().unwrap();
    let report = single
        .add_paths(&[&corpus], &AddOptions::default())
        .unwrap();
    single.commit().unwrap();
    assert_eq!(set.stats().unwrap().documents, report.added);
    assert_eq!(set.stats().unwrap().chunks, single.stats().unwrap().chunks);
}

#[test]
fn bad_sets_and_arguments_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        ShardWriter::create(dir.path().join("none"), 0, &template()),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        ShardSet::open(dir.path().join("missing")),
        Err(Error::Index(trawl_index::Error::NotFound { .. }))
    ));
    let root = dir.path().join("set");
    let writer = ShardWriter::create(&root, 2, &template()).unwrap();
    assert!(matches!(
        ShardWriter::create(&root, 2, &template()),
        Err(Error::Index(trawl_index::Error::AlreadyExists { .. }))
    ));
    assert!(matches!(
        trawl::shards::publish(&root, &[1]),
        Err(Error::InvalidShardSet { .. })
    ));
    assert!(matches!(
        trawl::shards::publish(&root, &[999, 999]),
        Err(Error::Index(trawl_index::Error::NotPinned { .. }))
    ));
    // A shard opened at its published commit is read-only.
    let manifest = ShardManifest::read(&root).unwrap();
    let shard = at(root.join(&manifest.shards[0].path))
        .at_commit(manifest.shards[0].commit)
        .open()
        .unwrap();
    assert!(matches!(
        shard.add_text("x", "y", Metadata::new()),
        Err(Error::Index(trawl_index::Error::ReadOnly { .. }))
    ));
    drop(writer);
    std::fs::write(root.join("shards.json"), b"{not json").unwrap();
    assert!(matches!(
        ShardSet::open(&root),
        Err(Error::InvalidShardSet { .. })
    ));
}

#[test]
fn documents_prepared_elsewhere_are_written_as_added_ones() {
    let dir = tempfile::tempdir().unwrap();
    let direct = at(dir.path().join("direct")).open().unwrap();
    direct
        .add_documents(
            documents()[..20].to_vec(),
            &AddOptions::default().tenant("t"),
        )
        .unwrap();
    direct.commit().unwrap();
    let remote = at(dir.path().join("remote")).open().unwrap();
    remote.commit().unwrap();
    // A preparer reads the collection's recorded model and chunking from its folder.
    let hashing = trawl::Preparer::open(remote.path(), false, None).unwrap();
    let preparer = trawl::Preparer::open(remote.path(), true, Some(&common::model_dir())).unwrap();
    assert!(matches!(
        hashing.prepare("t", documents()[..1].to_vec()),
        Err(Error::NoEmbedder { .. })
    ));
    let prepared = preparer.prepare("t", documents()[..20].to_vec()).unwrap();
    // Through JSON, as between processes.
    let json = serde_json::to_string(&prepared).unwrap();
    let prepared: Vec<trawl::PreparedDocument> = serde_json::from_str(&json).unwrap();
    let outcomes = remote.add_prepared(prepared.clone()).unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, trawl::AddOutcome::Added { .. })));
    remote.commit().unwrap();
    for doc in &documents()[..20] {
        let want = direct.document_hash(&doc.id, "t").unwrap().unwrap();
        assert_eq!(remote.document_hash(&doc.id, "t").unwrap().unwrap(), want);
        assert_eq!(hashing.content_hash(doc), want);
    }
    for q in QUERIES {
        let a = direct.search_with(q, &options(SearchMode::Dense)).unwrap();
        let b = remote.search_with(q, &options(SearchMode::Dense)).unwrap();
        assert_eq!(ids(&a), ids(&b));
        assert!((a[0].score - b[0].score).abs() < 1e-6);
    }
    // Unchanged documents are skipped.
    assert!(remote
        .add_prepared(prepared)
        .unwrap()
        .iter()
        .all(|o| *o == trawl::AddOutcome::Unchanged));
}
