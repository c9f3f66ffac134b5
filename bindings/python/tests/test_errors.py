from __future__ import annotations

import json
import logging
import pickle
import traceback
from pathlib import Path

import pytest

import trawl


def test_exception_hierarchy() -> None:
    for cls in (
        trawl.ParseError,
        trawl.ModelError,
        trawl.StorageError,
        trawl.DimensionError,
        trawl.InvalidArgumentError,
    ):
        assert issubclass(cls, trawl.TrawlError)
    for cls in (trawl.CorruptIndexError, trawl.LockedError, trawl.IncompatibleIndexError):
        assert issubclass(cls, trawl.StorageError)
    assert issubclass(trawl.UnsupportedFormatError, trawl.ParseError)
    assert not issubclass(trawl.TrawlError, (OSError, LookupError))


ERRORS = [
    "TrawlError",
    "ParseError",
    "UnsupportedFormatError",
    "ModelError",
    "StorageError",
    "CorruptIndexError",
    "LockedError",
    "IncompatibleIndexError",
    "DimensionError",
    "InvalidArgumentError",
    "FilterError",
]


@pytest.mark.parametrize("name", ERRORS)
def test_exceptions_are_named_for_the_package(name: str) -> None:
    cls = getattr(trawl, name)
    assert cls.__module__ == "trawl"
    assert cls.__qualname__ == name
    assert repr(cls) == f"<class 'trawl.{name}'>"
    assert pickle.loads(pickle.dumps(cls("message"))).args == ("message",)


def test_tracebacks_show_trawl_model_error(tmp_path: Path) -> None:
    with pytest.raises(trawl.ModelError) as raised:
        trawl.Collection(tmp_path / "idx", model=tmp_path / "no-such-model")
    error = raised.value
    assert type(error).__module__ == "trawl"
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    assert lines[-1].startswith("trawl.ModelError: "), lines[-1]
    assert "_trawl.ModelError" not in "".join(lines)


def test_missing_model_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(trawl.ModelError, match="no-such-model"):
        trawl.Collection(tmp_path / "idx", model=missing)


def test_second_writer_is_locked_out_at_once(tmp_path: Path) -> None:
    first = trawl.Collection(tmp_path / "idx", keyword_only=True)
    first.add_text("a", "the first writer holds the lock")
    with pytest.raises(trawl.LockedError, match="idx"):
        second = trawl.Collection(tmp_path / "idx", keyword_only=True)
        second.add_text("b", "a second writer must not get in")
    first.commit()


def test_incompatible_index_version(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    trawl.Collection(path, keyword_only=True).commit()
    manifest = path / "trawl.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 999
    manifest.write_text(json.dumps(data))
    with pytest.raises(trawl.IncompatibleIndexError):
        trawl.Collection(path)


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "sideways"}, {"fusion": "blend:2"}],
)
def test_bad_search_options_are_invalid_argument(tmp_path: Path, kwargs: dict[str, str]) -> None:
    col = trawl.Collection(tmp_path / "idx", keyword_only=True)
    with pytest.raises(trawl.InvalidArgumentError):
        col.search("x", **kwargs)  # type: ignore[arg-type]


def test_bad_reranker_and_language(tmp_path: Path) -> None:
    with pytest.raises(trawl.InvalidArgumentError, match="reranker"):
        trawl.Collection(tmp_path / "a", keyword_only=True, reranker="magic")
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.Collection(tmp_path / "b", keyword_only=True, language="klingon")


def test_unstorable_metadata_is_a_type_error(tmp_path: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", keyword_only=True)
    with pytest.raises(TypeError):
        col.add_text("d", "text", {"bad": object()})


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", keyword_only=True)
    report = col.add(tmp_path / "nope.txt")
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert "nope.txt" in str(failure.path)
    assert failure.kind == "FileNotFoundError"


def test_bad_arguments_are_value_errors(tmp_path: Path) -> None:
    assert issubclass(trawl.InvalidArgumentError, ValueError)
    assert issubclass(trawl.FilterError, ValueError)
    assert issubclass(trawl.DimensionError, ValueError)
    assert issubclass(trawl.InvalidArgumentError, trawl.TrawlError)
    col = trawl.Collection(tmp_path / "idx", keyword_only=True)
    with pytest.raises(ValueError, match="fusion"):
        col.search("x", fusion="nonsense")


def test_io_errors_carry_errno_and_filename(tmp_path: Path) -> None:
    import errno

    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OSError) as raised:
        trawl.Collection(blocker / "idx", keyword_only=True)
    assert raised.value.errno in (errno.ENOTDIR, errno.EEXIST), raised.value
    assert raised.value.filename and "file.txt" in raised.value.filename


def test_ingest_stages_are_logged_to_python_logging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = Path(__file__).resolve().parents[3] / "examples" / "corpus"
    with caplog.at_level(logging.DEBUG, logger="trawl"):
        col = trawl.Collection(tmp_path / "idx", keyword_only=True)
        col.add(corpus)
        col.commit()
    done = [r for r in caplog.records if r.getMessage().startswith("ingest done")]
    assert len(done) == 1, [r.getMessage() for r in caplog.records]
    assert done[0].name == "trawl.collection.ingest"
    assert done[0].levelno == logging.INFO
    assert "files=6" in done[0].getMessage()
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    # Nothing is printed without logging configured: the package's NullHandler.
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("trawl").handlers)
