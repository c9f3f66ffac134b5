//! Splitting documents into chunks that the model can embed whole.
//!
//! Structure first: a document is cut into *parents* at hard boundaries — a heading, a
//! change of page, slide, sheet, message or attachment — and a parent longer than
//! [`ChunkOptions::parent_max_chars`] is cut again between sections. Each parent is then
//! cut into *units*: sentences within paragraphs for prose, lines for code, rows for
//! tables; a unit longer than a chunk is split between words. Units are packed greedily
//! into chunks bounded by the model's token limit and a character limit, preferring to
//! end a chunk where a paragraph or section ends.
//!
//! A chunk's text is an exact slice of its parent's text (`start..end`, in characters),
//! except that a chunk continuing a table starts with the table's header row again
//! ([`Chunk::header_chars`] says how long that repeat is). Search can therefore rebuild
//! the parent from its chunks, and the context builder can merge overlapping chunks
//! without repeating text.

use serde::{Deserialize, Serialize};
use trawl_ingest::{Document, Location};

use self::pack::pack;
use self::parents::parents;
use self::units::units;

mod pack;
mod parents;
#[cfg(test)]
mod tests;
mod units;

/// How much of one chunk the next repeats, so a passage cut at a boundary is still
/// found whole in one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// No repetition.
    None,
    /// Trailing sentences (units) worth up to this many model tokens.
    Tokens(usize),
    /// Trailing sentences (units) worth up to this many characters.
    Chars(usize),
    /// This many trailing sentences (units).
    Sentences(usize),
}

impl std::fmt::Display for Overlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overlap::None => f.write_str("none"),
            Overlap::Tokens(n) => write!(f, "tokens:{n}"),
            Overlap::Chars(n) => write!(f, "chars:{n}"),
            Overlap::Sentences(n) => write!(f, "sentences:{n}"),
        }
    }
}

impl std::str::FromStr for Overlap {
    type Err = String;
    /// `none`, `tokens:N`, `chars:N` or `sentences:N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        if s == "none" || s == "0" {
            return Ok(Overlap::None);
        }
        let (kind, n) = s.split_once(':').ok_or_else(|| {
            format!("overlap {s:?}: expected none, tokens:N, chars:N or sentences:N")
        })?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("overlap {s:?}: {n:?} is not a count"))?;
        match kind.trim() {
            "tokens" => Ok(Overlap::Tokens(n)),
            "chars" | "characters" => Ok(Overlap::Chars(n)),
            "sentences" => Ok(Overlap::Sentences(n)),
            other => Err(format!("overlap {s:?}: unknown unit {other:?}")),
        }
    }
}

/// How documents are cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkOptions {
    /// Upper bound on tokens per chunk, special tokens included; capped by the
    /// embedder's own limit so nothing is silently truncated.
    pub max_tokens: usize,
    /// Upper bound on characters per chunk.
    pub max_chars: usize,
    /// A chunk this long (in characters) ends at the next paragraph or section boundary
    /// rather than mid-paragraph when the whole paragraph would not fit.
    pub min_chars: usize,
    /// What neighbouring chunks of one parent share.
    pub overlap: Overlap,
    /// Upper bound on a parent's text (what `expand parent` returns); longer heading
    /// groups become several parents, cut between sections.
    pub parent_max_chars: usize,
    /// Embed each chunk with its document title and heading path in front (the stored
    /// and returned text stays the chunk's own).
    pub context_prefix: bool,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_tokens: 256,
            max_chars: 2000,
            min_chars: 500,
            overlap: Overlap::Tokens(32),
            parent_max_chars: 8000,
            context_prefix: false,
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
    /// The parent (section group) it belongs to, numbered from 0 within the document.
    pub parent: u32,
    /// Character offset in the parent's text where the chunk's own text starts.
    pub start: usize,
    /// Character offset in the parent's text where it ends (exclusive).
    pub end: usize,
    /// Characters at the start of `text` that repeat a table's header row (and its line
    /// break) rather than come from `start..end`; 0 for most chunks.
    pub header_chars: usize,
}

impl Chunk {
    /// `doc_id#ordinal`, stable across runs for the same document and options.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}#{}", self.doc_id, self.ordinal)
    }

    /// The chunk's text without a repeated table header: exactly
    /// `parent_text[start..end]`.
    #[must_use]
    pub fn own_text(&self) -> &str {
        let skip = self
            .text
            .char_indices()
            .nth(self.header_chars)
            .map_or(self.text.len(), |(i, _)| i);
        &self.text[skip..]
    }

    /// What is embedded for this chunk: its text, or with
    /// [`ChunkOptions::context_prefix`] the title and heading path in front (without
    /// repeating a heading the text already starts with).
    #[must_use]
    pub fn embedding_text(&self, title: Option<&str>, options: &ChunkOptions) -> String {
        embedding_text(&self.text, title, &self.heading_path, options)
    }
}

/// What is embedded for a chunk of `text` under `heading_path` in a document titled
/// `title` (see [`Chunk::embedding_text`]).
pub(crate) fn embedding_text(
    text: &str,
    title: Option<&str>,
    heading_path: &[String],
    options: &ChunkOptions,
) -> String {
    if !options.context_prefix {
        return text.to_owned();
    }
    let mut context: Vec<&str> = Vec::new();
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        context.push(t);
    }
    for h in heading_path {
        if context.last() != Some(&h.as_str()) {
            context.push(h);
        }
    }
    // The text may itself start with the last headings ("Guide", "Install", then
    // the text under them): those are not said twice.
    let trimmed = text.trim_start();
    if let Some(start) =
        (0..context.len()).find(|&start| trimmed.starts_with(&context[start..].join("\n\n")))
    {
        context.truncate(start);
    }
    if context.is_empty() {
        text.to_owned()
    } else {
        format!("{}\n\n{}", context.join(" > "), text)
    }
}

/// (BERT-style models add `[CLS]` and `[SEP]`.)
const SPECIAL_TOKENS: usize = 2;

/// Splits `doc` into chunks; `count_tokens` measures text in the embedding model's
/// tokens (without special tokens).
pub fn chunk_document(
    doc: &Document,
    options: &ChunkOptions,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let limits = Limits {
        tokens: options.max_tokens.saturating_sub(SPECIAL_TOKENS).max(8),
        chars: options.max_chars.max(64),
        min_chars: options.min_chars.min(options.max_chars),
        overlap: options.overlap,
    };
    let mut chunks = Vec::new();
    for (parent_no, parent) in parents(doc, options.parent_max_chars.max(options.max_chars))
        .iter()
        .enumerate()
    {
        let units = units(doc, parent, &limits, count_tokens);
        pack(
            doc,
            parent,
            u32::try_from(parent_no).unwrap_or(u32::MAX),
            &units,
            &limits,
            count_tokens,
            &mut chunks,
        );
    }
    chunks
}

struct Limits {
    tokens: usize,
    chars: usize,
    min_chars: usize,
    overlap: Overlap,
}

/// Rebuilds as much of a parent's text as `chunks` (of that one parent, any order)
/// cover: their own texts placed at their offsets, overlaps written once, and gaps
/// between them (whitespace the chunker dropped) as a space or a blank line.
#[must_use]
pub(crate) fn merge_chunk_texts<'a>(
    chunks: impl IntoIterator<Item = (usize, usize, &'a str)>,
) -> String {
    let mut spans: Vec<(usize, usize, &str)> = chunks.into_iter().collect();
    spans.sort_by_key(|&(s, e, _)| (s, e));
    let mut out = String::new();
    let mut covered = None::<usize>;
    for (s, e, text) in spans {
        match covered {
            Some(c) if e <= c => continue,
            Some(c) if s < c => out.extend(text.chars().skip(c - s)),
            Some(c) => {
                out.push_str(if s - c >= 2 { "\n\n" } else { " " });
                out.push_str(text);
            }
            None => out.push_str(text),
        }
        covered = Some(covered.map_or(e, |c| c.max(e)));
    }
    out
}
