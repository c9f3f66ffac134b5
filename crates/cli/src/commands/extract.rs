//! `trawl extract`: what trawl reads from each file, without indexing anything.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;
use trawl::{Document, Limits, Location};

/// Prints, per file (folders are walked as `ingest` walks them), the documents trawl
/// reads (sections with kind, headings, location and text; title and metadata) or the
/// typed error. Exits non-zero when a file failed (unsupported files are reported, not
/// failures).
pub(crate) fn extract(paths: &[PathBuf], json: bool, max_file_mb: u64) -> Result<bool> {
    let limits = Limits::default().max_file_bytes(max_file_mb * 1024 * 1024);
    let mut files = Vec::new();
    let mut ok = true;
    for root in paths {
        for entry in trawl_ingest::walk(root) {
            match entry {
                Ok(p) => files.push(p),
                Err(e) => {
                    eprintln!("failed: {}: {e}", root.display());
                    ok = false;
                }
            }
        }
    }
    let results = trawl_ingest::parse_paths(&files, &limits);
    let mut out = Vec::new();
    for (path, result) in results {
        match result {
            Ok(docs) => {
                if json {
                    out.push(json!({"path": path.display().to_string(), "documents": docs}));
                } else {
                    print_documents(&path, &docs);
                }
            }
            Err(e) => {
                let unsupported = e.is_unsupported();
                ok &= unsupported;
                if json {
                    out.push(json!({
                        "path": path.display().to_string(),
                        "error": {"kind": error_kind(&e), "message": e.to_string()},
                    }));
                } else if unsupported {
                    println!("== {} (skipped: {e})", path.display());
                } else {
                    println!("== {} (failed: {e})", path.display());
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ok)
}

fn print_documents(path: &std::path::Path, docs: &[Document]) {
    for doc in docs {
        println!(
            "== {} ({}, {} sections){}",
            path.display(),
            doc.format,
            doc.sections.len(),
            if doc.id == path.display().to_string() {
                String::new()
            } else {
                format!(" [{}]", doc.id)
            }
        );
        if let Some(title) = &doc.title {
            println!("title: {title}");
        }
        if !doc.metadata.is_empty() {
            println!(
                "metadata: {}",
                serde_json::to_string(&doc.metadata).unwrap_or_default()
            );
        }
        for s in &doc.sections {
            let kind = serde_json::to_value(s.kind)
                .ok()
                .and_then(|v| {
                    let kind = v.get("kind")?.as_str()?.to_owned();
                    Some(match v.get("level") {
                        Some(l) => format!("{kind} {l}"),
                        None => kind,
                    })
                })
                .unwrap_or_default();
            let mut head = format!("[{kind}]");
            let place = location(&s.location);
            if !place.is_empty() {
                head.push(' ');
                head.push_str(&place);
            }
            if !s.heading_path.is_empty() {
                head.push_str(" — ");
                head.push_str(&s.heading_path.join(" > "));
            }
            println!("{head}");
            println!("{}", s.text);
        }
        println!();
    }
}

/// A location as `page 3, slide 2, sheet "Q1", rows 2-9, ...`.
fn location(l: &Location) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &l.member {
        parts.push(format!("member {m}"));
    }
    if let Some(c) = l.chapter {
        parts.push(format!("chapter {c}"));
    }
    if let Some(p) = l.page {
        parts.push(format!("page {p}"));
    }
    if let Some(s) = l.slide {
        parts.push(format!("slide {s}"));
    }
    if let Some(s) = &l.sheet {
        parts.push(format!("sheet {s:?}"));
    }
    if let Some((a, b)) = l.rows {
        parts.push(format!("rows {a}-{b}"));
    }
    if let Some(m) = l.message {
        parts.push(format!("message {m}"));
    }
    if let Some(a) = &l.attachment {
        parts.push(format!("attachment {a}"));
    }
    if let Some(k) = &l.key {
        parts.push(format!("key {k}"));
    }
    if let Some(line) = l.line {
        parts.push(format!("line {line}"));
    }
    parts.join(", ")
}

/// The error's variant, as a stable name.
fn error_kind(e: &trawl_ingest::Error) -> &'static str {
    use trawl_ingest::Error as E;
    match e {
        E::Io { .. } => "io",
        E::Unsupported { .. } => "unsupported",
        E::TooLarge { .. } => "too_large",
        E::Malformed { .. } => "malformed",
        E::Empty { .. } => "empty",
        E::Encrypted { .. } => "encrypted",
        E::NoText { .. } => "no_text",
        E::Ocr { .. } => "ocr",
        E::LimitExceeded { .. } => "limit_exceeded",
        _ => "other",
    }
}
