//! A hierarchical navigable small world graph (HNSW) over unit vectors, laid out for
//! the cache: points live in fixed-size chunks of flat arrays (vectors, level-0
//! neighbour lists), reached by index rather than by pointer; a search marks visited
//! points in a reused, generation-stamped array; neighbours' vectors are prefetched
//! before their distances are taken.
//!
//! Inserts and searches share the graph through `&self`. A point is written in full
//! (vector, level, lists) before any other point's list names it, and list entries
//! are written with release and read with acquire ordering, so a search that reaches
//! a point through a list sees it whole. Changes to one point's lists are serialised
//! by a lock striped over points; a search reads lists without locking and may see a
//! list mid-change, which costs at most a detour.
//!
//! Construction follows the published algorithm (Malkov and Yashunin): levels drawn
//! with a `1 / ln M` decay (from a hash of the point's id, so a build is repeatable),
//! greedy descent through the upper levels, a beam search of `ef_construction` on each
//! level the point is in, and neighbours chosen with the diversity heuristic (a
//! candidate is kept only if it is nearer the new point than any neighbour kept so
//! far); a list over its bound is cut back with the same heuristic.
//!
//! A graph made with quantization keeps codes of each point beside its vector (a byte
//! or a bit per dimension, see `quantize.rs`), trained on the first [`QUANTIZE_FROM`]
//! or more points. Construction compares full-precision vectors; a search walks on the
//! codes, a quarter (int8) or a 32nd (binary) of the memory to read, and rescores the
//! best candidates it found (see [`rescored`]) with the full-precision vectors, so the
//! scores it reports are exact.
//!
//! A graph over an index's vector files (see `vector_log.rs`) keeps no vectors of its
//! own in a quantized graph: it reads each point's vector from the file row of its
//! vid (through the maps while it builds, by positioned reads when it rescores), and
//! its saved file holds lists and codes only. A graph without quantization
//! copies the rows into memory when it loads, since its walk reads vectors.

use std::cell::{RefCell, UnsafeCell};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering as Mem};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::quantize::{self, Quantizer, QueryCodes};
use crate::vector_log::VectorLog;
use crate::vectors::{Quantization, PREALLOCATE_MAX};

/// Points per chunk.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
/// Chunks a graph can hold: 2^28 points in all.
const MAX_CHUNKS: usize = 1 << 16;
/// The highest level a point is given.
const MAX_LEVEL: u8 = 15;
/// Locks striped over points for list changes.
const LOCKS: usize = 1024;
/// No point (an empty graph's entry, an unused vid).
const NONE: u32 = u32::MAX;
/// Magic bytes of a saved graph.
const MAGIC: &[u8; 8] = b"TRWLHNSW";
const FORMAT_VERSION: u32 = 2;
/// A saved graph's flag: the quantizer and each point's codes follow the header.
const FLAG_CODES: u8 = 1;
/// A saved graph's flag: the vectors are in the index's vector files, not after the
/// codes.
const FLAG_LOGGED: u8 = 2;
/// Points a quantized graph holds before its quantizer is trained: fewer say too
/// little about each dimension's range. Until then it walks on its vectors.
pub(crate) const QUANTIZE_FROM: usize = 8192;

/// How many of a quantized search's candidates, nearest first by their codes, are
/// rescored with the full-precision vectors to give the `k` nearest. With int8 codes,
/// four times `k` and at least 32: their error is small beside the gaps between
/// neighbours, so the `k` nearest are almost always among the first few `k`, and a
/// walk reads no more rows than this from the vector files. One bit a dimension
/// orders far more loosely: all of them.
pub(crate) fn rescored(kind: Quantization, k: usize) -> usize {
    match kind {
        Quantization::Binary => usize::MAX,
        Quantization::Int8 | Quantization::None => k.saturating_mul(4).max(32),
    }
}

/// The `keep` smallest of `items`, smallest first, never holding more than `keep + 1`.
fn smallest<T: Ord>(keep: usize, items: impl Iterator<Item = T>) -> Vec<T> {
    let mut best = BinaryHeap::with_capacity(keep.saturating_add(1).min(PREALLOCATE_MAX));
    for item in items {
        if best.len() < keep {
            best.push(item);
        } else if best.peek().is_some_and(|worst| item < *worst) {
            best.pop();
            best.push(item);
        }
    }
    let mut best = best.into_vec();
    best.sort_unstable();
    best
}

/// Distance between unit vectors: `1 - dot`, clamped at zero.
#[inline]
pub(crate) fn distance(a: &[f32], b: &[f32]) -> f32 {
    (1.0 - crate::vectors::dot(a, b)).max(0.0)
}

/// A distance ordered totally, for heaps.
#[derive(Clone, Copy)]
struct Dist(f32);
impl PartialEq for Dist {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Dist {}
impl PartialOrd for Dist {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Dist {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// How a walk measures the distance from its query to a point.
trait Metric {
    fn distance(&self, slot: u32) -> f32;
    /// Asks the CPU for what [`Metric::distance`] will read of `slot`.
    fn prefetch(&self, slot: u32);
}

/// Full-precision vectors.
struct Exact<'a> {
    graph: &'a Hnsw,
    q: &'a [f32],
}

impl Metric for Exact<'_> {
    #[inline]
    fn distance(&self, slot: u32) -> f32 {
        distance(self.q, self.graph.vector(slot))
    }

    #[inline]
    fn prefetch(&self, slot: u32) {
        // Two lines are enough to start the stream; the rest follows by itself.
        prefetch_lines(self.graph.vector(slot).as_ptr().cast(), 2);
    }
}

/// Quantized codes: an approximate distance, for the walk only.
struct Coded<'a> {
    graph: &'a Hnsw,
    q: &'a QueryCodes,
}

impl Metric for Coded<'_> {
    #[inline]
    fn distance(&self, slot: u32) -> f32 {
        1.0 - self.q.dot(self.graph.codes(slot))
    }

    #[inline]
    fn prefetch(&self, slot: u32) {
        // Every line the codes touch, from the one they start in.
        let codes = self.graph.codes(slot);
        let start = codes.as_ptr() as usize;
        let first = start & !63;
        let lines = (start + codes.len() - first).div_ceil(64);
        prefetch_lines(codes.as_ptr().wrapping_sub(start - first).cast(), lines);
    }
}

/// One chunk of points.
struct Chunk {
    /// `CHUNK * dim` floats; a point's are written once, before it is published.
    vectors: Box<[UnsafeCell<f32>]>,
    /// `CHUNK * stride` bytes in a quantized graph (else none): a point's codes, written
    /// before it is published or, for points inserted before the quantizer was
    /// trained, before the graph is marked as coded.
    codes: Box<[UnsafeCell<u8>]>,
    /// Per point `1 + m0` entries: the count, then the level-0 neighbours.
    links0: Box<[AtomicU32]>,
    /// Per point with a level above 0: `level * (1 + m)` entries, a count and the
    /// neighbours for each level from 1 up, owned through this pointer (null for a
    /// point on level 0 only; the length follows from `levels`). A pointer, not a
    /// boxed slice, since most points have no upper level and a slice's length would
    /// double what each of them costs.
    upper: Box<[AtomicPtr<AtomicU32>]>,
    /// Entries per upper level, `1 + m`.
    upper_width: usize,
    levels: Box<[AtomicU8]>,
    /// Each point's vid, stored (release) after everything else `write_point` writes:
    /// [`UNWRITTEN`] until then, so a reader that goes by slot number rather than
    /// through a list (a scan) skips a point another thread is still writing.
    vids: Box<[AtomicU64]>,
}

/// The vid of a slot not written yet.
const UNWRITTEN: u64 = u64::MAX;

// SAFETY: `vectors` and `codes` are the only fields that are not `Sync` by
// themselves. Each point's floats are written by the one thread that claimed the
// point, before any list or the entry point names it (release stores) and before its
// vid is stored (release), and are only read after reaching it through such a name or,
// going by slot number, after loading a vid other than `UNWRITTEN` (acquire loads), so
// no read races a write. Codes are written the same way, or, for the points that came
// before the quantizer, before `Hnsw::coded` is set (release), and searches read codes
// only after seeing it set (acquire).
unsafe impl Sync for Chunk {}

impl Chunk {
    /// A chunk of zeros. The large arrays come from zeroed allocations, whose pages the
    /// system provides as they are first written: a chunk costs memory in proportion
    /// to the points it holds.
    fn new(dim: usize, m: usize, m0: usize, stride: usize, external: bool) -> Chunk {
        let dim = if external { 0 } else { dim };
        let floats: Box<[f32]> = vec![0.0f32; CHUNK * dim].into_boxed_slice();
        let bytes: Box<[u8]> = vec![0u8; CHUNK * stride].into_boxed_slice();
        let ids: Box<[u32]> = vec![0u32; CHUNK * (1 + m0)].into_boxed_slice();
        Chunk {
            // SAFETY: `UnsafeCell<f32>` has the layout of `f32` (`repr(transparent)`),
            // and the box's allocation is handed over whole.
            vectors: unsafe { Box::from_raw(Box::into_raw(floats) as *mut [UnsafeCell<f32>]) },
            // SAFETY: as for `vectors`.
            codes: unsafe { Box::from_raw(Box::into_raw(bytes) as *mut [UnsafeCell<u8>]) },
            // SAFETY: `AtomicU32` has the size, alignment and bit validity of `u32`.
            links0: unsafe { Box::from_raw(Box::into_raw(ids) as *mut [AtomicU32]) },
            upper: (0..CHUNK)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            upper_width: 1 + m,
            levels: (0..CHUNK).map(|_| AtomicU8::new(0)).collect(),
            vids: (0..CHUNK).map(|_| AtomicU64::new(UNWRITTEN)).collect(),
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        for (upper, level) in self.upper.iter_mut().zip(self.levels.iter_mut()) {
            let ptr = *upper.get_mut();
            if !ptr.is_null() {
                let len = *level.get_mut() as usize * self.upper_width;
                // SAFETY: `write_point` made `ptr` from a boxed slice of this length
                // (the level is stored with it and never changes), and nothing else
                // frees it.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
            }
        }
    }
}

/// A list of neighbours inside a chunk's arrays: a count, then up to `cap` ids.
struct List<'a> {
    slots: &'a [AtomicU32],
}

impl List<'_> {
    fn len(&self) -> usize {
        (self.slots[0].load(Mem::Acquire) as usize).min(self.slots.len() - 1)
    }

    fn get(&self, i: usize) -> u32 {
        self.slots[1 + i].load(Mem::Acquire)
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Replaces the list (the caller holds the point's lock).
    fn set(&self, ids: impl IntoIterator<Item = u32>) {
        let mut n = 0;
        for id in ids.into_iter().take(self.slots.len() - 1) {
            self.slots[1 + n].store(id, Mem::Release);
            n += 1;
        }
        self.slots[0].store(n as u32, Mem::Release);
    }

    /// Appends `id` if there is room (the caller holds the point's lock).
    fn push(&self, id: u32) -> bool {
        let n = self.len();
        if n + 1 >= self.slots.len() {
            return false;
        }
        self.slots[1 + n].store(id, Mem::Release);
        self.slots[0].store(n as u32 + 1, Mem::Release);
        true
    }
}

/// The graph.
pub(crate) struct Hnsw {
    dim: usize,
    /// Neighbours per point on levels above 0, and on level 0.
    m: usize,
    m0: usize,
    ef_construction: usize,
    level_scale: f64,
    /// The codes it walks on.
    quantization: Quantization,
    /// Bytes of each point's codes; 0 in a graph without quantization.
    stride: usize,
    /// Trained once the graph holds [`QUANTIZE_FROM`] points (quantized graphs only).
    quantizer: OnceLock<Quantizer>,
    /// Every point has its codes: searches may walk on them.
    coded: AtomicBool,
    /// Held through each call of [`Hnsw::insert`], so a quantizer is trained while no
    /// point is half written.
    insert_lock: Mutex<()>,
    /// The vectors of the points loaded from a file, when they are read from it in
    /// place (see [`Hnsw::open_file`]); the others are in the chunks.
    mapped: Option<MappedVectors>,
    /// The index's vector files, when its vectors are stored there: the graph saves
    /// no vectors, and a quantized graph reads them from the files (`external`).
    log: Option<Arc<VectorLog>>,
    /// The vectors are read from `log`, never held in the chunks.
    external: bool,
    chunks: Box<[OnceLock<Box<Chunk>>]>,
    /// Points claimed (some may still be being written).
    claimed: AtomicU32,
    /// Points fully inserted.
    inserted: AtomicU32,
    /// The entry point and the top level, packed `slot << 8 | level` (`u64::MAX`: none).
    entry: AtomicU64,
    /// Held while a point that may become the entry point is inserted.
    entry_lock: Mutex<()>,
    locks: Box<[Mutex<()>]>,
}

thread_local! {
    /// A search's visited marks, reused across searches on this thread.
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

/// A bit per point, and the words a search set, so the next search clears only those:
/// an eighth of a byte a point per thread (a 16-bit mark per point would be 20 MB a
/// thread at 10M points) and a start in proportion to the last search, not to the
/// graph.
#[derive(Default)]
struct Visited {
    bits: Vec<u64>,
    touched: Vec<u32>,
}

impl Visited {
    /// Starts a search over `n` points: every point unvisited.
    fn reset(&mut self, n: usize) {
        for w in self.touched.drain(..) {
            self.bits[w as usize] = 0;
        }
        let words = n.div_ceil(64);
        if self.bits.len() < words {
            self.bits.resize(words, 0);
        }
    }

    /// Marks `slot`; whether it was unvisited.
    #[inline]
    fn visit(&mut self, slot: u32) -> bool {
        let (w, bit) = ((slot / 64) as usize, 1u64 << (slot % 64));
        if w >= self.bits.len() {
            self.bits.resize(w + 1, 0);
        }
        let word = &mut self.bits[w];
        if *word & bit != 0 {
            return false;
        }
        if *word == 0 {
            self.touched.push(w as u32);
        }
        *word |= bit;
        true
    }
}

impl Hnsw {
    /// An empty graph of `dim`-dimensional vectors with `m` neighbours a point (twice
    /// that on level 0), walked on codes of the kind `quantization` names.
    #[cfg(test)]
    pub(crate) fn new(
        dim: usize,
        m: usize,
        ef_construction: usize,
        quantization: Quantization,
    ) -> Hnsw {
        Self::over(dim, m, ef_construction, quantization, None)
    }

    /// An empty graph as [`Hnsw::new`], whose vectors are the rows of `log` (by vid):
    /// read from there in a quantized graph, copied into the graph's memory otherwise.
    /// The caller writes each point's row before inserting the point.
    pub(crate) fn over(
        dim: usize,
        m: usize,
        ef_construction: usize,
        quantization: Quantization,
        log: Option<Arc<VectorLog>>,
    ) -> Hnsw {
        let m = m.clamp(2, 128);
        let stride = quantize::stride(quantization, dim);
        Hnsw {
            dim,
            m,
            m0: 2 * m,
            ef_construction: ef_construction.max(m),
            level_scale: 1.0 / (m as f64).ln(),
            quantization,
            stride,
            quantizer: OnceLock::new(),
            coded: AtomicBool::new(false),
            insert_lock: Mutex::new(()),
            mapped: None,
            external: log.is_some() && stride > 0,
            log,
            chunks: (0..MAX_CHUNKS).map(|_| OnceLock::new()).collect(),
            claimed: AtomicU32::new(0),
            inserted: AtomicU32::new(0),
            entry: AtomicU64::new(u64::MAX),
            entry_lock: Mutex::new(()),
            locks: (0..LOCKS).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Points fully inserted.
    pub(crate) fn len(&self) -> usize {
        self.inserted.load(Mem::Acquire) as usize
    }

    /// Points claimed: every slot below this has been, or is being, written.
    fn claimed(&self) -> usize {
        (self.claimed.load(Mem::Acquire) as usize).min(CHUNK * MAX_CHUNKS)
    }

    fn chunk(&self, slot: u32) -> &Chunk {
        self.chunks[(slot >> CHUNK_BITS) as usize]
            .get()
            .expect("a slot reached through the graph is in an allocated chunk")
    }

    fn offset(slot: u32) -> usize {
        slot as usize & (CHUNK - 1)
    }

    /// The vector of `slot`.
    #[inline]
    pub(crate) fn vector(&self, slot: u32) -> &[f32] {
        if let Some(log) = self.log.as_ref().filter(|_| self.external) {
            // The row in the log's maps (its zeros for a row the files do not hold),
            // looked up by vid rather than kept as a pointer per point, which would
            // cost as much memory as the vids.
            return log.row_or_zeros(self.vid(slot));
        }
        if let Some(mapped) = self.mapped.as_ref().filter(|m| slot < m.points) {
            let at = mapped.offset + slot as usize * self.dim * 4;
            // SAFETY: `open_file` checked that the map holds every mapped point's
            // vector from `offset` on, aligned for `f32`; any bit pattern is an `f32`.
            return unsafe {
                std::slice::from_raw_parts(mapped.map.as_ptr().add(at).cast::<f32>(), self.dim)
            };
        }
        let chunk = self.chunk(slot);
        let at = Self::offset(slot) * self.dim;
        let cells = &chunk.vectors[at..at + self.dim];
        // SAFETY: `UnsafeCell<f32>` has the layout of `f32`, and the point was written
        // before it became reachable (see `Chunk`'s `Sync`).
        unsafe { std::slice::from_raw_parts(cells.as_ptr().cast::<f32>(), self.dim) }
    }

    /// The vector of `slot` for rescoring: in a graph over the vector files, read
    /// into `buf` (`dim` floats) by [`VectorLog::read_row`], so that the rows a
    /// search rescores add nothing to the process's resident memory (zeros for a
    /// row that cannot be read); otherwise in place.
    fn read_vector<'a>(&'a self, slot: u32, buf: &'a mut [f32]) -> &'a [f32] {
        match &self.log {
            Some(log) if self.external => {
                if !log.read_row(self.vid(slot), buf) {
                    buf.fill(0.0);
                }
                &buf[..self.dim]
            }
            _ => self.vector(slot),
        }
    }

    /// Rescores `candidates` (nearest first by their codes) exactly and gives the
    /// `k` nearest, nearest first (ties to the lower vid): only the first
    /// [`rescored`] are read, since the codes' order is near enough that the `k`
    /// nearest are among them.
    fn rescore(&self, q: &[f32], k: usize, candidates: &[(Dist, u32)]) -> Vec<(u32, f32)> {
        let mut buf = vec![0.0f32; self.dim];
        let mut exact: Vec<(Dist, u64, u32)> = candidates
            .iter()
            .take(rescored(self.kind(), k))
            .map(|&(_, s)| {
                let d = Dist(distance(q, self.read_vector(s, &mut buf)));
                (d, self.vid(s), s)
            })
            .collect();
        exact.sort_unstable();
        exact
            .into_iter()
            .take(k)
            .map(|(d, _, s)| (s, d.0))
            .collect()
    }

    /// The codes of `slot` (empty in a graph without quantization).
    #[inline]
    fn codes(&self, slot: u32) -> &[u8] {
        let chunk = self.chunk(slot);
        let at = Self::offset(slot) * self.stride;
        let cells = &chunk.codes[at..at + self.stride];
        // SAFETY: as for `vector`; codes are read only once written (see `Chunk`).
        unsafe { std::slice::from_raw_parts(cells.as_ptr().cast::<u8>(), self.stride) }
    }

    /// Writes the codes of `slot` (whose vector is `vector`), which no search may read
    /// yet (see `Chunk`).
    fn write_codes(&self, quantizer: &Quantizer, slot: u32, vector: &[f32]) {
        let chunk = self.chunk(slot);
        let at = Self::offset(slot) * self.stride;
        let cells = &chunk.codes[at..at + self.stride];
        // SAFETY: `UnsafeCell<u8>` has the layout of `u8` and allows writes through a
        // shared reference; nothing reads these bytes until they are published.
        let out = unsafe {
            std::slice::from_raw_parts_mut(UnsafeCell::raw_get(cells.as_ptr()), self.stride)
        };
        quantizer.encode(vector, out);
    }

    /// The quantizer, once every point has its codes.
    fn walk_quantizer(&self) -> Option<&Quantizer> {
        if self.coded.load(Mem::Acquire) {
            self.quantizer.get()
        } else {
            None
        }
    }

    /// The kind of codes the graph walks on (none until every point has its codes).
    fn kind(&self) -> Quantization {
        self.walk_quantizer()
            .map_or(Quantization::None, Quantizer::kind)
    }

    /// Points whose vectors are in memory (the others are read from the graph's file).
    pub(crate) fn vectors_in_memory(&self) -> usize {
        if self.external {
            return 0;
        }
        let mapped = self.mapped.as_ref().map_or(0, |m| m.points as usize);
        self.len().saturating_sub(mapped)
    }

    /// Whether searches walk on quantized codes.
    pub(crate) fn is_coded(&self) -> bool {
        self.walk_quantizer().is_some()
    }

    /// The id (vid) stored with `slot`.
    pub(crate) fn vid(&self, slot: u32) -> u64 {
        self.chunk(slot).vids[Self::offset(slot)].load(Mem::Acquire)
    }

    fn level(&self, slot: u32) -> u8 {
        self.chunk(slot).levels[Self::offset(slot)].load(Mem::Acquire)
    }

    /// The neighbour list of `slot` on `level` (empty above its level).
    fn list(&self, slot: u32, level: u8) -> List<'_> {
        let chunk = self.chunk(slot);
        let i = Self::offset(slot);
        if level == 0 {
            let w = 1 + self.m0;
            return List {
                slots: &chunk.links0[i * w..(i + 1) * w],
            };
        }
        let w = 1 + self.m;
        let upper = chunk.upper[i].load(Mem::Acquire);
        let levels = chunk.levels[i].load(Mem::Acquire);
        if upper.is_null() || level > levels {
            return List { slots: &[] };
        }
        // SAFETY: a non-null pointer holds `levels * w` entries (`write_point`),
        // owned by the chunk until it drops.
        let all = unsafe { std::slice::from_raw_parts(upper, levels as usize * w) };
        List {
            slots: &all[(level as usize - 1) * w..level as usize * w],
        }
    }

    fn lock(&self, slot: u32) -> std::sync::MutexGuard<'_, ()> {
        self.locks[slot as usize % LOCKS]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry(&self) -> Option<(u32, u8)> {
        let e = self.entry.load(Mem::Acquire);
        (e != u64::MAX).then_some(((e >> 8) as u32, (e & 0xFF) as u8))
    }

    /// The level a point with this id gets: `floor(-ln(u) / ln(M))` for `u` uniform
    /// in (0, 1], from a hash of the id.
    fn draw_level(&self, vid: u64) -> u8 {
        let mut z = vid.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        (-u.ln() * self.level_scale)
            .floor()
            .min(f64::from(MAX_LEVEL)) as u8
    }

    /// Whether the vector files hold row `vid` (a graph over the files only).
    fn has_row(&self, vid: u64) -> bool {
        self.log.as_ref().is_some_and(|log| log.row(vid).is_some())
    }

    /// Claims a slot and writes the point into it; `None` when the graph is full. A
    /// point loaded from a file has no vector yet (`None`): its memory stays untouched
    /// until the vector is read in, if it ever is.
    fn write_point(&self, vid: u64, vector: Option<&[f32]>, level: u8) -> Option<u32> {
        let slot = self.claimed.fetch_add(1, Mem::AcqRel);
        if slot as usize >= CHUNK * MAX_CHUNKS {
            self.claimed.fetch_sub(1, Mem::AcqRel);
            return None;
        }
        let chunk = self.chunks[(slot >> CHUNK_BITS) as usize].get_or_init(|| {
            Box::new(Chunk::new(
                self.dim,
                self.m,
                self.m0,
                self.stride,
                self.external,
            ))
        });
        let i = Self::offset(slot);
        if let Some(vector) = vector {
            if self.external && !self.has_row(vid) {
                // Inserted points are committed, so their rows are written: one that
                // cannot be read is scored as zeros.
                tracing::warn!(vid, "a vector row cannot be read from the vector files");
            }
            if !self.external {
                for (k, &x) in vector.iter().take(self.dim).enumerate() {
                    // SAFETY: this thread claimed `slot`; nothing reads it until
                    // published.
                    unsafe { *chunk.vectors[i * self.dim + k].get() = x };
                }
            }
            if let Some(quantizer) = self.quantizer.get() {
                self.write_codes(quantizer, slot, vector);
            }
        }
        if level > 0 {
            let upper: Box<[AtomicU32]> = (0..level as usize * chunk.upper_width)
                .map(|_| AtomicU32::new(0))
                .collect();
            // A claimed slot is written once: nothing was here before.
            chunk.upper[i].store(Box::into_raw(upper).cast::<AtomicU32>(), Mem::Release);
        }
        chunk.levels[i].store(level, Mem::Release);
        chunk.vids[i].store(vid, Mem::Release);
        Some(slot)
    }

    /// Inserts the points, in parallel when there are many; returns each one's slot
    /// (`NONE` for a point that did not fit).
    pub(crate) fn insert(&self, points: &[(u64, &[f32])]) -> Vec<u32> {
        let _batch = self
            .insert_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = self.claimed();
        if self.stride > 0 && self.quantizer.get().is_some() && !self.is_coded() {
            // A call that trained the quantizer did not get to code the points before
            // it (it panicked): code them now.
            self.code_points_before(before);
        }
        let train = self.stride > 0
            && self.quantizer.get().is_none()
            && before + points.len() >= QUANTIZE_FROM;
        if train {
            let mut sample: Vec<&[f32]> = (0..before as u32).map(|s| self.vector(s)).collect();
            sample.extend(points.iter().map(|(_, v)| *v));
            let _ = self
                .quantizer
                .set(Quantizer::train(self.quantization, self.dim, &sample));
        }
        let slots = if points.len() >= 64 {
            points
                .par_iter()
                .map(|(vid, v)| self.insert_one(*vid, v))
                .collect()
        } else {
            points
                .iter()
                .map(|(vid, v)| self.insert_one(*vid, v))
                .collect()
        };
        if train {
            self.code_points_before(before);
        }
        slots
    }

    /// Writes the codes of the points below `end`, which came before the quantizer,
    /// then lets searches walk on codes.
    fn code_points_before(&self, end: usize) {
        let Some(quantizer) = self.quantizer.get() else {
            return;
        };
        (0..end as u32)
            .into_par_iter()
            .for_each(|slot| self.write_codes(quantizer, slot, self.vector(slot)));
        self.coded.store(true, Mem::Release);
    }

    fn insert_one(&self, vid: u64, vector: &[f32]) -> u32 {
        let level = self.draw_level(vid);
        let Some(slot) = self.write_point(vid, Some(vector), level) else {
            return NONE;
        };
        // A point that may rise above the top level holds the entry lock throughout,
        // so the entry point and the top level change together.
        let mut guard = None;
        if self.entry().is_none_or(|(_, top)| level > top) {
            guard = Some(
                self.entry_lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
        let Some((entry, top)) = self.entry() else {
            self.entry
                .store(u64::from(slot) << 8 | u64::from(level), Mem::Release);
            self.inserted.fetch_add(1, Mem::AcqRel);
            return slot;
        };
        let q = Exact {
            graph: self,
            q: self.vector(slot),
        };
        let mut cur = entry;
        let mut cur_d = q.distance(cur);
        for lev in (level + 1..=top).rev() {
            (cur, cur_d) = self.greedy(&q, cur, cur_d, lev);
        }
        let mut entry_points = vec![(Dist(cur_d), cur)];
        for lev in (0..=level.min(top)).rev() {
            let found = self.search_layer(&q, &entry_points, self.ef_construction, lev, None);
            let chosen = self.select(&found, self.m);
            self.set_own_list(slot, lev, &chosen);
            for &(_, neighbour) in &chosen {
                self.link(neighbour, slot, lev);
            }
            entry_points = found;
        }
        if level > top {
            self.entry
                .store(u64::from(slot) << 8 | u64::from(level), Mem::Release);
        }
        drop(guard);
        self.inserted.fetch_add(1, Mem::AcqRel);
        slot
    }

    /// Gives a point being inserted its neighbours on `level`. Points inserted at the
    /// same time may already have linked to it there (having reached it through a
    /// level above): those links are kept, and the list cut back with the heuristic
    /// if it is over its bound.
    fn set_own_list(&self, slot: u32, level: u8, chosen: &[(Dist, u32)]) {
        let _guard = self.lock(slot);
        let list = self.list(slot, level);
        let mut all: Vec<(Dist, u32)> = chosen.to_vec();
        let base = self.vector(slot);
        for s in list.iter() {
            if !all.iter().any(|&(_, c)| c == s) {
                all.push((Dist(distance(base, self.vector(s))), s));
            }
        }
        let cap = if level == 0 { self.m0 } else { self.m };
        if all.len() > cap {
            all.sort_unstable();
            all = self.select(&all, cap);
        }
        list.set(all.into_iter().map(|(_, s)| s));
    }

    /// Adds `new` to the list of `point` on `level`, cutting the list back with the
    /// heuristic when it is full.
    fn link(&self, point: u32, new: u32, level: u8) {
        let _guard = self.lock(point);
        let list = self.list(point, level);
        if list.slots.is_empty() || list.push(new) {
            return;
        }
        let cap = if level == 0 { self.m0 } else { self.m };
        let base = self.vector(point);
        let mut candidates: Vec<(Dist, u32)> = list
            .iter()
            .chain(std::iter::once(new))
            .map(|s| (Dist(distance(base, self.vector(s))), s))
            .collect();
        candidates.sort_unstable();
        let mut kept = self.select(&candidates, cap);
        // The heuristic may keep far fewer than `cap`; the nearest of the others fill
        // the list, so points keep the links that lead to them.
        for &(d, c) in &candidates {
            if kept.len() >= cap {
                break;
            }
            if !kept.iter().any(|&(_, k)| k == c) {
                kept.push((d, c));
            }
        }
        list.set(kept.into_iter().map(|(_, s)| s));
    }

    /// The diversity heuristic: from `candidates` (nearest first), keep one if it is
    /// nearer the base point than any kept so far, up to `m`.
    fn select(&self, candidates: &[(Dist, u32)], m: usize) -> Vec<(Dist, u32)> {
        if candidates.len() <= m {
            return candidates.to_vec();
        }
        let mut kept: Vec<(Dist, u32)> = Vec::with_capacity(m);
        for &(d, c) in candidates {
            if kept.len() >= m {
                break;
            }
            let v = self.vector(c);
            if kept
                .iter()
                .all(|&(_, k)| distance(v, self.vector(k)) >= d.0)
            {
                kept.push((d, c));
            }
        }
        kept
    }

    /// Greedy descent on one level: the nearest point reachable by always moving
    /// closer.
    fn greedy(&self, q: &impl Metric, mut cur: u32, mut cur_d: f32, level: u8) -> (u32, f32) {
        loop {
            let mut moved = false;
            let list = self.list(cur, level);
            for n in list.iter() {
                let d = q.distance(n);
                if d < cur_d {
                    (cur, cur_d, moved) = (n, d, true);
                }
            }
            if !moved {
                return (cur, cur_d);
            }
        }
    }

    /// Beam search on one level from `entry_points`: up to `ef` points nearest `q`,
    /// nearest first. With `allowed`, only allowed points are returned (the walk
    /// still passes through the others).
    fn search_layer(
        &self,
        q: &impl Metric,
        entry_points: &[(Dist, u32)],
        ef: usize,
        level: u8,
        allowed: Option<&dyn Fn(u64) -> bool>,
    ) -> Vec<(Dist, u32)> {
        VISITED.with(|visited| {
            let mut visited = visited.borrow_mut();
            visited.reset(self.claimed());
            let mut candidates: BinaryHeap<Reverse<(Dist, u32)>> = BinaryHeap::new();
            let mut results: BinaryHeap<(Dist, u32)> = BinaryHeap::with_capacity(ef + 1);
            let ok = |slot: u32| allowed.is_none_or(|f| f(self.vid(slot)));
            for &(d, s) in entry_points {
                if visited.visit(s) {
                    candidates.push(Reverse((d, s)));
                    if ok(s) {
                        results.push((d, s));
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
            let mut bound = if results.len() >= ef {
                results.peek().map_or(f32::INFINITY, |r| r.0 .0)
            } else {
                f32::INFINITY
            };
            let mut fresh: Vec<u32> = Vec::with_capacity(self.m0);
            while let Some(Reverse((d, s))) = candidates.pop() {
                if d.0 > bound {
                    break;
                }
                let list = self.list(s, level);
                fresh.clear();
                for n in list.iter() {
                    if visited.visit(n) {
                        q.prefetch(n);
                        fresh.push(n);
                    }
                }
                for &n in &fresh {
                    let dn = q.distance(n);
                    if results.len() < ef || dn < bound {
                        candidates.push(Reverse((Dist(dn), n)));
                        if ok(n) {
                            results.push((Dist(dn), n));
                            if results.len() > ef {
                                results.pop();
                            }
                            if results.len() >= ef {
                                bound = results.peek().map_or(f32::INFINITY, |r| r.0 .0);
                            }
                        }
                    }
                }
            }
            let mut out = results.into_vec();
            out.sort_unstable();
            out
        })
    }

    /// The `k` nearest allowed points to `q` among a beam of `ef`, nearest first, as
    /// (slot, distance). A quantized graph walks on codes and rescores the best of
    /// what it found with the vectors: the distances are exact either way.
    pub(crate) fn search(
        &self,
        q: &[f32],
        k: usize,
        ef: usize,
        allowed: Option<&dyn Fn(u64) -> bool>,
    ) -> Vec<(u32, f32)> {
        self.search_kept(q, k, ef, allowed, None)
    }

    /// [`Hnsw::search`], keeping of the beam only the points `keep` takes (by vid)
    /// before the `k` nearest are chosen: a walk `allowed` steers, `keep` only sorts
    /// what the walk found.
    pub(crate) fn search_kept(
        &self,
        q: &[f32],
        k: usize,
        ef: usize,
        allowed: Option<&dyn Fn(u64) -> bool>,
        keep: Option<&dyn Fn(u64) -> bool>,
    ) -> Vec<(u32, f32)> {
        let Some((entry, top)) = self.entry() else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        let n = self.len();
        let kept = |s: u32| keep.is_none_or(|f| f(self.vid(s)));
        if n <= ef.max(k).saturating_mul(self.m) {
            // A walk would compare about as many points as the graph holds: compare
            // them all, which is exact.
            let both = |vid: u64| allowed.is_none_or(|f| f(vid)) && keep.is_none_or(|f| f(vid));
            return self.scan(q, k, Some(&both), n);
        }
        if let Some(quantizer) = self.walk_quantizer() {
            let query = quantizer.query(q);
            let coded = Coded {
                graph: self,
                q: &query,
            };
            let mut found = self.walk(&coded, entry, top, ef.max(k), allowed);
            found.retain(|&(_, s)| kept(s));
            return self.rescore(q, k, &found);
        }
        let exact = Exact { graph: self, q };
        let found = self.walk(&exact, entry, top, ef.max(k), allowed);
        found
            .into_iter()
            .filter(|&(_, s)| kept(s))
            .take(k)
            .map(|(d, s)| (s, d.0))
            .collect()
    }

    /// The `k` nearest to `q` of `slots`, nearest first, comparing each: on int8
    /// codes and then rescoring the nearest by them, else (binary codes, whose order
    /// is too loose to cut on, or none) on the vectors. Its cost is in proportion to
    /// the number of slots, not to the graph. Ties go to the lower vid.
    pub(crate) fn search_among(
        &self,
        q: &[f32],
        k: usize,
        slots: impl Iterator<Item = u32>,
    ) -> Vec<(u32, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let query = self
            .walk_quantizer()
            .filter(|quantizer| quantizer.kind() == Quantization::Int8)
            .map(|quantizer| quantizer.query(q));
        let keep = match query {
            Some(_) => rescored(Quantization::Int8, k),
            None => k,
        };
        let best = smallest(
            keep,
            slots.map(|slot| {
                let d = Dist(match &query {
                    Some(query) => 1.0 - query.dot(self.codes(slot)),
                    None => distance(q, self.vector(slot)),
                });
                (d, self.vid(slot), slot)
            }),
        );
        if query.is_some() {
            let best: Vec<(Dist, u32)> = best.into_iter().map(|(d, _, s)| (d, s)).collect();
            return self.rescore(q, k, &best);
        }
        best.into_iter().map(|(d, _, s)| (s, d.0)).collect()
    }

    /// Greedy descent from the entry point to level 0, then a beam search of `ef`.
    fn walk(
        &self,
        q: &impl Metric,
        entry: u32,
        top: u8,
        ef: usize,
        allowed: Option<&dyn Fn(u64) -> bool>,
    ) -> Vec<(Dist, u32)> {
        let mut cur = entry;
        let mut cur_d = q.distance(cur);
        for lev in (1..=top).rev() {
            (cur, cur_d) = self.greedy(q, cur, cur_d, lev);
        }
        self.search_layer(q, &[(Dist(cur_d), cur)], ef, 0, allowed)
    }

    /// The `k` allowed points among the first `n` nearest `q`, by comparing each.
    fn scan(
        &self,
        q: &[f32],
        k: usize,
        allowed: Option<&dyn Fn(u64) -> bool>,
        n: usize,
    ) -> Vec<(u32, f32)> {
        let points = (0..n as u32).filter_map(|slot| {
            // Inserts finish out of order, so a slot below the count of points
            // inserted may still be being written: skipped until its vid is stored.
            let vid = self.vid(slot);
            if vid == UNWRITTEN || allowed.is_some_and(|f| !f(vid)) {
                return None;
            }
            Some((Dist(distance(q, self.vector(slot))), slot))
        });
        smallest(k, points)
            .into_iter()
            .map(|(d, s)| (s, d.0))
            .collect()
    }

    /// Writes the graph: a header (with the quantizer, in a quantized graph), each
    /// point's id, level and lists, then each point's codes and vectors, each of the
    /// two arrays starting on a 64-byte boundary of the file. The caller must not
    /// insert meanwhile.
    pub(crate) fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let out = &mut Counted { inner: out, at: 0 };
        let n = self.len() as u32;
        let (entry, top) = self.entry().unwrap_or((NONE, 0));
        let quantizer = self.walk_quantizer();
        out.write_all(MAGIC)?;
        for v in [FORMAT_VERSION, self.dim as u32, self.m as u32, n, entry] {
            out.write_all(&v.to_le_bytes())?;
        }
        let mut flags = if quantizer.is_some() { FLAG_CODES } else { 0 };
        if self.log.is_some() {
            flags |= FLAG_LOGGED;
        }
        out.write_all(&[top, flags])?;
        if let Some(quantizer) = quantizer {
            out.write_all(&quantizer.to_bytes())?;
        }
        for slot in 0..n {
            let level = self.level(slot);
            out.write_all(&self.vid(slot).to_le_bytes())?;
            out.write_all(&[level])?;
            for lev in 0..=level {
                let list = self.list(slot, lev);
                let ids: Vec<u32> = list.iter().filter(|&s| s < n).collect();
                out.write_all(&(ids.len() as u32).to_le_bytes())?;
                for id in ids {
                    out.write_all(&id.to_le_bytes())?;
                }
            }
        }
        if quantizer.is_some() {
            out.pad()?;
            for slot in 0..n {
                out.write_all(self.codes(slot))?;
            }
        }
        out.pad()?;
        if self.log.is_some() {
            return Ok(());
        }
        let mut from = 0;
        if let Some(mapped) = &self.mapped {
            // Copied by reading the file: pages read through the map would stay
            // resident as the process's own.
            from = mapped.points.min(n);
            let mut file = mapped
                .file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let file = &mut *file;
            file.seek(std::io::SeekFrom::Start(mapped.offset as u64))?;
            let len = u64::from(from) * self.dim as u64 * 4;
            if std::io::copy(&mut file.take(len), out)? != len {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        for slot in from..n {
            for x in self.vector(slot) {
                out.write_all(&x.to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Reads a graph written by [`Hnsw::write_to`] (or by the format before it, which
    /// has no flags, codes or alignment); `None` when it is not one, is cut short or
    /// does not hold `dim`-dimensional vectors. A quantized graph (`quantization`) takes
    /// the saved codes, or trains its quantizer on the loaded vectors when there are
    /// none; a graph without quantization skips them.
    #[cfg(test)]
    pub(crate) fn read_from(
        input: &mut impl Read,
        expected_dim: Option<usize>,
        ef_construction: usize,
        quantization: Quantization,
    ) -> Option<Hnsw> {
        let input = &mut Counted {
            inner: input,
            at: 0,
        };
        let (graph, head) =
            Self::read_head(input, expected_dim, ef_construction, quantization, None)?;
        graph.read_vectors(input, head.n)?;
        Some(graph.finish_load(head))
    }

    /// Opens a graph file as [`Hnsw::read_from`] reads one, except that a coded
    /// graph's vectors stay in the file, mapped into memory: the walk reads codes, and
    /// the vectors it rescores with are paged in as they are read (and can be paged
    /// out again), so resident memory is the codes and lists rather than the vectors.
    /// A graph saved over vector files takes its vectors from `log` (`None` without
    /// it, or when a point's row cannot be read).
    pub(crate) fn open_file(
        file: std::fs::File,
        expected_dim: Option<usize>,
        ef_construction: usize,
        quantization: Quantization,
        log: Option<&Arc<VectorLog>>,
    ) -> Option<Hnsw> {
        // The head is read, not mapped, so its pages are not counted as the process's.
        let input = &mut Counted {
            inner: std::io::BufReader::with_capacity(1 << 20, &file),
            at: 0,
        };
        let (mut graph, head) =
            Self::read_head(input, expected_dim, ef_construction, quantization, log)?;
        if head.logged {
            if !graph.external {
                graph.copy_rows(head.n)?;
            }
            return Some(graph.finish_load(head));
        }
        let at = input.at;
        let bytes = u64::from(head.n).checked_mul(graph.dim as u64 * 4)?;
        let little = cfg!(target_endian = "little");
        if head.version >= 2 && graph.is_coded() && little && head.n > 0 {
            // SAFETY: trawl writes a graph file once, under a name no other file had
            // (`create_new`), and never changes it afterwards (a new save writes a new
            // file), so the mapping does not change under the references taken from
            // it. A file changed by another program is out of scope, as for any
            // mapped index file.
            let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
            let offset = usize::try_from(at).ok()?;
            let aligned =
                (map.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<f32>());
            if !aligned || (map.len() as u64).saturating_sub(at) < bytes {
                return None;
            }
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Random);
            graph.mapped = Some(MappedVectors {
                map,
                file: Mutex::new(file),
                offset,
                points: head.n,
            });
        } else {
            graph.read_vectors(input, head.n)?;
        }
        Some(graph.finish_load(head))
    }

    /// Reads everything before the vectors (and the padding before them). A graph
    /// saved over vector files is made over `log` (`None` without it).
    fn read_head<R: Read>(
        input: &mut Counted<R>,
        expected_dim: Option<usize>,
        ef_construction: usize,
        quantization: Quantization,
        log: Option<&Arc<VectorLog>>,
    ) -> Option<(Hnsw, Head)> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).ok()?;
        if &magic != MAGIC {
            return None;
        }
        let mut u32s = [0u32; 5];
        for v in &mut u32s {
            *v = read_u32(input)?;
        }
        let [version, file_dim, m, n, entry] = u32s;
        let top = read_u8(input)?;
        let dim = file_dim as usize;
        if !(1..=FORMAT_VERSION).contains(&version)
            || !(1..=65_536).contains(&dim)
            || expected_dim.is_some_and(|e| e != dim)
            || !(2..=128).contains(&m)
        {
            return None;
        }
        if n as usize > CHUNK * MAX_CHUNKS || (n > 0 && entry >= n) || top > MAX_LEVEL {
            return None;
        }
        let flags = if version >= 2 { read_u8(input)? } else { 0 };
        let saved_quantizer = if flags & FLAG_CODES != 0 {
            let mut bytes = vec![0u8; Quantizer::byte_len(dim)];
            input.read_exact(&mut bytes).ok()?;
            Some(Quantizer::from_bytes(dim, &bytes)?)
        } else {
            None
        };
        let log = if flags & FLAG_LOGGED != 0 {
            Some(Arc::clone(log?))
        } else {
            None
        };
        let graph = Hnsw::over(dim, m as usize, ef_construction, quantization, log);
        for slot in 0..n {
            let vid = read_u64(input)?;
            let level = read_u8(input)?;
            if level > MAX_LEVEL || graph.write_point(vid, None, level)? != slot {
                return None;
            }
            if graph.external && !graph.has_row(vid) {
                // A point whose row is gone: the graph is rebuilt from the files.
                return None;
            }
            for lev in 0..=level {
                let count = read_u32(input)? as usize;
                let cap = if lev == 0 { graph.m0 } else { graph.m };
                if count > cap {
                    return None;
                }
                let mut ids = Vec::with_capacity(count);
                for _ in 0..count {
                    let id = read_u32(input)?;
                    if id >= n {
                        return None;
                    }
                    ids.push(id);
                }
                graph.list(slot, lev).set(ids);
            }
        }
        if let Some(saved) = saved_quantizer {
            input.skip_padding(version)?;
            // Codes of another kind than the graph walks on are skipped (the graph
            // trains its own when it finishes loading).
            let stride = quantize::stride(saved.kind(), dim);
            let keep = saved.kind() == quantization;
            let mut bytes = vec![0u8; stride];
            for slot in 0..n {
                input.read_exact(&mut bytes).ok()?;
                if keep {
                    let chunk = graph.chunk(slot);
                    let at = Self::offset(slot) * stride;
                    let cells = &chunk.codes[at..at + stride];
                    // SAFETY: the graph is not shared yet; `UnsafeCell<u8>` has the
                    // layout of `u8` and allows writes through a shared reference.
                    let out = unsafe {
                        std::slice::from_raw_parts_mut(UnsafeCell::raw_get(cells.as_ptr()), stride)
                    };
                    out.copy_from_slice(&bytes);
                }
            }
            if keep {
                let _ = graph.quantizer.set(saved);
                graph.coded.store(true, Mem::Release);
            }
        }
        input.skip_padding(version)?;
        let head = Head {
            version,
            logged: flags & FLAG_LOGGED != 0,
            n,
            entry,
            top,
        };
        Some((graph, head))
    }

    /// Reads the vectors of the first `n` points.
    fn read_vectors(&self, input: &mut impl Read, n: u32) -> Option<()> {
        let mut bytes = vec![0u8; self.dim * 4];
        for slot in 0..n {
            input.read_exact(&mut bytes).ok()?;
            let chunk = self.chunk(slot);
            let at = Self::offset(slot) * self.dim;
            let cells = &chunk.vectors[at..at + self.dim];
            // SAFETY: the graph is not shared yet; `UnsafeCell<f32>` has the layout of
            // `f32` and allows writes through a shared reference.
            let out = unsafe {
                std::slice::from_raw_parts_mut(UnsafeCell::raw_get(cells.as_ptr()), self.dim)
            };
            for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        Some(())
    }

    /// Copies the vectors of the first `n` points from the log's rows into the graph's
    /// memory; `None` when a row cannot be read.
    fn copy_rows(&self, n: u32) -> Option<()> {
        let log = self.log.as_ref()?;
        for slot in 0..n {
            let row = log.row(self.vid(slot))?;
            let chunk = self.chunk(slot);
            let at = Self::offset(slot) * self.dim;
            let cells = &chunk.vectors[at..at + self.dim];
            // SAFETY: the graph is not shared yet; `UnsafeCell<f32>` has the layout of
            // `f32` and allows writes through a shared reference.
            let out = unsafe {
                std::slice::from_raw_parts_mut(UnsafeCell::raw_get(cells.as_ptr()), self.dim)
            };
            out.copy_from_slice(row);
        }
        Some(())
    }

    /// Publishes the loaded points; codes them when the graph is quantized and the
    /// file had no codes.
    fn finish_load(self, head: Head) -> Hnsw {
        let Head { n, entry, top, .. } = head;
        if n > 0 {
            self.entry
                .store(u64::from(entry) << 8 | u64::from(top), Mem::Release);
        }
        self.inserted.store(n, Mem::Release);
        if self.stride > 0 && !self.is_coded() && n as usize >= QUANTIZE_FROM {
            // Saved without codes: train on what was loaded.
            let sample: Vec<&[f32]> = (0..n).map(|s| self.vector(s)).collect();
            let _ = self
                .quantizer
                .set(Quantizer::train(self.quantization, self.dim, &sample));
            self.code_points_before(n as usize);
        }
        self
    }
}

/// What a saved graph's header says, for the steps of loading after it.
#[derive(Clone, Copy)]
struct Head {
    version: u32,
    /// The vectors are in the index's vector files.
    logged: bool,
    n: u32,
    entry: u32,
    top: u8,
}

/// The vectors of a loaded graph's first points, left in its file.
struct MappedVectors {
    map: memmap2::Mmap,
    /// The file, for copying the vectors into a new save without touching the map
    /// (locked: the copy moves the file's position).
    file: Mutex<std::fs::File>,
    /// Where the first point's vector starts (aligned for `f32`).
    offset: usize,
    /// Points whose vectors are in the file.
    points: u32,
}

/// A reader or writer that counts the bytes through it, for the file's alignment.
struct Counted<T> {
    inner: T,
    at: u64,
}

/// The alignment of a saved graph's codes and vectors.
const ALIGN: u64 = 64;

impl<W: Write> Counted<W> {
    /// Writes zeros up to the next multiple of [`ALIGN`].
    fn pad(&mut self) -> std::io::Result<()> {
        let zeros = [0u8; ALIGN as usize];
        let gap = (ALIGN - self.at % ALIGN) % ALIGN;
        self.write_all(&zeros[..gap as usize])
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.at += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Counted<R> {
    /// Skips the zeros up to the next multiple of [`ALIGN`] (none before version 2).
    fn skip_padding(&mut self, version: u32) -> Option<()> {
        if version < 2 {
            return Some(());
        }
        let gap = ((ALIGN - self.at % ALIGN) % ALIGN) as usize;
        let mut zeros = [0u8; ALIGN as usize];
        self.read_exact(&mut zeros[..gap]).ok()?;
        zeros.iter().all(|&b| b == 0).then_some(())
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at += n as u64;
        Ok(n)
    }
}

fn read_u32(input: &mut impl Read) -> Option<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b).ok()?;
    Some(u32::from_le_bytes(b))
}

fn read_u64(input: &mut impl Read) -> Option<u64> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

fn read_u8(input: &mut impl Read) -> Option<u8> {
    let mut b = [0u8; 1];
    input.read_exact(&mut b).ok()?;
    Some(b[0])
}

/// Asks the CPU to fetch `lines` cache lines from `p`.
#[inline]
fn prefetch_lines(p: *const i8, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in 0..lines {
            // SAFETY: prefetching never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(line * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_unit(dim: usize, state: &mut u64) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                (*state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        crate::vectors::normalize(&mut v);
        v
    }

    fn exact(points: &[(u64, Vec<f32>)], q: &[f32], k: usize) -> Vec<u64> {
        let mut all: Vec<(f32, u64)> = points
            .iter()
            .map(|(vid, v)| (distance(q, v), *vid))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|(_, vid)| vid).collect()
    }

    /// Recall@10 against exhaustive search on clustered random vectors, after a
    /// parallel build; the same after a write and read round trip.
    #[test]
    fn search_finds_the_nearest_points_and_survives_a_round_trip() {
        let dim = 32;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let centres: Vec<Vec<f32>> = (0..20).map(|_| random_unit(dim, &mut state)).collect();
        let points: Vec<(u64, Vec<f32>)> = (0..4000u64)
            .map(|vid| {
                let noise = random_unit(dim, &mut state);
                let c = &centres[(vid % 20) as usize];
                let mut v: Vec<f32> = c.iter().zip(&noise).map(|(a, b)| a + 0.4 * b).collect();
                crate::vectors::normalize(&mut v);
                (vid * 2, v)
            })
            .collect();
        let graph = Hnsw::new(dim, 12, 100, Quantization::None);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        graph.insert(&refs[..10]);
        graph.insert(&refs[10..]);
        assert_eq!(graph.len(), 4000);
        let queries: Vec<Vec<f32>> = (0..50).map(|_| random_unit(dim, &mut state)).collect();
        let recall = |g: &Hnsw, ef: usize| {
            let mut hit = 0;
            for q in &queries {
                let want = exact(&points, q, 10);
                let got: Vec<u64> = g
                    .search(q, 10, ef, None)
                    .iter()
                    .map(|&(s, _)| g.vid(s))
                    .collect();
                hit += got.iter().filter(|v| want.contains(v)).count();
            }
            hit as f64 / (10 * queries.len()) as f64
        };
        let r = recall(&graph, 64);
        assert!(r >= 0.9, "recall {r} at ef 64");
        // The widest beam that still walks (a beam of `n / m` or more scans).
        let wide = recall(&graph, 300);
        assert!(wide >= 0.99, "recall {wide} at ef 300");
        let mut bytes = Vec::new();
        graph.write_to(&mut bytes).unwrap();
        let loaded =
            Hnsw::read_from(&mut bytes.as_slice(), Some(dim), 100, Quantization::None).unwrap();
        assert_eq!(recall(&loaded, 64), r);
        for slot in [0u32, 17, 3999] {
            assert_eq!(loaded.vid(slot), graph.vid(slot));
            assert_eq!(loaded.vector(slot), graph.vector(slot));
        }
        // Cut short, a list naming a point that is not there, or not a graph: nothing.
        assert!(Hnsw::read_from(
            &mut &bytes[..bytes.len() - 1],
            None,
            100,
            Quantization::None
        )
        .is_none());
        assert!(Hnsw::read_from(
            &mut bytes.as_slice(),
            Some(dim + 1),
            100,
            Quantization::None
        )
        .is_none());
        let mut bad = bytes.clone();
        let first_list = 8 + 5 * 4 + 2 + 8 + 1 + 4;
        bad[first_list..first_list + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Hnsw::read_from(&mut bad.as_slice(), None, 100, Quantization::None).is_none());
        assert!(Hnsw::read_from(
            &mut &b"not a graph at all"[..],
            None,
            100,
            Quantization::None
        )
        .is_none());
    }

    /// Clustered unit vectors, `n` of them, with even vids.
    fn clustered(n: u64, dim: usize, state: &mut u64) -> Vec<(u64, Vec<f32>)> {
        let centres: Vec<Vec<f32>> = (0..20).map(|_| random_unit(dim, state)).collect();
        (0..n)
            .map(|vid| {
                let noise = random_unit(dim, state);
                let c = &centres[(vid % 20) as usize];
                let mut v: Vec<f32> = c.iter().zip(&noise).map(|(a, b)| a + 0.4 * b).collect();
                crate::vectors::normalize(&mut v);
                (vid * 2, v)
            })
            .collect()
    }

    fn recall_of(g: &Hnsw, points: &[(u64, Vec<f32>)], queries: &[Vec<f32>], ef: usize) -> f64 {
        let mut hit = 0;
        for q in queries {
            let want = exact(points, q, 10);
            let got: Vec<u64> = g
                .search(q, 10, ef, None)
                .iter()
                .map(|&(s, _)| g.vid(s))
                .collect();
            hit += got.iter().filter(|v| want.contains(v)).count();
        }
        hit as f64 / (10 * queries.len()) as f64
    }

    /// Every hit's distance is the exact one, from the full-precision vectors.
    fn assert_exact_scores(g: &Hnsw, queries: &[Vec<f32>], ef: usize) {
        for q in queries {
            for (slot, d) in g.search(q, 10, ef, None) {
                assert_eq!(d, distance(q, g.vector(slot)));
            }
        }
    }

    /// A quantized graph trains its quantizer once it holds enough points, codes the
    /// points that came before, walks on codes and rescores with the vectors: its
    /// recall stays within 0.02 of the same graph walked on vectors, and its scores
    /// are the exact ones. Codes survive a save; a graph saved without them is coded
    /// on load, and a graph without quantization reads a quantized file.
    #[test]
    fn a_quantized_graph_walks_on_codes_and_scores_exactly() {
        let dim = 32;
        let mut state = 0x00C0_FFEE_u64;
        let points = clustered(QUANTIZE_FROM as u64 + 2000, dim, &mut state);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        let quantized = Hnsw::new(dim, 16, 100, Quantization::Int8);
        let plain = Hnsw::new(dim, 16, 100, Quantization::None);
        quantized.insert(&refs[..500]);
        assert!(!quantized.is_coded(), "too few points to train on");
        quantized.insert(&refs[500..]);
        plain.insert(&refs);
        assert!(quantized.is_coded() && !plain.is_coded());
        let quantizer = quantized.quantizer.get().unwrap();
        let mut want = vec![0u8; quantize::stride(Quantization::Int8, dim)];
        for slot in [0u32, 499, 500, (points.len() - 1) as u32] {
            quantizer.encode(quantized.vector(slot), &mut want);
            assert_eq!(quantized.codes(slot), &want[..], "codes of {slot}");
        }
        let queries: Vec<Vec<f32>> = (0..60).map(|_| random_unit(dim, &mut state)).collect();
        let exact_walk = recall_of(&plain, &points, &queries, 200);
        let coded_walk = recall_of(&quantized, &points, &queries, 200);
        assert!(
            coded_walk >= exact_walk - 0.02 && coded_walk >= 0.9,
            "int8 {coded_walk} against f32 {exact_walk}"
        );
        assert_exact_scores(&quantized, &queries[..5], 64);
        let mut bytes = Vec::new();
        quantized.write_to(&mut bytes).unwrap();
        let loaded =
            Hnsw::read_from(&mut bytes.as_slice(), Some(dim), 100, Quantization::Int8).unwrap();
        assert!(loaded.is_coded());
        assert_eq!(loaded.quantizer.get(), Some(quantizer));
        assert_eq!(loaded.codes(17), quantized.codes(17));
        assert_eq!(
            loaded.search(&queries[0], 10, 64, None),
            quantized.search(&queries[0], 10, 64, None)
        );
        // Opened from a file, the vectors stay there; points inserted afterwards (into
        // the last, partly loaded chunk and beyond) live in memory beside them.
        let file_dir = tempfile::tempdir().unwrap();
        let path = file_dir.path().join("g");
        std::fs::write(&path, &bytes).unwrap();
        let opened = Hnsw::open_file(
            std::fs::File::open(&path).unwrap(),
            Some(dim),
            100,
            Quantization::Int8,
            None,
        )
        .unwrap();
        assert!(opened.mapped.is_some() && opened.is_coded());
        assert_eq!(opened.vector(17), quantized.vector(17));
        assert_eq!(
            opened.search(&queries[1], 10, 64, None),
            quantized.search(&queries[1], 10, 64, None)
        );
        let more = clustered(5000, dim, &mut state);
        let more: Vec<(u64, Vec<f32>)> = more.into_iter().map(|(v, p)| (v * 7 + 1, p)).collect();
        let more_refs: Vec<(u64, &[f32])> = more.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        opened.insert(&more_refs);
        for (vid, v) in more.iter().step_by(500) {
            let (slot, d) = opened.search(v, 1, 64, None)[0];
            assert!(opened.vid(slot) == *vid && d < 1e-6, "{vid}: {d}");
        }
        let mut again = Vec::new();
        opened.write_to(&mut again).unwrap();
        let reread =
            Hnsw::read_from(&mut again.as_slice(), Some(dim), 100, Quantization::Int8).unwrap();
        assert_eq!(reread.len(), points.len() + more.len());
        assert_eq!(reread.vector(17), quantized.vector(17));
        let unquantized =
            Hnsw::read_from(&mut bytes.as_slice(), Some(dim), 100, Quantization::None).unwrap();
        assert!(!unquantized.is_coded());
        assert_eq!(unquantized.vector(17), quantized.vector(17));
        let mut plain_bytes = Vec::new();
        plain.write_to(&mut plain_bytes).unwrap();
        let coded_on_load = Hnsw::read_from(
            &mut plain_bytes.as_slice(),
            Some(dim),
            100,
            Quantization::Int8,
        )
        .unwrap();
        assert!(coded_on_load.is_coded());
        let r = recall_of(&coded_on_load, &points, &queries, 200);
        assert!(r >= exact_walk - 0.02, "coded on load: {r}");
    }

    /// A binary graph walks on bits with per-query tables and rescores what it found;
    /// with a beam three times as wide it comes within 0.1 of the full-vector walk's
    /// recall, and its codes survive a save. A file with codes of the other kind is coded anew on load.
    #[test]
    fn a_graph_over_vector_files_saves_no_vectors_and_opens_from_them() {
        let dim = 32;
        let mut state = 0x0BAD_CAFE_u64;
        let points = clustered(QUANTIZE_FROM as u64 + 1000, dim, &mut state);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(VectorLog::new(dir.path().join("vectors"), dim));
        log.write(refs.iter().copied()).unwrap();
        let queries: Vec<Vec<f32>> = (0..20).map(|_| random_unit(dim, &mut state)).collect();
        for quantization in [Quantization::Int8, Quantization::None] {
            let graph = Hnsw::over(dim, 16, 100, quantization, Some(Arc::clone(&log)));
            graph.insert(&refs[..3000]);
            graph.insert(&refs[3000..]);
            let coded = quantization != Quantization::None;
            assert_eq!(graph.is_coded(), coded);
            // A quantized graph reads its vectors from the files from the start.
            assert_eq!(
                graph.vectors_in_memory(),
                if coded { 0 } else { points.len() }
            );
            assert_eq!(graph.vector(42), log.row(graph.vid(42)).unwrap());
            assert_exact_scores(&graph, &queries[..5], 64);
            let mut bytes = Vec::new();
            graph.write_to(&mut bytes).unwrap();
            // Lists (and codes) only: the vectors would be 128 bytes a point.
            assert!(
                bytes.len() < points.len() * (coded as usize * 32 + 4 * 40),
                "{}",
                bytes.len()
            );
            let path = dir.path().join(format!("graph-{quantization}"));
            std::fs::write(&path, &bytes).unwrap();
            let open = |log: Option<&Arc<VectorLog>>| {
                let file = std::fs::File::open(&path).unwrap();
                Hnsw::open_file(file, Some(dim), 100, quantization, log)
            };
            assert!(open(None).is_none(), "the vectors are elsewhere");
            let opened = open(Some(&log)).expect("opens over the files");
            assert_eq!(opened.len(), points.len());
            assert_eq!(opened.is_coded(), coded);
            assert_eq!(
                opened.vectors_in_memory(),
                if coded { 0 } else { points.len() }
            );
            for slot in (0..points.len() as u32).step_by(101) {
                assert_eq!(opened.vector(slot), graph.vector(slot), "{slot}");
            }
            for q in &queries[..5] {
                assert_eq!(
                    opened.search(q, 10, 64, None),
                    graph.search(q, 10, 64, None),
                    "{quantization}"
                );
            }
            // Points inserted after opening are read from the files too.
            let more = clustered(200, dim, &mut state);
            let more: Vec<(u64, Vec<f32>)> = more
                .into_iter()
                .map(|(vid, v)| (vid + 2 * points.len() as u64, v))
                .collect();
            let more_refs: Vec<(u64, &[f32])> =
                more.iter().map(|(i, v)| (*i, v.as_slice())).collect();
            log.write(more_refs.iter().copied()).unwrap();
            opened.insert(&more_refs);
            let hit = opened.search(&more[7].1, 1, 64, None)[0];
            assert_eq!(opened.vid(hit.0), more[7].0);
            assert!(hit.1 < 1e-5);
            if !coded {
                // Rows the files no longer hold: the graph is not opened.
                let file = dir.path().join("vectors").join("00000000.f32");
                let full = std::fs::read(&file).unwrap();
                std::fs::write(&file, &full[..100 * dim * 4]).unwrap();
                assert!(open(Some(&Arc::new(VectorLog::new(
                    dir.path().join("vectors"),
                    dim
                ))))
                .is_none());
                std::fs::write(&file, &full).unwrap();
            }
        }
    }

    /// A slot counted as inserted while its point is still being written (inserts
    /// finish out of order) is not read by a scan.
    #[test]
    fn a_scan_skips_a_slot_still_being_written() {
        let dim = 8;
        let mut state = 0x5CA7_u64;
        let points: Vec<(u64, Vec<f32>)> = (0..10u64)
            .map(|vid| (vid + 1, random_unit(dim, &mut state)))
            .collect();
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        let graph = Hnsw::new(dim, 16, 100, Quantization::None);
        graph.insert(&refs);
        // Another thread has claimed slot 10 and a later slot finished first.
        graph.claimed.fetch_add(1, Mem::AcqRel);
        graph.inserted.fetch_add(1, Mem::AcqRel);
        let hits = graph.search(&points[3].1, 11, 64, None);
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|&(slot, _)| slot < 10));
    }

    /// One thread's visited set, reused across searches of graphs that grow and
    /// shrink: each search starts with nothing visited and marks each slot once.
    #[test]
    fn visited_marks_each_slot_once_per_search_whatever_the_graph_size() {
        let mut visited = Visited::default();
        for (round, n) in [10usize, 1_000, 70, 5_000, 64, 0, 129]
            .into_iter()
            .enumerate()
        {
            visited.reset(n);
            let slots: Vec<u32> = (0..n as u32)
                .filter(|s| !(s + round as u32).is_multiple_of(3))
                .collect();
            for &s in &slots {
                assert!(visited.visit(s), "round {round}: {s} fresh");
            }
            for s in 0..n as u32 {
                assert_eq!(visited.visit(s), !slots.contains(&s), "round {round}: {s}");
            }
            // Past the size given: the set grows.
            assert!(visited.visit(n as u32 + 100));
            assert!(!visited.visit(n as u32 + 100));
        }
    }

    #[test]
    fn a_binary_graph_walks_on_bits_and_rescores_with_vectors() {
        let dim = 64;
        let mut state = 0x00B1_7B17_u64;
        let points = clustered(QUANTIZE_FROM as u64 + 2000, dim, &mut state);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        let binary = Hnsw::new(dim, 16, 100, Quantization::Binary);
        let plain = Hnsw::new(dim, 16, 100, Quantization::None);
        binary.insert(&refs);
        plain.insert(&refs);
        assert!(binary.is_coded());
        assert_eq!(binary.codes(0).len(), 8);
        // Queries near the data, as a question is near its answers.
        let queries: Vec<Vec<f32>> = (0..60)
            .map(|i| {
                let noise = random_unit(dim, &mut state);
                let p = &points[i * 131 % points.len()].1;
                let mut q: Vec<f32> = p.iter().zip(&noise).map(|(a, b)| a + 0.5 * b).collect();
                crate::vectors::normalize(&mut q);
                q
            })
            .collect();
        let exact_walk = recall_of(&plain, &points, &queries, 100);
        let bits_walk = recall_of(&binary, &points, &queries, 300);
        assert!(
            bits_walk >= 0.9 && bits_walk >= exact_walk - 0.1,
            "binary {bits_walk}, f32 {exact_walk}"
        );
        assert_exact_scores(&binary, &queries[..5], 300);
        let mut bytes = Vec::new();
        binary.write_to(&mut bytes).unwrap();
        let loaded =
            Hnsw::read_from(&mut bytes.as_slice(), Some(dim), 100, Quantization::Binary).unwrap();
        assert_eq!(loaded.quantizer.get(), binary.quantizer.get());
        assert_eq!(loaded.codes(99), binary.codes(99));
        let as_int8 =
            Hnsw::read_from(&mut bytes.as_slice(), Some(dim), 100, Quantization::Int8).unwrap();
        assert_eq!(
            as_int8.quantizer.get().map(Quantizer::kind),
            Some(Quantization::Int8)
        );
        assert_eq!(as_int8.codes(99).len(), 64);
    }

    /// A filtered search returns only allowed points, the nearest of them.
    #[test]
    fn a_filtered_search_returns_only_allowed_points() {
        let dim = 16;
        let mut state = 7u64;
        let points: Vec<(u64, Vec<f32>)> = (0..2000u64)
            .map(|vid| (vid, random_unit(dim, &mut state)))
            .collect();
        let graph = Hnsw::new(dim, 16, 200, Quantization::None);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        graph.insert(&refs);
        let q = random_unit(dim, &mut state);
        let allowed = |vid: u64| vid.is_multiple_of(3);
        let got: Vec<u64> = graph
            .search(&q, 10, 100, Some(&allowed))
            .iter()
            .map(|&(s, _)| graph.vid(s))
            .collect();
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|v| v.is_multiple_of(3)));
        let kept: Vec<(u64, Vec<f32>)> = points
            .into_iter()
            .filter(|(v, _)| v.is_multiple_of(3))
            .collect();
        let want = exact(&kept, &q, 10);
        let hits = got.iter().filter(|v| want.contains(v)).count();
        assert!(hits >= 9, "{hits} of 10");
    }

    /// A graph no bigger than a beam times M is compared point by point: exact.
    #[test]
    fn a_small_graph_is_searched_exactly() {
        let dim = 16;
        let mut state = 11u64;
        let points: Vec<(u64, Vec<f32>)> = (0..300u64)
            .map(|vid| (vid, random_unit(dim, &mut state)))
            .collect();
        let graph = Hnsw::new(dim, 16, 200, Quantization::None);
        let refs: Vec<(u64, &[f32])> = points.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        graph.insert(&refs);
        for _ in 0..20 {
            let q = random_unit(dim, &mut state);
            let got: Vec<u64> = graph
                .search(&q, 10, 96, None)
                .iter()
                .map(|&(s, _)| graph.vid(s))
                .collect();
            assert_eq!(got, exact(&points, &q, 10));
        }
    }

    #[test]
    fn levels_decay_by_m_and_are_repeatable() {
        let graph = Hnsw::new(8, 16, 100, Quantization::None);
        let levels: Vec<u8> = (0..100_000u64).map(|v| graph.draw_level(v)).collect();
        let above = levels.iter().filter(|&&l| l > 0).count() as f64 / 1e5;
        assert!((above - 1.0 / 16.0).abs() < 0.01, "{above}");
        assert_eq!(
            graph.draw_level(42),
            Hnsw::new(8, 16, 50, Quantization::None).draw_level(42)
        );
    }
}
