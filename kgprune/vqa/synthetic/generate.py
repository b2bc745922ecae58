"""The generator: plans scenes, renders them and writes VG scene graphs and OK-VQA files.

Each image draws from its own seeded streams (scene, questions, answers, noise), keyed by the run
seed and the image id, so variants that only change rendering or wording (`paraphrase`, `degraded`,
`text`) share scenes and answers with `standard`, and a run is byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kgprune.errors import ConfigError, Errors
from kgprune.kg.store import GraphStore
from kgprune.kg.uri import concept_uri, parse_concept_uri
from kgprune.vqa.synthetic import render
from kgprune.vqa.synthetic.questions import (
    NAME_QUESTION,
    OBJECT_TERMS,
    RELATIONS,
    human_answers,
    name_question_text,
    position_ref,
    question_text,
    relative_ref,
)

GENERATOR = "kgprune.vqa.synthetic"
GENERATOR_VERSION = "3"
VARIANTS: tuple[str, ...] = ("standard", "paraphrase", "degraded", "compositional", "text")
SPLITS: tuple[str, ...] = ("train", "val", "test")
PRETRAIN = "pretrain"
"""Perception questions on the training images ("What is the object on the left?" -> its name):
what the built-in model learns to see from before it learns what the KG says about it. No study
prunes, scores or evaluates on them."""
IMAGE_SIZE_RANGE = (32, 1024)
MANIFEST = "manifest.json"
_FACT_LIMIT = 1000
_PREPOSITIONS = {"row": ("left of", "right of"), "column": ("above", "below")}
_PREDICATE = {"row": "left of", "column": "above"}


@dataclass(frozen=True, slots=True)
class BenchmarkObject:
    """A concept the benchmark draws, its look and its answers per relation (best fact first)."""

    uri: str
    name: str
    signature: render.Signature
    answers: dict[str, tuple[str, ...]]

    @property
    def term(self) -> str:
        return parse_concept_uri(self.uri).term


@dataclass(frozen=True, slots=True)
class SceneObject:
    obj: BenchmarkObject
    position: str
    box: render.Placed


@dataclass(frozen=True, slots=True)
class Scene:
    image_id: int
    layout: str
    objects: tuple[SceneObject, ...]


@dataclass(slots=True)
class BenchmarkManifest:
    """What `manifest.json` records; it marks a directory as a benchmark that may be regenerated."""

    seed: int
    n: int
    variant: str
    image_size: int
    splits: dict[str, float]
    kg_version: str
    images: dict[str, int] = field(default_factory=dict)
    questions: dict[str, int] = field(default_factory=dict)
    relations: dict[str, int] = field(default_factory=dict)
    relations_by_split: dict[str, dict[str, int]] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)
    generator: str = GENERATOR
    generator_version: str = GENERATOR_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_arguments(n: int, variant: str, image_size: int,
                    splits: Sequence[float] = (0.7, 0.15, 0.15)) -> None:
    """Reject bad arguments before any store is opened or file written."""
    if n <= 0:
        raise ConfigError(Errors.K320.format(n=n))
    if variant not in VARIANTS:
        raise ConfigError(Errors.K321.format(name=variant, known=", ".join(VARIANTS)))
    low, high = IMAGE_SIZE_RANGE
    if not low <= image_size <= high:
        raise ConfigError(Errors.K325.format(low=low, high=high, size=image_size))
    if len(splits) != 3 or min(splits) < 0 or abs(sum(splits) - 1.0) > 1e-9:
        raise ConfigError(Errors.K324.format(splits=tuple(splits)))


def benchmark_objects(store: GraphStore) -> list[BenchmarkObject]:
    """The fixed object list with each concept's answers read from the store."""
    uris = [concept_uri(term) for term in OBJECT_TERMS]
    signatures = render.assign_signatures(uris)
    objects, missing = [], []
    for uri in uris:
        answers: dict[str, list[str]] = {}
        for fact in store.neighbors(uri, relations=RELATIONS, limit=_FACT_LIMIT):
            if fact.head != uri or not fact.tail.startswith("/c/en/"):
                continue
            name = parse_concept_uri(fact.tail).name
            if name not in answers.setdefault(fact.relation, []):
                answers[fact.relation].append(name)
        if not answers:
            missing.append(uri)
            continue
        objects.append(BenchmarkObject(uri, parse_concept_uri(uri).name, signatures[uri],
                                       {r: tuple(answers[r]) for r in RELATIONS if r in answers}))
    if missing:
        raise ConfigError(Errors.K323.format(url=store.url, missing=", ".join(missing[:5])))
    return objects


def _stream(seed: int, key: int, purpose: str) -> random.Random:
    """An independent generator per (image or question, purpose): variants keep shared draws."""
    return random.Random(render.stable_int(f"{seed}:{key}:{purpose}"))


def _positions(layout: str, k: int) -> tuple[str, ...]:
    if k == 1:
        return ("centre",)
    ends = ("left", "right") if layout == "row" else ("top", "bottom")
    return (ends[0], "middle", ends[1]) if k == 3 else ends


def plan_scene(image_id: int, objects: Sequence[BenchmarkObject], *, seed: int, size: int,
               min_objects: int) -> Scene:
    """1-3 objects with distinct `colour shape` phrases, one to a cell of a row or a column."""
    rng = _stream(seed, image_id, "scene")
    k = max(min_objects, rng.choice((1, 1, 1, 2, 2, 2, 2, 3, 3, 3)))
    layout = rng.choice(("row", "column")) if k > 1 else "row"
    chosen: list[BenchmarkObject] = []
    for obj in rng.sample(list(objects), len(objects)):
        if all(obj.signature.phrase != c.signature.phrase for c in chosen):
            chosen.append(obj)
        if len(chosen) == k:
            break
    placed = []
    for i, (obj, position) in enumerate(zip(chosen, _positions(layout, k), strict=True)):
        lo, hi = i * size // k, (i + 1) * size // k
        x0, x1, y0, y1 = (lo, hi, 0, size) if layout == "row" else (0, size, lo, hi)
        base = min(x1 - x0, y1 - y0, 3 * size // 4)
        side = max(6, round(base * render.SIZES[obj.signature.size]))
        x = rng.randint(x0, max(x0, x1 - side))
        y = rng.randint(y0, max(y0, y1 - side))
        placed.append(SceneObject(obj, position,
                                  render.Placed(x, y, side, side, obj.signature, obj.name)))
    return Scene(image_id, layout, tuple(placed))


def _object_id(image_id: int, index: int) -> int:
    return image_id * 10 + index


def scene_graph(scene: Scene) -> dict[str, Any]:
    """The Visual Genome `scene_graphs.json` entry: boxes plus spatial relationships."""
    objects = [
        {"object_id": _object_id(scene.image_id, i), "x": o.box.x, "y": o.box.y, "w": o.box.w,
         "h": o.box.h, "names": [o.obj.name], "synsets": [f"{o.obj.term}.n.01"],
         "attributes": [o.obj.signature.colour, o.obj.signature.texture, o.obj.signature.shape]}
        for i, o in enumerate(scene.objects)
    ]
    relationships = [
        {"relationship_id": scene.image_id * 100 + i * 10 + j,
         "predicate": _PREDICATE[scene.layout], "synsets": [],
         "subject_id": _object_id(scene.image_id, i), "object_id": _object_id(scene.image_id, j)}
        for i in range(len(scene.objects)) for j in range(i + 1, len(scene.objects))
    ]
    return {"image_id": scene.image_id, "objects": objects, "relationships": relationships}


def _compositional_ref(scene: Scene, index: int) -> str:
    """Names the target only through its neighbours, so the model must resolve the layout."""
    phrases = [o.obj.signature.phrase for o in scene.objects]
    before, after = _PREPOSITIONS[scene.layout]
    if index == 0:
        return relative_ref(before, (phrases[1],))
    if index == len(phrases) - 1:
        return relative_ref(after, (phrases[index - 1],))
    return relative_ref("between", (phrases[index - 1], phrases[index + 1]))


@dataclass(frozen=True, slots=True)
class Question:
    question_id: int
    image_id: int
    text: str
    relation: str
    answers: tuple[dict[str, Any], ...]


def _reference(scene: Scene, index: int, variant: str) -> str:
    if variant == "compositional":
        return _compositional_ref(scene, index)
    return position_ref(scene.objects[index].position, single=len(scene.objects) == 1,
                        paraphrase=variant == "paraphrase")


def name_questions(scene: Scene, *, variant: str) -> list[Question]:
    """One perception question per object; ids after the knowledge questions' (index + 5)."""
    return [Question(_object_id(scene.image_id, i + 5), scene.image_id,
                     name_question_text(_reference(scene, i, variant),
                                        paraphrase=variant == "paraphrase"),
                     NAME_QUESTION,
                     tuple({"answer_id": j + 1, "answer": placed.obj.name,
                            "raw_answer": placed.obj.name, "answer_confidence": "yes"}
                           for j in range(10)))
            for i, placed in enumerate(scene.objects)]


def make_questions(scene: Scene, *, seed: int, variant: str) -> list[Question]:
    """One question per object, on a relation it has facts for."""
    rng = _stream(seed, scene.image_id, "questions")
    out = []
    for i, placed in enumerate(scene.objects):
        relation = rng.choice(tuple(placed.obj.answers))
        ref = _reference(scene, i, variant)
        qid = _object_id(scene.image_id, i)
        rng_answers = _stream(seed, qid, "answers")
        humans = human_answers(placed.obj.answers[relation], relation, rng_answers)
        answers = tuple(
            {"answer_id": j + 1, "answer": h.answer, "raw_answer": h.raw_answer,
             "answer_confidence": "yes" if h.confident else "no"}
            for j, h in enumerate(humans)
        )
        text = question_text(relation, ref, paraphrase=variant == "paraphrase")
        out.append(Question(qid, scene.image_id, text, relation, answers))
    return out


def assign_splits(n: int, fractions: Sequence[float], seed: int) -> dict[int, str]:
    """Image id -> split; whole images go to one split, sizes floor(n * fraction), test the rest."""
    ids = list(range(1, n + 1))
    random.Random(render.stable_int(f"{seed}:splits")).shuffle(ids)
    n_train, n_val = int(n * fractions[0]), int(n * fractions[1])
    return {image_id: ("train" if k < n_train else "val" if k < n_train + n_val else "test")
            for k, image_id in enumerate(ids)}


def image_path(split: str, image_id: int) -> str:
    return f"images/{split}/SYNTH_{split}_{image_id:012d}.png"


def questions_name(split: str) -> str:
    return f"OpenEnded_synthetic_{split}_questions.json"


def annotations_name(split: str) -> str:
    return f"synthetic_{split}_annotations.json"


def _output_names() -> list[str]:
    return ([MANIFEST, "scene_graphs.json", "image_data.json"]
            + [questions_name(s) for s in (*SPLITS, PRETRAIN)]
            + [annotations_name(s) for s in (*SPLITS, PRETRAIN)])


def prepare_out_dir(out_dir: Path) -> None:
    """Accept a new or empty directory, or clear an earlier benchmark's files (and only those)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(Errors.K326.format(path=out_dir))
    if not out_dir.exists() or not any(out_dir.iterdir()):
        out_dir.mkdir(parents=True, exist_ok=True)
        return
    try:
        previous = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if not isinstance(previous, dict) or previous.get("generator") != GENERATOR:
        raise ConfigError(Errors.K322.format(path=out_dir))
    for name in _output_names():
        (out_dir / name).unlink(missing_ok=True)
    for split in SPLITS:
        folder = out_dir / "images" / split
        for png in folder.glob(f"SYNTH_{split}_*.png"):
            png.unlink()
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _header(variant: str, split: str) -> dict[str, Any]:
    return {
        "info": {"description": "kgprune synthetic knowledge-grounded VQA benchmark",
                 "version": GENERATOR_VERSION, "contributor": "kgprune"},
        "license": {"name": "CC BY-SA 4.0 (knowledge from ConceptNet 5)",
                    "url": "https://creativecommons.org/licenses/by-sa/4.0/"},
        "data_type": f"synthetic_{variant}", "data_subtype": split, "task_type": "Open-Ended",
    }


def generate_benchmark(
    out_dir: Path | str,
    *,
    store: GraphStore,
    n: int,
    seed: int,
    variant: str = "standard",
    image_size: int = 96,
    splits: Sequence[float] = (0.7, 0.15, 0.15),
) -> BenchmarkManifest:
    """Write `n` images with questions, answers and scene graphs under `out_dir`."""
    check_arguments(n, variant, image_size, splits)
    out_dir = Path(out_dir)
    objects = benchmark_objects(store)
    prepare_out_dir(out_dir)
    split_of = assign_splits(n, splits, seed)
    manifest = BenchmarkManifest(
        seed=seed, n=n, variant=variant, image_size=image_size,
        splits=dict(zip(SPLITS, (float(f) for f in splits), strict=True)),
        kg_version=store.version(),
        objects=[{"uri": o.uri, "name": o.name, **asdict(o.signature),
                  "facts": {r: len(a) for r, a in o.answers.items()}} for o in objects],
    )
    graphs, image_data = [], []
    questions: dict[str, list[dict[str, Any]]] = {s: [] for s in (*SPLITS, PRETRAIN)}
    annotations: dict[str, list[dict[str, Any]]] = {s: [] for s in (*SPLITS, PRETRAIN)}
    by_split: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    for split in SPLITS:
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
    for image_id in range(1, n + 1):
        split = split_of[image_id]
        scene = plan_scene(image_id, objects, seed=seed, size=image_size,
                           min_objects=2 if variant == "compositional" else 1)
        image = render.render(image_size, [o.box for o in scene.objects], as_text=variant == "text",
                              jitter_seed=render.stable_int(f"{seed}:{image_id}:jitter"))
        if variant == "degraded":
            image = render.degrade(image, render.stable_int(f"{seed}:{image_id}:noise"))
        (out_dir / image_path(split, image_id)).write_bytes(render.png_bytes(image))
        graphs.append(scene_graph(scene))
        image_data.append({"image_id": image_id, "url": image_path(split, image_id),
                           "width": image_size, "height": image_size, "coco_id": None,
                           "flickr_id": None})
        asked = [(split, q) for q in make_questions(scene, seed=seed, variant=variant)]
        if split == "train":
            asked += [(PRETRAIN, q) for q in name_questions(scene, variant=variant)]
        for target, q in asked:
            questions[target].append({"image_id": image_id, "question": q.text,
                                      "question_id": q.question_id})
            annotations[target].append({"image_id": image_id, "question_id": q.question_id,
                                        "question_type": q.relation, "answer_type": "other",
                                        "answers": list(q.answers)})
            if target != PRETRAIN:
                by_split[split][q.relation] += 1
    manifest.questions[PRETRAIN] = len(questions[PRETRAIN])
    _dump(out_dir / questions_name(PRETRAIN), {**_header(variant, PRETRAIN),
                                               "questions": questions[PRETRAIN]})
    _dump(out_dir / annotations_name(PRETRAIN), {**_header(variant, PRETRAIN),
                                                 "annotations": annotations[PRETRAIN]})
    for split in SPLITS:
        _dump(out_dir / questions_name(split), {**_header(variant, split),
                                                "questions": questions[split]})
        _dump(out_dir / annotations_name(split), {**_header(variant, split),
                                                  "annotations": annotations[split]})
        manifest.images[split] = sum(1 for s in split_of.values() if s == split)
        manifest.questions[split] = len(questions[split])
        manifest.relations_by_split[split] = dict(sorted(by_split[split].items()))
    manifest.relations = dict(sorted(sum(by_split.values(), Counter()).items()))
    _dump(out_dir / "scene_graphs.json", graphs)
    _dump(out_dir / "image_data.json", image_data)
    _dump(out_dir / MANIFEST, manifest.to_json())
    return manifest
