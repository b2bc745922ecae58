"""Benchmark: Visual Genome staging and loading, the DuckDB loader against the Python reference.

Generates a Visual Genome 1.4-format directory per size (`image_data.json`, `objects.json`,
`attributes.json`, `relationships.json`; about 35 objects and 20 relationships an image as in the
real set, power-law object names with WordNet synsets, `name` vs `names`, attribute lists, full
object copies as relationship ends, 1% of them absent from `objects.json`, a predicate mix led by
`on`/`has`/`wearing`, some non-ASCII names), then measures in separate processes, both loaders
side by side in one round: `cat` of the files (the read floor), stage only (every staged row read
back), and stage + load into a new LadybugDB store; each with its peak resident memory and the load
averages around it. Writes one JSON file.

    python benchmarks/vg_load.py --sizes 10000,30000 --out results/vg_load.json
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load_phases import peak_mb, run_phase, write_runs

PARSERS = ("duckdb", "python")
OBJECTS_PER_IMAGE = 35
RELATIONSHIPS_PER_IMAGE = 20
PREDICATES = (["on"] * 20 + ["has"] * 10 + ["wearing"] * 8 + ["of"] * 6 + ["in"] * 6
              + ["with", "behind", "next to", "holding", "near", "on top of", "ON", "Has",
                 "sitting on", "in front of", "under", "above", "riding", "parked on",
                 "standing on",
                 "hanging on", "looking at", "carrying", "eating", "covering", "attached to"]
              + [f"verb{i}ing" for i in range(150)])
ATTRIBUTES = ["white", "black", "blue", "green", "red", "brown", "large", "small", "wooden",
              "metal", "tall", "short", "open", "closed", "striped", "round", "dark", "bright"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sha", "dor", "bel", "fin"]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words = []
    for i in range(size):
        word = "".join(rng.choice(SYLLABLES) for _ in range(2 + i % 3))
        if i % 11 == 0:
            word += " " + "".join(rng.choice(SYLLABLES) for _ in range(2))
        if i % 97 == 0:
            word = "caf\u00e9 " + word
        words.append(word)
    return words


def _object(rng: random.Random, oid: int, words: list[str]) -> dict:
    name = words[int(len(words) * rng.random() ** 2.5)]
    obj: dict = {"object_id": oid, "x": rng.randrange(800), "y": rng.randrange(600),
                 "w": rng.randrange(1, 300), "h": rng.randrange(1, 300), "merged_object_ids": []}
    if rng.random() < 0.05:
        obj["name"] = name
    else:
        obj["names"] = [name]
    obj["synsets"] = [name.split(" ")[-1] + ".n.01"] if rng.random() < 0.9 else []
    return obj


def generate(directory: Path, num_images: int, seed: int = 0) -> None:
    """Write the four files of `num_images` images, one element at a time."""
    rng = random.Random(seed)
    words = _vocabulary(rng)
    directory.mkdir(parents=True, exist_ok=True)
    names = ("image_data", "objects", "attributes", "relationships")
    files = {n: (directory / f"{n}.json").open("w", encoding="utf-8") for n in names}
    oid, rid = 1, 1
    for fh in files.values():
        fh.write("[")
    for i in range(num_images):
        image_id = i + 1
        objects = [_object(rng, oid + k, words) for k in range(OBJECTS_PER_IMAGE)]
        oid += OBJECTS_PER_IMAGE
        attributes = [{"object_id": o["object_id"], "attributes": rng.sample(ATTRIBUTES, 2)}
                      for o in objects if rng.random() < 0.5]
        relationships = []
        for _ in range(RELATIONSHIPS_PER_IMAGE):
            subject, obj = rng.sample(objects, 2)
            if rng.random() < 0.01:
                obj = _object(rng, oid, words)
                oid += 1
            relationships.append({"relationship_id": rid, "predicate": rng.choice(PREDICATES),
                                  "synsets": [], "subject": subject, "object": obj})
            rid += 1
        sep = "," if i else ""
        id_key = "id" if i % 50 == 0 else "image_id"
        entries = {
            "image_data": {"image_id": image_id, "url": f"https://vg.example/{image_id}.jpg",
                           "width": 800, "height": 600, "coco_id": None, "flickr_id": image_id},
            "objects": {id_key: image_id, "objects": objects},
            "attributes": {"image_id": image_id, "attributes": attributes},
            "relationships": {"image_id": image_id, "relationships": relationships},
        }
        for name, entry in entries.items():
            files[name].write(sep + json.dumps(entry))
    for fh in files.values():
        fh.write("]")
        fh.close()


def phase(name: str, parser: str, directory: Path, workdir: Path) -> dict[str, float]:
    """Run one measured phase in this (fresh) process."""
    from kgprune.kg.backends.ladybug import LadybugStore
    from kgprune.kg.ingest import load_visual_genome, stage_visual_genome_columnar
    from kgprune.kg.loaders.conceptnet_columnar import engine_memory_mb
    from kgprune.kg.loaders.visual_genome import stage_visual_genome
    from kgprune.kg.records import LoadReport

    start = time.perf_counter()
    result: dict[str, float] = {}
    report = LoadReport(source="visual_genome", path=str(directory))
    if name == "stage":
        def count(batch: object) -> None:
            for member in ("concepts", "facts", "images", "objects", "object_relations"):
                result[member] = sum(1 for _ in getattr(batch, member))

        if parser == "python":
            with stage_visual_genome(directory, report=report) as staged:
                count(staged.batch())
        else:
            with stage_visual_genome_columnar(directory, report) as columnar:
                assert columnar is not None
                result["python_images"] = columnar.python_images
                count(columnar.batch())
    else:
        store = LadybugStore(workdir / f"bench-{parser}.lbdb")
        report = load_visual_genome(store, directory, parser=parser)  # type: ignore[arg-type]
        result.update(facts_added=report.facts_added, objects_added=report.objects_added,
                      object_relations_added=report.object_relations_added)
        store.close()
        result["engine_memory_mb"] = engine_memory_mb()
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_mb()
    return result


def _cat_seconds(directory: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["sh", "-c", 'cat "$1"/*.json > /dev/null', "sh", str(directory)], check=True)
    return time.perf_counter() - start


def _round(directory: Path, workdir: Path, parsers: list[str], with_load: bool) -> dict:
    """cat, then each loader's stage and stage + load, interleaved in one round."""
    result: dict = {"files_mb": sum(p.stat().st_size for p in directory.glob("*.json")) / 2**20,
                    "cat_s": _cat_seconds(directory)}
    source = ("--dir", directory)
    for parser in parsers:
        result[parser] = {"stage": run_phase(__file__, "stage", parser, source, workdir)}
    if with_load:
        for parser in parsers:
            result[parser]["stage_and_load"] = run_phase(__file__, "load", parser, source, workdir)
    if len(parsers) == 2:
        for measured in result[parsers[0]]:
            a, b = (result[p][measured]["seconds"] for p in parsers)
            result[f"{measured}_speedup"] = b / a
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--parsers", default=",".join(PARSERS))
    parser.add_argument("--no-load", action="store_true", help="stage only")
    parser.add_argument("--keep", type=Path, help="keep generated directories here, reuse them")
    parser.add_argument("--out", type=Path, default=Path("results/vg_load.json"))
    parser.add_argument("--phase")
    parser.add_argument("--parser", default="duckdb")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.parser, args.dir, args.workdir)))
        return
    runs = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="kgprune-bench-") as tmp:
            folder = (args.keep or Path(tmp)) / f"vg-{size}"
            t0 = time.perf_counter()
            if not (folder / "relationships.json").exists():
                generate(folder, size)
            run = {"images": size, "generate_s": time.perf_counter() - t0,
                   **_round(folder, Path(tmp), args.parsers.split(","), not args.no_load)}
            runs.append(run)
            print(json.dumps(run), file=sys.stderr)
    write_runs(args.out, runs)


if __name__ == "__main__":
    main()
