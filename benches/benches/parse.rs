//! Parse throughput per format on trawl-ingest's fixture files (MB/s), and pages or
//! slides per second for the paged formats.
//!
//! `cargo bench -p trawl-benches --bench parse`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trawl_ingest::{parse_bytes_all, Limits};

/// (format, fixture files); every file must parse.
const SETS: &[(&str, &[&str])] = &[
    (
        "pdf",
        &[
            "crazyones.pdf",
            "metadata.pdf",
            "two-different-pages.pdf",
            "r3-empty-password.pdf",
        ],
    ),
    (
        "docx",
        &[
            "test.docx",
            "doc-coreprops.docx",
            "par-known-styles.docx",
            "tbl-cell-access.docx",
            "comments-rich-para.docx",
        ],
    ),
    ("pptx", &["test.pptx", "tbl-cell.pptx", "sld-notes.pptx"]),
    ("xlsx", &["merged_cells.xlsx", "text_bar.xlsx"]),
    ("xls", &["profiles.xls", "ragged.xls"]),
    ("eml", &["attachment-txt.eml", "html-body.eml"]),
];

fn load(names: &[&str]) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/ingest/tests/fixtures");
    names
        .iter()
        .map(|n| {
            (
                (*n).to_owned(),
                std::fs::read(dir.join(n)).expect("fixture"),
            )
        })
        .collect()
}

/// Text formats are built here, at a size where per-call costs do not dominate.
fn generated() -> Vec<(&'static str, String, Vec<u8>)> {
    let para = "Tide pools form where the sea leaves water behind in hollows of rock. ";
    let mut md = String::new();
    let mut html = String::from("<html><head><title>Bench</title></head><body>");
    let mut csv = String::from("id,name,notes\n");
    let mut json = String::from("[");
    for i in 0..2000 {
        md.push_str(&format!(
            "## Section {i}\n\n{}\n\n- item one\n- item two\n\n",
            para.repeat(3)
        ));
        html.push_str(&format!(
            "<h2>Section {i}</h2><p>{}</p><ul><li>one</li><li>two</li></ul>",
            para.repeat(3)
        ));
        csv.push_str(&format!("{i},name {i},\"{para}\"\n"));
        json.push_str(&format!(
            "{}{{\"id\": {i}, \"text\": \"{para}\"}}",
            if i > 0 { "," } else { "" }
        ));
    }
    html.push_str("</body></html>");
    json.push(']');
    vec![
        ("markdown", "bench.md".into(), md.into_bytes()),
        ("html", "bench.html".into(), html.into_bytes()),
        ("csv", "bench.csv".into(), csv.into_bytes()),
        ("json", "bench.json".into(), json.into_bytes()),
    ]
}

fn parse_all(files: &[(String, Vec<u8>)], limits: &Limits) -> usize {
    files
        .iter()
        .map(|(name, bytes)| {
            parse_bytes_all(bytes, name, limits)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .len()
        })
        .sum()
}

fn throughput(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    for (format, names) in SETS {
        let files = load(names);
        let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(*format, |b| b.iter(|| parse_all(&files, &limits)));
    }
    for (format, name, bytes) in generated() {
        let files = vec![(name, bytes)];
        g.throughput(Throughput::Bytes(files[0].1.len() as u64));
        g.bench_function(format, |b| b.iter(|| parse_all(&files, &limits)));
    }
    g.finish();

    // Pages (PDF) and slides (PPTX) per second.
    let mut g = c.benchmark_group("pages");
    for (format, key) in [("pdf", "pages"), ("pptx", "slides")] {
        let names = SETS
            .iter()
            .find(|(f, _)| *f == format)
            .map(|(_, n)| *n)
            .unwrap_or_default();
        let files = load(names);
        let pages: i64 = files
            .iter()
            .map(
                |(n, b)| match parse_bytes_all(b, n, &limits).unwrap()[0].metadata.get(key) {
                    Some(trawl_ingest::MetaValue::Int(p)) => *p,
                    _ => 0,
                },
            )
            .sum();
        g.throughput(Throughput::Elements(pages.unsigned_abs()));
        g.bench_function(format, |b| b.iter(|| parse_all(&files, &limits)));
    }
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
