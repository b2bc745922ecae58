"""Study specs from a flat TOML file and `--set key=value` overrides, typed by the dataclass fields.

Study keys and shared settings live in one namespace, so `seeds = [0, 1]` in a file and
`--set seeds=0,1` mean the same. Precedence: the study defaults, then the quick profile if asked,
then the file, then each `--set` in order. Every value is checked where it enters, and an error
names the key and where it came from.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, get_type_hints

from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.coerce import coerce
from kgprune.experiments.spec import (
    FULL,
    QUANTIZE_MODES,
    QUICK_SEEDS,
    QUICK_SETTINGS,
    STRATEGIES,
    Settings,
    StudySpec,
    plain_value,
    study_class,
)

Rule = tuple[Callable[[Any], bool], str]
RULES: Mapping[str, Rule] = {
    "seeds": (lambda v: v >= 0, "a list of distinct seeds >= 0"),
    "ratios": (lambda v: 0 < v < 1, "a list of distinct ratios strictly between 0 and 1"),
    "lams": (lambda v: v >= 0, "a list of distinct λ >= 0"),
    "coverages": (lambda v: 0 < v <= 1, "a list of distinct coverage levels in (0, 1]"),
    "strategies": (lambda v: v in STRATEGIES, f"a list of strategies from {', '.join(STRATEGIES)}"),
    "quantize": (lambda v: v in QUANTIZE_MODES, f"a list from {', '.join(QUANTIZE_MODES)}"),
    "eval_data": (bool, "a list of distinct dataset names"),
    "towers": (lambda v: True, "a list of distinct tower names"),
    "layer_ranges": (lambda v: True, "a list of distinct layer ranges like 0-6"),
    "images": (lambda v: v >= 1, "an integer >= 1"),
    "rounds": (lambda v: v >= 1, "an integer >= 1"),
    "steps": (lambda v: v >= 0, "an integer >= 0"),
    "batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "lr": (lambda v: v > 0, "a number > 0"),
    "lam": (lambda v: v >= 0, "a number >= 0"),
    "importance_samples": (lambda v: v >= 1, "an integer >= 1"),
    "train_data": (bool, "a dataset name"),
    "budgets": (lambda v: v >= 0, "a list of distinct fine-tuning step counts >= 0"),
    "labels": (lambda v: v >= 1, "a list of distinct labelled-sample counts >= 1"),
}
METHOD_KEYS = ("methods", "unlabeled_methods", "labelled_methods", "baselines")


def setting_types(cls: type[StudySpec]) -> dict[str, Any]:
    """Every key a config may set, with its type: the study's fields, then the settings'."""
    hints = {k: v for k, v in get_type_hints(cls).items() if k in {f.name for f in fields(cls)}}
    hints.pop("settings")
    return hints | get_type_hints(Settings)


def parse_set(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ExperimentError(Errors.K602.format(text=text))
    return key.strip(), value.strip()


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ExperimentError(Errors.K603.format(path=path, problem=e)) from None


def load_spec(name: str, config: Path | None = None, sets: Iterable[str] = (),
              quick: bool = False) -> StudySpec:
    """Defaults, then the quick profile if asked, then the config file, then each `--set`."""
    values: dict[str, tuple[Any, str]] = {}
    if config is not None:
        raw = read_config(config)
        found = raw.pop("study", name)
        if found != name:
            raise ExperimentError(Errors.K604.format(path=config, found=found, study=name))
        values |= {key: (value, str(config)) for key, value in raw.items()}
    for text in sets:
        key, value = parse_set(text)
        values[key] = (value, f"--set {text}")
    return build_spec(name, values, quick=quick)


def spec_from_dict(name: str, data: Mapping[str, Any], source: str) -> StudySpec:
    """A spec from its `to_dict()` form, as a run directory records it."""
    return build_spec(name, {k: (v, source) for k, v in data.items() if k != "study"})


def build_spec(name: str, values: Mapping[str, tuple[Any, str]], *,
               quick: bool = False) -> StudySpec:
    cls = study_class(name)
    types = setting_types(cls)
    typed: dict[str, Any] = {}
    for key, (value, source) in values.items():
        if key not in types:
            raise ExperimentError(Errors.K600.format(key=key, source=source, study=name,
                                                     known=", ".join(types)))
        typed[key] = coerce(value, types[key], key=key, source=source)
        _check(key, typed[key], source)
    quick = quick or typed.pop("quick", False)
    spec = cls()
    if quick:
        spec = replace(spec, seeds=QUICK_SEEDS, settings=replace(spec.settings, **QUICK_SETTINGS))
    study_keys = {k: v for k, v in typed.items() if k in {f.name for f in fields(cls)}}
    settings_keys = {k: v for k, v in typed.items() if k not in study_keys}
    return replace(spec, settings=replace(spec.settings, quick=quick, **settings_keys),
                   **study_keys)


def _rule(key: str) -> Rule | None:
    # the criteria registry and the planner import torch: only when their keys are set
    if key in METHOD_KEYS:
        from kgprune.pruning.importance import CRITERIA
        known = (FULL, *CRITERIA)
        return (lambda v: v in known, f"a list of distinct methods from {', '.join(known)}")
    if key in ("normalize", "normalizations"):
        from kgprune.pruning.planner import NORMALIZATIONS
        return (lambda v: v in NORMALIZATIONS, f"one or more of {', '.join(NORMALIZATIONS)}")
    return RULES.get(key)


def _check(key: str, value: Any, source: str) -> None:
    rule = _rule(key)
    if rule is None:
        return
    ok, expected = rule
    items = value if isinstance(value, tuple) else (value,)
    if not items or len(set(items)) != len(items) or not all(ok(v) for v in items):
        raise ExperimentError(Errors.K601.format(key=key, source=source, expected=expected,
                                                 value=plain_value(value)))


def to_toml(spec: StudySpec) -> str:
    """The spec as a config file `load_spec` reads back to an equal spec."""
    lines = [f"# kgprune experiment {spec.name}: {spec.summary}"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in spec.to_dict().items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def settings_help(name: str) -> str:
    """Every `--set` key with its default, spelled as on the command line."""
    def spelled(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(spelled(v) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "''" if value == "" else str(value)

    return "  ".join(f"{key}={spelled(value)}" for key, value
                     in study_class(name)().to_dict().items() if key != "study")
