"""Reading the defaults tables of the docs pages (shared by the docs tests)."""

from __future__ import annotations

import re
from typing import Any

#: Short names a table may print for a default value.
_SHOWN_AS = {"CE": "cross_entropy"}


def assert_shown_default(name: str, shown: str, expected: Any) -> None:
    """The table's cell ``shown`` (backticks allowed) names the constructor default ``expected`` of ``name``."""
    shown = shown.strip().strip("`")
    if shown.startswith("("):
        assert tuple(int(v) for v in re.findall(r"\d+", shown)) == tuple(expected), name
    elif shown == "None":
        assert expected is None, name
    elif shown in ("True", "False"):
        assert expected is (shown == "True"), name
    elif shown in _SHOWN_AS:
        assert expected == _SHOWN_AS[shown], name
    elif shown.startswith("'"):
        assert expected == shown.strip("'"), name
    else:
        assert float(shown) == expected, name
