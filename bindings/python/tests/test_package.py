"""The package's shape: typed, stubs that match the native module."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import trawl

PACKAGE = Path(trawl.__file__).parent


def test_version_and_exports() -> None:
    assert trawl.__version__
    for name in trawl.__all__:
        assert hasattr(trawl, name), name
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_trawl.pyi").is_file()


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")
def test_stub_matches_the_native_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "trawl._trawl"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")
def test_package_type_checks_strictly() -> None:
    files = [
        str(PACKAGE / name)
        for name in ("__init__.py", "_metadata.py", "_filters.py", "_model.py", "ray.py")
    ]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
