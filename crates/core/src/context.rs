//! Prompt-ready context: the best hits for a query packed into a token budget, each
//! passage numbered and cited by its source, with no text repeated.
//!
//! Hits from the same parent section are merged first (neighbouring chunks overlap by
//! design, and the overlap is written once), then passages are taken in rank order
//! while they fit; the last one that does not fit whole is cut at a sentence boundary.

use std::collections::HashMap;

use serde::Serialize;
use trawl_ingest::Location;
use unicode_segmentation::UnicodeSegmentation;

use crate::chunk::merge_chunk_texts;
use crate::search::{Hit, SearchOptions};

/// Options for [`crate::Collection::context`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextOptions {
    /// Most tokens the context may take (counted with the collection model's tokenizer,
    /// or about four characters per token without one), citation lines included.
    pub budget: usize,
    /// The search that finds the passages; its `k` is how many chunks are considered.
    pub search: SearchOptions,
}

impl Default for ContextOptions {
    fn default() -> Self {
        ContextOptions {
            budget: 2000,
            search: SearchOptions {
                k: 30,
                ..SearchOptions::default()
            },
        }
    }
}

/// A packed context and what it cites.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Context {
    /// The passages, each under a `[n] source, location — headings` line.
    pub text: String,
    /// One per passage, numbered from 1 in the order they appear.
    pub citations: Vec<Citation>,
    /// Tokens `text` takes.
    pub tokens: usize,
}

/// Where a passage of the context came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    /// The `[n]` the passage is marked with.
    pub number: usize,
    /// The document's id.
    pub doc_id: String,
    /// The tenant the document belongs to (`""` for none).
    pub tenant: String,
    /// The document's title.
    pub title: String,
    /// The file, if any.
    pub source: Option<String>,
    /// Where in the source (page, slide, sheet and rows, line...).
    pub location: Location,
    /// Headings the passage sits under.
    pub heading_path: Vec<String>,
    /// The chunks the passage is made of.
    pub chunk_ids: Vec<String>,
    /// The best score among them.
    pub score: f32,
    /// Whether the passage was cut to fit the budget.
    pub truncated: bool,
}

impl Citation {
    /// `source, page 3 — Heading > Subheading`, as printed in the context.
    #[must_use]
    pub fn label(&self) -> String {
        let name = self
            .source
            .as_deref()
            .map(|s| {
                std::path::Path::new(s)
                    .file_name()
                    .map_or(s.to_owned(), |n| n.to_string_lossy().into_owned())
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                if self.title.is_empty() {
                    self.doc_id.clone()
                } else {
                    self.title.clone()
                }
            });
        let mut label = name;
        let l = &self.location;
        let mut parts = Vec::new();
        if let Some(m) = &l.member {
            parts.push(m.clone());
        }
        if let Some(c) = l.chapter {
            parts.push(format!("chapter {c}"));
        }
        if let Some(p) = l.page {
            parts.push(format!("page {p}"));
        }
        if let Some(s) = l.slide {
            parts.push(format!("slide {s}"));
        }
        if let Some(s) = &l.sheet {
            parts.push(format!("sheet {s}"));
        }
        if let Some((a, b)) = l.rows {
            parts.push(format!("rows {a}-{b}"));
        }
        if parts.is_empty() {
            if let Some(line) = l.line {
                parts.push(format!("line {line}"));
            }
        }
        for p in parts {
            label.push_str(", ");
            label.push_str(&p);
        }
        if !self.heading_path.is_empty() {
            label.push_str(" — ");
            label.push_str(&self.heading_path.join(" > "));
        }
        label
    }
}

/// A passage before packing: hits of one parent, merged.
struct Passage {
    citation: Citation,
    text: String,
}

/// Merges hits (best first) into passages, one per parent section of one tenant's
/// document: two tenants' documents may share an id.
fn passages(hits: &[Hit]) -> Vec<Passage> {
    type Key = (String, String, u32);
    let mut order: Vec<Key> = Vec::new();
    let mut groups: HashMap<Key, Vec<&Hit>> = HashMap::new();
    for hit in hits {
        let key = (hit.tenant.clone(), hit.doc_id.clone(), hit.span.parent);
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(hit);
    }
    order
        .into_iter()
        .map(|key| {
            let group = &groups[&key];
            let best = group[0];
            let first = group
                .iter()
                .min_by_key(|h| h.span.start)
                .copied()
                .unwrap_or(best);
            let text = if group.len() == 1 {
                best.text.clone()
            } else {
                let header: String = first.text.chars().take(first.span.header_chars).collect();
                let body = merge_chunk_texts(group.iter().map(|h| {
                    let own: &str = own_text(h);
                    (h.span.start, h.span.end, own)
                }));
                header + &body
            };
            Passage {
                citation: Citation {
                    number: 0,
                    doc_id: best.doc_id.clone(),
                    tenant: best.tenant.clone(),
                    title: best.title.clone(),
                    source: best.source.clone(),
                    location: first.location.clone(),
                    heading_path: first.heading_path.clone(),
                    chunk_ids: group.iter().map(|h| h.chunk_id.clone()).collect(),
                    score: best.score,
                    truncated: false,
                },
                text,
            }
        })
        .collect()
}

fn own_text(hit: &Hit) -> &str {
    let skip = hit
        .text
        .char_indices()
        .nth(hit.span.header_chars)
        .map_or(hit.text.len(), |(i, _)| i);
    &hit.text[skip..]
}

/// Packs `hits` (best first) into at most `budget` tokens as measured by `count`.
pub(crate) fn build(hits: &[Hit], budget: usize, count: &dyn Fn(&str) -> usize) -> Context {
    let mut text = String::new();
    let mut used = 0;
    let mut citations = Vec::new();
    for mut passage in passages(hits) {
        let number = citations.len() + 1;
        passage.citation.number = number;
        let head = format!("[{number}] {}\n", passage.citation.label());
        let sep = if text.is_empty() { "" } else { "\n\n" };
        let fixed = count(&head) + count(sep);
        let body_tokens = count(&passage.text);
        let remaining = budget.saturating_sub(used);
        if fixed + body_tokens <= remaining {
            used += fixed + body_tokens;
        } else {
            // Worth cutting only if a useful part fits.
            if remaining < fixed + 16 {
                continue;
            }
            let Some(cut) = cut_to_fit(&passage.text, remaining - fixed, count) else {
                continue;
            };
            used += fixed + count(&cut);
            passage.text = cut;
            passage.citation.truncated = true;
        }
        text.push_str(sep);
        text.push_str(&head);
        text.push_str(passage.text.trim_end());
        citations.push(passage.citation);
    }
    Context {
        tokens: count(&text),
        text,
        citations,
    }
}

/// The longest prefix of `text` ending at a sentence boundary (plus "…") that fits.
fn cut_to_fit(text: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Option<String> {
    let ends: Vec<usize> = text
        .split_sentence_bound_indices()
        .map(|(i, s)| i + s.len())
        .collect();
    // Binary search over sentence ends for the last prefix within the budget.
    let (mut lo, mut hi) = (0, ends.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate = format!("{} …", text[..ends[mid - 1]].trim_end());
        if count(&candidate) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    (lo > 0).then(|| format!("{} …", text[..ends[lo - 1]].trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::ChunkSpan;

    fn hit(doc: &str, parent: u32, start: usize, text: &str, score: f32) -> Hit {
        Hit {
            chunk_id: format!("{doc}#{start}"),
            doc_id: doc.to_owned(),
            ordinal: 0,
            text: text.to_owned(),
            score,
            title: String::new(),
            source: Some(format!("/docs/{doc}")),
            format: "text".to_owned(),
            heading_path: vec!["Guide".to_owned()],
            location: Location {
                page: Some(parent + 1),
                ..Location::default()
            },
            metadata: trawl_ingest::Metadata::new(),
            span: ChunkSpan {
                parent,
                start,
                end: start + text.chars().count(),
                header_chars: 0,
            },
            tenant: String::new(),
        }
    }

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn overlapping_chunks_of_one_parent_are_written_once() {
        let hits = [
            hit("a.pdf", 0, 15, "Four five six. Seven eight nine.", 0.9),
            hit("b.pdf", 2, 0, "Other document.", 0.8),
            hit("a.pdf", 0, 0, "One two three. Four five six.", 0.7),
        ];
        let ctx = build(&hits, 1000, &words);
        assert_eq!(
            ctx.text,
            "[1] a.pdf, page 1 — Guide\nOne two three. Four five six. Seven eight nine.\n\n\
             [2] b.pdf, page 3 — Guide\nOther document."
        );
        assert_eq!(ctx.citations.len(), 2);
        assert_eq!(ctx.citations[0].chunk_ids.len(), 2);
        assert_eq!(ctx.citations[0].score, 0.9);
        assert_eq!(ctx.tokens, words(&ctx.text));
    }

    #[test]
    fn the_budget_holds_and_the_last_passage_is_cut_at_a_sentence() {
        let long = (0..50)
            .map(|i| format!("Sentence {i} is five words."))
            .collect::<Vec<_>>()
            .join(" ");
        let hits = [
            hit("a.txt", 0, 0, "Short first passage here.", 0.9),
            hit("b.txt", 0, 0, &long, 0.8),
        ];
        for budget in [40, 60, 120] {
            let ctx = build(&hits, budget, &words);
            assert!(ctx.tokens <= budget, "{budget}: {}", ctx.tokens);
            assert_eq!(ctx.citations.len(), 2);
            assert!(ctx.citations[1].truncated);
            assert!(ctx.text.ends_with("words. …"), "{}", ctx.text);
        }
        // Too small for anything useful: nothing is cut to a stub.
        assert!(build(&hits, 5, &words).citations.is_empty());
    }
}
