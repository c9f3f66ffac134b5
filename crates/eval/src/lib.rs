//! trawl-eval: retrieval evaluation on BEIR-format benchmarks, for the `trawl eval`
//! command and the benchmarks: loading a dataset, and the standard metrics (nDCG,
//! recall, MRR at a cut-off).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use trawl_ingest::{Document, Location, Section, SectionKind};

/// Why a benchmark directory cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A benchmark directory is not in BEIR layout.
    #[error("BEIR data at {path}: {reason}")]
    Beir {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The result of loading a benchmark.
pub type Result<T> = std::result::Result<T, Error>;

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
    /// Document id (a JSON number is read as its decimal text).
    #[serde(rename = "_id", deserialize_with = "id_text")]
    pub id: String,
    /// Title (may be empty, missing or null).
    #[serde(default, deserialize_with = "text_or_null")]
    pub title: String,
    /// Body text (may be empty, missing or null).
    #[serde(default, deserialize_with = "text_or_null")]
    pub text: String,
}

/// An id written as a JSON string or number (files made by other tools write both).
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "_id must be a string or a number, not {other}"
        ))),
    }
}

/// A text field that may be null.
fn text_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
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
                row_numbers: Vec::new(),
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
    #[serde(rename = "_id", deserialize_with = "id_text")]
    id: String,
    #[serde(default, deserialize_with = "text_or_null")]
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
            let Some(score) = relevance(cols[2]) else {
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

/// A qrels score as a gain: an integer, or a number with a fraction rounded; below 0
/// (TREC's "judged, and worse than irrelevant") counts as 0, as trec_eval treats it.
fn relevance(text: &str) -> Option<u32> {
    let score = text.trim().parse::<f64>().ok().filter(|x| x.is_finite())?;
    Some(score.round().clamp(0.0, f64::from(u32::MAX)) as u32)
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
    fn beir_files_from_other_tools_load() {
        // Numeric ids, null or missing titles, negative and fractional judgements.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("corpus.jsonl"),
            "{\"_id\": 10, \"title\": null, \"text\": \"a\"}\n{\"_id\": \"d2\", \"text\": \"b\"}\n",
        )
        .unwrap();
        std::fs::write(
            p.join("queries.jsonl"),
            "{\"_id\": 1, \"text\": \"q\"}\n{\"_id\": \"2\", \"text\": null}\n",
        )
        .unwrap();
        std::fs::create_dir(p.join("qrels")).unwrap();
        std::fs::write(
            p.join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\n1\t10\t2\n1\td2\t-2\n2\td2\t1.0\n",
        )
        .unwrap();
        let beir = Beir::load(p, "test").unwrap();
        assert_eq!(beir.corpus[0].id, "10");
        assert_eq!(beir.corpus[0].title, "");
        assert_eq!(
            beir.queries,
            [("1".into(), "q".into()), ("2".into(), String::new())]
        );
        assert_eq!(beir.qrels["1"]["10"], 2);
        assert_eq!(beir.qrels["1"]["d2"], 0);
        assert_eq!(beir.qrels["2"]["d2"], 1);
        // What cannot be read still names its file and line.
        std::fs::write(p.join("queries.jsonl"), "{\"_id\": [1], \"text\": \"q\"}\n").unwrap();
        let err = Beir::load(p, "test").unwrap_err().to_string();
        assert!(
            err.contains("queries.jsonl") && err.contains("line 1"),
            "{err}"
        );
        std::fs::write(p.join("queries.jsonl"), "{\"_id\": 1, \"text\": \"q\"}\n").unwrap();
        std::fs::write(
            p.join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\n1\t10\thigh\n",
        )
        .unwrap();
        let err = Beir::load(p, "test").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("high"), "{err}");
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
