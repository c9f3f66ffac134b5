//! Fusing the ranked lists of the two retrievers into one.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use trawl_index::Scored;

use crate::embed::TokenStats;

/// The constant in reciprocal-rank fusion, from Cormack et al. (2009).
pub const RRF_K: f32 = 60.0;

/// The constants of [`QuerySignals::unread`], studied with
/// `benches/quality/learn_fusion.py --rule structured` on 24 sets in 9 languages
/// (English, German, French, Spanish, Russian, Ukrainian, Japanese, Chinese, Korean),
/// each family of sets left out in turn. The logistic fitted on all of them (1.465,
/// -1.351) also lifts Spanish and French, at a cost of up to 0.01 on English
/// question sets; this steeper one leaves every English set as it was (under 0.002
/// at three characters a token) and still gives half the weight back at about one.
pub const UNREAD_BIAS: f32 = 4.0;
/// See [`UNREAD_BIAS`].
pub const UNREAD_SLOPE: f32 = -3.5;

/// Where the adaptive fusion's IDF factor starts to fade: from this keyword coverage up
/// to [`FADE_IDF_TO`], the factor moves linearly back to 1. A best keyword match that
/// scores near the most the query's terms can score (each of them in it, repeated or in
/// a short chunk) has found the query's words, common or not (a short keyword query
/// such as an index entry, "process id of parent"). BM25 reaches a coverage of about
/// 0.45 for each term once in a chunk of average length. Chosen by leaving each family of sets out in turn from a grid of
/// 0.4-0.6 by 0.8-1 (`benches/quality`; see docs/benchmarks.md, "Questions, and keyword
/// queries a chunk holds whole").
pub const FADE_IDF_FROM: f32 = 0.6;
/// See [`FADE_IDF_FROM`].
pub const FADE_IDF_TO: f32 = 1.0;

/// Words that open an English question: an interrogative or an auxiliary verb put first
/// ("how do I ...", "does SQLite support ...", "is a tomato a fruit"), with their common
/// contractions. See [`is_question`]. `benches/quality/learn_fusion.py` keeps a copy for
/// replaying dumps.
pub const QUESTION_WORDS: &[&str] = &[
    "am",
    "are",
    "aren't",
    "can",
    "can't",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "don't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "how",
    "how's",
    "is",
    "isn't",
    "should",
    "shouldn't",
    "was",
    "wasn't",
    "were",
    "weren't",
    "what",
    "what's",
    "when",
    "when's",
    "where",
    "where's",
    "which",
    "who",
    "who's",
    "whom",
    "whose",
    "why",
    "why's",
    "will",
    "won't",
    "would",
    "wouldn't",
];

/// Whether `query` is put as a question: it ends in a question mark (`?`, the full-width
/// `？` or the Arabic `؟`, closing quotes and brackets aside), or its first word is one
/// of [`QUESTION_WORDS`] (a question typed without its mark, as search boxes get them).
/// A word runs over letters, digits, `_`, `-` and apostrophes, so `is_active` or
/// `how-to` is not a question word. A statement that opens with one ("When called with
/// no arguments, ...") is taken for a question too.
#[must_use]
pub fn is_question(query: &str) -> bool {
    let closing = |c: char| c.is_whitespace() || "\"')]}»”’」』）".contains(c);
    if query.trim_end_matches(closing).ends_with(['?', '？', '؟']) {
        return true;
    }
    let in_word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '\'' | '’');
    let rest = query.trim_start_matches(|c: char| !c.is_alphanumeric());
    let end = rest.find(|c: char| !in_word(c)).unwrap_or(rest.len());
    let first = rest[..end].trim_end_matches(['\'', '’']);
    // The longest question word ("shouldn't", "wouldn't") has 9 characters.
    first.chars().nth(9).is_none()
        && QUESTION_WORDS.contains(&first.replace('’', "'").to_lowercase().as_str())
}

/// How raw scores are put on one scale before a convex combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// `(s - min) / (max - min)` over the candidate list.
    MinMax,
    /// `(s - mean) / stddev` over the candidate list.
    ZScore,
}

/// What a hybrid search knows about a query besides its two candidate lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuerySignals {
    /// The keyword top score over the best score the query's terms could reach
    /// (see `trawl_index::KeywordSignals::coverage`): low when the best keyword match
    /// shares little of the query's informative vocabulary.
    pub keyword_coverage: f32,
    /// The mean IDF of the query's terms in the collection (see
    /// `trawl_index::KeywordSignals::mean_idf`): low when every term is common there.
    pub keyword_mean_idf: f32,
    /// How the embedding model's tokenizer reads the query (`None`: not known). Few
    /// characters per token mean text the model was not trained to read (see
    /// [`QuerySignals::unread`]).
    pub query_tokens: Option<TokenStats>,
    /// Whether the query is put as a question ([`is_question`]). An answer seldom
    /// repeats the everyday words a question is framed in, so the adaptive fusion's IDF
    /// factor is squared for one.
    pub question: bool,
}

impl QuerySignals {
    /// The signals of the index's keyword statistics.
    #[must_use]
    pub fn from_keyword(signals: trawl_index::KeywordSignals) -> Self {
        QuerySignals {
            keyword_coverage: signals.coverage,
            keyword_mean_idf: signals.mean_idf,
            query_tokens: None,
            question: false,
        }
    }

    /// These signals with what the query's own text shows (whether it is a question).
    #[must_use]
    pub fn with_query(self, query: &str) -> Self {
        QuerySignals {
            question: is_question(query),
            ..self
        }
    }

    /// How far the embedding model fails to read the query, 0 to 1: a logistic in its
    /// characters per token, `1 / (1 + exp(-(UNREAD_BIAS + UNREAD_SLOPE * chars per
    /// token)))`. Nothing for English read by an English model (about 4 characters a
    /// token), about 0.55 for Russian or Japanese read by it (about 1.1), and 0 when
    /// the query's tokens are not known.
    #[must_use]
    pub fn unread(&self) -> f32 {
        match self.query_tokens.and_then(|t| t.chars_per_token()) {
            Some(cpt) => 1.0 / (1.0 + (-(UNREAD_BIAS + UNREAD_SLOPE * cpt)).exp()),
            None => 0.0,
        }
    }

    /// These signals with what the model's tokenizer makes of the query.
    #[must_use]
    pub fn with_tokens(self, query_tokens: Option<TokenStats>) -> Self {
        QuerySignals {
            query_tokens,
            ..self
        }
    }
}

/// Nothing known: full coverage and rare terms, so an adaptive fusion keeps its full
/// keyword weight.
impl Default for QuerySignals {
    fn default() -> Self {
        QuerySignals {
            keyword_coverage: 1.0,
            keyword_mean_idf: f32::INFINITY,
            query_tokens: None,
            question: false,
        }
    }
}

/// How a hybrid search combines the dense and keyword candidate lists.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// The default: a z-score convex combination whose keyword weight adapts per
    /// query: `keyword_weight * min(1, coverage / full_coverage) * min(1, mean_idf /
    /// full_idf)`, from [`QuerySignals`]. BM25 gets its full weight when its best match
    /// covers the query's informative terms and those terms are rare enough in the
    /// collection to tell chunks apart. Its weight falls towards zero when it matches
    /// little of them (a vocabulary mismatch), and in proportion when the query is
    /// made of words common in the collection (a question asked in the collection's
    /// everyday vocabulary), where dense retrieval is the one to trust. For a question
    /// ([`QuerySignals::question`]) the IDF factor is squared: a claim, a title or a
    /// description shares its words with the text about it, but an answer seldom
    /// repeats the common words its question is framed in. The IDF factor fades back
    /// to 1 as coverage rises from [`FADE_IDF_FROM`] to [`FADE_IDF_TO`]: a best match
    /// that scores near the most the query's terms can score has found them, common or
    /// not. Last, the weight moves towards 1 as far as the model does not read the
    /// query ([`QuerySignals::unread`]).
    Adaptive {
        /// Keyword weight at full coverage and specificity.
        keyword_weight: f32,
        /// Coverage at and above which the keyword list gets its full weight (0: no
        /// coverage factor).
        full_coverage: f32,
        /// Mean term IDF at and above which the keyword list gets its full weight (0:
        /// no IDF factor).
        full_idf: f32,
    },
    /// Reciprocal-rank fusion: `sum 1 / (k + rank)`.
    Rrf {
        /// The rank constant (60 in the original paper).
        k: f32,
    },
    /// Reciprocal-rank fusion with the keyword list weighted by `keyword_weight` and
    /// the dense list by `1 - keyword_weight`.
    WeightedRrf {
        /// The rank constant.
        k: f32,
        /// Weight of the keyword list, 0..=1.
        keyword_weight: f32,
    },
    /// `w * keyword + (1 - w) * dense` over normalised scores. A candidate missing from
    /// one list takes that list's lowest normalised score.
    Convex {
        /// How scores are normalised.
        norm: Normalization,
        /// Weight of the keyword score, 0..=1.
        keyword_weight: f32,
    },
}

/// Tuned on SciFact train: keyword weight 0.5 (the best fixed z-score weight there),
/// full coverage 0.2 (about half the median coverage of SciFact's queries, so only
/// queries whose best keyword match is unusually poor lose keyword weight) and full
/// IDF 4 (the median over SciFact train's queries, about terms in 2% of chunks: a query
/// as specific as a typical claim keeps its full keyword weight). On SciFact train the
/// IDF factor changes little (0.7345 without it, 0.7330 with it; any full IDF from 0
/// to 4.5 is within 0.002): it is there for questions asked in a collection's everyday
/// words, where BM25 is weak; it is squared for a question (SciFact has none) and fades
/// out at high coverage (see docs/benchmarks.md, "Questions, and keyword queries a
/// chunk holds whole").
impl Default for Fusion {
    fn default() -> Self {
        Fusion::Adaptive {
            keyword_weight: 0.5,
            full_coverage: 0.2,
            full_idf: 4.0,
        }
    }
}

impl Fusion {
    /// Fuses a dense and a keyword list (each best first) into one list, best first,
    /// with no knowledge of the query (an adaptive fusion takes full coverage).
    /// Ties keep the order of first appearance, so results are deterministic.
    #[must_use]
    pub fn fuse(&self, dense: &[Scored], keyword: &[Scored]) -> Vec<Scored> {
        self.fuse_with(dense, keyword, &QuerySignals::default())
    }

    /// As [`Fusion::fuse`], using what is known about the query.
    #[must_use]
    pub fn fuse_with(
        &self,
        dense: &[Scored],
        keyword: &[Scored],
        signals: &QuerySignals,
    ) -> Vec<Scored> {
        match *self {
            Fusion::Adaptive {
                keyword_weight,
                full_coverage,
                full_idf,
            } => {
                let share = |signal: f32, full: f32| {
                    if full > 0.0 {
                        (signal / full).clamp(0.0, 1.0)
                    } else {
                        1.0
                    }
                };
                let idf = share(signals.keyword_mean_idf, full_idf);
                let idf = if signals.question { idf * idf } else { idf };
                let fade = ((signals.keyword_coverage - FADE_IDF_FROM)
                    / (FADE_IDF_TO - FADE_IDF_FROM))
                    .clamp(0.0, 1.0);
                let idf = idf + (1.0 - idf) * fade;
                let weight = keyword_weight * share(signals.keyword_coverage, full_coverage) * idf;
                // As far as the model does not read the query, the keyword side decides.
                let unread = signals.unread();
                Fusion::Convex {
                    norm: Normalization::ZScore,
                    keyword_weight: weight + (1.0 - weight) * unread,
                }
                .fuse(dense, keyword)
            }
            Fusion::Rrf { k } => weighted_rrf(&[(dense, 1.0), (keyword, 1.0)], k),
            Fusion::WeightedRrf {
                k,
                keyword_weight: w,
            } => weighted_rrf(&[(dense, 1.0 - w), (keyword, w)], k),
            Fusion::Convex {
                norm,
                keyword_weight: w,
            } => {
                let d = normalize(dense, norm);
                let kw = normalize(keyword, norm);
                let floor = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
                let (d_floor, k_floor) = (floor(&d), floor(&kw));
                let mut parts: Vec<(u64, [Option<f32>; 2], usize)> = Vec::new();
                let mut at: HashMap<u64, usize> = HashMap::new();
                for (side, (list, scores)) in [(dense, &d), (keyword, &kw)].into_iter().enumerate()
                {
                    for (hit, &s) in list.iter().zip(scores) {
                        let i = *at.entry(hit.id).or_insert_with(|| {
                            parts.push((hit.id, [None, None], parts.len()));
                            parts.len() - 1
                        });
                        parts[i].1[side] = Some(s);
                    }
                }
                let scored = parts.into_iter().map(|(id, [ds, ks], order)| {
                    let ds = ds.unwrap_or(if d_floor.is_finite() { d_floor } else { 0.0 });
                    let ks = ks.unwrap_or(if k_floor.is_finite() { k_floor } else { 0.0 });
                    (id, w * ks + (1.0 - w) * ds, order)
                });
                sorted(scored.collect())
            }
        }
    }
}

impl fmt::Display for Fusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fusion::Adaptive {
                keyword_weight,
                full_coverage,
                full_idf,
            } => write!(f, "adaptive:{keyword_weight}:{full_coverage}:{full_idf}"),
            Fusion::Rrf { k } => write!(f, "rrf:{k}"),
            Fusion::WeightedRrf { k, keyword_weight } => write!(f, "wrrf:{keyword_weight}:{k}"),
            Fusion::Convex {
                norm: Normalization::MinMax,
                keyword_weight,
            } => {
                write!(f, "minmax:{keyword_weight}")
            }
            Fusion::Convex {
                norm: Normalization::ZScore,
                keyword_weight,
            } => {
                write!(f, "z:{keyword_weight}")
            }
        }
    }
}

/// Parses `adaptive`, `adaptive:W:C:I`, `rrf`, `rrf:K`, `wrrf:W`, `wrrf:W:K`, `minmax:W`,
/// `z:W` (W is the keyword weight, 0..=1; C the full coverage; I the full IDF, 0 for no
/// IDF factor; omitted trailing parts take their defaults).
impl FromStr for Fusion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let num = |p: Option<&str>, default: f32, what: &str| -> Result<f32, String> {
            match p {
                None => Ok(default),
                Some(v) => v
                    .parse::<f32>()
                    .map_err(|_| format!("{what} in {s:?} is not a number")),
            }
        };
        let weight = |p: Option<&str>, default: f32| -> Result<f32, String> {
            let w = num(p, default, "weight")?;
            if (0.0..=1.0).contains(&w) {
                Ok(w)
            } else {
                Err(format!("keyword weight in {s:?} must be between 0 and 1"))
            }
        };
        let fusion = match name.as_str() {
            "adaptive" => {
                let Fusion::Adaptive {
                    keyword_weight,
                    full_coverage,
                    full_idf,
                } = Fusion::default()
                else {
                    unreachable!("the default fusion is adaptive")
                };
                Fusion::Adaptive {
                    keyword_weight: weight(parts.next(), keyword_weight)?,
                    full_coverage: num(parts.next(), full_coverage, "coverage")?,
                    full_idf: num(parts.next(), full_idf, "IDF")?,
                }
            }
            "rrf" => Fusion::Rrf {
                k: num(parts.next(), RRF_K, "k")?,
            },
            "wrrf" => {
                let keyword_weight = weight(parts.next(), 0.5)?;
                Fusion::WeightedRrf {
                    k: num(parts.next(), RRF_K, "k")?,
                    keyword_weight,
                }
            }
            "minmax" | "convex" => Fusion::Convex {
                norm: Normalization::MinMax,
                keyword_weight: weight(parts.next(), 0.5)?,
            },
            "z" | "zscore" => Fusion::Convex {
                norm: Normalization::ZScore,
                keyword_weight: weight(parts.next(), 0.5)?,
            },
            _ => {
                return Err(format!(
                    "unknown fusion {s:?} (adaptive, rrf, wrrf:W, minmax:W, z:W)"
                ))
            }
        };
        if parts.next().is_some() {
            return Err(format!("too many parts in fusion {s:?}"));
        }
        Ok(fusion)
    }
}

/// Reciprocal-rank fusion of several lists (rank from 1), each with the constant `k`.
#[must_use]
pub fn reciprocal_rank_fusion(lists: &[&[Scored]], k: f32) -> Vec<Scored> {
    let weighted: Vec<(&[Scored], f32)> = lists.iter().map(|l| (*l, 1.0)).collect();
    weighted_rrf(&weighted, k)
}

fn weighted_rrf(lists: &[(&[Scored], f32)], k: f32) -> Vec<Scored> {
    let mut scores: HashMap<u64, (f32, usize)> = HashMap::new();
    for (list, weight) in lists {
        for (rank, hit) in list.iter().enumerate() {
            let next = scores.len();
            let entry = scores.entry(hit.id).or_insert((0.0, next));
            entry.0 += weight / (k + rank as f32 + 1.0);
        }
    }
    sorted(scores.into_iter().map(|(id, (s, o))| (id, s, o)).collect())
}

fn sorted(mut items: Vec<(u64, f32, usize)>) -> Vec<Scored> {
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    items
        .into_iter()
        .map(|(id, score, _)| Scored { id, score })
        .collect()
}

fn normalize(list: &[Scored], norm: Normalization) -> Vec<f32> {
    if list.is_empty() {
        return Vec::new();
    }
    let n = list.len() as f32;
    match norm {
        Normalization::MinMax => {
            let (lo, hi) = list
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), s| {
                    (lo.min(s.score), hi.max(s.score))
                });
            let range = hi - lo;
            list.iter()
                .map(|s| {
                    if range > 0.0 {
                        (s.score - lo) / range
                    } else {
                        1.0
                    }
                })
                .collect()
        }
        Normalization::ZScore => {
            let mean = list.iter().map(|s| s.score).sum::<f32>() / n;
            let var = list.iter().map(|s| (s.score - mean).powi(2)).sum::<f32>() / n;
            let sd = var.sqrt();
            list.iter()
                .map(|s| if sd > 0.0 { (s.score - mean) / sd } else { 0.0 })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[(u64, f32)]) -> Vec<Scored> {
        items
            .iter()
            .map(|&(id, score)| Scored { id, score })
            .collect()
    }

    /// The z-score combination at keyword weight `w`.
    fn z(w: f32) -> Fusion {
        Fusion::Convex {
            norm: Normalization::ZScore,
            keyword_weight: w,
        }
    }

    /// A statement's signals with the given keyword coverage and mean IDF.
    fn signals(coverage: f32, idf: f32) -> QuerySignals {
        QuerySignals {
            keyword_coverage: coverage,
            keyword_mean_idf: idf,
            query_tokens: None,
            question: false,
        }
    }

    fn ids(v: &[Scored]) -> Vec<u64> {
        v.iter().map(|s| s.id).collect()
    }

    #[test]
    fn rrf_puts_items_in_both_lists_first() {
        let a = list(&[(1, 0.0), (2, 0.0), (3, 0.0)]);
        let b = list(&[(3, 0.0), (4, 0.0), (1, 0.0)]);
        let fused = reciprocal_rank_fusion(&[&a, &b], 60.0);
        assert_eq!(ids(&fused), [1, 3, 2, 4]);
        assert!((fused[0].score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-7);
        assert_eq!(Fusion::Rrf { k: 60.0 }.fuse(&a, &b), fused);
    }

    #[test]
    fn adaptive_fusion_backs_off_keyword_when_coverage_or_idf_is_low() {
        let dense = list(&[(1, 0.9), (2, 0.8), (3, 0.2)]);
        let kw = list(&[(3, 30.0), (2, 5.0), (1, 1.0)]);
        let adaptive = Fusion::default();
        let fuse = |s: QuerySignals| adaptive.fuse_with(&dense, &kw, &s);
        assert_eq!(fuse(signals(0.9, 6.0)), z(0.5).fuse(&dense, &kw));
        assert_eq!(fuse(QuerySignals::default()), z(0.5).fuse(&dense, &kw));
        assert_eq!(ids(&fuse(signals(0.0, 6.0))), [1, 2, 3]);
        assert_eq!(ids(&fuse(signals(0.5, 0.0))), [1, 2, 3]);
        // Half the full coverage, or half the full IDF, halves the keyword weight;
        // both together quarter it.
        assert_eq!(fuse(signals(0.1, 6.0)), z(0.25).fuse(&dense, &kw));
        assert_eq!(fuse(signals(0.5, 2.0)), z(0.25).fuse(&dense, &kw));
        assert_eq!(fuse(signals(0.1, 2.0)), z(0.125).fuse(&dense, &kw));
    }

    #[test]
    fn adaptive_fusion_fades_the_idf_factor_out_at_high_coverage() {
        let dense = list(&[(1, 0.9), (2, 0.8), (3, 0.2), (4, 0.1)]);
        let kw = list(&[(3, 30.0), (4, 12.0), (2, 5.0), (1, 1.0)]);
        let adaptive = Fusion::default();
        let fuse = |s: QuerySignals| adaptive.fuse_with(&dense, &kw, &s);
        // Half the full IDF halves the weight up to FADE_IDF_FROM, halfway to
        // FADE_IDF_TO only a quarter, and none at or above it.
        assert_eq!(fuse(signals(FADE_IDF_FROM, 2.0)), z(0.25).fuse(&dense, &kw));
        let halfway = (FADE_IDF_FROM + FADE_IDF_TO) / 2.0;
        assert_eq!(fuse(signals(halfway, 2.0)), z(0.375).fuse(&dense, &kw));
        assert_eq!(fuse(signals(FADE_IDF_TO, 2.0)), z(0.5).fuse(&dense, &kw));
        assert_eq!(fuse(signals(1.3, 2.0)), z(0.5).fuse(&dense, &kw));
        // A question's squared factor fades the same way.
        let question = QuerySignals {
            question: true,
            ..signals(halfway, 2.0)
        };
        assert_eq!(fuse(question), z(0.5 * 0.625).fuse(&dense, &kw));
    }

    #[test]
    fn a_question_is_told_by_its_mark_or_its_first_word() {
        for q in [
            "How do I create an AUTOINCREMENT field?",
            "what is the average salary of a nurse",
            "Does SQLite support foreign keys",
            "  isn’t pickle insecure  ",
            "Wie installiere ich das Paket？",
            "ما هو الصبر؟",
            "(Why) does my build fail",
            "what's new in 3.12",
            "'how do I quote'",
            "Is it thread-safe?\")",
            "WON'T it stop",
            "shouldn't I pin versions",
        ] {
            assert!(is_question(q), "{q:?}");
        }
        for q in [
            "ALDH1 expression is associated with poorer prognosis for breast cancer.",
            "simple email archiver written in perl",
            "Whatever happened to the Likely Lads",
            "the formal act of approving",
            "is_active field",
            "how-to guide for packaging",
            "whatsoever",
            "",
            "   ",
            "?!",
        ] {
            assert!(!is_question(q), "{q:?}");
        }
        let signals = QuerySignals::default();
        assert!(!signals.question);
        assert!(signals.with_query("how do I pool connections").question);
        assert!(!signals.with_query("connection pooling").question);
    }

    #[test]
    fn adaptive_fusion_squares_the_idf_factor_for_a_question() {
        let dense = list(&[(1, 0.9), (2, 0.8), (3, 0.2), (4, 0.1)]);
        let kw = list(&[(3, 30.0), (4, 12.0), (2, 5.0), (1, 1.0)]);
        let adaptive = Fusion::default();
        let signals = |idf: f32, query: &str| {
            QuerySignals::from_keyword(trawl_index::KeywordSignals {
                coverage: 0.5,
                mean_idf: idf,
            })
            .with_query(query)
        };
        let fuse = |s: QuerySignals| adaptive.fuse_with(&dense, &kw, &s);
        // Half the full IDF halves a statement's keyword weight and quarters a question's.
        assert_eq!(
            fuse(signals(2.0, "pool connections")),
            z(0.25).fuse(&dense, &kw)
        );
        assert_eq!(
            fuse(signals(2.0, "how do I pool connections?")),
            z(0.125).fuse(&dense, &kw)
        );
        // A question in rare words keeps the full weight.
        assert_eq!(
            fuse(signals(6.0, "how do I pool connections?")),
            z(0.5).fuse(&dense, &kw)
        );
        assert_ne!(
            fuse(signals(2.0, "pool connections")),
            fuse(signals(2.0, "how do I pool connections?"))
        );
    }

    #[test]
    fn adaptive_fusion_leans_on_keywords_for_a_query_the_model_cannot_read() {
        let dense = list(&[(1, 0.9), (2, 0.5), (3, 0.1)]);
        let kw = list(&[(3, 30.0), (2, 20.0), (1, 1.0)]);
        let tokens = |chars: usize, tokens: usize| TokenStats {
            tokens,
            unknown: 0,
            words: tokens,
            chars,
            unknown_chars: 0,
        };
        let signals = |t: TokenStats| QuerySignals::default().with_tokens(Some(t));
        // English read by an English model (4 characters a token): barely moved.
        let english = signals(tokens(40, 10));
        assert!(english.unread() < 0.05, "{}", english.unread());
        // A script cut into letters (1 character a token): over half way to keyword.
        let unread = signals(tokens(10, 10));
        assert!(
            (0.5..0.75).contains(&unread.unread()),
            "{}",
            unread.unread()
        );
        assert_eq!(QuerySignals::default().unread(), 0.0);
        assert_eq!(signals(tokens(0, 0)).unread(), 0.0);
        // One unknown token for a whole word of 11 characters (a Katakana run to
        // BERT's tokenizer) is 11 characters unread, not 11 characters a token.
        let katakana = signals(TokenStats {
            tokens: 1,
            unknown: 1,
            words: 1,
            chars: 11,
            unknown_chars: 11,
        });
        assert!((katakana.unread() - unread.unread()).abs() < 1e-6);
        // The keyword weight moves from 0.5 towards 1 by that share.
        let adaptive = Fusion::default();
        let z = |s: &QuerySignals| Fusion::Convex {
            norm: Normalization::ZScore,
            keyword_weight: 0.5 + 0.5 * s.unread(),
        };
        for s in [&english, &unread] {
            assert_eq!(adaptive.fuse_with(&dense, &kw, s), z(s).fuse(&dense, &kw));
        }
        assert_eq!(ids(&adaptive.fuse_with(&dense, &kw, &unread))[0], 3);
    }

    #[test]
    fn weighted_rrf_at_the_extremes_follows_one_list() {
        let dense = list(&[(1, 0.0), (2, 0.0)]);
        let kw = list(&[(2, 0.0), (3, 0.0)]);
        let only_kw = Fusion::WeightedRrf {
            k: 60.0,
            keyword_weight: 1.0,
        }
        .fuse(&dense, &kw);
        assert_eq!(ids(&only_kw)[..2], [2, 3]);
        let only_dense = Fusion::WeightedRrf {
            k: 60.0,
            keyword_weight: 0.0,
        }
        .fuse(&dense, &kw);
        assert_eq!(ids(&only_dense)[..2], [1, 2]);
    }

    #[test]
    fn convex_min_max_combines_normalised_scores() {
        let dense = list(&[(1, 0.9), (2, 0.5), (3, 0.1)]);
        let kw = list(&[(3, 20.0), (2, 10.0)]);
        // dense: 1 -> 1.0, 2 -> 0.5, 3 -> 0.0; keyword: 3 -> 1.0, 2 -> 0.0, 1 missing -> 0.0.
        let fused = Fusion::Convex {
            norm: Normalization::MinMax,
            keyword_weight: 0.6,
        }
        .fuse(&dense, &kw);
        assert_eq!(ids(&fused), [3, 1, 2]);
        assert!((fused[0].score - 0.6).abs() < 1e-6);
        assert!((fused[1].score - 0.4).abs() < 1e-6);
        assert!((fused[2].score - 0.2).abs() < 1e-6);
    }

    #[test]
    fn convex_z_score_is_scale_free() {
        let dense = list(&[(1, 0.8), (2, 0.6), (3, 0.4)]);
        let kw = list(&[(3, 30.0), (1, 20.0), (2, 10.0)]);
        let z = Fusion::Convex {
            norm: Normalization::ZScore,
            keyword_weight: 0.5,
        };
        let scaled: Vec<Scored> = kw
            .iter()
            .map(|s| Scored {
                id: s.id,
                score: s.score * 7.0 + 3.0,
            })
            .collect();
        assert_eq!(ids(&z.fuse(&dense, &kw)), ids(&z.fuse(&dense, &scaled)));
        assert_eq!(ids(&z.fuse(&dense, &kw))[0], 1);
    }

    #[test]
    fn empty_and_single_lists_are_handled() {
        for f in ["adaptive", "rrf", "wrrf:0.3", "minmax:0.5", "z:0.5"] {
            let f: Fusion = f.parse().unwrap();
            assert!(f.fuse(&[], &[]).is_empty());
            let one = list(&[(7, 1.0)]);
            assert_eq!(ids(&f.fuse(&one, &[])), [7]);
            assert_eq!(ids(&f.fuse(&[], &one)), [7]);
        }
    }

    #[test]
    fn parses_and_prints_every_method() {
        assert_eq!("rrf".parse::<Fusion>().unwrap(), Fusion::Rrf { k: 60.0 });
        assert_eq!("rrf:10".parse::<Fusion>().unwrap(), Fusion::Rrf { k: 10.0 });
        assert_eq!(
            "wrrf:0.3".parse::<Fusion>().unwrap(),
            Fusion::WeightedRrf {
                k: 60.0,
                keyword_weight: 0.3
            }
        );
        assert_eq!(
            "z:0.25".parse::<Fusion>().unwrap(),
            Fusion::Convex {
                norm: Normalization::ZScore,
                keyword_weight: 0.25
            }
        );
        assert_eq!("adaptive".parse::<Fusion>().unwrap(), Fusion::default());
        assert_eq!(
            "adaptive:0.4:0.3".parse::<Fusion>().unwrap(),
            Fusion::Adaptive {
                keyword_weight: 0.4,
                full_coverage: 0.3,
                full_idf: 4.0
            }
        );
        for s in [
            "adaptive:0.5:0.2:4",
            "adaptive:0.4:0.3:0",
            "rrf:60",
            "wrrf:0.3:60",
            "minmax:0.2",
            "z:0.5",
        ] {
            assert_eq!(s.parse::<Fusion>().unwrap().to_string(), s);
        }
        for bad in [
            "",
            "magic",
            "z:2",
            "z:x",
            "rrf:1:2",
            "wrrf:-0.1",
            "adaptive:0.5:0.2:x",
        ] {
            assert!(bad.parse::<Fusion>().is_err(), "{bad:?}");
        }
    }
}
