//! ZIP archives: every member parsed by its own format, as documents of their own,
//! under the same limits as any zip container (entries, inflated bytes) and a nesting
//! depth; each located as archive → member.

use crate::document::{Document, Input, MetaValue};
use crate::error::{Error, Result};
use crate::zipped::Zip;

const FORMAT: &str = "zip";

/// A ZIP archive: one document per member document, ids `{archive}/{member}` (a member
/// that holds several, as a mailbox does, gives `{archive}/{member}/{their id}`).
/// Unsupported members are skipped; broken ones are listed in the first document's
/// `member_errors` metadata. An archive with nothing readable is an error.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let (name, limits) = (input.name, input.limits);
    if input.depth >= limits.max_attachment_depth {
        return Err(Error::limit(
            name,
            "archive nesting depth",
            u64::from(input.depth) + 1,
            u64::from(limits.max_attachment_depth),
        ));
    }
    let mut zip = Zip::open(input.bytes, name, FORMAT, limits)?;
    let mut members: Vec<String> = zip
        .names()
        .into_iter()
        .filter(|m| !m.ends_with('/') && !hidden(m))
        .collect();
    members.sort();
    let mut docs: Vec<Document> = Vec::new();
    let mut problems = Vec::new();
    let mut skipped = 0i64;
    for member in &members {
        let Some(bytes) = zip.read(member)? else {
            continue;
        };
        if bytes.is_empty() {
            continue;
        }
        match crate::parse::parse_all(&bytes, member, limits, input.depth + 1) {
            Ok(found) => {
                for mut d in found {
                    // A member's documents are named after it (`notes.md`, a nested
                    // archive's `inner.zip/...`, a mail's `mail.eml#attachment-1`).
                    let own = d.id == *member
                        || d.id.starts_with(&format!("{member}/"))
                        || d.id.starts_with(&format!("{member}#"));
                    d.id = if own {
                        format!("{name}/{}", d.id)
                    } else {
                        format!("{name}/{member}/{}", d.id)
                    };
                    d.metadata
                        .insert("archive".into(), MetaValue::Str(name.to_owned()));
                    d.metadata
                        .insert("member".into(), MetaValue::Str(member.clone()));
                    for s in &mut d.sections {
                        // A member of a nested archive: the path through both.
                        s.location.member = Some(match s.location.member.take() {
                            Some(inner) => format!("{member}/{inner}"),
                            None => member.clone(),
                        });
                    }
                    docs.push(d);
                }
            }
            Err(e) if e.is_unsupported() => skipped += 1,
            Err(Error::LimitExceeded { .. }) if docs.is_empty() && members.len() == 1 => {
                // The only member is too big or too deep: the archive is.
                return crate::parse::parse_all(&bytes, member, limits, input.depth + 1);
            }
            Err(e) => problems.push(format!("{member}: {e}")),
        }
    }
    if docs.is_empty() {
        return Err(match problems.first() {
            Some(first) => {
                Error::malformed(name, FORMAT, format!("no member could be read ({first})"))
            }
            None => Error::Unsupported {
                name: name.to_owned(),
                reason: format!("ZIP archive with no member trawl reads ({skipped} skipped)"),
            },
        });
    }
    if !problems.is_empty() {
        docs[0]
            .metadata
            .insert("member_errors".into(), MetaValue::List(problems));
    }
    if skipped > 0 {
        docs[0]
            .metadata
            .insert("members_skipped".into(), MetaValue::Int(skipped));
    }
    Ok(docs)
}

/// macOS resource forks and hidden files, which archives carry by accident.
fn hidden(member: &str) -> bool {
    member.starts_with("__MACOSX/")
        || member
            .rsplit('/')
            .next()
            .is_some_and(|f| f.starts_with('.'))
}
