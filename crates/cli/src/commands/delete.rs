//! `trawl delete`: documents out of an index.

use std::path::Path;

use anyhow::{bail, Result};
use trawl::Collection;

pub(crate) fn delete(doc_ids: &[String], index: &Path, tenant: Option<&str>) -> Result<()> {
    if !Collection::exists(index) {
        bail!("no trawl index at {}", index.display());
    }
    // Deleting needs no model.
    let collection = Collection::builder(index).keyword_only().open()?;
    let tenant = tenant.unwrap_or("");
    let known: std::collections::HashSet<String> = collection
        .documents(Some(tenant))?
        .into_iter()
        .map(|d| d.doc_id)
        .collect();
    let mut missing = Vec::new();
    for id in doc_ids {
        if known.contains(id) {
            collection.delete(id, Some(tenant))?;
        } else {
            missing.push(id.as_str());
        }
    }
    collection.commit()?;
    println!("deleted {} documents", doc_ids.len() - missing.len());
    if !missing.is_empty() {
        bail!("not in the index: {}", missing.join(", "));
    }
    Ok(())
}
