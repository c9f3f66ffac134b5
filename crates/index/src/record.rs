use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One chunk as stored in the index: its text, where it came from, and its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Id of the document the chunk belongs to; deletes and upserts work per document
    /// within its tenant.
    pub doc_id: String,
    /// The tenant the document belongs to; `""` when the index is not shared. A search
    /// scoped to a tenant never sees another tenant's chunks, and the same `doc_id` in
    /// two tenants names two documents.
    pub tenant: String,
    /// Position of the chunk in its document, from 0.
    pub ordinal: u32,
    /// The chunk's text.
    pub text: String,
    /// The document's title.
    pub title: String,
    /// Headings the chunk sits under, outermost first.
    pub heading_path: Vec<String>,
    /// The file it came from, if any.
    pub source: Option<String>,
    /// Format name (`"markdown"`, `"text"`, ...).
    pub format: String,
    /// Location within the source (page, line, sheet, ...), as a JSON object.
    pub location: Map<String, Value>,
    /// Caller's and document metadata, as a JSON object.
    pub metadata: Map<String, Value>,
    /// Hash of the whole document's content, for skipping unchanged re-adds.
    pub doc_hash: String,
    /// The embedding; normalised to unit length when stored. Empty for keyword-only
    /// indexes.
    pub vector: Vec<f32>,
}

impl Record {
    /// A record with just the essentials; other fields empty.
    #[must_use]
    pub fn new(
        doc_id: impl Into<String>,
        ordinal: u32,
        text: impl Into<String>,
        vector: Vec<f32>,
    ) -> Self {
        Record {
            doc_id: doc_id.into(),
            tenant: String::new(),
            ordinal,
            text: text.into(),
            title: String::new(),
            heading_path: Vec::new(),
            source: None,
            format: String::new(),
            location: Map::new(),
            metadata: Map::new(),
            doc_hash: String::new(),
            vector,
        }
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// The chunk's id: `doc_id#ordinal`, and for a tenant's document
    /// `tenant U+001F doc_id#ordinal` (tenant names never hold U+001F), so that two
    /// tenants' documents with one id never share chunk ids.
    #[must_use]
    pub fn chunk_id(&self) -> String {
        if self.tenant.is_empty() {
            format!("{}#{}", self.doc_id, self.ordinal)
        } else {
            format!(
                "{}{}{}#{}",
                self.tenant,
                crate::schema::KEY_SEP,
                self.doc_id,
                self.ordinal
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ids_differ_between_tenants_and_stay_plain_without_one() {
        let mut a = Record::new("note.txt", 3, "text", Vec::new());
        assert_eq!(a.chunk_id(), "note.txt#3");
        a.tenant = "alpha".into();
        let mut b = a.clone();
        b.tenant = "beta".into();
        assert_ne!(a.chunk_id(), b.chunk_id());
        // A tenant and a document id with a separator in them cannot collide.
        let mut c = Record::new("b/note.txt", 3, "text", Vec::new());
        c.tenant = "a".into();
        let mut d = Record::new("note.txt", 3, "text", Vec::new());
        d.tenant = "a/b".into();
        assert_ne!(c.chunk_id(), d.chunk_id());
    }
}
