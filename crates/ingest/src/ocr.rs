//! OCR for scanned PDFs and images (PNG, JPEG, TIFF) through the `tesseract` command;
//! PDF pages are rendered with poppler's `pdftoppm` first. Only with the `ocr` feature.
//!
//! Needs the Debian packages `tesseract-ocr` (plus language data such as
//! `tesseract-ocr-eng`) and `poppler-utils`. The language is `eng` unless
//! `TRAWL_OCR_LANG` names others (`eng+deu`).

use std::path::Path;
use std::process::Command;

use crate::builder::Builder;
use crate::document::{Document, Input, Parsed};
use crate::document::{MetaValue, SectionKind};
use crate::error::{Error, Result};

fn ocr_error(name: &str, reason: impl std::fmt::Display) -> Error {
    Error::Ocr {
        name: name.to_owned(),
        reason: reason.to_string(),
    }
}

/// Text of one image file.
fn tesseract(image: &Path, name: &str) -> Result<String> {
    let lang = std::env::var("TRAWL_OCR_LANG").unwrap_or_else(|_| "eng".to_owned());
    let out = Command::new("tesseract")
        .arg(image)
        .arg("stdout")
        .args(["-l", &lang])
        .output()
        .map_err(|e| ocr_error(name, format!("cannot run tesseract: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(ocr_error(name, format!("tesseract: {}", err.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn push_text(b: &mut Builder, text: &str) -> bool {
    let mut any = false;
    for para in text.split("\n\n") {
        if !para.trim().is_empty() {
            any = true;
            b.push(SectionKind::Paragraph, para);
        }
    }
    any
}

/// An image: one document, its recognised text as paragraphs.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    Ok(vec![image(input.bytes, input.name)?.into_document(input)])
}

fn image(bytes: &[u8], name: &str) -> Result<Parsed> {
    let dir = tempfile::tempdir().map_err(|e| ocr_error(name, e))?;
    let path = dir.path().join("image");
    std::fs::write(&path, bytes).map_err(|e| ocr_error(name, e))?;
    let text = tesseract(&path, name)?;
    let mut b = Builder::new();
    if !push_text(&mut b, &text) {
        return Err(Error::NoText {
            name: name.to_owned(),
            format: "image",
        });
    }
    let mut parsed = Parsed::default();
    parsed.metadata.insert("ocr".into(), MetaValue::Bool(true));
    parsed.sections = b.finish();
    Ok(parsed)
}

/// A PDF without a text layer: every page rendered at 200 dpi and recognised.
pub(crate) fn pdf(bytes: &[u8], name: &str, parsed: &mut Parsed) -> Result<()> {
    let mut b = Builder::new();
    let mut any = false;
    for (page, text) in pdf_pages(bytes, name, None)? {
        b.location.page = Some(page);
        any |= push_text(&mut b, &text);
    }
    if !any {
        return Err(Error::NoText {
            name: name.to_owned(),
            format: "pdf",
        });
    }
    parsed.metadata.insert("ocr".into(), MetaValue::Bool(true));
    parsed.sections = b.finish();
    Ok(())
}

/// The recognised text of a PDF's pages (1-based numbers; all of them when `only`
/// is `None`), each rendered at 200 dpi, in page order.
pub(crate) fn pdf_pages(
    bytes: &[u8],
    name: &str,
    only: Option<&[u32]>,
) -> Result<Vec<(u32, String)>> {
    let dir = tempfile::tempdir().map_err(|e| ocr_error(name, e))?;
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, bytes).map_err(|e| ocr_error(name, e))?;
    let render = |range: Option<(u32, u32)>| -> Result<()> {
        let mut command = Command::new("pdftoppm");
        command.args(["-r", "200", "-gray", "-png"]);
        if let Some((first, last)) = range {
            command
                .args(["-f", &first.to_string()])
                .args(["-l", &last.to_string()]);
        }
        let out = command
            .arg(&input)
            .arg(dir.path().join("page"))
            .output()
            .map_err(|e| ocr_error(name, format!("cannot run pdftoppm: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(ocr_error(name, format!("pdftoppm: {}", err.trim())));
        }
        Ok(())
    };
    match only {
        None => render(None)?,
        Some(pages) => {
            // One run of pdftoppm per stretch of consecutive pages.
            let mut sorted = pages.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            let mut i = 0;
            while i < sorted.len() {
                let mut j = i;
                while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
                    j += 1;
                }
                render(Some((sorted[i], sorted[j])))?;
                i = j + 1;
            }
        }
    }
    // pdftoppm names pages page-1.png or page-01.png ...: order by the number.
    let mut pages: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(dir.path())
        .map_err(|e| ocr_error(name, e))?
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path
                .file_stem()?
                .to_str()?
                .strip_prefix("page-")?
                .to_owned();
            Some((stem.parse().ok()?, path))
        })
        .collect();
    pages.sort();
    pages
        .into_iter()
        .map(|(page, path)| Ok((page, tesseract(&path, name)?)))
        .collect()
}
