"""LLaVA: a CLIP vision tower projected into a Llama-family LM that answers after the prompt.

The processor expands the single `<image>` of the prompt into one placeholder token per image
feature (patches, less CLS under the "default" strategy); the model scatters the projected
features into those positions, so the prompt must go through the processor, never the bare tokenizer.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlamaTokenizer,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

from kgprune.vqa.adapters.base import AnswerTargets, ModelInputs
from kgprune.vqa.adapters.hf_loading import AnswerPair, generative_answer_losses

PROMPT = "USER: <image>\n{question} ASSISTANT:"
"""The llava-1.5 conversation format."""

MAX_NEW_TOKENS = 10


def llama_char_tokenizer() -> LlamaTokenizer:
    """A character-level Llama tokenizer: BOS on every prompt, EOS and PAD defined, `<image>` special."""
    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    chars = ["▁", *(c for c in string.printable if not c.isspace() or c == "\n")]
    vocab = {token: i for i, token in enumerate(dict.fromkeys([*specials, *chars]))}
    tokenizer = LlamaTokenizer(vocab=vocab, merges=[], pad_token="<pad>", add_bos_token=True)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return tokenizer


class LlavaAdapter:
    """Loss per sample: sum over target answers of weight x mean NLL of the answer tokens and EOS.

    Each (sample, answer) pair is one left-padded row `prompt + answer + EOS` with labels only on
    the answer and EOS; left padding keeps every prompt next to its answer, as in generation.
    """

    family = "llava"

    def __init__(self, model: LlavaForConditionalGeneration, processor: LlavaProcessor) -> None:
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def from_directory(cls, path: Path) -> LlavaAdapter:
        model = LlavaForConditionalGeneration.from_pretrained(path, local_files_only=True)
        return cls(model, LlavaProcessor.from_pretrained(path, local_files_only=True))

    @classmethod
    def tiny(cls, answers: Sequence[str]) -> LlavaAdapter:
        """`answers` is unused: the character-level tokenizer already spells every answer."""
        tokenizer = llama_char_tokenizer()
        layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                  "num_attention_heads": 2}
        vision = CLIPVisionConfig(**layers, image_size=16, patch_size=8)
        text = LlamaConfig(**layers, num_key_value_heads=2, vocab_size=len(tokenizer),
                           max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        image_tokens = (16 // 8) ** 2
        config = LlavaConfig(vision_config=vision, text_config=text,
                             image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                             image_seq_length=image_tokens, vision_feature_layer=-1,
                             vision_feature_select_strategy="default")
        image_processor = CLIPImageProcessor(size={"shortest_edge": 16},
                                             crop_size={"height": 16, "width": 16})
        processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                                   vision_feature_select_strategy="default",
                                   num_additional_image_tokens=1)
        return cls(LlavaForConditionalGeneration(config), processor)

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, images: Sequence[Image.Image], questions: Sequence[str]) -> ModelInputs:
        prompts = [PROMPT.format(question=q) for q in questions]
        encoded = self.processor(images=[im.convert("RGB") for im in images], text=prompts,
                                 padding=True, return_tensors="pt")
        keep = ("pixel_values", "input_ids", "attention_mask")
        return {k: encoded[k].to(self._device()) for k in keep}

    def _rows(self, inputs: ModelInputs, pairs: list[AnswerPair]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Left-padded input ids, attention mask and labels for the (sample, answer) pairs."""
        answers = self.tokenizer([a for _, a in pairs], add_special_tokens=False)["input_ids"]
        sequences, labels = [], []
        for (row, _), answer in zip(pairs, answers, strict=True):
            prompt = inputs["input_ids"][row][inputs["attention_mask"][row].bool()].tolist()
            target = [*answer, self.tokenizer.eos_token_id]
            sequences.append(prompt + target)
            labels.append([-100] * len(prompt) + target)
        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id

        def left(rows: list[list[int]], fill: int) -> torch.Tensor:
            return torch.tensor([[fill] * (width - len(r)) + r for r in rows], device=self._device())

        mask = left([[1] * len(s) for s in sequences], 0)
        return left(sequences, pad), mask, left(labels, -100)

    def answer_losses(self, inputs: ModelInputs,
                      *targets: Sequence[AnswerTargets]) -> tuple[torch.Tensor, ...]:
        return generative_answer_losses(inputs["input_ids"].shape[0], targets, self._device(),
                                        lambda pairs, rows: self._mean_nll(inputs, pairs, rows))

    def _mean_nll(self, inputs: ModelInputs, pairs: list[AnswerPair],
                  rows: torch.Tensor) -> torch.Tensor:
        input_ids, attention_mask, labels = self._rows(inputs, pairs)
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask,
                            pixel_values=inputs["pixel_values"][rows]).logits
        shifted = labels[:, 1:]
        token_nll = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), shifted,
                                    reduction="none", ignore_index=-100)
        counted = (shifted != -100).float()
        return token_nll.sum(dim=1) / counted.sum(dim=1).clamp(min=1)

    def predict(self, inputs: ModelInputs) -> list[str]:
        with torch.no_grad():
            output = self.model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                         num_beams=1, pad_token_id=self.tokenizer.pad_token_id)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        return [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
