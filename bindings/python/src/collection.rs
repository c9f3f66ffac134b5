//! `Collection` and the objects its methods return.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::{Map, Value};

use crate::convert;
use crate::errors::{self, InvalidArgumentError};
use crate::gil;

/// A searchable collection of documents in one folder (native half of
/// `trawl.Collection`).
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Collection {
    inner: Arc<trawl::Collection>,
}

impl Collection {
    /// The Rust collection.
    pub(crate) fn inner(&self) -> &trawl::Collection {
        &self.inner
    }
}

#[pymethods]
impl Collection {
    #[new]
    #[pyo3(signature = (
        path, *, model=None, installed_model_dir=None, keyword_only=false, dimension=None,
        language=None, reranker=None, max_tokens=None, max_chars=None, overlap=None,
        context_prefix=None, precision=None, tenant=None, at_commit=None, quantization=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        model: Option<PathBuf>,
        installed_model_dir: Option<PathBuf>,
        keyword_only: bool,
        dimension: Option<usize>,
        language: Option<&str>,
        reranker: Option<&str>,
        max_tokens: Option<usize>,
        max_chars: Option<usize>,
        overlap: Option<&str>,
        context_prefix: Option<bool>,
        precision: Option<&str>,
        tenant: Option<String>,
        at_commit: Option<u64>,
        quantization: Option<&str>,
    ) -> PyResult<Self> {
        let mut builder = builder_from(
            path,
            model,
            installed_model_dir,
            keyword_only,
            dimension,
            language,
            max_tokens,
            max_chars,
            overlap,
            context_prefix,
            precision,
            quantization,
            tenant,
        )?;
        if let Some(commit) = at_commit {
            builder = builder.at_commit(commit);
        }
        let reranker = reranker.map(str::to_owned);
        let inner = gil::run(py, move || {
            if let Some(spec) = reranker {
                builder = builder.reranker_spec(spec);
            }
            builder.open()
        })?;
        Ok(Collection {
            inner: Arc::new(inner),
        })
    }

    /// The collection's folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_owned()
    }

    /// The embedding model's name, or None (keyword-only or bring-your-own vectors).
    #[getter]
    fn model(&self) -> Option<String> {
        self.inner.embedder().map(|e| e.name())
    }

    /// The precision the model computes at on this machine (f32, bf16 or int8), or
    /// None without a built-in model.
    #[getter]
    fn precision(&self) -> Option<String> {
        let runtime = self.inner.embedder().and_then(|e| e.runtime())?;
        Some(runtime.precision.to_string())
    }

    /// How vector searches walk the graph: none (full-precision vectors), int8 or
    /// binary.
    #[getter]
    fn quantization(&self) -> String {
        self.inner.index().options().hnsw.quantization.to_string()
    }

    /// The CPU kernels the model runs on (portable, avx2, avx512, avx512-amx), or
    /// None without a built-in model.
    #[getter]
    fn cpu_path(&self) -> Option<String> {
        let runtime = self.inner.embedder().and_then(|e| e.runtime())?;
        runtime.cpu_path.map(|p| p.to_string())
    }

    /// Vector dimension (0 for a keyword-only collection).
    #[getter]
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    #[pyo3(signature = (paths, progress=None, tenant=None))]
    fn add_paths(
        &self,
        py: Python<'_>,
        paths: Vec<PathBuf>,
        progress: Option<Py<PyAny>>,
        tenant: Option<&str>,
    ) -> PyResult<IngestReport> {
        // A callback error (Ctrl-C included) cancels the run; it is raised once the
        // run has stopped and what it added has been rolled back, so the index stays at
        // its last commit.
        let failure: Mutex<Option<PyErr>> = Mutex::new(None);
        let inner = &self.inner;
        let report_progress = |p: trawl::Progress| {
            Python::attach(|py| {
                crate::logs::emit(py);
                let mut slot = failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if slot.is_some() {
                    return;
                }
                let result = py.check_signals().and_then(|()| match &progress {
                    Some(callback) => callback
                        .call1(py, (p.files_done, p.files_total, p.chunks))
                        .map(drop),
                    None => Ok(()),
                });
                if let Err(e) = result {
                    *slot = Some(e);
                    inner.cancel();
                }
            });
        };
        let options = trawl::AddOptions {
            tenant: tenant.map(str::to_owned),
            progress: Some(&report_progress),
            ..trawl::AddOptions::default()
        };
        let result = gil::run(py, || inner.add_paths(&paths, &options));
        if let Some(e) = failure
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            gil::run(py, || inner.rollback())?;
            return Err(e);
        }
        let report = result?;
        Ok(IngestReport::new(report))
    }

    #[pyo3(signature = (id, text, metadata=None, tenant=None))]
    fn add_text(
        &self,
        py: Python<'_>,
        id: &str,
        text: &str,
        metadata: Option<&Bound<'_, PyDict>>,
        tenant: Option<&str>,
    ) -> PyResult<bool> {
        let mut doc = trawl::Document::from_text(id, text);
        doc.metadata = to_metadata(metadata)?;
        let inner = &self.inner;
        let options = trawl::AddOptions {
            tenant: tenant.map(str::to_owned),
            ..trawl::AddOptions::default()
        };
        let outcomes = gil::run(py, || inner.add_documents(vec![doc], &options))?;
        Ok(matches!(
            outcomes.first(),
            Some(trawl::AddOutcome::Added { .. })
        ))
    }

    /// The documents held (of one tenant, when given), as dicts.
    #[pyo3(signature = (tenant=None))]
    fn documents<'py>(
        &self,
        py: Python<'py>,
        tenant: Option<&str>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let inner = &self.inner;
        let docs = gil::run(py, || inner.documents(tenant))?;
        document_dicts(py, &docs)
    }

    /// Sees commits made since opening (by another process, say).
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.reload())
    }

    #[pyo3(signature = (id, texts, vectors, metadata=None, tenant=None))]
    fn add_embedded(
        &self,
        py: Python<'_>,
        id: &str,
        texts: Vec<String>,
        vectors: &[u8],
        metadata: Option<&Bound<'_, PyDict>>,
        tenant: Option<&str>,
    ) -> PyResult<bool> {
        let metadata = to_metadata(metadata)?;
        let vectors = f32s(vectors)?;
        if texts.is_empty() || vectors.len() % texts.len() != 0 {
            return Err(PyValueError::new_err(format!(
                "{} floats do not split into {} vectors",
                vectors.len(),
                texts.len()
            )));
        }
        let dim = vectors.len() / texts.len();
        let chunks = texts
            .into_iter()
            .zip(vectors.chunks(dim).map(<[f32]>::to_vec))
            .collect();
        let inner = &self.inner;
        let options = trawl::AddOptions {
            tenant: tenant.map(str::to_owned),
            ..trawl::AddOptions::default()
        };
        let outcome = gil::run(py, || inner.add_embedded(id, chunks, &metadata, &options))?;
        Ok(matches!(outcome, trawl::AddOutcome::Added { .. }))
    }

    /// Records whether document `doc_id` answers `query` (of `tenant`, else the
    /// collection's); durable at once.
    #[pyo3(signature = (query, doc_id, relevant=true, tenant=None))]
    fn feedback(
        &self,
        py: Python<'_>,
        query: &str,
        doc_id: &str,
        relevant: bool,
        tenant: Option<&str>,
    ) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || match tenant {
            Some(t) => inner.feedback_for(t, query, doc_id, relevant),
            None => inner.feedback(query, doc_id, relevant),
        })
    }

    /// The feedback recorded for `tenant` (else the collection's), oldest first, as
    /// dicts.
    #[pyo3(signature = (tenant=None))]
    fn feedback_records<'py>(
        &self,
        py: Python<'py>,
        tenant: Option<&str>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let inner = &self.inner;
        let records = gil::run(py, || inner.feedback_records(tenant))?;
        records
            .iter()
            .map(|f| {
                let dict = PyDict::new(py);
                dict.set_item("tenant", &f.tenant)?;
                dict.set_item("query", &f.query)?;
                dict.set_item("doc_id", &f.doc_id)?;
                dict.set_item("relevant", f.relevant)?;
                dict.set_item("time", f.time)?;
                Ok(dict)
            })
            .collect()
    }

    #[pyo3(signature = (id, tenant=None))]
    fn delete(&self, py: Python<'_>, id: &str, tenant: Option<&str>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.delete(id, tenant))
    }

    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.commit())
    }

    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.rollback())
    }

    /// This collection's BM25 statistics for `query` (JSON bytes), to merge with other
    /// collections' (`merge_keyword_stats`) and search each with `keyword_stats=`.
    fn keyword_stats(&self, py: Python<'_>, query: &str) -> PyResult<Vec<u8>> {
        let inner = &self.inner;
        let stats = gil::run(py, || inner.keyword_stats(query))?;
        Ok(serde_json::to_vec(&stats).expect("statistics serialise"))
    }

    /// Sets the HNSW search's candidate list size for this handle (recall against
    /// latency; not saved).
    fn set_ef_search(&self, ef_search: usize) {
        self.inner.index().set_ef_search(ef_search);
    }

    /// Pins the last commit (readable with `at_commit=` until released); its opstamp.
    fn pin(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        gil::run(py, || inner.pin())
    }

    /// Writes documents a `Preparer` made (JSON bytes each): how many were added,
    /// how many were unchanged, and the chunks written.
    fn add_prepared(&self, py: Python<'_>, docs: Vec<Vec<u8>>) -> PyResult<(usize, usize, usize)> {
        let docs = docs
            .iter()
            .map(|d| serde_json::from_slice::<trawl::PreparedDocument>(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| InvalidArgumentError::new_err(format!("not a prepared document: {e}")))?;
        let inner = &self.inner;
        let outcomes = gil::run(py, || inner.add_prepared(docs))?;
        let mut counts = (0, 0, 0);
        for outcome in outcomes {
            match outcome {
                trawl::AddOutcome::Added { chunks } => {
                    counts.0 += 1;
                    counts.2 += chunks;
                }
                trawl::AddOutcome::Unchanged => counts.1 += 1,
            }
        }
        Ok(counts)
    }

    /// The content hash recorded for a document, or None when it is not here.
    #[pyo3(signature = (id, tenant=None))]
    fn document_hash(
        &self,
        py: Python<'_>,
        id: &str,
        tenant: Option<&str>,
    ) -> PyResult<Option<String>> {
        let inner = &self.inner;
        gil::run(py, || inner.document_hash(id, tenant.unwrap_or("")))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.release_writer())
    }

    #[pyo3(signature = (
        query, *, k=10, mode="hybrid", fusion=None, candidates=100, rerank=true,
        rerank_depth=50, vector=None, filter=None, tenant=None, expand_parent=false,
        keyword_stats=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        py: Python<'_>,
        query: &str,
        k: usize,
        mode: &str,
        fusion: Option<&str>,
        candidates: usize,
        rerank: bool,
        rerank_depth: usize,
        vector: Option<&[u8]>,
        filter: Option<&str>,
        tenant: Option<String>,
        expand_parent: bool,
        keyword_stats: Option<&[u8]>,
    ) -> PyResult<Vec<Hit>> {
        let options = search_options(
            k,
            mode,
            fusion,
            candidates,
            rerank,
            rerank_depth,
            filter,
            tenant,
            expand_parent,
        )?;
        let vector = vector.map(f32s).transpose()?;
        let stats = keyword_stats
            .map(crate::shards::keyword_stats)
            .transpose()?;
        let inner = &self.inner;
        let hits = gil::run(py, || match (&vector, stats) {
            (Some(v), _) => inner.search_by_vector(v, query, &options),
            (None, Some(stats)) => inner.search_with_stats(query, &options, stats),
            (None, None) => inner.search_with(query, &options),
        })?;
        Ok(hits.into_iter().map(|hit| Hit { hit }).collect())
    }

    #[pyo3(signature = (
        query, *, budget=2000, k=30, mode="hybrid", fusion=None, candidates=100, filter=None,
        tenant=None, expand_parent=false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn context(
        &self,
        py: Python<'_>,
        query: &str,
        budget: usize,
        k: usize,
        mode: &str,
        fusion: Option<&str>,
        candidates: usize,
        filter: Option<&str>,
        tenant: Option<String>,
        expand_parent: bool,
    ) -> PyResult<Context> {
        let default = trawl::SearchOptions::default();
        let options = trawl::ContextOptions {
            budget,
            search: search_options(
                k,
                mode,
                fusion,
                candidates,
                default.rerank,
                default.rerank_depth,
                filter,
                tenant,
                expand_parent,
            )?,
        };
        let inner = &self.inner;
        let context = gil::run(py, || inner.context(query, &options))?;
        Ok(Context { context })
    }

    /// Embeds texts; returns the float32 bytes, the row count and the dimension.
    fn embed_raw<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<(Bound<'py, PyBytes>, usize, usize)> {
        let inner = &self.inner;
        let vectors = gil::run(py, || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            inner.embed(&refs)
        })?;
        let dim = self.dimension();
        let bytes: Vec<u8> = vectors
            .iter()
            .flat_map(|v| v.iter().flat_map(|x| x.to_ne_bytes()))
            .collect();
        Ok((PyBytes::new(py, &bytes), vectors.len(), dim))
    }

    /// Verifies the index (and with `repair`, rebuilds a damaged vector graph): the
    /// report as a dict.
    #[pyo3(signature = (repair=false))]
    fn check<'py>(&self, py: Python<'py>, repair: bool) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.inner;
        let report = gil::run(py, || inner.check(repair))?;
        let mut fields = to_object(&report);
        fields.insert("healthy".into(), report.is_healthy().into());
        fields.insert("problems".into(), report.problems().into());
        crate::convert::to_python(py, &Value::Object(fields))
    }

    fn stats(&self, py: Python<'_>) -> PyResult<Stats> {
        let inner = &self.inner;
        let stats = gil::run(py, || inner.stats())?;
        let mut fields = to_object(&stats);
        fields.insert(
            "dictionaries".into(),
            inner.index().dictionaries().to_vec().into(),
        );
        Ok(Stats { fields })
    }

    fn __repr__(&self) -> String {
        match self.model() {
            Some(model) => format!("Collection({:?}, model={model:?})", self.inner.path()),
            None => format!("Collection({:?})", self.inner.path()),
        }
    }
}

/// One search result.
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Hit {
    pub(crate) hit: trawl::Hit,
}

#[pymethods]
impl Hit {
    #[getter]
    fn chunk_id(&self) -> &str {
        &self.hit.chunk_id
    }
    #[getter]
    fn doc_id(&self) -> &str {
        &self.hit.doc_id
    }
    #[getter]
    fn ordinal(&self) -> u32 {
        self.hit.ordinal
    }
    #[getter]
    fn text(&self) -> &str {
        &self.hit.text
    }
    #[getter]
    fn score(&self) -> f32 {
        self.hit.score
    }
    #[getter]
    fn title(&self) -> &str {
        &self.hit.title
    }
    #[getter]
    fn source(&self) -> Option<&str> {
        self.hit.source.as_deref()
    }
    #[getter]
    fn format(&self) -> &str {
        &self.hit.format
    }
    #[getter]
    fn heading_path(&self) -> Vec<String> {
        self.hit.heading_path.clone()
    }
    #[getter]
    fn location(&self) -> Location {
        Location {
            location: self.hit.location.clone(),
        }
    }
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::object_to_dict(py, &to_object(&self.hit.metadata))
    }
    #[getter]
    fn tenant(&self) -> &str {
        &self.hit.tenant
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::object_to_dict(py, &to_object(&self.hit))
    }
    fn __repr__(&self) -> String {
        format!(
            "Hit(doc_id={:?}, score={:.4}, text={:?})",
            self.hit.doc_id,
            self.hit.score,
            truncate(&self.hit.text, 60)
        )
    }
}

/// A prompt-ready context: passages with numbered citations, within a token budget.
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Context {
    pub(crate) context: trawl::Context,
}

#[pymethods]
impl Context {
    #[getter]
    fn text(&self) -> &str {
        &self.context.text
    }
    #[getter]
    fn tokens(&self) -> usize {
        self.context.tokens
    }
    #[getter]
    fn citations(&self) -> Vec<Citation> {
        self.context
            .citations
            .iter()
            .map(|c| Citation {
                citation: c.clone(),
            })
            .collect()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::object_to_dict(py, &to_object(&self.context))
    }
    fn __str__(&self) -> &str {
        &self.context.text
    }
    fn __repr__(&self) -> String {
        format!(
            "Context(tokens={}, citations={})",
            self.context.tokens,
            self.context.citations.len()
        )
    }
}

/// Where one passage of a context came from.
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Citation {
    citation: trawl::Citation,
}

#[pymethods]
impl Citation {
    #[getter]
    fn number(&self) -> usize {
        self.citation.number
    }
    #[getter]
    fn doc_id(&self) -> &str {
        &self.citation.doc_id
    }
    /// The tenant the document belongs to ("" for none).
    #[getter]
    fn tenant(&self) -> &str {
        &self.citation.tenant
    }
    #[getter]
    fn title(&self) -> &str {
        &self.citation.title
    }
    #[getter]
    fn source(&self) -> Option<&str> {
        self.citation.source.as_deref()
    }
    #[getter]
    fn location(&self) -> Location {
        Location {
            location: self.citation.location.clone(),
        }
    }
    #[getter]
    fn heading_path(&self) -> Vec<String> {
        self.citation.heading_path.clone()
    }
    #[getter]
    fn chunk_ids(&self) -> Vec<String> {
        self.citation.chunk_ids.clone()
    }
    #[getter]
    fn score(&self) -> f32 {
        self.citation.score
    }
    #[getter]
    fn truncated(&self) -> bool {
        self.citation.truncated
    }
    /// `source, page 3 — Heading`, as printed in the context.
    fn label(&self) -> String {
        self.citation.label()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::object_to_dict(py, &to_object(&self.citation))
    }
    fn __repr__(&self) -> String {
        format!(
            "Citation({}, {:?})",
            self.citation.number,
            self.citation.label()
        )
    }
}

/// Where in its source a hit came from.
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Location {
    location: trawl::Location,
}

#[pymethods]
impl Location {
    #[getter]
    fn line(&self) -> Option<u32> {
        self.location.line
    }
    #[getter]
    fn page(&self) -> Option<u32> {
        self.location.page
    }
    #[getter]
    fn slide(&self) -> Option<u32> {
        self.location.slide
    }
    #[getter]
    fn sheet(&self) -> Option<&str> {
        self.location.sheet.as_deref()
    }
    #[getter]
    fn rows(&self) -> Option<(u32, u32)> {
        self.location.rows
    }
    #[getter]
    fn message(&self) -> Option<u32> {
        self.location.message
    }
    #[getter]
    fn attachment(&self) -> Option<&str> {
        self.location.attachment.as_deref()
    }
    #[getter]
    fn key(&self) -> Option<&str> {
        self.location.key.as_deref()
    }
    #[getter]
    fn chapter(&self) -> Option<u32> {
        self.location.chapter
    }
    #[getter]
    fn member(&self) -> Option<&str> {
        self.location.member.as_deref()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::object_to_dict(py, &to_object(&self.location))
    }
    fn __repr__(&self) -> String {
        let parts: Vec<String> = to_object(&self.location)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("Location({})", parts.join(", "))
    }
}

/// What an ingest run did.
#[pyclass(frozen, get_all, module = "trawl._trawl")]
pub(crate) struct IngestReport {
    files: usize,
    indexed: usize,
    added: usize,
    unchanged: usize,
    chunks: usize,
    unsupported: Vec<PathBuf>,
    failures: Vec<Py<Failure>>,
}

impl IngestReport {
    pub(crate) fn new(report: trawl::IngestReport) -> Self {
        let failures = Python::attach(|py| {
            report
                .failures
                .into_iter()
                .filter_map(|f| {
                    let kind = errors::exception_type(py, &f.error)
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    let failure = Failure {
                        path: f.path,
                        error: f.error.to_string(),
                        kind,
                    };
                    Py::new(py, failure).ok()
                })
                .collect()
        });
        IngestReport {
            files: report.files,
            indexed: report.indexed,
            added: report.added,
            unchanged: report.unchanged,
            chunks: report.chunks,
            unsupported: report.unsupported,
            failures,
        }
    }
}

#[pymethods]
impl IngestReport {
    fn __repr__(&self) -> String {
        format!(
            "IngestReport(files={}, indexed={}, added={}, unchanged={}, chunks={}, unsupported={}, failures={})",
            self.files,
            self.indexed,
            self.added,
            self.unchanged,
            self.chunks,
            self.unsupported.len(),
            self.failures.len()
        )
    }
}

/// A file that could not be ingested.
#[pyclass(frozen, get_all, module = "trawl._trawl")]
pub(crate) struct Failure {
    path: PathBuf,
    error: String,
    kind: String,
}

#[pymethods]
impl Failure {
    fn __repr__(&self) -> String {
        format!("Failure({:?}, {}: {})", self.path, self.kind, self.error)
    }
}

/// Collection statistics; each field is an attribute.
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Stats {
    pub(crate) fields: Map<String, Value>,
}

#[pymethods]
impl Stats {
    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.fields.get(name) {
            Some(v) => convert::to_python(py, v),
            None => Err(PyAttributeError::new_err(name.to_owned())),
        }
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::object_to_dict(py, &self.fields)
    }
    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("Stats({})", parts.join(", "))
    }
}

/// A collection builder from the settings `Collection()` and `ShardWriter.create()`
/// take.
#[allow(clippy::too_many_arguments)]
pub(crate) fn builder_from(
    path: PathBuf,
    model: Option<PathBuf>,
    installed_model_dir: Option<PathBuf>,
    keyword_only: bool,
    dimension: Option<usize>,
    language: Option<&str>,
    max_tokens: Option<usize>,
    max_chars: Option<usize>,
    overlap: Option<&str>,
    context_prefix: Option<bool>,
    precision: Option<&str>,
    quantization: Option<&str>,
    tenant: Option<String>,
) -> PyResult<trawl::CollectionBuilder> {
    let mut builder = trawl::Collection::builder(path);
    if let Some(model) = model {
        builder = builder.model_dir(model);
    }
    if let Some(dir) = installed_model_dir {
        builder = builder.installed_model_dir(dir);
    }
    if keyword_only {
        builder = builder.keyword_only();
    }
    if let Some(dim) = dimension {
        builder = builder.dimension(dim);
    }
    if let Some(tenant) = tenant {
        builder = builder.tenant(tenant);
    }
    if let Some(precision) = precision {
        builder = builder.precision(
            trawl::Precision::from_str(precision).map_err(InvalidArgumentError::new_err)?,
        );
    }
    if let Some(quantization) = quantization {
        builder = builder.quantization(
            trawl::Quantization::from_str(quantization).map_err(InvalidArgumentError::new_err)?,
        );
    }
    if let Some(language) = language {
        builder = builder
            .language(trawl::Language::from_str(language).map_err(InvalidArgumentError::new_err)?);
    }
    if max_tokens.is_some() || max_chars.is_some() || overlap.is_some() || context_prefix.is_some()
    {
        let default = trawl::ChunkOptions::default();
        builder = builder.chunking(trawl::ChunkOptions {
            max_tokens: max_tokens.unwrap_or(default.max_tokens),
            max_chars: max_chars.unwrap_or(default.max_chars),
            overlap: match overlap {
                Some(o) => o.parse().map_err(InvalidArgumentError::new_err)?,
                None => default.overlap,
            },
            context_prefix: context_prefix.unwrap_or(default.context_prefix),
            ..default
        });
    }
    Ok(builder)
}

/// The documents a collection or shard set lists, as dicts.
pub(crate) fn document_dicts<'py>(
    py: Python<'py>,
    docs: &[trawl::DocumentInfo],
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    docs.iter()
        .map(|d| {
            let dict = PyDict::new(py);
            dict.set_item("doc_id", &d.doc_id)?;
            dict.set_item("tenant", &d.tenant)?;
            dict.set_item("source", d.source.as_deref())?;
            dict.set_item("chunks", d.chunks)?;
            Ok(dict)
        })
        .collect()
}

/// Search options from the arguments `search()` and `context()` take.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search_options(
    k: usize,
    mode: &str,
    fusion: Option<&str>,
    candidates: usize,
    rerank: bool,
    rerank_depth: usize,
    filter: Option<&str>,
    tenant: Option<String>,
    expand_parent: bool,
) -> PyResult<trawl::SearchOptions> {
    Ok(trawl::SearchOptions {
        k,
        mode: trawl::SearchMode::from_str(mode).map_err(InvalidArgumentError::new_err)?,
        candidates,
        fusion: parse_fusion(fusion)?,
        rerank,
        rerank_depth,
        filter: parse_filter(filter)?,
        tenant,
        expand_parent,
    })
}

fn parse_fusion(fusion: Option<&str>) -> PyResult<trawl::Fusion> {
    match fusion {
        Some(f) => trawl::Fusion::from_str(f).map_err(InvalidArgumentError::new_err),
        None => Ok(trawl::Fusion::default()),
    }
}

fn parse_filter(filter: Option<&str>) -> PyResult<Option<trawl::Filter>> {
    filter
        .map(|f| trawl::Filter::parse(f).map_err(|e| errors::to_py(e.into())))
        .transpose()
}

pub(crate) fn to_metadata(dict: Option<&Bound<'_, PyDict>>) -> PyResult<trawl::Metadata> {
    let Some(dict) = dict else {
        return Ok(trawl::Metadata::new());
    };
    convert::dict_to_object(dict)?
        .into_iter()
        .map(|(key, value)| {
            let shown = value.to_string();
            serde_json::from_value(value)
                .map(|v| (key.clone(), v))
                .map_err(|_| {
                    InvalidArgumentError::new_err(format!(
                        "metadata {key:?}: a value is a bool, int, float, str, date or a \
                         list of str, not {}",
                        truncate(&shown, 80)
                    ))
                })
        })
        .collect()
}

pub(crate) fn to_object<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

pub(crate) fn f32s(bytes: &[u8]) -> PyResult<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(PyValueError::new_err("vector bytes are not float32"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
