//! Top-k keyword search for queries that are a plain disjunction of terms, by MaxScore
//! over windows of documents.
//!
//! A query's terms are ordered by the most any of them can add to a document's score.
//! Once the k-th best score so far (the threshold) is known, the terms whose bounds
//! together do not exceed it are *non-essential*: a document that holds only those
//! cannot make the top k. The essential terms' postings are read in windows of
//! [`WINDOW`] documents, their scores summed into an array; each document they hit is
//! then completed with the non-essential terms, most valuable first, looking each up
//! only while the document can still pass the threshold. Long queries with frequent
//! words (claims, questions pasted whole) gain most: the frequent words' long postings
//! are looked up at a few candidates, never read through.
//!
//! The result is the same documents and scores as tantivy's `TopDocs` over the same
//! query (its block-max WAND), up to the order in which a document's term scores are
//! added.

use std::sync::atomic::AtomicU32;

use tantivy::query::Weight;
use tantivy::query::{
    Bm25Weight, BooleanQuery, EnableScoring, Occur, PhraseQuery, Query, Scorer, TermQuery,
};
use tantivy::{DocAddress, DocId, DocSet as _, Score, SegmentReader, TERMINATED};

use super::view::Top;

/// Documents a window spans.
const WINDOW: u32 = 4096;

/// How deep [`clauses`] looks into nested disjunctions.
const MAX_NESTING: usize = 8;

/// The clauses of `query` when it is a disjunction of two or more term or phrase
/// queries (each clause SHOULD, at least one to match; nested disjunctions, such as a
/// query's Chinese words beside its parsed text, count as their clauses, since a sum of
/// sums is one sum), each as its weight and the most it can add to a score. `None` for
/// any other query, which tantivy's own scorers serve.
pub(super) fn clauses(
    query: &dyn Query,
    scoring: &EnableScoring<'_>,
) -> Option<Vec<(Box<dyn Weight>, Score)>> {
    let mut out = Vec::new();
    query.downcast_ref::<BooleanQuery>()?;
    flatten(query, scoring, &mut out, 0)?;
    (out.len() >= 2).then_some(out)
}

/// Adds the clauses of `query` (a term, a phrase, or a disjunction of them, `depth`
/// deep in the query) to `out`; `None` if it holds anything else.
fn flatten(
    query: &dyn Query,
    scoring: &EnableScoring<'_>,
    out: &mut Vec<(Box<dyn Weight>, Score)>,
    depth: usize,
) -> Option<()> {
    let EnableScoring::Enabled {
        statistics_provider,
        ..
    } = scoring
    else {
        return None;
    };
    if let Some(boolean) = query.downcast_ref::<BooleanQuery>() {
        if depth >= MAX_NESTING || boolean.get_minimum_number_should_match() > 1 {
            return None;
        }
        for (occur, clause) in boolean.clauses() {
            if *occur != Occur::Should {
                return None;
            }
            flatten(clause.as_ref(), scoring, out, depth + 1)?;
        }
        return Some(());
    }
    // A phrase scores as one term whose IDF is its terms' sum.
    let terms = if let Some(term) = query.downcast_ref::<TermQuery>() {
        vec![term.term().clone()]
    } else {
        query.downcast_ref::<PhraseQuery>()?.phrase_terms()
    };
    let bm25 = Bm25Weight::for_terms(*statistics_provider, &terms).ok()?;
    let weight = query.weight(*scoring).ok()?;
    // At most IDF x (k1 + 1): a term's share of BM25 is below it at any frequency and
    // length. (`Bm25Weight::max_score` assumes a frequency no higher than the length as
    // the field norm rounds it, which a chunk of one repeated word can pass.)
    out.push((weight, bm25.score(0, u32::MAX)));
    Some(())
}

/// One clause's postings in a segment, with the most it can add to a score.
struct Clause {
    scorer: Box<dyn Scorer>,
    bound: f64,
}

/// One segment's `k` best live documents for the disjunction of `weights` (each with
/// its bound, from [`clauses`]) among those `filter` matches, skipping
/// those below `floor` (an `f32`'s bits, the best k-th score any segment has so far),
/// which it raises as its own k-th best score rises: as `view::segment_top_docs`.
pub(super) fn segment_top_docs(
    weights: &[(Box<dyn Weight>, Score)],
    filter: Option<&dyn Weight>,
    ord: u32,
    reader: &SegmentReader,
    k: usize,
    floor: &AtomicU32,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let mut clauses = Vec::with_capacity(weights.len());
    for (weight, bound) in weights {
        let scorer = weight.scorer(reader, 1.0)?;
        if scorer.doc() != TERMINATED {
            clauses.push(Clause {
                scorer,
                bound: f64::from(*bound),
            });
        }
    }
    // Least valuable first; `reach[i]` is the most the first `i` clauses can add.
    clauses.sort_by(|a, b| a.bound.total_cmp(&b.bound));
    let mut reach = Vec::with_capacity(clauses.len() + 1);
    reach.push(0.0);
    for c in &clauses {
        reach.push(reach.last().copied().unwrap_or(0.0) + c.bound);
    }

    let alive = reader.alive_bitset();
    let mut top = Top::new(k, reader.num_docs() as usize, floor);
    let mut filter = filter.map(|f| f.scorer(reader, 1.0)).transpose()?;
    // A filter that holds fewer documents than the clauses' postings (by an eighth)
    // leads: each of its documents is looked up in the clauses, most valuable first.
    if let Some(filter) = filter.as_deref_mut() {
        let postings: u64 = clauses
            .iter()
            .map(|c| u64::from(c.scorer.size_hint()))
            .sum();
        if u64::from(filter.size_hint()).saturating_mul(8) < postings {
            let mut doc = filter.doc();
            while doc != TERMINATED {
                if !alive.is_some_and(|a| a.is_deleted(doc)) {
                    let threshold = f64::from(top.threshold());
                    let mut score = 0.0;
                    let mut matched = false;
                    for i in (0..clauses.len()).rev() {
                        if score + reach[i + 1] <= threshold {
                            break;
                        }
                        let scorer = clauses[i].scorer.as_mut();
                        if holds(scorer, doc) {
                            score += f64::from(scorer.score());
                            matched = true;
                        }
                    }
                    if matched {
                        top.offer(doc, score);
                    }
                }
                doc = filter.advance();
            }
            return Ok(top.into_docs(ord));
        }
    }
    let mut scores = vec![0.0f64; WINDOW as usize];
    let mut hit = [0u64; (WINDOW / 64) as usize];
    loop {
        let threshold = f64::from(top.threshold());
        // Clauses below `essential` cannot carry a document past the threshold alone.
        let essential = reach
            .iter()
            .skip(1)
            .take_while(|&&r| r <= threshold)
            .count();
        let Some(start) = first_match(&mut clauses[essential..], filter.as_deref_mut()) else {
            break;
        };
        let end = start.saturating_add(WINDOW).min(TERMINATED);
        for c in &mut clauses[essential..] {
            let mut doc = c.scorer.doc();
            while doc < end {
                let slot = (doc - start) as usize;
                hit[slot / 64] |= 1 << (slot % 64);
                scores[slot] += f64::from(c.scorer.score());
                doc = c.scorer.advance();
            }
        }
        for (word, bits) in hit.iter_mut().enumerate() {
            while *bits != 0 {
                let slot = word * 64 + bits.trailing_zeros() as usize;
                *bits &= *bits - 1;
                let doc = start + slot as DocId;
                let mut score = std::mem::take(&mut scores[slot]);
                let threshold = f64::from(top.threshold());
                if score + reach[essential] <= threshold
                    || alive.is_some_and(|a| a.is_deleted(doc))
                    || filter.as_deref_mut().is_some_and(|f| !holds(f, doc))
                {
                    continue;
                }
                // The other clauses, most valuable first, while the document can
                // still pass.
                let mut passes = true;
                for i in (0..essential).rev() {
                    if score + reach[i + 1] <= threshold {
                        passes = false;
                        break;
                    }
                    let scorer = clauses[i].scorer.as_mut();
                    if holds(scorer, doc) {
                        score += f64::from(scorer.score());
                    }
                }
                if passes {
                    top.offer(doc, score);
                }
            }
        }
    }
    Ok(top.into_docs(ord))
}

/// The first document at or after the essential clauses' cursors that one of them
/// holds and the filter matches, with every cursor moved up to it; `None` when there
/// is none.
fn first_match(essential: &mut [Clause], mut filter: Option<&mut dyn Scorer>) -> Option<DocId> {
    loop {
        let first = essential.iter().map(|c| c.scorer.doc()).min()?;
        if first == TERMINATED {
            return None;
        }
        let Some(filter) = filter.as_deref_mut() else {
            return Some(first);
        };
        let allowed = if filter.doc() < first {
            filter.seek(first)
        } else {
            filter.doc()
        };
        if allowed == first {
            return Some(first);
        }
        if allowed == TERMINATED {
            return None;
        }
        for c in essential.iter_mut() {
            if c.scorer.doc() < allowed {
                c.scorer.seek(allowed);
            }
        }
    }
}

/// Whether `docset`, whose cursor is at or before `doc` or past it, holds `doc`; its
/// cursor moves up to `doc` when it was before.
fn holds(docset: &mut dyn Scorer, doc: DocId) -> bool {
    if docset.doc() < doc {
        docset.seek(doc);
    }
    docset.doc() == doc
}
