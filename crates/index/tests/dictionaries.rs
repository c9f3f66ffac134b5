//! Japanese and Korean cut with MeCab's dictionaries (IPADIC, mecab-ko-dic), which
//! `models/fetch.sh` puts in `models/dictionaries/`: a new index records the
//! dictionaries it cuts with, finds words by their dictionary forms, and opens only
//! where the same dictionaries are.

mod common;

use common::{found, keyword_index};
use trawl_index::mecab::{self, Morphology};
use trawl_index::{Error, Index, IndexOptions, Record};

/// "I live in Tokyo (東京都)." and "I saw a temple in Kyoto (京都)." The pair 京都
/// stands in both; the word 京都 only in the second.
const JAPANESE: [(&str, &str); 2] = [
    ("tokyo", "東京都に住んでいます。"),
    ("kyoto", "京都の寺を見た。"),
];

/// "Seoul has many big parks." and "I slept at home." The pair 에서 of the query
/// "in the park" (공원에서) is the second one's particle.
const KOREAN: [(&str, &str); 2] = [
    ("park", "서울에는 큰 공원이 많습니다."),
    ("home", "집에서 잤다."),
];

fn dictionaries_here() {
    for language in [Morphology::Japanese, Morphology::Korean] {
        assert!(
            mecab::dictionary(language).is_some(),
            "the {} dictionary is not in {:?}: run models/fetch.sh",
            language.dictionary_name(),
            mecab::dictionaries_dir()
        );
    }
}

fn manifest(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("trawl.json")).unwrap()).unwrap()
}

/// A new index whose manifest `edit` has changed, as one made elsewhere or before.
fn created_with(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    drop(Index::create(dir.path(), IndexOptions::new(0)).unwrap());
    let mut manifest = manifest(dir.path());
    edit(&mut manifest);
    std::fs::write(
        dir.path().join("trawl.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    dir
}

#[test]
fn a_new_index_records_the_dictionaries_it_cuts_with() {
    dictionaries_here();
    let dir = tempfile::tempdir().unwrap();
    drop(Index::create(dir.path(), IndexOptions::new(0)).unwrap());
    let manifest = manifest(dir.path());
    let japanese = manifest["japanese_dictionary"].as_str().unwrap();
    let korean = manifest["korean_dictionary"].as_str().unwrap();
    assert!(japanese.starts_with("ipadic:"), "{japanese}");
    assert!(korean.starts_with("mecab-ko-dic:"), "{korean}");
}

#[test]
fn japanese_is_found_by_its_words_and_their_dictionary_forms() {
    dictionaries_here();
    let dir = tempfile::tempdir().unwrap();
    let index = keyword_index(dir.path(), IndexOptions::new(0), &JAPANESE);
    // 東京都 is 東京 + 都: 京都 is not a word of it.
    assert_eq!(found(&index, "京都"), ["kyoto"]);
    assert_eq!(found(&index, "東京"), ["tokyo"]);
    // 住んで is a form of 住む ("to live"); particles and auxiliaries are no terms.
    assert_eq!(found(&index, "住む"), ["tokyo"]);
    assert_eq!(found(&index, "東京に住みたい"), ["tokyo"]);
    assert!(found(&index, "に").is_empty());
    // The query's operators hold for dictionary words as for any other.
    assert!(found(&index, "住む -東京").is_empty());
    assert!(found(&index, "住む -\"東京\"").is_empty());
    assert_eq!(found(&index, "寺 +見る"), ["kyoto"]);
    assert_eq!(found(&index, "寺 +東京"), ["tokyo"]);
}

#[test]
fn a_han_character_beyond_the_dictionary_is_still_a_word() {
    dictionaries_here();
    let dir = tempfile::tempdir().unwrap();
    // 𠮷 (U+20BB7), a variant of 吉, which MeCab reads as a symbol.
    let docs = [("yoshinoya", "𠮷野家で牛丼を食べた。")];
    let index = keyword_index(dir.path(), IndexOptions::new(0), &docs);
    assert_eq!(found(&index, "𠮷"), ["yoshinoya"]);
}

#[test]
fn korean_is_found_by_its_words_without_their_particles() {
    dictionaries_here();
    let dir = tempfile::tempdir().unwrap();
    let index = keyword_index(dir.path(), IndexOptions::new(0), &KOREAN);
    assert_eq!(found(&index, "공원에서"), ["park"]);
    assert_eq!(found(&index, "집"), ["home"]);
    assert!(found(&index, "에서").is_empty());
    assert!(found(&index, "공원 -서울").is_empty());
}

#[test]
fn an_index_made_before_the_dictionaries_keeps_pairs() {
    let dir = created_with(|manifest| {
        let fields = manifest.as_object_mut().unwrap();
        fields.remove("japanese_dictionary");
        fields.remove("korean_dictionary");
    });
    let index = Index::open(dir.path()).unwrap();
    index
        .add(
            JAPANESE
                .iter()
                .chain(&KOREAN)
                .map(|(id, text)| Record::new(*id, 0, *text, Vec::new()))
                .collect(),
        )
        .unwrap();
    index.commit().unwrap();
    let mut hits = found(&index, "京都");
    hits.sort();
    assert_eq!(hits, ["kyoto", "tokyo"]);
    let mut hits = found(&index, "공원에서");
    hits.sort();
    assert_eq!(hits, ["home", "park"]);
}

#[test]
fn an_index_opens_only_with_the_dictionary_it_was_made_with() {
    dictionaries_here();
    let dir = created_with(|manifest| {
        manifest["korean_dictionary"] = "mecab-ko-dic:1:2x3".into();
    });
    let err = Index::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingDictionary {
                language: "Korean",
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("models/fetch.sh") && message.contains("TRAWL_DICTIONARIES"),
        "{message}"
    );
}
