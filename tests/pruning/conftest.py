"""A small benchmark and a model trained on it, for the pruning tests that run the CLI or
several processes on a real checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgprune.kg.backends.ladybug import LadybugStore
from tests.training.conftest import Bench, make_bench, trained_checkpoint


@pytest.fixture(scope="module")
def bench(bundled_store: LadybugStore, tmp_path_factory: pytest.TempPathFactory) -> Bench:
    return make_bench(bundled_store, tmp_path_factory.mktemp("bench") / "synthetic", n=24)


@pytest.fixture(scope="module")
def trained(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_checkpoint(bench, tmp_path_factory.mktemp("model") / "kgvqa")
