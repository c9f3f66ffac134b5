//! Helpers shared by the index's behaviour tests.
#![allow(dead_code, unreachable_pub)]

/// A deterministic pseudo-random vector (xorshift from `state`, which advances), with
/// components in -1..=1, so failures reproduce.
pub fn xorshift_vector(state: &mut u64, dim: usize) -> Vec<f32> {
    (0..dim)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// A keyword-only index at `dir` with `options.dim` 0, holding one single-chunk record
/// per `(doc_id, text)`, committed.
pub fn keyword_index(
    dir: &std::path::Path,
    options: trawl_index::IndexOptions,
    docs: &[(&str, &str)],
) -> trawl_index::Index {
    let index = trawl_index::Index::create(dir, options).unwrap();
    index
        .add(
            docs.iter()
                .map(|(id, text)| trawl_index::Record::new(*id, 0, *text, Vec::new()))
                .collect(),
        )
        .unwrap();
    index.commit().unwrap();
    index
}

/// The document ids of the keyword hits for `query`, best first.
pub fn found(index: &trawl_index::Index, query: &str) -> Vec<String> {
    let hits = index.search_keyword(query, 10, None).unwrap();
    let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    index
        .fetch(&ids)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.doc_id)
        .collect()
}
