"""Benchmark: how much faster sliced models run, against the FLOPs ideal and against Torch-Pruning.

Part 1, for the kgvqa `base` model (pretrained MiniLM text tower, loaded offline) and a BERT-base
size text model (random init, sequence length 128): magnitude scores, `build_plan` removing 20 /
30 / 50% of the prunable parameters, `apply_plan`; then the model forward's latency at batch 1 and
32 against the ideal speed-up, FLOPs before / FLOPs after. Goal: 0.9 of ideal at batch 32 on CPU.
For kgvqa also the time to answer (prepare + predict, as `measure_adapter` times it). The models
are timed round-robin and compared by their fastest run, since the machine may be shared.

Part 2: Torch-Pruning (`MetaPruner`, `MagnitudeImportance`, whole heads as in its Hugging Face BERT
example, hidden size untouched) removes the same share of heads and FFN neurons, per layer, from
the same BERT: parameters, latency and time to prune, next to ours.

Part 3: scoring time of the `knowledge` criterion against `task` on the same kgvqa samples, with
the knowledge targets built from (synthetic) cached retrieval contexts. Goal: at most 1.05x.

    python benchmarks/pruning_speed.py --out results/pruning_speed.json [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from kgprune.atomic import write_atomic
from kgprune.pruning.importance import ScoringBatch, criterion_by_name
from kgprune.pruning.measure import measure_callable, synthetic_inputs
from kgprune.pruning.plan import PruningPlan
from kgprune.pruning.planner import PlanConfig, build_plan
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import discover_units
from kgprune.retrieval.facts import AnswerCandidate, KnowledgeContext
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter
from kgprune.vqa.knowledge_loss import knowledge_targets, task_targets
from kgprune.vqa.training import default_config

BATCHES = (1, 32)
SEQ_LEN = 128
ANSWERS = ("[UNK]", "yes", "no", "red", "blue", "green", "dog", "cat", "pizza", "2", "3", "wood")
QUESTIONS = ("what color is the car", "how many dogs are in this picture", "is the cat asleep",
             "what is the table made of")
RunBatch = Callable[[int], object]


def kgprune_prune(model: nn.Module, ratio: float) -> tuple[nn.Module, PruningPlan, float]:
    """A sliced copy of `model` without `ratio` of its prunable parameters, by magnitude."""
    pruned = copy.deepcopy(model)
    start = time.perf_counter()
    units = discover_units(pruned)
    scores = criterion_by_name("magnitude").score(SimpleNamespace(model=pruned), units)
    plan = build_plan(units, scores, PlanConfig(ratio=ratio))
    apply_plan(pruned, plan, units=units)
    return pruned, plan, time.perf_counter() - start


def tp_prune(model: nn.Module, ratio: float, example: dict[str, torch.Tensor]
             ) -> tuple[nn.Module, float]:
    """Torch-Pruning's magnitude pruning of `ratio` of each layer's heads and FFN neurons."""
    import torch_pruning as tp
    from transformers.models.bert.modeling_bert import BertSelfAttention

    pruned = copy.deepcopy(model)
    start = time.perf_counter()
    heads: dict[nn.Module, int] = {}
    ignored: list[nn.Module] = [pruned.embeddings, pruned.pooler]
    for name, module in pruned.named_modules():
        if isinstance(module, BertSelfAttention):
            heads.update(dict.fromkeys((module.query, module.key, module.value),
                                       module.num_attention_heads))
        if name.endswith("output.dense"):  # their outputs are the hidden size: keep it
            ignored.append(module)
    pruner = tp.pruner.MetaPruner(
        pruned, example, importance=tp.importance.MagnitudeImportance(p=2, group_reduction="mean"),
        pruning_ratio=ratio, global_pruning=False, num_heads=heads, prune_num_heads=True,
        prune_head_dims=False, head_pruning_ratio=ratio, ignored_layers=ignored,
        output_transform=lambda out: out.last_hidden_state.sum())
    pruner.step()
    for module in pruned.modules():  # Torch-Pruning leaves the head counts to the caller
        if isinstance(module, BertSelfAttention):
            module.num_attention_heads = module.query.out_features // module.attention_head_size
            module.all_head_size = module.query.out_features
    return pruned, time.perf_counter() - start


def static_numbers(model: nn.Module, run_batch: RunBatch) -> dict[str, Any]:
    """Parameters, FLOPs per sample and batch-32 peak memory (latency comes from `interleaved`)."""
    numbers = measure_callable(model.eval(), run_batch, batch_sizes=(1,), repeats=1, warmup=0,
                               memory_batch=BATCHES[-1]).to_dict()
    del numbers["latency"]
    return numbers


def interleaved(runners: Mapping[str, RunBatch], *, repeats: int,
                warmup: int) -> dict[str, dict[int, dict[str, float]]]:
    """Latency per model and batch size, timed round-robin so that the load of a shared machine
    hits every model alike; the minimum is the least noisy estimate (load only adds time)."""
    times: dict[str, dict[int, list[float]]] = {name: {b: [] for b in BATCHES} for name in runners}
    with torch.no_grad():
        for batch in BATCHES:
            for run in runners.values():
                for _ in range(warmup):
                    run(batch)
            for _ in range(repeats):
                for name, run in runners.items():
                    start = time.perf_counter()
                    run(batch)
                    times[name][batch].append((time.perf_counter() - start) * 1000)
    return {name: {b: {"min_ms": min(t), "median_ms": statistics.median(t), "runs_ms": t}
                   for b, t in per.items()} for name, per in times.items()}


def ratios(dense: dict[str, Any], pruned: dict[str, Any], dense_ms: dict[int, dict[str, float]],
           pruned_ms: dict[int, dict[str, float]]) -> dict[str, float]:
    """Speed-ups (of the minimum latency) per batch size, the FLOPs ideal, the share reached."""
    ideal = dense["flops_per_sample"] / pruned["flops_per_sample"]
    out = {"params_ratio": pruned["params"] / dense["params"], "ideal_speedup": ideal}
    for batch in BATCHES:
        speedup = dense_ms[batch]["min_ms"] / pruned_ms[batch]["min_ms"]
        out[f"speedup_b{batch}"] = speedup
        out[f"speedup_median_b{batch}"] = (dense_ms[batch]["median_ms"]
                                           / pruned_ms[batch]["median_ms"])
        out[f"of_ideal_b{batch}"] = speedup / ideal
    return out


def bert_part(ratios_: Sequence[float], *, repeats: int, warmup: int,
              torch_pruning: bool) -> dict[str, Any]:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig()).eval()
    ids = torch.randint(1000, 30000, (BATCHES[-1], SEQ_LEN))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def runner(m: nn.Module) -> RunBatch:
        return lambda b: m(**{k: v[:b] for k, v in inputs.items()})

    dense = static_numbers(model, runner(model))
    _log("bert dense", dense)
    rows = []
    for ratio in ratios_:
        pruned, plan, seconds = kgprune_prune(model, ratio)
        models = {"dense": model, "kgprune": pruned}
        prune_s = {"kgprune": seconds}
        if torch_pruning:
            example = {k: v[:1] for k, v in inputs.items()}
            models["torch-pruning"], prune_s["torch-pruning"] = tp_prune(model, ratio, example)
        latency = interleaved({name: runner(m) for name, m in models.items()}, repeats=repeats,
                              warmup=warmup)
        for tool in prune_s:
            numbers = static_numbers(models[tool], runner(models[tool]))
            row = {"ratio": ratio, "tool": tool, "prune_s": prune_s[tool],
                   **ratios(dense, numbers, latency["dense"], latency[tool]),
                   "numbers": numbers, "latency": latency[tool], "dense_latency": latency["dense"]}
            if tool == "kgprune":
                row["removed_ratio"] = plan.removed_ratio
            rows.append(row)
            _log(f"bert {tool} {ratio}", row)
        del models, pruned
    return {"model": f"BertModel(BertConfig()) random init, seq len {SEQ_LEN}",
            "dense": dense, "pruned": rows}


def kgvqa_base() -> KgVqaAdapter:
    adapter = KgVqaAdapter.build(default_config("base", 96), ANSWERS, seed=0, pretrained=True)
    adapter.model.eval()
    return adapter


def kgvqa_part(adapter: KgVqaAdapter, ratios_: Sequence[float], *, repeats: int,
               warmup: int) -> dict[str, Any]:
    images, _ = synthetic_inputs(BATCHES[-1])
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(len(images))]
    inputs = adapter.prepare(images, questions)

    def runner(m: nn.Module) -> RunBatch:
        return lambda b: m(*(inputs[k][:b] for k in ("pixel_values", "input_ids",
                                                      "attention_mask")))

    def answer(a: KgVqaAdapter) -> RunBatch:
        return lambda b: a.predict(a.prepare(images[:b], questions[:b]))

    dense = static_numbers(adapter.model, runner(adapter.model))
    _log("kgvqa dense", dense)
    rows = []
    for ratio in ratios_:
        pruned, plan, seconds = kgprune_prune(adapter.model, ratio)
        pruned_adapter = KgVqaAdapter(pruned, adapter.answers, adapter.tokenizer)
        latency = interleaved({"dense": runner(adapter.model), "kgprune": runner(pruned),
                               "dense_answer": answer(adapter),
                               "kgprune_answer": answer(pruned_adapter)},
                              repeats=repeats, warmup=warmup)
        numbers = static_numbers(pruned, runner(pruned))
        row = {"ratio": ratio, "tool": "kgprune", "prune_s": seconds,
               "removed_ratio": plan.removed_ratio,
               **ratios(dense, numbers, latency["dense"], latency["kgprune"]),
               "time_to_answer": ratios(dense, numbers, latency["dense_answer"],
                                        latency["kgprune_answer"]),
               "numbers": numbers, "latency": latency}
        rows.append(row)
        _log(f"kgvqa {ratio}", row)
    return {"model": "kgvqa base (MiniLM-L6 text tower), image 96 px", "dense": dense,
            "pruned": rows}


def scoring_batches(adapter: KgVqaAdapter, count: int, size: int) -> list[ScoringBatch]:
    """Synthetic samples; knowledge targets come from cached contexts, as in training."""
    batches = []
    for b in range(count):
        images, _ = synthetic_inputs(size)
        questions = [QUESTIONS[(b + i) % len(QUESTIONS)] for i in range(size)]
        answers = [ANSWERS[1 + (b * size + i) % (len(ANSWERS) - 1)] for i in range(size)]
        contexts = [KnowledgeContext(str(i), (), (), (), (), (
            AnswerCandidate(a, f"/c/en/{a}", 0.6, ()),
            AnswerCandidate(ANSWERS[1 + (i + 3) % (len(ANSWERS) - 1)], "/c/en/x", 0.4, ())),
            "bench") for i, a in enumerate(answers)]
        batches.append(ScoringBatch(adapter.prepare(images, questions),
                                    task=[task_targets([a] * 10) for a in answers],
                                    knowledge=[knowledge_targets(c) for c in contexts]))
    return batches


def importance_part(adapter: KgVqaAdapter, *, repeats: int, count: int = 4,
                    size: int = 16) -> dict[str, Any]:
    batches = scoring_batches(adapter, count, size)
    units = discover_units(adapter.model)
    times: dict[str, list[float]] = {"task": [], "knowledge": []}
    criterion_by_name("task").score(adapter, units, batches[:1])  # warm-up
    for _ in range(repeats):
        for name in times:  # alternate, so drift in machine load hits both alike
            start = time.perf_counter()
            criterion_by_name(name).score(adapter, units, batches)
            times[name].append(time.perf_counter() - start)
    task, knowledge = (statistics.median(times[n]) for n in ("task", "knowledge"))
    result = {"samples": count * size, "task_s": task, "knowledge_s": knowledge,
              "overhead": knowledge / task, "runs": times}
    _log("importance", result)
    return result


def _log(what: str, data: dict[str, Any]) -> None:
    brief = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
    print(f"{what}: {json.dumps(brief)}", file=sys.stderr)


def table(report: dict[str, Any]) -> str:
    lines = [f"{'model':7} {'tool':13} {'ratio':>5} {'params':>6} {'ideal':>5} {'b1':>5} "
             f"{'b32':>5} {'b32/ideal':>9} {'prune s':>7}"]
    for key in ("kgvqa", "bert"):
        for row in report.get(key, {}).get("pruned", []):
            shown = [(row["tool"], row)]
            if "time_to_answer" in row:
                shown.append(("  answering", row["time_to_answer"]))
            for tool, r in shown:
                lines.append(f"{key:7} {tool:13} {row['ratio']:5.2f} {r['params_ratio']:6.3f} "
                             f"{r['ideal_speedup']:5.2f} {r['speedup_b1']:5.2f} "
                             f"{r['speedup_b32']:5.2f} {r['of_ideal_b32']:9.2f} "
                             f"{row['prune_s']:7.2f}")
    if "importance" in report:
        imp = report["importance"]
        lines.append(f"knowledge / task scoring time: {imp['overhead']:.3f} "
                     f"({imp['knowledge_s']:.2f} s / {imp['task_s']:.2f} s, "
                     f"{imp['samples']} samples)")
    return "\n".join(lines)


def run(*, ratios_: Sequence[float], repeats: int, warmup: int, parts: Sequence[str],
        threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    report: dict[str, Any] = {"meta": {
        "python": platform.python_version(), "torch": torch.__version__,
        "machine": platform.machine(), "cpus": os.cpu_count(), "torch_threads": threads,
        "load_average_1m": os.getloadavg()[0], "repeats": repeats, "warmup": warmup}}
    if "bert" in parts or "tp" in parts:
        report["bert"] = bert_part(ratios_, repeats=repeats, warmup=warmup,
                                   torch_pruning="tp" in parts)
    if "kgvqa" in parts or "importance" in parts:
        adapter = kgvqa_base()
        if "kgvqa" in parts:
            report["kgvqa"] = kgvqa_part(adapter, ratios_, repeats=repeats, warmup=warmup)
        if "importance" in parts:
            report["importance"] = importance_part(adapter, repeats=repeats)
    report["meta"]["load_average_1m_end"] = os.getloadavg()[0]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/pruning_speed.json"))
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.2, 0.3, 0.5])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parts", nargs="+", default=["kgvqa", "bert", "tp", "importance"],
                        choices=["kgvqa", "bert", "tp", "importance"])
    args = parser.parse_args()
    report = run(ratios_=args.ratios, repeats=args.repeats, warmup=args.warmup,
                 parts=args.parts, threads=args.threads)
    write_atomic(args.out, json.dumps(report, indent=1) + "\n")
    print(table(report))


if __name__ == "__main__":
    main()
