"""A synthetic knowledge VQA task with a clear signal, for tests that need a TRAINED model.

Each image is a coloured square on a grey background at a random place. "what color is the
square" asks for the colour (task only); "which fruit has this color" asks for a fruit that a
knowledge graph would link to the colour, so those samples are knowledge-grounded. The answer
needs both the image and the question, so every tower of the model takes part.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw

from kgprune.pruning.importance import ScoringBatch
from kgprune.vqa.adapters.kgvqa import UNK, KgVqaAdapter, KgVqaConfig
from kgprune.vqa.knowledge_loss import batch_losses

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 220),
          "yellow": (230, 220, 40)}
FRUITS = {"red": "apple", "green": "lime", "blue": "blueberry", "yellow": "banana"}
QUESTIONS = ("what color is the square", "which fruit has this color")
ANSWERS = (UNK, *COLORS, *FRUITS.values())
CONFIG = KgVqaConfig(image_size=16, patch_size=8, dim=32, num_heads=4, mlp_dim=64,
                     vision_layers=1, fusion_layers=2, text_layers=1, max_question_tokens=12)


@dataclass(frozen=True, slots=True)
class Sample:
    image: Image.Image
    question: str
    task: dict[str, float]
    knowledge: dict[str, float]


def samples(n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        color = rng.choice(list(COLORS))
        image = Image.new("RGB", (16, 16), (128, 128, 128))
        x, y = rng.randint(0, 9), rng.randint(0, 9)
        ImageDraw.Draw(image).rectangle((x, y, x + 6, y + 6), fill=COLORS[color])
        kind = rng.randrange(2)
        answer = color if kind == 0 else FRUITS[color]
        out.append(Sample(image, QUESTIONS[kind], {answer: 1.0}, {} if kind == 0 else {answer: 1.0}))
    return out


def batches(adapter: KgVqaAdapter, data: Sequence[Sample], size: int) -> list[ScoringBatch]:
    return [ScoringBatch(adapter.prepare([s.image for s in part], [s.question for s in part]),
                         [s.task for s in part], [s.knowledge for s in part])
            for part in (data[i:i + size] for i in range(0, len(data), size))]


def adapter(seed: int = 0) -> KgVqaAdapter:
    return KgVqaAdapter.build(CONFIG, ANSWERS, seed=seed)


def train(model: KgVqaAdapter, data: list[ScoringBatch], *, epochs: int, seed: int = 0,
          lr: float = 3e-3) -> None:
    """Adam on L_task + 0.5·L_knowledge, batches in a seeded order."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.model.parameters(), lr=lr)
    model.model.train()
    order = random.Random(seed)
    for _ in range(epochs):
        for batch in order.sample(data, len(data)):
            loss = batch_losses(model, batch.inputs, task=batch.task, knowledge=batch.knowledge,
                                lam=0.5).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.model.eval()
