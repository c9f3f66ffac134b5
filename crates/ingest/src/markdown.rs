//! Markdown through pulldown-cmark (CommonMark plus tables): headings, paragraphs, list
//! items, code blocks, block quotes and tables, with the source line of each block.
//! YAML-style front matter becomes metadata.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::builder::Builder;
use crate::document::{Document, Input, MetaValue, Metadata, Parsed, SectionKind};
use crate::error::Result;

/// What the text being collected will become.
#[derive(Clone, Copy, PartialEq)]
enum Block {
    Paragraph,
    Heading(u8),
    Item,
    Code,
    Table,
}

/// A Markdown file: one document; front matter becomes metadata.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    Ok(vec![
        parts(&crate::text::decode(input.bytes)).into_document(input)
    ])
}

fn parts(text: &str) -> Parsed {
    let (metadata, body, offset) = front_matter(text);
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(body.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |pos: usize| {
        let line = line_starts.partition_point(|&s| s <= pos) + offset;
        u32::try_from(line).unwrap_or(u32::MAX)
    };
    let mut b = Builder::new();
    // Text collected for the innermost open block, with the block and its first line.
    let mut stack: Vec<(Block, String, u32)> = Vec::new();
    let mut quote_depth = 0usize;
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut table_line = 0;
    let mut cell = String::new();
    let mut in_cell = false;
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        let line = line_of(range.start);
        match event {
            Event::Start(tag) => match tag {
                // A paragraph inside a list item adds to the item's text.
                Tag::Paragraph if !matches!(stack.last(), Some((Block::Item, _, _))) => {
                    stack.push((Block::Paragraph, String::new(), line));
                }
                Tag::Heading { level, .. } => {
                    stack.push((Block::Heading(level as u8), String::new(), line));
                }
                Tag::Item => {
                    // A nested list ends the outer item's own text.
                    flush_item(&mut b, &mut stack, quote_depth);
                    stack.push((Block::Item, String::new(), line));
                }
                Tag::CodeBlock(kind) => {
                    let _ = matches!(kind, CodeBlockKind::Fenced(_));
                    stack.push((
                        Block::Code,
                        String::new(),
                        line + u32::from(matches!(kind, CodeBlockKind::Fenced(_))),
                    ));
                }
                Tag::BlockQuote(_) => quote_depth += 1,
                Tag::Table(_) => {
                    table.clear();
                    table_line = line;
                    stack.push((Block::Table, String::new(), line));
                }
                Tag::TableHead | Tag::TableRow => table.push(Vec::new()),
                Tag::TableCell => {
                    cell.clear();
                    in_cell = true;
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock => {
                    if matches!(stack.last(), Some((Block::Item, _, _))) && tag == TagEnd::Paragraph
                    {
                        if let Some((_, t, _)) = stack.last_mut() {
                            t.push(' ');
                        }
                        continue;
                    }
                    if let Some((block, text, start)) = stack.pop() {
                        emit(&mut b, block, &text, start, quote_depth);
                    }
                }
                TagEnd::Item => {
                    if matches!(stack.last(), Some((Block::Item, _, _))) {
                        let (block, text, start) =
                            stack.pop().unwrap_or((Block::Item, String::new(), 0));
                        emit(&mut b, block, &text, start, quote_depth);
                    }
                }
                TagEnd::BlockQuote(_) => quote_depth = quote_depth.saturating_sub(1),
                TagEnd::TableCell => {
                    in_cell = false;
                    if let Some(row) = table.last_mut() {
                        row.push(std::mem::take(&mut cell));
                    }
                }
                TagEnd::Table => {
                    stack.pop();
                    b.location.line = Some(table_line);
                    b.push_raw(SectionKind::Table, &crate::builder::table_text(&table));
                }
                _ => {}
            },
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) | Event::Html(t) => {
                if in_cell {
                    cell.push_str(&t);
                } else if let Some((_, text, _)) = stack.last_mut() {
                    text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if in_cell {
                    cell.push(' ');
                } else if let Some((block, text, _)) = stack.last_mut() {
                    text.push(if *block == Block::Code { '\n' } else { ' ' });
                }
            }
            _ => {}
        }
    }
    while let Some((block, text, start)) = stack.pop() {
        emit(&mut b, block, &text, start, quote_depth);
    }
    Parsed {
        title: None,
        metadata,
        sections: b.finish(),
    }
}

/// Emits the text an open list item has collected before a nested list starts.
fn flush_item(b: &mut Builder, stack: &mut [(Block, String, u32)], quote_depth: usize) {
    if let Some((Block::Item, text, start)) = stack.last_mut() {
        let t = std::mem::take(text);
        emit(b, Block::Item, &t, *start, quote_depth);
    }
}

fn emit(b: &mut Builder, block: Block, text: &str, line: u32, quote_depth: usize) {
    b.location.line = Some(line);
    match block {
        Block::Heading(level) => b.heading(level, text),
        Block::Code => b.push_raw(SectionKind::Code, text),
        Block::Table => {}
        Block::Paragraph | Block::Item if quote_depth > 0 => b.push(SectionKind::Quote, text),
        Block::Paragraph => b.push(SectionKind::Paragraph, text),
        Block::Item => b.push(SectionKind::ListItem, text),
    }
}

/// YAML-style front matter between `---` lines: `key: value` and `key: [a, b]` pairs.
fn front_matter(text: &str) -> (Metadata, &str, usize) {
    let mut meta = Metadata::new();
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (meta, text, 0);
    };
    let Some(end) = rest.find("\n---") else {
        return (meta, text, 0);
    };
    for line in rest[..end].lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"').trim_matches('\''));
        if k.is_empty() || v.is_empty() {
            continue;
        }
        let value = if let Some(list) = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            MetaValue::List(split_list(list))
        } else if k == "tags" || k == "keywords" {
            MetaValue::List(split_list(v))
        } else if let Ok(i) = v.parse::<i64>() {
            MetaValue::Int(i)
        } else if let Ok(f) = v.parse::<f64>() {
            MetaValue::Float(f)
        } else if let Ok(b) = v.parse::<bool>() {
            MetaValue::Bool(b)
        } else {
            MetaValue::Str(v.to_owned())
        };
        meta.insert(k.to_owned(), value);
    }
    let after = &rest[end + 4..];
    let body = after.split_once('\n').map_or("", |(_, b)| b);
    let offset = text[..text.len() - body.len()].lines().count();
    (meta, body, offset)
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|t| t.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_build_paths_and_pop_on_same_level() {
        let p = parts("# A\n\ntext a\n\n## B\n\ntext b\n\n## C\n\ntext c\n\n# D\n\ntext d\n");
        let paras: Vec<_> = p
            .sections
            .iter()
            .filter(|s| s.kind == SectionKind::Paragraph)
            .map(|s| (s.text.as_str(), s.heading_path.join(" > ")))
            .collect();
        assert_eq!(
            paras,
            [
                ("text a", "A".to_owned()),
                ("text b", "A > B".to_owned()),
                ("text c", "A > C".to_owned()),
                ("text d", "D".to_owned())
            ]
        );
    }

    #[test]
    fn front_matter_becomes_typed_metadata_and_lines_stay_true() {
        let p = parts("---\ntitle: Hello\nyear: 2021\ntags: a, b\n---\n# H\n\nbody\n");
        assert_eq!(p.metadata["title"], MetaValue::Str("Hello".into()));
        assert_eq!(p.metadata["year"], MetaValue::Int(2021));
        assert_eq!(
            p.metadata["tags"],
            MetaValue::List(vec!["a".into(), "b".into()])
        );
        let body = p.sections.iter().find(|s| s.text == "body").unwrap();
        assert_eq!(body.location.line, Some(8));
    }

    #[test]
    fn code_lists_quotes_tables_and_inline_markup() {
        let md = "Intro with **bold** and [a link](http://x) and `code`.\n\n\
                  - one\n- two\n  continued\n\n> quoted\n\n```rust\nfn main() {}\n```\n\n\
                  | h1 | h2 |\n|----|----|\n| a | b |\n\nSetext\n======\n";
        let p = parts(md);
        let kinds: Vec<_> = p
            .sections
            .iter()
            .map(|s| (s.kind, s.text.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    SectionKind::Paragraph,
                    "Intro with bold and a link and code."
                ),
                (SectionKind::ListItem, "one"),
                (SectionKind::ListItem, "two continued"),
                (SectionKind::Quote, "quoted"),
                (SectionKind::Code, "fn main() {}"),
                (SectionKind::Table, "h1 | h2\na | b"),
                (SectionKind::Heading { level: 1 }, "Setext"),
            ]
        );
    }

    #[test]
    fn snake_case_keeps_underscores_and_nested_lists_stay_apart() {
        let p = parts("max_seq_length is *big*\n\n- outer\n  - inner\n");
        let texts: Vec<_> = p.sections.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["max_seq_length is big", "outer", "inner"]);
    }
}
