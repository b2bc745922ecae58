"""What the released checkpoints do that default tiny configs hide, each on a tiny config that
sets the real option: LLaVA's vision_feature_layer = -2, BLIP's [DEC] start token and answer-token
loss, ViLT's pooler and classifier, BLIP's tied decoder embeddings. The real architectures are
also built on the meta device (no memory) and checked against their published sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from kgprune.errors import PruningError
from kgprune.pruning.gates import Gates
from kgprune.pruning.importance import ScoringBatch, criterion_by_name
from kgprune.pruning.planner import PlanConfig, build_plan
from kgprune.pruning.saved import load_pruned, save_pruned
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import UnitSet, discover_units, vision_cut
from kgprune.vqa.adapters.hf_real import (
    BLIP_VQA_BASE,
    LLAVA_15_7B,
    VILT_B32_VQA,
    VILT_LABELS,
    build_blip,
    build_llava,
    build_real,
    build_vilt,
)
from tests.adapters.conftest import QUESTIONS, TARGETS

TINY_LAYERS = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
               "num_attention_heads": 4}
KNOWLEDGE = [{"hot dog": 1.0}, {"red": 1.0}]


def _tiny_llava(feature_layer: int | list[int] = -2):
    torch.manual_seed(0)
    vision = {**LLAVA_15_7B["vision_config"], **TINY_LAYERS, "image_size": 28, "patch_size": 14}
    text = {**LLAVA_15_7B["text_config"], **TINY_LAYERS, "num_hidden_layers": 2,
            "num_key_value_heads": 4, "vocab_size": 200}
    return build_llava({"vision_config": vision, "text_config": text,
                        "vision_feature_layer": feature_layer})


def _tiny_blip():
    torch.manual_seed(0)
    text = {**BLIP_VQA_BASE["text_config"], **TINY_LAYERS, "vocab_size": 200,
            "encoder_hidden_size": 32, "label_smoothing": 0.0}
    vision = {**BLIP_VQA_BASE["vision_config"], **TINY_LAYERS, "image_size": 32}
    return build_blip({"text_config": text, "vision_config": vision, "projection_dim": 32,
                       "image_text_hidden_size": 32})


def _tiny_vilt():
    torch.manual_seed(0)
    return build_vilt({**TINY_LAYERS, "image_size": 64})


def _batch(adapter, images: list[Image.Image]) -> ScoringBatch:
    return ScoringBatch(adapter.prepare(images, QUESTIONS), TARGETS, KNOWLEDGE)


def test_vision_cut_reads_hidden_state_indices() -> None:
    """hidden_states[i] is layer i-1's output: -2 of 24 layers leaves layer 23 unused."""
    class Model(torch.nn.Module):
        def __init__(self, feature: int | list[int]) -> None:
            super().__init__()
            self.config = type("C", (), {"vision_feature_layer": feature,
                                         "vision_config": type("V", (), {"num_hidden_layers": 24})})

    assert vision_cut(Model(-2)) == 23
    assert vision_cut(Model(-1)) is None and vision_cut(Model(24)) is None
    assert vision_cut(Model([-2, -5, 3])) == 23
    assert vision_cut(Model(12)) == 12


def test_llava_feature_layer_minus_two_sets_the_last_clip_layer_aside(
        images: list[Image.Image], tmp_path: Path) -> None:
    adapter = _tiny_llava(-2)
    units = discover_units(adapter.model)
    unreachable = {g.key for g in units.unreachable}
    assert unreachable == {"model.vision_tower.encoder.layers.2.self_attn",
                           "model.vision_tower.encoder.layers.2.mlp"}
    assert not unreachable & {g.key for g in units}
    batch = _batch(adapter, images)
    # The gates of the set-aside layer really get no gradient: the criterion refuses to score them.
    everything = UnitSet(units.groups + units.unreachable)
    with pytest.raises(PruningError, match=r"\[K574\].*layers\.2\.self_attn"):
        criterion_by_name("knowledge").score(adapter, everything, [batch])
    with pytest.raises(PruningError, match=r"\[K574\]"):
        criterion_by_name("taylor").score(adapter, everything, [batch])
    # Reachable units score, plan and slice; the last CLIP layer stays whole.
    scores = criterion_by_name("knowledge").score(adapter, units, [batch])
    assert all(bool((scores[g.key] > 0).any()) for g in units)
    plan = build_plan(units, scores, PlanConfig(ratio=0.5))
    assert not unreachable & {g.key for g in plan.groups}
    last = adapter.model.model.vision_tower.encoder.layers[2]
    before = {k: v.clone() for k, v in last.state_dict().items()}
    apply_plan(adapter.model, plan, units=units)
    assert all(torch.equal(v, before[k]) for k, v in last.state_dict().items())
    loaded = load_pruned(save_pruned(adapter, plan, tmp_path / "pruned", info={}))
    assert {g.key for g in discover_units(loaded.model).unreachable} == unreachable


def test_llava_default_feature_layer_leaves_nothing_aside() -> None:
    units = discover_units(_tiny_llava(-1).model)
    assert units.unreachable == ()
    assert "model.vision_tower.encoder.layers.2.mlp" in {g.key for g in units}


def test_blip_decodes_from_dec_and_scores_answer_tokens_and_sep(images: list[Image.Image]) -> None:
    adapter = _tiny_blip()
    model, tokenizer = adapter.model, adapter.processor.tokenizer
    dec = tokenizer.convert_tokens_to_ids("[DEC]")
    assert model.decoder_start_token_id == model.config.text_config.bos_token_id == dec
    inputs = adapter.prepare(images, QUESTIONS)
    seen: list[torch.Tensor] = []
    hook = model.text_decoder.register_forward_pre_hook(
        lambda _m, _a, kwargs: seen.append(kwargs["input_ids"]), with_kwargs=True)
    try:
        with torch.no_grad():
            (loss,) = adapter.answer_losses(inputs, [{"hot dog": 1.0}, {"red": 1.0}])
    finally:
        hook.remove()
    assert (seen[0][:, 0] == dec).all()
    # Hugging Face's own decoder loss (sum over the labelled tokens), from [DEC], over the answer
    # words and [SEP] ([CLS] replaced, padding ignored), divided by the number of those tokens.
    with torch.no_grad():
        questions = adapter._question_states(inputs)
        for row, answer in enumerate(["hot dog", "red"]):
            ids = tokenizer([answer], return_tensors="pt")["input_ids"]
            ids[:, 0] = dec
            out = model.text_decoder(input_ids=ids, labels=ids, reduction="none",
                                     encoder_hidden_states=questions[row:row + 1],
                                     encoder_attention_mask=inputs["attention_mask"][row:row + 1])
            assert ids[0, -1] == tokenizer.sep_token_id
            torch.testing.assert_close(loss[row], out.loss[0] / (ids.shape[1] - 1),
                                       rtol=1e-5, atol=1e-5)


def test_vilt_pooler_and_classifier_are_kept_whole(images: list[Image.Image]) -> None:
    adapter = _tiny_vilt()
    model = adapter.model
    classifier = model.classifier
    assert classifier[0].out_features == 2 * TINY_LAYERS["hidden_size"]
    assert classifier[-1].out_features == VILT_LABELS == len(adapter.labels)
    units = discover_units(model)
    assert not [g.key for g in units if g.key.startswith(("classifier", "vilt.pooler"))]
    batch = _batch(adapter, images)
    scores = criterion_by_name("knowledge").score(adapter, units, [batch])
    plan = build_plan(units, scores, PlanConfig(ratio=0.5))
    kept = {k: v.clone() for k, v in model.state_dict().items()
            if k.startswith(("classifier.", "vilt.pooler."))}
    with torch.no_grad(), Gates(model, units) as gates:
        gates.set_mask(plan.kept())
        masked = model(**batch.inputs).logits
    apply_plan(model, plan, units=units)
    with torch.no_grad():
        sliced = model(**batch.inputs).logits
    assert all(torch.equal(model.state_dict()[k], v) for k, v in kept.items())
    assert sliced.shape == (2, VILT_LABELS)
    torch.testing.assert_close(sliced, masked, rtol=1e-4, atol=1e-5)


def test_blip_tied_decoder_embeddings_stay_tied_through_save_and_load(
        images: list[Image.Image], tmp_path: Path) -> None:
    adapter = _tiny_blip()
    decoder = adapter.model.text_decoder
    assert decoder.cls.predictions.decoder.weight is decoder.bert.embeddings.word_embeddings.weight
    units = discover_units(adapter.model)
    batch = _batch(adapter, images)
    plan = build_plan(units, criterion_by_name("knowledge").score(adapter, units, [batch]),
                      PlanConfig(ratio=0.3))
    apply_plan(adapter.model, plan, units=units)
    with torch.no_grad():
        (expected,) = adapter.answer_losses(batch.inputs, TARGETS)
    loaded = load_pruned(save_pruned(adapter, plan, tmp_path / "pruned", info={}))
    decoder = loaded.model.text_decoder
    assert decoder.cls.predictions.decoder.weight is decoder.bert.embeddings.word_embeddings.weight
    with torch.no_grad():
        (got,) = loaded.answer_losses(batch.inputs, TARGETS)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_llava_embeddings_are_untied_as_released() -> None:
    with torch.device("meta"):
        model = build_llava({"text_config": {**LLAVA_15_7B["text_config"],
                                             "num_hidden_layers": 1}}).model
    assert model.lm_head.weight is not model.model.language_model.embed_tokens.weight


@pytest.mark.parametrize(("name", "params", "groups", "unreachable"), [
    ("vilt-b32-vqa", None, 24, 0),
    ("blip-vqa-base", None, 96, 0),
    ("llava-1.5-7b", 7_063_427_072, 46 + 64, 2)])
def test_real_architectures_have_their_published_shape(name: str, params: int | None,
                                                       groups: int, unreachable: int) -> None:
    """On the meta device: shapes without memory. LLaVA-1.5-7B's count is the model card's."""
    with torch.device("meta"):
        model = build_real(name).model
    units = discover_units(model)
    assert (len(units), len(units.unreachable)) == (groups, unreachable)
    if params is not None:
        assert sum(p.numel() for p in model.parameters()) == params
    widths = {"vilt-b32-vqa": VILT_B32_VQA["intermediate_size"],
              "blip-vqa-base": BLIP_VQA_BASE["text_config"]["intermediate_size"],
              "llava-1.5-7b": LLAVA_15_7B["text_config"]["intermediate_size"]}
    assert max(g.size for g in units.neurons) == widths[name]
