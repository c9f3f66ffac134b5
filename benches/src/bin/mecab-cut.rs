//! Cuts each line of standard input with a MeCab dictionary, as trawl's keyword
//! analyzer does, and prints the words (surface TAB feature) with an empty line after
//! each input line: `benches/quality/mecab_parity.py` compares it with MeCab itself.
//! With `MECAB_CUT_SEARCH` set, cuts as the Japanese analyzer does (search mode).
//!
//! ```text
//! target/release/mecab-cut DICT_DIR < LINES.txt
//! ```

use std::io::{BufRead, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .ok_or("usage: mecab-cut DICT_DIR")?;
    let dict = trawl_index::mecab::Dictionary::open(dir.as_ref())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words = if std::env::var_os("MECAB_CUT_SEARCH").is_some() {
            dict.cut_for_search(&line)
        } else {
            dict.cut(&line)
        };
        for m in words {
            writeln!(out, "{}\t{}", &line[m.start..m.end], m.feature)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
