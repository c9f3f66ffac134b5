use proptest::prelude::*;
use trawl_ingest::{parse_bytes, Section, SectionKind};

use super::parents::common_key;
use super::*;

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn opts(max_tokens: usize, overlap: usize) -> ChunkOptions {
    ChunkOptions {
        max_tokens,
        max_chars: 10_000,
        min_chars: 0,
        overlap: Overlap::Tokens(overlap),
        ..ChunkOptions::default()
    }
}

fn parent_text(doc: &Document, options: &ChunkOptions, parent: usize) -> String {
    parents(doc, options.parent_max_chars.max(options.max_chars))[parent]
        .text
        .clone()
}

#[test]
fn short_document_is_one_chunk_per_heading_group() {
    let doc = parse_bytes(
        b"# Guide\n\nIntro.\n\n## Install\n\nRun it. Then stop.\n",
        "g.md",
    )
    .unwrap();
    let chunks = chunk_document(&doc, &opts(256, 0), &words);
    let got: Vec<_> = chunks
        .iter()
        .map(|c| (c.text.as_str(), c.heading_path.join(" > ")))
        .collect();
    assert_eq!(
        got,
        [
            ("Guide\n\nIntro.", "Guide".to_owned()),
            (
                "Install\n\nRun it. Then stop.",
                "Guide > Install".to_owned()
            )
        ]
    );
    assert_eq!(chunks[1].ordinal, 1);
    assert_eq!(chunks[1].parent, 1);
    assert_eq!(chunks[1].id(), "g.md#1");
    assert_eq!(chunks[1].location.line, Some(5));
}

#[test]
fn chunks_respect_the_token_budget_and_split_at_sentences() {
    let text = (0..40)
        .map(|i| format!("Sentence number {i} has six words."))
        .collect::<Vec<_>>()
        .join(" ");
    let doc = Document::from_text("d", &text);
    let chunks = chunk_document(&doc, &opts(22, 0), &words);
    assert!(chunks.len() >= 10, "{}", chunks.len());
    for c in &chunks {
        assert!(words(&c.text) <= 20, "{}", c.text);
        assert!(c.text.ends_with('.'), "split mid-sentence: {}", c.text);
    }
    // Without overlap the chunks are exactly the text.
    let joined = chunks
        .iter()
        .map(|c| c.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(joined, text);
}

#[test]
fn overlap_repeats_trailing_sentences() {
    let text = "One two three. Four five six. Seven eight nine. Ten eleven twelve.";
    let doc = Document::from_text("d", text);
    let chunks = chunk_document(&doc, &opts(8, 3), &words);
    let got: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        got,
        [
            "One two three. Four five six.",
            "Four five six. Seven eight nine.",
            "Seven eight nine. Ten eleven twelve."
        ]
    );
    let by_sentence = ChunkOptions {
        overlap: Overlap::Sentences(1),
        ..opts(8, 0)
    };
    assert_eq!(chunk_document(&doc, &by_sentence, &words), chunks);
    let by_chars = ChunkOptions {
        overlap: Overlap::Chars(20),
        ..opts(8, 0)
    };
    assert_eq!(chunk_document(&doc, &by_chars, &words), chunks);
}

#[test]
fn overlap_parses_and_prints() {
    for s in ["none", "tokens:32", "chars:200", "sentences:2"] {
        assert_eq!(s.parse::<Overlap>().unwrap().to_string(), s);
    }
    assert!("tokens".parse::<Overlap>().is_err());
    assert!("lines:3".parse::<Overlap>().is_err());
    assert!("tokens:x".parse::<Overlap>().is_err());
}

#[test]
fn a_giant_sentence_is_split_between_words() {
    let text = "word ".repeat(100);
    let doc = Document::from_text("d", &text);
    let chunks = chunk_document(&doc, &opts(12, 0), &words);
    assert_eq!(chunks.len(), 10);
    assert!(chunks.iter().all(|c| words(&c.text) == 10));
}

#[test]
fn a_giant_word_is_split_between_characters() {
    let text = "x".repeat(500);
    let doc = Document::from_text("d", &text);
    let options = ChunkOptions {
        max_chars: 100,
        ..opts(256, 0)
    };
    let chunks = chunk_document(&doc, &options, &|t| t.len().div_ceil(4));
    assert_eq!(chunks.len(), 5);
    assert!(chunks.iter().all(|c| c.text.len() == 100));
}

#[test]
fn long_unbroken_text_is_split_in_linear_work() {
    // 200 KB of hex on one line (one "word") and 200 KB of words without a
    // sentence end: the bytes handed to the token counter stay a small multiple
    // of the text (cutting by probing every character once tokenised about a
    // chunk per character, a thousand times the text).
    for text in ["0a1b2c3d".repeat(25_000), "lorem ipsum ".repeat(17_000)] {
        let counted = std::cell::Cell::new(0usize);
        let count = |t: &str| {
            counted.set(counted.get() + t.len());
            t.len().div_ceil(4)
        };
        let doc = Document::from_text("d", &text);
        let chunks = chunk_document(&doc, &opts(256, 0), &count);
        assert!(chunks.len() > 100);
        assert!(chunks.iter().all(|c| c.text.len().div_ceil(4) <= 256));
        assert_eq!(
            no_space(&chunks.iter().map(Chunk::own_text).collect::<String>()),
            no_space(&text)
        );
        assert!(
            counted.get() < 20 * text.len(),
            "{} bytes counted",
            counted.get()
        );
    }
}

#[test]
fn chunks_prefer_to_end_at_paragraphs() {
    let para = |n: usize| {
        (0..4)
            .map(|i| format!("Paragraph {n} sentence {i} is here."))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = format!("{}\n\n{}\n\n{}", para(1), para(2), para(3));
    let doc = Document::from_text("d", &text);
    let options = ChunkOptions {
        max_tokens: 40,
        min_chars: 50,
        ..opts(40, 0)
    };
    let chunks = chunk_document(&doc, &options, &words);
    let got: Vec<_> = chunks.iter().map(|c| c.text.clone()).collect();
    assert_eq!(got, [para(1), para(2), para(3)]);
}

#[test]
fn table_chunks_are_whole_rows_under_a_repeated_header() {
    let rows: Vec<String> = (1..=30).map(|i| format!("item {i} | {}", i * 3)).collect();
    let table = format!("name | qty\n{}", rows.join("\n"));
    let doc = Document {
        sections: vec![Section {
            kind: SectionKind::Table,
            text: table.clone(),
            heading_path: vec![],
            // Source rows: the header in row 1, items 1-15 in rows 2-16, then two
            // empty rows the table text leaves out, items 16-30 in rows 19-33.
            location: Location {
                rows: Some((1, 33)),
                ..Location::default()
            },
            row_numbers: (1..=16).chain(19..=33).collect(),
        }],
        ..Document::from_text("t", "")
    };
    let chunks = chunk_document(&doc, &opts(40, 8), &words);
    assert!(chunks.len() > 3, "{}", chunks.len());
    let mut seen = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        assert!(c.text.starts_with("name | qty\n"), "{}", c.text);
        assert!(words(&c.text) <= 38);
        assert_eq!(
            c.header_chars,
            if i == 0 { 0 } else { "name | qty\n".len() }
        );
        assert_eq!(
            c.own_text(),
            table
                .chars()
                .skip(c.start)
                .take(c.end - c.start)
                .collect::<String>()
        );
        seen.extend(c.own_text().lines().filter(|l| l.starts_with("item")));
        // Each chunk names exactly the rows it holds (the first also the header's).
        let items: Vec<u32> = c
            .own_text()
            .lines()
            .filter_map(|l| l.strip_prefix("item ")?.split(' ').next()?.parse().ok())
            .collect();
        let row = |item: u32| if item <= 15 { item + 1 } else { item + 3 };
        let first = if i == 0 { 1 } else { row(items[0]) };
        assert_eq!(c.location.rows, Some((first, row(*items.last().unwrap()))));
    }
    // Every row once: rows are never cut or repeated.
    assert_eq!(seen, rows.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn pages_and_slides_are_hard_boundaries() {
    let section = |text: &str, page| Section {
        kind: SectionKind::Paragraph,
        text: text.to_owned(),
        heading_path: vec![],
        location: Location {
            page: Some(page),
            ..Location::default()
        },
        row_numbers: Vec::new(),
    };
    let doc = Document {
        sections: vec![
            section("Page one text.", 1),
            section("More on one.", 1),
            section("Page two.", 2),
        ],
        ..Document::from_text("p", "")
    };
    let chunks = chunk_document(&doc, &opts(256, 0), &words);
    let got: Vec<_> = chunks
        .iter()
        .map(|c| (c.text.as_str(), c.location.page, c.parent))
        .collect();
    assert_eq!(
        got,
        [
            ("Page one text.\n\nMore on one.", Some(1), 0),
            ("Page two.", Some(2), 1)
        ]
    );
}

#[test]
fn offsets_rebuild_the_parent() {
    let text = "Alpha beta gamma. Delta epsilon.\n\nZeta eta theta. Iota kappa lambda mu.";
    let doc = Document::from_text("d", text);
    let options = opts(7, 3);
    let chunks = chunk_document(&doc, &options, &words);
    assert!(chunks.len() > 2);
    let rebuilt = merge_chunk_texts(chunks.iter().map(|c| (c.start, c.end, c.own_text())));
    assert_eq!(rebuilt, parent_text(&doc, &options, 0));
}

#[test]
fn context_prefix_adds_title_and_headings_once() {
    let doc = parse_bytes(b"# Guide\n\n## Install\n\nRun it.\n", "g.md").unwrap();
    let chunks = chunk_document(&doc, &opts(256, 0), &words);
    let on = ChunkOptions {
        context_prefix: true,
        ..ChunkOptions::default()
    };
    let last = chunks.last().unwrap();
    // The headings open the chunk's text ("# Guide" straight over "## Install"
    // stays with the text under them), so only the title is put in front.
    assert_eq!(last.text, "Guide\n\nInstall\n\nRun it.");
    assert_eq!(
        last.embedding_text(Some("Manual"), &on),
        "Manual\n\nGuide\n\nInstall\n\nRun it."
    );
    assert_eq!(
        last.embedding_text(Some("Manual"), &ChunkOptions::default()),
        last.text
    );
}

#[test]
fn headings_straight_over_headings_stay_with_the_text_under_them() {
    let md =
        "# Changelog\n\n## 0.2.186 - 2026-04-24\n\n### Added\n\n- thing\n\n## 0.2.185\n\n- other\n";
    let doc = parse_bytes(md.as_bytes(), "CHANGELOG.md").unwrap();
    let chunks = chunk_document(&doc, &opts(256, 0), &words);
    let texts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Changelog\n\n0.2.186 - 2026-04-24\n\nAdded\n\nthing",
            "0.2.185\n\nother"
        ]
    );
    assert_eq!(
        chunks[0].heading_path,
        ["Changelog", "0.2.186 - 2026-04-24", "Added"]
    );
    assert_eq!(chunks[1].heading_path, ["Changelog", "0.2.185"]);
}

#[test]
fn a_json_document_is_chunked_together_under_the_key_its_values_share() {
    let json = br#"{"parts": [{"name": "from", "value": "Doug"}, {"name": "to", "value": "Joe"}]}"#;
    let doc = parse_bytes(json, "msg.json").unwrap();
    let chunks = chunk_document(&doc, &opts(256, 0), &words);
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0].text,
        "name: from\n\nvalue: Doug\n\nname: to\n\nvalue: Joe"
    );
    assert_eq!(chunks[0].location.key.as_deref(), Some("parts"));

    let key = |k: &[&str]| common_key(k.iter().map(|k| Some((*k).to_owned())));
    assert_eq!(
        key(&["items[0].title", "items[0].body"]),
        Some("items[0]".into())
    );
    assert_eq!(
        key(&["items[1].title", "items[12].title"]),
        Some("items".into())
    );
    assert_eq!(key(&["author", "authors"]), None);
    assert_eq!(key(&["a.b", "a.b"]), Some("a.b".into()));
    assert_eq!(key(&["a.b", "a.b.c"]), Some("a.b".into()));
    assert_eq!(key(&["a.bc", "a.b"]), Some("a".into()));
    assert_eq!(key(&["a.b", "a.bc"]), Some("a".into()));
}

#[test]
fn long_heading_groups_become_several_parents() {
    let paras: Vec<String> = (0..20)
        .map(|i| format!("Paragraph {i} talks about item {i} at length."))
        .collect();
    let doc = Document::from_text("d", &paras.join("\n\n"));
    let options = ChunkOptions {
        max_chars: 100,
        parent_max_chars: 200,
        ..opts(256, 0)
    };
    let chunks = chunk_document(&doc, &options, &words);
    let parents: std::collections::BTreeSet<u32> = chunks.iter().map(|c| c.parent).collect();
    assert!(parents.len() >= 5, "{parents:?}");
}

fn section_strategy() -> impl Strategy<Value = Section> {
    let word = prop::sample::select(vec![
        "alpha",
        "beta",
        "γάμμα",
        "delta",
        "e",
        "x",
        "longerword",
        "ünï",
        "42",
        "a.b",
    ]);
    let sentence = prop::collection::vec(word, 1..12).prop_map(|w| format!("{}.", w.join(" ")));
    let paragraph = prop::collection::vec(sentence, 1..6).prop_map(|s| s.join(" "));
    let prose = prop::collection::vec(paragraph, 1..4).prop_map(|p| p.join("\n\n"));
    let row = prop::collection::vec("[a-z]{1,8}", 1..4).prop_map(|c| c.join(" | "));
    let table = prop::collection::vec(row, 1..25).prop_map(|r| r.join("\n"));
    let giant = "[a-z]{50,300}";
    (0..5u8, prose, table, giant, 1..4u32).prop_map(|(kind, prose, table, giant, page)| {
        let (kind, text) = match kind {
            0 => (
                SectionKind::Heading { level: 2 },
                giant[..giant.len().min(20)].to_owned(),
            ),
            1 => (SectionKind::Table, table),
            2 => (SectionKind::Code, giant),
            _ => (SectionKind::Paragraph, prose),
        };
        Section {
            kind,
            text,
            heading_path: vec![],
            location: Location {
                page: Some(page),
                ..Location::default()
            },
            row_numbers: Vec::new(),
        }
    })
}

fn no_space(s: &str) -> String {
    s.split_whitespace().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Chunks stay within the limits, lose no text, repeat no more than the
    /// overlap, rebuild their parents, and come out the same every time.
    #[test]
    fn chunking_properties(
        sections in prop::collection::vec(section_strategy(), 1..8),
        max_tokens in 10usize..80,
        max_chars in 64usize..400,
        overlap in 0usize..12,
    ) {
        let doc = Document { sections, ..Document::from_text("p", "") };
        let options = ChunkOptions {
            max_tokens,
            max_chars,
            min_chars: max_chars / 3,
            overlap: Overlap::Tokens(overlap),
            parent_max_chars: max_chars * 3,
            context_prefix: false,
        };
        let chunks = chunk_document(&doc, &options, &words);
        prop_assert_eq!(&chunks, &chunk_document(&doc, &options, &words));
        let all_parents = parents(&doc, options.parent_max_chars);
        for (i, c) in chunks.iter().enumerate() {
            prop_assert_eq!(c.ordinal as usize, i);
            prop_assert!(words(&c.text) <= max_tokens - SPECIAL_TOKENS, "{:?}", c.text);
            prop_assert!(c.text.chars().count() <= max_chars, "{:?}", c.text);
            let parent: String = all_parents[c.parent as usize].text.chars().skip(c.start).take(c.end - c.start).collect();
            prop_assert_eq!(c.own_text(), parent.as_str());
        }
        for w in chunks.windows(2) {
            if w[0].parent == w[1].parent && w[1].start < w[0].end {
                let repeated: String = w[1].own_text().chars().take(w[0].end - w[1].start).collect();
                prop_assert!(words(&repeated) <= overlap, "{:?}", repeated);
            }
        }
        for (p, parent) in all_parents.iter().enumerate() {
            let rebuilt = merge_chunk_texts(
                chunks.iter().filter(|c| c.parent as usize == p).map(|c| (c.start, c.end, c.own_text())),
            );
            prop_assert_eq!(no_space(&rebuilt), no_space(&parent.text));
        }
        let source: String = doc.sections.iter().map(|s| no_space(&s.text)).collect();
        let parents_text: String = all_parents.iter().map(|p| no_space(&p.text)).collect();
        prop_assert_eq!(source, parents_text);
    }
}

#[test]
fn chunking_is_deterministic() {
    let text = "A b c. D e f.\n\nG h i. J k l.";
    let doc = Document::from_text("d", text);
    assert_eq!(
        chunk_document(&doc, &opts(6, 2), &words),
        chunk_document(&doc, &opts(6, 2), &words)
    );
}
