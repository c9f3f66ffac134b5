//! Verifying an index against itself: the store's files against their checksums, every
//! chunk against the rules the writer keeps, and the HNSW graph against the stored
//! vectors; and rebuilding the graph from the store, which is the source of truth.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use tantivy::TantivyDocument;

use super::convert::{str_of, u64_of, vector_of};
use super::snapshot::missing_points;
use super::Index;
use crate::error::{Error, Result};
use crate::schema;
use crate::vectors::{normalize, Graph};

/// Problem examples kept per kind, so a report stays small on a badly broken index.
const EXAMPLES: usize = 10;

/// A graph vector this close to its stored vector (cosine) is the same vector.
const SAME_VECTOR: f32 = 0.999;

/// What [`Index::check`] found. Counts are of live (committed, not deleted) chunks;
/// each problem list holds up to ten examples, as `tenant/doc_id#ordinal`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// Live chunks in the store.
    pub chunks: usize,
    /// Documents (tenant and id) they belong to.
    pub documents: usize,
    /// Points in the HNSW graph, deleted ones included.
    pub graph_points: usize,
    /// Live chunks waiting for the background thread to insert them into the graph
    /// (searchable meanwhile by exact comparison): not a problem.
    pub pending: usize,
    /// Deleted chunks still in the graph, until it is compacted: not a problem.
    pub tombstones: usize,
    /// Store files whose checksum does not match their content. The store is the
    /// source of truth: these cannot be repaired here (restore from a backup).
    pub corrupt_files: Vec<String>,
    /// Live chunks that no vector search can return: neither in the graph nor waiting
    /// for it. Repaired by rebuilding the graph.
    pub missing_from_graph: Problem,
    /// Live chunks whose vector in the graph is not their stored vector. Repaired by
    /// rebuilding the graph.
    pub graph_mismatches: Problem,
    /// Live chunks whose stored fields cannot be read (a damaged store file).
    pub unreadable: Problem,
    /// Live chunks whose stored vector does not have the index's dimension (they are
    /// kept out of vector search).
    pub bad_vectors: Problem,
    /// Live chunks whose document key does not name their tenant and document (the key
    /// that replaces and deletes documents).
    pub bad_keys: Problem,
    /// Chunks that share a document and an ordinal with another live chunk.
    pub duplicate_chunks: Problem,
    /// Documents whose chunks carry different content hashes (parts of two versions).
    pub mixed_versions: Problem,
    /// What a repair did.
    pub repaired: Vec<String>,
}

/// How many chunks or documents have one kind of problem, with examples.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Problem {
    /// How many.
    pub count: usize,
    /// Up to ten of them.
    pub examples: Vec<String>,
}

impl Problem {
    fn add(&mut self, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(what());
        }
    }
}

impl CheckReport {
    /// Whether nothing is wrong (pending points and tombstones are normal states).
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.problems().is_empty()
    }

    /// Whether rebuilding the graph from the store would fix what is wrong with it.
    #[must_use]
    pub fn graph_needs_rebuild(&self) -> bool {
        self.missing_from_graph.count > 0 || self.graph_mismatches.count > 0
    }

    /// One line per kind of problem found.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .corrupt_files
            .iter()
            .map(|f| format!("store file fails its checksum: {f}"))
            .collect();
        for (problem, what) in [
            (&self.unreadable, "chunks that cannot be read"),
            (
                &self.missing_from_graph,
                "chunks missing from the vector graph",
            ),
            (
                &self.graph_mismatches,
                "chunks whose graph vector differs from the stored one",
            ),
            (
                &self.bad_vectors,
                "chunks whose stored vector has the wrong dimension",
            ),
            (&self.bad_keys, "chunks whose document key is wrong"),
            (&self.duplicate_chunks, "chunks stored twice"),
            (
                &self.mixed_versions,
                "documents mixing chunks of two versions",
            ),
        ] {
            if problem.count > 0 {
                out.push(format!(
                    "{} {what} (e.g. {})",
                    problem.count,
                    problem.examples.join(", ")
                ));
            }
        }
        out
    }
}

impl Index {
    /// Verifies the index: the store's files against their checksums; every live chunk
    /// against the writer's rules (its vector's dimension, its document key, one chunk
    /// per document and ordinal, one content version per document); and the graph
    /// against the store (every live chunk is in the graph or waiting for it, with its
    /// stored vector). It reads every chunk, so it takes about as long as reading the
    /// store once. Nothing is changed; see [`Index::rebuild_graph`].
    ///
    /// # Errors
    /// Tantivy errors reading the store.
    pub fn check(&self) -> Result<CheckReport> {
        let snap = self.snapshot();
        let mut report = CheckReport {
            graph_points: snap.graph.len(),
            tombstones: snap.tombstones(),
            ..CheckReport::default()
        };
        let mut corrupt: Vec<String> = self
            .store
            .validate_checksum()?
            .into_iter()
            .map(|p| p.display().to_string())
            .collect();
        corrupt.sort();
        report.corrupt_files = corrupt;

        let fields = self.fields;
        let dim = self.options.dim;
        let fresh: HashSet<u64> = snap.fresh.vids().collect();
        // Per document: the ordinals seen and the first content hash.
        let mut documents: HashMap<(String, String), (HashSet<u64>, String)> = HashMap::new();
        for seg in snap.searcher.segment_readers() {
            let vids = seg.fast_fields().u64("vid")?;
            let keys = seg.fast_fields().str("doc_key")?;
            let store = seg
                .get_store_reader(16)
                .map_err(tantivy::TantivyError::from)?;
            let mut key = String::new();
            for doc in seg.doc_ids_alive() {
                let Some(vid) = vids.first(doc) else { continue };
                if !snap.live.contains(vid) {
                    continue;
                }
                report.chunks += 1;
                let d: TantivyDocument = match store.get(doc) {
                    Ok(d) => d,
                    Err(e) => {
                        report.unreadable.add(|| format!("vid {vid}: {e}"));
                        continue;
                    }
                };
                let (tenant, doc_id) = (str_of(&d, fields.tenant), str_of(&d, fields.doc_id));
                let ordinal = u64_of(&d, fields.ordinal);
                let name = || format!("{tenant}/{doc_id}#{ordinal}");
                key.clear();
                let ord = keys.as_ref().and_then(|k| k.term_ords(doc).next());
                let found = match (&keys, ord) {
                    (Some(k), Some(ord)) => k.ord_to_str(ord, &mut key).unwrap_or(false),
                    _ => false,
                };
                if !found || key != schema::doc_key(&tenant, &doc_id) {
                    report.bad_keys.add(name);
                }
                let hash = str_of(&d, fields.doc_hash);
                let (ordinals, first_hash) = documents
                    .entry((tenant.clone(), doc_id.clone()))
                    .or_insert_with(|| (HashSet::new(), hash.clone()));
                if !ordinals.insert(ordinal) {
                    report.duplicate_chunks.add(name);
                }
                if *first_hash != hash && !first_hash.is_empty() {
                    report.mixed_versions.add(|| format!("{tenant}/{doc_id}"));
                    first_hash.clear();
                }
                if dim == 0 {
                    continue;
                }
                let mut stored = match &self.shared.log {
                    // A row never written reads as zeros.
                    Some(log) => log
                        .row(vid)
                        .filter(|row| row.iter().any(|&x| x != 0.0))
                        .map(<[f32]>::to_vec)
                        .unwrap_or_default(),
                    None => vector_of(&d, fields),
                };
                if stored.len() != dim {
                    report.bad_vectors.add(name);
                    continue;
                }
                match snap.graph.vector(vid) {
                    Some(in_graph) => {
                        normalize(&mut stored);
                        let cosine: f32 = in_graph.iter().zip(&stored).map(|(a, b)| a * b).sum();
                        if cosine < SAME_VECTOR {
                            report.graph_mismatches.add(name);
                        }
                    }
                    None if fresh.contains(&vid) => report.pending += 1,
                    None => report.missing_from_graph.add(name),
                }
            }
        }
        report.documents = documents.len();
        Ok(report)
    }

    /// Rebuilds the HNSW graph from the vectors in the store, replacing the graph in
    /// memory (searches switch to it at once) and saving it. This repairs a graph that
    /// [`Index::check`] finds missing chunks or holding wrong vectors; it also drops
    /// every tombstone. It takes as long as building the graph from scratch, and the
    /// writer lock, since it writes the graph's files.
    ///
    /// # Errors
    /// [`Error::Locked`] when another handle or process writes to the index; tantivy
    /// errors reading the store; [`Error::Graph`] when the background thread has died
    /// or the save fails.
    pub fn rebuild_graph(&self) -> Result<()> {
        drop(self.writer()?);
        // Take the background thread's turn, so the graph does not change under the
        // rebuild.
        {
            let mut work = self.shared.work.lock().expect("work lock");
            while work.busy {
                work = self.shared.signal.wait(work).expect("work lock");
            }
            if let Some(reason) = &work.failed {
                return Err(Error::Graph {
                    path: self.path.clone(),
                    reason: format!("background thread stopped: {reason}"),
                });
            }
            work.busy = true;
        }
        let rebuilt = self.rebuild_graph_now();
        {
            let mut work = self.shared.work.lock().expect("work lock");
            work.busy = false;
            if rebuilt.is_ok() {
                work.rebuilt = true;
                work.may_save = true;
            }
            self.shared.signal.notify_all();
        }
        rebuilt?;
        self.flush_graph()
    }

    fn rebuild_graph_now(&self) -> Result<()> {
        let snap = self.snapshot();
        let points = missing_points(
            &snap.searcher,
            self.fields,
            &snap.live,
            0,
            self.options.dim,
            self.shared.log.as_ref(),
        )?;
        let graph = Graph::new(self.options.hnsw, self.shared.log.clone());
        graph.insert(&points.refs());
        // The fresh points this snapshot holds are now in the graph (the store has them
        // all); the ones committed since stay fresh.
        let front = snap.fresh.front(snap.fresh.len());
        graph.advance_next_vid(snap.graph.next_vid().max(front.covers.unwrap_or(0)));
        tracing::info!(
            points = graph.len(),
            "rebuilt the HNSW graph from the store"
        );
        self.shared.publish(&Arc::new(graph), &front);
        Ok(())
    }
}
