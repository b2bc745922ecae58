"""Request bodies of the retrieval service: every field checked, a 400 naming the one at fault."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kgprune.errors import (
    ConfigError,
    Errors,
    KgpruneError,
)
from kgprune.kg.coverage import CoverageView, Strategy
from kgprune.kg.records import SOURCE_CONCEPTNET, SOURCE_VISUAL_GENOME
from kgprune.linking.image import (
    DEFAULT_MIN_SCORE,
    detection_objects,
    scene_objects,
)
from kgprune.retrieval.facts import RetrievalConfig, RetrievalQuery

MAX_BATCH = 256
MAX_QUESTION_CHARS = 2_000
MAX_NAME_CHARS = 200
MAX_TOP_K = 200
MAX_SEED = 2**31 - 1
SOURCES = ("", SOURCE_CONCEPTNET, SOURCE_VISUAL_GENOME)
ENDPOINTS = {"/health": "GET", "/link": "POST", "/facts": "POST"}

_DEFAULT_CONFIG = RetrievalConfig()
_REQUIRED = object()


class RequestError(KgpruneError):
    """A request the service refuses, with its HTTP status and the field at fault."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.headers = dict(headers or {})


def _json_type(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", str: "a string", list: "an array",
             dict: "an object", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Fields:
    """Typed, range-checked reads from one JSON object of a request; errors name the field."""

    def __init__(self, data: Any, where: str = "") -> None:
        self._data = data
        self._where = where
        if not isinstance(data, dict):
            message = Errors.K201.format(field=where or "(body)", expected="an object",
                                         got=_json_type(data))
            raise RequestError(400, message, field=where or None)

    def name(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def has(self, key: str) -> bool:
        return key in self._data

    def _error(self, key: str, template: str, **values: Any) -> RequestError:
        name = self.name(key)
        return RequestError(400, template.format(field=name, **values), field=name)

    def only(self, known: Sequence[str]) -> None:
        for key in self._data:
            if key not in known:
                raise self._error(key[:100], Errors.K203, known=", ".join(known))

    def exclusive(self, keys: Sequence[str]) -> None:
        present = [k for k in keys if k in self._data]
        if len(present) > 1:
            names = ", ".join(f"'{self.name(k)}'" for k in keys)
            raise RequestError(400, Errors.K205.format(fields=names), field=self.name(present[1]))

    def require_any(self, keys: Sequence[str]) -> None:
        if not any(k in self._data for k in keys):
            raise RequestError(400, Errors.K206.format(fields=", ".join(f"'{k}'" for k in keys)))

    def _get(self, key: str, expected: str, valid: Callable[[Any], bool], default: Any) -> Any:
        if key not in self._data:
            if default is _REQUIRED:
                raise self._error(key, Errors.K204)
            return default
        value = self._data[key]
        if not valid(value):
            raise self._error(key, Errors.K201, expected=expected, got=_json_type(value))
        return value

    def _check_range(self, key: str, value: float, low: float, high: float) -> None:
        if not low <= value <= high:
            raise self._error(key, Errors.K202, low=low, high=high, value=repr(value)[:40])

    def _check_length(self, key: str, value: str, max_chars: int) -> None:
        if len(value) > max_chars:
            raise self._error(key, Errors.K208, length=len(value), limit=max_chars)

    def string(self, key: str, *, max_chars: int, default: Any = _REQUIRED) -> str:
        value = self._get(key, "a string", lambda v: isinstance(v, str), default)
        self._check_length(key, value, max_chars)
        return value

    def choice(self, key: str, options: Sequence[str], *, default: str) -> str:
        value = self.string(key, max_chars=MAX_NAME_CHARS, default=default)
        if value not in options:
            expected = "one of " + ", ".join(repr(o) for o in options)
            raise self._error(key, Errors.K201, expected=expected, got=repr(value)[:40])
        return value

    def integer(self, key: str, *, low: int, high: int, default: int) -> int:
        value = self._get(key, "an integer", _is_int, default)
        self._check_range(key, value, low, high)
        return value

    def number(self, key: str, *, low: float, high: float, default: float) -> float:
        value = self._get(key, "a number", _is_number, default)
        self._check_range(key, value, low, high)
        return float(value)

    def container(self, key: str, *, expected: str) -> dict[str, Any] | list[Any] | None:
        return self._get(key, expected, lambda v: isinstance(v, dict | list), None)

    def array(self, key: str, *, max_items: int, default: Any = _REQUIRED) -> list[Any]:
        value = self._get(key, "an array", lambda v: isinstance(v, list), default)
        if len(value) > max_items:
            raise self._error(key, Errors.K207, count=len(value), limit=max_items)
        return value

    def strings(self, key: str, *, max_items: int, max_chars: int) -> tuple[str, ...]:
        values = self.array(key, max_items=max_items, default=[])
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self._error(f"{key}[{i}]", Errors.K201, expected="a string",
                                  got=_json_type(value))
            self._check_length(f"{key}[{i}]", value, max_chars)
        return tuple(values)


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """Texts and image objects to link; `batch`: the texts came as "texts", one list each."""

    texts: tuple[str, ...] | None
    batch: bool
    objects: tuple[str, ...] | None
    image: dict[str, Any] | list[Any] | None
    min_score: float


@dataclass(frozen=True, slots=True)
class FactsQuery:
    query: RetrievalQuery
    view: CoverageView
    config: RetrievalConfig


@dataclass(frozen=True, slots=True)
class FactsRequest:
    queries: tuple[FactsQuery, ...]
    batch: bool


_LINK_FIELDS = ("text", "texts", "objects", "image", "min_score")
_QUERY_FIELDS = ("sample_id", "question", "text", "image_objects", "objects", "image", "min_score",
                 "coverage", "seed", "strategy", "source", "hops", "top_k")
"""`/facts` also takes /link's names: `text` for `question`, `objects` for `image_objects`, and
`image` (a scene graph or `{label, score, box}` detections, above `min_score`)."""


def parse_link(body: Any) -> LinkRequest:
    fields = _Fields(body)
    fields.only(_LINK_FIELDS)
    fields.exclusive(("text", "texts"))
    fields.exclusive(("objects", "image"))
    fields.require_any(("text", "texts", "objects", "image"))
    texts: tuple[str, ...] | None = None
    if fields.has("text"):
        texts = (fields.string("text", max_chars=MAX_QUESTION_CHARS),)
    elif fields.has("texts"):
        texts = fields.strings("texts", max_items=MAX_BATCH, max_chars=MAX_QUESTION_CHARS)
    objects = (fields.strings("objects", max_items=MAX_BATCH, max_chars=MAX_NAME_CHARS)
               if fields.has("objects") else None)
    image = fields.container("image", expected="a scene-graph object or a detections array")
    return LinkRequest(texts=texts, batch=fields.has("texts"), objects=objects, image=image,
                       min_score=fields.number("min_score", low=0.0, high=1.0,
                                               default=DEFAULT_MIN_SCORE))


def parse_facts(body: Any) -> FactsRequest:
    fields = _Fields(body)
    if not fields.has("queries"):
        return FactsRequest((_facts_query(fields),), batch=False)
    fields.only(("queries",))
    items = fields.array("queries", max_items=MAX_BATCH)
    queries = tuple(_facts_query(_Fields(q, f"queries[{i}]")) for i, q in enumerate(items))
    return FactsRequest(queries, batch=True)


def _image_names(fields: _Fields) -> tuple[str, ...]:
    """The image's object names from whichever of image_objects / objects / image was sent."""
    fields.exclusive(("image_objects", "objects", "image"))
    image = fields.container("image", expected="a scene-graph object or a detections array")
    if image is None:
        key = "objects" if fields.has("objects") else "image_objects"
        return fields.strings(key, max_items=MAX_BATCH, max_chars=MAX_NAME_CHARS)
    min_score = fields.number("min_score", low=0.0, high=1.0, default=DEFAULT_MIN_SCORE)
    try:
        found = (scene_objects(image) if isinstance(image, dict)
                 else detection_objects(image, min_score=min_score))
    except KgpruneError as e:
        raise RequestError(422, str(e), field=fields.name("image")) from e
    return tuple(o.label[:MAX_NAME_CHARS] for o in found[:MAX_BATCH] if o.label)


def _facts_query(fields: _Fields) -> FactsQuery:
    fields.only(_QUERY_FIELDS)
    fields.exclusive(("question", "text"))
    query = RetrievalQuery(
        sample_id=fields.string("sample_id", max_chars=MAX_NAME_CHARS, default=""),
        question=fields.string("text" if fields.has("text") else "question",
                               max_chars=MAX_QUESTION_CHARS),
        image_objects=_image_names(fields),
    )
    level = fields.number("coverage", low=0.0, high=1.0, default=1.0)
    seed = fields.integer("seed", low=0, high=MAX_SEED, default=0)
    strategy = fields.choice("strategy", [s.value for s in Strategy], default=Strategy.EDGE.value)
    source = fields.choice("source", SOURCES, default="")
    try:
        view = CoverageView(level, seed, Strategy(strategy), source)
    except ConfigError as e:
        raise RequestError(400, str(e), field=fields.name("source")) from e
    config = RetrievalConfig(
        hops=fields.integer("hops", low=1, high=2, default=_DEFAULT_CONFIG.hops),
        top_k=fields.integer("top_k", low=1, high=MAX_TOP_K, default=_DEFAULT_CONFIG.top_k),
    )
    return FactsQuery(query, view, config)


