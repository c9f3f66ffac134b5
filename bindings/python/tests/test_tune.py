"""trawl.tune and Collection.feedback: a tiny model learns a toy task, an interrupted
run resumes, and feedback stays within its tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

import trawl

TINY = Path(__file__).resolve().parents[3] / "crates/core/tests/fixtures/tiny-multilingual-bert"

TOY = [
    ("red apple", "the apple on the table is red and sweet"),
    ("blue sea", "the sea is blue and the waves are cold"),
    ("green grass", "grass in the garden grows green in spring"),
    ("black cat", "a black cat sleeps on the warm roof"),
    ("white snow", "snow falls white on the mountain in winter"),
    ("yellow sun", "the sun is yellow at noon in summer"),
]


def test_tune_writes_a_model_the_collection_loads(tmp_path: Path) -> None:
    steps: list[int] = []
    report = trawl.tune(
        TINY,
        tmp_path / "tuned",
        TOY,
        epochs=20,
        batch_size=6,
        learning_rate=3e-3,
        progress=lambda step, total, loss: steps.append(step),
    )
    assert report["complete"]
    assert report["steps"] == 20
    assert steps == list(range(1, 21))
    assert report["epoch_losses"][-1] < 0.5 * report["epoch_losses"][0]
    with trawl.Collection(tmp_path / "index", model=tmp_path / "tuned") as col:
        for i, (_, passage) in enumerate(TOY):
            col.add_text(f"d{i}", passage)
        col.commit()
        hits = col.search("black cat", k=1, mode="dense")
        assert hits[0].doc_id == "d3"


def test_reembed_switches_a_collection_to_the_tuned_model(tmp_path: Path) -> None:
    with trawl.Collection(tmp_path / "index", model=TINY) as col:
        for i, (_, passage) in enumerate(TOY):
            col.add_text(f"d{i}", passage)
    trawl.tune(TINY, tmp_path / "tuned", TOY, epochs=20, batch_size=6, learning_rate=3e-3)
    report = trawl.reembed(tmp_path / "index", tmp_path / "tuned")
    assert report["documents"] == len(TOY)
    with trawl.Collection(tmp_path / "index") as col:
        assert col.search("black cat", k=1, mode="dense")[0].doc_id == "d3"


def test_an_exception_from_progress_stops_the_run_and_it_resumes(tmp_path: Path) -> None:
    def stop_at_two(step: int, total: int, loss: float) -> None:
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trawl.tune(TINY, tmp_path / "t", TOY, epochs=4, batch_size=3, progress=stop_at_two)
    assert (tmp_path / "t" / "checkpoints" / "latest.json").is_file()
    report = trawl.tune(TINY, tmp_path / "t", TOY, epochs=4, batch_size=3)
    assert report["complete"]
    assert report["resumed_at"] == 2


def test_bad_pairs_and_options_raise_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.tune(TINY, tmp_path / "a", [("only a query",)])  # type: ignore[list-item]
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.tune(TINY, tmp_path / "b", [])
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.tune(TINY, tmp_path / "c", TOY, batch_size=1)
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.tune(TINY, tmp_path / "d", TOY, label_free=["nonsense"])


def test_feedback_is_recorded_per_tenant_and_used_for_training(tmp_path: Path) -> None:
    with trawl.Collection(tmp_path / "index", keyword_only=True) as col:
        col.add_text("kettle", "The kettle is in the left cupboard above the sink.", tenant="a")
        col.add_text("printer", "The printer on floor two jams with thick paper.", tenant="b")
        col.commit()
        col.feedback("where is the kettle", "kettle", tenant="a")
        col.feedback("paper jam", "printer", relevant=True, tenant="b")
        with pytest.raises(trawl.InvalidArgumentError):
            col.feedback("paper jam", "printer", tenant="a")
        records = col.feedback_records("a")
        assert [(r["query"], r["doc_id"], r["relevant"]) for r in records] == [
            ("where is the kettle", "kettle", True)
        ]
        assert all(r["tenant"] == "b" for r in col.feedback_records("b"))
        report = trawl.tune(
            TINY,
            tmp_path / "tuned",
            TOY,
            collection=col,
            feedback=True,
            tenant="a",
            epochs=1,
            batch_size=4,
        )
        assert report["pairs"] == len(TOY) + 1
