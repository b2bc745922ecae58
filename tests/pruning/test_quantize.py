"""Int8 dynamic quantisation: close to float, a quarter of the Linear memory, saved bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from kgprune.errors import PruningError
from kgprune.pruning.measure import parameter_counts
from kgprune.pruning.plan import keep_all
from kgprune.pruning.quantize import (
    is_quantized,
    quantization_info,
    quantize_int8,
    quantized_bytes,
    quantized_linears,
    quantized_state,
)
from kgprune.pruning.saved import MANIFEST, load_pruned, save_pruned
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter
from tests.pruning.models import QUESTIONS, images, random_plan
from tests.pruning.test_saved import kgvqa_adapter


def logits(adapter: KgVqaAdapter) -> torch.Tensor:
    inputs = adapter.prepare(images(4), [*QUESTIONS, *QUESTIONS])
    with torch.no_grad():
        return adapter.logits(inputs)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def linear_bytes(model: nn.Module) -> int:
    """Bytes of every Linear layer's weight and bias, float or int8."""
    float_bytes = sum(p.numel() * p.element_size() for m in model.modules()
                      if isinstance(m, nn.Linear) for p in m.parameters())
    return float_bytes + sum(quantized_bytes(m)[1] for _, m in quantized_linears(model))


@pytest.fixture(scope="module")
def adapter() -> KgVqaAdapter:
    built = kgvqa_adapter()
    built.model.eval()
    return built


def test_quantised_outputs_are_close_and_linear_memory_is_a_quarter(adapter: KgVqaAdapter) -> None:
    quantized = quantize_int8(adapter.model)
    assert quantized is not adapter.model and not is_quantized(adapter.model)
    linears = [p for p, m in adapter.model.named_modules() if isinstance(m, nn.Linear)]
    assert [p for p, _ in quantized_linears(quantized)] == linears
    assert not any(isinstance(m, nn.Linear) for m in quantized.modules())

    float_logits = logits(adapter)
    q_logits = logits(KgVqaAdapter(quantized, adapter.answers, adapter.tokenizer))
    assert relative_error(q_logits, float_logits) < 0.05
    assert not torch.equal(q_logits, float_logits)

    ratio = linear_bytes(adapter.model) / linear_bytes(quantized)
    assert 3.5 < ratio <= 4.0
    (float_params, float_size), (q_params, q_size) = (parameter_counts(adapter.model),
                                                      parameter_counts(quantized))
    assert q_params == float_params, "int8 weights are still counted as parameters"
    saved = linear_bytes(adapter.model) - linear_bytes(quantized)
    assert float_size - q_size == saved


def test_info_and_tensor_form(adapter: KgVqaAdapter) -> None:
    quantized = quantize_int8(adapter.model)
    info = quantization_info(quantized)
    assert info is not None and quantization_info(adapter.model) is None
    assert info.dtype == "qint8" and info.qscheme == "per_tensor_affine"
    tensors = quantized_state(quantized)
    path = info.modules[0]
    assert tensors[f"{path}.weight"].dtype == torch.int8
    assert tensors[f"{path}.weight_scale"].numel() == 1
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())


def test_quantised_unpruned_model_round_trips(adapter: KgVqaAdapter, tmp_path: Path) -> None:
    plan = keep_all(discover_units(adapter.model))
    quantized = KgVqaAdapter(quantize_int8(adapter.model), adapter.answers, adapter.tokenizer)
    out = save_pruned(quantized, plan, tmp_path / "q", info={"note": "int8 only"})
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["quantization"]["method"] == "dynamic-int8.v1"
    assert plan.is_empty
    loaded = load_pruned(out)
    assert is_quantized(loaded.model)
    assert torch.equal(logits(loaded), logits(quantized))
    float_out = save_pruned(adapter, plan, tmp_path / "float", info={})
    file_saving = ((float_out / "model.safetensors").stat().st_size
                   - (out / "model.safetensors").stat().st_size)
    expected = linear_bytes(adapter.model) - linear_bytes(quantized.model)
    assert 0.9 * expected < file_saving <= expected, "the file holds int8 weights"


def test_pruned_and_quantised_model_works_and_round_trips(tmp_path: Path) -> None:
    adapter = kgvqa_adapter()
    adapter.model.eval()
    plan = random_plan(discover_units(adapter.model), seed=3)
    apply_plan(adapter.model, plan)
    pruned_logits = logits(adapter)
    adapter.model = quantize_int8(adapter.model)
    assert relative_error(logits(adapter), pruned_logits) < 0.05
    loaded = load_pruned(save_pruned(adapter, plan, tmp_path / "pq", info={}))
    assert torch.equal(logits(loaded), logits(adapter))
    inputs = loaded.prepare(images(), list(QUESTIONS))
    assert loaded.predict(inputs) == adapter.predict(inputs)


def test_refuses_non_cpu_and_double_quantisation(adapter: KgVqaAdapter) -> None:
    with torch.device("meta"):
        elsewhere = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(PruningError, match=r"\[K530\] .*CPU only.*meta"):
        quantize_int8(elsewhere)
    with pytest.raises(PruningError, match=r"\[K531\]"):
        quantize_int8(quantize_int8(nn.Sequential(nn.Linear(4, 4))))


def test_unknown_quantisation_record_is_refused(adapter: KgVqaAdapter, tmp_path: Path) -> None:
    quantized = KgVqaAdapter(quantize_int8(adapter.model), adapter.answers, adapter.tokenizer)
    out = save_pruned(quantized, keep_all(discover_units(adapter.model)), tmp_path / "q", info={})
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["quantization"]["method"] = "dynamic-int4.v9"
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PruningError, match=r"\[K532\].*dynamic-int4.v9"):
        load_pruned(out)
