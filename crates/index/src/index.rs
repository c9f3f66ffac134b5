//! The index: one tantivy store (source of truth) plus the derived HNSW graph.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{QueryParser, TermSetQuery};
use tantivy::schema::{OwnedValue, Value as _};
use tantivy::tokenizer::TokenStream as _;
use tantivy::{
    DocAddress, Index as TantivyIndex, IndexReader, IndexWriter, ReloadPolicy, Searcher,
    TantivyDocument, Term,
};

use crate::error::{Error, Result};
use crate::language::Language;
use crate::record::Record;
use crate::schema::{self, Fields};
use crate::vectors::{normalize, Graph, HnswParams, LiveSet};

/// On-disk format version written to the manifest; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

const MANIFEST: &str = "trawl.json";
const STORE_DIR: &str = "store";
const HNSW_DIR: &str = "hnsw";
const WRITER_HEAP: usize = 128 * 1024 * 1024;

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
    /// Tantivy segments.
    pub segments: usize,
    /// Bytes on disk.
    pub disk_bytes: u64,
}

/// What a search sees: one committed state of the store and its live vids.
struct Snapshot {
    searcher: Searcher,
    live: LiveSet,
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
    store: TantivyIndex,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    /// Vectors added since the last commit, inserted into the graph on commit.
    pending: Mutex<Vec<(u64, Vec<f32>)>>,
    next_vid: Mutex<u64>,
    graph: RwLock<Graph>,
    snapshot: RwLock<Arc<Snapshot>>,
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
    /// I/O errors, or [`Error::Corrupt`] when a manifest is already there.
    pub fn create(path: &Path, options: IndexOptions) -> Result<Index> {
        let manifest = path.join(MANIFEST);
        if manifest.exists() {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                reason: "an index already exists here".into(),
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
        let store = TantivyIndex::open_in_dir(path.join(STORE_DIR))?;
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
            .try_into()?;
        let payload: CommitPayload = store
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        let searcher = reader.searcher();
        let live = live_set(&searcher)?;
        let options = manifest.options;
        let mut graph = Graph::load(&path.join(HNSW_DIR), options.hnsw)
            .unwrap_or_else(|| Graph::new(options.hnsw, live.len()));
        catch_up(&mut graph, &searcher, fields, &live, options.dim)?;
        let max_vid = searcher_max_vid(&searcher)?;
        let next_vid = payload.next_vid.max(max_vid).max(graph.next_vid);
        Ok(Index {
            path: path.to_owned(),
            options,
            store,
            fields,
            reader,
            writer: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
            next_vid: Mutex::new(next_vid),
            graph: RwLock::new(graph),
            snapshot: RwLock::new(Arc::new(Snapshot { searcher, live })),
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
    /// [`Error::Dimension`] when a vector has the wrong length (nothing is added),
    /// [`Error::Locked`] when another writer holds the index.
    pub fn add(&self, records: Vec<Record>) -> Result<()> {
        for r in &records {
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
                pending.push((vid, r.vector));
            }
        }
        Ok(())
    }

    /// Deletes every chunk of a document, at the next commit. Chunks added for the same
    /// id before this call, committed or not, are deleted too.
    ///
    /// # Errors
    /// [`Error::Locked`] when another writer holds the index.
    pub fn delete_document(&self, doc_id: &str) -> Result<()> {
        let mut writer = self.writer()?;
        let writer = writer.as_mut().expect("writer opened");
        writer.delete_term(Term::from_field_text(self.fields.doc_id, doc_id));
        Ok(())
    }

    /// Makes everything added and deleted so far durable and visible, as one atomic
    /// step. Returns tantivy's opstamp for the commit.
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
        let pending = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        {
            let mut graph = self.graph.write().expect("graph lock");
            graph.insert(&pending);
            graph.next_vid = graph.next_vid.max(next_vid);
        }
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        let live = live_set(&searcher)?;
        *self.snapshot.write().expect("snapshot lock") = Arc::new(Snapshot { searcher, live });
        if self.options.dim > 0 {
            // A failed save only costs a catch-up on the next open.
            let graph = self.graph.read().expect("graph lock");
            if let Err(e) = graph.save(&self.path.join(HNSW_DIR), opstamp) {
                tracing::warn!("HNSW graph not saved: {e}");
            }
        }
        Ok(opstamp)
    }

    /// Drops everything added or deleted since the last commit.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn rollback(&self) -> Result<()> {
        if let Some(w) = self.writer.lock().expect("writer lock").as_mut() {
            w.rollback()?;
        }
        self.pending.lock().expect("pending lock").clear();
        Ok(())
    }

    /// The `k` chunks whose vectors are nearest `query` (cosine), best first.
    ///
    /// # Errors
    /// [`Error::Dimension`] when `query` has the wrong length.
    pub fn search_vector(&self, query: &[f32], k: usize) -> Result<Vec<Scored>> {
        if query.len() != self.options.dim || self.options.dim == 0 {
            return Err(Error::Dimension {
                expected: self.options.dim,
                got: query.len(),
            });
        }
        let mut q = query.to_vec();
        normalize(&mut q);
        let snap = self.snapshot();
        let graph = self.graph.read().expect("graph lock");
        Ok(graph
            .search(&q, k, &snap.live)
            .into_iter()
            .map(|(id, score)| Scored { id, score })
            .collect())
    }

    /// The `k` best chunks for `query` by BM25 over title, headings and text. Any user
    /// text is accepted: query syntax that does not parse is searched as words.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn search_keyword(&self, query: &str, k: usize) -> Result<Vec<Scored>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let snap = self.snapshot();
        let boost = self.options.title_boost;
        let mut fields = vec![self.fields.body];
        if boost > 0.0 {
            fields.push(self.fields.title_terms);
        }
        let mut parser = QueryParser::for_index(&self.store, fields);
        parser.set_field_boost(self.fields.title_terms, boost);
        let (q, _errors) = parser.parse_query_lenient(query);
        let top = snap
            .searcher
            .search(&q, &TopDocs::with_limit(k).order_by_score())?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let vid = vid_of(&snap.searcher, addr)?;
            out.push(Scored { id: vid, score });
        }
        Ok(out)
    }

    /// How completely a keyword top score covers the query: `top_score` divided by the
    /// largest BM25 score the query's terms could reach (each term's IDF times
    /// `k1 + 1`). Terms missing from the collection count against it. Near 0 when the
    /// best keyword match shares little of the query's informative vocabulary.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn keyword_coverage(&self, query: &str, top_score: f32) -> Result<f32> {
        const K1: f32 = 1.2;
        let snap = self.snapshot();
        let mut analyzer = self.store.tokenizer_for_field(self.fields.body)?;
        let mut stream = analyzer.token_stream(query);
        let mut terms = std::collections::BTreeSet::new();
        while stream.advance() {
            terms.insert(stream.token().text.clone());
        }
        let n = snap.searcher.num_docs() as f32;
        let mut max = 0.0;
        for t in terms {
            let df =
                snap.searcher
                    .doc_freq(&Term::from_field_text(self.fields.body, &t))? as f32;
            max += (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * (K1 + 1.0);
        }
        Ok(if max > 0.0 { top_score / max } else { 0.0 })
    }

    /// The stored chunks for the given point ids, in the same order; ids no longer in
    /// the index (deleted since the search) are left out.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>> {
        let snap = self.snapshot();
        let terms = ids
            .iter()
            .map(|&id| Term::from_field_u64(self.fields.vid, id));
        let addrs = snap
            .searcher
            .search(&TermSetQuery::new(terms), &DocSetCollector)?;
        let mut by_vid = HashMap::with_capacity(addrs.len());
        for addr in addrs {
            let doc: TantivyDocument = snap.searcher.doc(addr)?;
            let (vid, record) = self.record_of(&doc);
            by_vid.insert(vid, record);
        }
        Ok(ids
            .iter()
            .filter_map(|id| by_vid.remove(id).map(|r| (*id, r)))
            .collect())
    }

    /// The content hash stored with a document, if the document is in the index.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn document_hash(&self, doc_id: &str) -> Result<Option<String>> {
        let snap = self.snapshot();
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.fields.doc_id, doc_id),
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

    /// Counts and sizes.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn stats(&self) -> Result<Stats> {
        let snap = self.snapshot();
        let mut docs = std::collections::HashSet::new();
        for seg in snap.searcher.segment_readers() {
            let store = seg
                .get_store_reader(1)
                .map_err(tantivy::TantivyError::from)?;
            for doc in seg.doc_ids_alive() {
                let d: TantivyDocument = store.get(doc)?;
                docs.insert(str_of(&d, self.fields.doc_id));
            }
        }
        let graph_points = self.graph.read().expect("graph lock").len();
        Ok(Stats {
            documents: docs.len(),
            chunks: usize::try_from(snap.searcher.num_docs()).unwrap_or(usize::MAX),
            dim: self.options.dim,
            graph_points,
            segments: snap.searcher.segment_readers().len(),
            disk_bytes: dir_size(&self.path),
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().expect("snapshot lock"))
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
        doc.add_u64(f.ordinal, u64::from(r.ordinal));
        doc.add_text(f.title, &r.title);
        doc.add_text(f.text, &r.text);
        doc.add_text(f.body, format!("{}\n{}\n{}", r.title, heading, r.text));
        doc.add_text(f.title_terms, &r.title);
        doc.add_text(f.heading, &heading);
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
        let heading = str_of(doc, f.heading);
        let record = Record {
            doc_id: str_of(doc, f.doc_id),
            ordinal: u32::try_from(u64_of(doc, f.ordinal)).unwrap_or(u32::MAX),
            text: str_of(doc, f.text),
            title: str_of(doc, f.title),
            heading_path: if heading.is_empty() {
                Vec::new()
            } else {
                heading.split(" > ").map(str::to_owned).collect()
            },
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

fn vid_of(searcher: &Searcher, addr: DocAddress) -> Result<u64> {
    let seg = searcher.segment_reader(addr.segment_ord);
    let col = seg.fast_fields().u64("vid")?;
    Ok(col.first(addr.doc_id).unwrap_or(0))
}

fn live_set(searcher: &Searcher) -> Result<LiveSet> {
    let mut live = LiveSet::default();
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().u64("vid")?;
        for doc in seg.doc_ids_alive() {
            if let Some(vid) = col.first(doc) {
                live.insert(vid);
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

/// Inserts into the graph every live chunk it does not cover yet (all of them when the
/// graph was missing), reading vectors from the store.
fn catch_up(
    graph: &mut Graph,
    searcher: &Searcher,
    fields: Fields,
    live: &LiveSet,
    dim: usize,
) -> Result<()> {
    if dim == 0 {
        return Ok(());
    }
    let mut missing = Vec::new();
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().u64("vid")?;
        let store = seg
            .get_store_reader(16)
            .map_err(tantivy::TantivyError::from)?;
        for doc in seg.doc_ids_alive() {
            let Some(vid) = col.first(doc) else { continue };
            if vid < graph.next_vid || !live.contains(vid) {
                continue;
            }
            let d: TantivyDocument = store.get(doc)?;
            let v = vector_of(&d, fields);
            if v.len() == dim {
                missing.push((vid, v));
            }
        }
    }
    if !missing.is_empty() {
        tracing::info!(
            points = missing.len(),
            "catching the HNSW graph up with the store"
        );
        missing.sort_by_key(|(vid, _)| *vid);
        graph.insert(&missing);
    }
    Ok(())
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
