//! The keyword index's text analysis, chosen per index.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::tokenize::{Cutting, WordTokenizer};
use tantivy::tokenizer::{
    Language as Stem, LowerCaser, PreTokenizedString, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer, TokenStream as _, Tokenizer,
};

macro_rules! languages {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// Language of the keyword (BM25) analyzer: lower-casing, that language's stop
        /// words where tantivy has a list, and its Snowball stemmer. `Plain` only
        /// lower-cases (for code, identifiers, or languages without a stemmer). `Auto`
        /// detects each chunk's language ([`Language::detect`]) and analyzes it as
        /// that language, and a query as each language the index holds.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
        )]
        #[serde(rename_all = "lowercase")]
        #[non_exhaustive]
        pub enum Language {
            /// English.
            English,
            $(
                #[doc = $name]
                $variant,
            )*
            /// No stemming or stop words; lower-casing only.
            Plain,
            /// Each chunk in the language detected in it (the default).
            #[default]
            Auto,
        }

        impl Language {
            /// Every language, for listings.
            pub const ALL: &'static [Language] =
                &[Language::English, $(Language::$variant,)* Language::Plain, Language::Auto];

            fn stem(self) -> Option<Stem> {
                match self {
                    Language::English => Some(Stem::English),
                    $(Language::$variant => Some(Stem::$variant),)*
                    Language::Plain | Language::Auto => None,
                }
            }

            /// Lowercase name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    Language::English => "english",
                    $(Language::$variant => $name,)*
                    Language::Plain => "plain",
                    Language::Auto => "auto",
                }
            }
        }
    };
}

languages! {
    Arabic => "arabic", Danish => "danish", Dutch => "dutch", Finnish => "finnish",
    French => "french", German => "german", Greek => "greek", Hungarian => "hungarian",
    Italian => "italian", Norwegian => "norwegian", Portuguese => "portuguese",
    Romanian => "romanian", Russian => "russian", Spanish => "spanish", Swedish => "swedish",
    Tamil => "tamil", Turkish => "turkish",
}

/// Confidence (0 to 1) at which whatlang's detector is taken for a language without a
/// list of stop words (its own threshold of "reliable"). Below it, code, tables and
/// technical English are taken for French, Italian or Danish.
const SURE_CONFIDENCE: f64 = 0.9;

/// Stop words of one language a text needs before they name its language.
const STOP_WORDS_MIN: usize = 3;

/// Share of a text's words that must be one language's stop words: prose in any
/// language runs at 25 to 50%; code, tables and lists of names far below.
const STOP_WORDS_SHARE: f64 = 0.1;

/// Characters of a text that language detection reads: enough for a reliable guess,
/// and a bound on its cost for a long text.
const DETECT_CHARS: usize = 2000;

/// The start of `text` that language detection reads ([`DETECT_CHARS`]).
fn detect_window(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(DETECT_CHARS)
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// The languages with a list of stop words (tantivy's), each with its filter, in
/// [`Language::ALL`] order: built once.
fn stop_word_lists() -> &'static [(Language, StopWordFilter)] {
    static LISTS: std::sync::LazyLock<Vec<(Language, StopWordFilter)>> =
        std::sync::LazyLock::new(|| {
            Language::ALL
                .iter()
                .filter_map(|&l| Some((l, StopWordFilter::new(l.stem()?)?)))
                .collect()
        });
    &LISTS
}

/// Words whose [`stop_word_mask`] is kept: enough for the words a corpus repeats,
/// a bound on memory for the rest.
const STOP_MASK_CACHE: usize = 1 << 16;

/// The lists of [`stop_word_lists`] that hold lower-cased `word`, a bit per list.
/// tantivy's lists are private, so a word is put to each filter once and the answer
/// kept: detection then costs a lookup per word, not a pass over the text per language.
fn stop_word_mask(word: &str) -> u32 {
    static MASKS: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<String, u32>>> =
        std::sync::LazyLock::new(Default::default);
    if let Some(&mask) = MASKS
        .read()
        .ok()
        .and_then(|m| m.get(word).copied())
        .as_ref()
    {
        return mask;
    }
    let mut mask = 0u32;
    for (i, (_, filter)) in stop_word_lists().iter().enumerate() {
        let mut one = TextAnalyzer::builder(RawTokenizer::default())
            .filter(filter.clone())
            .build();
        if !one.token_stream(word).advance() {
            mask |= 1 << i;
        }
    }
    if let Ok(mut masks) = MASKS.write() {
        if masks.len() < STOP_MASK_CACHE {
            masks.insert(word.to_owned(), mask);
        }
    }
    mask
}

/// The languages [`Language::detect`] chooses among: those with a stemmer, and
/// Ukrainian and the CJK languages, told apart by their letters. A text in another
/// language of the same script is read as the closest of these (consistently, so its
/// chunks and queries still meet); one in another script has none.
/// Bulgarian is left out: the detector takes short Russian passages for it.
static DETECTOR: std::sync::LazyLock<whatlang::Detector> = std::sync::LazyLock::new(|| {
    use whatlang::Lang;
    whatlang::Detector::with_allowlist(vec![
        Lang::Eng,
        Lang::Ara,
        Lang::Dan,
        Lang::Nld,
        Lang::Fin,
        Lang::Fra,
        Lang::Deu,
        Lang::Ell,
        Lang::Hun,
        Lang::Ita,
        Lang::Nob,
        Lang::Por,
        Lang::Ron,
        Lang::Rus,
        Lang::Spa,
        Lang::Swe,
        Lang::Tam,
        Lang::Tur,
        Lang::Ukr,
        Lang::Cmn,
        Lang::Jpn,
        Lang::Kor,
    ])
});

impl Language {
    /// The language of `text`, among those with an analyzer of their own; `None`
    /// for another language (Chinese, Japanese and Korean among them: their analyzer
    /// is the same character pairs whatever the language), for text that is not prose
    /// (code, tables), or too little text to tell.
    ///
    /// A language with a list of stop words is named by them: at least a tenth of
    /// the text's words of two letters or more must be its stop words, and clearly
    /// more than any other language's. Letter trigrams alone
    /// (whatlang) take code and technical English for French or Danish, and short
    /// English for Danish; "the", "and", "of" cannot be mistaken. The other languages
    /// (Arabic, Greek, Romanian, Tamil, Turkish) are taken from whatlang's detector
    /// when it is sure. Where the stop words and a sure detector disagree, the text is
    /// most often code or a table, and no language is named.
    #[must_use]
    pub fn detect(text: &str) -> Option<Language> {
        let text = detect_window(text);
        Language::detect_with(text, Language::by_stop_words(text))
    }

    /// [`Language::detect`] on a text already cut to its detection window, given the
    /// language its stop words name.
    fn detect_with(text: &str, by_stop_words: Option<Language>) -> Option<Language> {
        let (letters, others) =
            text.chars()
                .filter(|c| !c.is_whitespace())
                .fold((0usize, 0usize), |(l, o), c| {
                    if c.is_alphabetic() {
                        (l + 1, o)
                    } else {
                        (l, o + 1)
                    }
                });
        // Letter trigrams of a text mostly of rules, digits or symbols (a drawn table)
        // name a language with full confidence all the same.
        let sure = (letters > others)
            .then(|| DETECTOR.detect(text))
            .flatten()
            .filter(|info| info.confidence() >= SURE_CONFIDENCE)
            .map(|info| Language::of_whatlang(info.lang()));
        match (by_stop_words, sure) {
            // Stop words and a sure detector disagree: code or a table, most often.
            (Some(by_stop_words), Some(by_trigrams)) if by_trigrams != Some(by_stop_words) => None,
            (Some(by_stop_words), _) => Some(by_stop_words),
            (None, Some(Some(language))) if language.stop_words().is_none() => Some(language),
            _ => None,
        }
    }

    /// The analyzer language of a chunk of an `auto` index: the detected one, else
    /// English, whose stemmer and stop words leave other languages' words alone
    /// (and CJK text is cut into pairs whatever the language).
    pub(crate) fn of_chunk(text: &str) -> Language {
        let text = detect_window(text);
        match Language::by_stop_words(text) {
            // Named English, or named nothing where the trigrams disagree: English
            // either way, so the trigrams need not be counted.
            Some(Language::English) => Language::English,
            by_stop_words => {
                Language::detect_with(text, by_stop_words).unwrap_or(Language::English)
            }
        }
    }

    fn of_whatlang(lang: whatlang::Lang) -> Option<Language> {
        use whatlang::Lang;
        Some(match lang {
            Lang::Eng => Language::English,
            Lang::Ara => Language::Arabic,
            Lang::Dan => Language::Danish,
            Lang::Nld => Language::Dutch,
            Lang::Fin => Language::Finnish,
            Lang::Fra => Language::French,
            Lang::Deu => Language::German,
            Lang::Ell => Language::Greek,
            Lang::Hun => Language::Hungarian,
            Lang::Ita => Language::Italian,
            Lang::Nob => Language::Norwegian,
            Lang::Por => Language::Portuguese,
            Lang::Ron => Language::Romanian,
            Lang::Rus => Language::Russian,
            Lang::Spa => Language::Spanish,
            Lang::Swe => Language::Swedish,
            Lang::Tam => Language::Tamil,
            Lang::Tur => Language::Turkish,
            _ => return None,
        })
    }

    /// The language whose stop words (tantivy's lists) are most of `text`'s words of
    /// two letters or more, if they are at least [`STOP_WORDS_MIN`] and
    /// [`STOP_WORDS_SHARE`] of them, and half as many again as any other language's.
    fn by_stop_words(text: &str) -> Option<Language> {
        let lists = stop_word_lists();
        let mut counts: Vec<(usize, Language)> = lists.iter().map(|(l, _)| (0, *l)).collect();
        let mut words = 0usize;
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build();
        let mut stream = plain.token_stream(text);
        while stream.advance() {
            let word = &stream.token().text;
            if word.chars().nth(1).is_none() {
                continue;
            }
            words += 1;
            let mut mask = stop_word_mask(word);
            while mask != 0 {
                counts[mask.trailing_zeros() as usize].0 += 1;
                mask &= mask - 1;
            }
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        #[allow(clippy::cast_precision_loss)]
        let share = |n: usize| n as f64 / words.max(1) as f64;
        match counts[..] {
            [(best, language), (second, _), ..]
                if best >= STOP_WORDS_MIN
                    && share(best) >= STOP_WORDS_SHARE
                    && best * 2 >= second * 3 =>
            {
                Some(language)
            }
            _ => None,
        }
    }

    /// The analyzer of an index in this language. `cjk_words`: Chinese, Japanese and
    /// Korean are cut into pairs of characters, or into dictionary words as `cutting`
    /// says (jieba's for Chinese, MeCab's for Japanese and Korean; see `tokenize.rs`);
    /// indexes made before keep the tokenizer their terms came from.
    pub(crate) fn analyzer(self, cjk_words: bool, cutting: Cutting) -> TextAnalyzer {
        if cjk_words {
            self.analyzer_with(WordTokenizer::new(cutting))
        } else {
            self.analyzer_with(SimpleTokenizer::default())
        }
    }

    /// `text` analyzed as this language, for a field of an `auto` index (whose
    /// registered analyzer is not the chunk's).
    pub(crate) fn pre_tokenized(self, text: String, cutting: Cutting) -> PreTokenizedString {
        let mut analyzer = self.auto_analyzer(cutting);
        let mut tokens = Vec::new();
        let mut stream = analyzer.token_stream(&text);
        while stream.advance() {
            tokens.push(stream.token().clone());
        }
        drop(stream);
        PreTokenizedString { text, tokens }
    }

    /// The analyzer of a chunk, or of a reading of a query, in this language in an
    /// `auto` index: this language's, with English stop words dropped as well. A
    /// query read in another language than its own keeps its stop words, and they
    /// would match English text taken for that language; in other languages the
    /// words of that list are function words too.
    pub(crate) fn auto_analyzer(self, cutting: Cutting) -> TextAnalyzer {
        self.auto_query_analyzer(&[], cutting)
    }

    /// [`Language::auto_analyzer`] for reading a query in an `auto` index that holds
    /// chunks in `held` languages, whose stop words it drops too: a French query read
    /// as English would otherwise keep "de" and "avec", which French text taken for
    /// English is full of. (Chunks keep them: the languages an index holds change as
    /// it grows, and a query only drops words.)
    pub(crate) fn auto_query_analyzer(self, held: &[Language], cutting: Cutting) -> TextAnalyzer {
        let mut builder = TextAnalyzer::builder(WordTokenizer::new(cutting))
            .filter(RemoveLongFilter::limit(crate::tokenize::MAX_TERM_BYTES))
            .filter(LowerCaser)
            .dynamic();
        if let Some(english) = Language::English.stop_words() {
            builder = builder.filter_dynamic(english);
        }
        for other in held
            .iter()
            .filter(|&&l| l != self && l != Language::English)
        {
            if let Some(stop) = other.stop_words() {
                builder = builder.filter_dynamic(stop);
            }
        }
        if let Some(stem) = self.stem() {
            if let Some(stop) = self.stop_words() {
                builder = builder.filter_dynamic(stop);
            }
            builder = builder.filter_dynamic(Stemmer::new(stem));
        }
        builder.build()
    }

    /// This language's stop words (tantivy's list), if it has one: built once, and
    /// shared (a filter is a reference to its set).
    fn stop_words(self) -> Option<StopWordFilter> {
        stop_word_lists()
            .iter()
            .find(|(l, _)| *l == self)
            .map(|(_, stop)| stop.clone())
    }

    fn analyzer_with<T: Tokenizer>(self, tokenizer: T) -> TextAnalyzer {
        let base = TextAnalyzer::builder(tokenizer)
            .filter(RemoveLongFilter::limit(crate::tokenize::MAX_TERM_BYTES))
            .filter(LowerCaser);
        let Some(stem) = self.stem() else {
            return base.build();
        };
        match self.stop_words() {
            Some(stop) => base.filter(stop).filter(Stemmer::new(stem)).build(),
            None => base.filter(Stemmer::new(stem)).build(),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Language::ALL
            .iter()
            .copied()
            .find(|l| l.as_str() == s || (s == "en" && *l == Language::English))
            .ok_or_else(|| {
                let names: Vec<_> = Language::ALL.iter().map(|l| l.as_str()).collect();
                format!("unknown language {s:?} (one of {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(lang: Language, text: &str) -> Vec<String> {
        let mut a = lang.analyzer(true, Cutting::default());
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn a_words_stop_word_mask_names_the_lists_that_hold_it() {
        let holding = |word: &str| -> Vec<Language> {
            let mask = stop_word_mask(word);
            stop_word_lists()
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, (l, _))| *l)
                .collect()
        };
        assert_eq!(holding("the"), [Language::English]);
        assert!(
            holding("und").contains(&Language::German),
            "{:?}",
            holding("und")
        );
        assert!(holding("de").contains(&Language::French));
        assert!(holding("de").contains(&Language::Spanish));
        assert!(holding("lighthouse").is_empty());
        // The second answer comes from the cache, and is the same.
        assert_eq!(holding("the"), [Language::English]);
    }

    #[test]
    fn english_stems_and_drops_stop_words() {
        assert_eq!(
            tokens(Language::English, "The Runners were running"),
            ["runner", "were", "run"]
        );
    }

    #[test]
    fn german_and_plain_differ_from_english() {
        assert_eq!(tokens(Language::German, "die Häuser"), ["haus"]);
        assert_eq!(tokens(Language::Plain, "The Runners"), ["the", "runners"]);
    }

    #[test]
    fn detects_the_language_of_a_passage() {
        let cases = [
            (
                "The committee approved the budget for the new library after a long debate \
                 about opening hours.",
                Language::English,
            ),
            (
                "Die Bibliothek öffnet am Montag wieder, nachdem das Dach repariert wurde \
                 und die Bücher zurück sind.",
                Language::German,
            ),
            (
                "La réunion du conseil municipal est reportée à jeudi prochain à cause de \
                 la grève des transports.",
                Language::French,
            ),
            (
                "Библиотека снова открыта после ремонта крыши, и все книги вернулись на \
                 свои места.",
                Language::Russian,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Language::detect(text), Some(expected), "{text}");
        }
        for text in [
            "图书馆在屋顶修好以后重新开放了，所有的书都回来了。",
            "",
            "42",
        ] {
            assert_eq!(Language::detect(text), None, "{text}");
            assert_eq!(Language::of_chunk(text), Language::English, "{text}");
        }
    }

    #[test]
    fn names_round_trip() {
        for l in Language::ALL {
            assert_eq!(l.as_str().parse::<Language>().unwrap(), *l);
        }
        assert!("klingon".parse::<Language>().is_err());
    }
}
