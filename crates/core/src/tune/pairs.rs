//! Training pairs: what they are and where they come from.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A training example: a query, a passage that answers it, and optionally a passage
/// that does not (a hard negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The query, as a user would type it.
    pub query: String,
    /// A passage that answers it.
    pub positive: String,
    /// A passage that looks relevant and does not answer it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<String>,
}

impl Pair {
    /// A pair without a negative.
    pub fn new(query: impl Into<String>, positive: impl Into<String>) -> Pair {
        Pair {
            query: query.into(),
            positive: positive.into(),
            negative: None,
        }
    }
}

/// Reads pairs from a JSON Lines file, one object per line with `query` and
/// `positive` and optionally `negative` (also accepted: `anchor` for the query, as
/// sentence-transformers' datasets name it). Blank lines are skipped.
///
/// # Errors
/// [`Error::Invalid`] naming the file and line of a malformed or empty record;
/// [`Error::Tuning`] when the file cannot be read.
pub fn read_pairs_jsonl(path: &Path) -> Result<Vec<Pair>> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(alias = "anchor")]
        query: String,
        positive: String,
        #[serde(default)]
        negative: Option<String>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::Tuning {
        dir: path.to_owned(),
        reason: format!("cannot read the pairs: {e}"),
    })?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::Invalid {
            what: "training pairs",
            reason: format!("{} line {}: {reason}", path.display(), n + 1),
        };
        let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if l.query.trim().is_empty() || l.positive.trim().is_empty() {
            return Err(bad("empty query or positive".into()));
        }
        pairs.push(Pair {
            query: l.query,
            positive: l.positive,
            negative: l.negative.filter(|n| !n.trim().is_empty()),
        });
    }
    Ok(pairs)
}
