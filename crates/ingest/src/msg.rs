//! Outlook messages (`.msg`, a compound file of MAPI properties): the subject as
//! heading over the body (plain text, else the HTML body), sender, recipients and date
//! as metadata, and each attachment parsed by its own format (an attached message as a
//! message) as a document of its own, as e-mail attachments are.

use std::path::{Path, PathBuf};

use crate::builder::squash;
use crate::document::Input;
use crate::document::{Document, Format, Location, MetaValue, Metadata, Section, SectionKind};
use crate::error::{Error, Result};
use crate::ole::{iso_utc, Compound};

const FORMAT: &str = "msg";
/// Bytes before the first property in the root's `__properties_version1.0` stream ...
const ROOT_HEADER: usize = 32;
/// ... and in an attached message's.
const EMBEDDED_HEADER: usize = 24;
/// MAPI property type of a time (a Windows FILETIME).
const PT_SYSTIME: u32 = 0x0040;

/// An Outlook message: the message, then its attachments' documents.
pub(crate) fn parse(input: &Input<'_>) -> Result<Vec<Document>> {
    let mut file = Compound::open(input.bytes, input.name, FORMAT, input.limits)?;
    if !file.file.exists("/__substg1.0_001A001F")
        && !file.file.exists("/__substg1.0_001A001E")
        && !file.file.exists("/__properties_version1.0")
    {
        return Err(file.malformed("no message properties (not an Outlook message)"));
    }
    let mut reader = Msg {
        file: &mut file,
        name: input.name,
    };
    reader.message(Path::new("/"), input.name, input.depth, ROOT_HEADER)
}

struct Msg<'f, 'a> {
    file: &'f mut Compound<'a>,
    name: &'a str,
}

impl Msg<'_, '_> {
    /// The message stored at `storage` (the root, or an attached message's `3701000D`
    /// storage) and its attachments, as documents with ids from `id`.
    fn message(
        &mut self,
        storage: &Path,
        id: &str,
        depth: u32,
        header: usize,
    ) -> Result<Vec<Document>> {
        let subject = self.string(storage, 0x0037)?.map(|s| squash(&s));
        let mut metadata = Metadata::new();
        if let Some(s) = subject.as_ref().filter(|s| !s.is_empty()) {
            metadata.insert("subject".into(), MetaValue::Str(s.clone()));
        }
        let from = match (self.string(storage, 0x0C1A)?, self.sender_address(storage)?) {
            (Some(n), Some(e)) if !n.is_empty() && n != e => Some(format!("{n} <{e}>")),
            (_, Some(e)) if !e.is_empty() => Some(e),
            (Some(n), _) => Some(n),
            _ => None,
        };
        for (key, value) in [
            ("from", from),
            ("to", self.string(storage, 0x0E04)?),
            ("cc", self.string(storage, 0x0E03)?),
            ("message_id", self.string(storage, 0x1035)?),
        ] {
            if let Some(v) = value.map(|v| squash(&v)).filter(|v| !v.is_empty()) {
                metadata.insert(key.into(), MetaValue::Str(v));
            }
        }
        if let Some(date) = self.date(storage, header)? {
            metadata.insert("date".into(), MetaValue::Str(date));
        }
        let mut sections = match self.string(storage, 0x1000)? {
            Some(body) if !body.trim().is_empty() => crate::text::paragraphs(&body),
            _ => match self.binary(storage, 0x1013)? {
                Some(html) => crate::html::parse_str(&crate::html::decode(&html)).sections,
                None => match self.string(storage, 0x1013)? {
                    Some(html) => crate::html::parse_str(&html).sections,
                    None => Vec::new(),
                },
            },
        };
        if let Some(subject) = subject.filter(|s| !s.is_empty()) {
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
        for s in &mut sections {
            s.location.line = None;
        }
        if sections.is_empty() {
            return Err(Error::Empty {
                name: self.name.to_owned(),
            });
        }
        let title = metadata.get("subject").map(ToString::to_string);
        let mut docs = vec![Document {
            id: id.to_owned(),
            title,
            source: None,
            format: Format::Msg,
            metadata,
            sections,
        }];
        if depth >= self.file.limits.max_attachment_depth {
            return Ok(docs);
        }
        let mut problems = Vec::new();
        for (n, attachment) in self.attachments(storage)?.into_iter().enumerate() {
            let att_id = format!("{id}#attachment-{}", n + 1);
            let file = self
                .string(&attachment, 0x3707)?
                .or(self.string(&attachment, 0x3704)?)
                .or(self.string(&attachment, 0x3001)?)
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| format!("attachment-{}", n + 1));
            let embedded = attachment.join("__substg1.0_3701000D");
            let found = if self.file.file.is_storage(&embedded) {
                self.message(&embedded, &att_id, depth + 1, EMBEDDED_HEADER)
            } else {
                match self.binary(&attachment, 0x3701)? {
                    Some(bytes) => {
                        crate::parse::parse_all(&bytes, &file, self.file.limits, depth + 1).map(
                            |found| {
                                found
                                    .into_iter()
                                    .map(|mut d| {
                                        d.id = if d.id == file {
                                            att_id.clone()
                                        } else {
                                            format!("{att_id}/{}", d.id)
                                        };
                                        d
                                    })
                                    .collect()
                            },
                        )
                    }
                    None => continue,
                }
            };
            match found {
                Ok(found) => {
                    for mut d in found {
                        d.metadata
                            .insert("parent".into(), MetaValue::Str(id.to_owned()));
                        d.metadata
                            .insert("attachment".into(), MetaValue::Str(file.clone()));
                        for s in &mut d.sections {
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
        Ok(docs)
    }

    /// The attachment storages directly under `storage`, in order.
    fn attachments(&self, storage: &Path) -> Result<Vec<PathBuf>> {
        let entries = self
            .file
            .file
            .read_storage(storage)
            .map_err(|e| Error::malformed(self.name, FORMAT, e.to_string()))?;
        let mut out: Vec<PathBuf> = entries
            .filter(|e| e.is_storage() && e.name().starts_with("__attach_version1.0_#"))
            .map(|e| e.path().to_owned())
            .collect();
        out.sort();
        if out.len() > self.file.limits.max_messages {
            return Err(Error::limit(
                self.name,
                "attachments",
                out.len() as u64,
                self.file.limits.max_messages as u64,
            ));
        }
        Ok(out)
    }

    /// When the message was sent (`PR_CLIENT_SUBMIT_TIME`), else delivered
    /// (`PR_MESSAGE_DELIVERY_TIME`), as ISO 8601 UTC, from the fixed-size properties
    /// stream (16 bytes a property after a `header`).
    fn date(&mut self, storage: &Path, header: usize) -> Result<Option<String>> {
        let Some(bytes) = self.file.stream(storage.join("__properties_version1.0"))? else {
            return Ok(None);
        };
        let mut times = [None, None];
        for entry in bytes.get(header..).unwrap_or_default().chunks_exact(16) {
            let tag = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            if tag & 0xFFFF != PT_SYSTIME {
                continue;
            }
            let value = u64::from_le_bytes(entry[8..16].try_into().expect("8 bytes"));
            match tag >> 16 {
                0x0039 => times[0] = Some(value),
                0x0E06 => times[1] = Some(value),
                _ => {}
            }
        }
        Ok(times.into_iter().flatten().find_map(iso_utc))
    }

    /// The sender's SMTP address (`PR_SENDER_SMTP_ADDRESS`, else the address if its
    /// type is SMTP).
    fn sender_address(&mut self, storage: &Path) -> Result<Option<String>> {
        if let Some(a) = self.string(storage, 0x5D01)? {
            return Ok(Some(a));
        }
        let smtp = self
            .string(storage, 0x0C1E)?
            .is_some_and(|t| t.eq_ignore_ascii_case("SMTP"));
        Ok(if smtp {
            self.string(storage, 0x0C1F)?
        } else {
            None
        })
    }

    /// A string property: Unicode (`001F`) or 8-bit (`001E`, read as UTF-8 or
    /// Windows-1252).
    fn string(&mut self, storage: &Path, id: u16) -> Result<Option<String>> {
        if let Some(bytes) = self
            .file
            .stream(storage.join(format!("__substg1.0_{id:04X}001F")))?
        {
            let s = crate::ole::utf16le(&bytes);
            return Ok(Some(s.trim_end_matches('\0').to_owned()));
        }
        if let Some(bytes) = self
            .file
            .stream(storage.join(format!("__substg1.0_{id:04X}001E")))?
        {
            let s = crate::text::decode(&bytes);
            return Ok(Some(s.trim_end_matches('\0').to_owned()));
        }
        Ok(None)
    }

    /// A binary property (`0102`).
    fn binary(&mut self, storage: &Path, id: u16) -> Result<Option<Vec<u8>>> {
        self.file
            .stream(storage.join(format!("__substg1.0_{id:04X}0102")))
    }
}
