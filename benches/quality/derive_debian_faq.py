#!/usr/bin/env python3
"""Derives a BEIR-format set from the Debian FAQ, with the Debian Reference as distractors.

    python3 benches/quality/derive_debian_faq.py FAQ_HTML_DIR REFERENCE_HTML_DIR OUT_DIR

The two folders come from Debian's packages (`apt-get download debian-faq
debian-reference-en && dpkg -x` each into `x`): `x/usr/share/doc/debian/FAQ` and
`x/usr/share/debian-reference`.

As in derive_python_faq.py: the queries are the FAQ's questions (headings that end in
"?"), each answered by the text under its heading, indexed without the heading. Every
other section of the FAQ and every section of the Debian Reference is a distractor, with
its heading as title. Pure standard library.
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

from derive_python_faq import write_faq_set  # same directory: run as a script

NUMBER = re.compile(r"^\s*(?:Chapter\s+)?[\dA-Z]+(?:\.\d+)*\.\s*")
HEADINGS = {"h1", "h2", "h3", "h4", "h5"}
SKIP = {"script", "style"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


class Sections(HTMLParser):
    """Splits a DocBook HTML page into (heading, body) at every h1..h5."""

    def __init__(self):
        super().__init__()
        self.sections, self.heading, self.body = [], None, []
        self.in_heading, self.skip_depth, self.toc_depth = False, 0, 0
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            if tag == "br":
                self.body.append("\n")
            return
        self.depth += 1
        classes = dict(attrs).get("class") or ""
        if self.toc_depth == 0 and "toc" in classes.split():
            self.toc_depth = self.depth
        if tag in SKIP:
            self.skip_depth += 1
        if tag in HEADINGS:
            self.flush()
            self.in_heading, self.heading = True, ""
        if tag in ("p", "li", "tr", "pre", "div", "dt", "dd"):
            self.body.append("\n")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if tag in HEADINGS:
            self.in_heading = False
        if tag in SKIP:
            self.skip_depth -= 1
        if self.toc_depth == self.depth:
            self.toc_depth = 0
        self.depth -= 1

    def handle_startendtag(self, tag, attrs):
        """`<a id="x"/>` and the like: no text, and the depth is unchanged."""

    def handle_data(self, data):
        if self.skip_depth or self.toc_depth:
            return
        if self.in_heading:
            self.heading += data
        elif self.heading is not None:
            self.body.append(data)

    def flush(self):
        if self.heading is not None:
            heading = NUMBER.sub("", " ".join(self.heading.split()))
            body = re.sub(r"\n\s*\n+", "\n\n", "".join(self.body)).strip()
            self.sections.append((heading, body))
        self.heading, self.body = None, []


def sections(path):
    parser = Sections()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.flush()
    return parser.sections


def main():
    faq, reference, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    corpus, queries = [], []
    for path in sorted(faq.glob("*.en.html")):
        for n, (heading, body) in enumerate(sections(path)):
            if len(body) < 40:
                continue
            did = f"faq-{path.name.split('.')[0]}-{n}"
            if heading.endswith("?"):
                queries.append({"_id": did, "text": heading})
                corpus.append({"_id": did, "title": "", "text": body})
            else:
                corpus.append({"_id": did, "title": heading, "text": body})
    for path in sorted(reference.glob("*.en.html")):
        for n, (heading, body) in enumerate(sections(path)):
            if len(body) >= 40:
                corpus.append(
                    {"_id": f"ref-{path.name.split('.')[0]}-{n}", "title": heading, "text": body}
                )
    write_faq_set(out, corpus, queries)


if __name__ == "__main__":
    main()
