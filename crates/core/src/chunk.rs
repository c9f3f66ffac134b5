//! Splitting documents into chunks that the model can embed whole.
//!
//! Sections are grouped under their heading (a heading starts a group); each group is
//! cut into sentences (or lines, for code and tables) and the pieces are packed
//! greedily into chunks bounded by the model's token limit and a character limit.
//! Neighbouring chunks of one group share trailing sentences up to an overlap budget.
//! A sentence longer than the limit is split between words.

use serde::{Deserialize, Serialize};
use trawl_ingest::{Document, Location, SectionKind};
use unicode_segmentation::UnicodeSegmentation;

/// How documents are cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkOptions {
    /// Upper bound on tokens per chunk, special tokens included; capped by the
    /// embedder's own limit so nothing is silently truncated.
    pub max_tokens: usize,
    /// Upper bound on characters per chunk.
    pub max_chars: usize,
    /// Tokens of trailing sentences repeated at the start of the next chunk.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_tokens: 256,
            max_chars: 2000,
            overlap_tokens: 32,
        }
    }
}

/// A piece of a document small enough to embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The document's id.
    pub doc_id: String,
    /// Position in the document, from 0.
    pub ordinal: u32,
    /// The text.
    pub text: String,
    /// Headings the chunk sits under, outermost first.
    pub heading_path: Vec<String>,
    /// Where its first section is in the source.
    pub location: Location,
}

impl Chunk {
    /// `doc_id#ordinal`, stable across runs for the same document and options.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}#{}", self.doc_id, self.ordinal)
    }
}

/// (BERT-style models add `[CLS]` and `[SEP]`.)
const SPECIAL_TOKENS: usize = 2;

struct Piece {
    text: String,
    tokens: usize,
    /// Index of the section it came from, so pieces of one section join with a space
    /// and sections with a blank line.
    section: usize,
}

/// Splits `doc` into chunks; `count_tokens` measures text in the embedding model's
/// tokens (without special tokens).
pub fn chunk_document(
    doc: &Document,
    options: &ChunkOptions,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let budget = options.max_tokens.saturating_sub(SPECIAL_TOKENS).max(8);
    let max_chars = options.max_chars.max(64);
    let mut chunks = Vec::new();
    // A heading starts a new group; everything up to the next heading belongs to it.
    let mut starts: Vec<usize> = doc
        .sections
        .iter()
        .enumerate()
        .filter(|(i, s)| *i > 0 && matches!(s.kind, SectionKind::Heading { .. }))
        .map(|(i, _)| i)
        .collect();
    starts.insert(0, 0);
    starts.push(doc.sections.len());
    for w in starts.windows(2) {
        let group: Vec<usize> = (w[0]..w[1]).collect();
        if !group.is_empty() {
            pack_group(
                doc,
                &group,
                budget,
                max_chars,
                options.overlap_tokens,
                count_tokens,
                &mut chunks,
            );
        }
    }
    chunks
}

fn pack_group(
    doc: &Document,
    group: &[usize],
    budget: usize,
    max_chars: usize,
    overlap: usize,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Chunk>,
) {
    let mut pieces = Vec::new();
    for &si in group {
        let s = &doc.sections[si];
        let units: Vec<&str> = match s.kind {
            SectionKind::Code | SectionKind::Table => s.text.split_inclusive('\n').collect(),
            _ => s.text.split_sentence_bounds().collect(),
        };
        for unit in units {
            let text = unit.trim();
            if text.is_empty() {
                continue;
            }
            let tokens = count(text);
            if tokens <= budget && text.chars().count() <= max_chars {
                pieces.push(Piece {
                    text: text.to_owned(),
                    tokens,
                    section: si,
                });
            } else {
                split_long(text, si, budget, max_chars, count, &mut pieces);
            }
        }
    }
    // The chunk takes the heading path of the group's deepest section (a heading's
    // path ends with itself).
    let heading_path = group
        .iter()
        .map(|&i| &doc.sections[i].heading_path)
        .max_by_key(|p| p.len())
        .cloned()
        .unwrap_or_default();
    let mut start = 0;
    while start < pieces.len() {
        let (mut tokens, mut chars, mut end) = (0, 0, start);
        while end < pieces.len() {
            let p = &pieces[end];
            let extra = p.text.chars().count() + 2;
            if end > start && (tokens + p.tokens > budget || chars + extra > max_chars) {
                break;
            }
            tokens += p.tokens;
            chars += extra;
            end += 1;
        }
        let first_section = pieces[start].section;
        out.push(Chunk {
            doc_id: doc.id.clone(),
            ordinal: u32::try_from(out.len()).unwrap_or(u32::MAX),
            text: join(&pieces[start..end]),
            heading_path: heading_path.clone(),
            location: doc.sections[first_section].location.clone(),
        });
        if end >= pieces.len() {
            break;
        }
        // Step back over trailing pieces that fit the overlap budget, always moving
        // forward at least one piece.
        let mut next = end;
        let mut carried = 0;
        while next > start + 1 && carried + pieces[next - 1].tokens <= overlap {
            carried += pieces[next - 1].tokens;
            next -= 1;
        }
        start = next;
    }
}

/// Cuts an over-long unit between words (or, for a single giant word, between
/// characters) into pieces within the budget.
fn split_long(
    text: &str,
    section: usize,
    budget: usize,
    max_chars: usize,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Piece>,
) {
    let mut current = String::new();
    let mut current_tokens = 0;
    for word in text.split_word_bounds() {
        let mut word = word;
        let mut word_tokens = count(word);
        let mut owned;
        while word_tokens > budget || word.chars().count() > max_chars {
            // A word longer than a whole chunk: take as many characters as fit.
            let mut take = word.chars().count().min(max_chars) / 2;
            while take > 1 && count(&word.chars().take(take).collect::<String>()) > budget {
                take /= 2;
            }
            let head: String = word.chars().take(take.max(1)).collect();
            flush_piece(&mut current, &mut current_tokens, section, out);
            out.push(Piece {
                tokens: count(&head),
                text: head.clone(),
                section,
            });
            owned = word[head.len()..].to_owned();
            word = &owned;
            word_tokens = count(word);
        }
        if current_tokens + word_tokens > budget || current.len() + word.len() > max_chars {
            flush_piece(&mut current, &mut current_tokens, section, out);
        }
        current.push_str(word);
        current_tokens += word_tokens;
    }
    flush_piece(&mut current, &mut current_tokens, section, out);
}

fn flush_piece(current: &mut String, tokens: &mut usize, section: usize, out: &mut Vec<Piece>) {
    let text = current.trim();
    if !text.is_empty() {
        out.push(Piece {
            text: text.to_owned(),
            tokens: *tokens,
            section,
        });
    }
    current.clear();
    *tokens = 0;
}

fn join(pieces: &[Piece]) -> String {
    let mut out = String::new();
    let mut last_section = None;
    for p in pieces {
        if let Some(s) = last_section {
            out.push_str(if s == p.section { " " } else { "\n\n" });
        }
        out.push_str(&p.text);
        last_section = Some(p.section);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_ingest::parse_bytes;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn opts(max_tokens: usize, overlap: usize) -> ChunkOptions {
        ChunkOptions {
            max_tokens,
            max_chars: 10_000,
            overlap_tokens: overlap,
        }
    }

    #[test]
    fn short_document_is_one_chunk_per_heading_group() {
        let doc = parse_bytes(
            b"# Guide\n\nIntro.\n\n## Install\n\nRun it. Then stop.\n",
            "g.md",
        )
        .unwrap();
        let chunks = chunk_document(&doc, &opts(256, 0), &words);
        let got: Vec<_> = chunks
            .iter()
            .map(|c| (c.text.as_str(), c.heading_path.join(" > ")))
            .collect();
        assert_eq!(
            got,
            [
                ("Guide\n\nIntro.", "Guide".to_owned()),
                (
                    "Install\n\nRun it. Then stop.",
                    "Guide > Install".to_owned()
                )
            ]
        );
        assert_eq!(chunks[1].ordinal, 1);
        assert_eq!(chunks[1].id(), "g.md#1");
        assert_eq!(chunks[1].location.line, Some(5));
    }

    #[test]
    fn chunks_respect_the_token_budget_and_split_at_sentences() {
        let text = (0..40)
            .map(|i| format!("Sentence number {i} has six words."))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = Document::from_text("d", &text);
        let chunks = chunk_document(&doc, &opts(22, 0), &words);
        assert!(chunks.len() >= 10, "{}", chunks.len());
        for c in &chunks {
            assert!(words(&c.text) <= 20, "{}", c.text);
            assert!(c.text.ends_with('.'), "split mid-sentence: {}", c.text);
        }
        // Without overlap the chunks are exactly the text.
        let joined = chunks
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined, text);
    }

    #[test]
    fn overlap_repeats_trailing_sentences() {
        let text = "One two three. Four five six. Seven eight nine. Ten eleven twelve.";
        let doc = Document::from_text("d", text);
        let chunks = chunk_document(&doc, &opts(8, 3), &words);
        let got: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            got,
            [
                "One two three. Four five six.",
                "Four five six. Seven eight nine.",
                "Seven eight nine. Ten eleven twelve."
            ]
        );
    }

    #[test]
    fn a_giant_sentence_is_split_between_words() {
        let text = "word ".repeat(100);
        let doc = Document::from_text("d", &text);
        let chunks = chunk_document(&doc, &opts(12, 0), &words);
        assert_eq!(chunks.len(), 10);
        assert!(chunks.iter().all(|c| words(&c.text) == 10));
    }

    #[test]
    fn chunking_is_deterministic() {
        let text = "A b c. D e f.\n\nG h i. J k l.";
        let doc = Document::from_text("d", text);
        assert_eq!(
            chunk_document(&doc, &opts(6, 2), &words),
            chunk_document(&doc, &opts(6, 2), &words)
        );
    }
}
