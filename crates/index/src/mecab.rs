//! Morphological analysis with MeCab's compiled dictionaries: Japanese (IPADIC) and
//! Korean (mecab-ko-dic) text cut into the words a dictionary knows, by the lowest-cost
//! path through the lattice of its entries, as MeCab itself cuts it.
//!
//! A dictionary directory holds MeCab's binary files: `sys.dic` (the entries, a
//! double-array trie over their surface forms, their connection ids, word costs and
//! features), `matrix.bin` (the connection costs between neighbouring entries),
//! `char.bin` (each character's categories, for words the dictionary does not hold)
//! and `unk.dic` (the entries of such unknown words, per category). The files are read
//! as they are; `sys.dic` is mapped, not copied.
//!
//! Everything read from the files is bounds-checked: a damaged dictionary gives an
//! error at open or an entry skipped, never a panic.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

/// `sys.dic`'s first word XOR this is the file's size.
const MAGIC: u32 = 0xef71_8f77;
/// The only binary dictionary version MeCab has written since 0.99.
const VERSION: u32 = 102;
const HEADER: usize = 72;
const TOKEN_SIZE: usize = 16;
/// MeCab's default: a group of unknown characters longer than this is not one word.
const MAX_GROUPING: usize = 24;
/// Most dictionary words looked up at one position (MeCab's limit), and the longest
/// one, in bytes: real dictionaries stay far below both; a damaged trie that matched
/// at every byte would otherwise fill the lattice.
const MAX_PREFIXES: usize = 512;
const MAX_KEY: usize = 1_024;
/// Most dictionary entries starting at one position (IPADIC's most is in the tens).
const MAX_ENTRIES: usize = 4_096;
/// Longest text cut in one lattice; longer text is cut in pieces of this many bytes
/// at character boundaries (MeCab's own limit is 65,535).
const MAX_PIECE: usize = 65_535;

/// Why a dictionary did not open.
#[derive(Debug, thiserror::Error)]
pub enum DictError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not what MeCab writes.
    #[error("{path}: not a MeCab dictionary file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One entry of a dictionary, as stored.
#[derive(Debug, Clone, Copy)]
struct Entry {
    left: u16,
    right: u16,
    cost: i16,
    feature: u32,
}

/// A compiled dictionary file (`sys.dic` or `unk.dic`): trie, entries, features.
struct DicFile {
    map: Mmap,
    trie: (usize, usize),
    tokens: (usize, usize),
    features: (usize, usize),
}

impl DicFile {
    fn open(path: &Path) -> Result<DicFile, DictError> {
        let bad = |reason: &str| DictError::Format {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let file = File::open(path).map_err(|source| DictError::Io {
            path: path.to_owned(),
            source,
        })?;
        // SAFETY: the map is read-only; a dictionary changed under a running process
        // gives wrong words (every read is bounds-checked), not undefined behaviour
        // beyond what any reader of a changing file sees.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| DictError::Io {
            path: path.to_owned(),
            source,
        })?;
        if map.len() < HEADER {
            return Err(bad("shorter than its header"));
        }
        let word = |i: usize| u32::from_le_bytes(map[i * 4..i * 4 + 4].try_into().unwrap());
        if (word(0) ^ MAGIC) as usize != map.len() {
            return Err(bad("its size does not match its header"));
        }
        if word(1) != VERSION {
            return Err(bad(&format!(
                "version {} (only {VERSION} is read)",
                word(1)
            )));
        }
        let (dsize, tsize, fsize) = (word(6) as usize, word(7) as usize, word(8) as usize);
        let trie = (HEADER, HEADER + dsize);
        let tokens = (trie.1, trie.1 + tsize);
        let features = (tokens.1, tokens.1 + fsize);
        if features.1 > map.len() || dsize % 8 != 0 || tsize % TOKEN_SIZE != 0 {
            return Err(bad("its sections do not fit the file"));
        }
        let charset = &map[40..72];
        let charset = &charset[..charset.iter().position(|&b| b == 0).unwrap_or(32)];
        if !charset.eq_ignore_ascii_case(b"utf8") && !charset.eq_ignore_ascii_case(b"utf-8") {
            return Err(bad(&format!(
                "charset {} (only UTF-8 dictionaries are read)",
                String::from_utf8_lossy(charset)
            )));
        }
        Ok(DicFile {
            map,
            trie,
            tokens,
            features,
        })
    }

    /// The trie's unit `i`: (base, check), or `None` past its end.
    fn unit(&self, i: usize) -> Option<(i32, u32)> {
        let at = self.trie.0 + i.checked_mul(8)?;
        if at + 8 > self.trie.1 {
            return None;
        }
        let b = &self.map[at..at + 8];
        Some((
            i32::from_le_bytes(b[..4].try_into().unwrap()),
            u32::from_le_bytes(b[4..].try_into().unwrap()),
        ))
    }

    /// The value stored for the key ending at node `b`, if one is.
    fn value_at(&self, b: i32) -> Option<u32> {
        let (n, check) = self.unit(usize::try_from(b).ok()?)?;
        (check == b as u32 && n < 0).then(|| (-(n as i64) - 1) as u32)
    }

    /// The node after `b` on byte `c`.
    fn step(&self, b: i32, c: u8) -> Option<i32> {
        let p = usize::try_from(b).ok()? + usize::from(c) + 1;
        let (base, check) = self.unit(p)?;
        (check == b as u32).then_some(base)
    }

    /// Every key that is a prefix of `key`: (value, key length in bytes), at most
    /// [`MAX_PREFIXES`] (MeCab's own limit), of at most [`MAX_KEY`] bytes.
    fn prefixes(&self, key: &[u8], out: &mut Vec<(u32, usize)>) {
        out.clear();
        let Some((mut b, _)) = self.unit(0) else {
            return;
        };
        let key = &key[..key.len().min(MAX_KEY)];
        for (i, &c) in key.iter().enumerate() {
            if let Some(v) = self.value_at(b) {
                out.push((v, i));
                if out.len() == MAX_PREFIXES {
                    return;
                }
            }
            match self.step(b, c) {
                Some(next) => b = next,
                None => return,
            }
        }
        if let Some(v) = self.value_at(b) {
            out.push((v, key.len()));
        }
    }

    /// The value stored for exactly `key`.
    fn exact(&self, key: &[u8]) -> Option<u32> {
        let (mut b, _) = self.unit(0)?;
        for &c in key {
            b = self.step(b, c)?;
        }
        self.value_at(b)
    }

    /// The entries a trie value names: `value >> 8` is the first, `value & 0xff` how
    /// many.
    fn entries(&self, value: u32) -> impl Iterator<Item = Entry> + '_ {
        let first = (value >> 8) as usize;
        (first..first + (value & 0xff) as usize).map_while(move |i| {
            let at = self.tokens.0 + i * TOKEN_SIZE;
            if at + TOKEN_SIZE > self.tokens.1 {
                return None;
            }
            let t = &self.map[at..at + TOKEN_SIZE];
            let u16_at = |o: usize| u16::from_le_bytes(t[o..o + 2].try_into().unwrap());
            Some(Entry {
                left: u16_at(0),
                right: u16_at(2),
                cost: u16_at(6) as i16,
                feature: u32::from_le_bytes(t[8..12].try_into().unwrap()),
            })
        })
    }

    /// The feature string at `offset` (comma-separated fields), or "" if damaged.
    fn feature(&self, offset: u32) -> &str {
        let start = self.features.0 + offset as usize;
        if start >= self.features.1 {
            return "";
        }
        let bytes = &self.map[start..self.features.1];
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        std::str::from_utf8(&bytes[..end]).unwrap_or("")
    }
}

/// A character's categories, from `char.bin`.
#[derive(Debug, Clone, Copy, Default)]
struct CharInfo(u32);

impl CharInfo {
    fn kinds(self) -> u32 {
        self.0 & 0x3_ffff
    }
    fn default_kind(self) -> usize {
        ((self.0 >> 18) & 0xff) as usize
    }
    fn length(self) -> usize {
        ((self.0 >> 26) & 0xf) as usize
    }
    fn group(self) -> bool {
        self.0 >> 30 & 1 == 1
    }
    fn invoke(self) -> bool {
        self.0 >> 31 == 1
    }
    fn shares_kind(self, other: CharInfo) -> bool {
        self.kinds() & other.kinds() != 0
    }
}

/// The extra cost of a long word in search mode (see [`Dictionary::cut_for_search`]),
/// Lucene's constants.
fn length_penalty(word: &str) -> i64 {
    const KANJI_LENGTH: i64 = 2;
    const KANJI_PENALTY: i64 = 3_000;
    const OTHER_LENGTH: i64 = 7;
    const OTHER_PENALTY: i64 = 1_700;
    let length = word.chars().count() as i64;
    if length <= KANJI_LENGTH {
        return 0;
    }
    let kanji = |c: char| {
        matches!(u32::from(c),
            0x3005 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF)
    };
    if word.chars().all(kanji) {
        (length - KANJI_LENGTH) * KANJI_PENALTY
    } else if length > OTHER_LENGTH {
        (length - OTHER_LENGTH) * OTHER_PENALTY
    } else {
        0
    }
}

/// A word of the lowest-cost path: its bytes in the text and its dictionary feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Morpheme<'d> {
    /// Byte offset of the word in the text.
    pub start: usize,
    /// Byte offset just past the word.
    pub end: usize,
    /// The dictionary's comma-separated feature fields (part of speech first).
    pub feature: &'d str,
}

/// 64-bit FNV-1a: stable across builds and platforms, as a fingerprint must be.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A MeCab dictionary, opened.
pub struct Dictionary {
    sys: DicFile,
    unk: DicFile,
    /// Connection costs: `matrix[right id of the left word + lsize * left id of the
    /// right word]`.
    matrix: Vec<i16>,
    lsize: usize,
    rsize: usize,
    chars: Vec<CharInfo>,
    /// See [`Dictionary::fingerprint`].
    hash: u64,
    /// Per character category: its unknown-word entries.
    unknown: Vec<Vec<Entry>>,
    space: CharInfo,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("entries_bytes", &self.sys.map.len())
            .field("lsize", &self.lsize)
            .field("rsize", &self.rsize)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, DictError> {
    std::fs::read(path).map_err(|source| DictError::Io {
        path: path.to_owned(),
        source,
    })
}

impl Dictionary {
    /// Opens the compiled dictionary in `dir` (`sys.dic`, `unk.dic`, `matrix.bin`,
    /// `char.bin`, as `mecab-dict-index` writes them, in UTF-8).
    ///
    /// # Errors
    /// [`DictError`] when a file is missing or not a MeCab dictionary file.
    pub fn open(dir: &Path) -> Result<Dictionary, DictError> {
        let sys = DicFile::open(&dir.join("sys.dic"))?;
        let unk = DicFile::open(&dir.join("unk.dic"))?;
        let matrix_path = dir.join("matrix.bin");
        let bytes = read(&matrix_path)?;
        let mut hash = Fnv::default();
        hash.write(&sys.map[..HEADER]);
        hash.write(&bytes);
        let bad = |path: &Path, reason: &str| DictError::Format {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if bytes.len() < 4 {
            return Err(bad(&matrix_path, "shorter than its header"));
        }
        let lsize = usize::from(u16::from_le_bytes([bytes[0], bytes[1]]));
        let rsize = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
        if bytes.len() != 4 + 2 * lsize * rsize {
            return Err(bad(&matrix_path, "its size does not match its header"));
        }
        let matrix = bytes[4..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();

        let char_path = dir.join("char.bin");
        let bytes = read(&char_path)?;
        hash.write(&bytes);
        hash.write(&unk.map);
        let categories = bytes
            .get(..4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
            .ok_or_else(|| bad(&char_path, "shorter than its header"))?;
        if categories > 256 || bytes.len() != 4 + 32 * categories + 4 * 0xffff {
            return Err(bad(&char_path, "its size does not match its header"));
        }
        let names: Vec<&[u8]> = (0..categories)
            .map(|i| {
                let name = &bytes[4 + 32 * i..4 + 32 * (i + 1)];
                &name[..name.iter().position(|&b| b == 0).unwrap_or(32)]
            })
            .collect();
        let chars: Vec<CharInfo> = bytes[4 + 32 * categories..]
            .chunks_exact(4)
            .map(|c| CharInfo(u32::from_le_bytes(c.try_into().unwrap())))
            .collect();
        let unknown = names
            .iter()
            .map(|name| {
                unk.exact(name)
                    .map(|v| unk.entries(v).collect())
                    .unwrap_or_default()
            })
            .collect();
        let space = chars[0x20];
        let dict = Dictionary {
            sys,
            unk,
            matrix,
            lsize,
            rsize,
            chars,
            hash: hash.0,
            unknown,
            space,
        };
        Ok(dict)
    }

    fn char_info(&self, c: char) -> CharInfo {
        // MeCab reads characters as UCS-2: those beyond take the first entry.
        let i = u32::from(c) as usize;
        *self.chars.get(i).unwrap_or(&self.chars[0])
    }

    fn connect(&self, right_of_left: u16, left_of_right: u16) -> i32 {
        let (r, l) = (usize::from(right_of_left), usize::from(left_of_right));
        if r >= self.lsize || l >= self.rsize {
            return i32::from(i16::MAX);
        }
        i32::from(self.matrix[r + self.lsize * l])
    }

    /// `text` cut into the words of the lowest-cost path, in order, as MeCab cuts it.
    /// Spaces between words belong to no word.
    #[must_use]
    pub fn cut<'d>(&'d self, text: &str) -> Vec<Morpheme<'d>> {
        self.cut_with(text, false)
    }

    /// [`Dictionary::cut`] for search: long words cost more, so that a compound is
    /// cut into the words it is made of where the dictionary holds them, as Lucene's
    /// Japanese tokenizer does in its search mode (a word of more than two Kanji costs
    /// 3,000 more per further character, any other word of more than seven characters
    /// 1,700). A run of Katakana the dictionary does not hold, taken whole by MeCab
    /// (`テキストモードグラフィックユーティリティ`), becomes the words inside it
    /// (`テキスト`, `モード`, `グラフィック`, `ユーティリティ`), and `国立国会図書館`
    /// becomes `国立`, `国会`, `図書館`.
    #[must_use]
    pub fn cut_for_search<'d>(&'d self, text: &str) -> Vec<Morpheme<'d>> {
        self.cut_with(text, true)
    }

    fn cut_with<'d>(&'d self, text: &str, search: bool) -> Vec<Morpheme<'d>> {
        let mut out = Vec::new();
        let mut start = 0;
        while start < text.len() {
            let mut end = (start + MAX_PIECE).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            self.cut_piece(text, start, end, search, &mut out);
            start = end;
        }
        out
    }

    fn cut_piece<'d>(
        &'d self,
        text: &str,
        from: usize,
        to: usize,
        search: bool,
        out: &mut Vec<Morpheme<'d>>,
    ) {
        /// A node of the lattice.
        struct Node<'d> {
            start: usize,
            end: usize,
            entry: Entry,
            feature: &'d str,
            cost: i64,
            prev: usize,
        }
        let piece = &text[from..to];
        let len = piece.len();
        // Node 0 is the beginning of the text; ends[i]: the nodes that end at byte i.
        let mut nodes = vec![Node {
            start: 0,
            end: 0,
            entry: Entry {
                left: 0,
                right: 0,
                cost: 0,
                feature: 0,
            },
            feature: "",
            cost: 0,
            prev: 0,
        }];
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); len + 1];
        ends[0].push(0);
        let mut found = Vec::new();
        let mut here: Vec<(usize, usize, Entry, &'d str)> = Vec::new();
        for pos in 0..len {
            if ends[pos].is_empty() || !piece.is_char_boundary(pos) {
                continue;
            }
            self.lookup(piece, pos, &mut found, &mut here);
            // Kept newest first within a start, so that the reversed walk below
            // meets the first-made entry first, as MeCab's lists do (it decides ties).
            for &(start, end, entry, feature) in here.iter().rev() {
                let penalty = if search {
                    length_penalty(&piece[start..end])
                } else {
                    0
                };
                let mut best = (i64::MAX, 0);
                // Later starts first, as MeCab's lists hold them (it matters at ties).
                for &l in ends[pos].iter().rev() {
                    let cost = nodes[l].cost
                        + i64::from(self.connect(nodes[l].entry.right, entry.left))
                        + i64::from(entry.cost);
                    if cost < best.0 {
                        best = (cost, l);
                    }
                }
                nodes.push(Node {
                    start,
                    end,
                    entry,
                    feature,
                    cost: best.0.saturating_add(penalty),
                    prev: best.1,
                });
                ends[end].push(nodes.len() - 1);
            }
        }
        // The end of the text: trailing spaces belong to no word.
        let mut last = len;
        while last > 0 && ends[last].is_empty() {
            last -= 1;
        }
        let mut best = (i64::MAX, None);
        for &l in ends[last].iter().rev() {
            let cost = nodes[l].cost + i64::from(self.connect(nodes[l].entry.right, 0));
            if cost < best.0 {
                best = (cost, Some(l));
            }
        }
        let Some(end_node) = best.1 else {
            return;
        };
        let first = out.len();
        let mut at = end_node;
        while at != 0 {
            let node = &nodes[at];
            out.push(Morpheme {
                start: from + node.start,
                end: from + node.end,
                feature: node.feature,
            });
            at = node.prev;
        }
        out[first..].reverse();
    }

    /// The words that may start at byte `pos` of `text` (after any spaces): the
    /// dictionary's entries, and unknown words as MeCab makes them from character
    /// categories. Each is (start, end, entry, feature).
    fn lookup<'d>(
        &'d self,
        text: &str,
        pos: usize,
        found: &mut Vec<(u32, usize)>,
        here: &mut Vec<(usize, usize, Entry, &'d str)>,
    ) {
        here.clear();
        let rest = &text[pos..];
        // Skip spaces: a word starts at the first other character.
        let mut begin = rest.len();
        let mut info = CharInfo::default();
        for (i, c) in rest.char_indices() {
            let ci = self.char_info(c);
            if !self.space.shares_kind(ci) {
                begin = i;
                info = ci;
                break;
            }
        }
        if begin == rest.len() {
            return;
        }
        let start = pos + begin;
        let key = &rest.as_bytes()[begin..];
        self.sys.prefixes(key, found);
        for &(value, n) in found.iter() {
            if !rest.is_char_boundary(begin + n) {
                continue;
            }
            for entry in self.sys.entries(value) {
                if here.len() == MAX_ENTRIES {
                    break;
                }
                here.push((start, start + n, entry, self.sys.feature(entry.feature)));
            }
        }
        if !here.is_empty() && !info.invoke() {
            return;
        }
        let known = here.len();
        // Unknown words of the first character's category.
        let word = &rest[begin..];
        let mut ends_at = Vec::new();
        let mut it = word.char_indices();
        let first_len = it.next().map_or(0, |(_, c)| c.len_utf8());
        if info.group() {
            let mut end = first_len;
            let mut count = 0;
            let mut kind = info;
            for (i, c) in word[first_len..].char_indices() {
                let ci = self.char_info(c);
                // Past the longest group the answer is known: stop reading.
                if !kind.shares_kind(ci) || count > MAX_GROUPING {
                    break;
                }
                kind = ci;
                count += 1;
                end = first_len + i + c.len_utf8();
            }
            if count <= MAX_GROUPING {
                ends_at.push(end);
            }
        }
        let group_end = ends_at.first().copied();
        let mut end = first_len;
        for _ in 0..info.length() {
            if Some(end) == group_end {
                break;
            }
            ends_at.push(end);
            match word[end..].chars().next() {
                Some(c) if info.shares_kind(self.char_info(c)) => end += c.len_utf8(),
                _ => break,
            }
        }
        if ends_at.is_empty() && known == 0 {
            ends_at.push(first_len);
        }
        let entries = self
            .unknown
            .get(info.default_kind())
            .map_or(&[][..], Vec::as_slice);
        for &e in &ends_at {
            for &entry in entries {
                here.push((start, start + e, entry, self.unk.feature(entry.feature)));
            }
        }
    }
}

/// A language trawl cuts with a MeCab dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Morphology {
    /// Japanese, with IPADIC.
    Japanese,
    /// Korean, with mecab-ko-dic.
    Korean,
}

impl Morphology {
    /// The dictionary's directory name under [`dictionaries_dir`].
    #[must_use]
    pub fn dictionary_name(self) -> &'static str {
        match self {
            Morphology::Japanese => "ipadic",
            Morphology::Korean => "mecab-ko-dic",
        }
    }

    /// The language, in English.
    #[must_use]
    pub fn language(self) -> &'static str {
        match self {
            Morphology::Japanese => "Japanese",
            Morphology::Korean => "Korean",
        }
    }
}

/// The environment variable naming the directory that holds the dictionaries
/// (`ipadic/`, `mecab-ko-dic/`).
pub const DICTIONARIES_ENV: &str = "TRAWL_DICTIONARIES";

/// Where `models/fetch.sh` puts the dictionaries in a checkout.
pub const DEFAULT_DICTIONARIES_DIR: &str = "models/dictionaries";

/// The directory the dictionaries are read from, the first of: `$TRAWL_DICTIONARIES`
/// ([`DICTIONARIES_ENV`]) when set and not empty; [`DEFAULT_DICTIONARIES_DIR`] under
/// the current directory, when it is a directory; the same under the checkout this
/// library was built in, when it is a directory.
#[must_use]
pub fn dictionaries_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DICTIONARIES_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let local = Path::new(DEFAULT_DICTIONARIES_DIR);
    if local.is_dir() {
        return Some(local.to_owned());
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(DEFAULT_DICTIONARIES_DIR);
    built.is_dir().then_some(built)
}

static DICTIONARIES: [std::sync::OnceLock<Option<Dictionary>>; 2] =
    [std::sync::OnceLock::new(), std::sync::OnceLock::new()];

/// Directories given by [`use_installed_dictionary`], per language.
static INSTALLED: std::sync::Mutex<[Option<PathBuf>; 2]> = std::sync::Mutex::new([None, None]);

/// Names the directory of an installed copy of `language`'s dictionary (the Python
/// package passes those of the PyPI packages its `cjk` extra installs). It is used
/// when `$TRAWL_DICTIONARIES` is not set, before `models/dictionaries`, and only if
/// given before the dictionary's first use in the process.
pub fn use_installed_dictionary(language: Morphology, dir: PathBuf) {
    if let Ok(mut installed) = INSTALLED.lock() {
        installed[language as usize] = Some(dir);
    }
}

/// Where `language`'s dictionary is looked for: `$TRAWL_DICTIONARIES/<name>`, else an
/// installed copy ([`use_installed_dictionary`]), else `<name>` under
/// [`dictionaries_dir`].
#[must_use]
pub fn dictionary_dir(language: Morphology) -> Option<PathBuf> {
    let name = language.dictionary_name();
    if let Some(dir) = std::env::var_os(DICTIONARIES_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir).join(name));
    }
    let installed = INSTALLED
        .lock()
        .ok()
        .and_then(|installed| installed[language as usize].clone());
    installed.or_else(|| Some(dictionaries_dir()?.join(name)))
}

/// The dictionary for `language` from [`dictionary_dir`], opened at the first call
/// and shared by the process; `None` when there is none (a dictionary that exists
/// but does not open is logged).
#[must_use]
pub fn dictionary(language: Morphology) -> Option<&'static Dictionary> {
    DICTIONARIES[language as usize]
        .get_or_init(|| {
            let dir = dictionary_dir(language)?;
            if !dir.join("sys.dic").exists() {
                return None;
            }
            Dictionary::open(&dir)
                .inspect_err(|e| {
                    tracing::warn!(
                        "the {} dictionary does not open ({e}): {} text is cut into \
                         pairs of characters",
                        language.dictionary_name(),
                        language.language()
                    );
                })
                .ok()
        })
        .as_ref()
}

impl Dictionary {
    /// What an index records of the dictionary its terms came from: its name, the
    /// sizes of its entries and connection matrix, and a hash (64-bit FNV-1a) of its
    /// connection costs, character categories, unknown-word entries and the header
    /// of its entries. Another dictionary (a new release) cuts text differently, so
    /// an index made with one needs the same.
    #[must_use]
    pub fn fingerprint(&self, language: Morphology) -> String {
        format!(
            "{}:{}:{}x{}:{:016x}",
            language.dictionary_name(),
            self.sys.map.len(),
            self.lsize,
            self.rsize,
            self.hash
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn japanese() -> &'static Dictionary {
        dictionary(Morphology::Japanese).unwrap_or_else(|| {
            panic!(
                "no ipadic dictionary in {:?}: run models/fetch.sh",
                dictionaries_dir()
            )
        })
    }

    fn surfaces<'t>(text: &'t str, words: &[Morpheme<'_>]) -> Vec<&'t str> {
        words.iter().map(|m| &text[m.start..m.end]).collect()
    }

    #[test]
    fn text_is_cut_as_mecab_cuts_it() {
        let dict = japanese();
        // MeCab's own example, and its features.
        let text = "すもももももももものうち";
        let words = dict.cut(text);
        assert_eq!(
            surfaces(text, &words),
            ["すもも", "も", "もも", "も", "もも", "の", "うち"]
        );
        assert!(
            words[0].feature.starts_with("名詞,一般"),
            "{}",
            words[0].feature
        );
        assert!(
            words[1].feature.starts_with("助詞,係助詞"),
            "{}",
            words[1].feature
        );
        // Spaces belong to no word; an unknown word is one of its category's.
        let text = "  東京  ｘｙｚ ";
        assert_eq!(surfaces(text, &dict.cut(text)), ["東京", "ｘｙｚ"]);
        assert!(dict.cut("").is_empty() && dict.cut("   ").is_empty());
    }

    #[test]
    fn search_mode_cuts_long_compounds_into_their_words() {
        let dict = japanese();
        let text = "テキストモードグラフィックユーティリティ";
        assert_eq!(surfaces(text, &dict.cut(text)), [text]);
        assert_eq!(
            surfaces(text, &dict.cut_for_search(text)),
            ["テキスト", "モード", "グラフィック", "ユーティリティ"]
        );
        let text = "国立国会図書館";
        assert_eq!(
            surfaces(text, &dict.cut_for_search(text)),
            ["国立", "国会", "図書館"]
        );
    }

    #[test]
    fn damaged_files_give_errors_not_panics() {
        let real = dictionaries_dir().unwrap().join("ipadic");
        let dir = tempfile::tempdir().unwrap();
        for name in ["sys.dic", "unk.dic", "matrix.bin", "char.bin"] {
            std::fs::copy(real.join(name), dir.path().join(name)).unwrap();
        }
        let unk = std::fs::read(real.join("unk.dic")).unwrap();
        // A file that is not a dictionary, and one cut short.
        std::fs::write(dir.path().join("sys.dic"), b"not a dictionary").unwrap();
        assert!(matches!(
            Dictionary::open(dir.path()),
            Err(DictError::Format { .. })
        ));
        std::fs::write(dir.path().join("sys.dic"), &unk[..unk.len() / 2]).unwrap();
        assert!(matches!(
            Dictionary::open(dir.path()),
            Err(DictError::Format { .. })
        ));
        std::fs::write(dir.path().join("matrix.bin"), [1, 0, 1]).unwrap();
        std::fs::write(dir.path().join("sys.dic"), &unk).unwrap();
        assert!(matches!(
            Dictionary::open(dir.path()),
            Err(DictError::Format { .. })
        ));
        std::fs::copy(real.join("matrix.bin"), dir.path().join("matrix.bin")).unwrap();
        // A trie and entries scrambled inside a valid header: words come out wrong,
        // but every read stays in bounds.
        let mut scrambled = unk.clone();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for byte in &mut scrambled[HEADER..] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte ^= state as u8;
        }
        std::fs::write(dir.path().join("sys.dic"), &scrambled).unwrap();
        let dict = Dictionary::open(dir.path()).unwrap();
        for text in [
            "すもももももももものうち",
            "東京都に住む ABC ｘｙｚ 123",
            "\u{10FFFF}あ",
        ] {
            for m in dict.cut_for_search(text) {
                assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            }
        }
    }
}
