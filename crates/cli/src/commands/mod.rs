//! One module per command.

use std::path::Path;

use anyhow::{bail, Result};
use trawl::{Collection, Context, ContextOptions, Hit, SearchOptions, ShardSet};

pub(crate) mod check;
pub(crate) mod delete;
pub(crate) mod eval;
pub(crate) mod extract;
pub(crate) mod ingest;
pub(crate) mod search;
pub(crate) mod stats;
pub(crate) mod tune;

/// Opens the collection at `index`, which must exist, with `model` if given.
pub(crate) fn open_existing(index: &Path, model: Option<&Path>) -> Result<Collection> {
    if !Collection::exists(index) {
        bail!(
            "no trawl index or shard set at {} (run `trawl ingest` first)",
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

/// What `search` and `context` read: one collection, or a shard set searched as one.
pub(crate) enum Searchable {
    Collection(Box<Collection>),
    Shards(Box<ShardSet>),
}

impl Searchable {
    pub(crate) fn search_with(
        &self,
        query: &str,
        options: &SearchOptions,
    ) -> trawl::Result<Vec<Hit>> {
        match self {
            Searchable::Collection(c) => c.search_with(query, options),
            Searchable::Shards(s) => s.search_with(query, options),
        }
    }

    pub(crate) fn context(&self, query: &str, options: &ContextOptions) -> trawl::Result<Context> {
        match self {
            Searchable::Collection(c) => c.context(query, options),
            Searchable::Shards(s) => s.context(query, options),
        }
    }
}

/// Opens the collection, or the shard set (a folder with `shards.json`), at `index`,
/// with `model` if given.
pub(crate) fn open_searchable(index: &Path, model: Option<&Path>) -> Result<Searchable> {
    if !ShardSet::exists(index) {
        return Ok(Searchable::Collection(Box::new(open_existing(
            index, model,
        )?)));
    }
    let template = Collection::builder("");
    let template = match model {
        Some(m) => template.model_dir(m),
        None => template,
    };
    Ok(Searchable::Shards(Box::new(ShardSet::open_with(
        index, template,
    )?)))
}
