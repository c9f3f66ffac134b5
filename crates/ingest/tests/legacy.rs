//! Legacy Office files (Word 97-2003 `.doc`, PowerPoint 97-2003 `.ppt`) and RTF: real
//! files (see fixtures/README.md), the same documents as DOCX for comparison, and
//! files the tests build or break.

use std::io::Write;
use std::path::{Path, PathBuf};

use trawl_ingest::{
    detect_format, parse_bytes_all, parse_path, Document, Error, Format, Limits, SectionKind,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn parse(name: &str) -> Document {
    parse_path(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Each section as (kind, text, heading path, slide).
fn outline(doc: &Document) -> Vec<(SectionKind, String, Vec<String>, Option<u32>)> {
    doc.sections
        .iter()
        .map(|s| {
            (
                s.kind,
                s.text.clone(),
                s.heading_path.clone(),
                s.location.slide,
            )
        })
        .collect()
}

#[test]
fn word_97_and_rtf_read_as_the_docx_they_were_saved_from() {
    for name in ["par-known-styles", "tbl-cell-access", "comments-rich-para"] {
        let docx = parse(&format!("{name}.docx"));
        let rtf = parse(&format!("{name}.rtf"));
        assert_eq!(rtf.format, Format::Rtf);
        assert_eq!(outline(&rtf), outline(&docx), "{name}.rtf");
        let doc = parse(&format!("{name}.doc"));
        assert_eq!(doc.format, Format::Doc);
        // Word 97 keeps comment authors apart from the comments; the label has none.
        let mut expected = outline(&docx);
        for (_, text, _, _) in &mut expected {
            *text = text.replace("comment by Steve Canny: ", "comment: ");
        }
        assert_eq!(outline(&doc), expected, "{name}.doc");
    }
    let doc = parse("par-known-styles.doc");
    let body = doc.sections.iter().find(|s| s.text == "Body Text").unwrap();
    assert_eq!(body.heading_path, ["Heading 1"]);
    let doc = parse("tbl-cell-access.doc");
    assert!(doc.sections.iter().any(|s| s.kind == SectionKind::Table));
}

#[test]
fn word_document_gives_heading_unicode_text_and_summary_metadata() {
    let doc = parse("harmless-clean.doc");
    assert_eq!(doc.title.as_deref(), Some("Test"));
    assert_eq!(doc.sections[0].kind, SectionKind::Heading { level: 1 });
    let text: Vec<&str> = doc.sections.iter().map(|s| s.text.as_str()).collect();
    assert!(
        text.iter().any(|t| t.contains("ünicöde-ßtringß")),
        "{text:?}"
    );
    assert!(doc.sections[1..]
        .iter()
        .all(|s| s.heading_path == ["Test"] && s.kind == SectionKind::Paragraph));
    assert_eq!(doc.metadata["author"].to_string(), "user");
    assert_eq!(doc.metadata["created"].to_string(), "2017-10-26T09:09:00Z");
}

#[test]
fn powerpoint_slide_gives_title_body_and_summary() {
    let doc = parse("embedded-simple-2007.ppt");
    assert_eq!(doc.format, Format::Ppt);
    assert_eq!(doc.title.as_deref(), Some("Embedded Objects"));
    assert_eq!(doc.metadata["slides"].to_string(), "1");
    assert_eq!(
        outline(&doc),
        [
            (
                SectionKind::Heading { level: 1 },
                "Embedded Objects".to_owned(),
                vec!["Embedded Objects".to_owned()],
                Some(1)
            ),
            (
                SectionKind::Paragraph,
                "This slide contains an embedded object".to_owned(),
                vec!["Embedded Objects".to_owned()],
                Some(1)
            ),
            (
                SectionKind::Paragraph,
                "It is a simple harmless ASCII text file".to_owned(),
                vec!["Embedded Objects".to_owned()],
                Some(1)
            ),
        ]
    );
}

#[test]
fn password_protected_word_and_powerpoint_are_encrypted_errors() {
    for (name, format) in [
        ("encrypted.doc", Format::Doc),
        ("encrypted.ppt", Format::Ppt),
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        assert_eq!(detect_format(&bytes, "no-extension").unwrap(), format);
        let err = parse_path(&fixture(name)).unwrap_err();
        assert!(matches!(err, Error::Encrypted { .. }), "{name}: {err}");
    }
}

#[test]
fn compound_files_are_told_apart_by_their_streams_and_rtf_by_its_header() {
    let doc = std::fs::read(fixture("harmless-clean.doc")).unwrap();
    let ppt = std::fs::read(fixture("embedded-simple-2007.ppt")).unwrap();
    assert_eq!(detect_format(&doc, "report.ppt").unwrap(), Format::Doc);
    assert_eq!(detect_format(&ppt, "slides.bin").unwrap(), Format::Ppt);
    assert_eq!(detect_format(b"{\\rtf1 x}", "a.txt").unwrap(), Format::Rtf);
    // A compound file with none of the known streams: the extension decides, and
    // the reader reports what is missing.
    let other = compound(&[("/Other", b"x")]);
    assert!(detect_format(&other, "x.bin").is_err());
    assert_eq!(detect_format(&other, "x.doc").unwrap(), Format::Doc);
    let err = parse_bytes_all(&other, "x.doc", &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
    let err = parse_bytes_all(&other, "x.ppt", &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn cut_and_damaged_legacy_files_are_errors_or_partial_text_never_panics() {
    for name in [
        "harmless-clean.doc",
        "tbl-cell-access.doc",
        "embedded-simple-2007.ppt",
        "tbl-cell-access.rtf",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for cut in [16, 512, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let _ = parse_bytes_all(&bytes[..cut], name, &Limits::default());
        }
        // Every 97th byte flipped.
        let mut damaged = bytes.clone();
        for b in damaged.iter_mut().step_by(97) {
            *b ^= 0x5A;
        }
        let _ = parse_bytes_all(&damaged, name, &Limits::default());
    }
}

/// A compound file holding `streams`.
fn compound(streams: &[(&str, &[u8])]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    for (path, bytes) in streams {
        file.create_stream(path).unwrap().write_all(bytes).unwrap();
    }
    file.flush().unwrap();
    file.into_inner().into_inner()
}

/// A PowerPoint record: header (version 0xF for a container), then the body.
fn record(kind: u16, instance: u16, container: bool, body: &[u8]) -> Vec<u8> {
    let head = (instance << 4) | if container { 0xF } else { 0 };
    let mut out = head.to_le_bytes().to_vec();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A slide (or notes) container: a slide atom naming `notes`, then a text of `kind`.
fn slide(kind: u16, notes: u32, text_type: u32, text: &str) -> Vec<u8> {
    let mut atom = vec![0u8; 16];
    atom.extend_from_slice(&notes.to_le_bytes());
    atom.extend_from_slice(&[0; 4]);
    let chars: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut body = record(0x03EF, 0, false, &atom);
    body.extend(record(0x0F9F, 0, false, &text_type.to_le_bytes()));
    body.extend(record(0x0FA0, 0, false, &chars));
    record(kind, 0, true, &body)
}

/// A presentation saved twice: the second save rewrites slide A (persist id 3) at the
/// end of the stream. The slide list puts A before B; A's notes are persist id 4.
fn incremental_presentation() -> (Vec<u8>, Vec<u8>) {
    let mut stream = Vec::new();
    let old_a = stream.len() as u32;
    stream.extend(slide(0x03EE, 0, 0, "Old title"));
    let b = stream.len() as u32;
    stream.extend(slide(0x03EE, 0, 0, "Second"));
    let notes = stream.len() as u32;
    stream.extend(slide(0x03F0, 0, 2, "Say this"));
    let doc = stream.len() as u32;
    let mut slides = record(0x03F3, 0, false, &words(&[3, 0, 0, 256, 0]));
    slides.extend(record(0x03F3, 0, false, &words(&[2, 0, 0, 257, 0])));
    let mut list = record(0x0FF0, 0, true, &slides);
    list.extend(record(
        0x0FF0,
        2,
        true,
        &record(0x03F3, 0, false, &words(&[4, 0, 0, 9, 0])),
    ));
    stream.extend(record(0x03E8, 0, true, &list));
    let dir1 = stream.len() as u32;
    stream.extend(record(
        0x1772,
        0,
        false,
        &words(&[1 | (4 << 20), doc, b, old_a, notes]),
    ));
    let edit1 = stream.len() as u32;
    stream.extend(record(0x0FF5, 0, false, &words(&[0, 0, 0, dir1, 1, 4, 0])));
    let new_a = stream.len() as u32;
    stream.extend(slide(0x03EE, 9, 0, "New title"));
    let dir2 = stream.len() as u32;
    stream.extend(record(0x1772, 0, false, &words(&[3 | (1 << 20), new_a])));
    let edit2 = stream.len() as u32;
    stream.extend(record(
        0x0FF5,
        0,
        false,
        &words(&[0, 0, edit1, dir2, 1, 4, 0]),
    ));
    let mut user = record(0x0FF6, 0, false, &words(&[20, 0xE391_C05F, edit2]));
    user.extend_from_slice(&[0; 8]);
    (stream, user)
}

#[test]
fn powerpoint_slides_come_from_the_newest_save_in_presentation_order_with_notes() {
    let (stream, user) = incremental_presentation();
    let bytes = compound(&[("/PowerPoint Document", &stream), ("/Current User", &user)]);
    let docs = parse_bytes_all(&bytes, "deck.ppt", &Limits::default()).unwrap();
    let texts: Vec<(SectionKind, &str, Option<u32>)> = docs[0]
        .sections
        .iter()
        .map(|s| (s.kind, s.text.as_str(), s.location.slide))
        .collect();
    assert_eq!(
        texts,
        [
            (SectionKind::Heading { level: 1 }, "New title", Some(1)),
            (SectionKind::Note, "Speaker notes: Say this", Some(1)),
            (SectionKind::Heading { level: 1 }, "Second", Some(2)),
        ]
    );

    // The current user record points nowhere: every slide container in stream order.
    let mut lost = user.clone();
    lost[16..20].copy_from_slice(&[0xFF; 4]);
    let bytes = compound(&[("/PowerPoint Document", &stream), ("/Current User", &lost)]);
    let docs = parse_bytes_all(&bytes, "deck.ppt", &Limits::default()).unwrap();
    let titles: Vec<&str> = docs[0].sections.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(titles, ["Old title", "Second", "New title"]);

    // Over the slide limit.
    let limits = Limits::default().max_slides(1);
    let bytes = compound(&[("/PowerPoint Document", &stream), ("/Current User", &user)]);
    let err = parse_bytes_all(&bytes, "deck.ppt", &limits).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
}
