//! HTML: the main content (`<main>`, else the element marked `role="main"`, else
//! `<article>`, else `<body>`) as headings, paragraphs, list items, code, quotes and
//! tables; scripts, styles, navigation (menus, "Prev | Next" bars, tables of contents),
//! site headers and footers, forms and heading permalinks (Sphinx's and MkDocs' `¶`, `#` anchors) dropped; `<title>` and
//! the meta description kept; the declared charset honoured.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use crate::builder::{table_sections, Builder};
use crate::document::{MetaValue, SectionKind};
use crate::parse::Parsed;

/// Elements whose content is never text for a reader.
const DROP: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "svg", "iframe", "object", "canvas", "form",
    "button", "select", "head", "aside", "footer", "menu",
];

/// ARIA landmarks that are not the page's content: menus, the site's banner and footer
/// (copyright, licence, "last updated"), sidebars, search boxes.
const SKIPPED_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
];

/// Navigation that generators mark by class only: DocBook's "Prev | Up | Next" tables
/// and the tables of contents of DocBook and MediaWiki (whose entries are each their
/// own section's heading already).
const SKIPPED_CLASSES: &[&str] = &["navheader", "navfooter", "toc"];

/// Nesting deeper than this is read as flat text (no recursion, no stack overflow).
const MAX_DEPTH: usize = 128;

pub(crate) fn parse(bytes: &[u8]) -> Parsed {
    let text = decode(bytes);
    parse_str(&text)
}

pub(crate) fn parse_str(text: &str) -> Parsed {
    let html = Html::parse_document(text);
    let mut parsed = Parsed::default();
    if let Some(t) =
        first(&html, "title").map(|e| crate::builder::squash(&e.text().collect::<String>()))
    {
        if !t.is_empty() {
            parsed.title = Some(t);
        }
    }
    if let Ok(sel) = Selector::parse("meta[name], meta[property]") {
        for meta in html.select(&sel) {
            let key = meta
                .attr("name")
                .or_else(|| meta.attr("property"))
                .unwrap_or_default()
                .to_ascii_lowercase();
            let field = match key.as_str() {
                "description" | "og:description" => "description",
                "author" => "author",
                "keywords" => "keywords",
                _ => continue,
            };
            if let Some(v) = meta.attr("content").map(crate::builder::squash) {
                if !v.is_empty() && !parsed.metadata.contains_key(field) {
                    parsed.metadata.insert(field.into(), MetaValue::Str(v));
                }
            }
        }
    }
    let root = first(&html, "main")
        .or_else(|| first(&html, "[role=main]"))
        .or_else(|| first(&html, "article"))
        .or_else(|| first(&html, "body"))
        .unwrap_or_else(|| html.root_element());
    let mut w = Walker {
        b: Builder::new(),
        inline: String::new(),
        quote: 0,
        kind: SectionKind::Paragraph,
    };
    w.children(*root, 0);
    w.flush();
    parsed.sections = w.b.finish();
    if parsed.title.is_none() {
        parsed.title = crate::document::first_heading(&parsed.sections);
    }
    parsed
}

fn first<'a>(html: &'a Html, css: &str) -> Option<ElementRef<'a>> {
    let sel = Selector::parse(css).ok()?;
    html.select(&sel).next()
}

struct Walker {
    b: Builder,
    /// Inline text waiting for the end of its block.
    inline: String,
    quote: usize,
    /// What inline text becomes when its block ends (list items inside `<li>`).
    kind: SectionKind,
}

impl Walker {
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.inline);
        let kind = if self.quote > 0 {
            SectionKind::Quote
        } else {
            self.kind
        };
        self.b.push(kind, &text);
    }

    fn children(&mut self, node: NodeRef<'_, Node>, depth: usize) {
        for child in node.children() {
            self.node(child, depth + 1);
        }
    }

    fn node(&mut self, node: NodeRef<'_, Node>, depth: usize) {
        match node.value() {
            Node::Text(t) => self.inline.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                if DROP.contains(&name)
                    || e.attr("role").is_some_and(|r| SKIPPED_ROLES.contains(&r))
                    || e.classes().any(|c| SKIPPED_CLASSES.contains(&c))
                    || e.attr("hidden").is_some()
                    || e.attr("aria-hidden").is_some_and(|v| v == "true")
                {
                    return;
                }
                let Some(el) = ElementRef::wrap(node) else {
                    return;
                };
                if is_permalink(el) {
                    return;
                }
                if depth > MAX_DEPTH {
                    self.inline.push(' ');
                    self.inline.extend(el.text());
                    return;
                }
                match name {
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        self.flush();
                        let level = name.as_bytes()[1] - b'0';
                        self.b.heading(level, &reader_text(el));
                    }
                    "pre" => {
                        self.flush();
                        self.b
                            .push_raw(SectionKind::Code, &el.text().collect::<String>());
                    }
                    "li" | "dt" | "dd" => {
                        self.flush();
                        let outer = std::mem::replace(&mut self.kind, SectionKind::ListItem);
                        self.children(node, depth);
                        self.flush();
                        self.kind = outer;
                    }
                    "table" => {
                        self.flush();
                        let rows = table_rows(el);
                        table_sections(&mut self.b, &rows, None);
                    }
                    "blockquote" => {
                        self.flush();
                        self.quote += 1;
                        self.children(node, depth);
                        self.flush();
                        self.quote -= 1;
                    }
                    "br" => self.inline.push(' '),
                    "img" => {
                        if let Some(alt) = e.attr("alt").filter(|a| !a.trim().is_empty()) {
                            self.inline.push(' ');
                            self.inline.push_str(alt);
                            self.inline.push(' ');
                        }
                    }
                    _ if is_block(name) => {
                        self.flush();
                        self.children(node, depth);
                        self.flush();
                    }
                    _ => {
                        // Inline elements: keep words apart across tags like <td> and <span>
                        // only where the markup did.
                        self.children(node, depth);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether `el` is a heading's permalink: an `<a>` with a permalink class (Sphinx,
/// MkDocs, Docusaurus, GitHub, anchor.js), or one to a place on the same page whose
/// text is a single symbol (`¶`, `#`, `§`, `🔗`). A reader sees an icon, not words; kept,
/// it ends every heading and definition of generated documentation with a `¶`.
fn is_permalink(el: ElementRef<'_>) -> bool {
    const CLASSES: &[&str] = &[
        "headerlink",
        "anchor",
        "anchorjs-link",
        "hash-link",
        "header-anchor",
        "permalink",
    ];
    let e = el.value();
    if e.name() != "a" {
        return false;
    }
    if e.classes().any(|c| CLASSES.contains(&c)) {
        return true;
    }
    let mut text = el
        .text()
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace());
    let symbol = matches!((text.next(), text.next()), (Some(c), None) if !c.is_alphanumeric());
    symbol && e.attr("href").is_some_and(|h| h.starts_with('#'))
}

/// The text under `el` as a reader sees it: permalinks left out.
fn reader_text(el: ElementRef<'_>) -> String {
    use ego_tree::iter::Edge;
    let mut out = String::new();
    let mut skipping = None;
    for edge in el.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() => match node.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(_) if ElementRef::wrap(node).is_some_and(is_permalink) => {
                    skipping = Some(node.id());
                }
                _ => {}
            },
            Edge::Close(node) if skipping == Some(node.id()) => skipping = None,
            _ => {}
        }
    }
    out
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "header"
            | "ul"
            | "ol"
            | "dl"
            | "figure"
            | "figcaption"
            | "address"
            | "details"
            | "summary"
            | "body"
            | "html"
            | "hr"
            | "caption"
            | "center"
    )
}

/// Rows of a table, cells as text; nested tables are flattened into their cell.
fn table_rows(table: ElementRef<'_>) -> Vec<Vec<String>> {
    let Ok(tr) = Selector::parse("tr") else {
        return Vec::new();
    };
    table
        .select(&tr)
        .filter(|row| {
            // Only rows of this table, not of a nested one.
            row.ancestors()
                .filter_map(ElementRef::wrap)
                .find(|a| a.value().name() == "table")
                .is_some_and(|t| t.id() == table.id())
        })
        .map(|row| {
            row.children()
                .filter_map(ElementRef::wrap)
                .filter(|c| matches!(c.value().name(), "td" | "th"))
                .map(|c| crate::builder::squash(&c.text().collect::<String>()))
                .collect()
        })
        .collect()
}

/// Bytes to text: a byte-order mark, else the `<meta charset>` (or http-equiv) in the
/// first 2 KiB, else UTF-8 when valid, else Windows-1252.
pub(crate) fn decode(bytes: &[u8]) -> String {
    if bytes.starts_with(b"\xEF\xBB\xBF")
        || bytes.starts_with(b"\xFF\xFE")
        || bytes.starts_with(b"\xFE\xFF")
    {
        return crate::text::decode(bytes);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    if let Some(label) = declared_charset(&head) {
        if let Some(enc) = encoding_rs::Encoding::for_label(label.as_bytes()) {
            let (text, _, _) = enc.decode(bytes);
            return text.into_owned();
        }
    }
    crate::text::decode(bytes)
}

fn declared_charset(head: &str) -> Option<String> {
    let at = head.find("charset=")? + "charset=".len();
    let rest = head[at..].trim_start_matches(['"', '\'', ' ']);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    let label = &rest[..end];
    (!label.is_empty()).then(|| label.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_text_headings_lists_tables_and_metadata() {
        let html = r#"<!doctype html><html><head><title> My Page </title>
            <meta name="description" content="A test page"><script>var x = 1;</script>
            <style>p { color: red }</style></head>
            <body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
            <h1>Guide</h1><p>Intro <b>bold</b> text.<p>Second para
            <h2>Steps</h2><ul><li>one<li>two <ul><li>nested</li></ul></ul>
            <table><tr><th>Name</th><th>Qty</th></tr><tr><td>apple</td><td>3</td></tr></table>
            <blockquote><p>Quoted.</p></blockquote><pre>let x = 1;
let y = 2;</pre><footer>Copyright</footer></body></html>"#;
        let p = parse(html.as_bytes());
        assert_eq!(p.title.as_deref(), Some("My Page"));
        assert_eq!(
            p.metadata["description"],
            MetaValue::Str("A test page".into())
        );
        let got: Vec<_> = p
            .sections
            .iter()
            .map(|s| (s.kind, s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (SectionKind::Heading { level: 1 }, "Guide"),
                (SectionKind::Paragraph, "Intro bold text."),
                (SectionKind::Paragraph, "Second para"),
                (SectionKind::Heading { level: 2 }, "Steps"),
                (SectionKind::ListItem, "one"),
                (SectionKind::ListItem, "two"),
                (SectionKind::ListItem, "nested"),
                (SectionKind::Table, "Name | Qty\napple | 3"),
                (SectionKind::Quote, "Quoted."),
                (SectionKind::Code, "let x = 1;\nlet y = 2;"),
            ]
        );
        assert_eq!(p.sections[4].heading_path, ["Guide", "Steps"]);
    }

    #[test]
    fn heading_permalinks_are_not_text() {
        // As Sphinx writes them (Python's documentation), and a bare `#` anchor.
        let html = r##"<body><div role="main"><h1>json — JSON encoder<a class="headerlink"
            href="#module-json" title="Permalink to this heading">¶</a></h1>
            <dl><dt id="json.dumps"><span>json.</span><span>dumps</span>(obj)<a
            class="headerlink" href="#json.dumps" title="Permalink to this definition">¶</a></dt>
            <dd><p>Serialize obj, see <a href="#fn1">1</a> and <a href="#top">#</a>.</p></dd></dl>
            <h2 id="usage">Usage <a href="#usage"> § </a></h2>
            <p>Read <a class="reference" href="#json.dumps">dumps()</a> first.</p></div></body>"##;
        let p = parse(html.as_bytes());
        let got: Vec<_> = p.sections.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            got,
            [
                "json — JSON encoder",
                "json.dumps(obj)",
                "Serialize obj, see 1 and .",
                "Usage",
                "Read dumps() first.",
            ]
        );
        assert_eq!(p.sections[4].heading_path, ["json — JSON encoder", "Usage"]);
    }

    #[test]
    fn the_main_landmark_is_the_content() {
        // Sphinx's classic theme: the content is a div marked role="main", the footer a
        // plain div after it, on every page.
        let sphinx = r#"<body><div class="related" role="navigation">Index</div>
            <div class="document"><div class="body" role="main"><h1>Title</h1><p>Text.</p>
            </div><div class="sphinxsidebar">Table of Contents</div></div>
            <div class="footer">© Copyright 2001-2026. Last updated on Dec 01.</div></body>"#;
        let got: Vec<_> = parse(sphinx.as_bytes())
            .sections
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(got, ["Title", "Text."]);
        // No main landmark: the banner and footer landmarks are still not content.
        let plain = r#"<body><div role="banner">Site name</div><p>Text.</p>
            <div role="search">Search</div><div role="contentinfo">© 2026</div></body>"#;
        let got: Vec<_> = parse(plain.as_bytes())
            .sections
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(got, ["Text."]);
    }

    #[test]
    fn docbook_navigation_and_tables_of_contents_are_not_content() {
        // The Debian FAQ's pages, as DocBook XSL writes them.
        let html = r#"<body><div class="navheader"><table><tr><th>Chapter 1. Basics</th></tr>
            <tr><td><a href="index.html">Prev</a></td><td><a href="ch2.html">Next</a></td>
            </tr></table></div><div class="chapter"><h1>Chapter 1. Basics</h1>
            <div class="toc"><p><b>Table of Contents</b></p><dl><dt>1.1. What is it?</dt></dl>
            </div><h2>1.1. What is it?</h2><p>An answer.</p></div><div class="navfooter">
            <table><tr><td>The FAQ</td><td>Chapter 2. Installing</td></tr></table></div></body>"#;
        let got: Vec<_> = parse(html.as_bytes())
            .sections
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(got, ["Chapter 1. Basics", "1.1. What is it?", "An answer."]);
    }

    #[test]
    fn declared_charset_is_honoured() {
        let mut bytes = b"<html><head><meta charset=\"iso-8859-7\"></head><body><p>".to_vec();
        bytes.extend([0xE1, 0xE2, 0xE3]); // alpha beta gamma in ISO-8859-7
        bytes.extend(b"</p></body></html>");
        let p = parse(&bytes);
        assert_eq!(p.sections[0].text, "αβγ");
    }
}
