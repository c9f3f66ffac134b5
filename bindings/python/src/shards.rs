//! Shard sets (`ShardSet`, `ShardWriter`) and the stages of a distributed ingest
//! (`parse_files`, `Preparer`, `publish_shards`), for `trawl.ray`.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::collection::{
    builder_from, document_dicts, search_options, to_metadata, to_object, Context, Hit,
    IngestReport, Stats,
};
use crate::errors::InvalidArgumentError;
use crate::gil;

/// A published generation of a shard set, searched as one collection (native half of
/// `trawl.ShardSet`).
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct ShardSet {
    inner: Arc<trawl::ShardSet>,
}

#[pymethods]
impl ShardSet {
    #[new]
    #[pyo3(signature = (path, *, model=None, reranker=None, tenant=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        model: Option<PathBuf>,
        reranker: Option<String>,
        tenant: Option<String>,
    ) -> PyResult<Self> {
        let mut template = trawl::Collection::builder("");
        if let Some(model) = model {
            template = template.model_dir(model);
        }
        if let Some(spec) = reranker {
            template = template.reranker_spec(spec);
        }
        if let Some(tenant) = tenant {
            template = template.tenant(tenant);
        }
        let inner = gil::run(py, move || trawl::ShardSet::open_with(path, template))?;
        Ok(ShardSet {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_owned()
    }

    #[getter]
    fn generation(&self) -> u64 {
        self.inner.manifest().generation
    }

    #[getter]
    fn shard_count(&self) -> usize {
        self.inner.shard_count()
    }

    #[getter]
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    /// Sets every shard's HNSW candidate list size (recall against latency).
    fn set_ef_search(&self, ef_search: usize) {
        self.inner.set_ef_search(ef_search);
    }

    /// The manifest searched now, as a dict.
    fn manifest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::to_python(py, &Value::Object(to_object(&self.inner.manifest())))
    }

    /// Moves to the last published generation; whether it moved.
    fn reload(&self, py: Python<'_>) -> PyResult<bool> {
        let inner = &self.inner;
        gil::run(py, || inner.reload())
    }

    #[pyo3(signature = (
        query, *, k=10, mode="hybrid", fusion=None, candidates=100, rerank=true,
        rerank_depth=50, vector=None, filter=None, tenant=None, expand_parent=false,
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
        let vector = vector.map(crate::collection::f32s).transpose()?;
        let inner = &self.inner;
        let hits = gil::run(py, || match &vector {
            Some(v) => inner.search_by_vector(v, query, &options),
            None => inner.search_with(query, &options),
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

    fn stats(&self, py: Python<'_>) -> PyResult<Stats> {
        let inner = &self.inner;
        let stats = gil::run(py, || inner.stats())?;
        let mut fields = to_object(&stats);
        fields.insert("dictionaries".into(), inner.dictionaries().into());
        Ok(Stats { fields })
    }

    fn __repr__(&self) -> String {
        format!(
            "ShardSet({:?}, shards={}, generation={})",
            self.inner.path(),
            self.inner.shard_count(),
            self.inner.manifest().generation
        )
    }
}

/// Writes a shard set: routes documents to shards and publishes generations (native
/// half of `trawl.ShardWriter`).
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct ShardWriter {
    inner: Arc<trawl::ShardWriter>,
}

#[pymethods]
impl ShardWriter {
    #[new]
    #[pyo3(signature = (
        path, *, shards=None, model=None, installed_model_dir=None, keyword_only=false,
        dimension=None, language=None, max_tokens=None, max_chars=None, overlap=None,
        context_prefix=None, precision=None, quantization=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        shards: Option<usize>,
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
    ) -> PyResult<Self> {
        let exists = trawl::ShardSet::exists(&path);
        let template = builder_from(
            PathBuf::new(),
            model,
            installed_model_dir.filter(|_| !exists),
            keyword_only,
            dimension,
            language,
            max_tokens,
            max_chars,
            overlap,
            context_prefix,
            precision,
            quantization,
            None,
        )?;
        let inner = gil::run(py, move || match (exists, shards) {
            (true, _) => trawl::ShardWriter::open_with(path, &template),
            (false, Some(n)) => trawl::ShardWriter::create(path, n, &template),
            (false, None) => Err(trawl::Error::Invalid {
                what: "shards",
                reason: "a new shard set needs its number of shards".into(),
            }),
        })?;
        Ok(ShardWriter {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_owned()
    }

    /// The shards' folders, in routing order.
    fn shard_paths(&self) -> Vec<PathBuf> {
        self.inner
            .shards()
            .iter()
            .map(|s| s.path().to_owned())
            .collect()
    }

    #[pyo3(signature = (paths, tenant=None))]
    fn add_paths(
        &self,
        py: Python<'_>,
        paths: Vec<PathBuf>,
        tenant: Option<String>,
    ) -> PyResult<IngestReport> {
        let inner = &self.inner;
        let options = trawl::AddOptions {
            tenant,
            ..trawl::AddOptions::default()
        };
        let report = gil::run(py, || inner.add_paths(&paths, &options))?;
        Ok(IngestReport::new(report))
    }

    #[pyo3(signature = (id, text, metadata=None, tenant=None))]
    fn add_text(
        &self,
        py: Python<'_>,
        id: &str,
        text: &str,
        metadata: Option<&Bound<'_, PyDict>>,
        tenant: Option<String>,
    ) -> PyResult<bool> {
        let mut doc = trawl::Document::from_text(id, text);
        doc.metadata = to_metadata(metadata)?;
        let inner = &self.inner;
        let options = trawl::AddOptions {
            tenant,
            ..trawl::AddOptions::default()
        };
        let outcomes = gil::run(py, || inner.add_documents(vec![doc], &options))?;
        Ok(matches!(
            outcomes.first(),
            Some(trawl::AddOutcome::Added { .. })
        ))
    }

    #[pyo3(signature = (id, tenant=None))]
    fn delete(&self, py: Python<'_>, id: &str, tenant: Option<&str>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.delete(id, tenant))
    }

    /// Commits every shard and publishes them; the new generation.
    fn commit(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        gil::run(py, || inner.commit())
    }

    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.rollback())
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.release_writer())
    }

    fn flush_graph(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        gil::run(py, || inner.flush_graph())
    }
}

/// Chunks, hashes and embeds documents for one collection, as it would (native half of
/// the embedding stage of `trawl.ray`).
#[pyclass(frozen, module = "trawl._trawl")]
pub(crate) struct Preparer {
    inner: Arc<trawl::Preparer>,
}

#[pymethods]
impl Preparer {
    #[new]
    #[pyo3(signature = (path, *, load_model=true, model=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        load_model: bool,
        model: Option<PathBuf>,
    ) -> PyResult<Self> {
        let inner = gil::run(py, move || {
            trawl::Preparer::open(path, load_model, model.as_deref())
        })?;
        Ok(Preparer {
            inner: Arc::new(inner),
        })
    }

    /// The content hash the collection would record for a document (JSON bytes).
    fn content_hash(&self, doc: &[u8]) -> PyResult<String> {
        Ok(self.inner.content_hash(&document(doc)?))
    }

    /// Chunks and embeds documents (JSON bytes each) for `tenant`; the prepared
    /// documents as JSON bytes, for `Collection.add_prepared`.
    #[pyo3(signature = (docs, tenant=None))]
    fn prepare(
        &self,
        py: Python<'_>,
        docs: Vec<Vec<u8>>,
        tenant: Option<&str>,
    ) -> PyResult<Vec<Vec<u8>>> {
        let docs = docs
            .iter()
            .map(|d| document(d))
            .collect::<PyResult<Vec<_>>>()?;
        let inner = &self.inner;
        let prepared = gil::run(py, || inner.prepare(tenant.unwrap_or(""), docs))?;
        Ok(prepared
            .iter()
            .map(|p| serde_json::to_vec(p).expect("prepared documents serialise"))
            .collect())
    }
}

fn document(bytes: &[u8]) -> PyResult<trawl::Document> {
    serde_json::from_slice(bytes)
        .map_err(|e| InvalidArgumentError::new_err(format!("not a trawl document: {e}")))
}

/// A document from text (JSON bytes, as `parse_files` makes them), with optional
/// metadata and title.
#[pyfunction]
#[pyo3(signature = (id, text, metadata=None, title=None))]
pub(crate) fn text_document(
    id: &str,
    text: &str,
    metadata: Option<&Bound<'_, PyDict>>,
    title: Option<String>,
) -> PyResult<Vec<u8>> {
    let mut doc = trawl::Document::from_text(id, text);
    doc.metadata = to_metadata(metadata)?;
    if title.is_some() {
        doc.title = title;
    }
    Ok(serde_json::to_vec(&doc).expect("documents serialise"))
}

/// BM25 statistics from JSON bytes.
pub(crate) fn keyword_stats(bytes: &[u8]) -> PyResult<trawl::KeywordStats> {
    serde_json::from_slice(bytes)
        .map_err(|e| InvalidArgumentError::new_err(format!("not keyword statistics: {e}")))
}

/// Several collections' BM25 statistics for one query, merged (JSON bytes each).
#[pyfunction]
pub(crate) fn merge_keyword_stats(stats: Vec<Vec<u8>>) -> PyResult<Vec<u8>> {
    let mut all = trawl::KeywordStats::default();
    for s in &stats {
        all.merge(&keyword_stats(s)?);
    }
    Ok(serde_json::to_vec(&all).expect("statistics serialise"))
}

/// What trawl reads from one file: its documents as dicts (id, title, format,
/// metadata, sections with kind, text, heading path and location).
#[pyfunction]
#[pyo3(signature = (path, max_file_bytes=None))]
pub(crate) fn extract<'py>(
    py: Python<'py>,
    path: PathBuf,
    max_file_bytes: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut limits = trawl::Limits::default();
    if let Some(max) = max_file_bytes {
        limits = limits.max_file_bytes(max);
    }
    let docs = gil::run(py, || Ok(trawl_ingest::parse_path_all(&path, &limits)?))?;
    let value = serde_json::to_value(&docs).expect("documents serialise");
    crate::convert::to_python(py, &value)
}

/// The shard (of `shards`) that document `id` of `tenant` is routed to.
#[pyfunction]
#[pyo3(signature = (tenant, id, shards))]
pub(crate) fn shard_of(tenant: &str, id: &str, shards: usize) -> usize {
    trawl::shard_of(tenant, id, shards)
}

/// Publishes one pinned commit per shard as the set's next generation; its number.
#[pyfunction]
pub(crate) fn publish_shards(py: Python<'_>, path: PathBuf, commits: Vec<u64>) -> PyResult<u64> {
    gil::run(py, || {
        trawl::shards::publish(&path, &commits).map(|m| m.generation)
    })
}

/// The files under `roots` that ingestion would read (as `Collection.add` walks them:
/// `.gitignore` and hidden files respected), and the walk errors as (path, reason).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub(crate) fn walk_files(
    py: Python<'_>,
    roots: Vec<PathBuf>,
) -> PyResult<(Vec<PathBuf>, Vec<(PathBuf, String)>)> {
    Ok(py.detach(|| {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for root in &roots {
            for entry in trawl_ingest::walk(root) {
                match entry {
                    Ok(p) => files.push(p),
                    Err(e) => errors.push((root.clone(), e.to_string())),
                }
            }
        }
        (files, errors)
    }))
}

/// Parses files: the documents (JSON bytes each), the failures as (path, error type,
/// reason), and the unsupported files.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub(crate) fn parse_files(
    py: Python<'_>,
    paths: Vec<PathBuf>,
) -> PyResult<(Vec<Vec<u8>>, Vec<(PathBuf, String, String)>, Vec<PathBuf>)> {
    Ok(py.detach(|| {
        let mut docs = Vec::new();
        let mut failures = Vec::new();
        let mut unsupported = Vec::new();
        for (path, result) in trawl_ingest::parse_paths(&paths, &trawl::Limits::default()) {
            match result {
                Ok(found) => docs.extend(
                    found
                        .iter()
                        .map(|d| serde_json::to_vec(d).expect("documents serialise")),
                ),
                Err(e) if e.is_unsupported() => unsupported.push(path),
                Err(e) => {
                    let kind = if matches!(e, trawl_ingest::Error::Io { .. }) {
                        "OSError"
                    } else {
                        "ParseError"
                    };
                    failures.push((path, kind.to_owned(), e.to_string()));
                }
            }
        }
        (docs, failures, unsupported)
    }))
}
