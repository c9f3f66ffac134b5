//! Shard sets: several ordinary collections searched as one.
//!
//! A set is a folder holding a manifest (`shards.json`) and one collection per shard
//! (`shard-000`, `shard-001`, ...). Each shard opens on its own as a plain
//! [`Collection`]. Documents are routed by [`shard_of`], a stable hash of tenant and
//! document id, so an update or a delete reaches the one shard that holds the
//! document.
//!
//! Writers ([`ShardWriter`], or one process per shard) commit shards as they go; a
//! set's state becomes visible to readers only when the manifest is published: each
//! shard's last commit is pinned (kept readable, see [`Collection::pin`]), then the
//! manifest naming those commits replaces the old one atomically. A [`ShardSet`] opens
//! every shard at its published commit, so it sees one generation whole, never a mix,
//! however far writers have gone since.
//!
//! Searches fan out to every shard and merge: dense candidates by similarity, keyword
//! candidates by BM25 scored with the statistics of the whole set (chunk count, field
//! lengths, term frequencies gathered across shards first), so each shard scores as
//! one collection of all the chunks would. Fusion, reranking, parent expansion and the
//! context builder then run once, on the merged lists.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rayon::prelude::*;
use trawl_index::{
    DocumentInfo, Filter, Index, KeywordSignals, KeywordStats, Record, Scored, Stats, View,
};
use trawl_ingest::{Document, Metadata};

use crate::collection::{
    add_documents_routed, build_context, by_vector_options, ingest_routed, Source,
};
use crate::context::{Context, ContextOptions};
use crate::error::{Error, Result};
use crate::search::{Hit, SearchMode, SearchOptions};
use crate::{AddOptions, AddOutcome, Collection, CollectionBuilder, IngestReport};

pub use self::manifest::{shard_of, ShardEntry, ShardManifest, SHARDS_MANIFEST};

mod manifest;

/// A point id in a set: the shard in the top bits, the shard's own id below.
const SHARD_SHIFT: u32 = 48;
/// Times an open retries when a newer generation replaced the one it was reading.
const OPEN_ATTEMPTS: usize = 8;

/// The folder name of shard `i`.
fn shard_dir(i: usize) -> String {
    format!("shard-{i:03}")
}

/// A published generation of a shard set, opened for searching.
///
/// `Send + Sync`: share it with an `Arc`. It stays at the generation it opened until
/// [`ShardSet::reload`], whatever writers commit or publish meanwhile.
pub struct ShardSet {
    root: PathBuf,
    template: CollectionBuilder,
    current: RwLock<Arc<Generation>>,
}

impl std::fmt::Debug for ShardSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.generation_now();
        f.debug_struct("ShardSet")
            .field("root", &self.root)
            .field("generation", &current.manifest.generation)
            .field("shards", &current.shards.len())
            .finish()
    }
}

/// The shards of one generation, open at its commits.
struct Generation {
    manifest: ShardManifest,
    shards: Vec<Collection>,
}

impl ShardSet {
    /// Opens the set at `root` at its last published generation, with each shard's
    /// recorded model.
    ///
    /// # Errors
    /// [`Error::Index`] `NotFound` when there is no set; [`Error::InvalidShardSet`];
    /// as [`Collection::open`] for each shard.
    pub fn open(root: impl Into<PathBuf>) -> Result<ShardSet> {
        ShardSet::open_with(root, Collection::builder(""))
    }

    /// Opens the set with the settings of `template` (model, reranker, tenant,
    /// precision) applied to every shard; its path is ignored. One model and one
    /// reranker serve all shards.
    ///
    /// # Errors
    /// As [`ShardSet::open`].
    pub fn open_with(root: impl Into<PathBuf>, template: CollectionBuilder) -> Result<ShardSet> {
        let root = root.into();
        let generation = open_generation(&root, &template)?;
        Ok(ShardSet {
            root,
            template,
            current: RwLock::new(Arc::new(generation)),
        })
    }

    /// Whether a shard set exists at `root`.
    #[must_use]
    pub fn exists(root: impl AsRef<Path>) -> bool {
        root.as_ref().join(SHARDS_MANIFEST).is_file()
    }

    /// Moves to the last published generation, if it is newer. Searches running
    /// meanwhile finish on the old one. Returns whether it moved.
    ///
    /// # Errors
    /// As [`ShardSet::open`]; the set stays at its generation then.
    pub fn reload(&self) -> Result<bool> {
        let now = self.generation_now().manifest.generation;
        if ShardManifest::read(&self.root)?.generation == now {
            return Ok(false);
        }
        let next = open_generation(&self.root, &self.template)?;
        let moved = next.manifest.generation != now;
        *self.current.write().expect("generation lock") = Arc::new(next);
        Ok(moved)
    }

    /// The set's folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The manifest of the generation searched now.
    #[must_use]
    pub fn manifest(&self) -> ShardManifest {
        self.generation_now().manifest.clone()
    }

    /// The number of shards.
    #[must_use]
    pub fn shard_count(&self) -> usize {
        self.generation_now().shards.len()
    }

    /// The length of the set's vectors (0 for keyword-only shards).
    #[must_use]
    pub fn dimension(&self) -> usize {
        self.generation_now().shards[0].dimension()
    }

    /// Sets the HNSW search's candidate list size of every shard (see
    /// [`Index::set_ef_search`]): recall against latency, for this handle's current
    /// generation.
    pub fn set_ef_search(&self, ef_search: usize) {
        for shard in &self.generation_now().shards {
            shard.index().set_ef_search(ef_search);
        }
    }

    /// The `k` best chunks of the whole set for `query`.
    ///
    /// # Errors
    /// As [`Collection::search`].
    pub fn search(&self, query: &str, k: usize, mode: SearchMode) -> Result<Vec<Hit>> {
        self.search_with(
            query,
            &SearchOptions {
                k,
                mode,
                ..SearchOptions::default()
            },
        )
    }

    /// A search with every option, as [`Collection::search_with`], across all shards.
    ///
    /// # Errors
    /// As [`Collection::search_with`].
    pub fn search_with(&self, query: &str, options: &SearchOptions) -> Result<Vec<Hit>> {
        self.run(query, None, options)
    }

    /// A search with a query vector the caller embedded, as
    /// [`Collection::search_by_vector`].
    ///
    /// # Errors
    /// As [`Collection::search_by_vector`].
    pub fn search_by_vector(
        &self,
        vector: &[f32],
        query: &str,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let options = by_vector_options(&self.root, self.dimension(), vector, query, options)?;
        self.run(query, Some(vector), &options)
    }

    /// The best passages of the whole set for `query`, packed into a cited context, as
    /// [`Collection::context`].
    ///
    /// # Errors
    /// As [`Collection::search_with`].
    pub fn context(&self, query: &str, options: &ContextOptions) -> Result<Context> {
        let generation = self.generation_now();
        let hits = self.run_on(&generation, query, None, &options.search)?;
        let embedder = generation.shards[0].embedder().map(|e| &**e);
        Ok(build_context(embedder, &hits, options))
    }

    /// The documents of all shards (of `tenant` only, when given).
    ///
    /// # Errors
    /// Index errors.
    pub fn documents(&self, tenant: Option<&str>) -> Result<Vec<DocumentInfo>> {
        let mut out = Vec::new();
        for shard in &self.generation_now().shards {
            out.extend(shard.documents(tenant)?);
        }
        Ok(out)
    }

    /// The MeCab dictionaries the shards cut Japanese and Korean text with (see
    /// `trawl_index::Index::dictionaries`), each named once: shards made on machines
    /// with different dictionaries each keep their own.
    #[must_use]
    pub fn dictionaries(&self) -> Vec<String> {
        let generation = self.generation_now();
        let mut all: Vec<String> = Vec::new();
        for shard in &generation.shards {
            for d in shard.index().dictionaries() {
                if !all.contains(d) {
                    all.push(d.clone());
                }
            }
        }
        all
    }

    /// Documents, chunks and size on disk, summed over the shards.
    ///
    /// # Errors
    /// Index errors.
    pub fn stats(&self) -> Result<Stats> {
        let generation = self.generation_now();
        let mut all = generation.shards[0].stats()?;
        for shard in &generation.shards[1..] {
            let s = shard.stats()?;
            all.documents += s.documents;
            all.chunks += s.chunks;
            all.graph_points += s.graph_points;
            all.graph_vectors_in_memory += s.graph_vectors_in_memory;
            all.unindexed_points += s.unindexed_points;
            all.tombstones += s.tombstones;
            all.deleted_chunks += s.deleted_chunks;
            all.segments += s.segments;
            all.disk_bytes += s.disk_bytes;
            all.chunks_without_terms += s.chunks_without_terms;
            // Every shard runs every keyword search: a query is counted once.
            all.queries_without_terms = all.queries_without_terms.max(s.queries_without_terms);
            for (tenant, t) in s.tenants {
                let entry = all.tenants.entry(tenant).or_default();
                entry.documents += t.documents;
                entry.chunks += t.chunks;
            }
        }
        Ok(all)
    }

    fn generation_now(&self) -> Arc<Generation> {
        Arc::clone(&self.current.read().expect("generation lock"))
    }

    fn run(
        &self,
        query: &str,
        vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        self.run_on(&self.generation_now(), query, vector, options)
    }

    fn run_on(
        &self,
        generation: &Generation,
        query: &str,
        vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let view = SetView::new(&generation.shards, &self.root)?;
        let mut searching = generation.shards[0].searching();
        searching.path = &self.root;
        searching.run(&view, query, vector, options)
    }
}

/// Opens the last published generation at `root`, each shard at its pinned commit. A
/// generation replaced while it opens (its pins released, its files collected) is
/// read again from the newer manifest.
fn open_generation(root: &Path, template: &CollectionBuilder) -> Result<Generation> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let manifest = ShardManifest::read(root)?;
        match open_shards(root, &manifest, template, true) {
            Ok(shards) => return Ok(Generation { manifest, shards }),
            Err(e) if attempt < OPEN_ATTEMPTS => {
                let replaced = ShardManifest::read(root)
                    .is_ok_and(|now| now.generation != manifest.generation);
                if !replaced {
                    return Err(e);
                }
                tracing::debug!(
                    generation = manifest.generation,
                    "a newer generation was published while opening: opening it"
                );
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens the shards `manifest` lists: at their published commits (`pinned`) or at
/// their last ones. The first shard's model and reranker serve the others.
fn open_shards(
    root: &Path,
    manifest: &ShardManifest,
    template: &CollectionBuilder,
    pinned: bool,
) -> Result<Vec<Collection>> {
    let mut shards: Vec<Collection> = Vec::with_capacity(manifest.shards.len());
    for entry in &manifest.shards {
        let mut builder = template.clone();
        builder.path = root.join(&entry.path);
        if !Index::exists(&builder.path) {
            return Err(Error::InvalidShardSet {
                path: root.to_owned(),
                reason: format!("shard {:?} has no collection", entry.path),
            });
        }
        if pinned {
            builder = builder.at_commit(entry.commit);
        }
        if let Some(first) = shards.first() {
            builder = share_model(builder, first);
        }
        let shard = builder.open()?;
        if let Some(first) = shards.first() {
            if shard.dimension() != first.dimension() {
                return Err(Error::InvalidShardSet {
                    path: root.to_owned(),
                    reason: format!(
                        "shard {:?} holds {}-dimensional vectors, the first shard {}",
                        entry.path,
                        shard.dimension(),
                        first.dimension()
                    ),
                });
            }
        }
        shards.push(shard);
    }
    Ok(shards)
}

/// `builder` set to use the model and reranker `first` already loaded. A shard it
/// creates records the first shard's model folder, so that it opens on its own too.
fn share_model(mut builder: CollectionBuilder, first: &Collection) -> CollectionBuilder {
    builder.model_dir = trawl_index::Index::read_options(first.path())
        .ok()
        .and_then(|o| o.extra.get("model_dir")?.as_str().map(PathBuf::from));
    builder.reranker_spec = None;
    builder.reranker = first.reranker().cloned();
    match first.embedder() {
        Some(e) => builder.embedder(Arc::clone(e)),
        None => builder,
    }
}

/// Writes a shard set: routes adds and deletes to shards, and publishes the shards'
/// commits as a new generation at [`ShardWriter::commit`].
///
/// One writer per set at a time (each shard's writer lock is held from its first add
/// or delete). Searches through [`ShardSet`] see a generation once it is published.
pub struct ShardWriter {
    root: PathBuf,
    shards: Vec<Collection>,
    /// Serialises publications from this handle.
    publishing: Mutex<()>,
}

impl std::fmt::Debug for ShardWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardWriter")
            .field("root", &self.root)
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl ShardWriter {
    /// Creates a set of `shards` empty shards at `root` with the settings of
    /// `template` (model, chunking, language; its path is ignored), and publishes it
    /// as generation 1.
    ///
    /// # Errors
    /// [`Error::Invalid`] for no shards or more than 4096; [`Error::Index`]
    /// `AlreadyExists` when a set is already there; as [`CollectionBuilder::open`].
    pub fn create(
        root: impl Into<PathBuf>,
        shards: usize,
        template: &CollectionBuilder,
    ) -> Result<ShardWriter> {
        let root = root.into();
        if !(1..=4096).contains(&shards) {
            return Err(Error::Invalid {
                what: "shards",
                reason: format!("{shards} shards; a set has 1 to 4096"),
            });
        }
        if ShardSet::exists(&root) {
            return Err(trawl_index::Error::AlreadyExists { path: root }.into());
        }
        std::fs::create_dir_all(&root).map_err(|source| trawl_index::Error::Io {
            path: root.clone(),
            source,
        })?;
        let mut opened: Vec<Collection> = Vec::with_capacity(shards);
        let mut entries = Vec::with_capacity(shards);
        for i in 0..shards {
            let mut builder = template.clone();
            builder.path = root.join(shard_dir(i));
            builder.commit = None;
            if let Some(first) = opened.first() {
                builder = share_model(builder, first);
            }
            let shard = builder.open()?;
            shard.commit()?;
            entries.push(ShardEntry {
                path: shard_dir(i),
                commit: shard.pin()?,
            });
            opened.push(shard);
        }
        ShardManifest::new(1, entries).write(&root)?;
        Ok(ShardWriter {
            root,
            shards: opened,
            publishing: Mutex::new(()),
        })
    }

    /// Opens the set at `root` for writing, each shard at its last commit (which may
    /// be ahead of the published generation after a writer stopped before publishing:
    /// the next [`ShardWriter::commit`] publishes it).
    ///
    /// # Errors
    /// As [`ShardSet::open`].
    pub fn open(root: impl Into<PathBuf>) -> Result<ShardWriter> {
        ShardWriter::open_with(root, &Collection::builder(""))
    }

    /// Opens the set for writing with the settings of `template` applied to every
    /// shard (its path is ignored).
    ///
    /// # Errors
    /// As [`ShardSet::open`].
    pub fn open_with(
        root: impl Into<PathBuf>,
        template: &CollectionBuilder,
    ) -> Result<ShardWriter> {
        let root = root.into();
        let manifest = ShardManifest::read(&root)?;
        let shards = open_shards(&root, &manifest, template, false)?;
        Ok(ShardWriter {
            root,
            shards,
            publishing: Mutex::new(()),
        })
    }

    /// The set's folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The shards, in routing order: document `id` of `tenant` goes to
    /// `shards()[shard_of(tenant, id, shards().len())]`.
    #[must_use]
    pub fn shards(&self) -> &[Collection] {
        &self.shards
    }

    /// Adds documents, each to its shard, as [`Collection::add_documents`]. Outcomes
    /// are in the order of `docs`.
    ///
    /// # Errors
    /// As [`Collection::add_documents`].
    pub fn add_documents(
        &self,
        docs: Vec<Document>,
        options: &AddOptions,
    ) -> Result<Vec<AddOutcome>> {
        let tenant = options.tenant.as_deref().unwrap_or("");
        trawl_index::check_tenant(tenant)?;
        add_documents_routed(&self.refs(), tenant, docs, options)
    }

    /// Adds text as document `id`, to its shard, as [`Collection::add_text`].
    ///
    /// # Errors
    /// As [`Collection::add_text`].
    pub fn add_text(&self, id: &str, text: &str, metadata: Metadata) -> Result<AddOutcome> {
        let mut doc = Document::from_text(id, text);
        doc.metadata = metadata;
        Ok(self
            .add_documents(vec![doc], &AddOptions::default())?
            .pop()
            .unwrap_or(AddOutcome::Unchanged))
    }

    /// Ingests files and folders, each document to its shard, as
    /// [`Collection::add_paths`]: broken files are reported, the rest indexed.
    ///
    /// # Errors
    /// As [`Collection::add_paths`].
    pub fn add_paths<P: AsRef<Path>>(
        &self,
        roots: &[P],
        options: &AddOptions,
    ) -> Result<IngestReport> {
        let tenant = options.tenant.as_deref().unwrap_or("");
        trawl_index::check_tenant(tenant)?;
        let roots: Vec<PathBuf> = roots.iter().map(|r| r.as_ref().to_owned()).collect();
        ingest_routed(&self.refs(), tenant, &roots, options)
    }

    /// Deletes document `doc_id` of `tenant` (`None`: `""`) from its shard at the next
    /// commit.
    ///
    /// # Errors
    /// Index errors.
    pub fn delete(&self, doc_id: &str, tenant: Option<&str>) -> Result<()> {
        let tenant = tenant.unwrap_or("");
        let shard = shard_of(tenant, doc_id, self.shards.len());
        self.shards[shard].delete(doc_id, Some(tenant))
    }

    /// Discards the adds and deletes made since the last commit, in every shard.
    ///
    /// # Errors
    /// Index errors.
    pub fn rollback(&self) -> Result<()> {
        for shard in &self.shards {
            shard.rollback()?;
        }
        Ok(())
    }

    /// Commits every shard, then publishes their commits as the set's next
    /// generation. Returns its number. A crash before the publication leaves the old
    /// generation published and the shards' commits in place: the next commit, or
    /// [`publish`], publishes them.
    ///
    /// # Errors
    /// Index errors; the published generation stays the old one then.
    pub fn commit(&self) -> Result<u64> {
        let _one = self.publishing.lock().expect("publish lock");
        let mut commits = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            shard.commit()?;
            commits.push(shard.pin()?);
        }
        Ok(publish(&self.root, &commits)?.generation)
    }

    /// Discards uncommitted changes and gives up every shard's writer lock (see
    /// [`Collection::release_writer`]); a later add or delete takes them again.
    ///
    /// # Errors
    /// Index errors.
    pub fn release_writer(&self) -> Result<()> {
        self.shards.iter().try_for_each(Collection::release_writer)
    }

    /// Blocks until every shard's vector graph holds its committed chunks and is saved
    /// (see [`Collection::flush_graph`]).
    ///
    /// # Errors
    /// As [`Collection::flush_graph`].
    pub fn flush_graph(&self) -> Result<()> {
        self.shards.iter().try_for_each(Collection::flush_graph)
    }

    fn refs(&self) -> Vec<&Collection> {
        self.shards.iter().collect()
    }
}

/// Publishes `commits` (one pinned commit per shard, in the manifest's order) as the
/// next generation of the set at `root`, then releases the pins no longer published.
/// For writers that commit shards themselves (one process per shard): each pins its
/// commit with [`Collection::pin`] and one of them, or a coordinator, publishes.
///
/// # Errors
/// [`Error::InvalidShardSet`] when the count differs from the set's shards;
/// [`Error::Index`] `NotPinned` when a commit is not pinned; I/O errors.
pub fn publish(root: &Path, commits: &[u64]) -> Result<ShardManifest> {
    let old = ShardManifest::read(root)?;
    if commits.len() != old.shards.len() {
        return Err(Error::InvalidShardSet {
            path: root.to_owned(),
            reason: format!(
                "{} commits published for {} shards",
                commits.len(),
                old.shards.len()
            ),
        });
    }
    let paths = old.shard_paths(root);
    for (path, &commit) in paths.iter().zip(commits) {
        if !Index::pins(path)?.contains(&commit) {
            return Err(trawl_index::Error::NotPinned {
                path: path.clone(),
                commit,
            }
            .into());
        }
    }
    let shards = old
        .shards
        .iter()
        .zip(commits)
        .map(|(entry, &commit)| ShardEntry {
            path: entry.path.clone(),
            commit,
        })
        .collect();
    let next = ShardManifest::new(old.generation + 1, shards);
    next.write(root)?;
    // Readers opened at older generations keep their files open; readers opening
    // now read the new manifest (or retry with it).
    for (path, &keep) in paths.iter().zip(commits) {
        for pin in Index::pins(path)? {
            if pin != keep {
                Index::unpin(path, pin)?;
            }
        }
    }
    Ok(next)
}

/// All shards' views of one generation, searched as one [`Source`].
struct SetView<'a> {
    views: Vec<View<'a>>,
    /// The last query's merged statistics: a hybrid search asks for them twice (the
    /// keyword list, then fusion's signals).
    stats: Mutex<Option<(String, Arc<KeywordStats>)>>,
}

impl<'a> SetView<'a> {
    fn new(shards: &'a [Collection], root: &Path) -> Result<SetView<'a>> {
        if shards.len() >= 1 << (64 - SHARD_SHIFT) {
            return Err(Error::InvalidShardSet {
                path: root.to_owned(),
                reason: format!("{} shards", shards.len()),
            });
        }
        Ok(SetView {
            views: shards.iter().map(|s| s.index().view()).collect(),
            stats: Mutex::new(None),
        })
    }

    /// The set's BM25 statistics for `q`: every shard's, merged (once per query).
    fn keyword_stats(&self, q: &str) -> Result<Arc<KeywordStats>> {
        let mut cached = self.stats.lock().expect("stats lock");
        if let Some((query, stats)) = cached.as_ref() {
            if query == q {
                return Ok(Arc::clone(stats));
            }
        }
        let mut all = KeywordStats::default();
        for view in &self.views {
            all.merge(&view.keyword_stats(q)?);
        }
        let all = Arc::new(all);
        *cached = Some((q.to_owned(), Arc::clone(&all)));
        Ok(all)
    }

    /// Runs `search` on every shard at once and merges the lists by score.
    fn fan_out(
        &self,
        k: usize,
        search: impl Fn(&View<'a>) -> trawl_index::Result<Vec<Scored>> + Sync,
    ) -> Result<Vec<Scored>> {
        let lists: Vec<Vec<Scored>> = self
            .views
            .par_iter()
            .map(&search)
            .collect::<trawl_index::Result<_>>()?;
        let mut all = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        for (shard, list) in lists.into_iter().enumerate() {
            for s in list {
                all.push(Scored {
                    id: encode(shard, s.id)?,
                    score: s.score,
                });
            }
        }
        all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        all.truncate(k);
        Ok(all)
    }
}

fn encode(shard: usize, id: u64) -> Result<u64> {
    if id >> SHARD_SHIFT != 0 {
        return Err(Error::Invalid {
            what: "point id",
            reason: format!("{id} is too large for a shard set"),
        });
    }
    Ok((shard as u64) << SHARD_SHIFT | id)
}

fn decode(id: u64) -> (usize, u64) {
    let shard = usize::try_from(id >> SHARD_SHIFT).unwrap_or(usize::MAX);
    (shard, id & ((1 << SHARD_SHIFT) - 1))
}

impl Source for SetView<'_> {
    fn search_vector(&self, v: &[f32], k: usize, filter: Option<&Filter>) -> Result<Vec<Scored>> {
        self.fan_out(k, |view| view.search_vector(v, k, filter))
    }

    fn search_keyword(&self, q: &str, k: usize, filter: Option<&Filter>) -> Result<Vec<Scored>> {
        let stats = self.keyword_stats(q)?;
        self.fan_out(k, |view| {
            view.clone()
                .with_keyword_stats((*stats).clone())
                .search_keyword(q, k, filter)
        })
    }

    fn keyword_signals(&self, q: &str, top_score: f32) -> Result<KeywordSignals> {
        let stats = self.keyword_stats(q)?;
        Ok(self.views[0]
            .clone()
            .with_keyword_stats((*stats).clone())
            .keyword_signals(q, top_score)?)
    }

    fn term_count(&self, q: &str) -> Result<usize> {
        let stats = self.keyword_stats(q)?;
        Ok(self.views[0]
            .clone()
            .with_keyword_stats((*stats).clone())
            .term_idfs(q)?
            .len())
    }

    fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>> {
        let mut per_shard: Vec<Vec<u64>> = vec![Vec::new(); self.views.len()];
        for &id in ids {
            let (shard, local) = decode(id);
            if let Some(list) = per_shard.get_mut(shard) {
                list.push(local);
            }
        }
        let mut found = std::collections::HashMap::with_capacity(ids.len());
        for (shard, (view, locals)) in self.views.iter().zip(per_shard).enumerate() {
            if locals.is_empty() {
                continue;
            }
            for (local, record) in view.fetch(&locals)? {
                found.insert(encode(shard, local)?, record);
            }
        }
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id).map(|r| (*id, r)))
            .collect())
    }

    fn document(&self, tenant: &str, doc_id: &str) -> Result<Vec<(u64, Record)>> {
        // Routing puts a document in one shard; all are asked, so a document placed
        // by hand elsewhere is still whole.
        let mut out = Vec::new();
        for (shard, view) in self.views.iter().enumerate() {
            for (local, record) in view.document(tenant, doc_id)? {
                out.push((encode(shard, local)?, record));
            }
        }
        out.sort_by_key(|(_, r)| r.ordinal);
        Ok(out)
    }
}
