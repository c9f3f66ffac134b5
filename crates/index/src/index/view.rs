//! Searches and fetches on one snapshot, and the keyword search's top-docs collectors.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tantivy::collector::DocSetCollector;
use tantivy::columnar::Column;
use tantivy::query::{
    Bm25StatisticsProvider, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, EnableScoring,
    Occur, Query, QueryParser, TermQuery,
};
use tantivy::schema::Field;
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::{TextAnalyzer, TokenStream as _, TokenizerManager};
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentReader, TantivyDocument, Term};

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::fresh::merge;
use crate::language::Language;
use crate::record::Record;
use crate::schema::{self};
use crate::tokenize::{Cutting, HanQuery};
use crate::vectors::normalize;

use super::snapshot::Snapshot;
use super::{Index, KeywordSignals, Scored, EXACT_SCAN_MIN, EXACT_SCAN_SHARE};

/// One committed state of an [`Index`], fixed when taken with [`Index::view`]: its
/// searches and fetches agree with each other while a writer commits.
#[derive(Clone)]
pub struct View<'a> {
    pub(super) index: &'a Index,
    pub(super) snap: Arc<Snapshot>,
    /// BM25 statistics to score with instead of this index's own (see
    /// [`View::with_keyword_stats`]).
    pub(super) stats: Option<Arc<KeywordStats>>,
}

/// BM25 statistics for one query, gathered from one or more indexes: chunk counts,
/// token counts of the scored fields, and the document frequency of each of the
/// query's terms. Merged across the shards of a set, they make every shard score a
/// query as one index holding all their chunks would.
///
/// Serialisable (as lists, so JSON carries it), to gather the statistics of shards held
/// by other processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "StatsWire", into = "StatsWire")]
pub struct KeywordStats {
    /// Chunks, deleted ones not yet merged away included (as tantivy counts them).
    docs: u64,
    /// Live chunks.
    live_docs: u64,
    tokens: HashMap<Field, u64>,
    doc_freqs: HashMap<Term, u64>,
    /// Chunks per language of an `auto` index (as [`View::languages`] counts them):
    /// every shard reads a query in the languages of the whole set.
    languages: std::collections::BTreeMap<Language, u64>,
}

impl KeywordStats {
    /// Adds another index's statistics for the same query.
    pub fn merge(&mut self, other: &KeywordStats) {
        self.docs += other.docs;
        self.live_docs += other.live_docs;
        for (field, n) in &other.tokens {
            *self.tokens.entry(*field).or_default() += n;
        }
        for (term, n) in &other.doc_freqs {
            *self.doc_freqs.entry(term.clone()).or_default() += n;
        }
        for (language, n) in &other.languages {
            *self.languages.entry(*language).or_default() += n;
        }
    }

    /// Live chunks counted.
    #[must_use]
    pub fn chunks(&self) -> u64 {
        self.live_docs
    }
}

/// [`KeywordStats`] on the wire: maps as lists of pairs.
#[derive(Serialize, Deserialize)]
struct StatsWire {
    docs: u64,
    live_docs: u64,
    tokens: Vec<(u32, u64)>,
    doc_freqs: Vec<(Term, u64)>,
    #[serde(default)]
    languages: Vec<(Language, u64)>,
}

impl From<KeywordStats> for StatsWire {
    fn from(s: KeywordStats) -> Self {
        StatsWire {
            docs: s.docs,
            live_docs: s.live_docs,
            tokens: s
                .tokens
                .into_iter()
                .map(|(f, n)| (f.field_id(), n))
                .collect(),
            doc_freqs: s.doc_freqs.into_iter().collect(),
            languages: s.languages.into_iter().collect(),
        }
    }
}

impl From<StatsWire> for KeywordStats {
    fn from(w: StatsWire) -> Self {
        KeywordStats {
            docs: w.docs,
            live_docs: w.live_docs,
            tokens: w
                .tokens
                .into_iter()
                .map(|(f, n)| (Field::from_field_id(f), n))
                .collect(),
            doc_freqs: w.doc_freqs.into_iter().collect(),
            languages: w.languages.into_iter().collect(),
        }
    }
}

/// The BM25 statistics a keyword search scores with: the document frequencies of
/// [`View::word_doc_freqs`] first, then the [`KeywordStats`] given to the view, then
/// the index's own (for anything they lack: a term the query did not name when they
/// were gathered).
struct StatsProvider<'a> {
    stats: Option<&'a KeywordStats>,
    words: &'a HashMap<Term, u64>,
    searcher: &'a Searcher,
}

impl Bm25StatisticsProvider for StatsProvider<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        match self.stats.and_then(|s| s.tokens.get(&field)) {
            Some(n) => Ok(*n),
            None => self.searcher.total_num_tokens(field),
        }
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        match self.stats {
            Some(stats) => Ok(stats.docs),
            None => self.searcher.total_num_docs(),
        }
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let n = match (self.words.get(term), self.stats) {
            (Some(n), _) => *n,
            (None, Some(stats)) => match stats.doc_freqs.get(term) {
                Some(n) => *n,
                None => self.searcher.doc_freq(term)?,
            },
            (None, None) => self.searcher.doc_freq(term)?,
        };
        // Never above the document count (stats gathered elsewhere may disagree with
        // this index): BM25's IDF asserts it.
        Ok(n.min(self.total_num_docs()?))
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("index", &self.index.path)
            .field("chunks", &self.snap.searcher.num_docs())
            .finish()
    }
}

impl View<'_> {
    /// The `k` chunks matching `filter` whose vectors are nearest `query`, best first.
    ///
    /// The filter applies inside the search, so `k` matching chunks come back whenever
    /// that many exist: a selective filter compares the query with every matching
    /// chunk (on its int8 codes in a quantized index, the nearest by them then
    /// rescored exactly); a broad one walks the graph only through matching points,
    /// with a wider candidate list, and falls back to that comparison if the walk
    /// comes back short.
    ///
    /// # Errors
    /// [`Error::Dimension`] when `query` has the wrong length, [`Error::InvalidFilter`]
    /// when the filter does not fit the fields it names.
    pub fn search_vector(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        if query.len() != self.index.options.dim || self.index.options.dim == 0 {
            return Err(Error::Dimension {
                expected: self.index.options.dim,
                got: query.len(),
            });
        }
        let mut q = query.to_vec();
        normalize(&mut q);
        let snap = &self.snap;
        // No more hits than live chunks: every list below is sized from `k`.
        let k = k.min(snap.live.len());
        let graph = &snap.graph;
        let ef_search = self.index.shared.ef_search.load(AtomicOrdering::Relaxed);
        let hits = match filter {
            None => {
                // Fresh points (committed, not yet in the graph) are compared exactly.
                let (fresh, fresh_live) = snap.fresh.search(&q, k, &snap.live);
                let graph_live = snap.live.len() - fresh_live;
                let mut hits = graph
                    .search_within(&q, k, ef_search, &snap.live, graph_live)
                    .unwrap_or_else(|| graph.search(&q, k, ef_search, &snap.live));
                if hits.len() < k.min(graph_live) {
                    // A walk among many deleted points can come back short (seen while
                    // a writer replaces documents): compare with every live vector.
                    hits = graph.search_each(&q, k, &snap.live);
                }
                merge_fresh(graph, &q, k, hits, fresh, &snap.live)
            }
            Some(f) => {
                let allowed = &*self.index.matching(snap, f)?;
                if allowed.len() == 0 || k == 0 {
                    return Ok(Vec::new());
                }
                let (fresh, fresh_matches) = snap.fresh.search(&q, k, allowed);
                // Matches and live points in the graph.
                let matches = allowed.len() - fresh_matches;
                let live = snap
                    .live
                    .len()
                    .saturating_sub(snap.fresh.len())
                    .max(matches);
                let hits = if matches == 0 {
                    Vec::new()
                } else if matches <= EXACT_SCAN_MIN
                    || matches as f64 <= live as f64 * EXACT_SCAN_SHARE
                {
                    graph.search_each(&q, k, allowed)
                } else {
                    // First an unfiltered walk wide enough to hold about 2k matches, cut
                    // to the matches: cheaper than a filtered walk, which goes on until
                    // it holds `ef` matches. Then the filtered walk, about
                    // `live / matches` points visited per match found; then the exact
                    // comparison.
                    let wide = k
                        .saturating_mul(2 * live / matches)
                        .min(live)
                        .max(ef_search);
                    match graph.search_within(&q, k, wide, allowed, matches) {
                        Some(hits) => hits,
                        None => {
                            let ef = k.saturating_mul(live / matches).min(live).max(ef_search);
                            let hits = graph.search(&q, k, ef, allowed);
                            if hits.len() < k.min(matches) {
                                graph.search_each(&q, k, allowed)
                            } else {
                                hits
                            }
                        }
                    }
                };
                merge_fresh(graph, &q, k, hits, fresh, allowed)
            }
        };
        Ok(hits
            .into_iter()
            .map(|(id, score)| Scored { id, score })
            .collect())
    }

    /// As a plain BM25 search, among the chunks matching `filter` only (the
    /// filter is a non-scoring clause of the BM25 query, not a post-filter).
    ///
    /// # Errors
    /// [`Error::InvalidFilter`] when the filter does not fit the fields it names;
    /// tantivy errors.
    pub fn search_keyword(
        &self,
        query: &str,
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        let snap = &self.snap;
        let k = k.min(usize::try_from(snap.searcher.num_docs()).unwrap_or(usize::MAX));
        if k == 0 {
            return Ok(Vec::new());
        }
        let input = self.parser_input(query);
        let readings = self.keyword_readings(&input);
        let readings = borrowed(&readings);
        let words = self.word_doc_freqs(&input.text, self.pairs_only())?;
        let filter = filter.map(|f| f.to_query(&self.index.fields)).transpose()?;
        let provider = StatsProvider {
            stats: self.stats.as_deref(),
            words: &words,
            searcher: &snap.searcher,
        };
        let scoring = if self.stats.is_none() && words.is_empty() {
            EnableScoring::enabled_from_searcher(&snap.searcher)
        } else {
            EnableScoring::enabled_from_statistics_provider(&provider, &snap.searcher)
        };
        let running = &self.index.keyword_searches;
        let alone = running.fetch_add(1, AtomicOrdering::AcqRel) == 0;
        let maxscore = self.index.keyword_maxscore.load(AtomicOrdering::Relaxed);
        let top = top_docs(
            &snap.searcher,
            &readings,
            filter.as_deref(),
            scoring,
            k,
            alone,
            maxscore,
        );
        running.fetch_sub(1, AtomicOrdering::AcqRel);
        let top = top?;
        // One vid column per segment, opened once for all the hits in it.
        let mut columns: Vec<Option<Column<u64>>> =
            vec![None; snap.searcher.segment_readers().len()];
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = match &mut columns[addr.segment_ord as usize] {
                Some(c) => c,
                slot => slot.insert(
                    snap.searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("vid")?,
                ),
            };
            let vid = column.first(addr.doc_id).unwrap_or(0);
            out.push(Scored { id: vid, score });
        }
        if out.is_empty() && !query.trim().is_empty() && self.analyzed_terms(query)?.is_empty() {
            self.index
                .termless_queries
                .fetch_add(1, AtomicOrdering::Relaxed);
            tracing::warn!(
                query,
                language = self.index.options.language.as_str(),
                "the query makes no keyword terms (the analyzer drops all its words): \
                 keyword search finds nothing"
            );
        }
        Ok(out)
    }

    /// The BM25 query `query` parses to (its terms in the body, and in the title when
    /// the index boosts it).
    ///
    /// In an `auto` index the query is read as each language its chunks are in, and a
    /// chunk is scored by the reading in its own language: a German chunk by the
    /// German stems of the query, an English one by the English.
    fn keyword_query(&self, query: &str) -> Box<dyn Query> {
        combined(&borrowed(&self.keyword_readings(&self.parser_input(query))))
    }

    /// The readings of `query` that [`View::keyword_query`] combines: one, or in an
    /// `auto` index holding several languages one per language, each with the query
    /// for the chunks it scores (those in its language). A chunk is in one language,
    /// so its score is its own reading's.
    fn keyword_readings(&self, query: &ParserInput) -> Vec<Reading> {
        let (Language::Auto, Some(lang)) = (self.index.options.language, self.index.fields.lang)
        else {
            return vec![(self.keyword_query_as(query, None), None)];
        };
        let Readings { held, stops, .. } = self.readings();
        if held.len() <= 1 {
            let language = held.first().copied().unwrap_or(Language::English);
            return vec![(self.keyword_query_as(query, Some((language, &stops))), None)];
        }
        held.iter()
            .map(|&language| {
                let own: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(lang, language.as_str()),
                    IndexRecordOption::Basic,
                ));
                (
                    self.keyword_query_as(query, Some((language, &stops))),
                    Some(own),
                )
            })
            .collect()
    }

    /// The languages the chunks of this view were analyzed as (each detected in an
    /// `auto` index, else the index's language), with how many chunks each; chunks
    /// deleted since their segment was last merged still count. Empty for an index
    /// made before chunks recorded their language.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn languages(&self) -> Result<Vec<(Language, u64)>> {
        let Some(field) = self.index.fields.lang else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for language in self.held_languages() {
            let term = Term::from_field_text(field, language.as_str());
            out.push((language, self.snap.searcher.doc_freq(&term)?));
        }
        Ok(out)
    }

    /// How a query's Han runs are searched here: as pairs in an index without Chinese
    /// words; as words alone unless the index holds Japanese (a term starting with
    /// kana), whose Kanji runs are pairs or IPADIC's words, and then as both.
    fn han_query(&self) -> HanQuery {
        if !self.index.cutting.chinese_words {
            return HanQuery::Pairs;
        }
        let (from, to) = crate::tokenize::KANA_TERMS;
        for segment in self.snap.searcher.segment_readers() {
            let Ok(terms) = segment.inverted_index(self.index.fields.body) else {
                continue;
            };
            let Ok(mut kana) = terms.terms().range().ge(from).lt(to).into_stream() else {
                continue;
            };
            if kana.advance() {
                return HanQuery::PairsAndWords;
            }
        }
        HanQuery::Words
    }

    /// The languages a query is read in: those the chunks are in (of the whole set
    /// when the view scores with a set's [`KeywordStats`]), the ones among them whose
    /// stop words every reading drops (those holding at least 1% of the chunks: a few
    /// chunks taken for a language, such as tables or lists of names, would otherwise
    /// make queries drop its stop words, which can be the words of the collection's
    /// own language, German "man"), and the one most chunks are in.
    fn readings(&self) -> Readings {
        let own = self.languages().unwrap_or_default();
        let counts: Vec<(Language, u64)> = match self.stats.as_deref() {
            Some(stats) if !stats.languages.is_empty() => {
                let mut all = stats.languages.clone();
                // Statistics merged with some from an older process may lack a
                // language this view holds.
                for (language, n) in own {
                    all.entry(language).or_insert(n);
                }
                all.into_iter().collect()
            }
            _ => own,
        };
        let chunks = match self.stats.as_deref() {
            Some(stats) => stats.live_docs,
            None => self.snap.searcher.num_docs(),
        };
        let counts: Vec<(Language, u64)> = counts
            .into_iter()
            .filter(|&(l, _)| l != Language::Auto)
            .collect();
        Readings {
            held: counts.iter().map(|&(l, _)| l).collect(),
            stops: counts
                .iter()
                .filter(|&&(_, n)| n.saturating_mul(100) >= chunks)
                .map(|&(l, _)| l)
                .collect(),
            main: counts
                .iter()
                .max_by_key(|&&(l, n)| (n, Reverse(l)))
                .map(|&(l, _)| l),
        }
    }

    /// The languages the chunks of this view were analyzed as, from the terms of
    /// their `lang` field (none in an index made before it).
    fn held_languages(&self) -> Vec<Language> {
        let Some(field) = self.index.fields.lang else {
            return Vec::new();
        };
        let mut held = std::collections::BTreeSet::new();
        for segment in self.snap.searcher.segment_readers() {
            let Ok(terms) = segment.inverted_index(field) else {
                continue;
            };
            let Ok(mut stream) = terms.terms().stream() else {
                continue;
            };
            while stream.advance() {
                if let Some(language) = std::str::from_utf8(stream.key())
                    .ok()
                    .and_then(|name| name.parse::<Language>().ok())
                {
                    held.insert(language);
                }
            }
        }
        held.into_iter().filter(|&l| l != Language::Auto).collect()
    }

    /// `query` as every reading of it gives it to the parser, prepared once.
    fn parser_input(&self, query: &str) -> ParserInput {
        // The parser reads only words from user text (see `plain_words`). A colon or
        // a caret, which would name a field or boost a word, is a space, as the
        // analyzer reads them anyway; so is any whitespace, of which the parser knows
        // ASCII's only (it stopped reading at a no-break space).
        // A run of CJK characters would be one word to the parser, so its pairs would
        // form a phrase that only the same run matches: each pair is a word instead,
        // and a chunk sharing some of them matches, as with the words of other text.
        // Chinese dictionary words are terms of their own beside the parsed query.
        let text: String = query
            .chars()
            .map(|c| {
                if c.is_whitespace() || c == ':' || c == '^' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let (text, chinese_words) = if self.index.cjk_words {
            crate::tokenize::cjk_pairs_apart(&text, self.han_query(), self.index.cutting)
        } else {
            (text, Vec::new())
        };
        ParserInput {
            text: plain_words(&text),
            chinese_words,
        }
    }

    /// The index's cutting with CJK runs cut into pairs only, as the query parser reads
    /// them (dictionary words are terms of their own beside the parsed query).
    fn pairs_only(&self) -> Cutting {
        Cutting {
            chinese_words: false,
            japanese_words: false,
            korean_words: false,
            ..self.index.cutting
        }
    }

    /// The fields a keyword search scores: the body, and the title when the index
    /// boosts it.
    fn keyword_fields(&self) -> Vec<Field> {
        let mut fields = vec![self.index.fields.body];
        if self.index.options.title_boost > 0.0 {
            fields.push(self.index.fields.title_terms);
        }
        fields
    }

    /// The document frequency each reading's terms of `text` are scored with in an
    /// `auto` index holding several languages: a word read in a language other than
    /// the main one (the one most chunks are in) is at most as rare as the main
    /// reading says. Read as German, "name" stems to "nam", which only a few chunks
    /// taken for German hold (often wrongly); with its own frequency it would give
    /// them a score for a common English word that no English chunk could reach. A
    /// word the main reading drops keeps each reading's own frequency, and the main
    /// reading's terms always do. Only a word each reading makes at most one term of
    /// is matched up (not a compound and its parts). Empty where the query has one
    /// reading.
    fn word_doc_freqs(&self, text: &str, cutting: Cutting) -> Result<HashMap<Term, u64>> {
        let mut out = HashMap::new();
        let Readings { held, stops, main } = self.readings();
        let Some(main) = main else {
            return Ok(out);
        };
        if self.index.options.language != Language::Auto || held.len() <= 1 {
            return Ok(out);
        }
        // Each word's span in `text`, with the terms each reading makes of it.
        let mut words: std::collections::BTreeMap<(usize, usize), Vec<(Language, String)>> =
            std::collections::BTreeMap::new();
        for &language in &held {
            let mut analyzer = language.auto_query_analyzer(&stops, cutting);
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                let token = stream.token();
                words
                    .entry((token.offset_from, token.offset_to))
                    .or_default()
                    .push((language, token.text.clone()));
            }
        }
        let mut known: HashMap<Term, u64> = HashMap::new();
        let mut doc_freq = |term: &Term| -> Result<u64> {
            if let Some(&df) = known.get(term) {
                return Ok(df);
            }
            let df = self.doc_freq(term)?;
            known.insert(term.clone(), df);
            Ok(df)
        };
        for field in self.keyword_fields() {
            for terms in words.values() {
                let once = held
                    .iter()
                    .all(|&l| terms.iter().filter(|(t, _)| *t == l).count() <= 1);
                let main_term = terms.iter().find(|(l, _)| *l == main);
                let (true, Some((_, main_term))) = (once, main_term) else {
                    continue;
                };
                let common = doc_freq(&Term::from_field_text(field, main_term))?;
                for (language, t) in terms {
                    if *language == main || t == main_term {
                        continue;
                    }
                    let term = Term::from_field_text(field, t);
                    let df = doc_freq(&term)?.max(common);
                    let slot = out.entry(term).or_insert(df);
                    *slot = (*slot).max(df);
                }
            }
        }
        Ok(out)
    }

    /// The document frequency of `term`: from the [`KeywordStats`] given to this view
    /// where they hold it, else this index's.
    fn doc_freq(&self, term: &Term) -> Result<u64> {
        match self.stats.as_ref().and_then(|s| s.doc_freqs.get(term)) {
            Some(df) => Ok(*df),
            None => Ok(self.snap.searcher.doc_freq(term)?),
        }
    }

    /// The BM25 query of a prepared `query`, with the index's analyzer, or read in
    /// a language as an `auto` index holding chunks in the `held` languages reads it.
    fn keyword_query_as(
        &self,
        query: &ParserInput,
        reading: Option<(Language, &[Language])>,
    ) -> Box<dyn Query> {
        let boost = self.index.options.title_boost;
        let fields = self.keyword_fields();
        let pairs_only = self.pairs_only();
        // The parser reads a CJK run's pairs, apart: in an index with Chinese words
        // its analyzer keeps each pair whole (the words are added below).
        let mut parser = match reading {
            None if !self.index.cutting.chinese_words => {
                QueryParser::for_index(&self.index.store, fields)
            }
            None => {
                let manager = TokenizerManager::default();
                let language = self.index.options.language;
                manager.register(schema::ANALYZER, language.analyzer(true, pairs_only));
                QueryParser::new(self.index.store.schema(), fields, manager)
            }
            Some((language, held)) => {
                let manager = TokenizerManager::default();
                manager.register(
                    schema::ANALYZER,
                    language.auto_query_analyzer(held, pairs_only),
                );
                QueryParser::new(self.index.store.schema(), fields, manager)
            }
        };
        parser.set_field_boost(self.index.fields.title_terms, boost);
        let mut parsed = parser.parse_query_lenient(&query.text).0;
        if !query.chinese_words.is_empty() {
            let mut clauses = vec![(Occur::Should, parsed)];
            for (occur, word) in &query.chinese_words {
                let term = |field| {
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, word),
                        IndexRecordOption::WithFreqs,
                    ))
                };
                if boost > 0.0 {
                    let title =
                        Box::new(BoostQuery::new(term(self.index.fields.title_terms), boost));
                    let either: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                        (
                            Occur::Should,
                            term(self.index.fields.body) as Box<dyn Query>,
                        ),
                        (Occur::Should, title),
                    ]));
                    clauses.push((*occur, either));
                } else {
                    clauses.push((*occur, term(self.index.fields.body)));
                }
            }
            parsed = Box::new(BooleanQuery::new(clauses));
        }
        // Several clauses that each analyze to nothing ("? !") parse to a query for
        // every chunk: a query without a term finds none.
        let mut has_terms = false;
        parsed.query_terms(&mut |_, _| has_terms = true);
        if has_terms {
            parsed
        } else {
            Box::new(EmptyQuery)
        }
    }

    /// This index's BM25 statistics for `query`: merge those of several indexes (the
    /// shards of a set) and score each with [`View::with_keyword_stats`].
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn keyword_stats(&self, query: &str) -> Result<KeywordStats> {
        let searcher = &self.snap.searcher;
        let fields = &self.index.fields;
        let mut stats = KeywordStats {
            docs: searcher.total_num_docs()?,
            live_docs: searcher.num_docs(),
            ..KeywordStats::default()
        };
        for field in [fields.body, fields.title_terms] {
            stats.tokens.insert(
                field,
                Bm25StatisticsProvider::total_num_tokens(searcher, field)?,
            );
        }
        let mut terms = Vec::new();
        self.keyword_query(query)
            .query_terms(&mut |term, _| terms.push(term.clone()));
        for (_, term, _) in self.analyzed_terms(query)? {
            terms.push(term);
        }
        if self.index.options.language == Language::Auto {
            stats.languages = self.languages()?.into_iter().collect();
            // Every language's reading, as another shard may hold chunks in it: a
            // word's frequency in another reading counts over the whole set.
            // Each read without other languages' stop words: the set's stop-word
            // languages may differ from this index's, and stop words only drop terms.
            let fields = self.keyword_fields();
            let parsed = self.parser_input(query).text;
            let readable = Language::ALL
                .iter()
                .filter(|l| !matches!(l, Language::Plain | Language::Auto));
            for &language in readable {
                for (text, cutting) in [
                    (&parsed[..], self.pairs_only()),
                    (query, self.index.cutting),
                ] {
                    let mut analyzer = language.auto_query_analyzer(&[], cutting);
                    let mut stream = analyzer.token_stream(text);
                    while stream.advance() {
                        let t = &stream.token().text;
                        terms.extend(fields.iter().map(|&f| Term::from_field_text(f, t)));
                    }
                }
            }
        }
        for term in terms {
            if let std::collections::hash_map::Entry::Vacant(slot) = stats.doc_freqs.entry(term) {
                let df = searcher.doc_freq(slot.key())?;
                slot.insert(df);
            }
        }
        Ok(stats)
    }

    /// This view, scoring keyword searches, [`View::keyword_signals`] and
    /// [`View::term_idfs`] with `stats` instead of its own statistics.
    #[must_use]
    pub fn with_keyword_stats(self, stats: KeywordStats) -> Self {
        View {
            stats: Some(Arc::new(stats)),
            ..self
        }
    }

    /// How many live chunks match `filter`.
    ///
    /// # Errors
    /// [`Error::InvalidFilter`]; tantivy errors.
    pub fn count(&self, filter: &Filter) -> Result<usize> {
        let snap = &self.snap;
        Ok(snap.searcher.search(
            &*filter.to_query(&self.index.fields)?,
            &tantivy::collector::Count,
        )?)
    }

    /// What the collection's statistics say about how well BM25 can answer `query`,
    /// given its keyword top score: see [`KeywordSignals`].
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn keyword_signals(&self, query: &str, top_score: f32) -> Result<KeywordSignals> {
        const K1: f32 = 1.2;
        // BM25's IDF counts the chunks deleted but not yet merged away too.
        let docs = match &self.stats {
            Some(stats) => stats.docs,
            None => self.snap.searcher.total_num_docs()?,
        } as f32;
        let (mut max, mut idf_sum, mut present) = (0.0, 0.0, 0u32);
        for (_, idf, df, count) in self.counted_term_idfs(query)? {
            let scored = (1.0 + (docs - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            // A term is scored once for each distinct word of the query that makes it.
            max += scored * (K1 + 1.0) * count as f32;
            if df > 0 {
                idf_sum += idf;
                present += 1;
            }
        }
        // A title boost adds the title's score (taken as rare as the body's).
        max *= 1.0 + self.index.options.title_boost.max(0.0);
        Ok(KeywordSignals {
            // At most 1 (dictionary words of a Chinese run that repeats them, say, are
            // scored once for each time).
            coverage: if max > 0.0 {
                (top_score / max).min(1.0)
            } else {
                0.0
            },
            mean_idf: if present > 0 {
                idf_sum / present as f32
            } else {
                0.0
            },
        })
    }

    /// The distinct terms the keyword analyzer makes of `query`, in term order, each
    /// with its BM25 IDF, `ln(1 + (N - df + 0.5) / (df + 0.5))` over N live chunks, and
    /// its document frequency df (0 for a term no chunk holds; in an `auto` index
    /// holding several languages, a term of another language's reading than the main
    /// one counts at least as many chunks as the main reading's term for the same word:
    /// see [`View::search_keyword`]).
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn term_idfs(&self, query: &str) -> Result<Vec<(String, f32, u64)>> {
        Ok(self
            .counted_term_idfs(query)?
            .into_iter()
            .map(|(t, idf, df, _)| (t, idf, df))
            .collect())
    }

    /// [`View::term_idfs`], each term with how many times the query makes it.
    fn counted_term_idfs(&self, query: &str) -> Result<Vec<(String, f32, u64, u32)>> {
        let snap = &self.snap;
        let n = match &self.stats {
            Some(stats) => stats.live_docs,
            None => snap.searcher.num_docs(),
        } as f32;
        let terms = self.analyzed_terms(query)?;
        let words = self.word_doc_freqs(query, self.index.cutting)?;
        let mut out = Vec::with_capacity(terms.len());
        for (t, term, count) in terms {
            let df = match words.get(&term) {
                Some(df) => *df,
                None => self.doc_freq(&term)?,
            };
            let idf = (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            out.push((t, idf, df, count));
        }
        Ok(out)
    }

    /// The distinct terms the keyword analyzer makes of `query` in the body field, in
    /// term order, each with how many times it makes it. In an `auto` index: those of the language, among the ones its
    /// chunks are in, whose reading of the query the index holds most terms of (then
    /// most chunks).
    fn analyzed_terms(&self, query: &str) -> Result<Vec<(String, Term, u32)>> {
        if self.index.options.language != Language::Auto {
            let analyzer = self
                .index
                .store
                .tokenizer_for_field(self.index.fields.body)?;
            return Ok(self.terms_of(analyzer, query));
        }
        // (terms the index holds, chunks holding them) of the best reading so far.
        let mut best = (0, 0);
        let mut best_terms = None;
        let Readings { held, stops, .. } = self.readings();
        for &language in &held {
            let terms = self.terms_of(
                language.auto_query_analyzer(&stops, self.index.cutting),
                query,
            );
            let (mut known, mut chunks) = (0, 0);
            for (_, term, _) in &terms {
                let df = self.doc_freq(term)?;
                known += usize::from(df > 0);
                chunks += df;
            }
            if best_terms.is_none() || (known, chunks) > best {
                best = (known, chunks);
                best_terms = Some(terms);
            }
        }
        Ok(best_terms.unwrap_or_else(|| {
            self.terms_of(Language::English.auto_analyzer(self.index.cutting), query)
        }))
    }

    /// The distinct terms `analyzer` makes of `query` in the body field, in term order,
    /// each with how many times BM25 scores it: once for each distinct word of the
    /// query (as the query parser makes one clause of each distinct word: `http http`
    /// scores "http" once, `http HTTP` twice), and as often as that word makes it (a
    /// word of several terms is a phrase, which scores each); a word left out with `-`
    /// never scores, and counts no times. The query is analyzed
    /// whole, as the search analyzes it (whether a Han run is Chinese or Japanese
    /// depends on the text around it).
    fn terms_of(&self, mut analyzer: TextAnalyzer, query: &str) -> Vec<(String, Term, u32)> {
        // Each word's byte span; the first of identical words stands for them all.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for (i, c) in query.char_indices().chain([(query.len(), ' ')]) {
            let separator = c.is_whitespace() || c == ':' || c == '^';
            match (start, separator) {
                (None, false) => start = Some(i),
                (Some(s), true) => {
                    spans.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        let first: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .rev()
            .map(|(i, &(s, e))| (&query[s..e], i))
            .collect();
        let mut terms = std::collections::BTreeMap::<String, u32>::new();
        let mut stream = analyzer.token_stream(query);
        while stream.advance() {
            let token = stream.token();
            let word = spans.partition_point(|&(s, _)| s <= token.offset_from);
            let (counts, left_out) = word.checked_sub(1).map_or((false, false), |w| {
                let (s, e) = spans[w];
                let word = &query[s..e];
                (
                    first.get(word) == Some(&w),
                    word.len() > 1 && word.starts_with('-'),
                )
            });
            let count = terms.entry(token.text.clone()).or_default();
            if counts && !left_out {
                *count += 1;
            }
        }
        drop(stream);
        terms
            .into_iter()
            .map(|(t, count)| {
                let term = Term::from_field_text(self.index.fields.body, &t);
                (t, term, count)
            })
            .collect()
    }

    /// The stored chunks for the given point ids, in the same order; ids not in this
    /// view are left out.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn fetch(&self, ids: &[u64]) -> Result<Vec<(u64, Record)>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(addr) = self.snap.addresses.get(id) {
                let doc: TantivyDocument = self.snap.searcher.doc(addr)?;
                out.push((id, self.index.record_of(&doc).1));
            }
        }
        Ok(out)
    }

    /// Every chunk of one document (of `tenant`; `""` for none), in order.
    ///
    /// # Errors
    /// Tantivy errors.
    pub fn document(&self, tenant: &str, doc_id: &str) -> Result<Vec<(u64, Record)>> {
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.index.fields.doc_key, &schema::doc_key(tenant, doc_id)),
            tantivy::schema::IndexRecordOption::Basic,
        );
        let addrs = self.snap.searcher.search(&q, &DocSetCollector)?;
        let mut out = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let doc: TantivyDocument = self.snap.searcher.doc(addr)?;
            out.push(self.index.record_of(&doc));
        }
        out.sort_by_key(|(_, r)| r.ordinal);
        Ok(out)
    }
}

/// The languages a query is read in ([`View::readings`]).
struct Readings {
    /// Those the chunks are in.
    held: Vec<Language>,
    /// Those whose stop words every reading drops.
    stops: Vec<Language>,
    /// The one most chunks are in.
    main: Option<Language>,
}

/// A query's text as the parser reads it, and the dictionary words searched beside it
/// ([`View::parser_input`]).
struct ParserInput {
    text: String,
    chinese_words: Vec<(Occur, String)>,
}

/// `text` (spaces between its words) as the query parser reads nothing but words in
/// it: each word in quotes, so that no character in it is syntax (`*` would match
/// every chunk, `len()` would end the query, `[`, `{`, `<`, `>` and `/` start ranges
/// and patterns that are dropped with their words, `AND`, `OR` and `NOT` are
/// operators, `~` after a quote a slop). Three things keep their meaning: a `+` or
/// `-` before a word (required, left out), and a quoted phrase. A sign standing
/// alone (`Foo - Bar`) is dropped, and so is an unmatched quote.
fn plain_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut rest = text;
    // Whether the next item starts a word (a sign after a closing quote does not).
    let mut word_start = true;
    loop {
        let trimmed = rest.trim_start_matches(' ');
        word_start |= trimmed.len() < rest.len();
        rest = trimmed;
        let Some(first) = rest.chars().next() else {
            break;
        };
        let (sign, body) = if word_start && (first == '+' || first == '-') {
            rest.split_at(1)
        } else {
            ("", rest)
        };
        let (literal, after) = match body.strip_prefix('"') {
            Some(inner) if inner.contains('"') => {
                let end = inner.find('"').unwrap_or(inner.len());
                (&inner[..end], &inner[end + 1..])
            }
            // An unmatched quote: the word after it.
            Some(inner) => inner.split_at(inner.find(' ').unwrap_or(inner.len())),
            None => body.split_at(body.find(' ').unwrap_or(body.len())),
        };
        // Quotes and backslashes inside a word separate its parts, as the analyzer
        // reads them (a backslash would escape the quote around it).
        let literal: String = literal
            .chars()
            .map(|c| if c == '"' || c == '\\' { ' ' } else { c })
            .collect();
        if !literal.trim().is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(sign);
            out.push('"');
            out.push_str(literal.trim());
            out.push('"');
        }
        rest = after;
        word_start = false;
    }
    out
}

/// The `k` best-scoring live documents for a query among those `filter` (a query
/// whose scores do not count) matches, best first, as tantivy's `TopDocs` ranks them
/// (ties: lower address first). The query is given as its `readings`: each a query and
/// the chunks it alone scores (`None`: all), as [`View::keyword_readings`] makes them.
/// With `maxscore`, readings that are disjunctions of terms and phrases are searched by
/// MaxScore ([`super::maxscore`]: the same documents, a score's last bit aside), each
/// within its chunks; any other query, and every query without it, by tantivy's
/// block-max WAND, with the filter as a required clause. The segments share one pruning
/// floor: a document scoring below the k-th best score of any one segment cannot make
/// the top k, so each segment's block-max WAND skips what the fullest segment already
/// rules out. With `parallel`, the segments run at once on rayon's pool (in a hybrid
/// search the dense half runs there too, and its thread joins in on the segments when it
/// is done); otherwise one after the other in the calling thread, which does the least
/// work in all, for when other searches keep the cores busy anyway.
pub(super) fn top_docs(
    searcher: &Searcher,
    readings: &[(&dyn Query, Option<&dyn Query>)],
    filter: Option<&dyn Query>,
    scoring: EnableScoring<'_>,
    k: usize,
    parallel: bool,
    maxscore: bool,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let clauses: Option<Vec<_>> = if maxscore {
        readings
            .iter()
            .map(|(query, own)| Some((super::maxscore::clauses(*query, &scoring)?, *own)))
            .collect()
    } else {
        None
    };
    let plan = match clauses {
        Some(readings) => Plan::MaxScore(
            readings
                .into_iter()
                .map(|(clauses, own)| {
                    // Both the reading's own chunks and the caller's filter.
                    let only: Option<Box<dyn Query>> = match (own, filter) {
                        (None, None) => None,
                        (Some(q), None) | (None, Some(q)) => Some(q.box_clone()),
                        (Some(own), Some(filter)) => Some(Box::new(BooleanQuery::new(vec![
                            (Occur::Must, own.box_clone()),
                            (Occur::Must, filter.box_clone()),
                        ]))),
                    };
                    let only = only
                        .map(|q| q.weight(EnableScoring::disabled_from_searcher(searcher)))
                        .transpose()?;
                    Ok((clauses, only))
                })
                .collect::<tantivy::Result<_>>()?,
        ),
        None => {
            let query = combined(readings);
            Plan::Wand(match filter {
                None => query.weight(scoring)?,
                Some(f) => BooleanQuery::new(vec![
                    (Occur::Must, query),
                    (
                        Occur::Must,
                        Box::new(ConstScoreQuery::new(f.box_clone(), 0.0)),
                    ),
                ])
                .weight(scoring)?,
            })
        }
    };
    let floor = AtomicU32::new(Score::MIN.to_bits());
    let collect = |(ord, reader): (usize, &SegmentReader)| match &plan {
        Plan::MaxScore(readings) => {
            let mut found = Vec::new();
            for (clauses, only) in readings {
                found.extend(super::maxscore::segment_top_docs(
                    clauses,
                    only.as_deref(),
                    ord as u32,
                    reader,
                    k,
                    &floor,
                )?);
            }
            Ok(found)
        }
        Plan::Wand(weight) => segment_top_docs(weight.as_ref(), ord as u32, reader, k, &floor),
    };
    let segments = searcher.segment_readers();
    // Handing a single segment to the pool would only add a thread switch.
    let found = if parallel && segments.len() > 1 {
        segments
            .par_iter()
            .enumerate()
            .map(collect)
            .collect::<tantivy::Result<Vec<_>>>()?
    } else {
        segments
            .iter()
            .enumerate()
            .map(collect)
            .collect::<tantivy::Result<Vec<_>>>()?
    };
    let mut all: Vec<(Score, DocAddress)> = found.into_iter().flatten().collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    Ok(all)
}

/// The readings of a keyword query as one query: each scoring only its own chunks.
pub(super) fn combined(readings: &[(&dyn Query, Option<&dyn Query>)]) -> Box<dyn Query> {
    if let [(query, None)] = readings {
        return query.box_clone();
    }
    Box::new(BooleanQuery::new(
        readings
            .iter()
            .map(|(query, own)| {
                let mut clauses = vec![(Occur::Must, query.box_clone())];
                if let Some(own) = own {
                    let own: Box<dyn Query> = Box::new(ConstScoreQuery::new(own.box_clone(), 0.0));
                    clauses.push((Occur::Must, own));
                }
                let reading: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
                (Occur::Should, reading)
            })
            .collect(),
    ))
}

/// A reading of a keyword query, and the chunks it alone scores (`None`: all).
type Reading = (Box<dyn Query>, Option<Box<dyn Query>>);

/// `readings` as [`top_docs`] and [`combined`] take them.
fn borrowed(readings: &[Reading]) -> Vec<(&dyn Query, Option<&dyn Query>)> {
    readings
        .iter()
        .map(|(query, own)| (query.as_ref(), own.as_deref()))
        .collect()
}

/// A reading's clauses with their bounds, and the weight of the chunks it may score.
type MaxScoreReading = (
    Vec<(Box<dyn tantivy::query::Weight>, Score)>,
    Option<Box<dyn tantivy::query::Weight>>,
);

/// How [`top_docs`] searches each segment.
enum Plan {
    /// MaxScore over each reading's clauses (each with its bound), keeping the
    /// documents the reading's filter (its own chunks, and the caller's filter)
    /// matches.
    MaxScore(Vec<MaxScoreReading>),
    /// Tantivy's scorers for the query, the filter a required clause of it.
    Wand(Box<dyn tantivy::query::Weight>),
}

/// One segment's part of [`top_docs`]: its `k` best live documents, skipping those
/// below `floor` (an `f32`'s bits, the best k-th score any segment has so far), which it
/// raises as its own k-th best score rises.
pub(super) fn segment_top_docs(
    weight: &dyn tantivy::query::Weight,
    ord: u32,
    reader: &SegmentReader,
    k: usize,
    floor: &AtomicU32,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let alive = reader.alive_bitset();
    let mut top = Top::new(k, reader.num_docs() as usize, floor);
    weight.for_each_pruning(top.threshold(), reader, &mut |doc, score| {
        if alive.is_none_or(|a| a.is_alive(doc)) {
            top.offer(doc, f64::from(score));
        }
        top.threshold()
    })?;
    Ok(top.into_docs(ord))
}

/// A segment's best documents so far, and the threshold a document must pass to join
/// them: above the k-th best score here, and not below the shared floor.
pub(super) struct Top<'a> {
    k: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
    /// The k-th best score here, once there are k.
    bound: Score,
    floor: &'a AtomicU32,
}

impl<'a> Top<'a> {
    pub(super) fn new(k: usize, docs: usize, floor: &'a AtomicU32) -> Top<'a> {
        Top {
            k,
            heap: BinaryHeap::with_capacity(
                k.saturating_add(1)
                    .min(crate::vectors::PREALLOCATE_MAX)
                    .min(docs + 1),
            ),
            bound: Score::MIN,
            floor,
        }
    }

    /// The score a document must pass. Ties with the shared floor may still win on
    /// address, so they pass.
    pub(super) fn threshold(&self) -> Score {
        let shared = f32::from_bits(self.floor.load(AtomicOrdering::Relaxed)).next_down();
        self.bound.max(shared)
    }

    /// Keeps `doc` if its score (summed in `f64`, rounded here once) passes the
    /// threshold, and raises the shared floor when the k-th best score rises.
    pub(super) fn offer(&mut self, doc: DocId, score: f64) {
        #[allow(clippy::cast_possible_truncation)]
        let score = score as Score;
        if self.k == 0 || score <= self.threshold() {
            return;
        }
        self.heap.push(Reverse(Ranked { score, doc }));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
        if self.heap.len() == self.k {
            let bound = self.heap.peek().expect("k > 0").0.score;
            self.bound = bound;
            let _ =
                self.floor
                    .fetch_update(AtomicOrdering::Relaxed, AtomicOrdering::Relaxed, |b| {
                        (bound > f32::from_bits(b)).then_some(bound.to_bits())
                    });
        }
    }

    pub(super) fn into_docs(self, ord: u32) -> Vec<(Score, DocAddress)> {
        self.heap
            .into_iter()
            .map(|Reverse(r)| (r.score, DocAddress::new(ord, r.doc)))
            .collect()
    }
}

/// A segment's candidate in [`top_docs`]: ordered by score, then by lower doc id first.
#[derive(PartialEq)]
pub(super) struct Ranked {
    pub(super) score: Score,
    pub(super) doc: DocId,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.doc.cmp(&self.doc))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The graph's hits and the fresh points' merged into the top `k`. The graph is shared
/// with the writer, which moves fresh points into it after this snapshot was taken; such
/// a point can then come back from both lists, and the merged list falls short of `k`.
/// Then every live point of the graph is compared, with room for every such repeat.
fn merge_fresh(
    graph: &crate::vectors::Graph,
    query: &[f32],
    k: usize,
    hits: Vec<(u64, f32)>,
    fresh: Vec<(u64, f32)>,
    allowed: &crate::vectors::LiveSet,
) -> Vec<(u64, f32)> {
    let repeats = fresh
        .iter()
        .filter(|(vid, _)| hits.iter().any(|(hit, _)| hit == vid))
        .count();
    if repeats == 0 || hits.len() + fresh.len() - repeats >= k {
        return merge(hits, fresh, k);
    }
    let hits = graph.search_each(query, k.saturating_add(fresh.len()), allowed);
    merge(hits, fresh, k)
}
