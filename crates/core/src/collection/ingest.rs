//! Documents and files in: parsing, chunking, embedding and storing, with reports of
//! what failed.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use trawl_index::Record;
use trawl_ingest::{Document, Format, Metadata};

use crate::chunk::{chunk_document, Chunk};
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
    pub(super) fresh: Vec<Prepared>,
    pub(super) chunks: usize,
}

/// Texts embedded between checks for a cancelled ingest.
pub(super) const EMBED_GROUP: usize = 256;

impl Collection {
    /// Adds text the caller already has as a document with id `id`, replacing any
    /// document with that id. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// Embedding and index errors.
    pub fn add_text(&self, id: &str, text: &str, metadata: Metadata) -> Result<AddOutcome> {
        let mut doc = Document::from_text(id, text);
        doc.metadata = metadata;
        self.add_document(doc)
    }

    /// Adds a parsed document, replacing any document with the same id; skipped when
    /// its content is unchanged. Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// Embedding and index errors.
    pub fn add_document(&self, doc: Document) -> Result<AddOutcome> {
        Ok(self
            .add_documents(vec![doc])?
            .pop()
            .unwrap_or(AddOutcome::Unchanged))
    }

    /// Adds many documents, embedding their chunks together (faster than one by one).
    /// They go to the collection's tenant ([`CollectionBuilder::tenant`]).
    ///
    /// # Errors
    /// Embedding and index errors; nothing of the batch is added then.
    pub fn add_documents(&self, docs: Vec<Document>) -> Result<Vec<AddOutcome>> {
        self.add_tenant_documents(self.tenant.as_deref().unwrap_or(""), docs)
    }

    /// As [`Collection::add_documents`], into `tenant`. A document id names one
    /// document per tenant: the same id in two tenants is two documents.
    ///
    /// # Errors
    /// Embedding and index errors; nothing of the batch is added then.
    pub fn add_tenant_documents(
        &self,
        tenant: &str,
        docs: Vec<Document>,
    ) -> Result<Vec<AddOutcome>> {
        let (outcomes, fresh) = self.prepare(tenant, docs)?;
        self.store(tenant, fresh)?;
        Ok(outcomes)
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
            let same =
                self.index.tenant_document_hash(tenant, &doc.id)?.as_deref() == Some(hash.as_str());
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
    pub(super) fn store(&self, tenant: &str, fresh: Vec<Prepared>) -> Result<()> {
        let started = std::time::Instant::now();
        let texts: Vec<String> = fresh
            .iter()
            .flat_map(|p| {
                p.chunks
                    .iter()
                    .map(|c| c.embedding_text(p.doc.title.as_deref(), &self.chunking))
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut vectors = match &self.embedder {
            Some(e) if !texts.is_empty() => {
                let mut all = Vec::with_capacity(texts.len());
                for group in texts.chunks(EMBED_GROUP) {
                    self.check_cancelled()?;
                    all.extend(e.embed(group)?);
                }
                all.into_iter()
            }
            _ => Vec::new().into_iter(),
        };
        let embedded = started.elapsed();
        let mut records = Vec::with_capacity(texts.len());
        let fresh_len = fresh.len();
        // Deleted before the new chunks are added, so the delete spares them.
        for p in &fresh {
            self.index.delete_tenant_document(tenant, &p.doc.id)?;
        }
        for Prepared { doc, hash, chunks } in fresh {
            let metadata = to_json_object(&doc.metadata);
            let title = doc.title.unwrap_or_default();
            let format = doc.format.as_str().to_owned();
            for chunk in chunks {
                records.push(Record {
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
                });
            }
        }
        self.index.add(records)?;
        tracing::debug!(
            documents = fresh_len,
            chunks = texts.len(),
            embed_ms = embedded.as_millis(),
            index_ms = (started.elapsed() - embedded).as_millis(),
            "embedded and indexed a batch"
        );
        Ok(())
    }

    /// Adds a document whose chunks the caller has already embedded (bring your own
    /// embeddings): one chunk per `(text, vector)` pair, in order, replacing any
    /// document with id `id` (of the collection's tenant). Skipped when texts, vectors and metadata are unchanged.
    /// Visible after [`Collection::commit`].
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when a vector's length is not the collection's
    /// dimension (nothing is added then); index errors.
    pub fn add_embedded(
        &self,
        id: &str,
        chunks: Vec<(String, Vec<f32>)>,
        metadata: &Metadata,
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
        let tenant = self.tenant.as_deref().unwrap_or("");
        if self.index.tenant_document_hash(tenant, id)?.as_deref() == Some(hash.as_str()) {
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
        self.index.delete_tenant_document(tenant, id)?;
        self.index.add(records)?;
        Ok(AddOutcome::Added { chunks: count })
    }

    /// Ingests files and folders (recursively). Unsupported and broken files are
    /// reported in the [`IngestReport`] and the rest are indexed. Call
    /// [`Collection::commit`] afterwards to make them durable and visible.
    ///
    /// # Errors
    /// Only errors that stop the whole run (embedding or index failures).
    pub fn add_path(&self, path: impl AsRef<Path>) -> Result<IngestReport> {
        self.add_paths(&[path.as_ref().to_owned()], &|_| {})
    }

    /// As [`Collection::add_path`] for several roots, calling `progress` after each
    /// batch of files.
    ///
    /// # Errors
    /// Only errors that stop the whole run (embedding or index failures).
    pub fn add_paths(
        &self,
        roots: &[PathBuf],
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        self.add_paths_with(roots, &trawl_ingest::Limits::default(), progress)
    }

    /// As [`Collection::add_paths`], parsing under `limits` (file size, zip bombs,
    /// pages, sheets, rows, ...). A file over a limit is a failure in the report.
    ///
    /// # Errors
    /// Only errors that stop the whole run (embedding or index failures).
    pub fn add_paths_with(
        &self,
        roots: &[PathBuf],
        limits: &trawl_ingest::Limits,
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        self.add_tenant_paths(
            self.tenant.as_deref().unwrap_or(""),
            roots,
            limits,
            progress,
        )
    }

    /// As [`Collection::add_paths_with`], into `tenant` instead of the collection's
    /// (as [`Collection::add_tenant_documents`] is to [`Collection::add_documents`]).
    ///
    /// # Errors
    /// [`Error::Index`] for a tenant name with U+001F (nothing is added then); errors
    /// that stop the whole run (embedding or index failures).
    pub fn add_tenant_paths(
        &self,
        tenant: &str,
        roots: &[PathBuf],
        limits: &trawl_ingest::Limits,
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
        use std::sync::atomic::Ordering;
        trawl_index::check_tenant(tenant)?;
        self.cancelled.store(false, Ordering::SeqCst);
        self.ingesting.fetch_add(1, Ordering::SeqCst);
        let result = self.ingest(tenant, roots, limits, progress);
        if self.ingesting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.cancelled.store(false, Ordering::SeqCst);
        }
        result
    }

    /// Walks `roots`, then parses and chunks files on a second thread while this one
    /// embeds and indexes the batch before, so that parsing hides behind embedding.
    pub(super) fn ingest(
        &self,
        tenant: &str,
        roots: &[PathBuf],
        limits: &trawl_ingest::Limits,
        progress: &dyn Fn(Progress),
    ) -> Result<IngestReport> {
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
                    if self.check_cancelled().is_err() {
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
                    match run_on(parsers.as_ref(), || self.prepare(tenant, docs)) {
                        Ok((outcomes, fresh)) => {
                            tracing::debug!(
                                files = batch.len(),
                                parse_ms,
                                chunk_ms = parse_started.elapsed().as_millis() - parse_ms,
                                "parsed and chunked a batch"
                            );
                            parsed.outcomes.extend(outcomes);
                            parsed.chunks += fresh.iter().map(|p| p.chunks.len()).sum::<usize>();
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
                self.check_cancelled()?;
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
                self.store(tenant, parsed.fresh)?;
                done += parsed.files;
                progress(Progress {
                    files_done: done,
                    files_total: report.files,
                    chunks: report.chunks,
                });
            }
            self.check_cancelled()?;
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
                self.index.delete_tenant_document(tenant, &doc.doc_id)?;
                removed.push(doc.doc_id);
            }
        }
        Ok(removed)
    }

    pub(super) fn chunk(&self, doc: &Document) -> Vec<Chunk> {
        match &self.embedder {
            Some(e) => chunk_document(doc, &self.chunking, &|t| e.count_tokens(t)),
            None => chunk_document(doc, &self.chunking, &|t| t.len().div_ceil(4)),
        }
    }

    /// Identifies a document's indexed form: its content plus everything that changes
    /// how it is chunked and embedded.
    pub(super) fn content_hash(&self, doc: &Document) -> String {
        let mut h = Fnv64::default();
        h.write(
            self.embedder
                .as_ref()
                .map(|e| e.name())
                .unwrap_or_default()
                .as_bytes(),
        );
        h.write(
            serde_json::to_string(&self.chunking)
                .unwrap_or_default()
                .as_bytes(),
        );
        h.write(serde_json::to_string(doc).unwrap_or_default().as_bytes());
        format!("{:016x}", h.0)
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
