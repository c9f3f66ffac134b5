#!/usr/bin/env python3
"""Derives BEIR-format sets from projects' own FAQs and manuals: questions written by
people, answered by the section under them, among every section of the manuals.

    python3 benches/quality/derive_docs_faq.py KIND SOURCE OUT_DIR

KIND and SOURCE:

- `rst ROOT`: a project's reStructuredText documentation (a source distribution's
  `docs/`); the FAQ is every file whose path has "faq" in it (`faq.rst`, `faq/*.txt`),
  the distractors every other `.rst` or `.txt` file but release notes and changelogs
  (files or folders named changelog, changes, history, news, releaselog, release(s) or
  whatsnew).
- `texinfo DIR`: R's manuals as HTML (Debian's r-doc-html, `manual/`): `R-FAQ.html`
  and the other `R-*.html` manuals.
- `sqlite DIR`: SQLite's documentation (Debian's sqlite3-doc, `/usr/share/doc/sqlite3`):
  `faq.html`, whose questions are numbered paragraphs, and every other page.

Queries are the FAQ's questions (headings that end in "?"); the one relevant document
of each is the answer under it, indexed without the question. Every other section of
the manuals is a distractor, with its heading as title. As in derive_python_faq.py, a
query's id is "q:" before its answer's. Pure standard library.
"""

import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from derive_python_faq import sections, write_faq_set  # same directory

MIN_BODY = 40
NOT_DOCS = re.compile(
    r"^(changelog|changes|history|news|releaselog|releases?|whatsnew)(\.\w+)?$", re.I
)
NUMBER = re.compile(r"^\s*(\(\d+\)|\d+(\.\d+)*\.?)\s+")
NAVIGATION = re.compile(r"^(Next|Previous|Up): .*$", re.M)


def release_notes(rel):
    """Whether a path inside the documentation is release notes or a changelog."""
    return any(NOT_DOCS.match(part) for part in rel.parts)


def add_section(corpus, queries, doc_id, heading, body, question=None):
    """A section that answers `question` (a FAQ's) becomes a query and its answer,
    indexed without the question; any other section a distractor, with its heading as
    title."""
    if question:
        queries.append({"_id": doc_id, "text": question})
        corpus.append({"_id": doc_id, "title": "", "text": body})
    else:
        corpus.append({"_id": doc_id, "title": heading, "text": body})


def asked(heading, faq):
    """The question a FAQ's heading asks, or None."""
    return heading if faq and heading.endswith("?") else None


def rst_sets(root):
    corpus, queries = [], []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".rst", ".txt") and p.is_file())
    for path in files:
        rel = path.relative_to(root)
        faq = "faq" in rel.as_posix().lower()
        if not faq and release_notes(rel):
            continue
        for n, (heading, body) in enumerate(sections(path)):
            if len(body) >= MIN_BODY:
                question = asked(" ".join(heading.split()), faq)
                add_section(corpus, queries, f"{rel.as_posix()}-{n}", heading, body, question)
    return corpus, queries


class Sections(HTMLParser):
    """Text of an HTML page cut at its h1-h4 headings: [(heading, body)]."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.heading, self.body = [], None, []
        self.in_heading, self.skip = False, 0
        self.heading_text = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "nav"):
            self.skip += 1
        elif tag in ("h1", "h2", "h3", "h4"):
            self.flush()
            self.in_heading, self.heading_text = True, []
        elif tag in ("p", "br", "li", "pre", "tr", "div", "dd", "dt"):
            self.body.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "nav"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("h1", "h2", "h3", "h4") and self.in_heading:
            self.in_heading = False
            self.heading = " ".join("".join(self.heading_text).split())

    def handle_data(self, data):
        if self.skip:
            return
        (self.heading_text if self.in_heading else self.body).append(data)

    def flush(self):
        text = re.sub(r"[ \t]+", " ", "".join(self.body))
        text = re.sub(r"\s*\n\s*", "\n", text).strip()
        if self.heading is not None:
            self.out.append((self.heading, text))
        self.heading, self.body = None, []

    def sections(self, page):
        self.feed(page)
        self.flush()
        return self.out


def texinfo_sets(manual):
    """R's manuals. Texinfo writes each section's links to its neighbours and a menu of
    its subsections' titles into the page: both are dropped. A cross-reference in the
    text ("see Are there Unix-like binaries for R?") still names the section it points
    to, as it does for a reader."""
    corpus, queries = [], []
    pages = {
        p: Sections().sections(p.read_text(encoding="utf-8", errors="replace"))
        for p in manual.glob("R-*.html")
    }
    titles = {NUMBER.sub("", h) for page in pages.values() for h, _ in page}
    for path in sorted(pages):
        faq = path.name == "R-FAQ.html"
        for n, (heading, body) in enumerate(pages[path]):
            body = NAVIGATION.sub("", body)
            body = "\n".join(line for line in body.splitlines() if line.strip() not in titles)
            body = body.strip()
            if len(body) < MIN_BODY or heading.lower().startswith("table of contents"):
                continue
            question = asked(NUMBER.sub("", heading), faq)
            add_section(corpus, queries, f"{path.stem}-{n}", heading, body, question)
    return corpus, queries


def sqlite_sets(docs):
    corpus, queries = [], []
    faq = (docs / "faq.html").read_text(encoding="utf-8", errors="replace")
    parts = re.split(r'<a name="q(\d+)"></a>', faq)
    for number, part in zip(parts[1::2], parts[2::2]):
        m = re.search(r"<p><b>(.*?)</b></p>(.*)", part, re.S)
        if not m:
            continue
        question = NUMBER.sub("", html.unescape(re.sub(r"<[^>]+>", "", m.group(1))))
        body = Sections()
        body.heading = ""
        text = body.sections(m.group(2))[0][1]
        if len(text) >= MIN_BODY:
            question = " ".join(question.split())
            add_section(corpus, queries, f"faq-{number}", question, text, asked(question, True))
    for path in sorted(docs.rglob("*.html")):
        rel = path.relative_to(docs)
        if rel.as_posix() == "faq.html" or release_notes(rel):
            continue
        page = path.read_text(encoding="utf-8", errors="replace")
        for n, (heading, body) in enumerate(Sections().sections(page)):
            if len(body) >= MIN_BODY:
                add_section(corpus, queries, f"{rel.as_posix()}-{n}", heading, body)
    return corpus, queries


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("rst", "texinfo", "sqlite"):
        sys.exit(__doc__)
    kind, source, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if not source.is_dir():
        sys.exit(f"{source} is not a directory")
    derive = {"rst": rst_sets, "texinfo": texinfo_sets, "sqlite": sqlite_sets}[kind]
    corpus, queries = derive(source)
    if not queries:
        sys.exit(f"no questions found under {source}")
    write_faq_set(out, corpus, queries)


if __name__ == "__main__":
    main()
