//! Searches on a collection: dense, keyword and hybrid retrieval, fusion, reranking,
//! parent expansion and the context builder.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use trawl_index::{Filter, KeywordSignals, KeywordStats, Record, Scored, View};

use crate::context::{self, Context, ContextOptions};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::fuse::{Fusion, QuerySignals};
use crate::rerank::{Candidate, Reranker};
use crate::search::{ChunkSpan, Hit, SearchMode, SearchOptions};

use super::Collection;

impl Collection {
    /// The `k` best chunks for `query`.
    ///
    /// # Errors
    /// [`Error::NoEmbedder`] for a dense search on a keyword-only collection;
    /// embedding and index errors.
    pub fn search(&self, query: &str, k: usize, mode: SearchMode) -> Result<Vec<Hit>> {
        self.search_with(
            query,
            &SearchOptions {
                k,
                mode,
                ..SearchOptions::default()
            },
        )
    }

    /// A search with every option. A hybrid search on a keyword-only collection is a
    /// keyword search.
    ///
    /// # Errors
    /// As [`Collection::search`].
    pub fn search_with(&self, query: &str, options: &SearchOptions) -> Result<Vec<Hit>> {
        self.search_inner(query, None, options)
    }

    /// A search with a query vector the caller embedded (bring your own embeddings).
    /// `query` is the text for the keyword side of a hybrid search and for rerankers
    /// that read text; it may be empty for a dense search.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector of the wrong length; index errors.
    pub fn search_by_vector(
        &self,
        vector: &[f32],
        query: &str,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let options = by_vector_options(&self.path, self.dimension(), vector, query, options)?;
        self.search_inner(query, Some(vector), &options)
    }

    /// The best passages for `query` packed into a prompt-ready context of at most
    /// `options.budget` tokens, each numbered and cited by source and location, with no
    /// text repeated (see [`crate::context`]).
    ///
    /// # Errors
    /// As [`Collection::search_with`].
    pub fn context(&self, query: &str, options: &ContextOptions) -> Result<Context> {
        let hits = self.search_with(query, &options.search)?;
        Ok(build_context(self.embedder.as_deref(), &hits, options))
    }

    /// This collection's BM25 statistics for `query`, for a search across collections
    /// held elsewhere: merge every collection's with [`KeywordStats::merge`], then
    /// search each with [`Collection::search_with_stats`].
    ///
    /// # Errors
    /// Index errors.
    pub fn keyword_stats(&self, query: &str) -> Result<KeywordStats> {
        Ok(self.index.view().keyword_stats(query)?)
    }

    /// [`Collection::search_with`], with BM25 (and the adaptive fusion's keyword
    /// signals) scored by `stats` instead of this collection's own statistics.
    ///
    /// # Errors
    /// As [`Collection::search_with`].
    pub fn search_with_stats(
        &self,
        query: &str,
        options: &SearchOptions,
        stats: KeywordStats,
    ) -> Result<Vec<Hit>> {
        let view = self.index.view().with_keyword_stats(stats);
        self.searching().run(&view, query, None, options)
    }

    pub(super) fn search_inner(
        &self,
        query: &str,
        given_vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        self.searching()
            .run(&self.index.view(), query, given_vector, options)
    }

    /// What this collection's searches run with beside the data.
    pub(crate) fn searching(&self) -> Searching<'_> {
        Searching {
            path: &self.path,
            embedder: self.embedder.as_deref(),
            reranker: self.reranker.as_ref(),
            tenant: self.tenant.as_deref(),
        }
    }
}

/// The options of a search by a caller's vector, checked against the dimension: a
/// hybrid search without query text is a dense one.
pub(crate) fn by_vector_options(
    path: &Path,
    dim: usize,
    vector: &[f32],
    query: &str,
    options: &SearchOptions,
) -> Result<SearchOptions> {
    if vector.len() != dim {
        return Err(Error::DimensionMismatch {
            path: path.to_owned(),
            expected: dim,
            got: vector.len(),
        });
    }
    Ok(match (options.mode, query.trim().is_empty()) {
        (SearchMode::Hybrid, true) => SearchOptions {
            mode: SearchMode::Dense,
            ..options.clone()
        },
        _ => options.clone(),
    })
}

/// `hits` packed into a context, counting tokens with the model's tokenizer (about four
/// characters a token without one).
pub(crate) fn build_context(
    embedder: Option<&dyn Embedder>,
    hits: &[Hit],
    options: &ContextOptions,
) -> Context {
    match embedder {
        Some(e) => context::build(hits, options.budget, &|t| e.count_tokens(t)),
        None => context::build(hits, options.budget, &|t| t.chars().count().div_ceil(4)),
    }
}

/// The chunks a search runs over: one collection's [`View`], or a shard set's views
/// together. Point ids are the source's own; `fetch` and `document` take and give them.
pub(crate) trait Source: Sync {
    fn search_vector(&self, v: &[f32], k: usize, filter: Option<&Filter>) -> Result<Vec<Scored>>;
    fn search_keyword(&self, q: &str, k: usize, filter: Option<&Filter>) -> Result<Vec<Scored>>;
    fn keyword_signals(&self, q: &str, top_score: f32) -> Result<KeywordSignals>;
    /// How many terms the keyword analyzer makes of `q`.
    fn term_count(&self, q: &str) -> Result<usize>;
    fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>>;
    fn document(&self, tenant: &str, doc_id: &str) -> Result<Vec<(u64, Record)>>;
}

impl Source for View<'_> {
    fn search_vector(&self, v: &[f32], k: usize, filter: Option<&Filter>) -> Result<Vec<Scored>> {
        Ok(View::search_vector(self, v, k, filter)?)
    }

    fn search_keyword(&self, q: &str, k: usize, filter: Option<&Filter>) -> Result<Vec<Scored>> {
        Ok(View::search_keyword(self, q, k, filter)?)
    }

    fn keyword_signals(&self, q: &str, top_score: f32) -> Result<KeywordSignals> {
        Ok(View::keyword_signals(self, q, top_score)?)
    }

    fn term_count(&self, q: &str) -> Result<usize> {
        Ok(View::term_idfs(self, q)?.len())
    }

    fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>> {
        Ok(View::fetch(self, ids)?)
    }

    fn document(&self, tenant: &str, doc_id: &str) -> Result<Vec<(u64, Record)>> {
        Ok(View::document(self, tenant, doc_id)?)
    }
}

/// What a search runs with beside the data: the model, the reranker, the default
/// tenant, and the folder named in errors.
pub(crate) struct Searching<'a> {
    pub(crate) path: &'a Path,
    pub(crate) embedder: Option<&'a dyn Embedder>,
    pub(crate) reranker: Option<&'a Arc<dyn Reranker>>,
    pub(crate) tenant: Option<&'a str>,
}

impl Searching<'_> {
    /// Retrieves, fuses, reranks and fetches the hits for `query` from `source`.
    pub(crate) fn run(
        &self,
        source: &impl Source,
        query: &str,
        given_vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let k = options.k;
        let has_query = !query.trim().is_empty() || given_vector.is_some();
        if !has_query || k == 0 {
            return Ok(Vec::new());
        }
        // The embedding to search with: the caller's, or the model's.
        let embedder = self.embedder;
        let embed_query = |q: &str| -> Result<Vec<f32>> {
            match (&given_vector, embedder) {
                (Some(v), _) => Ok(v.to_vec()),
                (None, Some(e)) => e.embed_query(q),
                (None, None) => Err(Error::NoEmbedder {
                    path: self.path.to_owned(),
                }),
            }
        };
        let dense_available = given_vector.is_some() || embedder.is_some();
        let reranker = self.reranker.filter(|_| options.rerank);
        // A reranker looks at more candidates than it returns.
        let depth = match reranker {
            Some(_) => k.max(options.rerank_depth),
            None => k,
        };
        let candidates = options.candidates.max(depth);
        let scope = self.scope(options);
        let scope = scope.as_ref();
        // One committed state for the searches and the fetch, whatever commits meanwhile.
        let view = source;
        let mut query_vector = None;
        let ranked: Vec<Scored> = match (options.mode, dense_available) {
            (SearchMode::Keyword, _) | (SearchMode::Hybrid, false) => {
                view.search_keyword(query, depth, scope)?
            }
            (SearchMode::Dense, _) => {
                let vector = query_vector.insert(embed_query(query)?);
                view.search_vector(vector, depth, scope)?
            }
            (SearchMode::Hybrid, true) => {
                let vector = query_vector.insert(embed_query(query)?);
                let (dense, keyword) = rayon::join(
                    || view.search_vector(vector, candidates, scope),
                    || view.search_keyword(query, candidates, scope),
                );
                let (dense, keyword) = (dense?, keyword?);
                if keyword.is_empty() && !query.trim().is_empty() {
                    // A hybrid search that is dense-only says so. A query the analyzer
                    // makes no terms of is logged (and counted) by the keyword search.
                    let terms = view.term_count(query)?;
                    if terms > 0 {
                        tracing::info!(
                            query,
                            terms,
                            "no chunk holds the query's terms: dense results only"
                        );
                    }
                }
                let signals = match options.fusion {
                    Fusion::Adaptive { .. } => QuerySignals::from_keyword(Source::keyword_signals(
                        view,
                        query,
                        keyword.first().map_or(0.0, |s| s.score),
                    )?)
                    .with_tokens(embedder.and_then(|e| e.token_stats(query)))
                    .with_query(query),
                    _ => QuerySignals::default(),
                };
                let mut fused = options.fusion.fuse_with(&dense, &keyword, &signals);
                fused.truncate(depth);
                fused
            }
        };
        let ids: Vec<u64> = ranked.iter().map(|s| s.id).collect();
        let records = view.fetch(&ids)?;
        let scores: std::collections::HashMap<u64, f32> =
            ranked.iter().map(|s| (s.id, s.score)).collect();
        let Some(reranker) = reranker else {
            let hits = records
                .into_iter()
                .map(|(id, r)| to_hit(r, scores[&id]))
                .collect();
            return self.finish(view, hits, options);
        };
        if query_vector.is_none() && dense_available {
            query_vector = Some(embed_query(query)?);
        }
        let candidates: Vec<Candidate> = records
            .into_iter()
            .map(|(id, mut r)| {
                let vector = std::mem::take(&mut r.vector);
                Candidate {
                    hit: to_hit(r, scores[&id]),
                    vector,
                }
            })
            .collect();
        let reranked = reranker.rerank(query, query_vector.as_deref(), candidates, k)?;
        let hits = reranked.into_iter().map(|c| c.hit).collect();
        self.finish(view, hits, options)
    }

    /// Applies the options that reshape ranked hits (parent expansion).
    pub(crate) fn finish(
        &self,
        view: &impl Source,
        hits: Vec<Hit>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        if !options.expand_parent {
            return Ok(hits);
        }
        let mut seen = std::collections::HashSet::new();
        let mut documents: std::collections::HashMap<(String, String), Vec<Hit>> =
            std::collections::HashMap::new();
        let mut out = Vec::new();
        for hit in hits {
            let key = (hit.tenant.clone(), hit.doc_id.clone());
            if !seen.insert((key.clone(), hit.span.parent)) {
                continue;
            }
            if !documents.contains_key(&key) {
                let chunks = view
                    .document(&key.0, &key.1)?
                    .into_iter()
                    .map(|(_, r)| to_hit(r, 0.0))
                    .collect();
                documents.insert(key.clone(), chunks);
            }
            let siblings: Vec<&Hit> = documents[&key]
                .iter()
                .filter(|h| h.span.parent == hit.span.parent)
                .collect();
            out.push(parent_hit(hit, &siblings));
        }
        Ok(out)
    }

    /// The filter a search runs with: its own filter, within its tenant.
    pub(crate) fn scope(&self, options: &SearchOptions) -> Option<Filter> {
        let tenant = options.tenant.as_deref().or(self.tenant);
        match (tenant, &options.filter) {
            (Some(t), Some(f)) => Some(Filter::tenant(t).and(f.clone())),
            (Some(t), None) => Some(Filter::tenant(t)),
            (None, f) => f.clone(),
        }
    }
}
/// `hit` widened to its whole parent section, rebuilt from the parent's chunks.
pub(super) fn parent_hit(hit: Hit, siblings: &[&Hit]) -> Hit {
    let Some(first) = siblings.iter().min_by_key(|h| h.span.start) else {
        return hit;
    };
    let header: String = first.text.chars().take(first.span.header_chars).collect();
    let body = crate::chunk::merge_chunk_texts(siblings.iter().map(|h| {
        let skip = h
            .text
            .char_indices()
            .nth(h.span.header_chars)
            .map_or(h.text.len(), |(i, _)| i);
        (h.span.start, h.span.end, &h.text[skip..])
    }));
    let end = siblings
        .iter()
        .map(|h| h.span.end)
        .max()
        .unwrap_or(hit.span.end);
    Hit {
        text: header + &body,
        location: first.location.clone(),
        heading_path: first.heading_path.clone(),
        span: ChunkSpan {
            parent: hit.span.parent,
            start: first.span.start,
            end,
            header_chars: first.span.header_chars,
        },
        ..hit
    }
}

pub(super) fn to_hit(r: Record, score: f32) -> Hit {
    let span = r
        .location
        .get("chunk")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Hit {
        chunk_id: r.chunk_id(),
        doc_id: r.doc_id,
        ordinal: r.ordinal,
        text: r.text,
        score,
        title: r.title,
        source: r.source,
        format: r.format,
        heading_path: r.heading_path,
        location: serde_json::from_value(Value::Object(r.location)).unwrap_or_default(),
        metadata: serde_json::from_value(Value::Object(r.metadata)).unwrap_or_default(),
        span,
        tenant: r.tenant,
    }
}
