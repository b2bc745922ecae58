"""Mention candidates: offsets into the original text, keys, stop words, Unicode."""

from __future__ import annotations

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from kgprune.kg.uri import standardize_text
from kgprune.linking.mentions import BLACKLIST, TRAINED_PIPELINE, MentionExtractor, load_nlp


@pytest.fixture(scope="module")
def extractor() -> MentionExtractor:
    return MentionExtractor()


def _keys(extractor: MentionExtractor, text: str) -> set[str]:
    return {k for m in extractor.extract(text) for k in m.keys}


@pytest.mark.parametrize("text", ["", "   ", "?!...", "🌭 🍔", "would you want something"])
def test_nothing_to_link(extractor: MentionExtractor, text: str) -> None:
    assert extractor.extract(text) == []


def test_offsets_point_into_the_original_text(extractor: MentionExtractor) -> None:
    text = "İstanbul's CUTTING Boards, crème brûlée 🌭 and Käse!"
    mentions = extractor.extract(text)
    assert mentions
    for m in mentions:
        assert text[m.start : m.end] == m.text


def test_keys_are_conceptnet_terms_with_lemmas(extractor: MentionExtractor) -> None:
    keys = _keys(extractor, "Where would you find CUTTING Boards and hot-dogs?")
    assert {"cutting_board", "cutting_boards", "board", "hot_dog"} <= keys
    assert _keys(extractor, "Dogs chase cats") >= {"dog", "cat"}
    by_text = {m.text: m for m in extractor.extract("the cutting boards")}
    assert by_text["cutting boards"].keys[:2] == ("cutting_boards", "cutting_board")
    assert "the cutting boards" not in by_text, "a leading article adds nothing to the key"


def test_unicode_terms_survive(extractor: MentionExtractor) -> None:
    keys = _keys(extractor, "crème brûlée, Käse 🌭 hot dog")
    assert {"crème_brûlée", "käse", "hot_dog"} <= keys
    assert not any("🌭" in k for k in keys)
    assert "käse_hot" not in keys, "an emoji breaks an n-gram"


def test_stop_words_and_blacklist_are_skipped(extractor: MentionExtractor) -> None:
    keys = _keys(extractor, "What kind of thing would you maybe want to see here")
    assert not keys & {"what", "kind", "thing", "would", "want", "want_to", "see", "here"}
    assert "back" in _keys(extractor, "the back of the bus"), "content words stay"


def test_ngrams_stop_at_four_words_and_at_punctuation(extractor: MentionExtractor) -> None:
    mentions = extractor.extract("red blue green yellow purple, orange")
    assert max(m.num_words for m in mentions) == 4
    assert not any("purple" in m.text and "orange" in m.text for m in mentions)


def test_single_content_words_are_marked_for_fuzzy(extractor: MentionExtractor) -> None:
    content = {m.text for m in extractor.extract("the umbrela is open") if m.content}
    assert content == {"umbrela", "open"}


@pytest.mark.skipif(not spacy.util.is_package(TRAINED_PIPELINE),
                    reason=f"{TRAINED_PIPELINE} is not installed")
def test_trained_pipeline_adds_noun_chunks() -> None:
    nlp = load_nlp()
    assert "parser" in nlp.pipe_names
    mentions = MentionExtractor(nlp).extract("The wooden cutting board is on the table.")
    assert any(m.content and m.text == "wooden cutting board" for m in mentions)
    assert {"cutting_board", "table"} <= {k for m in mentions for k in m.keys}


@Language.component("kgprune_test_parse")
def _hand_parse(doc: Doc) -> Doc:
    """The parse en_core_web_sm gives "the wooden cutting board is on the table"."""
    return Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc],
               pos=["DET", "ADJ", "NOUN", "NOUN", "AUX", "ADP", "DET", "NOUN"],
               heads=[3, 3, 3, 4, 4, 4, 7, 5],
               deps=["det", "amod", "compound", "nsubj", "ROOT", "prep", "det", "pobj"],
               lemmas=["the", "wooden", "cutting", "board", "be", "on", "the", "table"])


def test_noun_chunks_of_a_parsed_doc_are_fuzzy_candidates() -> None:
    """The trained-pipeline path, without the trained pipeline: a hand-made parse."""
    nlp = spacy.blank("en")
    nlp.add_pipe("kgprune_test_parse")
    mentions = MentionExtractor(nlp).extract("The wooden cutting board is on the table")
    content = {m.text for m in mentions if m.content}
    assert content == {"wooden", "cutting", "board", "table", "wooden cutting board"}


@pytest.mark.parametrize("text", [
    "Where would you find CUTTING Boards and hot-dogs?",
    "the dog's bowl isn't on the U.S.A. map; to eat a pie, don't wait",
    "İstanbul crème brûlée the ice-cream/cake to go",
])
def test_surface_key_is_standardize_text_of_the_span(extractor: MentionExtractor,
                                                     text: str) -> None:
    """Keys are built from per-token pieces for speed; they must equal ConceptNet's own rules."""
    for m in extractor.extract(text):
        surface = standardize_text(m.text)
        assert m.keys[0] == surface or surface in BLACKLIST, m
