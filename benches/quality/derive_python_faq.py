#!/usr/bin/env python3
"""Derives a BEIR-format set from Python's own documentation: real questions, real answers.

    python3 benches/quality/derive_python_faq.py RST_SOURCES OUT_DIR

RST_SOURCES is the `_sources` folder of Python's HTML documentation, for example from
Debian's python3.11-doc package (`apt-get download python3.11-doc && dpkg -x
python3.11-doc_*.deb x`, then `x/usr/share/doc/python3.11/html/_sources`).

Queries are the questions of Python's FAQ (section headings that end in "?"), written by
people for people. The one relevant document of each is the answer under that heading,
indexed *without* its heading, so the question is not in the text. Every section of the
library reference, language reference, tutorial, HOWTOs, install and extending guides is
a distractor, with its heading as title. Nothing here was tuned on: it is a check that
the default fusion holds on a kind of query and text that SciFact does not have.
Pure standard library.
"""

import json
import re
import sys
from pathlib import Path

UNDERLINE = re.compile(r"^([=\-~^*+#\"'`.:_])\1{2,}\s*$")
ROLE = re.compile(r":[\w:.-]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")
DIRECTIVE = re.compile(r"^\s*\.\. ")
INDEX_DIRECTIVE = re.compile(r"^(\s*)\.\. index::\s*(.*)$")
LABEL = re.compile(r"^\s*\.\. _[^:]+:\s*$")
DISTRACTORS = ("library", "reference", "tutorial", "howto", "using", "extending", "install")


def clean(text):
    text = ROLE.sub(r"\1", text)
    text = LINK.sub(r"\1", text)
    text = text.replace("``", "").replace("**", "")
    text = re.sub(r"`([^`]+)`_*", r"\1", text)
    return text


def is_heading(lines, i):
    """Whether line i is a section's title: text underlined by at least its length."""
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    line = lines[i]
    return bool(line.strip() and UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()))


def sections(path, index=None):
    """(heading, body) for every section of one reStructuredText file. The entries of
    its `.. index::` directives are markup and left out; given a dict, `index` gets
    each directive's text under its section's number: the section it stands in, or the
    next one when only labels and blank lines stand between it and that heading."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    out, heading, body = [], None, []
    i = 0
    while i < len(lines):
        line = lines[i]
        if is_heading(lines, i):
            if UNDERLINE.match(line):  # over- and underlined title: the text is next
                i += 1
                continue
            if heading is not None:
                out.append((heading, body))
            heading, body = line.strip(), []
            i += 2
            continue
        directive = INDEX_DIRECTIVE.match(line)
        if directive:
            indent, text = len(directive.group(1)), [directive.group(2)]
            i += 1
            while (
                i < len(lines)
                and lines[i].strip()
                and len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                text.append(lines[i].strip())
                i += 1
            if index is not None:
                j = i
                while j < len(lines) and (not lines[j].strip() or LABEL.match(lines[j])):
                    j += 1
                current = len(out) if heading is not None else -1
                next_is_heading = j < len(lines) and is_heading(lines, j)
                target = (
                    current + 1 if next_is_heading and not UNDERLINE.match(lines[j]) else current
                )
                if target >= 0:
                    index.setdefault(target, []).append("\n".join(text))
            continue
        if not UNDERLINE.match(line) and not DIRECTIVE.match(line):
            body.append(line)
        i += 1
    if heading is not None:
        out.append((heading, body))
    return [(clean(h), clean("\n".join(b)).strip()) for h, b in out]


def write_faq_set(out, corpus, queries):
    """Writes a BEIR-format set where each query's one relevant document is the one
    with the query's `_id`. The query is written with "q:" before that id: BEIR's
    evaluation, and `trawl eval`, drop a hit whose id is its query's."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f:
        for doc in corpus:
            f.write(json.dumps(doc) + "\n")
    with open(out / "queries.jsonl", "w") as f:
        for q in queries:
            f.write(json.dumps({**q, "_id": f"q:{q['_id']}"}) + "\n")
    with open(out / "qrels" / "test.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q in queries:
            f.write(f"q:{q['_id']}\t{q['_id']}\t1\n")
    print(f"{len(queries)} queries, {len(corpus)} documents -> {out}", file=sys.stderr)


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    corpus, queries = [], []
    for path in sorted((src / "faq").glob("*.rst.txt")):
        for n, (heading, body) in enumerate(sections(path)):
            if not heading.endswith("?") or len(body) < 40:
                continue
            qid = f"faq-{path.name.split('.')[0]}-{n}"
            queries.append({"_id": qid, "text": heading})
            corpus.append({"_id": qid, "title": "", "text": body})
    for part in DISTRACTORS:
        for path in sorted((src / part).rglob("*.rst.txt")):
            for n, (heading, body) in enumerate(sections(path)):
                if len(body) >= 40:
                    rel = path.relative_to(src).as_posix().removesuffix(".rst.txt")
                    corpus.append({"_id": f"{rel}-{n}", "title": heading, "text": body})
    write_faq_set(out, corpus, queries)


if __name__ == "__main__":
    main()
