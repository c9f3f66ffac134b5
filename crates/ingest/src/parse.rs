//! Format detection and dispatch.

use std::any::Any;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::document::{Document, Format, Input};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::{
    archive, doc, docx, email, epub, html, json, markdown, msg, odf, pdf, ppt, pptx, rtf, sheets,
    text, xmltext,
};

/// Files larger than this are refused with [`Error::TooLarge`] before being read (the
/// default of [`Limits::max_file_bytes`]).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

const MARKDOWN_EXT: &[&str] = &["md", "markdown", "mdown", "mkd", "mdx"];
const TEXT_EXT: &[&str] = &["txt", "text", "rst", "log", "org", "adoc", "asciidoc"];
const HTML_EXT: &[&str] = &["html", "htm", "xhtml", "shtml"];

/// Binary signatures trawl does not read, so a mislabelled binary is reported as what it
/// is rather than indexed as garbage text.
const UNSUPPORTED_MAGIC: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xFF\xD8\xFF", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"II*\0", "TIFF image"),
    (b"MM\0*", "TIFF image"),
    (b"\x7FELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\x1F\x8B", "gzip archive"),
    (b"7z\xBC\xAF\x27\x1C", "7-zip archive"),
    (b"Rar!", "RAR archive"),
];

/// Images read with OCR (feature `ocr`): PNG, JPEG, TIFF.
const IMAGE_MAGIC: &[&[u8]] = &[b"\x89PNG\r\n\x1a\n", b"\xFF\xD8\xFF", b"II*\0", b"MM\0*"];

/// The lower-cased extension of `name`, if it has one.
pub(crate) fn extension(name: &str) -> Option<String> {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Decides the format of `bytes` named `name`: magic bytes first, then the extension.
/// Zip containers are told apart by their parts (a `.zip` renamed `.docx` is still a
/// zip, a DOCX renamed `.txt` is still a DOCX).
///
/// # Errors
/// [`Error::Unsupported`] for content or an extension trawl does not read;
/// [`Error::Malformed`] for a zip-based office file whose container is broken.
pub fn detect_format(bytes: &[u8], name: &str) -> Result<Format> {
    let unsupported = |reason: String| Error::Unsupported {
        name: name.to_owned(),
        reason,
    };
    let ext = extension(name);
    let ext = ext.as_deref();
    if bytes.is_empty() {
        return Err(Error::Empty {
            name: name.to_owned(),
        });
    }
    if bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return zip_format(bytes, name, ext);
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        // A password-protected DOCX/XLSX/PPTX is an OLE2 file holding an
        // "EncryptedPackage" stream (its directory name is UTF-16).
        let marker: Vec<u8> = "EncryptedPackage".bytes().flat_map(|b| [b, 0]).collect();
        if bytes.windows(marker.len()).any(|w| w == marker) {
            return Err(Error::Encrypted {
                name: name.to_owned(),
                format: "office document",
            });
        }
        // An Outlook message keeps each MAPI property in a `__substg1.0_` stream.
        let property: Vec<u8> = "__substg1.0_".bytes().flat_map(|b| [b, 0]).collect();
        if ext == Some("msg") || bytes.windows(property.len()).any(|w| w == property) {
            return Ok(Format::Msg);
        }
        return match ole_format(bytes) {
            Some(format) => Ok(format),
            None => match ext {
                Some("xls" | "xla" | "xlt" | "xlsx" | "xlsm") | None => Ok(Format::Xls),
                Some("doc" | "dot") => Ok(Format::Doc),
                Some("ppt" | "pps" | "pot") => Ok(Format::Ppt),
                _ => Err(unsupported(
                    "a compound file (OLE2) that is not a Word, PowerPoint, Excel or Outlook file"
                        .to_owned(),
                )),
            },
        };
    }
    if bytes.starts_with(b"{\\rtf") {
        return Ok(Format::Rtf);
    }
    if cfg!(feature = "ocr") && IMAGE_MAGIC.iter().any(|m| bytes.starts_with(m)) {
        return Ok(Format::Image);
    }
    if let Some((_, what)) = UNSUPPORTED_MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Err(unsupported(format!("{what} content is not supported")));
    }
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    // Mail carries parts as they are ("Content-Transfer-Encoding: binary", a UTF-16
    // body): a NUL byte does not make a message binary.
    let mail =
        matches!(ext, Some("eml" | "mbox" | "mbx")) || (ext.is_none() && looks_like_mail(head));
    if !utf16 && !mail && bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(unsupported("binary content".to_owned()));
    }
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Ok(Format::Html);
    }
    match ext {
        Some(e) if MARKDOWN_EXT.contains(&e) => Ok(Format::Markdown),
        Some(e) if TEXT_EXT.contains(&e) => Ok(Format::Text),
        Some(e) if HTML_EXT.contains(&e) => Ok(Format::Html),
        Some("csv" | "tsv" | "tab") => Ok(Format::Csv),
        Some("json" | "jsonl" | "ndjson" | "geojson") => Ok(Format::Json),
        Some("xml" | "xsd" | "xsl" | "xslt" | "rss" | "atom" | "opml" | "dita" | "tei") => {
            Ok(Format::Xml)
        }
        None if head.starts_with("<?xml") => Ok(Format::Xml),
        Some("eml" | "mbox" | "mbx") => Ok(Format::Email),
        None if looks_like_mail(head) => Ok(Format::Email),
        None => Ok(Format::Text),
        Some(e) => Err(unsupported(format!("extension .{e}"))),
    }
}

/// The format of a compound file by the streams at its root: Word's `WordDocument`,
/// PowerPoint's `PowerPoint Document`, Excel's `Workbook` (`Book` before Excel 97).
fn ole_format(bytes: &[u8]) -> Option<Format> {
    let file = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).ok()?;
    let names: Vec<String> = file
        .read_root_storage()
        .map(|e| e.name().to_owned())
        .collect();
    let has = |n: &str| names.iter().any(|e| e.eq_ignore_ascii_case(n));
    if has("WordDocument") {
        Some(Format::Doc)
    } else if has("PowerPoint Document") {
        Some(Format::Ppt)
    } else if has("Workbook") || has("Book") {
        Some(Format::Xls)
    } else {
        None
    }
}

/// A mailbox's "From " line, or a message's header block.
fn looks_like_mail(head: &str) -> bool {
    if head.starts_with("from ") {
        return true;
    }
    let headers = [
        "from:",
        "to:",
        "subject:",
        "date:",
        "message-id:",
        "received:",
        "mime-version:",
        "return-path:",
    ];
    let first = head.lines().next().unwrap_or_default();
    headers.iter().any(|h| first.starts_with(h))
        && head
            .lines()
            .take(30)
            .filter(|l| headers.iter().any(|h| l.starts_with(h)))
            .count()
            >= 2
}

fn zip_format(bytes: &[u8], name: &str, ext: Option<&str>) -> Result<Format> {
    let by_ext = match ext {
        Some("docx" | "docm" | "dotx") => Some(Format::Docx),
        Some("pptx" | "pptm" | "ppsx") => Some(Format::Pptx),
        Some("xlsx" | "xlsm" | "xltx") => Some(Format::Xlsx),
        Some("ods" | "ots") => Some(Format::Ods),
        Some("odt" | "ott") => Some(Format::Odt),
        Some("odp" | "otp") => Some(Format::Odp),
        Some("epub") => Some(Format::Epub),
        _ => None,
    };
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            return Err(match by_ext {
                Some(f) => Error::malformed(name, f.as_str(), format!("bad zip container: {e}")),
                None => Error::Unsupported {
                    name: name.to_owned(),
                    reason: format!("ZIP archive (unreadable: {e})"),
                },
            })
        }
    };
    // OpenDocument and EPUB name their type in a first, stored `mimetype` member.
    let mimetype = mimetype(&mut archive);
    let has = |part: &str| archive.index_for_name(part).is_some();
    if has("word/document.xml") {
        return Ok(Format::Docx);
    }
    if has("ppt/presentation.xml") {
        return Ok(Format::Pptx);
    }
    if has("xl/workbook.xml") {
        return Ok(Format::Xlsx);
    }
    if has("content.xml") {
        match mimetype.as_deref() {
            Some(m) if m.starts_with("application/vnd.oasis.opendocument.spreadsheet") => {
                return Ok(Format::Ods)
            }
            Some(m) if m.starts_with("application/vnd.oasis.opendocument.text") => {
                return Ok(Format::Odt)
            }
            Some(m) if m.starts_with("application/vnd.oasis.opendocument.presentation") => {
                return Ok(Format::Odp)
            }
            _ => {}
        }
        if let Some(f @ (Format::Ods | Format::Odt | Format::Odp)) = by_ext {
            // No (or another) mimetype: the extension decides among OpenDocument types.
            return Ok(f);
        }
    }
    if has("META-INF/container.xml")
        && (mimetype.as_deref() == Some("application/epub+zip") || by_ext == Some(Format::Epub))
    {
        return Ok(Format::Epub);
    }
    match by_ext {
        Some(f) => Err(Error::malformed(
            name,
            f.as_str(),
            "the zip container lacks the format's main part",
        )),
        // Any other zip is an archive: its members are read by their own formats.
        None => Ok(Format::Zip),
    }
}

/// The content of the `mimetype` member of an OpenDocument or EPUB container, if the
/// archive has one (the standards store it first, uncompressed).
fn mimetype(archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>) -> Option<String> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    // At most 200 bytes are inflated, whatever the entry declares.
    archive
        .by_name("mimetype")
        .ok()?
        .take(200)
        .read_to_end(&mut raw)
        .ok()?;
    Some(String::from_utf8_lossy(&raw).trim().to_owned())
}

/// Parses in-memory bytes into one document; `name` (a file name or path) is used for
/// format detection, the document id and the fallback title. Files that hold several
/// documents (a mailbox, mail with attachments) come back folded into one, each
/// section located by message and attachment; [`parse_bytes_all`] keeps them apart.
///
/// # Errors
/// [`Error::Unsupported`] when the format is not one trawl reads; the other variants for
/// broken, encrypted, text-less or over-limit content.
pub fn parse_bytes(bytes: &[u8], name: &str) -> Result<Document> {
    parse_bytes_all(bytes, name, &Limits::default()).map(fold)
}

/// Parses in-memory bytes into every document they hold, under `limits`: one for most
/// formats; for e-mail the message(s) first, each followed by its attachments' documents
/// (ids `{message}#attachment-{n}`, metadata `parent`). No panic escapes: a parser that
/// panics yields [`Error::Malformed`].
///
/// # Errors
/// As [`parse_bytes`]; [`Error::LimitExceeded`] when the content passes a limit.
pub fn parse_bytes_all(bytes: &[u8], name: &str, limits: &Limits) -> Result<Vec<Document>> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(Error::TooLarge {
            name: name.to_owned(),
            size: bytes.len() as u64,
            limit: limits.max_file_bytes,
        });
    }
    parse_all(bytes, name, limits, 0)
}

/// As [`parse_bytes_all`] but as `format`, whatever the content looks like (for callers
/// that know better than detection, and for the fuzzers).
///
/// # Errors
/// As [`parse_bytes_all`].
pub fn parse_bytes_as(
    bytes: &[u8],
    name: &str,
    format: Format,
    limits: &Limits,
) -> Result<Vec<Document>> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(Error::TooLarge {
            name: name.to_owned(),
            size: bytes.len() as u64,
            limit: limits.max_file_bytes,
        });
    }
    contained(bytes, name, format, limits, 0)
}

/// [`parse_bytes_all`] at an attachment depth, for e-mail attachments.
pub(crate) fn parse_all(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
    depth: u32,
) -> Result<Vec<Document>> {
    let format = detect_format(bytes, name)?;
    contained(bytes, name, format, limits, depth)
}

/// Runs a parser so that a panic becomes [`Error::Malformed`]. Fuzz builds let panics
/// through so that the fuzzers find them (pdf-extract's stay contained in pdf.rs).
fn contained(
    bytes: &[u8],
    name: &str,
    format: Format,
    limits: &Limits,
    depth: u32,
) -> Result<Vec<Document>> {
    if cfg!(fuzzing) {
        return dispatch(bytes, name, format, limits, depth);
    }
    match crate::panics::contain(|| dispatch(bytes, name, format, limits, depth)) {
        Ok(result) => result,
        Err(panic) => Err(Error::malformed(
            name,
            format.as_str(),
            format!("parser panicked: {}", panic_message(&*panic)),
        )),
    }
}

fn dispatch(
    bytes: &[u8],
    name: &str,
    format: Format,
    limits: &Limits,
    depth: u32,
) -> Result<Vec<Document>> {
    let input = Input {
        bytes,
        name,
        format,
        limits,
        depth,
    };
    let parse: fn(&Input<'_>) -> Result<Vec<Document>> = match format {
        Format::Email => email::parse,
        Format::Markdown => markdown::parse,
        Format::Text => text::parse,
        Format::Pdf => pdf::parse,
        Format::Docx => docx::parse,
        Format::Pptx => pptx::parse,
        Format::Xlsx | Format::Xls | Format::Ods | Format::Csv => sheets::parse,
        Format::Html => html::parse,
        Format::Json => json::parse,
        Format::Odt | Format::Odp => odf::parse,
        Format::Epub => epub::parse,
        Format::Zip => archive::parse,
        Format::Xml => xmltext::parse,
        Format::Msg => msg::parse,
        Format::Doc => doc::parse,
        Format::Ppt => ppt::parse,
        Format::Rtf => rtf::parse,
        #[cfg(feature = "ocr")]
        Format::Image => crate::ocr::parse,
        #[cfg(not(feature = "ocr"))]
        Format::Image => {
            return Err(Error::Unsupported {
                name: name.to_owned(),
                reason: "images need the `ocr` feature".to_owned(),
            })
        }
    };
    parse(&input)
}

/// Several documents as one: the first's identity, everyone's sections.
fn fold(docs: Vec<Document>) -> Document {
    let mut it = docs.into_iter();
    let mut first = it.next().unwrap_or_else(|| Document::from_text("", ""));
    for d in it {
        first.sections.extend(d.sections);
    }
    first
}

/// Reads and parses one file into one document (see [`parse_bytes`]). The document id
/// and `source` are the path as given.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::TooLarge`] over [`MAX_FILE_BYTES`],
/// [`Error::Unsupported`] for formats trawl does not read, the other variants for
/// broken content.
pub fn parse_path(path: &Path) -> Result<Document> {
    parse_path_all(path, &Limits::default()).map(fold)
}

/// Reads and parses one file into every document it holds (see [`parse_bytes_all`]).
/// Every document's `source` is the path as given.
///
/// # Errors
/// As [`parse_path`], plus [`Error::LimitExceeded`].
pub fn parse_path_all(path: &Path, limits: &Limits) -> Result<Vec<Document>> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    let name = path.to_string_lossy().into_owned();
    if size > limits.max_file_bytes {
        return Err(Error::TooLarge {
            name,
            size,
            limit: limits.max_file_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let mut docs = parse_bytes_all(&bytes, &name, limits)?;
    for d in &mut docs {
        d.source = Some(name.clone());
    }
    Ok(docs)
}

/// Parses files in parallel (rayon), in the order given; each file's result is its own.
pub fn parse_paths(paths: &[PathBuf], limits: &Limits) -> Vec<(PathBuf, Result<Vec<Document>>)> {
    paths
        .par_iter()
        .map(|p| (p.clone(), parse_within_deadline(p, limits)))
        .collect()
}

/// [`parse_path_all`] on a thread of its own, given up after
/// [`Limits::max_parse_millis`]: a parser that hangs costs its file, not the batch.
fn parse_within_deadline(path: &Path, limits: &Limits) -> Result<Vec<Document>> {
    if limits.max_parse_millis == 0 {
        return parse_path_all(path, limits);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (owned, owned_limits) = (path.to_owned(), limits.clone());
    let spawned = std::thread::Builder::new()
        .name("trawl-parse-file".into())
        .spawn(move || {
            let _ = tx.send(parse_path_all(&owned, &owned_limits));
        });
    if spawned.is_err() {
        // No thread to spare: parse here, without the deadline.
        return parse_path_all(path, limits);
    }
    match rx.recv_timeout(std::time::Duration::from_millis(limits.max_parse_millis)) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::limit(
            &path.display().to_string(),
            "milliseconds of parsing",
            limits.max_parse_millis,
            limits.max_parse_millis,
        )),
        // The parser's thread ended without an answer (parsers' panics are caught, so
        // only an abort-free failure of the thread itself gets here).
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::malformed(
            &path.display().to_string(),
            "file",
            "the parser stopped without a result",
        )),
    }
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_win_over_extension() {
        let err = parse_bytes(b"%PDF-1.7 ...", "notes.txt").unwrap_err();
        assert!(
            matches!(err, Error::Malformed { format: "pdf", .. }),
            "{err}"
        );
        let err = parse_bytes(b"GIF89a....", "notes.txt").unwrap_err();
        assert!(
            err.is_unsupported() && err.to_string().contains("GIF"),
            "{err}"
        );
    }

    #[test]
    fn binary_and_unknown_extensions_are_unsupported() {
        assert!(parse_bytes(b"ab\0cd", "x.txt")
            .unwrap_err()
            .is_unsupported());
        assert!(parse_bytes(b"hello", "x.exe").unwrap_err().is_unsupported());
    }

    #[test]
    fn titles_come_from_front_matter_then_h1_then_first_line_then_name() {
        let t = |b: &[u8], n| parse_bytes(b, n).unwrap().title.unwrap();
        assert_eq!(t(b"---\ntitle: FM\n---\n# H1\n", "a.md"), "FM");
        assert_eq!(t(b"intro\n\n# H1\n", "a.md"), "H1");
        assert_eq!(
            t(b"Tide Pools\n\nA long paragraph.\n", "a.txt"),
            "Tide Pools"
        );
        assert_eq!(t(b"Just one sentence here.\n", "dir/notes.txt"), "notes");
    }

    #[test]
    fn html_is_sniffed_and_mail_headers_without_extension_are_mail() {
        assert_eq!(
            detect_format(b"<!DOCTYPE html><p>x", "page.txt").unwrap(),
            Format::Html
        );
        assert_eq!(
            detect_format(b"From: a@b.c\nTo: d@e.f\nSubject: hi\n\nbody", "message").unwrap(),
            Format::Email
        );
    }
}
