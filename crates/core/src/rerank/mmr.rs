//! Maximal marginal relevance: relevance traded for diversity, with the stored embeddings.

use crate::error::Result;

use super::{dot, Candidate, Reranker};

/// Maximal marginal relevance (Carbonell & Goldstein, 1998): picks, one at a time, the
/// candidate maximising `lambda * rel(c) - (1 - lambda) * max sim(c, picked)`, with
/// `sim` the cosine of the chunk embeddings. `rel` is the first-stage score min-max
/// scaled to 0..1, so the hybrid ranking is kept (cosine to the query when the
/// candidates carry no distinct scores). `lambda = 1` keeps the first-stage order;
/// lower values favour diversity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmr {
    /// Relevance weight, 0..=1.
    pub lambda: f32,
}

impl Default for Mmr {
    fn default() -> Self {
        Mmr { lambda: 0.7 }
    }
}

impl Reranker for Mmr {
    fn rerank(
        &self,
        _query: &str,
        query_vector: Option<&[f32]>,
        mut candidates: Vec<Candidate>,
        k: usize,
    ) -> Result<Vec<Candidate>> {
        let Some(q) = query_vector else {
            candidates.truncate(k);
            return Ok(candidates);
        };
        let (lo, hi) = candidates
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c.hit.score), hi.max(c.hit.score))
            });
        let relevance: Vec<f32> = if hi > lo {
            candidates
                .iter()
                .map(|c| (c.hit.score - lo) / (hi - lo))
                .collect()
        } else {
            candidates.iter().map(|c| dot(q, &c.vector)).collect()
        };
        let mut redundancy = vec![f32::NEG_INFINITY; candidates.len()];
        let mut left: Vec<usize> = (0..candidates.len()).collect();
        let mut order = Vec::with_capacity(k.min(candidates.len()));
        while order.len() < k && !left.is_empty() {
            let score = |i: usize| {
                let red = if redundancy[i].is_finite() {
                    redundancy[i]
                } else {
                    0.0
                };
                self.lambda * relevance[i] - (1.0 - self.lambda) * red
            };
            let (pos, &best) = left
                .iter()
                .enumerate()
                .max_by(|a, b| score(*a.1).total_cmp(&score(*b.1)).then(b.1.cmp(a.1)))
                .expect("left is not empty");
            order.push((best, score(best)));
            left.swap_remove(pos);
            for &i in &left {
                let sim = dot(&candidates[i].vector, &candidates[best].vector);
                redundancy[i] = redundancy[i].max(sim);
            }
        }
        let mut slots: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
        Ok(order
            .into_iter()
            .filter_map(|(i, score)| {
                slots[i].take().map(|mut c| {
                    c.hit.score = score;
                    c
                })
            })
            .collect())
    }

    fn name(&self) -> String {
        format!("mmr:{}", self.lambda)
    }
}
