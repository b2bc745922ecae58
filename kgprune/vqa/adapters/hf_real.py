"""The released checkpoints' architectures, built with random weights: nothing is downloaded.

The values are those of each checkpoint's `config.json` and preprocessor config
(dandelin/vilt-b32-finetuned-vqa, Salesforce/blip-vqa-base, llava-hf/llava-1.5-7b-hf). Two
things cannot be rebuilt offline and are replaced, without changing any weight shape: the
tokenizers (the small ones of `tiny_tokenizer` / the character-level Llama one, whose ids fit
the real vocabularies; the special-token ids in the config are set to theirs) and ViLT's 3129
answer strings (placeholders after the most common VQA answers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from transformers import (
    BlipConfig,
    BlipForQuestionAnswering,
    BlipImageProcessor,
    BlipProcessor,
    CLIPImageProcessor,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    ViltConfig,
    ViltForQuestionAnswering,
    ViltImageProcessor,
    ViltProcessor,
)

from kgprune.errors import ConfigError, Errors
from kgprune.vqa.adapters.hf_blip import BlipAdapter
from kgprune.vqa.adapters.hf_llava import LlavaAdapter, llama_char_tokenizer
from kgprune.vqa.adapters.hf_loading import HfAdapter, tiny_tokenizer
from kgprune.vqa.adapters.hf_vilt import ViltAdapter

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
VILT_LABELS = 3129
COMMON_ANSWERS = ("yes", "no", "2", "1", "white", "3", "red", "blue", "4", "green", "black",
                  "yellow", "0", "brown", "5", "frisbee", "baseball", "tennis", "dog", "cat",
                  "pizza", "hot dog", "skateboarding", "kitchen", "surfing", "umbrella")

VILT_B32_VQA: dict[str, Any] = {
    "vocab_size": 30522, "type_vocab_size": 2, "modality_type_vocab_size": 2,
    "max_position_embeddings": 40, "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "image_size": 384, "patch_size": 32, "num_channels": 3,
    "qkv_bias": True, "max_image_length": -1, "tie_word_embeddings": False, "num_images": -1}
"""dandelin/vilt-b32-finetuned-vqa; its classifier is Linear(768, 1536), LayerNorm, GELU,
Linear(1536, 3129) on the pooled [CLS] state."""

BLIP_VQA_BASE: dict[str, Any] = {
    "text_config": {
        "vocab_size": 30524, "hidden_size": 768, "encoder_hidden_size": 768,
        "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
        "max_position_embeddings": 512, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02, "bos_token_id": 30522, "sep_token_id": 102,
        "pad_token_id": 0, "use_cache": True},
    "vision_config": {
        "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
        "num_attention_heads": 12, "image_size": 384, "patch_size": 16, "hidden_act": "gelu",
        "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "initializer_range": 0.02},
    "projection_dim": 512, "image_text_hidden_size": 256, "logit_scale_init_value": 2.6592}
"""Salesforce/blip-vqa-base: ViT-B/16 at 384 px, BERT-base question encoder with cross-attention,
BERT-base answer decoder starting from [DEC] (bos_token_id 30522)."""

LLAVA_15_7B: dict[str, Any] = {
    "vision_config": {
        "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
        "num_attention_heads": 16, "image_size": 336, "patch_size": 14, "projection_dim": 768,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "attention_dropout": 0.0},
    "text_config": {
        "model_type": "llama", "vocab_size": 32064, "hidden_size": 4096,
        "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
        "pad_token_id": 32001},
    "image_token_index": 32000, "projector_hidden_act": "gelu", "image_seq_length": 576,
    "vision_feature_layer": -2, "vision_feature_select_strategy": "default",
    "tie_word_embeddings": False}
"""llava-hf/llava-1.5-7b-hf: CLIP ViT-L/14 at 336 px read at its second-to-last layer, a
two-layer GELU projector, Vicuna-7B (Llama) decoder with untied embeddings."""


def vilt_labels() -> list[str]:
    return [*COMMON_ANSWERS, *(f"answer {i}" for i in range(len(COMMON_ANSWERS), VILT_LABELS))]


def build_vilt(overrides: Mapping[str, Any] | None = None) -> ViltAdapter:
    labels = vilt_labels()
    tokenizer = tiny_tokenizer(COMMON_ANSWERS)
    config = ViltConfig(**{**VILT_B32_VQA, **(overrides or {})}, id2label=dict(enumerate(labels)),
                        label2id={a: i for i, a in enumerate(labels)})
    image_processor = ViltImageProcessor(size={"shortest_edge": 384}, size_divisor=32)
    return ViltAdapter(ViltForQuestionAnswering(config),
                       ViltProcessor(image_processor=image_processor, tokenizer=tokenizer))


def build_blip(overrides: Mapping[str, Any] | None = None) -> BlipAdapter:
    tokenizer = tiny_tokenizer(COMMON_ANSWERS, extra_special=["[DEC]"])
    values = {**BLIP_VQA_BASE, **(overrides or {})}
    text = {**values["text_config"], "bos_token_id": tokenizer.convert_tokens_to_ids("[DEC]"),
            "sep_token_id": tokenizer.sep_token_id, "pad_token_id": tokenizer.pad_token_id}
    config = BlipConfig(**{**values, "text_config": text})
    side = config.vision_config.image_size
    image_processor = BlipImageProcessor(size={"height": side, "width": side},
                                         image_mean=CLIP_MEAN, image_std=CLIP_STD)
    return BlipAdapter(BlipForQuestionAnswering(config),
                       BlipProcessor(image_processor=image_processor, tokenizer=tokenizer))


def build_llava(overrides: Mapping[str, Any] | None = None) -> LlavaAdapter:
    """`overrides` may replace whole sub-configs or top-level keys, e.g. `{"text_config":
    {..., "num_hidden_layers": 2}}` for the decoder of 2 layers at the real width."""
    tokenizer = llama_char_tokenizer()
    values = {**LLAVA_15_7B, **(overrides or {})}
    text = {**values["text_config"], "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    vision = values["vision_config"]
    side, patch = vision["image_size"], vision["patch_size"]
    config = LlavaConfig(**{**values, "text_config": text,
                            "image_token_index": tokenizer.convert_tokens_to_ids("<image>"),
                            "image_seq_length": (side // patch) ** 2})
    image_processor = CLIPImageProcessor(size={"shortest_edge": side},
                                         crop_size={"height": side, "width": side},
                                         image_mean=CLIP_MEAN, image_std=CLIP_STD)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               patch_size=patch,
                               vision_feature_select_strategy=values["vision_feature_select_strategy"],
                               num_additional_image_tokens=1)
    return LlavaAdapter(LlavaForConditionalGeneration(config), processor)


REAL: dict[str, Callable[[Mapping[str, Any] | None], HfAdapter]] = {
    "vilt-b32-vqa": build_vilt, "blip-vqa-base": build_blip, "llava-1.5-7b": build_llava}


def build_real(name: str, overrides: Mapping[str, Any] | None = None) -> HfAdapter:
    """The architecture `name` of `REAL` with random weights (seed torch first to fix them)."""
    if name not in REAL:
        raise ConfigError(Errors.K573.format(name=name, known=", ".join(REAL)))
    return REAL[name](overrides)
