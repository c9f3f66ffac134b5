#!/usr/bin/env python3
"""Derives a BEIR-format set from Debian's package relations: what does this package build on?

    python3 benches/quality/derive_debian_depends.py PACKAGES TRANSLATION OUT_DIR \
        [--docs N] [--queries N]

PACKAGES and TRANSLATION as for derive_debian_packages.py. The corpus is built the same
way (one package per source package, its name as title and long description as text).
Each query is a package's one-line description, and its relevant documents are the
packages it depends on (Depends and Pre-Depends, every alternative, each mapped to the
kept package of its source), leaving out its own source and the plumbing that more than
0.5% of all packages depend on (libc6, python3, perl, debconf and the like). Only
packages with at least two such dependencies in the corpus ask. The query's own package
stays in the corpus under the query's id, so BEIR's evaluation (and `trawl eval`) drops
it from the results, as in ArguAna.

This is a relatedness task, as SciDocs is (a paper's title finds the papers it cites):
the answers are about something else that the query's package needs, so neither
retriever can match them by their words alone, and scores are low. --docs documents
(default 15000, every query's package and dependencies among them) and --queries
queries (default 600) are drawn with a fixed seed. Nothing here was tuned on. Pure
standard library.
"""

import json
import random
import re
from collections import Counter

from derive_debian_packages import arguments, described, stanzas  # same directory

RELATION = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)")
PLUMBING = 0.005


def depends(fields):
    """Every package name in Depends and Pre-Depends, alternatives included."""
    names = set()
    for field in ("Pre-Depends", "Depends"):
        for part in re.split(r"[,|]", fields.get(field, "")):
            m = RELATION.match(part)
            if m:
                names.add(m.group(1))
    return names


def main():
    args = arguments(__doc__)
    a = args.parse_args()
    source_of, needs = {}, {}
    for f in stanzas(a.packages):
        source_of[f["Package"]] = f.get("Source", f["Package"]).split()[0]
        needs[f["Package"]] = depends(f)
    # How many sources depend on each source: the most depended on are plumbing.
    users = Counter()
    for name, deps in needs.items():
        for source in {source_of[d] for d in deps if d in source_of} - {source_of[name]}:
            users[source] += 1
    plumbing = {s for s, n in users.items() if n > PLUMBING * len(needs)}

    by_source = described(a.translation, source_of)
    kept = {name: source for source, (name, _, _) in by_source.items()}

    def answers(name):
        sources = {source_of[d] for d in needs.get(name, ()) if d in source_of}
        sources -= plumbing | {source_of[name]}
        return sorted(by_source[s][0] for s in sources if s in by_source)

    rng = random.Random(7)
    askable = sorted(n for n in kept if len(answers(n)) >= 2)
    asked = rng.sample(askable, min(a.queries, len(askable)))
    wanted = set(asked) | {d for n in asked for d in answers(n)}
    others = sorted(set(kept) - wanted)
    chosen = wanted | set(rng.sample(others, max(0, min(a.docs - len(wanted), len(others)))))

    (a.out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(a.out / "corpus.jsonl", "w") as f:
        for name in sorted(chosen):
            _, _, text = by_source[kept[name]]
            f.write(json.dumps({"_id": name, "title": name, "text": text}) + "\n")
    with open(a.out / "queries.jsonl", "w") as f, open(a.out / "qrels/test.tsv", "w") as q:
        q.write("query-id\tcorpus-id\tscore\n")
        for name in sorted(asked):
            f.write(json.dumps({"_id": name, "text": by_source[kept[name]][1]}) + "\n")
            for answer in answers(name):
                q.write(f"{name}\t{answer}\t1\n")
    n_rel = sum(len(answers(n)) for n in asked)
    print(f"{len(asked)} queries ({n_rel} answers), {len(chosen)} documents -> {a.out}")


if __name__ == "__main__":
    main()
