"""The public Python API (`import kgprune`): plain modules, Hugging Face models, the knowledge
criterion on a real benchmark, saving and loading, and the README's example run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import ViltConfig, ViltForQuestionAnswering

import kgprune
from kgprune.errors import ConfigError
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.pruning.saved import read_manifest
from kgprune.vqa.adapters.hf_loading import tiny_adapter
from kgprune.vqa.adapters.hf_vilt import ViltAdapter
from tests.training.conftest import make_bench

README = Path(__file__).resolve().parents[2] / "README.md"


class Block(nn.Module):
    """A transformer block written from scratch: kgprune has no adapter for it."""

    def __init__(self, dim: int = 16, heads: int = 4) -> None:
        super().__init__()
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.num_heads, self.head_dim = heads, dim // heads
        self.fc1, self.fc2 = nn.Linear(dim, 32), nn.Linear(32, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (p(x).view(b, t, self.num_heads, -1).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        attended = torch.softmax(q @ k.transpose(-1, -2) / self.head_dim ** 0.5, -1) @ v
        x = x + self.out_proj(attended.transpose(1, 2).reshape(b, t, -1))
        return x + self.fc2(torch.relu(self.fc1(x)))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([Block(), Block()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def tiny_vilt() -> ViltForQuestionAnswering:
    torch.manual_seed(0)
    config = ViltConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, image_size=32, patch_size=16,
                        max_position_embeddings=40, num_labels=5)
    return ViltForQuestionAnswering(config).eval()


def vilt_inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(0, 100, (2, 7), generator=generator),
            "pixel_values": torch.randn(2, 3, 32, 32, generator=generator)}


def test_plain_module_magnitude_prunes_saves_and_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net, x = Net(), torch.randn(2, 5, 16)
    pruned, report = kgprune.prune(net, method="magnitude", ratio=0.3)
    assert pruned is net, "pruned in place, the same kind of object back"
    assert report.removed_ratio >= 0.3 and report.params_after < report.params_before
    assert sum(b.fc1.out_features + b.q_proj.out_features for b in net.layers) < 2 * (32 + 16)
    assert report.summary().startswith(f"Removed {report.removed_ratio:.1%} of prunable")
    out = kgprune.save_pruned(pruned, tmp_path / "net",
                              info={"metrics": {"accuracy": 25.1, "speedup": 1.31}})
    assert read_manifest(out)["base"] == {"kind": "module", "class": f"{Net.__module__}.Net"}
    card = (out / "README.md").read_text()
    assert "| VQA accuracy (%) | 25.1 |" in card and "| speedup (x) | 1.31 |" in card
    assert "| importance criterion | magnitude |" in card and "load_pruned(" in card
    fresh = Net()
    loaded = kgprune.load_pruned(out, model=fresh)
    assert isinstance(loaded, Net) and fresh.layers[0].fc1.out_features == 32
    torch.testing.assert_close(loaded(x), pruned(x))
    with pytest.raises(ConfigError, match=r"K592"):
        kgprune.load_pruned(out)
    with pytest.raises(ConfigError, match=r"K593.*Block"):
        kgprune.load_pruned(out, model=Block())


def test_plain_module_gradient_criterion_through_a_loss_callable() -> None:
    torch.manual_seed(0)
    batches = [torch.randn(4, 5, 16) for _ in range(3)]
    net = Net()
    # The loss reads only the first two output features: units that feed nothing else there
    # score 0 under the task gradient, while magnitude ranks by weights alone.
    scores = kgprune.score(net, method="task", data=batches,
                           loss=lambda model, batch: model(batch)[..., :2].pow(2).mean())
    assert scores.criterion == "task" and scores.samples == 3
    assert all(torch.isfinite(v).all() and (v >= 0).all() for v in scores.scores.values())
    magnitude = kgprune.score(Net(), method="magnitude")
    assert scores.scores.keys() == magnitude.scores.keys()
    pruned, report = kgprune.prune(net, method="task", ratio=0.3, data=batches,
                                   loss=lambda model, batch: model(batch)[..., :2].pow(2).mean())
    assert report.method == "task" and report.removed_ratio >= 0.3


def test_plain_module_needs_data_for_gradient_criteria() -> None:
    with pytest.raises(ConfigError, match=r"K590.*'task' without data"):
        kgprune.prune(Net(), method="task", ratio=0.3)
    with pytest.raises(ConfigError, match=r"K594.*Fine-tuning"):
        kgprune.prune(Net(), method="magnitude", ratio=0.3, steps=5)


def test_save_needs_a_known_plan(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"K594.*No pruning plan"):
        kgprune.save_pruned(Net(), tmp_path / "x")


def test_uniform_vilt_reloads_with_plain_from_pretrained(tmp_path: Path) -> None:
    model, inputs = tiny_vilt(), vilt_inputs()
    pruned, report = kgprune.prune(model, method="magnitude", ratio=0.3, policy="uniform")
    sizes = {layer.intermediate.dense.out_features for layer in pruned.vilt.encoder.layer}
    assert len(sizes) == 1 and sizes.pop() < 64, "every layer keeps the same number of neurons"
    out = kgprune.save_pruned(pruned, tmp_path / "vilt")
    config = json.loads((out / "config.json").read_text())
    assert config["intermediate_size"] < 64 and config["num_attention_heads"] == 4
    assert json.loads((out / "base_config.json").read_text())["intermediate_size"] == 64
    plain = ViltForQuestionAnswering.from_pretrained(out).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(**inputs).logits, pruned(**inputs).logits)
        torch.testing.assert_close(kgprune.load_pruned(out)(**inputs).logits,
                                   pruned(**inputs).logits)
    card = (out / "README.md").read_text()
    assert "ViltForQuestionAnswering.from_pretrained" in card and "| layer policy | uniform |" in card
    assert "| heads kept whole | 2 attention modules: ViltConfig derives" in card
    assert read_manifest(out)["loader"] == "transformers"
    assert {(t.kind, t.removed > 0) for t in report.towers} == {("heads", False), ("neurons", True)}


def test_global_vilt_folder_says_kgprune_loads_it(tmp_path: Path) -> None:
    model, inputs = tiny_vilt(), vilt_inputs()
    pruned, _ = kgprune.prune(model, method="magnitude", ratio=0.4)
    out = kgprune.save_pruned(pruned, tmp_path / "vilt")
    assert not (out / "config.json").exists()
    assert read_manifest(out)["loader"] == "kgprune"
    assert "kgprune.load_pruned" in (out / "README.md").read_text()
    with torch.no_grad():
        torch.testing.assert_close(kgprune.load_pruned(out)(**inputs).logits,
                                   pruned(**inputs).logits)


def test_knowledge_criterion_on_a_benchmark_with_a_hf_model(
        bundled_store: LadybugStore, tmp_path: Path) -> None:
    bench = make_bench(bundled_store, tmp_path / "bench", n=12)
    torch.manual_seed(0)
    vilt = tiny_adapter("vilt", answers=sorted({a for s in bench.train for a in s.answers})[:40])
    pruned, report = kgprune.prune(vilt.model, method="knowledge", ratio=0.3,
                                   processor=vilt.processor, data=bench.path, kg=bundled_store,
                                   steps=2, batch_size=4, samples=8)
    assert pruned is vilt.model and report.removed_ratio >= 0.3
    assert report.inputs["data"] == str(bench.path) and report.inputs["store"] == bundled_store.url
    out = kgprune.save_pruned(pruned, tmp_path / "out")
    loaded = kgprune.load_pruned(out)
    assert isinstance(loaded, ViltAdapter), "saved with its processor: back as the VQA adapter"
    card = (out / "README.md").read_text()
    assert "| importance criterion | knowledge |" in card and str(bench.path) in card
    assert "full graph" in card


def test_prune_reuses_saved_scores(tmp_path: Path) -> None:
    scores = kgprune.score(tiny_vilt(), method="random", seed=3)
    paths = scores.save(tmp_path / "scores")
    assert paths[1].is_file()
    _, reused = kgprune.prune(tiny_vilt(), ratio=0.3, scores=tmp_path / "scores")
    _, fresh = kgprune.prune(tiny_vilt(), method="random", ratio=0.3, seed=3)
    _, other = kgprune.prune(tiny_vilt(), method="random", ratio=0.3, seed=4)
    assert reused.method == "random"
    assert reused.plan.kept() == fresh.plan.kept() != other.plan.kept()


def test_import_kgprune_loads_no_torch() -> None:
    code = "import sys, kgprune; assert kgprune.__version__; print(sorted(m for m in sys.modules " \
           "if m.split('.')[0] in ('torch', 'transformers', 'spacy', 'faiss')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def readme_block(heading: str) -> str:
    section = README.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = readme_block("Python API")
    assert code.splitlines()[0] == "import kgprune"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    claimed = re.search(r"print\(report.summary\(\)\)\s+# (.*?) \.\.\.", code).group(1)
    assert claimed in printed, "the README shows what the example prints"
    pruned, again, plain = namespace["pruned"], namespace["again"], namespace["plain"]
    inputs = {"input_ids": torch.randint(0, 100, (2, 7)),
              "pixel_values": torch.randn(2, 3, 32, 32)}
    with torch.no_grad():
        for model in (again, plain):
            model.eval()
            torch.testing.assert_close(model(**inputs).logits, pruned(**inputs).logits)
    assert (tmp_path / "out" / "vilt-pruned" / "README.md").is_file()
