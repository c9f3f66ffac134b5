//! A small Markdown reader: front matter, ATX and setext headings, fenced and indented
//! code, list items, block quotes, tables and paragraphs. Inline markup is reduced to
//! its text. The formats issue replaces this with a full CommonMark parser.

use crate::document::{Location, MetaValue, Metadata, Section, SectionKind};

/// The parsed parts of a Markdown file.
pub(crate) struct Parsed {
    pub(crate) metadata: Metadata,
    pub(crate) sections: Vec<Section>,
}

#[derive(Clone, Copy, PartialEq)]
enum Block {
    None,
    Paragraph,
    ListItem,
    Quote,
    Table,
}

struct Builder {
    sections: Vec<Section>,
    headings: Vec<(u8, String)>,
    block: Block,
    lines: Vec<String>,
    start: usize,
}

impl Builder {
    fn path(&self) -> Vec<String> {
        self.headings.iter().map(|(_, t)| t.clone()).collect()
    }

    fn push(&mut self, kind: SectionKind, text: String, line: usize) {
        if text.trim().is_empty() {
            return;
        }
        self.sections.push(Section {
            kind,
            text,
            heading_path: self.path(),
            location: Location {
                line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
                ..Location::default()
            },
        });
    }

    fn flush(&mut self) {
        let kind = match self.block {
            Block::None => return,
            Block::Paragraph => SectionKind::Paragraph,
            Block::ListItem => SectionKind::ListItem,
            Block::Quote => SectionKind::Quote,
            Block::Table => SectionKind::Table,
        };
        let sep = if self.block == Block::Table {
            "\n"
        } else {
            " "
        };
        let text = self.lines.join(sep);
        let text = if self.block == Block::Table {
            text
        } else {
            inline_text(&text)
        };
        self.push(kind, text, self.start);
        self.lines.clear();
        self.block = Block::None;
    }

    fn open(&mut self, block: Block, line: usize) {
        if self.block != block {
            self.flush();
            self.block = block;
            self.start = line;
        }
    }

    fn heading(&mut self, level: u8, title: &str, line: usize) {
        self.flush();
        let title = inline_text(title.trim().trim_end_matches('#').trim());
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        self.headings.push((level, title.clone()));
        self.push(SectionKind::Heading { level }, title, line);
    }
}

pub(crate) fn parse(text: &str) -> Parsed {
    let (metadata, body, offset) = front_matter(text);
    let mut b = Builder {
        sections: Vec::new(),
        headings: Vec::new(),
        block: Block::None,
        lines: Vec::new(),
        start: 0,
    };
    let lines: Vec<&str> = body.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1 + offset;
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(fence) = fence_marker(trimmed) {
            b.flush();
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with(fence) {
                code.push(lines[i]);
                i += 1;
            }
            b.push(SectionKind::Code, code.join("\n"), n);
        } else if trimmed.is_empty() {
            b.flush();
        } else if let Some((level, title)) = atx_heading(trimmed) {
            b.heading(level, title, n);
        } else if b.block == Block::Paragraph && b.lines.len() == 1 && setext(trimmed).is_some() {
            let title = b.lines.pop().unwrap_or_default();
            let start = b.start;
            b.block = Block::None;
            b.heading(setext(trimmed).unwrap_or(1), &title, start);
        } else if indent >= 4 && b.block == Block::None {
            let mut code = vec![&line[4.min(line.len())..]];
            while i + 1 < lines.len()
                && (lines[i + 1].starts_with("    ") || lines[i + 1].trim().is_empty())
            {
                i += 1;
                code.push(lines[i].get(4..).unwrap_or(""));
            }
            b.push(SectionKind::Code, code.join("\n").trim_end().to_owned(), n);
        } else if let Some(item) = list_item(trimmed) {
            b.flush();
            b.open(Block::ListItem, n);
            b.lines.push(item.to_owned());
        } else if let Some(q) = trimmed.strip_prefix('>') {
            b.open(Block::Quote, n);
            b.lines.push(q.trim().to_owned());
        } else if trimmed.starts_with('|') {
            b.open(Block::Table, n);
            if !is_table_rule(trimmed) {
                b.lines.push(table_row(trimmed));
            }
        } else {
            // Continuation lines belong to the open list item or quote (lazy lines).
            if b.block == Block::None || b.block == Block::Table {
                b.open(Block::Paragraph, n);
            }
            b.lines.push(trimmed.to_owned());
        }
        i += 1;
    }
    b.flush();
    Parsed {
        metadata,
        sections: b.sections,
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

fn fence_marker(line: &str) -> Option<&'static str> {
    if line.starts_with("```") {
        Some("```")
    } else if line.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let hashes = line.bytes().take_while(|&c| c == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    if rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t') {
        Some((u8::try_from(hashes).unwrap_or(6), rest))
    } else {
        None
    }
}

fn setext(line: &str) -> Option<u8> {
    let t = line.trim_end();
    if t.len() >= 2 && t.bytes().all(|c| c == b'=') {
        Some(1)
    } else if t.len() >= 2 && t.bytes().all(|c| c == b'-') {
        Some(2)
    } else {
        None
    }
}

fn list_item(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest.trim_start_matches("[ ] ").trim_start_matches("[x] "));
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = &line[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r);
        }
    }
    None
}

fn is_table_rule(line: &str) -> bool {
    line.bytes()
        .all(|c| matches!(c, b'|' | b'-' | b':' | b' ' | b'\t'))
}

fn table_row(line: &str) -> String {
    let cells: Vec<String> = line
        .trim()
        .trim_matches('|')
        .split('|')
        .map(|c| inline_text(c.trim()))
        .collect();
    cells.join(" | ")
}

/// Strips inline markup: emphasis markers, code ticks, images and links (keeping their
/// text), and HTML-ish tags.
pub(crate) fn inline_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' | '_' if is_emphasis(&chars, i) => {}
            '`' => {}
            '!' if chars.get(i + 1) == Some(&'[') => {}
            '[' => {
                if let Some((text_end, url_end)) = link_span(&chars, i) {
                    out.extend(&chars[i + 1..text_end]);
                    i = url_end + 1;
                    continue;
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_emphasis(chars: &[char], i: usize) -> bool {
    // `snake_case` and `2*3` keep their characters: emphasis markers touch a word on
    // one side only.
    let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
    let next = chars.get(i + 1).copied();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    !(word(prev) && word(next))
}

fn link_span(chars: &[char], open: usize) -> Option<(usize, usize)> {
    let close = (open + 1..chars.len()).find(|&j| chars[j] == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = (close + 2..chars.len()).find(|&j| chars[j] == ')')?;
    Some((close, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_build_paths_and_pop_on_same_level() {
        let p = parse("# A\n\ntext a\n\n## B\n\ntext b\n\n## C\n\ntext c\n\n# D\n\ntext d\n");
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
        let p = parse("---\ntitle: Hello\nyear: 2021\ntags: a, b\n---\n# H\n\nbody\n");
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
        let p = parse(md);
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
    fn snake_case_keeps_underscores() {
        assert_eq!(
            inline_text("max_seq_length is *big*"),
            "max_seq_length is big"
        );
    }
}
