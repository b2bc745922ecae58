"""Linking questions to the bundled graph: exact terms first, longest span wins, fuzzy after."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.records import Concept
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.index import ConceptIndex
from kgprune.linking.linker import Linker


def _uris(linker: Linker, text: str) -> set[str]:
    return {c.uri for c in linker.link(text)}


@pytest.mark.parametrize(("question", "expected", "absent"), [
    ("What is the hot dog on the plate made of?", {"hot_dog", "plate"}, {"hot", "dog", "made"}),
    ("Where would you find a cutting board?", {"cutting_board"}, {"board", "cutting", "cut"}),
    ("what kind of animal is this dog", {"animal", "dog"}, {"kind"}),
    ("What are the teddy bears made of?", {"teddy_bear"}, {"bear"}),
    ("Dogs chase cats in the KITCHEN", {"dog", "cat", "kitchen"}, set()),
    ("Is the ice cream shop near the bus stop?", {"ice_cream_shop", "bus_stop"},
     {"ice_cream", "bus", "stop"}),
    ("Could someone actually want one thing?", set(), {"one", "thing", "want", "someone"}),
])
def test_questions_link_to_known_concepts(linker: Linker, question: str, expected: set[str],
                                          absent: set[str]) -> None:
    linked = linker.link(question)
    uris = {c.uri.removeprefix("/c/en/") for c in linked}
    assert expected <= uris and not absent & uris
    for c in linked:
        assert question[c.start : c.end] == c.mention
        assert c.method == "exact" and c.score == 1.0
    spans = sorted((c.start, c.end) for c in linked)
    assert all(a[1] <= b[0] for a, b in pairwise(spans)), "links never overlap"


def test_misspelling_is_found_by_fuzzy_matching(linker: Linker) -> None:
    (umbrella,) = [c for c in linker.link("Is the umbrela open?") if c.mention == "umbrela"]
    assert umbrella.uri == "/c/en/umbrella" and umbrella.method == "fuzzy"
    assert linker.fuzzy_threshold <= umbrella.score < 1.0
    assert (umbrella.start, umbrella.end) == (7, 14)


def test_spelling_encoder_fixes_typos_not_other_words(linker: Linker) -> None:
    """Known English words are not misspellings: "better" stays away from "butter"."""
    linked = linker.link("Is it better to sell the umbrela near the photo with people?")
    assert [(c.mention, c.uri, c.method) for c in linked] == [
        ("umbrela", "/c/en/umbrella", "fuzzy")]


class MeaningEncoder(HashingEncoder):
    """Stands in for MiniLM: a meaning encoder is asked about every uncovered content word."""

    spelling_only = False
    fuzzy_threshold = 0.6

    def similarity(self, mention: str, name: str, cosine: float) -> float:
        return cosine


def test_meaning_encoder_is_asked_about_known_words(bundled_store: LadybugStore) -> None:
    index = ConceptIndex.build(bundled_store, encoder=MeaningEncoder())
    linked = Linker(bundled_store, index=index).link("a photo of people")
    assert {(c.mention, c.method) for c in linked} == {("photo", "fuzzy"), ("people", "fuzzy")}


def test_without_an_index_only_exact_matches(bundled_store: LadybugStore) -> None:
    exact_only = Linker(bundled_store)
    assert _uris(exact_only, "Is the umbrela open?") == {"/c/en/open"}


def test_unknown_words_stay_unlinked(linker: Linker, bundled_store: LadybugStore,
                                     hashing_index: ConceptIndex) -> None:
    assert linker.link("The zorblax quibbles frantically") == []
    strict = Linker(bundled_store, index=hashing_index, fuzzy_threshold=0.99)
    assert _uris(strict, "Is the umbrela open?") == {"/c/en/open"}
    lenient = Linker(bundled_store, index=hashing_index, fuzzy_threshold=0.0)
    assert [c.mention for c in lenient.link("zorblax quibbles")] == ["zorblax"]


def test_fuzzy_never_overrides_exact(bundled_store: LadybugStore, hashing_index: ConceptIndex) -> None:
    eager = Linker(bundled_store, index=hashing_index, fuzzy_threshold=0.0)
    linked = eager.link("a hot dog and a cutting board")
    assert {(c.uri, c.method) for c in linked} == {("/c/en/hot_dog", "exact"),
                                                   ("/c/en/cutting_board", "exact")}


def test_unicode_and_empty_input(linker: Linker) -> None:
    text = "Käse 🌭 or crème brûlée for dessert? İstanbul's umbrella"
    linked = linker.link(text)
    assert {"/c/en/dessert", "/c/en/umbrella"} <= {c.uri for c in linked}
    assert all(text[c.start : c.end] == c.mention for c in linked)
    assert linker.link("") == [] and linker.link("  ?! 🌭 ") == []
    assert linker.link_batch([]) == []


class CountingStore:
    """Passes through to a store, counting concept look-ups; `version` is settable."""

    def __init__(self, store: LadybugStore) -> None:
        self.store = store
        self.url = store.url
        self.calls: list[int] = []
        self.current = "v1"

    def get_concepts(self, uris: Sequence[str]) -> list[Concept]:
        self.calls.append(len(uris))
        return self.store.get_concepts(uris)

    def version(self) -> str:
        return self.current


def test_one_store_query_per_batch_for_keys_not_seen_before(bundled_store: LadybugStore,
                                                            hashing_index: ConceptIndex) -> None:
    counting = CountingStore(bundled_store)
    linker = Linker(counting, index=hashing_index)  # type: ignore[arg-type]
    texts = ["hot dog on a plate", "", "the umbrela", "Where is the cutting board?", "dogs"]
    batch = linker.link_batch(texts)
    assert len(counting.calls) == 1
    assert batch == [linker.link(t) for t in texts]
    assert len(counting.calls) == 1, "every key was answered before"
    linker.link("a hot dog in the kitchen")
    assert len(counting.calls) == 2 and counting.calls[-1] < 10, "only the new keys"
    counting.current = "v2"
    assert linker.link("hot dog") == batch[0][:1]
    assert len(counting.calls) == 3, "a changed store is asked again"
