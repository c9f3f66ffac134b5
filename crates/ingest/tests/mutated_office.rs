//! The Office parsers take damaged XML in their stride: the fixtures' XML parts, mutated
//! a few thousand times and zipped up again, parse or fail with an error, never a panic.
//! Each case goes through `parse_bytes_as` with the fuzz targets' limits.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use trawl_ingest::{parse_bytes_as, Format, Limits};

/// Panics seen anywhere in the process; `parse_bytes_as` turns them into errors, the hook
/// still counts them.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Mutated cases per fixture.
const CASES: usize = 400;

/// A xorshift generator: the same cases on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Markup that damaged XML tends to hold: delimiters, references and section openers.
const PIECES: &[&[u8]] = &[
    b"<",
    b">",
    b"/",
    b"&",
    b";",
    b"!",
    b"?",
    b"\"",
    b"'",
    b"=",
    b"[",
    b"]",
    b"-",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?",
    b"?>",
    b"<!DOCTYPE",
    b"&amp;",
    b"&#233;",
    b"&#xFFFFFFFF;",
    b"&bogus;",
    b"</",
    b"/>",
    b"<!x>",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xff",
];

/// One to eight edits: deletions, insertions of markup pieces, truncation, a copied span.
fn mutate(rng: &mut Rng, xml: &[u8]) -> Vec<u8> {
    let mut b = xml.to_vec();
    for _ in 0..1 + rng.below(8) {
        if b.is_empty() {
            break;
        }
        let i = rng.below(b.len());
        match rng.below(5) {
            0 => {
                let j = (i + 1 + rng.below(64)).min(b.len());
                b.drain(i..j);
            }
            1 | 2 => {
                let piece = PIECES[rng.below(PIECES.len())];
                b.splice(i..i, piece.iter().copied());
            }
            3 => b.truncate(i),
            _ => {
                let j = (i + rng.below(256)).min(b.len());
                let span = b[i..j].to_vec();
                let k = rng.below(b.len());
                b.splice(k..k, span);
            }
        }
    }
    b
}

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), stored).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

#[test]
fn mutated_office_xml_never_panics() {
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        eprintln!("{info}");
    }));
    let limits = Limits::default()
        .max_file_bytes(1 << 20)
        .max_decompressed_bytes(16 << 20)
        .max_cells(1_000_000)
        .max_rows(100_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    // ODS is left out: calamine 0.38's ODS reader does not stop at the end of a
    // `content.xml` that ends inside a table.
    let mut sets = Vec::new();
    for (name, format) in [
        ("test.docx", Format::Docx),
        ("comments-rich-para.docx", Format::Docx),
        ("tbl-cell-access.docx", Format::Docx),
        ("par-known-styles.docx", Format::Docx),
        ("test.pptx", Format::Pptx),
        ("sld-notes.pptx", Format::Pptx),
        ("tbl-cell.pptx", Format::Pptx),
        ("merged_cells.xlsx", Format::Xlsx),
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        sets.push((name.to_owned(), format, entries(&bytes)));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut failed = 0;
    for (name, format, parts) in &sets {
        let xml: Vec<usize> = (0..parts.len())
            .filter(|&i| parts[i].0.ends_with(".xml") || parts[i].0.ends_with(".rels"))
            .collect();
        if let Err(e) = parse_bytes_as(&zip_of(parts), name, *format, &limits) {
            panic!("{name}: {e}");
        }
        for _ in 0..CASES {
            let mut case = parts.clone();
            let i = xml[rng.below(xml.len())];
            case[i].1 = mutate(&mut rng, &parts[i].1);
            failed += usize::from(parse_bytes_as(&zip_of(&case), name, *format, &limits).is_err());
        }
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
    // Most damage leaves a readable document; the rest is a typed error.
    assert!(failed < sets.len() * CASES, "{failed}");
}
