"""`--data` folders in the layouts kgprune reads, told apart by their files (FORMATS.md §3-4).

- synthetic: a `kgprune vqa make-synthetic` folder (manifest.json): train/val/test as written.
- OK-VQA: the release's `OpenEnded_mscoco_<s>2014_questions.json` and
  `mscoco_<s>2014_annotations.json` (or `_v1.0`/`_v1.1`-suffixed copies; `_v1.1` is preferred,
  then the unsuffixed release name), COCO images `<s>2014/COCO_<s>2014_<id:012d>.jpg` in the
  folder or in `images/`. OK-VQA has no separate test set: papers report on val2014, so
  train = train2014 (training, importance, fine-tuning) and val = test = val2014 (evaluation).
- FVQA: `all_qs_dict_release.json`, `all_fact_triples_release.json` and `images/`, in the folder
  or its `new_dataset_release/`. Splits follow the release's `Name_Lists/{train,test}_list_0.txt`
  (fold 0; val = test); without Name_Lists, images are split half and half by the SHA-256 of
  their file name, so the split is the same on every machine and no image is in both.

Objects in each image, which linking turns into image concepts: the synthetic scene graphs; for
a real dataset `detections.json` (`{image: [{label, score, box}, ...]}`, keyed by image file
name or COCO id; labels scoring under 0.5 are dropped), else Visual Genome
(`visual_genome/image_data.json` + `objects.json`, matched by `coco_id`), else none: linking
then sees the question alone. `record()` says which, for run records.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from kgprune.errors import Errors, InputFormatError
from kgprune.kg.loaders.json_stream import JsonArrayReader
from kgprune.kg.loaders.visual_genome import object_names
from kgprune.retrieval.facts import RetrievalQuery
from kgprune.vqa.datasets import (
    VqaDataset,
    VqaSample,
    load_fvqa,
    load_okvqa,
    read_json,
)
from kgprune.vqa.training import load_synthetic_split, sample_id, synthetic_queries

SYNTHETIC, OKVQA, FVQA = "synthetic", "okvqa", "fvqa"
SPLITS = ("train", "val", "test")
REAL_IMAGE_SIZE = 32
"""Side the built-in model resizes real images to: kgvqa's tiny config reads 32 x 32 pixels."""
DETECTIONS = "detections.json"
DETECTIONS_LAYOUT = "detections ({image: [{label, score, box}, ...]})"
VISUAL_GENOME = "visual_genome"
MIN_SCORE = 0.5
OKVQA_COCO_SPLIT = {"train": "train", "val": "val", "test": "val"}
FVQA_RELEASE = "new_dataset_release"
FVQA_QUESTIONS = "all_qs_dict_release.json"
FVQA_FACTS = "all_fact_triples_release.json"
FVQA_FOLD = 0
_COCO_ID = re.compile(r"^COCO_(?:train|val|test)2014_(\d{12})\.jpg$")


class Benchmark(Protocol):
    """What training, pruning and evaluation need from a `--data` folder, in any layout."""

    root: Path
    layout: str
    image_size: int

    def split(self, name: str) -> list[VqaSample]: ...

    def queries(self, samples: Sequence[VqaSample]) -> list[RetrievalQuery]: ...

    def record(self) -> dict[str, Any]: ...


def _check_split(name: str, layout: str, root: Path) -> None:
    if name not in SPLITS:
        raise InputFormatError(Errors.K313.format(split=name, layout=layout, path=root,
                                                  known=", ".join(SPLITS)))


@dataclass(frozen=True)
class SyntheticBenchmark:
    root: Path
    image_size: int
    layout: str = SYNTHETIC

    def split(self, name: str) -> list[VqaSample]:
        _check_split(name, self.layout, self.root)
        return load_synthetic_split(self.root, name)

    def queries(self, samples: Sequence[VqaSample]) -> list[RetrievalQuery]:
        return synthetic_queries(self.root, samples)

    def record(self) -> dict[str, Any]:
        return {"layout": self.layout, "path": str(self.root),
                "splits": "train/val/test as generated", "objects": "scene graphs",
                "objects_file": str(self.root / "scene_graphs.json")}


@dataclass(frozen=True)
class ImageObjects:
    """Object names per image key (image file name or COCO id), and where they came from."""

    source: str
    path: Path | None = None
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def of(self, sample: VqaSample) -> tuple[str, ...]:
        for key in image_keys(sample):
            if key in self.names:
                return self.names[key]
        return ()


def image_keys(sample: VqaSample) -> tuple[str, ...]:
    """The keys an image goes by: its file name, its id, and the COCO id inside a COCO name."""
    keys = [str(sample.image_id)]
    if sample.image_path is not None:
        keys.insert(0, sample.image_path.name)
    match = _COCO_ID.match(Path(str(sample.image_id)).name)
    if match:
        keys.append(str(int(match.group(1))))
    return tuple(dict.fromkeys(keys))


def _detections(path: Path) -> ImageObjects:
    data = read_json(path, DETECTIONS_LAYOUT)
    if not isinstance(data, dict):
        raise InputFormatError(Errors.K301.format(
            path=path, where="top level", layout=DETECTIONS_LAYOUT,
            problem=f"expected an object keyed by image, got {type(data).__name__}"))
    names: dict[str, tuple[str, ...]] = {}
    for image, found in data.items():
        if not isinstance(found, list):
            raise InputFormatError(Errors.K301.format(
                path=path, where=f"image {image}", layout=DETECTIONS_LAYOUT,
                problem=f"expected a list of detections, got {type(found).__name__}"))
        kept = []
        for i, d in enumerate(found):
            label, score = (d.get("label"), d.get("score")) if isinstance(d, dict) else (None, None)
            if not isinstance(label, str) or not isinstance(score, int | float):
                raise InputFormatError(Errors.K301.format(
                    path=path, where=f"image {image}, detection {i}", layout=DETECTIONS_LAYOUT,
                    problem="needs a string 'label' and a number 'score'"))
            if score >= MIN_SCORE:
                kept.append(label)
        names[str(image)] = tuple(dict.fromkeys(kept))
    return ImageObjects("detections", path, names)


def _visual_genome(folder: Path) -> ImageObjects:
    for name in ("image_data.json", "objects.json"):
        if not (folder / name).is_file():
            raise InputFormatError(Errors.K316.format(path=folder, missing=name))
    coco = {}
    for entry in JsonArrayReader(folder / "image_data.json"):
        if isinstance(entry.get("coco_id"), int):
            coco[entry.get("image_id", entry.get("id"))] = entry["coco_id"]
    names: dict[str, tuple[str, ...]] = {}
    for entry in JsonArrayReader(folder / "objects.json"):  # GBs in the release: streamed
        coco_id = coco.get(entry.get("image_id", entry.get("id")))
        if coco_id is not None:
            found = [n for o in entry.get("objects") or () if isinstance(o, dict)
                     for n in object_names(o)]
            names[str(coco_id)] = tuple(dict.fromkeys(found))
    return ImageObjects("visual genome", folder, names)


def image_objects(root: Path) -> ImageObjects:
    """Detections, else Visual Genome scene graphs, else none (linking reads the question)."""
    if (root / DETECTIONS).is_file():
        return _detections(root / DETECTIONS)
    if (root / VISUAL_GENOME).is_dir():
        return _visual_genome(root / VISUAL_GENOME)
    return ImageObjects("question only")


def _require_images(dataset: VqaDataset, split: str, where: Path, layout: str) -> None:
    if dataset.missing_images:
        raise InputFormatError(Errors.K314.format(
            count=len(dataset.missing_images), n=len(dataset.samples), split=split, where=where,
            first=dataset.missing_images[0], layout=layout))


@dataclass(frozen=True)
class _RealBenchmark:
    root: Path
    objects: ImageObjects

    def queries(self, samples: Sequence[VqaSample]) -> list[RetrievalQuery]:
        return [RetrievalQuery(sample_id(s), s.question, self.objects.of(s)) for s in samples]

    def _objects_record(self) -> dict[str, Any]:
        path = self.objects.path
        return {"objects": self.objects.source, "objects_file": str(path) if path else None}


@dataclass(frozen=True)
class OkVqaBenchmark(_RealBenchmark):
    layout: str = OKVQA
    image_size: int = REAL_IMAGE_SIZE

    def files(self, coco: str) -> tuple[Path, Path]:
        """(questions, annotations) of a COCO split: `_v1.1`, then the release name, `_v1.0`."""
        questions = self.root / f"OpenEnded_mscoco_{coco}2014_questions.json"
        stem = f"mscoco_{coco}2014_annotations"
        candidates = [self.root / f"{stem}{v}.json" for v in ("_v1.1", "", "_v1.0")]
        annotations = next((c for c in candidates if c.is_file()), candidates[1])
        split = next(s for s, c in OKVQA_COCO_SPLIT.items() if c == coco)
        for path in (questions, annotations):
            if not path.is_file():
                raise InputFormatError(Errors.K311.format(path=self.root, missing=path.name,
                                                          split=split, coco=coco))
        return questions, annotations

    def _images_dir(self) -> Path:
        return self.root / "images" if (self.root / "images").is_dir() else self.root

    def load(self, name: str) -> VqaDataset:
        _check_split(name, self.layout, self.root)
        coco = OKVQA_COCO_SPLIT[name]
        questions, annotations = self.files(coco)
        return load_okvqa(questions, annotations, self._images_dir(), split=coco)

    def split(self, name: str) -> list[VqaSample]:
        dataset = self.load(name)
        _require_images(dataset, name, self._images_dir() / f"{OKVQA_COCO_SPLIT[name]}2014",
                        "OK-VQA (COCO 2014)")
        return dataset.samples

    def record(self) -> dict[str, Any]:
        _, annotations = self.files("val")
        return {"layout": self.layout, "path": str(self.root), "version": self.load("test").version,
                "splits": "train = train2014; val = test = val2014",
                "annotations": annotations.name, **self._objects_record()}


def _seeded_train(img_file: str) -> bool:
    return hashlib.sha256(f"kgprune-fvqa:{img_file}".encode()).digest()[0] < 128


@dataclass(frozen=True)
class FvqaBenchmark(_RealBenchmark):
    base: Path = Path()
    """The folder holding the release's JSON files and images/ (root or its new_dataset_release)."""
    layout: str = FVQA
    image_size: int = REAL_IMAGE_SIZE

    def _lists(self) -> Path | None:
        for folder in (self.root / "Name_Lists", self.base / "Name_Lists"):
            if folder.is_dir():
                return folder
        return None

    def _split_images(self, name: str) -> set[str] | None:
        """The image files of a split from Name_Lists (None: no lists, use the seeded split)."""
        lists = self._lists()
        if lists is None:
            return None
        kind = "train" if name == "train" else "test"
        path = lists / f"{kind}_list_{FVQA_FOLD}.txt"
        if not path.is_file():
            raise InputFormatError(Errors.K312.format(path=self.root,
                                                      missing=f"Name_Lists/{path.name}"))
        return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()}

    def split(self, name: str) -> list[VqaSample]:
        _check_split(name, self.layout, self.root)
        images = self.base / "images"
        if not images.is_dir():
            raise InputFormatError(Errors.K312.format(path=self.root, missing="images/"))
        dataset = load_fvqa(self.base / FVQA_QUESTIONS, self.base / FVQA_FACTS, images)
        chosen = self._split_images(name)
        keep = [s for s in dataset.samples
                if (str(s.image_id) in chosen if chosen is not None
                    else _seeded_train(str(s.image_id)) == (name == "train"))]
        if not keep:
            detail = (f"none of its images are in Name_Lists fold {FVQA_FOLD}" if chosen is not None
                      else "the seeded split put no image in it")
            raise InputFormatError(Errors.K315.format(split=name, path=self.root, detail=detail))
        kept_ids = {str(s.image_id) for s in keep}
        missing = [m for m in dataset.missing_images if m in kept_ids]
        _require_images(replace(dataset, samples=keep, missing_images=missing), name, images,
                        "FVQA")
        return keep

    def record(self) -> dict[str, Any]:
        splits = (f"Name_Lists fold {FVQA_FOLD} (val = test)" if self._lists() is not None
                  else "seeded by image file name (SHA-256, half and half; val = test)")
        return {"layout": self.layout, "path": str(self.root), "splits": splits,
                **self._objects_record()}


def _fvqa_base(root: Path) -> Path | None:
    for folder in (root, root / FVQA_RELEASE):
        if (folder / FVQA_QUESTIONS).is_file():
            return folder
    return None


def _is_okvqa(root: Path) -> bool:
    return any(root.glob("OpenEnded_mscoco_*2014_questions.json")) or any(
        root.glob("mscoco_*2014_annotations*.json"))


def open_benchmark(root: Path) -> Benchmark:
    """The folder's layout, from its files; a coded error naming what is missing otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise InputFormatError(Errors.K310.format(path=root, detail="not a directory"))
    if (root / "manifest.json").is_file():
        manifest = read_json(root / "manifest.json", "kgprune synthetic benchmark manifest")
        return SyntheticBenchmark(root, int(manifest["image_size"]))
    base = _fvqa_base(root)
    if base is not None:
        if not (base / FVQA_FACTS).is_file():
            raise InputFormatError(Errors.K312.format(path=root, missing=FVQA_FACTS))
        return FvqaBenchmark(root, image_objects(root), base=base)
    if _is_okvqa(root):
        return OkVqaBenchmark(root, image_objects(root))
    raise InputFormatError(Errors.K310.format(
        path=root, detail=f"no manifest.json, OpenEnded_mscoco_*2014_questions.json or "
        f"{FVQA_QUESTIONS}"))

