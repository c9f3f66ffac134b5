//! Packing: units into chunks within the token and character limits, ending where a
//! paragraph or section ends when it can, with the overlap asked for.

use trawl_ingest::{Document, Section};

use super::parents::{common_key, Parent};
use super::units::Unit;
use super::{Chunk, Limits, Overlap};

#[allow(clippy::too_many_lines)]
pub(super) fn pack(
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
pub(super) fn table_rows(section: &Section, units: &[Unit]) -> Option<(u32, u32)> {
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
pub(super) fn paragraph_end(units: &[Unit], from: usize) -> usize {
    let mut e = from + 1;
    while e < units.len() && !units[e].para_start {
        e += 1;
    }
    e
}

/// Where the next chunk starts: back over trailing units within the overlap, always
/// moving forward at least one unit. Table rows are not repeated (the header is).
pub(super) fn overlap_start(units: &[Unit], start: usize, end: usize, overlap: Overlap) -> usize {
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
