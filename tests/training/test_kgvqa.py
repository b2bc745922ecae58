"""The kgvqa model and adapter: shapes, gradients, loss semantics, the names pruning relies on."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from PIL import Image

from kgprune.errors import ConfigError
from kgprune.retrieval.facts import AnswerCandidate, KnowledgeContext
from kgprune.vqa.adapters.base import ModelAdapter, predict_with_losses
from kgprune.vqa.adapters.kgvqa import (
    SPECIAL_TOKENS,
    UNK,
    Attention,
    KgVqaAdapter,
    KgVqaConfig,
    build_vocabulary,
    build_word_vocabulary,
)
from kgprune.vqa.knowledge_loss import batch_losses, knowledge_targets
from tests.training.conftest import SMALL

ANSWERS = (UNK, "metal", "kitchen", "eat", "wood")
QUESTIONS = ["What is this made of?", "Where would you find this?",
             "What is the object on the left used for?"]


@pytest.fixture(scope="module")
def adapter() -> KgVqaAdapter:
    return KgVqaAdapter.build(SMALL, ANSWERS, seed=0)


def _inputs(adapter: KgVqaAdapter, n: int = 3) -> dict[str, torch.Tensor]:
    images = [Image.new("RGB", (40, 24), (40 * i, 200, 90)) for i in range(n)]
    return adapter.prepare(images, QUESTIONS[:n])


@pytest.mark.parametrize("design", [{}, {"cross_first": True, "readout": "mean"}],
                         ids=["self-first-cls", "cross-first-mean"])
def test_questions_pad_to_the_longest_without_changing_answers(design: dict[str, object]) -> None:
    """Padding is masked: a question's logits do not depend on its batch-mates' lengths (the
    mean readout averages over the question's own tokens only)."""
    adapter = KgVqaAdapter.build(replace(SMALL, **design), ANSWERS, seed=0)
    image = Image.new("RGB", (16, 16), (200, 30, 30))
    alone = adapter.prepare([image], [QUESTIONS[0]])
    padded = adapter.prepare([image, image], [QUESTIONS[0], "why " * 40])
    assert padded["input_ids"].shape[1] == SMALL.max_question_tokens > alone["input_ids"].shape[1]
    with torch.no_grad():
        torch.testing.assert_close(adapter.logits(alone)[0], adapter.logits(padded)[0],
                                   atol=1e-5, rtol=1e-5)


def test_prepare_forward_backward(adapter: KgVqaAdapter) -> None:
    inputs = _inputs(adapter)
    assert isinstance(adapter, ModelAdapter)
    assert inputs["pixel_values"].shape == (3, 3, 16, 16)
    longest = max(len(adapter.tokenizer(q)["input_ids"]) for q in QUESTIONS)
    assert inputs["input_ids"].shape == (3, longest) and longest < SMALL.max_question_tokens
    assert adapter.logits(inputs).shape == (3, len(ANSWERS))
    targets = [{"metal": 1.0}, {"kitchen": 0.5, "wood": 0.5}, {"eat": 1.0}]
    loss = adapter.answer_losses(inputs, targets)[0]
    assert loss.shape == (3,) and torch.all(loss > 0)
    loss.sum().backward()
    assert adapter.model.classifier.weight.grad is not None
    adapter.model.zero_grad(set_to_none=True)
    assert all(p in ANSWERS[1:] for p in adapter.predict(inputs))


def test_knowledge_loss_reaches_every_encoder(adapter: KgVqaAdapter) -> None:
    answers = (AnswerCandidate("Metal", "/c/en/metal", 0.7, ()),
               AnswerCandidate("wood", "/c/en/wood", 0.3, ()))
    context = KnowledgeContext("1", (), (), (), (), answers, "v")
    parts = batch_losses(adapter, _inputs(adapter, 1), task=[{}],
                         knowledge=[knowledge_targets(context)], lam=1.0)
    assert parts.grounded == 1 and parts.task.item() == 0.0 and parts.knowledge.item() > 0
    parts.total.backward()
    model = adapter.model
    for name, param in (("vision", model.vision.patch_embed.weight),
                        ("vision attention", model.vision.blocks[0].attn.out_proj.weight),
                        ("text", model.text.embeddings.word_embeddings.weight),
                        ("text layer", model.text.encoder.layer[0].attention.self.query.weight),
                        ("fusion cross-attention", model.fusion[0].cross_attn.out_proj.weight),
                        ("fusion ffn", model.fusion[1].mlp.fc2.weight)):
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    model.zero_grad(set_to_none=True)


def test_answer_loss_semantics(adapter: KgVqaAdapter) -> None:
    inputs = _inputs(adapter)
    log_probs = torch.log_softmax(adapter.logits(inputs), dim=-1)
    with torch.no_grad():
        loss = adapter.answer_losses(inputs, [{}, {"metal": 0.5, "not in vocab": 0.5},
                                            {"never seen": 1.0}])[0]
    assert loss[0].item() == 0.0
    assert loss[1].item() == pytest.approx(-log_probs[1, ANSWERS.index("metal")].item(), rel=1e-5)
    assert loss[2].item() == 0.0
    assert adapter.target_matrix([{"the Metal": 2.0, "wood": 2.0}]).tolist()[0] == [0, .5, 0, 0, .5]


def test_pruning_contract(adapter: KgVqaAdapter) -> None:
    attentions = [m for m in adapter.model.modules() if isinstance(m, Attention)]
    assert len(attentions) == SMALL.vision_layers + 2 * SMALL.fusion_layers
    for attention in attentions:
        assert attention.num_heads * attention.head_dim == attention.out_proj.in_features
    fc2 = [name for name, _ in adapter.model.named_modules() if name.endswith("mlp.fc2")]
    assert len(fc2) == SMALL.vision_layers + SMALL.fusion_layers


def test_vocabulary_and_config_checks() -> None:
    vocab = build_vocabulary([["Metal", "metal", "a wood"], ["wood", "glass"]])
    assert vocab == (UNK, "metal", "wood", "glass")
    assert build_vocabulary([["x", "b", "b", "the"]], max_size=2) == (UNK, "b")
    with pytest.raises(ConfigError, match="K403"):
        KgVqaConfig(size="huge")
    with pytest.raises(ConfigError, match="K404"):
        KgVqaConfig(image_size=30, patch_size=8)
    with pytest.raises(ConfigError, match="K433"):
        KgVqaConfig(readout="max")


def test_base_size_is_pretrained_minilm() -> None:
    base = KgVqaAdapter.build(KgVqaConfig(size="base"), ANSWERS)
    fresh = KgVqaAdapter.build(KgVqaConfig(size="base"), ANSWERS, pretrained=False)
    assert base.model.text.config.hidden_size == 384
    pretrained = base.model.text.embeddings.word_embeddings.weight
    assert not torch.equal(pretrained, fresh.model.text.embeddings.word_embeddings.weight)
    assert base.model.state_dict().keys() == fresh.model.state_dict().keys()
    inputs = base.prepare([Image.new("RGB", (32, 32))], ["What is this made of?"])
    assert base.answer_losses(inputs, [{"metal": 1.0}])[0].item() > 0


def test_word_vocabulary_is_the_questions_words_in_frequency_order() -> None:
    words = build_word_vocabulary(QUESTIONS + ["What is THIS?"])
    assert words[:len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert words[len(SPECIAL_TOKENS):8] == ("?", "is", "this", "what")  # ties by text
    assert "THIS" not in words and len(set(words)) == len(words)
    assert build_word_vocabulary(QUESTIONS, max_size=6) == (*SPECIAL_TOKENS, "?", "is")


def test_a_word_model_tokenizes_whole_words_and_reads_unknown_ones_as_unk() -> None:
    words = build_word_vocabulary(QUESTIONS)
    config = replace(SMALL, vocabulary="words")
    adapter = KgVqaAdapter.build(config, ANSWERS, words=words, seed=0)
    assert adapter.model.text.embeddings.word_embeddings.num_embeddings == len(words)
    ids = adapter.tokenizer("What is the zebra used for?")["input_ids"]
    tokens = [words[i] for i in ids]
    assert tokens == ["[CLS]", "what", "is", "the", UNK, "used", "for", "?", "[SEP]"]
    inputs = adapter.prepare([Image.new("RGB", (16, 16))] * 2, QUESTIONS[:2])
    assert adapter.logits(inputs).shape == (2, len(ANSWERS))
    with pytest.raises(ConfigError, match="K432"):
        KgVqaAdapter.build(config, ANSWERS)
    with pytest.raises(ConfigError, match="K432"):
        KgVqaAdapter.build(config, ANSWERS, words=("what", *SPECIAL_TOKENS))
    with pytest.raises(ConfigError, match="K431"):
        KgVqaConfig(size="base", vocabulary="words")


def test_one_pass_gives_the_answers_and_losses_of_two(adapter: KgVqaAdapter) -> None:
    """Evaluation reads answers and cross-entropy from one forward pass; the fallback for an
    adapter without it (a generative one) calls `predict` and `answer_losses`."""
    inputs = _inputs(adapter)
    targets = [{"metal": 1.0}, {}, {"eat": 0.7, "wood": 0.3}]
    forwards = []
    hook = adapter.model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        with torch.no_grad():
            answers, losses = predict_with_losses(adapter, inputs, targets)
            assert len(forwards) == 1
            assert answers == adapter.predict(inputs)
            torch.testing.assert_close(losses, adapter.answer_losses(inputs, targets)[0])

            class TwoPass:
                def predict(self, inputs: dict[str, torch.Tensor]) -> list[str]:
                    return adapter.predict(inputs)

                def answer_losses(self, inputs: dict[str, torch.Tensor],
                                  *sets: object) -> tuple[torch.Tensor, ...]:
                    return adapter.answer_losses(inputs, *sets)

            forwards.clear()
            fallback = predict_with_losses(TwoPass(), inputs, targets)  # type: ignore[arg-type]
            assert len(forwards) == 2 and fallback[0] == answers
            torch.testing.assert_close(fallback[1], losses)
    finally:
        hook.remove()
    assert losses[1].item() == 0.0 and "[UNK]" not in answers
