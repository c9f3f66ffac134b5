use std::sync::atomic::AtomicU32;

use tantivy::collector::TopDocs;
use tantivy::doc;
use tantivy::merge_policy::NoMergePolicy;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, QueryParser, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::schema::{Schema, TEXT};
use tantivy::SegmentMeta;

use super::view::{segment_top_docs, top_docs};
use super::*;

#[test]
fn capped_groups_pack_smallest_first_within_the_cap() {
    let sizes = vec![
        ("a", 60),
        ("b", 10),
        ("c", 30),
        ("d", 50),
        ("e", 150),
        ("f", 5),
    ];
    // 5 + 10 + 30 + 50 = 95; 60 would pass 100; 150 is alone.
    assert_eq!(
        capped_groups(sizes.clone(), 100, 1),
        vec![vec!["f", "b", "c", "d"], vec!["a"], vec!["e"]]
    );
    // A merge needs two segments: the lone ones are left.
    assert_eq!(capped_groups(sizes, 100, 2), vec![vec!["f", "b", "c", "d"]]);
    assert!(capped_groups(Vec::<((), u64)>::new(), 100, 1).is_empty());
}

/// Many small commits merge, but never into a segment above the cap.
#[test]
fn merges_stop_at_the_cap() {
    let mut builder = Schema::builder();
    let text = builder.add_text_field("text", TEXT);
    let index = TantivyIndex::create_in_ram(builder.build());
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    writer.set_merge_policy(Box::new(CappedMergePolicy::new(100)));
    for commit in 0..64 {
        for i in 0..10 {
            writer
                .add_document(doc!(text => format!("doc {commit} {i}")))
                .unwrap();
        }
        writer.commit().unwrap();
    }
    writer.wait_merging_threads().unwrap();
    let metas = index.searchable_segment_metas().unwrap();
    let sizes: Vec<u32> = metas.iter().map(SegmentMeta::num_docs).collect();
    assert_eq!(sizes.iter().sum::<u32>(), 640);
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    // Merging happened: 64 commits did not leave 64 segments.
    assert!(sizes.len() < 20, "{sizes:?}");
}

/// Searching the segments in parallel with a shared pruning floor finds exactly what
/// tantivy's `TopDocs` finds, scores and tie order included, with deleted documents,
/// many exact ties (the same texts in every segment) and k below and above the
/// number of matches.
#[test]
fn parallel_top_docs_match_tantivy() {
    let mut builder = Schema::builder();
    let text = builder.add_text_field("text", TEXT);
    let id = builder.add_u64_field("id", tantivy::schema::INDEXED);
    let index = TantivyIndex::create_in_ram(builder.build());
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    writer.set_merge_policy(Box::new(NoMergePolicy));
    let words = [
        "salmon", "river", "delta", "tide", "estuary", "reed", "the", "a",
    ];
    let mut n = 0u64;
    for segment in 0..5usize {
        for i in 0..60usize {
            // Every segment holds the same 30 texts, and 30 of its own.
            let seed = if i < 30 { i } else { i * 5 + segment };
            let body: Vec<&str> = (0..1 + seed % 9)
                .map(|j| words[(seed * j + j + seed / 3) % words.len()])
                .collect();
            writer
                .add_document(doc!(text => body.join(" "), id => n))
                .unwrap();
            n += 1;
        }
        writer.commit().unwrap();
    }
    for gone in (0..n).step_by(7) {
        writer.delete_term(Term::from_field_u64(id, gone));
    }
    writer.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    assert_eq!(searcher.segment_readers().len(), 5);
    let parser = QueryParser::for_index(&index, vec![text]);
    for query in ["salmon estuary reed", "tide", "delta the river", "nothing"] {
        let q = parser.parse_query(query).unwrap();
        for k in [1, 7, 25, 1_000] {
            let want = searcher
                .search(q.as_ref(), &TopDocs::with_limit(k).order_by_score())
                .unwrap();
            for parallel in [true, false] {
                let got = top_docs(
                    &searcher,
                    &[(q.as_ref(), None)],
                    None,
                    EnableScoring::enabled_from_searcher(&searcher),
                    k,
                    parallel,
                    false,
                )
                .unwrap();
                assert_eq!(got, want, "{query:?} k={k} parallel={parallel}");
            }
            // Whatever order the segments run in: with the floor already at the
            // final k-th score, documents tied with it still come through.
            if want.len() == k {
                let floor = AtomicU32::new(want[k - 1].0.to_bits());
                let weight = q
                    .weight(EnableScoring::enabled_from_searcher(&searcher))
                    .unwrap();
                let mut got: Vec<_> = (0..5)
                    .flat_map(|ord| {
                        let reader = searcher.segment_reader(ord);
                        segment_top_docs(weight.as_ref(), ord, reader, k, &floor).unwrap()
                    })
                    .collect();
                got.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                got.truncate(k);
                assert_eq!(got, want, "{query:?} k={k}, floor preset");
            }
        }
    }
    // One segment: searched in the calling thread, the same way.
    let one = TantivyIndex::create_in_ram(index.schema());
    let mut writer: IndexWriter = one.writer_with_num_threads(1, 15_000_000).unwrap();
    for i in 0..50u64 {
        let body = words[..1 + (i as usize % 7)].join(" ");
        writer.add_document(doc!(text => body, id => i)).unwrap();
    }
    writer.commit().unwrap();
    let searcher = one.reader().unwrap().searcher();
    let q = QueryParser::for_index(&one, vec![text])
        .parse_query("reed tide")
        .unwrap();
    let want = searcher
        .search(q.as_ref(), &TopDocs::with_limit(10).order_by_score())
        .unwrap();
    assert_eq!(
        top_docs(
            &searcher,
            &[(q.as_ref(), None)],
            None,
            EnableScoring::enabled_from_searcher(&searcher),
            10,
            true,
            false,
        )
        .unwrap(),
        want
    );
}

/// MaxScore over windows finds what tantivy's block-max WAND finds: the same scores
/// (up to a last bit: MaxScore sums in `f64`) and the same documents, wherever two
/// scores are not tied up to that bit. Long and short queries, common and rare words,
/// phrases, documents far apart (across windows), deletions, exact duplicates in every
/// segment, and k below and above the number of matches. Its own results do not depend
/// on how the segments are run.
#[test]
fn maxscore_top_docs_match_tantivy() {
    let mut builder = Schema::builder();
    let text = builder.add_text_field("text", TEXT);
    let id = builder.add_u64_field("id", tantivy::schema::INDEXED);
    let tag = builder.add_text_field("tag", tantivy::schema::STRING);
    let lang = builder.add_text_field("lang", tantivy::schema::STRING);
    let index = TantivyIndex::create_in_ram(builder.build());
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 50_000_000).unwrap();
    writer.set_merge_policy(Box::new(NoMergePolicy));
    // Zipf-like vocabulary: word i is drawn about 1/(i+1) as often as word 0.
    let vocabulary: Vec<String> = (0..400).map(|i| format!("w{i}")).collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let zipf = |next: &mut dyn FnMut() -> u64| {
        let u = (next() % 1_000_000) as f64 / 1_000_000.0;
        let i = (400f64.powf(u) - 1.0) as usize;
        vocabulary[i.min(399)].clone()
    };
    let mut n = 0u64;
    let duplicate = "w3 w17 w17 w250 w8 w0";
    for _segment in 0..4 {
        // 9,000 documents a segment: a query's matches span several windows.
        for i in 0..9_000u64 {
            let body = if i % 1_000 == 7 {
                duplicate.to_owned()
            } else {
                let len = 3 + next() % 30;
                (0..len)
                    .map(|_| zipf(&mut next))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            // Filters: half the documents, and one in 97.
            let kind = if n.is_multiple_of(97) {
                "rare"
            } else {
                "common"
            };
            let parity = if n.is_multiple_of(2) { "even" } else { "odd" };
            writer
                .add_document(doc!(
                    text => body,
                    id => n,
                    tag => kind,
                    tag => parity,
                    lang => if n.is_multiple_of(3) { "b" } else { "a" },
                ))
                .unwrap();
            n += 1;
        }
        writer.commit().unwrap();
    }
    for gone in (0..n).step_by(11) {
        writer.delete_term(Term::from_field_u64(id, gone));
    }
    writer.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    assert_eq!(searcher.segment_readers().len(), 4);
    let parser = QueryParser::for_index(&index, vec![text]);
    let mut queries: Vec<String> = vec![
        duplicate.to_owned(),
        "w0 w1".to_owned(),
        "w399 w398 w1".to_owned(),
        "\"w3 w17\" w250 w5".to_owned(),
        "nothing w2".to_owned(),
    ];
    for _ in 0..40 {
        let len = 2 + next() % 14;
        queries.push(
            (0..len)
                .map(|_| zipf(&mut next))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let scoring = EnableScoring::enabled_from_searcher(&searcher);
    for query in &queries {
        let q = parser.parse_query(query).unwrap();
        // The path under test is taken: these queries are disjunctions it serves.
        assert!(
            super::maxscore::clauses(q.as_ref(), &scoring).is_some(),
            "{query}"
        );
        for (k, filter) in [1, 10, 100, 40_000]
            .into_iter()
            .flat_map(|k| [(k, None), (k, Some("even")), (k, Some("rare"))])
        {
            let filter: Option<Box<dyn Query>> = filter.map(|t| {
                Box::new(TermQuery::new(
                    Term::from_field_text(tag, t),
                    IndexRecordOption::Basic,
                )) as Box<dyn Query>
            });
            let filtered: Box<dyn Query> = match &filter {
                None => q.box_clone(),
                Some(f) => Box::new(BooleanQuery::new(vec![
                    (Occur::Must, q.box_clone()),
                    (
                        Occur::Must,
                        Box::new(ConstScoreQuery::new(f.box_clone(), 0.0)),
                    ),
                ])),
            };
            let want = searcher
                .search(filtered.as_ref(), &TopDocs::with_limit(k).order_by_score())
                .unwrap();
            let filter = filter.as_deref();
            let got = top_docs(
                &searcher,
                &[(q.as_ref(), None)],
                filter,
                scoring,
                k,
                false,
                true,
            )
            .unwrap();
            assert_eq!(got.len(), want.len(), "{query:?} k={k}");
            for (g, w) in got.iter().zip(&want) {
                // Sixteen f32 additions in another order differ by a few bits at most.
                let near = |a: f32, b: f32| (a - b).abs() <= 2e-6 * b.abs().max(1.0);
                assert!(near(g.0, w.0), "{query:?} k={k}: {g:?} against {w:?}");
                // A different document only where its score ties with tantivy's pick.
                if g.1 != w.1 {
                    let theirs = want.iter().find(|x| x.1 == g.1).map(|x| x.0);
                    let tied = theirs.map_or(near(g.0, want[want.len() - 1].0), |t| near(t, w.0));
                    assert!(tied, "{query:?} k={k}: {g:?} against {w:?}");
                }
            }
            // The same result however the segments run: in parallel, or with the
            // floor already at the final k-th score.
            let parallel = top_docs(
                &searcher,
                &[(q.as_ref(), None)],
                filter,
                scoring,
                k,
                true,
                true,
            )
            .unwrap();
            assert_eq!(parallel, got, "{query:?} k={k} parallel");
            if got.len() == k {
                let floor = AtomicU32::new(got[k - 1].0.to_bits());
                let weights = super::maxscore::clauses(q.as_ref(), &scoring).unwrap();
                let filter = filter.map(|f| {
                    f.weight(EnableScoring::disabled_from_searcher(&searcher))
                        .unwrap()
                });
                let mut preset: Vec<_> = (0..4)
                    .flat_map(|ord| {
                        let reader = searcher.segment_reader(ord);
                        super::maxscore::segment_top_docs(
                            &weights,
                            filter.as_deref(),
                            ord,
                            reader,
                            k,
                            &floor,
                        )
                        .unwrap()
                    })
                    .collect();
                preset.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                preset.truncate(k);
                assert_eq!(preset, got, "{query:?} k={k}, floor preset");
            }
        }
    }
    // A query read two ways, each reading scoring only its own chunks (an `auto`
    // index holding two languages), against tantivy on the combined query; and a
    // reading whose Chinese words sit beside its parsed text (a nested disjunction).
    let own = |l: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(lang, l),
            IndexRecordOption::Basic,
        ))
    };
    let (own_a, own_b) = (own("a"), own("b"));
    for (a, b) in [("w3 w17 w250", "w17 w4 w9 w0"), ("w1 w2", "w399")] {
        let (a, b) = (
            parser.parse_query(a).unwrap(),
            parser.parse_query(b).unwrap(),
        );
        let nested: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Should, a.box_clone()),
            (Occur::Should, own("w5")),
        ]));
        let readings: [(&dyn Query, Option<&dyn Query>); 2] = [
            (nested.as_ref(), Some(own_a.as_ref())),
            (b.as_ref(), Some(own_b.as_ref())),
        ];
        // The path under test is taken for the nested reading.
        assert!(super::maxscore::clauses(nested.as_ref(), &scoring).is_some());
        let together = super::view::combined(&readings);
        for k in [1, 10, 100, 40_000] {
            let want = searcher
                .search(together.as_ref(), &TopDocs::with_limit(k).order_by_score())
                .unwrap();
            let got = top_docs(&searcher, &readings, None, scoring, k, true, true).unwrap();
            let wand = top_docs(&searcher, &readings, None, scoring, k, true, false).unwrap();
            assert_eq!(wand, want, "k={k}");
            assert_eq!(got.len(), want.len(), "k={k}");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g.0 - w.0).abs() <= 2e-6 * w.0.abs().max(1.0),
                    "k={k}: {g:?} {w:?}"
                );
            }
        }
    }
    // Queries MaxScore leaves to tantivy: one term, a required clause.
    for query in ["w5", "+w5 w6"] {
        let q = parser.parse_query(query).unwrap();
        assert!(
            super::maxscore::clauses(q.as_ref(), &scoring).is_none(),
            "{query}"
        );
    }
}

/// `n` deterministic unit vectors of length `dim`.
fn unit_vectors(n: usize, dim: usize) -> Vec<Vec<f32>> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            let mut v: Vec<f32> = (0..dim)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s % 2000) as f32 / 1000.0 - 1.0
                })
                .collect();
            normalize(&mut v);
            v
        })
        .collect()
}

fn checked_index(dir: &Path, docs: usize) -> (Index, Vec<Vec<f32>>) {
    let index = Index::create(dir, IndexOptions::new(8)).unwrap();
    let vs = unit_vectors(docs * 3, 8);
    for d in 0..docs {
        let records = (0..3)
            .map(|i| {
                let r = Record::new(
                    format!("doc{d}"),
                    i,
                    format!("chunk {i}"),
                    vs[d * 3 + i as usize].clone(),
                );
                if d % 2 == 0 {
                    r.with_tenant("acme")
                } else {
                    r
                }
            })
            .collect();
        index.add(records).unwrap();
    }
    index.commit().unwrap();
    index.flush_graph().unwrap();
    (index, vs)
}

#[test]
fn check_finds_a_healthy_index_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = checked_index(dir.path(), 10);
    index.delete_document("acme", "doc0").unwrap();
    index.commit().unwrap();
    let report = index.check().unwrap();
    assert!(report.is_healthy(), "{:?}", report.problems());
    assert_eq!((report.chunks, report.documents), (27, 9));
    assert_eq!(report.graph_points, 30);
    assert_eq!(report.tombstones, 3);
}

#[test]
fn check_finds_chunks_the_graph_lost_and_a_rebuild_restores_them() {
    let dir = tempfile::tempdir().unwrap();
    let (index, vs) = checked_index(dir.path(), 10);
    // A graph that claims to cover every vid but holds none of them, as a graph file
    // from another state of the store would.
    let snap = index.snapshot();
    let empty = Graph::new(index.options.hnsw, index.shared.log.clone());
    empty.advance_next_vid(snap.graph.next_vid());
    let front = snap.fresh.front(0);
    index.shared.publish(&Arc::new(empty), &front);
    let report = index.check().unwrap();
    assert_eq!(report.missing_from_graph.count, 30, "{report:?}");
    assert_eq!(report.missing_from_graph.examples.len(), 10);
    assert!(report.graph_needs_rebuild() && !report.is_healthy());
    assert!(index.search_vector(&vs[7], 1, None).unwrap().is_empty());

    index.rebuild_graph().unwrap();
    let report = index.check().unwrap();
    assert!(report.is_healthy(), "{:?}", report.problems());
    assert_eq!(report.graph_points, 30);
    let hit = &index.search_vector(&vs[7], 1, None).unwrap()[0];
    assert_eq!(index.fetch(&[hit.id]).unwrap()[0].1.text, "chunk 1");
    // The rebuilt graph was saved: a new handle loads it whole.
    drop(index);
    let reopened = Index::open(dir.path()).unwrap();
    assert!(reopened.check().unwrap().is_healthy());
}

#[test]
fn check_reports_store_files_that_fail_their_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = checked_index(dir.path(), 10);
    drop(index);
    let store = dir.path().join(STORE_DIR);
    let file = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "store"))
        .expect("a doc store file");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let index = Index::open(dir.path()).unwrap();
    let report = match index.check() {
        Ok(report) => report,
        Err(e) => panic!("a damaged store file is a finding, not an error: {e}"),
    };
    assert_eq!(report.corrupt_files.len(), 1, "{report:?}");
    assert!(report.corrupt_files[0].ends_with(".store"));
    assert!(report.unreadable.count > 0, "{report:?}");
    assert!(!report.is_healthy());
}

/// Keyword statistics from elsewhere (another shard's process) that count fewer
/// documents than a term's document frequency here score the term as rare, not with a
/// panic (tantivy's IDF asserts the order), by either search method.
#[test]
fn keyword_stats_with_too_few_documents_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = checked_index(dir.path(), 10);
    let view = index.view();
    let mut stats = serde_json::to_value(view.keyword_stats("chunk 1").unwrap()).unwrap();
    stats["docs"] = serde_json::json!(1);
    let stats: KeywordStats = serde_json::from_value(stats).unwrap();
    for maxscore in [true, false] {
        index.set_keyword_maxscore(maxscore);
        let hits = index
            .view()
            .with_keyword_stats(stats.clone())
            .search_keyword("chunk 1", 5, None)
            .unwrap();
        assert_eq!(hits.len(), 5, "maxscore={maxscore}");
    }
}
