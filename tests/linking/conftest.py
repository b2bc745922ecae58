"""One hashing index over the bundled KG per test module."""

from __future__ import annotations

import pytest

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.index import ConceptIndex
from kgprune.linking.linker import Linker


@pytest.fixture(scope="module")
def hashing_index(bundled_store: LadybugStore) -> ConceptIndex:
    return ConceptIndex.build(bundled_store, encoder=HashingEncoder())


@pytest.fixture(scope="module")
def linker(bundled_store: LadybugStore, hashing_index: ConceptIndex) -> Linker:
    return Linker(bundled_store, index=hashing_index)
