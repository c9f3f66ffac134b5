//! Cutting text into words for the keyword index, Chinese, Japanese and Korean included.
//!
//! Outside CJK scripts a word is what tantivy's `SimpleTokenizer` makes: a run of
//! alphanumeric characters. CJK text has no spaces between words, so a run of Han,
//! Hiragana, Katakana or Hangul characters is cut into overlapping pairs of
//! characters (a run of one is one token), as Lucene's CJK analyzer does: a query's
//! pairs then match a document's wherever the same characters stand together, with no
//! dictionary. A script change (`GPU加速`) is a word boundary.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Whether `c` is written without spaces between words (Han, kana, Hangul).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF        // Hangul Jamo
        | 0x2E80..=0x2FDF      // CJK radicals
        | 0x3005..=0x3007      // 々 〆 〇
        | 0x3040..=0x30FF      // Hiragana, Katakana (with ー)
        | 0x3130..=0x318F      // Hangul compatibility Jamo
        | 0x31F0..=0x31FF      // Katakana phonetic extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xA960..=0xA97F      // Hangul Jamo extended A
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xD7B0..=0xD7FF      // Hangul Jamo extended B
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // halfwidth Katakana
        | 0x20000..=0x323AF    // CJK extensions B to H
    )
}

/// `text` with each run of CJK characters written as its overlapping pairs, apart
/// (`富士山` becomes `富士 士山`): each pair is then a word of its own to a query parser,
/// which would otherwise make the run's pairs a phrase that only the same run matches.
pub(crate) fn cjk_pairs_apart(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_cjk(c) {
            out.push(c);
            continue;
        }
        out.push(' ');
        let mut prev = c;
        let mut paired = false;
        while let Some(&next) = chars.peek().filter(|&&n| is_cjk(n)) {
            if paired {
                out.push(' ');
            }
            out.push(prev);
            out.push(next);
            paired = true;
            prev = next;
            chars.next();
        }
        if !paired {
            out.push(c);
        }
        out.push(' ');
    }
    out
}

/// The keyword index's tokenizer: see the module documentation.
#[derive(Clone, Default)]
pub(crate) struct WordTokenizer {
    tokens: Vec<Token>,
}

/// The tokens of one text.
pub(crate) struct WordStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.tokens.clear();
        let mut push = |from: usize, to: usize| {
            self.tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: self.tokens.len(),
                text: text[from..to].to_owned(),
                position_length: 1,
            });
        };
        let mut chars = text.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if is_cjk(c) {
                // Pairs of neighbours within the run; a lone character is its own token.
                let mut prev = (start, c);
                let mut paired = false;
                while let Some(&(at, next)) = chars.peek() {
                    if !is_cjk(next) {
                        break;
                    }
                    push(prev.0, at + next.len_utf8());
                    paired = true;
                    prev = (at, next);
                    chars.next();
                }
                if !paired {
                    push(start, start + c.len_utf8());
                }
            } else if c.is_alphanumeric() {
                let mut end = start + c.len_utf8();
                while let Some(&(at, next)) = chars.peek() {
                    if !next.is_alphanumeric() || is_cjk(next) {
                        break;
                    }
                    end = at + next.len_utf8();
                    chars.next();
                }
                push(start, end);
            }
        }
        WordStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::SimpleTokenizer;

    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut t = WordTokenizer::default();
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    #[test]
    fn cjk_runs_become_overlapping_pairs() {
        assert_eq!(words("神经网络"), ["神经", "经网", "网络"]);
        assert_eq!(
            words("富士山に登る"),
            ["富士", "士山", "山に", "に登", "登る"]
        );
        assert_eq!(words("서울 공원"), ["서울", "공원"]);
        assert_eq!(words("山"), ["山"]);
        assert_eq!(words("GPU加速, 2024年"), ["GPU", "加速", "2024", "年"]);
    }

    #[test]
    fn a_query_gets_its_cjk_pairs_apart() {
        assert_eq!(
            cjk_pairs_apart("富士山")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["富士", "士山"]
        );
        assert_eq!(
            cjk_pairs_apart("GPU加速 the 山")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["GPU", "加速", "the", "山"]
        );
        // Each pair alone is what the tokenizer makes of the run.
        let apart = cjk_pairs_apart("変換してプリティ");
        assert_eq!(
            apart.split_whitespace().collect::<Vec<_>>(),
            words("変換してプリティ")
        );
    }

    #[test]
    fn other_text_is_cut_as_the_simple_tokenizer_cuts_it() {
        let text = "Tide-pools hold 3 anemones; naïve café Ελληνικά кофе (x_y) e.g. 1.5";
        let mut simple = SimpleTokenizer::default();
        let mut s = simple.token_stream(text);
        let mut want = Vec::new();
        while s.advance() {
            let t = s.token();
            want.push((t.text.clone(), t.offset_from, t.offset_to, t.position));
        }
        let mut ours = WordTokenizer::default();
        let mut s = ours.token_stream(text);
        let mut got = Vec::new();
        while s.advance() {
            let t = s.token();
            got.push((t.text.clone(), t.offset_from, t.offset_to, t.position));
        }
        assert_eq!(got, want);
    }
}
