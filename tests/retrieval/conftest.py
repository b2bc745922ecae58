from __future__ import annotations

from collections.abc import Iterator

import pytest

from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.linking.relation_detector import RelationDetector


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LadybugStore]:
    store = LadybugStore(tmp_path_factory.mktemp("retrieval") / "kg.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def detector() -> RelationDetector:
    return RelationDetector(HashingEncoder())


@pytest.fixture(scope="module")
def linker(kg: LadybugStore) -> Linker:
    return Linker(kg)
