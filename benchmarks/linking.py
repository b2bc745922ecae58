"""Benchmark: entity linking throughput, and building a concept index of a million names.

Part 1, on the bundled graph, per encoder (hashing; MiniLM when installed): questions per second for
`Linker.link_batch` (spaCy mentions + one store query + fuzzy look-ups) with the linker's key cache
warm and cold (a new linker per batch), for `Linker.link` one at a time, and as the reference the
encoder alone, FAISS search alone and the two together on the whole question. Goal: linking at
least half as fast as encoder + search.

Part 2, in a fresh process (so its peak memory is its own): synthetic concept names encoded by the
hashing encoder into the index `ConceptIndex.build_from_names` makes for that size (HNSW above
200k), with build and save time, peak RSS, and per-query search time of HNSW against exhaustive
search over the same vectors (the HNSW storage), with HNSW's top-1 agreement on misspelled names.

    python benchmarks/linking.py --out results/linking.json [--num-concepts 1000000] [--no-minilm]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TEMPLATES = [
    "What is the {a} used for?",
    "Where would you usually find a {a}?",
    "Is the {a} next to the {b} made of {w}?",
    "What kind of {a} is on the {b} in this picture?",
    "Why would someone put a {a} near the {b}?",
    "Can the {a} in the {w} be used to {v} the {b}?",
    "How many {a}s are {w} in this photo?",
    "Which {a} could a person {v} after the {b}?",
    "Does the {w} {a} belong in a {b}?",
    "What {v}s the {a} when it is {w}?",
    "Who is holding the {a} and the {b}?",
    "Name a place where people {v} a {a}.",
]
WORDS = ["metal", "wooden", "red", "outside", "broken", "hot", "kitchen", "garden", "visible",
         "clean", "plastic", "tiny", "heavy", "striped", "open", "empty", "wet", "cold", "shiny"]
VERBS = ["cut", "carry", "clean", "hold", "wash", "paint", "cook", "fix", "throw", "ride", "open",
         "store", "fill", "eat", "watch", "sell", "buy", "break", "move", "use"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sha", "dor", "bel", "fin",
             "gra", "ti", "mo", "su", "ren", "bak", "ple"]
BATCH = 64
REPEATS = 5


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _misspell(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def make_questions(names: Sequence[str], count: int, seed: int = 0) -> list[str]:
    """Template questions about concept names; one in ten has a misspelled concept."""
    rng = random.Random(seed)
    short = [n for n in names if len(n.split()) <= 2]
    questions = []
    for i in range(count):
        a, b = rng.choice(short), rng.choice(short)
        if i % 10 == 0 and len(a) >= 6:
            a = _misspell(rng, a)
        questions.append(rng.choice(TEMPLATES).format(a=a, b=b, w=rng.choice(WORDS),
                                                      v=rng.choice(VERBS)))
    return questions


def _rate(fn: Callable[[Any], object], items: Any, batch: int,
          repeats: int = REPEATS) -> float:
    """Items per second of `fn` applied batch by batch: the best of `repeats` passes after a
    warm-up batch, so other work on a shared machine inflates no figure."""
    fn(items[:batch])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for begin in range(0, len(items), batch):
            fn(items[begin : begin + batch])
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def throughput(encoder_name: str, num_questions: int) -> dict[str, Any]:
    from kgprune.kg import bundled
    from kgprune.kg.backends.ladybug import LadybugStore
    from kgprune.linking.encoder import encoder_by_name
    from kgprune.linking.index import ConceptIndex
    from kgprune.linking.linker import Linker

    with tempfile.TemporaryDirectory(prefix="kgprune-bench-") as tmp:
        store = LadybugStore(Path(tmp) / "kg.lbdb")
        store.ensure_schema()
        bundled.load_bundled(store)
        encoder = encoder_by_name(encoder_name)
        start = time.perf_counter()
        index = ConceptIndex.build(store, encoder=encoder)
        build_s = time.perf_counter() - start
        questions = make_questions(index.names, num_questions)
        linker = Linker(store, index=index)
        vectors = encoder.encode(questions)
        linked = linker.link_batch(questions)
        result: dict[str, Any] = {
            "encoder": encoder.identity, "concepts": len(index), "index_type": index.index_type,
            "index_build_s": build_s, "questions": len(questions), "batch": BATCH,
            "links_per_question": sum(map(len, linked)) / len(questions),
            "fuzzy_share": sum(c.method == "fuzzy" for ls in linked for c in ls)
            / max(1, sum(map(len, linked))),
            "link_batch_qps": _rate(linker.link_batch, questions, BATCH),
            "link_batch_cold_cache_qps": _rate(
                lambda qs: Linker(store, index=index, extractor=linker.extractor).link_batch(qs),
                questions, BATCH),
            "link_one_by_one_qps": _rate(lambda qs: [linker.link(q) for q in qs],
                                         questions[: min(len(questions), 500)], BATCH),
            "mentions_only_qps": _rate(linker.extractor.extract_batch, questions, BATCH),
            "encoder_only_qps": _rate(encoder.encode, questions, BATCH),
            "search_only_qps": _rate(lambda v: index.search(v, k=5), vectors, BATCH),
        }
        store.close()
    reference = 1 / (1 / result["encoder_only_qps"] + 1 / result["search_only_qps"])
    result["encoder_plus_search_qps"] = reference
    result["link_over_reference"] = result["link_batch_qps"] / reference
    result["goal_met"] = result["link_over_reference"] >= 0.5
    return result


def synthetic_names(count: int, seed: int = 0) -> list[str]:
    """Distinct names of one to three pseudo-words from a Zipf-ish vocabulary, as in ConceptNet
    (whose English names are distinct: identical vectors would also starve HNSW's graph)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5)))
             for _ in range(max(1000, count // 3))]
    names: dict[str, None] = {}
    while len(names) < count:
        words = rng.choice((1, 1, 1, 2, 2, 3))
        names[" ".join(vocab[int(len(vocab) * rng.random() ** 2)] for _ in range(words))] = None
    return list(names)


def build_large(num_concepts: int, workdir: Path) -> dict[str, Any]:
    """Run in a fresh process: build, save and query an index of `num_concepts` synthetic names."""
    import faiss
    import numpy as np

    from kgprune.linking.encoder import HashingEncoder
    from kgprune.linking.index import ConceptIndex

    names = synthetic_names(num_concepts)
    uris = [f"/c/en/{n.replace(' ', '_')}_{i}" for i, n in enumerate(names)]
    rss_before = _peak_mb()
    encoder = HashingEncoder()
    start = time.perf_counter()
    encoder.encode(names[:100_000])
    encode_100k_s = time.perf_counter() - start
    encoder = HashingEncoder()
    start = time.perf_counter()
    index = ConceptIndex.build_from_names(uris, names, encoder=encoder)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    directory = index.save(workdir / "index")
    save_s = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in directory.iterdir()) / 2**20

    rng = random.Random(1)
    queries = [_misspell(rng, n) if len(n) >= 6 else n for n in rng.sample(names, 1000)]
    vectors = encoder.encode(queries)
    start = time.perf_counter()
    approx = index.search(vectors, k=1)
    hnsw_ms = (time.perf_counter() - start) * 1000 / len(queries)
    raw: Any = faiss.downcast_index(index.faiss_index)
    exhaustive = faiss.downcast_index(raw.storage) if index.index_type == "hnsw" else raw
    start = time.perf_counter()
    exact_scores, _ = exhaustive.search(vectors, 1)
    flat_ms = (time.perf_counter() - start) * 1000 / len(queries)
    approx_scores = np.array([hits[0].score for hits in approx])
    return {
        "concepts": num_concepts, "index_type": index.index_type, "encoder": encoder.identity,
        "hashing_encode_100k_cold_s": encode_100k_s, "build_s": build_s, "save_s": save_s,
        "index_dir_mb": size_mb, "rss_before_build_mb": rss_before, "peak_rss_mb": _peak_mb(),
        "search_ms_per_query": hnsw_ms, "exhaustive_search_ms_per_query": flat_ms,
        "top1_score_agreement": float(np.mean(approx_scores >= exact_scores[:, 0] - 1e-5)),
    }


def _child_build(num_concepts: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kgprune-bench-") as tmp:
        out = subprocess.run([sys.executable, __file__, "--child-build", str(num_concepts),
                              "--workdir", tmp], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(*, num_questions: int = 2000, num_concepts: int = 1_000_000,
        minilm: bool = True) -> dict[str, Any]:
    """Both parts, as one JSON-ready dict (benchmarks/linking_retrieval.py calls this too)."""
    import faiss
    import torch

    from kgprune.linking.encoder import minilm_available

    encoders = ["hashing"] + (["minilm"] if minilm and minilm_available() else [])
    linking = []
    for name in encoders:
        linking.append(throughput(name, num_questions))
        print(json.dumps(linking[-1]), file=sys.stderr)
    large = _child_build(num_concepts)
    print(json.dumps(large), file=sys.stderr)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
            "torch_threads": torch.get_num_threads(), "faiss": faiss.__version__}
    return {"meta": meta, "linking": linking, "index_build": large}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/linking.json"))
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--num-concepts", type=int, default=1_000_000)
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--child-build", type=int)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.child_build:
        print(json.dumps(build_large(args.child_build, args.workdir)))
        return
    report = run(num_questions=args.questions, num_concepts=args.num_concepts,
                 minilm=not args.no_minilm)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(report, indent=2))
    tmp_out.replace(args.out)


if __name__ == "__main__":
    main()
