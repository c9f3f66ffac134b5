//! The tantivy schema: one tantivy document per chunk.

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing,
    TextOptions, FAST, INDEXED, STORED, STRING,
};

/// Name under which the index's analyzer (see [`crate::Language`]) is registered.
pub(crate) const ANALYZER: &str = "trawl";

/// Separates tenant and document id in the `doc_key` field.
pub(crate) const KEY_SEP: char = '\u{1f}';

/// The `doc_key` of a document.
pub(crate) fn doc_key(tenant: &str, doc_id: &str) -> String {
    format!("{tenant}{KEY_SEP}{doc_id}")
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    /// Point id shared with the HNSW graph.
    pub(crate) vid: Field,
    pub(crate) doc_id: Field,
    pub(crate) ordinal: Field,
    pub(crate) title: Field,
    pub(crate) text: Field,
    /// What BM25 searches: title, heading path and text together (not stored).
    pub(crate) body: Field,
    /// The title alone, analysed, so title matches can be boosted (not stored).
    pub(crate) title_terms: Field,
    pub(crate) heading: Field,
    pub(crate) source: Field,
    pub(crate) format: Field,
    pub(crate) location: Field,
    pub(crate) metadata: Field,
    pub(crate) doc_hash: Field,
    pub(crate) vector: Field,
    /// The tenant the chunk belongs to ("" when none).
    pub(crate) tenant: Field,
    /// `tenant \x1f doc_id`: what deletes and upserts key on; a fast field for listing
    /// documents without reading stored chunks.
    pub(crate) doc_key: Field,
    /// Typed metadata terms that filters match (see `filter.rs`).
    pub(crate) meta_terms: Field,
    /// The language the chunk was analyzed as (absent in indexes made before it).
    pub(crate) lang: Option<Field>,
}

impl Fields {
    /// Looks the fields up by name in an index's own schema, so an index written by an
    /// older build with other field numbers still reads right.
    pub(crate) fn of(schema: &Schema) -> Result<Fields, String> {
        let f = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| format!("the store has no field {name:?}"))
        };
        Ok(Fields {
            vid: f("vid")?,
            doc_id: f("doc_id")?,
            ordinal: f("ordinal")?,
            title: f("title")?,
            text: f("text")?,
            body: f("body")?,
            title_terms: f("title_terms")?,
            heading: f("heading")?,
            source: f("source")?,
            format: f("format")?,
            location: f("location")?,
            metadata: f("metadata")?,
            doc_hash: f("doc_hash")?,
            vector: f("vector")?,
            tenant: f("tenant")?,
            doc_key: f("doc_key")?,
            meta_terms: f("meta_terms")?,
            lang: schema.get_field("lang").ok(),
        })
    }
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analyzed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        vid: b.add_u64_field("vid", NumericOptions::default() | INDEXED | STORED | FAST),
        doc_id: b.add_text_field("doc_id", STRING | STORED),
        ordinal: b.add_u64_field("ordinal", STORED),
        title: b.add_text_field("title", STORED),
        text: b.add_text_field("text", STORED),
        body: b.add_text_field("body", analyzed.clone()),
        title_terms: b.add_text_field("title_terms", analyzed),
        heading: b.add_text_field("heading", STORED),
        source: b.add_text_field("source", STRING | STORED | FAST),
        format: b.add_text_field("format", STRING | STORED),
        location: b.add_json_field("location", JsonObjectOptions::default() | STORED),
        metadata: b.add_json_field("metadata", JsonObjectOptions::from(STORED | STRING)),
        doc_hash: b.add_text_field("doc_hash", STORED),
        vector: b.add_bytes_field("vector", STORED),
        tenant: b.add_text_field("tenant", STRING | STORED | FAST),
        doc_key: b.add_text_field("doc_key", STRING | FAST),
        meta_terms: b.add_text_field("meta_terms", STRING),
        lang: Some(b.add_text_field("lang", STRING | FAST)),
    };
    (b.build(), fields)
}
