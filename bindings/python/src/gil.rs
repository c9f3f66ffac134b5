//! The one way through the GIL.

use pyo3::prelude::*;

use crate::errors;

/// Runs `work` with the GIL released, emits the log records it queued to Python's
/// `logging`, and maps its error to a Python exception.
///
/// Arguments must already be converted to Rust values: nothing inside `work` can touch
/// a Python object, which is what lets other Python threads run meanwhile.
pub(crate) fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: FnOnce() -> trawl::Result<T> + Send,
    T: Send,
{
    let result = py.detach(work);
    crate::logs::emit(py);
    result.map_err(errors::to_py)
}
