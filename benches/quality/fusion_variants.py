#!/usr/bin/env python3
"""Replays the default fusion's question and fade terms against the alternatives tried
beside them, on every set's dumped candidates (docs/benchmarks.md, "Questions, and
keyword queries a chunk holds whole").

    python3 benches/quality/fusion_variants.py table [VARIANT ...]
    python3 benches/quality/fusion_variants.py fade
    python3 benches/quality/fusion_variants.py pooled

`table` prints each set's nDCG@10 under each variant, paired against the better single
retriever (mean ± standard error); `fade` chooses the fade's two ends from a grid by
leaving each family of sets out in turn; `pooled` prints the question term's own gain
per query over groups of sets. The sets are those of learn_fusion.py. Pure standard
library.
"""

import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fusion_study import convex, docs_of, ndcg10  # same directory
from learn_fusion import KNOWN, adaptive, exact, library, load_qrels, signals, unread


def with_unread(s, w):
    """Weight `w` moved towards the keyword side as the library's legibility term does."""
    return w + (1 - w) * unread(s)


def fused(weight):
    """A z-score fusion at the weight `weight(s)` picks."""
    return lambda q, s: convex(q["dense"], q["keyword"], with_unread(s, weight(s)), "z")


def plain(s):
    """The adaptive weight without the question and fade terms."""
    return adaptive(s, question_power=1, fade=None)


def question_cut(factor):
    return fused(lambda s: plain(s) * (factor if s["question"] else 1.0))


def everyday_cut(factor, top):
    """The cut only as far as the question's words are each one token of the model."""

    def weight(s):
        everyday = min(1.0, max(0.0, (top - s["tokens_per_word"]) / (top - 1)))
        return plain(s) * (1 - (1 - factor) * s["question"] * everyday)

    return fused(weight)


def question_power(power):
    return fused(lambda s: adaptive(s, question_power=power, fade=None))


def fade(start, end):
    return fused(lambda s: adaptive(s, fade=(start, end)))


def dense_first(n):
    """Keyword evidence only for the chunks in dense retrieval's first n."""

    def fuse(q, s):
        top = {p for p, _, _ in q["dense"][:n]}
        keyword = [hit for hit in q["keyword"] if hit[0] in top]
        return convex(q["dense"][:n], keyword, with_unread(s, adaptive(s)), "z")

    return fuse


VARIANTS = {
    "default": fused(adaptive),
    "without": fused(plain),
    "question-x0.6": question_cut(0.6),
    "question-x0.4": question_cut(0.4),
    "everyday-x0.4-1.3": everyday_cut(0.4, 1.3),
    "everyday-x0.4-1.4": everyday_cut(0.4, 1.4),
    "everyday-x0.2-1.3": everyday_cut(0.2, 1.3),
    "question-power3": question_power(3),
    "question-power4": question_power(4),
    "dense-first20": dense_first(20),
    "dense-first50": dense_first(50),
    "dense-first100": dense_first(100),
}
FADE_GRID = [(a, b) for a in (0.4, 0.5, 0.6) for b in (0.8, 0.9, 1.0)]
POOLS = {
    "Python, Debian and Perl FAQs": ["python-faq", "debian-faq", "perl-faq"],
    "manual FAQs": [
        f"{p}-faq" for p in ("django", "sqlalchemy", "celery", "scrapy", "r", "sqlite")
    ],
    "scifact-questions": ["scifact-questions"],
}


def gains(variants):
    """{set: (family, {variant: mean gain over the better single retriever})} and a
    table row per set."""
    out = {}
    for name, family, dump, qrels_path in KNOWN:
        if not os.path.exists(dump):
            continue
        qrels = load_qrels(qrels_path)
        rows = []
        for line in open(dump):
            q = json.loads(line)
            judged = qrels.get(q["qid"])
            if not judged:
                continue
            doc_of = {p: d for p, d, _ in q["dense"] + q["keyword"]}
            s = signals(q)

            def score(ranked, q=q, doc_of=doc_of, judged=judged):
                return ndcg10([d for d in docs_of(ranked, doc_of) if d != q["qid"]], judged)

            row = {
                "dense": score([(p, x) for p, _, x in q["dense"]]),
                "keyword": score([(p, x) for p, _, x in q["keyword"]]),
            }
            row.update({v: score(fuse(q, s)) for v, fuse in variants.items()})
            rows.append(row)
        n = len(rows)
        best = max(("dense", "keyword"), key=lambda k: sum(r[k] for r in rows))
        cells, means = [], {}
        for v in variants:
            diffs = [r[v] - r[best] for r in rows]
            mean = sum(diffs) / n
            se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / max(1, n - 1) / n)
            means[v] = mean
            cells.append(f"{sum(r[v] for r in rows) / n:.3f} ({mean:+.3f} ± {se:.3f})")
        out[name] = (family, means, f"| {name} | {n} | " + " | ".join(cells) + " |")
    return out


def objective(per, names, v):
    """Mean gain, a loss below -0.005 counted three times (as learn_fusion.py does)."""
    return sum(per[n][1][v] + 2 * min(0.0, per[n][1][v] + 0.005) for n in names) / len(names)


def main():
    os.chdir(Path(__file__).resolve().parents[2])
    what = sys.argv[1] if len(sys.argv) > 1 else "table"
    if what == "table":
        chosen = {v: VARIANTS[v] for v in (sys.argv[2:] or VARIANTS)}
        print("| set | queries | " + " | ".join(chosen) + " |")
        print("|---" * (len(chosen) + 2) + "|")
        for _, _, row in gains(chosen).values():
            print(row)
    elif what == "fade":
        grid = {"none": question_power(2), **{g: fade(*g) for g in FADE_GRID}}
        per = gains(grid)
        for family in sorted({f for f, _, _ in per.values()}):
            rest = [n for n in per if per[n][0] != family]
            choice = max(grid, key=lambda v, rest=rest: objective(per, rest, v))
            for name, (fam, means, _) in per.items():
                if fam == family:
                    print(
                        f"{name}: held out, {choice} gives {means[choice]:+.3f} (none {means['none']:+.3f})"
                    )
        print("on every set:", max(grid, key=lambda v: objective(per, list(per), v)))
    elif what == "pooled":
        known = {n: (d, q) for n, _, d, q in KNOWN}

        def without_question(s):
            return with_unread(s, adaptive(s, question_power=1))

        for group, names in POOLS.items():
            diffs = []
            for name in names:
                dump, qrels = known[name]
                if os.path.exists(dump):
                    judged = load_qrels(qrels)
                    a = exact(dump, judged, library, "z")
                    b = exact(dump, judged, without_question, "z")
                    diffs += [x - y for x, y in zip(a, b)]
            if diffs:
                n = len(diffs)
                mean = sum(diffs) / n
                se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / max(1, n - 1) / n)
                print(f"{group} ({n} queries): question term {mean:+.4f} ± {se:.4f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
