use super::*;

fn candidate(id: &str, vector: Vec<f32>) -> Candidate {
    let hit = Hit {
        chunk_id: format!("{id}#0"),
        doc_id: id.to_owned(),
        ordinal: 0,
        text: id.to_owned(),
        score: 0.0,
        title: String::new(),
        source: None,
        format: String::new(),
        heading_path: Vec::new(),
        location: trawl_ingest::Location::default(),
        metadata: trawl_ingest::Metadata::new(),
        span: crate::search::ChunkSpan::default(),
        tenant: String::new(),
    };
    Candidate { hit, vector }
}

fn unit(x: f32, y: f32) -> Vec<f32> {
    let n = (x * x + y * y).sqrt();
    vec![x / n, y / n]
}

fn order(mmr: Mmr, q: &[f32], k: usize) -> Vec<String> {
    // a and its near-duplicate a2 are most relevant; b is less relevant but different.
    let cands = vec![
        candidate("a", unit(1.0, 0.1)),
        candidate("a2", unit(1.0, 0.12)),
        candidate("b", unit(0.6, -0.8)),
    ];
    mmr.rerank("", Some(q), cands, k)
        .unwrap()
        .into_iter()
        .map(|c| c.hit.doc_id)
        .collect()
}

#[test]
fn mmr_trades_relevance_for_diversity() {
    let q = unit(1.0, 0.0);
    assert_eq!(order(Mmr { lambda: 1.0 }, &q, 3), ["a", "a2", "b"]);
    assert_eq!(order(Mmr { lambda: 0.5 }, &q, 3), ["a", "b", "a2"]);
    assert_eq!(order(Mmr { lambda: 0.5 }, &q, 2), ["a", "b"]);
}

#[test]
fn mmr_relevance_follows_first_stage_scores_when_there_are_any() {
    let mut cands = vec![
        candidate("a", unit(1.0, 0.1)),
        candidate("a2", unit(1.0, 0.12)),
        candidate("b", unit(0.6, -0.8)),
    ];
    // The first stage ranked b first (say, on keywords), then a, then a2.
    for (c, s) in cands.iter_mut().zip([0.5, 0.4, 0.9]) {
        c.hit.score = s;
    }
    let q = unit(1.0, 0.0);
    let ids = |mmr: Mmr, cands: Vec<Candidate>| -> Vec<String> {
        mmr.rerank("", Some(&q), cands, 3)
            .unwrap()
            .into_iter()
            .map(|c| c.hit.doc_id)
            .collect()
    };
    assert_eq!(ids(Mmr { lambda: 1.0 }, cands.clone()), ["b", "a", "a2"]);
    assert_eq!(ids(Mmr { lambda: 0.5 }, cands), ["b", "a", "a2"]);
}

#[test]
fn mmr_without_a_query_vector_keeps_the_order() {
    let cands = vec![candidate("x", vec![]), candidate("y", vec![])];
    let out = Mmr::default().rerank("", None, cands, 1).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].hit.doc_id, "x");
}

/// Bag of words hashed into 512 dimensions, unit length: texts sharing words are
/// close, the same words give the same vector. Counts the texts it embeds.
struct BagOfWords(std::sync::atomic::AtomicUsize);

impl BagOfWords {
    fn vector(text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; 512];
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let h = word
                .to_lowercase()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
            v[(h % 512) as usize] += 1.0;
        }
        let norm = dot(&v, &v).sqrt();
        v.iter().map(|x| x / norm).collect()
    }
}

impl Embedder for BagOfWords {
    fn dim(&self) -> usize {
        512
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.0
            .fetch_add(texts.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(texts.iter().map(|t| Self::vector(t)).collect())
    }
    fn name(&self) -> String {
        "bag-of-words".into()
    }
}

fn bag() -> Arc<BagOfWords> {
    Arc::new(BagOfWords(std::sync::atomic::AtomicUsize::new(0)))
}

const QUERY: &str = "the kettle is kept in the left cupboard";

/// `vague` shares a few of the query's words in every sentence; `exact` is about
/// something else except for one sentence that is the query itself; `other` is
/// unrelated. The first stage ranked them vague, exact, other.
fn kitchen() -> Vec<Candidate> {
    let texts = [
        (
            "vague",
            "The kettle whistles. A cupboard door is open. \
             The left drawer is kept for spoons. Tea is in the pot.",
            0.9,
        ),
        (
            "exact",
            "Our garden has roses, tulips, lilies and daisies along a winding gravel \
             path. Hedges need trimming every spring before visitors arrive from town. \
             The kettle is kept in the left cupboard. Birds nest in an old oak beside \
             a quiet pond full of frogs.",
            0.8,
        ),
        (
            "other",
            "Quarterly revenue rose by four percent. Costs fell.",
            0.1,
        ),
    ];
    texts
        .iter()
        .map(|(id, text, score)| {
            let mut c = candidate(id, BagOfWords::vector(text));
            c.hit.text = (*text).to_owned();
            c.hit.score = *score;
            c
        })
        .collect()
}

fn ids(out: &[Candidate]) -> Vec<&str> {
    out.iter().map(|c| c.hit.doc_id.as_str()).collect()
}

#[test]
fn one_matching_sentence_beats_vague_similarity_throughout() {
    let q = BagOfWords::vector(QUERY);
    let cands = kitchen();
    // Whole chunks: the vague one is closer, so a plain dense rerank keeps it first.
    assert!(dot(&q, &cands[0].vector) > dot(&q, &cands[1].vector));
    let windows = SentenceWindows::new(bag());
    let out = windows.rerank(QUERY, Some(&q), cands, 3).unwrap();
    assert_eq!(ids(&out), ["exact", "vague", "other"]);
    assert!(out[0].hit.score > out[1].hit.score);
}

#[test]
fn zero_weight_keeps_the_first_stage_order() {
    let q = BagOfWords::vector(QUERY);
    let windows = SentenceWindows::new(bag()).weight(0.0);
    let out = windows.rerank(QUERY, Some(&q), kitchen(), 3).unwrap();
    assert_eq!(ids(&out), ["vague", "exact", "other"]);
}

#[test]
fn candidates_past_the_depth_stay_below_in_order() {
    let q = BagOfWords::vector(QUERY);
    let mut cands = kitchen();
    // Two more after the depth of 2; the last would win on its text alone.
    for (id, score) in [("tail-a", 0.05), ("tail-b", 0.01)] {
        let mut c = candidate(id, vec![]);
        c.hit.text = QUERY.to_owned();
        c.hit.score = score;
        cands.push(c);
    }
    // vague, other | exact (not rescored), tails; scores descending, as from a search.
    cands.swap(1, 2);
    cands[1].hit.score = 0.85;
    let embedder = bag();
    let windows = SentenceWindows::new(embedder.clone()).depth(2);
    let out = windows.rerank(QUERY, Some(&q), cands, 10).unwrap();
    assert_eq!(ids(&out), ["vague", "other", "exact", "tail-a", "tail-b"]);
    // Only the two rescored candidates' sentences were embedded (4 + 2).
    assert_eq!(embedder.0.load(std::sync::atomic::Ordering::Relaxed), 6);
    // k is honoured after reranking.
    let out = SentenceWindows::new(bag())
        .rerank(QUERY, Some(&q), kitchen(), 1)
        .unwrap();
    assert_eq!(ids(&out), ["exact"]);
}

#[test]
fn sentences_are_embedded_once_and_cached_across_queries() {
    let q = BagOfWords::vector(QUERY);
    let embedder = bag();
    let windows = SentenceWindows::new(embedder.clone());
    windows.rerank(QUERY, Some(&q), kitchen(), 3).unwrap();
    let first = embedder.0.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(first, 4 + 4 + 2);
    windows.rerank("cupboard", None, kitchen(), 3).unwrap();
    // Only the second query itself was embedded.
    assert_eq!(
        embedder.0.load(std::sync::atomic::Ordering::Relaxed),
        first + 1
    );
    let uncached = SentenceWindows::new(embedder.clone()).cache_capacity(0);
    uncached.rerank(QUERY, Some(&q), kitchen(), 3).unwrap();
    assert_eq!(
        embedder.0.load(std::sync::atomic::Ordering::Relaxed),
        first + 1 + 10
    );
}

#[test]
fn window_scores_find_the_matching_run_of_sentences() {
    let q = BagOfWords::vector("red apples. green pears");
    let windows = SentenceWindows::new(bag()).max_sentences(3);
    let scores = windows
        .window_scores(
            &q,
            &[
                "Bread is baked daily. Red apples. Green pears. Milk is cold.",
                "",
                "Red apples.",
            ],
        )
        .unwrap();
    // One sentence matches half the query; the two together match all of it.
    assert!(scores[0][0] < 0.8, "{:?}", scores[0]);
    assert!(scores[0][1] > 0.99, "{:?}", scores[0]);
    assert!(scores[0][2] < scores[0][1]);
    assert!(scores[1].is_empty());
    // A one-sentence text gives its only window for every size.
    assert_eq!(scores[2].len(), 3);
    assert!(scores[2].iter().all(|&s| (s - scores[2][0]).abs() < 1e-6));
}

#[test]
fn texts_without_sentences_do_not_break_reranking() {
    let q = BagOfWords::vector(QUERY);
    let mut cands = kitchen();
    cands[0].hit.text = String::new();
    let out = SentenceWindows::new(bag())
        .rerank(QUERY, Some(&q), cands, 3)
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].hit.doc_id, "exact");
    assert!(SentenceWindows::new(bag())
        .rerank(QUERY, Some(&q), Vec::new(), 3)
        .unwrap()
        .is_empty());
}

#[test]
fn specs_parse_and_sentences_need_an_embedder() {
    let e: Arc<dyn Embedder> = bag();
    let r = reranker_from_spec_with("sentences", Some(e.clone())).unwrap();
    assert_eq!(r.name(), "sentences:0.5:30:2");
    let r = reranker_from_spec_with("sentences:0.3:10:2", Some(e.clone())).unwrap();
    assert_eq!(r.name(), "sentences:0.3:10:2");
    assert_eq!(reranker_from_spec("mmr:0.9").unwrap().name(), "mmr:0.9");
    for bad in [
        "sentences:1.5",
        "sentences:x",
        "sentences:0.5:-1",
        "sentences:0.5:10:0",
        "sentences:0.5:10:2:9",
        "windows",
    ] {
        let Err(err) = reranker_from_spec_with(bad, Some(e.clone())) else {
            panic!("{bad} parsed");
        };
        assert!(matches!(err, Error::Invalid { .. }), "{bad}: {err}");
    }
    let Err(err) = reranker_from_spec("sentences") else {
        panic!("sentences without an embedder parsed");
    };
    assert!(err.to_string().contains("embedding model"), "{err}");
}
