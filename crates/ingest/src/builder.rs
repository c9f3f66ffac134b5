//! Collects sections in reading order and keeps the heading path.

use crate::document::{Location, Section, SectionKind};

#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) sections: Vec<Section>,
    headings: Vec<(u8, String)>,
    /// Cloned onto every section pushed; parsers set page, slide, sheet... here.
    pub(crate) location: Location,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder::default()
    }

    fn path(&self) -> Vec<String> {
        self.headings.iter().map(|(_, t)| t.clone()).collect()
    }

    /// A heading: closes headings of the same or a deeper level, then opens this one.
    pub(crate) fn heading(&mut self, level: u8, text: &str) {
        let text = squash(&tidy(text));
        if text.is_empty() {
            return;
        }
        let level = level.clamp(1, 6);
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        self.headings.push((level, text.clone()));
        self.sections.push(Section {
            kind: SectionKind::Heading { level },
            text,
            heading_path: self.path(),
            location: self.location.clone(),
            row_numbers: Vec::new(),
        });
    }

    /// Forgets the open headings (a new page of a slide deck, a new message).
    pub(crate) fn reset_headings(&mut self) {
        self.headings.clear();
    }

    /// A block; whitespace is squashed to single spaces. Empty text is dropped.
    pub(crate) fn push(&mut self, kind: SectionKind, text: &str) {
        let text = squash(text);
        self.push_raw(kind, &text);
    }

    /// A block whose line breaks matter (code, tables): only trimmed (and tidied).
    pub(crate) fn push_raw(&mut self, kind: SectionKind, text: &str) {
        let text = tidy(text);
        let text = text.trim_matches(|c: char| c == '\n' || c == '\r');
        if text.trim().is_empty() {
            return;
        }
        self.sections.push(Section {
            kind,
            text: text.trim_end().to_owned(),
            heading_path: self.path(),
            location: self.location.clone(),
            row_numbers: Vec::new(),
        });
    }

    pub(crate) fn finish(self) -> Vec<Section> {
        self.sections
    }
}

/// Text as it should be searched: typographic ligatures (U+FB00-FB06, which PDF
/// fonts often map "fi", "ff", "ffl"... to) spelled out, so "misﬁts" is found by
/// "misfits"; soft hyphens and byte-order marks removed; control characters other
/// than tab and line breaks removed (spaces where they are whitespace, such as a form
/// feed). Borrowed when there is nothing to do.
pub(crate) fn tidy(text: &str) -> std::borrow::Cow<'_, str> {
    let untidy = |c: char| {
        ('\u{fb00}'..='\u{fb06}').contains(&c)
            || c == '\u{ad}'
            || c == '\u{feff}'
            || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    };
    if !text.contains(untidy) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{fb00}' => out.push_str("ff"),
            '\u{fb01}' => out.push_str("fi"),
            '\u{fb02}' => out.push_str("fl"),
            '\u{fb03}' => out.push_str("ffi"),
            '\u{fb04}' => out.push_str("ffl"),
            '\u{fb05}' | '\u{fb06}' => out.push_str("st"),
            // A form feed or other whitespace control still separates words.
            c if untidy(c) && c.is_whitespace() => out.push(' '),
            c if untidy(c) => {}
            c => out.push(c),
        }
    }
    out.into()
}

/// Collapses runs of whitespace to one space and trims.
pub(crate) fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Rows as text: cells joined with ` | `, one row a line. The first row is the header;
/// callers repeat it at the top of every table section they cut from a long table.
pub(crate) fn table_text(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in rows {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let cells: Vec<String> = row.iter().map(|c| squash(c)).collect();
        out.push_str(&cells.join(" | "));
    }
    out
}

/// Data rows per table section: small enough that a section fits a chunk or two, so
/// every chunk of a long table still starts with its header row.
pub(crate) const ROWS_PER_SECTION: usize = 25;

/// Pushes a table as sections of [`ROWS_PER_SECTION`] rows, each starting with the
/// header (the first row). `row_numbers`, when given, are the 1-based source rows of
/// `rows` and become each section's `location.rows`.
pub(crate) fn table_sections(b: &mut Builder, rows: &[Vec<String>], row_numbers: Option<&[u32]>) {
    let filled = |r: &[String]| r.iter().filter(|c| !c.trim().is_empty()).count();
    let rows: Vec<(usize, &Vec<String>)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| filled(r) > 0)
        .collect();
    let number = |i: usize| row_numbers.and_then(|n| n.get(i).copied());
    // A title or note above a table (a merged title cell, "Stock as of 27.07.2016") is
    // not its header: the header is the first row at least half as wide as the widest
    // of the first rows. Rows above it are paragraphs.
    let widest = rows
        .iter()
        .take(50)
        .map(|(_, r)| filled(r))
        .max()
        .unwrap_or(0);
    let header_pos = rows
        .iter()
        .position(|(_, r)| 2 * filled(r) >= widest)
        .unwrap_or(0);
    for (i, row) in &rows[..header_pos] {
        let saved = b.location.rows;
        if let Some(n) = number(*i) {
            b.location.rows = Some((n, n));
        }
        let cells: Vec<&str> = row
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        b.push(crate::document::SectionKind::Paragraph, &cells.join(" "));
        b.location.rows = saved;
    }
    let Some(((header_at, header), data)) = rows[header_pos..].split_first() else {
        return;
    };
    let emit = |b: &mut Builder, part: &[(usize, &Vec<String>)], first: usize| {
        let mut text_rows = vec![(*header).clone()];
        text_rows.extend(part.iter().map(|(_, r)| (*r).clone()));
        let last = part.last().map_or(first, |(i, _)| *i);
        let saved = b.location.rows;
        if let (Some(f), Some(l)) = (number(first), number(last)) {
            b.location.rows = Some((f, l));
        }
        let pushed = b.sections.len();
        b.push_raw(crate::document::SectionKind::Table, &table_text(&text_rows));
        b.location.rows = saved;
        // Each line's source row: the header's, then each row's.
        let numbers: Option<Vec<u32>> = std::iter::once(*header_at)
            .chain(part.iter().map(|(i, _)| *i))
            .map(number)
            .collect();
        if let (Some(section), Some(numbers)) = (b.sections.get_mut(pushed), numbers) {
            section.row_numbers = numbers;
        }
    };
    if data.is_empty() {
        emit(b, &[], *header_at);
        return;
    }
    for (n, part) in data.chunks(ROWS_PER_SECTION).enumerate() {
        let first = if n == 0 { *header_at } else { part[0].0 };
        emit(b, part, first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_spells_out_ligatures_and_drops_invisible_characters() {
        assert_eq!(
            tidy("misﬁts think diﬀerently, baﬄed"),
            "misfits think differently, baffled"
        );
        assert_eq!(tidy("dan\u{ad}gerous\u{17}ly \u{feff}so"), "dangerously so");
        assert_eq!(
            tidy("page one\u{c}page two\tcol\r\n"),
            "page one page two\tcol\r\n"
        );
        assert!(matches!(tidy("plain text"), std::borrow::Cow::Borrowed(_)));

        let mut b = Builder::new();
        b.heading(1, "Proﬁles");
        b.push(SectionKind::Paragraph, "eﬃcient\u{0}ly");
        let texts: Vec<_> = b.finish().into_iter().map(|s| s.text).collect();
        assert_eq!(texts, ["Profiles", "efficiently"]);
    }

    #[test]
    fn a_title_row_above_a_table_is_not_its_header() {
        let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        let rows = [
            row(&["Stock as of 27.07.2016", "", ""]),
            row(&["", "", ""]),
            row(&["sku", "name", "qty"]),
            row(&["1", "lamp", ""]),
            row(&["2", "shade", "5"]),
        ];
        let mut b = Builder::new();
        table_sections(&mut b, &rows, Some(&[1, 2, 3, 4, 5]));
        let sections = b.finish();
        let got: Vec<_> = sections
            .iter()
            .map(|s| {
                (
                    s.kind,
                    s.text.as_str(),
                    s.location.rows,
                    s.row_numbers.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    SectionKind::Paragraph,
                    "Stock as of 27.07.2016",
                    Some((1, 1)),
                    vec![]
                ),
                (
                    SectionKind::Table,
                    "sku | name | qty\n1 | lamp | \n2 | shade | 5",
                    Some((3, 5)),
                    vec![3, 4, 5]
                ),
            ]
        );
    }
}
