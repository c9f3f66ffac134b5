//! One committed state of the store (live vids and their addresses) with the graph
//! and fresh vectors a search sees beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentReader, TantivyDocument};

use crate::error::Result;
use crate::fresh::Fresh;
use crate::schema::Fields;
use crate::vector_log::VectorLog;
use crate::vectors::{Graph, LiveSet};

use super::convert::vector_of;

/// What a search sees: one committed state of the store, its live vids, and their
/// vectors: in the graph, or in the fresh set while the background thread has not
/// inserted them yet. The graph may hold newer points too (`live` excludes them), and
/// a point may briefly be in both (searches count it once).
pub(super) struct Snapshot {
    pub(super) searcher: Searcher,
    pub(super) live: Arc<LiveSet>,
    /// Where each live chunk is in the store, by vid.
    pub(super) addresses: Arc<Addresses>,
    pub(super) graph: Arc<Graph>,
    pub(super) fresh: Fresh,
    /// The vids matching filters recently used on this store state, keyed by the
    /// filter's text (shared by the snapshots the background thread publishes for the
    /// same store state). A tenant or a fixed filter repeats across queries, and
    /// collecting the vids of a broad one costs more than the graph walk (at 1M
    /// chunks, a 50% filter is 500K vids per query).
    pub(super) filters: Arc<Mutex<HashMap<String, Arc<LiveSet>>>>,
}

impl Snapshot {
    pub(super) fn new(searcher: Searcher, live: Live, graph: Arc<Graph>, fresh: Fresh) -> Snapshot {
        Snapshot {
            searcher,
            live: Arc::new(live.vids),
            addresses: Arc::new(live.addresses),
            graph,
            fresh,
            filters: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The same store state with another graph and fresh set.
    pub(super) fn with_vectors(&self, graph: Arc<Graph>, fresh: Fresh) -> Snapshot {
        Snapshot {
            searcher: self.searcher.clone(),
            live: Arc::clone(&self.live),
            addresses: Arc::clone(&self.addresses),
            graph,
            fresh,
            filters: Arc::clone(&self.filters),
        }
    }

    /// Deleted points still in the graph or the fresh set.
    pub(super) fn tombstones(&self) -> usize {
        (self.graph.len() + self.fresh.len()).saturating_sub(self.live.len())
    }

    /// Every committed vid below this is in the graph or the fresh set.
    pub(super) fn covers(&self) -> u64 {
        self.fresh.covers().unwrap_or_else(|| self.graph.next_vid())
    }
}

/// The live chunks of a store state: their vids, and where each one is.
pub(super) struct Live {
    pub(super) vids: LiveSet,
    pub(super) addresses: Addresses,
}

/// Each live vid's place in the store, indexed by vid: `fetch` reads a chunk without
/// looking its vid up in the term index (at 100K chunks, that lookup was 80 µs a
/// chunk). 8 bytes per vid ever assigned below the highest live one.
#[derive(Default)]
pub(super) struct Addresses(Vec<u64>);

impl Addresses {
    pub(super) fn insert(&mut self, vid: u64, addr: DocAddress) {
        let i = usize::try_from(vid).expect("vid fits usize");
        if i >= self.0.len() {
            self.0.resize(i + 1, 0);
        }
        // Stored plus one: 0 means no live chunk.
        self.0[i] = (u64::from(addr.segment_ord) << 32 | u64::from(addr.doc_id)) + 1;
    }

    pub(super) fn get(&self, vid: u64) -> Option<DocAddress> {
        let packed = *self.0.get(usize::try_from(vid).ok()?)?;
        let packed = packed.checked_sub(1)?;
        #[allow(clippy::cast_possible_truncation)]
        Some(DocAddress::new((packed >> 32) as u32, packed as u32))
    }
}

pub(super) fn live_set(searcher: &Searcher) -> Result<Live> {
    let mut live = Live {
        vids: LiveSet::default(),
        addresses: Addresses::default(),
    };
    for (ord, seg) in searcher.segment_readers().iter().enumerate() {
        let ord = u32::try_from(ord).expect("segment count fits u32");
        let col = seg.fast_fields().u64("vid")?;
        for doc in seg.doc_ids_alive() {
            if let Some(vid) = col.first(doc) {
                live.vids.insert(vid);
                live.addresses.insert(vid, DocAddress::new(ord, doc));
            }
        }
    }
    Ok(live)
}

pub(super) fn searcher_max_vid(searcher: &Searcher) -> Result<u64> {
    let mut max = 0;
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().u64("vid")?;
        for doc in 0..seg.max_doc() {
            if let Some(v) = col.first(doc) {
                max = max.max(v + 1);
            }
        }
    }
    Ok(max)
}

/// Points with their vectors: read from the store (owned), or rows of the vector
/// files (read in place).
pub(super) enum Points {
    Owned(Vec<(u64, Vec<f32>)>),
    Logged(Arc<VectorLog>, Vec<u64>),
}

impl Points {
    pub(super) fn len(&self) -> usize {
        match self {
            Points::Owned(p) => p.len(),
            Points::Logged(_, vids) => vids.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (vid, vector) for each point, in vid order.
    pub(super) fn refs(&self) -> Vec<(u64, &[f32])> {
        match self {
            Points::Owned(p) => p.iter().map(|(vid, v)| (*vid, v.as_slice())).collect(),
            Points::Logged(log, vids) => vids
                .iter()
                .filter_map(|&vid| Some((vid, log.row(vid)?)))
                .collect(),
        }
    }
}

/// The live chunks with a vid at or above `from`, with their vectors, in vid order:
/// what a graph covering every vid below `from` lacks. The vectors are the rows of
/// the vector files (`log`) where the index has them, else read from the store.
pub(super) fn missing_points(
    searcher: &Searcher,
    fields: Fields,
    live: &LiveSet,
    from: u64,
    dim: usize,
    log: Option<&Arc<VectorLog>>,
) -> Result<Points> {
    if dim == 0 {
        return Ok(Points::Owned(Vec::new()));
    }
    if let Some(log) = log {
        let mut vids = Vec::new();
        let mut unreadable = 0usize;
        for vid in live.iter().filter(|&vid| vid >= from) {
            if log.row(vid).is_some() {
                vids.push(vid);
            } else {
                unreadable += 1;
            }
        }
        if unreadable > 0 {
            tracing::warn!(
                chunks = unreadable,
                dir = %log.dir().display(),
                "chunks whose vectors cannot be read are left out of vector search"
            );
        }
        return Ok(Points::Logged(Arc::clone(log), vids));
    }
    let mut missing = Vec::new();
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().u64("vid")?;
        let store = seg
            .get_store_reader(16)
            .map_err(tantivy::TantivyError::from)?;
        for doc in seg.doc_ids_alive() {
            let Some(vid) = col.first(doc) else { continue };
            if vid < from || !live.contains(vid) {
                continue;
            }
            let d: TantivyDocument = store.get(doc)?;
            let v = vector_of(&d, fields);
            if v.len() == dim {
                missing.push((vid, v));
            }
        }
    }
    missing.sort_by_key(|(vid, _)| *vid);
    Ok(Points::Owned(missing))
}

/// Collects the vids of the matching chunks.
pub(super) struct VidCollector;

impl Collector for VidCollector {
    type Fruit = Vec<u64>;
    type Child = VidSegmentCollector;

    fn for_segment(&self, _ord: u32, segment: &SegmentReader) -> tantivy::Result<Self::Child> {
        Ok(VidSegmentCollector {
            column: segment.fast_fields().u64("vid")?,
            vids: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        Ok(fruits.concat())
    }
}

pub(super) struct VidSegmentCollector {
    pub(super) column: Column<u64>,
    pub(super) vids: Vec<u64>,
}

impl SegmentCollector for VidSegmentCollector {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(vid) = self.column.first(doc) {
            self.vids.push(vid);
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.vids
    }
}
