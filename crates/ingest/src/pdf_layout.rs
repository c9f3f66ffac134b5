//! A page's glyphs, as pdf-extract draws them, turned into lines of words.
//!
//! Glyphs come in content-stream order, which keeps columns and reading order as the
//! writer laid them out, except within a line: pieces a writer drew out of order
//! (values before their labels) are put left to right when the line ends, unless the
//! line is in a right-to-left script. Where glyphs go is what says where words and
//! lines end: a gap wider than a tenth of the font size, or a space glyph, is a space;
//! a step down is a new line, a big one a new paragraph; a gap wider than the font size
//! within a line is a tab, which ends a table cell. Two habits of real writers are
//! undone here: a glyph drawn twice in place (fake bold, shadows) is read once, and a
//! space glyph drawn again behind text already set is not a word break.

use std::collections::VecDeque;

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

/// The text of one page.
pub(crate) struct PageText {
    text: String,
    /// For each line of `text`, where each of its tab-separated cells starts and ends
    /// along the baseline.
    cells: Vec<Vec<(f64, f64)>>,
    /// The current line's first letter (not a digit: digits are one width in most
    /// fonts) and its advance; whether another letter had that advance, and whether
    /// one had another.
    line_letter: Option<(char, f64)>,
    same_width: bool,
    other_width: bool,
    /// Where the current line starts in `text`, the glyph size last seen on it, the
    /// cells of it that a jump back to the left opened, and whether it holds
    /// right-to-left letters.
    line_start: usize,
    line_size: f64,
    back_cells: Vec<usize>,
    line_rtl: bool,
    /// The page's own content is drawn and its annotations are drawing; the line their
    /// text starts on, once they draw any.
    in_annotations: bool,
    annotations_from: Option<usize>,
    /// Where the last glyph ended on its line, and its place and character.
    last_end: f64,
    /// Where the pen stood after the last glyph: its end plus the character (and word)
    /// spacing in force, which letter-spaced text sets wide.
    pen_end: f64,
    last_x: f64,
    last_y: f64,
    /// A glyph opens a string (a `Tj` or an element of a `TJ`).
    first_in_string: bool,
    /// A space glyph was drawn since the last glyph.
    pending_space: bool,
    /// The last glyph's baseline direction, a unit vector.
    direction: (f64, f64),
    /// The last glyphs drawn (character and origin), to find one drawn again.
    recent: VecDeque<(String, f64, f64)>,
}

/// How many of the last glyphs a glyph is compared with: a line's worth.
const RECENT: usize = 96;

/// A gap within a line wider than this many font sizes ends a cell: word spaces are a
/// quarter to a half of the font size, even in justified lines; table columns are set
/// further apart.
const CELL_GAP: f64 = 1.0;

/// The same in a monospaced line, where a space is 0.6 of the font size: four spaces or
/// more.
const MONOSPACED_CELL_GAP: f64 = 2.2;

impl Default for PageText {
    fn default() -> Self {
        PageText {
            text: String::new(),
            cells: vec![Vec::new()],
            line_letter: None,
            same_width: false,
            other_width: false,
            line_start: 0,
            line_size: 1.0,
            back_cells: Vec::new(),
            line_rtl: false,
            in_annotations: false,
            annotations_from: None,
            last_end: 0.0,
            pen_end: 0.0,
            last_x: 0.0,
            last_y: 0.0,
            first_in_string: false,
            pending_space: false,
            direction: (1.0, 0.0),
            recent: VecDeque::with_capacity(RECENT),
        }
    }
}

/// Whether a character belongs to a script written right to left (Hebrew, Arabic,
/// Syriac, Thaana, N'Ko and their presentation forms).
fn is_rtl(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

impl PageText {
    /// The page's text, for each of its lines the extent of each tab-separated cell
    /// along the baseline, and how many of its lines are the page's own content (the
    /// text of its annotations follows them, a paragraph of its own).
    pub(crate) fn into_text_and_cells(mut self) -> (String, Vec<Vec<(f64, f64)>>, usize) {
        self.end_line();
        let content = self.annotations_from.unwrap_or(self.cells.len());
        (self.text, self.cells, content)
    }

    /// Ends the line.
    fn new_line(&mut self) {
        self.end_line();
        self.text.push('\n');
        self.cells.push(Vec::new());
        self.line_letter = None;
        self.same_width = false;
        self.other_width = false;
        self.line_start = self.text.len();
        self.back_cells.clear();
        self.line_rtl = false;
    }

    /// Puts the current line's pieces in reading order. A writer that draws a line's
    /// pieces out of order (a form's values before their labels, a right-aligned field
    /// first) jumps back to the left; each such piece opened a cell of its own, and the
    /// cells are now sorted by where they start, pieces closer than a cell gap joined
    /// by a space again. A right-to-left line keeps the writer's order, pieces joined.
    /// In a monospaced line (code, terminal output, a typewriter table) a cell gap is
    /// [`MONOSPACED_CELL_GAP`] font sizes: code aligns its words with runs of a few
    /// spaces.
    fn end_line(&mut self) {
        let mono = self.same_width && !self.other_width;
        let several = self.cells.last().is_some_and(|cells| cells.len() > 1);
        if !several || (self.back_cells.is_empty() && !mono) {
            self.back_cells.clear();
            return;
        }
        // In the order the cells were opened, so sorted.
        let back = std::mem::take(&mut self.back_cells);
        let line = &self.text[self.line_start..];
        let Some(cells) = self.cells.last_mut() else {
            return;
        };
        let pieces: Vec<&str> = line.split('\t').collect();
        if pieces.len() != cells.len() {
            return;
        }
        let mut order: Vec<usize> = (0..cells.len()).collect();
        if !self.line_rtl {
            order.sort_by(|&a, &b| cells[a].0.total_cmp(&cells[b].0));
        }
        let gap = self.line_size * if mono { MONOSPACED_CELL_GAP } else { CELL_GAP };
        let (mut text, mut merged) = (String::with_capacity(line.len()), Vec::new());
        for (n, &i) in order.iter().enumerate() {
            let (start, end) = cells[i];
            let joined = n > 0
                && if self.line_rtl {
                    back.binary_search(&i).is_ok()
                } else {
                    start - merged.last().map_or(start, |c: &(f64, f64)| c.1) <= gap
                };
            if n > 0 {
                text.push(if joined { ' ' } else { '\t' });
            }
            text.push_str(pieces[i]);
            match merged.last_mut() {
                Some(last) if joined => *last = (last.0.min(start), last.1.max(end)),
                _ => merged.push((start, end)),
            }
        }
        self.text.truncate(self.line_start);
        self.text.push_str(&text);
        *cells = merged;
    }

    /// Notes a glyph's advance: a line whose letters all have one advance, and two
    /// different letters at least, is monospaced.
    fn note_width(&mut self, char: &str, width: f64) {
        let mut chars = char.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return;
        };
        if c.is_ascii_digit() || width <= 0.0 {
            return;
        }
        match self.line_letter {
            None => self.line_letter = Some((c, width)),
            Some((_, w)) if (w - width).abs() > 1e-3 * w => self.other_width = true,
            Some((first, _)) if first != c => self.same_width = true,
            Some(_) => {}
        }
    }

    /// A space before a glyph at `x`: a tab, opening a new cell, when the gap is wide.
    fn space(&mut self, x: f64, size: f64) {
        if x - self.pen_end.max(self.last_end) > CELL_GAP * size {
            self.text.push('\t');
            self.cells.last_mut().expect("a line").push((x, x));
        } else {
            self.text.push(' ');
        }
    }
}

impl OutputDev for PageText {
    fn begin_page(
        &mut self,
        _page: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        // The glyph's size on the page: the font size scaled by the text matrix.
        let scale = (trm.m11 * trm.m22 - trm.m12 * trm.m21).abs().sqrt();
        let size = match font_size.abs() * scale {
            s if s.is_finite() && s > 0.0 => s,
            _ => 1.0,
        };
        // Its origin along its baseline (x) and across it (y), so that rotated text
        // reads as unrotated text does; a negative font size turns the baseline round,
        // as a negative matrix does.
        let sign = if font_size < 0.0 { -1.0 } else { 1.0 };
        let length = trm.m11.hypot(trm.m12) * sign;
        let direction = match (trm.m11 / length, trm.m12 / length) {
            (dx, dy) if dx.is_finite() && dy.is_finite() => (dx, dy),
            _ => (1.0, 0.0),
        };
        let x = trm.m31 * direction.0 + trm.m32 * direction.1;
        let y = trm.m32 * direction.0 - trm.m31 * direction.1;
        if !(x.is_finite() && y.is_finite()) {
            return Ok(());
        }
        let turned =
            (direction.0 - self.direction.0).abs() + (direction.1 - self.direction.1).abs() > 0.1;
        self.direction = direction;
        if turned {
            // Positions along one baseline say nothing about another.
            self.last_end = f64::INFINITY;
            self.pen_end = f64::INFINITY;
            self.last_y = f64::INFINITY;
        }
        let end = x + width * size;
        let pen = match end + spacing * trm.m11.hypot(trm.m12) {
            p if p.is_finite() => p,
            _ => end,
        };
        if char.trim().is_empty() {
            // A space glyph breaks a word unless it is drawn again behind the last
            // glyph (where a font gives no widths, it is drawn where that glyph is).
            if !self.text.is_empty() && x > self.last_x - 0.1 * size {
                self.pending_space = true;
                self.last_end = end;
                self.pen_end = pen;
            }
            return Ok(());
        }
        // A glyph drawn again in place (a string set twice, a little apart, to fake
        // bold) is read once. Where a font gives no widths, every glyph of a string
        // starts at one place: only glyphs that moved the pen on are compared.
        let near = 0.1 * size;
        if self
            .recent
            .iter()
            .any(|(c, gx, gy)| (x - gx).abs() < near && (y - gy).abs() < near && c == char)
        {
            return Ok(());
        }
        if end > x {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((char.to_owned(), x, y));
        }
        if self.in_annotations && self.annotations_from.is_none() {
            if !self.text.is_empty() {
                self.new_line();
                self.new_line();
            }
            self.annotations_from = Some(self.cells.len() - 1);
        } else if !self.text.is_empty() {
            let dy = (y - self.last_y).abs();
            if dy > 0.5 * size {
                // A new line; a paragraph when the step is more than a line's. A small
                // step to the right is a superscript or the next cell of a table row.
                if dy > 1.5 * size {
                    self.new_line();
                }
                if x < self.last_end {
                    self.new_line();
                } else if dy <= 1.5 * size {
                    self.space(x, size);
                }
            } else {
                // A string that starts where the pen stands continues the word, however
                // wide the letter spacing; one set further on starts a new word.
                let gap = self.first_in_string && x > self.pen_end.max(self.last_end) + 0.1 * size;
                let back = x < self.last_end - size;
                if back {
                    // A piece drawn left of what the line holds: a cell of its own,
                    // put in its place when the line ends.
                    self.text.push('\t');
                    let line = self.cells.last_mut().expect("a line");
                    self.back_cells.push(line.len());
                    line.push((x, x));
                } else if self.pending_space || gap {
                    self.space(x, size);
                }
            }
        }
        self.text.push_str(char);
        self.note_width(char, width);
        self.line_size = size;
        self.line_rtl |= char.chars().any(is_rtl);
        let line = self.cells.last_mut().expect("a line");
        match line.last_mut() {
            Some(cell) => cell.1 = cell.1.max(end),
            None => line.push((x, end)),
        }
        self.last_end = end;
        self.pen_end = pen;
        self.last_x = x;
        self.last_y = y;
        self.first_in_string = false;
        self.pending_space = false;
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.first_in_string = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn begin_annotations(&mut self) -> Result<(), OutputError> {
        self.in_annotations = true;
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
