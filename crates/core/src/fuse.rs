//! Fusing ranked lists from several retrievers into one.

use std::collections::HashMap;

use trawl_index::Scored;

/// The constant in reciprocal-rank fusion, from Cormack et al. (2009).
pub const RRF_K: f32 = 60.0;

/// Reciprocal-rank fusion: each item scores `sum 1 / (k + rank)` over the lists it
/// appears in (rank from 1). Ties keep the order of first appearance, so the result is
/// deterministic.
#[must_use]
pub fn reciprocal_rank_fusion(lists: &[&[Scored]], k: f32) -> Vec<Scored> {
    let mut scores: HashMap<u64, (f32, usize)> = HashMap::new();
    let mut seen = 0;
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            let add = 1.0 / (k + rank as f32 + 1.0);
            let entry = scores.entry(hit.id).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += add;
        }
    }
    let mut fused: Vec<(u64, f32, usize)> =
        scores.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(id, score, _)| Scored { id, score })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[u64]) -> Vec<Scored> {
        ids.iter().map(|&id| Scored { id, score: 0.0 }).collect()
    }

    #[test]
    fn items_in_both_lists_rise_to_the_top() {
        let a = list(&[1, 2, 3]);
        let b = list(&[3, 4, 1]);
        let fused = reciprocal_rank_fusion(&[&a, &b], 60.0);
        let ids: Vec<u64> = fused.iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 3, 2, 4]);
        let expected = 1.0 / 61.0 + 1.0 / 63.0;
        assert!((fused[0].score - expected).abs() < 1e-7);
    }

    #[test]
    fn empty_lists_fuse_to_nothing() {
        assert!(reciprocal_rank_fusion(&[&[], &[]], 60.0).is_empty());
    }
}
