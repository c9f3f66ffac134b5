//! Filters and tenants: typed metadata conditions run inside both retrievers, and a
//! tenant-scoped search never returns another tenant's chunk.

mod common;

use proptest::prelude::*;
use serde_json::json;
use trawl_index::{Error, Filter, FilterValue, Index, IndexOptions, Record};

const DIM: usize = 16;

fn unit(state: &mut u64) -> Vec<f32> {
    let mut v = common::xorshift_vector(state, DIM);
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// One record per document `d{i}` with metadata derived from `i`:
/// year 2000 + i % 25, score i / 10, format pdf for every 200th else markdown,
/// tags ["even"|"odd", "t{i % 7}"], published 2020-01-01 + (i % 28) days.
fn corpus(n: usize) -> Vec<Record> {
    let mut s = 42;
    (0..n)
        .map(|i| {
            let mut r = Record::new(
                format!("d{i}"),
                0,
                format!("common words and unique{i}"),
                unit(&mut s),
            );
            r.format = if i % 200 == 0 { "pdf" } else { "markdown" }.into();
            r.source = Some(format!("docs/{i}.md"));
            r.metadata.insert("year".into(), json!(2000 + i % 25));
            r.metadata.insert("score".into(), json!(i as f64 / 10.0));
            r.metadata.insert(
                "tags".into(),
                json!([
                    if i % 2 == 0 { "even" } else { "odd" },
                    format!("t{}", i % 7)
                ]),
            );
            r.metadata.insert(
                "published".into(),
                json!(format!("2020-01-{:02}", 1 + i % 28)),
            );
            r.metadata.insert(
                "info".into(),
                json!({ "lang": if i % 3 == 0 { "de" } else { "en" } }),
            );
            r
        })
        .collect()
}

fn build(n: usize) -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
    index.add(corpus(n)).unwrap();
    index.commit().unwrap();
    (dir, index)
}

fn ids(index: &Index, hits: &[trawl_index::Scored]) -> Vec<usize> {
    index
        .fetch(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.doc_id[1..].parse().unwrap())
        .collect()
}

#[test]
fn each_kind_of_condition_selects_the_right_chunks() {
    let n = 1000;
    let (_dir, index) = build(n);
    let expect = |f: &str, pred: &dyn Fn(usize) -> bool| {
        let filter: Filter = f.parse().unwrap_or_else(|e| panic!("{f}: {e}"));
        let want = (0..n).filter(|&i| pred(i)).count();
        assert_eq!(index.count(&filter).unwrap(), want, "{f}");
    };
    expect("format = \"pdf\"", &|i| i % 200 == 0);
    expect("format != 'pdf'", &|i| i % 200 != 0);
    expect("source = 'docs/7.md'", &|i| i == 7);
    expect("source >= 'docs/998'", &|i| i >= 998);
    expect("doc_id > 'd997' AND doc_id < 'd999'", &|i| i == 998);
    expect("year = 2003", &|i| i % 25 == 3);
    expect("year >= 2020", &|i| i % 25 >= 20);
    expect("year > 2020 AND year <= 2022", &|i| {
        (21..=22).contains(&(i % 25))
    });
    expect("year IN (2001, 2024)", &|i| [1, 24].contains(&(i % 25)));
    expect("score < 1.5", &|i| i < 15);
    expect("score >= 99.95", &|i| i >= 1000);
    expect("score >= -3", &|_| true);
    expect("tags CONTAINS 'even' AND tags contains \"t3\"", &|i| {
        i % 2 == 0 && i % 7 == 3
    });
    expect("published >= 2020-01-27", &|i| 1 + i % 28 >= 27);
    expect("published < 2020-01-02T00:00:00Z", &|i| i % 28 == 0);
    expect("published = '2020-01-05'", &|i| 1 + i % 28 == 5);
    expect("info.lang = 'de'", &|i| i % 3 == 0);
    expect("NOT (info.lang = 'de' OR year = 2000)", &|i| {
        i % 3 != 0 && i % 25 != 0
    });
    expect("missing = 1", &|_| false);
    expect("metadata.year = 2000", &|i| i % 25 == 0);

    let built = Filter::eq("format", "pdf").or(Filter::range("year", 2023..));
    assert_eq!(
        index.count(&built).unwrap(),
        (0..n).filter(|i| i % 200 == 0 || i % 25 >= 23).count()
    );
    let dates = Filter::range(
        "published",
        FilterValue::date("2020-01-03").unwrap()..FilterValue::date("2020-01-05").unwrap(),
    );
    assert_eq!(
        index.count(&dates).unwrap(),
        (0..n).filter(|i| (3..5).contains(&(1 + i % 28))).count()
    );
}

#[test]
fn a_filter_matching_half_a_percent_still_returns_k_results_from_both_retrievers() {
    let n = 4000;
    let (_dir, index) = build(n);
    // format = pdf matches every 200th document: 20 of 4000 (0.5%).
    let filter = Filter::eq("format", "pdf");
    assert_eq!(index.count(&filter).unwrap(), 20);
    let k = 10;
    let mut s = 7;
    for _ in 0..10 {
        let q = unit(&mut s);
        let hits = index.search_vector(&q, k, Some(&filter)).unwrap();
        assert_eq!(hits.len(), k);
        assert!(ids(&index, &hits).iter().all(|i| i % 200 == 0));
        // They are the true nearest matching chunks, best first.
        let mut exact: Vec<(f32, usize)> = corpus(n)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 200 == 0)
            .map(|(i, r)| (r.vector.iter().zip(&q).map(|(a, b)| a * b).sum(), i))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let want: Vec<usize> = exact[..k].iter().map(|(_, i)| *i).collect();
        assert_eq!(ids(&index, &hits), want);
    }
    let kw = index
        .search_keyword("common words", k, Some(&filter))
        .unwrap();
    assert_eq!(kw.len(), k);
    assert!(ids(&index, &kw).iter().all(|i| i % 200 == 0));
    // A term in one non-matching chunk only: nothing, rather than a wrong chunk.
    let none = index.search_keyword("unique7", k, Some(&filter)).unwrap();
    assert!(none.is_empty());
}

#[test]
fn a_broad_filter_walks_the_graph_and_still_returns_k_matching_results() {
    let n = 6000;
    let (_dir, index) = build(n);
    // 40% (2400 chunks): walked through the graph, not scanned.
    let filter = Filter::range("year", 2015..);
    let k = 25;
    let mut s = 99;
    for _ in 0..10 {
        let hits = index
            .search_vector(&unit(&mut s), k, Some(&filter))
            .unwrap();
        assert_eq!(hits.len(), k);
        assert!(ids(&index, &hits).iter().all(|i| i % 25 >= 15));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn a_repeated_filter_follows_commits_and_many_filters_stay_distinct() {
    let (_dir, index) = build(3000);
    // Broad (walked) and selective (scanned) filters, each asked twice per state: the
    // second answer may come from the snapshot's filter cache and must agree.
    let broad = Filter::range("year", 2010..);
    let pdf = Filter::eq("format", "pdf");
    let q = unit(&mut 7);
    for f in [&broad, &pdf] {
        let first = index.search_vector(&q, 10, Some(f)).unwrap();
        assert_eq!(index.search_vector(&q, 10, Some(f)).unwrap(), first);
    }
    // A new matching chunk right at the query is found after its commit.
    let mut r = Record::new("new", 0, "fresh", q.clone());
    r.format = "pdf".into();
    r.metadata.insert("year".into(), json!(2024));
    index.add(vec![r]).unwrap();
    index.commit().unwrap();
    for f in [&broad, &pdf] {
        let hits = index.search_vector(&q, 1, Some(f)).unwrap();
        let doc = &index.fetch(&[hits[0].id]).unwrap()[0].1.doc_id;
        assert_eq!(doc, "new");
    }
    // More distinct filters than the cache holds, each answered by its own matches.
    for round in 0..2 {
        for year in 2000..2025 {
            for f in [Filter::eq("year", year), Filter::eq("year", year).not()] {
                let hits = index.search_vector(&q, 5, Some(&f)).unwrap();
                assert_eq!(hits.len(), 5, "round {round}, {f}");
                let records = index.fetch(&hits.iter().map(|h| h.id).collect::<Vec<_>>());
                for (_, r) in records.unwrap() {
                    let y = r.metadata["year"].as_i64().unwrap();
                    let negated = f.to_string().starts_with("NOT");
                    assert_eq!(y == i64::from(year), !negated, "{f}: {}", r.doc_id);
                }
            }
        }
    }
}

#[test]
fn deleted_chunks_never_match_a_filter() {
    let (_dir, index) = build(400);
    index.delete_document("", "d0").unwrap();
    index.delete_document("", "d200").unwrap();
    index.commit().unwrap();
    let filter = Filter::eq("format", "pdf");
    assert_eq!(index.count(&filter).unwrap(), 0);
    let q = corpus(1)[0].vector.clone();
    assert!(index
        .search_vector(&q, 5, Some(&filter))
        .unwrap()
        .is_empty());
}

#[test]
fn filters_that_do_not_fit_are_typed_errors() {
    let (_dir, index) = build(10);
    let q = corpus(1)[0].vector.clone();
    for f in [
        Filter::eq("format", 3),
        Filter::range("year", FilterValue::from(2020)..FilterValue::from("x")),
        Filter::range::<i32>("year", ..),
    ] {
        let err = index.search_vector(&q, 3, Some(&f)).unwrap_err();
        assert!(matches!(err, Error::InvalidFilter { .. }), "{err}");
        let err = index.search_keyword("words", 3, Some(&f)).unwrap_err();
        assert!(matches!(err, Error::InvalidFilter { .. }), "{err}");
    }
    let err = Filter::parse("year >= ").unwrap_err();
    assert!(err.to_string().contains("byte 8"), "{err}");
}

#[test]
fn the_same_document_id_in_two_tenants_is_two_documents() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
    let mut s = 5;
    let mut a = Record::new("readme", 0, "alpha text", unit(&mut s)).with_tenant("a");
    a.doc_hash = "ha".into();
    let mut b = Record::new("readme", 0, "beta text", unit(&mut s)).with_tenant("b");
    b.doc_hash = "hb".into();
    index.add(vec![a, b]).unwrap();
    index.commit().unwrap();
    assert_eq!(
        index.document_hash("a", "readme").unwrap().as_deref(),
        Some("ha")
    );
    assert_eq!(index.document_hash("", "readme").unwrap(), None);
    index.delete_document("a", "readme").unwrap();
    index.commit().unwrap();
    let docs = index.documents(None).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(
        (docs[0].tenant.as_str(), docs[0].doc_id.as_str()),
        ("b", "readme")
    );
    let stats = index.stats().unwrap();
    assert_eq!(stats.tenants.len(), 1);
    assert_eq!(stats.tenants["b"].chunks, 1);
    let bad = Record::new("x", 0, "t", unit(&mut s)).with_tenant("a\u{1f}b");
    let err = index.add(vec![bad]).unwrap_err();
    assert!(matches!(err, Error::InvalidTenant { .. }), "{err}");
}

/// A small random multi-tenant corpus: (tenant, doc, words) per chunk.
fn tenant_corpus() -> impl Strategy<Value = Vec<(u8, u8, Vec<u8>)>> {
    prop::collection::vec((0u8..4, 0u8..6, prop::collection::vec(0u8..8, 1..5)), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_tenant_scoped_search_never_returns_another_tenants_chunk(
        chunks in tenant_corpus(),
        queries in prop::collection::vec((0u8..5, prop::collection::vec(0u8..8, 1..3), any::<u64>()), 1..6),
        k in 1usize..20,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::create(dir.path(), IndexOptions::new(DIM)).unwrap();
        let mut s = 1;
        let records: Vec<Record> = chunks
            .iter()
            .enumerate()
            .map(|(i, (t, d, words))| {
                let text: Vec<String> = words.iter().map(|w| format!("word{w}")).collect();
                let mut r = Record::new(format!("doc{d}"), i as u32, text.join(" "), unit(&mut s))
                    .with_tenant(format!("tenant{t}"));
                // Tenants also differ in metadata, which a filter may name.
                r.metadata.insert("kind".into(), json!(format!("k{}", d % 2)));
                r
            })
            .collect();
        index.add(records).unwrap();
        index.commit().unwrap();
        for (t, words, seed) in queries {
            let tenant = format!("tenant{t}");
            let text: Vec<String> = words.iter().map(|w| format!("word{w}")).collect();
            let mut state = seed | 1;
            let q = unit(&mut state);
            let scoped = Filter::tenant(&tenant);
            let with_meta = Filter::tenant(&tenant).and(Filter::eq("kind", "k0").or(Filter::eq("kind", "k1")));
            let in_tenant = chunks.iter().filter(|c| c.0 == t).count();
            for f in [&scoped, &with_meta] {
                let dense = index.search_vector(&q, k, Some(f)).unwrap();
                prop_assert_eq!(dense.len(), k.min(in_tenant));
                let keyword = index.search_keyword(&text.join(" "), k, Some(f)).unwrap();
                let all: Vec<u64> = dense.iter().chain(&keyword).map(|h| h.id).collect();
                for (_, r) in index.fetch(&all).unwrap() {
                    prop_assert_eq!(&r.tenant, &tenant);
                }
            }
        }
    }
}

#[test]
fn a_handful_of_matches_in_a_large_index_are_ranked_exactly() {
    // 3 matches among 3000 chunks: compared exactly, through the graph's points by vid.
    let n = 3000;
    let (_dir, index) = build(n);
    let records = corpus(n);
    let filter = Filter::one_of("doc_id", ["d7", "d1234", "d2999"]);
    let mut s = 3;
    for _ in 0..5 {
        let q = unit(&mut s);
        let hits = index.search_vector(&q, 2, Some(&filter)).unwrap();
        let mut want: Vec<(f32, usize)> = [7, 1234, 2999]
            .iter()
            .map(|&i| {
                let v = &records[i].vector;
                (v.iter().zip(&q).map(|(a, b)| a * b).sum(), i)
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert_eq!(ids(&index, &hits), [want[0].1, want[1].1]);
        assert!((hits[0].score - want[0].0).abs() < 1e-4);
    }
}
