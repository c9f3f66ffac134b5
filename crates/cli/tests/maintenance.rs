//! Keeping an index up to date from the command line: re-ingest with --prune, delete,
//! stats per tenant, search with --filter and --tenant. Keyword-only, so no model.

mod common;

use std::path::Path;

use common::{ok, trawl};
use serde_json::Value;

fn stats(index: &str) -> Value {
    serde_json::from_str(&ok(&["stats", "--index", index, "--json"])).unwrap()
}

fn hit_ids(json: &str) -> Vec<String> {
    let hits: Value = serde_json::from_str(json).unwrap();
    let mut ids: Vec<String> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            Path::new(h["doc_id"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn reingest_prune_delete_filter_and_tenants() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(
        docs.join("a.md"),
        "# Alpha\n\nThe harbour crane lifts containers.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("b.md"),
        "# Beta\n\nThe harbour pilot guides ships.\n",
    )
    .unwrap();
    std::fs::write(docs.join("c.txt"), "Notes on the harbour tides.\n").unwrap();
    let index = tmp.path().join("index");
    let (index, docs_arg) = (index.to_str().unwrap(), docs.to_str().unwrap());

    let out = ok(&["ingest", docs_arg, "--index", index, "--keyword-only"]);
    assert!(out.contains("3 added"), "{out}");
    let all = ok(&[
        "search", "harbour", "--index", index, "--mode", "keyword", "--json",
    ]);
    assert_eq!(hit_ids(&all), ["a.md", "b.md", "c.txt"]);
    let md = ok(&[
        "search",
        "harbour",
        "--index",
        index,
        "--mode",
        "keyword",
        "--json",
        "--filter",
        "format = \"markdown\" AND NOT source = 'nothing'",
    ]);
    assert_eq!(hit_ids(&md), ["a.md", "b.md"]);

    // A changed file, a vanished file, an unchanged file.
    std::fs::write(
        docs.join("b.md"),
        "# Beta\n\nThe harbour pilot now guides ferries.\n",
    )
    .unwrap();
    std::fs::remove_file(docs.join("c.txt")).unwrap();
    let out = ok(&["ingest", docs_arg, "--index", index]);
    assert!(out.contains("1 added, 1 unchanged"), "{out}");
    assert_eq!(
        stats(index)["documents"],
        3,
        "without --prune the vanished file stays"
    );
    let out = ok(&["ingest", docs_arg, "--index", index, "--prune"]);
    assert!(out.contains("0 added, 2 unchanged"), "{out}");
    assert!(out.contains("removed 1 documents"), "{out}");
    let s = stats(index);
    assert_eq!(s["documents"], 2);
    assert!(s["disk_bytes"].as_u64().unwrap() > 0);
    assert!(s["tombstones"].is_u64() && s["deleted_chunks"].is_u64());
    let ferries = ok(&[
        "search", "ferries", "--index", index, "--mode", "keyword", "--json",
    ]);
    assert_eq!(hit_ids(&ferries), ["b.md"]);

    // Another tenant, same folder: its own documents, its own scope.
    let out = ok(&["ingest", docs_arg, "--index", index, "--tenant", "t2"]);
    assert!(out.contains("2 added"), "{out}");
    let s = stats(index);
    assert_eq!(s["documents"], 4);
    assert_eq!(s["tenants"]["t2"]["documents"], 2);
    assert_eq!(s["tenants"][""]["documents"], 2);
    let text = ok(&["stats", "--index", index]);
    assert!(text.contains("t2: 2 documents"), "{text}");

    // Delete by id, within a tenant.
    let a_id = docs.join("a.md");
    let a_id = a_id.to_str().unwrap();
    ok(&["delete", "--index", index, "--tenant", "t2", a_id]);
    let s = stats(index);
    assert_eq!(s["tenants"]["t2"]["documents"], 1);
    assert_eq!(s["tenants"][""]["documents"], 2);
    let t2 = ok(&[
        "search", "harbour", "--index", index, "--mode", "keyword", "--json", "--tenant", "t2",
    ]);
    assert_eq!(hit_ids(&t2), ["b.md"]);
    let out = trawl(&["delete", "--index", index, "no-such-doc"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-doc"));
}

#[test]
fn a_bad_filter_is_an_error_message_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let docs = tmp.path().join("d.md");
    std::fs::write(&docs, "# D\n\nwords\n").unwrap();
    let index = index.to_str().unwrap();
    ok(&[
        "ingest",
        docs.to_str().unwrap(),
        "--index",
        index,
        "--keyword-only",
    ]);
    for bad in ["year >=", "format = 3", "(a = 1", "a ~ 2"] {
        let out = trawl(&["search", "words", "--index", index, "--filter", bad]);
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid filter"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{bad}: {err}");
    }
}

/// Every combination of extreme and hostile flag values ends with status 0 (results)
/// or 1 (an `error:` line), never a signal, a panic or an allocation failure.
#[test]
fn extreme_and_hostile_flags_end_in_results_or_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.md"), "# Alpha\n\nThe harbour crane.\n").unwrap();
    let index = tmp.path().join("index");
    let index = index.to_str().unwrap();
    ok(&[
        "ingest",
        docs.to_str().unwrap(),
        "--index",
        index,
        "--keyword-only",
    ]);

    let long = "x".repeat(10_000);
    let sizes = [
        "0",
        "1",
        "4000000000",
        "18446744073709551615",
        "-1",
        "1e9",
        "",
    ];
    let texts = [
        "harbour",
        "",
        "\u{1f}",
        "a\"b'c`d",
        "(((",
        long.as_str(),
        "title:x AND",
    ];
    let filters = [
        "year >= 2020",
        "= =",
        "((((((((",
        "`a\u{1f}b` = 1",
        long.as_str(),
    ];
    let mut cases = 0;
    let mut check = |args: Vec<&str>| {
        let out = trawl(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {}
            // clap's usage errors exit with 2.
            Some(1 | 2) => assert!(
                stderr.contains("error"),
                "{args:?}: failed without saying why: {stderr}"
            ),
            other => panic!("{args:?}: ended with {other:?}: {stderr}"),
        }
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("memory allocation"), "{args:?}: {stderr}");
        cases += 1;
    };
    for (i, k) in sizes.iter().enumerate() {
        let text = texts[i % texts.len()];
        let filter = filters[i % filters.len()];
        for mode in ["keyword", "dense", "hybrid"] {
            check(vec![
                "search", text, "--index", index, "-k", k, "--mode", mode,
            ]);
            check(vec![
                "search",
                "harbour",
                "--index",
                index,
                "--candidates",
                k,
                "--mode",
                mode,
            ]);
            check(vec![
                "search", text, "--index", index, "--filter", filter, "--mode", mode,
            ]);
            check(vec![
                "search", "harbour", "--index", index, "--tenant", text, "--mode", mode,
            ]);
        }
        check(vec![
            "context", text, "--index", index, "--budget", k, "-k", k,
        ]);
        check(vec!["delete", "--index", index, "--tenant", text, text]);
        check(vec!["stats", "--index", index, "--json"]);
        check(vec!["check", "--index", index]);
    }
    assert!(cases > 100);
}
