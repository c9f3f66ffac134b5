//! Committed vectors not yet in the HNSW graph.
//!
//! A commit makes its vectors searchable at once by putting them here; a background
//! thread inserts them into the graph and then drops them from here. Searches compare
//! the query with every fresh vector exactly and merge the result with the graph's, so
//! a commit never waits for graph insertion (about 2 ms per point at
//! ef_construction=200 on a loaded core).

use std::sync::Arc;

use crate::vector_log::VectorLog;
use crate::vectors::{similarity, sort_hits, LiveSet, TopK};

/// The vectors of one commit (or of one catch-up with another process's commits).
#[derive(Debug)]
pub(crate) struct FreshBatch {
    vids: Vec<u64>,
    /// `vids.len() * dim` floats, row by row (none once the rows are in `log`).
    data: Vec<f32>,
    dim: usize,
    /// The vector files holding the rows, once they do: the batch keeps vids only.
    log: Option<Arc<VectorLog>>,
    /// Once this batch is in the graph, the graph covers every vid below this.
    covers: u64,
}

impl FreshBatch {
    /// An empty batch of `dim`-long vectors.
    pub(crate) fn new(dim: usize) -> FreshBatch {
        FreshBatch {
            vids: Vec::new(),
            data: Vec::new(),
            dim,
            log: None,
            covers: 0,
        }
    }

    /// A batch of points whose vectors are rows of `log`.
    pub(crate) fn in_files(log: Arc<VectorLog>, vids: Vec<u64>) -> FreshBatch {
        FreshBatch {
            vids,
            data: Vec::new(),
            dim: 0,
            log: Some(log),
            covers: 0,
        }
    }

    /// This batch, its vectors dropped from memory and read from `log`, which holds
    /// them (written by the commit that makes the batch fresh).
    pub(crate) fn into_files(self, log: Arc<VectorLog>) -> FreshBatch {
        FreshBatch {
            covers: self.covers,
            ..FreshBatch::in_files(log, self.vids)
        }
    }

    /// Appends a point (`v` is `dim` long).
    pub(crate) fn push(&mut self, vid: u64, v: &[f32]) {
        self.vids.push(vid);
        self.data.extend_from_slice(v);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.vids.is_empty()
    }

    /// The batch, saying that once it is in the graph, the graph covers every vid below
    /// `covers`.
    pub(crate) fn covering(mut self, covers: u64) -> FreshBatch {
        self.covers = covers;
        self
    }

    /// The points, in the order pushed.
    pub(crate) fn points(&self) -> impl Iterator<Item = (u64, &[f32])> + '_ {
        (0..self.vids.len()).map(|i| self.point(i))
    }

    fn point(&self, i: usize) -> (u64, &[f32]) {
        let vid = self.vids[i];
        match &self.log {
            Some(log) => (vid, log.row_or_zeros(vid)),
            None => (vid, &self.data[i * self.dim..(i + 1) * self.dim]),
        }
    }
}

/// The fresh points of one snapshot: batches in commit order, the first possibly
/// partly inserted already (`start` points of it are in the graph and published).
/// Cloning shares the batches.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fresh {
    parts: Vec<(Arc<FreshBatch>, usize)>,
    len: usize,
}

impl Fresh {
    /// Points not yet in the published graph.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The vid below which every committed point is in the graph or here, if any
    /// batch is here.
    pub(crate) fn covers(&self) -> Option<u64> {
        self.parts.last().map(|(b, _)| b.covers)
    }

    /// The vids of the points here.
    pub(crate) fn vids(&self) -> impl Iterator<Item = u64> + '_ {
        self.parts
            .iter()
            .flat_map(|(batch, start)| batch.vids[*start..].iter().copied())
    }

    /// This set with `batch` appended.
    pub(crate) fn with(&self, batch: FreshBatch) -> Fresh {
        let mut out = self.clone();
        out.len += batch.vids.len();
        out.parts.push((Arc::new(batch), 0));
        out
    }

    /// Up to `max` points from the front (the oldest), without copying.
    pub(crate) fn front(&self, max: usize) -> Front<'_> {
        let mut front = Front {
            points: Vec::new(),
            parts_done: 0,
            offset: 0,
            covers: None,
        };
        for (batch, start) in &self.parts {
            let take = (batch.vids.len() - start).min(max - front.points.len());
            front
                .points
                .extend((*start..start + take).map(|i| batch.point(i)));
            if start + take < batch.vids.len() {
                front.offset = take;
                break;
            }
            front.parts_done += 1;
            front.covers = Some(batch.covers);
            if front.points.len() == max {
                break;
            }
        }
        front
    }

    /// This set without what `front` (taken from an earlier state of this set) took.
    /// Batches appended since are kept: commits append at the back, and only the
    /// background thread removes from the front.
    pub(crate) fn after(&self, front: &Front<'_>) -> Fresh {
        let mut parts: Vec<(Arc<FreshBatch>, usize)> = self.parts[front.parts_done..].to_vec();
        if let Some((_, start)) = parts.first_mut() {
            *start += front.offset;
        }
        Fresh {
            parts,
            len: self.len - front.points.len(),
        }
    }

    /// The `k` points in `allowed` nearest `query` by exact comparison, best first,
    /// with how many fresh points are in `allowed`. Scores are as the graph reports
    /// them.
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        allowed: &LiveSet,
    ) -> (Vec<(u64, f32)>, usize) {
        let mut top = TopK::new(k);
        let mut count = 0;
        for (batch, start) in &self.parts {
            for i in *start..batch.vids.len() {
                let (vid, v) = batch.point(i);
                if allowed.contains(vid) {
                    count += 1;
                    if k > 0 {
                        top.offer(vid, similarity(query, v));
                    }
                }
            }
        }
        (top.into_sorted(), count)
    }
}

/// The oldest fresh points, as taken by [`Fresh::front`].
pub(crate) struct Front<'a> {
    pub(crate) points: Vec<(u64, &'a [f32])>,
    parts_done: usize,
    offset: usize,
    /// Once these points are in the graph, it covers every vid below this (`None`
    /// while they end inside a batch).
    pub(crate) covers: Option<u64>,
}

/// The `k` best of two hit lists; a vid in both (a point inserted into the graph but
/// not yet dropped from the fresh set) counts once.
pub(crate) fn merge(mut a: Vec<(u64, f32)>, b: Vec<(u64, f32)>, k: usize) -> Vec<(u64, f32)> {
    if b.is_empty() {
        a.truncate(k);
        return a;
    }
    for hit in b {
        if !a.iter().any(|(vid, _)| *vid == hit.0) {
            a.push(hit);
        }
    }
    sort_hits(&mut a);
    a.truncate(k);
    a
}
