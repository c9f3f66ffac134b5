//! Units: a parent cut into sentences within paragraphs, lines of code and table rows;
//! a unit longer than a chunk is split between words.

use trawl_ingest::{Document, SectionKind};
use unicode_segmentation::UnicodeSegmentation;

use super::parents::Parent;
use super::Limits;

/// A sentence, line or row: a byte range of the parent's text.
#[derive(Clone)]
pub(super) struct Unit {
    pub(super) start: usize,
    pub(super) end: usize,
    /// `start` and `end` in characters.
    pub(super) cstart: usize,
    pub(super) cend: usize,
    pub(super) tokens: usize,
    pub(super) chars: usize,
    /// Position (in the parent) of the section it came from.
    pub(super) section: usize,
    /// Starts a paragraph (or a section).
    pub(super) para_start: bool,
    /// For a table row (the header row included), the header row's byte range.
    pub(super) header: Option<(usize, usize)>,
    /// The table's header row itself.
    pub(super) is_header: bool,
    /// For a table row, its line in its section's text (the header is line 0).
    pub(super) line: usize,
}

pub(super) fn units(
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
pub(super) fn split_paragraphs(text: &str) -> Vec<&str> {
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
pub(super) fn split_long(
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
pub(super) fn fitting_prefix(ends: &[usize], fits: impl Fn(usize) -> bool) -> usize {
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
