//! Rich Text Format (`.rtf`). Headings come from outline levels and from the
//! stylesheet's heading styles, list items from list text, tables from the cell and
//! row marks; footnotes become notes, fields keep their result, and the `\info` group
//! gives title, author, subject, keywords and dates. Text is decoded by the code page
//! of the document (`\ansicpg`) or of the current font (`\fcharset`, `\cpg`), and
//! Unicode escapes (`\u`) skip their ANSI stand-ins. Pictures, objects' data, headers,
//! footers and other destinations that are not text are skipped.

use std::collections::HashMap;

use crate::builder::{table_sections, Builder};
use crate::document::{Document, Input, MetaValue, Parsed, SectionKind};
use crate::error::{Error, Result};
use crate::ole::codepage_encoding;

const FORMAT: &str = "rtf";
/// Groups nest at most this deep; deeper groups are skipped (braces still count).
const MAX_DEPTH: usize = 512;

/// An RTF document.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    if !input.bytes.starts_with(b"{\\rtf") {
        return Err(Error::malformed(
            input.name,
            FORMAT,
            "does not start with {\\rtf",
        ));
    }
    let mut reader = Reader::new(input.bytes);
    reader.run();
    Ok(vec![reader.finish().into_document(input)])
}

/// Where a group's text goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    /// The document's text.
    Body,
    /// Nothing: a destination that is not text.
    Skip,
    /// The font table (font numbers and character sets).
    Fonts,
    /// The stylesheet (style numbers, names, outline levels).
    Styles,
    /// A text field of `\info`.
    Info(&'static str),
    /// A date of `\info`.
    Time(&'static str),
    /// A footnote's, endnote's or comment's text.
    Note,
    /// The number or bullet Word writes before a list item.
    ListText,
}

/// The state a group inherits from its parent and restores on `}`.
#[derive(Clone, Copy, Debug)]
struct Group {
    dest: Dest,
    /// Whether this group opened `dest` (its end finishes what `dest` collected).
    opened: bool,
    /// ANSI characters that stand in for each `\u` character.
    uc: u32,
    /// Code page of the current font.
    codepage: Option<u32>,
    /// Paragraph properties, which groups save and restore as they do any other.
    para: Para,
}

/// Paragraph properties, reset by `\pard`.
#[derive(Clone, Copy, Default, Debug)]
struct Para {
    style: i32,
    outline: Option<i32>,
    in_table: bool,
    /// The paragraph is in a list (`\ls`).
    list: bool,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    group: Group,
    stack: Vec<Group>,
    /// Groups past [`MAX_DEPTH`] still open.
    too_deep: usize,
    /// The document's code page (`\ansicpg`, `\mac`...).
    codepage: u32,
    default_font: i32,
    /// Code page of each font.
    fonts: HashMap<i32, u32>,
    /// The font the font table is describing.
    font_def: i32,
    /// Heading level of each paragraph style.
    heading_styles: HashMap<i32, i32>,
    /// The style the stylesheet is describing, its outline level and its name.
    style_def: (i32, Option<i32>, String),
    /// Bytes not yet decoded and their code page.
    pending: Vec<u8>,
    pending_codepage: u32,
    /// ANSI characters still to skip after a `\u`.
    skip: u32,
    /// The high half of a surrogate pair from a `\u`.
    high_surrogate: Option<u16>,
    /// The paragraph being read had list text (a number or bullet).
    list_mark: bool,
    text: String,
    note: String,
    /// What the note being read is ("footnote", "endnote", "comment") and who
    /// wrote it (comments).
    note_kind: &'static str,
    note_author: Option<String>,
    /// Notes, pushed after the body.
    notes: Vec<String>,
    field: String,
    time: [i32; 5],
    cell: String,
    cells: Vec<String>,
    rows: Vec<Vec<String>>,
    b: Builder,
    parsed: Parsed,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            group: Group {
                dest: Dest::Body,
                opened: false,
                uc: 1,
                codepage: None,
                para: Para::default(),
            },
            stack: Vec::new(),
            too_deep: 0,
            codepage: 1252,
            default_font: 0,
            fonts: HashMap::new(),
            font_def: 0,
            heading_styles: HashMap::new(),
            style_def: (0, None, String::new()),
            pending: Vec::new(),
            pending_codepage: 1252,
            skip: 0,
            high_surrogate: None,
            list_mark: false,
            text: String::new(),
            note: String::new(),
            note_kind: "footnote",
            note_author: None,
            notes: Vec::new(),
            field: String::new(),
            time: [0; 5],
            cell: String::new(),
            cells: Vec::new(),
            rows: Vec::new(),
            b: Builder::new(),
            parsed: Parsed::default(),
        }
    }

    fn run(&mut self) {
        while let Some(&c) = self.bytes.get(self.pos) {
            self.pos += 1;
            match c {
                b'{' => self.open(),
                b'}' => self.close(),
                b'\\' => self.control(),
                b'\r' | b'\n' | 0 => {}
                _ => self.byte(c),
            }
        }
    }

    fn finish(mut self) -> Parsed {
        self.flush();
        self.end_paragraph();
        self.end_table();
        self.b.reset_headings();
        for note in std::mem::take(&mut self.notes) {
            self.b.push(SectionKind::Note, &note);
        }
        let mut parsed = std::mem::take(&mut self.parsed);
        parsed.sections = self.b.finish();
        if parsed.title.is_none() {
            parsed.title = crate::document::first_heading(&parsed.sections);
        }
        parsed
    }

    fn open(&mut self) {
        self.flush();
        if self.stack.len() >= MAX_DEPTH {
            self.too_deep += 1;
            return;
        }
        self.stack.push(self.group);
        self.group.opened = false;
    }

    fn close(&mut self) {
        self.flush();
        if self.too_deep > 0 {
            self.too_deep -= 1;
            return;
        }
        let Some(parent) = self.stack.pop() else {
            return;
        };
        let ended = self.group;
        self.group = parent;
        self.skip = 0;
        if ended.opened {
            self.finish_destination(ended.dest);
        }
    }

    /// Ends what a destination's group collected.
    fn finish_destination(&mut self, dest: Dest) {
        match dest {
            Dest::Info(key) => {
                let value = crate::builder::squash(&std::mem::take(&mut self.field));
                if key == "atnauthor" {
                    self.note_author = Some(value).filter(|v| !v.is_empty());
                } else if !value.is_empty() {
                    if key == "title" {
                        self.parsed.title = Some(value.clone());
                    }
                    self.parsed
                        .metadata
                        .insert(key.into(), MetaValue::Str(value));
                }
            }
            Dest::Time(key) => {
                let [y, mo, d, h, mi] = std::mem::take(&mut self.time);
                if (1..=9999).contains(&y) && (1..=12).contains(&mo) && (1..=31).contains(&d) {
                    let value = format!(
                        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:00",
                        h.clamp(0, 23),
                        mi.clamp(0, 59)
                    );
                    self.parsed
                        .metadata
                        .insert(key.into(), MetaValue::Str(value));
                }
            }
            Dest::Note => {
                let note = std::mem::take(&mut self.note);
                if !note.trim().is_empty() {
                    let label = match self.note_author.take() {
                        Some(author) => format!("{} by {author}: ", self.note_kind),
                        None => format!("{}: ", self.note_kind),
                    };
                    self.notes.push(format!("{label}{note}"));
                }
            }
            Dest::Styles => self.end_style(),
            _ => {}
        }
    }

    /// Ends the stylesheet entry being read: a style named "heading N" or with an
    /// outline level is a heading style.
    fn end_style(&mut self) {
        let (number, outline, name) = std::mem::take(&mut self.style_def);
        let name = name.trim().trim_end_matches(';').trim().to_lowercase();
        let level = outline.or_else(|| {
            let n: i32 = name.strip_prefix("heading")?.trim().parse().ok()?;
            Some(n - 1)
        });
        if let Some(level @ 0..=8) = level {
            self.heading_styles.insert(number, level);
        }
    }

    /// Starts a destination for the current group.
    fn enter(&mut self, dest: Dest) {
        self.group.dest = dest;
        self.group.opened = true;
    }

    /// A control word or symbol, after its backslash.
    fn control(&mut self) {
        let Some(&c) = self.bytes.get(self.pos) else {
            return;
        };
        if !c.is_ascii_alphabetic() {
            self.pos += 1;
            return self.symbol(c);
        }
        let start = self.pos;
        while self.pos < self.bytes.len()
            && self.bytes[self.pos].is_ascii_alphabetic()
            && self.pos - start < 32
        {
            self.pos += 1;
        }
        let word = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
        let mut param: Option<i32> = None;
        let negative = self.bytes.get(self.pos) == Some(&b'-');
        let digits_at = self.pos + usize::from(negative);
        let mut end = digits_at;
        while end < self.bytes.len() && self.bytes[end].is_ascii_digit() && end - digits_at < 10 {
            end += 1;
        }
        if end > digits_at {
            let value: i64 = std::str::from_utf8(&self.bytes[digits_at..end])
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            let value = if negative { -value } else { value };
            param = Some(value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
            self.pos = end;
        }
        if self.bytes.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        self.word(word, param);
    }

    /// A control symbol: `\'hh`, `\*`, an escaped character...
    fn symbol(&mut self, c: u8) {
        match c {
            b'\'' => {
                let hex = self.bytes.get(self.pos..self.pos + 2).unwrap_or(&[]);
                let byte = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = byte {
                    self.pos += 2;
                    self.byte(byte);
                }
            }
            b'*' => {
                // An optional destination: skipped unless the word after it is known.
                let save = self.pos;
                if self.bytes.get(self.pos) == Some(&b'\\') {
                    self.pos += 1;
                    let start = self.pos;
                    while self
                        .bytes
                        .get(self.pos)
                        .is_some_and(u8::is_ascii_alphabetic)
                    {
                        self.pos += 1;
                    }
                    let word = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
                    if !matches!(
                        word,
                        "shpinst" | "shptxt" | "footnote" | "fldrslt" | "annotation" | "atnauthor"
                    ) {
                        self.flush();
                        self.enter(Dest::Skip);
                    }
                }
                self.pos = save;
            }
            b'\\' | b'{' | b'}' => self.byte(c),
            b'~' => self.char('\u{a0}'),
            b'_' => self.char('-'),
            b'\r' | b'\n' => self.word("par", None),
            b'\t' => self.char('\t'),
            _ => {}
        }
    }

    fn word(&mut self, word: &str, param: Option<i32>) {
        let n = param.unwrap_or(0);
        // Words that change how the bytes after them decode come first.
        match word {
            "bin" => {
                // Raw binary data of the given length.
                self.flush();
                self.pos = self
                    .pos
                    .saturating_add(n.max(0) as usize)
                    .min(self.bytes.len());
                return;
            }
            "u" => return self.unicode(n),
            "uc" => {
                self.group.uc = n.clamp(0, 16) as u32;
                return;
            }
            "ansi" => self.codepage = 1252,
            "mac" => self.codepage = 10000,
            "pc" => self.codepage = 437,
            "pca" => self.codepage = 850,
            "ansicpg" => self.codepage = n.max(0) as u32,
            "deff" => self.default_font = n,
            _ => {}
        }
        if self.skip > 0 {
            // A control word stands in for one character of a `\u`'s ANSI text.
            self.skip -= 1;
            return;
        }
        self.flush();
        let dest = self.group.dest;
        if dest == Dest::Fonts {
            match word {
                "f" => self.font_def = n,
                "fcharset" => {
                    if let Some(cp) = charset_codepage(n) {
                        self.fonts.insert(self.font_def, cp);
                    }
                }
                "cpg" => {
                    self.fonts.insert(self.font_def, n.max(0) as u32);
                }
                _ => {}
            }
            return;
        }
        if dest == Dest::Styles {
            match word {
                "s" => self.style_def.0 = n,
                "outlinelevel" => self.style_def.1 = Some(n),
                _ => {}
            }
            return;
        }
        if let Dest::Time(_) = dest {
            let slot = match word {
                "yr" => 0,
                "mo" => 1,
                "dy" => 2,
                "hr" => 3,
                "min" => 4,
                _ => return,
            };
            self.time[slot] = n;
            return;
        }
        match word {
            "fonttbl" => self.enter(Dest::Fonts),
            "stylesheet" => self.enter(Dest::Styles),
            "info" => {}
            "title" | "author" | "subject" | "keywords" | "doccomm" | "operator" | "category" => {
                let key = match word {
                    "doccomm" => "description",
                    "operator" => "last_modified_by",
                    "title" => "title",
                    "author" => "author",
                    "subject" => "subject",
                    "keywords" => "keywords",
                    _ => "category",
                };
                self.field.clear();
                self.enter(Dest::Info(key));
            }
            "creatim" => self.enter(Dest::Time("created")),
            "revtim" => self.enter(Dest::Time("modified")),
            "footnote" | "annotation" => {
                self.note.clear();
                self.note_kind = if word == "footnote" {
                    "footnote"
                } else {
                    "comment"
                };
                if word == "footnote" {
                    self.note_author = None;
                }
                self.enter(Dest::Note);
            }
            "ftnalt" if dest == Dest::Note => self.note_kind = "endnote",
            "atnauthor" => {
                self.field.clear();
                self.enter(Dest::Info("atnauthor"));
            }
            "listtext" | "pntext" => {
                self.list_mark = true;
                self.enter(Dest::ListText);
            }
            "colortbl" | "pict" | "header" | "headerl" | "headerr" | "headerf" | "footer"
            | "footerl" | "footerr" | "footerf" | "fldinst" | "objdata" | "objclass"
            | "listtable" | "listoverridetable" | "revtbl" | "rsidtbl" | "filetbl" | "xe"
            | "tc" | "txe" | "rxe" | "printim" | "buptim" | "comment" | "company" | "manager"
            | "hlinkbase" | "nonshppict" | "sp" | "sn" | "sv" | "template" | "docvar"
            | "userprops" | "themedata" | "colorschememapping" | "datastore" | "latentstyles"
            | "xmlnstbl" | "generator" | "private" => self.enter(Dest::Skip),
            "f" => self.group.codepage = self.fonts.get(&n).copied(),
            "plain" => self.group.codepage = self.fonts.get(&self.default_font).copied(),
            _ if !matches!(dest, Dest::Body | Dest::Note) => {}
            "pard" => self.group.para = Para::default(),
            "s" => self.group.para.style = n,
            "outlinelevel" => self.group.para.outline = Some(n),
            "intbl" => self.group.para.in_table = true,
            "ls" => self.group.para.list = true,
            "par" | "sect" | "page" => self.end_paragraph(),
            "cell" | "nestcell" => {
                let text = std::mem::take(&mut self.text);
                self.cell.push_str(&text);
                if word == "cell" {
                    self.cells.push(std::mem::take(&mut self.cell));
                } else {
                    self.cell.push(' ');
                }
            }
            "row" => {
                if !self.cell.trim().is_empty() {
                    self.cells.push(std::mem::take(&mut self.cell));
                }
                self.cell.clear();
                self.rows.push(std::mem::take(&mut self.cells));
            }
            "line" => self.char('\n'),
            "tab" => self.char('\t'),
            "emdash" => self.char('—'),
            "endash" => self.char('–'),
            "bullet" => self.char('•'),
            "lquote" => self.char('‘'),
            "rquote" => self.char('’'),
            "ldblquote" => self.char('“'),
            "rdblquote" => self.char('”'),
            "emspace" | "enspace" | "qmspace" => self.char(' '),
            _ => {}
        }
    }

    /// `\uN`: one UTF-16 unit, then its ANSI stand-ins are skipped.
    fn unicode(&mut self, n: i32) {
        self.flush();
        let unit = (n as i64).rem_euclid(65_536) as u16;
        self.skip = self.group.uc;
        match (self.high_surrogate.take(), unit) {
            (_, 0xD800..=0xDBFF) => self.high_surrogate = Some(unit),
            (Some(high), 0xDC00..=0xDFFF) => {
                let c = char::decode_utf16([high, unit]).next().and_then(Result::ok);
                self.char(c.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            (_, unit) => self.char(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}')),
        }
    }

    /// A byte of text in the current code page.
    fn byte(&mut self, byte: u8) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        let codepage = self.group.codepage.unwrap_or(self.codepage);
        if codepage != self.pending_codepage {
            self.flush();
            self.pending_codepage = codepage;
        }
        self.pending.push(byte);
    }

    /// Decodes the pending bytes.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.pending);
        let (text, _) =
            codepage_encoding(self.pending_codepage).decode_without_bom_handling(&bytes);
        for c in text.chars() {
            self.char(c);
        }
    }

    /// A character of text, to wherever the current destination collects it.
    fn char(&mut self, c: char) {
        match self.group.dest {
            Dest::Body => self.text.push(c),
            Dest::Note => self.note.push(c),
            Dest::Info(_) => self.field.push(c),
            Dest::Styles => {
                if c == ';' {
                    self.end_style();
                } else {
                    self.style_def.2.push(c);
                }
            }
            Dest::Skip | Dest::Fonts | Dest::Time(_) | Dest::ListText => {}
        }
    }

    /// `\par`: the paragraph ends (a paragraph in a table cell joins the cell).
    fn end_paragraph(&mut self) {
        self.flush();
        if self.group.dest == Dest::Note {
            self.note.push(' ');
            return;
        }
        if self.group.dest != Dest::Body {
            return;
        }
        let text = std::mem::take(&mut self.text);
        let list_mark = std::mem::take(&mut self.list_mark);
        let para = self.group.para;
        if para.in_table {
            self.cell.push_str(&text);
            self.cell.push(' ');
            return;
        }
        self.end_table();
        let level = para
            .outline
            .filter(|l| (0..=8).contains(l))
            .or_else(|| self.heading_styles.get(&para.style).copied());
        match level {
            Some(level) => self.b.heading(level.clamp(0, 5) as u8 + 1, &text),
            None if para.list || list_mark => self.b.push(SectionKind::ListItem, &text),
            None => self.b.push(SectionKind::Paragraph, &text),
        }
    }

    /// Pushes the table read so far, if any.
    fn end_table(&mut self) {
        if !self.cells.is_empty() {
            self.rows.push(std::mem::take(&mut self.cells));
        }
        if !self.rows.is_empty() {
            table_sections(&mut self.b, &std::mem::take(&mut self.rows), None);
        }
    }
}

/// The code page of an RTF character set (`\fcharset`); `None` for the default.
fn charset_codepage(charset: i32) -> Option<u32> {
    Some(match charset {
        77 => 10000,
        128 => 932,
        129 => 949,
        134 => 936,
        136 => 950,
        161 => 1253,
        162 => 1254,
        163 => 1258,
        177 => 1255,
        178 => 1256,
        186 => 1257,
        204 => 1251,
        222 => 874,
        238 => 1250,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(rtf: &str) -> Parsed {
        let mut r = Reader::new(rtf.as_bytes());
        r.run();
        r.finish()
    }

    fn texts(p: &Parsed) -> Vec<(String, String)> {
        p.sections
            .iter()
            .map(|s| (format!("{:?}", s.kind), s.text.clone()))
            .collect()
    }

    #[test]
    fn paragraphs_escapes_and_unicode() {
        let p = read(
            r"{\rtf1\ansi\ansicpg1252\uc1{\fonttbl{\f0\fswiss Arial;}{\f1\fcharset204 Times;}}
\pard Caf\'e9 na\u239?ve \{x\}\par
\f1 \'cf\'f0\'e8\'e2\'e5\'f2\par
\u-10179?\u-8704? \emdash\~end\par}",
        );
        assert_eq!(
            texts(&p),
            [
                ("Paragraph".into(), "Café naïve {x}".into()),
                ("Paragraph".into(), "Привет".into()),
                ("Paragraph".into(), "😀 — end".into()),
            ]
        );
    }

    #[test]
    fn headings_lists_tables_notes_and_info() {
        let p = read(
            r"{\rtf1\ansi{\stylesheet{\s0 Normal;}{\s1\outlinelevel0 heading 1;}{\s2 Heading 2;}}
{\info{\title The Plan}{\author Ann}{\creatim\yr2021\mo3\dy4\hr5\min6}}
{\*\generator Word}{\pict\pngblip 89504e47}{\header Page head\par}
\pard\s1 Intro\par
\pard\s2 Detail\par
\pard Text with a note{\super\chftn}{\footnote\pard\s2 Noted.}. {\field{\*\fldinst HYPERLINK x}{\fldrslt link}}\par
\pard{\listtext\pard 1.\tab}One\par
\trowd\pard\intbl A\cell B\cell\row
\trowd\pard\intbl 1\cell 2\cell\row
\pard After\par}",
        );
        assert_eq!(p.title.as_deref(), Some("The Plan"));
        assert_eq!(
            p.metadata.get("author"),
            Some(&MetaValue::Str("Ann".into()))
        );
        assert_eq!(
            p.metadata.get("created"),
            Some(&MetaValue::Str("2021-03-04T05:06:00".into()))
        );
        assert_eq!(
            texts(&p),
            [
                ("Heading { level: 1 }".into(), "Intro".into()),
                ("Heading { level: 2 }".into(), "Detail".into()),
                ("Paragraph".into(), "Text with a note. link".into()),
                ("ListItem".into(), "One".into()),
                ("Table".into(), "A | B\n1 | 2".into()),
                ("Paragraph".into(), "After".into()),
                ("Note".into(), "footnote: Noted.".into()),
            ]
        );
        assert_eq!(p.sections[1].heading_path, ["Intro", "Detail"]);
    }

    #[test]
    fn binary_data_deep_nesting_and_cut_files_end_cleanly() {
        let p = read("{\\rtf1 a{\\*\\blob\\bin4 }}}}}b\\par}");
        assert_eq!(texts(&p), [("Paragraph".into(), "ab".into())]);
        let deep = format!("{{\\rtf1 {}x{}", "{".repeat(5000), "}".repeat(5000));
        assert_eq!(texts(&read(&deep)), [("Paragraph".into(), "x".into())]);
        let cut = read("{\\rtf1 unfinished \\'e");
        assert_eq!(texts(&cut), [("Paragraph".into(), "unfinished e".into())]);
        read("{\\rtf1 \\u-99999999999 \\bin999999999999 x");
    }
}
