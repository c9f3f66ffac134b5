//! Chinese, Japanese and Korean in the keyword index: words are found inside text
//! written without spaces, and indexes made before keep the analysis their terms came
//! from.

mod common;

use common::{found, keyword_index};
use trawl_index::{Index, IndexOptions, Language, Record};

const DOCS: [(&str, &str); 4] = [
    (
        "zh",
        "深度学习是机器学习的一个分支。神经网络由许多层组成，用于图像识别。",
    ),
    (
        "ja",
        "富士山は日本で一番高い山です。毎年たくさんの人が登ります。",
    ),
    (
        "ko",
        "서울에는 큰 공원이 많습니다. 주말에 공원에서 산책을 합니다.",
    ),
    ("en", "The park near the lighthouse opens at dawn."),
];

fn index(dir: &std::path::Path) -> Index {
    keyword_index(dir, IndexOptions::new(0), &DOCS)
}

/// An index in `language` whose manifest lacks `field`, as one made before that field
/// existed, reopened.
fn made_before(field: &str, language: Language) -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = IndexOptions::new(0);
    options.language = language;
    drop(Index::create(dir.path(), options).unwrap());
    let path = dir.path().join("trawl.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(manifest[field], true);
    manifest.as_object_mut().unwrap().remove(field);
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let index = Index::open(dir.path()).unwrap();
    (dir, index)
}

#[test]
fn words_inside_cjk_text_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let index = index(dir.path());
    assert_eq!(found(&index, "神经网络"), ["zh"]);
    assert_eq!(found(&index, "图像识别"), ["zh"]);
    assert_eq!(found(&index, "富士山"), ["ja"]);
    assert_eq!(found(&index, "공원"), ["ko"]);
    // A whole sentence copied from a document finds it first.
    assert_eq!(found(&index, "毎年たくさんの人が登ります")[0], "ja");
    assert_eq!(found(&index, "深度学习是机器学习的一个分支")[0], "zh");
    // English is cut as before.
    assert_eq!(found(&index, "lighthouse"), ["en"]);
}

#[test]
fn a_query_that_shares_only_some_words_with_a_text_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let index = index(dir.path());
    // Neither run stands in any document as written: a question about Mount Fuji, and
    // "neural network image recognition research" in Chinese. Their pairs 富士, 士山,
    // 神经, 网络, 图像, 识别 do, so the documents holding them match, as the words of
    // an English query match a text that has some of them.
    assert_eq!(found(&index, "富士山の高さはどのくらいですか")[0], "ja");
    assert_eq!(found(&index, "神经网络图像识别研究")[0], "zh");
}

#[test]
fn an_index_made_before_keeps_its_analyzer() {
    // Made in English, as every index was before `auto`, and before CJK words.
    let (_dir, index) = made_before("cjk_words", Language::English);
    index
        .add(vec![Record::new("ja", 0, "富士山は高い。", Vec::new())])
        .unwrap();
    index.commit().unwrap();
    // The simple tokenizer's terms, as the index was built with: the run up to the
    // punctuation is one term, so only the whole run finds it.
    assert_eq!(found(&index, "富士山は高い"), ["ja"]);
    assert!(found(&index, "富士山").is_empty());
}

/// One chunk says "she wears a beautiful kimono" (和服); the other "we provide products
/// and services" (和 + 服务), which holds the pair 和服 across two words.
const KIMONO: [(&str, &str); 2] = [
    ("kimono", "她穿着一件漂亮的和服。"),
    ("services", "我们提供产品和服务。"),
];

#[test]
fn chinese_is_found_by_its_words_not_by_pairs_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let index = keyword_index(dir.path(), IndexOptions::new(0), &KIMONO);
    assert_eq!(found(&index, "和服"), ["kimono"]);
    assert_eq!(found(&index, "服务"), ["services"]);
    // Beside a Japanese chunk a Chinese query is also searched as Japanese is cut
    // (IPADIC's words where models/fetch.sh put the dictionary, else pairs), and the
    // Japanese chunk is found.
    index
        .add(vec![Record::new(
            "ja",
            0,
            "和服を着て京都を歩きました。",
            Vec::new(),
        )])
        .unwrap();
    index.commit().unwrap();
    let hits = found(&index, "和服");
    assert!(
        hits.contains(&"kimono".to_owned()) && hits.contains(&"ja".to_owned()),
        "{hits:?}"
    );
}

#[test]
fn an_index_made_before_chinese_words_keeps_pairs() {
    let (_dir, index) = made_before("chinese_words", Language::Auto);
    index
        .add(
            KIMONO
                .iter()
                .map(|(id, text)| Record::new(*id, 0, *text, Vec::new()))
                .collect(),
        )
        .unwrap();
    index.commit().unwrap();
    // Pairs: 和服 stands in both.
    let mut hits = found(&index, "和服");
    hits.sort();
    assert_eq!(hits, ["kimono", "services"]);
}

#[test]
fn a_word_with_combining_marks_is_one_word() {
    // "Hindi" and "hin", a word its first letters make when the virama cuts it.
    let dir = tempfile::tempdir().unwrap();
    let docs = [("hindi", "हिन्दी भाषा"), ("hin", "हिन")];
    let index = keyword_index(dir.path(), IndexOptions::new(0), &docs);
    assert_eq!(found(&index, "हिन्दी"), ["hindi"]);
    assert_eq!(found(&index, "हिन"), ["hin"]);
    // An index made before cuts the word at its virama: the piece is a term of both.
    let (_dir, before) = made_before("marks_in_words", Language::Auto);
    before
        .add(
            docs.iter()
                .map(|(id, text)| Record::new(*id, 0, *text, Vec::new()))
                .collect(),
        )
        .unwrap();
    before.commit().unwrap();
    assert_eq!(found(&before, "हिन").len(), 2);
}
