//! E-mail: single messages (EML) and mailboxes (MBOX) through mail-parser. Each message
//! is a document (subject, from, to, cc, date as metadata; text or converted HTML body);
//! each attachment is parsed by its own format as a document of its own, linked to the
//! message by its `parent` metadata and located by message index and attachment name.

use mail_parser::{Address, Message, MessageParser, MimeHeaders};

use crate::document::{
    Document, Format, Input, Location, MetaValue, Metadata, Section, SectionKind,
};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// An e-mail file: a mailbox (`.mbox`, `.mbx`, or content starting `From `) gives every
/// message in order, a single message gives itself; each message is followed by its
/// attachments' documents.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let Input {
        bytes,
        name,
        limits,
        depth,
        ..
    } = *input;
    let mbox = crate::parse::extension(name).is_some_and(|e| e == "mbox" || e == "mbx")
        || bytes.starts_with(b"From ");
    if mbox {
        parse_mbox(bytes, name, limits, depth)
    } else {
        parse_eml(bytes, name, limits, depth)
    }
}

/// One message file: the message, then its attachments' documents.
fn parse_eml(bytes: &[u8], name: &str, limits: &Limits, depth: u32) -> Result<Vec<Document>> {
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| Error::malformed(name, "email", "no message headers"))?;
    Ok(message_documents(&msg, name, name, None, limits, depth))
}

/// A mailbox: every message in order, each with its attachments.
fn parse_mbox(bytes: &[u8], name: &str, limits: &Limits, depth: u32) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    let mut count = 0usize;
    for entry in mail_parser::mailbox::mbox::MessageIterator::new(bytes) {
        let entry = entry.map_err(|e| Error::malformed(name, "mbox", e))?;
        count += 1;
        if count > limits.max_messages {
            return Err(Error::limit(
                name,
                "messages",
                count as u64,
                limits.max_messages as u64,
            ));
        }
        let index = u32::try_from(count).unwrap_or(u32::MAX);
        let id = format!("{name}#message-{index}");
        // A message mail-parser cannot read is skipped; the rest of the mailbox is not.
        if let Some(msg) = MessageParser::default().parse(entry.contents()) {
            out.extend(message_documents(
                &msg,
                &id,
                name,
                Some(index),
                limits,
                depth,
            ));
        }
    }
    if out.is_empty() {
        return Err(Error::malformed(name, "mbox", "no messages"));
    }
    Ok(out)
}

fn message_documents(
    msg: &Message<'_>,
    id: &str,
    source: &str,
    index: Option<u32>,
    limits: &Limits,
    depth: u32,
) -> Vec<Document> {
    let mut metadata = Metadata::new();
    if let Some(s) = msg.subject() {
        metadata.insert("subject".into(), MetaValue::Str(s.to_owned()));
    }
    for (key, addr) in [("from", msg.from()), ("to", msg.to()), ("cc", msg.cc())] {
        if let Some(a) = addr.map(addresses).filter(|a| !a.is_empty()) {
            metadata.insert(key.into(), MetaValue::Str(a));
        }
    }
    if let Some(d) = msg.date() {
        metadata.insert("date".into(), MetaValue::Str(d.to_rfc3339()));
    }
    if let Some(m) = msg.message_id() {
        metadata.insert("message_id".into(), MetaValue::Str(m.to_owned()));
    }
    let mut sections = Vec::new();
    for i in 0..msg.text_body_count() {
        let Some(part) = msg.text_part(i as u32) else {
            continue;
        };
        let Some(text) = part.text_contents() else {
            continue;
        };
        if part.is_text_html() {
            sections.extend(crate::html::parse_str(text).sections);
        } else {
            sections.extend(crate::text::paragraphs(text));
        }
    }
    // The subject heads the message, so it is searched with the body, and a message
    // with an empty body (a subject-only note, a reply with nothing to say) is still
    // found by its subject.
    if let Some(subject) = msg.subject().map(crate::builder::squash) {
        if !subject.is_empty() {
            for s in &mut sections {
                s.heading_path.insert(0, subject.clone());
            }
            sections.insert(
                0,
                Section {
                    kind: SectionKind::Heading { level: 1 },
                    text: subject.clone(),
                    heading_path: vec![subject],
                    location: Location::default(),
                    row_numbers: Vec::new(),
                },
            );
        }
    }
    for s in &mut sections {
        s.location.line = None;
        s.location.message = index;
    }
    let mut docs = vec![Document {
        id: id.to_owned(),
        title: msg.subject().map(str::to_owned),
        source: Some(source.to_owned()),
        format: Format::Email,
        metadata,
        sections,
    }];
    if depth >= limits.max_attachment_depth {
        return docs;
    }
    let mut problems = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let file = part
            .attachment_name()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if part.is_message() {
                    "message.eml".to_owned()
                } else {
                    format!("attachment-{}", i + 1)
                }
            });
        let att_id = format!("{id}#attachment-{}", i + 1);
        match crate::parse::parse_all(part.contents(), &file, limits, depth + 1) {
            Ok(found) => {
                for mut d in found {
                    let own = d.id == file;
                    d.id = if own {
                        att_id.clone()
                    } else {
                        format!("{att_id}/{}", d.id)
                    };
                    d.source = Some(source.to_owned());
                    d.metadata
                        .insert("parent".into(), MetaValue::Str(id.to_owned()));
                    d.metadata
                        .insert("attachment".into(), MetaValue::Str(file.clone()));
                    for s in &mut d.sections {
                        s.location.message = s.location.message.or(index);
                        s.location.attachment.get_or_insert_with(|| file.clone());
                    }
                    docs.push(d);
                }
            }
            Err(e) if e.is_unsupported() => {}
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    if !problems.is_empty() {
        docs[0]
            .metadata
            .insert("attachment_errors".into(), MetaValue::List(problems));
    }
    docs
}

fn addresses(a: &Address<'_>) -> String {
    a.iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_owned(),
            (Some(n), None) => n.to_owned(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}
