//! `trawl::tune`: training lowers the loss and teaches a toy task, the tuned model loads
//! in trawl, a stopped run resumes to the same weights, and feedback stays within its
//! tenant.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use trawl::tune::{
    pairs_from_collection, pairs_from_feedback, tune, LabelFreeOptions, Pair, PairSource,
    TuneOptions,
};
use trawl::{BertEmbedder, Collection, Embedder, Error, Precision};

/// A 2-layer BERT with hidden size 32 and random weights (a committed fixture).
fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-multilingual-bert")
}

/// Twelve topics, each a query and a passage that share words.
fn toy_pairs() -> Vec<Pair> {
    [
        ("red apple", "the apple on the table is red and sweet"),
        ("blue sea", "the sea is blue and the waves are cold"),
        ("green grass", "grass in the garden grows green in spring"),
        ("black cat", "a black cat sleeps on the warm roof"),
        ("white snow", "snow falls white on the mountain in winter"),
        ("yellow sun", "the sun is yellow at noon in summer"),
        ("brown bread", "brown bread bakes slowly in the oven"),
        ("grey rain", "grey clouds bring rain to the city"),
        ("pink flower", "a pink flower opens in the morning light"),
        ("orange fox", "an orange fox runs across the field"),
        ("silver moon", "the silver moon rises over the lake"),
        ("gold ring", "she wears a gold ring on her hand"),
    ]
    .into_iter()
    .map(|(q, p)| Pair::new(q, p))
    .collect()
}

fn options(epochs: usize) -> TuneOptions {
    let mut o = TuneOptions::default();
    o.epochs = epochs;
    o.batch_size = 6;
    o.learning_rate = 3e-3;
    o.warmup = 0.0;
    o
}

/// Share of the toy queries whose own passage ranks first among all passages.
fn top1(model: &Path, pairs: &[Pair]) -> f64 {
    let embedder = BertEmbedder::load_with_precision(model, Precision::F32).unwrap();
    let passages: Vec<&str> = pairs.iter().map(|p| p.positive.as_str()).collect();
    let vectors = embedder.embed(&passages).unwrap();
    let mut hits = 0;
    for (i, p) in pairs.iter().enumerate() {
        let q = embedder.embed_query(&p.query).unwrap();
        let score = |v: &Vec<f32>| -> f32 { v.iter().zip(&q).map(|(a, b)| a * b).sum() };
        let best = (0..vectors.len())
            .max_by(|&a, &b| score(&vectors[a]).total_cmp(&score(&vectors[b])))
            .unwrap();
        hits += usize::from(best == i);
    }
    #[allow(clippy::cast_precision_loss)]
    let share = hits as f64 / pairs.len() as f64;
    share
}

#[test]
fn training_lowers_the_loss_and_teaches_the_toy_task() {
    let pairs = toy_pairs();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("tuned");
    let report = tune(&tiny(), &dir, &pairs, &options(30), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(report.complete);
    assert_eq!(report.steps, 60);
    let (first, last) = (report.epoch_losses[0], *report.epoch_losses.last().unwrap());
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let before = top1(&tiny(), &pairs);
    let after = top1(&dir, &pairs);
    assert!(after >= 0.9 && after > before, "top-1 {before} -> {after}");
    // The result is a sentence-transformers directory: configuration, tokenizer,
    // pooling, weights; no checkpoints left.
    for f in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "modules.json",
        "1_Pooling/config.json",
        "trawl_tune.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(!dir.join("checkpoints").exists());
    // The same call again finds the finished run and trains nothing.
    let again = tune(&tiny(), &dir, &pairs, &options(30), &mut |_| {
        panic!("no step expected")
    })
    .unwrap();
    assert!(again.complete);
    // Other options into the same directory are refused, not mixed in.
    let err = tune(&tiny(), &dir, &pairs, &options(31), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(matches!(err, Error::Tuning { .. }), "{err}");
}

/// A run stopped part-way (as by a kill after a checkpoint) and started again ends
/// with exactly the weights of a run that never stopped.
#[test]
fn a_stopped_run_resumes_to_the_same_weights() {
    let pairs = toy_pairs();
    let out = tempfile::tempdir().unwrap();
    let whole = out.path().join("whole");
    tune(&tiny(), &whole, &pairs, &options(3), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();

    let parts = out.path().join("parts");
    let mut stop = options(3);
    stop.max_steps = Some(3);
    let first = tune(&tiny(), &parts, &pairs, &stop, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(!first.complete);
    assert!(parts.join("checkpoints/latest.json").is_file());
    // A checkpoint cut short by a crash (no pointer to it) is ignored.
    std::fs::create_dir_all(parts.join("checkpoints/step-00000099")).unwrap();
    std::fs::write(
        parts.join("checkpoints/step-00000099/model.safetensors"),
        b"torn",
    )
    .unwrap();
    // Stopped again from the progress callback (as Ctrl-C in Python does) ...
    let stopped = tune(&tiny(), &parts, &pairs, &options(3), &mut |p| {
        if p.step == 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(!stopped.complete);
    assert_eq!(stopped.resumed_at, 3);
    // ... and finished.
    let mut steps_seen = Vec::new();
    let second = tune(&tiny(), &parts, &pairs, &options(3), &mut |p| {
        steps_seen.push(p.step);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(second.complete);
    assert_eq!(second.resumed_at, 4);
    assert_eq!(steps_seen, vec![5, 6]);
    assert_eq!(
        std::fs::read(whole.join("model.safetensors")).unwrap(),
        std::fs::read(parts.join("model.safetensors")).unwrap(),
        "resumed weights differ"
    );
    assert_eq!(second.epoch_losses.len(), 3);
}

#[test]
fn the_same_seed_gives_the_same_model_and_another_seed_another() {
    let pairs = toy_pairs();
    let out = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: u64| {
        let mut o = options(1);
        o.seed = seed;
        let dir = out.path().join(name);
        tune(
            &tiny(),
            &dir,
            &pairs,
            &o,
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
        std::fs::read(dir.join("model.safetensors")).unwrap()
    };
    assert_eq!(run("a", 1), run("b", 1));
    assert_ne!(run("c", 1), run("d", 2));
}

#[test]
fn bad_options_and_outputs_are_typed_errors() {
    let pairs = toy_pairs();
    let out = tempfile::tempdir().unwrap();
    let mut o = options(1);
    o.batch_size = 1;
    assert!(matches!(
        tune(&tiny(), &out.path().join("x"), &pairs, &o, &mut |_| {
            ControlFlow::Continue(())
        }),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        tune(
            &tiny(),
            &out.path().join("x"),
            &[],
            &options(1),
            &mut |_| ControlFlow::Continue(())
        ),
        Err(Error::Invalid { .. })
    ));
    // A folder holding other files is not written into.
    let busy = out.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        tune(&tiny(), &busy, &pairs, &options(1), &mut |_| {
            ControlFlow::Continue(())
        }),
        Err(Error::Tuning { .. })
    ));
    // Nor the base model's own folder.
    assert!(matches!(
        tune(&tiny(), &tiny(), &pairs, &options(1), &mut |_| {
            ControlFlow::Continue(())
        }),
        Err(Error::Tuning { .. })
    ));
    assert!(matches!(
        tune(
            &out.path().join("none"),
            &out.path().join("y"),
            &pairs,
            &options(1),
            &mut |_| ControlFlow::Continue(())
        ),
        Err(Error::ModelFileMissing { .. })
    ));
}

fn shared_collection(dir: &Path) -> Collection {
    let c = Collection::builder(dir).keyword_only().open().unwrap();
    for (tenant, id, text) in [
        (
            "acme",
            "kettle",
            "The kettle is in the left cupboard above the sink.",
        ),
        ("acme", "oven", "The oven needs twenty minutes to heat up."),
        (
            "globex",
            "printer",
            "The printer on floor two jams with thick paper.",
        ),
    ] {
        let doc = trawl::Document::from_text(id, text);
        c.add_documents(vec![doc], &trawl::AddOptions::new().tenant(tenant))
            .unwrap();
    }
    c.commit().unwrap();
    c
}

#[test]
fn feedback_is_kept_per_tenant_and_becomes_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let c = shared_collection(dir.path());
    c.feedback_for("acme", "where is the kettle", "kettle", true)
        .unwrap();
    c.feedback_for("acme", "where is the kettle", "oven", false)
        .unwrap();
    c.feedback_for("globex", "paper jam", "printer", true)
        .unwrap();
    // A document of another tenant cannot be judged in this one.
    assert!(matches!(
        c.feedback_for("acme", "paper jam", "printer", true),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        c.feedback_for("acme", "  ", "kettle", true),
        Err(Error::Invalid { .. })
    ));

    let acme = c.feedback_records(Some("acme")).unwrap();
    assert_eq!(acme.len(), 2);
    assert!(acme.iter().all(|f| f.tenant == "acme"));
    let pairs = pairs_from_feedback(&c, Some("acme")).unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].query, "where is the kettle");
    assert!(pairs[0].positive.contains("left cupboard"));
    assert!(pairs[0].negative.as_deref().unwrap().contains("oven"));
    let globex = pairs_from_feedback(&c, Some("globex")).unwrap();
    assert_eq!(globex.len(), 1);
    assert!(globex[0].positive.contains("printer"));
    assert!(pairs_from_feedback(&c, Some("initech")).unwrap().is_empty());

    // A handle opened for one tenant records and reads only its own.
    drop(c);
    let scoped = Collection::builder(dir.path())
        .tenant("globex")
        .open()
        .unwrap();
    scoped.feedback("printer jams", "printer", true).unwrap();
    assert_eq!(scoped.feedback_records(None).unwrap().len(), 2);
    assert!(scoped
        .feedback("where is the kettle", "kettle", true)
        .is_err());
}

#[test]
fn feedback_survives_a_line_cut_short_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let c = shared_collection(dir.path());
    c.feedback_for("acme", "kettle", "kettle", true).unwrap();
    // A crash in the middle of an append leaves half a line.
    let file = dir.path().join("feedback.jsonl");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(br#"{"tenant":"acme","query":"ov"#);
    std::fs::write(&file, bytes).unwrap();
    c.feedback_for("acme", "oven", "oven", true).unwrap();
    let records = c.feedback_records(Some("acme")).unwrap();
    let queries: Vec<&str> = records.iter().map(|f| f.query.as_str()).collect();
    assert_eq!(queries, ["kettle", "oven"]);
}

#[test]
fn label_free_pairs_come_from_headings_sentences_and_questions() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path())
        .keyword_only()
        .open()
        .unwrap();
    let guide = "# Sourdough starter care\n\nFeed the starter equal weights of flour and \
                 water every day. Keep it in a warm corner of the kitchen while it is \
                 young. Once it doubles within eight hours it is ready for baking bread. \
                 A starter kept in the fridge needs feeding only once a week.\n\n\
                 # How long does dough proof?\n\nDough proofs for three to five hours at \
                 room temperature, or overnight in the fridge for a more sour loaf.\n";
    let doc = trawl_ingest::parse_bytes(guide.as_bytes(), "guide.md").unwrap();
    c.add_documents(vec![doc], &trawl::AddOptions::new())
        .unwrap();
    c.commit().unwrap();
    let pairs = pairs_from_collection(&c, &LabelFreeOptions::default()).unwrap();
    assert!(
        pairs
            .iter()
            .any(|p| p.query == "Sourdough starter care"
                && p.positive.starts_with("Feed the starter")),
        "{pairs:#?}"
    );
    assert!(pairs
        .iter()
        .any(|p| p.query == "How long does dough proof?" && p.positive.contains("overnight")));
    assert!(pairs
        .iter()
        .any(|p| p.query.ends_with('.') && p.query.split_whitespace().count() >= 6));
    let mut only = LabelFreeOptions::default();
    only.sources = vec![PairSource::Questions];
    let questions = pairs_from_collection(&c, &only).unwrap();
    assert!(!questions.is_empty() && questions.iter().all(|p| p.query.ends_with('?')));
    only.max_pairs = 1;
    only.sources = PairSource::ALL.to_vec();
    assert_eq!(pairs_from_collection(&c, &only).unwrap().len(), 1);
}

/// Re-embedding a collection with a tuned model replaces every vector and the
/// recorded model in one commit; a model with vectors of another length is refused
/// and leaves the collection as it was.
#[test]
fn a_collection_is_reembedded_with_the_tuned_model_in_one_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let c = Collection::builder(&index)
        .model_dir(tiny())
        .precision(Precision::F32)
        .open()
        .unwrap();
    for (i, p) in toy_pairs().iter().enumerate() {
        let meta = trawl::Metadata::new();
        c.add_text(&format!("d{i}"), &p.positive, meta).unwrap();
    }
    c.add_documents(
        vec![trawl::Document::from_text(
            "other",
            "a note of another tenant",
        )],
        &trawl::AddOptions::new().tenant("t2"),
    )
    .unwrap();
    c.commit().unwrap();
    let before = c.search("black cat", 12, trawl::SearchMode::Dense).unwrap();
    drop(c);

    let tuned = tmp.path().join("tuned");
    tune(&tiny(), &tuned, &toy_pairs(), &options(30), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    // Vectors of another length: refused, nothing changed.
    let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    if minilm.join("model.safetensors").is_file() {
        assert!(matches!(
            Collection::reembed(&index, &minilm),
            Err(Error::DimensionMismatch { .. })
        ));
    }
    let report = Collection::reembed(&index, &tuned).unwrap();
    assert_eq!(report.documents, 13);
    assert_eq!(report.chunks, 13);

    let c = Collection::open(&index).unwrap();
    assert_eq!(c.embedder().unwrap().name(), "tuned");
    assert_eq!(c.documents(None).unwrap().len(), 13);
    let after = c.search("black cat", 12, trawl::SearchMode::Dense).unwrap();
    assert_eq!(
        after[0].doc_id, "d3",
        "the tuned model finds the toy answer"
    );
    assert_ne!(
        before.iter().map(|h| h.score).collect::<Vec<_>>(),
        after.iter().map(|h| h.score).collect::<Vec<_>>()
    );
    // The stored vectors are the tuned model's: a query vector made with it finds
    // each passage's own chunk at cosine 1.
    let tuned_model = BertEmbedder::load_with_precision(&tuned, Precision::F32).unwrap();
    let v = tuned_model
        .embed(&[&toy_pairs()[5].positive])
        .unwrap()
        .remove(0);
    let dense = trawl::SearchOptions {
        k: 1,
        mode: trawl::SearchMode::Dense,
        ..trawl::SearchOptions::default()
    };
    let hit = c.search_by_vector(&v, "", &dense).unwrap().remove(0);
    assert_eq!(hit.doc_id, "d5");
    assert!(hit.score > 0.999, "{}", hit.score);
    assert!(c.check(false).unwrap().is_healthy());
}

#[test]
fn hard_negatives_are_keyword_hits_that_are_not_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collection::builder(dir.path())
        .keyword_only()
        .open()
        .unwrap();
    let docs = [
        (
            "kettle",
            "The kettle is in the left cupboard above the sink.",
        ),
        (
            "cupboard",
            "The left cupboard holds plates; the right cupboard holds cups.",
        ),
        ("oven", "The oven needs twenty minutes to heat up."),
        (
            "source",
            "Is the kettle kept in the cupboard? It sits by the window in summer.",
        ),
    ];
    for (id, text) in docs {
        c.add_text(id, text, trawl::Metadata::new()).unwrap();
    }
    c.commit().unwrap();
    let mut pairs = vec![
        Pair::new("kettle left cupboard", docs[0].1),
        // A sentence of the "source" passage (as the inverse cloze task makes): that
        // passage holds the query and is no negative.
        Pair::new("Is the kettle kept in the cupboard?", docs[0].1),
        Pair {
            negative: Some("given".into()),
            ..Pair::new("oven heat", docs[2].1)
        },
    ];
    let mined = trawl::tune::mine_negatives(&c, &mut pairs, 10).unwrap();
    assert_eq!(mined, 2);
    assert_eq!(pairs[0].negative.as_deref(), Some(docs[1].1));
    assert_eq!(
        pairs[1].negative.as_deref(),
        Some(docs[1].1),
        "not the source"
    );
    assert_eq!(pairs[2].negative.as_deref(), Some("given"), "kept as given");
}
