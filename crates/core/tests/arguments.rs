//! Extreme arguments are safe: a `k`, a candidate depth or a graph `ef` of any size
//! allocates by the data, not by the argument, and returns at most what is there.

mod common;

use trawl::{Collection, ContextOptions, Filter, Metadata, SearchMode, SearchOptions};

fn small(dir: &std::path::Path) -> Collection {
    let c = Collection::builder(dir)
        .embedder(common::embedder())
        .open()
        .unwrap();
    c.add_text(
        "a",
        "The red kettle is in the left cupboard.",
        Metadata::new(),
    )
    .unwrap();
    c.add_text("b", "The sourdough starter needs flour.", Metadata::new())
        .unwrap();
    c.commit().unwrap();
    c
}

#[test]
fn a_huge_k_or_candidate_depth_returns_what_there_is() {
    let tmp = tempfile::tempdir().unwrap();
    let c = small(tmp.path());
    for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
        for (k, candidates) in [
            (usize::MAX, 100),
            (1 << 40, usize::MAX),
            (usize::MAX, usize::MAX),
            (3, usize::MAX),
        ] {
            let options = SearchOptions {
                k,
                candidates,
                mode,
                ..SearchOptions::default()
            };
            let hits = c.search_with("kettle", &options).unwrap();
            assert!(hits.len() <= 2, "{mode:?} k={k}: {} hits", hits.len());
            assert!(!hits.is_empty(), "{mode:?} k={k}");
            // The same with a filter (the filtered walks size their lists from k).
            let filtered = SearchOptions {
                filter: Some(Filter::eq("doc_id", "a")),
                ..options
            };
            let hits = c.search_with("kettle", &filtered).unwrap();
            assert_eq!(hits.len(), 1, "{mode:?} k={k} filtered");
        }
    }
    let context = c
        .context(
            "kettle",
            &ContextOptions {
                budget: usize::MAX,
                search: SearchOptions {
                    k: usize::MAX,
                    candidates: usize::MAX,
                    ..SearchOptions::default()
                },
            },
        )
        .unwrap();
    assert!(context.text.contains("kettle"));
}

#[test]
fn a_huge_graph_ef_is_bounded_by_the_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let c = small(tmp.path());
    c.index().flush_graph().unwrap();
    c.index().set_ef_search(usize::MAX);
    let hits = c.search("kettle", 2, SearchMode::Dense).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].doc_id, "a");
}
