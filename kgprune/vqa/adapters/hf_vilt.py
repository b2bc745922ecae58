"""ViLT: a single-stream classifier whose answer vocabulary is `config.id2label`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from transformers import ViltConfig, ViltForQuestionAnswering, ViltImageProcessor, ViltProcessor

from kgprune.vqa.adapters.base import AnswerTargets, ModelInputs
from kgprune.vqa.adapters.hf_loading import check_batch, tiny_tokenizer
from kgprune.vqa.metrics import normalize_answer


class ViltAdapter:
    """Cross-entropy over the label vocabulary; targets outside it are dropped and the rest renormalised."""

    family = "vilt"

    def __init__(self, model: ViltForQuestionAnswering, processor: ViltProcessor) -> None:
        self.model = model
        self.processor = processor
        self.labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
        # Targets arrive normalised (knowledge_loss), labels may not be: match on the normal form.
        self.label_index: dict[str, int] = {}
        for i, label in enumerate(self.labels):
            self.label_index.setdefault(normalize_answer(label), i)

    @classmethod
    def from_directory(cls, path: Path) -> ViltAdapter:
        model = ViltForQuestionAnswering.from_pretrained(path, local_files_only=True)
        return cls(model, ViltProcessor.from_pretrained(path, local_files_only=True))

    @classmethod
    def tiny(cls, answers: Sequence[str]) -> ViltAdapter:
        tokenizer = tiny_tokenizer(answers)
        config = ViltConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, image_size=32, patch_size=16, max_position_embeddings=40,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            id2label=dict(enumerate(answers)), label2id={a: i for i, a in enumerate(answers)})
        image_processor = ViltImageProcessor(size={"shortest_edge": 32}, size_divisor=16)
        return cls(ViltForQuestionAnswering(config),
                   ViltProcessor(image_processor=image_processor, tokenizer=tokenizer))

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, images: Sequence[Image.Image], questions: Sequence[str]) -> ModelInputs:
        encoded = self.processor(images=[im.convert("RGB") for im in images], text=list(questions),
                                 padding=True, truncation=True,
                                 max_length=self.model.config.max_position_embeddings,
                                 return_tensors="pt")
        return {k: v.to(self._device()) for k, v in encoded.items()}

    def answer_losses(self, inputs: ModelInputs,
                      *targets: Sequence[AnswerTargets]) -> tuple[torch.Tensor, ...]:
        log_probs = torch.log_softmax(self.model(**inputs).logits.float(), dim=-1)
        return tuple(-(self._distribution(t, log_probs) * log_probs).sum(dim=-1) for t in targets)

    def _distribution(self, targets: Sequence[AnswerTargets], like: torch.Tensor) -> torch.Tensor:
        check_batch(targets, like.shape[0])
        dist = torch.zeros_like(like)
        for row, target in enumerate(targets):
            for answer, weight in target.items():
                index = self.label_index.get(normalize_answer(answer))
                if index is not None and weight > 0:
                    dist[row, index] += weight
        return dist / dist.sum(dim=-1, keepdim=True).clamp(min=1e-12)

    def predict(self, inputs: ModelInputs) -> list[str]:
        with torch.no_grad():
            logits = self.model(**inputs).logits
        return [self.labels[i] for i in logits.argmax(dim=-1).tolist()]
