//! The HNSW graph over chunk vectors, derived from the store, by vid.
//!
//! The graph does not remove points, so deleted chunks stay in it and are excluded
//! inside the search by a filter on the live set. Point ids ("vids") are handed out in
//! increasing order, which lets a saved graph say exactly what it covers: every vid
//! below its `next_vid`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::graph::{distance, Hnsw};
use crate::vector_log::VectorLog;

/// HNSW construction and search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HnswParams {
    /// Links per node (M).
    pub max_connections: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Minimum candidate list size while searching; raised to `k` when larger.
    pub ef_search: usize,
    /// How searches compare the query with points while they walk the graph: int8
    /// for a new index; an index whose manifest names none was made before
    /// quantization existed, and walks on full-precision vectors.
    #[serde(default = "quantization_of_older_indexes")]
    pub quantization: Quantization,
}

fn quantization_of_older_indexes() -> Quantization {
    Quantization::None
}

/// How a vector search compares the query with the points it passes on its walk
/// through the graph. Whatever the choice, the points it returns are scored exactly,
/// with the full-precision vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Full-precision vectors (4 bytes a dimension).
    None,
    /// One byte a dimension, each dimension's range trained on the collection's own
    /// vectors once it holds a few thousand; the nearest candidates by their codes
    /// (four times `k`, at least 32) are rescored with the full-precision vectors.
    /// The default for a new index.
    Int8,
    /// One bit a dimension (which of two levels, the means of the values below and
    /// above the dimension's median, a value is nearer), a 32nd of the
    /// vectors' memory, compared with the full-precision query through per-query
    /// tables; coarser than int8, so a search needs a wider beam (`ef_search`) for the
    /// same recall. The beam's candidates are rescored with the full-precision
    /// vectors.
    Binary,
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quantization::None => "none",
            Quantization::Int8 => "int8",
            Quantization::Binary => "binary",
        })
    }
}

impl std::str::FromStr for Quantization {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "f32" => Ok(Quantization::None),
            "int8" => Ok(Quantization::Int8),
            "binary" => Ok(Quantization::Binary),
            _ => Err(format!("unknown quantization {s:?} (none, int8 or binary)")),
        }
    }
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            max_connections: 16,
            ef_construction: 200,
            ef_search: 96,
            quantization: Quantization::Int8,
        }
    }
}

/// Dot product of two vectors of the same length. Uses AVX-512 where the CPU has it,
/// else AVX2 and FMA (checked at run time, the same choice for every call in a
/// process, so exact comparisons and graph walks still agree to the bit), otherwise a
/// portable loop.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { dot_avx512(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { dot_avx2_fma(a, b) };
        }
    }
    dot_portable(a, b)
}

/// [`dot`] with two 16-lane fused multiply-add accumulators and a masked tail.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY (all loads): every offset read is below `n`, within both slices; the
    // masked loads read only the lanes below `n`.
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let (x, y) = unsafe {
                (
                    _mm512_loadu_ps(pa.add(i + 16 * j)),
                    _mm512_loadu_ps(pb.add(i + 16 * j)),
                )
            };
            *s = _mm512_fmadd_ps(x, y, *s);
        }
        i += 32;
    }
    while i + 16 <= n {
        let (x, y) = unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
        acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
        i += 16;
    }
    if i < n {
        let mask: __mmask16 = (1u16 << (n - i)) - 1;
        let (x, y) = unsafe {
            (
                _mm512_maskz_loadu_ps(mask, pa.add(i)),
                _mm512_maskz_loadu_ps(mask, pb.add(i)),
            )
        };
        acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
}

/// Dot product with eight independent accumulators, so the loop vectorises.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// [`dot`] with four 8-lane fused multiply-add accumulators.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (all loads): every offset read is below `n`, within both slices.
    let load = |p: *const f32, i: usize| unsafe { _mm256_loadu_ps(p.add(i)) };
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            *s = _mm256_fmadd_ps(load(pa, i + 8 * j), load(pb, i + 8 * j), *s);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(load(pa, i), load(pb, i), acc[0]);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
    let mut sum = _mm_cvtss_f32(q);
    for k in i..n {
        sum += a[k] * b[k];
    }
    sum
}

/// Cosine similarity of unit vectors as a graph search reports it (`1 - distance`),
/// so that an exact comparison and a graph walk give one point the same score, to
/// the bit.
pub(crate) fn similarity(a: &[f32], b: &[f32]) -> f32 {
    1.0 - distance(a, b)
}

/// Scales `v` to unit length (zero vectors stay zero).
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// What a saved graph covers, written after the graph file.
#[derive(Debug, Serialize, Deserialize)]
struct SavedState {
    basename: String,
    next_vid: u64,
    points: usize,
}

const STATE_FILE: &str = "state.json";
/// The extension of a saved graph (a graph saved by earlier versions, in another
/// format, has none of this name and is rebuilt from the store).
const GRAPH_EXTENSION: &str = "trawl-graph";

/// The graph over the store's vectors, by vid. Inserts and searches both take `&self`,
/// so one graph is shared by the snapshots searches hold while the writer inserts.
pub(crate) struct Graph {
    /// Made with the first insert, which fixes the dimension.
    hnsw: OnceLock<Hnsw>,
    /// Every vid below this is in the graph (or was never committed).
    next_vid: AtomicU64,
    params: HnswParams,
    /// The graph's slot for each vid (`u32::MAX` for none), caught up after each
    /// insertion.
    by_vid: RwLock<Vec<u32>>,
    /// The index's vector files, when its vectors are stored there.
    log: Option<Arc<VectorLog>>,
}

const NO_SLOT: u32 = u32::MAX;

impl Graph {
    /// An empty graph; one over the index's vector files (`log`) reads and saves
    /// its vectors there (every point inserted must have its row written first).
    pub(crate) fn new(params: HnswParams, log: Option<Arc<VectorLog>>) -> Graph {
        Graph {
            hnsw: OnceLock::new(),
            next_vid: AtomicU64::new(0),
            params,
            by_vid: RwLock::default(),
            log,
        }
    }

    /// Every vid below this is in the graph (or was never committed).
    pub(crate) fn next_vid(&self) -> u64 {
        self.next_vid.load(AtomicOrdering::SeqCst)
    }

    /// Records that every vid below `vid` is covered.
    pub(crate) fn advance_next_vid(&self, vid: u64) {
        self.next_vid.fetch_max(vid, AtomicOrdering::SeqCst);
    }

    pub(crate) fn len(&self) -> usize {
        self.hnsw.get().map_or(0, Hnsw::len)
    }

    /// The parameters the graph was made with.
    pub(crate) fn params(&self) -> HnswParams {
        self.params
    }

    /// Points whose full-precision vectors are in memory.
    pub(crate) fn vectors_in_memory(&self) -> usize {
        self.hnsw.get().map_or(0, Hnsw::vectors_in_memory)
    }

    /// Whether searches walk on quantized codes.
    pub(crate) fn is_coded(&self) -> bool {
        self.hnsw.get().is_some_and(Hnsw::is_coded)
    }

    /// Inserts points (callers move `next_vid` on with [`Graph::advance_next_vid`]).
    pub(crate) fn insert(&self, points: &[(u64, &[f32])]) {
        let Some(first) = points.first() else { return };
        let hnsw = self.hnsw.get_or_init(|| {
            Hnsw::over(
                first.1.len(),
                self.params.max_connections,
                self.params.ef_construction,
                self.params.quantization,
                self.log.clone(),
            )
        });
        let slots = hnsw.insert(points);
        let mut by_vid = self.by_vid.write().expect("points lock");
        for ((vid, _), slot) in points.iter().zip(slots) {
            let Ok(i) = usize::try_from(*vid) else {
                continue;
            };
            if slot == NO_SLOT {
                continue;
            }
            if i >= by_vid.len() {
                by_vid.resize(i + 1, NO_SLOT);
            }
            by_vid[i] = slot;
        }
    }

    fn slot(by_vid: &[u32], vid: u64) -> Option<u32> {
        let slot = *by_vid.get(usize::try_from(vid).ok()?)?;
        (slot != NO_SLOT).then_some(slot)
    }

    /// Whether the graph holds a point for `vid`.
    pub(crate) fn contains(&self, vid: u64) -> bool {
        Self::slot(&self.by_vid.read().expect("points lock"), vid).is_some()
    }

    /// The vids of the graph's points.
    pub(crate) fn vid_set(&self) -> LiveSet {
        let mut set = LiveSet::default();
        let by_vid = self.by_vid.read().expect("points lock");
        for (vid, &slot) in by_vid.iter().enumerate() {
            if slot != NO_SLOT {
                set.insert(vid as u64);
            }
        }
        set
    }

    /// The vector the graph holds for `vid`, if it holds one.
    pub(crate) fn vector(&self, vid: u64) -> Option<Vec<f32>> {
        let slot = Self::slot(&self.by_vid.read().expect("points lock"), vid)?;
        Some(self.hnsw.get()?.vector(slot).to_vec())
    }

    /// The `k` points in `allowed` nearest `query`, by comparing each, for filters
    /// too selective for a graph walk to find `k` matches: with int8 codes, on the
    /// codes, and the nearest by them rescored with the vectors (as a walk's
    /// candidates are); otherwise (binary codes, none) exactly, on the vectors. Its cost is in proportion to
    /// `allowed`, not to the graph (points of `allowed` not in the graph are
    /// skipped).
    pub(crate) fn search_each(
        &self,
        query: &[f32],
        k: usize,
        allowed: &LiveSet,
    ) -> Vec<(u64, f32)> {
        let Some(hnsw) = self.hnsw.get().filter(|_| k > 0) else {
            return Vec::new();
        };
        let by_vid = self.by_vid.read().expect("points lock");
        let slots = allowed.iter().filter_map(|vid| Self::slot(&by_vid, vid));
        let mut hits: Vec<(u64, f32)> = hnsw
            .search_among(query, k, slots)
            .into_iter()
            .map(|(slot, d)| (hnsw.vid(slot), 1.0 - d))
            .collect();
        sort_hits(&mut hits);
        hits
    }

    /// A new graph holding only the points in `live`, from this graph's vectors and
    /// `extra` (points not in this graph yet), covering every vid below `covers`.
    pub(crate) fn rebuilt(&self, live: &LiveSet, extra: &[(u64, &[f32])], covers: u64) -> Graph {
        let graph = Graph::new(self.params, self.log.clone());
        graph.advance_next_vid(self.next_vid().max(covers));
        if let Some(log) = &self.log {
            // The vectors are read in place: no copy of the collection in memory.
            let mut vids: Vec<u64> = {
                let by_vid = self.by_vid.read().expect("points lock");
                live.iter()
                    .filter(|&vid| Self::slot(&by_vid, vid).is_some())
                    .collect()
            };
            vids.extend(
                extra
                    .iter()
                    .map(|(vid, _)| *vid)
                    .filter(|&v| live.contains(v)),
            );
            vids.sort_unstable();
            vids.dedup();
            let refs: Vec<(u64, &[f32])> = vids
                .into_iter()
                .filter_map(|vid| Some((vid, log.row(vid)?)))
                .collect();
            graph.insert(&refs);
            return graph;
        }
        let mut points: Vec<(u64, Vec<f32>)> = Vec::with_capacity(live.len());
        if let Some(hnsw) = self.hnsw.get() {
            let by_vid = self.by_vid.read().expect("points lock");
            for vid in live.iter() {
                if let Some(slot) = Self::slot(&by_vid, vid) {
                    points.push((vid, hnsw.vector(slot).to_vec()));
                }
            }
        }
        points.extend(
            extra
                .iter()
                .filter(|(vid, _)| live.contains(*vid))
                .map(|(vid, v)| (*vid, v.to_vec())),
        );
        points.sort_by_key(|(vid, _)| *vid);
        points.dedup_by_key(|(vid, _)| *vid);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(vid, v)| (*vid, v.as_slice())).collect();
        graph.insert(&refs);
        graph
    }

    /// The `k` nearest live points, best first, as (vid, cosine similarity).
    /// `ef` is the candidate list size (at least `k`).
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        live: &LiveSet,
    ) -> Vec<(u64, f32)> {
        let Some(hnsw) = self.hnsw.get().filter(|h| k > 0 && h.len() > 0) else {
            return Vec::new();
        };
        let k = k.min(hnsw.len());
        let ef = ef.max(k).min(hnsw.len());
        let allowed = |vid: u64| live.contains(vid);
        hnsw.search(query, k, ef, Some(&allowed))
            .into_iter()
            .map(|(slot, d)| (hnsw.vid(slot), 1.0 - d))
            .collect()
    }

    /// The `k` nearest points of `set` among the `ef` (at least `k`)
    /// nearest points of the whole graph, best first, or `None` when fewer than
    /// `k.min(set_len)` of them are in `set`. The walk runs without a filter, which
    /// stops as soon as its candidates cannot improve, where a filtered walk goes on
    /// until it has `ef` matches.
    pub(crate) fn search_within(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        set: &LiveSet,
        set_len: usize,
    ) -> Option<Vec<(u64, f32)>> {
        let Some(hnsw) = self.hnsw.get().filter(|h| k > 0 && h.len() > 0) else {
            return Some(Vec::new());
        };
        let k = k.min(hnsw.len());
        let ef = ef.max(k).min(hnsw.len());
        let keep = |vid: u64| set.contains(vid);
        let hits: Vec<(u64, f32)> = hnsw
            .search_kept(query, k, ef, None, Some(&keep))
            .into_iter()
            .map(|(slot, d)| (hnsw.vid(slot), 1.0 - d))
            .collect();
        (hits.len() >= k.min(set_len)).then_some(hits)
    }

    /// Saves the graph into `dir` under a new name, then records it in `state.json`
    /// (written by rename, so a crash leaves the old state or the new). The caller
    /// must not insert into the graph meanwhile.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let io = |path: PathBuf| move |source| Error::Io { path, source };
        std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let basename = format!("graph-{}-{nanos}", self.next_vid());
        if let Some(hnsw) = self.hnsw.get().filter(|h| h.len() > 0) {
            let path = dir.join(format!("{basename}.{GRAPH_EXTENSION}"));
            let write = || -> std::io::Result<()> {
                // A new file, never one that exists: a graph opened from its file
                // maps it, so it must not change.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
                hnsw.write_to(&mut out)?;
                out.into_inner()
                    .map_err(std::io::IntoInnerError::into_error)?
                    .sync_all()
            };
            write().map_err(|e| Error::Graph {
                path: dir.to_owned(),
                reason: format!("cannot save: {e}"),
            })?;
        }
        let state = SavedState {
            basename: basename.clone(),
            next_vid: self.next_vid(),
            points: self.len(),
        };
        let tmp = dir.join("state.json.tmp");
        let json = serde_json::to_vec(&state).expect("state serialises");
        write_synced(&tmp, &json).map_err(io(tmp.clone()))?;
        std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(io(dir.join(STATE_FILE)))?;
        // Older graphs are no longer referenced.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("graph-") && !name.starts_with(&format!("{basename}.")) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Loads the graph saved in `dir`, of `dim`-dimensional vectors, or `None` when
    /// there is none or it cannot be read (the caller then rebuilds it from the store).
    /// A graph over the index's vector files (`log`) takes its vectors from there.
    pub(crate) fn load(
        dir: &Path,
        params: HnswParams,
        dim: usize,
        log: Option<&Arc<VectorLog>>,
    ) -> Option<Graph> {
        let state: SavedState =
            serde_json::from_slice(&std::fs::read(dir.join(STATE_FILE)).ok()?).ok()?;
        let graph = Graph::new(params, log.cloned());
        graph.advance_next_vid(state.next_vid);
        if state.points == 0 {
            return Some(graph);
        }
        let path = dir.join(format!("{}.{GRAPH_EXTENSION}", state.basename));
        let file = std::fs::File::open(path).ok()?;
        let hnsw = Hnsw::open_file(
            file,
            Some(dim),
            params.ef_construction,
            params.quantization,
            log,
        )?;
        if hnsw.len() != state.points {
            return None;
        }
        {
            let mut by_vid = graph.by_vid.write().expect("points lock");
            for slot in 0..u32::try_from(hnsw.len()).ok()? {
                // Every point is below the saved `next_vid`; a file that says otherwise
                // is damaged (and must not size the table).
                let vid = hnsw.vid(slot);
                if vid >= state.next_vid {
                    return None;
                }
                let i = usize::try_from(vid).ok()?;
                if i >= by_vid.len() {
                    by_vid.resize(i + 1, NO_SLOT);
                }
                by_vid[i] = slot;
            }
        }
        graph.hnsw.set(hnsw).ok()?;
        Some(graph)
    }
}

/// The most entries a top-k heap reserves before anything is offered.
pub(crate) const PREALLOCATE_MAX: usize = 1024;

/// The `k` best (vid, score) pairs offered, kept in a heap.
pub(crate) struct TopK {
    heap: BinaryHeap<MinScored>,
    k: usize,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            // A capacity hint only: the heap grows with what is offered, so a huge `k`
            // costs nothing.
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(PREALLOCATE_MAX)),
            k,
        }
    }

    pub(crate) fn offer(&mut self, vid: u64, score: f32) {
        if self.heap.len() < self.k {
            self.heap.push(MinScored(score, vid));
        } else if self.heap.peek().is_some_and(|m| score > m.0) {
            self.heap.pop();
            self.heap.push(MinScored(score, vid));
        }
    }

    /// Best first; ties by vid.
    pub(crate) fn into_sorted(self) -> Vec<(u64, f32)> {
        let mut out: Vec<(u64, f32)> = self.heap.into_iter().map(|m| (m.1, m.0)).collect();
        sort_hits(&mut out);
        out
    }
}

/// Sorts hits best first, ties by vid.
pub(crate) fn sort_hits(hits: &mut [(u64, f32)]) {
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// A score ordered so that a `BinaryHeap` pops the lowest first.
struct MinScored(f32, u64);

impl PartialEq for MinScored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MinScored {}
impl PartialOrd for MinScored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MinScored {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The set of live vids, as a bitset indexed by vid.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveSet {
    bits: Vec<u64>,
    count: usize,
}

impl LiveSet {
    pub(crate) fn insert(&mut self, vid: u64) {
        let (w, b) = (usize::try_from(vid / 64).expect("vid fits usize"), vid % 64);
        if w >= self.bits.len() {
            self.bits.resize(w + 1, 0);
        }
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.count += 1;
        }
    }

    pub(crate) fn contains(&self, vid: u64) -> bool {
        let w = usize::try_from(vid / 64).unwrap_or(usize::MAX);
        self.bits.get(w).is_some_and(|x| x & (1 << (vid % 64)) != 0)
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The vids in the set, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                Some(w as u64 * 64 + u64::from(b))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        let a: Vec<f32> = (0..13).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..13).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }

    /// Both implementations, every length up to two full AVX blocks and then some.
    #[test]
    fn dot_paths_match_a_naive_sum() {
        let a: Vec<f32> = (0..400)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let b: Vec<f32> = (0..400)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
            .collect();
        for n in (0..=80).chain([383, 384, 385, 400]) {
            let naive: f64 = (0..n).map(|i| a[i] as f64 * b[i] as f64).sum();
            let tolerance = 1e-5 * (n as f64 + 1.0);
            let (x, y) = (&a[..n], &b[..n]);
            assert!(
                (dot_portable(x, y) as f64 - naive).abs() < tolerance,
                "portable, n={n}"
            );
            assert!(
                (dot(x, y) as f64 - naive).abs() < tolerance,
                "dispatched, n={n}"
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: checked just above.
                let fma = unsafe { dot_avx2_fma(y, x) };
                assert!((fma as f64 - naive).abs() < tolerance, "avx2, n={n}");
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: checked just above.
                let wide = unsafe { dot_avx512(y, x) };
                assert!((wide as f64 - naive).abs() < tolerance, "avx512, n={n}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        for (name, present) in [
            (
                "AVX2",
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma"),
            ),
            ("AVX-512", std::arch::is_x86_feature_detected!("avx512f")),
        ] {
            if !present {
                eprintln!("skipped: the {name} dot product (not on this CPU)");
            }
        }
    }

    #[test]
    fn live_set_counts_and_filters() {
        let mut s = LiveSet::default();
        s.insert(3);
        s.insert(130);
        s.insert(3);
        assert_eq!(s.len(), 2);
        assert!(s.contains(130) && s.contains(3) && !s.contains(4) && !s.contains(9999));
        s.insert(63);
        s.insert(64);
        assert_eq!(s.iter().collect::<Vec<_>>(), [3, 63, 64, 130]);
    }

    /// The exact search reaches every allowed point through the by-vid table, which
    /// is caught up after each insertion (one by one and in parallel) and on load.
    #[test]
    fn exact_search_finds_the_allowed_points_after_inserts_and_reload() {
        let dim = 16;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut vector = || -> Vec<f32> {
            let mut v: Vec<f32> = (0..dim)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 1000) as f32 / 500.0 - 1.0
                })
                .collect();
            normalize(&mut v);
            v
        };
        let points: Vec<(u64, Vec<f32>)> = (0..700u64).map(|vid| (vid * 3, vector())).collect();
        let graph = Graph::new(HnswParams::default(), None);
        // 30 one at a time, then the rest in parallel batches.
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        for p in refs[..30].chunks(1) {
            graph.insert(p);
        }
        for batch in refs[30..].chunks(200) {
            graph.insert(batch);
        }
        graph.advance_next_vid(3 * 700);
        let query = vector();
        // Every fifth point, plus vids that are not in the graph.
        let mut allowed = LiveSet::default();
        for (vid, _) in points.iter().step_by(5) {
            allowed.insert(*vid);
        }
        allowed.insert(1);
        allowed.insert(5000);
        let mut want: Vec<(u64, f32)> = points
            .iter()
            .filter(|(vid, _)| allowed.contains(*vid))
            .map(|(vid, v)| (*vid, similarity(&query, v)))
            .collect();
        sort_hits(&mut want);
        want.truncate(25);
        assert_eq!(graph.search_each(&query, 25, &allowed), want);
        let dir = tempfile::tempdir().unwrap();
        graph.save(dir.path()).unwrap();
        let loaded = Graph::load(dir.path(), HnswParams::default(), dim, None).unwrap();
        assert_eq!(loaded.search_each(&query, 25, &allowed), want);
        // Vectors of another dimension than the index's: rebuilt.
        assert!(Graph::load(dir.path(), HnswParams::default(), dim + 1, None).is_none());
        // A graph holding a vid at or past the state's `next_vid` is damaged: rebuilt.
        let state = dir.path().join(STATE_FILE);
        let json = std::fs::read_to_string(&state).unwrap();
        std::fs::write(&state, json.replace("\"next_vid\":2100", "\"next_vid\":10")).unwrap();
        assert!(Graph::load(dir.path(), HnswParams::default(), dim, None).is_none());
    }
}
