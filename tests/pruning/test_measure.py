"""Measurements have the promised structure and sane values; speed itself is not asserted."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kgprune.errors import ConfigError
from kgprune.pruning.measure import (
    count_flops,
    measure_adapter,
    measure_callable,
    rss_growth,
)
from kgprune.pruning.quantize import quantize_int8
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter
from tests.pruning.models import random_plan
from tests.pruning.test_saved import kgvqa_adapter

FAST = {"batch_sizes": (1, 8, 32), "repeats": 2, "warmup": 0, "memory_batch": 4}


def test_flops_of_a_single_linear_are_exact() -> None:
    layer = nn.Linear(16, 8)
    x = torch.randn(32, 5, 16)
    result = measure_callable(layer, lambda b: layer(x[:b]), batch_sizes=(1, 4), repeats=1,
                              warmup=0, memory_batch=None)
    assert result.flops_per_sample == 2 * 5 * 16 * 8
    assert result.params == 16 * 8 + 8 and result.param_bytes == 4 * result.params
    assert result.prunable_params is None, "a lone Linear has no prunable units"
    assert result.peak_memory_bytes is None and result.peak_memory_method == "not measured"


def test_attention_and_quantised_linear_flops_are_counted() -> None:
    q = torch.randn(1, 2, 5, 8)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q)) == 2 * (2 * 2 * 5 * 5 * 8)
    layer = nn.Linear(16, 8)
    quantized = quantize_int8(nn.Sequential(layer))
    x = torch.randn(3, 16)
    assert count_flops(lambda: quantized(x)) == count_flops(lambda: layer(x)) == 2 * 3 * 16 * 8


def test_peak_memory_sees_the_batch() -> None:
    growth = rss_growth(lambda: torch.ones(32, 2 ** 18).sum())
    assert growth is not None and 30e6 < growth < 100e6, "32 MiB of activations"


@pytest.fixture(scope="module")
def before_after() -> tuple[dict, dict, dict]:
    adapter = kgvqa_adapter()
    before = measure_adapter(adapter, **FAST)
    apply_plan(adapter.model, random_plan(discover_units(adapter.model), seed=1))
    sizes_only = {"batch_sizes": (1,), "repeats": 1, "warmup": 0, "memory_batch": None}
    after = measure_adapter(adapter, **sizes_only)
    quantized = KgVqaAdapter(quantize_int8(adapter.model), adapter.answers, adapter.tokenizer)
    return before.to_dict(), after.to_dict(), measure_adapter(quantized, **sizes_only).to_dict()


def test_structure_is_json_ready(before_after: tuple[dict, dict, dict]) -> None:
    before = before_after[0]
    assert json.loads(json.dumps(before)) == before
    assert [entry["batch_size"] for entry in before["latency"]] == [1, 8, 32]
    for entry in before["latency"]:
        assert 0 < entry["min_ms"] <= entry["median_ms"] <= entry["p90_ms"]
        assert entry["repeats"] == 2
    assert before["num_threads"] == torch.get_num_threads()
    assert before["device"] == "cpu" and before["quantized"] is False
    assert before["peak_memory_batch"] == 4
    assert before["peak_memory_method"] == "cpu-rss-high-water-growth"
    assert before["peak_memory_bytes"] is not None and before["peak_memory_bytes"] >= 0


def test_pruned_model_is_smaller_and_cheaper(before_after: tuple[dict, dict, dict]) -> None:
    before, after, _ = before_after
    removed = before["prunable_params"] - after["prunable_params"]
    assert removed > 0 and before["params"] - after["params"] == removed
    assert after["flops_per_sample"] < before["flops_per_sample"]
    assert after["param_bytes"] == before["param_bytes"] - 4 * removed


def test_quantised_model_counts_int8_weights(before_after: tuple[dict, dict, dict]) -> None:
    _, after, quantized = before_after
    assert quantized["quantized"] is True and quantized["prunable_params"] is None
    assert quantized["params"] == after["params"]
    assert quantized["flops_per_sample"] == after["flops_per_sample"]
    assert quantized["param_bytes"] < after["param_bytes"]


@pytest.mark.parametrize("bad", [{"batch_sizes": ()}, {"batch_sizes": (0, 8)},
                                 {"repeats": 0}, {"memory_batch": 0}])
def test_bad_arguments_are_refused(bad: dict) -> None:
    layer = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match=r"\[K546\]"):
        measure_callable(layer, lambda b: layer(torch.ones(b, 2)), **bad)
