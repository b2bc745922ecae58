"""Typed values for a study's settings, from TOML values or `--set key=value` text.

The dataclass field's type decides how a value is read, so a config file and the command line
accept the same spellings: lists as TOML arrays or comma-separated text, layer ranges as "0-6"
(inclusive) or [0, 6], booleans as true/false.
"""

from __future__ import annotations

import math
from typing import Any, get_args, get_origin

from kgprune.errors import Errors, ExperimentError

LayerRange = tuple[int, int]
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class _Invalid(Exception):
    """A value does not fit its type; `coerce` turns it into a K601 naming the setting."""


def describe(hint: Any) -> str:
    """The expected shape of a value, as the error message shows it."""
    if hint == LayerRange:
        return "a layer range like 0-6 (first and last layer)"
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        plural = ("layer ranges like 0-6" if item == LayerRange
                  else {int: "integers", float: "numbers", str: "names"}[item])
        return f"a list of {plural}, comma-separated"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[hint]


def coerce(value: object, hint: Any, *, key: str, source: str) -> Any:
    """`value` as the type `hint`, or a K601 that names the setting and where it came from."""
    try:
        return _coerce(value, hint)
    except _Invalid:
        raise ExperimentError(Errors.K601.format(key=key, source=source, expected=describe(hint),
                                                 value=value)) from None


def _coerce(value: object, hint: Any) -> Any:
    if hint == LayerRange:
        return _layer_range(value)
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
            return tuple(_coerce(p, item) for p in parts if p)
        if isinstance(value, list | tuple):
            return tuple(_coerce(v, item) for v in value)
        raise _Invalid
    if hint is bool:
        return _bool(value)
    if hint is int:
        return _int(value)
    if hint is float:
        return _float(value)
    if isinstance(value, str):
        return value
    raise _Invalid


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Invalid from None
    raise _Invalid


def _float(value: object) -> float:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _Invalid from None
    else:
        raise _Invalid
    if not math.isfinite(number):
        raise _Invalid
    return number


def _layer_range(value: object) -> LayerRange:
    if isinstance(value, str):
        low, sep, high = value.strip().partition("-")
        bounds = (_int(low), _int(high) if sep else _int(low))
    elif isinstance(value, list | tuple) and len(value) == 2:
        bounds = (_int(value[0]), _int(value[1]))
    else:
        raise _Invalid
    if not 0 <= bounds[0] <= bounds[1]:
        raise _Invalid
    return bounds


def format_layer_range(layers: LayerRange | None) -> str:
    """"0-6" for layers 0 to 6; "" for all layers."""
    return "" if layers is None else f"{layers[0]}-{layers[1]}"
