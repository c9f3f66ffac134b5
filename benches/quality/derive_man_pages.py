#!/usr/bin/env python3
"""Derives a BEIR-format set from Linux's manual pages: find the page that does X.

    python3 benches/quality/derive_man_pages.py MAN_DIR OUT_DIR [QUERIES]

MAN_DIR is a `share/man` folder, for example from Debian's manpages and manpages-dev
packages (`apt-get download manpages manpages-dev && dpkg -x` each into `x`, then
`x/usr/share/man`). Pages are rendered to text with groff (`groff -t -man -Tutf8`).

Each document is one page: its name and section as title ("open(2)") and its rendered
text without the NAME section as text. Each query is a page's one-line description from
its NAME section ("open and possibly create a file"), and its one relevant document is
that page. Only descriptions that no other page shares become queries; QUERIES of them
(default 600) are drawn with a fixed seed, and every page stays in the corpus. Pages that
only include another (`.so`) are left out. Nothing here was tuned on. Standard library
plus the groff program.
"""

import gzip
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from derive_python_faq import write_faq_set  # same directory: run as a script

HEADING = re.compile(r"^[A-Z][A-Z0-9 ,/()-]*$")


def render(path):
    """The page as plain text, or None for a page that only includes another."""
    source = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if source.lstrip().startswith(b".so "):
        return None
    result = subprocess.run(
        ["groff", "-t", "-man", "-Tutf8", "-P", "-cbou", "-rLL=200n", "-rHY=0"],
        input=source,
        capture_output=True,
        check=False,
    )
    return result.stdout.decode("utf-8", errors="replace")


def sections(text):
    """(heading, body) for each top-level section of a rendered page."""
    out, heading, body = [], None, []
    for line in text.splitlines():
        if line and not line[0].isspace() and HEADING.match(line.strip()):
            if heading is not None:
                out.append((heading, body))
            heading, body = line.strip(), []
        elif heading is not None:
            body.append(line.strip())
    if heading is not None:
        out.append((heading, body))
    return [(h, re.sub(r"\n{3,}", "\n\n", "\n".join(b)).strip()) for h, b in out]


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    n_queries = int(sys.argv[3]) if len(sys.argv) > 3 else 600
    pages = []
    for path in sorted(src.glob("man*/*")):
        text = render(path)
        if not text:
            continue
        parts = sections(text)
        name = " ".join(body for heading, body in parts if heading == "NAME")
        _, dash, description = name.partition(" - ")
        body = "\n\n".join(f"{h}\n{b}" for h, b in parts if h != "NAME" and b)
        if not dash or len(body.split()) < 20:
            continue
        page = path.name.removesuffix(".gz")
        stem, _, section = page.rpartition(".")
        pages.append((f"{stem}({section})", " ".join(description.split()), body))
    shared = Counter(description.lower() for _, description, _ in pages)
    askable = [p for p in pages if shared[p[1].lower()] == 1 and len(p[1].split()) >= 2]
    asked = random.Random(7).sample(askable, min(n_queries, len(askable)))
    corpus = [{"_id": title, "title": title, "text": body} for title, _, body in pages]
    queries = [{"_id": title, "text": description} for title, description, _ in sorted(asked)]
    write_faq_set(out, corpus, queries)


if __name__ == "__main__":
    main()
