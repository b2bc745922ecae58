"""Tiny seeded models of every family kgprune prunes, with example inputs and a forward to compare.

`tiny_model(family)` builds the model in eval mode; `TinyModel.output()` runs it on its inputs and
returns one float tensor (logits, hidden states, pooled outputs), so gated and sliced models can be
compared with `torch.testing.assert_close`. `random_plan` draws a seeded plan that removes some
heads and neurons in every group, and `removed_params` is what slicing that plan must free.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from transformers import (
    BertConfig,
    BertModel,
    CLIPVisionConfig,
    CLIPVisionModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from kgprune.pruning.plan import GroupPlan, PruningPlan
from kgprune.pruning.units import HeadGroup, UnitSet
from kgprune.vqa.adapters.hf_loading import HfAdapter, tiny_adapter
from kgprune.vqa.adapters.kgvqa import KgVqa, KgVqaConfig

FAMILIES = ("kgvqa", "bert", "vilt", "blip", "clip", "siglip", "opt", "llama", "qwen2", "mistral",
            "llava")
"""llama and qwen2 use grouped-query attention (4 heads / 2 key-value, 6 / 3), mistral one
key/value head for 4 query heads; the LLaVA language model has as many key/value heads as heads."""

GQA_FAMILIES = ("llama", "qwen2", "mistral")
QUESTIONS = ("what color is the dog", "how many cats are there in this picture")
_LAYERS = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4}
_VOCAB = 50

Inputs = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TinyModel:
    """A model, its example inputs and how to turn them into one output tensor."""

    family: str
    model: nn.Module
    inputs: Inputs
    run: Callable[[nn.Module, Inputs], torch.Tensor]
    adapter: HfAdapter | None = None

    def output(self) -> torch.Tensor:
        return self.run(self.model, self.inputs)


def images(n: int = 2, size: int = 32, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
            for _ in range(n)]


def _token_inputs(generator: torch.Generator) -> Inputs:
    """Two sequences of 7 tokens, the second right-padded by 2, so masks take part."""
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, -2:] = 0
    return {"input_ids": torch.randint(3, _VOCAB, (2, 7), generator=generator),
            "attention_mask": mask}


def _pixels(generator: torch.Generator, size: int = 16) -> Inputs:
    return {"pixel_values": torch.randn(2, 3, size, size, generator=generator)}


def _flat(*tensors: torch.Tensor) -> torch.Tensor:
    return torch.cat([t.float().flatten() for t in tensors])


def _logits(model: nn.Module, inputs: Inputs) -> torch.Tensor:
    return model(**inputs).logits


def _hidden(model: nn.Module, inputs: Inputs) -> torch.Tensor:
    return model(**inputs).last_hidden_state


def _vision(model: nn.Module, inputs: Inputs) -> torch.Tensor:
    out = model(**inputs)
    return _flat(out.last_hidden_state, out.pooler_output)


def _kgvqa(model: nn.Module, inputs: Inputs) -> torch.Tensor:
    return model(inputs["pixel_values"], inputs["input_ids"], inputs["attention_mask"])


def _blip(model: nn.Module, inputs: Inputs) -> torch.Tensor:
    """Vision encoder, question encoder with cross-attention, then the answer decoder's logits."""
    image = model.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
    image_mask = torch.ones(image.shape[:-1], dtype=torch.long)
    question = model.text_encoder(input_ids=inputs["input_ids"],
                                  attention_mask=inputs["attention_mask"],
                                  encoder_hidden_states=image,
                                  encoder_attention_mask=image_mask).last_hidden_state
    ids = inputs["input_ids"].clone()
    ids[:, 0] = model.decoder_start_token_id
    logits = model.text_decoder(input_ids=ids, attention_mask=inputs["attention_mask"],
                                encoder_hidden_states=question,
                                encoder_attention_mask=inputs["attention_mask"]).logits
    return _flat(image, question, logits)


def _build(family: str, generator: torch.Generator) -> TinyModel:
    if family == "kgvqa":
        config = KgVqaConfig(dim=32, num_heads=4, mlp_dim=64, image_size=16, patch_size=8)
        model = KgVqa(config, num_answers=6, vocab_size=_VOCAB, pretrained=False)
        return TinyModel(family, model, {**_pixels(generator), **_token_inputs(generator)}, _kgvqa)
    if family == "bert":
        model = BertModel(BertConfig(vocab_size=_VOCAB, hidden_dropout_prob=0.0,
                                     attention_probs_dropout_prob=0.0, **_LAYERS))
        return TinyModel(family, model, _token_inputs(generator), _hidden)
    if family in ("clip", "siglip"):
        kind = (CLIPVisionModel, CLIPVisionConfig) if family == "clip" else \
            (SiglipVisionModel, SiglipVisionConfig)
        model = kind[0](kind[1](image_size=16, patch_size=8, **_LAYERS))
        return TinyModel(family, model, _pixels(generator), _vision)
    causal: dict[str, Callable[[], nn.Module]] = {
        "opt": lambda: OPTForCausalLM(OPTConfig(
            vocab_size=_VOCAB, hidden_size=32, ffn_dim=64, num_hidden_layers=2,
            num_attention_heads=4, word_embed_proj_dim=32, dropout=0.0)),
        "llama": lambda: LlamaForCausalLM(LlamaConfig(vocab_size=_VOCAB, num_key_value_heads=2,
                                                      **_LAYERS)),
        "qwen2": lambda: Qwen2ForCausalLM(Qwen2Config(
            vocab_size=_VOCAB, **{**_LAYERS, "hidden_size": 48, "num_attention_heads": 6},
            num_key_value_heads=3)),
        "mistral": lambda: MistralForCausalLM(MistralConfig(vocab_size=_VOCAB,
                                                            num_key_value_heads=1, **_LAYERS)),
    }
    if family in causal:
        return TinyModel(family, causal[family](), _token_inputs(generator), _logits)
    adapter = tiny_adapter(family)
    inputs = adapter.prepare(images(), list(QUESTIONS))
    run = _blip if family == "blip" else _logits
    return TinyModel(family, adapter.model, inputs, run, adapter)


def tiny_model(family: str, seed: int = 0) -> TinyModel:
    """The tiny model of `family` with seeded random weights and inputs, in eval mode."""
    torch.manual_seed(seed)
    built = _build(family, torch.Generator().manual_seed(seed))
    built.model.eval()
    return built


def random_plan(units: UnitSet, seed: int = 0, *, gqa: str = "kv") -> PruningPlan:
    """A plan that removes at least one unit of every group of more than one, kept counts drawn.

    Grouped-query attention either loses whole key/value groups (`gqa="kv"`, `kept_kv` set) or
    keeps every key/value head and the same drawn number of query heads in each group
    (`gqa="uniform"`).
    """
    rng = random.Random(seed)
    groups = []
    for g in units:
        kept_kv = None
        if isinstance(g, HeadGroup) and g.is_gqa and (gqa == "uniform" or g.num_kv_heads == 1):
            per = rng.randint(1, g.group_size - 1)
            kept = [k * g.group_size + i for k in range(g.num_kv_heads)
                    for i in rng.sample(range(g.group_size), per)]
        elif isinstance(g, HeadGroup) and g.is_gqa:
            kept_kv = sorted(rng.sample(range(g.num_kv_heads), rng.randint(1, g.num_kv_heads - 1)))
            kept = [k * g.group_size + i for k in kept_kv for i in range(g.group_size)]
        else:
            kept = rng.sample(range(g.size), rng.randint(1, max(1, g.size - 1)))
        groups.append(GroupPlan(g.key, g.kind, g.tower, g.layer, g.size, tuple(kept),
                                None if kept_kv is None else tuple(kept_kv)))
    return PruningPlan(tuple(groups), prunable_params=units.num_params)


def removed_params(plan: PruningPlan, units: UnitSet) -> int:
    """Parameters that slicing `plan` out of the model of `units` frees."""
    total = 0
    for gp in plan.groups:
        g = units[gp.key]
        if isinstance(g, HeadGroup):
            kv = g.num_kv_heads if gp.kept_kv is None else len(gp.kept_kv)
            total += (g.size - len(gp.kept)) * g.params_per_head \
                + (g.num_kv_heads - kv) * g.params_per_kv_head
        else:
            total += (g.size - len(gp.kept)) * g.params_per_neuron
    return total


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
