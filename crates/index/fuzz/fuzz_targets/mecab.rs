//! Japanese and Korean text of any shape, cut with the dictionaries `models/fetch.sh`
//! fetched (`TRAWL_DICTIONARIES` or the checkout's `models/dictionaries`): no panic,
//! and the words lie in order, within the text, on character boundaries.
//!
//! ```text
//! cd crates/index/fuzz && cargo fuzz run mecab
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;
use trawl_index::mecab::{dictionary, Morphology};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for language in [Morphology::Japanese, Morphology::Korean] {
        let dict = dictionary(language).expect("run models/fetch.sh");
        for words in [dict.cut(&text), dict.cut_for_search(&text)] {
            let mut end = 0;
            for m in words {
                assert!(end <= m.start && m.start < m.end && m.end <= text.len());
                assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
                end = m.end;
            }
        }
    }
});
