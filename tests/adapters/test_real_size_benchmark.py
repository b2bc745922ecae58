"""`benchmarks/real_size.py` end to end on a small LLaVA with the released options (vision
feature layer -2, untied embeddings) in bfloat16: the code path the GPU run of LLaVA-1.5-7B takes
(`--device cuda --dtype bfloat16`), on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kgprune.vqa.adapters.hf_real import LLAVA_15_7B

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"vision_config": {**LLAVA_15_7B["vision_config"], "hidden_size": 32,
                           "intermediate_size": 64, "num_hidden_layers": 3,
                           "num_attention_heads": 4, "image_size": 28},
         "text_config": {**LLAVA_15_7B["text_config"], "hidden_size": 64,
                         "intermediate_size": 128, "num_hidden_layers": 2,
                         "num_attention_heads": 4, "num_key_value_heads": 4}}
STEPS = ("build", "discover_units", "base_flops", "base_latency_b1", "base_latency_b8",
         "importance", "plan", "masked_outputs", "surgery", "sliced_outputs", "save", "load",
         "loaded_outputs", "pruned_flops", "pruned_latency_b1", "pruned_latency_b8",
         "rebuild_base", "paired_latency")


@pytest.mark.slow
def test_small_llava_runs_the_gpu_code_path_in_bfloat16(tmp_path: Path) -> None:
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"name": "llava-1.5-7b", "overrides": SMALL}))
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "real_size.py"), "--config-file", str(config),
         "--dtype", "bfloat16", "--samples", "4", "--batch-size", "2", "--repeats", "1",
         "--warmup", "0", "--paired", "1", "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["dtype"] == "torch.bfloat16" and result["samples"] == 4
    assert result["units"]["unreachable"] == ["model.vision_tower.encoder.layers.2.self_attn",
                                              "model.vision_tower.encoder.layers.2.mlp"]
    assert tuple(result["steps"]) == STEPS
    assert all(s["seconds"] >= 0 and s["peak_rss_bytes"] > 0 for s in result["steps"].values())
    assert result["plan"]["removed_ratio"] == pytest.approx(0.3, abs=0.03)
    equality = result["equality"]
    assert equality["masked_vs_sliced_same_answers"] and equality["sliced_vs_loaded_same_answers"]
    assert equality["masked_vs_sliced_max_abs_loss_diff"] < 0.05
    assert result["ratios"]["params"] < 1 and result["ratios"]["flops"] < 1
    assert result["pruned"]["prunable_params"] < result["base"]["prunable_params"]
    assert {"base_b8_min_ms", "pruned_b8_min_ms", "ratio_b1"} <= set(result["paired_latency"])
