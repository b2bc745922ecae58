"""JSON text that every JSON parser reads: non-finite floats become null, never `NaN`/`Infinity`.

Python's `json` writes NaN and Infinity by default, which strict parsers (browsers, jq, Go,
`JSON.parse`) reject; a missing number (a loss with no steps, a stored weight of 1e400) is null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON text for `value`: non-ASCII kept as is, unless a string holds a lone surrogate
    (which UTF-8 cannot encode); then every non-ASCII character is written as a \\u escape."""
    clean = finite(value)
    text = json.dumps(clean, ensure_ascii=False, allow_nan=False, indent=indent,
                      sort_keys=sort_keys)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(clean, allow_nan=False, indent=indent, sort_keys=sort_keys)
    return text
