#!/usr/bin/env python3
"""Derives a BEIR-format set from Perl's own documentation: real questions, real answers.

    python3 benches/quality/derive_perl_faq.py POD_DIR OUT_DIR

POD_DIR is the `pod` folder of Debian's perl-doc package (`apt-get download perl-doc &&
dpkg -x perl-doc_*.deb x`, then `x/usr/share/perl/5.*/pod`).

Queries are the questions of the Perl FAQ (perlfaq1 to perlfaq9: the `=head2` headings
that end in "?"), written by people for people over three decades. The one relevant
document of each is the answer under that heading, indexed *without* it. Every section
of the other manuals (perlfunc, perlop, perlre, perlsyn, the tutorials, ...) is a
distractor, with its heading as title; the release notes (perl*delta), the table of
contents (perltoc) and the FAQ's own index (perlfaq), which repeat the questions, are
left out. Built as `derive_python_faq.py` is, as a second set of its kind.
Pure standard library.
"""

import re
import sys
from pathlib import Path

from derive_python_faq import write_faq_set  # same directory: run as a script

CODE = re.compile(r"[BCIFSXZ]<<+\s+(.*?)\s+>+>|[BCIFSXZ]<([^<>]*)>")
LINK = re.compile(r"L<(?:([^|<>]*)\|)?([^<>]*)>")
ENTITY = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}
SKIPPED = re.compile(r"^perl(\d*delta|toc|faq)\.pod$")


def clean(text):
    """POD formatting codes to plain text (nested codes, innermost first)."""
    text = re.sub(r"E<(\w+)>", lambda m: ENTITY.get(m.group(1), ""), text)
    for _ in range(4):
        text = LINK.sub(lambda m: m.group(1) or m.group(2).replace('"', ""), text)
        text = CODE.sub(lambda m: m.group(1) or m.group(2) or "", text)
    return text


def sections(path):
    """(heading, body) for every `=head1` to `=head4` section of one POD file."""
    out, heading, body, skipping = [], None, [], False
    for block in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        stripped = block.strip()
        if stripped.startswith("=begin"):
            skipping = True
        if skipping:
            skipping = not stripped.startswith("=end")
            continue
        command = re.match(r"=(head[1-4])\s+(.*)", stripped, re.S)
        if command:
            if heading is not None:
                out.append((heading, "\n\n".join(body).strip()))
            heading, body = clean(" ".join(command.group(2).split())), []
        elif stripped.startswith("=item"):
            body.append(clean(stripped[5:].strip()))
        elif stripped.startswith("="):
            continue
        elif heading is not None and stripped:
            body.append(clean(block.rstrip()))
    if heading is not None:
        out.append((heading, "\n\n".join(body).strip()))
    return out


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    corpus, queries = [], []
    for path in sorted(src.glob("perl*.pod")):
        if SKIPPED.match(path.name):
            continue
        faq = re.match(r"perlfaq(\d)\.pod$", path.name)
        for n, (heading, body) in enumerate(sections(path)):
            if len(body) < 40:
                continue
            doc_id = f"{path.stem}-{n}"
            if faq and heading.endswith("?"):
                doc_id = f"faq-{doc_id}"
                queries.append({"_id": doc_id, "text": heading})
                corpus.append({"_id": doc_id, "title": "", "text": body})
            else:
                corpus.append({"_id": doc_id, "title": heading, "text": body})
    write_faq_set(out, corpus, queries)


if __name__ == "__main__":
    main()
