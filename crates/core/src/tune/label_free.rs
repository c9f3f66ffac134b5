//! Training pairs made from a collection's own text, without labels.

use std::collections::{HashMap, HashSet};

use unicode_segmentation::UnicodeSegmentation;

use super::pairs::Pair;
use crate::error::{Error, Result};
use crate::Collection;

/// A kind of label-free pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PairSource {
    /// A section's heading → the section's first chunk (without the heading). Headings
    /// found in more than two documents ("Introduction", "Usage") are skipped.
    Headings,
    /// A sentence of a chunk → the rest of the chunk: the inverse cloze task. One pair
    /// in ten keeps the sentence in the passage, as in the original task.
    Sentences,
    /// A question → its answer: a heading that asks a question, or a chunk's opening
    /// line that does, with the text after it.
    Questions,
}

impl PairSource {
    /// Every source.
    pub const ALL: [PairSource; 3] = [
        PairSource::Headings,
        PairSource::Sentences,
        PairSource::Questions,
    ];
}

impl std::fmt::Display for PairSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PairSource::Headings => "headings",
            PairSource::Sentences => "sentences",
            PairSource::Questions => "questions",
        })
    }
}

impl std::str::FromStr for PairSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<PairSource> {
        match s.trim().to_ascii_lowercase().as_str() {
            "headings" | "heading" | "titles" => Ok(PairSource::Headings),
            "sentences" | "sentence" | "ict" => Ok(PairSource::Sentences),
            "questions" | "question" | "faq" => Ok(PairSource::Questions),
            other => Err(Error::Invalid {
                what: "pair source",
                reason: format!("{other:?}: expected headings, sentences or questions"),
            }),
        }
    }
}

/// What [`pairs_from_collection`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LabelFreeOptions {
    /// The kinds of pairs.
    pub sources: Vec<PairSource>,
    /// Most pairs in all (a seeded sample, shared evenly among the sources that have
    /// candidates).
    pub max_pairs: usize,
    /// Seed of the sample and of the sentence picks.
    pub seed: u64,
    /// Only this tenant's documents; `None`: every document.
    pub tenant: Option<String>,
}

impl Default for LabelFreeOptions {
    fn default() -> Self {
        LabelFreeOptions {
            sources: PairSource::ALL.to_vec(),
            max_pairs: 20_000,
            seed: 42,
            tenant: None,
        }
    }
}

/// Sentences of a query made by the inverse cloze task: long enough to be specific,
/// short enough to read as a query.
const SENTENCE_WORDS: std::ops::RangeInclusive<usize> = 6..=60;

/// Makes training pairs from the text a collection holds (see [`PairSource`]). The
/// result is the same for the same collection and options.
///
/// # Errors
/// Index errors while reading the chunks.
pub fn pairs_from_collection(
    collection: &Collection,
    options: &LabelFreeOptions,
) -> Result<Vec<Pair>> {
    let index = collection.index();
    let view = index.view();
    let mut docs = index.documents(options.tenant.as_deref())?;
    docs.sort_by(|a, b| (&a.tenant, &a.doc_id).cmp(&(&b.tenant, &b.doc_id)));
    let mut rng = SplitMix(options.seed);

    // Documents each innermost heading appears in.
    let mut chunks_by_doc = Vec::with_capacity(docs.len());
    let mut heading_docs: HashMap<String, usize> = HashMap::new();
    for doc in &docs {
        let mut records: Vec<_> = view
            .document(&doc.tenant, &doc.doc_id)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        records.sort_by_key(|r| r.ordinal);
        let headings: HashSet<&str> = records
            .iter()
            .filter_map(|r| r.heading_path.last().map(String::as_str))
            .collect();
        for h in headings {
            *heading_docs.entry(normalize(h)).or_default() += 1;
        }
        chunks_by_doc.push(records);
    }

    let mut candidates: HashMap<PairSource, Vec<Pair>> = HashMap::new();
    for records in &chunks_by_doc {
        let mut seen_headings: HashSet<&str> = HashSet::new();
        for r in records {
            let heading = r.heading_path.last().map(String::as_str);
            let body = strip_heading(&r.text, heading);
            if let Some(h) = heading.filter(|h| seen_headings.insert(h)) {
                let asks = h.trim_end().ends_with('?');
                let specific = heading_docs.get(&normalize(h)).copied().unwrap_or(0) <= 2
                    && h.split_whitespace().count() >= 2;
                if words(body) >= 8 && (specific || asks) {
                    let source = if asks {
                        PairSource::Questions
                    } else {
                        PairSource::Headings
                    };
                    candidates
                        .entry(source)
                        .or_default()
                        .push(Pair::new(h.trim(), body));
                }
            }
            if let Some(pair) = opening_question(body) {
                candidates
                    .entry(PairSource::Questions)
                    .or_default()
                    .push(pair);
            }
            if let Some(pair) = cloze(body, &mut rng) {
                candidates
                    .entry(PairSource::Sentences)
                    .or_default()
                    .push(pair);
            }
        }
    }

    let mut sources: Vec<PairSource> = options.sources.clone();
    sources.sort_unstable();
    sources.dedup();
    sources.retain(|s| candidates.get(s).is_some_and(|c| !c.is_empty()));
    // Share the budget evenly; a source with fewer candidates leaves its rest to the
    // others.
    let mut pools: Vec<(PairSource, Vec<Pair>)> = sources
        .iter()
        .map(|s| {
            let mut pool = candidates.remove(s).unwrap_or_default();
            shuffle(&mut pool, &mut rng);
            (*s, pool)
        })
        .collect();
    pools.sort_by_key(|(_, p)| p.len());
    let mut pairs = Vec::new();
    let mut left = options.max_pairs;
    let count = pools.len();
    for (i, (_, pool)) in pools.iter_mut().enumerate() {
        let share = left / (count - i);
        let take = share.min(pool.len());
        pairs.extend(pool.drain(..take));
        left -= take;
    }
    shuffle(&mut pairs, &mut rng);
    Ok(pairs)
}

/// Lower-cased, with runs of white space as one space.
fn normalize(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The text without its leading heading line, where it starts with one.
fn strip_heading<'a>(text: &'a str, heading: Option<&str>) -> &'a str {
    let trimmed = text.trim_start();
    match heading.map(str::trim) {
        Some(h) if !h.is_empty() && trimmed.starts_with(h) => trimmed[h.len()..].trim_start(),
        _ => trimmed,
    }
}

/// A chunk that opens with a question on a line of its own, and answers it after.
fn opening_question(text: &str) -> Option<Pair> {
    let (first, rest) = text.split_once('\n')?;
    let first = first
        .trim()
        .trim_start_matches(['#', '*', '-', ' ', 'Q', ':']);
    let rest = rest.trim();
    (first.ends_with('?') && words(first) >= 3 && words(rest) >= 8)
        .then(|| Pair::new(first.trim(), rest))
}

/// One sentence of the text as a query; the text without it (nine times in ten) as the
/// passage. `None` for texts of fewer than three sentences.
fn cloze(text: &str, rng: &mut SplitMix) -> Option<Pair> {
    let sentences: Vec<(usize, &str)> = text.split_sentence_bound_indices().collect();
    if sentences.iter().filter(|(_, s)| words(s) >= 3).count() < 3 {
        return None;
    }
    let usable: Vec<usize> = (0..sentences.len())
        .filter(|&i| SENTENCE_WORDS.contains(&words(sentences[i].1)))
        .collect();
    if usable.is_empty() {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    let pick = usable[(rng.next() % usable.len() as u64) as usize];
    let (start, sentence) = sentences[pick];
    let keep = rng.next().is_multiple_of(10);
    let passage = if keep {
        text.to_owned()
    } else {
        format!("{}{}", &text[..start], &text[start + sentence.len()..])
    };
    Some(Pair::new(sentence.trim(), passage.trim()))
}

fn shuffle<T>(items: &mut [T], rng: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        #[allow(clippy::cast_possible_truncation)]
        let j = (rng.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// SplitMix64: a small, seeded, portable generator.
pub(super) struct SplitMix(pub(super) u64);

impl SplitMix {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloze_takes_one_sentence_out_of_the_passage() {
        let text = "Tide pools form on rocky shores. They hold anemones, crabs and small \
                    fish between the rocks. The water warms at low tide and cools again \
                    when the sea returns.";
        let mut kept = 0;
        for seed in 0..50 {
            let pair = cloze(text, &mut SplitMix(seed)).unwrap();
            assert!(text.contains(&pair.query), "{pair:?}");
            assert!(words(&pair.query) >= 6);
            if pair.positive.contains(&pair.query) {
                kept += 1;
            } else {
                assert!(pair.positive.len() < text.len());
            }
        }
        assert!((1..=15).contains(&kept), "kept {kept} of 50");
        assert!(cloze("One sentence only. And two.", &mut SplitMix(1)).is_none());
    }

    #[test]
    fn questions_are_found_at_the_start_of_a_chunk() {
        let pair = opening_question(
            "How do I keep a starter alive?\nFeed it flour and water every week and keep \
             it in the fridge between feeds.",
        )
        .unwrap();
        assert_eq!(pair.query, "How do I keep a starter alive?");
        assert!(pair.positive.starts_with("Feed it"));
        assert!(opening_question("Not a question\nbut some text that goes on").is_none());
    }

    #[test]
    fn sources_parse_by_name_and_alias() {
        assert_eq!("ict".parse::<PairSource>().unwrap(), PairSource::Sentences);
        assert_eq!("FAQ".parse::<PairSource>().unwrap(), PairSource::Questions);
        for s in PairSource::ALL {
            assert_eq!(s.to_string().parse::<PairSource>().unwrap(), s);
        }
        assert!("bogus".parse::<PairSource>().is_err());
    }
}
