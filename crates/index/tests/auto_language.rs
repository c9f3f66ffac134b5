//! An index in `auto` mode analyzes each chunk as the language detected in it, and a
//! query as each language the index holds: a mixed English, German, French and
//! Chinese folder is searched by stems in every language at once.

mod common;

use common::{found, keyword_index};
use trawl_index::{Index, IndexOptions, Language};

const DOCS: [(&str, &str); 5] = [
    (
        "en",
        "The runners were running along the harbour at dawn, past the fishing boats \
         and the old lighthouse.",
    ),
    (
        "de",
        "Die alten Häuser am Marktplatz wurden renoviert, und die Bibliothek öffnet \
         am Montag wieder ihre Türen.",
    ),
    (
        "fr",
        "Les étudiantes ont présenté leurs recherches sur les énergies renouvelables \
         devant le conseil municipal.",
    ),
    (
        "zh",
        "深度学习是机器学习的一个分支。神经网络由许多层组成，用于图像识别。",
    ),
    ("code", "fn main() { let xs = vec![1, 2, 3]; }"),
];

fn index(dir: &std::path::Path, language: Language) -> Index {
    let mut options = IndexOptions::new(0);
    options.language = language;
    keyword_index(dir, options, &DOCS)
}

#[test]
fn each_language_is_found_by_its_own_stems() {
    let dir = tempfile::tempdir().unwrap();
    let auto = index(dir.path(), Language::Auto);
    // German stems: "Haus" finds "Häuser", "Bibliotheken" finds "Bibliothek".
    assert_eq!(found(&auto, "Haus"), ["de"]);
    assert_eq!(found(&auto, "Bibliotheken"), ["de"]);
    // English stems: "run" finds "running" and "runners".
    assert_eq!(found(&auto, "run"), ["en"]);
    // French stems: "étudiante" finds "étudiantes", "recherche" finds "recherches".
    assert_eq!(found(&auto, "étudiante recherche"), ["fr"]);
    // Chinese by character pairs, and code by its words.
    assert_eq!(found(&auto, "神经网络"), ["zh"]);
    assert_eq!(found(&auto, "main"), ["code"]);
    // A query mixing languages finds each.
    let mixed = found(&auto, "Häuser lighthouse");
    assert_eq!(mixed.len(), 2, "{mixed:?}");

    let languages = auto.languages().unwrap();
    let names: Vec<&str> = languages.iter().map(|(l, _)| l.as_str()).collect();
    // Chinese and code have no stemmer of their own: English leaves them as they are.
    assert_eq!(names, ["english", "french", "german"]);
    assert!(languages.iter().all(|&(_, n)| n >= 1));
    assert_eq!(languages.iter().map(|&(_, n)| n).sum::<u64>(), 5);

    // The same German query under the English analyzer misses: that is what `auto`
    // adds.
    let dir = tempfile::tempdir().unwrap();
    let english = index(dir.path(), Language::English);
    assert!(found(&english, "Haus").is_empty());
    assert_eq!(english.languages().unwrap(), [(Language::English, 5)]);
}

#[test]
fn query_statistics_read_the_query_in_the_language_that_knows_it() {
    let dir = tempfile::tempdir().unwrap();
    let auto = index(dir.path(), Language::Auto);
    // Read as German, both words are held ("haus", "bibliothek"); read as English
    // neither is.
    let terms: Vec<String> = auto
        .view()
        .term_idfs("Häuser Bibliotheken")
        .unwrap()
        .into_iter()
        .map(|(t, _, df)| {
            assert_eq!(df, 1, "{t}");
            t
        })
        .collect();
    assert_eq!(terms, ["bibliothek", "haus"]);
    let signals = auto.keyword_signals("Häuser Bibliotheken", 1.0).unwrap();
    assert!(signals.mean_idf > 0.0, "{signals:?}");
}

#[test]
fn an_auto_index_reopens_as_auto() {
    let dir = tempfile::tempdir().unwrap();
    drop(index(dir.path(), Language::Auto));
    let reopened = Index::open(dir.path()).unwrap();
    assert_eq!(reopened.options().language, Language::Auto);
    assert_eq!(found(&reopened, "Haus"), ["de"]);
    assert_eq!("auto".parse::<Language>().unwrap(), Language::Auto);
}

#[test]
fn a_language_of_a_few_chunks_does_not_take_words_from_queries() {
    // 150 English chunks and one German: "man" is a German stop word, and an English
    // word. A language holding under 1% of the chunks does not make every query drop
    // its stop words; a German query still finds the German chunk by its own reading.
    let mut docs: Vec<(String, String)> = (0..150)
        .map(|i| {
            (
                format!("en{i}"),
                format!("The harbour opens at dawn and the boats leave at {i} o'clock."),
            )
        })
        .collect();
    docs.push((
        "man".into(),
        "The man who keeps the lighthouse writes the man pages of its lamp.".into(),
    ));
    docs.push((
        "de".into(),
        "Die Bibliothek ist heute geschlossen, und man kann sie nicht besuchen, weil das \
         Dach repariert wird."
            .into(),
    ));
    let docs: Vec<(&str, &str)> = docs.iter().map(|(i, t)| (i.as_str(), t.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut options = IndexOptions::new(0);
    options.language = Language::Auto;
    let index = keyword_index(dir.path(), options, &docs);
    assert_eq!(found(&index, "man")[0], "man");
    assert_eq!(found(&index, "Bibliothek geschlossen")[0], "de");
}

#[test]
fn a_word_is_as_rare_in_every_reading_as_its_commonest_reading() {
    // Forty short English chunks hold "name"; one German chunk holds "Name", which the
    // German reading stems to "nam", a term no other chunk holds. Scored with that
    // term's own frequency the German chunk would lead for a common English word, and
    // its score would pass the most the query's (English) terms can reach.
    let mut docs: Vec<(String, String)> = (0..40)
        .map(|i| (format!("en{i}"), format!("The name of row {i}.")))
        .collect();
    for i in 0..40 {
        docs.push((
            format!("other{i}"),
            format!("The harbour opens at dawn and the boats leave at {i} o'clock."),
        ));
    }
    docs.push((
        "de".into(),
        "Der Name der Bibliothek ist alt, und man kann sie heute nicht besuchen.".into(),
    ));
    let docs: Vec<(&str, &str)> = docs.iter().map(|(i, t)| (i.as_str(), t.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut options = IndexOptions::new(0);
    options.language = Language::Auto;
    let index = keyword_index(dir.path(), options, &docs);
    assert!(index.languages().unwrap().contains(&(Language::German, 1)));

    let hits = index.search_keyword("name", 50, None).unwrap();
    assert_eq!(
        hits.len(),
        41,
        "every chunk with the word, in either reading"
    );
    let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    let records = index.fetch(&ids).unwrap();
    let german = records.iter().position(|(_, r)| r.doc_id == "de").unwrap();
    assert!(
        german > 0,
        "the German chunk leads for a common English word"
    );
    let signals = index.keyword_signals("name", hits[0].score).unwrap();
    assert!(signals.coverage <= 1.0, "{signals:?}");
    // The German chunk is scored as common for the word as the English reading says:
    // its IDF is that of "name" (held by 40 chunks of 81), not of "nam" (held by one).
    let english_idf = index.view().term_idfs("name").unwrap()[0].1;
    assert!(english_idf < 1.0, "{english_idf}");
    assert!(
        hits[german].score <= english_idf * 2.2,
        "{} > {}",
        hits[german].score,
        english_idf * 2.2
    );

    // A word only the German reading knows keeps German's frequency, and finds it.
    assert_eq!(found(&index, "Bibliotheken")[0], "de");
}
