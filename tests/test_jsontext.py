"""Strict JSON text: what every JSON parser reads, whatever numbers and strings it is given."""

from __future__ import annotations

import json

from kgprune.jsontext import dumps


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    data = {"loss": float("nan"), "rows": [(1.5, float("inf")), {"w": -float("inf")}], "n": 3}
    assert _strict(dumps(data)) == {"loss": None, "rows": [[1.5, None], {"w": None}], "n": 3}


def test_non_ascii_is_kept_and_a_lone_surrogate_is_escaped() -> None:
    assert dumps({"name": "café"}) == '{"name": "café"}'
    text = dumps({"name": "café \ud800"})
    text.encode("utf-8")
    assert json.loads(text) == {"name": "café \ud800"}
