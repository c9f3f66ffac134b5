//! Glyph → character maps read from an embedded TrueType font's `cmap` table (trawl).
//!
//! A Type0 font with an Identity encoding and no ToUnicode CMap names glyphs only. Its
//! embedded TrueType font usually still says which character each glyph draws; poppler
//! reads that table, and so does this, to turn glyph ids back into text.
#![warn(clippy::all, unused)]

use std::collections::HashMap;
use std::convert::{TryFrom, TryInto};

/// Most glyphs a map holds.
const MAX_GLYPHS: usize = 1 << 16;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Glyph id → character, from the font's Unicode `cmap` subtable (format 4 or 12), or
/// an empty map where it has none that can be read.
pub(crate) fn glyph_to_char(font: &[u8]) -> HashMap<u16, char> {
    let mut map = HashMap::new();
    let _ = read(font, &mut map);
    map
}

fn read(font: &[u8], map: &mut HashMap<u16, char>) -> Option<()> {
    let tables = u16_at(font, 4)?;
    let cmap = (0..usize::from(tables)).find_map(|i| {
        let record = 12 + 16 * i;
        (font.get(record..record + 4)? == b"cmap").then(|| u32_at(font, record + 8))?
    })? as usize;
    let subtables = u16_at(font, cmap + 2)?;
    // Unicode subtables first: full repertoire (3,10 / 0,4+), then the BMP (3,1 / 0,x).
    let mut best: Option<(u8, usize)> = None;
    for i in 0..usize::from(subtables) {
        let record = cmap + 4 + 8 * i;
        let (platform, encoding) = (u16_at(font, record)?, u16_at(font, record + 2)?);
        let offset = cmap + u32_at(font, record + 4)? as usize;
        let rank = match (platform, encoding) {
            (3, 10) | (0, 4) | (0, 6) => 3,
            (3, 1) | (0, _) => 2,
            _ => continue,
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, offset));
        }
    }
    let (_, table) = best?;
    match u16_at(font, table)? {
        4 => format4(font, table, map),
        12 => format12(font, table, map),
        _ => None,
    }
}

fn insert(map: &mut HashMap<u16, char>, glyph: u32, code: u32) {
    if glyph == 0 || map.len() >= MAX_GLYPHS {
        return;
    }
    if let (Ok(glyph), Some(c)) = (u16::try_from(glyph), char::from_u32(code)) {
        // The first character a glyph is mapped from is the one it stands for.
        map.entry(glyph).or_insert(c);
    }
}

fn format4(font: &[u8], table: usize, map: &mut HashMap<u16, char>) -> Option<()> {
    let segments = usize::from(u16_at(font, table + 6)? / 2);
    let ends = table + 14;
    let starts = ends + 2 * segments + 2;
    let deltas = starts + 2 * segments;
    let range_offsets = deltas + 2 * segments;
    for s in 0..segments {
        let end = u16_at(font, ends + 2 * s)?;
        let start = u16_at(font, starts + 2 * s)?;
        let delta = u16_at(font, deltas + 2 * s)?;
        let range_offset = u16_at(font, range_offsets + 2 * s)?;
        if start > end {
            continue;
        }
        for code in start..=end {
            let glyph = if range_offset == 0 {
                code.wrapping_add(delta)
            } else {
                let at = range_offsets
                    + 2 * s
                    + usize::from(range_offset)
                    + 2 * usize::from(code - start);
                match u16_at(font, at) {
                    Some(0) | None => continue,
                    Some(g) => g.wrapping_add(delta),
                }
            };
            insert(map, u32::from(glyph), u32::from(code));
            if code == u16::MAX {
                break;
            }
        }
    }
    Some(())
}

fn format12(font: &[u8], table: usize, map: &mut HashMap<u16, char>) -> Option<()> {
    let groups = u32_at(font, table + 12)? as usize;
    for g in 0..groups.min(MAX_GLYPHS) {
        let at = table + 16 + 12 * g;
        let (start, end, glyph) = (
            u32_at(font, at)?,
            u32_at(font, at + 4)?,
            u32_at(font, at + 8)?,
        );
        if end < start || end - start > MAX_GLYPHS as u32 {
            continue;
        }
        for (i, code) in (start..=end).enumerate() {
            insert(map, glyph + i as u32, code);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A font holding only a `cmap` table with one format 4 subtable (3,1): 'A'..'C' →
    /// glyphs 36..38 by delta, 'a' → glyph 68 through the glyph id array.
    fn font() -> Vec<u8> {
        let mut sub = Vec::new();
        let push = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_be_bytes());
        // format, length (patched below), language, segCountX2, searchRange,
        // entrySelector, rangeShift
        for x in [4u16, 0, 0, 6, 4, 1, 2] {
            push(&mut sub, x);
        }
        for end in [0x43u16, 0x61, 0xffff] {
            push(&mut sub, end);
        }
        push(&mut sub, 0);
        for start in [0x41u16, 0x61, 0xffff] {
            push(&mut sub, start);
        }
        for delta in [36u16.wrapping_sub(0x41), 0, 1] {
            push(&mut sub, delta);
        }
        // idRangeOffset: segment 1 points at the glyph id array just after the offsets.
        for offset in [0u16, 4, 0] {
            push(&mut sub, offset);
        }
        push(&mut sub, 68);
        let length = sub.len() as u16;
        sub[2..4].copy_from_slice(&length.to_be_bytes());
        let mut cmap = Vec::new();
        for x in [0u16, 1, 3, 1] {
            push(&mut cmap, x);
        }
        cmap.extend_from_slice(&12u32.to_be_bytes());
        cmap.extend_from_slice(&sub);
        let mut font = vec![0, 1, 0, 0];
        for x in [1u16, 16, 0, 0] {
            push(&mut font, x);
        }
        font.extend_from_slice(b"cmap");
        font.extend_from_slice(&0u32.to_be_bytes());
        font.extend_from_slice(&28u32.to_be_bytes());
        font.extend_from_slice(&(cmap.len() as u32).to_be_bytes());
        font.extend_from_slice(&cmap);
        font
    }

    #[test]
    fn format_4_by_delta_and_by_glyph_array() {
        let map = glyph_to_char(&font());
        assert_eq!(map.get(&36), Some(&'A'));
        assert_eq!(map.get(&38), Some(&'C'));
        assert_eq!(map.get(&68), Some(&'a'));
        assert_eq!(map.len(), 4);
    }

    #[test]
    fn any_bytes_give_a_map_or_nothing() {
        let font = font();
        for cut in 0..font.len() {
            glyph_to_char(&font[..cut]);
        }
        assert!(glyph_to_char(b"not a font at all").is_empty());
    }
}
