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
use serde_json::Value;
use trawl_ingest::{Document, Location, Section, SectionKind};
use unicode_segmentation::UnicodeSegmentation;

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
        if !options.context_prefix {
            return self.text.clone();
        }
        let mut context: Vec<&str> = Vec::new();
        if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
            context.push(t);
        }
        for h in &self.heading_path {
            if context.last() != Some(&h.as_str()) {
                context.push(h);
            }
        }
        // The text may itself start with the last headings ("Guide", "Install", then
        // the text under them): those are not said twice.
        let text = self.text.trim_start();
        if let Some(start) =
            (0..context.len()).find(|&start| text.starts_with(&context[start..].join("\n\n")))
        {
            context.truncate(start);
        }
        if context.is_empty() {
            self.text.clone()
        } else {
            format!("{}\n\n{}", context.join(" > "), self.text)
        }
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

/// A run of sections under one heading and on one page/slide/sheet/message, and its
/// text: the sections' texts joined by blank lines.
struct Parent {
    sections: Vec<usize>,
    /// Byte offset of each section's text in `text`.
    offsets: Vec<usize>,
    text: String,
}

/// The location fields that separate parents (all but line, rows and key: the values
/// of one JSON document are chunked together, not one chunk each).
fn boundary(location: &Location) -> Value {
    let mut v = serde_json::to_value(location).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("line");
        m.remove("rows");
        m.remove("key");
    }
    v
}

/// The key path that holds every value of a chunk: the common prefix of their paths,
/// cut back to whole keys (`items[0].title` and `items[1].body` are under `items`).
/// `None` when they share nothing.
fn common_key(mut keys: impl Iterator<Item = Option<String>>) -> Option<String> {
    let mut common = keys.next()??;
    for key in keys {
        let key = key?;
        let shared = common
            .char_indices()
            .zip(key.chars())
            .find(|((_, a), b)| a != b)
            .map_or(common.len().min(key.len()), |((i, _), _)| i);
        // Whole keys only: a shared prefix that ends inside a key or an index of
        // either path is cut back to the key before it.
        let ends_there =
            |path: &str| path.len() == shared || path[shared..].starts_with(['.', '[']);
        let whole = ends_there(&common) && ends_there(&key);
        common.truncate(shared);
        if !whole {
            let cut = common.rfind(['.', '[']).unwrap_or(0);
            common.truncate(cut);
        }
    }
    (!common.is_empty()).then_some(common)
}

fn parents(doc: &Document, max_chars: usize) -> Vec<Parent> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut last_boundary = None;
    for (i, s) in doc.sections.iter().enumerate() {
        if s.text.trim().is_empty() {
            continue;
        }
        let b = boundary(&s.location);
        let heading = |i: &usize| matches!(doc.sections[*i].kind, SectionKind::Heading { .. });
        // A heading opens a group, unless the open group holds only headings so far
        // ("# Guide" straight over "## Install"): those stay with the text under them
        // instead of becoming chunks of a few words.
        let starts = groups.is_empty()
            || last_boundary.as_ref() != Some(&b)
            || (heading(&i) && !groups.last().is_some_and(|g| g.iter().all(heading)));
        last_boundary = Some(b);
        if starts {
            groups.push(Vec::new());
        }
        groups.last_mut().expect("a group").push(i);
    }
    let mut out = Vec::new();
    for group in groups {
        let mut current = Parent {
            sections: Vec::new(),
            offsets: Vec::new(),
            text: String::new(),
        };
        let mut current_chars = 0;
        for i in group {
            let text = doc.sections[i].text.trim();
            let len = text.chars().count();
            if !current.sections.is_empty() && current_chars + 2 + len > max_chars {
                current_chars = 0;
                out.push(std::mem::replace(
                    &mut current,
                    Parent {
                        sections: Vec::new(),
                        offsets: Vec::new(),
                        text: String::new(),
                    },
                ));
            }
            if !current.text.is_empty() {
                current.text.push_str("\n\n");
            }
            current.sections.push(i);
            current.offsets.push(current.text.len());
            current.text.push_str(text);
            current_chars += len + 2;
        }
        if !current.sections.is_empty() {
            out.push(current);
        }
    }
    out
}

/// A sentence, line or row: a byte range of the parent's text.
#[derive(Clone)]
struct Unit {
    start: usize,
    end: usize,
    /// `start` and `end` in characters.
    cstart: usize,
    cend: usize,
    tokens: usize,
    chars: usize,
    /// Position (in the parent) of the section it came from.
    section: usize,
    /// Starts a paragraph (or a section).
    para_start: bool,
    /// For a table row (the header row included), the header row's byte range.
    header: Option<(usize, usize)>,
    /// The table's header row itself.
    is_header: bool,
    /// For a table row, its line in its section's text (the header is line 0).
    line: usize,
}

fn units(
    doc: &Document,
    parent: &Parent,
    limits: &Limits,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Unit> {
    let mut out = Vec::new();
    for (pos, (&si, &base)) in parent.sections.iter().zip(&parent.offsets).enumerate() {
        let section = &doc.sections[si];
        let text = section.text.trim();
        let mut push =
            |start: usize, end: usize, para_start: bool, header, is_header: bool, line: usize| {
                let piece = &parent.text[base + start..base + end];
                let trimmed_start = start + (piece.len() - piece.trim_start().len());
                let trimmed_end = end - (piece.len() - piece.trim_end().len());
                if trimmed_start >= trimmed_end {
                    return;
                }
                let piece = &parent.text[base + trimmed_start..base + trimmed_end];
                let unit = Unit {
                    start: base + trimmed_start,
                    end: base + trimmed_end,
                    cstart: 0,
                    cend: 0,
                    is_header,
                    tokens: count(piece),
                    chars: piece.chars().count(),
                    section: pos,
                    para_start,
                    header,
                    line,
                };
                if unit.tokens <= limits.tokens && unit.chars <= limits.chars {
                    out.push(unit);
                } else {
                    split_long(&parent.text, &unit, limits, count, &mut out);
                }
            };
        match section.kind {
            SectionKind::Table => {
                let mut header = None;
                let mut offset = 0;
                for (row_no, line) in text.split_inclusive('\n').enumerate() {
                    let (s, e) = (offset, offset + line.len());
                    if row_no == 0 {
                        let h = line.trim_end();
                        header = Some((base + s, base + s + h.len()));
                        push(s, e, true, header, true, row_no);
                    } else {
                        push(s, e, false, header, false, row_no);
                    }
                    offset = e;
                }
            }
            SectionKind::Code => {
                let mut offset = 0;
                for (i, line) in text.split_inclusive('\n').enumerate() {
                    push(offset, offset + line.len(), i == 0, None, false, 0);
                    offset += line.len();
                }
            }
            _ => {
                let mut offset = 0;
                for para in split_paragraphs(text) {
                    let para_offset = offset + text[offset..].find(para).unwrap_or(0);
                    let mut first = true;
                    for (s, sentence) in para.split_sentence_bound_indices() {
                        let start = para_offset + s;
                        push(start, start + sentence.len(), first, None, false, 0);
                        first = false;
                    }
                    offset = para_offset + para.len();
                }
            }
        }
    }
    // Character offsets in one pass (units are in text order).
    let (mut byte, mut chars) = (0, 0);
    for u in &mut out {
        chars += parent.text[byte..u.start].chars().count();
        u.cstart = chars;
        chars += parent.text[u.start..u.end].chars().count();
        u.cend = chars;
        byte = u.end;
    }
    out
}

/// Paragraphs: text separated by blank lines.
fn split_paragraphs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t' || bytes[j] == b'\r') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'\n' {
                out.push(&text[start..i]);
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                start = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out.retain(|p| !p.trim().is_empty());
    out
}

/// Cuts an over-long unit between words (or, for a single giant word, between
/// characters) into units within the limits. Each cut is found by galloping over the
/// word ends, so every piece tokenised is at most about twice a chunk: the work grows
/// with the unit's length, not its square (a megabyte of base64 on one line included).
fn split_long(
    text: &str,
    unit: &Unit,
    limits: &Limits,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Unit>,
) {
    let fits = |s: usize, e: usize| {
        let piece = &text[s..e];
        // At most `limits.chars` characters (counting stops there), then tokens.
        piece.chars().nth(limits.chars).is_none() && count(piece) <= limits.tokens
    };
    let mut first = true;
    let mut push = |s: usize, e: usize, out: &mut Vec<Unit>| {
        let piece = &text[s..e];
        let trimmed = piece.trim();
        if trimmed.is_empty() {
            return;
        }
        let s = s + (piece.len() - piece.trim_start().len());
        out.push(Unit {
            start: s,
            end: s + trimmed.len(),
            cstart: 0,
            cend: 0,
            is_header: unit.is_header && first,
            tokens: count(trimmed),
            chars: trimmed.chars().count(),
            section: unit.section,
            para_start: unit.para_start && first,
            header: unit.header,
            line: unit.line,
        });
        first = false;
    };
    // Where a piece may end: after any word or the space between words.
    let word_ends: Vec<usize> = text[unit.start..unit.end]
        .split_word_bound_indices()
        .map(|(offset, word)| unit.start + offset + word.len())
        .collect();
    let mut start = unit.start;
    let mut next = 0; // the first word end after `start`
    while start < unit.end {
        while next < word_ends.len() && word_ends[next] <= start {
            next += 1;
        }
        let Some(&word_end) = word_ends.get(next) else {
            break;
        };
        let ends = &word_ends[next..];
        let end = match fitting_prefix(ends, |e| fits(start, e)) {
            0 => {
                // The next word alone is longer than a chunk: cut it between
                // characters (a chunk holds at most `limits.chars` of them).
                let char_ends: Vec<usize> = text[start..word_end]
                    .char_indices()
                    .take(limits.chars.max(1))
                    .map(|(i, c)| start + i + c.len_utf8())
                    .collect();
                let n = fitting_prefix(&char_ends, |e| fits(start, e)).max(1);
                char_ends[n - 1]
            }
            n => ends[n - 1],
        };
        push(start, end, out);
        start = end;
    }
}

/// How many of `ends` (increasing) pass `fits`, which is assumed to hold up to some
/// point and fail after it: galloping (1, 2, 4, ... ahead) until one fails, then
/// bisecting the last step, so no probe is much beyond the answer. Where `fits` is not
/// quite monotone (a longer text can rarely tokenise shorter), the count returned
/// still ends on one that fits, or is 0.
fn fitting_prefix(ends: &[usize], fits: impl Fn(usize) -> bool) -> usize {
    let mut fitting = 0;
    let mut step = 1;
    while fitting < ends.len() {
        let probe = (fitting + step).min(ends.len());
        if fits(ends[probe - 1]) {
            fitting = probe;
            step *= 2;
        } else {
            fitting += ends[fitting..probe - 1].partition_point(|&e| fits(e));
            break;
        }
    }
    while fitting > 0 && !fits(ends[fitting - 1]) {
        fitting -= 1;
    }
    fitting
}

#[allow(clippy::too_many_lines)]
fn pack(
    doc: &Document,
    parent: &Parent,
    parent_no: u32,
    units: &[Unit],
    limits: &Limits,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Chunk>,
) {
    // The chunk takes the heading path of the parent's deepest section (a heading's path
    // ends with itself).
    let heading_path = parent
        .sections
        .iter()
        .map(|&i| &doc.sections[i].heading_path)
        .max_by_key(|p| p.len())
        .cloned()
        .unwrap_or_default();
    let text = &parent.text;
    let header_of =
        |u: &Unit| -> Option<&str> { u.header.filter(|_| !u.is_header).map(|(s, e)| &text[s..e]) };
    let mut start = 0;
    while start < units.len() {
        // A table row that does not start its table gets the header in front, unless
        // the header is so long that it and the row would not fit together.
        let mut header = header_of(&units[start]);
        let mut header_tokens = header.map_or(0, count);
        let mut header_chars = header.map_or(0, |h| h.chars().count() + 1);
        if header_tokens + units[start].tokens > limits.tokens
            || header_chars + units[start].chars > limits.chars
        {
            (header, header_tokens, header_chars) = (None, 0, 0);
        }
        let mut end = start;
        let mut chars = header_chars;
        let mut tokens = header_tokens;
        while end < units.len() {
            let u = &units[end];
            let span = u.cend - units[start].cstart;
            let would_chars = header_chars + span;
            let would_tokens = tokens + u.tokens;
            if end > start {
                // A table's rows stay together: its rows only join a chunk that can
                // take them under the same header.
                let table_change = u.header != units[start].header;
                if table_change || would_tokens > limits.tokens || would_chars > limits.chars {
                    break;
                }
                if u.para_start && chars >= limits.min_chars {
                    let para_end = paragraph_end(units, end);
                    let para_chars = units[para_end - 1].cend - u.cstart;
                    let para_tokens: usize = units[end..para_end].iter().map(|u| u.tokens).sum();
                    if chars + para_chars > limits.chars || tokens + para_tokens > limits.tokens {
                        break;
                    }
                }
            }
            chars = would_chars;
            tokens = would_tokens;
            end += 1;
        }
        // Whitespace between units can add tokens: shrink until the real count fits.
        let mut body = &text[units[start].start..units[end - 1].end];
        while end > start + 1 && header_tokens + count(body) > limits.tokens {
            end -= 1;
            body = &text[units[start].start..units[end - 1].end];
        }
        let chunk_text = match header {
            Some(h) => format!("{h}\n{body}"),
            None => body.to_owned(),
        };
        let first_section = &doc.sections[parent.sections[units[start].section]];
        let mut location = first_section.location.clone();
        if let Some(rows) = table_rows(first_section, &units[start..end]) {
            location.rows = Some(rows);
        }
        if location.key.is_some() {
            location.key = common_key(units[start..end].iter().map(|u| {
                doc.sections[parent.sections[u.section]]
                    .location
                    .key
                    .clone()
            }));
        }
        out.push(Chunk {
            doc_id: doc.id.clone(),
            ordinal: u32::try_from(out.len()).unwrap_or(u32::MAX),
            text: chunk_text,
            heading_path: heading_path.clone(),
            location,
            parent: parent_no,
            start: units[start].cstart,
            end: units[end - 1].cend,
            header_chars: if header.is_some() { header_chars } else { 0 },
        });
        if end >= units.len() {
            break;
        }
        start = overlap_start(units, start, end, limits.overlap);
    }
}

/// The source rows a chunk of a table holds: the rows of its lines (a table's chunk
/// holds lines of one section), from its section's first row at the earliest, so a
/// header repeated at the top of a later chunk does not count. `None` when the
/// section does not number its lines.
fn table_rows(section: &Section, units: &[Unit]) -> Option<(u32, u32)> {
    let (first, _) = section.location.rows?;
    let first_unit = units.first()?;
    let mut rows = units
        .iter()
        .filter(|u| u.section == first_unit.section)
        .filter_map(|u| section.row_numbers.get(u.line).copied());
    let start = rows.next()?;
    let (lo, hi) = rows.fold((start, start), |(lo, hi), r| (lo.min(r), hi.max(r)));
    let lo = lo.max(first);
    Some((lo, hi.max(lo)))
}

/// Index one past the last unit of the paragraph that starts at `from`.
fn paragraph_end(units: &[Unit], from: usize) -> usize {
    let mut e = from + 1;
    while e < units.len() && !units[e].para_start {
        e += 1;
    }
    e
}

/// Where the next chunk starts: back over trailing units within the overlap, always
/// moving forward at least one unit. Table rows are not repeated (the header is).
fn overlap_start(units: &[Unit], start: usize, end: usize, overlap: Overlap) -> usize {
    let mut next = end;
    let mut carried_tokens = 0;
    let mut carried_chars = 0;
    while next > start + 1 && units[next - 1].header.is_none() && units[end].header.is_none() {
        let u = &units[next - 1];
        let fits = match overlap {
            Overlap::None => false,
            Overlap::Tokens(n) => carried_tokens + u.tokens <= n,
            Overlap::Chars(n) => carried_chars + u.chars <= n,
            Overlap::Sentences(n) => end - next < n,
        };
        if !fits {
            break;
        }
        carried_tokens += u.tokens;
        carried_chars += u.chars;
        next -= 1;
    }
    next
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use trawl_ingest::parse_bytes;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn opts(max_tokens: usize, overlap: usize) -> ChunkOptions {
        ChunkOptions {
            max_tokens,
            max_chars: 10_000,
            min_chars: 0,
            overlap: Overlap::Tokens(overlap),
            ..ChunkOptions::default()
        }
    }

    fn parent_text(doc: &Document, options: &ChunkOptions, parent: usize) -> String {
        parents(doc, options.parent_max_chars.max(options.max_chars))[parent]
            .text
            .clone()
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
        assert_eq!(chunks[1].parent, 1);
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
        let by_sentence = ChunkOptions {
            overlap: Overlap::Sentences(1),
            ..opts(8, 0)
        };
        assert_eq!(chunk_document(&doc, &by_sentence, &words), chunks);
        let by_chars = ChunkOptions {
            overlap: Overlap::Chars(20),
            ..opts(8, 0)
        };
        assert_eq!(chunk_document(&doc, &by_chars, &words), chunks);
    }

    #[test]
    fn overlap_parses_and_prints() {
        for s in ["none", "tokens:32", "chars:200", "sentences:2"] {
            assert_eq!(s.parse::<Overlap>().unwrap().to_string(), s);
        }
        assert!("tokens".parse::<Overlap>().is_err());
        assert!("lines:3".parse::<Overlap>().is_err());
        assert!("tokens:x".parse::<Overlap>().is_err());
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
    fn a_giant_word_is_split_between_characters() {
        let text = "x".repeat(500);
        let doc = Document::from_text("d", &text);
        let options = ChunkOptions {
            max_chars: 100,
            ..opts(256, 0)
        };
        let chunks = chunk_document(&doc, &options, &|t| t.len().div_ceil(4));
        assert_eq!(chunks.len(), 5);
        assert!(chunks.iter().all(|c| c.text.len() == 100));
    }

    #[test]
    fn long_unbroken_text_is_split_in_linear_work() {
        // 200 KB of hex on one line (one "word") and 200 KB of words without a
        // sentence end: the bytes handed to the token counter stay a small multiple
        // of the text (cutting by probing every character once tokenised about a
        // chunk per character, a thousand times the text).
        for text in ["0a1b2c3d".repeat(25_000), "lorem ipsum ".repeat(17_000)] {
            let counted = std::cell::Cell::new(0usize);
            let count = |t: &str| {
                counted.set(counted.get() + t.len());
                t.len().div_ceil(4)
            };
            let doc = Document::from_text("d", &text);
            let chunks = chunk_document(&doc, &opts(256, 0), &count);
            assert!(chunks.len() > 100);
            assert!(chunks.iter().all(|c| c.text.len().div_ceil(4) <= 256));
            assert_eq!(
                no_space(&chunks.iter().map(Chunk::own_text).collect::<String>()),
                no_space(&text)
            );
            assert!(
                counted.get() < 20 * text.len(),
                "{} bytes counted",
                counted.get()
            );
        }
    }

    #[test]
    fn chunks_prefer_to_end_at_paragraphs() {
        let para = |n: usize| {
            (0..4)
                .map(|i| format!("Paragraph {n} sentence {i} is here."))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text = format!("{}\n\n{}\n\n{}", para(1), para(2), para(3));
        let doc = Document::from_text("d", &text);
        let options = ChunkOptions {
            max_tokens: 40,
            min_chars: 50,
            ..opts(40, 0)
        };
        let chunks = chunk_document(&doc, &options, &words);
        let got: Vec<_> = chunks.iter().map(|c| c.text.clone()).collect();
        assert_eq!(got, [para(1), para(2), para(3)]);
    }

    #[test]
    fn table_chunks_are_whole_rows_under_a_repeated_header() {
        let rows: Vec<String> = (1..=30).map(|i| format!("item {i} | {}", i * 3)).collect();
        let table = format!("name | qty\n{}", rows.join("\n"));
        let doc = Document {
            sections: vec![Section {
                kind: SectionKind::Table,
                text: table.clone(),
                heading_path: vec![],
                // Source rows: the header in row 1, items 1-15 in rows 2-16, then two
                // empty rows the table text leaves out, items 16-30 in rows 19-33.
                location: Location {
                    rows: Some((1, 33)),
                    ..Location::default()
                },
                row_numbers: (1..=16).chain(19..=33).collect(),
            }],
            ..Document::from_text("t", "")
        };
        let chunks = chunk_document(&doc, &opts(40, 8), &words);
        assert!(chunks.len() > 3, "{}", chunks.len());
        let mut seen = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            assert!(c.text.starts_with("name | qty\n"), "{}", c.text);
            assert!(words(&c.text) <= 38);
            assert_eq!(
                c.header_chars,
                if i == 0 { 0 } else { "name | qty\n".len() }
            );
            assert_eq!(
                c.own_text(),
                table
                    .chars()
                    .skip(c.start)
                    .take(c.end - c.start)
                    .collect::<String>()
            );
            seen.extend(c.own_text().lines().filter(|l| l.starts_with("item")));
            // Each chunk names exactly the rows it holds (the first also the header's).
            let items: Vec<u32> = c
                .own_text()
                .lines()
                .filter_map(|l| l.strip_prefix("item ")?.split(' ').next()?.parse().ok())
                .collect();
            let row = |item: u32| if item <= 15 { item + 1 } else { item + 3 };
            let first = if i == 0 { 1 } else { row(items[0]) };
            assert_eq!(c.location.rows, Some((first, row(*items.last().unwrap()))));
        }
        // Every row once: rows are never cut or repeated.
        assert_eq!(seen, rows.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn pages_and_slides_are_hard_boundaries() {
        let section = |text: &str, page| Section {
            kind: SectionKind::Paragraph,
            text: text.to_owned(),
            heading_path: vec![],
            location: Location {
                page: Some(page),
                ..Location::default()
            },
            row_numbers: Vec::new(),
        };
        let doc = Document {
            sections: vec![
                section("Page one text.", 1),
                section("More on one.", 1),
                section("Page two.", 2),
            ],
            ..Document::from_text("p", "")
        };
        let chunks = chunk_document(&doc, &opts(256, 0), &words);
        let got: Vec<_> = chunks
            .iter()
            .map(|c| (c.text.as_str(), c.location.page, c.parent))
            .collect();
        assert_eq!(
            got,
            [
                ("Page one text.\n\nMore on one.", Some(1), 0),
                ("Page two.", Some(2), 1)
            ]
        );
    }

    #[test]
    fn offsets_rebuild_the_parent() {
        let text = "Alpha beta gamma. Delta epsilon.\n\nZeta eta theta. Iota kappa lambda mu.";
        let doc = Document::from_text("d", text);
        let options = opts(7, 3);
        let chunks = chunk_document(&doc, &options, &words);
        assert!(chunks.len() > 2);
        let rebuilt = merge_chunk_texts(chunks.iter().map(|c| (c.start, c.end, c.own_text())));
        assert_eq!(rebuilt, parent_text(&doc, &options, 0));
    }

    #[test]
    fn context_prefix_adds_title_and_headings_once() {
        let doc = parse_bytes(b"# Guide\n\n## Install\n\nRun it.\n", "g.md").unwrap();
        let chunks = chunk_document(&doc, &opts(256, 0), &words);
        let on = ChunkOptions {
            context_prefix: true,
            ..ChunkOptions::default()
        };
        let last = chunks.last().unwrap();
        // The headings open the chunk's text ("# Guide" straight over "## Install"
        // stays with the text under them), so only the title is put in front.
        assert_eq!(last.text, "Guide\n\nInstall\n\nRun it.");
        assert_eq!(
            last.embedding_text(Some("Manual"), &on),
            "Manual\n\nGuide\n\nInstall\n\nRun it."
        );
        assert_eq!(
            last.embedding_text(Some("Manual"), &ChunkOptions::default()),
            last.text
        );
    }

    #[test]
    fn headings_straight_over_headings_stay_with_the_text_under_them() {
        let md = "# Changelog\n\n## 0.2.186 - 2026-04-24\n\n### Added\n\n- thing\n\n## 0.2.185\n\n- other\n";
        let doc = parse_bytes(md.as_bytes(), "CHANGELOG.md").unwrap();
        let chunks = chunk_document(&doc, &opts(256, 0), &words);
        let texts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Changelog\n\n0.2.186 - 2026-04-24\n\nAdded\n\nthing",
                "0.2.185\n\nother"
            ]
        );
        assert_eq!(
            chunks[0].heading_path,
            ["Changelog", "0.2.186 - 2026-04-24", "Added"]
        );
        assert_eq!(chunks[1].heading_path, ["Changelog", "0.2.185"]);
    }

    #[test]
    fn a_json_document_is_chunked_together_under_the_key_its_values_share() {
        let json =
            br#"{"parts": [{"name": "from", "value": "Doug"}, {"name": "to", "value": "Joe"}]}"#;
        let doc = parse_bytes(json, "msg.json").unwrap();
        let chunks = chunk_document(&doc, &opts(256, 0), &words);
        assert_eq!(chunks.len(), 1);
        assert_eq!(
            chunks[0].text,
            "name: from\n\nvalue: Doug\n\nname: to\n\nvalue: Joe"
        );
        assert_eq!(chunks[0].location.key.as_deref(), Some("parts"));

        let key = |k: &[&str]| common_key(k.iter().map(|k| Some((*k).to_owned())));
        assert_eq!(
            key(&["items[0].title", "items[0].body"]),
            Some("items[0]".into())
        );
        assert_eq!(
            key(&["items[1].title", "items[12].title"]),
            Some("items".into())
        );
        assert_eq!(key(&["author", "authors"]), None);
        assert_eq!(key(&["a.b", "a.b"]), Some("a.b".into()));
        assert_eq!(key(&["a.b", "a.b.c"]), Some("a.b".into()));
        assert_eq!(key(&["a.bc", "a.b"]), Some("a".into()));
        assert_eq!(key(&["a.b", "a.bc"]), Some("a".into()));
    }

    #[test]
    fn long_heading_groups_become_several_parents() {
        let paras: Vec<String> = (0..20)
            .map(|i| format!("Paragraph {i} talks about item {i} at length."))
            .collect();
        let doc = Document::from_text("d", &paras.join("\n\n"));
        let options = ChunkOptions {
            max_chars: 100,
            parent_max_chars: 200,
            ..opts(256, 0)
        };
        let chunks = chunk_document(&doc, &options, &words);
        let parents: std::collections::BTreeSet<u32> = chunks.iter().map(|c| c.parent).collect();
        assert!(parents.len() >= 5, "{parents:?}");
    }

    fn section_strategy() -> impl Strategy<Value = Section> {
        let word = prop::sample::select(vec![
            "alpha",
            "beta",
            "γάμμα",
            "delta",
            "e",
            "x",
            "longerword",
            "ünï",
            "42",
            "a.b",
        ]);
        let sentence = prop::collection::vec(word, 1..12).prop_map(|w| format!("{}.", w.join(" ")));
        let paragraph = prop::collection::vec(sentence, 1..6).prop_map(|s| s.join(" "));
        let prose = prop::collection::vec(paragraph, 1..4).prop_map(|p| p.join("\n\n"));
        let row = prop::collection::vec("[a-z]{1,8}", 1..4).prop_map(|c| c.join(" | "));
        let table = prop::collection::vec(row, 1..25).prop_map(|r| r.join("\n"));
        let giant = "[a-z]{50,300}";
        (0..5u8, prose, table, giant, 1..4u32).prop_map(|(kind, prose, table, giant, page)| {
            let (kind, text) = match kind {
                0 => (
                    SectionKind::Heading { level: 2 },
                    giant[..giant.len().min(20)].to_owned(),
                ),
                1 => (SectionKind::Table, table),
                2 => (SectionKind::Code, giant),
                _ => (SectionKind::Paragraph, prose),
            };
            Section {
                kind,
                text,
                heading_path: vec![],
                location: Location {
                    page: Some(page),
                    ..Location::default()
                },
                row_numbers: Vec::new(),
            }
        })
    }

    fn no_space(s: &str) -> String {
        s.split_whitespace().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Chunks stay within the limits, lose no text, repeat no more than the
        /// overlap, rebuild their parents, and come out the same every time.
        #[test]
        fn chunking_properties(
            sections in prop::collection::vec(section_strategy(), 1..8),
            max_tokens in 10usize..80,
            max_chars in 64usize..400,
            overlap in 0usize..12,
        ) {
            let doc = Document { sections, ..Document::from_text("p", "") };
            let options = ChunkOptions {
                max_tokens,
                max_chars,
                min_chars: max_chars / 3,
                overlap: Overlap::Tokens(overlap),
                parent_max_chars: max_chars * 3,
                context_prefix: false,
            };
            let chunks = chunk_document(&doc, &options, &words);
            prop_assert_eq!(&chunks, &chunk_document(&doc, &options, &words));
            let all_parents = parents(&doc, options.parent_max_chars);
            for (i, c) in chunks.iter().enumerate() {
                prop_assert_eq!(c.ordinal as usize, i);
                prop_assert!(words(&c.text) <= max_tokens - SPECIAL_TOKENS, "{:?}", c.text);
                prop_assert!(c.text.chars().count() <= max_chars, "{:?}", c.text);
                let parent: String = all_parents[c.parent as usize].text.chars().skip(c.start).take(c.end - c.start).collect();
                prop_assert_eq!(c.own_text(), parent.as_str());
            }
            for w in chunks.windows(2) {
                if w[0].parent == w[1].parent && w[1].start < w[0].end {
                    let repeated: String = w[1].own_text().chars().take(w[0].end - w[1].start).collect();
                    prop_assert!(words(&repeated) <= overlap, "{:?}", repeated);
                }
            }
            for (p, parent) in all_parents.iter().enumerate() {
                let rebuilt = merge_chunk_texts(
                    chunks.iter().filter(|c| c.parent as usize == p).map(|c| (c.start, c.end, c.own_text())),
                );
                prop_assert_eq!(no_space(&rebuilt), no_space(&parent.text));
            }
            let source: String = doc.sections.iter().map(|s| no_space(&s.text)).collect();
            let parents_text: String = all_parents.iter().map(|p| no_space(&p.text)).collect();
            prop_assert_eq!(source, parents_text);
        }
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
