#!/usr/bin/env python3
"""Learns the hybrid keyword weight per query from label-free signals, across many sets,
and judges every rule by leaving one family of sets out.

    python3 benches/quality/learn_fusion.py [--sets SETS.tsv] [--cache FILE]

SETS.tsv lists one set per line: name, family, candidate dump (`dump candidates`),
qrels file. Without it, every dump the quality scripts write under bench-out/ is used.
For every query the script replays z-score convex fusion at a grid of keyword weights
(nDCG@10 of each, documents ranked by their best chunk, as `trawl eval` does) and
computes the signals a search has before it fuses: the keyword side's coverage and mean
IDF, each list's top-score z-score and gap, the two lists' agreement, the query's length
and how the model's tokenizer reads it. A rule maps signals to a keyword weight; its
score on a set is the mean nDCG@10 of the weights it picks. Rules are fitted on all
families but one and scored on the one left out, so a rule that only fits the sets it
was fitted on loses.
Pure standard library.
"""

import argparse
import json
import math
import os
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fusion_study import convex, docs_of, ndcg10  # same directory

WORD = re.compile(r"[^\W\d_]+")
# Bumped when `signals` changes: a cached replay then recomputes its signals.
SIGNALS = 3
GRID = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]

# name, family, dump, qrels; paths relative to the repository root.
KNOWN = (
    [
        (
            "scifact-train",
            "scifact",
            "bench-out/scifact/candidates-train.jsonl",
            "../shared/data/scifact/qrels/train.tsv",
        ),
        (
            "scifact-test",
            "scifact",
            "bench-out/scifact/candidates-test.jsonl",
            "../shared/data/scifact/qrels/test.tsv",
        ),
        (
            "scifact-title",
            "scifact",
            "bench-out/known-item/candidates-title.jsonl",
            "bench-out/known-item/qrels/title.tsv",
        ),
        (
            "scifact-sentence",
            "scifact",
            "bench-out/known-item/candidates-sentence.jsonl",
            "bench-out/known-item/qrels/sentence.tsv",
        ),
        (
            "scifact-disjoint",
            "scifact",
            "bench-out/known-item-disjoint/candidates-title.jsonl",
            "bench-out/known-item-disjoint/qrels/title.tsv",
        ),
        (
            "scifact-questions",
            "scifact",
            "bench-out/scifact-questions/candidates-test.jsonl",
            "../shared/data/scifact/qrels/test.tsv",
        ),
        (
            "python-faq",
            "python",
            "bench-out/python-faq/candidates-test.jsonl",
            "bench-out/python-faq/qrels/test.tsv",
        ),
        (
            "python-title",
            "python",
            "bench-out/python-known/candidates-title.jsonl",
            "bench-out/python-known/qrels/title.tsv",
        ),
        (
            "python-sentence",
            "python",
            "bench-out/python-known/candidates-sentence.jsonl",
            "bench-out/python-known/qrels/sentence.tsv",
        ),
        (
            "debian-faq",
            "debian-faq",
            "bench-out/debian-faq/candidates-test.jsonl",
            "bench-out/debian-faq/qrels/test.tsv",
        ),
        (
            "perl-faq",
            "perl-faq",
            "bench-out/perl-faq/candidates-test.jsonl",
            "bench-out/perl-faq/qrels/test.tsv",
        ),
        (
            "man-pages",
            "man-pages",
            "bench-out/man-pages/candidates-test.jsonl",
            "bench-out/man-pages/qrels/test.tsv",
        ),
        (
            "wordnet",
            "wordnet",
            "bench-out/wordnet/candidates-test.jsonl",
            "bench-out/wordnet/qrels/test.tsv",
        ),
    ]
    + [
        (
            s,
            "debian-packages",
            f"bench-out/{s}/candidates-test.jsonl",
            f"bench-out/{s}/qrels/test.tsv",
        )
        for s in (
            "debian-packages",
            "debian-libraries",
            "debian-packages-inverse",
            "debian-depends",
        )
    ]
    + [
        (
            s,
            s.removesuffix("-faq"),
            f"bench-out/{s}/candidates-test.jsonl",
            f"bench-out/{s}/qrels/test.tsv",
        )
        for s in (
            "django-faq",
            "sqlalchemy-faq",
            "celery-faq",
            "scrapy-faq",
            "r-faq",
            "sqlite-faq",
        )
    ]
    + [
        (
            "python-index",
            "python",
            "bench-out/python-index/candidates-test.jsonl",
            "bench-out/python-index/qrels/test.tsv",
        )
    ]
    + [
        (
            f"packages-{lang}",
            f"lang-{lang}",
            f"bench-out/packages-{lang}/candidates-test.jsonl",
            f"bench-out/packages-{lang}/qrels/test.tsv",
        )
        for lang in ("de", "fr", "es", "ru", "uk", "ja", "zh_CN", "ko")
    ]
)


def load_qrels(path):
    qrels = defaultdict(dict)
    with open(path) as f:
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")[:3]
            if s.isdigit():
                qrels[q][d] = int(s)
    return qrels


def zscores(scores):
    if len(scores) < 2:
        return [0.0] * len(scores)
    mean = sum(scores) / len(scores)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return [(s - mean) / sd if sd > 0 else 0.0 for s in scores]


# A copy of `trawl::QUESTION_WORDS`: every dump replays with the same rule, whichever
# build wrote it.
QUESTION_WORDS = set(
    "am are aren't can can't could couldn't did didn't do does doesn't don't has hasn't have "
    "haven't how how's is isn't should shouldn't was wasn't were weren't what what's when "
    "when's where where's which who who's whom whose why why's will won't would wouldn't".split()
)
CLOSING = "\"')]}\u00bb\u201d\u2019\u300d\u300f\uff09"


def question(query):
    """As `trawl::is_question`: whether the query ends in a question mark (closing quotes
    and brackets aside) or its first word is one of QUESTION_WORDS."""
    if query.rstrip().rstrip(CLOSING + " \t\n").endswith(("?", "\uff1f", "\u061f")):
        return True
    m = re.match(r"[\w\-'\u2019]+", re.sub(r"^[\W_]+", "", query))
    first = m.group(0).rstrip("'\u2019") if m else ""
    return len(first) <= 9 and first.replace("\u2019", "'").lower() in QUESTION_WORDS


def chars_per_token(read, query):
    """As `TokenStats::chars_per_token`: an unknown token counts one token per character
    it stands for."""
    tokens, unknown = read.get("tokens", 0), read.get("unknown", 0)
    unknown = min(unknown, tokens)
    counted = tokens - unknown + max(read.get("unknown_chars", unknown), unknown)
    chars = read.get("chars", len("".join(query.split())))
    return chars / counted if counted else 0.0


def signals(q):
    """What a search knows before it fuses, from one dump line."""
    d = [s for _, _, s in q["dense"]]
    k = [s for _, _, s in q["keyword"]]
    dz, kz = zscores(d), zscores(k)
    dense10 = {doc for _, doc, _ in q["dense"][:10]}
    keyword10 = {doc for _, doc, _ in q["keyword"][:10]}
    read = q.get("read") or {}
    words = max(1, read.get("words", 1))
    return {
        "coverage": q.get("coverage", 1.0),
        "mean_idf": q.get("mean_idf", 0.0),
        "terms": len(q.get("terms", [])),
        "keyword_top_z": kz[0] if kz else 0.0,
        "keyword_gap_z": (kz[0] - kz[1]) if len(kz) > 1 else 0.0,
        "dense_top": d[0] if d else 0.0,
        "dense_top_z": dz[0] if dz else 0.0,
        "dense_gap_z": (dz[0] - dz[1]) if len(dz) > 1 else 0.0,
        "agreement": len(dense10 & keyword10) / 10,
        "keyword_empty": 0.0 if k else 1.0,
        "tokens_per_word": read.get("tokens", 0) / words,
        "unknown_share": read.get("unknown", 0) / max(1, read.get("tokens", 1)),
        "chars_per_token": chars_per_token(read, q.get("query", "")),
        "read_known": bool(read.get("tokens")),
        "version": SIGNALS,
        "question": float(question(q.get("query", ""))),
        "stop_share": 1
        - min(1.0, len(q.get("terms", [])) / max(1, len(WORD.findall(q.get("query", ""))))),
    }


def judged_queries(dump, qrels):
    """(query, its judgments, point id -> doc id) for each judged query of a dump."""
    with open(dump) as lines:
        for line in lines:
            q = json.loads(line)
            judged = qrels.get(q["qid"])
            if judged:
                yield q, judged, {p: doc for p, doc, _ in q["dense"] + q["keyword"]}


def replay(dump, qrels):
    """[(signals, [nDCG@10 at each GRID weight], dense, keyword)] for one set."""
    out = []
    for q, judged, doc_of in judged_queries(dump, qrels):

        def score(fused, doc_of=doc_of, qid=q["qid"], judged=judged):
            return ndcg10([doc for doc in docs_of(fused, doc_of) if doc != qid], judged)

        grid = {
            how: [score(convex(q["dense"], q["keyword"], w, how)) for w in GRID]
            for how in ("z", "minmax")
        }
        dense = score([(p, s) for p, _, s in q["dense"]])
        keyword = score([(p, s) for p, _, s in q["keyword"]])
        out.append((signals(q), grid, dense, keyword))
    return out


def exact(dump, qrels, rule, norm):
    """Each judged query's nDCG@10 with the weight `rule` picks, fused exactly."""
    out = []
    for q, judged, doc_of in judged_queries(dump, qrels):
        fused = convex(q["dense"], q["keyword"], rule(signals(q)), norm)
        out.append(ndcg10([doc for doc in docs_of(fused, doc_of) if doc != q["qid"]], judged))
    return out


def at(grid, w):
    """nDCG at weight w, linear between grid points."""
    w = min(max(w, GRID[0]), GRID[-1])
    for i in range(len(GRID) - 1):
        if w <= GRID[i + 1]:
            t = (w - GRID[i]) / (GRID[i + 1] - GRID[i])
            return grid[i] * (1 - t) + grid[i + 1] * t
    return grid[-1]


# Rules: signals -> keyword weight.


def adaptive(s, weight=0.5, full_coverage=0.2, full_idf=4.0, question_power=2, fade=(0.6, 1.0)):
    """The default's adaptive weight (`Fusion::Adaptive`): the IDF factor is raised to
    `question_power` for a question (1: no question factor), then fades back to 1 as
    coverage rises from fade[0] to fade[1] (`FADE_IDF_FROM`, `FADE_IDF_TO`; None: no
    fade)."""
    share_c = min(1.0, s["coverage"] / full_coverage) if full_coverage > 0 else 1.0
    share_i = min(1.0, s["mean_idf"] / full_idf) if full_idf > 0 else 1.0
    if s.get("question"):
        share_i **= question_power
    if fade:
        share_i += (1 - share_i) * min(
            1.0, max(0.0, (s["coverage"] - fade[0]) / (fade[1] - fade[0]))
        )
    return weight * share_c * share_i


FEATURES = [
    "log_coverage",
    "mean_idf",
    "keyword_top_z",
    "dense_top_z",
    "dense_top",
    "agreement",
    "log_terms",
    "tokens_per_word",
    "unknown_share",
]


def feature_vector(s):
    return [
        math.log(max(s["coverage"], 1e-3)),
        s["mean_idf"],
        s["keyword_top_z"],
        s["dense_top_z"],
        s["dense_top"],
        s["agreement"],
        math.log(1 + s["terms"]),
        s["tokens_per_word"],
        s["unknown_share"],
    ]


def logistic(params, features, top=1.0):
    """keyword weight = top * sigmoid(b + theta . x) over the chosen features."""
    b, theta = params[0], params[1:]

    def rule(s):
        x = feature_vector(s)
        z = b + sum(t * x[i] for t, i in zip(theta, features))
        return top / (1 + math.exp(-max(-30.0, min(30.0, z))))

    return rule


READ = "chars_per_token"


def structured(params):
    """The default's weight, moved towards the keyword side as far as the model does not
    read the query: w + (1 - w) * r, r = sigmoid(b + t * tokens_per_word + u *
    unknown_share), and lowered for queries made of stop words: w * (1 - q * stop_share)."""
    b, t = params[:2]
    u = params[2] if len(params) > 2 else 0.0
    q = params[3] if len(params) > 3 else 0.0

    def rule(s):
        # The adaptive weight as the legibility study fitted it: no question or fade term.
        w = adaptive(s, question_power=1, fade=None) * max(0.0, 1 - q * s["stop_share"])
        z = b + t * s[READ] + u * s["unknown_share"]
        r = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
        return w + (1 - w) * r

    return rule


def unread(s, bias=4.0, slope=-3.5):
    """The library's legibility share (`QuerySignals::unread`), 0 where the query's
    tokens are not known."""
    if not s.get("read_known", True):
        return 0.0
    z = bias + slope * s[READ]
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def library(s):
    """The library's default: the adaptive weight, moved towards the keyword side as far
    as the model does not read the query."""
    w = adaptive(s)
    return w + (1 - w) * unread(s)


def factor(name):
    """The library's default with its adaptive weight scaled down as signal `name`
    rises above a threshold: w * max(0, 1 - q * max(0, s[name] - t)); params (q, t).
    A name that starts with "-" scales it down as the signal falls below t instead."""
    sign = -1.0 if name.startswith("-") else 1.0
    name = name.lstrip("-")

    def make(params):
        q, t = params

        def rule(s):
            w = adaptive(s) * min(1.0, max(0.0, 1 - q * max(0.0, sign * (s[name] - t))))
            return w + (1 - w) * unread(s)

        return rule

    return make


def question_power(params):
    """The default with the IDF factor raised to 1 + |p| for a question; params (p,)."""

    def rule(s):
        w = adaptive(s, question_power=1 + abs(params[0]))
        return w + (1 - w) * unread(s)

    return rule


def set_score(rows, rule, norm):
    return sum(at(grid[norm], rule(s)) for s, grid, _, _ in rows) / len(rows)


def objective(data, rule, names, norm):
    """Mean over sets of the rule's gain over the better single retriever, with losses
    below it counted three times: a rule that loses on a set pays for it."""
    total = 0.0
    for name in names:
        rows = data[name]
        fused = set_score(rows, rule, norm)
        best = max(sum(d for *_, d, _ in rows), sum(k for *_, k in rows)) / len(rows)
        gain = fused - best
        total += gain + 2 * min(0.0, gain + 0.005)
    return total / len(names)


def fit(data, names, features, norm, rounds=400, seed=1, make=None, dim=None, start=None):
    """Random search, then coordinate steps, over the rule's parameters."""
    rng = random.Random(seed)
    if make is None:
        dim = 1 + len(features)

        def make(p):
            return logistic(p, features)

    best = list(start) if start else [0.0] * dim
    best_score = objective(data, make(best), names, norm)
    for _ in range(rounds // 2):
        cand = [rng.gauss(0, 1.5) for _ in range(dim)]
        score = objective(data, make(cand), names, norm)
        if score > best_score:
            best, best_score = cand, score
    step = 1.0
    while step > 0.02:
        improved = False
        for i in range(dim):
            for sign in (1, -1):
                cand = list(best)
                cand[i] += sign * step
                score = objective(data, make(cand), names, norm)
                if score > best_score:
                    best, best_score, improved = cand, score, True
        if not improved:
            step /= 2
    return best, best_score


def question_table(data, paths):
    """Each set's dense, keyword, and the default fusion without and with its question
    and fade terms, fused exactly, each against the better single retriever (paired
    mean and standard error)."""

    def without(s):
        w = adaptive(s, question_power=1, fade=None)
        return w + (1 - w) * unread(s)

    print(
        "| set | queries | questions | dense | keyword | without question and fade "
        "| minus better single | **default** | minus better single |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows in data.items():
        n = len(rows)
        dense, keyword = (sum(r[i] for r in rows) / n for i in (2, 3))
        best = [r[2] if dense >= keyword else r[3] for r in rows]
        cells = []
        for rule in (without, library):
            fused = exact(paths[name][0], load_qrels(paths[name][1]), rule, "z")
            diffs = [f - b for f, b in zip(fused, best)]
            mean = sum(diffs) / n
            se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / max(1, n - 1) / n)
            cells.append((sum(fused) / n, mean, se))
        (a, da, sa), (b, db, sb) = cells
        share = sum(r[0]["question"] for r in rows) / n
        print(
            f"| {name} | {n} | {share:.0%} | {dense:.3f} | {keyword:.3f} | {a:.3f} "
            f"| {da:+.3f} ± {sa:.3f} | **{b:.3f}** | {db:+.3f} ± {sb:.3f} |"
        )


def main():
    args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    args.add_argument("--sets", type=Path, help="name, family, dump, qrels per line (tab)")
    args.add_argument("--cache", type=Path, default=Path("bench-out/fusion-replay.json"))
    args.add_argument(
        "--rule",
        default="logistic",
        choices=("logistic", "structured", "factor", "question-power"),
    )
    args.add_argument("--factor", default="stop_share", help="factor: the signal it scales by")
    args.add_argument("--stop", action="store_true", help="structured: the stop-word factor")
    args.add_argument(
        "--hold",
        help="comma-separated families never fitted on: scored with the rule fitted on the rest",
    )
    args.add_argument("--unknown", action="store_true", help="structured: unknown-token share")
    args.add_argument(
        "--exact",
        action="store_true",
        help="report each rule's nDCG from exact fusion, not the grid",
    )
    args.add_argument(
        "--norm",
        default="z",
        choices=("z", "minmax"),
        help="how the learned rule's fusion normalises scores",
    )
    args.add_argument(
        "--features", default="log_coverage,mean_idf", help="comma-separated: " + ",".join(FEATURES)
    )
    args.add_argument(
        "--table",
        action="store_true",
        help="print each set's default with and without its question and fade terms",
    )
    a = args.parse_args()
    os.chdir(Path(__file__).resolve().parents[2])
    sets = KNOWN
    if a.sets:
        sets = [tuple(line.rstrip("\n").split("\t")) for line in open(a.sets) if line.strip()]
    cache = json.loads(a.cache.read_text()) if a.cache.exists() else {}
    data, family, paths = {}, {}, {}
    for name, fam, dump, qrels in sets:
        if not Path(dump).exists():
            print(f"skipped {name}: no {dump}", file=sys.stderr)
            continue
        key = f"{name}:{os.path.getmtime(dump)}:{len(GRID)}"
        if key not in cache:
            try:
                cache[key] = replay(dump, load_qrels(qrels))
            except ValueError as e:  # a dump still being written
                print(f"skipped {name}: {e}", file=sys.stderr)
                continue
            a.cache.write_text(json.dumps(cache))
        if cache[key] and cache[key][0][0].get("version") != SIGNALS:
            # Signals of another version: recomputed from the dump, without fusing.
            qrels_of = load_qrels(qrels)
            lines = [json.loads(line) for line in open(dump)]
            fresh = [signals(q) for q in lines if qrels_of.get(q["qid"])]
            for row, sig in zip(cache[key], fresh):
                row[0] = sig
            a.cache.write_text(json.dumps(cache))
        data[name], family[name] = cache[key], fam
        paths[name] = (dump, qrels)
    features = [FEATURES.index(f) for f in a.features.split(",") if f]
    if a.table:
        question_table(data, paths)
        return

    def row(name, rule, norm):
        rows = data[name]
        n = len(rows)
        dense = sum(r[2] for r in rows) / n
        keyword = sum(r[3] for r in rows) / n
        if a.exact:
            fused = exact(paths[name][0], load_qrels(paths[name][1]), rule, norm)
        else:
            fused = [at(grid[norm], rule(s)) for s, grid, _, _ in rows]
        best_side = 2 if dense >= keyword else 3
        diffs = [f - r[best_side] for f, r in zip(fused, rows)]
        mean = sum(diffs) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / max(1, n - 1) / n)
        return n, dense, keyword, sum(fused) / n, mean, se

    if a.rule == "question-power":
        family_make = question_power
        family_args = {"make": family_make, "dim": 1, "start": [0.0]}
    elif a.rule == "factor":
        family_make = factor(a.factor)
        family_args = {"make": family_make, "dim": 2, "start": [0.0, 0.0]}
    elif a.rule == "structured":
        dim = 4 if a.stop else 3 if a.unknown else 2
        family_args = {"make": structured, "dim": dim, "start": [-6.0, 0.0, 0.0, 0.0][:dim]}
        family_make = structured
    else:
        family_args = {}

        def family_make(p):
            return logistic(p, features)

    hold = set(a.hold.split(",")) if a.hold else set()
    tunable = [n for n in data if family[n] not in hold]
    families = sorted({family[n] for n in tunable})
    held_out = {}
    for fam in families:
        train = [n for n in tunable if family[n] != fam]
        if not train:
            continue
        params, _ = fit(data, train, features, a.norm, **family_args)
        rule = family_make(params)
        for name in data:
            if family[name] == fam:
                held_out[name] = (rule, params)
    params, score = fit(data, tunable, features, a.norm, **family_args)
    print(
        f"fitted on every tunable set: params {[round(p, 3) for p in params]} objective {score:.4f}"
    )
    for name in data:
        if family[name] in hold:
            held_out[name] = (family_make(params), params)
    print("| set | queries | dense | keyword | default | - better | learned, held out | - better |")
    print("|---|---|---|---|---|---|---|---|")
    for name in data:
        n, dense, keyword, default, dd, dse = row(name, library, "z")
        _, _, _, learned, ld, lse = row(name, held_out.get(name, (library,))[0], a.norm)
        print(
            f"| {name} | {n} | {dense:.3f} | {keyword:.3f} | {default:.3f} | "
            f"{dd:+.3f} ± {dse:.3f} | {learned:.3f} | {ld:+.3f} ± {lse:.3f} |"
        )


if __name__ == "__main__":
    main()
