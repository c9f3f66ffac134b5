//! PDF through pdf-extract (text per page) and lopdf (metadata, encryption).
//!
//! pdf-extract panics on some real files by design; every call into it runs under
//! `catch_unwind`, page by page, so one bad page costs that page and a file where every
//! page fails is a typed error.

use lopdf::{Document as Pdf, Object};

use crate::builder::Builder;
use crate::document::{Document, Input, Parsed};
use crate::document::{MetaValue, SectionKind};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::parse::panic_message;

const FORMAT: &str = "pdf";

/// A PDF file: one document, its pages as sections.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    Ok(vec![
        parts(input.bytes, input.name, input.limits)?.into_document(input)
    ])
}

fn parts(bytes: &[u8], name: &str, limits: &Limits) -> Result<Parsed> {
    let load = |bytes: &[u8]| match crate::panics::contain(|| Pdf::load_mem(bytes)) {
        Ok(Ok(doc)) => Ok(doc),
        Ok(Err(lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword)) => {
            Err(Error::Encrypted {
                name: name.to_owned(),
                format: FORMAT,
            })
        }
        Ok(Err(e)) => Err(Error::malformed(name, FORMAT, e)),
        Err(panic) => Err(Error::malformed(name, FORMAT, panic_message(&*panic))),
    };
    // A file lopdf refuses, or in which it finds no page, is read again with its
    // cross-reference table rebuilt from the objects themselves, as poppler does.
    // So is one whose pages name content streams lopdf could not read (a stream whose
    // length is wrong is dropped whole), if the rebuilt file has them.
    let mut doc = match load(bytes) {
        Ok(doc) if !doc.get_pages().is_empty() && missing_contents(&doc) == 0 => doc,
        Err(e @ Error::Encrypted { .. }) => return Err(e),
        first => match crate::pdf_repair::rebuilt(bytes).map(|fixed| load(&fixed)) {
            Some(Ok(doc))
                if !doc.get_pages().is_empty()
                    && first.as_ref().map_or(true, |first| {
                        first.get_pages().is_empty()
                            || missing_contents(&doc) < missing_contents(first)
                    }) =>
            {
                doc
            }
            _ => first?,
        },
    };
    if doc.is_encrypted() {
        // Many PDFs are encrypted only to set permissions: the user password is empty.
        let mut opened = crate::panics::contain(|| doc.decrypt("")).is_ok_and(|r| r.is_ok());
        if !opened {
            // A writer that left the key length out of version 4 encryption. With the
            // length in place lopdf opens the file with the empty password as it loads.
            let fixed = crate::pdf_repair::with_key_length(bytes)
                .and_then(|fixed| load(&fixed).ok())
                .filter(|fixed| !fixed.is_encrypted() && !fixed.get_pages().is_empty());
            if let Some(fixed) = fixed {
                doc = fixed;
                opened = true;
            }
        }
        if !opened {
            return Err(Error::Encrypted {
                name: name.to_owned(),
                format: FORMAT,
            });
        }
    }
    let pages = doc.get_pages();
    if pages.len() > limits.max_pages {
        return Err(Error::limit(
            name,
            "pages",
            pages.len() as u64,
            limits.max_pages as u64,
        ));
    }
    let mut parsed = Parsed::default();
    info(&doc, &mut parsed);
    parsed
        .metadata
        .insert("pages".into(), MetaValue::Int(pages.len() as i64));
    let mut b = Builder::new();
    let mut first_error = None;
    let mut failed = 0i64;
    let mut any_text = false;
    let mut texts = Vec::new();
    let mut cells = std::collections::HashMap::new();
    // How many lines of each page's text are its own content, not its annotations'.
    let mut own_lines = std::collections::HashMap::new();
    for (&page, &page_id) in &pages {
        let mut out = crate::pdf_layout::PageText::default();
        let result = crate::panics::contain(|| pdf_extract::output_doc_page(&doc, &mut out, page));
        let (mut text, mut page_cells, content_lines) = out.into_text_and_cells();
        own_lines.insert(page, content_lines);
        // A field value the page does not show (no appearance, or a stale one) is a
        // paragraph after the page's text.
        let values = crate::panics::contain(|| crate::pdf_forms::page_field_values(&doc, page_id))
            .unwrap_or_default();
        if !values.is_empty() {
            let shown = crate::builder::squash(&text);
            let mut looked_at = std::collections::HashSet::new();
            for value in values {
                if !looked_at.contains(&value) && !shown.contains(&value) {
                    text.push_str("\n\n");
                    text.push_str(&value);
                    page_cells.extend([Vec::new(), Vec::new()]);
                }
                looked_at.insert(value);
            }
        }
        cells.insert(page, page_cells);
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("page {page}: {e:?}")),
            Err(panic) => Some(format!("page {page}: {}", panic_message(&*panic))),
        };
        if let Some(e) = error {
            failed += 1;
            first_error.get_or_insert(e);
            continue;
        }
        texts.push((page, text));
    }
    #[cfg(feature = "ocr")]
    ocr_pages_without_text(bytes, name, &mut texts, &mut parsed);
    // Running heads and feet are looked for in each page's own content: the text of
    // its annotations and form fields comes after the foot. A page OCR read since has
    // no layout that fits it.
    let own_lines_of = |page: &u32, text: &str| {
        let fits = cells
            .get(page)
            .is_some_and(|c: &Vec<_>| c.len() == text.split('\n').count());
        own_lines.get(page).copied().filter(|_| fits)
    };
    let running = running_lines(
        &texts
            .iter()
            .map(|(page, text)| own_content(text, own_lines_of(page, text)))
            .collect::<Vec<_>>(),
    );
    // Bookmarks become headings, each placed before the paragraph that starts with its
    // title (else at the top of its page), so chunks carry a heading path.
    let outline = crate::panics::contain(|| crate::pdf_outline::entries(&doc)).unwrap_or_default();
    let mut outline = outline.iter().peekable();
    let no_cells: Vec<Vec<(f64, f64)>> = Vec::new();
    for (page, text) in &texts {
        b.location.page = Some(*page);
        let paras = page_blocks(
            text,
            cells.get(page).unwrap_or(&no_cells),
            &running,
            own_lines_of(page, text),
        );
        any_text |= !paras.is_empty();
        let mut next = 0;
        while let Some(entry) = outline.next_if(|e| e.page <= *page) {
            // An entry whose page gave no text opens the next page that did.
            let found = (entry.page == *page)
                .then(|| {
                    paras[next..].iter().enumerate().find_map(|(i, p)| match p {
                        Block::Paragraph(p) => {
                            typeset_title(p, &entry.title).map(|whole| (next + i, whole))
                        }
                        Block::Table(_) => None,
                    })
                })
                .flatten();
            let at = found.map_or(next, |(at, _)| at);
            for block in &paras[next..at] {
                block.push(&mut b);
            }
            next = at;
            match (found, &paras.get(at)) {
                // The typeset heading, number and all, is the heading.
                (Some((at, true)), Some(Block::Paragraph(text))) => {
                    b.heading(entry.level, text);
                    next = at + 1;
                }
                _ => b.heading(entry.level, &entry.title),
            }
        }
        for block in &paras[next..] {
            block.push(&mut b);
        }
    }
    if failed > 0 {
        parsed
            .metadata
            .insert("pages_failed".into(), MetaValue::Int(failed));
    }
    // Pages that read without error but hold no text (scans, drawings, blank pages)
    // are named, so a document that is partly scanned says which pages were not read.
    let blank: Vec<String> = texts
        .iter()
        .filter(|(_, text)| text.trim().is_empty())
        .map(|(page, _)| page.to_string())
        .collect();
    if any_text && !blank.is_empty() {
        parsed
            .metadata
            .insert("pages_without_text".into(), MetaValue::List(blank));
    }
    if !any_text {
        if let Some(e) = first_error {
            return Err(Error::malformed(name, FORMAT, e));
        }
        #[cfg(feature = "ocr")]
        {
            crate::ocr::pdf(bytes, name, &mut parsed)?;
            return Ok(parsed);
        }
        #[cfg(not(feature = "ocr"))]
        return Err(Error::NoText {
            name: name.to_owned(),
            format: FORMAT,
        });
    }
    parsed.sections = b.finish();
    Ok(parsed)
}

/// In a PDF with a text layer on some pages, the pages without one (scans within a
/// typed document) are rendered and recognised; they are named in `ocr_pages`. When
/// OCR cannot run the typed pages still count: the reason is kept in `ocr_error`.
#[cfg(feature = "ocr")]
fn ocr_pages_without_text(
    bytes: &[u8],
    name: &str,
    texts: &mut [(u32, String)],
    parsed: &mut Parsed,
) {
    let blank: Vec<u32> = texts
        .iter()
        .filter(|(_, text)| text.trim().is_empty())
        .map(|(page, _)| *page)
        .collect();
    if blank.is_empty() || blank.len() == texts.len() {
        return;
    }
    match crate::ocr::pdf_pages(bytes, name, Some(&blank)) {
        Ok(read) => {
            let mut recognised = Vec::new();
            for (page, text) in read {
                if text.trim().is_empty() {
                    continue;
                }
                if let Some(slot) = texts.iter_mut().find(|(p, _)| *p == page) {
                    slot.1 = text;
                    recognised.push(page.to_string());
                }
            }
            if !recognised.is_empty() {
                parsed
                    .metadata
                    .insert("ocr_pages".into(), MetaValue::List(recognised));
            }
        }
        Err(e) => {
            parsed
                .metadata
                .insert("ocr_error".into(), MetaValue::Str(e.to_string()));
        }
    }
}

/// Whether a paragraph opens with a heading's title as typeset (case and spacing aside,
/// after a section number such as "2.1.2." or "1" that the bookmark may leave out, up
/// to a word boundary): `Some(true)` when the paragraph is the heading and nothing
/// more ("9.6.5 Filesystem configuration"), `Some(false)` when text runs on after it,
/// `None` when it does not open with it.
fn typeset_title(paragraph: &str, title: &str) -> Option<bool> {
    let para = crate::builder::squash(paragraph).to_lowercase();
    let title = crate::builder::squash(title).to_lowercase();
    if title.is_empty() {
        return None;
    }
    let unnumbered = para
        .split_once(' ')
        .filter(|(number, _)| number.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(|(_, rest)| rest);
    let after_title = |p: &str| {
        p.strip_prefix(title.as_str())
            .filter(|rest| !rest.starts_with(char::is_alphanumeric))
            .map(str::is_empty)
    };
    if let Some(whole) = after_title(&para) {
        return Some(whole);
    }
    unnumbered.and_then(after_title)
}

/// How many lines at each end of a page may be a running head or foot.
const RUNNING_LINES: usize = 2;

/// A line with its whitespace squashed and every run of digits as `#`, so "Debian
/// Reference 36 / 233" and "Debian Reference 37 / 233" are the same line.
fn masked(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in crate::builder::squash(line).chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The lines at either end of a page, not blank, that may be running heads or feet.
fn page_ends(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let tail = lines
        .len()
        .saturating_sub(RUNNING_LINES)
        .max(RUNNING_LINES.min(lines.len()));
    let mut ends: Vec<(usize, &str)> = lines[..RUNNING_LINES.min(lines.len())].to_vec();
    ends.extend_from_slice(&lines[tail..]);
    ends.into_iter()
}

/// Running heads and feet ("Debian Reference 36 / 233", a chapter title, "Page 3 of
/// 9"): lines that, digits masked, open or close at least half the pages, and three
/// or more. They are typesetting, and would otherwise be in every chunk.
fn running_lines(pages: &[&str]) -> std::collections::HashSet<String> {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for text in pages {
        let mut seen = std::collections::HashSet::new();
        for (_, line) in page_ends(text) {
            let line = masked(line);
            if seen.insert(line.clone()) {
                *counts.entry(line).or_default() += 1;
            }
        }
    }
    let needed = (pages.len() / 2).max(3);
    counts
        .into_iter()
        .filter(|(line, n)| *n >= needed && !line.is_empty())
        .map(|(line, _)| line)
        .collect()
}

/// The first `lines` lines of `text` (all of it when `None`): a page's own content,
/// before the text of its annotations and form fields.
fn own_content(text: &str, lines: Option<usize>) -> &str {
    match lines {
        None => text,
        Some(0) => "",
        Some(lines) => text
            .match_indices('\n')
            .nth(lines - 1)
            .map_or(text, |(end, _)| &text[..end]),
    }
}

/// The lines of `text` that are its running heads and feet, by index.
fn running_line_numbers(
    text: &str,
    running: &std::collections::HashSet<String>,
) -> std::collections::HashSet<usize> {
    if running.is_empty() {
        return std::collections::HashSet::new();
    }
    let drop: std::collections::HashSet<usize> = page_ends(text)
        .filter(|(_, line)| running.contains(&masked(line)))
        .map(|(i, _)| i)
        .collect();
    // A page whose every line repeats on the others ("Potato 1", "Potato 2") is not
    // framed by running lines: those lines are its text.
    if drop.len() == text.lines().filter(|l| !l.trim().is_empty()).count() {
        return std::collections::HashSet::new();
    }
    drop
}

/// A page's text in reading order: paragraphs, and tables as rows of cells.
#[derive(Debug, PartialEq)]
enum Block {
    Paragraph(String),
    Table(Vec<Vec<String>>),
}

impl Block {
    fn push(&self, b: &mut Builder) {
        match self {
            Block::Paragraph(text) => b.push(SectionKind::Paragraph, text),
            Block::Table(rows) => crate::builder::table_sections(b, rows, None),
        }
    }
}

/// Where a cell starts and ends along its line's baseline.
type Extent = (f64, f64);

/// A line of a page's text with the extent of each of its tab-separated cells (none
/// when they are not known).
type Line<'a> = (&'a str, &'a [Extent]);

/// Lines of cells (text the layout split at wide gaps) in a run at least this long
/// make a table.
const TABLE_MIN_ROWS: usize = 3;

/// A page's paragraphs and tables, without its running heads and feet. `cells` holds,
/// for each line of `text`, the extent of each of its tab-separated cells along the
/// baseline (as [`crate::pdf_layout::PageText`] gives them; a page read another way,
/// by OCR, has none that fit and makes paragraphs only). A run of [`TABLE_MIN_ROWS`] or
/// more lines of two or more cells, blank lines between them allowed, is a table: its
/// cells are put into columns by where they sit, so a row with empty cells keeps the
/// others under their headings. A list set with hanging indents (a column of bullets or
/// enumerators beside the items) stays prose.
fn page_blocks(
    text: &str,
    cells: &[Vec<(f64, f64)>],
    running: &std::collections::HashSet<String>,
    own_lines: Option<usize>,
) -> Vec<Block> {
    let drop = running_line_numbers(own_content(text, own_lines), running);
    let lines: Vec<&str> = text.split('\n').collect();
    let fits = cells.len() == lines.len();
    let kept: Vec<Line<'_>> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(i, &line)| {
            let extents = if fits && cells[i].len() == line.split('\t').count() {
                cells[i].as_slice()
            } else {
                &[]
            };
            (line, extents)
        })
        .collect();
    let is_row = |(line, extents): &Line<'_>| {
        extents.len() >= 2 && line.split('\t').filter(|c| !c.trim().is_empty()).count() >= 2
    };
    let mut blocks = Vec::new();
    let mut prose: Vec<Line<'_>> = Vec::new();
    let flush = |prose: &mut Vec<Line<'_>>, blocks: &mut Vec<Block>| {
        let text = prose
            .iter()
            .map(|(line, _)| *line)
            .collect::<Vec<_>>()
            .join("\n");
        blocks.extend(
            text.split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .map(|p| Block::Paragraph(join_hyphenated_lines(p.trim_matches('\n')))),
        );
        prose.clear();
    };
    let mut i = 0;
    while i < kept.len() {
        // The run of rows from here: rows, and blank lines between them.
        let mut end = i;
        let mut rows = 0;
        let mut j = i;
        while j < kept.len() {
            if is_row(&kept[j]) {
                rows += 1;
                end = j + 1;
            } else if !(kept[j].0.trim().is_empty() && rows > 0) {
                break;
            }
            j += 1;
        }
        let table = (rows >= TABLE_MIN_ROWS)
            .then(|| {
                let lines: Vec<_> = kept[i..end].iter().filter(|l| is_row(l)).collect();
                columns(&lines)
            })
            .flatten();
        if let Some((spans, mut table)) = table {
            if let Some((taken, header)) = wrapped_header(&prose, &spans) {
                prose.truncate(prose.len() - taken);
                table.insert(0, header);
            }
            flush(&mut prose, &mut blocks);
            blocks.push(Block::Table(table));
            i = end;
        } else {
            // A run that is no table is prose, all of it (each line is looked at once).
            let next = end.max(i + 1);
            prose.extend_from_slice(&kept[i..next]);
            i = next;
        }
    }
    flush(&mut prose, &mut blocks);
    blocks
}

/// Of the cells of a table, at least this share must sit within their columns.
const TABLE_ALIGNED_SHARE: f64 = 0.75;
/// Lines of more cells than this are not a table's rows (text set word by word far
/// apart, or letter by letter).
const TABLE_MAX_COLUMNS: usize = 64;

/// Whether a cell is a list item's marker: a bullet or dash, or an enumerator such as
/// "1.", "a)", "(iv)".
fn list_marker(cell: &str) -> bool {
    let cell = cell.trim();
    let mut chars = cell.chars();
    let (Some(first), rest) = (chars.next(), chars.as_str()) else {
        return false;
    };
    if rest.is_empty() {
        return matches!(
            first,
            '•' | '◦'
                | '▪'
                | '▫'
                | '■'
                | '□'
                | '●'
                | '○'
                | '‣'
                | '⁃'
                | '∙'
                | '·'
                | '-'
                | '–'
                | '—'
                | '*'
                | '+'
                | '>'
                | '➢'
                | '➤'
                | '►'
                | '✓'
                | '✔'
                | '✗'
                | 'o'
                | '\u{f0b7}'
                | '\u{f0a7}'
                | '\u{f0d8}'
                | '\u{f076}'
        );
    }
    let inner = cell
        .trim_start_matches('(')
        .trim_end_matches(['.', ')', ':']);
    cell.len() <= 6
        && inner.len() < cell.len()
        && !inner.is_empty()
        && inner.chars().all(|c| c.is_ascii_alphanumeric())
        && (inner.chars().all(|c| c.is_ascii_digit())
            || inner.len() == 1
            || inner.chars().all(|c| "ivxlcIVXLC".contains(c)))
}

/// A table's lines as rows of cells in columns, with where each column's cells reach,
/// or `None` when they do not line up as a table's do. The columns are those of the rows with the most cells (each column
/// spanning where those rows' cells sit), and must not overlap; a cell of another row
/// goes to the column it overlaps most, or the nearest, and two cells that land in one
/// column are joined. Lines whose gaps fall anywhere (code set with aligned spaces, a
/// ragged list) fail: their columns overlap, or too few cells sit within one. So do
/// lines of more than [`TABLE_MAX_COLUMNS`] cells, and two columns whose first holds
/// only bullets or enumerators (a list).
fn columns(lines: &[&Line<'_>]) -> Option<(Vec<Extent>, Vec<Vec<String>>)> {
    let width = lines.iter().map(|(_, e)| e.len()).max().unwrap_or(0);
    if width > TABLE_MAX_COLUMNS {
        return None;
    }
    let mut spans = vec![(f64::MAX, f64::MIN); width];
    for (_, extents) in lines.iter().filter(|(_, e)| e.len() == width) {
        for (span, &(start, end)) in spans.iter_mut().zip(extents.iter()) {
            *span = (span.0.min(start), span.1.max(end));
        }
    }
    if spans.windows(2).any(|w| w[0].1 >= w[1].0) {
        return None;
    }
    let (mut cells, mut aligned) = (0usize, 0usize);
    // Where each column's cells sit, all rows' cells counted.
    let mut reach = spans.clone();
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|(line, extents)| {
            let mut row = vec![String::new(); width];
            for (cell, &(start, end)) in line.split('\t').zip(extents.iter()) {
                let cell = cell.trim();
                if cell.is_empty() {
                    continue;
                }
                let fit = |&(a, b): &(f64, f64)| {
                    let overlap = end.min(b) - start.max(a);
                    if overlap > 0.0 {
                        overlap
                    } else {
                        // No overlap: the nearer, the better (always below any overlap).
                        overlap.min(0.0) - 1.0
                    }
                };
                let column = (0..width)
                    .max_by(|&a, &b| fit(&spans[a]).total_cmp(&fit(&spans[b])).then(b.cmp(&a)))
                    .unwrap_or(0);
                cells += 1;
                if fit(&spans[column]) > 0.0 {
                    aligned += 1;
                }
                reach[column] = (reach[column].0.min(start), reach[column].1.max(end));
                append_word(&mut row[column], cell);
            }
            row
        })
        .collect();
    // Two columns, the first of bullets or enumerators: a list set with hanging indents.
    let list = width == 2
        && rows
            .iter()
            .all(|row| row[0].is_empty() || list_marker(&row[0]));
    // Columns widened by other rows' cells still lie apart, or the narrower ones stand.
    if reach.windows(2).any(|w| w[0].1 >= w[1].0) {
        reach = spans;
    }
    (aligned as f64 >= TABLE_ALIGNED_SHARE * cells as f64 && !list).then_some((reach, rows))
}

/// `text` after what `slot` holds, a space between.
fn append_word(slot: &mut String, text: &str) {
    if !slot.is_empty() {
        slot.push(' ');
    }
    slot.push_str(text);
}

/// Lines of a wrapped header, at most: a header whose cells wrap is drawn cell by cell,
/// a few words a line.
const HEADER_MAX_LINES: usize = 64;
/// Words of one column's heading, at most: more is text beside the table (a list of
/// arguments and their descriptions), not a heading.
const HEADER_MAX_WORDS: usize = 12;
/// The share of a heading's width that must lie within its column.
const HEADER_INSIDE_SHARE: f64 = 0.8;

/// The header of a table whose header cells wrap over several lines, from the lines
/// just above it (`above`, the prose read so far): each such line's cells lie within
/// one column each (nearly all of each between the midpoints of the gaps around its
/// column), two of the lines at least are one cell alone, and their words,
/// top to bottom, make that column's heading. Gives how many lines at the end of
/// `above` it took, and the header row; `None` when no line above fits, or the header
/// would name one column only (a title, not a header) or run past
/// [`HEADER_MAX_WORDS`] in a column.
fn wrapped_header(above: &[Line<'_>], spans: &[Extent]) -> Option<(usize, Vec<String>)> {
    // Each column reaches to the middle of the gaps beside it; a cell belongs to the
    // one that holds most of it, if that is nearly all of it (a heading may be a little
    // wider than its column's widest value).
    let mut edges = vec![f64::MIN];
    edges.extend(spans.windows(2).map(|w| (w[0].1 + w[1].0) / 2.0));
    edges.push(f64::MAX);
    let column_of = |(start, end): (f64, f64)| {
        let width = end - start;
        let (column, inside) = edges
            .windows(2)
            .map(|e| end.min(e[1]) - start.max(e[0]))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        (width <= 0.0 || inside >= HEADER_INSIDE_SHARE * width).then_some(column)
    };
    let mut taken = 0;
    let mut fragments = Vec::new();
    for &(line, extents) in above.iter().rev() {
        if line.trim().is_empty() {
            taken += 1;
            continue;
        }
        if extents.is_empty() || fragments.len() >= HEADER_MAX_LINES {
            break;
        }
        let placed: Option<Vec<(usize, &str)>> = line
            .split('\t')
            .zip(extents.iter())
            .map(|(cell, &extent)| column_of(extent).map(|c| (c, cell)))
            .collect();
        let Some(placed) = placed else {
            break;
        };
        fragments.push(placed);
        taken += 1;
    }
    // Blank lines above the topmost fragment stay where they are.
    while taken > 0 && above[above.len() - taken].0.trim().is_empty() {
        taken -= 1;
    }
    let mut header = vec![String::new(); spans.len()];
    for (column, cell) in fragments.iter().rev().flatten() {
        let cell = cell.trim();
        if !cell.is_empty() {
            append_word(&mut header[*column], cell);
        }
    }
    let named = header.iter().filter(|h| !h.is_empty()).count();
    // A header drawn cell by cell gives lines of one piece of one cell; without two of
    // them, the lines above are something else (a running head, a caption).
    let pieces = fragments.iter().filter(|f| f.len() == 1).count();
    let short = pieces >= 2
        && header
            .iter()
            .all(|h| h.split_whitespace().count() <= HEADER_MAX_WORDS);
    (named >= 2 && short).then_some((taken, header))
}

/// Joins words that typesetting hyphenated across a line break ("dan-" / "gerous"
/// becomes "dangerous"), so they are found whole: where a line ends in a hyphen after
/// a lowercase letter and the next starts with one. A compound broken at its own
/// hyphen ("well-" / "known") is joined too; pdftotext and PyMuPDF's dehyphenation
/// make the same trade.
fn join_hyphenated_lines(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut joined = false;
    for (i, &line) in lines.iter().enumerate() {
        let line = if joined { line.trim_start() } else { line };
        let stem = line.trim_end().strip_suffix('-');
        let next = lines.get(i + 1).map(|l| l.trim_start());
        joined = match (stem, next) {
            (Some(stem), Some(next)) => {
                stem.chars().next_back().is_some_and(char::is_lowercase)
                    && next.chars().next().is_some_and(char::is_lowercase)
            }
            _ => false,
        };
        match stem {
            Some(stem) if joined => out.push_str(stem),
            _ => {
                out.push_str(line);
                if i + 1 < lines.len() {
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// Title, author, subject and keywords from the document information dictionary.
fn info(doc: &Pdf, parsed: &mut Parsed) {
    let Ok(info) = doc
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .and_then(|id| doc.get_dictionary(id))
    else {
        return;
    };
    for (key, field) in [
        (&b"Title"[..], "title"),
        (b"Author", "author"),
        (b"Subject", "subject"),
        (b"Keywords", "keywords"),
    ] {
        let value = match info.get(key) {
            Ok(Object::String(bytes, _)) => text_string(bytes),
            Ok(Object::Reference(id)) => match doc.get_object(*id) {
                Ok(Object::String(bytes, _)) => text_string(bytes),
                _ => continue,
            },
            _ => continue,
        };
        let value: String = value
            .chars()
            .filter(|c| !c.is_control() || c.is_whitespace())
            .collect();
        let value = crate::builder::squash(&value);
        if !value.is_empty() {
            if field == "title" {
                parsed.title = Some(value.clone());
            }
            parsed.metadata.insert(field.into(), MetaValue::Str(value));
        }
    }
}

/// How many content streams the document's pages name that it does not hold as
/// streams (lopdf keeps a stream it cannot read as its dictionary, or not at all).
fn missing_contents(doc: &Pdf) -> usize {
    let refs = |items: &[Object]| -> Vec<lopdf::ObjectId> {
        items.iter().filter_map(|o| o.as_reference().ok()).collect()
    };
    doc.get_pages()
        .values()
        .filter_map(|&page| doc.get_dictionary(page).ok())
        .flat_map(|page| match page.get(b"Contents") {
            Ok(Object::Reference(id)) => match doc.get_object(*id) {
                Ok(Object::Array(items)) => refs(items),
                _ => vec![*id],
            },
            Ok(Object::Array(items)) => refs(items),
            _ => Vec::new(),
        })
        .filter(|id| !matches!(doc.get_object(*id), Ok(Object::Stream(_))))
        .count()
}

/// A PDF text string: UTF-16BE with a byte-order mark, UTF-8 with one, or
/// PDFDocEncoding (close enough to Latin-1 for metadata).
pub(crate) fn text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        let units = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]));
        return char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table row of the given cells.
    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn running_heads_and_feet_are_dropped() {
        let bodies = [
            "Tides rise twice a day.\nThe moon pulls the sea.",
            "Glaciers flow downhill.\nIce is slow.",
            "Bees dance for nectar.\nThe hive listens.",
            "Chess queens are strong.\nKings are not.",
        ];
        let pages: Vec<(u32, String)> = (1..=4)
            .map(|n| {
                let body = bodies[n as usize - 1];
                (n, format!("Debian Reference {n} / 4\n\n{body}\n\n{n}"))
            })
            .collect();
        let texts: Vec<&str> = pages.iter().map(|(_, text)| text.as_str()).collect();
        let running = running_lines(&texts);
        let mut found: Vec<_> = running.iter().map(String::as_str).collect();
        found.sort_unstable();
        assert_eq!(found, ["#", "Debian Reference # / #"]);
        assert_eq!(
            page_blocks(&pages[2].1, &[], &running, None),
            [Block::Paragraph(
                "Bees dance for nectar.\nThe hive listens.".into()
            )]
        );
        // Two pages are too few to tell.
        assert!(running_lines(&texts[..2]).is_empty());
    }

    #[test]
    fn lines_of_cells_make_a_table_whose_columns_follow_where_cells_sit() {
        // A title, three rows (one missing its middle cell, one set with a blank line
        // before it), then prose, one line of it with a wide gap.
        let text = "Stock\nsku\tname\tqty\n1\tlamp\t4\n\n2\t5\nDone.\nAt\tnoon.";
        let cells = [
            vec![(10.0, 40.0)],
            vec![(10.0, 30.0), (50.0, 80.0), (100.0, 120.0)],
            vec![(10.0, 15.0), (50.0, 70.0), (110.0, 120.0)],
            vec![],
            vec![(10.0, 15.0), (112.0, 120.0)],
            vec![(10.0, 30.0)],
            vec![(10.0, 50.0), (70.0, 90.0)],
        ];
        assert_eq!(
            page_blocks(text, &cells, &Default::default(), None),
            [
                Block::Paragraph("Stock".into()),
                Block::Table(vec![
                    row(&["sku", "name", "qty"]),
                    row(&["1", "lamp", "4"]),
                    row(&["2", "", "5"]),
                ]),
                Block::Paragraph("Done.\nAt\tnoon.".into()),
            ]
        );
        // Two lines of cells are no table; cells that do not fit the text are ignored.
        let two = "a\tb\nc\td";
        assert_eq!(
            page_blocks(two, &cells[1..3], &Default::default(), None),
            [Block::Paragraph(two.into())]
        );
        assert!(page_blocks(text, &cells[..2], &Default::default(), None)
            .iter()
            .all(|b| matches!(b, Block::Paragraph(_))));
    }

    #[test]
    fn a_header_whose_cells_wrap_is_gathered_from_the_lines_above() {
        // Drawn cell by cell, as writers do: each header cell's lines, then the rows.
        let text = "Counted every Friday by the night staff.\nItem\ncode\nStore\nplace\n\
                    Units in\nstock\n1\tlamp\t4\n2\tshade\t12\n3\tcable\t30";
        let cells = [
            vec![(10.0, 200.0)],
            vec![(10.0, 25.0)],
            vec![(10.0, 28.0)],
            vec![(50.0, 75.0)],
            vec![(50.0, 72.0)],
            vec![(98.0, 126.0)],
            vec![(104.0, 120.0)],
            vec![(10.0, 15.0), (50.0, 70.0), (116.0, 120.0)],
            vec![(10.0, 15.0), (50.0, 75.0), (112.0, 120.0)],
            vec![(10.0, 15.0), (50.0, 74.0), (112.0, 120.0)],
        ];
        assert_eq!(
            page_blocks(text, &cells, &Default::default(), None),
            [
                Block::Paragraph("Counted every Friday by the night staff.".into()),
                Block::Table(vec![
                    row(&["Item code", "Store place", "Units in stock"]),
                    row(&["1", "lamp", "4"]),
                    row(&["2", "shade", "12"]),
                    row(&["3", "cable", "30"]),
                ]),
            ]
        );
    }

    #[test]
    fn a_list_set_with_hanging_indents_is_no_table() {
        let extents = vec![vec![(10.0, 14.0), (30.0, 90.0)]; 3];
        for marker in ["•", "1.", "b)", "(iv)", "–"] {
            let text = format!("{marker}\tFirst\n{marker}\tSecond\n{marker}\tThird");
            assert!(
                page_blocks(&text, &extents, &Default::default(), None)
                    .iter()
                    .all(|b| matches!(b, Block::Paragraph(_))),
                "{marker}"
            );
        }
        // Numbers alone are a column of a table: row numbers, years.
        let text = "1\tlamp\n2\tshade\n3\tcable";
        assert!(matches!(
            page_blocks(text, &extents, &Default::default(), None)[..],
            [Block::Table(_)]
        ));
        assert!(!list_marker("2019"));
        assert!(!list_marker("Total."));
        assert!(list_marker("12."));
    }

    #[test]
    fn a_paragraph_opens_with_a_title_after_its_section_number() {
        assert_eq!(
            typeset_title("1 Foo\nHello, here is some text", "Foo"),
            Some(false)
        );
        assert_eq!(
            typeset_title(
                "2.1.2. Basic  precautions Take care",
                "2.1.2. Basic precautions"
            ),
            Some(false)
        );
        assert_eq!(
            typeset_title(
                "9.6.5 Filesystem\nconfiguration",
                "Filesystem configuration"
            ),
            Some(true)
        );
        assert_eq!(typeset_title("BAR", "Bar"), Some(true));
        assert_eq!(typeset_title("Football is played", "Foo"), None);
        assert_eq!(typeset_title("Some text about Foo", "Foo"), None);
    }

    #[test]
    fn words_hyphenated_at_a_line_break_are_joined() {
        assert_eq!(
            join_hyphenated_lines("a dan-\n  gerous road\nand a\nline-\nbreak-\nheavy text"),
            "a dangerous road\nand a\nlinebreakheavy text"
        );
        // Not a broken word: a capital after, a digit or a space before, the last line.
        for keep in ["pre-\nWar", "item 3-\nfour", "a -\nb", "ends with a dash-"] {
            assert_eq!(join_hyphenated_lines(keep), keep);
        }
    }
}
