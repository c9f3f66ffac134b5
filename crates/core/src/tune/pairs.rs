//! Training pairs: what they are and where they come from.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::chunk::{chunk_document, ChunkOptions};
use crate::error::{Error, Result};
use crate::{Collection, Embedder, SearchMode, SearchOptions};
use trawl_ingest::Document;

/// A training example: a query, a passage that answers it, and optionally a passage
/// that does not (a hard negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The query, as a user would type it.
    pub query: String,
    /// A passage that answers it.
    pub positive: String,
    /// A passage that looks relevant and does not answer it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<String>,
}

impl Pair {
    /// A pair without a negative.
    pub fn new(query: impl Into<String>, positive: impl Into<String>) -> Pair {
        Pair {
            query: query.into(),
            positive: positive.into(),
            negative: None,
        }
    }
}

/// Reads pairs from a JSON Lines file, one object per line with `query` and
/// `positive` and optionally `negative` (also accepted: `anchor` for the query, as
/// sentence-transformers' datasets name it). Blank lines are skipped.
///
/// # Errors
/// [`Error::Invalid`] naming the file and line of a malformed or empty record;
/// [`Error::Tuning`] when the file cannot be read.
pub fn read_pairs_jsonl(path: &Path) -> Result<Vec<Pair>> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(alias = "anchor")]
        query: String,
        positive: String,
        #[serde(default)]
        negative: Option<String>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::Tuning {
        dir: path.to_owned(),
        reason: format!("cannot read the pairs: {e}"),
    })?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::Invalid {
            what: "training pairs",
            reason: format!("{} line {}: {reason}", path.display(), n + 1),
        };
        let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if l.query.trim().is_empty() || l.positive.trim().is_empty() {
            return Err(bad("empty query or positive".into()));
        }
        pairs.push(Pair {
            query: l.query,
            positive: l.positive,
            negative: l.negative.filter(|n| !n.trim().is_empty()),
        });
    }
    Ok(pairs)
}

/// Pairs from judged documents: each (query, document) becomes (query, the chunk of the
/// document the model finds closest to the query). Documents are chunked with
/// `chunking`, as a collection chunks them, so that the model learns on the passages
/// it will be asked to find. Documents that give no chunk are skipped.
///
/// # Errors
/// Embedding errors.
pub fn pairs_from_documents(
    embedder: &dyn Embedder,
    judged: &[(String, &Document)],
    chunking: &ChunkOptions,
) -> Result<Vec<Pair>> {
    let count = |t: &str| embedder.count_tokens(t);
    // Each document is chunked once, however many queries judge it.
    let mut slot: HashMap<*const Document, usize> = HashMap::new();
    let mut docs: Vec<&Document> = Vec::new();
    for (_, doc) in judged {
        slot.entry(std::ptr::from_ref(*doc)).or_insert_with(|| {
            docs.push(doc);
            docs.len() - 1
        });
    }
    let chunks: Vec<Vec<String>> = docs
        .par_iter()
        .map(|doc| {
            chunk_document(doc, chunking, &count)
                .iter()
                .map(|c| c.embedding_text(doc.title.as_deref(), chunking))
                .collect()
        })
        .collect();
    // Vectors only where a document has more than one chunk to choose from.
    let several: Vec<&str> = chunks
        .iter()
        .filter(|c| c.len() > 1)
        .flatten()
        .map(String::as_str)
        .collect();
    let mut vectors = embedder.embed(&several)?.into_iter();
    let doc_vectors: Vec<Vec<Vec<f32>>> = chunks
        .iter()
        .map(|c| {
            if c.len() > 1 {
                vectors.by_ref().take(c.len()).collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut pairs = Vec::with_capacity(judged.len());
    for (query, doc) in judged {
        let d = slot[&std::ptr::from_ref(*doc)];
        let texts = &chunks[d];
        let best = match texts.len() {
            0 => continue,
            1 => 0,
            _ => {
                let q = embedder.embed_query(query)?;
                let score = |v: &[f32]| -> f32 { v.iter().zip(&q).map(|(a, b)| a * b).sum() };
                let vs = &doc_vectors[d];
                (0..vs.len())
                    .max_by(|&a, &b| score(&vs[a]).total_cmp(&score(&vs[b])))
                    .unwrap_or(0)
            }
        };
        pairs.push(Pair::new(query.clone(), texts[best].clone()));
    }
    Ok(pairs)
}

/// Gives each pair without a negative a hard one mined from `collection`: among the
/// `depth` best keyword (BM25) hits for its query, the first that is none of the
/// query's positives, does not hold the query's text, and, where the collection has a
/// model, that the model scores below the positive (a passage the model prefers to the positive may be an
/// unjudged answer, not a negative). Returns how many pairs got one.
///
/// # Errors
/// Search and embedding errors.
pub fn mine_negatives(collection: &Collection, pairs: &mut [Pair], depth: usize) -> Result<usize> {
    let mut positives: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in pairs.iter() {
        positives.entry(&p.query).or_default().push(&p.positive);
    }
    let positives: HashMap<String, Vec<String>> = positives
        .into_iter()
        .map(|(q, ps)| (q.to_owned(), ps.into_iter().map(str::to_owned).collect()))
        .collect();
    let embedder = collection.embedder().cloned();
    let dot = |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    let mut mined = 0;
    for pair in pairs.iter_mut().filter(|p| p.negative.is_none()) {
        let options = SearchOptions {
            k: depth.clamp(1, 1000),
            mode: SearchMode::Keyword,
            ..SearchOptions::default()
        };
        let hits = collection.search_with(&pair.query, &options)?;
        let own = &positives[&pair.query];
        let query = pair.query.trim();
        // Not a positive, a passage a positive is part of or that is part of one, nor a
        // passage that holds the query itself (the passage a label-free sentence was
        // taken from).
        let candidates: Vec<&str> = hits
            .iter()
            .map(|h| h.text.as_str())
            .filter(|t| {
                !t.contains(query)
                    && !own
                        .iter()
                        .any(|p| p == t || p.contains(t) || t.contains(p.as_str()))
            })
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let choice = match &embedder {
            None => Some(candidates[0]),
            Some(e) => {
                let q = e.embed_query(&pair.query)?;
                let bar = dot(&q, &e.embed(&[&pair.positive])?[0]);
                // In rank order, a few at a time: most queries stop at the first few.
                let mut found = None;
                for group in candidates.chunks(4) {
                    let vectors = e.embed(group)?;
                    found = group
                        .iter()
                        .zip(&vectors)
                        .find(|(_, v)| dot(&q, v) < bar)
                        .map(|(t, _)| *t);
                    if found.is_some() {
                        break;
                    }
                }
                found
            }
        };
        if let Some(text) = choice {
            pair.negative = Some(text.to_owned());
            mined += 1;
        }
    }
    Ok(mined)
}

/// Pairs from the feedback recorded in `collection` for `tenant` (`None`: the
/// collection's tenant, else `""`; see [`Collection::feedback`]). The latest judgement
/// of each (query, document) counts. Each relevant document gives a pair with its
/// chunk closest to the query (by the collection's model; the first chunk without
/// one), and a document judged not relevant to the same query becomes its negative.
/// Documents deleted since are skipped.
///
/// # Errors
/// Index and embedding errors.
pub fn pairs_from_feedback(collection: &Collection, tenant: Option<&str>) -> Result<Vec<Pair>> {
    let records = collection.feedback_records(tenant)?;
    // The latest judgement of each (query, document), in the order first judged.
    let mut latest: Vec<((String, String), bool)> = Vec::new();
    let mut at: HashMap<(String, String), usize> = HashMap::new();
    for f in records {
        let key = (f.query, f.doc_id);
        match at.get(&key) {
            Some(&i) => latest[i].1 = f.relevant,
            None => {
                at.insert(key.clone(), latest.len());
                latest.push((key, f.relevant));
            }
        }
    }
    let tenant_name = tenant
        .map(str::to_owned)
        .or_else(|| collection.tenant().map(str::to_owned))
        .unwrap_or_default();
    let view = collection.index().view();
    let best_chunk = |query: &str, doc_id: &str| -> Result<Option<String>> {
        let mut records = view.document(&tenant_name, doc_id)?;
        records.sort_by_key(|(_, r)| r.ordinal);
        let texts: Vec<String> = records.into_iter().map(|(_, r)| r.text).collect();
        if texts.len() <= 1 {
            return Ok(texts.into_iter().next());
        }
        let Some(embedder) = collection.embedder() else {
            return Ok(texts.into_iter().next());
        };
        let q = embedder.embed_query(query)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&refs)?;
        let score = |v: &[f32]| -> f32 { v.iter().zip(&q).map(|(a, b)| a * b).sum() };
        let best = (0..vectors.len())
            .max_by(|&a, &b| score(&vectors[a]).total_cmp(&score(&vectors[b])))
            .unwrap_or(0);
        Ok(texts.into_iter().nth(best))
    };
    let mut pairs = Vec::new();
    for ((query, doc_id), relevant) in &latest {
        if !relevant {
            continue;
        }
        let Some(positive) = best_chunk(query, doc_id)? else {
            continue;
        };
        let negative = latest
            .iter()
            .find(|((q, _), r)| q == query && !r)
            .map(|((_, d), _)| best_chunk(query, d))
            .transpose()?
            .flatten();
        pairs.push(Pair {
            query: query.clone(),
            positive,
            negative,
        });
    }
    Ok(pairs)
}
