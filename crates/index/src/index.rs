//! The index: one tantivy store (source of truth) plus the derived HNSW graph.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tantivy::collector::{Collector, DocSetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::merge_policy::{LogMergePolicy, MergeCandidate, MergePolicy};
use tantivy::query::{BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, QueryParser};
use tantivy::schema::{OwnedValue, Value as _};
use tantivy::tokenizer::TokenStream as _;
use tantivy::{
    DocAddress, DocId, Index as TantivyIndex, IndexReader, IndexWriter, ReloadPolicy, Score,
    Searcher, SegmentMeta, SegmentReader, TantivyDocument, Term,
};

use crate::error::{Error, Result};
use crate::filter::{metadata_terms, Filter};
use crate::fresh::{merge, Fresh, FreshBatch};
use crate::language::Language;
use crate::record::Record;
use crate::schema::{self, Fields};
use crate::vectors::{normalize, Graph, HnswParams, LiveSet};

/// On-disk format version written to the manifest; bumped on incompatible changes.
/// 2: tenants, per-tenant document keys, typed metadata terms for filters.
pub const FORMAT_VERSION: u32 = 2;

/// The HNSW graph is rebuilt without its deleted points when they pass this share.
const GRAPH_TOMBSTONE_RATIO: f64 = 0.3;
/// A store segment is rewritten without its deleted chunks when they pass this share of
/// its chunks.
const STORE_DELETED_RATIO: f64 = 0.3;
/// Merges never build a store segment above this many live chunks. A large collection
/// keeps several segments of about this size instead of one, and a keyword query
/// searches them in parallel (a segment is the unit tantivy can split a query into).
const SEGMENT_MAX_DOCS: u64 = 1 << 18;
/// A filtered vector search compares every matching vector exactly when the filter
/// keeps at most this share of the live chunks (a graph walk would have to visit about
/// `1 / share` points per match) ...
const EXACT_SCAN_SHARE: f64 = 0.05;
/// ... or at most this many chunks.
const EXACT_SCAN_MIN: usize = 2_048;
/// The background thread inserts fresh points into the graph this many at a time,
/// publishing a snapshot after each step, so searches scan fewer fresh points as it
/// goes (and a pause takes effect within a step).
const INSERT_STEP: usize = 2_000;
/// The graph is saved after a commit once this share of its points is not in the saved
/// copy (a missing point only costs an insert when the index is next opened) ...
const SAVE_UNSAVED_SHARE: f64 = 0.125;
/// ... or this many points.
const SAVE_UNSAVED_MAX: usize = 10_000;

const MANIFEST: &str = "trawl.json";
const STORE_DIR: &str = "store";
const HNSW_DIR: &str = "hnsw";
const WRITER_HEAP: usize = 128 * 1024 * 1024;
/// Decompressed blocks of stored chunks each segment reader keeps (tantivy's default
/// is 100, about 1.6 MB per segment): fetches land on random blocks, so a large cache
/// mostly holds memory.
const DOC_STORE_CACHE: usize = 8;
/// Filters whose matching vids a snapshot keeps (it forgets them all when full).
const FILTER_CACHE: usize = 64;

/// Options fixed when an index is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexOptions {
    /// Vector dimension; 0 for a keyword-only index.
    pub dim: usize,
    /// HNSW parameters.
    #[serde(default)]
    pub hnsw: HnswParams,
    /// Language of the keyword analyzer.
    #[serde(default)]
    pub language: Language,
    /// Extra weight of a query term matching the title, on top of its match in the
    /// body (which already holds the title). 0 by default: on SciFact train any boost
    /// lowered BM25 nDCG@10 (0.680 at 0, 0.678 at 0.1, 0.657 at 0.5, 0.584 at 2).
    #[serde(default)]
    pub title_boost: f32,
    /// Free-form data the caller keeps with the index (e.g. which model made the
    /// vectors).
    #[serde(default)]
    pub extra: Map<String, Value>,
}

impl IndexOptions {
    /// Options for vectors of `dim` dimensions, other settings default.
    #[must_use]
    pub fn new(dim: usize) -> Self {
        IndexOptions {
            dim,
            hnsw: HnswParams::default(),
            language: Language::default(),
            title_boost: 0.0,
            extra: Map::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    /// Each heading of a chunk's path is its own stored value. Indexes made before
    /// stored the path joined with `" > "` (absent: false), so a heading holding
    /// `" > "` came back as two.
    #[serde(default)]
    heading_values: bool,
    #[serde(flatten)]
    options: IndexOptions,
}

/// A search result from one retriever: the chunk's point id and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The chunk's point id; pass to [`Index::fetch`].
    pub id: u64,
    /// Cosine similarity (vector search) or BM25 score (keyword search).
    pub score: f32,
}

/// What the collection's keyword statistics say about one query, for fusion that adapts
/// per query (see [`View::keyword_signals`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeywordSignals {
    /// The keyword top score over the largest BM25 score the query's terms could reach
    /// (each term's IDF times `k1 + 1`). Terms missing from the collection count
    /// against it. Near 0 when the best keyword match shares little of the query's
    /// informative vocabulary.
    pub coverage: f32,
    /// The mean BM25 IDF, `ln(1 + (N - df + 0.5) / (df + 0.5))` over N live chunks, of
    /// the query's analysed terms that occur in the collection (0 when none does).
    /// About `ln(N / df)`, so it depends on how common the terms are, not on the
    /// collection's size: low when every term is common, as when a question is asked
    /// in the collection's everyday words and BM25 has little to tell chunks apart by.
    pub mean_idf: f32,
}

/// Size facts about an index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Distinct documents.
    pub documents: usize,
    /// Chunks.
    pub chunks: usize,
    /// Vector dimension (0 for keyword-only).
    pub dim: usize,
    /// Points in the HNSW graph, including deleted ones not yet compacted.
    pub graph_points: usize,
    /// Committed points not in the HNSW graph yet: searched by exact comparison until
    /// the background thread has inserted them.
    pub unindexed_points: usize,
    /// Deleted chunks still in the HNSW graph or among the unindexed points (excluded
    /// from searches; dropped when the graph is compacted).
    pub tombstones: usize,
    /// Deleted chunks still in the keyword store's segments (dropped when segments
    /// merge).
    pub deleted_chunks: u64,
    /// Tantivy segments.
    pub segments: usize,
    /// Bytes on disk.
    pub disk_bytes: u64,
    /// Documents and chunks per tenant (`""` for documents without one).
    pub tenants: BTreeMap<String, TenantStats>,
}

/// Counts for one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TenantStats {
    /// Distinct documents.
    pub documents: usize,
    /// Chunks.
    pub chunks: usize,
}

/// A document in the index, as listed by [`Index::documents`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentInfo {
    /// Its tenant (`""` for none).
    pub tenant: String,
    /// Its id.
    pub doc_id: String,
    /// The file it came from, if any.
    pub source: Option<String>,
    /// Its chunks.
    pub chunks: usize,
}

/// What a search sees: one committed state of the store, its live vids, and their
/// vectors: in the graph, or in the fresh set while the background thread has not
/// inserted them yet. The graph may hold newer points too (`live` excludes them), and
/// a point may briefly be in both (searches count it once).
struct Snapshot {
    searcher: Searcher,
    live: Arc<LiveSet>,
    /// Where each live chunk is in the store, by vid.
    addresses: Arc<Addresses>,
    graph: Arc<Graph>,
    fresh: Fresh,
    /// The vids matching filters recently used on this store state, keyed by the
    /// filter's text (shared by the snapshots the background thread publishes for the
    /// same store state). A tenant or a fixed filter repeats across queries, and
    /// collecting the vids of a broad one costs more than the graph walk (at 1M
    /// chunks, a 50% filter is 500K vids per query).
    filters: Arc<Mutex<HashMap<String, Arc<LiveSet>>>>,
}

impl Snapshot {
    fn new(searcher: Searcher, live: Live, graph: Arc<Graph>, fresh: Fresh) -> Snapshot {
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
    fn with_vectors(&self, graph: Arc<Graph>, fresh: Fresh) -> Snapshot {
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
    fn tombstones(&self) -> usize {
        (self.graph.len() + self.fresh.len()).saturating_sub(self.live.len())
    }

    /// Every committed vid below this is in the graph or the fresh set.
    fn covers(&self) -> u64 {
        self.fresh.covers().unwrap_or_else(|| self.graph.next_vid())
    }
}

/// The background thread's state, under `Shared::work`.
#[derive(Default)]
struct Work {
    /// Stop once the work in hand is done (or at once, when paused).
    stop: bool,
    /// Graph insertion is paused ([`Index::set_graph_indexing`]).
    paused: bool,
    /// The thread is inserting, compacting or saving.
    busy: bool,
    /// This handle has committed, so it may save the graph (a reader never does: a
    /// writer in another process owns the files).
    may_save: bool,
    /// Points in the last saved graph.
    saved_points: usize,
    /// The graph in memory was rebuilt since the last save.
    rebuilt: bool,
    /// Why the last save failed, until one succeeds.
    save_error: Option<String>,
    /// Set when the thread has died (a panic inside hnsw_rs): fresh points then stay
    /// searchable by exact comparison, and the next open catches the graph up.
    failed: Option<String>,
}

/// What an [`Index`] shares with its background graph thread.
struct Shared {
    path: PathBuf,
    dim: usize,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises the steps that replace the snapshot (commit, reload, the background
    /// thread's publishing); taken after `Index::writer` when both are needed.
    update: Mutex<()>,
    work: Mutex<Work>,
    /// Signalled when there is work for the thread, when it finishes a step, and on
    /// stop.
    signal: Condvar,
    /// The smallest candidate list a graph search uses ([`Index::set_ef_search`]).
    ef_search: AtomicUsize,
}

#[derive(Default, Serialize, Deserialize)]
struct CommitPayload {
    next_vid: u64,
}

/// A hybrid index in one directory. `Send + Sync`: searches may run from many threads
/// while one thread adds and commits; they see the last commit.
pub struct Index {
    path: PathBuf,
    options: IndexOptions,
    /// See `Manifest::heading_values`.
    heading_values: bool,
    store: TantivyIndex,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    /// Vectors added since the last commit, fresh (searchable) from the commit on.
    pending: Mutex<FreshBatch>,
    next_vid: Mutex<u64>,
    shared: Arc<Shared>,
    /// The thread inserting fresh points into the graph, compacting and saving it.
    worker: Option<std::thread::JoinHandle<()>>,
    /// Keyword searches running now: one alone spreads its segments over the cores,
    /// several take one core each (see [`top_docs`]).
    keyword_searches: AtomicUsize,
}

impl Shared {
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().expect("snapshot lock"))
    }

    /// Whether the graph has too many deleted points (compacted by rebuilding it).
    fn compaction_due(snap: &Snapshot) -> bool {
        let dead = snap.tombstones();
        dead > 0
            && dead as f64 > (snap.graph.len() + snap.fresh.len()) as f64 * GRAPH_TOMBSTONE_RATIO
    }

    fn save_due(&self, work: &Work, snap: &Snapshot) -> bool {
        if !work.may_save {
            return false;
        }
        let points = snap.graph.len();
        let unsaved = points.saturating_sub(work.saved_points);
        let due = work.rebuilt
            || work.saved_points == 0
            || unsaved as f64 >= work.saved_points as f64 * SAVE_UNSAVED_SHARE
            || unsaved >= SAVE_UNSAVED_MAX;
        due && (unsaved > 0 || work.rebuilt)
    }

    /// Whether the thread has something to do.
    fn has_work(&self, work: &Work) -> bool {
        if self.dim == 0 {
            return false;
        }
        let snap = self.snapshot();
        !snap.fresh.is_empty() || Self::compaction_due(&snap) || self.save_due(work, &snap)
    }

    /// The background thread: waits for work, does it one step at a time.
    fn run(&self) {
        loop {
            {
                let mut work = self.work.lock().expect("work lock");
                loop {
                    let ready = !work.paused && !work.busy && self.has_work(&work);
                    if work.stop && !ready && !work.busy {
                        self.signal.notify_all();
                        return;
                    }
                    if ready {
                        work.busy = true;
                        break;
                    }
                    self.signal.notify_all();
                    work = self.signal.wait(work).expect("work lock");
                }
            }
            let step = self.step_guarded();
            let mut work = self.work.lock().expect("work lock");
            work.busy = false;
            self.signal.notify_all();
            if let Err(reason) = step {
                tracing::error!("HNSW graph thread stopped: {reason}");
                work.failed = Some(reason);
                return;
            }
        }
    }

    /// One step, a panic (inside hnsw_rs) turned into an error.
    fn step_guarded(&self) -> std::result::Result<(), String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step())).map_err(|e| {
            let what = e
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("the HNSW graph thread panicked: {what}")
        })
    }

    /// Compacts the graph, or inserts the oldest fresh points, or saves the graph;
    /// then publishes a snapshot with the result. Only one thread runs steps at a time
    /// (`Work::busy`), so the graph never changes under a save.
    fn step(&self) {
        let snap = self.snapshot();
        if Self::compaction_due(&snap) {
            tracing::info!(tombstones = snap.tombstones(), "compacting the HNSW graph");
            let front = snap.fresh.front(snap.fresh.len());
            let covers = front.covers.unwrap_or(0);
            let graph = Arc::new(snap.graph.rebuilt(&snap.live, &front.points, covers));
            self.publish(&graph, &front);
            self.work.lock().expect("work lock").rebuilt = true;
            return;
        }
        if !snap.fresh.is_empty() {
            let front = snap.fresh.front(INSERT_STEP);
            snap.graph.insert(&front.points);
            if let Some(covers) = front.covers {
                snap.graph.advance_next_vid(covers);
            }
            self.publish(&snap.graph, &front);
            return;
        }
        let work = self.work.lock().expect("work lock");
        if !self.save_due(&work, &snap) {
            return;
        }
        drop(work);
        let saved = snap.graph.save(&self.path.join(HNSW_DIR));
        let mut work = self.work.lock().expect("work lock");
        match saved {
            Ok(()) => {
                work.saved_points = snap.graph.len();
                work.rebuilt = false;
                work.save_error = None;
            }
            Err(e) => {
                // Only costs a catch-up on the next open; tried again after more points.
                tracing::warn!("HNSW graph not saved: {e}");
                work.saved_points = snap.graph.len();
                work.rebuilt = false;
                work.save_error = Some(e.to_string());
            }
        }
    }

    /// Replaces the snapshot with the same store state, `graph`, and the fresh set
    /// without the points `front` took (now in `graph`).
    fn publish(&self, graph: &Arc<Graph>, front: &crate::fresh::Front<'_>) {
        let _update = self.update.lock().expect("update lock");
        let current = self.snapshot();
        let next = current.with_vectors(Arc::clone(graph), current.fresh.after(front));
        *self.snapshot.write().expect("snapshot lock") = Arc::new(next);
    }
}

impl Drop for Index {
    /// Stops the background thread after it has inserted the committed vectors still
    /// waiting and saved the graph when due (as long as a commit used to take), or at
    /// once while graph indexing is paused. Nothing committed depends on it: the store
    /// holds every vector and the next open catches the graph up.
    fn drop(&mut self) {
        // Even a poisoned lock must not leave the thread waiting forever.
        let mut work = self
            .shared
            .work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work.stop = true;
        self.shared.signal.notify_all();
        drop(work);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("path", &self.path)
            .field("dim", &self.options.dim)
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Creates a new index at `path` (the folder is created; it must not hold one).
    ///
    /// # Errors
    /// I/O errors, or [`Error::AlreadyExists`] when a manifest is already there.
    pub fn create(path: &Path, options: IndexOptions) -> Result<Index> {
        let manifest = path.join(MANIFEST);
        if manifest.exists() {
            return Err(Error::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let store_dir = path.join(STORE_DIR);
        std::fs::create_dir_all(&store_dir).map_err(|source| Error::Io {
            path: store_dir.clone(),
            source,
        })?;
        let (schema, _) = schema::build();
        TantivyIndex::create_in_dir(&store_dir, schema)?;
        let bytes = serde_json::to_vec_pretty(&Manifest {
            format_version: FORMAT_VERSION,
            heading_values: true,
            options,
        })
        .expect("manifest serialises");
        // The manifest is written last: its presence means the index is complete.
        let tmp = path.join("trawl.json.tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &manifest))
            .map_err(|source| Error::Io {
                path: manifest.clone(),
                source,
            })?;
        Index::open(path)
    }

    /// Opens the index at `path`, catching the HNSW graph up with the store.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no index, [`Error::Incompatible`] for another
    /// format version, or I/O and tantivy errors.
    pub fn open(path: &Path) -> Result<Index> {
        let manifest_path = path.join(MANIFEST);
        let bytes = match std::fs::read(&manifest_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    path: path.to_owned(),
                })
            }
            Err(source) => {
                return Err(Error::Io {
                    path: manifest_path,
                    source,
                })
            }
        };
        let version: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: manifest_path.clone(),
            reason: e.to_string(),
        })?;
        let found = version
            .get("format_version")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(FORMAT_VERSION) {
            return Err(Error::Incompatible {
                path: path.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                expected: FORMAT_VERSION,
            });
        }
        let manifest: Manifest = serde_json::from_value(version).map_err(|e| Error::Corrupt {
            path: manifest_path,
            reason: e.to_string(),
        })?;
        let store = TantivyIndex::open(store_directory(&path.join(STORE_DIR))?)?;
        store
            .tokenizers()
            .register(schema::ANALYZER, manifest.options.language.analyzer());
        let fields = Fields::of(&store.schema()).map_err(|reason| Error::Corrupt {
            path: path.to_owned(),
            reason,
        })?;
        let reader = store
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE)
            .try_into()?;
        let payload: CommitPayload = store
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        let searcher = reader.searcher();
        let live = live_set(&searcher)?;
        let heading_values = manifest.heading_values;
        let options = manifest.options;
        let graph = Graph::load(&path.join(HNSW_DIR), options.hnsw)
            .unwrap_or_else(|| Graph::new(options.hnsw, live.vids.len()));
        let saved_points = graph.len();
        let missing = missing_points(&searcher, fields, &live.vids, graph.next_vid(), options.dim)?;
        if !missing.is_empty() {
            tracing::info!(
                points = missing.len(),
                "catching the HNSW graph up with the store"
            );
            let refs: Vec<(u64, &[f32])> = missing
                .iter()
                .map(|(vid, v)| (*vid, v.as_slice()))
                .collect();
            graph.insert(&refs);
        }
        drop(missing);
        let max_vid = searcher_max_vid(&searcher)?;
        let next_vid = payload.next_vid.max(max_vid).max(graph.next_vid());
        graph.advance_next_vid(payload.next_vid.max(max_vid));
        let graph = Arc::new(graph);
        let dim = options.dim;
        let shared = Arc::new(Shared {
            path: path.to_owned(),
            dim,
            snapshot: RwLock::new(Arc::new(Snapshot::new(
                searcher,
                live,
                graph,
                Fresh::default(),
            ))),
            update: Mutex::new(()),
            work: Mutex::new(Work {
                saved_points,
                ..Work::default()
            }),
            signal: Condvar::new(),
            ef_search: AtomicUsize::new(options.hnsw.ef_search),
        });
        let worker = if dim > 0 {
            let shared = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("trawl-graph".into())
                    .spawn(move || shared.run())
                    .map_err(|source| Error::Io {
                        path: path.to_owned(),
                        source,
                    })?,
            )
        } else {
            None
        };
        // A graph too full of deleted points is compacted by the thread.
        shared.signal.notify_all();
        Ok(Index {
            path: path.to_owned(),
            options,
            heading_values,
            store,
            fields,
            reader,
            writer: Mutex::new(None),
            pending: Mutex::new(FreshBatch::new(dim)),
            next_vid: Mutex::new(next_vid),
            shared,
            worker,
            keyword_searches: AtomicUsize::new(0),
        })
    }

    /// Whether an index exists at `path` (cheap: looks for its manifest only).
    #[must_use]
    pub fn exists(path: &Path) -> bool {
        path.join(MANIFEST).is_file()
    }

    /// Opens the index at `path`, creating it with `options` when there is none.
    ///
    /// # Errors
    /// As [`Index::open`] and [`Index::create`].
    pub fn open_or_create(path: &Path, options: IndexOptions) -> Result<Index> {
        match Index::open(path) {
            Err(Error::NotFound { .. }) => Index::create(path, options),
            other => other,
        }
    }

    /// The folder the index lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the index was created with.
    #[must_use]
    pub fn options(&self) -> &IndexOptions {
        &self.options
    }

    /// Adds chunks. They become visible to searches at the next [`Index::commit`].
    ///
    /// # Errors
    /// [`Error::Dimension`] when a vector has the wrong length and
    /// [`Error::InvalidTenant`] for a tenant name with U+001F (nothing is added then),
    /// [`Error::Locked`] when another writer holds the index.
    pub fn add(&self, records: Vec<Record>) -> Result<()> {
        for r in &records {
            check_tenant(&r.tenant)?;
            if r.vector.len() != self.options.dim {
                return Err(Error::Dimension {
                    expected: self.options.dim,
                    got: r.vector.len(),
                });
            }
        }
        let mut writer = self.writer()?;
        let writer = writer.as_mut().expect("writer opened");
        let mut pending = self.pending.lock().expect("pending lock");
        let mut next_vid = self.next_vid.lock().expect("vid lock");
        for mut r in records {
            let vid = *next_vid;
            *next_vid += 1;
            normalize(&mut r.vector);
            writer.add_document(self.to_doc(vid, &r))?;
            if self.options.dim > 0 {
                pending.push(vid, &r.vector);
            }
        }
        Ok(())
    }

    /// Deletes every chunk of a document of the default tenant (`""`), at the next
    /// commit. Chunks added for the same id before this call, committed or not, are
    /// deleted too.
    ///
    /// # Errors
    /// [`Error::Locked`] when another writer holds the index.
    pub fn delete_document(&self, doc_id: &str) -> Result<()> {
        self.delete_tenant_document("", doc_id)
    }

    /// As [`Index::delete_document`] for a document of `tenant`.
    ///
    /// # Errors
    /// [`Error::Locked`] when another writer holds the index.
    pub fn delete_tenant_document(&self, tenant: &str, doc_id: &str) -> Result<()> {
        check_tenant(tenant)?;
        let mut writer = self.writer()?;
        let writer = writer.as_mut().expect("writer opened");
        writer.delete_term(Term::from_field_text(
            self.fields.doc_key,
            &schema::doc_key(tenant, doc_id),
        ));
        Ok(())
    }

    /// Makes everything added and deleted so far durable and visible, as one atomic
    /// step. Returns tantivy's opstamp for the commit.
    ///
    /// New vectors are searchable when this returns: searches compare the query with
    /// them exactly until a background thread has inserted them into the HNSW graph
    /// (see [`Index::flush_graph`]). The graph is saved by that thread too; the store
    /// is the source of truth, so a graph that lags behind it after a crash only costs
    /// a catch-up on the next open.
    ///
    /// # Errors
    /// I/O and tantivy errors; the previous commit stays intact.
    pub fn commit(&self) -> Result<u64> {
        let mut guard = self.writer()?;
        let writer = guard.as_mut().expect("writer opened");
        let next_vid = *self.next_vid.lock().expect("vid lock");
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(
            &serde_json::to_string(&CommitPayload { next_vid }).expect("payload serialises"),
        );
        let opstamp = prepared.commit()?;
        let _update = self.shared.update.lock().expect("update lock");
        let pending = std::mem::replace(
            &mut *self.pending.lock().expect("pending lock"),
            FreshBatch::new(self.options.dim),
        );
        self.reader.reload()?;
        let mut searcher = self.reader.searcher();
        if self.compact_store(writer, &searcher) {
            self.reader.reload()?;
            searcher = self.reader.searcher();
        }
        let live = live_set(&searcher)?;
        let snap = self.snapshot();
        let graph = Arc::clone(&snap.graph);
        let fresh = if pending.is_empty() && snap.fresh.is_empty() {
            // Nothing waits for the graph: it covers this commit already.
            graph.advance_next_vid(next_vid);
            Fresh::default()
        } else {
            snap.fresh.with(pending.covering(next_vid))
        };
        *self.shared.snapshot.write().expect("snapshot lock") =
            Arc::new(Snapshot::new(searcher, live, graph, fresh));
        let mut work = self.shared.work.lock().expect("work lock");
        work.may_save = true;
        self.shared.signal.notify_all();
        Ok(opstamp)
    }

    /// Makes other processes' commits visible to this handle's searches (a writer's own
    /// commits are visible as soon as [`Index::commit`] returns).
    ///
    /// # Errors
    /// I/O and tantivy errors; the handle keeps its previous state then.
    pub fn reload(&self) -> Result<()> {
        let _update = self.shared.update.lock().expect("update lock");
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        let live = live_set(&searcher)?;
        let snap = self.snapshot();
        let from = snap.covers();
        let missing = missing_points(&searcher, self.fields, &live.vids, from, self.options.dim)?;
        let payload: CommitPayload = self
            .store
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        let covers = payload.next_vid.max(searcher_max_vid(&searcher)?);
        {
            let mut next_vid = self.next_vid.lock().expect("vid lock");
            *next_vid = (*next_vid).max(covers).max(snap.graph.next_vid());
        }
        let fresh = if missing.is_empty() && covers <= from {
            snap.fresh.clone()
        } else {
            let mut batch = FreshBatch::new(self.options.dim);
            for (vid, v) in &missing {
                batch.push(*vid, v);
            }
            snap.fresh.with(batch.covering(covers.max(from)))
        };
        *self.shared.snapshot.write().expect("snapshot lock") = Arc::new(Snapshot::new(
            searcher,
            live,
            Arc::clone(&snap.graph),
            fresh,
        ));
        self.shared.signal.notify_all();
        Ok(())
    }

    /// Blocks until every committed vector is in the HNSW graph and the background
    /// thread is idle (having saved the graph when the save policy asks for it). Not
    /// needed for searches, which see every commit at once; useful before measuring,
    /// or to have the graph saved before a process exits without dropping the index.
    ///
    /// # Errors
    /// [`Error::Graph`] when the background thread has died or the last graph save
    /// failed (the store is intact; the next open catches the graph up).
    pub fn flush_graph(&self) -> Result<()> {
        let mut work = self.shared.work.lock().expect("work lock");
        loop {
            if let Some(reason) = &work.failed {
                return Err(Error::Graph {
                    path: self.path.clone(),
                    reason: format!("background thread stopped: {reason}"),
                });
            }
            if self.worker.is_none() || (!work.busy && !self.shared.has_work(&work)) {
                break;
            }
            if work.paused {
                // Nothing would happen: do the work in this thread.
                work.busy = true;
                drop(work);
                let step = self.shared.step_guarded();
                work = self.shared.work.lock().expect("work lock");
                work.busy = false;
                if let Err(reason) = step {
                    work.failed = Some(reason);
                }
                continue;
            }
            work = self.shared.signal.wait(work).expect("work lock");
        }
        match &work.save_error {
            Some(reason) => Err(Error::Graph {
                path: self.path.clone(),
                reason: format!("not saved: {reason}"),
            }),
            None => Ok(()),
        }
    }

    /// Sets the HNSW search's candidate list size for this handle (at least `k` is
    /// used), trading latency for recall without rebuilding the graph. Starts at the
    /// `ef_search` the index was created with; not saved.
    pub fn set_ef_search(&self, ef_search: usize) {
        self.shared
            .ef_search
            .store(ef_search.max(1), AtomicOrdering::Relaxed);
    }

    /// Turns the background insertion of committed vectors into the HNSW graph off
    /// (`false`) or back on (the default). While it is off, committed chunks stay
    /// searchable by exact comparison, which grows slower as they accumulate: useful to
    /// keep the cores for a bulk load, and to test the unindexed path.
    /// [`Index::flush_graph`] still inserts everything, in the calling thread.
    pub fn set_graph_indexing(&self, on: bool) {
        let mut work = self.shared.work.lock().expect("work lock");
        work.paused = !on;
        self.shared.signal.notify_all();
    }

    /// Rewrites the store segments whose deleted chunks pass [`STORE_DELETED_RATIO`] of
    /// their chunks without them (small ones together, up to [`SEGMENT_MAX_DOCS`]), so
    /// churn does not grow the directory without bound. Returns whether it merged.
    fn compact_store(&self, writer: &mut IndexWriter, searcher: &Searcher) -> bool {
        let churned: Vec<_> = searcher
            .segment_readers()
            .iter()
            .filter(|seg| {
                f64::from(seg.num_deleted_docs()) > f64::from(seg.max_doc()) * STORE_DELETED_RATIO
            })
            .map(|seg| (seg.segment_id(), u64::from(seg.num_docs())))
            .collect();
        let mut merged = false;
        for ids in capped_groups(churned, SEGMENT_MAX_DOCS, 1) {
            tracing::info!(
                segments = ids.len(),
                "dropping deleted chunks from the store"
            );
            // A merge can fail when the merge policy is already merging one of these
            // segments; the deleted chunks then go with that merge or a later commit's.
            match writer.merge(&ids).wait() {
                Ok(_) => merged = true,
                Err(e) => tracing::debug!("segments not merged: {e}"),
            }
        }
        if merged {
            let _ = writer.garbage_collect_files().wait();
        }
        merged
    }

    /// Drops everything added or deleted since the last commit.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn rollback(&self) -> Result<()> {
        if let Some(w) = self.writer.lock().expect("writer lock").as_mut() {
            w.rollback()?;
        }
        *self.pending.lock().expect("pending lock") = FreshBatch::new(self.options.dim);
        Ok(())
    }

    /// Discards what was added or deleted since the last commit and gives up the
    /// writer lock, so that another handle or process can write. This handle still
    /// searches; its next add or delete takes the lock again.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn release_writer(&self) -> Result<()> {
        let mut guard = self.writer.lock().expect("writer lock");
        if let Some(mut w) = guard.take() {
            w.rollback()?;
        }
        *self.pending.lock().expect("pending lock") = FreshBatch::new(self.options.dim);
        Ok(())
    }

    /// The `k` chunks whose vectors are nearest `query` (cosine), best first.
    ///
    /// # Errors
    /// [`Error::Dimension`] when `query` has the wrong length.
    pub fn search_vector(&self, query: &[f32], k: usize) -> Result<Vec<Scored>> {
        self.search_vector_filtered(query, k, None)
    }

    /// The `k` best chunks for `query` by BM25 over title, headings and text. Any user
    /// text is accepted: query syntax that does not parse is searched as words, and
    /// colons never name a field.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn search_keyword(&self, query: &str, k: usize) -> Result<Vec<Scored>> {
        self.search_keyword_filtered(query, k, None)
    }

    /// The `k` chunks matching `filter` whose vectors are nearest `query`, best first
    /// (see [`View::search_vector`]).
    ///
    /// # Errors
    /// As [`View::search_vector`].
    pub fn search_vector_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        self.view().search_vector(query, k, filter)
    }

    /// As [`Index::search_keyword`], among the chunks matching `filter` only (see
    /// [`View::search_keyword`]).
    ///
    /// # Errors
    /// As [`View::search_keyword`].
    pub fn search_keyword_filtered(
        &self,
        query: &str,
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        self.view().search_keyword(query, k, filter)
    }

    /// How many live chunks match `filter`.
    ///
    /// # Errors
    /// As [`View::count`].
    pub fn count(&self, filter: &Filter) -> Result<usize> {
        self.view().count(filter)
    }

    /// See [`View::keyword_signals`].
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn keyword_signals(&self, query: &str, top_score: f32) -> Result<KeywordSignals> {
        self.view().keyword_signals(query, top_score)
    }

    /// See [`View::term_idfs`].
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn term_idfs(&self, query: &str) -> Result<Vec<(String, f32, u64)>> {
        self.view().term_idfs(query)
    }

    /// The stored chunks for the given point ids, in the same order; ids no longer in
    /// the index (deleted since the search) are left out. Searching and fetching through
    /// one [`View`] instead never loses a hit to a commit in between.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>> {
        self.view().fetch(ids)
    }

    /// The last commit, fixed: searches and fetches through the view all see it, while
    /// the index moves on with later commits.
    #[must_use]
    pub fn view(&self) -> View<'_> {
        View {
            index: self,
            snap: self.snapshot(),
        }
    }

    /// The vids of the live chunks matching `filter` in a snapshot, cached in it (a
    /// dashboard repeats its filters; collecting the matches is most of a filtered
    /// search).
    fn matching(&self, snap: &Snapshot, filter: &Filter) -> Result<Arc<LiveSet>> {
        let key = filter.to_string();
        if let Some(m) = snap.filters.lock().expect("filter cache lock").get(&key) {
            return Ok(Arc::clone(m));
        }
        let q = filter.to_query(&self.fields)?;
        let mut allowed = LiveSet::default();
        for vid in snap.searcher.search(&*q, &VidCollector)? {
            allowed.insert(vid);
        }
        let matching = Arc::new(allowed);
        let mut cache = snap.filters.lock().expect("filter cache lock");
        if cache.len() >= FILTER_CACHE {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&matching));
        Ok(matching)
    }

    /// The content hash stored with a document of the default tenant, if the document
    /// is in the index.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn document_hash(&self, doc_id: &str) -> Result<Option<String>> {
        self.tenant_document_hash("", doc_id)
    }

    /// As [`Index::document_hash`] for a document of `tenant`.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn tenant_document_hash(&self, tenant: &str, doc_id: &str) -> Result<Option<String>> {
        let snap = self.snapshot();
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.fields.doc_key, &schema::doc_key(tenant, doc_id)),
            tantivy::schema::IndexRecordOption::Basic,
        );
        let top = snap
            .searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, addr)) = top.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = snap.searcher.doc(*addr)?;
        Ok(Some(str_of(&doc, self.fields.doc_hash)))
    }

    /// Counts and sizes, overall and per tenant. Reads fast fields only, never the
    /// stored chunks.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn stats(&self) -> Result<Stats> {
        let snap = self.snapshot();
        let docs = self.documents_in(&snap, None, false)?;
        let mut tenants: BTreeMap<String, TenantStats> = BTreeMap::new();
        for d in &docs {
            let t = tenants.entry(d.tenant.clone()).or_default();
            t.documents += 1;
            t.chunks += d.chunks;
        }
        let graph_points = snap.graph.len();
        let tombstones = if self.options.dim > 0 {
            snap.tombstones()
        } else {
            0
        };
        Ok(Stats {
            documents: docs.len(),
            chunks: usize::try_from(snap.searcher.num_docs()).unwrap_or(usize::MAX),
            dim: self.options.dim,
            graph_points,
            unindexed_points: snap.fresh.len(),
            tombstones,
            deleted_chunks: snap
                .searcher
                .segment_readers()
                .iter()
                .map(|s| u64::from(s.num_deleted_docs()))
                .sum(),
            segments: snap.searcher.segment_readers().len(),
            disk_bytes: dir_size(&self.path),
            tenants,
        })
    }

    /// The documents in the index (of `tenant` only, when given), sorted by tenant and
    /// id. Reads fast fields only.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn documents(&self, tenant: Option<&str>) -> Result<Vec<DocumentInfo>> {
        self.documents_in(&self.snapshot(), tenant, true)
    }

    /// The documents of a store state (of one tenant, or all), sorted by key, with
    /// their sources when `with_sources`. Document keys are read by streaming each
    /// segment's key dictionary once, not looked up one by one (at 1M documents the
    /// lookups took seconds); a source is a lookup per document, hence optional.
    fn documents_in(
        &self,
        snap: &Snapshot,
        tenant: Option<&str>,
        with_sources: bool,
    ) -> Result<Vec<DocumentInfo>> {
        let mut by_key: HashMap<String, (Option<String>, usize)> = HashMap::new();
        let prefix = tenant.map(|t| format!("{t}{}", schema::KEY_SEP));
        let corrupt = |e: std::io::Error| Error::Corrupt {
            path: self.path.clone(),
            reason: format!("document keys: {e}"),
        };
        for seg in snap.searcher.segment_readers() {
            let Some(keys) = seg.fast_fields().str("doc_key")? else {
                continue;
            };
            let sources = if with_sources {
                seg.fast_fields().str("source")?
            } else {
                None
            };
            // Chunks and a first chunk per key ordinal.
            let mut per_ord: Vec<(usize, DocId)> = vec![(0, 0); keys.num_terms()];
            for doc in seg.doc_ids_alive() {
                if let Some(ord) = keys.term_ords(doc).next() {
                    if let Some(slot) = usize::try_from(ord).ok().and_then(|o| per_ord.get_mut(o)) {
                        if slot.0 == 0 {
                            slot.1 = doc;
                        }
                        slot.0 += 1;
                    }
                }
            }
            let mut stream = keys.dictionary().stream().map_err(corrupt)?;
            while stream.advance() {
                let Some(&(chunks, doc)) = usize::try_from(stream.term_ord())
                    .ok()
                    .and_then(|o| per_ord.get(o))
                else {
                    continue;
                };
                if chunks == 0 {
                    continue;
                }
                let key = String::from_utf8_lossy(stream.key());
                if prefix
                    .as_ref()
                    .is_some_and(|p| !key.starts_with(p.as_str()))
                {
                    continue;
                }
                let entry = by_key.entry(key.into_owned()).or_insert((None, 0));
                entry.1 += chunks;
                if entry.0.is_none() {
                    if let Some(src) = &sources {
                        if let Some(sord) = src.term_ords(doc).next() {
                            let mut s = String::new();
                            src.ord_to_str(sord, &mut s).map_err(corrupt)?;
                            entry.0 = Some(s);
                        }
                    }
                }
            }
        }
        let mut docs: Vec<(String, (Option<String>, usize))> = by_key.into_iter().collect();
        docs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(docs
            .into_iter()
            .map(|(key, (source, chunks))| {
                let (tenant, doc_id) = key.split_once(schema::KEY_SEP).unwrap_or(("", &key));
                DocumentInfo {
                    tenant: tenant.to_owned(),
                    doc_id: doc_id.to_owned(),
                    source,
                    chunks,
                }
            })
            .collect())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot()
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>> {
        let mut guard = self.writer.lock().expect("writer lock");
        if guard.is_none() {
            let w = self.store.writer(WRITER_HEAP).map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => Error::Locked {
                    path: self.path.clone(),
                },
                other => Error::Tantivy(other),
            })?;
            w.set_merge_policy(Box::new(CappedMergePolicy::new(SEGMENT_MAX_DOCS)));
            // Another process may have committed since this handle opened: continue
            // from its commit (vids included), not from this handle's view.
            self.reload()?;
            *guard = Some(w);
        }
        Ok(guard)
    }

    fn to_doc(&self, vid: u64, r: &Record) -> TantivyDocument {
        let f = self.fields;
        let heading = r.heading_path.join(" > ");
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.vid, vid);
        doc.add_text(f.doc_id, &r.doc_id);
        doc.add_text(f.tenant, &r.tenant);
        doc.add_text(f.doc_key, schema::doc_key(&r.tenant, &r.doc_id));
        for t in metadata_terms(&r.metadata) {
            doc.add_text(f.meta_terms, t);
        }
        doc.add_u64(f.ordinal, u64::from(r.ordinal));
        doc.add_text(f.title, &r.title);
        doc.add_text(f.text, &r.text);
        doc.add_text(f.body, format!("{}\n{}\n{}", r.title, heading, r.text));
        doc.add_text(f.title_terms, &r.title);
        for h in &r.heading_path {
            doc.add_text(f.heading, h);
        }
        if let Some(s) = &r.source {
            doc.add_text(f.source, s);
        }
        doc.add_text(f.format, &r.format);
        doc.add_object(f.location, json_to_owned(&r.location));
        doc.add_object(f.metadata, json_to_owned(&r.metadata));
        doc.add_text(f.doc_hash, &r.doc_hash);
        let bytes: Vec<u8> = r.vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        doc.add_bytes(f.vector, &bytes);
        doc
    }

    fn record_of(&self, doc: &TantivyDocument) -> (u64, Record) {
        let f = self.fields;
        let headings: Vec<String> = doc
            .get_all(f.heading)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let heading_path = match &headings[..] {
            [one] if one.is_empty() => Vec::new(),
            [joined] if !self.heading_values => joined.split(" > ").map(str::to_owned).collect(),
            _ => headings,
        };
        let record = Record {
            doc_id: str_of(doc, f.doc_id),
            tenant: str_of(doc, f.tenant),
            ordinal: u32::try_from(u64_of(doc, f.ordinal)).unwrap_or(u32::MAX),
            text: str_of(doc, f.text),
            title: str_of(doc, f.title),
            heading_path,
            source: doc
                .get_first(f.source)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            format: str_of(doc, f.format),
            location: object_of(doc, f.location),
            metadata: object_of(doc, f.metadata),
            doc_hash: str_of(doc, f.doc_hash),
            vector: vector_of(doc, f),
        };
        (u64_of(doc, f.vid), record)
    }
}

/// One committed state of an [`Index`], fixed when taken with [`Index::view`]: its
/// searches and fetches agree with each other while a writer commits.
pub struct View<'a> {
    index: &'a Index,
    snap: Arc<Snapshot>,
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("index", &self.index.path)
            .field("chunks", &self.snap.searcher.num_docs())
            .finish()
    }
}

impl View<'_> {
    /// The `k` chunks matching `filter` whose vectors are nearest `query`, best first.
    ///
    /// The filter applies inside the search, so `k` matching chunks come back whenever
    /// that many exist: a selective filter compares the query with every matching
    /// vector exactly; a broad one walks the graph only through matching points, with a
    /// wider candidate list, and falls back to the exact comparison if the walk comes
    /// back short.
    ///
    /// # Errors
    /// [`Error::Dimension`] when `query` has the wrong length, [`Error::InvalidFilter`]
    /// when the filter does not fit the fields it names.
    pub fn search_vector(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        if query.len() != self.index.options.dim || self.index.options.dim == 0 {
            return Err(Error::Dimension {
                expected: self.index.options.dim,
                got: query.len(),
            });
        }
        let mut q = query.to_vec();
        normalize(&mut q);
        let snap = &self.snap;
        // No more hits than live chunks: every list below is sized from `k`.
        let k = k.min(snap.live.len());
        let graph = &snap.graph;
        let ef_search = self.index.shared.ef_search.load(AtomicOrdering::Relaxed);
        let hits = match filter {
            None => {
                // Fresh points (committed, not yet in the graph) are compared exactly.
                let (fresh, fresh_live) = snap.fresh.search(&q, k, &snap.live);
                let graph_live = snap.live.len() - fresh_live;
                let hits = graph
                    .search_within(&q, k, ef_search, &snap.live, graph_live)
                    .unwrap_or_else(|| graph.search(&q, k, ef_search, &*snap.live));
                merge(hits, fresh, k)
            }
            Some(f) => {
                let allowed = &*self.index.matching(snap, f)?;
                if allowed.len() == 0 || k == 0 {
                    return Ok(Vec::new());
                }
                let (fresh, fresh_matches) = snap.fresh.search(&q, k, allowed);
                // Matches and live points in the graph.
                let matches = allowed.len() - fresh_matches;
                let live = snap
                    .live
                    .len()
                    .saturating_sub(snap.fresh.len())
                    .max(matches);
                let hits = if matches == 0 {
                    Vec::new()
                } else if matches <= EXACT_SCAN_MIN
                    || matches as f64 <= live as f64 * EXACT_SCAN_SHARE
                {
                    graph.exact_search(&q, k, allowed)
                } else {
                    // First an unfiltered walk wide enough to hold about 2k matches, cut
                    // to the matches: cheaper than a filtered walk, which hnsw_rs never
                    // stops early. Then the filtered walk, about `live / matches` points
                    // visited per match found; then the exact comparison.
                    let wide = k
                        .saturating_mul(2 * live / matches)
                        .min(live)
                        .max(ef_search);
                    match graph.search_within(&q, k, wide, allowed, matches) {
                        Some(hits) => hits,
                        None => {
                            let ef = k.saturating_mul(live / matches).min(live).max(ef_search);
                            let hits = graph.search(&q, k, ef, allowed);
                            if hits.len() < k.min(matches) {
                                graph.exact_search(&q, k, allowed)
                            } else {
                                hits
                            }
                        }
                    }
                };
                merge(hits, fresh, k)
            }
        };
        Ok(hits
            .into_iter()
            .map(|(id, score)| Scored { id, score })
            .collect())
    }

    /// As a plain BM25 search, among the chunks matching `filter` only (the
    /// filter is a non-scoring clause of the BM25 query, not a post-filter).
    ///
    /// # Errors
    /// [`Error::InvalidFilter`] when the filter does not fit the fields it names;
    /// tantivy errors.
    pub fn search_keyword(
        &self,
        query: &str,
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        let snap = &self.snap;
        let k = k.min(usize::try_from(snap.searcher.num_docs()).unwrap_or(usize::MAX));
        if k == 0 {
            return Ok(Vec::new());
        }
        let boost = self.index.options.title_boost;
        let mut fields = vec![self.index.fields.body];
        if boost > 0.0 {
            fields.push(self.index.fields.title_terms);
        }
        let mut parser = QueryParser::for_index(&self.index.store, fields);
        parser.set_field_boost(self.index.fields.title_terms, boost);
        // A colon would name a field: user text never does. Tantivy's lenient parser
        // keeps a field that does not exist before some clauses (`Examples:\n* ...`)
        // and the search then fails, and an existing one would search an internal
        // field. The analyzer splits words at colons anyway, so they become spaces.
        let (mut q, _errors) = parser.parse_query_lenient(&query.replace(':', " "));
        if let Some(f) = filter {
            q = Box::new(BooleanQuery::new(vec![
                (Occur::Must, q),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(f.to_query(&self.index.fields)?, 0.0)),
                ),
            ]));
        }
        let running = &self.index.keyword_searches;
        let alone = running.fetch_add(1, AtomicOrdering::AcqRel) == 0;
        let top = top_docs(&snap.searcher, q.as_ref(), k, alone);
        running.fetch_sub(1, AtomicOrdering::AcqRel);
        let top = top?;
        // One vid column per segment, opened once for all the hits in it.
        let mut columns: Vec<Option<Column<u64>>> =
            vec![None; snap.searcher.segment_readers().len()];
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = match &mut columns[addr.segment_ord as usize] {
                Some(c) => c,
                slot => slot.insert(
                    snap.searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("vid")?,
                ),
            };
            let vid = column.first(addr.doc_id).unwrap_or(0);
            out.push(Scored { id: vid, score });
        }
        Ok(out)
    }

    /// How many live chunks match `filter`.
    ///
    /// # Errors
    /// [`Error::InvalidFilter`]; tantivy errors.
    pub fn count(&self, filter: &Filter) -> Result<usize> {
        let snap = &self.snap;
        Ok(snap.searcher.search(
            &*filter.to_query(&self.index.fields)?,
            &tantivy::collector::Count,
        )?)
    }

    /// What the collection's statistics say about how well BM25 can answer `query`,
    /// given its keyword top score: see [`KeywordSignals`].
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn keyword_signals(&self, query: &str, top_score: f32) -> Result<KeywordSignals> {
        const K1: f32 = 1.2;
        let (mut max, mut idf_sum, mut present) = (0.0, 0.0, 0u32);
        for (_, idf, df) in self.term_idfs(query)? {
            max += idf * (K1 + 1.0);
            if df > 0 {
                idf_sum += idf;
                present += 1;
            }
        }
        Ok(KeywordSignals {
            coverage: if max > 0.0 { top_score / max } else { 0.0 },
            mean_idf: if present > 0 {
                idf_sum / present as f32
            } else {
                0.0
            },
        })
    }

    /// The distinct terms the keyword analyzer makes of `query`, in term order, each
    /// with its BM25 IDF, `ln(1 + (N - df + 0.5) / (df + 0.5))` over N live chunks, and
    /// its document frequency df (0 for a term no chunk holds).
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn term_idfs(&self, query: &str) -> Result<Vec<(String, f32, u64)>> {
        let snap = &self.snap;
        let mut analyzer = self
            .index
            .store
            .tokenizer_for_field(self.index.fields.body)?;
        let mut stream = analyzer.token_stream(query);
        let mut terms = std::collections::BTreeSet::new();
        while stream.advance() {
            terms.insert(stream.token().text.clone());
        }
        let n = snap.searcher.num_docs() as f32;
        let mut out = Vec::with_capacity(terms.len());
        for t in terms {
            let df = snap
                .searcher
                .doc_freq(&Term::from_field_text(self.index.fields.body, &t))?;
            let idf = (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            out.push((t, idf, df));
        }
        Ok(out)
    }

    /// The stored chunks for the given point ids, in the same order; ids not in this
    /// view are left out.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(addr) = self.snap.addresses.get(id) {
                let doc: TantivyDocument = self.snap.searcher.doc(addr)?;
                out.push((id, self.index.record_of(&doc).1));
            }
        }
        Ok(out)
    }

    /// Every chunk of one document (of `tenant`; `""` for none), in order.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn document(&self, tenant: &str, doc_id: &str) -> Result<Vec<(u64, Record)>> {
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.index.fields.doc_key, &schema::doc_key(tenant, doc_id)),
            tantivy::schema::IndexRecordOption::Basic,
        );
        let addrs = self.snap.searcher.search(&q, &DocSetCollector)?;
        let mut out = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let doc: TantivyDocument = self.snap.searcher.doc(addr)?;
            out.push(self.index.record_of(&doc));
        }
        out.sort_by_key(|(_, r)| r.ordinal);
        Ok(out)
    }
}

/// The store's directory, memory-mapped for random access: no readahead or
/// fault-around, so a fetch maps the pages of the blocks it reads, not the 64 KiB
/// around them (at 100K chunks, queries otherwise ended up mapping the whole store).
fn store_directory(path: &Path) -> Result<tantivy::directory::MmapDirectory> {
    #[cfg(unix)]
    let dir = tantivy::directory::MmapDirectory::open_with_madvice(
        path,
        tantivy::directory::Advice::Random,
    );
    #[cfg(not(unix))]
    let dir = tantivy::directory::MmapDirectory::open(path);
    dir.map_err(|e| Error::Tantivy(e.into()))
}

fn str_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn u64_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> u64 {
    doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0)
}

fn vector_of(doc: &TantivyDocument, f: Fields) -> Vec<f32> {
    doc.get_first(f.vector)
        .and_then(|v| v.as_bytes())
        .map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .unwrap_or_default()
}

fn object_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> Map<String, Value> {
    match doc.get_first(field) {
        Some(v) => match serde_json::to_value(OwnedValue::from(v)) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    }
}

fn json_to_owned(map: &Map<String, Value>) -> std::collections::BTreeMap<String, OwnedValue> {
    map.iter()
        .map(|(k, v)| (k.clone(), OwnedValue::from(v.clone())))
        .collect()
}

/// The live chunks of a store state: their vids, and where each one is.
struct Live {
    vids: LiveSet,
    addresses: Addresses,
}

/// Each live vid's place in the store, indexed by vid: `fetch` reads a chunk without
/// looking its vid up in the term index (at 100K chunks, that lookup was 80 µs a
/// chunk). 8 bytes per vid ever assigned below the highest live one.
#[derive(Default)]
struct Addresses(Vec<u64>);

impl Addresses {
    fn insert(&mut self, vid: u64, addr: DocAddress) {
        let i = usize::try_from(vid).expect("vid fits usize");
        if i >= self.0.len() {
            self.0.resize(i + 1, 0);
        }
        // Stored plus one: 0 means no live chunk.
        self.0[i] = (u64::from(addr.segment_ord) << 32 | u64::from(addr.doc_id)) + 1;
    }

    fn get(&self, vid: u64) -> Option<DocAddress> {
        let packed = *self.0.get(usize::try_from(vid).ok()?)?;
        let packed = packed.checked_sub(1)?;
        #[allow(clippy::cast_possible_truncation)]
        Some(DocAddress::new((packed >> 32) as u32, packed as u32))
    }
}

/// tantivy's log merge policy (eight segments of similar size merge into one), with
/// each merge split into groups that stay within `cap` live chunks.
#[derive(Debug)]
struct CappedMergePolicy {
    log: LogMergePolicy,
    cap: u64,
}

impl CappedMergePolicy {
    fn new(cap: u64) -> Self {
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
fn capped_groups<T>(mut segments: Vec<(T, u64)>, cap: u64, min_len: usize) -> Vec<Vec<T>> {
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

/// The `k` best-scoring live documents for `query`, best first, exactly as tantivy's
/// `TopDocs` ranks them (ties: lower address first). The segments share one pruning
/// floor: a document scoring below the k-th best score of any one segment cannot make
/// the top k, so each segment's block-max WAND skips what the fullest segment already
/// rules out. With `parallel`, the segments run at once on rayon's pool (in a hybrid
/// search the dense half runs there too, and its thread joins in on the segments when it
/// is done); otherwise one after the other in the calling thread, which does the least
/// work in all, for when other searches keep the cores busy anyway.
fn top_docs(
    searcher: &Searcher,
    query: &dyn Query,
    k: usize,
    parallel: bool,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let weight = query.weight(EnableScoring::enabled_from_searcher(searcher))?;
    let floor = AtomicU32::new(Score::MIN.to_bits());
    let collect = |(ord, reader): (usize, &SegmentReader)| {
        segment_top_docs(weight.as_ref(), ord as u32, reader, k, &floor)
    };
    let segments = searcher.segment_readers();
    // Handing a single segment to the pool would only add a thread switch.
    let found = if parallel && segments.len() > 1 {
        segments
            .par_iter()
            .enumerate()
            .map(collect)
            .collect::<tantivy::Result<Vec<_>>>()?
    } else {
        segments
            .iter()
            .enumerate()
            .map(collect)
            .collect::<tantivy::Result<Vec<_>>>()?
    };
    let mut all: Vec<(Score, DocAddress)> = found.into_iter().flatten().collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    Ok(all)
}

/// One segment's part of [`top_docs`]: its `k` best live documents, skipping those
/// below `floor` (an `f32`'s bits, the best k-th score any segment has so far), which it
/// raises as its own k-th best score rises.
fn segment_top_docs(
    weight: &dyn tantivy::query::Weight,
    ord: u32,
    reader: &SegmentReader,
    k: usize,
    floor: &AtomicU32,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let alive = reader.alive_bitset();
    let mut heap = BinaryHeap::with_capacity(
        k.saturating_add(1)
            .min(crate::vectors::PREALLOCATE_MAX)
            .min(reader.num_docs() as usize + 1),
    );
    let mut bound = Score::MIN;
    // Ties with the shared floor may still win on address, so they pass.
    let shared = || f32::from_bits(floor.load(AtomicOrdering::Relaxed)).next_down();
    weight.for_each_pruning(shared().max(Score::MIN), reader, &mut |doc, score| {
        if alive.is_none_or(|a| a.is_alive(doc)) {
            heap.push(Reverse(Ranked { score, doc }));
            if heap.len() > k {
                heap.pop();
            }
            if heap.len() == k {
                bound = heap.peek().expect("k > 0").0.score;
                let _ = floor.fetch_update(AtomicOrdering::Relaxed, AtomicOrdering::Relaxed, |b| {
                    (bound > f32::from_bits(b)).then_some(bound.to_bits())
                });
            }
        }
        bound.max(shared())
    })?;
    Ok(heap
        .into_iter()
        .map(|Reverse(r)| (r.score, DocAddress::new(ord, r.doc)))
        .collect())
}

/// A segment's candidate in [`top_docs`]: ordered by score, then by lower doc id first.
#[derive(PartialEq)]
struct Ranked {
    score: Score,
    doc: DocId,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.doc.cmp(&self.doc))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn live_set(searcher: &Searcher) -> Result<Live> {
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

fn searcher_max_vid(searcher: &Searcher) -> Result<u64> {
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

/// The live chunks with a vid at or above `from`, with their vectors read from the
/// store, in vid order: what a graph covering every vid below `from` lacks.
fn missing_points(
    searcher: &Searcher,
    fields: Fields,
    live: &LiveSet,
    from: u64,
    dim: usize,
) -> Result<Vec<(u64, Vec<f32>)>> {
    let mut missing = Vec::new();
    if dim == 0 {
        return Ok(missing);
    }
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
    Ok(missing)
}

/// Checks that `tenant` can name a tenant (it must not contain U+001F, which separates
/// tenant and document id inside the index).
///
/// # Errors
/// [`Error::InvalidTenant`].
pub fn check_tenant(tenant: &str) -> Result<()> {
    if tenant.contains(schema::KEY_SEP) {
        return Err(Error::InvalidTenant {
            tenant: tenant.to_owned(),
        });
    }
    Ok(())
}

/// Collects the vids of the matching chunks.
struct VidCollector;

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

struct VidSegmentCollector {
    column: Column<u64>,
    vids: Vec<u64>,
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

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;
    use tantivy::doc;
    use tantivy::merge_policy::NoMergePolicy;
    use tantivy::query::QueryParser;
    use tantivy::schema::{Schema, TEXT};

    use super::*;

    #[test]
    fn capped_groups_pack_smallest_first_within_the_cap() {
        let sizes = vec![
            ("a", 60),
            ("b", 10),
            ("c", 30),
            ("d", 50),
            ("e", 150),
            ("f", 5),
        ];
        // 5 + 10 + 30 + 50 = 95; 60 would pass 100; 150 is alone.
        assert_eq!(
            capped_groups(sizes.clone(), 100, 1),
            vec![vec!["f", "b", "c", "d"], vec!["a"], vec!["e"]]
        );
        // A merge needs two segments: the lone ones are left.
        assert_eq!(capped_groups(sizes, 100, 2), vec![vec!["f", "b", "c", "d"]]);
        assert!(capped_groups(Vec::<((), u64)>::new(), 100, 1).is_empty());
    }

    /// Many small commits merge, but never into a segment above the cap.
    #[test]
    fn merges_stop_at_the_cap() {
        let mut builder = Schema::builder();
        let text = builder.add_text_field("text", TEXT);
        let index = TantivyIndex::create_in_ram(builder.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(CappedMergePolicy::new(100)));
        for commit in 0..64 {
            for i in 0..10 {
                writer
                    .add_document(doc!(text => format!("doc {commit} {i}")))
                    .unwrap();
            }
            writer.commit().unwrap();
        }
        writer.wait_merging_threads().unwrap();
        let metas = index.searchable_segment_metas().unwrap();
        let sizes: Vec<u32> = metas.iter().map(SegmentMeta::num_docs).collect();
        assert_eq!(sizes.iter().sum::<u32>(), 640);
        assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
        // Merging happened: 64 commits did not leave 64 segments.
        assert!(sizes.len() < 20, "{sizes:?}");
    }

    /// Searching the segments in parallel with a shared pruning floor finds exactly what
    /// tantivy's `TopDocs` finds, scores and tie order included, with deleted documents,
    /// many exact ties (the same texts in every segment) and k below and above the
    /// number of matches.
    #[test]
    fn parallel_top_docs_match_tantivy() {
        let mut builder = Schema::builder();
        let text = builder.add_text_field("text", TEXT);
        let id = builder.add_u64_field("id", tantivy::schema::INDEXED);
        let index = TantivyIndex::create_in_ram(builder.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let words = [
            "salmon", "river", "delta", "tide", "estuary", "reed", "the", "a",
        ];
        let mut n = 0u64;
        for segment in 0..5usize {
            for i in 0..60usize {
                // Every segment holds the same 30 texts, and 30 of its own.
                let seed = if i < 30 { i } else { i * 5 + segment };
                let body: Vec<&str> = (0..1 + seed % 9)
                    .map(|j| words[(seed * j + j + seed / 3) % words.len()])
                    .collect();
                writer
                    .add_document(doc!(text => body.join(" "), id => n))
                    .unwrap();
                n += 1;
            }
            writer.commit().unwrap();
        }
        for gone in (0..n).step_by(7) {
            writer.delete_term(Term::from_field_u64(id, gone));
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 5);
        let parser = QueryParser::for_index(&index, vec![text]);
        for query in ["salmon estuary reed", "tide", "delta the river", "nothing"] {
            let q = parser.parse_query(query).unwrap();
            for k in [1, 7, 25, 1_000] {
                let want = searcher
                    .search(q.as_ref(), &TopDocs::with_limit(k).order_by_score())
                    .unwrap();
                for parallel in [true, false] {
                    let got = top_docs(&searcher, q.as_ref(), k, parallel).unwrap();
                    assert_eq!(got, want, "{query:?} k={k} parallel={parallel}");
                }
                // Whatever order the segments run in: with the floor already at the
                // final k-th score, documents tied with it still come through.
                if want.len() == k {
                    let floor = AtomicU32::new(want[k - 1].0.to_bits());
                    let weight = q
                        .weight(EnableScoring::enabled_from_searcher(&searcher))
                        .unwrap();
                    let mut got: Vec<_> = (0..5)
                        .flat_map(|ord| {
                            let reader = searcher.segment_reader(ord);
                            segment_top_docs(weight.as_ref(), ord, reader, k, &floor).unwrap()
                        })
                        .collect();
                    got.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                    got.truncate(k);
                    assert_eq!(got, want, "{query:?} k={k}, floor preset");
                }
            }
        }
        // One segment: searched in the calling thread, the same way.
        let one = TantivyIndex::create_in_ram(index.schema());
        let mut writer: IndexWriter = one.writer_with_num_threads(1, 15_000_000).unwrap();
        for i in 0..50u64 {
            let body = words[..1 + (i as usize % 7)].join(" ");
            writer.add_document(doc!(text => body, id => i)).unwrap();
        }
        writer.commit().unwrap();
        let searcher = one.reader().unwrap().searcher();
        let q = QueryParser::for_index(&one, vec![text])
            .parse_query("reed tide")
            .unwrap();
        let want = searcher
            .search(q.as_ref(), &TopDocs::with_limit(10).order_by_score())
            .unwrap();
        assert_eq!(top_docs(&searcher, q.as_ref(), 10, true).unwrap(), want);
    }
}
