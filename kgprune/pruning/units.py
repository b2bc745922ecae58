"""The prunable units of a model: attention heads and feed-forward neurons, found by module shape.

Discovery reads structure, not class names, so one rule covers many families:

* separate projections `q_proj`/`k_proj`/`v_proj` + `out_proj`/`o_proj` (kgvqa, CLIP, SigLIP, OPT,
  Llama/Mistral/Qwen with grouped-query attention),
* BERT style: a child `self` or `attention` holding `query`/`key`/`value`, and `output.dense`
  (BERT, ViLT, BLIP's text encoder and decoder, cross-attention included),
* one fused `qkv` + `projection` (BLIP's vision encoder),
* feed-forward blocks `fc1`/`fc2` (kgvqa, CLIP, BLIP, OPT layers), `gate_proj`/`up_proj`/`down_proj`
  (Llama family) and `intermediate.dense`/`output.dense` (BERT style).

A head's gate sits at the input of the output projection and a neuron's at the input of the down
projection: zeroing it removes exactly what slicing removes.

Some blocks run but never reach the output: LLaVA reads its vision tower's hidden state
`vision_feature_layer` (-2 in the released checkpoints), so the last CLIP layer's units get no
gradient and change nothing. Discovery sets them aside (`UnitSet.unreachable`): they are neither
scored nor planned, so no criterion can rank them "unimportant" by accident, and they stay whole.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from torch import nn

from kgprune.errors import Errors, PruningError

SEPARATE = "separate"
FUSED_QKV = "fused_qkv"

_TOWER_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vision", ("vision_tower", "vision_model", "vision", "visual", "image_encoder")),
    ("decoder", ("text_decoder",)),
    ("language", ("language_model",)),
    ("text", ("text_encoder", "text", "bert")),
    ("fusion", ("fusion",)),
)
_CLASS_TOWERS: tuple[tuple[str, str], ...] = (
    ("vision", "vision"), ("vit", "vision"), ("image", "vision"), ("causallm", "language"),
    ("llama", "language"), ("mistral", "language"), ("qwen", "language"), ("opt", "language"),
    ("bert", "text"), ("text", "text"))
_VILT = "vilt"


@dataclass(frozen=True, slots=True)
class HeadGroup:
    """The heads of one attention module. Paths are `named_modules` names of `nn.Linear` layers.

    With grouped-query attention `num_kv_heads < num_heads`: query head `h` reads key/value head
    `h // (num_heads // num_kv_heads)`. `attrs` is the module whose head-count attributes
    (`num_heads`, `num_attention_heads`, `all_head_size`, ...) describe the split.
    """

    path: str
    attrs: str
    tower: str
    layer: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    q: str
    k: str
    v: str
    o: str
    layout: str
    params_per_head: int
    """Parameters of one query head: its q rows and o columns, plus its k/v rows without GQA."""
    params_per_kv_head: int
    """Parameters of one key/value head's k and v rows under GQA; 0 without GQA."""

    kind = "heads"

    @property
    def key(self) -> str:
        return self.path

    @property
    def size(self) -> int:
        return self.num_heads

    @property
    def gate_site(self) -> str:
        return self.o

    @property
    def gate_width(self) -> int:
        """Features per gate value at the gate site."""
        return self.head_dim

    @property
    def is_gqa(self) -> bool:
        return self.num_kv_heads < self.num_heads

    @property
    def group_size(self) -> int:
        """Query heads per key/value head."""
        return self.num_heads // self.num_kv_heads

    @property
    def num_params(self) -> int:
        return self.num_heads * self.params_per_head + self.num_kv_heads * self.params_per_kv_head


@dataclass(frozen=True, slots=True)
class NeuronGroup:
    """The hidden neurons of one feed-forward block: rows of every `up` layer, columns of `down`."""

    path: str
    tower: str
    layer: int
    size: int
    up: tuple[str, ...]
    down: str
    params_per_neuron: int

    kind = "neurons"

    @property
    def key(self) -> str:
        return self.path

    @property
    def gate_site(self) -> str:
        return self.down

    @property
    def gate_width(self) -> int:
        return 1

    @property
    def num_params(self) -> int:
        return self.size * self.params_per_neuron


UnitGroup = HeadGroup | NeuronGroup


@dataclass(frozen=True, slots=True)
class UnitSet:
    """Every prunable group of a model, in module order, and the groups set aside as unreachable."""

    groups: tuple[UnitGroup, ...]
    unreachable: tuple[UnitGroup, ...] = ()
    """Groups that run but cannot change the output; not in `groups`, never scored or pruned."""

    def __iter__(self) -> Iterator[UnitGroup]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, key: str) -> UnitGroup:
        for group in self.groups:
            if group.key == key:
                return group
        raise KeyError(key)

    @property
    def heads(self) -> tuple[HeadGroup, ...]:
        return tuple(g for g in self.groups if isinstance(g, HeadGroup))

    @property
    def neurons(self) -> tuple[NeuronGroup, ...]:
        return tuple(g for g in self.groups if isinstance(g, NeuronGroup))

    @property
    def towers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.tower for g in self.groups))

    @property
    def num_params(self) -> int:
        """Parameters that pruning can remove (all of them but one head and neuron per group)."""
        return sum(g.num_params for g in self.groups)


def tower_of(path: str, default: str = "main") -> str:
    """vision / text / fusion / decoder / language / multimodal, from the words of a module path."""
    parts = path.split(".")
    if _VILT in parts:
        return "multimodal"
    for tower, words in _TOWER_WORDS:
        if any(word in parts for word in words):
            return tower
    return default


def default_tower(model: nn.Module) -> str:
    """The tower of a single-tower model (a bare CLIP vision model, a causal LM), by class name."""
    name = type(model).__name__.lower()
    return next((tower for word, tower in _CLASS_TOWERS if word in name), "main")


def layer_of(path: str) -> int:
    """The index of the block inside its tower's layer list: the last number in the path."""
    numbers = re.findall(r"(?:^|\.)(\d+)(?=\.|$)", path)
    return int(numbers[-1]) if numbers else 0


def _linear(module: nn.Module, name: str) -> nn.Linear | None:
    child = getattr(module, name, None)
    return child if isinstance(child, nn.Linear) else None


def _linear_params(layer: nn.Linear, rows: int = 0, cols: int = 0) -> int:
    """Parameters in `rows` output rows (weight + bias) or `cols` input columns of `layer`."""
    bias = 1 if layer.bias is not None else 0
    return rows * (layer.in_features + bias) + cols * layer.out_features


def _head_count(module: nn.Module) -> int | None:
    for name in ("num_heads", "num_attention_heads"):
        value = getattr(module, name, None)
        if isinstance(value, int) and value > 0:
            return value
    config = getattr(module, "config", None)
    value = getattr(config, "num_attention_heads", None)
    return value if isinstance(value, int) and value > 0 else None


def _head_dim(module: nn.Module, width: int, heads: int) -> int:
    for name in ("head_dim", "attention_head_size"):
        value = getattr(module, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return width // heads


def _check_split(path: str, width: int, heads: int, head_dim: int, what: str) -> None:
    if heads * head_dim != width:
        raise PruningError(Errors.K501.format(
            path=path, problem=f"{what} has {width} features, not {heads} heads x {head_dim}"))


def _separate_heads(path: str, module: nn.Module, q: nn.Linear, k: nn.Linear, v: nn.Linear,
                    o: nn.Linear, names: tuple[str, str, str, str], attrs: str) -> HeadGroup:
    heads = _head_count(module)
    if heads is None:
        raise PruningError(Errors.K501.format(path=path, problem="no num_heads attribute"))
    head_dim = _head_dim(module, q.out_features, heads)
    _check_split(path, q.out_features, heads, head_dim, names[0])
    _check_split(path, o.in_features, heads, head_dim, names[3])
    kv_heads = k.out_features // head_dim
    _check_split(path, k.out_features, kv_heads, head_dim, names[1])
    if kv_heads < 1 or heads % kv_heads:
        raise PruningError(Errors.K501.format(
            path=path, problem=f"{heads} query heads do not split into {kv_heads} key/value groups"))
    per_head = _linear_params(q, rows=head_dim) + _linear_params(o, cols=head_dim)
    per_kv = _linear_params(k, rows=head_dim) + _linear_params(v, rows=head_dim)
    gqa = kv_heads < heads
    return HeadGroup(
        path=path, attrs=attrs, tower="", layer=layer_of(path), num_heads=heads,
        num_kv_heads=kv_heads, head_dim=head_dim,
        q=f"{path}.{names[0]}" if names[0] else path, k=f"{path}.{names[1]}",
        v=f"{path}.{names[2]}", o=f"{path}.{names[3]}", layout=SEPARATE,
        params_per_head=per_head + (0 if gqa else per_kv), params_per_kv_head=per_kv if gqa else 0)


def _attention(path: str, module: nn.Module) -> HeadGroup | None:
    q, k, v = (_linear(module, n) for n in ("q_proj", "k_proj", "v_proj"))
    for out_name in ("out_proj", "o_proj"):
        o = _linear(module, out_name)
        if q and k and v and o:
            return _separate_heads(path, module, q, k, v, o,
                                   ("q_proj", "k_proj", "v_proj", out_name), path)
    output = getattr(module, "output", None)
    dense = _linear(output, "dense") if output is not None else None
    for inner_name in ("self", "attention"):
        inner = getattr(module, inner_name, None)
        if inner is None or dense is None:
            continue
        q, k, v = (_linear(inner, n) for n in ("query", "key", "value"))
        if q and k and v:
            group = _separate_heads(f"{path}.{inner_name}", inner, q, k, v, dense,
                                    ("query", "key", "value", "dense"), f"{path}.{inner_name}")
            return replace(group, path=path, o=f"{path}.output.dense")
    qkv, projection = _linear(module, "qkv"), _linear(module, "projection")
    if qkv and projection:
        heads = _head_count(module)
        if heads is None:
            raise PruningError(Errors.K501.format(path=path, problem="no num_heads attribute"))
        head_dim = _head_dim(module, projection.in_features, heads)
        _check_split(path, qkv.out_features, 3 * heads, head_dim, "qkv")
        name = f"{path}.qkv"
        return HeadGroup(
            path=path, attrs=path, tower="", layer=layer_of(path), num_heads=heads,
            num_kv_heads=heads, head_dim=head_dim, q=name, k=name, v=name,
            o=f"{path}.projection", layout=FUSED_QKV,
            params_per_head=_linear_params(qkv, rows=3 * head_dim)
            + _linear_params(projection, cols=head_dim), params_per_kv_head=0)
    return None


def _feed_forward(path: str, module: nn.Module) -> NeuronGroup | None:
    candidates: list[tuple[tuple[str, ...], str]] = [
        (("fc1",), "fc2"), (("gate_proj", "up_proj"), "down_proj")]
    for ups, down in candidates:
        up_layers = [_linear(module, n) for n in ups]
        down_layer = _linear(module, down)
        if all(up_layers) and down_layer is not None:
            return _neurons(path, [(f"{path}.{n}", layer) for n, layer in zip(ups, up_layers)
                                   if layer is not None], (f"{path}.{down}", down_layer))
    intermediate, output = getattr(module, "intermediate", None), getattr(module, "output", None)
    up = _linear(intermediate, "dense") if intermediate is not None else None
    down_layer = _linear(output, "dense") if output is not None else None
    if up is not None and down_layer is not None:
        return _neurons(path, [(f"{path}.intermediate.dense", up)],
                        (f"{path}.output.dense", down_layer))
    return None


def _neurons(path: str, ups: list[tuple[str, nn.Linear]],
             down: tuple[str, nn.Linear]) -> NeuronGroup | None:
    size = down[1].in_features
    if any(layer.out_features != size for _, layer in ups):
        return None
    per = sum(_linear_params(layer, rows=1) for _, layer in ups) + _linear_params(down[1], cols=1)
    return NeuronGroup(path=path, tower="", layer=layer_of(path), size=size,
                       up=tuple(name for name, _ in ups), down=down[0], params_per_neuron=per)


def vision_cut(model: nn.Module) -> int | None:
    """The first vision-tower layer whose output a LLaVA-style model never reads, else None.

    `hidden_states[i]` is the output of layer i - 1 (index 0 holds the embeddings), so reading
    index -2 of L layers leaves layer L - 1 unused; with several feature layers the deepest counts.
    """
    config = getattr(model, "config", None)
    feature = getattr(config, "vision_feature_layer", None)
    total = getattr(getattr(config, "vision_config", None), "num_hidden_layers", None)
    if feature is None or not isinstance(total, int):
        return None
    indices = [feature] if isinstance(feature, int) else list(feature)
    deepest = max(int(i) % (total + 1) for i in indices)
    return deepest if deepest < total else None


def _is_unreachable(path: str, cut: int | None) -> bool:
    return cut is not None and "vision_tower" in path.split(".") and layer_of(path) >= cut


def discover_units(model: nn.Module) -> UnitSet:
    """Every attention head group and feed-forward neuron group of `model`, or a K500 error."""
    groups: list[UnitGroup] = []
    unreachable: list[UnitGroup] = []
    fallback = default_tower(model)
    cut = vision_cut(model)
    for path, module in model.named_modules():
        if not path:
            continue
        found = _attention(path, module) or _feed_forward(path, module)
        if found is not None:
            found = replace(found, tower=tower_of(path, fallback))
            (unreachable if _is_unreachable(path, cut) else groups).append(found)
    if not groups:
        kinds = Counter(type(m).__name__ for m in model.modules())
        found = ", ".join(f"{name} x{n}" for name, n in kinds.most_common(8))
        raise PruningError(Errors.K500.format(model=type(model).__name__, found=found))
    return UnitSet(tuple(groups), tuple(unreachable))
