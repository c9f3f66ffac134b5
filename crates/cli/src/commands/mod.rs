//! One module per command.

use std::path::Path;

use anyhow::{bail, Result};
use trawl::Collection;

pub(crate) mod check;
pub(crate) mod delete;
pub(crate) mod eval;
pub(crate) mod ingest;
pub(crate) mod search;
pub(crate) mod stats;

/// Opens the collection at `index`, which must exist, with `model` if given.
pub(crate) fn open_existing(index: &Path, model: Option<&Path>) -> Result<Collection> {
    if !Collection::exists(index) {
        bail!(
            "no trawl index at {} (run `trawl ingest` first)",
            index.display()
        );
    }
    let builder = Collection::builder(index);
    let builder = match model {
        Some(m) => builder.model_dir(m),
        None => builder,
    };
    Ok(builder.open()?)
}
