"""Tiny OK-VQA and FVQA folders in the releases' layouts, written by the tests: JSON files as
released (FORMATS.md §3-4), real JPEG images named as in COCO 2014 and ImageNet, and optional
detections or Visual Genome objects. The questions ask about objects the bundled KG knows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

COLOURS = {"umbrella": (200, 30, 30), "knife": (160, 160, 170), "dog": (150, 100, 50),
           "bicycle": (20, 120, 220), "cup": (240, 240, 240), "bed": (90, 40, 140),
           "kite": (250, 200, 0), "pizza": (230, 120, 20)}


@dataclass(frozen=True)
class Item:
    """One question on one image: (raw answer, stemmed answer, count) groups summing to 10."""

    image_id: int
    obj: str
    question: str
    answers: tuple[tuple[str, str, int], ...]


USED_FOR = "What is this used for?"
OKVQA = {
    "train": [
        Item(9, "umbrella", USED_FOR, (("staying dry", "stay dry", 7), ("keeping dry", "keep dry", 3))),
        Item(25, "knife", USED_FOR, (("cutting", "cut", 8), ("slicing", "slice", 2))),
        Item(30, "dog", "What animal is this?", (("dog", "dog", 6), ("dogs", "dog", 2), ("puppy", "puppy", 2))),
        Item(34, "bicycle", USED_FOR, (("riding", "ride", 10),)),
        Item(42, "cup", USED_FOR, (("drinking", "drink", 10),)),
        Item(49, "bed", "Where is this usually found?", (("bedroom", "bedroom", 10),)),
        Item(61, "kite", USED_FOR, (("flying", "fly", 10),)),
        Item(73, "pizza", "What is on top of this?", (("cheese", "cheese", 6), ("tomatoes", "tomato", 4))),
        Item(73, "pizza", "Where is this usually eaten?", (("restaurant", "restaurant", 10),)),
        Item(9, "umbrella", "Where is this usually kept?", (("closet", "closet", 10),)),
    ],
    "val": [
        Item(80, "umbrella", USED_FOR, (("staying dry", "stay dry", 10),)),
        Item(88, "knife", USED_FOR, (("cutting", "cut", 10),)),
        Item(95, "kite", USED_FOR, (("flying", "fly", 6), ("playing", "play", 4))),
        Item(97, "dog", "What animal is this?", (("dogs", "dog", 10),)),
    ],
}


def jpeg(path: Path, colour: tuple[int, int, int], size: int = 24) -> None:
    """A real JPEG: a coloured square on grey, so images of different objects differ."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (size, size), (128, 128, 128))
    image.paste(colour, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    image.save(path, format="JPEG")


def coco_name(split: str, image_id: int) -> str:
    return f"COCO_{split}2014_{image_id:012d}.jpg"


def _dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def write_okvqa(root: Path, *, version: str = "1.1", suffix: str = "",
                objects: str = "detections") -> Path:
    """An OK-VQA folder: questions and annotations per COCO split (v1.1 answers stemmed with
    `raw_answer`; v1.0 raw answers only), images under <split>2014/, and image objects from
    `objects`: "detections" (detections.json), "vg" (visual_genome/) or "" (none)."""
    question_id = 100
    detections: dict[str, list[dict[str, Any]]] = {}
    for split, items in OKVQA.items():
        questions, annotations = [], []
        for item in items:
            question_id += 1
            questions.append({"image_id": item.image_id, "question": item.question,
                              "question_id": question_id})
            answers = []
            for raw, stem, count in item.answers:
                for _ in range(count):
                    entry = {"answer_id": len(answers) + 1, "answer_confidence": "yes",
                             "answer": stem if version == "1.1" else raw}
                    if version == "1.1":
                        entry["raw_answer"] = raw
                    answers.append(entry)
            annotations.append({"image_id": item.image_id, "question_id": question_id,
                                "question_type": "eight", "answer_type": "other",
                                "answers": answers})
            name = coco_name(split, item.image_id)
            jpeg(root / f"{split}2014" / name, COLOURS[item.obj])
            # half keyed by file name, half by COCO id: both are accepted
            key = name if item.image_id % 2 else str(item.image_id)
            detections[key] = [{"label": item.obj, "score": 0.92, "box": [6, 6, 12, 12]},
                               {"label": "airplane", "score": 0.1, "box": [0, 0, 4, 4]}]
        header = {"info": {"description": "OK-VQA layout test data"}, "license": {"name": "CC BY 4.0"},
                  "data_subtype": f"{split}2014", "data_type": "mscoco"}
        _dump(root / f"OpenEnded_mscoco_{split}2014_questions.json",
              {**header, "task_type": "Open-Ended", "questions": questions})
        _dump(root / f"mscoco_{split}2014_annotations{suffix}.json",
              {**header, "annotations": annotations})
    if objects == "detections":
        _dump(root / "detections.json", detections)
    elif objects == "vg":
        _write_vg(root / "visual_genome", {i.image_id: i.obj for items in OKVQA.values()
                                           for i in items})
    return root


def _write_vg(folder: Path, objects_by_coco: dict[int, str]) -> None:
    """Visual Genome image_data.json (with coco_id) and objects.json (name vs names quirk)."""
    image_data, objects = [], []
    for vg_id, (coco_id, name) in enumerate(sorted(objects_by_coco.items()), start=1000):
        image_data.append({"image_id": vg_id, "url": f"https://example.org/{vg_id}.jpg",
                           "width": 24, "height": 24, "coco_id": coco_id, "flickr_id": None})
        obj = {"object_id": vg_id * 10, "x": 6, "y": 6, "w": 12, "h": 12, "synsets": []}
        obj.update({"names": [name]} if vg_id % 2 else {"name": name})
        objects.append({"image_id": vg_id, "objects": [obj]})
    image_data.append({"image_id": 1, "url": "", "width": 24, "height": 24, "coco_id": None,
                       "flickr_id": 5})
    objects.append({"image_id": 1, "objects": [{"object_id": 1, "names": ["tree"]}]})
    _dump(folder / "image_data.json", image_data)
    _dump(folder / "objects.json", objects)


# FVQA: (question key, image file, object, question, answer, fact id, kb, relation, fold-0 list)
FVQA = [
    ("0", "COCO_val2014_000000001234.jpg", "umbrella", "Which object here keeps you dry in rain?",
     "umbrella", "f_881", "/r/UsedFor", "stay_dry", "train"),
    ("1", "ILSVRC2012_val_00001021.JPEG", "knife", "What is the object in the image used for?",
     "cut", "f_902", "/r/UsedFor", "cut", "train"),
    ("2", "COCO_val2014_000000005678.jpg", "cup", "What is the object in the image used for?",
     "drink", "f_903", "/r/UsedFor", "drink", "train"),
    ("3", "COCO_train2014_000000000731.jpg", "kite", "What can you do with this object?",
     "fly", "f_904", "/r/UsedFor", "fly", "train"),
    ("4", "ILSVRC2012_val_00002002.JPEG", "bicycle", "What is this object used for?",
     "ride", "f_905", "/r/UsedFor", "ride", "train"),
    ("5", "COCO_val2014_000000001234.jpg", "umbrella", "Where would you keep this object?",
     "closet", "f_906", "/r/AtLocation", "closet", "train"),
    ("6", "COCO_val2014_000000009012.jpg", "knife", "Which object in the image can cut bread?",
     "knife", "f_902", "/r/UsedFor", "cut", "test"),
    ("7", "ILSVRC2012_val_00003003.JPEG", "cup", "What is the object in the image used for?",
     "drink", "f_903", "/r/UsedFor", "drink", "test"),
    ("8", "COCO_val2014_000000009999.jpg", "kite", "What is this object used for?", "fly",
     "f_904", "/r/UsedFor", "fly", "test"),
]


def write_fvqa(root: Path, *, name_lists: bool = True, objects: str = "") -> Path:
    """An FVQA release unzipped at `root`: new_dataset_release/ with the questions dict, the fact
    triples and images/, plus Name_Lists/ fold 0 when `name_lists`."""
    base = root / "new_dataset_release"
    questions, facts = {}, {}
    for key, img, obj, question, answer, fact, relation, tail, _ in FVQA:
        questions[key] = {"question": question, "answer": answer, "img_file": img,
                          "fact": [fact], "fact_surface": f"[[{obj}]] is related to [[{tail}]]",
                          "kb_source": "conceptnet", "ans_source": "image" if answer == obj else "kb",
                          "visual_concept": "obj", "question_id": key}
        facts[fact] = {"e1": f"/c/en/{obj}", "r": relation, "e2": f"/c/en/{tail}",
                       "e1_label": obj, "e2_label": tail.replace("_", " "), "KB": "conceptnet",
                       "surface": f"[[{obj}]] is related to [[{tail.replace('_', ' ')}]]"}
        jpeg(base / "images" / img, COLOURS[obj])
    _dump(base / "all_qs_dict_release.json", questions)
    _dump(base / "all_fact_triples_release.json", facts)
    if name_lists:
        lists = root / "Name_Lists"
        lists.mkdir(parents=True, exist_ok=True)
        for kind in ("train", "test"):
            names = sorted({f[1] for f in FVQA if f[8] == kind})
            for fold in range(5):
                (lists / f"{kind}_list_{fold}.txt").write_text("\n".join(names) + "\n",
                                                               encoding="utf-8")
    if objects == "vg":
        coco = {int(img[-16:-4]): obj for _, img, obj, *_ in FVQA if img.startswith("COCO_")}
        _write_vg(root / "visual_genome", coco)
    return root
