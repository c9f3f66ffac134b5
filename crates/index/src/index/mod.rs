//! The index: one tantivy store (source of truth) plus the derived HNSW graph.
//!
//! [`Index`] here owns the store, the writer and the commit protocol. Around it:
//! `snapshot` (one committed state: live vids, addresses, graph, fresh vectors),
//! `view` (searches and fetches on one snapshot, and the keyword top-docs collectors),
//! `worker` (the background thread that inserts into the graph, compacts and saves it),
//! `merge` (the store's segment merge policy) and `convert` (records to and from
//! tantivy documents).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tantivy::collector::TopDocs;
use tantivy::{
    DocId, Index as TantivyIndex, IndexReader, IndexWriter, ReloadPolicy, Searcher,
    TantivyDocument, Term,
};

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::fresh::{Fresh, FreshBatch};
use crate::language::Language;
use crate::mecab::Morphology;
use crate::record::Record;
use crate::schema::{self, Fields};
use crate::tokenize::Cutting;
use crate::vector_log::{VectorLog, VECTORS_DIR};
use crate::vectors::{normalize, Graph, HnswParams, LiveSet};

use self::convert::str_of;
use self::merge::{capped_groups, CappedMergePolicy};
use self::snapshot::{live_set, missing_points, searcher_max_vid, Points, Snapshot, VidCollector};
pub use self::view::{KeywordStats, View};
use self::worker::{Shared, Work};
use tantivy::merge_policy::{MergeCandidate, MergePolicy, NoMergePolicy};

pub use self::check::{CheckReport, Problem};

mod check;
mod convert;
mod maxscore;
mod merge;
mod pins;
mod snapshot;
#[cfg(test)]
mod tests;
mod view;
mod worker;

/// On-disk format version written to the manifest; bumped on incompatible changes.
/// 2: tenants, per-tenant document keys, typed metadata terms for filters.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest format an index can have and still open: its vectors are stored with
/// its chunks in the store, where a newer index keeps them in vector files.
const OLDEST_FORMAT: u32 = 2;

/// The HNSW graph is rebuilt without its deleted points when they pass this share.
const GRAPH_TOMBSTONE_RATIO: f64 = 0.3;
/// A store segment is rewritten without its deleted chunks when they pass this share of
/// its chunks.
const STORE_DELETED_RATIO: f64 = 0.3;
/// Merges never build a store segment above this many live chunks. A large collection
/// keeps several segments of about this size instead of one, and a keyword query
/// searches them in parallel (a segment is the unit tantivy can split a query into).
const SEGMENT_MAX_DOCS: u64 = 1 << 18;
/// A filtered vector search compares the query with every matching chunk (on its int8
/// codes, the nearest then rescored, in an int8 index; on the vectors otherwise) when the filter keeps at
/// most this share of the live chunks (a graph walk would have to visit about
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
    /// Language of the keyword analyzer ([`Language::Auto`] by default; an index
    /// whose manifest names none was made before `auto` existed, in English).
    #[serde(default = "english")]
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

fn english() -> Language {
    Language::English
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
    /// Chinese, Japanese and Korean text is cut into pairs of characters. Indexes made
    /// before (absent: false) keep the analyzer their terms came from.
    #[serde(default)]
    cjk_words: bool,
    /// Chinese text also gives its dictionary words (jieba's). Indexes made before
    /// (absent: false) keep character pairs alone.
    #[serde(default)]
    chinese_words: bool,
    /// The dictionary Japanese text is cut with (`Dictionary::fingerprint`); absent:
    /// pairs of characters. Opening the index needs the same dictionary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    japanese_dictionary: Option<String>,
    /// The dictionary Korean text is cut with, as `japanese_dictionary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    korean_dictionary: Option<String>,
    /// Combining marks continue words. Indexes made before (absent: false) cut words
    /// at them.
    #[serde(default)]
    marks_in_words: bool,
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
    /// Points whose full-precision vectors the graph holds in memory. A quantized
    /// graph reads the others from its file as needed: those saved when it was
    /// opened, and those saved by this process since.
    pub graph_vectors_in_memory: usize,
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
    /// Disk space the index directory takes (allocated blocks where the system
    /// reports them).
    pub disk_bytes: u64,
    /// Documents and chunks per tenant (`""` for documents without one).
    pub tenants: BTreeMap<String, TenantStats>,
    /// Live chunks whose title, headings and text make no keyword term (the analyzer
    /// drops every word: a script it does not split, or only stop words): keyword
    /// search cannot find them, only their vectors can.
    pub chunks_without_terms: usize,
    /// Keyword searches (alone or as a hybrid's side) since the index was opened in
    /// this process whose query made no term: they found nothing by keyword.
    pub queries_without_terms: u64,
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

#[derive(Default, Serialize, Deserialize)]
struct CommitPayload {
    next_vid: u64,
    /// The caller's data as of this commit, once [`Index::set_extra`] has replaced
    /// what the manifest holds; carried by every later commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra: Option<Map<String, Value>>,
}

/// [`IndexOptions::extra`] as changed by [`Index::set_extra`].
#[derive(Default)]
struct Extra {
    /// What the last commit holds (`None`: the manifest's).
    committed: Option<Map<String, Value>>,
    /// What the next commit writes.
    pending: Option<Map<String, Value>>,
}

/// A hybrid index in one directory. `Send + Sync`: searches may run from many threads
/// while one thread adds and commits; they see the last commit.
pub struct Index {
    path: PathBuf,
    options: IndexOptions,
    /// See `Manifest::heading_values`.
    heading_values: bool,
    /// See `Manifest::cjk_words`.
    cjk_words: bool,
    /// See `Manifest::chinese_words`, `Manifest::japanese_dictionary`,
    /// `Manifest::korean_dictionary` and `Manifest::marks_in_words`.
    cutting: Cutting,
    /// The dictionaries the index cuts text with, as its manifest records them.
    dictionaries: Vec<String>,
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
    /// Whether keyword searches that are disjunctions of terms run MaxScore (the
    /// default) rather than tantivy's block-max WAND.
    keyword_maxscore: AtomicBool,
    /// Keyword searches since open whose query made no terms.
    termless_queries: AtomicU64,
    /// Opened at a pinned commit: searches only, fixed at that commit.
    pinned: Option<u64>,
    extra: Mutex<Extra>,
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
            cjk_words: true,
            chinese_words: Cutting::NEW.chinese_words,
            japanese_dictionary: new_index_dictionary(Morphology::Japanese),
            korean_dictionary: new_index_dictionary(Morphology::Korean),
            marks_in_words: Cutting::NEW.marks_in_words,
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
        Index::open_inner(path, None)
    }

    /// Opens the index at `path` as it was at commit `commit`, which must be pinned
    /// (see [`Index::pin`]). The handle is read-only and stays at that commit
    /// ([`Index::reload`] changes nothing), whatever writers commit meanwhile.
    ///
    /// # Errors
    /// [`Error::NotPinned`] when no pin holds the commit; as [`Index::open`].
    pub fn open_at(path: &Path, commit: u64) -> Result<Index> {
        if !Index::exists(path) {
            return Err(Error::NotFound {
                path: path.to_owned(),
            });
        }
        let meta = pins::read_pin(path, commit)?;
        Index::open_inner(path, Some(meta))
    }

    fn open_inner(path: &Path, pinned_meta: Option<Vec<u8>>) -> Result<Index> {
        let pinned = pinned_meta.as_deref().and_then(pins::opstamp_of);
        let manifest = read_manifest(path)?;
        let log = (manifest.format_version >= 3 && manifest.options.dim > 0)
            .then(|| Arc::new(VectorLog::new(path.join(VECTORS_DIR), manifest.options.dim)));
        // Both come on top of pairs: an index made before pairs has neither.
        let cutting = Cutting {
            chinese_words: manifest.cjk_words && manifest.chinese_words,
            japanese_words: needs_dictionary(
                path,
                Morphology::Japanese,
                manifest.japanese_dictionary.as_deref(),
            )?,
            korean_words: needs_dictionary(
                path,
                Morphology::Korean,
                manifest.korean_dictionary.as_deref(),
            )?,
            marks_in_words: manifest.cjk_words && manifest.marks_in_words,
        };
        let store = TantivyIndex::open(pins::StoreDirectory::new(
            store_directory(&path.join(STORE_DIR))?,
            path.join(pins::PINS_DIR),
            pinned_meta,
        ))?;
        store.tokenizers().register(
            schema::ANALYZER,
            manifest
                .options
                .language
                .analyzer(manifest.cjk_words, cutting),
        );
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
        let dictionaries = [&manifest.japanese_dictionary, &manifest.korean_dictionary]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let cjk_words = manifest.cjk_words;
        let options = manifest.options;
        let max_vid = searcher_max_vid(&searcher)?;
        if let Some(log) = &log {
            log.map_below(payload.next_vid.max(max_vid));
        }
        let graph = Graph::load(
            &path.join(HNSW_DIR),
            options.hnsw,
            options.dim,
            log.as_ref(),
        )
        .unwrap_or_else(|| {
            if path.join(HNSW_DIR).join("state.json").exists() {
                tracing::warn!(
                    path = %path.display(),
                    "the saved HNSW graph cannot be read: rebuilding it from the vectors"
                );
            }
            Graph::new(options.hnsw, log.clone())
        });
        let saved_points = graph.len();
        let missing = if pinned.is_some() {
            // An older commit may hold chunks deleted since, which a compacted graph
            // dropped below its next vid: look for every live chunk.
            let mut lacking = LiveSet::default();
            for vid in live.vids.iter().filter(|v| !graph.contains(*v)) {
                lacking.insert(vid);
            }
            missing_points(&searcher, fields, &lacking, 0, options.dim, log.as_ref())?
        } else {
            missing_points(
                &searcher,
                fields,
                &live.vids,
                graph.next_vid(),
                options.dim,
                log.as_ref(),
            )?
        };
        if !missing.is_empty() {
            tracing::info!(
                points = missing.len(),
                "catching the HNSW graph up with the store"
            );
            graph.insert(&missing.refs());
        }
        drop(missing);
        let payload_extra = payload.extra;
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
            log,
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
            cjk_words,
            cutting,
            dictionaries,
            store,
            fields,
            reader,
            writer: Mutex::new(None),
            pending: Mutex::new(FreshBatch::new(dim)),
            next_vid: Mutex::new(next_vid),
            shared,
            worker,
            keyword_searches: AtomicUsize::new(0),
            keyword_maxscore: AtomicBool::new(true),
            termless_queries: AtomicU64::new(0),
            pinned,
            extra: Mutex::new(Extra {
                committed: payload_extra,
                pending: None,
            }),
        })
    }

    /// The options the index at `path` was created with, read from its manifest
    /// without opening the store.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Incompatible`], [`Error::Corrupt`] as
    /// [`Index::open`].
    pub fn read_options(path: &Path) -> Result<IndexOptions> {
        Ok(read_manifest(path)?.options)
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
        let mut analyzer = self.store.tokenizer_for_field(self.fields.body)?;
        let mut termless: Option<(usize, String)> = None;
        for mut r in records {
            let vid = *next_vid;
            *next_vid += 1;
            normalize(&mut r.vector);
            let (doc, has_terms) = self.to_doc(vid, &r, &mut analyzer);
            writer.add_document(doc)?;
            if !has_terms {
                termless.get_or_insert_with(|| (0, r.doc_id.clone())).0 += 1;
            }
            if self.options.dim > 0 {
                pending.push(vid, &r.vector);
            }
        }
        if let Some((chunks, first)) = termless {
            tracing::warn!(
                chunks,
                first,
                language = self.options.language.as_str(),
                "chunks make no keyword terms (the analyzer drops all their words): \
                 keyword search cannot find them"
            );
        }
        Ok(())
    }

    /// Deletes every chunk of document `doc_id` of `tenant` (`""` is the default
    /// tenant), at the next commit. Chunks added for the same id before this call,
    /// committed or not, are deleted too.
    ///
    /// # Errors
    /// [`Error::Locked`] when another writer holds the index; [`Error::InvalidTenant`].
    pub fn delete_document(&self, tenant: &str, doc_id: &str) -> Result<()> {
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
        let mut extra = self.extra.lock().expect("extra lock");
        let committed_extra = extra.pending.clone().or_else(|| extra.committed.clone());
        if let Some(log) = &self.shared.log {
            // The rows first, synced: the store's commit below is what makes them part
            // of the index (rows of a commit that fails belong to nothing).
            log.write(self.pending.lock().expect("pending lock").points())
                .map_err(|source| Error::Io {
                    path: log.dir().to_owned(),
                    source,
                })?;
        }
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(
            &serde_json::to_string(&CommitPayload {
                next_vid,
                extra: committed_extra.clone(),
            })
            .expect("payload serialises"),
        );
        let opstamp = prepared.commit()?;
        extra.committed = committed_extra;
        extra.pending = None;
        drop(extra);
        let _update = self.shared.update.lock().expect("update lock");
        let pending = std::mem::replace(
            &mut *self.pending.lock().expect("pending lock"),
            FreshBatch::new(self.options.dim),
        );
        self.reader.reload()?;
        let mut searcher = self.reader.searcher();
        if self.merge_segments(writer, &searcher) {
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
            let pending = match &self.shared.log {
                // Its rows are in the files now: the fresh set reads them there.
                Some(log) => pending.into_files(Arc::clone(log)),
                None => pending,
            };
            snap.fresh.with(pending.covering(next_vid))
        };
        *self.shared.snapshot.write().expect("snapshot lock") =
            Arc::new(Snapshot::new(searcher, live, graph, fresh));
        let mut work = self.shared.work.lock().expect("work lock");
        work.may_save = true;
        self.shared.signal.notify_all();
        Ok(opstamp)
    }

    /// Pins the last commit: it stays readable with [`Index::open_at`] (its files are
    /// kept on disk) until [`Index::unpin`] releases it, however many commits follow.
    /// Returns the commit's opstamp. Call it on the handle that writes (after
    /// [`Index::commit`]), or while no process writes: a writer in another process
    /// could otherwise replace the commit between reading and pinning it.
    ///
    /// # Errors
    /// [`Error::ReadOnly`] on a handle opened at a pin; I/O errors.
    pub fn pin(&self) -> Result<u64> {
        if self.pinned.is_some() {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
            });
        }
        // Held so that this handle's writer neither commits nor collects files while
        // the pin is written.
        let _writer = self.writer.lock().expect("writer lock");
        let meta = tantivy::Directory::atomic_read(self.store.directory(), Path::new("meta.json"))
            .map_err(|e| Error::Tantivy(e.into()))?;
        pins::write_pin(&self.path, &meta)
    }

    /// The pinned commits of the index at `path`, oldest first.
    ///
    /// # Errors
    /// I/O errors.
    pub fn pins(path: &Path) -> Result<Vec<u64>> {
        pins::list_pins(path)
    }

    /// Releases the pin of commit `commit` of the index at `path` (nothing when there
    /// is none). Handles open at it keep working; its files are deleted at a later
    /// commit of the writer, once no other pin and not the current commit uses them.
    /// Once the graph is next compacted, the vectors of chunks deleted since that
    /// commit are given back too: such a handle then finds those chunks by keywords
    /// but scores their vectors as zeros.
    ///
    /// # Errors
    /// I/O errors.
    pub fn unpin(path: &Path, commit: u64) -> Result<()> {
        pins::remove_pin(path, commit)
    }

    /// The pinned commit this handle is open at, if it was opened with
    /// [`Index::open_at`].
    #[must_use]
    pub fn pinned_commit(&self) -> Option<u64> {
        self.pinned
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
        let payload: CommitPayload = self
            .store
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        let covers = payload.next_vid.max(searcher_max_vid(&searcher)?);
        if let Some(log) = &self.shared.log {
            log.map_below(covers);
        }
        let missing = missing_points(
            &searcher,
            self.fields,
            &live.vids,
            from,
            self.options.dim,
            self.shared.log.as_ref(),
        )?;
        if payload.extra.is_some() {
            self.extra.lock().expect("extra lock").committed = payload.extra;
        }
        {
            let mut next_vid = self.next_vid.lock().expect("vid lock");
            *next_vid = (*next_vid).max(covers).max(snap.graph.next_vid());
        }
        let fresh = if missing.is_empty() && covers <= from {
            snap.fresh.clone()
        } else {
            let batch = match &missing {
                Points::Logged(log, vids) => FreshBatch::in_files(Arc::clone(log), vids.clone()),
                Points::Owned(points) => {
                    let mut batch = FreshBatch::new(self.options.dim);
                    for (vid, v) in points {
                        batch.push(*vid, v);
                    }
                    batch
                }
            };
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

    /// Chooses how keyword searches whose query is a disjunction of terms and phrases
    /// (what a query of plain words parses to) find their top k: by MaxScore over
    /// windows of documents (`true`, the default), or by tantivy's block-max WAND
    /// (`false`). Both find the same documents (a score may differ in its last bit);
    /// MaxScore is faster on long queries with common words. For benchmarks and
    /// comparisons; not saved.
    pub fn set_keyword_maxscore(&self, on: bool) {
        self.keyword_maxscore.store(on, AtomicOrdering::Relaxed);
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
    /// Merges what the merge policy asks for, then compacts the store, waiting for
    /// each merge: the writer is held, so no add, delete or commit runs meanwhile, and
    /// a merge lands in its own atomic metadata write or not at all. Returns whether
    /// anything merged.
    fn merge_segments(&self, writer: &mut IndexWriter, searcher: &Searcher) -> bool {
        let policy = CappedMergePolicy::new(SEGMENT_MAX_DOCS);
        let mut merged = false;
        // A merge makes a larger segment, which may complete a group of its size: a
        // few rounds at most (each one merges eight segments into one).
        for _ in 0..8 {
            let Ok(metas) = self.store.searchable_segment_metas() else {
                break;
            };
            let candidates = policy.compute_merge_candidates(&metas);
            if candidates.is_empty() {
                break;
            }
            for MergeCandidate(ids) in candidates {
                match writer.merge(&ids).wait() {
                    Ok(_) => merged = true,
                    Err(e) => tracing::debug!("segments not merged: {e}"),
                }
            }
        }
        if merged {
            // The merged-away segments' files, which no commit references any more.
            let _ = writer.garbage_collect_files().wait();
            if self.reader.reload().is_ok() {
                return self.compact_store(writer, &self.reader.searcher()) | merged;
            }
        }
        self.compact_store(writer, searcher) | merged
    }

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
        self.extra.lock().expect("extra lock").pending = None;
        Ok(())
    }

    /// The caller's data as of the last commit: [`IndexOptions::extra`], unless
    /// [`Index::set_extra`] has replaced it since.
    #[must_use]
    pub fn extra(&self) -> Map<String, Value> {
        self.extra
            .lock()
            .expect("extra lock")
            .committed
            .clone()
            .unwrap_or_else(|| self.options.extra.clone())
    }

    /// Replaces the caller's data at the next commit, atomically with the adds and
    /// deletes of that commit (a rollback discards it): what a collection records
    /// about its model changes in the same commit as the vectors.
    pub fn set_extra(&self, extra: Map<String, Value>) {
        self.extra.lock().expect("extra lock").pending = Some(extra);
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
        // Another process may write now: the graph files are its to save.
        self.shared.work.lock().expect("work lock").may_save = false;
        Ok(())
    }

    /// The `k` chunks (matching `filter`, when given) whose vectors are nearest
    /// `query` by cosine, best first (see [`View::search_vector`]). A tenant is a filter
    /// too: [`Filter::tenant`].
    ///
    /// # Errors
    /// As [`View::search_vector`].
    pub fn search_vector(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        self.view().search_vector(query, k, filter)
    }

    /// The `k` best chunks (matching `filter`, when given) for `query` by BM25 over
    /// title, headings and text (see [`View::search_keyword`]). Any user text is
    /// accepted, and read as words: `+word` (required), `-word` (left out) and a quoted
    /// phrase keep their meaning, and nothing else is syntax (`AND`, `NOT`, `*`, `^`,
    /// colons, brackets and parentheses are words or punctuation).
    ///
    /// # Errors
    /// As [`View::search_keyword`].
    pub fn search_keyword(
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

    /// The MeCab dictionaries this index cuts Japanese and Korean text with, each
    /// as `name:size:matrix` (e.g. `ipadic:49199027:1316x1316`); empty where that text
    /// is cut into pairs of characters (an index made where no dictionary was found,
    /// or before trawl read them).
    #[must_use]
    pub fn dictionaries(&self) -> &[String] {
        &self.dictionaries
    }

    /// See [`View::languages`].
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn languages(&self) -> Result<Vec<(Language, u64)>> {
        self.view().languages()
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
            stats: None,
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

    /// The content hash stored with document `doc_id` of `tenant` (`""` is the default
    /// tenant), if the document is in the index.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn document_hash(&self, tenant: &str, doc_id: &str) -> Result<Option<String>> {
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
        let tenants = self.tenant_counts(&snap)?;
        let documents = tenants.values().map(|t| t.documents).sum();
        let graph_points = snap.graph.len();
        let tombstones = if self.options.dim > 0 {
            snap.tombstones()
        } else {
            0
        };
        Ok(Stats {
            documents,
            chunks: usize::try_from(snap.searcher.num_docs()).unwrap_or(usize::MAX),
            dim: self.options.dim,
            graph_points,
            graph_vectors_in_memory: snap.graph.vectors_in_memory(),
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
            chunks_without_terms: self.chunks_without_terms(&snap)?,
            queries_without_terms: self.termless_queries.load(AtomicOrdering::Relaxed),
        })
    }

    /// Documents and chunks per tenant, counted by merging the segments' key
    /// dictionaries (each sorted) in one pass: memory for a count per key ordinal of
    /// each segment (4 bytes a document) and one key per segment, never a list of
    /// every document with its key (which at 10M chunks costs hundreds of megabytes
    /// for a moment).
    fn tenant_counts(&self, snap: &Snapshot) -> Result<BTreeMap<String, TenantStats>> {
        // Per segment: its key column and live chunks per key ordinal.
        let mut columns = Vec::new();
        for seg in snap.searcher.segment_readers() {
            let Some(keys) = seg.fast_fields().str("doc_key")? else {
                continue;
            };
            let chunks = chunks_per_key(seg, &keys);
            columns.push((keys, chunks));
        }
        let mut streams = Vec::with_capacity(columns.len());
        for (keys, _) in &columns {
            streams.push(keys.dictionary().stream().map_err(|e| self.key_error(&e))?);
        }
        // The smallest key of each stream not yet read, smallest first.
        let mut heads: BinaryHeap<Reverse<(Vec<u8>, usize)>> = BinaryHeap::new();
        for (i, stream) in streams.iter_mut().enumerate() {
            if stream.advance() {
                heads.push(Reverse((stream.key().to_vec(), i)));
            }
        }
        let mut tenants: BTreeMap<String, TenantStats> = BTreeMap::new();
        let sep = schema::KEY_SEP.to_string();
        while let Some(Reverse((key, _))) = heads.peek().cloned() {
            let mut chunks = 0usize;
            while let Some(Reverse((next, i))) = heads.peek() {
                if *next != key {
                    break;
                }
                let i = *i;
                heads.pop();
                let stream = &mut streams[i];
                let ord = usize::try_from(stream.term_ord()).unwrap_or(usize::MAX);
                chunks += columns[i].1.get(ord).map_or(0, |&(n, _)| n as usize);
                if stream.advance() {
                    heads.push(Reverse((stream.key().to_vec(), i)));
                }
            }
            if chunks == 0 {
                continue;
            }
            let key = String::from_utf8_lossy(&key);
            let tenant = key.split_once(&sep).map_or("", |(t, _)| t);
            let t = match tenants.get_mut(tenant) {
                Some(t) => t,
                None => tenants.entry(tenant.to_owned()).or_default(),
            };
            t.documents += 1;
            t.chunks += chunks;
        }
        Ok(tenants)
    }

    /// The error of a segment's document keys that cannot be read.
    fn key_error(&self, e: &std::io::Error) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            reason: format!("document keys: {e}"),
        }
    }

    /// Live chunks whose body holds no token, read from its field norms (a byte per
    /// chunk; 0 is exactly no token).
    fn chunks_without_terms(&self, snap: &Snapshot) -> Result<usize> {
        let mut n = 0;
        for seg in snap.searcher.segment_readers() {
            let norms = seg.get_fieldnorms_reader(self.fields.body)?;
            n += seg
                .doc_ids_alive()
                .filter(|&doc| norms.fieldnorm_id(doc) == 0)
                .count();
        }
        Ok(n)
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
        let corrupt = |e: std::io::Error| self.key_error(&e);
        for seg in snap.searcher.segment_readers() {
            let Some(keys) = seg.fast_fields().str("doc_key")? else {
                continue;
            };
            let sources = if with_sources {
                seg.fast_fields().str("source")?
            } else {
                None
            };
            let per_ord = chunks_per_key(seg, &keys);
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
                entry.1 += chunks as usize;
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
        if self.pinned.is_some() {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
            });
        }
        let mut guard = self.writer.lock().expect("writer lock");
        if guard.is_none() {
            let w = self.store.writer(WRITER_HEAP).map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => Error::Locked {
                    path: self.path.clone(),
                },
                other => Error::Tantivy(other),
            })?;
            // Segments merge inside `commit` (see `merge_segments`), never in the
            // background: a background merge that a kill interrupts between commits
            // can bring deleted chunks back (the soak test's torn documents).
            w.set_merge_policy(Box::new(NoMergePolicy));
            // Another process may have committed since this handle opened: continue
            // from its commit (vids included), not from this handle's view.
            self.reload()?;
            *guard = Some(w);
        }
        Ok(guard)
    }
}

/// The fingerprint of the dictionary a new index cuts `language` with, if one is
/// found; logs where it was looked for when none is.
fn new_index_dictionary(language: Morphology) -> Option<String> {
    let found = crate::mecab::dictionary(language).map(|d| d.fingerprint(language));
    if found.is_none() {
        tracing::info!(
            dictionary = language.dictionary_name(),
            looked_in = ?crate::mecab::dictionary_dir(language),
            "no {} dictionary: the new index cuts {} text into pairs of characters \
             (models/fetch.sh fetches it; TRAWL_DICTIONARIES names its directory)",
            language.dictionary_name(),
            language.language()
        );
    }
    found
}

/// Whether the index at `path` cuts `language` with a dictionary (`recorded`: the
/// fingerprint its manifest holds), checking that the same dictionary is here.
///
/// # Errors
/// [`Error::MissingDictionary`] when it is not.
fn needs_dictionary(path: &Path, language: Morphology, recorded: Option<&str>) -> Result<bool> {
    let Some(recorded) = recorded else {
        return Ok(false);
    };
    let found = crate::mecab::dictionary(language).map(|d| d.fingerprint(language));
    if found.as_deref() == Some(recorded) {
        return Ok(true);
    }
    Err(Error::MissingDictionary {
        path: path.to_owned(),
        language: language.language(),
        recorded: recorded.to_owned(),
        found: crate::mecab::dictionary_dir(language)
            .map(|d| d.display().to_string())
            .map_or_else(
                || format!("no {} directory", crate::mecab::DEFAULT_DICTIONARIES_DIR),
                |dir| match &found {
                    Some(other) => format!("{other} in {dir}"),
                    None => format!("nothing in {dir}"),
                },
            ),
    })
}

/// Reads and checks the manifest of the index at `path`.
fn read_manifest(path: &Path) -> Result<Manifest> {
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
    if !(u64::from(OLDEST_FORMAT)..=u64::from(FORMAT_VERSION)).contains(&found) {
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
    Ok(manifest)
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

/// Per key ordinal of a segment's document keys: its live chunks and the first of them.
fn chunks_per_key(
    seg: &tantivy::SegmentReader,
    keys: &tantivy::columnar::StrColumn,
) -> Vec<(u32, DocId)> {
    let mut per_ord: Vec<(u32, DocId)> = vec![(0, 0); keys.num_terms()];
    for doc in seg.doc_ids_alive() {
        if let Some(ord) = keys.term_ords(doc).next() {
            if let Some(slot) = usize::try_from(ord).ok().and_then(|o| per_ord.get_mut(o)) {
                if slot.0 == 0 {
                    slot.1 = doc;
                }
                slot.0 = slot.0.saturating_add(1);
            }
        }
    }
    per_ord
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => disk_use(&m),
            Err(_) => 0,
        })
        .sum()
}

/// The disk space a file takes: its allocated blocks where the system says (a vector
/// file with holes takes less than its length), else its length.
fn disk_use(m: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        m.blocks() * 512
    }
    #[cfg(not(unix))]
    m.len()
}
