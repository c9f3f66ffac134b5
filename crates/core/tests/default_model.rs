//! The model a collection gets when none is given: `$TRAWL_MODEL`, an installed model,
//! `models/all-MiniLM-L6-v2` under the current directory. The test changes the
//! environment and the current directory, so this file holds one test (its own
//! process).

mod common;

use std::path::Path;

use trawl::{Collection, Error, MODEL_ENV};

#[test]
fn new_collections_find_the_default_model_and_reopen_with_theirs() {
    let model = std::fs::canonicalize(common::model_dir()).unwrap();
    let start = std::env::current_dir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::env::set_current_dir(work.path()).unwrap();
    std::env::remove_var(MODEL_ENV);

    // Nothing to find: refused, with what to do, and nothing is created.
    let err = Collection::builder("none").open().unwrap_err();
    assert!(matches!(err, Error::ModelRequired { .. }), "{err}");
    for hint in ["model directory", "TRAWL_MODEL", "models/all-MiniLM-L6-v2"] {
        assert!(err.to_string().contains(hint), "{err}");
    }
    assert!(!Path::new("none").exists());

    // Keyword-only and bring-your-own collections need no model.
    let keywords = Collection::builder("keywords")
        .keyword_only()
        .open()
        .unwrap();
    assert!(keywords.embedder().is_none());
    drop(keywords);
    let vectors = Collection::builder("vectors").dimension(3).open().unwrap();
    assert!(vectors.embedder().is_none());
    drop(vectors);

    // An installed model.
    let installed = Collection::builder("installed")
        .installed_model_dir(&model)
        .open()
        .unwrap();
    assert_eq!(installed.embedder().unwrap().dim(), 384);
    drop(installed);

    // models/all-MiniLM-L6-v2 under the current directory.
    #[cfg(unix)]
    {
        std::fs::create_dir("models").unwrap();
        std::os::unix::fs::symlink(&model, "models/all-MiniLM-L6-v2").unwrap();
        let local = Collection::builder("local").open().unwrap();
        assert_eq!(local.embedder().unwrap().dim(), 384);
        drop(local);

        // The installed model comes before the local one: an empty directory given as
        // the installed model is what fails to load.
        std::fs::create_dir("empty").unwrap();
        let err = Collection::builder("order")
            .installed_model_dir("empty")
            .open()
            .unwrap_err();
        assert!(
            matches!(&err, Error::ModelFileMissing { dir, .. } if dir.ends_with("empty")),
            "{err}"
        );
    }

    // $TRAWL_MODEL comes before both, even when it names nothing.
    std::env::set_var(MODEL_ENV, work.path().join("no-such-model"));
    let err = Collection::builder("env")
        .installed_model_dir(&model)
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("no-such-model"), "{err}");

    // A model given comes before $TRAWL_MODEL.
    let given = Collection::builder("given")
        .model_dir(&model)
        .open()
        .unwrap();
    assert!(given.embedder().is_some());
    drop(given);

    // Reopened from elsewhere, with $TRAWL_MODEL naming nothing, collections keep the
    // model they were created with (recorded as an absolute path), or none.
    let elsewhere = tempfile::tempdir().unwrap();
    std::env::set_current_dir(elsewhere.path()).unwrap();
    let installed = Collection::open(work.path().join("installed")).unwrap();
    assert_eq!(installed.embedder().unwrap().dim(), 384);
    #[cfg(unix)]
    {
        let local = Collection::open(work.path().join("local")).unwrap();
        assert_eq!(local.embedder().unwrap().dim(), 384);
    }
    let keywords = Collection::open(work.path().join("keywords")).unwrap();
    assert!(keywords.embedder().is_none());
    let vectors = Collection::open(work.path().join("vectors")).unwrap();
    assert!(vectors.embedder().is_none());

    std::env::set_current_dir(start).unwrap();
}
