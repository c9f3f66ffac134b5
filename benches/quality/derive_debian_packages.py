#!/usr/bin/env python3
"""Derives a BEIR-format set from Debian's package descriptions: find the package that does X.

    python3 benches/quality/derive_debian_packages.py PACKAGES TRANSLATION OUT_DIR \
        [--docs N] [--queries N] [--only NAME_REGEX] [--inverse]

PACKAGES is an apt `Packages` index and TRANSLATION a `Translation-XX` file of the same
release (`Translation-en`, or another language's: `Translation-ja` makes the same task in
Japanese), both decompressed (for bookworm: `/usr/lib/apt/apt-helper cat-file
/var/lib/apt/lists/*bookworm_main_binary-amd64_Packages.lz4`, and
`dists/bookworm/main/i18n/Translation-en.xz` from any Debian mirror, which holds the
long descriptions the `Packages` index leaves out).

Each document is one package: its name as title and its long description as text, one
package per source package (the one named like its source, else the first), leaving out
transitional and dummy packages and descriptions under 20 words. Each query is a
package's one-line short description, written by its maintainer ("fast, scalable,
distributed revision control system"), and its one relevant document is that package.
Only short descriptions that no other kept package shares become queries. This is an
entity-description task of the kind the issue's "entity-description subset" names, on
text written by thousands of people. --docs documents (default 15000, every query's
package among them) and --queries queries (default 600) are drawn with a fixed seed.
--only keeps only the packages whose name it matches from the start:
`python3-|lib.*-perl$` makes a topical collection, Python and Perl libraries, where 78%
of the documents and 67% of the queries say "Python", "Perl", "module" or "library", as
TREC-COVID's say "COVID-19". --inverse swaps the two sides: the long description asks (62
words on average; ArguAna's queries run to about 190) and finds the package by its name
and short description.
Nothing here was tuned on. Pure standard library.
"""

import argparse
import random
import re
from collections import Counter
from pathlib import Path

from derive_python_faq import write_faq_set  # same directory: run as a script

SKIP = re.compile(r"\b(transitional|dummy|metapackage|debug symbols)\b", re.I)


def stanzas(path):
    """Yields each package's fields as a dict; continuation lines stay in their field."""
    fields, last = {}, None
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, None
        elif line[0] in " \t" and last:
            fields[last] += "\n" + line
        elif ":" in line:
            last, _, value = line.partition(":")
            fields[last] = value.strip()
    if fields:
        yield fields


def long_description(value):
    """The long description: paragraphs joined, " ." lines as paragraph breaks."""
    paragraphs, current = [], []
    for line in value.splitlines()[1:]:
        line = line.strip()
        if line == ".":
            paragraphs.append(" ".join(current))
            current = []
        else:
            current.append(line)
    paragraphs.append(" ".join(current))
    return "\n\n".join(p for p in paragraphs if p)


def arguments(doc):
    """The command line both Debian derivations share; `doc` is the script's docstring."""
    args = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    args.add_argument("packages", help="decompressed Packages index")
    args.add_argument("translation", help="decompressed Translation-en of the same release")
    args.add_argument("out", type=Path, help="folder to write the BEIR-format set to")
    args.add_argument("--docs", type=int, default=15000, help="packages in the corpus")
    args.add_argument("--queries", type=int, default=600, help="queries to draw")
    return args


# Scripts written without spaces between words: Han, kana, Hangul syllables, Thai, Khmer.
UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f\u1780-\u17ff]")


def long_enough(text):
    """At least 20 words; in a script written without spaces, at least 60 characters."""
    unspaced = len(UNSPACED.findall(text))
    return len(text.split()) >= 20 or (unspaced > len(text) / 3 and len(text) >= 60)


def description_field(fields):
    """The description in whatever language the file holds (`Description-en`, -ja, ...)."""
    for key, value in fields.items():
        if key.startswith("Description-") and key != "Description-md5":
            return value
    return ""


def described(translation, source_of, only=re.compile("")):
    """{source: (package, short description, long description)}: one package per source
    package (the one named like its source, else the first) whose name `only` matches,
    leaving out transitional and dummy packages and descriptions under 20 words."""
    by_source = {}
    for fields in stanzas(translation):
        name, description = fields.get("Package"), description_field(fields)
        if name not in source_of or not only.match(name):
            continue
        text = long_description(description)
        if SKIP.search(description) or not long_enough(text):
            continue
        source = source_of[name]
        if source not in by_source or name == source:
            by_source[source] = (name, description.split("\n", 1)[0].strip(), text)
    return by_source


def main():
    args = arguments(__doc__)
    args.add_argument("--only", default="", help="keep packages whose name this matches")
    args.add_argument("--inverse", action="store_true", help="long description asks")
    a = args.parse_args()
    source_of = {
        f["Package"]: f.get("Source", f["Package"]).split()[0] for f in stanzas(a.packages)
    }
    by_source = described(a.translation, source_of, re.compile(a.only))
    packages = sorted(by_source.values())
    shared = Counter(short.lower() for _, short, _ in packages)
    rng = random.Random(7)
    askable = [
        p
        for p in packages
        if shared[p[1].lower()] == 1 and (len(p[1].split()) >= 2 or UNSPACED.search(p[1]))
    ]
    asked = rng.sample(askable, min(a.queries, len(askable)))
    asked_names = {name for name, _, _ in asked}
    others = [p for p in packages if p[0] not in asked_names]
    kept = asked + rng.sample(others, max(0, min(a.docs - len(asked), len(others))))
    # Each package as (what is indexed, what asks for it).
    pairs = {name: (short, text) if a.inverse else (text, short) for name, short, text in kept}
    corpus = [{"_id": n, "title": n, "text": pairs[n][0]} for n, _, _ in sorted(kept)]
    queries = [{"_id": n, "text": pairs[n][1]} for n, _, _ in sorted(asked)]
    write_faq_set(a.out, corpus, queries)


if __name__ == "__main__":
    main()
