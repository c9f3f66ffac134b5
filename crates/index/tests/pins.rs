//! Pinned commits (readable after later commits and merges, until released) and
//! keyword statistics merged across indexes (BM25 as if they were one).

use std::path::Path;

use trawl_index::{Error, Index, IndexOptions, KeywordStats, Record};

fn record(doc: &str, text: &str, v: f32) -> Record {
    Record::new(doc, 0, text, vec![1.0, v])
}

fn texts(index: &Index) -> Vec<String> {
    let view = index.view();
    let mut ids: Vec<u64> = view
        .search_vector(&[1.0, 0.0], 1000, None)
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    let mut out: Vec<String> = view
        .fetch(&ids)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.doc_id)
        .collect();
    out.sort();
    out
}

fn store_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("store")).unwrap().count()
}

#[test]
fn a_pinned_commit_stays_readable_through_later_commits_merges_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(2)).unwrap();
    index
        .add(vec![record("a", "alpha", 0.1), record("b", "beta", 0.2)])
        .unwrap();
    index.commit().unwrap();
    let pinned = index.pin().unwrap();
    assert_eq!(Index::pins(dir.path()).unwrap(), vec![pinned]);

    // Enough commits for segments to merge, and a delete of a pinned chunk.
    index.delete_document("", "a").unwrap();
    for i in 0..20 {
        index
            .add(vec![record(&format!("n{i}"), "gamma", 0.3)])
            .unwrap();
        index.commit().unwrap();
    }
    assert!(!texts(&index).contains(&"a".to_owned()));
    assert_eq!(texts(&index).len(), 21);

    let old = Index::open_at(dir.path(), pinned).unwrap();
    assert_eq!(old.pinned_commit(), Some(pinned));
    assert_eq!(texts(&old), vec!["a", "b"]);
    assert_eq!(old.search_keyword("alpha", 5, None).unwrap().len(), 1);
    assert_eq!(old.search_keyword("gamma", 5, None).unwrap().len(), 0);
    // Read-only, and fixed: a reload does not move it.
    assert!(matches!(
        old.add(vec![record("c", "c", 0.0)]),
        Err(Error::ReadOnly { .. })
    ));
    assert!(matches!(old.pin(), Err(Error::ReadOnly { .. })));
    old.reload().unwrap();
    assert_eq!(texts(&old), vec!["a", "b"]);
    drop(old);

    // Released: the next commit collects its files, and it cannot be opened any more.
    let before = store_files(dir.path());
    Index::unpin(dir.path(), pinned).unwrap();
    index.add(vec![record("last", "delta", 0.4)]).unwrap();
    index.commit().unwrap();
    assert!(store_files(dir.path()) < before);
    assert!(matches!(
        Index::open_at(dir.path(), pinned),
        Err(Error::NotPinned { commit, .. }) if commit == pinned
    ));
    assert_eq!(texts(&index).len(), 22);
    drop(index);
    // The index itself opens as usual, at its last commit.
    assert_eq!(texts(&Index::open(dir.path()).unwrap()).len(), 22);
}

#[test]
fn pinning_survives_a_reopen_of_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let pinned = {
        let index = Index::create(dir.path(), IndexOptions::new(2)).unwrap();
        index.add(vec![record("a", "alpha", 0.1)]).unwrap();
        index.commit().unwrap();
        index.pin().unwrap()
    };
    let index = Index::open(dir.path()).unwrap();
    index.delete_document("", "a").unwrap();
    for i in 0..12 {
        index.add(vec![record(&format!("n{i}"), "x", 0.3)]).unwrap();
        index.commit().unwrap();
    }
    assert_eq!(
        texts(&Index::open_at(dir.path(), pinned).unwrap()),
        vec!["a"]
    );
}

/// Documents with words of varied frequency, split over two indexes by parity.
fn corpus() -> Vec<(String, String)> {
    let words = [
        "river", "bank", "money", "loan", "fish", "water", "stone", "tree",
    ];
    (0..60)
        .map(|i: usize| {
            let text: Vec<&str> = (0..(3 + i % 7))
                .map(|j| words[(i * 7 + j * j * 3 + i / 5) % words.len()])
                .collect();
            (format!("d{i}"), text.join(" "))
        })
        .collect()
}

#[test]
fn merged_keyword_statistics_score_each_shard_as_the_whole() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let open = |d: &tempfile::TempDir| Index::create(d.path(), IndexOptions::new(0)).unwrap();
    let (whole, even, odd) = (open(&dirs[0]), open(&dirs[1]), open(&dirs[2]));
    for (i, (id, text)) in corpus().into_iter().enumerate() {
        let r = Record::new(&id, 0, text, Vec::new());
        whole.add(vec![r.clone()]).unwrap();
        if i % 2 == 0 { &even } else { &odd }.add(vec![r]).unwrap();
    }
    for index in [&whole, &even, &odd] {
        index.commit().unwrap();
    }
    let query = "river money fish";
    let doc_scores = |index: &Index, stats: Option<KeywordStats>| {
        keyword_scores(&scoring_view(index, stats), query, 100)
    };
    let want: std::collections::HashMap<String, f32> =
        doc_scores(&whole, None).into_iter().collect();
    let mut stats = even.view().keyword_stats(query).unwrap();
    stats.merge(&odd.view().keyword_stats(query).unwrap());
    assert_eq!(stats.chunks(), 60);
    let mut local_differs = false;
    for shard in [&even, &odd] {
        for (id, score) in doc_scores(shard, Some(stats.clone())) {
            assert!(
                (score - want[&id]).abs() < 1e-5,
                "{id}: {score} vs {}",
                want[&id]
            );
        }
        for (id, score) in doc_scores(shard, None) {
            local_differs |= (score - want[&id]).abs() > 1e-4;
        }
        // The signals fusion reads agree too.
        let merged = shard.view().with_keyword_stats(stats.clone());
        assert_eq!(
            merged.term_idfs(query).unwrap(),
            whole.view().term_idfs(query).unwrap()
        );
    }
    // Each shard's own statistics score differently: the test can tell them apart.
    assert!(local_differs);
}

#[test]
fn shards_in_different_languages_score_as_the_whole() {
    // One shard holds English and German chunks, the other English only: each reads a
    // query in the languages of the whole set, with its stop words ("man" is a German
    // one, dropped where German holds at least 1% of the chunks: of the set and of
    // the mixed shard with 30 English chunks; of the mixed shard only with 300) and
    // frequencies.
    for english in [30, 300] {
        shards_score_as_the_whole(english);
    }
}

fn shards_score_as_the_whole(english_chunks: usize) {
    let mut docs: Vec<(String, String)> = (0..english_chunks)
        .map(|i| {
            let who = if i % 3 == 0 { "a man" } else { "the clerk" };
            (
                format!("en{i}"),
                format!("The name of row {i} is kept by {who}."),
            )
        })
        .collect();
    docs.push((
        "de".into(),
        "Der Name der Bibliothek ist alt, und man kann sie heute nicht besuchen.".into(),
    ));
    docs.push((
        "de2".into(),
        "Die Bibliothek öffnet am Montag, und der Name steht an der Tür.".into(),
    ));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let open = |d: &tempfile::TempDir| {
        let mut options = IndexOptions::new(0);
        options.language = trawl_index::Language::Auto;
        Index::create(d.path(), options).unwrap()
    };
    let (whole, mixed, english) = (open(&dirs[0]), open(&dirs[1]), open(&dirs[2]));
    for (i, (id, text)) in docs.into_iter().enumerate() {
        let r = Record::new(&id, 0, text, Vec::new());
        whole.add(vec![r.clone()]).unwrap();
        if id.starts_with("de") || i % 2 == 0 {
            &mixed
        } else {
            &english
        }
        .add(vec![r])
        .unwrap();
    }
    for index in [&whole, &mixed, &english] {
        index.commit().unwrap();
    }
    assert_eq!(english.languages().unwrap().len(), 1);
    for query in ["name", "Name Bibliothek", "the man with a name"] {
        let scores = |index: &Index, stats: Option<KeywordStats>| {
            let view = scoring_view(index, stats);
            let signals = view.keyword_signals(query, 1.0).unwrap();
            (keyword_scores(&view, query, 1000), signals)
        };
        let (want, want_signals) = scores(&whole, None);
        let want: std::collections::HashMap<String, f32> = want.into_iter().collect();
        let mut stats = mixed.view().keyword_stats(query).unwrap();
        stats.merge(&english.view().keyword_stats(query).unwrap());
        let mut found = 0;
        for shard in [&mixed, &english] {
            let (got, signals) = scores(shard, Some(stats.clone()));
            for (id, score) in got {
                assert!(
                    (score - want[&id]).abs() < 1e-5,
                    "{query:?} {id}: {score} vs {}",
                    want[&id]
                );
                found += 1;
            }
            assert!(
                (signals.coverage - want_signals.coverage).abs() < 1e-5
                    && (signals.mean_idf - want_signals.mean_idf).abs() < 1e-5,
                "{query:?}: {signals:?} vs {want_signals:?}"
            );
        }
        assert_eq!(found, want.len(), "{query:?}");
    }
}

/// A view of `index` that scores with `stats` when given, else its own statistics.
fn scoring_view(index: &Index, stats: Option<KeywordStats>) -> trawl_index::View<'_> {
    match stats {
        Some(stats) => index.view().with_keyword_stats(stats),
        None => index.view(),
    }
}

/// The document id and score of each of the `k` best keyword hits for `query`.
fn keyword_scores(view: &trawl_index::View<'_>, query: &str, k: usize) -> Vec<(String, f32)> {
    let hits = view.search_keyword(query, k, None).unwrap();
    let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    let records = view.fetch(&ids).unwrap();
    hits.iter()
        .zip(records)
        .map(|(h, (_, r))| (r.doc_id, h.score))
        .collect()
}
