//! Records to and from tantivy documents.

use serde_json::{Map, Value};
use tantivy::schema::{OwnedValue, Value as _};
use tantivy::tokenizer::{TextAnalyzer, TokenStream as _};
use tantivy::TantivyDocument;

use crate::filter::metadata_terms;
use crate::language::Language;
use crate::record::Record;
use crate::schema::{self, Fields};

use super::Index;

impl Index {
    /// The tantivy document of a chunk, and whether its body (title, headings and
    /// text) makes any keyword term. `analyzer` is the body field's, unused in an
    /// `auto` index (each chunk is analyzed in its own language).
    pub(super) fn to_doc(
        &self,
        vid: u64,
        r: &Record,
        analyzer: &mut TextAnalyzer,
    ) -> (TantivyDocument, bool) {
        let f = self.fields;
        let heading = r.heading_path.join(" > ");
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.vid, vid);
        doc.add_text(f.doc_id, &r.doc_id);
        doc.add_text(f.tenant, &r.tenant);
        doc.add_text(f.doc_key, schema::doc_key(&r.tenant, &r.doc_id));
        for t in metadata_terms(&r.metadata) {
            doc.add_text(f.meta_terms, t);
        }
        doc.add_u64(f.ordinal, u64::from(r.ordinal));
        doc.add_text(f.title, &r.title);
        doc.add_text(f.text, &r.text);
        let body = format!("{}\n{}\n{}", r.title, heading, r.text);
        let (language, has_terms) = match self.options.language {
            Language::Auto => {
                let language = Language::of_chunk(&body);
                let tokens = language.pre_tokenized(body, self.cutting);
                let has_terms = !tokens.tokens.is_empty();
                doc.add_pre_tokenized_text(f.body, tokens);
                doc.add_pre_tokenized_text(
                    f.title_terms,
                    language.pre_tokenized(r.title.clone(), self.cutting),
                );
                (language, has_terms)
            }
            language => {
                // The filters (stop words, stemming) stop at the first term kept: about
                // a tenth more time for a keyword-only ingest, nothing beside embedding.
                let has_terms = analyzer.token_stream(&body).advance();
                doc.add_text(f.body, body);
                doc.add_text(f.title_terms, &r.title);
                (language, has_terms)
            }
        };
        if let Some(lang) = f.lang {
            doc.add_text(lang, language.as_str());
        }
        for h in &r.heading_path {
            doc.add_text(f.heading, h);
        }
        if let Some(s) = &r.source {
            doc.add_text(f.source, s);
        }
        doc.add_text(f.format, &r.format);
        doc.add_object(f.location, json_to_owned(&r.location));
        doc.add_object(f.metadata, json_to_owned(&r.metadata));
        doc.add_text(f.doc_hash, &r.doc_hash);
        if self.shared.log.is_none() {
            // An index of the older format keeps each vector with its chunk.
            let bytes: Vec<u8> = r.vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            doc.add_bytes(f.vector, &bytes);
        }
        (doc, has_terms)
    }

    pub(super) fn record_of(&self, doc: &TantivyDocument) -> (u64, Record) {
        let f = self.fields;
        let headings: Vec<String> = doc
            .get_all(f.heading)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let heading_path = match &headings[..] {
            [one] if one.is_empty() => Vec::new(),
            [joined] if !self.heading_values => joined.split(" > ").map(str::to_owned).collect(),
            _ => headings,
        };
        let record = Record {
            doc_id: str_of(doc, f.doc_id),
            tenant: str_of(doc, f.tenant),
            ordinal: u32::try_from(u64_of(doc, f.ordinal)).unwrap_or(u32::MAX),
            text: str_of(doc, f.text),
            title: str_of(doc, f.title),
            heading_path,
            source: doc
                .get_first(f.source)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            format: str_of(doc, f.format),
            location: object_of(doc, f.location),
            metadata: object_of(doc, f.metadata),
            doc_hash: str_of(doc, f.doc_hash),
            vector: Vec::new(),
        };
        let vid = u64_of(doc, f.vid);
        let vector = match &self.shared.log {
            // Read, not mapped: fetching a hit's chunk adds nothing to the resident
            // memory of a process serving a large collection.
            Some(log) => log.read(vid).unwrap_or_default(),
            None => vector_of(doc, f),
        };
        (vid, Record { vector, ..record })
    }
}
pub(super) fn str_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn u64_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> u64 {
    doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0)
}

pub(super) fn vector_of(doc: &TantivyDocument, f: Fields) -> Vec<f32> {
    doc.get_first(f.vector)
        .and_then(|v| v.as_bytes())
        .map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn object_of(
    doc: &TantivyDocument,
    field: tantivy::schema::Field,
) -> Map<String, Value> {
    match doc.get_first(field) {
        Some(v) => match serde_json::to_value(OwnedValue::from(v)) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    }
}

pub(super) fn json_to_owned(
    map: &Map<String, Value>,
) -> std::collections::BTreeMap<String, OwnedValue> {
    map.iter()
        .map(|(k, v)| (k.clone(), OwnedValue::from(v.clone())))
        .collect()
}
