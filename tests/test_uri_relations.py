from __future__ import annotations

import pytest

from kgprune.errors import ConfigError
from kgprune.kg.relations import (
    ALL_RELATIONS,
    NEGATIVE_RELATIONS,
    OPPOSITES,
    SYMMETRIC_RELATIONS,
    is_symmetric,
    neo4j_type,
    relation_from_neo4j_type,
    relation_from_uri,
)
from kgprune.kg.uri import concept_uri, parse_concept_uri, standardize_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a hot-dog", "hot_dog"), ("to eat", "eat"), ("T-shirt", "t_shirt"), ("can't", "can't"),
     ("U.S.A.", "u.s.a"), ("C++", "c"), ("24 hours", "24_hours"), ("The", "the"),
     ("  Ice   Cream ", "ice_cream"), ("hot_dog", "hot_dog"), ("Käse", "käse"), ("ＣＵＰ", "cup")],
)
def test_text_standardises_like_conceptnet(text: str, expected: str) -> None:
    assert standardize_text(text) == expected


def test_articles_are_kept_outside_english() -> None:
    assert concept_uri("a la carte", "fr") == "/c/fr/a_la_carte"
    assert concept_uri("an apple") == "/c/en/apple"


@pytest.mark.parametrize(
    ("uri", "term_uri", "pos"),
    [("/c/en/dog/n/wn/animal", "/c/en/dog", "n"), ("/c/en/trial/n/wn/act", "/c/en/trial", "n"),
     ("/c/en/run/v", "/c/en/run", "v"), ("/c/en/bank/n/wp/river", "/c/en/bank", "n"),
     ("/c/en/hot_dog", "/c/en/hot_dog", ""), ("/c/de/käse", "/c/de/käse", "")],
)
def test_sense_tagged_uris_collapse_to_the_term(uri: str, term_uri: str, pos: str) -> None:
    parsed = parse_concept_uri(uri)
    assert (parsed.uri, parsed.pos) == (term_uri, pos)


@pytest.mark.parametrize("bad", ["/c/en", "/c//dog", "c/en/dog", "/r/IsA", "http://x.org/a"])
def test_bad_concept_uris_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="K013"):
        parse_concept_uri(bad)


def test_relation_vocabulary_is_conceptnet_57() -> None:
    assert len(ALL_RELATIONS) == 50 and len(set(ALL_RELATIONS)) == 50
    assert SYMMETRIC_RELATIONS == {"RelatedTo", "SimilarTo", "EtymologicallyRelatedTo", "Synonym",
                                   "Antonym", "DistinctFrom"}
    assert is_symmetric("Synonym") and not is_symmetric("IsA")
    assert {"NotUsedFor", "Antonym", "DistinctFrom"} <= NEGATIVE_RELATIONS
    assert "UsedFor" not in NEGATIVE_RELATIONS
    assert OPPOSITES["UsedFor"] == "NotUsedFor" and OPPOSITES["NotUsedFor"] == "UsedFor"
    assert relation_from_uri("/r/dbpedia/genre") == "dbpedia/genre"
    assert neo4j_type("dbpedia/genre") == "dbpedia_genre"
    assert relation_from_neo4j_type("dbpedia_genre") == "dbpedia/genre"
    with pytest.raises(ConfigError, match="K009"):
        neo4j_type("IsA`]->() DETACH DELETE n //")
