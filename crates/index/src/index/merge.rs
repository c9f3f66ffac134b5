//! The store's merge policy: log-sized merges, with merged segments capped in size.

use std::collections::HashMap;

use tantivy::index::SegmentId;
use tantivy::merge_policy::{LogMergePolicy, MergeCandidate, MergePolicy};
use tantivy::SegmentMeta;

/// tantivy's log merge policy (eight segments of similar size merge into one), with
/// each merge split into groups that stay within `cap` live chunks.
#[derive(Debug)]
pub(super) struct CappedMergePolicy {
    pub(super) log: LogMergePolicy,
    pub(super) cap: u64,
}

impl CappedMergePolicy {
    pub(super) fn new(cap: u64) -> Self {
        let mut log = LogMergePolicy::default();
        // A segment past half the cap has no partner of its size left to merge with.
        log.set_max_docs_before_merge((cap / 2) as usize);
        Self { log, cap }
    }
}

impl MergePolicy for CappedMergePolicy {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let docs: HashMap<SegmentId, u64> = segments
            .iter()
            .map(|s| (s.id(), u64::from(s.num_docs())))
            .collect();
        self.log
            .compute_merge_candidates(segments)
            .into_iter()
            .flat_map(|MergeCandidate(ids)| {
                let sized = ids.into_iter().map(|id| (id, docs[&id])).collect();
                capped_groups(sized, self.cap, 2)
            })
            .map(MergeCandidate)
            .collect()
    }
}

/// Packs segments, smallest first, into groups of at least `min_len` whose live chunks
/// add up to at most `cap` (a larger segment is a group of its own).
pub(super) fn capped_groups<T>(
    mut segments: Vec<(T, u64)>,
    cap: u64,
    min_len: usize,
) -> Vec<Vec<T>> {
    segments.sort_by_key(|&(_, docs)| docs);
    let mut groups = Vec::new();
    let (mut group, mut total) = (Vec::new(), 0);
    for (id, docs) in segments {
        if !group.is_empty() && total + docs > cap {
            if group.len() >= min_len {
                groups.push(std::mem::take(&mut group));
            }
            group.clear();
            total = 0;
        }
        group.push(id);
        total += docs;
    }
    if group.len() >= min_len {
        groups.push(group);
    }
    groups
}
