"""One bundled-KG store and one hashing index per test module: loading takes about a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.index import ConceptIndex
from kgprune.linking.linker import Linker


@pytest.fixture(scope="module")
def kg_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LadybugStore]:
    store = LadybugStore(tmp_path_factory.mktemp("linking") / "kg.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def hashing_index(kg_store: LadybugStore) -> ConceptIndex:
    return ConceptIndex.build(kg_store, encoder=HashingEncoder())


@pytest.fixture(scope="module")
def linker(kg_store: LadybugStore, hashing_index: ConceptIndex) -> Linker:
    return Linker(kg_store, index=hashing_index)
