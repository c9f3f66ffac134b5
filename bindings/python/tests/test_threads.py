"""Heavy calls release the GIL: Python threads search while another ingests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import trawl


def test_searches_run_while_another_thread_ingests(
    corpus: trawl.Collection, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(40):
        (extra / f"note-{i}.txt").write_text(f"Field note {i}: the tide pool held {i} crabs.\n")
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            corpus.add(extra)
            corpus.commit()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    writer = threading.Thread(target=ingest)
    writer.start()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda q: corpus.search(q, k=3), ["lighthouse lens"] * 20))
    writer.join()
    assert not errors
    assert all(r and r[0].doc_id.endswith("lighthouse-keepers.md") for r in results)
    assert corpus.stats().documents == 6 + 40


def test_embedding_releases_the_gil(corpus: trawl.Collection) -> None:
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        texts = [f"sentence number {i} about tides and lighthouses" for i in range(300)]
        before = counter[0]
        corpus.embed(texts)
        during = counter[0] - before
    finally:
        stop.set()
        spinner.join()
    # With the GIL held for the whole call the spinner could not run at all.
    assert during > 1000
