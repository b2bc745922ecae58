"""Image objects to concepts: scene-graph synsets and names, detector labels, fuzzy fallback."""

from __future__ import annotations

import json

import pytest

from kgprune.errors import InputFormatError
from kgprune.kg import bundled
from kgprune.linking.image import link_detections, link_image, link_scene_graph
from kgprune.linking.linker import Linker


def test_scene_graph_objects_link_by_synset_then_name(linker: Linker) -> None:
    entry = json.loads((bundled.visual_genome_dir() / "objects.json").read_text())[0]
    linked = link_scene_graph(entry, linker)
    assert len(linked) == len(entry["objects"])
    by_label = {o.label: o for o in linked}
    assert (by_label["refrigerator"].uri, by_label["refrigerator"].method) == (
        "/c/en/refrigerator", "synset")
    assert (by_label["cutting board"].uri, by_label["cutting board"].method) == (
        "/c/en/cutting_board", "exact")
    first = entry["objects"][0]
    assert linked[0].object_id == first["object_id"]
    assert linked[0].box == (first["x"], first["y"], first["w"], first["h"])


def test_unknown_synset_falls_back_to_the_name(linker: Linker) -> None:
    entry = {"objects": [{"name": "Cups", "synsets": ["zzyzx.n.01"]},
                         {"names": ["umbrela"], "synsets": []},
                         {"names": ["zorblax"]}]}
    linked = link_scene_graph(entry, linker)
    assert [(o.uri, o.method, o.index) for o in linked] == [
        ("/c/en/cup", "exact", 0), ("/c/en/umbrella", "fuzzy", 1)]
    assert linker.fuzzy_threshold <= linked[1].score < 1.0


def test_detections_above_the_score_threshold(linker: Linker) -> None:
    detections = [
        {"label": "hot dogs", "score": 0.91, "box": [10, 20, 110, 80]},
        {"label": "dining table", "score": 0.8, "box": [0, 0, 640, 480]},
        {"label": "umbrela", "score": 0.7},
        {"label": "cat", "score": 0.2, "box": [1, 2, 3, 4]},
    ]
    linked = link_detections(detections, linker, min_score=0.5)
    assert [(o.label, o.uri, o.method) for o in linked] == [
        ("hot dogs", "/c/en/hot_dog", "exact"),
        ("dining table", "/c/en/table", "exact"),
        ("umbrela", "/c/en/umbrella", "fuzzy"),
    ]
    assert linked[0].box == (10, 20, 110, 80) and linked[0].detection_score == 0.91
    assert [o.label for o in link_image(detections, linker, min_score=0.1)][-1] == "cat"


@pytest.mark.parametrize("data", [
    {"objects": "cup"}, {"images": []}, [{"score": 0.9}], [{"label": "cup", "score": "high"}],
    [{"label": "cup", "box": "0,0,1,1"}], "cup",
])
def test_malformed_input_is_refused(linker: Linker, data: object) -> None:
    with pytest.raises(InputFormatError, match=r"\[K108\]"):
        link_image(data, linker)
