//! The background graph thread: inserts fresh points into the HNSW graph, compacts it
//! when tombstones pile up, and saves it.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::vector_log::VectorLog;
use crate::vectors::Graph;

use super::snapshot::Snapshot;
use super::{GRAPH_TOMBSTONE_RATIO, HNSW_DIR, INSERT_STEP, SAVE_UNSAVED_MAX, SAVE_UNSAVED_SHARE};

/// The background thread's state, under `Shared::work`.
#[derive(Default)]
pub(super) struct Work {
    /// Stop once the work in hand is done (or at once, when paused).
    pub(super) stop: bool,
    /// Graph insertion is paused ([`Index::set_graph_indexing`]).
    pub(super) paused: bool,
    /// The thread is inserting, compacting or saving.
    pub(super) busy: bool,
    /// This handle has committed, so it may save the graph (a reader never does: a
    /// writer in another process owns the files).
    pub(super) may_save: bool,
    /// Points in the last saved graph.
    pub(super) saved_points: usize,
    /// The graph in memory was rebuilt since the last save.
    pub(super) rebuilt: bool,
    /// Why the last save failed, until one succeeds.
    pub(super) save_error: Option<String>,
    /// Set when the thread has died (a panic in a graph step): fresh points then stay
    /// searchable by exact comparison, and the next open catches the graph up.
    pub(super) failed: Option<String>,
}

/// What an [`Index`] shares with its background graph thread.
pub(super) struct Shared {
    pub(super) path: PathBuf,
    pub(super) dim: usize,
    pub(super) snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises the steps that replace the snapshot (commit, reload, the background
    /// thread's publishing); taken after `Index::writer` when both are needed.
    pub(super) update: Mutex<()>,
    pub(super) work: Mutex<Work>,
    /// Signalled when there is work for the thread, when it finishes a step, and on
    /// stop.
    pub(super) signal: Condvar,
    /// The smallest candidate list a graph search uses ([`Index::set_ef_search`]).
    pub(super) ef_search: AtomicUsize,
    /// The vector files, in an index that keeps its vectors there.
    pub(super) log: Option<Arc<VectorLog>>,
}

impl Shared {
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().expect("snapshot lock"))
    }

    /// Whether the graph has too many deleted points (compacted by rebuilding it).
    pub(super) fn compaction_due(snap: &Snapshot) -> bool {
        let dead = snap.tombstones();
        dead > 0
            && dead as f64 > (snap.graph.len() + snap.fresh.len()) as f64 * GRAPH_TOMBSTONE_RATIO
    }

    pub(super) fn save_due(&self, work: &Work, snap: &Snapshot) -> bool {
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
    pub(super) fn has_work(&self, work: &Work) -> bool {
        if self.dim == 0 {
            return false;
        }
        let snap = self.snapshot();
        !snap.fresh.is_empty() || Self::compaction_due(&snap) || self.save_due(work, &snap)
    }

    /// The background thread: waits for work, does it one step at a time.
    pub(super) fn run(&self) {
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

    /// One step, a panic turned into an error.
    pub(super) fn step_guarded(&self) -> std::result::Result<(), String> {
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
    pub(super) fn step(&self) {
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
                let compacted = work.rebuilt;
                work.saved_points = snap.graph.len();
                work.rebuilt = false;
                work.save_error = None;
                drop(work);
                self.remap(&snap.graph);
                if compacted {
                    self.reclaim(&snap);
                }
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

    /// Replaces a quantized graph that holds vectors in memory by the one it was just
    /// saved as, opened from its file, where the vectors stay: a process that goes on
    /// adding keeps in memory only the vectors added since the last save, as one that
    /// opened the index does. The caller has not changed the graph since the save.
    /// Costs a load of the graph's lists and codes (0.4 s at 1M points), during which
    /// both graphs are in memory.
    fn remap(&self, graph: &Arc<Graph>) {
        if !graph.is_coded() || graph.vectors_in_memory() == 0 {
            return;
        }
        let Some(loaded) = Graph::load(
            &self.path.join(HNSW_DIR),
            graph.params(),
            self.dim,
            self.log.as_ref(),
        ) else {
            return;
        };
        if loaded.len() != graph.len() || loaded.vectors_in_memory() > 0 {
            return;
        }
        let _update = self.update.lock().expect("update lock");
        let current = self.snapshot();
        if !Arc::ptr_eq(&current.graph, graph) {
            return;
        }
        // Commits may have moved the graph's coverage on since the save.
        loaded.advance_next_vid(graph.next_vid());
        let next = current.with_vectors(Arc::new(loaded), current.fresh.clone());
        *self.snapshot.write().expect("snapshot lock") = Arc::new(next);
    }

    /// Gives back the rows of deleted chunks in the vector files (see
    /// [`VectorLog::reclaim`]) once a compacted graph that holds none of them is
    /// saved, and no pinned commit (which may still hold such chunks) exists.
    fn reclaim(&self, snap: &Snapshot) {
        let Some(log) = &self.log else { return };
        if !super::pins::list_pins(&self.path).is_ok_and(|pins| pins.is_empty()) {
            return;
        }
        // Rows past what the graph covers belong to commits it has not taken in yet.
        let covered = snap.graph.next_vid();
        let in_graph = snap.graph.vid_set();
        let freed =
            log.reclaim(|vid| vid >= covered || snap.live.contains(vid) || in_graph.contains(vid));
        if freed > 0 {
            tracing::info!(bytes = freed, "removed the vector files of deleted chunks");
        }
    }

    /// Replaces the snapshot with the same store state, `graph`, and the fresh set
    /// without the points `front` took (now in `graph`).
    pub(super) fn publish(&self, graph: &Arc<Graph>, front: &crate::fresh::Front<'_>) {
        let _update = self.update.lock().expect("update lock");
        let current = self.snapshot();
        let next = current.with_vectors(Arc::clone(graph), current.fresh.after(front));
        *self.snapshot.write().expect("snapshot lock") = Arc::new(next);
    }
}
