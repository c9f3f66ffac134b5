//! Relevance feedback recorded from use, kept beside the index per tenant.

use std::io::{Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

use super::Collection;
use crate::error::{Error, Result};

/// The file feedback is appended to, in the collection's folder.
pub(crate) const FEEDBACK_FILE: &str = "feedback.jsonl";

/// Longest query kept, in bytes (longer ones are refused, not cut).
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// One judgement of a search result: whether a document answers a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Feedback {
    /// The tenant it was recorded for (`""` for none).
    pub tenant: String,
    /// The query as searched.
    pub query: String,
    /// The document judged.
    pub doc_id: String,
    /// Whether the document answers the query.
    pub relevant: bool,
    /// When it was recorded, in seconds since the Unix epoch.
    pub time: u64,
}

impl Collection {
    /// Records that document `doc_id` of the collection's tenant (`""` when it has
    /// none) does or does not answer `query`. The record is durable when this returns
    /// (appended to `feedback.jsonl` in the collection's folder and synced); no commit
    /// is needed. [`crate::tune`] turns it into training pairs.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or over-long query, or a document the tenant
    /// does not hold; index errors (a tenant name with U+001F); I/O errors as
    /// [`Error::Index`].
    pub fn feedback(&self, query: &str, doc_id: &str, relevant: bool) -> Result<()> {
        self.feedback_for(
            self.tenant.as_deref().unwrap_or(""),
            query,
            doc_id,
            relevant,
        )
    }

    /// [`Collection::feedback`] for `tenant`.
    ///
    /// # Errors
    /// As [`Collection::feedback`].
    pub fn feedback_for(
        &self,
        tenant: &str,
        query: &str,
        doc_id: &str,
        relevant: bool,
    ) -> Result<()> {
        let invalid = |reason: String| Error::Invalid {
            what: "feedback",
            reason,
        };
        if query.trim().is_empty() {
            return Err(invalid("the query is empty".into()));
        }
        if query.len() > MAX_QUERY_BYTES {
            return Err(invalid(format!(
                "the query is {} bytes; at most {MAX_QUERY_BYTES}",
                query.len()
            )));
        }
        if self.index.document_hash(tenant, doc_id)?.is_none() {
            return Err(invalid(format!(
                "no document {doc_id:?} in tenant {tenant:?} (committed)"
            )));
        }
        let record = Feedback {
            tenant: tenant.to_owned(),
            query: query.to_owned(),
            doc_id: doc_id.to_owned(),
            relevant,
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| invalid(e.to_string()))?;
        line.push(b'\n');
        let _guard = self
            .feedback_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        append(&self.path.join(FEEDBACK_FILE), &line).map_err(|e| {
            Error::Index(trawl_index::Error::Io {
                path: self.path.join(FEEDBACK_FILE),
                source: e,
            })
        })
    }

    /// The feedback recorded for `tenant` (`None`: the collection's tenant, else
    /// `""`), oldest first. Other tenants' records are never returned.
    ///
    /// # Errors
    /// I/O errors reading the file, as [`Error::Index`].
    pub fn feedback_records(&self, tenant: Option<&str>) -> Result<Vec<Feedback>> {
        let tenant = tenant.or(self.tenant.as_deref()).unwrap_or("");
        let path = self.path.join(FEEDBACK_FILE);
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Index(trawl_index::Error::Io { path, source: e }));
            }
        };
        // A line cut short by a crash does not parse and is skipped.
        Ok(text
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice::<Feedback>(line).ok())
            .filter(|f| f.tenant == tenant)
            .collect())
    }
}

/// Appends `line` and syncs; a previous line cut short by a crash is ended first, so
/// that it does not swallow this one.
fn append(path: &std::path::Path, line: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let len = file.metadata()?.len();
    let mut out = Vec::with_capacity(line.len() + 1);
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            out.push(b'\n');
        }
    }
    out.extend_from_slice(line);
    file.write_all(&out)?;
    file.sync_data()
}
