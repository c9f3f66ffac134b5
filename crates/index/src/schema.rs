//! The tantivy schema: one tantivy document per chunk.

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing,
    TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};

/// Name of the English analyzer: lower-casing, stop words, Porter-style stemming.
pub(crate) const ANALYZER: &str = "trawl_en";

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
    pub(crate) heading: Field,
    pub(crate) source: Field,
    pub(crate) format: Field,
    pub(crate) location: Field,
    pub(crate) metadata: Field,
    pub(crate) doc_hash: Field,
    pub(crate) vector: Field,
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
        body: b.add_text_field("body", analyzed),
        heading: b.add_text_field("heading", STORED),
        source: b.add_text_field("source", STRING | STORED),
        format: b.add_text_field("format", STRING | STORED),
        location: b.add_json_field("location", JsonObjectOptions::default() | STORED),
        metadata: b.add_json_field("metadata", JsonObjectOptions::from(STORED | STRING)),
        doc_hash: b.add_text_field("doc_hash", STORED),
        vector: b.add_bytes_field("vector", STORED),
    };
    (b.build(), fields)
}

pub(crate) fn analyzer() -> TextAnalyzer {
    let stop = StopWordFilter::new(Language::English).expect("tantivy ships English stop words");
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop)
        .filter(Stemmer::new(Language::English))
        .build()
}
