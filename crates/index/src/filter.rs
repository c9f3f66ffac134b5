//! Metadata filters: a small builder, a readable string syntax, and their translation
//! into a tantivy query that both retrievers run (as the set of vids an HNSW search may
//! return, and as a non-scoring clause of a BM25 search).
//!
//! Metadata is indexed as typed terms in one raw-string field: `key \0 tag value`, where
//! the tag says the type (`s` string, `n` number, `d` date, `b` boolean) and the value is
//! encoded so that term order is value order. A range filter is then a term range, and
//! a list of strings (tags) is several terms under one key. Integers and floats share
//! one number type, so `year >= 2020` matches `2020` and `2020.5` alike. A string that
//! reads as a date (`2021-03-04`, RFC 3339) is indexed both as a string and as a date.

use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::str::FromStr;

use serde_json::Value;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use crate::error::{Error, Result};
use crate::schema::Fields;

/// A value a filter compares metadata with.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// A string (also matches one element of a list of strings).
    Str(String),
    /// A number; integers and floats compare as one type.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A date and time, as seconds since 1970-01-01T00:00:00Z.
    Date(i64),
}

impl FilterValue {
    /// A date value from `YYYY-MM-DD` or an RFC 3339 timestamp
    /// (`2021-03-04T10:00:00Z`, `2021-03-04T10:00:00+02:00`).
    ///
    /// # Errors
    /// [`Error::InvalidFilter`] when `s` is not such a date.
    pub fn date(s: &str) -> Result<FilterValue> {
        parse_date(s)
            .map(FilterValue::Date)
            .ok_or_else(|| Error::InvalidFilter {
                filter: s.to_owned(),
                position: 0,
                reason: "not a date (YYYY-MM-DD or RFC 3339)".into(),
            })
    }

    fn type_name(&self) -> &'static str {
        match self {
            FilterValue::Str(_) => "string",
            FilterValue::Number(_) => "number",
            FilterValue::Bool(_) => "boolean",
            FilterValue::Date(_) => "date",
        }
    }
}

impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterValue::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
            FilterValue::Number(n) => write!(f, "{n}"),
            FilterValue::Bool(b) => write!(f, "{b}"),
            FilterValue::Date(d) => f.write_str(&format_date(*d)),
        }
    }
}

impl From<&str> for FilterValue {
    fn from(v: &str) -> Self {
        FilterValue::Str(v.to_owned())
    }
}

impl From<String> for FilterValue {
    fn from(v: String) -> Self {
        FilterValue::Str(v)
    }
}

impl From<&String> for FilterValue {
    fn from(v: &String) -> Self {
        FilterValue::Str(v.clone())
    }
}

impl From<bool> for FilterValue {
    fn from(v: bool) -> Self {
        FilterValue::Bool(v)
    }
}

macro_rules! number_from {
    ($($t:ty),*) => {$(
        impl From<$t> for FilterValue {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn from(v: $t) -> Self {
                FilterValue::Number(v as f64)
            }
        }
    )*};
}
number_from!(i32, i64, u32, u64, usize, f32, f64);

/// A condition on chunk metadata and built-in fields, applied inside both retrievers.
///
/// Field names are metadata keys (nested objects as `a.b`), or the built-ins `format`,
/// `source` (the file path), `doc_id` and `tenant`; `metadata.NAME` reaches a metadata
/// key that has a built-in's name.
///
/// ```
/// use trawl_index::Filter;
///
/// let f = Filter::eq("format", "pdf").and(Filter::range("year", 2020..));
/// assert_eq!(f, "format = \"pdf\" AND year >= 2020".parse::<Filter>()?);
/// let tags = Filter::contains("tags", "rust").or(Filter::one_of("lang", ["en", "de"]).not());
/// # let _ = tags;
/// # Ok::<(), trawl_index::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The field has this value (for a list: one of its elements is this value).
    Eq(String, FilterValue),
    /// The field has one of these values.
    In(String, Vec<FilterValue>),
    /// The field has a value within the bounds (both bounds of one type).
    Range {
        /// The field.
        field: String,
        /// Lower bound.
        lower: Bound<FilterValue>,
        /// Upper bound.
        upper: Bound<FilterValue>,
    },
    /// All of these hold (true when empty).
    And(Vec<Filter>),
    /// At least one of these holds (false when empty).
    Or(Vec<Filter>),
    /// This does not hold.
    Not(Box<Filter>),
}

impl Filter {
    /// `field = value`.
    #[must_use]
    pub fn eq(field: impl Into<String>, value: impl Into<FilterValue>) -> Filter {
        Filter::Eq(field.into(), value.into())
    }

    /// `field IN (values...)`.
    #[must_use]
    pub fn one_of<V: Into<FilterValue>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Filter {
        Filter::In(field.into(), values.into_iter().map(Into::into).collect())
    }

    /// A list field (tags) contains `tag`; the same as [`Filter::eq`] on a list.
    #[must_use]
    pub fn contains(field: impl Into<String>, tag: impl Into<String>) -> Filter {
        Filter::Eq(field.into(), FilterValue::Str(tag.into()))
    }

    /// `field` within `range`: `Filter::range("year", 2020..)`,
    /// `Filter::range("score", 0.5..=1.0)`, `Filter::range("name", "a".."n")`.
    #[must_use]
    pub fn range<V: Into<FilterValue> + Clone>(
        field: impl Into<String>,
        range: impl RangeBounds<V>,
    ) -> Filter {
        let map = |b: Bound<&V>| match b {
            Bound::Included(v) => Bound::Included(v.clone().into()),
            Bound::Excluded(v) => Bound::Excluded(v.clone().into()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Filter::Range {
            field: field.into(),
            lower: map(range.start_bound()),
            upper: map(range.end_bound()),
        }
    }

    /// Both this and `other` hold.
    #[must_use]
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut all) => {
                all.push(other);
                Filter::And(all)
            }
            first => Filter::And(vec![first, other]),
        }
    }

    /// This or `other` holds.
    #[must_use]
    pub fn or(self, other: Filter) -> Filter {
        match self {
            Filter::Or(mut any) => {
                any.push(other);
                Filter::Or(any)
            }
            first => Filter::Or(vec![first, other]),
        }
    }

    /// This does not hold.
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// Only chunks of `tenant`.
    #[must_use]
    pub fn tenant(tenant: impl Into<String>) -> Filter {
        Filter::eq(TENANT, tenant.into())
    }

    /// Parses the string syntax:
    ///
    /// ```text
    /// format = "pdf" AND year >= 2020
    /// (lang IN ("en", "de") OR tags CONTAINS "rust") AND NOT draft = true
    /// published >= 2021-01-01 AND published < 2022-01-01T00:00:00Z
    /// ```
    ///
    /// Comparisons: `=`, `!=`, `<`, `<=`, `>`, `>=`, `IN (...)`, `CONTAINS`; combined
    /// with `AND`, `OR`, `NOT` (any case) and parentheses; `AND` binds tighter than
    /// `OR`. Values: quoted strings (`"..."` or `'...'`), numbers, `true`/`false`, and
    /// dates written bare (`2021-03-04`, RFC 3339). A field whose name is not a plain
    /// identifier (spaces, quotes, a keyword) is written between backquotes, a
    /// backquote in it doubled: `` `created by` = "ann" ``.
    ///
    /// # Errors
    /// [`Error::InvalidFilter`] with the byte position of the problem.
    pub fn parse(s: &str) -> Result<Filter> {
        Parser::new(s).parse()
    }

    /// The tantivy query selecting the chunks this filter matches.
    pub(crate) fn to_query(&self, fields: &Fields) -> Result<Box<dyn Query>> {
        Ok(match self {
            Filter::Eq(field, value) => term_query(term(fields, field, value)?),
            Filter::In(field, values) => {
                let terms = values
                    .iter()
                    .map(|v| term(fields, field, v))
                    .collect::<Result<Vec<_>>>()?;
                Box::new(TermSetQuery::new(terms))
            }
            Filter::Range {
                field,
                lower,
                upper,
            } => range_query(fields, field, lower, upper)?,
            Filter::And(all) if all.is_empty() => Box::new(AllQuery),
            Filter::And(all) => Box::new(BooleanQuery::new(
                all.iter()
                    .map(|f| Ok((Occur::Must, f.to_query(fields)?)))
                    .collect::<Result<Vec<_>>>()?,
            )),
            Filter::Or(any) if any.is_empty() => Box::new(EmptyQuery),
            Filter::Or(any) => Box::new(BooleanQuery::new(
                any.iter()
                    .map(|f| Ok((Occur::Should, f.to_query(fields)?)))
                    .collect::<Result<Vec<_>>>()?,
            )),
            Filter::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                (Occur::MustNot, inner.to_query(fields)?),
            ])),
        })
    }
}

/// The string syntax, parseable by [`Filter::parse`] (compound parts parenthesised).
/// A field name as the filter syntax writes it: bare when it reads back as the same
/// identifier, else between backquotes.
struct FieldName<'a>(&'a str);

impl fmt::Display for FieldName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0;
        let bare = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || "_.-".contains(c))
            && !["AND", "OR", "NOT", "IN", "CONTAINS"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k));
        if bare {
            f.write_str(name)
        } else {
            write!(f, "`{}`", name.replace('`', "``"))
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[Filter], sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {sep} ")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str(")")
        };
        match self {
            Filter::Eq(field, v) => write!(f, "{} = {v}", FieldName(field)),
            Filter::In(field, values) => {
                write!(f, "{} IN (", FieldName(field))?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Filter::Range {
                field,
                lower,
                upper,
            } => {
                let field = FieldName(field);
                let lo = match lower {
                    Bound::Included(v) => Some(format!("{field} >= {v}")),
                    Bound::Excluded(v) => Some(format!("{field} > {v}")),
                    Bound::Unbounded => None,
                };
                let hi = match upper {
                    Bound::Included(v) => Some(format!("{field} <= {v}")),
                    Bound::Excluded(v) => Some(format!("{field} < {v}")),
                    Bound::Unbounded => None,
                };
                match (lo, hi) {
                    (Some(lo), Some(hi)) => write!(f, "({lo} AND {hi})"),
                    (Some(one), None) | (None, Some(one)) => f.write_str(&one),
                    // Matches nothing (and is refused when searched, as the range is).
                    (None, None) => write!(f, "{field} IN ()"),
                }
            }
            Filter::And(all) if all.is_empty() => f.write_str("NOT (tenant IN ())"),
            Filter::And(all) => list(f, all, "AND"),
            Filter::Or(any) if any.is_empty() => f.write_str("tenant IN ()"),
            Filter::Or(any) => list(f, any, "OR"),
            Filter::Not(inner) => write!(f, "NOT ({inner})"),
        }
    }
}

impl serde::Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Filter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Filter, D::Error> {
        let text = String::deserialize(d)?;
        Filter::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;
    fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }
}

impl FromStr for Filter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Filter> {
        Filter::parse(s)
    }
}

const TENANT: &str = "tenant";
const META_PREFIX: &str = "metadata.";

/// Which indexed field a filter name refers to.
enum Target {
    /// A built-in string field.
    Builtin(Field, &'static str),
    /// A metadata key.
    Meta(String),
}

fn target(fields: &Fields, name: &str) -> Target {
    match name {
        "format" => Target::Builtin(fields.format, "format"),
        "source" => Target::Builtin(fields.source, "source"),
        "doc_id" => Target::Builtin(fields.doc_id, "doc_id"),
        TENANT => Target::Builtin(fields.tenant, TENANT),
        other => Target::Meta(other.strip_prefix(META_PREFIX).unwrap_or(other).to_owned()),
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidFilter {
        filter: String::new(),
        position: 0,
        reason,
    }
}

fn term(fields: &Fields, name: &str, value: &FilterValue) -> Result<Term> {
    match target(fields, name) {
        Target::Builtin(field, fname) => match value {
            FilterValue::Str(s) => Ok(Term::from_field_text(field, s)),
            other => Err(invalid(format!(
                "{fname} holds strings, not a {}",
                other.type_name()
            ))),
        },
        Target::Meta(key) => Ok(Term::from_field_text(
            fields.meta_terms,
            &meta_term(&key, value),
        )),
    }
}

fn term_query(t: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(t, IndexRecordOption::Basic))
}

fn range_query(
    fields: &Fields,
    name: &str,
    lower: &Bound<FilterValue>,
    upper: &Bound<FilterValue>,
) -> Result<Box<dyn Query>> {
    let value = match (lower, upper) {
        (Bound::Included(v) | Bound::Excluded(v), _)
        | (_, Bound::Included(v) | Bound::Excluded(v)) => v,
        (Bound::Unbounded, Bound::Unbounded) => {
            return Err(invalid(format!("range on {name} has no bounds")))
        }
    };
    for b in [lower, upper] {
        if let Bound::Included(v) | Bound::Excluded(v) = b {
            if std::mem::discriminant(v) != std::mem::discriminant(value) {
                return Err(invalid(format!(
                    "range on {name} mixes a {} and a {}",
                    value.type_name(),
                    v.type_name()
                )));
            }
        }
    }
    let bound = |b: &Bound<FilterValue>| -> Result<Bound<Term>> {
        Ok(match b {
            Bound::Included(v) => Bound::Included(term(fields, name, v)?),
            Bound::Excluded(v) => Bound::Excluded(term(fields, name, v)?),
            Bound::Unbounded => Bound::Unbounded,
        })
    };
    let (mut lo, mut hi) = (bound(lower)?, bound(upper)?);
    // A metadata range stays within its key and type: open ends become the first and
    // past-the-last term of that key and type.
    if let Target::Meta(key) = target(fields, name) {
        let prefix = format!("{key}\0{}", type_tag(value));
        if lo == Bound::Unbounded {
            lo = Bound::Included(Term::from_field_text(fields.meta_terms, &prefix));
        }
        if hi == Bound::Unbounded {
            hi = Bound::Excluded(Term::from_field_text(
                fields.meta_terms,
                &format!("{prefix}\u{10ffff}"),
            ));
        }
    }
    Ok(Box::new(RangeQuery::new(lo, hi)))
}

fn type_tag(v: &FilterValue) -> char {
    match v {
        FilterValue::Str(_) => 's',
        FilterValue::Number(_) => 'n',
        FilterValue::Bool(_) => 'b',
        FilterValue::Date(_) => 'd',
    }
}

/// The indexed term for `key` having `value`.
fn meta_term(key: &str, value: &FilterValue) -> String {
    let encoded = match value {
        FilterValue::Str(s) => s.clone(),
        FilterValue::Number(n) => format!("{:016x}", sortable_f64(*n)),
        FilterValue::Bool(b) => u8::from(*b).to_string(),
        // Flipping the sign bit makes two's-complement order unsigned order.
        #[allow(clippy::cast_sign_loss)]
        FilterValue::Date(d) => format!("{:016x}", (*d as u64) ^ (1 << 63)),
    };
    format!("{key}\0{}{encoded}", type_tag(value))
}

/// Maps a float to a u64 with the same order (NaN-free input; -0 equals 0).
fn sortable_f64(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The terms under which a record's metadata is indexed.
pub(crate) fn metadata_terms(metadata: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in metadata {
        push_terms(k, v, &mut out);
    }
    out
}

fn push_terms(key: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(meta_term(key, &FilterValue::Bool(*b))),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                out.push(meta_term(key, &FilterValue::Number(f)));
            }
        }
        Value::String(s) => {
            out.push(meta_term(key, &FilterValue::Str(s.clone())));
            if let Some(d) = parse_date(s) {
                out.push(meta_term(key, &FilterValue::Date(d)));
            }
        }
        Value::Array(items) => {
            for item in items {
                push_terms(key, item, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                push_terms(&format!("{key}.{k}"), v, out);
            }
        }
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn format_date(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if rem == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// Seconds since the epoch for `YYYY-MM-DD` or an RFC 3339 timestamp
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; a space may replace the `T`).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let month_days = [
        31,
        28 + i64::from(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[usize::try_from(m - 1).ok()?] {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if b.len() == 10 {
        return Some(days * 86_400);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 20 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// A recursive-descent parser for the filter syntax.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Parentheses and `NOT`s open around the current position.
    depth: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// A backquoted field name: never a keyword.
    Field(String),
    Str(String),
    Number(f64),
    Date(i64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

/// How deeply parentheses and `NOT`s may nest in a filter string: far beyond any
/// written filter, and far below what would exhaust a thread's stack.
const MAX_NESTING: usize = 64;

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
        }
    }

    fn error(&self, position: usize, reason: impl Into<String>) -> Error {
        Error::InvalidFilter {
            filter: self.src.to_owned(),
            position,
            reason: reason.into(),
        }
    }

    fn parse(mut self) -> Result<Filter> {
        let f = self.or()?;
        let (tok, at) = self.next()?;
        if tok != Token::End {
            return Err(self.error(at, format!("unexpected {}", describe(&tok))));
        }
        Ok(f)
    }

    fn or(&mut self) -> Result<Filter> {
        let mut f = self.and()?;
        while self.keyword("OR")? {
            f = f.or(self.and()?);
        }
        Ok(f)
    }

    fn and(&mut self) -> Result<Filter> {
        let mut f = self.unary()?;
        while self.keyword("AND")? {
            f = f.and(self.unary()?);
        }
        Ok(f)
    }

    fn unary(&mut self) -> Result<Filter> {
        if self.depth >= MAX_NESTING {
            return Err(self.error(
                self.pos,
                format!("nested more than {MAX_NESTING} levels deep"),
            ));
        }
        if self.keyword("NOT")? {
            self.depth += 1;
            let f = self.unary()?.not();
            self.depth -= 1;
            return Ok(f);
        }
        let (tok, at) = self.next()?;
        match tok {
            Token::LParen => {
                self.depth += 1;
                let f = self.or()?;
                self.expect(&Token::RParen)?;
                self.depth -= 1;
                Ok(f)
            }
            Token::Ident(field) | Token::Field(field) => self.comparison(field),
            other => Err(self.error(
                at,
                format!("expected a field name, found {}", describe(&other)),
            )),
        }
    }

    fn comparison(&mut self, field: String) -> Result<Filter> {
        let (tok, at) = self.next()?;
        match tok {
            Token::Op(op) => {
                let value = self.value()?;
                Ok(match op {
                    "=" => Filter::Eq(field, value),
                    "!=" => Filter::Eq(field, value).not(),
                    "<" => Filter::Range { field, lower: Bound::Unbounded, upper: Bound::Excluded(value) },
                    "<=" => Filter::Range { field, lower: Bound::Unbounded, upper: Bound::Included(value) },
                    ">" => Filter::Range { field, lower: Bound::Excluded(value), upper: Bound::Unbounded },
                    _ => Filter::Range { field, lower: Bound::Included(value), upper: Bound::Unbounded },
                })
            }
            Token::Ident(word) if word.eq_ignore_ascii_case("IN") => {
                self.expect(&Token::LParen)?;
                let mut values = Vec::new();
                let save = self.pos;
                if self.next()?.0 == Token::RParen {
                    return Ok(Filter::In(field, values));
                }
                self.pos = save;
                values.push(self.value()?);
                loop {
                    let (tok, at) = self.next()?;
                    match tok {
                        Token::Comma => values.push(self.value()?),
                        Token::RParen => break,
                        other => {
                            return Err(self.error(at, format!("expected ',' or ')', found {}", describe(&other))))
                        }
                    }
                }
                Ok(Filter::In(field, values))
            }
            Token::Ident(word)
                if word.eq_ignore_ascii_case("CONTAINS") || word.eq_ignore_ascii_case("HAS") =>
            {
                Ok(Filter::Eq(field, self.value()?))
            }
            other => Err(self.error(
                at,
                format!("expected a comparison (=, !=, <, <=, >, >=, IN, CONTAINS) after {field}, found {}", describe(&other)),
            )),
        }
    }

    fn value(&mut self) -> Result<FilterValue> {
        let (tok, at) = self.next()?;
        match tok {
            Token::Str(s) => Ok(FilterValue::Str(s)),
            Token::Number(n) => Ok(FilterValue::Number(n)),
            Token::Date(d) => Ok(FilterValue::Date(d)),
            Token::Ident(w) if w.eq_ignore_ascii_case("true") => Ok(FilterValue::Bool(true)),
            Token::Ident(w) if w.eq_ignore_ascii_case("false") => Ok(FilterValue::Bool(false)),
            other => Err(self.error(
                at,
                format!(
                    "expected a value (\"string\", number, true/false or date), found {}",
                    describe(&other)
                ),
            )),
        }
    }

    fn expect(&mut self, want: &Token) -> Result<()> {
        let (tok, at) = self.next()?;
        if &tok == want {
            Ok(())
        } else {
            Err(self.error(
                at,
                format!("expected {}, found {}", describe(want), describe(&tok)),
            ))
        }
    }

    /// Consumes the keyword if it comes next.
    fn keyword(&mut self, word: &str) -> Result<bool> {
        let save = self.pos;
        match self.next()? {
            (Token::Ident(w), _) if w.eq_ignore_ascii_case(word) => Ok(true),
            _ => {
                self.pos = save;
                Ok(false)
            }
        }
    }

    /// The next token and its byte position.
    fn next(&mut self) -> Result<(Token, usize)> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        let at = self.pos + (rest.len() - trimmed.len());
        self.pos = at;
        let Some(c) = trimmed.chars().next() else {
            return Ok((Token::End, at));
        };
        let two = trimmed.get(..2).unwrap_or("");
        let (tok, len) = match c {
            '(' => (Token::LParen, 1),
            ')' => (Token::RParen, 1),
            ',' => (Token::Comma, 1),
            _ if ["<=", ">=", "!=", "=="].contains(&two) => {
                (Token::Op(if two == "==" { "=" } else { op_name(two) }), 2)
            }
            '=' | '<' | '>' => (Token::Op(op_name(&trimmed[..1])), 1),
            '`' => {
                // Any name between backquotes, a backquote in it doubled.
                let mut out = String::new();
                let mut chars = trimmed.char_indices().skip(1).peekable();
                let end = loop {
                    match chars.next() {
                        None => return Err(self.error(at, "unclosed backquoted field name")),
                        Some((_, '`')) if chars.peek().is_some_and(|&(_, c)| c == '`') => {
                            chars.next();
                            out.push('`');
                        }
                        Some((i, '`')) => break i + 1,
                        Some((_, other)) => out.push(other),
                    }
                };
                (Token::Field(out), end)
            }
            '"' | '\'' => {
                let mut out = String::new();
                let mut chars = trimmed.char_indices().skip(1);
                let end = loop {
                    match chars.next() {
                        None => return Err(self.error(at, "unclosed string")),
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e)) => out.push(e),
                            None => return Err(self.error(at, "unclosed string")),
                        },
                        Some((i, q)) if q == c => break i + 1,
                        Some((_, other)) => out.push(other),
                    }
                };
                (Token::Str(out), end)
            }
            _ if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let len = trimmed
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || "-+.:".contains(ch)))
                    .unwrap_or(trimmed.len());
                let word = &trimmed[..len];
                if let Some(d) = parse_date(word) {
                    (Token::Date(d), len)
                } else {
                    match word.parse::<f64>() {
                        Ok(n) if n.is_finite() => (Token::Number(n), len),
                        _ => {
                            return Err(self.error(at, format!("{word:?} is not a number or date")))
                        }
                    }
                }
            }
            _ if c.is_alphabetic() || c == '_' => {
                let len = trimmed
                    .find(|ch: char| !(ch.is_alphanumeric() || "_.-".contains(ch)))
                    .unwrap_or(trimmed.len());
                (Token::Ident(trimmed[..len].to_owned()), len)
            }
            other => return Err(self.error(at, format!("unexpected character {other:?}"))),
        };
        self.pos = at + len;
        Ok((tok, at))
    }
}

fn op_name(s: &str) -> &'static str {
    match s {
        "<=" => "<=",
        ">=" => ">=",
        "!=" => "!=",
        "<" => "<",
        ">" => ">",
        _ => "=",
    }
}

fn describe(tok: &Token) -> String {
    match tok {
        Token::Ident(w) => format!("{w:?}"),
        Token::Field(w) => format!("field `{w}`"),
        Token::Str(s) => format!("string {s:?}"),
        Token::Number(n) => format!("number {n}"),
        Token::Date(d) => format!("date {}", format_date(*d)),
        Token::Op(o) => format!("'{o}'"),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::Comma => "','".into(),
        Token::End => "end of filter".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_field_names_are_backquoted_and_read_back() {
        for name in ["created by", "and", "a`b", "x = 1 OR y", "über", "", "tags"] {
            let f = Filter::eq(name, "v").or(Filter::range(name, 1.0..));
            let text = f.to_string();
            assert_eq!(Filter::parse(&text).unwrap(), f, "{name:?} as {text}");
        }
        assert_eq!(Filter::eq("tags", "v").to_string(), r#"tags = "v""#);
        // A spliced name cannot change the filter's logic.
        let text = Filter::eq(r#"a = "x" OR b"#, "y").to_string();
        assert!(
            matches!(Filter::parse(&text).unwrap(), Filter::Eq(..)),
            "{text}"
        );
        assert!(Filter::parse("`open = 1").is_err());
    }

    #[test]
    fn dates_parse_and_order() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(parse_date("1970-01-01T02:00:00+02:00"), Some(0));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_date("2001-02-29"), None);
        assert_eq!(parse_date("2021-13-01"), None);
        assert_eq!(parse_date("hello"), None);
        assert_eq!(parse_date("2021-01-01T10:00"), None);
        assert_eq!(format_date(951_782_400), "2000-02-29");
        let a = meta_term("d", &FilterValue::Date(-5));
        let b = meta_term("d", &FilterValue::Date(3));
        assert!(a < b);
    }

    #[test]
    fn numbers_encode_in_order() {
        let xs = [-1e300, -2.5, -1.0, 0.0, 0.5, 1.0, 2020.0, 1e300];
        for w in xs.windows(2) {
            assert!(sortable_f64(w[0]) < sortable_f64(w[1]), "{w:?}");
        }
        assert_eq!(sortable_f64(-0.0), sortable_f64(0.0));
    }

    #[test]
    fn syntax_parses_to_the_builder() {
        let f = Filter::parse("format = \"pdf\" AND year >= 2020").unwrap();
        assert_eq!(
            f,
            Filter::eq("format", "pdf").and(Filter::range("year", 2020..))
        );
        let f = Filter::parse("a = 1 OR b = 'x' AND NOT c != true").unwrap();
        assert_eq!(
            f,
            Filter::eq("a", 1).or(Filter::eq("b", "x").and(Filter::eq("c", true).not().not()))
        );
        let f = Filter::parse("(lang in ('en', \"de\")) and tags contains \"rust\"").unwrap();
        assert_eq!(
            f,
            Filter::one_of("lang", ["en", "de"]).and(Filter::contains("tags", "rust"))
        );
        let f = Filter::parse("published < 2021-03-04T10:00:00Z").unwrap();
        assert_eq!(
            f,
            Filter::range(
                "published",
                ..FilterValue::date("2021-03-04T10:00:00Z").unwrap()
            )
        );
        assert_eq!(
            Filter::parse("score > -1.5e2").unwrap(),
            Filter::Range {
                field: "score".into(),
                lower: Bound::Excluded(FilterValue::Number(-150.0)),
                upper: Bound::Unbounded
            }
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for text in [
            "(".repeat(100_000),
            format!("{}a = 1{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}a = 1", "NOT ".repeat(100_000)),
        ] {
            let err = Filter::parse(&text).unwrap_err();
            assert!(
                err.to_string().contains("nested more than 64 levels"),
                "{}",
                &err.to_string()[..200.min(err.to_string().len())]
            );
        }
        let ok = format!("{}a = 1{}", "(".repeat(60), ")".repeat(60));
        assert_eq!(Filter::parse(&ok).unwrap(), Filter::parse("a = 1").unwrap());
        let nots = format!("{}a = 1", "NOT ".repeat(60));
        assert!(Filter::parse(&nots).is_ok());
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        let date = FilterValue::date("2021-03-04T10:00:00Z").unwrap();
        for f in [
            Filter::eq("format", "p\"d\\f").and(Filter::range("year", 2020..)),
            Filter::one_of("lang", ["en", "de"]).or(Filter::contains("tags", "rust").not()),
            Filter::range("score", -1.5..=2.25),
            Filter::range("published", ..date),
            Filter::eq("flag", false),
            Filter::one_of::<&str>("x", []),
        ] {
            let text = f.to_string();
            let back = Filter::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back.to_string(), text);
        }
        let json = serde_json::to_string(&Filter::eq("a", 1)).unwrap();
        assert_eq!(json, "\"a = 1\"");
        assert_eq!(
            serde_json::from_str::<Filter>(&json).unwrap(),
            Filter::eq("a", 1)
        );
        assert!(serde_json::from_str::<Filter>("\"a = \"").is_err());
    }

    #[test]
    fn bad_syntax_is_a_typed_error_never_a_panic() {
        for bad in [
            "",
            "format",
            "format =",
            "= 3",
            "a = \"open",
            "a = 1 AND",
            "(a = 1",
            "a = 1)",
            "a IN (",
            "a IN (1,",
            "a ~ 3",
            "a = 1 b = 2",
            "NOT",
            "a = 12abc",
            "a = ,",
            "é = 'x' AND",
            "a = 'x\\",
            "((((",
            "a > 1e999",
        ] {
            match Filter::parse(bad) {
                Err(Error::InvalidFilter { position, .. }) => assert!(position <= bad.len()),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
