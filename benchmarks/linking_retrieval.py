"""Benchmark: entity linking and fact retrieval, written to one JSON file in one run.

Linking (see benchmarks/linking.py, run from here): questions/s with the hashing encoder and with
MiniLM against encoder + FAISS search alone; index build time and memory for 10^6 concepts.

Retrieval (this file): latency per sample on the embedded store, p50/p99, for 2-hop neighbourhoods
(limit 50) and for whole `FactRetriever.retrieve` calls uncached and cached, on the bundled graph
and on a generated ConceptNet-format graph of --facts facts (default 10^6). Goal: p50 under 2 ms
uncached for 2-hop with limits.

    python benchmarks/linking_retrieval.py --out results/linking_retrieval.json [--facts 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import kg_load  # noqa: E402
import linking  # noqa: E402

from kgprune.kg import bundled  # noqa: E402
from kgprune.kg.backends.ladybug import LadybugStore  # noqa: E402
from kgprune.kg.ingest import load_conceptnet  # noqa: E402
from kgprune.linking.encoder import HashingEncoder  # noqa: E402
from kgprune.linking.linker import Linker  # noqa: E402
from kgprune.retrieval.cache import RetrievalCache  # noqa: E402
from kgprune.retrieval.facts import FactRetriever, RetrievalQuery  # noqa: E402
from kgprune.retrieval.relation_detector import RelationDetector  # noqa: E402

QUESTIONS = ("What is this used for?", "Where would you usually find this?",
             "What is this made of?", "What kind of thing is this?", "What can this do?")


def _latency(fn: Callable[[Any], object], items: Sequence[Any]) -> dict[str, float]:
    for item in items[:5]:
        fn(item)
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"n": len(times), "p50_ms": statistics.median(times),
            "p99_ms": times[min(len(times) - 1, int(0.99 * len(times)))],
            "mean_ms": statistics.fmean(times)}


def measure_store(store: LadybugStore, concepts: list[str], objects: list[str], workdir: Path,
                  num: int, seed: int = 0) -> dict[str, Any]:
    rng = random.Random(seed)
    seeds = rng.sample(concepts, min(num, len(concepts)))
    queries = [RetrievalQuery(f"q{i}", rng.choice(QUESTIONS), (rng.choice(objects),))
               for i in range(num)]
    detector = RelationDetector(HashingEncoder())
    linker = Linker(store)
    uncached = FactRetriever(store, linker, detector)
    cache = RetrievalCache(workdir / "cache.sqlite", kg_version=store.version())
    cached = FactRetriever(store, linker, detector, cache=cache)
    for q in queries:
        cached.retrieve(q)
    result = {
        "neighbors_1hop_limit50": _latency(lambda u: store.neighbors(u, hops=1, limit=50), seeds),
        "neighbors_2hop_limit50": _latency(lambda u: store.neighbors(u, hops=2, limit=50), seeds),
        "retrieve_uncached": _latency(uncached.retrieve, queries),
        "retrieve_cached": _latency(cached.retrieve, queries),
    }
    cache.close()
    return result


def bundled_graph(workdir: Path, num: int) -> dict[str, Any]:
    store = LadybugStore(workdir / "bundled.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    concepts = [c.uri for batch in store.iter_concepts() for c in batch]
    objects = sorted(set(scene_object_names()))
    result = {"facts": store.stats().facts, **measure_store(store, concepts, objects, workdir, num)}
    store.close()
    return result


def scene_object_names() -> list[str]:
    """Object names of the bundled Visual Genome scenes: what an image side would report."""
    names = []
    for entry in json.loads((bundled.visual_genome_dir() / "objects.json").read_text()):
        names += [n for o in entry["objects"] for n in o.get("names", [])]
    return names


def generated_graph(workdir: Path, num_facts: int, num: int) -> dict[str, Any]:
    path = workdir / "generated.csv.gz"
    kg_load.generate(path, num_facts)
    store = LadybugStore(workdir / "generated.lbdb")
    store.ensure_schema()
    start = time.perf_counter()
    load_conceptnet(store, path)
    load_s = time.perf_counter() - start
    concepts = [c.uri for batch in store.iter_concepts(batch_size=50_000) for c in batch]
    result = {"facts": store.stats().facts, "load_s": load_s,
              **measure_store(store, concepts, concepts, workdir, num)}
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/linking_retrieval.json"))
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--num-concepts", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--skip-linking", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"meta": {"python": platform.python_version(),
                                       "machine": platform.machine()}}
    if not args.skip_linking:
        report["linking"] = linking.run(num_questions=args.questions,
                                        num_concepts=args.num_concepts,
                                        minilm=not args.no_minilm)
    with tempfile.TemporaryDirectory(prefix="kgprune-bench-") as tmp:
        report["retrieval"] = {
            "bundled": bundled_graph(Path(tmp), args.samples),
            "generated": generated_graph(Path(tmp), args.facts, args.samples),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(report, indent=2))
    tmp_out.replace(args.out)
    print(json.dumps(report["retrieval"], indent=2))


if __name__ == "__main__":
    main()
