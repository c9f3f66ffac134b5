//! Fine-tuning and relevance feedback (native half of `trawl.tune` and
//! `Collection.feedback`).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::collection::Collection;
use crate::gil;

/// Fine-tunes the model in `base` on `pairs` ((query, positive, negative or None)
/// tuples) and, from `collection`, label-free pairs (`label_free`: source names),
/// recorded feedback and mined hard negatives; writes the model to `out`. Returns the
/// report as a dict.
#[pyfunction]
#[pyo3(signature = (
    base, out, pairs, *, collection=None, label_free=None, max_pairs=20_000,
    feedback=false, tenant=None, hard_negatives=false, epochs=1, batch_size=32,
    learning_rate=2e-5, seed=42, token_budget=2048, max_tokens=None, max_steps=None,
    checkpoint_every=0, progress=None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn tune<'py>(
    py: Python<'py>,
    base: PathBuf,
    out: PathBuf,
    pairs: Vec<(String, String, Option<String>)>,
    collection: Option<PyRef<'py, Collection>>,
    label_free: Option<Vec<String>>,
    max_pairs: usize,
    feedback: bool,
    tenant: Option<String>,
    hard_negatives: bool,
    epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    seed: u64,
    token_budget: usize,
    max_tokens: Option<usize>,
    max_steps: Option<usize>,
    checkpoint_every: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    use trawl::tune::{LabelFreeOptions, Pair, PairSource, TuneOptions};
    let sources = label_free
        .map(|names| {
            names
                .iter()
                .map(|n| n.parse::<PairSource>())
                .collect::<trawl::Result<Vec<_>>>()
        })
        .transpose()
        .map_err(crate::errors::to_py)?;
    let mut options = TuneOptions::default();
    options.epochs = epochs;
    options.batch_size = batch_size;
    options.learning_rate = learning_rate;
    options.seed = seed;
    options.token_budget = token_budget;
    options.max_tokens = max_tokens;
    options.max_steps = max_steps;
    options.checkpoint_every = checkpoint_every;
    let mut all: Vec<Pair> = pairs
        .into_iter()
        .map(|(query, positive, negative)| Pair {
            negative,
            ..Pair::new(query, positive)
        })
        .collect();
    let inner = collection.as_ref().map(|c| c.inner());
    // A callback error (Ctrl-C included) stops the run at a checkpoint; it is raised
    // once the run has stopped.
    let failure: Mutex<Option<PyErr>> = Mutex::new(None);
    let mut report_progress = |p: &trawl::tune::TuneProgress| {
        Python::attach(|py| {
            crate::logs::emit(py);
            let result = py.check_signals().and_then(|()| match &progress {
                Some(callback) => callback
                    .call1(py, (p.step, p.steps, p.epoch_loss))
                    .map(drop),
                None => Ok(()),
            });
            match result {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    *failure
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
    };
    let report = gil::run(py, || {
        if let Some(c) = inner {
            if let Some(sources) = sources {
                let mut lf = LabelFreeOptions::default();
                lf.sources = sources;
                lf.max_pairs = max_pairs;
                lf.seed = seed;
                lf.tenant.clone_from(&tenant);
                all.extend(trawl::tune::pairs_from_collection(c, &lf)?);
            }
            if feedback {
                all.extend(trawl::tune::pairs_from_feedback(c, tenant.as_deref())?);
            }
            if hard_negatives {
                trawl::tune::mine_negatives(c, &mut all, 30)?;
            }
        }
        trawl::tune::tune(&base, &out, &all, &options, &mut report_progress)
    });
    if let Some(e) = failure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    let report = report?;
    let dict = PyDict::new(py);
    dict.set_item("out", report.out)?;
    dict.set_item("pairs", report.pairs)?;
    dict.set_item("steps", report.steps)?;
    dict.set_item("epochs", report.epochs)?;
    dict.set_item("resumed_at", report.resumed_at)?;
    dict.set_item("epoch_losses", report.epoch_losses)?;
    dict.set_item("seconds", report.seconds)?;
    dict.set_item("pairs_per_second", report.pairs_per_second)?;
    dict.set_item("complete", report.complete)?;
    Ok(dict)
}

/// Re-embeds the collection at `path` with the model in `model`, in one commit;
/// returns `documents`, `chunks` and `seconds`.
#[pyfunction]
pub(crate) fn reembed(
    py: Python<'_>,
    path: PathBuf,
    model: PathBuf,
) -> PyResult<Bound<'_, PyDict>> {
    let report = gil::run(py, || trawl::Collection::reembed(&path, &model))?;
    let dict = PyDict::new(py);
    dict.set_item("documents", report.documents)?;
    dict.set_item("chunks", report.chunks)?;
    dict.set_item("seconds", report.seconds)?;
    Ok(dict)
}
