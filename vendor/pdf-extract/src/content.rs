//! A lenient content-stream reader (trawl).
//!
//! lopdf's parser stops at the first thing it cannot read: a `%` comment between
//! operands, a stray byte, a truncated inline image. Everything after it on the page was
//! lost. This reader cuts the stream into PDF tokens itself, skips what is not a token,
//! and gathers operands until an operator, so a page keeps all the text it can.
#![warn(clippy::all, unused)]

use lopdf::content::Operation;
use std::collections::HashMap;

use adobe_cmap_parser::{ByteMapping, CIDRange, CodeRange};
use lopdf::{Dictionary, Object, StringFormat};

/// Deepest nesting of arrays and dictionaries read in an operand.
const MAX_NESTING: usize = 32;

/// Every operation of a content stream, skipping what cannot be read.
pub(crate) fn operations(data: &[u8]) -> Vec<Operation> {
    let mut lexer = Lexer { data, pos: 0 };
    let mut operations = Vec::new();
    let mut operands = Vec::new();
    while let Some(token) = lexer.token(0) {
        match token {
            Token::Object(object) => operands.push(object),
            Token::Operator(operator) if operator == "BI" => {
                lexer.skip_inline_image();
                operands.clear();
            }
            Token::Operator(operator) => {
                operations.push(Operation {
                    operator,
                    operands: std::mem::take(&mut operands),
                });
            }
            // A closing bracket with nothing open, or a byte that starts no token.
            Token::Stray => {}
        }
    }
    operations
}

enum Token {
    Object(Object),
    Operator(String),
    Stray,
}

struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
}

fn is_white(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delimiter(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(c: u8) -> bool {
    !is_white(c) && !is_delimiter(c)
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Skips white space and comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if is_white(c) {
                self.pos += 1;
            } else if c == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn token(&mut self, depth: usize) -> Option<Token> {
        self.skip_space();
        let c = self.peek()?;
        Some(match c {
            b'/' => {
                self.pos += 1;
                Token::Object(Object::Name(self.name()))
            }
            b'(' => {
                self.pos += 1;
                Token::Object(Object::String(self.literal(), StringFormat::Literal))
            }
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                Token::Object(Object::Dictionary(self.dictionary(depth)))
            }
            b'<' => {
                self.pos += 1;
                Token::Object(Object::String(self.hex(), StringFormat::Hexadecimal))
            }
            b'[' => {
                self.pos += 1;
                Token::Object(Object::Array(self.array(depth)))
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => match self.number() {
                Some(number) => Token::Object(number),
                None => Token::Stray,
            },
            c if is_regular(c) => {
                let word = self.word();
                match word.as_slice() {
                    b"true" => Token::Object(Object::Boolean(true)),
                    b"false" => Token::Object(Object::Boolean(false)),
                    b"null" => Token::Object(Object::Null),
                    _ => Token::Operator(String::from_utf8_lossy(&word).into_owned()),
                }
            }
            _ => {
                self.pos += 1;
                Token::Stray
            }
        })
    }

    fn word(&mut self) -> Vec<u8> {
        let start = self.pos;
        while self.peek().is_some_and(is_regular) {
            self.pos += 1;
        }
        self.data[start..self.pos].to_vec()
    }

    fn name(&mut self) -> Vec<u8> {
        let word = self.word();
        let mut out = Vec::with_capacity(word.len());
        let mut i = 0;
        while i < word.len() {
            let hex = word
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match (word[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'#', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    fn number(&mut self) -> Option<Object> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.data[start..self.pos]).ok()?;
        // Some writers double a sign ("--5"); the number is still the number.
        let negative = text.starts_with('-');
        let digits = text.trim_start_matches(['+', '-']);
        if digits.is_empty() || digits.contains(['+', '-']) {
            return None;
        }
        if !digits.contains('.') {
            let value: i64 = digits.parse().ok()?;
            return Some(Object::Integer(if negative { -value } else { value }));
        }
        // "1.2.3" happens too: read up to the second point.
        let mut parts = digits.splitn(3, '.');
        let whole = parts.next().unwrap_or("");
        let fraction = parts.next().unwrap_or("");
        let value: f64 = format!("0{whole}.{fraction}0").parse().ok()?;
        Some(Object::Real((if negative { -value } else { value }) as f32))
    }

    fn literal(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut open = 1usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'(' => {
                    open += 1;
                    out.push(c);
                }
                b')' => {
                    open -= 1;
                    if open == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut value = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(value as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn hex(&mut self) -> Vec<u8> {
        let mut digits = Vec::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'>' => break,
                c if c.is_ascii_hexdigit() => digits.push(c),
                _ => {}
            }
        }
        if digits.len() % 2 == 1 {
            digits.push(b'0');
        }
        digits
            .chunks(2)
            .map(|pair| {
                let digit = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
                digit(pair[0]) << 4 | digit(pair[1])
            })
            .collect()
    }

    fn array(&mut self, depth: usize) -> Vec<Object> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => break,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(_) if depth >= MAX_NESTING => {
                    self.pos += 1;
                }
                Some(_) => match self.token(depth + 1) {
                    Some(Token::Object(object)) => items.push(object),
                    // An operator inside an array: the array was never closed.
                    Some(Token::Operator(_)) | None => break,
                    Some(Token::Stray) => {}
                },
            }
        }
        items
    }

    fn dictionary(&mut self, depth: usize) -> Dictionary {
        let mut dict = Dictionary::new();
        let mut key: Option<Vec<u8>> = None;
        loop {
            self.skip_space();
            match self.peek() {
                None => break,
                Some(b'>') => {
                    self.pos += 1;
                    if self.peek() == Some(b'>') {
                        self.pos += 1;
                    }
                    break;
                }
                Some(_) if depth >= MAX_NESTING => {
                    self.pos += 1;
                }
                Some(_) => match (self.token(depth + 1), key.take()) {
                    (Some(Token::Object(value)), Some(k)) => dict.set(k, value),
                    (Some(Token::Object(Object::Name(k))), None) => key = Some(k),
                    (Some(Token::Operator(_)) | None, _) => break,
                    _ => {}
                },
            }
        }
        dict
    }

    /// Skips an inline image's dictionary and data, up to its `EI`.
    fn skip_inline_image(&mut self) {
        let rest = &self.data[self.pos..];
        let Some(data) = rest.windows(2).position(|w| w == b"ID") else {
            self.pos = self.data.len();
            return;
        };
        let rest = &rest[data + 2..];
        // EI between white space (or at the end) closes the data.
        let end = rest
            .windows(4)
            .position(|w| is_white(w[0]) && w[1] == b'E' && w[2] == b'I' && is_white(w[3]));
        self.pos += data + 2 + end.map_or(rest.len(), |e| e + 3);
    }
}

/// Most codes one `beginbfrange` entry may map, and most a ToUnicode CMap may hold:
/// bounds on what a hostile file can make this allocate.
const MAX_RANGE: u32 = 1 << 16;
const MAX_MAPPINGS: usize = 1 << 20;

/// The code → text map of a ToUnicode CMap (trawl). Read with the lenient content reader,
/// so line ends of any kind and missing spaces between tokens do not matter: the
/// operands of each `endbfchar` are (code, text) pairs and those of each `endbfrange`
/// are (first, last, text or [texts]) triples.
pub(crate) fn to_unicode(data: &[u8]) -> HashMap<u32, Vec<u16>> {
    let mut map = HashMap::new();
    for operation in operations(data) {
        let operands = &operation.operands;
        match operation.operator.as_str() {
            "endbfchar" => {
                for pair in operands.chunks_exact(2) {
                    if let (Some(code), Some(text)) = (code_of(&pair[0]), utf16_of(&pair[1])) {
                        map.insert(code, text);
                    }
                }
            }
            "endbfrange" => {
                for triple in operands.chunks_exact(3) {
                    let (Some(first), Some(last)) = (code_of(&triple[0]), code_of(&triple[1]))
                    else {
                        continue;
                    };
                    if last < first || last - first >= MAX_RANGE {
                        continue;
                    }
                    match &triple[2] {
                        Object::Array(texts) => {
                            for (code, text) in (first..=last).zip(texts) {
                                if let Some(text) = utf16_of(text) {
                                    map.insert(code, text);
                                }
                            }
                        }
                        text => {
                            let Some(start) = utf16_of(text).filter(|t| !t.is_empty()) else {
                                continue;
                            };
                            for (i, code) in (first..=last).enumerate() {
                                // The last unit counts up along the range.
                                let mut text = start.clone();
                                if let Some(unit) = text.last_mut() {
                                    *unit = unit.wrapping_add(i as u16);
                                }
                                map.insert(code, text);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if map.len() > MAX_MAPPINGS {
            break;
        }
    }
    map
}

fn code_of(object: &Object) -> Option<u32> {
    match object {
        Object::String(bytes, _) if !bytes.is_empty() && bytes.len() <= 4 => {
            Some(bytes.iter().fold(0u32, |code, &b| code << 8 | u32::from(b)))
        }
        _ => None,
    }
}

fn utf16_of(object: &Object) -> Option<Vec<u16>> {
    match object {
        Object::String(bytes, _) => Some(
            bytes
                .chunks(2)
                .map(|pair| u16::from(pair[0]) << 8 | u16::from(*pair.get(1).unwrap_or(&0)))
                .collect(),
        ),
        _ => None,
    }
}

/// The code spaces and code → CID ranges of an encoding CMap (trawl), read as
/// `to_unicode` reads: `endcodespacerange` operands are (low, high) pairs whose byte
/// length is the code's width, `endcidrange` operands (low, high, CID) triples and
/// `endcidchar` operands (code, CID) pairs. adobe-cmap-parser failed whole pages on
/// CMaps it could not lex.
pub(crate) fn byte_mapping(data: &[u8]) -> ByteMapping {
    let mut mapping = ByteMapping {
        codespace: Vec::new(),
        cid: Vec::new(),
    };
    for operation in operations(data) {
        let operands = &operation.operands;
        match operation.operator.as_str() {
            "endcodespacerange" => {
                for pair in operands.chunks_exact(2) {
                    if let (Object::String(low, _), Some(start), Some(end)) =
                        (&pair[0], code_of(&pair[0]), code_of(&pair[1]))
                    {
                        mapping.codespace.push(CodeRange {
                            width: low.len() as u32,
                            start,
                            end,
                        });
                    }
                }
            }
            "endcidrange" => {
                for triple in operands.chunks_exact(3) {
                    if let (Some(lo), Some(hi), Object::Integer(cid)) =
                        (code_of(&triple[0]), code_of(&triple[1]), &triple[2])
                    {
                        mapping.cid.push(CIDRange {
                            src_code_lo: lo,
                            src_code_hi: hi,
                            dst_CID_lo: *cid as u32,
                        });
                    }
                }
            }
            "endcidchar" => {
                for pair in operands.chunks_exact(2) {
                    if let (Some(code), Object::Integer(cid)) = (code_of(&pair[0]), &pair[1]) {
                        mapping.cid.push(CIDRange {
                            src_code_lo: code,
                            src_code_hi: code,
                            dst_CID_lo: *cid as u32,
                        });
                    }
                }
            }
            _ => {}
        }
        if mapping.cid.len() > MAX_MAPPINGS {
            break;
        }
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(data: &[u8]) -> Vec<(String, Vec<Object>)> {
        operations(data)
            .into_iter()
            .map(|o| (o.operator, o.operands))
            .collect()
    }

    #[test]
    fn comments_between_operands_are_skipped() {
        let got = ops(b"BT /F1 12 Tf % the font\n 72 % x\n 700 Td (Hello) Tj ET");
        let names: Vec<&str> = got.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(names, ["BT", "Tf", "Td", "Tj", "ET"]);
        assert_eq!(got[2].1, vec![Object::Integer(72), Object::Integer(700)]);
    }

    #[test]
    fn strings_arrays_and_escapes() {
        let got = ops(b"[(a\\(b\\)) -250 <48 65 6C6C 6F> (\\101\\n)] TJ");
        assert_eq!(got[0].0, "TJ");
        let Object::Array(items) = &got[0].1[0] else {
            panic!("not an array")
        };
        assert_eq!(
            items[0],
            Object::String(b"a(b)".to_vec(), StringFormat::Literal)
        );
        assert_eq!(items[1], Object::Integer(-250));
        assert_eq!(
            items[2],
            Object::String(b"Hello".to_vec(), StringFormat::Hexadecimal)
        );
        assert_eq!(
            items[3],
            Object::String(b"A\n".to_vec(), StringFormat::Literal)
        );
    }

    #[test]
    fn garbage_and_inline_images_do_not_stop_the_stream() {
        let got = ops(b"BT ) } (one) Tj ET BI /W 2 /H 1 ID \xff\x00EI  EI BT (two) Tj ET");
        let texts: Vec<&Object> = got
            .iter()
            .filter(|(o, _)| o == "Tj")
            .map(|(_, a)| &a[0])
            .collect();
        assert_eq!(texts.len(), 2);
        assert_eq!(
            texts[1],
            &Object::String(b"two".to_vec(), StringFormat::Literal)
        );
    }

    #[test]
    fn to_unicode_reads_chars_ranges_and_arrays_whatever_the_line_ends() {
        let cmap = b"/CIDInit /ProcSet findresource begin\r12 dict begin\rbegincmap\r\
            1 begincodespacerange<0000> <ffff>endcodespacerange\r\
            2 beginbfchar<0003> <0020><0010><00660069>endbfchar\r\
            2 beginbfrange<0024> <0026> <0041><0030><0031>[<0078><0079>]endbfrange\r\
            1 beginbfrange<0000><ffffffff><0041>endbfrange endcmap";
        let map = to_unicode(cmap);
        let text = |code: u32| map.get(&code).map(|t| String::from_utf16_lossy(t));
        assert_eq!(text(0x03).as_deref(), Some(" "));
        assert_eq!(text(0x10).as_deref(), Some("fi"));
        assert_eq!(text(0x24).as_deref(), Some("A"));
        assert_eq!(text(0x26).as_deref(), Some("C"));
        assert_eq!(text(0x31).as_deref(), Some("y"));
        // A range of four billion codes is not expanded.
        assert_eq!(map.len(), 7);
    }

    #[test]
    fn byte_mapping_reads_code_spaces_and_cid_ranges() {
        let cmap = b"1 begincodespacerange\r<00><80> <8140><9ffc>endcodespacerange\r\
            1 begincidrange<20><7e>1 <8140><817e> 633 endcidrange 1 begincidchar<8180>700 endcidchar";
        let mapping = byte_mapping(cmap);
        assert_eq!(mapping.codespace.len(), 2);
        assert_eq!(
            (mapping.codespace[1].width, mapping.codespace[1].start),
            (2, 0x8140)
        );
        assert_eq!(mapping.cid.len(), 3);
        assert_eq!(
            (mapping.cid[1].src_code_lo, mapping.cid[1].dst_CID_lo),
            (0x8140, 633)
        );
        assert_eq!(
            (mapping.cid[2].src_code_hi, mapping.cid[2].dst_CID_lo),
            (0x8180, 700)
        );
    }

    #[test]
    fn any_bytes_end() {
        for data in [
            &b"[[[[[[[[[["[..],
            b"<<<<<</A",
            b"(((",
            b"<abc",
            b"1.2.3 -.5 --4 Td",
            b"\\\\",
        ] {
            operations(data);
        }
        let deep = vec![b'['; 100_000];
        operations(&deep);
    }
}
