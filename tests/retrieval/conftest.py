from __future__ import annotations

import pytest

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.retrieval.relation_detector import RelationDetector


@pytest.fixture(scope="module")
def detector() -> RelationDetector:
    return RelationDetector(HashingEncoder())


@pytest.fixture(scope="module")
def linker(bundled_store: LadybugStore) -> Linker:
    return Linker(bundled_store)
