//! PDF text from files that real writers get wrong, built by the tests: comments and
//! broken operations in content streams, text in forms, Type0 fonts with their own
//! encoding CMaps, broken cross-reference tables, pages that hold only repeated lines,
//! and (with the `ocr` feature) a scanned page within a typed document.

use trawl_ingest::{parse_bytes_all, Document, Limits};

/// A PDF of the given objects (numbered from 1; object 1 must be the catalog), with a
/// correct cross-reference table unless `startxref` says otherwise.
fn pdf(objects: &[Vec<u8>], startxref: Option<usize>) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n",
            objects.len() + 1,
            startxref.unwrap_or(xref)
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

/// A one-page PDF: catalog 1, pages 2, page 3 with `resources`, content 4, then `extra`
/// objects from 5 on.
fn one_page(resources: &str, content: &[u8], extra: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {resources} /Contents 4 0 R >>"
        )
        .into_bytes(),
        stream("", content),
    ];
    objects.extend(extra);
    objects
}

const HELVETICA: &str = "<< /Font << /F1 5 0 R >> >>";

fn helvetica() -> Vec<u8> {
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec()
}

fn text(bytes: &[u8]) -> String {
    let docs: Vec<Document> =
        parse_bytes_all(bytes, "test.pdf", &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    docs.iter()
        .flat_map(|d| &d.sections)
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn comments_and_failed_operations_do_not_lose_the_rest_of_the_page() {
    let content = b"BT /F1 12 Tf 72 % a comment between operands\n 700 Td (First words) Tj ET\n\
        /Missing gs /NoSuchImage Do\n\
        BT /F1 12 Tf 72 650 Td (Second words) Tj ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    assert!(got.contains("First words"), "{got}");
    assert!(got.contains("Second words"), "{got}");
}

#[test]
fn text_drawn_in_a_form_is_read_and_a_form_that_draws_itself_ends() {
    let resources = "<< /Font << /F1 5 0 R >> /XObject << /Fm1 6 0 R /Loop 7 0 R >> >>";
    let content = b"q 1 0 0 1 50 50 cm /Fm1 Do Q /Loop Do";
    let form = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 500 500] /Resources << /Font << /F1 5 0 R >> >>",
        b"BT /F1 12 Tf 10 600 Td (Inside the form) Tj ET",
    );
    let looping = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /Loop 7 0 R >> >>",
        b"/Loop Do",
    );
    let got = text(&pdf(
        &one_page(resources, content, vec![helvetica(), form, looping]),
        None,
    ));
    assert!(got.contains("Inside the form"), "{got}");
}

/// A Type0 font whose encoding CMap maps one-byte codes to CIDs that are not the codes,
/// and whose ToUnicode CMap (keyed by code, as the standard says) ends its lines in CR
/// and leaves no space between tokens.
#[test]
fn type0_text_is_decoded_by_code_through_its_own_cmaps() {
    let encoding = stream(
        "/Type /CMap /CMapName /Custom /CIDSystemInfo << /Registry (Test) /Ordering (Custom) /Supplement 0 >>",
        b"/CIDInit /ProcSet findresource begin\r12 dict begin\rbegincmap\r\
          1 begincodespacerange\r<20> <7e>\rendcodespacerange\r\
          1 begincidrange\r<20> <7e> 1\rendcidrange\rendcmap\r",
    );
    let to_unicode = stream(
        "",
        b"/CIDInit /ProcSet findresource begin\r12 dict begin\rbegincmap\r\
          1 begincodespacerange<20><7e>endcodespacerange\r\
          1 beginbfrange<20><7e><0020>endbfrange\rendcmap\r",
    );
    let objects = one_page(
        HELVETICA,
        b"BT /F1 12 Tf 72 700 Td (Hello encoded world) Tj ET",
        vec![
            b"<< /Type /Font /Subtype /Type0 /BaseFont /Test /Encoding 6 0 R /ToUnicode 7 0 R /DescendantFonts [8 0 R] >>".to_vec(),
            encoding,
            to_unicode,
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Test /CIDSystemInfo << /Registry (Test) /Ordering (Custom) /Supplement 0 >> /FontDescriptor 9 0 R /DW 500 /W [1 95 600] >>".to_vec(),
            b"<< /Type /FontDescriptor /FontName /Test /Flags 32 /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>".to_vec(),
        ],
    );
    let got = text(&pdf(&objects, None));
    assert!(got.contains("Hello encoded world"), "{got}");
}

#[test]
fn a_broken_cross_reference_table_is_rebuilt_from_the_objects() {
    let objects = one_page(
        HELVETICA,
        b"BT /F1 12 Tf 72 700 Td (Found after repair) Tj ET",
        vec![helvetica()],
    );
    let good = pdf(&objects, None);
    for broken in [pdf(&objects, Some(5)), pdf(&objects, Some(good.len() * 2))] {
        assert!(lopdf::Document::load_mem(&broken).is_err());
        let got = text(&broken);
        assert!(got.contains("Found after repair"), "{got}");
    }
}

#[test]
fn pages_that_hold_only_a_repeated_line_keep_it() {
    let pages = 4;
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|p| format!("{} 0 R", 4 + 2 * p))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .into_bytes(),
        helvetica(),
    ];
    for p in 0..pages {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * p
            )
            .into_bytes(),
        );
        objects.push(stream(
            "",
            format!("BT /F1 12 Tf 72 700 Td (Potato {p}) Tj ET").as_bytes(),
        ));
    }
    let got = text(&pdf(&objects, None));
    for p in 0..pages {
        assert!(got.contains(&format!("Potato {p}")), "{got}");
    }
}

#[test]
fn text_drawn_twice_in_place_is_read_once() {
    let content =
        b"BT /F1 12 Tf 72 700 Td (Heavy title) Tj ET BT /F1 12 Tf 72.4 700 Td (Heavy title) Tj ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    assert_eq!(got.matches("Heavy").count(), 1, "{got}");
    assert!(got.contains("Heavy title"), "{got}");
}

#[test]
fn rotated_and_upside_down_text_keeps_its_words() {
    let content = b"BT /F1 12 Tf 0 1 -1 0 300 200 Tm (Rotated words here) Tj ET\n\
        BT -12 0 0 -12 500 600 Tm /F1 -1 Tf (Negative size reads upright) Tj ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    assert!(got.contains("Rotated words here"), "{got}");
    assert!(got.contains("Negative size reads upright"), "{got}");
}

#[test]
fn a_word_set_a_little_lower_and_further_right_is_a_word_of_its_own() {
    let content = b"BT /F1 12 Tf 72 700 Td (Insert) Tj 45 -8 Td (the) Tj ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    assert!(got.contains("Insert the"), "{got}");
}

/// A TrueType font file holding only a `cmap` table (format 4, Windows Unicode) that
/// maps 'H', 'i' and '!' to glyphs 1, 2 and 3.
fn cmap_only_truetype() -> Vec<u8> {
    let be = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_be_bytes());
    let mut sub = Vec::new();
    // Segments: 'H' -> 1, 'i' -> 2, '!' -> 3 (by delta), and the closing 0xFFFF.
    let segments = [(0x21u16, 3u16), (0x48, 1), (0x69, 2)];
    for x in [4u16, 0, 0, 2 * (segments.len() as u16 + 1), 0, 0, 0] {
        be(&mut sub, x);
    }
    for (code, _) in segments {
        be(&mut sub, code);
    }
    be(&mut sub, 0xffff);
    be(&mut sub, 0);
    for (code, _) in segments {
        be(&mut sub, code);
    }
    be(&mut sub, 0xffff);
    for (code, glyph) in segments {
        be(&mut sub, glyph.wrapping_sub(code));
    }
    be(&mut sub, 1);
    for _ in 0..=segments.len() {
        be(&mut sub, 0);
    }
    let length = sub.len() as u16;
    sub[2..4].copy_from_slice(&length.to_be_bytes());
    let mut font = vec![0, 1, 0, 0];
    for x in [1u16, 16, 0, 0] {
        be(&mut font, x);
    }
    font.extend_from_slice(b"cmap");
    font.extend_from_slice(&[0; 4]);
    font.extend_from_slice(&28u32.to_be_bytes());
    font.extend_from_slice(&(12 + sub.len() as u32).to_be_bytes());
    for x in [0u16, 1, 3, 1] {
        be(&mut font, x);
    }
    font.extend_from_slice(&12u32.to_be_bytes());
    font.extend_from_slice(&sub);
    font
}

/// An Identity-H font with no ToUnicode map names glyphs only; the embedded TrueType
/// font's own cmap says which characters they draw.
#[test]
fn glyph_ids_are_read_through_the_embedded_fonts_cmap() {
    let objects = one_page(
        HELVETICA,
        b"BT /F1 12 Tf 72 700 Td <000100020003> Tj ET",
        vec![
            b"<< /Type /Font /Subtype /Type0 /BaseFont /Test /Encoding /Identity-H /DescendantFonts [6 0 R] >>".to_vec(),
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Test /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /CIDToGIDMap /Identity >>".to_vec(),
            b"<< /Type /FontDescriptor /FontName /Test /Flags 32 /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 /FontFile2 8 0 R >>".to_vec(),
            stream("", &cmap_only_truetype()),
        ],
    );
    let got = text(&pdf(&objects, None));
    assert!(got.contains("Hi!"), "{got}");
}

#[test]
fn pages_without_text_are_named_in_the_metadata() {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [4 0 R 6 0 R 8 0 R] /Count 3 >>".to_vec(),
        helvetica(),
    ];
    for (p, content) in [
        &b"BT /F1 12 Tf 72 700 Td (A page of text) Tj ET"[..],
        b"0 0 m 100 100 l S",
        b"BT /F1 12 Tf 72 700 Td (Another page of text) Tj ET",
    ]
    .iter()
    .enumerate()
    {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * p
            )
            .into_bytes(),
        );
        objects.push(stream("", content));
    }
    let docs = parse_bytes_all(&pdf(&objects, None), "mixed.pdf", &Limits::default()).unwrap();
    assert_eq!(
        docs[0].metadata.get("pages_without_text"),
        Some(&trawl_ingest::MetaValue::List(vec!["2".into()]))
    );
    let texts = |page: u32| {
        docs[0]
            .sections
            .iter()
            .filter(|s| s.location.page == Some(page))
            .count()
    };
    assert_eq!((texts(1), texts(2), texts(3)), (1, 0, 1));
}

/// A typed page and a scanned one: the scan is rendered and recognised, the typed
/// page keeps its text layer.
#[cfg(feature = "ocr")]
#[test]
fn a_scanned_page_in_a_typed_pdf_is_read_with_ocr() {
    let dir = tempfile::tempdir().unwrap();
    let crazyones =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crazyones.pdf");
    let status = std::process::Command::new("pdftoppm")
        .args(["-jpeg", "-r", "150", "-singlefile"])
        .arg(&crazyones)
        .arg(dir.path().join("scan"))
        .status()
        .expect("pdftoppm runs");
    assert!(status.success());
    let jpeg = std::fs::read(dir.path().join("scan.jpg")).unwrap();
    // Height, width and components from the JPEG's frame header.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let height = u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]);
    let width = u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]);
    let space = if jpeg[sof + 9] == 1 {
        "DeviceGray"
    } else {
        "DeviceRGB"
    };
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 7 0 R >> >> /Contents 4 0 R >>".to_vec(),
        stream("", b"BT /F1 14 Tf 72 700 Td (Typed words before the scanned page) Tj ET"),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 8 0 R >> >> /Contents 6 0 R >>".to_vec(),
        stream("", b"q 612 0 0 792 0 0 cm /Im1 Do Q"),
        helvetica(),
        stream(
            &format!("/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /{space} /BitsPerComponent 8 /Filter /DCTDecode"),
            &jpeg,
        ),
    ];
    let docs = parse_bytes_all(&pdf(&objects, None), "mixed.pdf", &Limits::default()).unwrap();
    let doc = &docs[0];
    let page = |n: u32| -> String {
        doc.sections
            .iter()
            .filter(|s| s.location.page == Some(n))
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(page(1), "Typed words before the scanned page");
    assert!(page(2).to_lowercase().contains("crazy ones"), "{}", page(2));
    assert_eq!(doc.metadata["ocr_pages"].to_string(), "2");
    assert!(!doc.metadata.contains_key("pages_without_text"));
}

/// A form field's appearance stream: `text` in Helvetica (object 5) in a 200 x 20 box.
fn appearance(text: &str) -> Vec<u8> {
    stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 200 20] /Resources << /Font << /F1 5 0 R >> >>",
        format!("/Tx BMC BT /F1 10 Tf 2 5 Td ({text}) Tj ET EMC").as_bytes(),
    )
}

/// Form fields, stamps and notes draw their text in their appearance streams, placed
/// in their rectangles after the page's own content.
#[test]
fn annotations_show_their_appearance_text_unless_hidden() {
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> \
          /Contents 4 0 R /Annots [6 0 R 7 0 R 8 0 R 9 0 R] >>"
            .to_vec(),
        stream("", b"BT /F1 12 Tf 72 700 Td (Name of the applicant:) Tj ET"),
        helvetica(),
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /V (Ada Lovelace) \
          /Rect [250 695 450 715] /AP << /N 10 0 R >> >>"
            .to_vec(),
        b"<< /Type /Annot /Subtype /Widget /F 2 /Rect [72 600 272 620] /AP << /N 11 0 R >> >>"
            .to_vec(),
        b"<< /Type /Annot /Subtype /Widget /FT /Btn /Rect [72 500 272 520] /AS /Off \
          /AP << /N << /Yes 12 0 R /Off 13 0 R >> >> >>"
            .to_vec(),
        // A popup names no appearance of its own; an unreadable one is skipped.
        b"<< /Type /Annot /Subtype /Stamp /Rect [1 2 x] /AP << /N 10 0 R >> >>".to_vec(),
        appearance("Ada Lovelace"),
        appearance("Hidden field text"),
        appearance("Box is ticked"),
        appearance("Box is clear"),
    ];
    let got = text(&pdf(&objects, None));
    // The page's text, then its annotations' text, a paragraph of its own.
    assert!(
        got.starts_with("Name of the applicant:\nAda Lovelace"),
        "{got}"
    );
    assert!(got.contains("Box is clear"), "{got}");
    assert!(!got.contains("Hidden field text"), "{got}");
    assert!(!got.contains("Box is ticked"), "{got}");
    assert_eq!(got.matches("Ada Lovelace").count(), 1, "{got}");
}

/// The `'` and `"` operators move to the next line before they show their string (a
/// line below the last, so the lines make one paragraph).
#[test]
fn quote_operators_show_their_text_on_a_new_line() {
    let content = b"BT /F1 12 Tf 14 TL 72 700 Td (First line) Tj (Second line) ' \
        3 1 (Third line) \" ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    assert!(got.contains("First line Second line Third line"), "{got}");
}

/// A table drawn cell by cell, a row missing a cell, between two paragraphs: its rows
/// come out as a table section whose cells stay under their headings.
#[test]
fn a_table_drawn_cell_by_cell_is_read_as_rows() {
    let mut content =
        b"BT /F1 11 Tf 72 720 Td (Stock held at the depot, counted weekly.) Tj ET\n".to_vec();
    let rows: [[&str; 3]; 4] = [
        ["Item", "Place", "Count"],
        ["Lamp", "Shelf A", "4"],
        ["Shade", "", "12"],
        ["Cable", "Bin 7", "30"],
    ];
    for (r, row) in rows.iter().enumerate() {
        let y = 680 - 18 * r;
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                let x = 72 + 140 * c;
                content.extend_from_slice(
                    format!("BT /F1 11 Tf {x} {y} Td ({cell}) Tj ET\n").as_bytes(),
                );
            }
        }
    }
    content.extend_from_slice(b"BT /F1 11 Tf 72 560 Td (Counts are checked on Fridays.) Tj ET");
    let bytes = pdf(&one_page(HELVETICA, &content, vec![helvetica()]), None);
    let docs = parse_bytes_all(&bytes, "test.pdf", &Limits::default()).expect("parses");
    let sections: Vec<(trawl_ingest::SectionKind, &str)> = docs[0]
        .sections
        .iter()
        .map(|s| (s.kind, s.text.as_str()))
        .collect();
    assert_eq!(
        sections,
        [
            (
                trawl_ingest::SectionKind::Paragraph,
                "Stock held at the depot, counted weekly."
            ),
            (
                trawl_ingest::SectionKind::Table,
                "Item | Place | Count\nLamp | Shelf A | 4\nShade |  | 12\nCable | Bin 7 | 30"
            ),
            (
                trawl_ingest::SectionKind::Paragraph,
                "Counts are checked on Fridays."
            ),
        ]
    );
}

/// Code set in a monospaced font, its columns aligned with a few spaces (gaps of 1.4 and
/// 2 font sizes, which in a proportional font would end cells), is not a table.
#[test]
fn aligned_code_in_a_monospaced_font_is_no_table() {
    let mut content = Vec::new();
    for (r, (name, value)) in [("width", "12"), ("height", "7"), ("depth", "30")]
        .iter()
        .enumerate()
    {
        let y = 700 - 12 * r;
        content.extend_from_slice(
            format!("BT /F1 10 Tf 72 {y} Td (set {name}) Tj ET BT /F1 10 Tf 146 {y} Td (= {value};) Tj ET\n")
                .as_bytes(),
        );
    }
    let courier =
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>".to_vec();
    let bytes = pdf(&one_page(HELVETICA, &content, vec![courier]), None);
    let docs = parse_bytes_all(&bytes, "test.pdf", &Limits::default()).expect("parses");
    let kinds: Vec<_> = docs[0].sections.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [trawl_ingest::SectionKind::Paragraph],
        "{:?}",
        docs[0].sections
    );
    assert_eq!(
        docs[0].sections[0].text,
        "set width = 12; set height = 7; set depth = 30;"
    );
}

/// A form names its fonts in its own resources: its `/F1` is not the page's `/F1`. Its
/// font's encoding names a glyph `uni4E2D`, as the glyph list's rules spell it.
#[test]
fn a_form_reads_its_own_fonts_under_names_the_page_also_uses() {
    let resources = "<< /Font << /F1 5 0 R >> /XObject << /Fm1 6 0 R >> >>";
    let content = b"BT /F1 12 Tf 72 700 Td (Page A) Tj ET /Fm1 Do";
    let form = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 7 0 R >> >>",
        b"BT /F1 12 Tf 72 600 Td (A) Tj ET",
    );
    let chinese = b"<< /Type /Font /Subtype /TrueType /BaseFont /SimSun \
        /Encoding << /BaseEncoding /WinAnsiEncoding /Differences [65 /uni4E2D] >> >>"
        .to_vec();
    let got = text(&pdf(
        &one_page(resources, content, vec![helvetica(), form, chinese]),
        None,
    ));
    assert!(got.contains("Page A"), "{got}");
    assert!(got.contains('中'), "{got}");
}

/// Letter-spaced capitals set as two strings, the last letter with no spacing
/// ("MEDITACIONE" then "S"): the second starts where the pen stands, so the word is
/// whole. A string set a word space further on is still a new word.
#[test]
fn letter_spaced_words_set_in_two_strings_stay_whole() {
    let content = b"BT /F1 28 Tf 3 Tc 72 600 Td (MEDITACIONE) Tj 0 Tc (S) Tj \
        [-400 (AGAIN)] TJ ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    assert_eq!(got, "MEDITACIONES AGAIN");
}

/// A filled-in field without an appearance stream, or with one drawn before its value
/// changed, still gives its value; a value the page shows is not read twice, and a
/// field shown twice (two widgets of one field) gives it once.
#[test]
fn form_field_values_the_page_does_not_show_are_read() {
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R 7 0 R 8 0 R 11 0 R] \
          /NeedAppearances true >> >>"
            .to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> \
          /Contents 4 0 R /Annots [6 0 R 7 0 R 8 0 R 12 0 R 13 0 R] >>"
            .to_vec(),
        stream("", b"BT /F1 12 Tf 72 700 Td (Applicant) Tj ET"),
        helvetica(),
        // No appearance: the value is read from the field.
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /V (Grace Hopper) /Rect [250 695 450 715] >>"
            .to_vec(),
        // An appearance that shows the value: read once.
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (city) /V (Arlington) /Rect [250 675 450 695] \
          /AP << /N 9 0 R >> >>"
            .to_vec(),
        // A stale appearance: both what it shows and the value.
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (rank) /V (Rear Admiral) /Rect [250 655 450 675] \
          /AP << /N 10 0 R >> >>"
            .to_vec(),
        appearance("Arlington"),
        appearance("Commander"),
        // One field, two widgets (its kids), its type and value on the parent.
        b"<< /FT /Ch /T (navy) /V [(Reserve) (Active)] /Kids [12 0 R 13 0 R] >>".to_vec(),
        b"<< /Type /Annot /Subtype /Widget /Parent 11 0 R /Rect [72 500 272 520] >>".to_vec(),
        b"<< /Type /Annot /Subtype /Widget /Parent 11 0 R /Rect [72 400 272 420] >>".to_vec(),
    ];
    let got = text(&pdf(&objects, None));
    for (value, times) in [
        ("Grace Hopper", 1),
        ("Arlington", 1),
        ("Commander", 1),
        ("Rear Admiral", 1),
        ("Reserve, Active", 1),
    ] {
        assert_eq!(got.matches(value).count(), times, "{value}: {got}");
    }
}

/// A content stream whose `/Length` is wrong is dropped by the PDF parser, and the
/// page's text with it, whether or not the cross-reference table is right: the stream
/// is measured to its `endstream` and read.
#[test]
fn a_content_stream_with_a_wrong_length_is_read() {
    let mut objects = one_page(HELVETICA, b"", vec![helvetica()]);
    objects[3] =
        b"<< /Length 99 >>\nstream\nBT /F1 12 Tf 72 700 Td (Measured again) Tj ET\nendstream"
            .to_vec();
    let got = text(&pdf(&objects, None));
    assert!(got.contains("Measured again"), "{got}");
}

/// A form drawn values first, then their labels to their left: each line reads label
/// then value. A right-to-left line drawn word by word from the right keeps the
/// writer's order (its reading order).
#[test]
fn pieces_of_a_line_drawn_out_of_order_are_read_left_to_right() {
    let content = b"BT /F1 10 Tf 150 700 Td (64) Tj ET BT /F1 10 Tf 72 700 Td (Age:) Tj ET\n\
        BT /F1 10 Tf 150 680 Td (152.00) Tj ET BT /F1 10 Tf 72 680 Td (Height:) Tj ET\n\
        BT /F1 10 Tf 300 600 Td (Left) Tj ET BT /F1 10 Tf 72 600 Td (Far) Tj ET \
        BT /F1 10 Tf 95 600 Td (apart) Tj ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![helvetica()]), None));
    // Three lines of two cells that line up: a table.
    assert_eq!(got, "Age: | 64\nHeight: | 152.00\nFar apart | Left");

    let hebrew = b"<< /Type /Font /Subtype /TrueType /BaseFont /Arial \
        /Encoding << /BaseEncoding /WinAnsiEncoding /Differences [65 /uni05E9 /uni05DC /uni05D5 /uni05DD] >> >>"
        .to_vec();
    // "shalom" (ABCD) at the right, then "olam" (CBD) to its left.
    let content = b"BT /F1 10 Tf 300 700 Td (ABCD) Tj ET BT /F1 10 Tf 200 700 Td (CBD) Tj ET";
    let got = text(&pdf(&one_page(HELVETICA, content, vec![hebrew]), None));
    assert_eq!(got, "\u{5e9}\u{5dc}\u{5d5}\u{5dd} \u{5d5}\u{5dc}\u{5dd}");
}

/// A page tree whose parents loop, and a page that names no media box: looking up an
/// inherited key ends (it went round forever), and the page's text is still read.
#[test]
fn a_page_tree_whose_parents_loop_ends() {
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
        stream("", b"BT /F9 12 Tf 72 700 Td (Lost) Tj ET"),
    ];
    let bytes = pdf(&objects, None);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(parse_bytes_all(&bytes, "test.pdf", &Limits::default()).is_err());
    });
    let failed = finished
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the parse ends");
    assert!(failed, "a page without a media box or fonts reads no text");
}

/// A report set in a monospaced font whose columns stand far apart is a table.
#[test]
fn a_table_in_a_monospaced_font_with_wide_gaps_is_a_table() {
    let mut content = Vec::new();
    for (r, (name, born, score)) in [
        ("ANA LIMA", "02/01/1998", "81.33"),
        ("RUI COSTA", "15/08/1991", "77.33"),
        ("EVA SOUSA", "26/12/1995", "74.67"),
    ]
    .iter()
    .enumerate()
    {
        let y = 700 - 12 * r;
        content.extend_from_slice(
            format!(
                "BT /F1 10 Tf 72 {y} Td ({name}) Tj ET BT /F1 10 Tf 200 {y} Td ({born}) Tj ET \
                 BT /F1 10 Tf 300 {y} Td ({score}) Tj ET\n"
            )
            .as_bytes(),
        );
    }
    let courier =
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>".to_vec();
    let got = text(&pdf(&one_page(HELVETICA, &content, vec![courier]), None));
    assert_eq!(
        got,
        "ANA LIMA | 02/01/1998 | 81.33\nRUI COSTA | 15/08/1991 | 77.33\nEVA SOUSA | 26/12/1995 | 74.67"
    );
}

/// A form's pages each end in the same foot, and their fields' text (two lines a page)
/// comes after it: the foot is still found as a running foot and dropped, and the
/// fields are read.
#[test]
fn a_running_foot_before_the_fields_text_is_dropped() {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>".to_vec(),
    ];
    for n in 0..3 {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Resources << /Font << /F1 12 0 R >> >> /Contents {} 0 R /Annots [{} 0 R] >>",
                6 + n,
                9 + n
            )
            .into_bytes(),
        );
    }
    for part in ["Who applies", "Income and taxes", "Signature and date"] {
        objects.push(stream(
            "",
            format!(
                "BT /F1 12 Tf 72 700 Td ({part}) Tj ET \
                 BT /F1 11 Tf 72 600 Td (Answer every question in full.) Tj ET \
                 BT /F1 11 Tf 72 500 Td (Write in capital letters.) Tj ET \
                 BT /F1 9 Tf 72 40 Td (Form W-9 Rev. 2024) Tj ET"
            )
            .as_bytes(),
        ));
    }
    for n in 0..3 {
        objects.push(
            format!(
                "<< /Type /Annot /Subtype /Widget /Rect [250 695 450 715] /AP << /N {} 0 R >> >>",
                13 + n
            )
            .into_bytes(),
        );
    }
    objects.push(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    for value in ["First answer", "Second answer", "Third answer"] {
        objects.push(stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 200 20] /Resources << /Font << /F1 12 0 R >> >>",
            format!("BT /F1 10 Tf 2 5 Td ({value}) Tj 0 -30 Td (continued) Tj ET").as_bytes(),
        ));
    }
    let got = text(&pdf(&objects, None));
    assert!(!got.contains("Form W-9"), "{got}");
    for wanted in ["Income and taxes", "First answer", "Third answer"] {
        assert!(got.contains(wanted), "{wanted}: {got}");
    }
}

/// Marked content with `/ActualText` stands for its glyphs: digits from a font whose
/// character map gives U+0000 (as a browser prints tabular figures), a ligature named
/// through the page's `/Properties` in UTF-16, text drawn by a form inside the span.
/// A span that draws no glyph adds nothing; one the stream leaves open still counts.
#[test]
fn actual_text_replaces_the_glyphs_it_spans() {
    let resources = "<< /Font << /F1 5 0 R /F2 6 0 R >> /XObject << /Fm1 8 0 R >> \
        /Properties << /MC0 << /ActualText <FEFF00660069> >> >> >>";
    let content = b"BT /F1 12 Tf 72 700 Td (Total ) Tj /F2 12 Tf \
        /Span << /ActualText (12) >> BDC (AB) Tj EMC /F1 12 Tf ( units) Tj ET\n\
        BT /F1 12 Tf 72 680 Td (Con) Tj /F2 12 Tf /Span /MC0 BDC (A) Tj EMC \
        /F1 12 Tf (ne) Tj ET\n\
        BT /F1 12 Tf 72 660 Td /Span << /ActualText (Ghost) >> BDC EMC (Visible) Tj ET\n\
        /Span << /ActualText (Replaced) >> BDC /Fm1 Do EMC\n\
        BT /F2 12 Tf 72 620 Td /Span << /ActualText (Tail) >> BDC (BA) Tj ET";
    let zeros = stream(
        "",
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap \
        1 begincodespacerange <00> <FF> endcodespacerange \
        2 beginbfchar <41> <0000> <42> <0000> endbfchar endcmap end end",
    );
    let glyphs = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 65 \
        /LastChar 66 /Widths [556 556] /Encoding << /Differences [65 /g18C /g18D] >> \
        /ToUnicode 7 0 R >>"
        .to_vec();
    let form = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>",
        b"BT /F1 12 Tf 72 640 Td (Inside) Tj ET",
    );
    let got = text(&pdf(
        &one_page(resources, content, vec![helvetica(), glyphs, zeros, form]),
        None,
    ));
    assert!(got.contains("Total 12 units"), "{got}");
    assert!(got.contains("Confine"), "{got}");
    assert!(got.contains("Visible") && !got.contains("Ghost"), "{got}");
    assert!(got.contains("Replaced") && !got.contains("Inside"), "{got}");
    assert!(got.contains("Tail"), "{got}");
    assert!(!got.contains('\0'), "{got:?}");
}

/// A compact font (CFF) with two glyphs, `A` and `B`, and its own encoding: code 1
/// is `A`, code 0x41 is `B`.
fn cff_font() -> Vec<u8> {
    let int = |v: u32| {
        let mut b = vec![29];
        b.extend_from_slice(&v.to_be_bytes());
        b
    };
    let (charset, encoding, char_strings) = (47u32, 52u32, 37u32);
    let mut top = int(charset);
    top.push(15);
    top.extend(int(encoding));
    top.push(16);
    top.extend(int(char_strings));
    top.push(17);
    let mut cff = vec![1, 0, 4, 4];
    cff.extend_from_slice(&[0, 1, 1, 1, 2, b'F']); // Name INDEX
    cff.extend_from_slice(&[0, 1, 1, 1, 1 + top.len() as u8]); // Top DICT INDEX
    cff.extend(top);
    cff.extend_from_slice(&[0, 0, 0, 0]); // String and Global Subr INDEXes, empty
    assert_eq!(cff.len() as u32, char_strings);
    cff.extend_from_slice(&[0, 3, 1, 1, 2, 3, 4, 14, 14, 14]); // three `endchar` glyphs
    cff.extend_from_slice(&[0, 0, 34, 0, 35]); // charset: A, B (standard strings)
    cff.extend_from_slice(&[0, 2, 1, 0x41]); // encoding: code 1 -> A, 0x41 -> B
    cff
}

/// A simple font's `/Encoding` comes before the encoding of its font program: its
/// `/Differences` override it, and a named `/BaseEncoding` replaces it; only a font
/// with no `/Encoding` reads its codes by the program's own. (Subset fonts that renumber
/// their glyphs read as a cipher otherwise.)
#[test]
fn a_fonts_encoding_in_the_pdf_comes_before_its_programs_own() {
    let resources = "<< /Font << /F1 5 0 R /F2 6 0 R /F3 7 0 R >> >>";
    let content = b"BT /F1 12 Tf 72 700 Td (\x01\x02 first) Tj ET\n\
        BT /F2 12 Tf 72 680 Td (\x01\x41 second) Tj ET\n\
        BT /F3 12 Tf 72 660 Td (\x01\x41 third) Tj ET";
    let font = |encoding: &str| {
        format!(
            "<< /Type /Font /Subtype /Type1 /BaseFont /ABCDEF+Test {encoding} /FirstChar 1 \
             /LastChar 126 /Widths [{}] /FontDescriptor 8 0 R >>",
            vec!["500"; 126].join(" ")
        )
        .into_bytes()
    };
    let descriptor = b"<< /Type /FontDescriptor /FontName /ABCDEF+Test /Flags 32 \
        /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 \
        /StemV 80 /FontFile3 9 0 R >>"
        .to_vec();
    let got = text(&pdf(
        &one_page(
            resources,
            content,
            vec![
                font("/Encoding << /Differences [1 /C /D] >>"),
                font("/Encoding << /BaseEncoding /WinAnsiEncoding /Differences [1 /C] >>"),
                font(""),
                descriptor,
                stream("/Subtype /Type1C", &cff_font()),
            ],
        ),
        None,
    ));
    assert!(got.contains("CD first"), "{got}");
    assert!(got.contains("CA second"), "{got}");
    assert!(got.contains("AB third"), "{got}");
}
