"""The OK-VQA and FVQA fixture files, and helpers to write malformed copies of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.vqa.layout_data import write_fvqa, write_okvqa

FIXTURES = Path(__file__).parent.parent / "fixtures"
QUESTIONS = "OpenEnded_mscoco_val2014_questions.json"
ANNOTATIONS = "mscoco_val2014_annotations.json"


@pytest.fixture
def okvqa_dir() -> Path:
    return FIXTURES / "okvqa"


@pytest.fixture
def fvqa_dir() -> Path:
    return FIXTURES / "fvqa"


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def okvqa_folder(tmp_path: Path) -> Path:
    """An OK-VQA v1.1 folder with COCO images and detections (tests/vqa/layout_data.py)."""
    return write_okvqa(tmp_path / "okvqa")


@pytest.fixture
def fvqa_folder(tmp_path: Path) -> Path:
    """An FVQA release folder with images and Name_Lists (tests/vqa/layout_data.py)."""
    return write_fvqa(tmp_path / "fvqa")
