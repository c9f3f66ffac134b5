//! Repair of a PDF whose cross-reference table or trailer is broken.
//!
//! A PDF says where each object starts in a table at its end. Files cut short, edited
//! by hand or written by careless tools carry a table that points at the wrong bytes, or
//! none at all, and lopdf refuses them. Readers such as poppler rebuild the table by
//! scanning the file for `N G obj`; this does the same, and appends a fresh table and
//! trailer to a copy of the file so that lopdf reads it as an incremental update. The
//! same rebuilt table lets a missing encryption key length be written into a copy of
//! the file (`with_key_length`). A stream whose `/Length` does not reach its
//! `endstream` (lopdf drops such an object: a page's whole text can go with it) is
//! written again after the file with its length measured, as poppler measures it.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Most objects a rebuilt table holds: bounds what a hostile file can make it allocate.
const MAX_OBJECTS: u32 = 8_000_000;

/// `bytes` with a rebuilt cross-reference table appended, or `None` when no object or
/// no document catalog can be found.
pub(crate) fn rebuilt(bytes: &[u8]) -> Option<Vec<u8>> {
    // lopdf reads offsets from the header on, whatever comes before it.
    let start = find(bytes, b"%PDF-", 0)?;
    let body = &bytes[start..];
    let objects = objects(body);
    if objects.is_empty() {
        return None;
    }
    let trailer = last_trailer(body);
    let reference = |key: &[u8]| trailer.and_then(|t| reference_after(t, key));
    let root = reference(b"/Root").or_else(|| catalog(body, &objects))?;
    let size = objects.keys().next_back()? + 1;
    let mut out = body.to_vec();
    let mut objects = objects;
    let mut starts: Vec<usize> = objects.values().map(|&(offset, _)| offset).collect();
    starts.sort_unstable();
    for (number, (offset, generation)) in objects.iter_mut() {
        let next = starts
            .get(starts.partition_point(|&s| s <= *offset))
            .copied()
            .unwrap_or(body.len());
        if let Some(fixed) = measured_stream(&body[*offset..next]) {
            let at = out.len() + 1;
            out.push(b'\n');
            out.extend_from_slice(format!("{number} {generation} obj\n").as_bytes());
            out.extend_from_slice(&fixed);
            out.extend_from_slice(b"\nendobj\n");
            *offset = at;
        }
    }

    let mut table = String::new();
    let _ = write!(table, "\nxref\n0 {size}\n0000000000 65535 f\r\n");
    for number in 1..size {
        match objects.get(&number) {
            Some(&(offset, generation)) => {
                let _ = write!(table, "{offset:010} {generation:05} n\r\n");
            }
            None => table.push_str("0000000000 00000 f\r\n"),
        }
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {size} /Root {} {} R",
        root.0, root.1
    );
    if let Some(info) = reference(b"/Info") {
        let _ = write!(table, " /Info {} {} R", info.0, info.1);
    }
    if let Some(encrypt) = reference(b"/Encrypt") {
        let _ = write!(table, " /Encrypt {} {} R", encrypt.0, encrypt.1);
    }
    if let Some(id) = trailer.and_then(id_array) {
        table.push_str(" /ID ");
        table.push_str(&String::from_utf8_lossy(id));
    }
    let _ = write!(table, " >>\nstartxref\n{}\n%%EOF\n", out.len() + 1);
    out.extend_from_slice(table.as_bytes());
    Some(out)
}

/// For an object's text (from `N G obj` to the next object) that is a stream whose
/// direct `/Length` does not end where `endstream` starts, the object's dictionary and
/// stream with the length measured to `endstream` (without the end-of-line before it);
/// `None` for any other object.
fn measured_stream(object: &[u8]) -> Option<Vec<u8>> {
    let keyword = find(object, b"stream", 0)?;
    // The dictionary ends before `stream`; `endstream` is not the keyword itself.
    if keyword >= 3 && &object[keyword - 3..keyword] == b"end" {
        return None;
    }
    let dict_start = find(object, b"obj", 0)? + 3;
    let dict = &object[dict_start..keyword];
    let mut data_start = keyword + 6;
    while object.get(data_start) == Some(&b' ') {
        data_start += 1;
    }
    match object.get(data_start..data_start + 2) {
        Some(b"\r\n") => data_start += 2,
        _ if matches!(object.get(data_start), Some(b'\n' | b'\r')) => data_start += 1,
        _ => return None,
    }
    let end = find(object, b"endstream", data_start)?;
    let mut data_end = end;
    if data_end > data_start && object[data_end - 1] == b'\n' {
        data_end -= 1;
    }
    if data_end > data_start && object[data_end - 1] == b'\r' {
        data_end -= 1;
    }
    // `/Length` followed by a number (not `/Length1` of a font file, not a reference).
    let key = (0..dict.len().saturating_sub(7)).find(|&i| {
        &dict[i..i + 7] == b"/Length" && dict.get(i + 7).is_some_and(|&c| is_white(c))
    })?;
    let digits_start = key + 7 + dict[key + 7..].iter().take_while(|&&c| is_white(c)).count();
    let digits_end = digits_start
        + dict[digits_start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
    let after = &dict[digits_end..];
    let is_reference = after
        .iter()
        .skip_while(|&&c| is_white(c))
        .take_while(|c| c.is_ascii_digit())
        .count()
        > 0;
    let length: usize = std::str::from_utf8(&dict[digits_start..digits_end])
        .ok()?
        .parse()
        .ok()?;
    if is_reference {
        return None;
    }
    // What lopdf accepts: the data, an optional end of line, then `endstream`.
    let fits = object.get(data_start + length..).is_some_and(|rest| {
        let rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .or_else(|| rest.strip_prefix(b"\r"))
            .unwrap_or(rest);
        rest.starts_with(b"endstream")
    });
    if fits {
        return None;
    }
    let mut out = Vec::with_capacity(object.len() + 16);
    out.extend_from_slice(&dict[..key]);
    out.extend_from_slice(format!("/Length {}", data_end - data_start).as_bytes());
    out.extend_from_slice(&dict[digits_end..]);
    out.extend_from_slice(b"\nstream\n");
    out.extend_from_slice(&object[data_start..data_end]);
    out.extend_from_slice(b"\nendstream");
    Some(out)
}

/// `bytes` with `/Length 128` written into a version 4 encryption dictionary that leaves
/// its key length out (a fixed 128 bits for that version), and the cross-reference
/// table rebuilt for the moved offsets; `None` where the file has no such dictionary.
/// lopdf otherwise takes the 40-bit default, derives the wrong key, and a file that
/// opens with the empty user password stays shut.
pub(crate) fn with_key_length(bytes: &[u8]) -> Option<Vec<u8>> {
    let start = find(bytes, b"%PDF-", 0)?;
    let body = &bytes[start..];
    let at = body.windows(8).rposition(|w| w == b"/Encrypt")?;
    let (number, _) = reference_after(&body[at..], b"/Encrypt")?;
    let (offset, _) = *objects(body).get(&number)?;
    let open = find(body, b"<<", offset)?;
    let squashed = squashed_object(body, open);
    if find(&squashed, b"/V4", 0).is_none()
        || find(&squashed, b"/Length", 0).is_some_and(|l| {
            // A length inside the crypt filter dictionary (`/CF << /StdCF << ... >> >>`)
            // is the filter's, in bytes, not the document's.
            find(&squashed, b"/CF", 0).is_none_or(|cf| l < cf)
        })
    {
        return None;
    }
    let mut patched = body[..open + 2].to_vec();
    patched.extend_from_slice(b" /Length 128 ");
    patched.extend_from_slice(&body[open + 2..]);
    rebuilt(&patched)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

fn is_white(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

/// The digits that end just before `end` (skipping white space first), as a number
/// and the position where they start.
fn number_before(bytes: &[u8], mut end: usize) -> Option<(u32, usize)> {
    while end > 0 && is_white(bytes[end - 1]) {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && bytes[start - 1].is_ascii_digit() && end - start < 10 {
        start -= 1;
    }
    let number = std::str::from_utf8(&bytes[start..end]).ok()?.parse().ok()?;
    Some((number, start))
}

/// Every `N G obj` at the start of a line or after white space: object number → (offset,
/// generation). A number defined twice keeps its last definition, as an update would.
fn objects(body: &[u8]) -> BTreeMap<u32, (usize, u32)> {
    let mut objects = BTreeMap::new();
    let mut from = 0;
    while let Some(at) = find(body, b"obj", from) {
        from = at + 3;
        let ends_word = body.get(at + 3).is_none_or(|&c| !c.is_ascii_alphanumeric());
        if !ends_word || at == 0 || !is_white(body[at - 1]) {
            continue;
        }
        let Some((generation, gen_start)) = number_before(body, at) else {
            continue;
        };
        if gen_start == 0 || !is_white(body[gen_start - 1]) {
            continue;
        }
        let Some((number, start)) = number_before(body, gen_start) else {
            continue;
        };
        if (start > 0 && !is_white(body[start - 1])) || number == 0 || number >= MAX_OBJECTS {
            continue;
        }
        objects.insert(number, (start, generation));
    }
    objects
}

/// The text of the last `trailer` dictionary, if any.
fn last_trailer(body: &[u8]) -> Option<&[u8]> {
    let at = body.windows(7).rposition(|w| w == b"trailer")?;
    let rest = &body[at + 7..];
    let end = find(rest, b">>", 0).map_or(rest.len(), |e| e + 2);
    Some(&rest[..end])
}

/// The `N G R` reference after `key` in a dictionary's text.
fn reference_after(text: &[u8], key: &[u8]) -> Option<(u32, u32)> {
    let at = find(text, key, 0)? + key.len();
    let words: Vec<&[u8]> = text[at..]
        .split(|&c| is_white(c) || c == b'/' || c == b'>')
        .filter(|w| !w.is_empty())
        .take(3)
        .collect();
    match words[..] {
        [number, generation, b"R"] => Some((
            std::str::from_utf8(number).ok()?.parse().ok()?,
            std::str::from_utf8(generation).ok()?.parse().ok()?,
        )),
        _ => None,
    }
}

/// The `/ID [...]` array's text in the trailer.
fn id_array(trailer: &[u8]) -> Option<&[u8]> {
    let at = find(trailer, b"/ID", 0)?;
    let open = find(trailer, b"[", at)?;
    let close = find(trailer, b"]", open)?;
    Some(&trailer[open..=close])
}

/// An object's text from `from` to its `endobj`, without white space, so that keys and
/// values are found however they are spaced (`/Type /Catalog` as `/Type/Catalog`).
fn squashed_object(body: &[u8], from: usize) -> Vec<u8> {
    let end = find(body, b"endobj", from).unwrap_or(body.len());
    body[from..end]
        .iter()
        .copied()
        .filter(|c| !is_white(*c))
        .collect()
}

/// The object that is the document catalog (`/Type /Catalog`), looked for when the
/// trailer is gone.
fn catalog(body: &[u8], objects: &BTreeMap<u32, (usize, u32)>) -> Option<(u32, u32)> {
    objects.iter().find_map(|(&number, &(offset, generation))| {
        find(&squashed_object(body, offset), b"/Type/Catalog", 0).map(|_| (number, generation))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
        2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n\
        xref\n0 3\n0000000000 65535 f \nBROKEN\ntrailer\n<< /Size 3 /Root 1 0 R /ID [<ab> <cd>] >>\n\
        startxref\n9999\n%%EOF\n";

    #[test]
    fn objects_are_found_where_they_start() {
        let objects = objects(FILE);
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[&1], (9, 0));
        assert_eq!(&FILE[objects[&2].0..objects[&2].0 + 7], b"2 0 obj");
    }

    #[test]
    fn the_rebuilt_file_loads_and_keeps_its_trailer() {
        assert!(lopdf::Document::load_mem(FILE).is_err());
        let fixed = rebuilt(FILE).expect("rebuilt");
        let doc = lopdf::Document::load_mem(&fixed).expect("loads");
        assert!(doc.catalog().is_ok());
        assert!(doc.trailer.get(b"ID").is_ok());
    }

    #[test]
    fn without_a_trailer_the_catalog_is_found() {
        let cut = &FILE[..find(FILE, b"xref", 0).unwrap()];
        let fixed = rebuilt(cut).expect("rebuilt");
        let doc = lopdf::Document::load_mem(&fixed).expect("loads");
        assert!(doc.catalog().is_ok());
    }

    #[test]
    fn a_stream_whose_length_misses_its_end_is_measured_again() {
        // Lengths 99 (too long) and 3 (too short), a font file's /Length1 beside a right
        // /Length, and a length by reference (left as it is).
        let file = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
            3 0 obj\n<< /Length 99 >>\nstream\nBT (Hello) Tj ET\nendstream\nendobj\n\
            4 0 obj\n<< /Length 3 /Filter [] >>\nstream\r\nabcdef\r\nendstream\nendobj\n\
            5 0 obj\n<< /Length1 9 /Length 4 >>\nstream\nabcd\nendstream\nendobj\n\
            6 0 obj\n<< /Length 7 0 R >>\nstream\nxyz\nendstream\nendobj\n\
            7 0 obj\n9\nendobj\ntrailer\n<< /Root 1 0 R >>\n";
        let fixed = rebuilt(file).expect("rebuilt");
        let doc = lopdf::Document::load_mem(&fixed).expect("loads");
        let content = |n| {
            doc.get_object((n, 0))
                .and_then(lopdf::Object::as_stream)
                .map(|s| s.content.clone())
        };
        assert_eq!(content(3).expect("3"), b"BT (Hello) Tj ET");
        assert_eq!(content(4).expect("4"), b"abcdef");
        assert_eq!(content(5).expect("5"), b"abcd");
        // Only the broken streams were written again.
        assert_eq!(
            fixed.windows(11).filter(|w| w == b"endstream\ne").count(),
            6
        );
        assert!(measured_stream(&file[find(file, b"5 0 obj", 0).unwrap()..]).is_none());
        assert!(measured_stream(&file[find(file, b"6 0 obj", 0).unwrap()..]).is_none());
    }

    #[test]
    fn no_objects_no_repair() {
        assert!(rebuilt(b"%PDF-1.4\nnothing here").is_none());
        assert!(rebuilt(b"no header 1 0 obj").is_none());
    }
}
