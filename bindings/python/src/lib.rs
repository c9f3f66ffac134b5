//! Python bindings for trawl: the native module `trawl._trawl`.
//!
//! The pure-Python package `trawl` (in `python/trawl`) re-exports these classes and
//! adds what is easier in Python (numpy arrays, framework retrievers). Every heavy call
//! goes through `gil::run`, which converts arguments first, releases the GIL for the
//! work and maps errors on the way back.

// pyo3 hands methods their arguments already converted and owned (`Vec<String>`,
// `Py<PyAny>`); `map_err` hands errors over by value.
#![allow(clippy::needless_pass_by_value)]

use pyo3::prelude::*;

mod collection;
mod convert;
mod errors;
mod gil;
mod logs;
mod shards;
mod tune;

/// The CPU this process runs on and the embedding kernels it selects: `path` (the
/// fastest this CPU runs, or the one `TRAWL_CPU_PATH` names), `cpu` (model name and
/// features) and `paths` (every path this CPU runs, slowest first).
#[pyfunction]
fn cpu_info(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let info = pyo3::types::PyDict::new(py);
    info.set_item("path", trawl::CpuPath::selected().to_string())?;
    info.set_item("cpu", trawl::CpuPath::cpu_description())?;
    let paths: Vec<String> = trawl::CpuPath::ALL
        .into_iter()
        .filter(|p| p.runnable())
        .map(|p| p.to_string())
        .collect();
    info.set_item("paths", paths)?;
    Ok(info)
}

/// Names installed copies of the Japanese (IPADIC) and Korean (mecab-ko-dic)
/// dictionaries, used when `TRAWL_DICTIONARIES` is not set (see
/// `trawl_index::mecab::use_installed_dictionary`).
#[pyfunction]
#[pyo3(signature = (*, japanese=None, korean=None))]
fn use_installed_dictionaries(
    japanese: Option<std::path::PathBuf>,
    korean: Option<std::path::PathBuf>,
) {
    use trawl_index::mecab::{use_installed_dictionary, Morphology};
    if let Some(dir) = japanese {
        use_installed_dictionary(Morphology::Japanese, dir);
    }
    if let Some(dir) = korean {
        use_installed_dictionary(Morphology::Korean, dir);
    }
}

/// Where the dictionary of `language` ("japanese" or "korean") is looked for, or
/// `None` when nowhere.
#[pyfunction]
fn dictionary_dir(language: &str) -> PyResult<Option<std::path::PathBuf>> {
    use trawl_index::mecab::{dictionary_dir, Morphology};
    let language = match language {
        "japanese" => Morphology::Japanese,
        "korean" => Morphology::Korean,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "no dictionary for {other:?} (japanese or korean)"
            )))
        }
    };
    Ok(dictionary_dir(language))
}

/// The native module.
#[pymodule]
fn _trawl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    logs::install();
    errors::register(m)?;
    m.add_class::<collection::Collection>()?;
    m.add_class::<collection::Hit>()?;
    m.add_class::<collection::Context>()?;
    m.add_class::<collection::Citation>()?;
    m.add_class::<collection::Location>()?;
    m.add_class::<collection::IngestReport>()?;
    m.add_class::<collection::Failure>()?;
    m.add_class::<collection::Stats>()?;
    m.add_class::<shards::ShardSet>()?;
    m.add_class::<shards::ShardWriter>()?;
    m.add_class::<shards::Preparer>()?;
    m.add_function(wrap_pyfunction!(shards::shard_of, m)?)?;
    m.add_function(wrap_pyfunction!(shards::publish_shards, m)?)?;
    m.add_function(wrap_pyfunction!(shards::walk_files, m)?)?;
    m.add_function(wrap_pyfunction!(shards::parse_files, m)?)?;
    m.add_function(wrap_pyfunction!(shards::text_document, m)?)?;
    m.add_function(wrap_pyfunction!(shards::merge_keyword_stats, m)?)?;
    m.add_function(wrap_pyfunction!(shards::extract, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_info, m)?)?;
    m.add_function(wrap_pyfunction!(use_installed_dictionaries, m)?)?;
    m.add_function(wrap_pyfunction!(dictionary_dir, m)?)?;
    m.add_function(wrap_pyfunction!(tune::tune, m)?)?;
    m.add_function(wrap_pyfunction!(tune::reembed, m)?)?;
    Ok(())
}
