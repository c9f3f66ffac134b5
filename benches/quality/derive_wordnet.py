#!/usr/bin/env python3
"""Derives a BEIR-format set from WordNet: a definition finds the word it defines.

    python3 benches/quality/derive_wordnet.py WORDNET_DIR OUT_DIR [--docs N] [--queries N]

WORDNET_DIR holds WordNet 3.0's `data.noun`, `data.verb`, `data.adj` and `data.adv`,
for example `usr/share/wordnet` from Debian's wordnet-base package (`apt-get download
wordnet-base && dpkg -x`).

A reverse dictionary, the entity-description kind of task: each document is one word
sense (a synset) as a thesaurus would list it, without its definition: its words as
title ("dog, domestic dog, Canis familiaris"), and as text its part of speech and
lexicographer category, what it is a kind of, a few of its kinds, what it is part or
member of, and its example sentences. Each query is a synset's definition ("a member
of the genus Canis (probably descended from the common wolf) that has been
domesticated by man since prehistoric times"), and its one relevant document is that
synset. DOCS synsets (default 20,000) are drawn with a fixed seed from all four parts
of speech; QUERIES of them (default 600) whose definition has at least four words and
is not shared become queries. Nothing here was tuned on. Standard library only.
"""

import argparse
import random
from collections import Counter
from pathlib import Path

from derive_python_faq import write_faq_set  # same directory: run as a script

POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
# The category names of WordNet's lexicographer files (lexnames(5)), by number.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food "
    "noun.group noun.location noun.motive noun.object noun.person noun.phenomenon "
    "noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative "
    "verb.weather adj.ppl"
).split()
RELATIONS = {
    "@": "A kind of",
    "@i": "An instance of",
    "~": "Kinds",
    "~i": "Instances",
    "#p": "Part of",
    "#m": "Member of",
    "%p": "Parts",
    "&": "Similar to",
}


def synsets(folder):
    """Yields (key, words, category, pointers, definition, examples) for every synset
    in WORDNET_DIR's data files; pointers are (symbol, key) pairs."""
    for name, pos in POS.items():
        with open(folder / f"data.{name}", encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                fields, _, gloss = line.partition(" | ")
                tokens = fields.split()
                offset, lexfile = tokens[0], int(tokens[1])
                n_words = int(tokens[3], 16)
                words = [tokens[4 + 2 * i].split("(")[0].replace("_", " ") for i in range(n_words)]
                at = 4 + 2 * n_words
                n_pointers = int(tokens[at])
                pointers = []
                for i in range(n_pointers):
                    symbol, target, target_pos = tokens[at + 1 + 4 * i : at + 4 + 4 * i]
                    pointers.append((symbol, (target_pos.replace("s", "a"), target)))
                parts = [p.strip() for p in gloss.strip().split(";")]
                definition = "; ".join(p for p in parts if p and not p.startswith('"'))
                examples = [p.strip('"') for p in parts if p.startswith('"')]
                key = (pos, offset)
                yield key, words, LEXNAMES[lexfile], pointers, definition, examples


def entry(words, category, pointers, examples, words_of):
    """A synset's thesaurus entry, without its definition."""
    lines = [f"{category.split('.')[0]}, {category.split('.')[1]}."]
    for symbol, label in RELATIONS.items():
        targets = [", ".join(words_of[k][:2]) for s, k in pointers if s == symbol]
        if targets:
            lines.append(f"{label}: {'; '.join(targets[:5])}.")
    if examples:
        lines.append("Examples: " + " ".join(f'"{e}".' for e in examples))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wordnet", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=600)
    args = parser.parse_args()
    every = list(synsets(args.wordnet))
    words_of = {key: words for key, words, *_ in every}
    chosen = random.Random(7).sample(every, min(args.docs, len(every)))
    shared = Counter(definition.lower() for *_, definition, _ in every)
    askable = [s for s in chosen if len(s[4].split()) >= 4 and shared[s[4].lower()] == 1]
    asked = random.Random(11).sample(askable, min(args.queries, len(askable)))
    ids = {key: f"{key[0]}{key[1]}" for key, *_ in chosen}
    corpus = [
        {
            "_id": ids[key],
            "title": ", ".join(words),
            "text": entry(words, category, pointers, examples, words_of),
        }
        for key, words, category, pointers, _, examples in chosen
    ]
    queries = [{"_id": ids[s[0]], "text": s[4]} for s in asked]
    write_faq_set(args.out, corpus, queries)


if __name__ == "__main__":
    main()
