//! Documents and files in: parsing, chunking, embedding and storing, with reports of
//! what failed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use trawl_index::Record;
use trawl_ingest::{Document, Format, Limits, Metadata};

use crate::chunk::{chunk_document, Chunk, ChunkOptions};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::search::ChunkSpan;

use super::Collection;

/// What adding one document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The document was new or changed, and this many chunks were written.
    Added {
        /// Chunks written.
        chunks: usize,
    },
    /// The same content was already indexed; nothing was re-embedded.
    Unchanged,
}

/// A file that could not be ingested, and why.
#[derive(Debug)]
pub struct Failure {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: Error,
}

/// What an ingest run did. Failures are per file; the other files are indexed.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// Files found.
    pub files: usize,
    /// Files parsed into documents (the rest are unsupported or failed).
    pub indexed: usize,
    /// Documents added or replaced (a mailbox or a mail with attachments gives several).
    pub added: usize,
    /// Documents skipped because their content was already indexed.
    pub unchanged: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Files skipped because trawl does not read their format.
    pub unsupported: Vec<PathBuf>,
    /// Files that failed, with the reason.
    pub failures: Vec<Failure>,
}

/// Progress of an ingest run, reported after each batch of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files processed so far.
    pub files_done: usize,
    /// Files in the run.
    pub files_total: usize,
    /// Chunks written so far.
    pub chunks: usize,
}

/// A flag that stops the add calls it is given: clone it, pass a clone in
/// [`AddOptions::cancel`], and call [`CancelToken::cancel`] from any thread or from the
/// progress callback. A cancelled call returns [`Error::Cancelled`], and what it had
/// added stays uncommitted: [`Collection::rollback`] discards it, or
/// [`Collection::commit`] keeps it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks every call holding this token to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How one add call runs: which tenant its documents go to, the limits files are
/// parsed under, a progress callback and a cancellation token. The default adds to
/// the collection's tenant under [`Limits::default`], silently, until done.
///
/// ```
/// use trawl::{AddOptions, CancelToken, Limits};
///
/// let stop = CancelToken::new();
/// let options = AddOptions::new()
///     .tenant("acme")
///     .limits(Limits::default().max_file_bytes(8 << 20))
///     .progress(&|p| eprintln!("{}/{} files", p.files_done, p.files_total))
///     .cancel(stop.clone());
/// assert_eq!(options.tenant.as_deref(), Some("acme"));
/// ```
#[derive(Clone, Default)]
pub struct AddOptions<'a> {
    /// The tenant the documents go to; `None`: the collection's
    /// ([`CollectionBuilder::tenant`](crate::CollectionBuilder::tenant)), else `""`. A
    /// document id names one document per tenant.
    pub tenant: Option<String>,
    /// Limits files are parsed under (file size, zip bombs, pages, sheets, rows, ...);
    /// a file over a limit is a failure in the [`IngestReport`]. Only
    /// [`Collection::add_paths`] reads files.
    pub limits: Limits,
    /// Called after each batch of files is stored.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Stops the call soon after it is cancelled.
    pub cancel: Option<CancelToken>,
}

impl<'a> AddOptions<'a> {
    /// The defaults: see [`AddOptions`].
    pub fn new() -> AddOptions<'a> {
        AddOptions::default()
    }

    /// Adds to `tenant`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Parses files under `limits`.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Calls `progress` after each batch of files.
    pub fn progress(mut self, progress: &'a (dyn Fn(Progress) + Sync)) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Stops when `token` is cancelled.
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

impl std::fmt::Debug for AddOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddOptions")
            .field("tenant", &self.tenant)
            .field("limits", &self.limits)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(Progress)"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// Files parsed together; bounds memory on huge folders.
pub(super) const FILE_BATCH: usize = 16;

/// A document chunked and hashed, ready to embed.
pub(super) struct Prepared {
    pub(super) doc: Document,
    pub(super) hash: String,
    pub(super) chunks: Vec<Chunk>,
}

/// What the parsing thread of an ingest hands to the embedding one.
#[derive(Default)]
pub(super) struct Parsed {
    pub(super) files: usize,
    pub(super) indexed: usize,
    pub(super) unsupported: Vec<PathBuf>,
    pub(super) failures: Vec<Failure>,
    pub(super) outcomes: Vec<AddOutcome>,
    /// Each with the index of the collection (shard) it goes to.
    pub(super) fresh: Vec<(usize, Prepared)>,
    pub(super) chunks: usize,
}

/// Texts embedded between checks for a cancelled ingest.
pub(crate) const EMBED_GROUP: usize = 256;

impl Collection {
    /// Adds text the caller already has as a document with id `id`, replacing any
    /// document with that id. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// Embedding and index errors.
    pub fn add_text(&self, id: &str, text: &str, metadata: Metadata) -> Result<AddOutcome> {
        let mut doc = Document::from_text(id, text);
        doc.metadata = metadata;
        Ok(self
            .add_documents(vec![doc], &AddOptions::default())?
            .pop()
            .unwrap_or(AddOutcome::Unchanged))
    }

    /// Adds documents (parsed, or built with [`Document::from_text`]), replacing any
    /// document with the same id in the same tenant; a document whose content is
    /// unchanged is skipped. Their chunks are embedded together, so one call with many
    /// documents is faster than many calls. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// [`Error::Index`] for a tenant name with U+001F; [`Error::Cancelled`]; embedding
    /// and index errors. Nothing of the batch is added then.
    pub fn add_documents(
        &self,
        docs: Vec<Document>,
        options: &AddOptions,
    ) -> Result<Vec<AddOutcome>> {
        self.adding(options, |tenant| {
            let (outcomes, fresh) = self.prepare(tenant, docs)?;
            self.store(tenant, fresh, options)?;
            Ok(outcomes)
        })
    }

    /// Runs one add call: checks its tenant and counts it as running, so that
    /// [`Collection::cancel`] reaches it.
    fn adding<T>(&self, options: &AddOptions, add: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        let tenant = self.add_tenant(options);
        trawl_index::check_tenant(tenant)?;
        self.cancelled.store(false, Ordering::SeqCst);
        self.ingesting.fetch_add(1, Ordering::SeqCst);
        let result = add(tenant);
        if self.ingesting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.cancelled.store(false, Ordering::SeqCst);
        }
        result
    }

    /// The tenant an add with `options` writes to.
    fn add_tenant<'s>(&'s self, options: &'s AddOptions<'_>) -> &'s str {
        options
            .tenant
            .as_deref()
            .or(self.tenant.as_deref())
            .unwrap_or("")
    }

    /// Sets aside the documents of `docs` whose content is already indexed in `tenant`
    /// and chunks the rest: the CPU work of an add that does not need the model.
    pub(super) fn prepare(
        &self,
        tenant: &str,
        docs: Vec<Document>,
    ) -> Result<(Vec<AddOutcome>, Vec<Prepared>)> {
        // Hashing is cheap; chunking (tokenising every piece) is not, so only what
        // changed is chunked.
        let hashed: Vec<(Document, String)> = docs
            .into_par_iter()
            .map(|doc| {
                let hash = self.content_hash(&doc);
                (doc, hash)
            })
            .collect();
        let mut changed = Vec::new();
        let mut unchanged = Vec::with_capacity(hashed.len());
        for (doc, hash) in hashed {
            let same = self.index.document_hash(tenant, &doc.id)?.as_deref() == Some(hash.as_str());
            unchanged.push(same);
            if !same {
                changed.push((doc, hash));
            }
        }
        let fresh: Vec<Prepared> = changed
            .into_par_iter()
            .map(|(doc, hash)| {
                let chunks = self.chunk(&doc);
                Prepared { doc, hash, chunks }
            })
            .collect();
        // Outcomes in the order of `docs`; the changed ones are in `fresh`, in order.
        let mut chunk_counts = fresh.iter().map(|p| p.chunks.len());
        let outcomes = unchanged
            .into_iter()
            .map(|same| {
                if same {
                    AddOutcome::Unchanged
                } else {
                    AddOutcome::Added {
                        chunks: chunk_counts.next().unwrap_or_default(),
                    }
                }
            })
            .collect();
        Ok((outcomes, fresh))
    }

    /// Embeds the chunks of prepared documents and writes them to the index, replacing
    /// earlier versions of the same documents in `tenant`.
    pub(super) fn store(
        &self,
        tenant: &str,
        fresh: Vec<Prepared>,
        options: &AddOptions,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let vectors = self.embed_prepared(&fresh, options)?;
        let embedded = started.elapsed();
        let (documents, chunks) = (fresh.len(), vectors.len());
        self.write_prepared(tenant, fresh, vectors)?;
        tracing::debug!(
            documents,
            chunks,
            embed_ms = embedded.as_millis(),
            index_ms = (started.elapsed() - embedded).as_millis(),
            "embedded and indexed a batch"
        );
        Ok(())
    }

    /// The vectors of the chunks of `fresh`, in order (none in a keyword-only
    /// collection).
    ///
    /// # Errors
    /// [`Error::NoEmbedder`] when the collection holds vectors and no model is loaded
    /// to make them; embedding errors; [`Error::Cancelled`].
    pub(super) fn embed_prepared(
        &self,
        fresh: &[Prepared],
        options: &AddOptions,
    ) -> Result<Vec<Vec<f32>>> {
        let has_chunks = fresh.iter().any(|p| !p.chunks.is_empty());
        if self.embedder.is_none() && self.dimension() > 0 && has_chunks {
            return Err(Error::NoEmbedder {
                path: self.path.clone(),
            });
        }
        embed_with(self.embedder.as_deref(), &self.chunking, fresh, &|| {
            self.check_cancelled(options)
        })
    }

    /// Writes prepared documents with their chunks' vectors (in order), replacing
    /// earlier versions of the same documents in `tenant`.
    pub(super) fn write_prepared(
        &self,
        tenant: &str,
        fresh: Vec<Prepared>,
        vectors: Vec<Vec<f32>>,
    ) -> Result<()> {
        let mut vectors = vectors.into_iter();
        // Deleted before the new chunks are added, so the delete spares them.
        for p in &fresh {
            self.index.delete_document(tenant, &p.doc.id)?;
        }
        let records = fresh
            .into_iter()
            .flat_map(|p| records_of(tenant, p, &mut vectors))
            .collect();
        self.index.add(records)?;
        Ok(())
    }

    /// Adds a document whose chunks the caller has already embedded (bring your own
    /// embeddings): one chunk per `(text, vector)` pair, in order, replacing any
    /// document with id `id` in the tenant of `options`. Skipped when texts, vectors and
    /// metadata are unchanged. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when a vector's length is not the collection's
    /// dimension (nothing is added then); [`Error::Index`] for a tenant name with
    /// U+001F; index errors.
    pub fn add_embedded(
        &self,
        id: &str,
        chunks: Vec<(String, Vec<f32>)>,
        metadata: &Metadata,
        options: &AddOptions,
    ) -> Result<AddOutcome> {
        let dim = self.index.options().dim;
        if let Some((_, v)) = chunks.iter().find(|(_, v)| v.len() != dim) {
            return Err(Error::DimensionMismatch {
                path: self.path.clone(),
                expected: dim,
                got: v.len(),
            });
        }
        let mut h = Fnv64::default();
        h.write(b"embedded");
        h.write(
            serde_json::to_string(&metadata)
                .unwrap_or_default()
                .as_bytes(),
        );
        for (text, vector) in &chunks {
            h.write(text.as_bytes());
            for x in vector {
                h.write(&x.to_le_bytes());
            }
        }
        let hash = format!("{:016x}", h.0);
        let tenant = self.add_tenant(options);
        trawl_index::check_tenant(tenant)?;
        if self.index.document_hash(tenant, id)?.as_deref() == Some(hash.as_str()) {
            return Ok(AddOutcome::Unchanged);
        }
        let metadata = to_json_object(metadata);
        let count = chunks.len();
        let records = chunks
            .into_iter()
            .zip(0u32..)
            .map(|((text, vector), ordinal)| Record {
                doc_id: id.to_owned(),
                ordinal,
                text,
                title: String::new(),
                heading_path: Vec::new(),
                source: None,
                format: Format::Text.as_str().to_owned(),
                location: Map::new(),
                metadata: metadata.clone(),
                doc_hash: hash.clone(),
                vector,
                tenant: tenant.to_owned(),
            })
            .collect();
        self.index.delete_document(tenant, id)?;
        self.index.add(records)?;
        Ok(AddOutcome::Added { chunks: count })
    }

    /// Ingests files and folders (recursively) into the tenant of `options`, parsing
    /// under its limits and calling its progress callback after each batch of files.
    /// Unsupported and broken files are reported in the [`IngestReport`] and the rest
    /// are indexed. Call [`Collection::commit`] afterwards to make them durable and
    /// visible.
    ///
    /// # Errors
    /// [`Error::Index`] for a tenant name with U+001F (nothing is added then);
    /// [`Error::Cancelled`]; errors that stop the whole run (embedding or index
    /// failures).
    pub fn add_paths<P: AsRef<Path>>(
        &self,
        roots: &[P],
        options: &AddOptions,
    ) -> Result<IngestReport> {
        let roots: Vec<PathBuf> = roots.iter().map(|r| r.as_ref().to_owned()).collect();
        self.adding(options, |tenant| self.ingest(tenant, &roots, options))
    }

    /// Walks `roots`, then parses and chunks files on a second thread while this one
    /// embeds and indexes the batch before, so that parsing hides behind embedding.
    pub(super) fn ingest(
        &self,
        tenant: &str,
        roots: &[PathBuf],
        options: &AddOptions,
    ) -> Result<IngestReport> {
        ingest_routed(&[self], tenant, roots, options)
    }
}

/// Walks `roots`, then parses and chunks files on a second thread while this one
/// embeds and indexes the batch before, so that parsing hides behind embedding. Each
/// document goes to the collection of `shards` that [`crate::shard_of`] routes it to
/// (all share one model; the first one's embeds for all).
pub(crate) fn ingest_routed(
    shards: &[&Collection],
    tenant: &str,
    roots: &[PathBuf],
    options: &AddOptions,
) -> Result<IngestReport> {
    let lead = shards[0];
    {
        let limits = &options.limits;
        let started = std::time::Instant::now();
        let mut report = IngestReport::default();
        let mut files = Vec::new();
        for root in roots {
            for entry in trawl_ingest::walk(root) {
                match entry {
                    Ok(p) => files.push(p),
                    Err(e) => report.failures.push(Failure {
                        path: match &e {
                            trawl_ingest::Error::Io { path, .. } => path.clone(),
                            _ => root.clone(),
                        },
                        error: e.into(),
                    }),
                }
            }
        }
        report.files = files.len();
        tracing::info!(
            files = files.len(),
            ms = started.elapsed().as_millis(),
            "walked {} roots",
            roots.len()
        );
        // One batch waits while the next is parsed: memory stays bounded by two.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Parsed>>(1);
        // Parsing gets threads of its own. In the shared pool its jobs would queue
        // behind the model's and run only while the model waits for them, which
        // undoes the overlap.
        let parsers = rayon::ThreadPoolBuilder::new()
            .num_threads((rayon::current_num_threads() / 4).max(1))
            .thread_name(|i| format!("trawl-parse-{i}"))
            .build()
            .ok();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let tx = tx;
                let mut parsed = Parsed::default();
                for batch in files.chunks(FILE_BATCH) {
                    if lead.check_cancelled(options).is_err() {
                        return;
                    }
                    let mut docs = Vec::new();
                    let parse_started = std::time::Instant::now();
                    // A file may hold several documents (mailboxes, attachments). No
                    // parser panic escapes trawl-ingest.
                    let results = run_on(parsers.as_ref(), || {
                        trawl_ingest::parse_paths(batch, limits)
                    });
                    for (path, result) in results {
                        match result {
                            Ok(found) => {
                                parsed.indexed += 1;
                                docs.extend(found);
                            }
                            Err(e) if e.is_unsupported() => parsed.unsupported.push(path),
                            Err(e) => parsed.failures.push(Failure {
                                path,
                                error: e.into(),
                            }),
                        }
                    }
                    parsed.files += batch.len();
                    let parse_ms = parse_started.elapsed().as_millis();
                    match run_on(parsers.as_ref(), || prepare_routed(shards, tenant, docs)) {
                        Ok((outcomes, fresh)) => {
                            tracing::debug!(
                                files = batch.len(),
                                parse_ms,
                                chunk_ms = parse_started.elapsed().as_millis() - parse_ms,
                                "parsed and chunked a batch"
                            );
                            parsed.outcomes.extend(outcomes);
                            parsed.chunks +=
                                fresh.iter().map(|(_, p)| p.chunks.len()).sum::<usize>();
                            parsed.fresh.extend(fresh);
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                    // Small files are sent together, so the model sees full batches.
                    if (parsed.chunks >= EMBED_GROUP || parsed.files >= 4 * FILE_BATCH)
                        && tx.send(Ok(std::mem::take(&mut parsed))).is_err()
                    {
                        return;
                    }
                }
                if parsed.files > 0 {
                    let _ = tx.send(Ok(parsed));
                }
            });
            let mut done = 0;
            // Leaving early drops the receiver, which stops the parsing thread at its
            // next send.
            for parsed in rx {
                let parsed = parsed?;
                lead.check_cancelled(options)?;
                report.indexed += parsed.indexed;
                report.unsupported.extend(parsed.unsupported);
                report.failures.extend(parsed.failures);
                for outcome in parsed.outcomes {
                    match outcome {
                        AddOutcome::Added { chunks } => {
                            report.added += 1;
                            report.chunks += chunks;
                        }
                        AddOutcome::Unchanged => report.unchanged += 1,
                    }
                }
                store_routed(shards, tenant, parsed.fresh, options)?;
                done += parsed.files;
                if let Some(progress) = &options.progress {
                    progress(Progress {
                        files_done: done,
                        files_total: report.files,
                        chunks: report.chunks,
                    });
                }
            }
            lead.check_cancelled(options)?;
            tracing::info!(
                files = report.files,
                indexed = report.indexed,
                failed = report.failures.len(),
                added = report.added,
                unchanged = report.unchanged,
                chunks = report.chunks,
                ms = started.elapsed().as_millis(),
                "ingest done"
            );
            Ok(report)
        })
    }
}

/// Adds documents, each to the collection of `shards` that [`crate::shard_of`] routes
/// it to, embedding them together. Outcomes are in the order of `docs`.
pub(crate) fn add_documents_routed(
    shards: &[&Collection],
    tenant: &str,
    docs: Vec<Document>,
    options: &AddOptions,
) -> Result<Vec<AddOutcome>> {
    let (outcomes, fresh) = prepare_routed(shards, tenant, docs)?;
    store_routed(shards, tenant, fresh, options)?;
    Ok(outcomes)
}

/// Outcomes of a routed add, and the prepared documents with their shards.
type Routed = (Vec<AddOutcome>, Vec<(usize, Prepared)>);

/// Routes `docs` to `shards`, and prepares each shard's part there (see
/// [`Collection::prepare`]). Outcomes are in the order of `docs`.
fn prepare_routed(shards: &[&Collection], tenant: &str, docs: Vec<Document>) -> Result<Routed> {
    if let [only] = shards {
        let (outcomes, fresh) = only.prepare(tenant, docs)?;
        return Ok((outcomes, fresh.into_iter().map(|p| (0, p)).collect()));
    }
    let routes: Vec<usize> = docs
        .iter()
        .map(|d| crate::shards::shard_of(tenant, &d.id, shards.len()))
        .collect();
    let mut parts: Vec<Vec<Document>> = (0..shards.len()).map(|_| Vec::new()).collect();
    for (doc, &shard) in docs.into_iter().zip(&routes) {
        parts[shard].push(doc);
    }
    let mut outcomes: Vec<std::vec::IntoIter<AddOutcome>> = Vec::with_capacity(shards.len());
    let mut fresh = Vec::new();
    for (i, (shard, part)) in shards.iter().zip(parts).enumerate() {
        let (o, f) = shard.prepare(tenant, part)?;
        outcomes.push(o.into_iter());
        fresh.extend(f.into_iter().map(|p| (i, p)));
    }
    let ordered = routes
        .iter()
        .map(|&shard| outcomes[shard].next().unwrap_or(AddOutcome::Unchanged))
        .collect();
    Ok((ordered, fresh))
}

/// Embeds prepared documents together (with the first shard's model, which all share)
/// and writes each to its shard.
fn store_routed(
    shards: &[&Collection],
    tenant: &str,
    fresh: Vec<(usize, Prepared)>,
    options: &AddOptions,
) -> Result<()> {
    if let [only] = shards {
        return only.store(tenant, fresh.into_iter().map(|(_, p)| p).collect(), options);
    }
    let started = std::time::Instant::now();
    let (routes, prepared): (Vec<usize>, Vec<Prepared>) = fresh.into_iter().unzip();
    let mut vectors = shards[0].embed_prepared(&prepared, options)?.into_iter();
    let mut parts: Vec<(Vec<Prepared>, Vec<Vec<f32>>)> = (0..shards.len())
        .map(|_| (Vec::new(), Vec::new()))
        .collect();
    for (shard, p) in routes.into_iter().zip(prepared) {
        let part = &mut parts[shard];
        if shards[0].embedder.is_some() {
            part.1.extend(vectors.by_ref().take(p.chunks.len()));
        }
        part.0.push(p);
    }
    for (shard, (prepared, vectors)) in shards.iter().zip(parts) {
        if !prepared.is_empty() {
            shard.write_prepared(tenant, prepared, vectors)?;
        }
    }
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        "embedded and indexed a routed batch"
    );
    Ok(())
}

impl Collection {
    /// Deletes, at the next commit, the documents of the collection's tenant whose
    /// source file lies under one of `roots` and no longer exists. Returns their ids.
    /// Paths are compared made absolute against the working directory, with `.` and
    /// `..` resolved, so `docs`, `./docs` and `/home/me/docs` name the same root.
    ///
    /// # Errors
    /// Index errors.
    pub fn remove_missing(&self, roots: &[PathBuf]) -> Result<Vec<String>> {
        let tenant = self.tenant.as_deref().unwrap_or("");
        let roots: Vec<PathBuf> = roots.iter().map(|r| comparable(r)).collect();
        let mut removed = Vec::new();
        for doc in self.index.documents(Some(tenant))? {
            let Some(source) = doc.source.as_deref().map(Path::new) else {
                continue;
            };
            let under = comparable(source);
            if roots.iter().any(|r| under.starts_with(r)) && !source.exists() {
                self.index.delete_document(tenant, &doc.doc_id)?;
                removed.push(doc.doc_id);
            }
        }
        Ok(removed)
    }

    pub(super) fn chunk(&self, doc: &Document) -> Vec<Chunk> {
        chunk_with(self.embedder.as_deref(), &self.chunking, doc)
    }

    /// Identifies a document's indexed form: its content plus everything that changes
    /// how it is chunked and embedded.
    pub(super) fn content_hash(&self, doc: &Document) -> String {
        let model = self.embedder.as_ref().map(|e| e.name()).unwrap_or_default();
        content_hash(&model, &self.chunking, doc)
    }
}
/// Runs `work` in `pool` (its parallel iterators use that pool's threads), or in the
/// caller's pool when there is none.
pub(super) fn run_on<T: Send>(
    pool: Option<&rayon::ThreadPool>,
    work: impl FnOnce() -> T + Send,
) -> T {
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// `doc` cut into chunks, counting tokens with `embedder`'s tokenizer (about four
/// bytes a token without one).
pub(super) fn chunk_with(
    embedder: Option<&dyn Embedder>,
    chunking: &ChunkOptions,
    doc: &Document,
) -> Vec<Chunk> {
    match embedder {
        Some(e) => chunk_document(doc, chunking, &|t| e.count_tokens(t)),
        None => chunk_document(doc, chunking, &|t| t.len().div_ceil(4)),
    }
}

/// The vectors of the chunks of `fresh`, in order, embedded in groups of
/// [`EMBED_GROUP`] with `before_group` checked before each (none without a model).
pub(super) fn embed_with(
    embedder: Option<&dyn Embedder>,
    chunking: &ChunkOptions,
    fresh: &[Prepared],
    before_group: &dyn Fn() -> Result<()>,
) -> Result<Vec<Vec<f32>>> {
    let Some(e) = embedder else {
        return Ok(Vec::new());
    };
    let texts: Vec<String> = fresh
        .iter()
        .flat_map(|p| {
            p.chunks
                .iter()
                .map(|c| c.embedding_text(p.doc.title.as_deref(), chunking))
        })
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut all = Vec::with_capacity(texts.len());
    for group in texts.chunks(EMBED_GROUP) {
        before_group()?;
        all.extend(e.embed(group)?);
    }
    Ok(all)
}

/// The records (one per chunk) of a prepared document in `tenant`, with vectors taken
/// in order from `vectors` (empty when it runs out: keyword-only).
pub(super) fn records_of(
    tenant: &str,
    prepared: Prepared,
    vectors: &mut impl Iterator<Item = Vec<f32>>,
) -> Vec<Record> {
    let Prepared { doc, hash, chunks } = prepared;
    let metadata = to_json_object(&doc.metadata);
    let title = doc.title.unwrap_or_default();
    let format = doc.format.as_str().to_owned();
    chunks
        .into_iter()
        .map(|chunk| Record {
            doc_id: doc.id.clone(),
            tenant: tenant.to_owned(),
            ordinal: chunk.ordinal,
            location: chunk_location(&chunk),
            text: chunk.text,
            title: title.clone(),
            heading_path: chunk.heading_path,
            source: doc.source.clone(),
            format: format.clone(),
            metadata: metadata.clone(),
            doc_hash: hash.clone(),
            vector: vectors.next().unwrap_or_default(),
        })
        .collect()
}

/// Identifies a document's indexed form: its content plus everything that changes how
/// it is chunked and embedded (the model's name, the chunking).
pub(super) fn content_hash(model: &str, chunking: &ChunkOptions, doc: &Document) -> String {
    let mut h = Fnv64::default();
    h.write(model.as_bytes());
    h.write(
        serde_json::to_string(chunking)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.write(serde_json::to_string(doc).unwrap_or_default().as_bytes());
    format!("{:016x}", h.0)
}

/// FNV-1a, 64-bit: stable across Rust releases, unlike `DefaultHasher`.
pub(super) struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub(super) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

pub(super) fn to_json_object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The chunk's location with its place in the parent section under `"chunk"`.
pub(super) fn chunk_location(chunk: &Chunk) -> Map<String, Value> {
    let mut location = to_json_object(&chunk.location);
    let span = ChunkSpan {
        parent: chunk.parent,
        start: chunk.start,
        end: chunk.end,
        header_chars: chunk.header_chars,
    };
    location.insert("chunk".to_owned(), Value::Object(to_json_object(&span)));
    location
}

/// `path` made absolute (against the working directory) with `.` and `..` resolved
/// lexically, so that two spellings of one path (`docs/a.md`, `./docs/a.md`,
/// `/home/me/docs/a.md`) compare equal.
pub(super) fn comparable(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
