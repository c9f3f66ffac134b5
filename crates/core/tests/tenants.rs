//! Filters and tenants through the `Collection` API, with a small hashing embedder so
//! no model is needed.

use std::sync::Arc;

use trawl::{
    AddOptions, Collection, Document, Embedder, Filter, MetaValue, Metadata, SearchMode,
    SearchOptions,
};

/// Bag-of-words vectors: each word adds to one of 64 dimensions.
struct HashEmbedder;

impl Embedder for HashEmbedder {
    fn dim(&self) -> usize {
        64
    }

    fn embed(&self, texts: &[&str]) -> trawl::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0; 64];
                for w in t.split_whitespace() {
                    let h = w
                        .to_lowercase()
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                    v[(h % 64) as usize] += 1.0;
                }
                v[0] += 0.01;
                v
            })
            .collect())
    }

    fn name(&self) -> String {
        "hash-64".into()
    }
}

fn open(dir: &std::path::Path, tenant: Option<&str>) -> Collection {
    let mut b = Collection::builder(dir).embedder(Arc::new(HashEmbedder));
    if let Some(t) = tenant {
        b = b.tenant(t);
    }
    b.open().unwrap()
}

fn options(mode: SearchMode, filter: Option<&str>, tenant: Option<&str>) -> SearchOptions {
    SearchOptions {
        k: 10,
        mode,
        filter: filter.map(|f| f.parse().unwrap()),
        tenant: tenant.map(str::to_owned),
        ..SearchOptions::default()
    }
}

#[test]
fn searches_are_scoped_to_a_tenant_and_filtered_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), None);
    for tenant in ["acme", "globex"] {
        let docs = (0..6)
            .map(|i| {
                let mut meta = Metadata::new();
                meta.insert("year".into(), MetaValue::Int(2018 + i));
                meta.insert(
                    "tags".into(),
                    MetaValue::List(vec![format!("t{}", i % 2), tenant.into()]),
                );
                let mut d = Document::from_text(
                    format!("report-{i}"),
                    &format!("quarterly revenue report number {i} for {tenant}"),
                );
                d.metadata = meta;
                d
            })
            .collect();
        c.add_documents(docs, &AddOptions::new().tenant(tenant))
            .unwrap();
    }
    c.commit().unwrap();
    for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits = c
            .search_with("revenue report", &options(mode, None, Some("acme")))
            .unwrap();
        assert_eq!(hits.len(), 6, "{mode}");
        assert!(hits.iter().all(|h| h.text.ends_with("acme")), "{mode}");

        let hits = c
            .search_with(
                "revenue report",
                &options(
                    mode,
                    Some("year >= 2021 AND tags CONTAINS 't1'"),
                    Some("globex"),
                ),
            )
            .unwrap();
        let mut ids: Vec<_> = hits.iter().map(|h| h.doc_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["report-3", "report-5"], "{mode}");
        assert!(hits.iter().all(|h| h.text.ends_with("globex")), "{mode}");

        // A filter naming another tenant cannot widen the scope.
        let hits = c
            .search_with(
                "revenue report",
                &options(mode, Some("tenant = 'globex'"), Some("acme")),
            )
            .unwrap();
        assert!(hits.is_empty(), "{mode}");

        // No tenant: every tenant.
        let hits = c
            .search_with("revenue report", &options(mode, Some("year = 2018"), None))
            .unwrap();
        assert_eq!(hits.len(), 2, "{mode}");
    }
    let stats = c.stats().unwrap();
    assert_eq!(stats.tenants["acme"].documents, 6);
    assert_eq!(stats.tenants["globex"].chunks, 6);
}

#[test]
fn a_collection_opened_for_a_tenant_adds_deletes_and_searches_there() {
    let dir = tempfile::tempdir().unwrap();
    {
        let a = open(dir.path(), Some("a"));
        a.add_text("same-id", "alpha words", Metadata::new())
            .unwrap();
        a.commit().unwrap();
    }
    {
        let b = open(dir.path(), Some("b"));
        b.add_text("same-id", "beta words", Metadata::new())
            .unwrap();
        b.commit().unwrap();
        let hits = b.search("words", 5, SearchMode::Hybrid).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].text, "beta words");
        b.delete("same-id", None).unwrap();
        b.commit().unwrap();
        assert!(b
            .search("words", 5, SearchMode::Keyword)
            .unwrap()
            .is_empty());
    }
    let all = open(dir.path(), None);
    let docs = all.documents(None).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].tenant, "a");
    assert_eq!(
        all.search("words", 5, SearchMode::Keyword).unwrap().len(),
        1
    );
}

#[test]
fn remove_missing_deletes_documents_whose_files_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    for name in ["keep.md", "gone.md"] {
        std::fs::write(files.path().join(name), format!("# {name}\n\nsome text")).unwrap();
    }
    let c = open(&dir.path().join("index"), None);
    let report = c
        .add_paths(&[files.path()], &AddOptions::default())
        .unwrap();
    assert_eq!(report.added, 2);
    c.commit().unwrap();
    std::fs::remove_file(files.path().join("gone.md")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    assert!(c
        .remove_missing(&[elsewhere.path().to_owned()])
        .unwrap()
        .is_empty());
    // The root spelled another way still names the same folder.
    let respelled = files.path().join("sub").join("..").join(".");
    let removed = c.remove_missing(&[respelled]).unwrap();
    assert_eq!(removed.len(), 1);
    assert!(removed[0].ends_with("gone.md"));
    c.commit().unwrap();
    assert_eq!(c.stats().unwrap().documents, 1);
}

/// Files ingested into a tenant named per call, on a handle opened for another tenant:
/// they land in the named tenant only, and a tenant name the index cannot hold is a
/// typed error before any file is read.
#[test]
fn paths_are_ingested_into_the_tenant_named_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    std::fs::write(
        files.path().join("memo.md"),
        "# Memo\n\nharbour dredging plan",
    )
    .unwrap();
    let c = open(&dir.path().join("index"), Some("a"));
    let limits = trawl::Limits::default();
    let roots = [files.path().to_owned()];
    let report = c
        .add_paths(
            &roots,
            &AddOptions::new().tenant("b").limits(limits.clone()),
        )
        .unwrap();
    assert_eq!(report.added, 1);
    let err = c
        .add_paths(&roots, &AddOptions::new().tenant("b\u{1f}x").limits(limits))
        .unwrap_err();
    assert!(matches!(
        err,
        trawl::Error::Index(trawl_index::Error::InvalidTenant { .. })
    ));
    c.commit().unwrap();
    let hits = |tenant| {
        c.search_with(
            "harbour dredging",
            &options(SearchMode::Keyword, None, Some(tenant)),
        )
        .unwrap()
    };
    assert_eq!(hits("b").len(), 1);
    assert!(hits("b")[0].doc_id.ends_with("memo.md"));
    assert!(hits("a").is_empty());
    let stats = c.stats().unwrap();
    assert_eq!(stats.documents, 1);
    assert_eq!(stats.tenants["b"].documents, 1);
}

#[test]
fn search_options_with_a_filter_serialise_as_its_syntax() {
    let o = options(
        SearchMode::Dense,
        Some("format = \"pdf\" AND year >= 2020"),
        Some("t"),
    );
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["filter"], "(format = \"pdf\" AND year >= 2020)");
    let back: SearchOptions = serde_json::from_value(json).unwrap();
    assert_eq!(back, o);
    assert_eq!(
        back.filter,
        Some(Filter::eq("format", "pdf").and(Filter::range("year", 2020..)))
    );
}

/// Two tenants' documents with one id stay two passages in an unscoped context, each
/// cited with its tenant, and a scoped context shows only its own.
#[test]
fn context_keeps_tenants_apart_when_their_documents_share_an_id() {
    let dir = tempfile::tempdir().unwrap();
    for (tenant, colour) in [("alpha", "red"), ("beta", "blue")] {
        let c = open(dir.path(), Some(tenant));
        let text = format!("The {colour} kettle is in the left cupboard.");
        c.add_text("note.txt", &text, Metadata::new()).unwrap();
        c.commit().unwrap();
    }
    let all = open(dir.path(), None);
    let context = all
        .context("kettle", &trawl::ContextOptions::default())
        .unwrap();
    assert_eq!(context.citations.len(), 2, "{}", context.text);
    assert!(context.text.contains("red kettle"), "{}", context.text);
    assert!(context.text.contains("blue kettle"), "{}", context.text);
    let mut tenants: Vec<&str> = context
        .citations
        .iter()
        .map(|c| c.tenant.as_str())
        .collect();
    tenants.sort_unstable();
    assert_eq!(tenants, ["alpha", "beta"]);
    let alpha = open(dir.path(), Some("alpha"))
        .context("kettle", &trawl::ContextOptions::default())
        .unwrap();
    assert_eq!(alpha.citations.len(), 1);
    assert!(alpha.text.contains("red kettle") && !alpha.text.contains("blue"));
}
