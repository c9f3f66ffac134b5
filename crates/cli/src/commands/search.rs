//! `trawl search` and `trawl context`.

use std::path::Path;

use anyhow::Result;
use trawl::{ContextOptions, SearchOptions};

use crate::commands::open_searchable;
use crate::output::print_hit;

pub(crate) fn search(
    query: &str,
    index: &Path,
    options: &SearchOptions,
    json: bool,
    model: Option<&Path>,
) -> Result<()> {
    let collection = open_searchable(index, model)?;
    let hits = collection.search_with(query, options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no hits");
    }
    for (i, hit) in hits.iter().enumerate() {
        print_hit(i + 1, hit);
    }
    Ok(())
}

pub(crate) fn context(
    query: &str,
    index: &Path,
    options: &ContextOptions,
    json: bool,
    model: Option<&Path>,
) -> Result<()> {
    let collection = open_searchable(index, model)?;
    let context = collection.context(query, options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&context)?);
    } else if context.citations.is_empty() {
        println!("no passages");
    } else {
        println!("{}", context.text);
    }
    Ok(())
}
