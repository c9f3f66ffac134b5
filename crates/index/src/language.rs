//! The keyword index's text analysis, chosen per index.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::tokenize::WordTokenizer;
use tantivy::tokenizer::{
    Language as Stem, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer, Tokenizer,
};

macro_rules! languages {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// Language of the keyword (BM25) analyzer: lower-casing, that language's stop
        /// words where tantivy has a list, and its Snowball stemmer. `Plain` only
        /// lower-cases (for code, identifiers, or languages without a stemmer).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        #[non_exhaustive]
        pub enum Language {
            /// English (the default).
            #[default]
            English,
            $(
                #[doc = $name]
                $variant,
            )*
            /// No stemming or stop words; lower-casing only.
            Plain,
        }

        impl Language {
            /// Every language, for listings.
            pub const ALL: &'static [Language] = &[Language::English, $(Language::$variant,)* Language::Plain];

            fn stem(self) -> Option<Stem> {
                match self {
                    Language::English => Some(Stem::English),
                    $(Language::$variant => Some(Stem::$variant),)*
                    Language::Plain => None,
                }
            }

            /// Lowercase name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    Language::English => "english",
                    $(Language::$variant => $name,)*
                    Language::Plain => "plain",
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

impl Language {
    /// The tantivy analyzer for this language.
    /// The analyzer of an index in this language. `cjk_words`: Chinese, Japanese and
    /// Korean are cut into pairs of characters (see `tokenize.rs`); indexes made
    /// before that keep tantivy's simple tokenizer, which their terms came from.
    pub(crate) fn analyzer(self, cjk_words: bool) -> TextAnalyzer {
        if cjk_words {
            self.analyzer_with(WordTokenizer::default())
        } else {
            self.analyzer_with(SimpleTokenizer::default())
        }
    }

    fn analyzer_with<T: Tokenizer>(self, tokenizer: T) -> TextAnalyzer {
        let base = TextAnalyzer::builder(tokenizer)
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser);
        let Some(stem) = self.stem() else {
            return base.build();
        };
        match StopWordFilter::new(stem) {
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
    use tantivy::tokenizer::TokenStream;

    fn tokens(lang: Language, text: &str) -> Vec<String> {
        let mut a = lang.analyzer(true);
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
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
    fn names_round_trip() {
        for l in Language::ALL {
            assert_eq!(l.as_str().parse::<Language>().unwrap(), *l);
        }
        assert!("klingon".parse::<Language>().is_err());
    }
}
