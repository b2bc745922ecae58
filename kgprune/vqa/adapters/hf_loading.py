"""Load a Hugging Face VQA model folder as a `ModelAdapter`, and build tiny random ones to test with.

The family comes from `config.json` (`model_type`, else `architectures`), so `--model PATH` works
for any folder written by `save_pretrained`. Everything loads with `local_files_only=True`: kgprune
never downloads weights. The families import lazily so that loading one does not import the others.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import torch
from transformers import BertTokenizer, ProcessorMixin

from kgprune.errors import ConfigError, Errors, InputFormatError
from kgprune.vqa.adapters.base import AnswerTargets, ModelAdapter


class HfFamily(Protocol):
    """What an adapter class offers the loader: open a folder, or build a tiny random model."""

    @classmethod
    def from_directory(cls, path: Path) -> HfAdapter: ...

    @classmethod
    def tiny(cls, answers: Sequence[str]) -> HfAdapter: ...


class HfAdapter(ModelAdapter, Protocol):
    """A `ModelAdapter` whose model and processor save with `save_pretrained`."""

    processor: ProcessorMixin


def _vilt() -> type[HfFamily]:
    from kgprune.vqa.adapters.hf_vilt import ViltAdapter
    return ViltAdapter


def _blip() -> type[HfFamily]:
    from kgprune.vqa.adapters.hf_blip import BlipAdapter
    return BlipAdapter


def _llava() -> type[HfFamily]:
    from kgprune.vqa.adapters.hf_llava import LlavaAdapter
    return LlavaAdapter


FAMILIES: dict[str, Callable[[], type[HfFamily]]] = {"vilt": _vilt, "blip": _blip, "llava": _llava}
"""model_type -> adapter class; the keys are also the family names of `save_tiny_model`."""

ARCHITECTURES = {"ViltForQuestionAnswering": "vilt", "BlipForQuestionAnswering": "blip",
                  "LlavaForConditionalGeneration": "llava"}

DEFAULT_ANSWERS = ("yes", "no", "2", "red", "dog", "cat", "pizza", "hot dog")


def _read_config(path: Path) -> dict[str, object]:
    config_path = path / "config.json"
    if not path.is_dir():
        raise InputFormatError(Errors.K420.format(path=path))
    if not config_path.is_file():
        raise InputFormatError(Errors.K421.format(path=path))
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFormatError(Errors.K422.format(path=config_path, problem=exc)) from exc
    if not isinstance(config, dict):
        raise InputFormatError(Errors.K422.format(path=config_path, problem="not a JSON object"))
    return config


def detect_family(path: str | Path) -> str:
    """The family key of a model folder: a supported head in `architectures`, else `model_type`.

    Listed architectures win so that, say, a BLIP captioning folder (model_type "blip") is refused
    rather than loaded into a VQA head with randomly initialised question encoder weights.
    """
    path = Path(path)
    config = _read_config(path)
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    architectures = architectures if isinstance(architectures, list) else []
    for name in architectures:
        if name in ARCHITECTURES:
            return ARCHITECTURES[name]
    if model_type in FAMILIES and not architectures:
        return str(model_type)
    raise ConfigError(Errors.K423.format(path=path, model_type=model_type, architectures=architectures,
                                         supported=", ".join(sorted(ARCHITECTURES))))


def load_hf_adapter(path: str | Path) -> HfAdapter:
    """The adapter for a local model folder holding config.json, weights and processor files."""
    path = Path(path)
    family = FAMILIES[detect_family(path)]()
    try:
        return family.from_directory(path)
    except (OSError, ValueError) as exc:
        raise InputFormatError(Errors.K424.format(path=path, reason=exc)) from exc


def tiny_adapter(family: str, *, answers: Sequence[str] = DEFAULT_ANSWERS) -> HfAdapter:
    """A tiny randomly initialised model of `family` with its processor; seed torch to fix it.

    `answers` is the classifier vocabulary of ViLT; BLIP adds it to its tokenizer vocabulary so the
    answers are whole words, and LLaVA's character-level tokenizer spells any answer.
    """
    if family not in FAMILIES:
        raise ConfigError(Errors.K425.format(family=family, known=", ".join(sorted(FAMILIES))))
    return FAMILIES[family]().tiny(answers)


def save_adapter(adapter: HfAdapter, directory: str | Path) -> Path:
    """Write model (safetensors) and processor into `directory`, the layout `load_hf_adapter` reads."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    adapter.model.save_pretrained(directory)
    adapter.processor.save_pretrained(directory)
    return directory


def save_tiny_model(family: str, directory: str | Path, *,
                    answers: Sequence[str] = DEFAULT_ANSWERS) -> Path:
    """Write a tiny random model of `family` with its processor, for smoke tests of `--model PATH`."""
    return save_adapter(tiny_adapter(family, answers=answers), directory)


_BASE_WORDS = ("what", "is", "the", "color", "of", "how", "many", "are", "there", "in", "this",
               "picture", "image", "a", "on", "user", "assistant", "question", "answer")


def tiny_tokenizer(words: Iterable[str], extra_special: Sequence[str] = ()) -> BertTokenizer:
    """A lower-case WordPiece tokenizer over a small vocabulary that still spells any ASCII text.

    Single characters and their `##` continuations cover every word, so nothing maps to [UNK].
    """
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.digits
    pieces = list(chars) + [f"##{c}" for c in chars] + list(string.punctuation)
    whole = sorted({w for phrase in [*_BASE_WORDS, *words] for w in phrase.lower().split()})
    vocab = {token: i for i, token in enumerate(dict.fromkeys([*specials, *pieces, *whole]))}
    tokenizer = BertTokenizer(vocab=vocab)
    if extra_special:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special)})
    return tokenizer


def check_batch(targets: Sequence[AnswerTargets], batch: int) -> None:
    """One target distribution per sample, or a K426 error."""
    if len(targets) != batch:
        raise ConfigError(Errors.K426.format(targets=len(targets), batch=batch))


AnswerPair = tuple[int, str]
"""(sample, answer): one row a generative loss scores."""


def generative_answer_losses(
    batch: int, target_sets: Sequence[Sequence[AnswerTargets]], device: torch.device,
    mean_nll: Callable[[list[AnswerPair], torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, ...]:
    """Per target set and sample, Σ weight × mean NLL of the answer's tokens. `mean_nll` scores
    (sample, answer) rows given the pairs and their sample indices, once for all sets: an answer
    that several sets weight (L_task's and L_knowledge's) is scored once."""
    for targets in target_sets:
        check_batch(targets, batch)
    scored: dict[AnswerPair, int] = {}
    slots: list[int] = []
    weights: list[float] = []
    sources: list[int] = []
    for position, targets in enumerate(target_sets):
        for row, target in enumerate(targets):
            for answer, weight in target.items():
                if weight > 0:
                    sources.append(scored.setdefault((row, answer), len(scored)))
                    slots.append(position * batch + row)
                    weights.append(float(weight))
    losses = torch.zeros(len(target_sets) * batch, device=device)
    if scored:
        pairs = list(scored)
        nll = mean_nll(pairs, torch.tensor([row for row, _ in pairs], device=device))
        losses = losses.index_add(0, torch.tensor(slots, device=device),
                                  torch.tensor(weights, device=device) * nll[sources])
    return tuple(losses.view(len(target_sets), batch).unbind(0))
