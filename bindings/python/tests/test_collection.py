from __future__ import annotations

import signal
from pathlib import Path

import pytest

import trawl

from conftest import CORPUS


def test_search_returns_hits_with_their_source(corpus: trawl.Collection) -> None:
    hits = corpus.search("who kept the lighthouse lamps burning", k=3)
    assert len(hits) == 3
    top = hits[0]
    assert top.doc_id.endswith("lighthouse-keepers.md")
    assert top.source is not None and Path(top.source).name == "lighthouse-keepers.md"
    assert top.format == "markdown"
    assert top.location.line is not None and top.location.line >= 1
    assert top.heading_path and "Lighthouse" in top.heading_path[0]
    assert hits[0].score >= hits[1].score >= hits[2].score
    as_dict = top.to_dict()
    assert as_dict["text"] == top.text
    assert as_dict["location"] == top.location.to_dict()


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_every_mode_finds_the_obvious_document(corpus: trawl.Collection, mode: str) -> None:
    hits = corpus.search("sourdough starter flour water", k=5, mode=mode)  # type: ignore[arg-type]
    assert hits
    assert hits[0].doc_id.endswith("sourdough-bread.md")


@pytest.mark.parametrize("fusion", ["adaptive", "rrf:60", "wrrf:0.3", "z:0.5", "minmax:0.2"])
def test_fusion_methods_are_selectable(corpus: trawl.Collection, fusion: str) -> None:
    hits = corpus.search("Rust borrow checker lifetimes", k=3, fusion=fusion)
    assert hits[0].doc_id.endswith("rust-ownership.md")


def test_metadata_round_trips(tmp_path: Path, model_dir: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    meta = {"year": 2021, "score": 0.5, "draft": False, "tags": ["a", "b"], "team": "x"}
    assert col.add_text("note-1", "Tide pools hold anemones and sea stars.", meta)
    col.commit()
    (hit,) = col.search("anemones", k=1)
    assert hit.metadata == meta
    assert hit.doc_id == "note-1"


def test_unchanged_text_is_not_re_added(tmp_path: Path, model_dir: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    assert col.add_text("a", "Solar panels convert light to electricity.") is True
    col.commit()
    assert col.add_text("a", "Solar panels convert light to electricity.") is False
    assert col.add_text("a", "Wind turbines convert wind to electricity.") is True


def test_delete_removes_the_document(corpus: trawl.Collection) -> None:
    doc = next(h.doc_id for h in corpus.search("solar panels", k=1))
    before = corpus.stats()
    corpus.delete(doc)
    corpus.commit()
    assert all(h.doc_id != doc for h in corpus.search("solar panels photovoltaic", k=20))
    assert corpus.stats().documents == before.documents - 1


def test_reopened_collection_uses_its_recorded_model(corpus: trawl.Collection) -> None:
    assert corpus.model == "all-MiniLM-L6-v2"
    assert corpus.dimension == 384
    stats = corpus.stats()
    assert stats.documents == 6
    assert stats.chunks > 6
    assert stats.to_dict()["chunks"] == stats.chunks
    # Every live chunk is in the HNSW graph or still waiting for it (searched exactly).
    assert stats.graph_points + stats.unindexed_points >= stats.chunks
    assert stats.chunks_without_terms == 0
    corpus.search("? !", mode="keyword")
    assert corpus.stats().queries_without_terms == stats.queries_without_terms + 1


def test_context_manager_commits_or_rolls_back(tmp_path: Path, model_dir: Path) -> None:
    path = tmp_path / "idx"
    with trawl.Collection(path, model=model_dir) as col:
        col.add_text("kept", "Printing presses spread books across Europe.")
    with pytest.raises(RuntimeError):
        with trawl.Collection(path) as col:
            col.add_text("dropped", "Rock pools are rich in life.")
            raise RuntimeError("boom")
    col = trawl.Collection(path)
    assert [h.doc_id for h in col.search("printing presses books", k=5)] == ["kept"]


def test_ingest_reports_broken_and_unsupported_files(tmp_path: Path, model_dir: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Kelp\n\nKelp forests grow fast in cold water.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3 truncated")
    (docs / "binary.bin").write_bytes(bytes(range(256)))
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    report = col.add(docs)
    assert report.files == 3
    assert report.added == 1
    bad = {Path(f.path).name: f for f in report.failures}
    bad.update({Path(p).name: None for p in report.unsupported})  # type: ignore[misc]
    assert set(bad) == {"broken.pdf", "binary.bin"}
    col.commit()
    assert col.search("kelp forests", k=1)[0].doc_id.endswith("good.md")


def test_progress_callback_and_tqdm_hook(tmp_path: Path, model_dir: Path) -> None:
    calls: list[tuple[int, int, int]] = []
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    col.add(CORPUS, progress=lambda done, total, chunks: calls.append((done, total, chunks)))
    assert calls and calls[-1][0] == calls[-1][1] == 6

    class Bar:
        total: float | None = None
        n = 0.0

        def update(self, n: float = 1) -> None:
            self.n += n

    bar = Bar()
    trawl.Collection(tmp_path / "idx2", model=model_dir).add(CORPUS, progress=bar)
    assert bar.total == 6 and bar.n == 6


def test_an_exception_in_progress_stops_and_rolls_back(tmp_path: Path, model_dir: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    col.add_text("before", "Committed before the failed ingest.")
    col.commit()

    def interrupt(done: int, total: int, chunks: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        col.add(CORPUS, progress=interrupt)
    col.commit()
    assert col.stats().documents == 1
    assert trawl.Collection(tmp_path / "idx").stats().documents == 1


def test_embed_returns_normalised_float32_rows(corpus: trawl.Collection) -> None:
    import numpy as np

    vectors = corpus.embed(["a lighthouse on a cliff", "bread dough rising"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    single = corpus.embed("a lighthouse on a cliff")
    assert np.allclose(single[0], vectors[0], atol=1e-5)


def test_context_packs_cited_passages_within_the_budget(corpus: trawl.Collection) -> None:
    ctx = corpus.context("how did lighthouse keepers keep the lamps lit", budget=300)
    assert 0 < ctx.tokens <= 300
    assert ctx.citations and ctx.citations[0].number == 1
    first = ctx.citations[0]
    assert first.doc_id.endswith("lighthouse-keepers.md")
    assert str(ctx).startswith(f"[1] {first.label()}\n")
    assert "lighthouse-keepers.md" in first.label()
    for c in ctx.citations:
        assert f"[{c.number}] " in ctx.text
    assert ctx.to_dict()["citations"][0]["doc_id"] == first.doc_id
    bigger = corpus.context("how did lighthouse keepers keep the lamps lit", budget=1500)
    assert ctx.tokens < bigger.tokens <= 1500


def test_expand_parent_returns_each_section_once(corpus: trawl.Collection) -> None:
    chunks = corpus.search("lighthouse keeper lamp", k=10, mode="keyword")
    sections = corpus.search("lighthouse keeper lamp", k=10, mode="keyword", expand="parent")
    keys = [(h.doc_id, tuple(h.heading_path)) for h in sections]
    assert len(keys) == len(set(keys))
    assert len(sections) <= len(chunks)
    top_chunk = chunks[0]
    parent = next(h for h in sections if h.doc_id == top_chunk.doc_id)
    assert top_chunk.text.split("\n\n")[-1][:40] in parent.text
    with pytest.raises(trawl.InvalidArgumentError):
        corpus.search("x", expand="child")  # type: ignore[arg-type]


def test_ctrl_c_stops_a_long_ingest_early_and_keeps_the_last_commit(
    tmp_path: Path, model_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(200):
        (docs / f"note-{i:03}.txt").write_text(f"Note {i}: kelp, crabs and tide pools.\n")
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    col.add_text("before", "Committed before the interrupted ingest.")
    col.commit()
    calls: list[int] = []

    def interrupt(done: int, total: int, chunks: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does

    # A process started in the background (`cmd &` in a shell without job control)
    # inherits SIGINT ignored, and Python then leaves it ignored: install the handler
    # an interactive Python has, so Ctrl-C is what this test sends wherever it runs.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            col.add(docs, progress=interrupt)
    finally:
        signal.signal(signal.SIGINT, previous)
    # It stopped at the next check rather than running through all 200 files.
    assert calls[-1] < 200
    assert col.stats().documents == 1
    col.add_text("after", "The collection still works after an interrupted ingest.")
    col.commit()
    assert col.stats().documents == 2


FIXTURES = Path(__file__).resolve().parents[3] / "crates" / "ingest" / "tests" / "fixtures"


def test_real_documents_carry_pages_slides_and_sheets(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("crazyones.pdf", "test.pptx", "text_bar.xlsx", "test.docx"):
        (docs / name).write_bytes((FIXTURES / name).read_bytes())
    col = trawl.Collection(tmp_path / "idx", keyword_only=True)
    report = col.add(docs)
    assert report.files == 4 and report.indexed == 4, report
    col.commit()
    formats = {d["source"].rsplit(".", 1)[-1] for d in col.documents()}
    assert formats == {"pdf", "pptx", "xlsx", "docx"}

    def top(query: str, fmt: str) -> trawl.Hit:
        hits = col.search(query, k=1, mode="keyword", filter={"format": fmt})
        assert hits, (query, fmt)
        return hits[0]

    assert top("crazy ones", "pdf").location.page == 1
    assert top("presentation title", "pptx").location.slide == 1
    sheet = top("bar", "xlsx").location
    assert sheet.sheet is not None and sheet.rows is not None
    assert "python-docx" in top("python-docx was here", "docx").text


def test_the_cpu_path_and_precision_are_visible(tmp_path: Path, model_dir: Path) -> None:
    info = trawl.cpu_info()
    assert info["path"] in info["paths"]
    assert "portable" in info["paths"]
    assert info["cpu"]
    col = trawl.Collection(tmp_path / "idx", model=model_dir, precision="int8")
    assert col.precision == "int8"
    assert col.cpu_path == info["path"]
    col.add_text("a", "Solar panels convert light to electricity.")
    col.commit()
    reopened = trawl.Collection(tmp_path / "idx")
    assert reopened.precision == "int8", "the precision is recorded with the collection"
    assert reopened.search("photovoltaic electricity", k=1, mode="dense")[0].doc_id == "a"
    keyword = trawl.Collection(tmp_path / "kw", keyword_only=True)
    assert keyword.precision is None and keyword.cpu_path is None


def test_a_bad_precision_is_an_invalid_argument(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(trawl.InvalidArgumentError, match="int8"):
        trawl.Collection(tmp_path / "idx", model=model_dir, precision="int4")


def test_the_portable_path_warns(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAWL_CPU_PATH", "portable")
    with pytest.warns(RuntimeWarning, match="portable kernels"):
        col = trawl.Collection(tmp_path / "idx", model=model_dir, precision="f32")

    assert col.cpu_path == "portable"
    col.add_text("a", "Solar panels convert light to electricity.")
    col.commit()
    assert col.search("photovoltaic electricity", k=1, mode="dense")[0].doc_id == "a"


@pytest.mark.parametrize("k", [10**9, 2**63, 2**64 - 1])
def test_a_huge_k_returns_what_there_is(tmp_path: Path, model_dir: Path, k: int) -> None:
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    col.add_text("a", "The red kettle is in the left cupboard.")
    col.add_text("b", "The sourdough starter needs flour.")
    col.commit()
    for mode in ("dense", "keyword", "hybrid"):
        hits = col.search("kettle", k=k, mode=mode, candidates=k)  # type: ignore[arg-type]
        assert 1 <= len(hits) <= 2


def test_a_negative_k_is_a_typed_error_naming_it(tmp_path: Path, model_dir: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", model=model_dir)
    with pytest.raises(OverflowError, match="k"):
        col.search("kettle", k=-1)


def test_leaving_the_block_gives_up_the_writer_lock(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    with trawl.Collection(path, keyword_only=True) as first:
        first.add_text("a", "tide pools hold anemones")
    # `first` is still alive, but no longer holds the writer lock.
    second = trawl.Collection(path)
    second.add_text("b", "sea stars eat mussels")
    second.commit()
    second.close()
    assert {h.doc_id for h in first.search("anemones mussels", k=5, mode="keyword")} == {"a"}
    first.reload()
    assert {h.doc_id for h in first.search("anemones mussels", k=5, mode="keyword")} == {"a", "b"}
    # close() discards what was not committed; the handle can write again after.
    first.add_text("c", "kelp forests")
    first.close()
    first.reload()
    assert first.search("kelp", k=5, mode="keyword") == []
    first.add_text("c", "kelp forests")
    first.commit()
    assert [h.doc_id for h in first.search("kelp", k=5, mode="keyword")] == ["c"]


def test_extract_shows_what_a_file_reads_as(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[3] / "crates" / "ingest" / "tests" / "fixtures"
    docs = trawl.extract(fixtures / "ol.odp")
    assert [d["format"] for d in docs] == ["odp"]
    first = docs[0]["sections"][0]
    assert (first["text"], first["location"]["slide"]) == ("OL", 1)
    assert first["kind"] == {"kind": "heading", "level": 1}
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3 truncated")
    with pytest.raises(trawl.ParseError):
        trawl.extract(tmp_path / "broken.pdf")
    with pytest.raises(FileNotFoundError):
        trawl.extract(tmp_path / "missing.txt")


def test_epub_chapters_and_zip_members_are_hit_locations(tmp_path: Path, model_dir: Path) -> None:
    import zipfile

    fixtures = Path(__file__).resolve().parents[3] / "crates" / "ingest" / "tests" / "fixtures"
    docs = tmp_path / "docs"
    docs.mkdir()
    with zipfile.ZipFile(docs / "bundle.zip", "w") as z:
        z.write(fixtures / "twolevellist.odt", "lists/twolevellist.odt")
        z.writestr("notes.md", "# Notes\n\nThe gasket needs replacing every spring.")
    (docs / "manual.epub").write_bytes((fixtures / "live-manual.en.epub").read_bytes())
    with trawl.Collection(tmp_path / "idx", model=model_dir) as col:
        report = col.add(docs)
        assert report.failures == []
    hit = col.search("gasket replacing", k=1, mode="keyword")[0]
    assert hit.location.member == "notes.md" and hit.doc_id.endswith("bundle.zip/notes.md")
    hit = col.search("Subitem B.1", k=1, mode="keyword")[0]
    assert hit.location.member == "lists/twolevellist.odt"
    hit = col.search("single access point to all documentation", k=1, mode="keyword")[0]
    # The live manual repeats this text in several chapters: any of them is right.
    chapter = hit.location.chapter
    assert chapter is not None and hit.doc_id.endswith("manual.epub")
    context = col.context("single access point to all documentation")
    assert any(f"chapter {c}" in context.citations[0].label() for c in range(1, 191))
