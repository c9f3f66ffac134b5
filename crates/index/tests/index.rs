//! Behaviour of the index: durability, visibility, deletes, recovery, errors.

mod common;

use std::path::Path;

use trawl_index::{Error, Index, IndexOptions, Record};

const DIM: usize = 16;

/// Deterministic pseudo-random unit vectors (xorshift), so failures reproduce.
fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            let mut v = common::xorshift_vector(&mut s, DIM);
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= n);
            v
        })
        .collect()
}

fn records(doc: &str, vs: &[Vec<f32>]) -> Vec<Record> {
    vs.iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = Record::new(
                doc,
                i as u32,
                format!("chunk {i} of {doc} about topic{i}"),
                v.clone(),
            );
            r.title = format!("Title of {doc}");
            r
        })
        .collect()
}

fn create(dir: &Path) -> Index {
    Index::create(dir, IndexOptions::new(DIM)).unwrap()
}

fn top_text(index: &Index, q: &[f32]) -> String {
    let hits = index.search_vector(q, 1, None).unwrap();
    index.fetch(&[hits[0].id]).unwrap()[0].1.text.clone()
}

#[test]
fn every_point_is_found_by_its_own_vector() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let vs = vectors(600, 7);
    index.add(records("d", &vs)).unwrap();
    index.commit().unwrap();
    for (i, v) in vs.iter().enumerate() {
        let hits = index.search_vector(v, 1, None).unwrap();
        let got = index.fetch(&[hits[0].id]).unwrap();
        assert_eq!(
            got[0].1.ordinal, i as u32,
            "point {i} not found by its own vector"
        );
        assert!(hits[0].score > 0.999);
    }
}

#[test]
fn reopen_gives_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let vs = vectors(300, 11);
    let queries = vectors(20, 99);
    let before: Vec<_> = {
        let index = create(dir.path());
        index.add(records("a", &vs)).unwrap();
        index.commit().unwrap();
        queries
            .iter()
            .map(|q| index.search_vector(q, 10, None).unwrap())
            .collect()
    };
    let index = Index::open(dir.path()).unwrap();
    let after: Vec<_> = queries
        .iter()
        .map(|q| index.search_vector(q, 10, None).unwrap())
        .collect();
    assert_eq!(before, after);
    assert_eq!(index.search_keyword("topic7", 5, None).unwrap().len(), 1);
    assert_eq!(index.stats().unwrap().chunks, 300);
}

#[test]
fn graph_is_rebuilt_from_the_store_when_missing_or_behind() {
    let dir = tempfile::tempdir().unwrap();
    let vs = vectors(200, 3);
    {
        let index = create(dir.path());
        index.add(records("a", &vs[..100])).unwrap();
        index.commit().unwrap();
    }
    // Keep the graph of the first commit, as if the process died before saving the
    // second one.
    let saved = dir.path().join("hnsw");
    let old = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&saved).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), old.path().join(e.file_name())).unwrap();
    }
    {
        let index = Index::open(dir.path()).unwrap();
        index.add(records("b", &vs[100..])).unwrap();
        index.commit().unwrap();
    }
    std::fs::remove_dir_all(&saved).unwrap();
    std::fs::rename(old.path(), &saved).unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(top_text(&index, &vs[150]), "chunk 50 of b about topic50");
    assert_eq!(top_text(&index, &vs[5]), "chunk 5 of a about topic5");

    std::fs::remove_dir_all(dir.path().join("hnsw")).unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(top_text(&index, &vs[150]), "chunk 50 of b about topic50");
    assert_eq!(index.stats().unwrap().graph_points, 200);
}

#[test]
fn uncommitted_adds_are_invisible_and_rollback_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let vs = vectors(10, 5);
    index.add(records("a", &vs)).unwrap();
    assert!(index.search_vector(&vs[0], 5, None).unwrap().is_empty());
    assert!(index.search_keyword("topic1", 5, None).unwrap().is_empty());
    index.rollback().unwrap();
    index.commit().unwrap();
    assert!(index.search_vector(&vs[0], 5, None).unwrap().is_empty());
    drop(index);
    assert_eq!(Index::open(dir.path()).unwrap().stats().unwrap().chunks, 0);
}

#[test]
fn deleting_a_document_removes_it_from_both_retrievers() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let vs = vectors(40, 8);
    index.add(records("keep", &vs[..20])).unwrap();
    index.add(records("gone", &vs[20..])).unwrap();
    index.commit().unwrap();
    index.delete_document("", "gone").unwrap();
    index.commit().unwrap();
    for v in &vs[20..] {
        let hits = index.search_vector(v, 40, None).unwrap();
        assert_eq!(hits.len(), 20);
        assert!(index
            .fetch(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
            .unwrap()
            .iter()
            .all(|(_, r)| r.doc_id == "keep"));
    }
    let kw = index.search_keyword("gone", 10, None).unwrap();
    assert!(kw.is_empty(), "{kw:?}");
    assert_eq!(index.stats().unwrap().documents, 1);
    // And after reopening.
    drop(index);
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.search_vector(&vs[30], 40, None).unwrap().len(), 20);
}

#[test]
fn delete_then_add_in_one_commit_replaces_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let vs = vectors(6, 21);
    index.add(records("doc", &vs[..3])).unwrap();
    index.commit().unwrap();
    index.delete_document("", "doc").unwrap();
    let mut new = records("doc", &vs[3..]);
    new[0].text = "replacement text".into();
    index.add(new).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats().unwrap().chunks, 3);
    assert_eq!(top_text(&index, &vs[3]), "replacement text");
    assert_eq!(index.search_vector(&vs[0], 10, None).unwrap().len(), 3);
}

#[test]
fn keyword_search_accepts_any_user_text() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    index.add(records("a", &vectors(3, 2))).unwrap();
    index.commit().unwrap();
    for q in [
        "\"unclosed",
        "title:",
        "(((",
        "AND",
        "a:b:c OR",
        "-",
        "chunk)",
        "*",
        "topic1^",
        // A field name that does not exist, before a wildcard: tantivy's lenient parser
        // kept it and the search failed with "The field does not exist".
        "Examples:\n\n* If no options are set",
        "nosuchfield:*",
        "vid:[0 TO 9]",
    ] {
        index
            .search_keyword(q, 5, None)
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    assert_eq!(index.search_keyword("(topic2", 5, None).unwrap().len(), 1);
    // Nothing but signs and quotes is syntax: the parser's operator words are words
    // (stop words here), `*` matches nothing, a bracket, slash or angle bracket starts
    // no range or pattern, `)` does not end the query, a sign standing alone leaves out
    // nothing, and a no-break space separates words as a space does.
    for q in [
        "NOT topic2",
        "(NOT topic2)",
        "topic1 AND topic2",
        "topic1 IN [topic2]",
        "len() of topic2",
        "[ERROR] topic2",
        "<topic2>",
        "/topic2",
        "{topic2}",
        "zebra - topic2",
        "zebra\u{a0}topic2",
        "zebra\u{3000}topic2",
        "'zebra topic2",
        "\"zebra\"~2 topic2",
    ] {
        let hits = index.search_keyword(q, 5, None).unwrap();
        let texts: Vec<String> = index
            .fetch(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.text)
            .collect();
        assert!(texts.iter().any(|t| t.contains("topic2")), "{q}: {texts:?}");
    }
    // `*` is no match-all clause.
    assert_eq!(
        index
            .search_keyword("topic1 * zebra", 5, None)
            .unwrap()
            .len(),
        1
    );
    assert!(index.search_keyword("*", 5, None).unwrap().is_empty());
    // Signs and quoted phrases keep their meaning.
    let hits = index.search_keyword("chunk -topic2", 5, None).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(
        index
            .search_keyword("+topic2 chunk", 5, None)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        index
            .search_keyword("\"about topic1\"", 5, None)
            .unwrap()
            .len(),
        1
    );
    assert!(index
        .search_keyword("\"topic1 about\"", 5, None)
        .unwrap()
        .is_empty());
    let count = |q: &str| index.search_keyword(q, 5, None).unwrap().len();
    assert_eq!(count("chunk -\"about topic1\""), 2);
    // A sign right after a closing quote starts no word: nothing is left out.
    assert_eq!(count("\"about topic1\"-chunk"), 3);
    let hits = index.search_keyword("see:topic2", 5, None).unwrap();
    assert!(index.fetch(&[hits[0].id]).unwrap()[0]
        .1
        .text
        .contains("topic2"));
}

#[test]
fn stored_fields_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let mut r = Record::new("doc", 4, "text", vectors(1, 4).remove(0));
    r.heading_path = vec!["A".into(), "B".into()];
    r.source = Some("dir/doc.md".into());
    r.format = "markdown".into();
    r.location.insert("line".into(), 12.into());
    r.metadata.insert("year".into(), 2021.into());
    r.metadata
        .insert("tags".into(), serde_json::json!(["x", "y"]));
    r.doc_hash = "abc".into();
    index.add(vec![r.clone()]).unwrap();
    index.commit().unwrap();
    let hits = index.search_vector(&r.vector, 1, None).unwrap();
    let (_, got) = index.fetch(&[hits[0].id]).unwrap().remove(0);
    assert_eq!(got, r);
    assert_eq!(
        index.document_hash("", "doc").unwrap().as_deref(),
        Some("abc")
    );
    assert_eq!(index.document_hash("", "other").unwrap(), None);
}

#[test]
fn wrong_dimension_is_a_typed_error_and_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let err = index
        .add(vec![Record::new("d", 0, "t", vec![1.0; 3])])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Dimension {
                expected: DIM,
                got: 3
            }
        ),
        "{err}"
    );
    assert!(matches!(
        index.search_vector(&[1.0], 1, None),
        Err(Error::Dimension { .. })
    ));
}

#[test]
fn a_second_writer_is_refused_with_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = create(dir.path());
    first.add(records("a", &vectors(1, 3))).unwrap();
    let second = Index::open(dir.path()).unwrap();
    let err = second.add(records("b", &vectors(1, 4))).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
}

#[test]
fn missing_and_incompatible_indexes_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Index::open(&dir.path().join("none")),
        Err(Error::NotFound { .. })
    ));
    create(dir.path());
    let manifest = dir.path().join("trawl.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            &format!("\"format_version\": {}", trawl_index::FORMAT_VERSION),
            "\"format_version\": 99",
        ),
    )
    .unwrap();
    let err = Index::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Incompatible {
                found: 99,
                expected: trawl_index::FORMAT_VERSION,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("format version 99"));
}

#[test]
fn keyword_only_index_has_no_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(0)).unwrap();
    index
        .add(vec![Record::new("d", 0, "plain words here", Vec::new())])
        .unwrap();
    index.commit().unwrap();
    assert_eq!(index.search_keyword("words", 3, None).unwrap().len(), 1);
    assert!(index.search_vector(&[], 3, None).is_err());
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index>();
}

#[test]
fn the_analyzer_language_is_kept_with_the_index() {
    use trawl_index::Language;
    let dir = tempfile::tempdir().unwrap();
    {
        let mut options = IndexOptions::new(0);
        options.language = Language::German;
        let index = Index::create(dir.path(), options).unwrap();
        index
            .add(vec![Record::new("d", 0, "Die Häuser am Fluss", Vec::new())])
            .unwrap();
        index.commit().unwrap();
    }
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.options().language, Language::German);
    // German stemming: "Haus" matches "Häuser"; German stop words: "die" matches nothing.
    assert_eq!(index.search_keyword("Haus", 3, None).unwrap().len(), 1);
    assert!(index.search_keyword("die", 3, None).unwrap().is_empty());
}

#[test]
fn a_title_boost_ranks_title_matches_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = IndexOptions::new(0);
    options.title_boost = 2.0;
    let index = Index::create(dir.path(), options).unwrap();
    let mut in_title = Record::new("a", 0, "General notes about gardens.", Vec::new());
    in_title.title = "Compost".into();
    let mut in_body = Record::new(
        "b",
        0,
        "Compost heaps need turning. Compost needs air.",
        Vec::new(),
    );
    in_body.title = "Gardens".into();
    index.add(vec![in_body, in_title]).unwrap();
    index.commit().unwrap();
    let hits = index.search_keyword("compost", 2, None).unwrap();
    let top = index.fetch(&[hits[0].id]).unwrap().remove(0).1;
    assert_eq!(top.doc_id, "a");
}

/// `set_ef_search` changes how wide a vector search walks the graph: on points where a
/// walk as narrow as `k` misses true neighbours, a wide one finds (nearly) all of them.
#[test]
fn ef_search_trades_recall_for_speed() {
    const DIM_WIDE: usize = 48;
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(DIM_WIDE)).unwrap();
    let mut s = 7u64;
    let unit = |s: &mut u64| {
        let mut v = common::xorshift_vector(s, DIM_WIDE);
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    };
    let points: Vec<Vec<f32>> = (0..4000).map(|_| unit(&mut s)).collect();
    let recs: Vec<Record> = points
        .iter()
        .enumerate()
        .map(|(i, v)| Record::new(format!("d{i}"), 0, "text", v.clone()))
        .collect();
    index.add(recs).unwrap();
    index.commit().unwrap();
    index.flush_graph().unwrap();
    let queries: Vec<Vec<f32>> = (0..60).map(|_| unit(&mut s)).collect();
    let recall = |ef: usize| {
        index.set_ef_search(ef);
        let mut found = 0;
        for q in &queries {
            let mut exact: Vec<(usize, f32)> = points
                .iter()
                .enumerate()
                .map(|(i, p)| (i, p.iter().zip(q).map(|(a, b)| a * b).sum()))
                .collect();
            exact.sort_by(|a, b| b.1.total_cmp(&a.1));
            let want: Vec<String> = exact[..10].iter().map(|(i, _)| format!("d{i}")).collect();
            let hits = index.search_vector(q, 10, None).unwrap();
            let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
            found += index
                .fetch(&ids)
                .unwrap()
                .iter()
                .filter(|(_, r)| want.contains(&r.doc_id))
                .count();
        }
        found as f64 / (10 * queries.len()) as f64
    };
    let (narrow, wide) = (recall(1), recall(400));
    assert!(wide >= 0.97, "recall at ef_search 400: {wide}");
    assert!(narrow < wide - 0.05, "ef_search 1: {narrow}, 400: {wide}");
}

/// A document whose chunks were committed in two batches (two segments) is listed
/// once, with all its chunks and its source, and counted once in the stats.
#[test]
fn a_document_across_segments_is_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let vs = vectors(3, 11);
    let mut first = records("split", &vs[..2]);
    let mut second = records("split", &vs[2..]);
    second[0].ordinal = 2;
    for r in first.iter_mut().chain(second.iter_mut()) {
        r.source = Some("files/split.md".into());
    }
    index.add(first).unwrap();
    index.commit().unwrap();
    index.add(records("other", &vectors(1, 12))).unwrap();
    index.add(second).unwrap();
    index.commit().unwrap();
    let docs = index.documents(None).unwrap();
    let names: Vec<(&str, usize, Option<&str>)> = docs
        .iter()
        .map(|d| (d.doc_id.as_str(), d.chunks, d.source.as_deref()))
        .collect();
    assert_eq!(
        names,
        [("other", 1, None), ("split", 3, Some("files/split.md"))]
    );
    let stats = index.stats().unwrap();
    assert_eq!((stats.documents, stats.chunks), (2, 4));
}

/// Per-tenant counts in `stats` agree with the document lists, across segments, with
/// a document split over two commits, one deleted, and the same doc id in two tenants.
#[test]
fn stats_count_each_tenants_documents_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let in_tenant = |tenant: &str, doc: &str, vs: &[Vec<f32>], first: u32| {
        let mut rs = records(doc, vs);
        for (i, r) in rs.iter_mut().enumerate() {
            r.tenant = tenant.into();
            r.ordinal = first + i as u32;
        }
        rs
    };
    let vs = vectors(8, 21);
    index.add(in_tenant("acme", "a", &vs[..2], 0)).unwrap();
    index.add(in_tenant("zeta", "a", &vs[2..3], 0)).unwrap();
    index.add(in_tenant("", "gone", &vs[3..4], 0)).unwrap();
    index.commit().unwrap();
    index.add(in_tenant("acme", "a", &vs[4..6], 2)).unwrap();
    index.add(in_tenant("acme", "b", &vs[6..7], 0)).unwrap();
    index.add(in_tenant("", "kept", &vs[7..8], 0)).unwrap();
    index.commit().unwrap();
    index.delete_document("", "gone").unwrap();
    index.commit().unwrap();
    let stats = index.stats().unwrap();
    assert!(stats.segments >= 2, "the counts merge segments");
    let counts: Vec<(&str, usize, usize)> = stats
        .tenants
        .iter()
        .map(|(t, s)| (t.as_str(), s.documents, s.chunks))
        .collect();
    assert_eq!(counts, [("", 1, 1), ("acme", 2, 5), ("zeta", 1, 1)]);
    assert_eq!((stats.documents, stats.chunks), (4, 7));
    for (tenant, s) in &stats.tenants {
        let docs = index.documents(Some(tenant)).unwrap();
        assert_eq!(docs.len(), s.documents, "{tenant:?}");
        assert_eq!(docs.iter().map(|d| d.chunks).sum::<usize>(), s.chunks);
    }
}

#[test]
fn keyword_signals_measure_how_specific_and_how_covered_a_query_is() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    index.add(records("d", &vectors(40, 5))).unwrap();
    index.commit().unwrap();
    // Every chunk says "chunk"; one says "topic7"; none says "zebra".
    let idf = |df: f32| (1.0 + (40.0 - df + 0.5) / (df + 0.5)).ln();
    let signals = |q: &str| {
        let top = index
            .search_keyword(q, 1, None)
            .unwrap()
            .first()
            .map_or(0.0, |s| s.score);
        index.keyword_signals(q, top).unwrap()
    };
    let close = |a: f32, b: f32| (a - b).abs() < 1e-4;

    let rare = signals("topic7");
    assert!(close(rare.mean_idf, idf(1.0)), "{rare:?}");
    // The top score over the most one term can score, IDF times k1 + 1.
    let top = |q: &str| index.search_keyword(q, 1, None).unwrap()[0].score;
    assert!(
        close(rare.coverage, top("topic7") / (idf(1.0) * 2.2)),
        "{rare:?}"
    );
    assert!(rare.coverage > 0.0 && rare.coverage < 1.0, "{rare:?}");
    let mixed = signals("chunk topic7");
    assert!(
        close(mixed.mean_idf, (idf(40.0) + idf(1.0)) / 2.0),
        "{mixed:?}"
    );
    assert!(signals("chunk").mean_idf < 0.1);
    // A term the collection lacks is left out of the mean IDF but counts against
    // coverage: BM25 cannot match it.
    let unknown = signals("topic7 zebra");
    assert!(close(unknown.mean_idf, rare.mean_idf), "{unknown:?}");
    assert!(unknown.coverage < rare.coverage, "{unknown:?} vs {rare:?}");
    let none = signals("zebra");
    assert_eq!((none.mean_idf, none.coverage), (0.0, 0.0));
    // A word the query repeats is scored once; the same term from two different
    // words is scored twice and can reach twice as much: either way the coverage
    // stays what it was.
    assert!(close(top("topic7 topic7"), top("topic7")));
    assert!(close(top("topic7 TOPIC7"), 2.0 * top("topic7")));
    // A word left out never scores, so it adds nothing to the most the query can.
    for q in ["topic7 topic7", "topic7 TOPIC7", "topic7 -zebra"] {
        let repeated = signals(q);
        assert!(
            close(repeated.coverage, rare.coverage),
            "{repeated:?} vs {rare:?}"
        );
    }
    // A caret is no boost: "topic7^20" is the words "topic7" and "20".
    assert!(close(top("topic7^20"), top("topic7 20")));
    assert!(signals("topic7^20").coverage <= 1.0);

    // The terms behind the signals: analysed (stop word out, plural stemmed, repeats
    // once), in term order, each with its IDF and document frequency.
    let terms = index.term_idfs("The Zebra, chunks chunk topic7").unwrap();
    let names: Vec<&str> = terms.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(names, ["chunk", "topic7", "zebra"]);
    let dfs: Vec<u64> = terms.iter().map(|&(_, _, df)| df).collect();
    assert_eq!(dfs, [40, 1, 0]);
    assert!(
        close(terms[1].1, idf(1.0)) && close(terms[2].1, idf(0.0)),
        "{terms:?}"
    );
}

/// A heading path comes back as it went in, whatever its headings hold: one heading
/// with " > " in it stays one heading, and an empty path stays empty.
#[test]
fn heading_paths_round_trip_heading_by_heading() {
    let dir = tempfile::tempdir().unwrap();
    let index = create(dir.path());
    let vs = vectors(3, 11);
    let mut rs = records("d", &vs);
    rs[0].heading_path = vec!["Input > Output".into(), "Details".into()];
    rs[1].heading_path = vec![String::new(), "After an empty one".into()];
    rs[2].heading_path = Vec::new();
    let want: Vec<Vec<String>> = rs.iter().map(|r| r.heading_path.clone()).collect();
    index.add(rs).unwrap();
    index.commit().unwrap();
    drop(index);
    let index = Index::open(dir.path()).unwrap();
    for (i, v) in vs.iter().enumerate() {
        let hits = index.search_vector(v, 1, None).unwrap();
        let got = &index.fetch(&[hits[0].id]).unwrap()[0].1;
        assert_eq!(got.heading_path, want[i], "chunk {i}");
    }
}

/// Creating where an index exists says so, not that the index is corrupt.
#[test]
fn creating_over_an_index_is_already_exists() {
    let dir = tempfile::tempdir().unwrap();
    drop(create(dir.path()));
    match Index::create(dir.path(), IndexOptions::new(DIM)) {
        Err(Error::AlreadyExists { path }) => assert_eq!(path, dir.path()),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("created over an index"),
    }
    assert!(
        Index::open(dir.path()).is_ok(),
        "the existing index is untouched"
    );
}

/// The caller's data changes with a commit, atomically: a rollback drops the change,
/// a commit makes it what every later open and reload reads, and later commits keep it.
#[test]
fn extra_data_changes_with_a_commit_and_survives_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = IndexOptions::new(DIM);
    options.extra.insert("model".into(), "old".into());
    let index = Index::create(dir.path(), options).unwrap();
    let reader = Index::open(dir.path()).unwrap();
    let model = |i: &Index| i.extra()["model"].as_str().unwrap().to_owned();
    let mut changed = serde_json::Map::new();
    changed.insert("model".into(), "new".into());

    index.set_extra(changed.clone());
    index.rollback().unwrap();
    index.add(records("a", &vectors(1, 1))).unwrap();
    index.commit().unwrap();
    assert_eq!(model(&index), "old", "a rollback drops the change");

    index.set_extra(changed);
    assert_eq!(model(&index), "old", "uncommitted");
    index.add(records("b", &vectors(1, 2))).unwrap();
    index.commit().unwrap();
    assert_eq!(model(&index), "new");
    reader.reload().unwrap();
    assert_eq!(model(&reader), "new");
    index.add(records("c", &vectors(1, 3))).unwrap();
    index.commit().unwrap();
    drop((index, reader));
    let reopened = Index::open(dir.path()).unwrap();
    assert_eq!(model(&reopened), "new", "kept through a later commit");
    assert_eq!(
        reopened.options().extra["model"],
        "old",
        "the manifest is unchanged"
    );
}

#[test]
fn chunks_and_queries_that_make_no_terms_are_counted() {
    for language in [trawl_index::Language::English, trawl_index::Language::Auto] {
        let dir = tempfile::tempdir().unwrap();
        let mut options = IndexOptions::new(0);
        options.language = language;
        let long = "x".repeat(60);
        let index = common::keyword_index(
            dir.path(),
            options,
            &[
                ("words", "A lighthouse at dawn."),
                ("marks", "— … !!! ¿?"),
                ("long", &long),
            ],
        );
        // Punctuation alone, and one word too long to be a term.
        assert_eq!(index.stats().unwrap().chunks_without_terms, 2, "{language}");
        // Each word analyzes to nothing: tantivy's parser makes a query for every chunk
        // of such clauses, and trawl none.
        assert_eq!(common::found(&index, "— ?!"), Vec::<String>::new());
        // Terms the index does not hold are not counted: the query made terms.
        assert!(common::found(&index, "harbour").is_empty());
        assert_eq!(common::found(&index, "lighthouse"), ["words"]);
        // Stop words alone.
        assert!(common::found(&index, "at the").is_empty());
        assert_eq!(index.stats().unwrap().queries_without_terms, 2);
        index.delete_document("", "marks").unwrap();
        index.commit().unwrap();
        assert_eq!(index.stats().unwrap().chunks_without_terms, 1);
    }
}
