//! What the legacy Office formats (DOC, PPT) share: streams of a compound file read
//! within the decompression budget, the document summary (title, author, dates), and
//! Windows code pages.

use std::io::{Cursor, Read};
use std::path::Path;

use encoding_rs::Encoding;

use crate::document::{MetaValue, Parsed};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// A compound file (OLE2) whose streams are read within a budget of bytes.
pub(crate) struct Compound<'a> {
    pub(crate) file: cfb::CompoundFile<Cursor<&'a [u8]>>,
    name: &'a str,
    format: &'static str,
    pub(crate) limits: &'a Limits,
    /// Bytes of streams that may still be read.
    budget: u64,
}

impl<'a> Compound<'a> {
    /// Opens `bytes` as a compound file of `format` (for errors).
    pub(crate) fn open(
        bytes: &'a [u8],
        name: &'a str,
        format: &'static str,
        limits: &'a Limits,
    ) -> Result<Compound<'a>> {
        let file = cfb::CompoundFile::open(Cursor::new(bytes))
            .map_err(|e| Error::malformed(name, format, format!("bad compound file: {e}")))?;
        Ok(Compound {
            file,
            name,
            format,
            limits,
            budget: limits.max_decompressed_bytes,
        })
    }

    /// A malformed-file error for this file.
    pub(crate) fn malformed(&self, reason: impl ToString) -> Error {
        Error::malformed(self.name, self.format, reason)
    }

    /// The stream at `path` (such as `/WordDocument`), if there is one.
    pub(crate) fn stream(&mut self, path: impl AsRef<Path>) -> Result<Option<Vec<u8>>> {
        let path = path.as_ref();
        if !self.file.is_stream(path) {
            return Ok(None);
        }
        let mut stream = self
            .file
            .open_stream(path)
            .map_err(|e| Error::malformed(self.name, self.format, e.to_string()))?;
        let len = stream.len();
        if len > self.budget {
            return Err(Error::limit(
                self.name,
                "decompressed bytes",
                self.limits.max_decompressed_bytes - self.budget + len,
                self.limits.max_decompressed_bytes,
            ));
        }
        self.budget -= len;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| Error::malformed(self.name, self.format, e.to_string()))?;
        Ok(Some(bytes))
    }

    /// Title, author, subject, keywords, comments, last author and dates from the
    /// `\u{5}SummaryInformation` stream, into `parsed` (a missing or broken summary
    /// adds nothing: it is not the document).
    pub(crate) fn summary(&mut self, parsed: &mut Parsed) -> Result<()> {
        let Some(bytes) = self.stream("/\u{5}SummaryInformation")? else {
            return Ok(());
        };
        for (key, value) in summary_properties(&bytes) {
            if key == "title" {
                if let MetaValue::Str(t) = &value {
                    parsed.title = Some(t.clone());
                }
            }
            parsed.metadata.insert(key.into(), value);
        }
        Ok(())
    }
}

/// The properties of a summary information property set that trawl keeps, with the
/// names the other formats use for them.
pub(crate) fn summary_properties(bytes: &[u8]) -> Vec<(&'static str, MetaValue)> {
    let mut out = Vec::new();
    let Some(section) = le_u32(bytes, 44).and_then(|o| usize::try_from(o).ok()) else {
        return out;
    };
    let count = le_u32(bytes, section + 4).unwrap_or(0).min(1024) as usize;
    let mut codepage = 1252;
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let at = section + 8 + 8 * i;
        let (Some(id), Some(offset)) = (le_u32(bytes, at), le_u32(bytes, at + 4)) else {
            break;
        };
        let Some(offset) = section.checked_add(offset as usize) else {
            continue;
        };
        if id == 1 {
            // The code page of the 8-bit strings (VT_I2).
            codepage = le_u16(bytes, offset + 4).map_or(1252, u32::from);
        }
        entries.push((id, offset));
    }
    for (id, offset) in entries {
        let key = match id {
            2 => "title",
            3 => "subject",
            4 => "author",
            5 => "keywords",
            6 => "description",
            8 => "last_modified_by",
            12 => "created",
            13 => "modified",
            _ => continue,
        };
        let Some(kind) = le_u32(bytes, offset) else {
            continue;
        };
        let value = match kind & 0xFFFF {
            // VT_LPSTR: a length (with the NUL) and 8-bit text.
            0x1E => le_u32(bytes, offset + 4).and_then(|len| {
                let text = bytes.get(offset + 8..(offset + 8).checked_add(len as usize)?)?;
                let (text, _, _) = codepage_encoding(codepage).decode(text);
                Some(MetaValue::Str(
                    text.trim_end_matches('\0').trim().to_owned(),
                ))
            }),
            // VT_LPWSTR: a length in characters and UTF-16.
            0x1F => le_u32(bytes, offset + 4).and_then(|len| {
                let end = (offset + 8).checked_add((len as usize).checked_mul(2)?)?;
                let text = utf16le(bytes.get(offset + 8..end)?);
                Some(MetaValue::Str(
                    text.trim_end_matches('\0').trim().to_owned(),
                ))
            }),
            // VT_FILETIME.
            0x40 => {
                let low = le_u32(bytes, offset + 4);
                let high = le_u32(bytes, offset + 8);
                low.zip(high)
                    .and_then(|(l, h)| iso_utc(u64::from(h) << 32 | u64::from(l)))
                    .map(MetaValue::Str)
            }
            _ => None,
        };
        match value {
            Some(MetaValue::Str(s)) if s.is_empty() => {}
            Some(v) => out.push((key, v)),
            None => {}
        }
    }
    out
}

/// A Windows FILETIME (100 ns ticks since 1601) as `YYYY-MM-DDTHH:MM:SSZ`; `None`
/// before 1970.
pub(crate) fn iso_utc(filetime: u64) -> Option<String> {
    let secs = (filetime / 10_000_000).checked_sub(11_644_473_600)?;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = i64::try_from(days).ok()? + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// The encoding of a Windows code page; Windows-1252 for one trawl does not know.
pub(crate) fn codepage_encoding(codepage: u32) -> &'static Encoding {
    let label = match codepage {
        65001 => "utf-8",
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => return windows_125x(codepage),
        10000 => "macintosh",
        20866 => "koi8-r",
        28591 => "iso-8859-1",
        28592..=28606 => return iso_8859(codepage - 28590),
        _ => "windows-1252",
    };
    Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252)
}

fn windows_125x(codepage: u32) -> &'static Encoding {
    Encoding::for_label(format!("windows-{codepage}").as_bytes())
        .unwrap_or(encoding_rs::WINDOWS_1252)
}

fn iso_8859(part: u32) -> &'static Encoding {
    Encoding::for_label(format!("iso-8859-{part}").as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252)
}

/// The little-endian `u16` at `at`, if the bytes reach that far.
pub(crate) fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian `u32` at `at`, if the bytes reach that far.
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// UTF-16LE text (an odd last byte is dropped).
pub(crate) fn utf16le(bytes: &[u8]) -> String {
    crate::text::decode_utf16(bytes, u16::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetimes_become_utc_dates() {
        // 2016-11-15 23:29:05.816 UTC, a leap day, and the Unix epoch.
        assert_eq!(
            iso_utc(131_237_261_458_160_000).as_deref(),
            Some("2016-11-15T23:29:05Z")
        );
        assert_eq!(
            iso_utc(125_962_560_000_000_000).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(
            iso_utc(116_444_736_000_000_000).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
        assert_eq!(iso_utc(0), None);
    }

    #[test]
    fn code_pages_map_to_their_encodings() {
        assert_eq!(codepage_encoding(1251), encoding_rs::WINDOWS_1251);
        assert_eq!(codepage_encoding(932), encoding_rs::SHIFT_JIS);
        assert_eq!(codepage_encoding(28595), encoding_rs::ISO_8859_5);
        assert_eq!(codepage_encoding(1), encoding_rs::WINDOWS_1252);
    }

    #[test]
    fn a_summary_cut_short_gives_what_it_holds() {
        // Header with the section at 48; one VT_LPSTR title, then the bytes end.
        let mut b = vec![0u8; 48];
        b[44] = 48;
        b.extend_from_slice(&[0; 4]); // section size
        b.extend_from_slice(&2u32.to_le_bytes()); // two properties
        b.extend_from_slice(&2u32.to_le_bytes()); // title ...
        b.extend_from_slice(&24u32.to_le_bytes()); // ... at 24
        b.extend_from_slice(&4u32.to_le_bytes()); // author ...
        b.extend_from_slice(&4000u32.to_le_bytes()); // ... beyond the end
        b.extend_from_slice(&0x1Eu32.to_le_bytes());
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(b"Hello\0");
        let props = summary_properties(&b);
        assert_eq!(props, vec![("title", MetaValue::Str("Hello".into()))]);
        assert!(summary_properties(&b[..50]).is_empty());
    }
}
