//! Property tests over the `Collection` API, with a small hashing embedder so no model
//! is needed:
//!
//! - every argument a caller can pass (k, candidate and rerank depths, budgets, filter
//!   text, tenant names, document ids, metadata of every type, query text with
//!   separators, quotes, NUL and 10,000 characters) gives results or a typed error
//!   that names what was wrong, and never panics or aborts;
//! - no output path (search, context, parent expansion, documents, stats, delete) ever
//!   shows, counts, merges or cites one tenant's data under another's.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use trawl::{
    AddOptions, Collection, ContextOptions, Document, Embedder, Error, Filter, Fusion, MetaValue,
    Metadata, SearchMode, SearchOptions,
};

/// Bag-of-words vectors: each word adds to one of 32 dimensions.
struct HashEmbedder;

impl Embedder for HashEmbedder {
    fn dim(&self) -> usize {
        32
    }

    fn embed(&self, texts: &[&str]) -> trawl::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0; 32];
                for w in t.split_whitespace() {
                    let h = w
                        .to_lowercase()
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                    v[(h % 32) as usize] += 1.0;
                }
                v[0] += 0.01;
                v
            })
            .collect())
    }

    fn name(&self) -> String {
        "hash-32".into()
    }
}

fn open(dir: &std::path::Path) -> Collection {
    Collection::builder(dir)
        .embedder(Arc::new(HashEmbedder))
        .open()
        .unwrap()
}

/// A size argument: small, near a power of two, or huge.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..20,
        (0u32..64).prop_map(|p| 1usize << p),
        Just(usize::MAX),
        Just(usize::MAX - 1),
        any::<usize>(),
    ]
}

/// Text users type, and text they should not: separators, quotes, NUL, query syntax,
/// non-ASCII, up to 10,000 characters.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,30}",
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("a\u{1f}b".to_owned()),
        Just("\"quoted\" 'single' `back`".to_owned()),
        Just("title:x AND (y OR NOT z) ~2 ^3 * ? [a TO b]".to_owned()),
        Just("x".repeat(10_000)),
        Just("火山 岩浆 الحمم".to_owned()),
        any::<String>(),
    ]
}

/// Filter text: valid, invalid, hostile.
fn filter_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("year >= 2020".to_owned()),
        Just("kind = \"note\" AND NOT year < 1990".to_owned()),
        Just("`odd key` = 1 OR tags = \"b\"".to_owned()),
        Just("(".repeat(5_000)),
        Just("year >= ".to_owned()),
        Just("= = =".to_owned()),
        nasty_text(),
    ]
}

/// A metadata value of every type, extreme ones included.
fn meta_value() -> impl Strategy<Value = MetaValue> {
    prop_oneof![
        any::<bool>().prop_map(MetaValue::Bool),
        any::<i64>().prop_map(MetaValue::Int),
        any::<f64>().prop_map(MetaValue::Float),
        Just(MetaValue::Float(f64::NAN)),
        Just(MetaValue::Float(f64::INFINITY)),
        nasty_text().prop_map(MetaValue::Str),
        proptest::collection::vec(nasty_text(), 0..4).prop_map(MetaValue::List),
    ]
}

fn mode() -> impl Strategy<Value = SearchMode> {
    prop_oneof![
        Just(SearchMode::Dense),
        Just(SearchMode::Keyword),
        Just(SearchMode::Hybrid)
    ]
}

/// A shared collection for the argument properties: three documents, two tenants.
fn shared() -> &'static (tempfile::TempDir, Collection) {
    static SHARED: OnceLock<(tempfile::TempDir, Collection)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        let mut meta = Metadata::new();
        meta.insert("year".into(), MetaValue::Int(2021));
        meta.insert("kind".into(), MetaValue::Str("note".into()));
        c.add_text("a", "The red kettle is in the left cupboard.", meta)
            .unwrap();
        c.add_text(
            "b",
            "Sourdough starter needs flour and water.",
            Metadata::new(),
        )
        .unwrap();
        let doc = Document::from_text("a", "Volcanoes erupt lava from magma chambers.");
        c.add_documents(vec![doc], &AddOptions::new().tenant("other"))
            .unwrap();
        c.commit().unwrap();
        (dir, c)
    })
}

/// An error is one of the typed kinds a bad argument gives, and its message names
/// what was wrong.
fn assert_typed(e: &Error, context: &str) {
    let text = e.to_string();
    let named = match e {
        Error::Index(trawl_index::Error::InvalidFilter { .. }) => text.contains("filter"),
        Error::Index(trawl_index::Error::InvalidTenant { .. }) => text.contains("tenant"),
        Error::Invalid { .. } => true,
        other => panic!("{context}: unexpected error kind: {other:?}"),
    };
    assert!(
        named,
        "{context}: the error does not say what was wrong: {text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Searches and context with any sizes, filters, tenants and query text.
    #[test]
    fn any_search_arguments_give_hits_or_a_typed_error(
        query in nasty_text(),
        k in size(),
        candidates in size(),
        rerank_depth in size(),
        budget in size(),
        mode in mode(),
        filter in proptest::option::of(filter_text()),
        tenant in proptest::option::of(nasty_text()),
        expand_parent in any::<bool>(),
        rrf in any::<bool>(),
    ) {
        let (_, c) = shared();
        let filter = match filter.as_deref().map(str::parse::<Filter>) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                assert_typed(&Error::Index(e), "filter parse");
                None
            }
        };
        let options = SearchOptions {
            k,
            mode,
            candidates,
            rerank_depth,
            filter,
            tenant,
            expand_parent,
            fusion: if rrf { Fusion::Rrf { k: 60.0 } } else { Fusion::default() },
            ..SearchOptions::default()
        };
        match c.search_with(&query, &options) {
            Ok(hits) => {
                prop_assert!(hits.len() <= k.min(3), "{} hits for k={k}", hits.len());
                if let Some(t) = &options.tenant {
                    prop_assert!(hits.iter().all(|h| &h.tenant == t));
                }
            }
            Err(e) => assert_typed(&e, "search"),
        }
        let context = ContextOptions { budget, search: options };
        match c.context(&query, &context) {
            Ok(ctx) => prop_assert!(ctx.citations.len() <= 3),
            Err(e) => assert_typed(&e, "context"),
        }
    }

    /// Adding documents with any ids, tenants, titles and metadata, then finding,
    /// listing and deleting them.
    #[test]
    fn any_document_arguments_are_stored_or_refused_by_type(
        id in nasty_text(),
        tenant in nasty_text(),
        title in proptest::option::of(nasty_text()),
        text in nasty_text(),
        meta in proptest::collection::btree_map("[a-z `\"]{1,12}", meta_value(), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path());
        let mut doc = Document::from_text(&id, &text);
        doc.title = title;
        doc.metadata = meta.clone();
        let added = c.add_documents(vec![doc], &AddOptions::new().tenant(tenant.clone()));
        if tenant.contains('\u{1f}') {
            let e = added.expect_err("a tenant with U+001F is refused");
            assert_typed(&e, "add");
            return Ok(());
        }
        added.unwrap();
        c.commit().unwrap();
        let docs = c.documents(Some(&tenant)).unwrap();
        prop_assert!(docs.len() <= 1);
        prop_assert!(docs.iter().all(|d| d.doc_id == id && d.tenant == tenant));
        // Every stored metadata key can be filtered on by name (backquoted).
        for key in meta.keys() {
            let quoted = format!("`{}` = true OR `{}` != true", key.replace('`', "``"), key.replace('`', "``"));
            if let Err(e) = quoted.parse::<Filter>() {
                assert_typed(&Error::Index(e), "metadata key filter");
            }
        }
        c.delete(&id, Some(&tenant)).unwrap();
        c.commit().unwrap();
        prop_assert!(c.documents(Some(&tenant)).unwrap().is_empty());
    }
}

/// One tenant's documents: ids shared across tenants, text marked with the tenant.
fn tenant_docs(tenant: usize, ids: &[u8]) -> Vec<Document> {
    ids.iter()
        .map(|id| {
            let marker = format!("mark{tenant}");
            let text = format!(
                "# Part one\n\nshared words kettle {marker} first.\n\n## Part two\n\nshared \
                 words kettle {marker} second, more text about the cupboard.\n"
            );
            let mut doc =
                trawl_ingest::parse_bytes(text.as_bytes(), &format!("doc{id}.md")).unwrap();
            doc.id = format!("doc{id}");
            doc
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Three tenants with overlapping document ids: every output for one tenant holds
    /// that tenant's data only, and deleting in one tenant leaves the others whole.
    #[test]
    fn no_output_mixes_tenants(
        ids in proptest::collection::vec(proptest::collection::btree_set(0u8..6, 1..5), 3),
        mode in mode(),
        expand_parent in any::<bool>(),
        victim in 0usize..3,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let c = Collection::builder(dir.path())
            .embedder(Arc::new(HashEmbedder))
            .chunking(trawl::ChunkOptions { max_chars: 80, ..trawl::ChunkOptions::default() })
            .open()
            .unwrap();
        let ids: Vec<Vec<u8>> = ids.into_iter().map(|s| s.into_iter().collect()).collect();
        for (t, ids) in ids.iter().enumerate() {
            c.add_documents(tenant_docs(t, ids), &AddOptions::new().tenant(format!("t{t}")))
                .unwrap();
        }
        c.commit().unwrap();
        let stats = c.stats().unwrap();
        let mut expected_docs: BTreeMap<String, usize> = BTreeMap::new();
        for (t, ids) in ids.iter().enumerate() {
            expected_docs.insert(format!("t{t}"), ids.len());
        }
        let counted: BTreeMap<String, usize> =
            stats.tenants.iter().map(|(t, s)| (t.clone(), s.documents)).collect();
        prop_assert_eq!(&counted, &expected_docs);

        for (t, tenant_ids) in ids.iter().enumerate() {
            let tenant = format!("t{t}");
            let marker = format!("mark{t}");
            let others: Vec<String> = (0..3).filter(|o| *o != t).map(|o| format!("mark{o}")).collect();
            let options = SearchOptions {
                k: 50,
                mode,
                tenant: Some(tenant.clone()),
                expand_parent,
                ..SearchOptions::default()
            };
            let hits = c.search_with("shared words kettle cupboard", &options).unwrap();
            prop_assert!(!hits.is_empty());
            for h in &hits {
                prop_assert_eq!(&h.tenant, &tenant);
                prop_assert!(h.text.contains(&marker), "{}", h.text);
                prop_assert!(others.iter().all(|o| !h.text.contains(o.as_str())), "{}", h.text);
                let prefix = format!("{tenant}\u{1f}");
                prop_assert!(h.chunk_id.starts_with(&prefix), "{}", h.chunk_id);
            }
            let ctx = c
                .context("shared words kettle", &ContextOptions { budget: 4_000, search: options })
                .unwrap();
            prop_assert!(ctx.citations.iter().all(|ci| ci.tenant == tenant));
            prop_assert!(others.iter().all(|o| !ctx.text.contains(o.as_str())), "{}", ctx.text);
            let docs = c.documents(Some(&tenant)).unwrap();
            prop_assert_eq!(docs.len(), tenant_ids.len());
            prop_assert!(docs.iter().all(|d| d.tenant == tenant));
        }

        // Deleting one tenant's copy of a shared id leaves the other tenants' copies.
        let id = format!("doc{}", ids[victim][0]);
        c.delete(&id, Some(&format!("t{victim}"))).unwrap();
        c.commit().unwrap();
        for (t, ids) in ids.iter().enumerate() {
            let listed: Vec<String> = c
                .documents(Some(&format!("t{t}")))
                .unwrap()
                .into_iter()
                .map(|d| d.doc_id)
                .collect();
            let expected = ids.len() - usize::from(t == victim);
            prop_assert!(c.documents(None).unwrap().len() >= expected);
            prop_assert_eq!(listed.len(), expected);
            let had = ids.iter().any(|i| format!("doc{i}") == id);
            prop_assert_eq!(listed.contains(&id), had && t != victim);
        }
    }
}
