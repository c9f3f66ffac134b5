from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import trawl

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / "examples" / "corpus"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory; models/fetch.sh puts it there. Missing weights
    fail the run rather than skip it: the README's test command fetches them."""
    path = Path(os.environ.get("TRAWL_MODEL") or REPO / "models" / "all-MiniLM-L6-v2")
    assert (path / "model.safetensors").is_file(), f"no model at {path}: run models/fetch.sh"
    return path


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """A committed collection of the example corpus, built once."""
    path = tmp_path_factory.mktemp("corpus") / "index"
    with trawl.Collection(path, model=model_dir) as col:
        report = col.add(CORPUS)
        assert report.failures == []
    return path


@pytest.fixture
def corpus(corpus_index: Path, tmp_path: Path) -> trawl.Collection:
    """A private, writable copy of the example-corpus collection."""
    path = tmp_path / "index"
    shutil.copytree(corpus_index, path)
    return trawl.Collection(path)
