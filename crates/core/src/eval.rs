//! Retrieval evaluation on BEIR-format benchmarks: loading and the standard metrics.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use trawl_ingest::{Document, Location, Section, SectionKind};

use crate::error::{Error, Result};

/// A BEIR-format benchmark: corpus, judged queries and relevance judgements.
#[derive(Debug, Clone, Default)]
pub struct Beir {
    /// Documents: (id, title, text).
    pub corpus: Vec<BeirDoc>,
    /// Queries that have judgements in the split: (id, text), in file order.
    pub queries: Vec<(String, String)>,
    /// Judgements: query id -> (document id -> graded relevance).
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

/// One corpus document of a BEIR benchmark.
#[derive(Debug, Clone, Deserialize)]
pub struct BeirDoc {
    /// Document id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Title (may be empty).
    #[serde(default)]
    pub title: String,
    /// Body text.
    #[serde(default)]
    pub text: String,
}

impl BeirDoc {
    /// The document as trawl indexes it: the title as a heading, then the text.
    #[must_use]
    pub fn to_document(&self) -> Document {
        let mut sections = Vec::new();
        if !self.title.trim().is_empty() {
            sections.push(Section {
                kind: SectionKind::Heading { level: 1 },
                text: self.title.trim().to_owned(),
                heading_path: vec![self.title.trim().to_owned()],
                location: Location::default(),
            });
        }
        let mut body = Document::from_text(&self.id, &self.text).sections;
        for s in &mut body {
            s.heading_path = sections
                .first()
                .map(|h: &Section| h.heading_path.clone())
                .unwrap_or_default();
        }
        sections.extend(body);
        Document {
            id: self.id.clone(),
            title: Some(self.title.clone()).filter(|t| !t.is_empty()),
            source: None,
            format: trawl_ingest::Format::Text,
            metadata: trawl_ingest::Metadata::new(),
            sections,
        }
    }
}

#[derive(Deserialize)]
struct BeirQuery {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

impl Beir {
    /// Loads `corpus.jsonl`, `queries.jsonl` and `qrels/{split}.tsv` from `dir`.
    ///
    /// # Errors
    /// [`Error::Beir`] naming the file and line that is missing or malformed.
    pub fn load(dir: &Path, split: &str) -> Result<Beir> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| Error::Beir {
                path,
                reason: e.to_string(),
            })
        };
        let corpus = parse_jsonl::<BeirDoc>(&read("corpus.jsonl")?, &dir.join("corpus.jsonl"))?;
        let qrels_name = format!("qrels/{split}.tsv");
        let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for (n, line) in read(&qrels_name)?.lines().enumerate() {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 3 {
                continue;
            }
            let Ok(score) = cols[2].trim().parse::<u32>() else {
                if n == 0 {
                    continue; // header row
                }
                return Err(Error::Beir {
                    path: dir.join(&qrels_name),
                    reason: format!("line {}: score {:?} is not a number", n + 1, cols[2]),
                });
            };
            qrels
                .entry(cols[0].to_owned())
                .or_default()
                .insert(cols[1].to_owned(), score);
        }
        let all = parse_jsonl::<BeirQuery>(&read("queries.jsonl")?, &dir.join("queries.jsonl"))?;
        let queries = all
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .map(|q| (q.id, q.text))
            .collect();
        Ok(Beir {
            corpus,
            queries,
            qrels,
        })
    }
}

fn parse_jsonl<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<Vec<T>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| Error::Beir {
                path: path.to_owned(),
                reason: format!("line {}: {e}", n + 1),
            })
        })
        .collect()
}

/// nDCG@k with graded gains (`rel / log2(rank + 1)`), as pytrec_eval computes it.
#[must_use]
pub fn ndcg_at(ranked: &[String], judged: &HashMap<String, u32>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| f64::from(judged.get(d).copied().unwrap_or(0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u32> = judged.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &r)| f64::from(r) / (i as f64 + 2.0).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

/// Fraction of the relevant documents found in the top `k`.
#[must_use]
pub fn recall_at(ranked: &[String], judged: &HashMap<String, u32>, k: usize) -> f64 {
    let relevant: HashSet<&String> = judged
        .iter()
        .filter(|(_, &r)| r > 0)
        .map(|(d, _)| d)
        .collect();
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|d| relevant.contains(d))
        .count();
    found as f64 / relevant.len() as f64
}

/// Reciprocal rank of the first relevant document within the top `k` (0 if none).
#[must_use]
pub fn mrr_at(ranked: &[String], judged: &HashMap<String, u32>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|d| judged.get(d).is_some_and(|&r| r > 0))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Value at quantile `q` (0..=1) of `values`, by nearest rank.
#[must_use]
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, r)| ((*d).to_owned(), *r)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ndcg_is_one_for_perfect_order_and_matches_hand_computation() {
        let j = judged(&[("a", 2), ("b", 1)]);
        assert!((ndcg_at(&ranked(&["a", "b", "c"]), &j, 10) - 1.0).abs() < 1e-12);
        // b first, a third: dcg = 1/log2(2) + 2/log2(4) = 2; idcg = 2 + 1/log2(3).
        let expected = 2.0 / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&ranked(&["b", "x", "a"]), &j, 10) - expected).abs() < 1e-12);
        assert_eq!(ndcg_at(&ranked(&["x"]), &j, 10), 0.0);
    }

    #[test]
    fn recall_and_mrr() {
        let j = judged(&[("a", 1), ("b", 1), ("z", 0)]);
        assert_eq!(recall_at(&ranked(&["x", "a", "z"]), &j, 100), 0.5);
        assert_eq!(mrr_at(&ranked(&["x", "z", "b"]), &j, 10), 1.0 / 3.0);
        assert_eq!(mrr_at(&ranked(&["x", "b"]), &j, 1), 0.0);
    }

    #[test]
    fn percentile_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn beir_doc_becomes_title_heading_plus_paragraphs() {
        let d = BeirDoc {
            id: "7".into(),
            title: "T".into(),
            text: "p1\n\np2".into(),
        };
        let doc = d.to_document();
        assert_eq!(doc.title.as_deref(), Some("T"));
        assert_eq!(doc.sections.len(), 3);
        assert_eq!(doc.sections[2].heading_path, ["T"]);
    }
}
