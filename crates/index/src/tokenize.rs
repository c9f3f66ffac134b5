//! Cutting text into words for the keyword index, Chinese, Japanese and Korean included.
//!
//! Outside CJK scripts a word is what tantivy's `SimpleTokenizer` makes: a run of
//! alphanumeric characters. CJK text has no spaces between words, so a run of Han,
//! Hiragana, Katakana or Hangul characters is cut into overlapping pairs of
//! characters (a run of one is one token), as Lucene's CJK analyzer does: a query's
//! pairs then match a document's wherever the same characters stand together, with no
//! dictionary. A script change (`GPU加速`) is a word boundary.
//!
//! In an index made with Chinese words, a text without kana or Hangul is taken for
//! Chinese, and its runs of Han characters are cut into the words of jieba's
//! dictionary instead, in its search mode (`中华人民共和国` gives `中华`, `人民`,
//! `共和国` and the whole name, among others), each at the position of its first
//! character. A Chinese query is searched by its words, and where the index holds
//! Japanese by the Japanese cutting of its runs as well ([`HanQuery`]).
//!
//! In an index made with the MeCab dictionaries (see [`crate::mecab`]), a text with
//! kana is Japanese and its CJK runs are cut into IPADIC's words, and a run with
//! Hangul is Korean and cut into mecab-ko-dic's: each word the dictionary's lowest-cost
//! path gives, less particles, endings, auxiliaries and symbols, as its dictionary
//! form (`住んで` gives `住む`); a Korean compound noun also gives its parts, at its
//! position.

use std::sync::LazyLock;

use jieba_rs::Jieba;
use tantivy::query::Occur;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::char::is_combining_mark;

use crate::mecab::{self, Morphology};

/// jieba with its own dictionary, loaded at the first Chinese run (about a tenth of a
/// second) and shared.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Whether `c` is a Han character (not kana or Hangul).
fn is_han(c: char) -> bool {
    matches!(u32::from(c),
        0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF | 0x20000..=0x323AF)
}

/// Whether `text` is taken for Chinese: it holds no kana and no Hangul.
fn reads_as_chinese(text: &str) -> bool {
    !text.chars().any(|c| is_cjk(c) && !is_han(c))
}

/// The words jieba's search mode finds in a run of Han characters, as (byte start,
/// byte end, index of the first character) within the run.
fn jieba_words(run: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    JIEBA
        .cut_for_search(run, true)
        .into_iter()
        .map(|t| (t.byte_start, t.byte_end, t.start))
}

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

/// The keyword index keeps terms shorter than this many bytes: longer ones are
/// dropped (tantivy's `RemoveLongFilter`).
pub(crate) const MAX_TERM_BYTES: usize = 40;

/// Whether `c` is kana (Hiragana, Katakana, their extensions, halfwidth Katakana).
fn is_kana(c: char) -> bool {
    matches!(u32::from(c), 0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F)
}

/// Whether `c` is Hangul.
fn is_hangul(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF)
}

/// The dictionary that cuts `run`, a run of CJK characters of a text with kana or not
/// (`japanese_text`), as `cutting` allows: Korean for a run with Hangul, Japanese for
/// a run of a Japanese text.
fn run_morphology(
    run: &str,
    japanese_text: bool,
    cutting: Cutting,
) -> Option<(Morphology, &'static mecab::Dictionary)> {
    let language = if cutting.korean_words && run.chars().any(is_hangul) {
        Morphology::Korean
    } else if cutting.japanese_words && japanese_text {
        Morphology::Japanese
    } else {
        return None;
    };
    Some((language, mecab::dictionary(language)?))
}

/// The search terms of one dictionary word (`surface` with its `feature` fields):
/// none for particles, endings, auxiliaries and symbols; the dictionary form of an
/// inflected word; a Korean compound noun and its parts. `push(term, part)`: `part`
/// for a compound's parts, which share its position.
fn morpheme_terms(
    language: Morphology,
    surface: &str,
    feature: &str,
    mut push: impl FnMut(&str, bool),
) {
    let mut fields = feature.split(',');
    let tag = fields.next().unwrap_or("");
    // A character the dictionary does not know the category of (a Han character
    // beyond U+FFFF, which MeCab reads as UCS-2) is tagged a symbol: kept as a word
    // (punctuation, `・` included, is not Han).
    let unknown_han = surface.chars().any(is_han);
    match language {
        Morphology::Japanese => {
            let sub = fields.next().unwrap_or("*");
            let skip = matches!(tag, "助詞" | "助動詞" | "接続詞" | "フィラー" | "その他")
                || (tag == "記号" && !unknown_han)
                || (matches!(tag, "動詞" | "形容詞") && sub == "非自立");
            if !skip {
                // Fields 2 to 5, then the dictionary form.
                let base = fields.nth(4).filter(|b| !b.is_empty() && *b != "*");
                push(base.unwrap_or(surface), false);
            }
        }
        Morphology::Korean => {
            // POS, meaning class, final consonant, reading, type, first POS, last POS,
            // expression (`가/VV/*+았/EP/*`).
            let fields: Vec<&str> = feature.split(',').collect();
            let kind = fields.get(4).copied().unwrap_or("*");
            let parts: Vec<(&str, &str)> = fields
                .get(7)
                .filter(|e| **e != "*")
                .map(|e| {
                    e.split('+')
                        .filter_map(|p| {
                            let mut it = p.split('/');
                            Some((it.next()?, it.next()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let content = |tag: &str| {
                tag.starts_with("NN")
                    || matches!(tag, "NP" | "NR" | "VV" | "VA" | "XR" | "SL" | "SH" | "SN")
            };
            match kind {
                // An inflected or pre-analysed form: its first morpheme is its stem.
                "Inflect" | "Preanalysis" => {
                    if let Some(&(stem, stem_tag)) = parts.first() {
                        if content(stem_tag) && !stem.is_empty() {
                            push(stem, false);
                        }
                    }
                }
                _ if content(tag.split('+').next().unwrap_or(""))
                    || (tag.starts_with('S') && unknown_han) =>
                {
                    push(surface, false);
                    if kind == "Compound" && parts.len() > 1 {
                        for &(part, part_tag) in &parts {
                            if content(part_tag) && !part.is_empty() && part != surface {
                                push(part, true);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The search terms a dictionary makes of `run`, each with its byte range in the run
/// and whether it shares the previous term's position (a compound's part); with
/// `known_only`, of the words the dictionary holds alone (no word made for characters
/// it does not know, which have no reading).
fn dictionary_terms(
    language: Morphology,
    dict: &mecab::Dictionary,
    run: &str,
    known_only: bool,
    mut push: impl FnMut(usize, usize, &str, bool),
) {
    let words = match language {
        Morphology::Japanese => dict.cut_for_search(run),
        Morphology::Korean => dict.cut(run),
    };
    for m in words {
        if known_only && m.feature.split(',').nth(7).is_none_or(|r| r == "*") {
            continue;
        }
        let surface = &run[m.start..m.end];
        morpheme_terms(language, surface, m.feature, |term, part| {
            if term.len() < MAX_TERM_BYTES {
                push(m.start, m.end, term, part);
                return;
            }
            // Too long to be a term (a long run of unknown Katakana taken as one
            // word): its pairs, so that it is still found, as without a dictionary.
            let chars: Vec<(usize, char)> = term.char_indices().collect();
            for (i, pair) in chars.windows(2).enumerate() {
                let (from, (to, last)) = (pair[0].0, pair[1]);
                let pair = &term[from..to + last.len_utf8()];
                push(m.start, m.end, pair, part && i == 0);
            }
        });
    }
}

/// How a query's runs of Han characters are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HanQuery {
    /// As pairs (an index without Chinese words).
    Pairs,
    /// As Chinese words, and as the index's Japanese chunks are cut (pairs, or
    /// IPADIC's words): an index with Chinese words that holds Japanese too.
    PairsAndWords,
    /// As Chinese words (an index with Chinese words and no Japanese).
    Words,
}

/// `text` as a query parser should read it, and the terms to search beside it, each
/// with how it must occur.
///
/// A run of CJK characters is written as its overlapping pairs, apart (`富士山`
/// becomes `富士 士山`): each pair is then a word of its own to a query parser, which
/// would otherwise make the run's pairs a phrase that only the same run matches.
///
/// A run the index cuts with a dictionary (Japanese or Korean, see `cutting`) leaves
/// the text and gives its dictionary terms instead. For a query taken for Chinese, its
/// Han runs are also cut into words as `han` says: with [`HanQuery::PairsAndWords`]
/// the words that are not pairs (one character, or more than two: a pair is in the
/// text already), and where the index cuts Japanese with its dictionary, the run's
/// Japanese words of three characters or more (those IPADIC holds) that jieba did not
/// give; with [`HanQuery::Words`] all of jieba's
/// words, and the runs leave the text.
///
/// A run that leaves the text keeps what the parser would have made of it: after
/// `-` its terms must not occur, after `+` or inside quotes each must (a quoted run is
/// not searched as a phrase), otherwise they should.
pub(crate) fn cjk_pairs_apart(
    text: &str,
    han: HanQuery,
    cutting: Cutting,
) -> (String, Vec<(Occur, String)>) {
    let japanese_text = text.chars().any(is_kana);
    let chinese = han != HanQuery::Pairs && reads_as_chinese(text);
    let mut words: Vec<(Occur, String)> = Vec::new();
    let mut add = |occur: Occur, word: &str, once: bool| {
        if !once || !words.iter().any(|(o, w)| *o == occur && w == word) {
            words.push((occur, word.to_owned()));
        }
    };
    let mut rest_text = String::with_capacity(text.len());
    let mut rest = text;
    let mut quotes = 0;
    while let Some(start) = rest.find(is_cjk) {
        let len = rest[start..]
            .find(|c: char| !is_cjk(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + len];
        let before = &rest[..start];
        quotes += before.matches('"').count();
        rest = &rest[start + len..];
        // The parser's operator for the word the run starts: a sign right before it
        // at the start of a word, or before the quote that opens a phrase with it.
        let mut sign = None;
        let mut signs = before.chars().rev();
        let mut last = signs.next();
        let opens_quote = last == Some('"') && quotes % 2 == 1;
        if opens_quote {
            last = signs.next();
        }
        if let Some(c @ ('-' | '+')) = last {
            if signs.next().is_none_or(char::is_whitespace) {
                sign = Some(c);
            }
        }
        let occur = match sign {
            Some('-') => Occur::MustNot,
            Some(_) => Occur::Must,
            None if quotes % 2 == 1 => Occur::Must,
            None => Occur::Should,
        };
        let leave = |rest_text: &mut String| {
            rest_text.push_str(before);
            if sign.is_some() {
                // The sign goes (the words carry it); an opening quote stays.
                if opens_quote {
                    rest_text.pop();
                }
                rest_text.pop();
                if opens_quote {
                    rest_text.push('"');
                }
            }
            rest_text.push(' ');
        };
        if let Some((language, dict)) = run_morphology(run, japanese_text, cutting) {
            dictionary_terms(language, dict, run, false, |_, _, term, _| {
                add(occur, term, false);
            });
            leave(&mut rest_text);
            continue;
        }
        if !chinese {
            rest_text.push_str(before);
            rest_text.push_str(run);
            continue;
        }
        let all = han == HanQuery::Words;
        let kept = |word: &str| all || word.chars().count() != 2;
        for (from, to, _) in jieba_words(run) {
            if kept(&run[from..to]) {
                add(occur, &run[from..to], false);
            }
        }
        let japanese = if han == HanQuery::PairsAndWords {
            run_morphology(run, true, cutting)
        } else {
            None
        };
        if let Some((language, dict)) = japanese {
            // Words of three characters or more that IPADIC holds (not those it makes
            // of Chinese characters it does not know), less those jieba gave already:
            // a single Kanji would match Chinese chunks' single characters.
            dictionary_terms(language, dict, run, true, |_, _, term, _| {
                if term.chars().count() > 2 {
                    add(occur, term, true);
                }
            });
        }
        if all {
            leave(&mut rest_text);
        } else {
            rest_text.push_str(before);
            rest_text.push_str(run);
        }
    }
    rest_text.push_str(rest);
    (pairs_apart(&rest_text), words)
}

/// The terms that start with a kana character lie between these two (U+3040 and
/// U+3100, UTF-8): an index holds Japanese if it has one.
pub(crate) const KANA_TERMS: (&[u8], &[u8]) = ("\u{3040}".as_bytes(), "\u{3100}".as_bytes());

/// See [`cjk_pairs_apart`]. A `-` or `+` that starts the run's word goes with each of
/// its pairs (`-富士山` becomes `-富士 -士山`).
fn pairs_apart(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_cjk(c) {
            out.push(c);
            continue;
        }
        let mut sign = None;
        let mut before = out.chars().rev();
        if let Some(s @ ('-' | '+')) = before.next() {
            if before.next().is_none_or(char::is_whitespace) {
                sign = Some(s);
                out.pop();
            }
        }
        out.push(' ');
        out.extend(sign);
        let mut prev = c;
        let mut paired = false;
        while let Some(&next) = chars.peek().filter(|&&n| is_cjk(n)) {
            if paired {
                out.push(' ');
                out.extend(sign);
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

/// How an index cuts words beyond what every index with CJK pairs does. Recorded in
/// its manifest: an index keeps the cutting its terms came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cutting {
    /// Text taken for Chinese is cut into dictionary words instead of pairs.
    pub(crate) chinese_words: bool,
    /// Japanese text (text with kana) is cut into IPADIC's words instead of pairs.
    pub(crate) japanese_words: bool,
    /// Korean text (runs with Hangul) is cut into mecab-ko-dic's words instead of
    /// pairs.
    pub(crate) korean_words: bool,
    /// A combining mark (a virama, a tone mark, a combining accent) continues the
    /// word it follows: `हिन्दी` is one word, not `हिन` and `दी`.
    pub(crate) marks_in_words: bool,
}

impl Cutting {
    /// The cutting of new indexes, before the dictionaries found are added.
    pub(crate) const NEW: Cutting = Cutting {
        chinese_words: true,
        japanese_words: false,
        korean_words: false,
        marks_in_words: true,
    };
}

/// The keyword index's tokenizer: see the module documentation.
#[derive(Clone, Default)]
pub(crate) struct WordTokenizer {
    tokens: Vec<Token>,
    cutting: Cutting,
}

impl WordTokenizer {
    /// A tokenizer that cuts words as `cutting` says.
    pub(crate) fn new(cutting: Cutting) -> Self {
        WordTokenizer {
            tokens: Vec::new(),
            cutting,
        }
    }
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
        let tokens = &mut self.tokens;
        let mut position = 0;
        let push_term = |tokens: &mut Vec<Token>, from: usize, to: usize, at: usize, term: &str| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: at,
                text: term.to_owned(),
                position_length: 1,
            });
        };
        let push = |tokens: &mut Vec<Token>, from: usize, to: usize, at: usize| {
            push_term(tokens, from, to, at, &text[from..to]);
        };
        let cutting = self.cutting;
        let chinese = cutting.chinese_words && reads_as_chinese(text);
        let japanese_text = cutting.japanese_words && text.chars().any(is_kana);
        let marks = cutting.marks_in_words;
        let mut chars = text.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if chinese && is_han(c) {
                let mut end = start + c.len_utf8();
                let mut len = 1;
                while let Some(&(at, next)) = chars.peek().filter(|(_, n)| is_han(*n)) {
                    end = at + next.len_utf8();
                    len += 1;
                    chars.next();
                }
                for (from, to, char_index) in jieba_words(&text[start..end]) {
                    push(tokens, start + from, start + to, position + char_index);
                }
                position += len;
            } else if is_cjk(c) {
                let mut end = start + c.len_utf8();
                while let Some(&(at, next)) = chars.peek().filter(|(_, n)| is_cjk(*n)) {
                    end = at + next.len_utf8();
                    chars.next();
                }
                let run = &text[start..end];
                if let Some((language, dict)) = run_morphology(run, japanese_text, cutting) {
                    dictionary_terms(language, dict, run, false, |from, to, term, part| {
                        let at = if part {
                            position.saturating_sub(1)
                        } else {
                            position += 1;
                            position - 1
                        };
                        push_term(tokens, start + from, start + to, at, term);
                    });
                    continue;
                }
                // Pairs of neighbours within the run; a lone character is its own token.
                let mut run_chars = run.char_indices().map(|(i, c)| (start + i, c));
                let Some(mut prev) = run_chars.next() else {
                    continue;
                };
                let mut paired = false;
                for (at, next) in run_chars {
                    push(tokens, prev.0, at + next.len_utf8(), position);
                    position += 1;
                    paired = true;
                    prev = (at, next);
                }
                if !paired {
                    push(tokens, start, end, position);
                    position += 1;
                }
            } else if c.is_alphanumeric() {
                let mut end = start + c.len_utf8();
                while let Some(&(at, next)) = chars.peek() {
                    let in_word = next.is_alphanumeric() || (marks && is_combining_mark(next));
                    if !in_word || is_cjk(next) {
                        break;
                    }
                    end = at + next.len_utf8();
                    chars.next();
                }
                push(tokens, start, end, position);
                position += 1;
            }
        }
        WordStream { tokens, next: 0 }
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

    /// [`cjk_pairs_apart`], with its words, which must all be optional.
    fn should_words(text: &str, han: HanQuery, cutting: Cutting) -> (String, Vec<String>) {
        let (text, words) = cjk_pairs_apart(text, han, cutting);
        let words = words
            .into_iter()
            .map(|(occur, word)| {
                assert_eq!(occur, Occur::Should, "{word}");
                word
            })
            .collect();
        (text, words)
    }

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

    fn words_with(chinese_words: bool, text: &str) -> Vec<(String, usize)> {
        terms_with(
            Cutting {
                chinese_words,
                ..Cutting::NEW
            },
            text,
        )
    }

    #[test]
    fn chinese_is_cut_into_dictionary_words_and_japanese_stays_pairs() {
        let texts = |tokens: Vec<(String, usize)>| -> Vec<String> {
            tokens.into_iter().map(|(t, _)| t).collect()
        };
        // Search mode: the long word and the dictionary words inside it.
        let zh = words_with(true, "中华人民共和国成立了");
        assert!(
            texts(zh.clone()).contains(&"中华人民共和国".to_owned()),
            "{zh:?}"
        );
        assert!(texts(zh.clone()).contains(&"共和国".to_owned()), "{zh:?}");
        assert!(!texts(zh.clone()).contains(&"民共".to_owned()), "{zh:?}");
        // A word stands at its first character; English words follow the run.
        let mixed = words_with(true, "用GPU训练模型");
        assert!(mixed.contains(&("gpu".to_owned(), 1)) || mixed.contains(&("GPU".to_owned(), 1)));
        assert!(mixed.contains(&("模型".to_owned(), 4)), "{mixed:?}");
        // Kana makes the text Japanese: without its dictionary, Kanji runs stay pairs.
        assert_eq!(
            texts(words_with(true, "機械学習は面白い")),
            ["機械", "械学", "学習", "習は", "は面", "面白", "白い"]
        );
        // Without Chinese words (an index made before), Chinese is pairs.
        assert_eq!(texts(words_with(false, "学习")), ["学习"]);
        assert_eq!(
            texts(words_with(false, "机器学习")),
            ["机器", "器学", "学习"]
        );
    }

    #[test]
    fn combining_marks_continue_their_word() {
        let texts = |marks_in_words: bool, text: &str| -> Vec<String> {
            let mut t = WordTokenizer::new(Cutting {
                marks_in_words,
                ..Cutting::NEW
            });
            let mut s = t.token_stream(text);
            let mut out = Vec::new();
            while s.advance() {
                out.push(s.token().text.clone());
            }
            out
        };
        // A virama (U+094D), a Thai tone mark, a combining acute accent.
        assert_eq!(texts(true, "हिन्दी भाषा"), ["हिन्दी", "भाषा"]);
        assert_eq!(texts(true, "ไม่ใช่"), ["ไม่ใช่"]);
        assert_eq!(
            texts(true, "cafe\u{301} au lait"),
            ["cafe\u{301}", "au", "lait"]
        );
        // A mark alone starts no word.
        assert_eq!(texts(true, "\u{301}x"), ["x"]);
        // Indexes made before cut words at marks.
        assert_eq!(texts(false, "हिन्दी"), ["हिन", "दी"]);
    }

    #[test]
    fn a_chinese_query_is_searched_by_its_words() {
        let (text, words) = should_words("中华人民共和国 GPU", HanQuery::Words, Cutting::NEW);
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["GPU"]);
        assert!(words.contains(&"中华人民共和国".to_owned()) && words.contains(&"人民".to_owned()));
        // Beside Japanese chunks, the pairs stay for them and the words that are not
        // pairs are added.
        let (text, words) = should_words("共和国", HanQuery::PairsAndWords, Cutting::NEW);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["共和", "和国"]
        );
        assert_eq!(words, ["共和国"]);
        assert!(words.iter().all(|w| w.chars().count() != 2), "{words:?}");
        // A query with kana is Japanese: pairs alone.
        let (text, words) = should_words("富士山に登る", HanQuery::Words, Cutting::NEW);
        assert_eq!(text.split_whitespace().count(), 5);
        assert!(words.is_empty());
        assert_eq!(
            cjk_pairs_apart("机器学习", HanQuery::Pairs, Cutting::NEW),
            (
                cjk_pairs_apart("机器学习", HanQuery::Pairs, Cutting::NEW).0,
                Vec::new()
            )
        );
    }

    #[test]
    fn a_query_gets_its_cjk_pairs_apart() {
        assert_eq!(
            cjk_pairs_apart("富士山", HanQuery::Pairs, Cutting::NEW)
                .0
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["富士", "士山"]
        );
        assert_eq!(
            cjk_pairs_apart("GPU加速 the 山", HanQuery::Pairs, Cutting::NEW)
                .0
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["GPU", "加速", "the", "山"]
        );
        // Each pair alone is what the tokenizer makes of the run.
        let apart = cjk_pairs_apart("変換してプリティ", HanQuery::Pairs, Cutting::NEW).0;
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

    /// The cutting of a new index where both dictionaries are, which the test
    /// checks: `models/fetch.sh` puts them there.
    fn with_dictionaries() -> Cutting {
        for language in [Morphology::Japanese, Morphology::Korean] {
            assert!(
                mecab::dictionary(language).is_some(),
                "no {} dictionary in {:?}: run models/fetch.sh",
                language.dictionary_name(),
                mecab::dictionaries_dir()
            );
        }
        Cutting {
            japanese_words: true,
            korean_words: true,
            ..Cutting::NEW
        }
    }

    fn terms_with(cutting: Cutting, text: &str) -> Vec<(String, usize)> {
        let mut t = WordTokenizer::new(cutting);
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push((s.token().text.clone(), s.token().position));
        }
        out
    }

    #[test]
    fn japanese_and_korean_are_cut_into_their_dictionaries_words() {
        let cutting = with_dictionaries();
        let texts = |text| -> Vec<String> {
            terms_with(cutting, text)
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        // Particles, auxiliaries and punctuation go; verbs take their dictionary form.
        assert_eq!(
            texts("東京都に住んでいます。富士山に登った。GPUを使う"),
            ["東京", "都", "住む", "富士山", "登る", "GPU", "使う"]
        );
        // Korean: particles and endings go, a verb keeps its stem, a compound noun
        // gives its parts at its own position.
        let korean = terms_with(cutting, "형태소 분석기를 사용합니다. 공원에서 놀았다.");
        let terms: Vec<&str> = korean.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            terms,
            [
                "형태소",
                "형태",
                "소",
                "분석기",
                "분석",
                "기",
                "사용",
                "공원",
                "놀"
            ]
        );
        let positions: Vec<usize> = korean.iter().map(|&(_, p)| p).collect();
        assert_eq!(positions, [0, 0, 0, 1, 1, 1, 2, 3, 4]);
        // Chinese (no kana) is still jieba's, and without the dictionaries Japanese
        // and Korean are pairs.
        assert_eq!(
            terms_with(cutting, "神经网络"),
            terms_with(Cutting::NEW, "神经网络")
        );
        assert!(texts("神经网络").contains(&"神经网络".to_owned()));
        assert_eq!(
            terms_with(Cutting::NEW, "公園で"),
            [("公園".to_owned(), 0), ("園で".to_owned(), 1)]
        );
    }

    #[test]
    fn a_japanese_or_korean_query_is_searched_by_its_dictionary_terms() {
        let cutting = with_dictionaries();
        let (text, words) = should_words("富士山に登る GPU", HanQuery::Words, cutting);
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["GPU"]);
        assert_eq!(words, ["富士山", "登る"]);
        let (text, words) = should_words("공원에서 산책", HanQuery::Pairs, cutting);
        assert!(text.trim().is_empty(), "{text:?}");
        assert_eq!(words, ["공원", "산책"]);
        // A Chinese query beside Japanese cut by IPADIC: jieba's words and IPADIC's
        // that jieba did not give (Kanji written as Japanese: 図書館 is no word of
        // jieba's), each once; the two-character ones are the pairs in the text.
        let (text, words) = should_words("国立図書館", HanQuery::PairsAndWords, cutting);
        assert_eq!(text.split_whitespace().count(), 4, "{text:?}");
        assert!(words.contains(&"図書館".to_owned()), "{words:?}");
        let mut unique = words.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), words.len(), "{words:?}");
        let (_, words) = should_words("国立図書館", HanQuery::Words, cutting);
        assert!(!words.contains(&"図書館".to_owned()), "{words:?}");
        let (text, words) = should_words("和服", HanQuery::PairsAndWords, cutting);
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["和服"]);
        assert!(words.is_empty(), "{words:?}");
    }

    #[test]
    fn a_sign_or_quotes_before_a_cjk_run_keep_their_meaning() {
        // Pairs take the run's sign.
        let (text, _) = cjk_pairs_apart("大阪 -富士山", HanQuery::Pairs, Cutting::NEW);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["大阪", "-富士", "-士山"]
        );
        let (text, _) = cjk_pairs_apart("a-富士", HanQuery::Pairs, Cutting::NEW);
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["a-", "富士"]);
        // Dictionary words take it as how they occur; quotes make each required.
        let cutting = with_dictionaries();
        let (text, words) = cjk_pairs_apart(
            "大阪に -東京都 +공원 \"富士山に登る\"",
            HanQuery::Pairs,
            cutting,
        );
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["\"", "\""]);
        let of = |occur| -> Vec<&str> {
            words
                .iter()
                .filter(|(o, _)| *o == occur)
                .map(|(_, w)| w.as_str())
                .collect()
        };
        assert_eq!(of(Occur::Should), ["大阪"]);
        assert_eq!(of(Occur::MustNot), ["東京", "都"]);
        assert_eq!(of(Occur::Must), ["공원", "富士山", "登る"]);
    }
}
